#!/usr/bin/env bash
# Issue 19's cells on this CPU, resumable (finished teachers and cells are skipped):
#   STUDY_RUNS=/path/to/study nohup bash scripts/run_distillation_study.sh > runs/distillation_study.log 2>&1 &
# after scripts/run_study.sh, whose plain cells are the baselines the report compares against.
#   1. the class-weighted SemEval cells: meanmax, bilstm, transformer x 5 seeds (~2-3 min a cell, ~17 min
#      for a BiLSTM cell: LSTMs are slow on CPU);
#   2. the MR teacher, MiniLM seed 0 fine-tuned here with both cores (5 min), kept outside $RUNS (in
#      $TEACHERS) so the report does not count it as a MiniLM run; then the distilled BiLSTM and GloVe
#      Transformer x 5 seeds. Seed 0 runs alone: it labels the pool and the 100,000-sentence transfer set
#      once, on its grid worker's one torch thread (10 min; cached under $SENTIBENCH_CACHE/teacher_logits,
#      keyed by teacher and texts), so seeds 1-4 pay nothing for the teacher; a student cell takes 5-8 min;
#   3. SemEval the same way: the teacher 47 min (partly shared), labelling 110,000 tweets 18 min on
#      one thread. The committed SemEval BiLSTM students were made on a lent GPU by scripts/gpu_study.sh
#      (same options, a GPU-trained teacher); the Transformer students ran here (5 cells, ~8.5 min each
#      on one thread, 25 min on 2 workers, the labels cached);
#   4. a variant on MR: the BiLSTM distilled with temperature-scaled KL (Hinton et al. 2015, T=2) instead of
#      logit regression, same teacher and transfer set (cached, so no labelling), 5 seeds; its own folder
#      (mr-lab-trained-distilled-minilm-kl-t2) and report setting ("distilled from minilm (KL, T=2)").
# Then scripts/build_report.sh and scripts/build_pareto.sh.
set -uo pipefail
export HF_HUB_OFFLINE=1
RUNS=${STUDY_RUNS:-runs/study}
TEACHERS=${TEACHERS:-$(dirname "$RUNS")/teachers}
DATA=${DATA_DIR:-../shared/datasets}
ALPHA=${ALPHA:-0.5}        # weight of the gold cross-entropy; the rest goes to regressing the teacher's logits
declare -A TRANSFER=([mr]=100000 [semeval2017a]=60000)  # ~10x MR's training sentences, ~1.2x SemEval's
DATASETS=${DATASETS:-mr semeval2017a}

grid() { python -m pipelines.experiments --data_dir "$DATA" --runs_dir "$RUNS" --train_embeddings "$@"; }

OMP_NUM_THREADS=1 grid --datasets semeval2017a --models meanmax,bilstm,transformer --seeds 0,1,2,3,4 --workers 2 \
  --class_weights balanced --results "$RUNS/semeval-weighted"

for dataset in $DATASETS; do
  teacher=$TEACHERS/$dataset-minilm
  if [ ! -f "$teacher/results.json" ]; then
    OMP_NUM_THREADS=2 python finetune.py --model minilm --dataset "$dataset" --data_dir "$DATA" --seed 0 --max_length_quantile 0.99 \
      --optim adamw_torch_fused --output_dir "$teacher" --report_to none --disable_tqdm true || exit 1
  fi
  students() { grid --datasets "$dataset" --models bilstm,transformer --teacher "$teacher" --transfer_set_size "${TRANSFER[$dataset]}" \
    --distillation_alpha "$ALPHA" --results "$RUNS/$dataset-distilled" "$@"; }
  OMP_NUM_THREADS=1 students --seeds 0 --workers 1   # labels the transfer set once (then cached)
  OMP_NUM_THREADS=1 students --seeds 0,1,2,3,4 --workers 2
done

# 4. the KL variant (the MR teacher's labels are cached by step 2)
OMP_NUM_THREADS=1 grid --datasets mr --models bilstm --teacher "$TEACHERS/mr-minilm" --transfer_set_size "${TRANSFER[mr]}" \
  --distillation_alpha "$ALPHA" --distillation_loss kl --distillation_temperature 2 --seeds 0,1,2,3,4 --workers 2 \
  --results "$RUNS/mr-distilled-kl-t2"
