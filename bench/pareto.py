"""The cost/accuracy front: every model's official test score against its CPU throughput, in one run.

    HF_HUB_OFFLINE=1 python -m bench.pareto --data_dir ../shared/datasets \
        --models "runs/study/mr-lab-trained/*" runs/mr-minilm --output_dir results/pareto

`--models` takes run folders (those `train.py`/`finetune.py` write, with a `results.json`) or
globs; a folder of `seed-*/` folders is one model with its seeds. Runs group by dataset and by
what they are: the model name, GloVe vectors (trained/frozen), "distilled from <teacher>",
"class-weighted". For each group, on this machine, in this run:

- throughput: test sentences per second through `pipelines.inference.TorchSequenceClassifier` on
  CPU at batch 64 (length-sorted batches), fastest of
  `--repeats` passes over the test set (other processes only ever add time);
- latency: one sentence per call, `--latency_sentences` test sentences drawn with seed 0 after a
  warm-up; the median (p50) and 95th percentile (p95) in milliseconds;
- parameters, and the size on disk of the files that travel with the model (config, weights,
  tokenizer, remote code);
- the official metric (accuracy; macro recall for negative/neutral/positive), mean over seeds,
  with a 95% percentile-bootstrap interval that counts both sources of variation: each of
  `N_RESAMPLES` resamples (seed 0) draws seeds with replacement and test sentences with
  replacement (the same sentences for every seed), from the runs' `predictions.parquet`.

Models whose run folders are elsewhere (fine-tuned MiniLM/MPNet made on a lent GPU, as-is models)
come from a report (`--report results/report/report.json --report_models minilm=minilm`): their score
and interval from the predictions the report lists for their runs (the same bootstrap as every other
row: a single run's interval resamples the test sentences only), and the speed of the named folder,
alias or scorer (the backbone with an untrained head runs at the fine-tuned model's speed).
`pareto.json` keeps the report's scores fingerprint (`pipelines.report.scores_fingerprint`), so
`python -m pipelines.report ... --front pareto.json` can refuse a front measured on other scores.

Speed is measured on one run of each group (the first seed): seeds share the architecture.
Torch uses `--threads` threads (1: one core, as the issue asks, and steady on a shared machine).
Writes `pareto-<dataset>.md` (table, Pareto front marked), `pareto-<dataset>.png` (score with its
interval against throughput on a log axis, the front drawn) and `pareto.json`.
"""

from __future__ import annotations

import glob
import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from bench.common import machine_line
from pipelines.backbones import resolve_alias, resolve_model
from pipelines.benchmarks import official_metric_for
from pipelines.cli import parse, run_cli
from pipelines.data import load_sentiment_dataset
from pipelines.distillation import MODEL_FILE_PATTERNS
from pipelines.errors import PathError
from pipelines.hub import one_line
from pipelines.inference import TorchSequenceClassifier, load_classifier
from pipelines.report.build import scores_fingerprint
from pipelines.report.collect import distillation_variant
from pipelines.report.figures import plot_front
from pipelines.report.tables import front_table
from pipelines.run_files import PREDICTIONS_FILE, RESULTS_FILE, RunRecord, library_versions, write_json_atomic

N_RESAMPLES = 2_000
CONFIDENCE = 0.95


@dataclass
class ParetoArguments:
    models: list[str] = field(default_factory=list, metadata={"help": "run folders or globs (quote them); a folder of seed-*/ folders is one model"})
    data_dir: str | None = field(default=None, metadata={"help": "folder with the releases (MR/, Semeval2017A/)"})
    output_dir: str = field(default="results/pareto", metadata={"help": "where the tables, figures and pareto.json go"})
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass for throughput"})
    repeats: int = field(default=3, metadata={"help": "passes over the test set; the fastest counts"})
    latency_sentences: int = field(default=200, metadata={"help": "single-sentence calls timed for p50/p95"})
    max_test_sentences: int | None = field(default=None, metadata={"help": "time only the first N test sentences (scores always use all)"})
    threads: int = field(default=1, metadata={"help": "torch threads"})
    note: str = field(default="", metadata={"help": "a line for the tables, e.g. 'partial: the grid is still running'"})
    report: str | None = field(default=None, metadata={"help": "a `pipelines.report` report.json with the scores of --report_models"})
    report_models: str | None = field(
        default=None,
        metadata={"help": "NAME=MODEL,...: a report model (lab split) and the folder or alias to time for it, e.g. "
                  "minilm=minilm (the backbone with an untrained head: speed does not depend on the weights)"},
    )
    datasets: str | None = field(default=None, metadata={"help": "comma-separated datasets to cover (default: all found)"})
    stand_ins: str | None = field(
        default=None,
        metadata={"help": "MODEL=FOLDER,...: for a group none of whose runs kept its weights (runs made on a lent GPU "
                  "come back as records), time FOLDER, a run of the same --model: speed depends on the architecture, "
                  "not on the weights"},
    )


