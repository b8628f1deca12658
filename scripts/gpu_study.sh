#!/usr/bin/env bash
# The GPU part of the study (issues 17 and 19), made in one lease of a lent GPU (one H200, 16 cores)
# through the `device` tool, whose calls carry at most 64 MiB each: two calls.
#
#   here:   bash ../shared/device/prepare.sh minilm         # .devwork: wheels, MiniLM fp16
#           mkdir -p .devwork/ds && tar cJf .devwork/ds/datasets.tar.xz -C ../shared/datasets MR Semeval2017A
#           python -m scripts.glove_subset .devglove/glove-study.50d.txt.gz
#   call 1 (carry .devwork):  bash scripts/gpu_study.sh start    # MiniLM: 5 seeds x MR, SemEval (the teachers are seed 0)
#   call 2 (carry .devglove): bash scripts/gpu_study.sh glove    # GloVe cells; packs $OUT at $DEADLINE s
#   here:   bash scripts/gpu_study.sh unpack <files_at> <study runs dir>
#
# What runs (every cell with today's defaults; the GloVe cells through pipelines.experiments):
#   MiniLM fine-tuned, 5 seeds on MR and SemEval (finetune.py, bf16, the checkpoint by the official metric)
#   SemEval GloVe grid, 7 models x 5 seeds (BiLSTM seeds 0-1 were run on the CPU: skipped here)
#   students distilled from MiniLM seed 0: BiLSTM and the GloVe Transformer, 5 seeds, MR and SemEval
#   SemEval class-weighted cells: meanmax, bilstm, transformer x 5 seeds
#   MR 10-fold CV seeds 1 and 2 (lowest priority: the CPU runs seed 0, and these if the GPU did not)
# Priorities are `nice` levels (the cells are bound by Python on the cores, not by the GPU).
# The GloVe vectors are a subset of the packaged glove.6B 50d, bit-identical, holding every word
# the vocabulary can take (scripts/glove_subset.py), so the cells see what the CPU cells see.
set -u
WORK=${WORK:-/tmp/gpuwork}
RUNS=$WORK/runs
DATA=$WORK/datasets
GLOVE=$WORK/glove-study.50d.txt.gz
DEADLINE=${DEADLINE:-480}   # seconds into `glove` at which $OUT is packed, whatever is unfinished
MR_TRANSFER=${MR_TRANSFER:-100000}
SEMEVAL_TRANSFER=${SEMEVAL_TRANSFER:-60000}
EXTRA=${EXTRA:-}            # extra train.py options for a dry run here, e.g. "--num_train_epochs 1 --max_train_samples 200"
FT_EXTRA=${FT_EXTRA:-}
SEEDS=${SEEDS:-0,1,2,3,4}; BILSTM_SEEDS=${BILSTM_SEEDS:-2,3,4}; CV_SEEDS=${CV_SEEDS:-1 2}  # smaller for a dry run

finetune() {  # dataset seed
  local out=$RUNS/$1-minilm/seed-$2
  [ -f "$out/results.json" ] && return 0
  python3 finetune.py --model minilm --dataset "$1" --data_dir "$DATA" --seed "$2" --max_length_quantile 0.99 \
    --optim adamw_torch_fused --output_dir "$out" --report_to none --disable_tqdm true $FT_EXTRA \
    > "$WORK/logs/minilm-$1-$2.log" 2>&1
  local rc=$?; echo "$(date +%T) minilm $1 seed $2: exit $rc"
}

grid() {  # log name, then pipelines.experiments options
  local name=$1; shift
  python3 -m pipelines.experiments --data_dir "$DATA" --runs_dir "$RUNS" --embeddings "$GLOVE" --train_embeddings \
    --results "$RUNS/$name" "$@" $EXTRA > "$WORK/logs/$name.log" 2>&1
  local rc=$?; echo "$(date +%T) grid $name: exit $rc"
}

wait_for() {  # a file, then a time limit in seconds
  local waited=0
  while [ ! -f "$1" ] && [ $waited -lt "$2" ]; do sleep 2; waited=$((waited + 2)); done
  [ -f "$1" ]
}

case "${1:-}" in
  start)
    source .devwork/setup.sh || exit 3
    mkdir -p $WORK/logs $DATA $RUNS
    tar xJf .devwork/ds/datasets.tar.xz -C $DATA
    mkdir -p $WORK/repo && tar cf - --exclude=./.devwork --exclude=./.devglove . | tar xf - -C $WORK/repo
    cd $WORK/repo
    export WORK RUNS DATA FT_EXTRA PYTHONPATH=/tmp/site:$WORK/repo SENTIBENCH_MINILM_DIR=/tmp/minilm SENTIBENCH_CACHE=$WORK/cache
    setsid nohup bash scripts/gpu_study.sh minilm > $WORK/logs/chain-minilm.log 2>&1 < /dev/null &
    # A smoke test of the GloVe path on this image's versions while the teachers train (vectors random).
    python3 -c "import numpy as np; w = ['the', 'a', 'film', 'movie', 'good', 'bad', '.', ',']
