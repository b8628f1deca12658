"""A run's files, written so that a killed run never leaves half of one: atomic JSON, predictions as Parquet,
one live run per folder, checkpoints checked before a resume, file-name-safe names and cache folders.

Nothing here knows what a record holds (`pipelines.runs.record`); the file names are `pipelines.runs.layout`'s.
"""

from __future__ import annotations

import json
import os
import re
import socket
import zipfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pipelines.errors import DataError, PathError
from pipelines.runs.layout import RUN_LOCK_FILE, RUN_OWNER_FILE, TRAINER_STATE_FILE, cache_home

CHECKPOINT_PREFIX = "checkpoint"  # transformers.trainer_utils.PREFIX_CHECKPOINT_DIR


def read_json(path: str | os.PathLike) -> dict:
    """`DataError` naming the file when it is not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a JSON file ({err})") from None


# --- folders and atomic writes --------------------------------------------------------------------


def check_writable_dir(path: Path) -> None:
    """`PathError` unless `path` is a writable folder or could be created as one; creates nothing,
    so a run stopped by bad input before it starts leaves no empty folder behind."""
    path = Path(path).absolute()
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return
    reason = f"{existing} is not a folder" if not existing.is_dir() else f"no permission to write in {existing}"
    raise PathError(f"output folder not writable: {path} ({reason})")


def check_folder_kind(output_dir: str | os.PathLike, kind: str) -> None:
    """`PathError` when `output_dir` holds the other kind of output: a training run ("run": `results.json` or
    `run_definition.json`) or an as-is evaluation ("evaluation": `evaluation.json`). The report would read both
    as one folder, so the two never share one."""
    from pipelines.runs.layout import EVALUATION_FILE, RESULTS_FILE, RUN_DEFINITION_FILE

    other = {"run": (EVALUATION_FILE,), "evaluation": (RESULTS_FILE, RUN_DEFINITION_FILE)}[kind]
    said = {"run": "an as-is evaluation", "evaluation": "a training run"}[kind]
    for name in other:
        if (Path(output_dir) / name).is_file():
            raise PathError(f"--output_dir {output_dir} holds {said} ({name}); give the {kind} a folder of its own")


@contextmanager
def hold_run_folder(output_dir: str | os.PathLike):
    """Hold `output_dir` for this run: a second run into it stops instead of overwriting its checkpoints.

    An exclusive `filelock` lock on `output_dir/.run.lock`, which the operating system releases
    when the process ends however it ends, so a killed run never blocks the next one. Raises
    `PathError` naming the folder and the live run (pid, host, start) when another process holds it. A run that
    fails before writing anything there leaves no trace: the folders made for it here are removed again.
    """
    from filelock import FileLock, Timeout

    output_dir = Path(output_dir)
    made = [folder for folder in (output_dir, *output_dir.parents) if not folder.exists()]  # what mkdir makes, innermost first
    output_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(output_dir / RUN_LOCK_FILE, timeout=0)
    owner_file = output_dir / RUN_OWNER_FILE
    try:
        lock.acquire()
    except Timeout:
        try:
            owner = json.loads(owner_file.read_text(encoding="utf-8"))
            live = f"pid {owner['pid']} on {owner['host']}, started {owner['started']}"
        except (OSError, ValueError, KeyError):  # the other run is between taking the lock and writing this
            live = "another process"
        raise PathError(
            f"{output_dir} is in use by a live run ({live}); wait for it to end, or give another --output_dir"
        ) from None
    failed = True
    try:
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        write_json_atomic(owner_file, {"pid": os.getpid(), "host": socket.gethostname(), "started": started})
        yield
        failed = False
    finally:
        owner_file.unlink(missing_ok=True)
        if failed and made and {path.name for path in output_dir.iterdir()} <= {RUN_LOCK_FILE}:  # still held: no run took it
            (output_dir / RUN_LOCK_FILE).unlink(missing_ok=True)
            for folder in made:  # each is empty once the one inside it is gone; a folder another run wrote into stays
                try:
                    folder.rmdir()
                except OSError:
                    break
        lock.release()


def write_json_atomic(path: str | os.PathLike, payload) -> Path:
    """Write through a temporary file, so a killed run never leaves half a JSON file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_predictions(path: str | os.PathLike, indices, labels, probabilities, predictions=None) -> Path:
    """Test predictions as Parquet, a row per example: `index` (its position in the test split,
    or in the whole dataset for cross-validation), gold `label`, `prediction`, `probabilities`.
    Two runs on the same test set can then be compared example by example. `predictions`
    defaults to the most probable class (a pretrained model's label mapping may decide otherwise)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    probabilities = np.asarray(probabilities, dtype=np.float32)  # (n, num_labels)
    table = pa.table(
        {
            "index": pa.array(np.asarray(indices, dtype=np.int64)),
            "label": pa.array(np.asarray(labels, dtype=np.int64)),
            "prediction": pa.array(np.asarray(probabilities.argmax(axis=-1) if predictions is None else predictions, dtype=np.int64)),
            "probabilities": pa.FixedSizeListArray.from_arrays(pa.array(probabilities.reshape(-1)), probabilities.shape[1]),
        }
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def write_validation_predictions(path: str | os.PathLike, labels, logits) -> Path:
    """Validation logits as Parquet, a row per sentence in the validation split's order: gold
    `label` and `logits` (num_labels floats, before any temperature scaling), atomically."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    logits = np.asarray(logits, dtype=np.float32)  # (n, num_labels)
    table = pa.table({
        "label": pa.array(np.asarray(labels, dtype=np.int64)),
        "logits": pa.FixedSizeListArray.from_arrays(pa.array(logits.reshape(-1)), logits.shape[1]),
    })
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def read_validation_predictions(path: str | os.PathLike):
    """(labels (n,), logits (n, num_labels)) from `write_validation_predictions`'s file."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    logits = table.column("logits").combine_chunks()
    width = logits.type.list_size
    return table.column("label").to_numpy(), logits.flatten().to_numpy().reshape(-1, width)


# --- checkpoints ----------------------------------------------------------------------------------


def checkpoints_newest_first(run_dir: Path) -> list[Path]:
    """`run_dir/checkpoint-<step>` folders, highest step first."""
    found = [path for path in Path(run_dir).glob(f"{CHECKPOINT_PREFIX}-*") if path.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda path: int(path.name.split("-")[-1]), reverse=True)


def last_complete_checkpoint(output_dir: Path) -> str | None:
    """The newest checkpoint that was fully written (`torn_file` finds nothing cut short in it)."""
    return next((str(path) for path in checkpoints_newest_first(output_dir) if torn_file(path) is None), None)


def torn_file(checkpoint: Path) -> Path | None:
    """The first file of `checkpoint` that is missing or was cut short, else None.

    Trainer writes its state file last, so a run killed while saving leaves none; but a file can
    also be torn under a state file (a checkpoint saved again over an older one, a full disk). So
    every file is checked from its own structure, without loading it: JSON parses; a safetensors
    file is as long as its header says; a torch `.pt`/`.pth`/`.bin` file (a zip archive since
    torch 1.6) has the directory a zip ends with.
    """
    checkpoint = Path(checkpoint)
    if not (checkpoint / TRAINER_STATE_FILE).is_file():
        return checkpoint / TRAINER_STATE_FILE
    for path in sorted(checkpoint.iterdir()):
        whole = {
            ".json": _whole_json, ".safetensors": _whole_safetensors, ".pt": zipfile.is_zipfile,
            ".pth": zipfile.is_zipfile, ".bin": zipfile.is_zipfile,
        }.get(path.suffix, lambda _: True)
        if path.is_file() and not whole(path):
            return path
    return None


def _whole_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
        return True
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def _whole_safetensors(path: Path) -> bool:
    """The file holds the 8-byte header length, the JSON header and every tensor's bytes, no fewer."""
    size = path.stat().st_size
    with open(path, "rb") as stream:
        raw = stream.read(8)
        header_length = int.from_bytes(raw, "little") if len(raw) == 8 else size
        if 8 + header_length > size:
            return False
        try:
            header = json.loads(stream.read(header_length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    return size == 8 + header_length + max(ends, default=0)


def find_trainer_state(run_dir: Path) -> Path | None:
    """The run's own `trainer_state.json`, else the newest checkpoint's."""
    run_dir = Path(run_dir)
    if (run_dir / TRAINER_STATE_FILE).is_file():
        return run_dir / TRAINER_STATE_FILE
    return next((path / TRAINER_STATE_FILE for path in checkpoints_newest_first(run_dir) if (path / TRAINER_STATE_FILE).is_file()), None)


# --- names and caches -----------------------------------------------------------------------------


def file_name(text: str, fallback: str = "run") -> str:
    """A file-name-safe version of `text` (a model id, a run's folder): runs of other characters become `_`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or fallback


def cache_root(kind: str) -> Path:
    """`$SENTIBENCH_CACHE/<kind>` (default `~/.cache/sentibench/<kind>`, `layout.cache_home`): backbones, teacher_logits."""
    return cache_home() / kind
