#!/usr/bin/env bash
# The lab's question 5 (issue 29, item 2) on MR's lab split, trained vectors: the Transformer encoder's layers,
# heads, feed-forward size, dropout and learning rate searched on validation (train.py --search optuna, the
# attention space of pipelines/search_spaces.py), the study's sensitivity (results/search/transformer-mr.md),
# and the searched best and the classic configuration (models/presets.py CLASSIC_TRANSFORMER) on 5 seeds
# beside the committed default (results/records/study/mr-lab-trained/transformer).
#   nohup nice -n 19 bash scripts/run_q5.sh > runs/logs/q5.log 2>&1 &
# Each run adds Q5_TRIALS trials (default 30) to the study, which resumes through its journal; Q5_TRIALS=0 skips
# the search and re-runs what follows on the study as it stands. Finished grid cells are skipped.
# Then (after merging) the report asks "model configurations" for transformer:
#   python -m pipelines.report results/records ...
set -euo pipefail
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
RUNS=${Q5_RUNS:-runs/q5}
SEARCH=$RUNS/search-transformer-mr
TRIALS=${Q5_TRIALS:-30}
grid() {
  python -m pipelines.experiments --datasets mr --models transformer --train_embeddings --seeds 0,1,2,3,4 \
    --data_dir ../shared/datasets --runs_dir "$RUNS/grid" --disable_tqdm true "$@"
}

if [ "$TRIALS" -gt 0 ]; then
  python train.py --model transformer --dataset mr --data_dir ../shared/datasets --train_embeddings --search optuna \
    --n_trials "$TRIALS" --output_dir "$SEARCH" --disable_tqdm true
fi
mkdir -p results/search
cp "$SEARCH/optuna-journal.log" results/search/transformer-mr-journal.log  # the committed copy: the report below runs on a fresh clone
python -m pipelines.report.search results/search/transformer-mr-journal.log --output results/search/transformer-mr.md
mapfile -t BEST < <(python -c "
from pipelines.report.search import best_options, load_study
print('\n'.join(best_options(load_study('results/search/transformer-mr-journal.log'))))")
grid --results "$RUNS/grid/best" "${BEST[@]}"
grid --results "$RUNS/grid/classic" --config_overrides "$(python -c 'from models.presets import CLASSIC_TRANSFORMER; print(CLASSIC_TRANSFORMER)')"
python -m pipelines.report.records "$RUNS/grid" --output results/records/q5
