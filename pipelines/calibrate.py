"""Temperature scaling for finished runs: `python -m pipelines.calibrate RUN_DIR [RUN_DIR...]`.

Training does this itself (`pipelines.calibration.calibrate_after_training`); this command adds
it to a run trained with `--temperature_scaling false`, or made before the step existed but
after its validation logits were saved (`validation_predictions.parquet`). For each folder it
fits T on those logits (the test set is never seen), stores T and the abstention threshold
chosen on the scaled validation probabilities (unscaled where no T is identifiable) in the saved model as training does
(`pipelines.calibration.calibrate_model`), rewrites `predictions.parquet` with the scaled
probabilities (predictions unchanged) and records `calibration` in `results.json` (written last),
with the conformal sets calibrated on the same validation sentences (coverage and mean set size on test); the
run's model card (`README.md`, `pipelines.model_card`) is written again from that record where the folder has one
(training writes one for a Trainer run, `pipelines.hub` push for any run; a SetFit run has none until pushed).
These files are written into `PENDING_DIR` first and moved into place once all are written (`finish_pending`), so a
run stopped midway is finished (or, stopped before its `results.json` was staged, left as it was) by the command's next run.

A SetFit run (`finetune.py --setfit`) is calibrated from its saved predictions alone: its
validation file holds the logistic head's log probabilities (runs made before SetFit was scaled in
training) or its logits, both exact logits up to a per-row constant, so only its scikit-learn head
(`model_head.pkl`, a few kB) is loaded, scaled and saved; the sentence encoder is never run.

`RUN_DIR... --refit` calibrates runs already calibrated again: the temperature in the saved model is removed
(`pipelines.calibration.remove_temperature`; the saved test probabilities, softmax(z / T), are
rescaled by T back to softmax(z)) and fitted again from the saved validation logits, which are
always the unscaled ones. For runs scaled by an earlier rule, e.g. a few-shot run whose handful of
validation sentences gave no identifiable temperature (`calibration.TemperatureNotIdentifiable`).

Every folder is checked before anything is written: one that is not a finished run with its model (a compact
record under `results/records` keeps no weights), or that cannot be written in, is one line and exit 2. Folders
without validation predictions, and folders already calibrated, are named in one line each and left as they are (a
run whose temperature was tried and skipped, with why); exit 2 when no folder was calibrated and some lack validation
predictions, exit 0 when every folder was calibrated already (nothing to do), so `calibrate runs/*` can run again.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import pyarrow.parquet as pq
from transformers import AutoConfig, AutoModelForSequenceClassification

from pipelines.backbones import WEIGHTS_FILES
from pipelines.calibration import calibrate_model, calibration_summary, logits_from_probabilities, model_temperature, remove_temperature
from pipelines.cli import leading_positionals, parse, run_cli
from pipelines.data.files import file_digest
from pipelines.errors import DataError, PathError
from pipelines.model_card import CARD_FILE, write_model_card
from pipelines.runs.io import check_writable_dir, read_json, read_validation_predictions, write_predictions
from pipelines.runs.layout import ARGS_FILE, PREDICTIONS_FILE, RESULTS_FILE, SETFIT_HEAD_FILE, VALIDATION_PREDICTIONS_FILE
from pipelines.runs.record import MODEL_FILE_PATTERNS, RunRecord, weights_fingerprint, write_results

PENDING_DIR = ".calibrate-pending"  # a calibration's new files, in the run folder until every one is written
STAGED_RECORD = "results.json.staged"  # the new record there, under a name no reader of run folders takes for a run
SOURCE_FILE = "source.sha256"  # the digest (`file_digest`) of the results.json the staged files were made from


@dataclass
class CalibrateArguments:
    run_dirs: list[str] = field(metadata={"help": "finished train.py / finetune.py (SetFit too) run folders (also the first arguments)"})
    refit: bool = field(
        default=False,
        metadata={"help": "also refit runs already calibrated: their temperature removed (pipelines.calibration.remove_temperature), "
                          "then fitted again by today's rule (e.g. left out where none is identifiable)"},
    )


def check_run(run_dir: Path, refit: bool = False) -> RunRecord:
    """The folder's record; `PathError` for a missing folder or `results.json`, `DataError` for a record without its
    test predictions file. A folder that may be calibrated (it has validation predictions, and no recorded calibration
    unless `refit`) must also hold its model and be writable: `DataError` for a SetFit record without its head,
    `PathError` for no `config.json` and weights (as `pipelines.inference.TorchSequenceClassifier.from_pretrained`
    checks them) or a folder that cannot be written in (`check_writable_dir`). The others are named and left as they
    are (`main`), so `calibrate runs/*` runs again over compact or read-only folders already calibrated."""
    if not run_dir.is_dir():
        raise PathError(f"{run_dir}: no such run folder")
    if not (run_dir / RESULTS_FILE).is_file():
        raise PathError(f"{run_dir}: not a finished run (no {RESULTS_FILE})")
    record = RunRecord.read(run_dir)
    if not (run_dir / (record.predictions_file or PREDICTIONS_FILE)).is_file():
        raise DataError(f"{run_dir}: no test predictions ({record.predictions_file or PREDICTIONS_FILE}) to score calibration on")
    validation = run_dir / (record.validation_predictions_file or VALIDATION_PREDICTIONS_FILE)
    if not validation.is_file() or (record.calibration is not None and not refit):
        return record
    if record.is_setfit and not (run_dir / SETFIT_HEAD_FILE).is_file():
        raise DataError(f"{run_dir}: a SetFit run without its head ({SETFIT_HEAD_FILE}) to scale")
    if not record.is_setfit and not ((run_dir / "config.json").is_file() and any((run_dir / name).is_file() for name in WEIGHTS_FILES)):
        raise PathError(f"{run_dir}: no model to scale (expected config.json with one of {', '.join(WEIGHTS_FILES)}); a compact "
                        "record (results/records) keeps no weights: calibrate the run folder it was made from")  # fmt: skip
    check_writable_dir(run_dir)
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


def save_model(model, folder: Path) -> None:
    """`save_pretrained`, or for a SetFit head `joblib.dump`, as `setfit` saves it."""
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(folder)
    else:
        joblib.dump(model, folder / SETFIT_HEAD_FILE)


def staged_fingerprint(run_dir: Path, staging: Path) -> str:
    """`weights_fingerprint` (16 digits) of the run's model once the staged files are in place: the run's model files
    that calibration does not write (tokenizer, remote code) are copied beside the staged ones first (they move
    back over themselves unchanged)."""
    for pattern in MODEL_FILE_PATTERNS:
        for path in run_dir.glob(pattern):
            if path.is_file() and not (staging / path.name).exists():
                shutil.copy2(path, staging / path.name)
    return weights_fingerprint(staging)[:16]


def card_name(run_dir: Path) -> str:
    """What the model card names the model: the name its card already gives (a run pushed with `pipelines.hub push
    --hub_model_id` keeps that repo), else as training does (`pipelines.fitting.save_run`): its `--hub_model_id`
    (recorded in `training_args.json`) when it was given one, else its folder's name."""
    from huggingface_hub import ModelCard

    try:
        named = ModelCard.load(run_dir / CARD_FILE).data.model_name
    except Exception:  # noqa: BLE001  a card edited by hand: named as training names it
        named = None
    arguments = read_json(run_dir / ARGS_FILE) if (run_dir / ARGS_FILE).is_file() else {}
    return named or arguments.get("hub_model_id") or run_dir.absolute().name


