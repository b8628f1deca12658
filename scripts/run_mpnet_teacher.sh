#!/usr/bin/env bash
# Issue 26 item 3 on this CPU, resumable: BiLSTM students distilled from the best MPNet run, 5 seeds per benchmark.
#   STUDY_RUNS=runs/study nohup bash scripts/run_mpnet_teacher.sh > runs/mpnet_teacher.log 2>&1 &
# Per benchmark (DATASETS, default "mr semeval2017a"):
#   1. the teacher: TEACHER_<dataset>, by default the finished MPNet run under $RUNS/<dataset>-mpnet/ with the best
#      validation score on the checkpoint-selection metric (trainer_state.json's best_metric: the official metric;
#      chosen on validation, never on test); read in place, never copied or changed. It is named `mpnet` in the students'
#      records, Setting and folders by the `model` of its results.json (`pipelines.distillation.teacher_name`, the
#      rule that names the MiniLM teachers `minilm`), and since its folder is a run of the report's own records,
#      the report finds it for "student vs teacher". A teacher folder without results.json (SemEval's MPNet has
#      not run yet) skips its benchmark, saying so;
#   2. the labelling alone (`python -m pipelines.distillation`): the training sentences and the transfer set
#      (MR 100,000, SemEval 60,000, as the MiniLM students), THREADS torch threads (default 1; bf16 autocast where the
#      CPU has it natively), cached under
#      $SENTIBENCH_CACHE/teacher_logits and saved every 2,048 sentences, so a labelling killed with its session
#      continues where it stopped when the script is started again;
#   3. the students: the grid's BiLSTM with the MiniLM students' options (scripts/run_distillation_study.sh: trained
#      vectors, logit regression, alpha 0.5), seeds 0-4 on 2 workers, reading the labels from the cache; their
#      folders <dataset>-lab-trained-distilled-mpnet/bilstm/seed-N, setting "trained vectors, distilled from mpnet".
# Then scripts/build_report.sh: the report asks "distilled from mpnet vs plain training" and "distilled from mpnet
# vs distilled from minilm" (pipelines/report/compare.py).
#
# The labelling's cost, in process CPU seconds (time.process_time: user + system time of the process, not charged
# for waiting on a shared core), 300 sentences of each pool, one torch thread (bench/teacher_labelling.md):
#   OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 nice -n 19 python -m bench.teacher_labelling \
#       --teacher runs/study/mr-mpnet/seed-0 --baseline minilm --data_dir ../shared/datasets
#   teacher             MR pool (110,000)              SemEval pool (109,570)
#   MPNet (mr-mpnet)    195.3 CPU ms/sentence: 5.97 h   256.5 CPU ms/sentence: 7.81 h
#   MiniLM (baseline)    25.1 CPU ms/sentence: 0.77 h    34.3 CPU ms/sentence: 1.04 h
#   MPNet / MiniLM       7.8x                            7.5x
# An upper estimate on a busy machine (one measurement, its two repeats within 3%): a 300-sentence sample pads more
# than the sorted pool, and scaled by the padded tokens of each (`--padding_only`: 0.86 on MR, 0.94 on SemEval)
# MPNet's pools cost ~5.1 and ~7.3 CPU hours in fp32. With bf16 autocast on a CPU that has it natively (an AMD EPYC
# here, THREADS=2) MR's 110,000 sentences took 34 min of wall time (round 15, results/study/README.md), about 1/4.5 of
# that estimate; SemEval's pool, scaled the same way, ~50 min (an estimate). Without native bf16, run the script again
# in each session until the cache file is whole (or on a GPU).
set -uo pipefail
export HF_HUB_OFFLINE=1
RUNS=${STUDY_RUNS:-runs/study}
DATA=${DATA_DIR:-../shared/datasets}
ALPHA=${ALPHA:-0.5}        # weight of the gold cross-entropy, as the MiniLM students
declare -A TRANSFER=([mr]=100000 [semeval2017a]=60000)
DATASETS=${DATASETS:-mr semeval2017a}

best_teacher() {  # the finished run under $1 with the best validation score (trainer_state.json's best_metric)
  local finished=("$1"/seed-*/results.json)
  [ -f "${finished[0]}" ] || { echo "$1/seed-0"; return; }
  python -c 'import json, sys; from pathlib import Path
def score(run):  # higher is better, whichever way the run selected (training_args.json greater_is_better)
    best = json.loads((run / "trainer_state.json").read_text()).get("best_metric")
    higher = json.loads((run / "training_args.json").read_text()).get("greater_is_better", True)
    return None if best is None else (best if higher else -best)
runs = [p.parent for p in Path(sys.argv[1]).glob("seed-*/results.json") if (p.parent / "trainer_state.json").is_file()]
runs = [run for run in runs if score(run) is not None]
print(max(runs, key=score) if runs else sys.argv[1] + "/seed-0")' "$1"
}

for dataset in $DATASETS; do
  given=TEACHER_$dataset
  teacher=${!given:-$(best_teacher "$RUNS/$dataset-mpnet")}
  if [ ! -f "$teacher/results.json" ]; then
    echo "$dataset: no MPNet teacher ($teacher/results.json is missing; set $given to a finished MPNet run): skipped"
    continue
  fi
  echo "$dataset: teacher $teacher"
  OMP_NUM_THREADS=${THREADS:-1} python -m pipelines.distillation --teacher "$teacher" --dataset "$dataset" --data_dir "$DATA" \
    --transfer_set_size "${TRANSFER[$dataset]}" --disable_tqdm || exit 1
  OMP_NUM_THREADS=1 python -m pipelines.experiments --data_dir "$DATA" --runs_dir "$RUNS" --train_embeddings \
    --datasets "$dataset" --models bilstm --teacher "$teacher" --transfer_set_size "${TRANSFER[$dataset]}" \
    --distillation_alpha "$ALPHA" --seeds 0,1,2,3,4 --workers 2 --results "$RUNS/$dataset-distilled-mpnet" || exit 1
done
