#!/usr/bin/env bash
# results/pareto/ (issue 19 item 4): every model of results/report/report.json against its CPU
# throughput, timed in one run on this machine (run it alone: timings are only as quiet as the machine);
# then results/report again, with the front's figure and table per dataset (`--front`, which refuses a
# front measured on other scores). Run it after scripts/build_report.sh, whenever the records change.
#   STUDY_RUNS   the study's runs (scripts/run_study.sh + scripts/gpu_study.sh, unpacked)
# Cells made on the lent GPU came back without weights: each is timed on a stand-in, the MR lab-split
# seed-0 run of the same model made here (speed depends on the architecture, not on the weights; the
# table's "timed on" column says which). MiniLM fine-tuned is timed as its backbone with an untrained
# head; the as-is models (lexicons, zero-shot MiniLM/MPNet) through their scorers.
set -euo pipefail
export HF_HUB_OFFLINE=1
S=${STUDY_RUNS:-runs/study}
stand_ins=$(for m in mean meanmax lstm bilstm attention multihead transformer; do printf '%s=%s,' $m "$S/mr-lab-trained/$m/seed-0"; done)
python -m bench.pareto --data_dir ../shared/datasets --output_dir results/pareto --max_test_sentences 2000 \
  --models "$S/mr-lab-trained/*" "$S/mr-lab-trained-distilled-minilm/*" "$S/mr-lab-trained-distilled-minilm-kl-t2/*" "$S/semeval2017a-lab-trained/*" \
           "$S/semeval2017a-lab-trained-distilled-minilm/*" "$S/semeval2017a-lab-trained-weighted/*" \
  --stand_ins "${stand_ins%,}" --report results/report/report.json \
  --report_models minilm=minilm,mpnet=mpnet,vader=vader,textblob=textblob,afinn=afinn "$@"
python -m pipelines.report results/records --output results/report --teachers results/teachers --front results/pareto/pareto.json