def run_folders(patterns: list[str]) -> list[Path]:
    """Every folder with a `results.json` that the patterns name, directly or as `seed-*/` below.

    A named folder without one raises `PathError`; a glob's match without one is skipped (still training).
    """
    folders = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) or [pattern]
        for match in map(Path, matches):
            found = [match] if (match / RESULTS_FILE).is_file() else sorted(match.glob(f"seed-*/{RESULTS_FILE}"))
            if not found and glob.has_magic(pattern):  # a run still training, under a glob: not finished yet
                print(f"skipped {match}: no finished run", file=sys.stderr)
            elif not found:
                raise PathError(f"--models {pattern}: {match} has no {RESULTS_FILE} and no seed-*/{RESULTS_FILE}")
            folders += [path if path.is_dir() else path.parent for path in found]
    return list(dict.fromkeys(folders))


def group_name(results: RunRecord) -> str:
    """What a run is: its model, GloVe vectors, distillation and class weights."""
    parts = [results.model]
    if results.vectors:
        parts.append(f"({results.vectors} GloVe)")
    if results.distillation:
        distillation = results.distillation
        parts.append(f"distilled from {distillation['teacher']}{distillation_variant(distillation)}")
        if distillation.get("transfer_set_size"):
            parts.append(f"+ {distillation['transfer_set_size']} transfer")
    if results.class_weights:
        parts.append("class-weighted")
    return " ".join(parts)


