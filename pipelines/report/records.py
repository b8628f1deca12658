"""Compact run records: what the report needs of a run, small enough to commit.

`python -m pipelines.report.records RUNS_DIR --output results/records`

For every run record under RUNS_DIR (a `results.json` of `train.py`/`finetune.py`) it writes, at the
same relative path under the output folder: `results.json` as it is, `training_args.json` as it is
(the checkpoint rule the report's captions read), `trainer_state.json` with the log history (less
its timings) and the restored step (the learning curves and the validation score of the restored checkpoint), and the
test predictions as Parquet with small types: index int32, label and prediction int8, probabilities
float16. For every `evaluation.json` of `evaluate_pretrained.py`: the file and its predictions, the
same way. Validation predictions (a run's logits, a calibrated scorer's log probabilities) are
copied as they are. No weights, no checkpoints, no tokenizer. `python -m pipelines.report <records>`
then reads the records exactly as it reads the run folders.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.cli import leading_positionals, parse
from pipelines.errors import PathError
from pipelines.runs.io import find_trainer_state, read_json, write_json_atomic
from pipelines.runs.layout import (
    ARGS_FILE,
    EVALUATION_FILE,
    PREDICTIONS_FILE,
    RESULTS_FILE,
    TRAINER_STATE_FILE,
    VALIDATION_PREDICTIONS_FILE,
    portable_paths,
)
from pipelines.runs.record import RunRecord, is_run_record

STATE_KEYS = ("best_global_step", "best_metric", "best_model_checkpoint", "epoch", "global_step", "log_history", "stateful_callbacks")
TIMING = ("_runtime", "_samples_per_second", "_steps_per_second")  # log entries' timings: machine noise, a third of the bytes


def compact_state(state: dict) -> dict:
    kept = {key: state[key] for key in STATE_KEYS if key in state}
    kept["log_history"] = [{k: v for k, v in entry.items() if not k.endswith(TIMING)} for entry in state.get("log_history", [])]
    return kept


def compact_predictions(source: Path, target: Path) -> Path:
    """The predictions Parquet with small types; the probabilities (if any) as float16."""
    table = pq.read_table(source)
    columns = {
        "index": pa.array(table["index"].to_numpy().astype(np.int32)),
        "label": pa.array(table["label"].to_numpy().astype(np.int8)),
        "prediction": pa.array(table["prediction"].to_numpy().astype(np.int8)),
    }
    if "probabilities" in table.column_names:
        probabilities = np.asarray(table["probabilities"].to_pylist(), dtype=np.float16)  # (n, num_labels)
        columns["probabilities"] = pa.FixedSizeListArray.from_arrays(pa.array(probabilities.reshape(-1)), probabilities.shape[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    pq.write_table(pa.table(columns), tmp, compression="zstd")
    os.replace(tmp, target)
    return target


def linked_teacher(results: dict, target: Path) -> dict:
    """`results`, given the `distillation.teacher_run` that its record at `target` already has when the run's own file
    predates it (`scripts.migrate_results` step 3 linked the committed students once): re-recording a student never
    takes its teacher's identity back, which would leave it to the older folder rule (`RunRecord.teacher_run`)."""
    distillation = results.get("distillation")
    if not isinstance(distillation, dict) or "teacher_run" in distillation or not (target / RESULTS_FILE).is_file():
        return results
    recorded = read_json(target / RESULTS_FILE).get("distillation")
    if not isinstance(recorded, dict) or "teacher_run" not in recorded:
        return results
    return results | {"distillation": with_teacher_run(distillation, recorded["teacher_run"])}


def with_teacher_run(distillation: dict, identity: dict) -> dict:
    """A student's `distillation` record with `teacher_run` set to its teacher's `identity`, placed where
    `pipelines.distillation` writes it (after `teacher_fingerprint`)."""
    items = [(key, value) for key, value in distillation.items() if key != "teacher_run"]
    keys = [key for key, _ in items]
    at = keys.index("teacher_fingerprint") + 1 if "teacher_fingerprint" in keys else len(keys)
    return dict(items[:at] + [("teacher_run", identity)] + items[at:])


