"""Plain `python train.py` against `accelerate launch train.py` on the same short job, in one run.

    HF_HUB_OFFLINE=1 nice -n 10 python -m bench.threads [--epochs 2] [--repeats 2] [--model mean]

`accelerate launch` without a config starts the script with `OMP_NUM_THREADS=1`. Plain
`python` used to leave torch at its default, one thread per core, and on a machine whose cores
other processes also use, those threads spin waiting for each other (issue 15: 10x slower).
The scripts now take one thread when `OMP_NUM_THREADS` is unset (`pipelines.cli.limit_torch_threads`).

Three ways to start the same MR job (`--model`, `--epochs` epochs, seed 42), alternating
`--repeats` times:

- `python`: `python train.py ...` with `OMP_NUM_THREADS` unset (the README's way, after the fix);
- `accelerate`: `accelerate launch train.py ...` (the baseline);
- `python, all cores`: `OMP_NUM_THREADS=<cores> python train.py ...`, torch's default thread
  count, i.e. plain `python` as it was before the fix.

The time is `train_seconds` from each run's `results.json` (the Trainer's `train()`, not the
imports), the fastest repeat of each way; every run's time is printed too. The ratio is each
way's time over accelerate's. The machine is shared, so the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from pipelines.runs.record import RunRecord

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_once(way: str, args: argparse.Namespace, output_dir: Path) -> float:
    job = [
        "train.py", "--model", args.model, "--dataset", "mr", "--data-dir", args.data_dir, "--output_dir", str(output_dir),
        "--num_train_epochs", str(args.epochs), "--save_strategy", "no", "--load_best_model_at_end", "false",
        "--disable_tqdm", "true", "--report_to", "none",
    ]
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if way == "accelerate":
        command = [str(Path(sys.executable).with_name("accelerate")), "launch", "--num_processes", "1", *job]
    else:
        command = [sys.executable, *job]
        if way == "python, all cores":
            env["OMP_NUM_THREADS"] = str(len(os.sched_getaffinity(0)))
    subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return RunRecord.read(output_dir).train_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mean")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data_dir", default=str(REPO_ROOT.parent / "shared" / "datasets"))
    args = parser.parse_args()
    ways = ["python", "accelerate", "python, all cores"]
    times: dict[str, list[float]] = {way: [] for way in ways}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for way in ways:
                times[way].append(run_once(way, args, Path(tmp) / f"{repeat}-{way.replace(' ', '_')}"))
                loads.append(os.getloadavg()[0])
    best = {way: min(values) for way, values in times.items()}
    print(f"# `python train.py` vs `accelerate launch train.py`: {args.model} on MR, {args.epochs} epochs\n")
    print(f"Command: `HF_HUB_OFFLINE=1 nice -n 10 python -m bench.threads --model {args.model} --epochs {args.epochs} --repeats {args.repeats}`\n")
    print(
        f"Machine: {platform.machine()}, {len(os.sched_getaffinity(0))} CPU cores, shared with other jobs "
        f"(a background experiment grid and other sessions): 1-minute load average {min(loads):.1f}-{max(loads):.1f} "
        "during the run. Time: `train_seconds` of each run (the Trainer's `train()`), fastest of the repeats.\n"
    )
    print("| way | torch threads | train s (each repeat) | fastest | ratio to accelerate |")
    print("|---|---|---|---|---|")
    threads = {"python": "1 (set by the script)", "accelerate": "1 (OMP_NUM_THREADS=1)", "python, all cores": f"{len(os.sched_getaffinity(0))} (as before the fix)"}
    for way in ways:
        each = ", ".join(f"{value:.1f}" for value in times[way])
        print(f"| {way} | {threads[way]} | {each} | {best[way]:.1f} | {best[way] / best['accelerate']:.2f} |")


if __name__ == "__main__":
    main()
