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
Speed is measured on one run of each group: seeds share the architecture. Every run folder goes
through `pipelines.inference.load_classifier`, so a SetFit run (`finetune.py --setfit`) is timed as it
predicts (`SetFitClassifier`: its sentence encoder, then its scikit-learn head), its parameters are
the encoder's and the head's, and its size on disk counts both with the sentence-transformers files.
Torch uses `--threads` threads (1: one core, steady on a shared machine). The scores and their
intervals are the report's (`pipelines.report.front`), so this file holds speeds only:
`python -m pipelines.report ... --speeds`.

Adding groups to an existing file (`--update`), when the groups it holds cannot all be timed again
(their runs are gone):

    HF_HUB_OFFLINE=1 python -m bench.speeds --runs_dirs runs/study --datasets mr --update \
        --reference "minilm (fine-tuned)" --output results/pareto/speeds.json

times only the groups found in `--runs_dirs` (and `--datasets`), replaces the rows of the same
model and setting in `--output` and keeps every other row, and the file's `command`, `machine` and
`note` (the original run's). Each added row says what timed it under `timed_by`: the command, the
machine line, the UTC date, and the `--reference`: a row already in the file, timed again in the same
run on what it was timed on then (a backbone alias with an untrained head, or an as-is scorer: its
"timed on"), with its throughput then and now and their ratio now/then (above 1: this machine is
faster now than when the file was made). Numbers are never rescaled by it; the report prints it.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from bench.common import machine_line
from pipelines.backbones import resolve_alias, resolve_model
from pipelines.benchmarks import BENCHMARKS
from pipelines.cli import parse, parse_pairs, run_cli
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.errors import OptionError, PathError, one_line
from pipelines.inference import SetFitClassifier, TorchSequenceClassifier, is_setfit_folder, load_classifier
from pipelines.report.collect import Group, gather_rows, group_rows
from pipelines.runs.io import write_json_atomic
from pipelines.runs.layout import SETFIT_HEAD_FILE
from pipelines.runs.record import MODEL_FILE_PATTERNS, library_versions


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
    update: bool = field(
        default=False,
        metadata={"help": "add the groups of --runs_dirs to the existing --output: rows of the same model and setting "
                  "replaced, the others kept; needs --reference"},
    )
    reference: str | None = field(
        default=None,
        metadata={"help": "with --update: a row of --output timed again in the same run, by its group name, e.g. "
                  "'minilm (fine-tuned)' (a backbone alias) or 'mpnet (as is)' (a scorer); its ratio now/then is recorded"},
    )


# What a SetFit run needs besides MODEL_FILE_PATTERNS: setfit's and sentence-transformers' configs, the
# head, and the numbered module folders (1_Pooling/config.json).
SETFIT_FILE_PATTERNS = ("config_*.json", "modules.json", "sentence_bert_config.json", SETFIT_HEAD_FILE, "[0-9]*_*/*")


def disk_megabytes(folder: Path) -> float:
    """MiB of the files that travel with the model in `folder` (a SetFit run: body and head)."""
    patterns = MODEL_FILE_PATTERNS + (SETFIT_FILE_PATTERNS if is_setfit_folder(folder) else ())
    files = {path for pattern in patterns for path in folder.glob(pattern) if path.is_file()}
    return sum(path.stat().st_size for path in files) / 2**20


def parameter_count(classifier) -> int:
    """A PyTorch model's parameters; a SetFit run's encoder's plus its linear head's (coefficients and intercepts)."""
    if isinstance(classifier, SetFitClassifier):
        head = classifier.model.model_head
        return sum(p.numel() for p in classifier.model.model_body.parameters()) + int(head.coef_.size + head.intercept_.size)
    return sum(parameter.numel() for parameter in classifier.model.parameters())


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
    """Throughput at `--batch_size`, single-sentence latency p50/p95, parameters and disk size of a run folder
    (whatever `load_classifier` loads from it: a checkpoint, a SetFit run) or a backbone alias (untrained head)."""
    if Path(model).is_dir():
        classifier = load_classifier(model, device="cpu", batch_size=args.batch_size)
    else:
        classifier = TorchSequenceClassifier.from_pretrained(model, "cpu", args.batch_size)
    return {
        **time_calls(classifier.probabilities, lambda text: classifier.probabilities([text]), texts, args),
        "parameters": parameter_count(classifier),
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


def found_groups(args: SpeedArguments) -> list[tuple[Path, Group]]:
    """(runs folder, group) of every lab-split group of `--runs_dirs` (ONNX exports left out), in `--datasets`."""
    found = []
    for root in map(Path, args.runs_dirs):
        if not root.is_dir():
            raise PathError(f"{root}: no such folder of runs")
        found += [(root, group) for group in group_rows(gather_rows(root)) if group.protocol == "lab" and group.setting.kind != "ONNX export"]
    wanted = args.datasets.split(",") if args.datasets else None
    return [(root, group) for root, group in found if wanted is None or group.dataset in wanted]


def time_dataset(dataset: str, groups: list[tuple[Path, Group]], args: SpeedArguments) -> tuple[list[str], list[dict], list[str]]:
    """(the test texts timed, one row per group, the groups that could not be timed with why)."""
    texts = list(load_sentiment_dataset(dataset, args.data_dir)["test"]["text"])[: args.max_test_sentences]
    rows, skipped = [], []
    for root, group in groups:
        try:
            rows.append(group_speed(group, root, texts, args))
        except (OSError, ValueError) as err:  # a model that cannot be loaded here (not installed) is listed, not fatal
            skipped.append(f"{group.name}: {one_line(err)}")
            print(f"skipped {skipped[-1]}", file=sys.stderr)
    return texts, rows, skipped


def read_existing(args: SpeedArguments) -> dict:
    """The `--output` file an `--update` adds to, checked before anything is timed: it exists, `--reference` is given,
    and `--threads` is the file's (a ratio between runs on different thread counts says nothing of the machine)."""
    output = Path(args.output)
    if not args.reference:
        raise OptionError("--update needs --reference: a row of --output to time again, e.g. --reference 'minilm (fine-tuned)'")
    try:
        speeds = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PathError(f"--output {output}: --update adds to an existing speeds file, and this one cannot be read ({err.__class__.__name__})") from None
    if speeds.get("threads") != args.threads:
        raise OptionError(f"--threads {args.threads}: {output} was timed with {speeds.get('threads')} torch threads; time with the same number")
    return speeds


def reference_row(speeds: dict, dataset: str, reference: str, output: str) -> dict:
    """The `--reference` row of `dataset` in the speeds file; `OptionError` naming the rows it could be."""
    rows = speeds.get("datasets", {}).get(dataset, [])
    for row in rows:
        if f"{row['model']} ({row['setting']})" == reference:
            return row
    names = ", ".join(f"'{row['model']} ({row['setting']})'" for row in rows if retimable(row))
    raise OptionError(f"--reference {reference!r}: {output} has no such {dataset} row; rows it can time again: {names or 'none'}")


def retimable(row: dict) -> bool:
    """A row timed on what still exists without its runs: a scorer, or a backbone alias with an untrained head."""
    return row["timed_on"] in (f"{row['model']} scorer", f"{row['model']} (untrained head)")


def check_retimable(row: dict) -> None:
    if not retimable(row):
        raise OptionError(f"--reference '{row['model']} ({row['setting']})' was timed on {row['timed_on']!r}, which this command "
                          "cannot find again; name a row timed on a scorer or a backbone alias (untrained head)")


def time_reference(row: dict, dataset: str, texts: list[str], args: SpeedArguments) -> dict:
    """`timed_by.reference` of the rows an `--update` adds: the reference row (`check_retimable`) timed again on
    what it was timed on then, its throughput in the file and now, and the ratio now/then."""
    if row["timed_on"].endswith(" scorer"):
        now = measure_scorer_speed(row["model"], list(BENCHMARKS[dataset].label_names), dataset, texts, args)
    else:
        now = measure_speed(row["model"], texts, args)
    ratio = now["sentences_per_second"] / row["sentences_per_second"]
    print(f"{dataset} reference {row['model']} ({row['setting']}): {row['sentences_per_second']} sentences/s in the file, "
          f"{now['sentences_per_second']} now, ratio now/then {ratio:.3f}", flush=True)
    return {"group": f"{row['model']} ({row['setting']})", "timed_on": row["timed_on"], "sentences_per_second_then": row["sentences_per_second"],
            "sentences_per_second_now": now["sentences_per_second"], "ratio_now_to_then": round(ratio, 3)}  # fmt: skip


def merged(speeds: dict, dataset: str, rows: list[dict], skipped: list[str], timed_by: dict) -> None:
    """`rows` (each given `timed_by`) in place of the file's rows of the same model and setting, the others kept;
    the dataset's not-measured lines of those groups replaced by `skipped`."""
    added = {(row["model"], row["setting"]) for row in rows}
    names = {f"{model} ({setting})" for model, setting in added} | {line.split(": ", 1)[0] for line in skipped}
    kept = [row for row in speeds["datasets"].get(dataset, []) if (row["model"], row["setting"]) not in added]
    speeds["datasets"][dataset] = sorted(kept + [{**row, "timed_by": timed_by} for row in rows], key=lambda row: -row["sentences_per_second"])
    not_measured = [line for line in speeds.setdefault("not_measured", {}).get(dataset, []) if line.split(": ", 1)[0] not in names]
    speeds["not_measured"][dataset] = not_measured + skipped


def update(found: list[tuple[Path, Group]], command: str, args: SpeedArguments) -> dict:
    """`--update`: the existing file with the groups of `found` timed and merged in (`merged`), each dataset's
    `--reference` timed again in the same run, after its groups, on the same test sentences. Every check
    (`read_existing`, `reference_row`, `check_retimable`) comes before anything is timed."""
    speeds = read_existing(args)
    if not found:
        raise PathError(f"--runs_dirs {' '.join(args.runs_dirs)}: no lab-split group{' of ' + args.datasets if args.datasets else ''} to add")
    datasets = sorted({group.dataset for _, group in found})
    references = {dataset: reference_row(speeds, dataset, args.reference, args.output) for dataset in datasets}
    for row in references.values():
        check_retimable(row)  # before anything is timed
    for dataset in datasets:
        texts, rows, skipped = time_dataset(dataset, [entry for entry in found if entry[1].dataset == dataset], args)
        timed_by = {"command": command, "machine": machine_line(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "versions": library_versions(), "reference": time_reference(references[dataset], dataset, texts, args)}  # fmt: skip
        merged(speeds, dataset, rows, skipped, timed_by)
    return speeds


def main(argv: list[str]) -> None:
    (args,) = parse((SpeedArguments,), argv)
    parse_pairs(args.stand_ins, "--stand_ins", "MODEL=FOLDER")  # a malformed entry: one error line before anything is timed
    if args.reference and not args.update:
        raise OptionError("--reference is for --update: it compares this run's machine with the one that made --output")
    found = found_groups(args)
    torch.set_num_threads(args.threads)
    command = shlex.join(["python", "-m", "bench.speeds", *argv])
    if args.update:
        speeds = update(found, command, args)
    else:
        speeds = {"command": command, "note": args.note, "machine": machine_line(), "threads": args.threads,
                  "versions": library_versions(), "datasets": {}, "not_measured": {}}  # fmt: skip
        for dataset in sorted({group.dataset for _, group in found}):
            _, speeds["datasets"][dataset], speeds["not_measured"][dataset] = time_dataset(dataset, [e for e in found if e[1].dataset == dataset], args)
    write_json_atomic(Path(args.output), speeds)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
