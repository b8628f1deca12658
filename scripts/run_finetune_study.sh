#!/usr/bin/env bash
# The fine-tuned top of the study on this CPU (issue 26): each cell is one finetune.py run with the
# CPU recipe (bench/finetune_recipe.py), written to runs/study/<dataset>-<model>/seed-<s>. A finished
# cell (results.json) is skipped and an interrupted one resumes from its last checkpoint, so the
# script is restarted at the start of every session:
#
#   nohup bash scripts/run_finetune_study.sh > runs/logs/finetune-study.log 2>&1 &
#
# On a Linux machine shared with other sessions' work, the kernel shares the CPU between sessions
# (sched_autogroup) before `nice` counts, so other sessions' niced jobs still take their share; as root,
# give the queue a session of its own with more weight (round 10: 1.3 of 2 cores beside three helpers):
#
#   setsid nohup bash -c 'echo -8 > /proc/self/autogroup; exec bash scripts/run_finetune_study.sh' >> runs/logs/finetune-study.log 2>&1 < /dev/null &
#
# CELLS overrides the queue ("mpnet:mr:0 setfit-mpnet:semeval2017a:0 ..."; setfit-<alias> is finetune.py
# --setfit over that encoder, pipelines/setfitting.py; baseline-<alias> the recipe's plain-Trainer baseline). THREADS sets torch threads (default 1: the
# cores are shared with development work, where a second thread was slower (bench/backbone_speed.md).
# A file $RUNS.hold holds the queue between cells (touch it, wait for the running cell to end, time something
# on quiet cores, remove it), so a cell's recorded training seconds never include a pause.
set -u
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/datasets}
RUNS=${RUNS:-runs/study}
# The order: a SetFit cell cannot resume, so one starts only at the head of the queue (a session's start:
# ~80 min for MR on 2 quiet threads); resumable cells fill the rest. SetFit and MPNet on SemEval last: an
# MPNet epoch of SemEval's 39,656 training tweets is ~1 h with native bf16 and ~2.3 h in fp32 on 2 cores (below).
CELLS=${CELLS:-"mpnet:mr:0 setfit-mpnet:mr:0 minilm:semeval2017a:1 minilm:semeval2017a:2 mpnet:mr:1 setfit-mpnet:mr:1
  mpnet:mr:2 setfit-mpnet:mr:2 mpnet:mr:3 mpnet:mr:4 setfit-mpnet:semeval2017a:0 setfit-mpnet:semeval2017a:1
  setfit-mpnet:semeval2017a:2 mpnet:semeval2017a:0 mpnet:semeval2017a:1 mpnet:semeval2017a:2"}
mkdir -p runs/logs
[ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ] && . .venv/bin/activate
# An MPNet cell on SemEval is ~2 h of training with native bf16 and ~4.5 h in fp32 (round 22: 6.6 s a step on 2 cores of
# an AVX2-only AMD EPYC), longer than a 3-hour session whose runs/ the next session does not get. Where neither native
# CPU bf16 nor a GPU is here, such cells are skipped with a line saying so (FP32_MPNET_SEMEVAL=1 runs them anyway,
# e.g. on a machine whose runs/ persists, where they resume).
fast=$(python -c "from pipelines.training_arguments import accelerator_present, native_cpu_bf16
print(int(native_cpu_bf16() or accelerator_present()))" 2>/dev/null || echo 1)
for cell in $CELLS; do
  IFS=: read -r model dataset seed <<< "$cell"
  out=$RUNS/$dataset-$model/seed-$seed
  # baseline-<alias>: issue 26 item 1's accuracy check, the plain HF Trainer settings bench/finetune_recipe.py
  # times (max_length 128, random batches, adamw_torch, fp32) as one whole run; kept out of the study's folder.
  [[ $model == baseline-* ]] && out=${BASELINE_RUNS:-runs/recipe-baseline}/$dataset-${model#baseline-}/seed-$seed
  [ -f "$out/results.json" ] && continue
  base=${model#baseline-}  # the backbone a baseline cell trains
  if [ "$model" = mpnet ] && [ "$dataset" = semeval2017a ] && [ "$fast" = 0 ] && [ "${FP32_MPNET_SEMEVAL:-0}" != 1 ]; then
    echo "$(date +%T) skip $model $dataset seed $seed: no native CPU bf16 or GPU here (fp32: ~4.5 h, over a session; FP32_MPNET_SEMEVAL=1 runs it)"
    continue
  fi
  while [ -e "$RUNS.hold" ]; do sleep 10; done
  epochs=3; [ "$base" = mpnet ] && epochs=${MPNET_EPOCHS:-2}
  method=(--model "$model" --num_train_epochs "$epochs" --max_length_quantile 0.99 --optim adamw_torch_fused)
  # MPNet: a 2-core epoch of MR takes ~10 min with native bf16 (bench/finetune_recipe.md) and over an hour in
  # fp32 without it (16 s a step of 32 sentences); evaluating and saving every 125 steps (half an MR epoch) lets
  # the next session resume from there instead of from step 0. Patience then counts half-epoch evaluations.
  # SemEval: every 620 steps (half an epoch of its 39,656 training tweets), since one pass over its 9,914 validation
  # tweets takes ~5 min here.
  steps=125; [ "$dataset" = semeval2017a ] && steps=620
  [[ $model == setfit-* ]] && method=(--setfit --model "${model#setfit-}")
  [[ $model == baseline-* ]] && method=(--model "$base" --num_train_epochs "$epochs" --max_length 128
    --train_sampling_strategy random --optim adamw_torch --no_auto_mixed_precision)
  [ "$base" = mpnet ] && method+=(--eval_strategy steps --eval_steps $steps --save_strategy steps --save_steps $steps)
  echo "$(date +%T) start $model $dataset seed $seed"
  OMP_NUM_THREADS=${THREADS:-1} HF_HUB_OFFLINE=1 python finetune.py "${method[@]}" --dataset "$dataset" --data_dir "$DATA" \
    --seed "$seed" --output_dir "$out" --report_to none --disable_tqdm true > "runs/logs/$dataset-$model-$seed.log" 2>&1
  rc=$?
  echo "$(date +%T) $model $dataset seed $seed: exit $rc"
done
