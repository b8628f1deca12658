"""Pretrained sentiment classifiers scored as they are, through `pipeline("text-classification")`.

Each model's labels are mapped onto the dataset's (`negative`, `positive` / `negative`, `neutral`,
`positive`), by name from `config.id2label`, or from `CHECKPOINT_LABELS` for checkpoints whose
names say nothing (`LABEL_0`...). Probabilities of model labels that map to the same dataset
label are added (star ratings 1 and 2 both count as negative). A label the dataset does not have
is left out: a three-class model on MR predicts whichever of negative/positive scores higher.
A two-label model on SemEval predicts `neutral` when its top probability is below
`neutral_threshold` (the confidence band around 0.5). Anything else is refused.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import pipeline

import models  # noqa: F401  (registers the GloVe models, so train.py checkpoints load)
from pipelines.backbones import MODEL_ALIASES, resolve_alias
from pipelines.data import DataSourceArguments, load_data
from pipelines.metrics import score
from pipelines.reporting import ensure_writable_dir, library_versions, markdown_table, write_json_atomic, write_predictions

# Scored when `--models` is not given. All three need the Hub (see README for which ran offline).
DEFAULT_MODELS = {
    "mr": (
        "siebert/sentiment-roberta-large-english",  # RoBERTa-large tuned on 15 review/tweet sets
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",  # SST-2: movie-review phrases
        "nlptown/bert-base-multilingual-uncased-sentiment",  # product reviews, 1-5 stars
    ),
    "semeval2017a": (
        "cardiffnlp/twitter-roberta-base-sentiment-latest",  # RoBERTa on 124M tweets, tuned on TweetEval
        "finiteautomata/bertweet-base-sentiment-analysis",  # BERTweet on SemEval-2017
        "cardiffnlp/twitter-roberta-base-sentiment",  # the older TweetEval model, labels LABEL_0..2
    ),
}

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

NEUTRAL = "neutral"
ROBERTA_LIKE = {"roberta", "xlm-roberta", "camembert", "bertweet"}  # two positions are reserved for padding


WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def resolve_model(name: str) -> str:
    """A Hub id, a local folder, or an alias from `MODEL_ALIASES`, as something `from_pretrained` reads."""
    if name in MODEL_ALIASES:
        return resolve_alias(name)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"model folder {path} has no config.json (expected a save_pretrained folder)")
        if not any((path / name).is_file() for name in WEIGHTS_FILES):
            raise FileNotFoundError(f"model folder {path} has no weights file (expected one of: {', '.join(WEIGHTS_FILES)})")
        return str(path)
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    if looks_like_path:
        raise FileNotFoundError(
            f"model folder not found: {name} (give a save_pretrained folder, a Hub id such as "
            f"'org/name', or one of: {', '.join(MODEL_ALIASES)})"
        )
    return name


def parse_label_map(text: str | None) -> dict[str, str]:
    """`'LABEL_0=negative,LABEL_1=positive'` -> {'LABEL_0': 'negative', 'LABEL_1': 'positive'}."""
    mapping = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        model_label, sep, target = item.partition("=")
        if not sep or not model_label.strip() or not target.strip():
            raise ValueError(f"--label_map entry {item!r} is not MODEL_LABEL=dataset_label")
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
    """Map a model's labels onto the dataset's, or raise ValueError saying why not."""
    table = {**CHECKPOINT_LABELS.get(model_name, {}), **(extra or {})}
    model_labels = [id2label[i] for i in sorted(id2label)]
    targets: list[str | None] = []
    unknown = []
    for model_label in model_labels:
        target = table.get(model_label) or SENTIMENT_NAMES.get(model_label.strip().lower())
        if target is None:
            unknown.append(model_label)
        elif target not in SENTIMENT_NAMES.values():
            raise ValueError(f"label {model_label!r} maps to {target!r}, not one of negative, neutral, positive")
        targets.append(target if target in label_names else None)

    def refuse(why: str) -> ValueError:
        return ValueError(
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
            raise ValueError(f"--neutral_threshold must be between 0.5 and 1, got {neutral_threshold}")
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


def evaluate_model(
    model: str,
    texts: list[str],
    references: list[int],
    label_names: list[str],
    batch_size: int = 64,
    neutral_threshold: float = 0.8,
    extra_labels: dict[str, str] | None = None,
    device: str | None = None,
) -> dict:
    """One table row: test metrics, timing and the label mapping used."""
    started = time.perf_counter()
    classifier = load_classifier(model, device)
    load_seconds = time.perf_counter() - started
    mapping = label_mapping(model, classifier.model.config.id2label, label_names, extra_labels, neutral_threshold)

    started = time.perf_counter()
    probabilities = predict_probabilities(classifier, texts, batch_size, desc=model)
    seconds = time.perf_counter() - started
    predictions = mapping.predict(probabilities)
    metrics = score(predictions, references, label_names)
    return {
        "model": model,
        **metrics,
        "seconds": round(seconds, 2),
        "sentences_per_second": round(len(texts) / seconds, 1),
        "load_seconds": round(load_seconds, 2),
        "labels": mapping.describe(),
        "predicted_counts": np.bincount(predictions, minlength=len(label_names)).tolist(),
        "_predictions": (mapping.dataset_probabilities(probabilities), predictions),  # written by the caller
    }


def one_line(err: BaseException) -> str:
    """The first line of an error (Hub errors run to a paragraph)."""
    first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
    return first[:300]


@dataclass
class PretrainedArguments(DataSourceArguments):
    """The data options (`DataSourceArguments`: only the test split is scored) plus the models."""

    models: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Hub ids, local folders (train.py/finetune.py outputs) or 'minilm'; default: DEFAULT_MODELS "
            "(for your own data, those of semeval2017a when a class is named neutral, else those of mr)"
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
            raise ValueError("evaluate_pretrained.py scores a test set: give --test_file")
        if not 0.5 <= self.neutral_threshold <= 1.0:
            raise ValueError(f"--neutral_threshold must be between 0.5 and 1, got {self.neutral_threshold}")
        if self.batch_size < 1:
            raise ValueError(f"--batch_size must be at least 1, got {self.batch_size}")
        if self.source == "builtin":  # your own data gets defaults once its labels are known
            self.models = list(self.models or DEFAULT_MODELS[self.dataset])
        self.output_dir = self.output_dir or str(Path("runs") / f"pretrained-{self.dataset_label}".replace("/", "_"))


EVALUATION_JSON, EVALUATION_MD = "evaluation.json", "evaluation.md"


def evaluation_table(rows: list[dict], label_names: list[str]) -> str:
    columns = [("model", "model"), ("accuracy", "accuracy"), ("f1_macro", "macro F1"), ("recall_macro", "macro recall")]
    if NEUTRAL in label_names:
        columns.append(("f1_pn", "F1-PN"))
    columns += [("seconds", "seconds"), ("sentences_per_second", "sentences/s"), ("labels", "label mapping")]
    timed = [
        {**row, "seconds": f"{row['seconds']:.1f}", "sentences_per_second": f"{row['sentences_per_second']:.1f}"}
        for row in rows
    ]
    return markdown_table(timed, columns)


def evaluate_pretrained(args: PretrainedArguments) -> dict:
    """Score every model on the test set; a model that fails is reported in one line, the rest run."""
    extra_labels = parse_label_map(args.label_map)
    ensure_writable_dir(Path(args.output_dir))  # before scoring, not after
    dataset, data_description = load_data(args)
    if "test" not in dataset:
        raise ValueError(f"{args.dataset_label} has no test split (it has: {', '.join(dataset)}); give --test_file")
    test = dataset["test"]
    if args.max_samples is not None:  # drawn at random: the test files are sorted by class
        test = test.shuffle(seed=0).select(range(min(args.max_samples, len(test))))
    label_names = test.features["label"].names
    model_names = args.models or list(DEFAULT_MODELS["semeval2017a" if NEUTRAL in label_names else "mr"])
    texts, references = list(test["text"]), list(test["label"])
    device = args.device or default_device()

    rows, failures = [], []
    for model in model_names:
        try:
            row = evaluate_model(
                model, texts, references, label_names, args.batch_size, args.neutral_threshold, extra_labels, device
            )
        except Exception as err:  # one bad model (offline Hub id, unmappable labels...) must not stop the others
            failures.append({"model": model, "error": one_line(err)})
            print(f"error: {model}: {one_line(err)}", file=sys.stderr, flush=True)
        else:
            rows.append(row)

    table = evaluation_table(rows, label_names)
    notes = [f"- {failure['model']}: not scored ({failure['error']})" for failure in failures]
    header = f"Test set of {args.dataset_label}: {len(texts)} sentences, batch size {args.batch_size}, device {device}.\n\n"
    markdown = header + table + ("\n" + "\n".join(notes) + "\n" if notes else "")
    report = {
        "dataset": args.dataset_label,
        "data": data_description,
        "test_sentences": len(texts),
        "label_names": label_names,
        "batch_size": args.batch_size,
        "neutral_threshold": args.neutral_threshold,
        "device": device,
        "results": rows,
        "failures": failures,
        "versions": library_versions(),
    }
    if not rows:  # nothing to report: leave no empty table behind
        raise ValueError(f"no model could be scored on {args.dataset_label}: " + "; ".join(f["model"] for f in failures))
    output_dir = Path(args.output_dir)
    for row in rows:  # one Parquet file per model, in the same format as train.py's and finetune.py's
        probabilities, predictions = row.pop("_predictions")
        row["predictions_file"] = f"predictions/{re.sub(r'[^A-Za-z0-9._-]+', '_', row['model']).strip('_')}.parquet"
        write_predictions(output_dir / row["predictions_file"], range(len(texts)), references, probabilities, predictions)
    write_json_atomic(output_dir / EVALUATION_JSON, report)
    (output_dir / EVALUATION_MD).write_text(markdown, encoding="utf-8")
    print(table, end="")
    print(f"wrote {output_dir / EVALUATION_JSON} and {output_dir / EVALUATION_MD}")
    return report

