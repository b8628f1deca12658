"""Test metrics for every flow: the project's own `evaluate` module, loaded from disk."""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np

METRIC_PATH = Path(__file__).parent / "sentiment_metrics"
METRIC_KEYS = ("accuracy", "f1_macro", "recall_macro")


def load_metric() -> evaluate.EvaluationModule:
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
    return load_metric().compute(predictions=predictions, references=references, label_names=label_names)


def official_metric(label_names) -> str:
    """The metric a benchmark ranks by: macro recall for three classes including neutral (SemEval-2017
    4A's official score, robust to its skewed classes), accuracy otherwise (MR and most others)."""
    names = [str(name).lower() for name in label_names or []]
    return "recall_macro" if len(names) == 3 and "neutral" in names else "accuracy"
