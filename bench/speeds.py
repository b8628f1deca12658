"""The speed half of the cost/accuracy front: every lab-split group of the report, timed on CPU in one run.

    HF_HUB_OFFLINE=1 python -m bench.speeds --runs_dirs runs/study runs/asis-mr runs/asis-semeval2017a \
        --data_dir ../shared/datasets --output results/pareto/speeds.json

The `--runs_dirs` folders are gathered as the report gathers them (`pipelines.report.collect`), so the
groups, and their names (model and `Setting`), are the report's own. For each lab-split group, on this
machine, in this run:

- throughput: test sentences per second through `pipelines.inference.TorchSequenceClassifier` on
  CPU at batch 64 (length-sorted batches), fastest of `--repeats` passes over the test set (other
  processes only ever add time);
- latency: one sentence per call, `--latency_sentences` test sentences drawn with seed 0 after a
  warm-up; the median (p50) and 95th percentile (p95) in milliseconds;
- parameters, and the size on disk of the files that travel with the model (config, weights,
  tokenizer, remote code).

What is timed: the group's first run that kept its weights; else `--stand_ins MODEL=FOLDER_OR_ALIAS`
(runs made on a lent GPU come back as records: speed depends on the architecture, not on the weights;
`minilm=minilm` times the backbone with an untrained head); a model used as it is, through its scorer.
Speed is measured on one run of each group: seeds share the architecture. Torch uses `--threads`
threads (1: one core, steady on a shared machine). The scores and their intervals are the report's
(`pipelines.report.front`), so this file holds speeds only: `python -m pipelines.report ... --speeds`.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench.common import machine_line
from pipelines.backbones import resolve_alias, resolve_model
from pipelines.cli import parse, parse_pairs, run_cli
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.distillation import MODEL_FILE_PATTERNS
from pipelines.errors import PathError, one_line
from pipelines.inference import TorchSequenceClassifier, load_classifier
from pipelines.report.collect import Group, gather_rows, group_rows
from pipelines.runs.io import write_json_atomic
from pipelines.runs.record import library_versions


@dataclass
class SpeedArguments:
    runs_dirs: list[str] = field(metadata={"help": "folders of runs and evaluations, gathered as the report gathers them"})
    data_dir: str | None = field(default=None, metadata={"help": "folder with the releases (MR/, Semeval2017A/)"})
    output: str = field(default="results/pareto/speeds.json", metadata={"help": "the speeds file the report reads (--speeds)"})
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass for throughput"})
    repeats: int = field(default=3, metadata={"help": "passes over the test set; the fastest counts"})
    latency_sentences: int = field(default=200, metadata={"help": "single-sentence calls timed for p50/p95"})
    max_test_sentences: int | None = field(default=None, metadata={"help": "time only the first N test sentences"})
    threads: int = field(default=1, metadata={"help": "torch threads"})
    note: str = field(default="", metadata={"help": "a line for the report's front, e.g. 'partial: the grid is still running'"})
    datasets: str | None = field(default=None, metadata={"help": "comma-separated datasets to cover (default: all found)"})
    stand_ins: str | None = field(
        default=None,
        metadata={"help": "MODEL=FOLDER_OR_ALIAS,...: what to time for a group none of whose runs kept its weights "
                  "(a run of the same --model, or a backbone alias such as minilm)"},
    )


def disk_megabytes(folder: Path) -> float:
    files = {path for pattern in MODEL_FILE_PATTERNS for path in folder.glob(pattern) if path.is_file()}
    return sum(path.stat().st_size for path in files) / 2**20


def time_calls(predict_batch, predict_one, texts: list[str], args: SpeedArguments) -> dict:
    """Throughput of `predict_batch(texts)` (fastest of `--repeats` passes, after a warm-up batch) and the
    p50/p95 latency in ms of `predict_one(text)` over `--latency_sentences` test sentences drawn with seed 0."""
    predict_batch(texts[: args.batch_size])  # warm-up (loads lexicons lazily)
    seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        predict_batch(texts)
        seconds.append(time.perf_counter() - started)
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.choice(len(texts), min(args.latency_sentences, len(texts)), replace=False)]
    latencies = []
    for text in sample:
        started = time.perf_counter()
        predict_one(text)
        latencies.append(1000 * (time.perf_counter() - started))
    return {
        "sentences_per_second": round(len(texts) / min(seconds), 1),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 2),
    }


def measure_speed(model: str, texts: list[str], args: SpeedArguments) -> dict:
    """Throughput at `--batch_size`, single-sentence latency p50/p95, parameters and disk size of a folder or alias."""
    classifier = TorchSequenceClassifier.from_pretrained(model, "cpu", args.batch_size)
    return {
        **time_calls(classifier.probabilities, lambda text: classifier.probabilities([text]), texts, args),
        "parameters": sum(parameter.numel() for parameter in classifier.model.parameters()),
        "disk_mb": round(disk_megabytes(Path(resolve_model(model))), 2),
    }


def measure_scorer_speed(entry: str, label_names: list[str], dataset: str, texts: list[str], args: SpeedArguments) -> dict:
    """`measure_speed` for a model used as it is (`pipelines.inference.load_classifier`): a lexicon tool
    (VADER, TextBlob, AFINN: no parameters, no model files of ours) or a zero-shot sentence encoder."""
    classifier = load_classifier(entry, label_names, dataset, "cpu", args.batch_size)
    modules = [value for value in vars(classifier.scorer).values() if isinstance(value, torch.nn.Module)]  # a zero-shot encoder
    return {
        **time_calls(classifier.probabilities, lambda text: classifier.probabilities([text]), texts, args),
        "parameters": sum(p.numel() for module in modules for p in module.parameters()),
        "disk_mb": round(scorer_disk_megabytes(entry), 2),
    }


# The package that holds each lexicon tool's lexicon: its size on disk is the model's.
LEXICON_PACKAGES = {"vader": "vaderSentiment", "textblob": "textblob", "afinn": "afinn"}


def scorer_disk_megabytes(entry: str) -> float:
    """A lexicon tool: its installed package (code and lexicon); a sentence encoder alias: its model folder."""
    import importlib.util

    if entry in LEXICON_PACKAGES:
        spec = importlib.util.find_spec(LEXICON_PACKAGES[entry])
        folder = Path(next(iter(spec.submodule_search_locations)))
        return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and "__pycache__" not in path.parts) / 2**20
    return disk_megabytes(Path(resolve_alias(entry)))


def timed_model(group: Group, root: Path, args: SpeedArguments) -> tuple[str, str]:
    """(what to time, what the table says was timed): the group's first run with weights, else its stand-in.

    Raises `FileNotFoundError` (the group is listed as not measured) when neither exists."""
    for row in group.rows:
        folder = root / row.run
        if any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin")):
            return str(folder), "its own run"
    stand_ins = parse_pairs(args.stand_ins, "--stand_ins", "MODEL=FOLDER")
    if group.model in stand_ins:
        model = stand_ins[group.model]
        return model, f"stand-in {'/'.join(Path(model).parts[-3:])}" if Path(model).exists() else f"{model} (untrained head)"
    raise FileNotFoundError(f"no run of the group kept its weights, and --stand_ins names nothing for {group.model}")


def group_speed(group: Group, root: Path, texts: list[str], args: SpeedArguments) -> dict:
    """One row of the speeds file: the group's model and setting, and its speed."""
    if group.kind == "pretrained":
        label_names = group.rows[0].label_names
        speed = {**measure_scorer_speed(group.model, label_names, group.dataset, texts, args), "timed_on": f"{group.model} scorer"}
    else:
        model, timed_on = timed_model(group, root, args)
        speed = {**measure_speed(model, texts, args), "timed_on": timed_on}
    print(f"{group.name}: timed {speed['timed_on']}, {speed['sentences_per_second']} sentences/s", flush=True)
    return {"model": group.model, "setting": group.setting.label, **speed}


