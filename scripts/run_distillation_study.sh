#!/usr/bin/env bash
# Issue 19's measurements in one resumable script: the MiniLM teachers, the distilled students
# (BiLSTM and the GloVe transformer, 5 seeds, MR and SemEval), the class-weighted SemEval grid,
# and the cost/accuracy front. Run from the repository root with the data in ../shared/datasets,
# after scripts/run_study.sh (its plain cells are the baselines the report compares against):
#   nohup bash scripts/run_distillation_study.sh > runs/distillation_study.log 2>&1 &
# Finished teachers and cells are skipped, so running it again resumes where it stopped.
#
# Cost on the 2-core CPU (measured or scaled from measured epochs): MiniLM teacher ~40 min on MR,
# ~3 h on SemEval (or train them on a GPU with scripts/gpu_finetune.sh and copy the folders to
# $RUNS/teachers/<dataset>-minilm); labelling the pool + transfer set once per teacher, ~15-30 min;
# then every student epoch sees (1 + TRANSFER/train size) times the data.
set -uo pipefail
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
RUNS=${STUDY_RUNS:-runs/study}
DATA=${DATA_DIR:-../shared/datasets}
MR_TRANSFER=${MR_TRANSFER:-100000}            # 10x MR's 10,000 training sentences (Tang et al. used ~12x SST-2)
SEMEVAL_TRANSFER=${SEMEVAL_TRANSFER:-200000}  # 4x SemEval's 49,570
ALPHA=${ALPHA:-0.5}                           # weight of the gold cross-entropy; the rest goes to the teacher's logits

teacher() {  # dataset: MiniLM fine-tuned on the training split (its own validation split), seed 0
  local folder=$RUNS/teachers/$1-minilm
  [ -f "$folder/results.json" ] && return 0
  python finetune.py --model minilm --dataset "$1" --data_dir "$DATA" --seed 0 --max_length_quantile 0.99 \
    --optim adamw_torch_fused --output_dir "$folder" --report_to none --disable_tqdm true
}
grid() { python -m pipelines.experiments --data_dir "$DATA" --runs_dir "$RUNS" --train_embeddings --seeds 0,1,2,3,4 "$@"; }

teacher mr
teacher semeval2017a

# Distilled students: <dataset>-lab-trained-distilled-minilm/<model>/seed-<s>
grid --datasets mr --models bilstm,transformer --teacher "$RUNS/teachers/mr-minilm" \
  --transfer_set_size "$MR_TRANSFER" --distillation_alpha "$ALPHA" --results "$RUNS/mr-lab-trained-distilled-minilm"
grid --datasets semeval2017a --models bilstm,transformer --teacher "$RUNS/teachers/semeval2017a-minilm" \
  --transfer_set_size "$SEMEVAL_TRANSFER" --distillation_alpha "$ALPHA" --results "$RUNS/semeval-lab-trained-distilled-minilm"

# Class weights on SemEval (neutral is the largest class; the official metric is macro recall):
# semeval2017a-lab-trained-weighted/<model>/seed-<s>, against the plain cells of scripts/run_study.sh
grid --datasets semeval2017a --models meanmax,bilstm,transformer --class_weights balanced \
  --results "$RUNS/semeval-lab-trained-weighted"

# The report (plain vs distilled vs weighted, paired, with CIs) and the front on this machine
python -m pipelines.report "$RUNS"
python -m bench.pareto --data_dir "$DATA" --output_dir "$RUNS/pareto" \
  --models "$RUNS/mr-lab-trained/*" "$RUNS/mr-lab-trained-distilled-minilm/*" "$RUNS/semeval2017a-lab-trained/*" \
           "$RUNS/semeval2017a-lab-trained-distilled-minilm/*" "$RUNS/semeval2017a-lab-trained-weighted/*" "$RUNS/teachers/*" \
  --report results/report/report.json --report_models mpnet=mpnet --max_test_sentences 2000
