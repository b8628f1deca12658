"""Result files: one `results.json` per run, and tables gathered from many."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

from pipelines.errors import PathError

RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.parquet"


def library_versions() -> dict[str, str]:
    import datasets
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "tokenizers": tokenizers.__version__,
    }


def ensure_writable_dir(path: Path) -> None:
    """Create `path` if needed and prove a file can be written there (`PathError` if not)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):  # unique: processes may race here
            pass
    except OSError as err:
        raise PathError(f"output folder not writable: {path} ({err.strerror or err})") from None


def check_writable_dir(path: Path) -> None:
    """`PathError` unless `path` is a writable folder or could be created as one; creates nothing,
    so a run stopped by bad input before it starts leaves no empty folder behind."""
    path = Path(path).absolute()
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return
    reason = f"{existing} is not a folder" if not existing.is_dir() else f"no permission to write in {existing}"
    raise PathError(f"output folder not writable: {path} ({reason})")


def write_json_atomic(path: str | os.PathLike, payload) -> Path:
    """Write through a temporary file, so a killed run never leaves half a JSON file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_results(output_dir: str | os.PathLike, results: dict) -> Path:
    return write_json_atomic(Path(output_dir) / RESULTS_FILE, results)


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


def read_results(root: str | os.PathLike) -> list[dict]:
    """Every `results.json` under `root`, with the folder it came from."""
    found = []
    for path in sorted(Path(root).rglob(RESULTS_FILE)):
        results = json.loads(path.read_text(encoding="utf-8"))
        results.setdefault("output_dir", str(path.parent))
        found.append(results)
    return found


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """`columns` are (key, header); floats print with 4 decimals."""

    def cell(value):
        if isinstance(value, float):
            return f"{value:.4f}"
        return "" if value is None else str(value)

    lines = [
        "| " + " | ".join(header for _, header in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def format_metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{key} {value:.4f}" for key, value in metrics.items())
