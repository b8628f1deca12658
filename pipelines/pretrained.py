"""Sentiment models scored as they are, all through one interface (`pipelines.scorers.SentimentScorer`):
texts in, probabilities over the model's own labels out; then one label mapping, one table.

`resolve_scorer` turns a `--models` entry into a scorer: a lexicon name (`vader`, `textblob`,
`afinn`), a sentence encoder alias for zero-shot (`minilm`, `mpnet`), a folder holding
`model.onnx` (`pipelines.onnx_runtime`), or a Hub id / `save_pretrained` folder, which goes through
`pipeline("text-classification")`.

Each model's labels are mapped onto the dataset's (`negative`, `positive` / `negative`, `neutral`,
`positive`), by name, or from `CHECKPOINT_LABELS` for checkpoints whose names say nothing
(`LABEL_0`...). Probabilities of model labels that map to the same dataset label are added (star
ratings 1 and 2 both count as negative). A label the dataset does not have is left out: a
three-class model on MR predicts whichever of negative/positive scores higher. A two-label model on
SemEval predicts `neutral` when its top probability is below `neutral_threshold` (the confidence
band around 0.5). Anything else is refused.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm
from transformers import pipeline

import models  # noqa: F401  (registers the GloVe models, so train.py checkpoints load)
from pipelines import backbones, hub
from pipelines.backbones import MODEL_ALIASES, resolve_model
from pipelines.data import DataSourceArguments, load_data
from pipelines.errors import DataError, OptionError
from pipelines.benchmarks import BENCHMARKS, closest_benchmark, official_metric_for
from pipelines.metrics import METRICS, metric_keys, score
from pipelines.run_files import RESULTS_FILE, check_writable_dir, file_name, folder_name, read_json, library_versions, write_json_atomic, write_predictions
from pipelines.formatting import markdown_table
from pipelines.scorers import LEXICONS, NEUTRAL, LexiconScorer, SentimentScorer, ZeroShotScorer, label_descriptions
from pipelines.statistics import CONFIDENCE, N_RESAMPLES, RESAMPLING_SEED, confusion_counts, metrics_from_counts

# Scored when `--models` is not given: the offline families first (lexicons, zero-shot with the
# sentence encoders), then three Hub checkpoints per benchmark, which need the Hub or a local cache.
# Models trained on the other benchmark are added from `--runs_dir` (`cross_benchmark_runs`).
# The Hub checkpoints are each benchmark's `pretrained_models` (`pipelines.benchmarks`).
OFFLINE_MODELS = ("vader", "textblob", "afinn", "minilm", "mpnet")
CROSS_PROTOCOL = "lab-trained"  # `python -m pipelines.experiments --train_embeddings`: <dataset>-lab-trained/

# Label names that say what they are, whatever the checkpoint (compared lowercased).
SENTIMENT_NAMES = {
    "negative": "negative",
    "neg": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
}

STAR_RATINGS = {
    "1 star": "negative",
    "2 stars": "negative",
    "3 stars": "neutral",
    "4 stars": "positive",
    "5 stars": "positive",
}

# Checkpoints whose `id2label` is opaque or a scale: model label -> dataset label.
CHECKPOINT_LABELS = {
    # The model card: "Labels: 0 -> Negative; 1 -> Neutral; 2 -> Positive".
    "cardiffnlp/twitter-roberta-base-sentiment": {"LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"},
    "nlptown/bert-base-multilingual-uncased-sentiment": STAR_RATINGS,
}

ROBERTA_LIKE = {"roberta", "xlm-roberta", "camembert", "bertweet"}  # two positions are reserved for padding


def parse_label_map(text: str | None) -> dict[str, str]:
    """`'LABEL_0=negative,LABEL_1=positive'` -> {'LABEL_0': 'negative', 'LABEL_1': 'positive'}."""
    mapping = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        model_label, sep, target = item.partition("=")
        if not sep or not model_label.strip() or not target.strip():
            raise OptionError(f"--label_map entry {item!r} is not MODEL_LABEL=dataset_label")
        mapping[model_label.strip()] = target.strip().lower()
    return mapping


@dataclass(frozen=True)
class LabelMapping:
    """How one model's scores become predictions over the dataset's labels."""

    label_names: list[str]  # the dataset's
    targets: list[str | None]  # per model label id: the dataset label it counts for, None if left out
    model_labels: list[str]
    neutral_threshold: float | None = None  # set for a two-label model on a three-class dataset

    def dataset_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """Model probabilities (n, num_model_labels) -> (n, num_dataset_labels): mapped labels
        added up, left-out ones dropped, each row renormalised."""
        combined = np.zeros((len(probabilities), len(self.label_names)))  # (n, num_dataset_labels)
        for model_id, target in enumerate(self.targets):
            if target is not None:
                combined[:, self.label_names.index(target)] += probabilities[:, model_id]
        return combined / np.maximum(combined.sum(axis=-1, keepdims=True), 1e-12)

    def predict(self, probabilities: np.ndarray) -> np.ndarray:
        """Dataset label ids from model probabilities (n, num_model_labels)."""
        combined = self.dataset_probabilities(probabilities)
        predicted = combined.argmax(axis=-1)
        if self.neutral_threshold is not None:
            predicted[combined.max(axis=-1) < self.neutral_threshold] = self.label_names.index(NEUTRAL)
        return predicted

    def ties(self, probabilities: np.ndarray) -> int:
        """Sentences whose two highest dataset probabilities are equal and decided by `argmax`, which
        takes the first label (the neutral band decides a two-label model's ties on SemEval)."""
        combined = self.dataset_probabilities(probabilities)
        top = np.sort(combined, axis=-1)
        tied = top[:, -1] - top[:, -2] <= 1e-9
        if self.neutral_threshold is not None:
            tied &= top[:, -1] >= self.neutral_threshold
        return int(tied.sum())

    def describe(self) -> str:
        groups: dict[str, list[str]] = {}
        for model_label, target in zip(self.model_labels, self.targets):
            groups.setdefault(target or "(left out)", []).append(model_label)
        text = "; ".join(f"{'+'.join(labels)}->{target}" for target, labels in groups.items())
        if self.neutral_threshold is not None:
            text += f"; neutral if top probability < {self.neutral_threshold:g}"
        return text


def label_mapping(
    model_name: str,
    id2label: dict[int, str],
    label_names: list[str],
    extra: dict[str, str] | None = None,
    neutral_threshold: float = 0.8,
) -> LabelMapping:
    """Map a model's labels onto the dataset's, or raise `OptionError` saying why not."""
    table = {**CHECKPOINT_LABELS.get(model_name, {}), **(extra or {})}
    model_labels = [id2label[i] for i in sorted(id2label)]
    targets: list[str | None] = []
    unknown = []
    for model_label in model_labels:
        target = table.get(model_label) or SENTIMENT_NAMES.get(model_label.strip().lower())
        if target is None:
            unknown.append(model_label)
        elif target not in SENTIMENT_NAMES.values():
            raise OptionError(f"label {model_label!r} maps to {target!r}, not one of negative, neutral, positive")
        targets.append(target if target in label_names else None)

    def refuse(why: str) -> OptionError:
        return OptionError(
            f"labels {model_labels} cannot be mapped to {label_names} ({why}); "
            "pass --label_map 'MODEL_LABEL=dataset_label,...' or add the checkpoint to CHECKPOINT_LABELS "
            "in pipelines/pretrained.py"
        )

    if unknown:
        raise refuse(f"unknown label {', '.join(map(repr, unknown))}")
    covered = set(filter(None, targets))
    missing = [name for name in label_names if name not in covered]
    if not missing:
        return LabelMapping(label_names, targets, model_labels)
    if missing == [NEUTRAL] and {"negative", "positive"} <= covered:
        if not 0.5 <= neutral_threshold <= 1.0:
            raise OptionError(f"--neutral_threshold must be between 0.5 and 1, got {neutral_threshold}")
        return LabelMapping(label_names, targets, model_labels, neutral_threshold)
    raise refuse(f"nothing predicts {', '.join(missing)}")


def max_input_length(tokenizer, config) -> int:
    """The longest input the model takes, in tokens (some tokenizers do not say)."""
    if tokenizer.model_max_length < 100_000:
        return tokenizer.model_max_length
    positions = getattr(config, "max_position_embeddings", 512)
    return min(512, positions - 2 if config.model_type in ROBERTA_LIKE else positions)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def predict_probabilities(classifier, texts: list[str], batch_size: int, desc: str = "") -> np.ndarray:
    """Softmax probabilities (n, num_labels) in `id2label` order, batched, with a progress bar.

    Sentences go through sorted by length so each batch pads little; the order is restored after.
    """
    max_length = max_input_length(classifier.tokenizer, classifier.model.config)
    label2id = {label: i for i, label in classifier.model.config.id2label.items()}
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    outputs = classifier(
        (texts[i] for i in order),
        batch_size=batch_size,
        truncation=True,
        max_length=max_length,
        top_k=None,
        function_to_apply="softmax",
    )
    probabilities = np.zeros((len(texts), len(label2id)))
    for i, scores in zip(order, tqdm(outputs, total=len(texts), desc=desc, unit="sent", leave=False)):
        for item in scores:
            probabilities[i, label2id[item["label"]]] = item["score"]
    return probabilities


def load_classifier(model: str, device: str | None = None):
    """`pipeline("text-classification")` on a Hub id, local folder or alias."""
    return pipeline("text-classification", model=resolve_model(model), device=device or default_device())



class PipelineScorer:
    """A `transformers` checkpoint (Hub id or `save_pretrained` folder) through
    `pipeline("text-classification")`: softmax probabilities over its `id2label`, in id order."""

    family = "checkpoint"

    def __init__(self, name: str, device: str | None = None):
        self.name = name
        self.classifier = load_classifier(name, device)
        id2label = self.classifier.model.config.id2label
        self.labels = [id2label[i] for i in sorted(id2label)]

    def predict_proba(self, texts: list[str], batch_size: int) -> np.ndarray:
        return predict_probabilities(self.classifier, texts, batch_size, desc=self.name)


# --- resolving a --models entry ------------------------------------------------------------------

ONNX_FILE = "model.onnx"


def resolve_scorer(entry: str, label_names: list[str], dataset: str | None = None, device: str | None = None) -> SentimentScorer:
    """The scorer a `--models` entry names: a lexicon (`LEXICONS`), a sentence encoder alias
    (zero-shot over `label_descriptions`), a folder holding `model.onnx`, or a Hub id / local
    `save_pretrained` folder (`PipelineScorer`). Raises `PathError` for a missing folder, or for a
    Hub id that is neither reachable nor cached."""
    if entry in LEXICONS:
        return LexiconScorer(entry, three_class=NEUTRAL in label_names)
    if entry in MODEL_ALIASES:
        return ZeroShotScorer(entry, backbones.resolve_alias(entry), label_descriptions(label_names, dataset), device=device or default_device())
    path = Path(entry).expanduser()
    if (path / ONNX_FILE).is_file():
        from pipelines.onnx_runtime import OnnxSequenceClassifier  # only where an ONNX folder is scored

        return OnnxSequenceClassifier.from_folder(path)
    if not path.exists() and resolve_model(entry) == entry:
        # Fails in seconds, not after a minute of download retries, when the Hub is out of reach.
        hub.model_load_kwargs(entry, "score a local copy instead: --models <run folder> (a save_pretrained folder)")
    return PipelineScorer(entry, device)


def cross_benchmark_runs(runs_dir: str | Path, dataset: str) -> list[str]:
    """Models trained on the other benchmark, to score as they are: for each model under
    `<runs_dir>/<other>-lab-trained/<model>/`, its finished (`results.json`) seed folder of lowest seed."""
    other = Path(runs_dir) / f"{BENCHMARKS[dataset].other_benchmark}-{CROSS_PROTOCOL}"
    found = []
    for model_dir in sorted(path for path in other.glob("*") if path.is_dir()):
        seeds = [
            (int(match.group(1)), seed_dir)
            for seed_dir in model_dir.glob("seed-*")
            if (match := re.fullmatch(r"seed-(\d+)", seed_dir.name)) and (seed_dir / "results.json").is_file()
        ]
        if seeds:
            found.append(str(min(seeds)[1]))
    return found


def default_models(label_names: list[str], dataset: str | None, runs_dir: str | Path | None) -> tuple[list[str], list[str]]:
    """(models, notes) scored without `--models`: `OFFLINE_MODELS`, the benchmark's Hub checkpoints
    (your own data gets those of the benchmark whose labels are closest), then the other benchmark's runs."""
    benchmark = BENCHMARKS[dataset] if dataset in BENCHMARKS else closest_benchmark(label_names)
    models, notes = [*OFFLINE_MODELS, *benchmark.pretrained_models], []
    other = BENCHMARKS[dataset].other_benchmark if dataset in BENCHMARKS else None
    if other and runs_dir:
        cross = cross_benchmark_runs(runs_dir, dataset)
        models += cross
        if not cross:
            notes.append(
                f"no models trained on {other} under {Path(runs_dir) / f'{other}-{CROSS_PROTOCOL}'} (train them with "
                f"`python -m pipelines.experiments --datasets {other} --train_embeddings --runs_dir {runs_dir}`)"
            )
    return models, notes


# --- one row -------------------------------------------------------------------------------------


def bootstrap_intervals(
    references, predictions, label_names: list[str], n_resamples: int = N_RESAMPLES, seed: int = RESAMPLING_SEED
) -> dict[str, list[float]]:
    """{metric: [low, high]}: 95% percentile bootstrap intervals over test sentences
    (`scipy.stats.bootstrap`, seed `seed`) of every metric of `statistics.metrics_from_counts`.
    A sentence is its confusion cell (gold·K + predicted); a resample's metrics come from its cell counts."""
    k = len(label_names)
    cells = np.asarray(references, dtype=np.int64) * k + np.asarray(predictions, dtype=np.int64)
    names = list(metrics_from_counts(np.zeros((k, k)), label_names))

    def statistic(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        moved = np.moveaxis(sample, axis, -1)  # (..., n)
        flat = moved.reshape(-1, moved.shape[-1])  # (resamples, n)
        offsets = np.arange(len(flat))[:, None] * k * k
        counts = np.bincount((flat + offsets).ravel(), minlength=len(flat) * k * k).reshape(len(flat), k, k)
        metrics = metrics_from_counts(counts, label_names)
        return np.stack([metrics[name] for name in names]).reshape(len(names), *moved.shape[:-1])  # (metrics, ...)

    if len(np.unique(cells)) == 1:  # every resample gives the same scores
        point = metrics_from_counts(confusion_counts(references, predictions, k), label_names)
        return {name: [float(point[name]), float(point[name])] for name in names}
    interval = stats.bootstrap(
        (cells,), statistic, n_resamples=n_resamples, batch=max(1, 2_000_000 // len(cells)), vectorized=True,
        method="percentile", confidence_level=CONFIDENCE, rng=np.random.default_rng(seed),
    ).confidence_interval  # fmt: skip
    return {name: [float(low), float(high)] for name, low, high in zip(names, interval.low, interval.high)}


def trained_on(model: str) -> str | None:
    """The dataset a local run folder was trained on (its `results.json`), if it says."""
    try:  # any results.json that names its dataset will do: only the dataset is needed here
        return read_json(Path(model).expanduser() / RESULTS_FILE).get("dataset")
    except (OSError, DataError, AttributeError):
        return None


def evaluate_model(
    model: str,
    texts: list[str],
    references: list[int],
    label_names: list[str],
    batch_size: int = 64,
    neutral_threshold: float = 0.8,
    extra_labels: dict[str, str] | None = None,
    device: str | None = None,
    dataset: str | None = None,
) -> dict:
    """One table row: test metrics with bootstrap intervals, timing, and the label rule used."""
    started = time.perf_counter()
    scorer = resolve_scorer(model, label_names, dataset, device)
    load_seconds = time.perf_counter() - started
    mapping = label_mapping(model, dict(enumerate(scorer.labels)), label_names, extra_labels, neutral_threshold)

    started = time.perf_counter()
    probabilities = np.asarray(scorer.predict_proba(texts, batch_size), dtype=float)
    seconds = max(time.perf_counter() - started, 1e-9)
    if probabilities.shape != (len(texts), len(scorer.labels)):
        raise RuntimeError(f"{model}: predict_proba gave shape {probabilities.shape}, expected {(len(texts), len(scorer.labels))}")
    predictions = mapping.predict(probabilities)
    metrics = score(predictions, references, label_names)
    source = trained_on(model)
    return {
        "model": model,
        "family": getattr(scorer, "family", type(scorer).__name__),
        **({"trained_on": source} if source else {}),
        **metrics,
        "ci": bootstrap_intervals(references, predictions, label_names),
        "seconds": round(seconds, 2),
        "sentences_per_second": round(len(texts) / seconds, 1),
        "load_seconds": round(load_seconds, 2),
        "labels": mapping.describe(),
        "rule": getattr(scorer, "rule", None) or mapping.describe(),
        "ties": mapping.ties(probabilities),
        "predicted_counts": np.bincount(predictions, minlength=len(label_names)).tolist(),
        "confusion_matrix": confusion_counts(references, predictions, len(label_names)).tolist(),
        "_predictions": (mapping.dataset_probabilities(probabilities), predictions),  # written by the caller
    }


@dataclass
class PretrainedArguments(DataSourceArguments):
    """The data options (`DataSourceArguments`: only the test split is scored) plus the models."""

    models: list[str] = field(
        default_factory=list,
        metadata={
            "help": "lexicons (vader, textblob, afinn), zero-shot sentence encoders (minilm, mpnet), Hub ids, or local "
            "folders (train.py/finetune.py outputs, or a folder with model.onnx); default: the offline ones "
            "(OFFLINE_MODELS), the benchmark's pretrained_models (pipelines/benchmarks.py), "
            "plus the other benchmark's runs under --runs_dir"
        },
    )
    runs_dir: str | None = field(
        default="runs/grid",
        metadata={
            "help": "without --models, also score the models trained on the other benchmark found under "
            "<runs_dir>/<other>-lab-trained/<model>/seed-<lowest>/ (python -m pipelines.experiments' layout)"
        },
    )
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass"})
    neutral_threshold: float = field(
        default=0.8, metadata={"help": "two-label models on SemEval: neutral when the top probability is below this"}
    )
    label_map: str | None = field(
        default=None, metadata={"help": "extra label mapping for every model, e.g. 'LABEL_0=negative,LABEL_1=positive'"}
    )
    max_samples: int | None = field(default=None, metadata={"help": "score N test sentences drawn with seed 0"})
    output_dir: str | None = field(default=None, metadata={"help": "default: runs/pretrained-<dataset>"})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1...; default: a GPU when present"})

    def __post_init__(self):
        super().__post_init__()
        if (self.train_file or self.validation_file) and not self.test_file:
            raise OptionError("evaluate_pretrained.py scores a test set: give --test_file")
        if not 0.5 <= self.neutral_threshold <= 1.0:
            raise OptionError(f"--neutral_threshold must be between 0.5 and 1, got {self.neutral_threshold}")
        if self.batch_size < 1:
            raise OptionError(f"--batch_size must be at least 1, got {self.batch_size}")
        if self.max_samples is not None and self.max_samples < 1:
            raise OptionError(f"--max_samples must be at least 1, got {self.max_samples}")
        self.output_dir = self.output_dir or str(Path("runs") / folder_name(f"pretrained-{self.dataset_label}"))


EVALUATION_JSON, EVALUATION_MD = "evaluation.json", "evaluation.md"
def evaluation_table(rows: list[dict], label_names: list[str], dataset: str | None = None) -> str:
    """Metrics, the 95% interval of the official metric, speed, ties (when any) and the label rule."""
    official = official_metric_for(dataset, label_names)
    columns = [("model", "model"), ("family", "family")]
    columns += [(key, METRICS[key].display) for key in metric_keys(label_names)]
    columns += [("interval", f"95% CI of {METRICS[official].display}"), ("sentences_per_second", "sentences/s")]
    if any(row.get("ties") for row in rows):
        columns.append(("ties", "ties"))
    columns.append(("rule", "label rule"))
    shown = [
        {
            **row,
            "interval": "{:.4f}-{:.4f}".format(*row["ci"][official]),
            "sentences_per_second": f"{row['sentences_per_second']:.1f}",
        }
        for row in rows
    ]
    return markdown_table(shown, columns)


def score_models(model_names: list[str], texts, references, label_names, args: PretrainedArguments, device: str) -> tuple[list, list]:
    """(rows, failures): a model that cannot be loaded, mapped or run is one line, the rest still run."""
    extra_labels = parse_label_map(args.label_map)
    dataset = args.dataset if args.source == "builtin" else None
    rows, failures = [], []
    for model in model_names:
        try:
            row = evaluate_model(
                model, texts, references, label_names, args.batch_size, args.neutral_threshold, extra_labels, device, dataset
            )
        except Exception as err:  # a third-party model fails in any way (offline Hub id, bad weights): report, go on
            failures.append({"model": model, "error": hub.one_line(err)})
            print(f"error: {model}: {hub.one_line(err)}", file=sys.stderr, flush=True)
        else:
            rows.append(row)
    return rows, failures


def evaluate_pretrained(args: PretrainedArguments) -> dict:
    """Score every model on the test set; a model that fails is reported in one line, the rest run."""
    parse_label_map(args.label_map)  # a bad option fails before any work
    check_writable_dir(Path(args.output_dir))  # before scoring, not after; created only when there is something to write
    dataset, data_description = load_data(args)
    if "test" not in dataset:
        raise OptionError(f"{args.dataset_label} has no test split (it has: {', '.join(dataset)}); give --test_file")
    test = dataset["test"]
    if args.max_samples is not None:  # drawn at random: the test files are sorted by class
        test = test.shuffle(seed=0).select(range(min(args.max_samples, len(test))))
    label_names = test.features["label"].names
    notes = []
    model_names = list(args.models)
    if not model_names:
        model_names, notes = default_models(label_names, args.dataset if args.source == "builtin" else None, args.runs_dir)
    for note in notes:
        print(f"note: {note}", file=sys.stderr, flush=True)
    texts, references = list(test["text"]), list(test["label"])
    device = args.device or default_device()
    rows, failures = score_models(model_names, texts, references, label_names, args, device)
    if not rows:  # nothing to report: leave no empty table behind
        raise OptionError(f"no model could be scored on {args.dataset_label}: " + "; ".join(f["model"] for f in failures))

    output_dir = Path(args.output_dir)
    for row in rows:  # one Parquet file per model, in the same format as train.py's and finetune.py's
        probabilities, predictions = row.pop("_predictions")
        row["predictions_file"] = f"predictions/{file_name(row['model'], fallback='')}.parquet"
        write_predictions(output_dir / row["predictions_file"], range(len(texts)), references, probabilities, predictions)
    report = {
        "dataset": args.dataset_label,
        "data": data_description,
        "test_sentences": len(texts),
        "label_names": label_names,
        "batch_size": args.batch_size,
        "neutral_threshold": args.neutral_threshold,
        "device": device,
        "ci_method": f"percentile bootstrap over test sentences, {N_RESAMPLES} resamples, seed {RESAMPLING_SEED}",
        "results": rows,
        "failures": failures,
        "notes": notes,
        "versions": library_versions(),
    }
    write_json_atomic(output_dir / EVALUATION_JSON, report)
    table = evaluation_table(rows, label_names, args.dataset if args.source == "builtin" else None)
    (output_dir / EVALUATION_MD).write_text(evaluation_markdown(report, table), encoding="utf-8")
    print(table, end="")
    print(f"scored {len(rows)} of {len(model_names)} models; wrote {output_dir / EVALUATION_JSON} and {output_dir / EVALUATION_MD}")
    return report


def evaluation_markdown(report: dict, table: str) -> str:
    header = (
        f"Test set of {report['dataset']}: {report['test_sentences']} sentences, batch size {report['batch_size']}, "
        f"device {report['device']}. 95% CI: {report['ci_method']}.\n\n"
    )
    lines = [f"- {failure['model']}: not scored ({failure['error']})" for failure in report["failures"]]
    lines += [f"- note: {note}" for note in report["notes"]]
    return header + table + ("\n" + "\n".join(lines) + "\n" if lines else "")
