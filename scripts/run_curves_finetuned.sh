#!/usr/bin/env bash
# Issue 29's fine-tuned learning-curve line: MiniLM fine-tuned on N sentences per class of MR (finetune.py --train_size,
# validation drawn from them, MR's lab test set unchanged), seeds 0-2, with the CPU recipe of bench/finetune_recipe.py.
# Epochs scale with the size so that every cell takes at least ~50 optimizer steps of 32 (16 per class: 25 training
# and 7 validation sentences, one step an epoch, so 3 epochs would be 3 steps): 16 -> 50 epochs, 64 -> 15, 256 -> 5, larger -> 3 (the default);
# early stopping (patience 2 on validation accuracy) still applies. Resumable: a finished cell (results.json) is skipped. Then:
#   python -m pipelines.report.records runs/curves-finetuned --output results/curves/records-finetuned
#   python -m pipelines.report.curves results/curves/records results/curves/records-finetuned results/records/study/mr-lab-trained \
#     results/records/study/mr-minilm --models meanmax,bilstm,minilm --seeds 0,1,2 --output results/curves
#   SIZES="16 64" SEEDS="0 1 2" bash scripts/run_curves_finetuned.sh   # a subset
#   MODEL=setfit-mpnet SIZES="16 64" bash scripts/run_curves_finetuned.sh   # SetFit over MPNet (the few-shot line)
set -u
cd "$(dirname "$0")/.."
[ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ] && . .venv/bin/activate
DATA=${DATA:-../shared/datasets}
RUNS=${RUNS:-runs/curves-finetuned}
MODEL=${MODEL:-minilm}
DATASET=${DATASET:-mr}
mkdir -p runs/logs
for size in ${SIZES:-16 64 256 1024}; do
  for seed in ${SEEDS:-0 1 2}; do
    out=$RUNS/$DATASET-$MODEL-n$size/seed-$seed
    [ -f "$out/results.json" ] && continue
    case $size in 16) epochs=50;; 64) epochs=15;; 256) epochs=5;; *) epochs=3;; esac
    echo "$(date +%T) start $MODEL $DATASET n=$size seed $seed"
    method=(--model "$MODEL" --num_train_epochs "$epochs" --max_length_quantile 0.99 --optim adamw_torch_fused)
    # setfit-<encoder>: finetune.py --setfit over that encoder (pipelines/setfitting.py); its contrastive phase is
    # one pass over the pairs it draws (2 x --setfit_iterations a training sentence, at most --setfit_max_steps
    # batches: setfitting.contrastive_steps), so the size sets its cost, not epochs. The curve's cells draw the
    # SetFit paper's 20 pairs a sentence (Tunstall et al. 2022; the library's default): 16 a class (25 training
    # sentences: 2 x 20 x 25 = 1,000 pairs in batches of 16) is 63 steps,
    # 64 a class and more reach the 200-step cap, as the study's full-data cell (2 iterations, also 200 steps) does
    [[ $MODEL == setfit-* ]] && method=(--setfit --model "${MODEL#setfit-}" --setfit_iterations "${SETFIT_ITERATIONS:-20}")
    OMP_NUM_THREADS=${THREADS:-1} HF_HUB_OFFLINE=1 python finetune.py "${method[@]}" --dataset "$DATASET" --data_dir "$DATA" \
      --train_size "$size" --seed "$seed" --output_dir "$out" \
      --report_to none --disable_tqdm true > "runs/logs/curves-$DATASET-$MODEL-n$size-$seed.log" 2>&1
    rc=$?
    echo "$(date +%T) $MODEL $DATASET n=$size seed $seed: exit $rc"
  done
done
