#!/usr/bin/env bash
# The lab's question 5 (issue 29, item 2) on MR's lab split, trained vectors: the Transformer encoder's layers,
# heads, feed-forward size, dropout and learning rate searched on validation (train.py --search optuna, the
# attention space of pipelines/search_spaces.py; no pruner, the default), the study's sensitivity (results/search/transformer-mr.md),
# and the searched best and the classic configuration (models/presets.py CLASSIC_TRANSFORMER) on 5 seeds
# beside the committed default (results/records/study/mr-lab-trained/transformer).
#   nohup nice -n 19 bash scripts/run_q5.sh > runs/logs/q5.log 2>&1 &
# The study's storage is the committed journal, results/search/transformer-mr-journal.log (Optuna's
# JournalStorage, file-locked), so a fresh clone resumes the study where the last commit left it. Its budget is
# Q5_TRIALS finished trials (default 30): a run adds only those the journal lacks (none once it holds 30), so
# re-running the script re-runs what follows on the same study. Q5_PROCESSES (default 1) processes share them, one core each (a trial's
# small model does not use two cores well). Stop a search with `kill` (SIGTERM) or Ctrl-C: Optuna records the trial
# under way as failed (kill -9 leaves it `running` in the journal for good). Finished grid cells are skipped.
# Then (after merging) the report asks "model configurations" for transformer:
#   python -m pipelines.report results/records ...
set -euo pipefail
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
RUNS=${Q5_RUNS:-runs/q5}
JOURNAL=results/search/transformer-mr-journal.log
BUDGET=${Q5_TRIALS:-30}
FINISHED=$( [ -f "$JOURNAL" ] && python -c "
from pipelines.report.search import finished, load_study
print(len(finished(load_study('$JOURNAL'))))" || echo 0)
TRIALS=$(( BUDGET > FINISHED ? BUDGET - FINISHED : 0 ))
echo "study: $FINISHED finished trials of a budget of $BUDGET; adding $TRIALS"
PROCESSES=${Q5_PROCESSES:-1}
grid() {
  python -m pipelines.experiments --datasets mr --models transformer --train_embeddings --seeds 0,1,2,3,4 \
    --data_dir ../shared/datasets --runs_dir "$RUNS/grid" --disable_tqdm true "$@"
}

if [ "$TRIALS" -gt 0 ]; then
  mkdir -p "$RUNS"
  pids=()
  for p in $(seq 1 "$PROCESSES"); do  # process p adds its share; one folder, so the study's best is trained once (a lock)
    share=$(( TRIALS / PROCESSES + (p <= TRIALS % PROCESSES ? 1 : 0) ))
    [ "$share" -gt 0 ] || continue
    python train.py --model transformer --dataset mr --data_dir ../shared/datasets --train_embeddings --search optuna \
      --n_trials "$share" --storage "$JOURNAL" --output_dir "$RUNS/search-transformer-mr" --disable_tqdm true \
      > "$RUNS/search-transformer-mr-$p.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done  # a process that failed stops the script (set -e)
fi
python -m pipelines.report.search "$JOURNAL" --output results/search/transformer-mr.md
mapfile -t BEST < <(python -c "
from pipelines.report.search import best_options, load_study
print('\n'.join(best_options(load_study('$JOURNAL'))))")
grid --results "$RUNS/grid/best" "${BEST[@]}"
grid --results "$RUNS/grid/classic" --config_overrides "$(python -c 'from models.presets import CLASSIC_TRANSFORMER; print(CLASSIC_TRANSFORMER)')"
python -m pipelines.report.records "$RUNS/grid" --output results/records/q5
