#!/usr/bin/env bash
# results/pareto/speeds.json (issue 19 item 4, issue 30 item 4): every lab-split group of the study timed
# on CPU in one run on this machine (run it alone: timings are only as quiet as the machine); then
# results/report again, whose front puts these speeds beside the report's own scores and intervals
# (`--speeds`). Run it after scripts/build_report.sh, whenever the models change.
#   STUDY_RUNS   the study's runs (scripts/run_study.sh + scripts/gpu_study.sh, unpacked)
# Cells made on the lent GPU came back without weights: each is timed on a stand-in, the MR lab-split
# seed-0 run of the same model made here (speed depends on the architecture, not on the weights; the
# table's "timed on" column says which). MiniLM fine-tuned is timed as its backbone with an untrained
# head; the as-is models (lexicons, zero-shot MiniLM/MPNet) through their scorers.
set -euo pipefail
export HF_HUB_OFFLINE=1
S=${STUDY_RUNS:-runs/study}
stand_ins=$(for m in mean meanmax lstm bilstm attention multihead transformer; do printf '%s=%s,' $m "$S/mr-lab-trained/$m/seed-0"; done)
python -m bench.speeds --runs_dirs "$S" runs/asis-mr runs/asis-semeval2017a --data_dir ../shared/datasets \
  --output results/pareto/speeds.json --max_test_sentences 2000 --stand_ins "${stand_ins}minilm=minilm" "$@"
python -m pipelines.report results/records --output results/report --teachers results/teachers --speeds results/pareto/speeds.json --aso_iterations 200