open('$WORK/tiny.txt', 'w').write(''.join(x + ' ' + ' '.join(map(str, np.random.rand(50).round(3))) + '\\n' for x in w))"
    timeout 120 python3 train.py --model bilstm --dataset mr --data_dir $DATA --embeddings $WORK/tiny.txt --max_steps 3 \
      --output_dir $WORK/smoke --report_to none --disable_tqdm true > $WORK/logs/smoke.log 2>&1
    echo "smoke test: exit $?"; tail -n 4 $WORK/logs/smoke.log
    sleep 5; cat $WORK/logs/chain-minilm.log; tail -n 3 $WORK/logs/minilm-*.log
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
    ;;
  minilm)  # the teachers (seed 0) first, then seeds 1-4 at a lower priority
    for dataset in mr semeval2017a; do
      (finetune $dataset 0; touch $WORK/teacher-$dataset.done
       for s in ${FT_SEEDS:-1 2 3 4}; do nice -n 5 bash scripts/gpu_study.sh finetune $dataset $s & done; wait) &
    done
    wait; echo "$(date +%T) minilm chain done"
    ;;
  finetune) finetune "$2" "$3" ;;
  grid) shift; grid "$@" ;;
  glove)
    cp .devglove/glove-study.50d.txt.gz $GLOVE || exit 3
    cd $WORK/repo || exit 3
    export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
    export WORK RUNS DATA GLOVE EXTRA SEEDS BILSTM_SEEDS CV_SEEDS PYTHONPATH=/tmp/site:$WORK/repo SENTIBENCH_CACHE=$WORK/cache OMP_NUM_THREADS=1
    setsid nohup bash scripts/gpu_study.sh cells > $WORK/logs/chain-cells.log 2>&1 < /dev/null &
    while [ $SECONDS -lt "$DEADLINE" ] && [ ! -f $WORK/cells.done ]; do sleep 5; done
    bash scripts/gpu_study.sh pack
    ;;
  cells)
    grid semeval-plain --datasets semeval2017a --models mean,meanmax,lstm,attention,multihead,transformer --seeds $SEEDS --workers 7 &
    grid semeval-plain-bilstm --datasets semeval2017a --models bilstm --seeds $BILSTM_SEEDS --workers 3 &
    (wait_for $WORK/teacher-mr.done 400 && [ -f $RUNS/mr-minilm/seed-0/results.json ] &&
      grid mr-distilled --datasets mr --models bilstm,transformer --seeds $SEEDS --workers 5 \
        --teacher $RUNS/mr-minilm/seed-0 --transfer_set_size $MR_TRANSFER) &
    (wait_for $WORK/teacher-semeval2017a.done 400 && [ -f $RUNS/semeval2017a-minilm/seed-0/results.json ] &&
      grid semeval-distilled --datasets semeval2017a --models bilstm,transformer --seeds $SEEDS --workers 5 \
        --teacher $RUNS/semeval2017a-minilm/seed-0 --transfer_set_size $SEMEVAL_TRANSFER) &
    nice -n 5 bash scripts/gpu_study.sh grid semeval-weighted --datasets semeval2017a --models meanmax,bilstm,transformer --seeds $SEEDS --workers 4 --class_weights balanced &
    (for seed in $CV_SEEDS; do
       nice -n 10 bash scripts/gpu_study.sh grid mr-cv10-seed$seed --datasets mr --cv_folds 10 --seeds $seed --workers 4
     done) &
    wait; touch $WORK/cells.done; echo "$(date +%T) cells done"
    ;;
  pack)  # records without weights or tokenizers, in pieces under 16 MiB
    cat $WORK/logs/chain-*.log
    find $RUNS -name results.json | sed "s|$RUNS/||" | cut -d/ -f1 | sort | uniq -c
    nvidia-smi --query-gpu=name --format=csv,noheader > $WORK/logs/device.txt
    tar czf - -C $WORK --exclude='checkpoint-*' --exclude='*.safetensors' --exclude='tokenizer.json' \
      --exclude='vocab.txt' --exclude='*.py' runs logs | split -b 15M -d - "$OUT/gpu_runs.tgz."
    ls -la $OUT
    ;;
  unpack)  # here: files_at, then the study's runs folder
    mkdir -p runs/gpu && cat "$2"/gpu_runs.tgz.* | tar xzf - -C runs/gpu && ls runs/gpu/runs
    ;;
  *) echo "usage: $0 start | glove | unpack FILES_AT RUNS" >&2; exit 2 ;;
esac
