"""Test metrics for every flow: the project's own `evaluate` module, loaded from disk, and the
one table of the metrics it reports (keys, display names, Hub ids).

Macro averages (F1, recall) run over every class the model has, so a class missing from the
test set counts with recall 0 and scores from different test files stay comparable; `score`
and `per_class_scores` warn, naming such a class, and `per_class_scores` records each class's
support, precision, recall and F1 for `results.json`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


def metric_keys(label_names) -> tuple[str, ...]:
    """The keys reported for data with these labels: F1-PN only where `f1_pn_classes` applies."""
    from pipelines.sentiment_metrics.sentiment_metrics import f1_pn_classes  # imports `evaluate`: seconds

    return METRIC_KEYS + (("f1_pn",) if f1_pn_classes(label_names) else ())


def load_metric():
    """The project's `evaluate` module (imported here: it takes seconds, and `--help` needs none of it)."""
    import evaluate

    return evaluate.load(str(METRIC_PATH))


def compute_metrics_fn(label_names: list[str]):
    """A `Trainer` `compute_metrics` callable for these labels."""
    metric = load_metric()

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        return metric.compute(predictions=np.argmax(logits, axis=-1), references=labels, label_names=label_names)

    return compute_metrics


def score(predictions, references, label_names: list[str]) -> dict[str, float]:
    """Every metric of `metric_keys(label_names)`; warns when a class is absent from `references`."""
    warn_absent_classes(references, label_names)
    return load_metric().compute(predictions=predictions, references=references, label_names=label_names)


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
    for three classes including neutral (like SemEval-2017 4A, robust to skewed classes), accuracy
    otherwise. A benchmark's own comes from its entry (`pipelines.benchmarks.official_metric_for`)."""
    names = [str(name).lower() for name in label_names or []]
    return "recall_macro" if len(names) == 3 and "neutral" in names else "accuracy"
