#!/usr/bin/env bash
# The committed records and report (issue 17 item 4), from the runs that made them:
#   STUDY_RUNS   the study's grid folder (scripts/run_study.sh; default runs/study)
#   runs/asis-mr, runs/asis-semeval2017a   evaluate_pretrained.py (commands in results/asis_*.md)
#   runs/study-extra   the single-seed MiniLM fine-tune (bench/export_speed.md) and its int8 export,
#                      scored by evaluate_pretrained.py as exported-mr/
# Then a fresh clone rebuilds the report from the records alone:
#   python -m pipelines.report results/records --output <dir>
set -euo pipefail
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
STUDY_RUNS=${STUDY_RUNS:-runs/study}
rm -rf results/records results/report
python -m pipelines.report.records "$STUDY_RUNS" --output results/records/study
for name in asis-mr asis-semeval2017a study-extra; do
  python -m pipelines.report.records "runs/$name" --output "results/records/$name"
done
# The probe figures need the weights (records keep none): seed 0 of each MR model, and MiniLM.
mkdir -p results/report/figures
python -m pipelines.explain "$STUDY_RUNS"/mr-lab-trained/{mean,meanmax,lstm,bilstm,attention,multihead,transformer}/seed-0 \
  runs/study-extra/minilm-mr-1ep --probes_dir results/report/figures
python -m pipelines.report results/records --output results/report