def finish_pending(run_dir: Path) -> bool:
    """Move a calibration's staged files (`PENDING_DIR`) into place, the record (staged as `STAGED_RECORD`, so no
    reader takes the folder for a run) last, when they are all there and were made from the run's `results.json` as it
    still is (`SOURCE_FILE`); else drop them: stopped while staging, nothing in place was touched, or the run was
    trained again since. True when files were moved. Without this a run stopped between its model and its record would
    hold a scaled model beside unscaled predictions: called "already calibrated", and --refit would divide them by T twice."""
    staging = run_dir / PENDING_DIR
    if not staging.is_dir():
        return False
    complete = (staging / STAGED_RECORD).is_file() and (staging / SOURCE_FILE).is_file()
    complete = complete and (run_dir / RESULTS_FILE).is_file() and (staging / SOURCE_FILE).read_text().strip() == file_digest(run_dir / RESULTS_FILE)
    if complete:  # the source stays until the end: a stop while moving leaves the staging folder still complete
        for path in staging.iterdir():
            if path.name not in (STAGED_RECORD, SOURCE_FILE):
                os.replace(path, run_dir / path.name)
        os.replace(staging / STAGED_RECORD, run_dir / RESULTS_FILE)
    shutil.rmtree(staging)
    return complete


def calibrate_run(run_dir: Path, record: RunRecord) -> dict:
    """Fit T on the folder's validation logits, store it and the abstention threshold in its model,
    rescale its test probabilities, record `calibration` and write the model card again (where the folder has one),
    each staged in `PENDING_DIR` and then moved into place (`finish_pending`). Returns the `calibration` record."""
    labels, logits = read_validation_predictions(run_dir / (record.validation_predictions_file or VALIDATION_PREDICTIONS_FILE))
    model = load_scalable(run_dir, record)
    predictions_file = record.predictions_file or PREDICTIONS_FILE
    rows = pq.read_table(run_dir / predictions_file).to_pandas()
    test_logits = logits_from_probabilities(rows["probabilities"].tolist())  # (n, num_labels)
    removed = remove_temperature(model)  # 1.0 unless --refit: the saved probabilities are softmax(z / T)
    test_logits = test_logits * removed
    record.calibration = None
    scaled = calibrate_model(model, labels, logits, record, rows["label"].to_numpy(), test_logits)
    record.validation_predictions_file = record.validation_predictions_file or VALIDATION_PREDICTIONS_FILE
    name = card_name(run_dir) if (run_dir / CARD_FILE).is_file() else None
    staging = run_dir / PENDING_DIR
    staging.mkdir()
    (staging / SOURCE_FILE).write_text(file_digest(run_dir / RESULTS_FILE) + "\n")
    save_model(model, staging)
    if not record.is_setfit:  # the saved weights changed: what a student of this run will record of its teacher
        record.weights_fingerprint = staged_fingerprint(run_dir, staging)
    write_predictions(staging / predictions_file, rows["index"], rows["label"], scaled, rows["prediction"])
    if name:
        write_model_card(staging, record, name)
    os.replace(write_results(staging, record), staging / STAGED_RECORD)
    finish_pending(run_dir)
    return record.calibration


def main(argv: list[str]) -> None:
    (args,) = parse((CalibrateArguments,), leading_positionals(argv, "--run_dirs"))  # RUN_DIR... first, as the usage line shows
    runs = {Path(run_dir): check_run(Path(run_dir), args.refit) for run_dir in args.run_dirs}
    for run_dir in runs:
        if finish_pending(run_dir):
            print(f"{run_dir}: finished writing the calibration an earlier `pipelines.calibrate` was stopped in")
            runs[run_dir] = RunRecord.read(run_dir)
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
