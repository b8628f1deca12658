"""Start-up: how long the scripts take to answer `--help` and a bad option, against `python -c pass`.

    HF_HUB_OFFLINE=1 python -m bench.startup --baseline_ref 88dfc23 --repeats 3 --output bench/startup.md

Each command runs as a user runs it, in a fresh interpreter from the repository root: today's
checkout, and the project at `--baseline_ref` (unpacked with `git archive`, its packages first on
the path), one after the other, repeats alternating, the fastest repeat kept (other processes on
the shared cores only ever add time). `python -c pass` is measured in the same run: the floor.
Before, every command imported torch and transformers (`TrainingArguments`, `HfArgumentParser`)
before reading its options; now `pipelines.cli.check_options` answers `--help` and checks the
project's options first, from dataclasses that import neither.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import bench_parser
from bench.grid_speed import unpack_baseline

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {  # name: (arguments, the exit status it must end with)
    "python -c pass": (["-c", "pass"], 0),
    "train.py --help": (["train.py", "--help"], 0),
    "finetune.py --help": (["finetune.py", "--help"], 0),
    "evaluate_pretrained.py --help": (["evaluate_pretrained.py", "--help"], 0),
    "train.py --model nosuch (an argument error)": (["train.py", "--model", "nosuch"], 2),
}


def wall_time(code_dir: Path, arguments: list[str], status: int) -> float:
    """Seconds of one run; a run that ends otherwise than expected (a crash is fast too) stops the benchmark."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(code_dir)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *arguments], cwd=code_dir, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != status:
        raise SystemExit(f"error: {' '.join(arguments)} in {code_dir} exited {done.returncode}, not {status}: {done.stderr[-500:]}")
    return seconds


def measure(folders: dict[str, Path], repeats: int) -> dict[tuple[str, str], float]:
    """{(command, side): fastest wall seconds}; the sides alternate within each repeat."""
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for name, (arguments, status) in COMMANDS.items():
            for side, folder in folders.items():
                times.setdefault((name, side), []).append(wall_time(folder, arguments, status))
    return {key: min(values) for key, values in times.items()}


def markdown(args: argparse.Namespace, best: dict[tuple[str, str], float]) -> str:
    rows = "\n".join(
        f"| `{name}` | {best[name, 'before']:.2f} | {best[name, 'now']:.2f} | {best[name, 'before'] / best[name, 'now']:.1f}× |"
        for name in COMMANDS
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        "# Start-up of the scripts\n\n"
        f"Made by (from the repository root, {platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs, "
        f"load average {load} at the end):\n\n"
        f"```\nHF_HUB_OFFLINE=1 python -m bench.startup --baseline_ref {args.baseline_ref} --repeats {args.repeats} "
        f"--output {args.output}\n```\n\n"
        f"Wall seconds, fastest of {args.repeats} runs each; before: the project at {args.baseline_ref}.\n\n"
        f"| command | before (s) | now (s) | before / now |\n|---|---|---|---|\n{rows}\n"
    )


def main() -> None:
    parser = bench_parser("startup", __doc__, data_dir=False)
    parser.add_argument("--baseline_ref", default="88dfc23", help="the commit measured as 'before'")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        before = unpack_baseline(args.baseline_ref, Path(work) / "before")
        best = measure({"before": before, "now": REPO_ROOT}, args.repeats)
    text = markdown(args, best)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
