"""The results report: `python -m pipelines.report RUNS_DIR [--output DIR] [--speeds SPEEDS_JSON]`.

Gathers every run record (a `results.json` written by `train.py` and `finetune.py`, in a run folder
or in a compact record made by `python -m pipelines.report.records`) and every `evaluation.json`
(written by `evaluate_pretrained.py`) under RUNS_DIR, and writes a folder
(default `RUNS_DIR/report`):

    report.md                         per dataset: scores over seeds, the study questions answered
                                      with crossed_comparison, model selection; figures, every run
    report.json                       the numbers behind the tables, and every run
    figures/scores-<dataset>.png      mean accuracy, macro F1 and macro recall of every group, ± std
    figures/curves-<group>.png        training and validation loss per epoch, every run of the group
    figures/confusion-<group>.png     the test confusion counts summed over the runs of a group
    figures/reliability-<dataset>.png, figures/risk-coverage-<dataset>.png
                                      the "How sure" section (`calibration`): top-label reliability
                                      and risk–coverage of the lab-split groups, by kind of model
    figures/pareto-<dataset>.png      with --speeds: official score (95% CI) against CPU throughput, the
                                      Pareto front marked (`front`), speeds from a `bench.speeds` run

Runs are grouped by (dataset, model, setting, protocol): the setting is how the model was made
("trained vectors" / "frozen vectors" for GloVe models, "fine-tuned", or "as is" for pretrained
models scored by `evaluate_pretrained.py`), the protocol the fixed test split ("lab split") or
k-fold cross-validation. A group's runs differ by seed (and fold). Comparisons read each run's
`predictions.parquet`; the statistics live in `pipelines/statistics.py`.

Modules: `collect` (files → rows → groups), `compare` (the study questions and their answers),
`tables` (markdown), `figures`, `front` (cost against accuracy), `calibration` (the "How sure" section), `build` (the whole
report), `cli`, `records` (compact run records).

Learning curves come from the `trainer_state.json` that `fit_and_test` saves beside the model
(`Trainer.save_state`); for runs made before it did, from the newest
`checkpoint-*/trainer_state.json`. A run with neither is reported without a curve.
"""

from pipelines.report.cli import main
from pipelines.report.build import write_report
from pipelines.report.collect import find_trainer_state

__all__ = ["find_trainer_state", "main", "write_report"]
