"""Summaries over seeds and paired comparisons, checked against known values, sklearn and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, recall_score

from pipelines.metrics import official_metric
from pipelines.statistics import (
    holm,
    metrics_from_counts,
    paired_comparison,
    paired_t,
    permutation_p_value,
    summarize,
    verdict,
    _DifferenceStatistic,
)

THREE = ["negative", "neutral", "positive"]


def frame(labels, predictions, index=None) -> pd.DataFrame:
    index = np.arange(len(labels)) if index is None else index
    return pd.DataFrame({"index": index, "label": labels, "prediction": predictions})


def noisy(labels: np.ndarray, accuracy: float, rng: np.random.Generator, k: int) -> np.ndarray:
    """Right with probability `accuracy`, else a wrong label."""
    wrong = (labels + rng.integers(1, k, len(labels))) % k
    return np.where(rng.random(len(labels)) < accuracy, labels, wrong)


def test_official_metric_per_dataset():
    assert official_metric(["negative", "positive"]) == "accuracy"  # MR
    assert official_metric(THREE) == "recall_macro"  # SemEval-2017 4A
    assert official_metric(["Negative", "Neutral", "Positive"]) == "recall_macro"
    assert official_metric(["sport", "news", "music"]) == "accuracy"


def test_summarize_gives_the_t_interval_of_the_mean():
    summary = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    # std = sqrt(2.5); t(0.975, df=4) = 2.776445; half width = 2.776445 * sqrt(2.5 / 5) = 1.963243
    assert summary["n"] == 5 and summary["mean"] == 3.0 and summary["std"] == pytest.approx(1.5811388, abs=1e-7)
    assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((1.036757, 4.963243), abs=1e-6)
    single = summarize([0.75])
    assert single == {"n": 1, "mean": 0.75, "std": None, "ci_low": None, "ci_high": None, "note": "single seed"}
    same = summarize([0.7, 0.7, 0.7])
    assert same["std"] == 0.0 and same["ci_low"] == same["mean"] == same["ci_high"] == pytest.approx(0.7)


def test_paired_t_over_seeds():
    result = paired_t([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    # differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3); t(0.975, df=2) = 4.302653
    assert result["difference"] == 2.0
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((2 - 2.484138, 2 + 2.484138), abs=1e-6)
    assert result["p_value"] == pytest.approx(0.074180, abs=1e-6)
    assert paired_t([0.8], [0.7])["ci_low"] is None and paired_t([0.8], [0.7])["note"] == "single seed"


def test_holm_adjusts_step_down_and_keeps_missing_values():
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_verdict_at_five_percent():
    assert verdict(0.02, 0.01) == "A better"
    assert verdict(-0.02, 0.01) == "B better"
    assert verdict(0.02, 0.2) == "no detectable difference"
    assert verdict(0.02, 0.01, a="meanmax", b="mean") == "meanmax better"


def test_metrics_from_counts_match_sklearn_with_an_empty_class():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)  # class 2 (positive) never occurs in gold
    predictions = rng.integers(0, 3, 200)
    counts = np.zeros((3, 3))
    np.add.at(counts, (labels, predictions), 1)
    scores = metrics_from_counts(counts, THREE)
    assert scores["accuracy"] == pytest.approx(accuracy_score(labels, predictions))
    expected_recall = recall_score(labels, predictions, labels=[0, 1, 2], average="macro", zero_division=0)
    assert scores["recall_macro"] == pytest.approx(expected_recall)
    assert scores["f1_macro"] == pytest.approx(f1_score(labels, predictions, labels=[0, 1, 2], average="macro", zero_division=0))
    f1_pn = f1_score(labels, predictions, labels=[2, 0], average=None, zero_division=0).mean()
    assert scores["f1_pn"] == pytest.approx(f1_pn)
    assert "f1_pn" not in metrics_from_counts(np.eye(2), ["negative", "positive"])


def test_identical_predictions_differ_by_zero_with_p_one():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    runs = {seed: frame(labels, noisy(labels, 0.6, rng, 3)) for seed in (1, 2, 3)}
    result = paired_comparison(runs, runs, "recall_macro", THREE, n_resamples=500)
    assert result["difference"] == 0.0 and (result["ci_low"], result["ci_high"]) == (0.0, 0.0)
    assert result["p_value"] == 1.0 and result["verdict"] == "no detectable difference"


def test_always_right_against_always_wrong():
    labels = np.tile([0, 1], 25)
    right = {seed: frame(labels, labels) for seed in (1, 2)}
    wrong = {seed: frame(labels, 1 - labels) for seed in (1, 2)}
    result = paired_comparison(right, wrong, "accuracy", ["negative", "positive"], n_resamples=2000, seed=7)
    assert result["difference"] == 1.0 and result["ci_low"] > 0 and result["p_value"] < 0.05
    assert result["p_value"] == pytest.approx(2 / 2001)  # no swap arrangement is as extreme but the observed one
    assert result["verdict"] == "A better" and result["n_resamples"] == 2000 and result["resampling_seed"] == 7
    reverse = paired_comparison(wrong, right, "accuracy", ["negative", "positive"], n_resamples=2000)
    assert reverse["difference"] == -1.0 and reverse["ci_high"] < 0 and reverse["verdict"] == "B better"


def test_difference_is_the_mean_over_seeds_of_sklearns_macro_recall_on_shuffled_frames():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 400)
    a = {seed: noisy(labels, 0.7, rng, 3) for seed in (11, 12, 13)}
    b = {seed: noisy(labels, 0.6, rng, 3) for seed in (11, 12, 13)}
    order = rng.permutation(400)  # rows in any order: aligned on "index"
    a_runs = {seed: frame(labels[order], pred[order], order) for seed, pred in a.items()}
    b_runs = {seed: frame(labels, pred) for seed, pred in b.items()}
    result = paired_comparison(a_runs, b_runs, "recall_macro", THREE, n_resamples=1000)
    recall = lambda pred: recall_score(labels, pred, average="macro")  # noqa: E731
    expected = np.mean([recall(a[seed]) - recall(b[seed]) for seed in a])
    assert result["difference"] == pytest.approx(expected, abs=1e-12)
    assert result["a_mean"] == pytest.approx(np.mean([recall(p) for p in a.values()]))
    assert result["paired_seeds"] and result["a_seeds"] == [11, 12, 13] and result["test_sentences"] == 400
    assert result["ci_low"] < expected < result["ci_high"]


def test_seeds_pair_when_shared_else_every_seed_of_each_counts():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 200)
    a = {seed: noisy(labels, 0.8, rng, 2) for seed in (1, 2, 3)}
    b = {seed: noisy(labels, 0.7, rng, 2) for seed in (2, 3, 4, 5)}
    acc = lambda pred: accuracy_score(labels, pred)  # noqa: E731
    names = ["negative", "positive"]

    shared = paired_comparison({s: frame(labels, p) for s, p in a.items()}, {s: frame(labels, p) for s, p in b.items()}, "accuracy", names, n_resamples=200)
    assert shared["paired_seeds"] and shared["a_seeds"] == shared["b_seeds"] == [2, 3]
    assert shared["difference"] == pytest.approx(np.mean([acc(a[s]) - acc(b[s]) for s in (2, 3)]))

    apart = {s: frame(labels, p) for s, p in b.items() if s > 3}  # seeds 4, 5: none shared with A
    result = paired_comparison({s: frame(labels, p) for s, p in a.items()}, apart, "accuracy", names, n_resamples=200)
    assert not result["paired_seeds"] and result["a_seeds"] == [1, 2, 3] and result["b_seeds"] == [4, 5]
    expected = np.mean([acc(p) for p in a.values()]) - np.mean([acc(b[4]), acc(b[5])])
    assert result["difference"] == pytest.approx(expected, abs=1e-12)


def test_permutation_p_value_matches_scipys_exact_permutation_test():
    """The swap test drawn per pattern against scipy enumerating all 2**12 swaps of 12 sentences."""
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 12)
    a = np.stack([noisy(labels, 0.8, rng, 3) for _ in range(2)])
    b = np.stack([noisy(labels, 0.4, rng, 3) for _ in range(2)])
    statistic = _DifferenceStatistic(labels, a, b, "recall_macro", THREE)

    def recall(predictions):  # (seeds, ..., 12) -> macro recall averaged over seeds, computed directly
        per_class = [((predictions == c) & (labels == c)).sum(-1) / (labels == c).sum() for c in range(3)]
        return np.mean(per_class, axis=0).mean(axis=0)

    def swapped_recall(x, y, axis=-1):  # x holds i (A's predictions) or 12 + i (B's) per sentence
        both = np.concatenate([a, b], axis=1)  # (seeds, 24)
        return recall(both[:, x]) - recall(both[:, y])

    assert swapped_recall(np.arange(12), np.arange(12) + 12) == pytest.approx(statistic.observed())
    exact = stats.permutation_test(
        (np.arange(12), np.arange(12) + 12), swapped_recall, permutation_type="samples", vectorized=True, n_resamples=10_000
    ).pvalue
    assert 0.001 < exact < 0.5  # a case where the p-value says something
    assert permutation_p_value(statistic, 20_000, np.random.default_rng(0)) == pytest.approx(exact, abs=0.015)


def test_bootstrap_interval_covers_the_true_difference_and_the_test_holds_its_level():
    """Seeded simulations: the population difference of accuracy is 0.05 (0.80 vs 0.75); the 95%
    interval must contain it about 95% of the time. With no difference, p < 0.05 about 5% of the time."""
    rng = np.random.default_rng(2024)
    covered, false_alarms, trials = 0, 0, 40
    for trial in range(trials):
        labels = rng.integers(0, 2, 400)
        u = rng.random((2, 400))  # per seed, one draw per sentence: A right when u < 0.80, B when u < 0.75
        a = {s: frame(labels, np.where(u[s] < 0.80, labels, 1 - labels)) for s in (0, 1)}
        b = {s: frame(labels, np.where(u[s] < 0.75, labels, 1 - labels)) for s in (0, 1)}
        result = paired_comparison(a, b, "accuracy", ["negative", "positive"], n_resamples=1000, seed=trial)
        covered += result["ci_low"] <= 0.05 <= result["ci_high"]
        same = {s: frame(labels, np.where(rng.random(400) < 0.75, labels, 1 - labels)) for s in (0, 1)}
        null = paired_comparison(same, b, "accuracy", ["negative", "positive"], n_resamples=1000, seed=trial)
        false_alarms += null["p_value"] < 0.05
    assert covered >= 34  # expected 38; fewer than 34 of 40 has probability < 0.5% at 95% coverage
    assert false_alarms <= 6  # expected 2; more than 6 of 40 has probability < 0.5% at a 5% level


def test_bootstrap_interval_of_accuracy_is_close_to_the_normal_interval():
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 2, 2000)
    a, b = noisy(labels, 0.75, rng, 2), noisy(labels, 0.72, rng, 2)
    result = paired_comparison([frame(labels, a)], [frame(labels, b)], "accuracy", ["negative", "positive"])
    d = (a == labels).astype(float) - (b == labels)
    half = 1.959964 * d.std(ddof=1) / np.sqrt(len(d))
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half), abs=0.003)


def test_different_test_sets_and_unknown_metrics_are_refused():
    labels = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="different test sentences"):
        paired_comparison([frame(labels, labels)], [frame(labels, labels, index=np.arange(1, 5))], "accuracy", ["n", "p"])
    with pytest.raises(ValueError, match="disagree on the gold labels"):
        paired_comparison([frame(labels, labels)], [frame(1 - labels, labels)], "accuracy", ["n", "p"])
    with pytest.raises(ValueError, match="unknown metric 'f1_pn'"):
        paired_comparison([frame(labels, labels)], [frame(labels, labels)], "f1_pn", ["negative", "positive"])