def record_run(run_dir: Path, results: dict, target: Path) -> None:
    """The run's record (a student keeps the teacher link its record has: `linked_teacher`), arguments and compact
    trainer state, machine paths made relative (`portable_paths`). A file an earlier record left at `target` that this
    run does not have (a SetFit run has no trainer state; a run made without validation predictions) is removed when
    that record was of another run (`RunRecord.identity`): the report would read the earlier run's validation scores,
    patience or logits as this one's."""
    earlier = read_json(target / RESULTS_FILE) if (target / RESULTS_FILE).is_file() else None
    same_run = earlier is not None and is_run_record(earlier) and RunRecord.from_dict(earlier).identity() == RunRecord.from_dict(results).identity()
    write_json_atomic(target / RESULTS_FILE, portable_paths(linked_teacher(results, target)))
    written = {RESULTS_FILE}
    if (run_dir / ARGS_FILE).is_file():
        write_json_atomic(target / ARGS_FILE, portable_paths(read_json(run_dir / ARGS_FILE)))
        written.add(ARGS_FILE)
    state = find_trainer_state(run_dir)
    if state:
        write_json_atomic(target / TRAINER_STATE_FILE, portable_paths(compact_state(read_json(state))))
        written.add(TRAINER_STATE_FILE)
    if results.get("predictions_file") and (run_dir / results["predictions_file"]).is_file():
        compact_predictions(run_dir / results["predictions_file"], target / results["predictions_file"])
        written.add(results["predictions_file"])
    validation = results.get("validation_predictions_file")
    if validation and (run_dir / validation).is_file():  # logits as float32: temperature scaling reads them
        shutil.copyfile(run_dir / validation, target / validation)
        written.add(validation)
    for stale in () if same_run else {ARGS_FILE, TRAINER_STATE_FILE, PREDICTIONS_FILE, VALIDATION_PREDICTIONS_FILE, EVALUATION_FILE} - written:
        (target / stale).unlink(missing_ok=True)  # the same run recorded again from a pruned folder keeps what it had


def record_evaluation(path: Path, target: Path) -> None:
    """An as-is evaluation's record and its compact predictions; a run's record an earlier call left at `target` is
    removed (the report would read both)."""
    evaluation = portable_paths(read_json(path))
    write_json_atomic(target / EVALUATION_FILE, evaluation)
    if not (path.parent / RESULTS_FILE).is_file():  # not a run recorded into the same target by this call
        for stale in (RESULTS_FILE, ARGS_FILE, TRAINER_STATE_FILE, PREDICTIONS_FILE, VALIDATION_PREDICTIONS_FILE):
            (target / stale).unlink(missing_ok=True)
    for scored in evaluation.get("results", []):
        if scored.get("predictions_file") and (path.parent / scored["predictions_file"]).is_file():
            compact_predictions(path.parent / scored["predictions_file"], target / scored["predictions_file"])
        validation = scored.get("validation_predictions_file")
        if validation and (path.parent / validation).is_file():  # log probabilities as float32, as a run's validation logits
            shutil.copyfile(path.parent / validation, target / validation)


def write_records(runs_dir: str | Path, output: str | Path) -> tuple[int, int]:
    """Records of every run and evaluation under `runs_dir`, in `output`; returns (records, bytes).
    Raises `PathError` when `runs_dir` is no folder or holds no run, before anything is written."""
    runs_dir, output = Path(runs_dir), Path(output)
    if not runs_dir.is_dir():
        raise PathError(f"runs folder not found: {runs_dir}")
    runs = [(path.parent, results) for path in sorted(runs_dir.rglob(RESULTS_FILE)) if is_run_record(results := read_json(path))]
    evaluations = sorted(runs_dir.rglob(EVALUATION_FILE))
    if not runs and not evaluations:
        raise PathError(f"no results.json of a run or {EVALUATION_FILE} under {runs_dir}")
    for run_dir, results in runs:
        record_run(run_dir, results, output / run_dir.relative_to(runs_dir))
    for path in evaluations:
        record_evaluation(path, output / path.parent.relative_to(runs_dir))
    size = sum(path.stat().st_size for path in output.rglob("*") if path.is_file())
    return len(runs) + len(evaluations), size


@dataclass
class RecordsArguments:
    """Compact run records of every run under a folder (`write_records`)."""

    runs_dir: str = field(metadata={"help": "folder searched for run folders (results.json) and evaluation.json files (also the first argument)"})
    output: str = field(metadata={"help": "records folder (for the committed study: results/records)"})


def main(argv: list[str]) -> None:
    (args,) = parse((RecordsArguments,), leading_positionals(argv, "--runs_dir"))
    count, size = write_records(args.runs_dir, args.output)
    print(f"wrote {count} records to {args.output} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    from pipelines.cli import run_cli

    sys.exit(run_cli(main))
