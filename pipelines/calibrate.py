"""Temperature scaling for finished runs: `python -m pipelines.calibrate RUN_DIR [RUN_DIR...]`.

Training does this itself (`pipelines.calibration.calibrate_after_training`); this command adds
it to a run trained with `--temperature_scaling false`, or made before the step existed but
after its validation logits were saved (`validation_predictions.parquet`). For each folder it
fits T on those logits (the test set is never seen), stores T and the abstention threshold
chosen on the scaled validation probabilities in the saved model as training does
(`pipelines.calibration.calibrate_model`), rewrites `predictions.parquet` with the scaled
probabilities (predictions unchanged) and records `calibration` in `results.json` (written last),
with the conformal sets calibrated on the same validation sentences (coverage and mean set size on test).

A SetFit run (`finetune.py --setfit`) is calibrated from its saved predictions alone: its
validation file holds the logistic head's log probabilities (runs made before SetFit was scaled in
training) or its logits, both exact logits up to a per-row constant, so only its scikit-learn head
(`model_head.pkl`, a few kB) is loaded, scaled and saved; the sentence encoder is never run.

`RUN_DIR... --refit` calibrates runs already calibrated again: the temperature in the saved model is removed
(`pipelines.calibration.remove_temperature`; the saved test probabilities, softmax(z / T), are
rescaled by T back to softmax(z)) and fitted again from the saved validation logits, which are
always the unscaled ones. For runs scaled by an earlier rule, e.g. a few-shot run whose handful of
validation sentences gave no identifiable temperature (`calibration.TemperatureNotIdentifiable`).

Every folder is checked before anything is written: one that is not a finished run is one line
and exit 2. Folders without validation predictions, and folders already calibrated, are named
in one line each and left as they are (a run whose temperature was tried and skipped, with why); exit 2 when
no folder was calibrated and some lack validation predictions, exit 0 when every folder was calibrated already
(nothing to do), so `calibrate runs/*` can run again.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import pyarrow.parquet as pq
from transformers import AutoConfig, AutoModelForSequenceClassification

from pipelines.calibration import calibrate_model, calibration_summary, logits_from_probabilities, model_temperature, remove_temperature
from pipelines.cli import parse, run_cli
from pipelines.errors import DataError, PathError
from pipelines.runs.io import read_validation_predictions, write_predictions
from pipelines.runs.layout import PREDICTIONS_FILE, RESULTS_FILE, SETFIT_HEAD_FILE, VALIDATION_PREDICTIONS_FILE
from pipelines.runs.record import RunRecord, weights_fingerprint, write_results


@dataclass
class CalibrateArguments:
    run_dirs: list[str] = field(metadata={"help": "finished train.py / finetune.py (SetFit too) run folders"})
    refit: bool = field(
        default=False,
        metadata={"help": "also refit runs already calibrated: their temperature removed (pipelines.calibration.remove_temperature), "
                          "then fitted again by today's rule (e.g. left out where none is identifiable)"},
    )


def check_run(run_dir: Path) -> RunRecord:
    """The folder's record; `PathError` for a missing folder or `results.json`, `DataError` for a
    record without its test predictions file, or a SetFit record without its head."""
    if not run_dir.is_dir():
        raise PathError(f"{run_dir}: no such run folder")
    if not (run_dir / RESULTS_FILE).is_file():
        raise PathError(f"{run_dir}: not a finished run (no {RESULTS_FILE})")
    record = RunRecord.read(run_dir)
    if not (run_dir / (record.predictions_file or PREDICTIONS_FILE)).is_file():
        raise DataError(f"{run_dir}: no test predictions ({record.predictions_file or PREDICTIONS_FILE}) to score calibration on")
    if record.is_setfit and not (run_dir / SETFIT_HEAD_FILE).is_file():
        raise DataError(f"{run_dir}: a SetFit run without its head ({SETFIT_HEAD_FILE}) to scale")
    return record


def is_calibrated(run_dir: Path, record: RunRecord) -> bool:
    if record.calibration is not None:
        return True
    settings = joblib.load(run_dir / SETFIT_HEAD_FILE) if record.is_setfit else AutoConfig.from_pretrained(run_dir)
    return model_temperature(settings) != 1.0


def load_scalable(run_dir: Path, record: RunRecord):
    """What temperature scaling changes in the run's model: a SetFit run's scikit-learn head (the
    encoder stays on disk, untouched), else the whole `AutoModelForSequenceClassification`."""
    return joblib.load(run_dir / SETFIT_HEAD_FILE) if record.is_setfit else AutoModelForSequenceClassification.from_pretrained(run_dir)


def save_model_in_place(model, run_dir: Path) -> None:
    """`save_pretrained` (a SetFit head: `joblib.dump`, as `setfit` saves it) into a temporary folder
    beside the run's files, then each file moved over its old self: a run stopped midway never holds
    half a weights file."""
    with tempfile.TemporaryDirectory(dir=run_dir, prefix=".calibrate-") as staging:
        if hasattr(model, "save_pretrained"):
            model.save_pretrained(staging)
        else:
            joblib.dump(model, Path(staging) / SETFIT_HEAD_FILE)
        for path in Path(staging).iterdir():
            os.replace(path, run_dir / path.name)


def calibrate_run(run_dir: Path, record: RunRecord) -> dict:
    """Fit T on the folder's validation logits, store it and the abstention threshold in its model,
    rescale its test probabilities and record `calibration`. Returns the `calibration` record."""
    labels, logits = read_validation_predictions(run_dir / (record.validation_predictions_file or VALIDATION_PREDICTIONS_FILE))
    model = load_scalable(run_dir, record)
    predictions_path = run_dir / (record.predictions_file or PREDICTIONS_FILE)
    rows = pq.read_table(predictions_path).to_pandas()
    test_logits = logits_from_probabilities(rows["probabilities"].tolist())  # (n, num_labels)
    removed = remove_temperature(model)  # 1.0 unless --refit: the saved probabilities are softmax(z / T)
    test_logits = test_logits * removed
    record.calibration = None
    scaled = calibrate_model(model, labels, logits, record, rows["label"].to_numpy(), test_logits)
    record.validation_predictions_file = record.validation_predictions_file or VALIDATION_PREDICTIONS_FILE
    save_model_in_place(model, run_dir)
    if not record.is_setfit:  # the saved weights changed: what a student of this run will record of its teacher
        record.weights_fingerprint = weights_fingerprint(run_dir)[:16]
    write_predictions(predictions_path, rows["index"], rows["label"], scaled, rows["prediction"])
    write_results(run_dir, record)
    return record.calibration


def main(argv: list[str]) -> None:
    if argv and not argv[0].startswith("-"):  # RUN_DIR... first, as the usage line shows
        argv = ["--run_dirs", *argv]
    (args,) = parse((CalibrateArguments,), argv)
    runs = {Path(run_dir): check_run(Path(run_dir)) for run_dir in args.run_dirs}
    lacking = [str(run_dir) for run_dir, record in runs.items()
               if not (run_dir / (record.validation_predictions_file or VALIDATION_PREDICTIONS_FILE)).is_file()]
    done = [] if args.refit else [
        str(run_dir) for run_dir, record in runs.items() if str(run_dir) not in lacking and is_calibrated(run_dir, record)
    ]
    if lacking:
        print(f"no validation predictions (re-train to save them), left as they are: {', '.join(lacking)}", file=sys.stderr)
    skipped = [run_dir for run_dir in done if "skipped" in (runs[Path(run_dir)].calibration or {})]
    for run_dir in skipped:  # fitted before and no temperature identified: the same fit would find none again
        print(f"{run_dir}: temperature scaling was tried and skipped ({runs[Path(run_dir)].calibration['skipped']}), left as it is "
              "(--refit tries again)", file=sys.stderr)  # fmt: skip
    if len(done) > len(skipped):
        print(f"already calibrated, left as they are: {', '.join(run_dir for run_dir in done if run_dir not in skipped)}", file=sys.stderr)
    todo = {run_dir: record for run_dir, record in runs.items() if str(run_dir) not in lacking + done}
    if not todo and lacking:  # nothing calibrated, and some could not be: the user's to fix
        raise DataError("no run folder left to calibrate")
    for run_dir, record in todo.items():
        print(f"{run_dir}: {calibration_summary(calibrate_run(run_dir, record))}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
