#!/usr/bin/env bash
# The committed GloVe study (issue 17): every grid behind results/records/ and results/report/,
# with today's defaults (checkpoint and early stopping by the official validation metric,
# patience 5, up to 50 epochs). Run from the repository root with the data in ../shared/datasets.
# Finished cells are skipped, so running it again resumes where it stopped. The order puts
# three seeds of every question first, so a partial run still answers each with seed variance.
#   nohup bash scripts/run_study.sh > runs/study.log 2>&1 &
set -uo pipefail
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
RUNS=${STUDY_RUNS:-runs/study}
grid() { python -m pipelines.experiments --data_dir ../shared/datasets --runs_dir "$RUNS" "$@"; }

grid --datasets mr --train_embeddings --seeds 0,1,2,3,4 --results "$RUNS/mr-lab-trained"
grid --datasets semeval2017a --train_embeddings --seeds 0,1,2 --results "$RUNS/semeval-lab-trained"
grid --datasets mr --seeds 0,1,2 --results "$RUNS/mr-lab-frozen"
grid --datasets semeval2017a --train_embeddings --seeds 0,1,2,3,4 --results "$RUNS/semeval-lab-trained"
grid --datasets mr --seeds 0,1,2,3,4 --results "$RUNS/mr-lab-frozen"
for seed in 0 1 2; do
  grid --datasets mr --train_embeddings --cv_folds 10 --seeds "$seed" --results "$RUNS/mr-cv10-trained-seed$seed"
done
