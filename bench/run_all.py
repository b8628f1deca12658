"""Run every benchmark and write `bench/RESULTS.md`: one command for the whole suite.

    HF_HUB_OFFLINE=1 python -m bench.run_all [--output FILE] [--quick]   # --quick writes runs/bench-quick.md

Each benchmark runs in a fresh interpreter (`spawn`), so none inherits another's memory; its
tables come back to this process and go into the report with the command, the machine and the
load average before and after. `--quick` shrinks every benchmark to a smoke run (about a
minute) and is meant for checking the suite, not for numbers. The batched-inference benchmark
(`python -m bench.inference_speed`) runs as its own command, and its output is copied in as printed.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import glove_loading, scale, tokenization_speed, trainer_overhead
from bench.common import DEFAULT_DATA_DIR, REPO_ROOT, machine_line, portable_argv
from pipelines.cli import parse, run_cli

BENCH_DIR = Path(__file__).resolve().parent

@dataclass
class RunAllArguments:
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "folder with MR/"})
    output: str | None = field(
        default=None, metadata={"help": "the report to write (default bench/RESULTS.md; runs/bench-quick.md with --quick)"}
    )
    quick: bool = field(
        default=False, metadata={"help": "tiny sizes everywhere: checks the suite, the numbers mean nothing"}
    )
    only: str = field(
        default="glove,tokenization,trainer,scale,inference", metadata={"help": "comma-separated benchmarks to run"}
    )


def benchmark_arguments(args: RunAllArguments) -> dict:
    """Each benchmark's arguments: the defaults, or smoke-test sizes with `--quick`."""
    if args.quick:
        return {
            "glove": glove_loading.GloveLoadingArguments(max_words=5000, repeats=1),
            "tokenization": tokenization_speed.TokenizationArguments(
                data_dir=args.data_dir, repeats=1, max_samples=500
            ),
            "trainer": trainer_overhead.TrainerOverheadArguments(data_dir=args.data_dir, repeats=1, max_samples=256),
            "scale": scale.ScaleArguments(
                data_dir=args.data_dir, multiples="1,2", lengths="16,32", length_samples=64, max_samples=256
            ),
        }
    return {
        "glove": glove_loading.GloveLoadingArguments(),
        "tokenization": tokenization_speed.TokenizationArguments(data_dir=args.data_dir),
        "trainer": trainer_overhead.TrainerOverheadArguments(data_dir=args.data_dir),
        "scale": scale.ScaleArguments(data_dir=args.data_dir),
    }


MODULES = {"glove": glove_loading, "tokenization": tokenization_speed, "trainer": trainer_overhead, "scale": scale}
TITLES = {
    "glove": "GloVe loading (issue point 5)",
    "tokenization": "Tokenization (point 6)",
    "trainer": "Training: `Trainer` vs a hand-written loop (point 7)",
    "inference": "Inference: batched vs one sentence at a time (point 8)",
    "scale": "Scale (point 9)",
}


def _run_module(name: str, arguments, send) -> None:
    try:
        send.send(MODULES[name].run(arguments))
    except BaseException as err:  # reported in the results file, the other benchmarks still run
        send.send({"error": f"{type(err).__name__}: {err}"})
    finally:
        send.close()


def run_in_fresh_process(name: str, arguments) -> dict:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run_module, args=(name, arguments, send))
    child.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        result = {"error": "the benchmark process died without a result"}
    child.join()
    return result


def run_inference(args: RunAllArguments) -> dict:
    command = [sys.executable, "-m", "bench.inference_speed", "--data_dir", *portable_argv([args.data_dir])]  # runs in REPO_ROOT
    if args.quick:
        command += ["--max_samples", "32"]
    # One torch thread like the training benchmarks: two threads on two shared cores stall each other.
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=environment)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
    return {"output": done.stdout.strip(), "command": shlex.join(["OMP_NUM_THREADS=1", "python", *command[1:]])}


def section(name: str, result: dict, seconds: float) -> str:
    lines = [f"## {TITLES[name]}", ""]
    module = MODULES.get(name)
    if module is not None:
        first_line = module.__doc__.split("\n")[0]
        lines += [f"`python -m {module.__name__}` ({seconds:.0f} s). {first_line}", ""]
    if "error" in result:
        return "\n".join(lines + [f"Not measured: {result['error']}", ""])
    if name == "inference":
        return "\n".join(lines + [f"`{result['command']}` ({seconds:.0f} s):", "", "```", result["output"], "```", ""])
    if name == "scale":
        lines += ["Data size (MR train repeated, natural lengths):", "", result["data_table"]]
        lines += ["Sequence length (every example exactly L real tokens):", "", result["length_table"]]
    else:
        lines += [result["table"]]
    return "\n".join(lines + [result["summary"], ""])


def main(argv: list[str]) -> None:
    (args,) = parse((RunAllArguments,), argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(TITLES)
    if unknown:
        raise ValueError(f"unknown --only {', '.join(sorted(unknown))}; choose from: {', '.join(TITLES)}")
    arguments = benchmark_arguments(args)
    started_at = datetime.datetime.now(datetime.timezone.utc)
    machine_before = machine_line()
    sections = []
    for name in TITLES:
        if name not in chosen:
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        result = run_inference(args) if name == "inference" else run_in_fresh_process(name, arguments[name])
        seconds = time.perf_counter() - started
        sections.append(section(name, result, seconds))
        print(sections[-1], flush=True)
    minutes = (datetime.datetime.now(datetime.timezone.utc) - started_at).total_seconds() / 60
    command = shlex.join(["HF_HUB_OFFLINE=1", "python", "-m", "bench.run_all", *argv])
    quick_note = " **`--quick`: smoke-test sizes, the numbers mean nothing.**" if args.quick else ""
    header = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {started_at:%Y-%m-%d %H:%M} UTC, {minutes:.1f} minutes in all.{quick_note}",
        "",
        f"- Machine at the start: {machine_before}",
        f"- Machine at the end: {machine_line()}",
        "- The cores are shared with other jobs. Every comparison measures both sides in the same run, alternating "
        "where it repeats, and keeps each side's least disturbed measurement (the fastest repeat; for training, "
        "each interval's least CPU time over the repeats). Training and inference run with one torch thread (see "
        "`bench/README.md`); loading and tokenization do not use torch.",
        "",
    ]
    if args.output is None:  # a smoke run must not overwrite the committed numbers
        args.output = str(REPO_ROOT / "runs" / "bench-quick.md") if args.quick else str(BENCH_DIR / "RESULTS.md")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text("\n".join(header + sections), encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
