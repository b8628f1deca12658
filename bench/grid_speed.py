"""One seed of the GloVe grid: the grid as it was (sequential, one worker) against the grid now.

    HF_HUB_OFFLINE=1 python -m bench.grid_speed [--datasets mr,semeval2017a] [--baseline_ref 31a96a6]

The baseline is the project at `--baseline_ref` (the commit before the seeds issue), unpacked
with `git archive` into the work folder and run as its README ran it:
`OMP_NUM_THREADS=1 python -m pipelines.experiments --train_embeddings`, one cell after another.
The grid now is today's `python -m pipelines.experiments --train_embeddings --seeds 0` with its
default workers. Both run in this process's run, on the same data, one after the other (never at
the same time). Printed: wall time of each, the ratio, the sum of the cells' training seconds
(what the work itself cost), and each cell's test accuracy side by side (one seed each: the
grid report's seeds say whether a difference is noise).

Where the time went, and what changed: a worker prepares each data set once (vocabulary,
tokenization: ~10 s a cell before); the one-layer LSTMs run fused over the padded batch instead
of packed sequences (about 2x on CPU, same numbers); cells run in parallel, one torch thread each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import DEFAULT_DATA_DIR, REPO_ROOT, machine_line, markdown_table, ratio
from pipelines.cli import parse, run_cli

TARGET_SECONDS = 12 * 60  # one seed of the 14-cell grid on the 2-core machine


@dataclass
class GridSpeedArguments:
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "folder with MR/ and Semeval2017A/"})
    datasets: str = field(default="mr,semeval2017a", metadata={"help": "comma-separated datasets of the grid"})
    models: str | None = field(default=None, metadata={"help": "comma-separated models (default: all seven)"})
    baseline_ref: str = field(default="31a96a6", metadata={"help": "git commit of the grid as it was"})
    workers: int | None = field(default=None, metadata={"help": "workers of the grid now (default: its own)"})
    work_dir: str = field(default=str(REPO_ROOT / "runs" / "bench-grid"), metadata={"help": "runs of both grids"})
    output: str | None = field(default=None, metadata={"help": "also write the tables to this markdown file"})


def unpack_baseline(ref: str, destination: Path) -> Path:
    """The project's files at `ref`, as `git archive` gives them."""
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as archive:
        subprocess.run(["git", "-C", str(REPO_ROOT), "archive", ref], stdout=archive, check=True)
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(destination, filter="data")
    return destination


def timed_grid(code_dir: Path, argv: list[str], results: Path) -> tuple[float, list[dict]]:
    """Run `python -m pipelines.experiments` from `code_dir` (its packages come first on the path)."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(code_dir)}
    command = [sys.executable, "-m", "pipelines.experiments", *argv, "--results", str(results)]
    started = time.perf_counter()
    subprocess.run(command, cwd=code_dir, env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return seconds, json.loads(results.with_suffix(".json").read_text(encoding="utf-8"))["rows"]


def main(argv: list[str]) -> None:
    (args,) = parse((GridSpeedArguments,), argv)
    work = Path(args.work_dir)
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)  # both grids skip finished cells: start clean
    selection = ["--datasets", args.datasets, *(["--models", args.models] if args.models else [])]
    common = ["--data_dir", str(Path(args.data_dir).resolve()), "--train_embeddings", *selection]

    baseline_dir = unpack_baseline(args.baseline_ref, work / "baseline-code")
    base_seconds, base_rows = timed_grid(baseline_dir, [*common, "--runs_dir", str(work / "baseline")], work / "baseline")
    # The old grid restored by validation loss; the same rule keeps both grids' epochs comparable.
    now_argv = [*common, "--seeds", "0", "--metric_for_best_model", "eval_loss", "--runs_dir", str(work / "now")]
    now_argv += ["--workers", str(args.workers)] if args.workers else []
    now_seconds, now_rows = timed_grid(REPO_ROOT, now_argv, work / "now")

    base_work = sum(row["train_seconds"] for row in base_rows)
    now_work = sum(row["train_seconds"] for row in now_rows)
    summary = [
        {"grid": f"as it was ({args.baseline_ref}): sequential, 1 worker", "cells": len(base_rows), "wall": f"{base_seconds:.0f}",
         "train": f"{base_work:.0f}", "speed-up": "1.00x"},
        {"grid": "now: parallel workers, data prepared once, fused LSTM", "cells": len(now_rows), "wall": f"{now_seconds:.0f}",
         "train": f"{now_work:.0f}", "speed-up": f"{ratio(base_seconds, now_seconds):.2f}x"},
    ]  # fmt: skip
    columns = [("grid", "grid"), ("cells", "cells"), ("wall", "wall s"), ("train", "sum of cell train s"), ("speed-up", "wall speed-up")]
    accuracy = {(row["dataset"], row["model"]): row for row in base_rows}
    cells = [
        {
            "dataset": row["dataset"],
            "model": row["model"],
            "base_s": accuracy.get((row["dataset"], row["model"]), {}).get("train_seconds"),
            "now_s": row["train_seconds"],
            "base_acc": accuracy.get((row["dataset"], row["model"]), {}).get("accuracy"),
            "now_acc": row["accuracy"],
        }
        for row in now_rows
    ]
    cell_columns = [("dataset", "dataset"), ("model", "model"), ("base_s", "train s as it was"), ("now_s", "train s now"),
                    ("base_acc", "test accuracy as it was (seed 42)"), ("now_acc", "test accuracy now (seed 0)")]  # fmt: skip
    full = set(args.datasets.split(",")) == {"mr", "semeval2017a"} and not args.models
    verdict = (
        f"One seed of the 14-cell grid: {now_seconds:.0f} s wall, target {TARGET_SECONDS} s: "
        f"{'met' if now_seconds <= TARGET_SECONDS else 'not met'}."
        if full
        else f"Grid subset ({args.datasets}{', ' + args.models if args.models else ''}): the 12-minute target is for the full grid."
    )
    text = (
        f"# Grid speed\n\n```\nHF_HUB_OFFLINE=1 python -m bench.grid_speed {' '.join(argv)}\n```\n\n{machine_line()}\n\n"
        + markdown_table(summary, columns)
        + f"\n{verdict}\n\n"
        + markdown_table(cells, cell_columns)
    )
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(run_cli(main))