def main(argv: list[str]) -> None:
    (args,) = parse((SpeedArguments,), argv)
    parse_pairs(args.stand_ins, "--stand_ins", "MODEL=FOLDER")  # a malformed entry: one error line before anything is timed
    found = []
    for root in map(Path, args.runs_dirs):
        if not root.is_dir():
            raise PathError(f"{root}: no such folder of runs")
        found += [(root, group) for group in group_rows(gather_rows(root)) if group.protocol == "lab" and group.setting.kind != "ONNX export"]
    torch.set_num_threads(args.threads)
    command = shlex.join(["python", "-m", "bench.speeds", *argv])
    speeds = {"command": command, "note": args.note, "machine": machine_line(), "threads": args.threads,
              "versions": library_versions(), "datasets": {}, "not_measured": {}}  # fmt: skip
    datasets = sorted({group.dataset for _, group in found})
    for dataset in [d for d in datasets if not args.datasets or d in args.datasets.split(",")]:
        texts = list(load_sentiment_dataset(dataset, args.data_dir)["test"]["text"])[: args.max_test_sentences]
        rows, skipped = [], []
        for root, group in (entry for entry in found if entry[1].dataset == dataset):
            try:
                rows.append(group_speed(group, root, texts, args))
            except (OSError, ValueError) as err:  # a model that cannot be loaded here (not installed) is listed, not fatal
                skipped.append(f"{group.name}: {one_line(err)}")
                print(f"skipped {skipped[-1]}", file=sys.stderr)
        speeds["datasets"][dataset], speeds["not_measured"][dataset] = rows, skipped
    write_json_atomic(Path(args.output), speeds)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