def score_interval(runs: list[tuple[np.ndarray, np.ndarray]], metric: str, num_labels: int) -> tuple[float, float, float]:
    """Mean over runs of `metric`, and its bootstrap interval over seeds and test sentences (module docstring).

    runs: (gold labels, predictions) per seed, each (n,), the same test sentences in the same order.
    """
    labels = runs[0][0]
    correct = np.stack([predictions == gold for gold, predictions in runs]).astype(np.float32)  # (seeds, n)
    one_hot = np.eye(num_labels, dtype=np.float32)[labels]  # (n, k)
    rng = np.random.default_rng(0)
    counts = np.stack([np.bincount(rng.integers(0, len(labels), len(labels)), minlength=len(labels)) for _ in range(N_RESAMPLES)])
    counts = counts.astype(np.float32)  # (resamples, n): how often each sentence is drawn

    def metric_of(weights: np.ndarray) -> np.ndarray:  # (r, n) -> (seeds, r)
        if metric == "accuracy":
            return (correct @ weights.T) / weights.sum(axis=1)
        per_class = (correct[:, None, :] * one_hot.T[None]) @ weights.T  # (seeds, k, r)
        return (per_class / np.maximum(one_hot.T @ weights.T, 1.0)[None]).mean(axis=1)

    observed = metric_of(np.ones((1, len(labels)), dtype=np.float32))[:, 0]
    per_seed = metric_of(counts)  # (seeds, resamples)
    seed_draws = rng.integers(0, len(runs), (N_RESAMPLES, len(runs)))
    resampled = per_seed[seed_draws, np.arange(N_RESAMPLES)[:, None]].mean(axis=1)
    low, high = np.quantile(resampled, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return float(observed.mean()), float(low), float(high)


def disk_megabytes(folder: Path) -> float:
    files = {path for pattern in MODEL_FILE_PATTERNS for path in folder.glob(pattern) if path.is_file()}
    return sum(path.stat().st_size for path in files) / 2**20


def time_calls(predict_batch, predict_one, texts: list[str], args: ParetoArguments) -> dict:
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


def measure_speed(model: str, texts: list[str], args: ParetoArguments) -> dict:
    """Throughput at `--batch_size`, single-sentence latency p50/p95, parameters and disk size of a folder or alias."""
    classifier = TorchSequenceClassifier.from_pretrained(model, "cpu", args.batch_size)
    return {
        **time_calls(classifier.probabilities, lambda text: classifier.probabilities([text]), texts, args),
        "parameters": sum(parameter.numel() for parameter in classifier.model.parameters()),
        "disk_mb": round(disk_megabytes(Path(resolve_model(model))), 2),
    }


def measure_scorer_speed(entry: str, label_names: list[str], dataset: str, texts: list[str], args: ParetoArguments) -> dict:
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


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (speed, score) points: True where no other point is at least as fast and as good, and better in one."""
    return [
        not any(s2 >= s and q2 >= q and (s2 > s or q2 > q) for j, (s2, q2) in enumerate(points) if j != i)
        for i, (s, q) in enumerate(points)
    ]


def collect_groups(folders: list[Path]) -> dict[tuple[str, str], list[tuple[Path, RunRecord]]]:
    """(dataset, group name) -> [(run folder, its record)], lab-protocol runs only (CV folds test other sentences)."""
    groups: dict[tuple[str, str], list[tuple[Path, RunRecord]]] = {}
    for folder in folders:
        results = RunRecord.read(folder)
        if results.protocol != "lab":
            continue
        groups.setdefault((results.dataset, group_name(results)), []).append((folder, results))
    return groups


def group_row(name: str, runs: list[tuple[Path, RunRecord]], texts: list[str], args: ParetoArguments) -> dict:
    label_names = runs[0][1].label_names
    metric = official_metric_for(runs[0][1].dataset, label_names)
    predictions = []
    for folder, results in runs:
        table = pq.read_table(folder / (results.predictions_file or PREDICTIONS_FILE)).sort_by("index")
        predictions.append((table.column("label").to_numpy(), table.column("prediction").to_numpy()))
    mean, low, high = score_interval(predictions, metric, len(label_names))
    timed = timed_folder(runs, args)
    print(f"{name}: {len(runs)} run(s), {metric} {mean:.4f}; timing {timed}", flush=True)
    return {
        "model": name,
        "runs": len(runs),
        "metric": metric,
        "score": round(mean, 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "interval_of": interval_of(len(runs)),
        **measure_speed(timed, texts, args),
        "timed_folder": timed,
        "timed_on": "its own run" if any(str(folder) == timed for folder, _ in runs) else "stand-in " + "/".join(Path(timed).parts[-3:]),
    }


def timed_folder(runs: list[tuple[Path, RunRecord]], args: ParetoArguments) -> str:
    """The first run of the group that kept its weights, else the `--stand_ins` folder for its model.

    Raises `OSError` (the row is listed as not measured) when neither exists.
    """
    for folder, _ in runs:
        if any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin")):
            return str(folder)
    stand_ins = dict(item.split("=", 1) for item in (args.stand_ins or "").split(",") if "=" in item)
    model = runs[0][1].model
    if model in stand_ins:
        return stand_ins[model]
    raise FileNotFoundError(f"no run of the group kept its weights, and --stand_ins names no folder for {model}")


def report_rows(report: dict, args: ParetoArguments) -> dict[str, list[tuple[str, dict, str]]]:
    """dataset -> [(row name, the report's summary with its lab-split runs, official metric, model to time)]
    for --report_models."""
    timed = dict(item.split("=", 1) for item in (args.report_models or "").split(",") if "=" in item)
    found: dict[str, list] = {}
    for dataset, section in report["datasets"].items():
        for summary in section["summaries"]:
            if summary["model"] in timed and summary["protocol"] == "lab split":
                name = f"{summary['model']} ({summary['setting']})"
                runs = [
                    run for run in report.get("runs", [])
                    if (run["dataset"], run["model"], run["setting"], run["protocol"]) == (dataset, summary["model"], summary["setting"], "lab")
                ]  # fmt: skip
                summary = {**summary, "dataset": dataset, "label_names": section["label_names"], "report_runs": runs}  # a scorer needs the labels
                found.setdefault(dataset, []).append((name, summary, section["official_metric"], timed[summary["model"]]))
    return found


def report_predictions(name: str, summary: dict, args: ParetoArguments) -> list[tuple[np.ndarray, np.ndarray]]:
    """(gold labels, predictions) of every run the report lists for a summary (`report_rows`), read from the
    predictions files it names (paths as the report was built, e.g. `results/records/...`).

    Raises `FileNotFoundError` (the row is listed as not measured) when the report lists no run or a file is missing.
    """
    if not summary["report_runs"]:
        raise FileNotFoundError(f"{args.report} lists no lab-split run of {name}")
    pairs = []
    for run in summary["report_runs"]:
        table = pq.read_table(Path(run["predictions"])).sort_by("index")
        pairs.append((table.column("label").to_numpy(), table.column("prediction").to_numpy()))
    return pairs


def summary_row(name: str, summary: dict, metric: str, model: str, texts: list[str], args: ParetoArguments) -> dict:
    """A report model: its score and interval from the predictions of its runs, its speed measured here
    (an as-is model through its scorer)."""
    runs = report_predictions(name, summary, args)
    mean, low, high = score_interval(runs, metric, len(summary["label_names"]))
    as_is = summary["setting"] == "as is"
    speed = measure_scorer_speed(model, summary["label_names"], summary["dataset"], texts, args) if as_is else measure_speed(model, texts, args)
    print(f"{name}: {len(runs)} run(s) from {args.report}, {metric} {mean:.4f}; timing {model}", flush=True)
    return {
        "model": name,
        "runs": len(runs),
        "metric": metric,
        "score": round(mean, 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "interval_of": interval_of(len(runs)),
        **speed,
        "timed_folder": model,
        "timed_on": f"{model} scorer" if as_is else f"{model} (untrained head)",
    }


def interval_of(runs: int) -> str:
    return "bootstrap: seeds and sentences" if runs > 1 else "bootstrap: sentences (1 run)"


def write_dataset(dataset: str, rows: list[dict], args: ParetoArguments, command: str, output: Path, skipped: list[str]) -> None:
    if not rows:  # nothing could be timed: say why, draw nothing
        lines = "".join(f"\nNot measured: {line}\n" for line in skipped)
        (output / f"pareto-{dataset}.md").write_text(f"# Cost against accuracy on {dataset}\n\nMade by:\n\n```\n{command}\n```\n{lines}", encoding="utf-8")
        return
    for row, on_front in zip(rows, pareto_front([(row["sentences_per_second"], row["score"]) for row in rows])):
        row["front"] = "yes" if on_front else ""
    rows.sort(key=lambda row: -row["sentences_per_second"])
    for key, row in enumerate(rows, start=1):
        row["key"] = key  # the point's number in the figure
    metric = rows[0]["metric"]
    markdown = (
        f"# Cost against accuracy on {dataset}\n\n{args.note + chr(10) + chr(10) if args.note else ''}"
        f"Made by:\n\n```\n{command}\n```\n\n"
        f"Score: test {metric}, mean over the runs (seeds), 95% percentile-bootstrap interval over seeds and test "
        f"sentences ({N_RESAMPLES} resamples, seed 0); a single run's interval counts test sentences only. Speed: one run "
        f"per row, {machine_line()}, torch threads {args.threads}, fastest of {args.repeats} passes. "
        f"front: on the Pareto front (no other model is both faster and better). #: the point's number in the figure.\n\n"
        + front_table(rows)
        + "".join(f"\nNot measured: {line}\n" for line in skipped)
        + f"\n![{dataset}](pareto-{dataset}.png)\n"
    )
    (output / f"pareto-{dataset}.md").write_text(markdown, encoding="utf-8")
    plot_front(dataset, rows, output / f"pareto-{dataset}.png")


def main(argv: list[str]) -> None:
    (args,) = parse((ParetoArguments,), argv)
    groups = collect_groups(run_folders(args.models)) if args.models else {}
    torch.set_num_threads(args.threads)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "-m", "bench.pareto", *argv])
    everything = {"command": command, "note": args.note, "machine": machine_line(), "threads": args.threads, "versions": library_versions(), "datasets": {}}
    from_report = {}
    if args.report:
        report = json.loads(Path(args.report).read_text(encoding="utf-8"))
        from_report = report_rows(report, args)
        everything["report_fingerprint"] = scores_fingerprint(report["datasets"])  # the report shows this front only beside these scores
    datasets = sorted({dataset for dataset, _ in groups} | set(from_report))
    if args.datasets:
        datasets = [dataset for dataset in datasets if dataset in args.datasets.split(",")]
    for dataset in datasets:
        texts = list(load_sentiment_dataset(dataset, args.data_dir)["test"]["text"])[: args.max_test_sentences]
        rows, skipped = [], []
        jobs = [(group_row, name, runs) for (name_dataset, name), runs in sorted(groups.items()) if name_dataset == dataset]
        for function, *entry in jobs + [(summary_row, *entry) for entry in from_report.get(dataset, [])]:
            try:
                rows.append(function(*entry, texts, args))
            except (OSError, ValueError) as err:  # a model that cannot be loaded here (not installed) is listed, not fatal
                skipped.append(f"{entry[0]}: {one_line(err)}")
                print(f"skipped {skipped[-1]}", file=sys.stderr)
        write_dataset(dataset, rows, args, command, output, skipped)
        everything["datasets"][dataset] = rows
        everything.setdefault("not_measured", {})[dataset] = skipped
    write_json_atomic(output / "pareto.json", everything)
    print(f"wrote {output}/pareto-*.md, pareto-*.png and pareto.json")


if __name__ == "__main__":
    sys.exit(run_cli(main))
