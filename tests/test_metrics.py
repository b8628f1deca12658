import pytest
from sklearn.metrics import f1_score

from pipelines.metrics import load_metric, score


def test_three_class_scores_include_f1_pn():
    references = [0, 0, 1, 1, 2, 2, 2]
    predictions = [0, 1, 1, 1, 2, 0, 2]
    scores = score(predictions, references, ["negative", "neutral", "positive"])
    assert scores["accuracy"] == pytest.approx(5 / 7)
    assert scores["recall_macro"] == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    assert scores["f1_macro"] == pytest.approx(f1_score(references, predictions, average="macro"))
    per_class = f1_score(references, predictions, average=None)
    assert scores["f1_pn"] == pytest.approx((per_class[0] + per_class[2]) / 2)


def test_two_class_scores_and_missing_class_in_predictions():
    scores = score([1, 1, 1, 1], [0, 1, 0, 1], ["negative", "positive"])
    assert scores == {"accuracy": 0.5, "f1_macro": pytest.approx(1 / 3), "recall_macro": 0.5}


def test_metric_module_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert load_metric().compute(predictions=[0, 1], references=[0, 0])["accuracy"] == 0.5
