"""Test metrics for every flow: the project's own `evaluate` module, loaded from disk, and the
one table of the metrics it reports (keys, display names, Hub ids).

Macro averages (F1, recall) run over every class the model has, so a class missing from the
test set counts with recall 0 and scores from different test files stay comparable; `score`
and `per_class_scores` warn, naming such a class, and `per_class_scores` records each class's
support, precision, recall and F1 for `results.json`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.errors import OptionError

METRIC_PATH = Path(__file__).parent / "sentiment_metrics"


@dataclass(frozen=True)
class Metric:
    """One reported metric: its `results.json` key, its name in tables and model cards, and its
    Hub metric id and arguments (the card's `model-index`)."""

    key: str
    display: str
    card_name: str
    hub_id: str
    hub_args: dict | None = None


METRICS = {
    metric.key: metric
    for metric in (
        Metric("accuracy", "accuracy", "Accuracy", "accuracy"),
        Metric("f1_macro", "macro F1", "Macro F1", "f1", {"average": "macro"}),
        Metric("recall_macro", "macro recall", "Macro recall", "recall", {"average": "macro"}),
        Metric(
            "f1_pn", "F1-PN", "F1-PN (mean F1 of positive and negative)", "f1",
            {"average": "macro", "labels": ["negative", "positive"]},
        ),
    )
}
METRIC_KEYS = ("accuracy", "f1_macro", "recall_macro")  # every data set has these; F1-PN only where it applies


def sentiments(label_names) -> list[str | None]:
    """Each label's sentiment, "negative", "neutral" or "positive", across the spellings `label_mapping.SENTIMENT_NAMES`
    knows (`neg`, `Neutral`, `POS`, ...); None for a label that names none."""
    from pipelines.label_mapping import SENTIMENT_NAMES

    return [SENTIMENT_NAMES.get(str(name).strip().lower()) for name in label_names or []]


def f1_pn_classes(label_names) -> list[int] | None:
    """The ids of the positive and negative labels when F1-PN applies (three classes, those two among
    them, as in SemEval-2017 4A; any spelling `sentiments` reads), else None: the one F1-PN rule of the project."""
    names = sentiments(label_names)
    if len(names) == 3 and {"negative", "positive"} <= set(names):
        return [names.index("positive"), names.index("negative")]
    return None


def hub_args(key: str, label_names) -> dict | None:
    """`METRICS[key].hub_args` for data with these labels: F1-PN's `labels` are the ids of the data's own negative and
    positive classes, in that order (`[2, 0]` for `pos`, `neu`, `neg`), as the `f1` metric of `evaluate` takes them
    (`labels` of `sklearn.metrics.f1_score` over the references' class ids); the table's names are a placeholder."""
    args = METRICS[key].hub_args
    polar = f1_pn_classes(label_names) if key == "f1_pn" else None
    return args if not polar else {**args, "labels": [polar[1], polar[0]]}


def metric_keys(label_names) -> tuple[str, ...]:
    """The keys reported for data with these labels: F1-PN only where `f1_pn_classes` applies."""
    return METRIC_KEYS + (("f1_pn",) if f1_pn_classes(label_names) else ())


def load_metric():
    """The project's `evaluate` module, for users of `evaluate` (imported here: it takes seconds); it
    computes through `metrics_from_counts` like everything else."""
    import evaluate

    return evaluate.load(str(METRIC_PATH))


def compute_metrics_fn(label_names: list[str]):
    """A `Trainer` `compute_metrics` callable for these labels."""

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        return scores_of(labels, np.argmax(logits, axis=-1), label_names)

    return compute_metrics


def score(predictions, references, label_names: list[str]) -> dict[str, float]:
    """Every metric of `metric_keys(label_names)`; warns when a class is absent from `references`."""
    warn_absent_classes(references, label_names)
    return scores_of(references, predictions, label_names)


def scores_of(references, predictions, label_names: list[str]) -> dict[str, float]:
    """Every metric of `metric_keys(label_names)` as floats, from the label ids `references` and `predictions` (n,)."""
    counts = confusion_counts(references, predictions, len(label_names))
    return {key: float(value) for key, value in metrics_from_counts(counts, label_names).items()}


def metrics_from_counts(counts: np.ndarray, label_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Accuracy, macro F1, macro recall (and F1-PN for negative/neutral/positive) from confusion
    counts of shape (..., K, K), rows gold, columns predicted; an empty class scores 0, as scikit-learn's
    `accuracy_score`, `f1_score` and `recall_score` (average="macro", zero_division=0) do (`tests/test_metrics.py`).
    The project's one metric implementation: training, evaluation, the report, its intervals and the front."""
    counts = np.asarray(counts, dtype=float)
    hits = np.diagonal(counts, axis1=-2, axis2=-1)  # (..., K)
    gold, predicted = counts.sum(axis=-1), counts.sum(axis=-2)
    total = gold.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(gold > 0, hits / gold, 0.0)
        f1 = np.where(gold + predicted > 0, 2 * hits / (gold + predicted), 0.0)
        scores = {
            "accuracy": np.where(total > 0, hits.sum(axis=-1) / total, 0.0),
            "f1_macro": f1.mean(axis=-1),
            "recall_macro": recall.mean(axis=-1),
        }
    polar = f1_pn_classes(label_names)
    if polar:
        scores["f1_pn"] = f1[..., polar].mean(axis=-1)
    return scores


def confusion_counts(labels, predictions, num_labels: int) -> np.ndarray:
    """(K, K) counts, rows gold, columns predicted, of label ids `labels` and `predictions` (n,)."""
    codes = np.asarray(labels, dtype=np.int64) * num_labels + np.asarray(predictions, dtype=np.int64)
    return np.bincount(codes, minlength=num_labels * num_labels).reshape(num_labels, num_labels)



CLASS_RECALL = "recall:"  # "recall:<label name>": one class's recall, for settings that move the class balance


def metric_from_counts(counts: np.ndarray, metric: str, label_names: Sequence[str]) -> np.ndarray:
    """One metric of confusion counts (..., K, K): a key of `metrics_from_counts`, or "recall:<label name>",
    the recall of that class (hits over its gold count, 0 for an empty class). Raises `OptionError` naming
    the choices for any other name."""
    counts = np.asarray(counts, dtype=float)
    if metric.startswith(CLASS_RECALL) and metric.removeprefix(CLASS_RECALL) in label_names:
        c = list(label_names).index(metric.removeprefix(CLASS_RECALL))
        gold = counts[..., c, :].sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(gold > 0, counts[..., c, c] / gold, 0.0)
    scores = metrics_from_counts(counts, label_names)
    if metric not in scores:
        choices = [*scores, *(f"{CLASS_RECALL}{name}" for name in label_names)]
        raise OptionError(f"unknown metric {metric!r} for labels {list(label_names)}; choose one of: {', '.join(choices)}")
    return scores[metric]


def warn_absent_classes(references, label_names: list[str], where: str = "the test set") -> list[str]:
    """The classes of `label_names` with no row in `references`, after a `UserWarning` naming them."""
    present = set(np.asarray(references).tolist())
    absent = [name for label, name in enumerate(label_names) if label not in present]
    if absent:
        warnings.warn(
            f"{where} has no rows of class {', '.join(map(repr, absent))} (the model's classes: "
            f"{', '.join(label_names)}): macro recall and macro F1 average over every class and count it as 0",
            UserWarning,
            stacklevel=3,
        )
    return absent


def per_class_scores(references, predictions, label_names: list[str]) -> dict[str, dict[str, float]]:
    """{class name: {support, precision, recall, f1}} over the test set, every class of the model
    (support 0 for one the test set lacks, with a warning naming it)."""
    from sklearn.metrics import precision_recall_fscore_support

    warn_absent_classes(references, label_names)
    precision, recall, f1, support = precision_recall_fscore_support(
        references, predictions, labels=list(range(len(label_names))), zero_division=0
    )
    return {
        name: {"support": int(support[i]), "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i])}
        for i, name in enumerate(label_names)
    }


def official_metric(label_names) -> str:
    """The metric to rank data that is not a benchmark by, inferred from its labels: macro recall
    for three classes including neutral in any spelling `sentiments` reads (`neu`, `Neutral`; like SemEval-2017 4A,
    robust to skewed classes), accuracy
    otherwise. A benchmark's own comes from its entry (`pipelines.benchmarks.official_metric_for`)."""
    names = sentiments(label_names)
    return "recall_macro" if len(names) == 3 and "neutral" in names else "accuracy"
