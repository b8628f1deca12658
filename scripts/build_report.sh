#!/usr/bin/env bash
# The committed records and report (issue 17 item 4), from the runs that made them:
#   STUDY_RUNS   the study's grid folder (scripts/run_study.sh; default runs/study)
#   runs/asis-mr, runs/asis-semeval2017a   evaluate_pretrained.py (commands in results/asis_*.md)
#   runs/study-extra   exported-mr/: the int8 ONNX exports (bench/export_speed.md) scored by
#                      evaluate_pretrained.py; minilm-mr-1ep/: the 1-epoch CPU MiniLM they were exported
#                      from, kept for the MiniLM probe figure only (the MiniLM rows are the 5 GPU seeds,
#                      whose weights stayed on the lent GPU: scripts/gpu_study.sh)
# STUDY_RUNS holds scripts/run_study.sh's CPU cells and scripts/gpu_study.sh's unpacked GPU cells; a
# 10-fold CV seed is committed only once all its folds are in (move a partial seed-N aside first).
# Then a fresh clone rebuilds the report from the records alone, by this script's last command with another
# --output (the command results/report/report.md names in its "Made by" line).
set -euo pipefail
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
STUDY_RUNS=${STUDY_RUNS:-runs/study}
# Only the records this script makes are rebuilt; others (results/records/q5: scripts/run_q5.sh) stay as committed.
rm -rf results/report results/records/study
python -m pipelines.report.records "$STUDY_RUNS" --output results/records/study
for name in asis-mr asis-semeval2017a study-extra/exported-mr; do
  rm -rf "results/records/$name"
  python -m pipelines.report.records "runs/$name" --output "results/records/$name"
done
# The probe figures need the weights (records keep none): seed 0 of each MR model, and MiniLM.
mkdir -p results/report/figures
python -m pipelines.explain "$STUDY_RUNS"/mr-lab-trained/{mean,meanmax,lstm,bilstm,attention,multihead,transformer}/seed-0 \
  runs/study-extra/minilm-mr-1ep --probes_dir results/report/figures
# ASO at 200 bootstrap iterations (deepsig defaults to 1000): every pair of architectures is asked now, and the
# rebuild (also tests/test_report_records.py, which reads the count from report.json) stays minutes, not an hour.
python -m pipelines.report results/records --output results/report --teachers results/teachers --speeds results/pareto/speeds.json --aso_iterations 200
