import numpy as np
import pytest
from sklearn.metrics import f1_score

from pipelines.metrics import METRICS, load_metric, metric_keys, per_class_scores, score, scores_of


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


def test_a_class_absent_from_the_test_set_is_named_counted_as_zero_and_recorded():
    references, predictions = [1] * 8, [0, 0, 0, 1, 1, 1, 1, 1]  # a positive-only test set
    with pytest.warns(UserWarning, match=r"the test set has no rows of class 'negative' \(the model's classes: negative, positive\)"):
        scores = score(predictions, references, ["negative", "positive"])
    assert scores["accuracy"] == 0.625 and scores["recall_macro"] == 0.3125  # the average over both classes
    with pytest.warns(UserWarning, match="'negative'"):
        per_class = per_class_scores(references, predictions, ["negative", "positive"])
    assert per_class == {
        "negative": {"support": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0},
        "positive": {"support": 8, "precision": 1.0, "recall": 0.625, "f1": pytest.approx(2 * 0.625 / 1.625)},
    }


def test_no_warning_when_every_class_is_present(recwarn):
    assert per_class_scores([0, 1, 2], [0, 1, 1], ["negative", "neutral", "positive"])["positive"]["support"] == 1
    assert not [warning for warning in recwarn if "no rows of class" in str(warning.message)]


def test_one_metric_table_and_f1_pn_only_where_it_applies():
    assert metric_keys(["negative", "neutral", "positive"]) == ("accuracy", "f1_macro", "recall_macro", "f1_pn")
    assert metric_keys(["negative", "positive"]) == metric_keys(["sport", "news", "music"]) == ("accuracy", "f1_macro", "recall_macro")
    assert metric_keys(["neg", "neu", "pos"]) == metric_keys(["Negative", "Neutral", "Positive"]) == metric_keys(["negative", "neutral", "positive"])
    assert set(METRICS) == {"accuracy", "f1_macro", "recall_macro", "f1_pn"}
    assert METRICS["recall_macro"].display == "macro recall" and METRICS["f1_pn"].hub_args["labels"] == ["negative", "positive"]


def test_the_model_cards_f1_pn_names_the_models_own_negative_and_positive_labels():
    """Round 26's note: the card's `model-index` gave F1-PN `labels: [negative, positive]` for a model whose labels are
    `neg`, `neu`, `pos`, names the `f1` metric of `evaluate` (which reads class ids) would not find among its references."""
    from pipelines.model_card import card_data
    from pipelines.runs.record import RunRecord

    record = RunRecord("tweets", "minilm", {"accuracy": 0.7, "f1_pn": 0.6}, model_type="bert", label_names=["pos", "neu", "neg"])
    (result,) = [r for r in card_data(record, "m").eval_results if r.metric_name.startswith("F1-PN")]
    assert result.metric_args == {"average": "macro", "labels": [2, 0]}
    assert METRICS["f1_pn"].hub_args["labels"] == ["negative", "positive"]  # the table itself is not changed


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_the_one_metric_implementation_matches_scikit_learn_on_random_confusions(classes):
    from sklearn.metrics import accuracy_score, recall_score

    from pipelines.metrics import confusion_counts, metrics_from_counts

    rng = np.random.default_rng(classes)
    names = ["negative", "neutral", "positive"] if classes == 3 else [f"c{i}" for i in range(classes)]
    labels = list(range(classes))
    for _ in range(20):
        n = int(rng.integers(1, 60))
        gold = rng.integers(0, classes, n)
        predicted = np.where(rng.random(n) < rng.random(), gold, rng.integers(0, classes, n))  # some classes often empty
        scores = metrics_from_counts(confusion_counts(gold, predicted, classes), names)
        assert scores["accuracy"] == pytest.approx(accuracy_score(gold, predicted))
        assert scores["f1_macro"] == pytest.approx(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0))
        assert scores["recall_macro"] == pytest.approx(recall_score(gold, predicted, labels=labels, average="macro", zero_division=0))
        assert scores_of(gold, predicted, names) == pytest.approx({key: float(value) for key, value in scores.items()})
