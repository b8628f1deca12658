"""Answers with their uncertainty: scores summarized over seeds, and paired comparisons of two models.

Every seed of every model is tested on the same sentences, so two models are compared sentence by
sentence. The statistic is the difference (A − B) of a metric, computed per seed and averaged over
seeds, so the variation between training runs is inside it.

- Confidence interval: a paired bootstrap over test sentences (`scipy.stats.bootstrap`, percentile
  method). One resample draws sentence indices with replacement and uses the same indices for every
  seed of both models. Macro recall and macro F1 are not means over sentences, so the statistic is
  not a mean of per-sentence scores: it gets the resampled indices, turns them into confusion counts
  (one matrix product over all resamples of a batch) and computes the metrics from the counts.
- p-value: a paired permutation test over test sentences (`scipy.stats.permutation_test`,
  `permutation_type="samples"`). Under "no difference" the labels A and B are exchangeable per
  sentence, so each permutation swaps A's and B's predictions of some sentences, for all seeds of
  that sentence at once.

Both resamplings use a fixed seed (`seed`, default 0) that is returned with the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
CONFIDENCE = 0.95
N_RESAMPLES = 10_000
RESAMPLING_SEED = 0
METRICS = ("accuracy", "f1_macro", "recall_macro", "f1_pn")
BATCH_CELLS = 4_000_000  # resampled sentences (or patterns) held in memory at once: batch × test size


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> dict:
    """n, mean, sample std (ddof=1) and the t interval of the mean (df = n − 1) of per-seed scores.
    One value has no spread: std and the interval are None and `note` says "single seed"."""
    values = np.asarray([value for value in values if value is not None], dtype=float)
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci_low": None, "ci_high": None, "note": "no values"}
    mean = float(values.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci_low": None, "ci_high": None, "note": "single seed"}
    if np.all(values == values[0]):  # every seed gave the same score; scipy refuses scale 0
        return {"n": n, "mean": mean, "std": 0.0, "ci_low": mean, "ci_high": mean, "note": ""}
    std = float(values.std(ddof=1))
    low, high = stats.t.interval(confidence, df=n - 1, loc=mean, scale=std / math.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "ci_low": float(low), "ci_high": float(high), "note": ""}


def paired_t(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> dict:
    """Mean of a − b over paired seeds, its t interval and p-value (`scipy.stats.ttest_rel`)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    differences = a - b
    result = {"n": len(a), "difference": float(differences.mean()) if len(a) else None}
    if len(a) < 2:
        return {**result, "ci_low": None, "ci_high": None, "p_value": None, "note": "single seed" if len(a) else "no pairs"}
    if np.all(differences == differences[0]):  # no spread: t is undefined
        d = float(differences[0])
        return {**result, "ci_low": d, "ci_high": d, "p_value": 1.0 if d == 0 else None, "note": "same difference every seed"}
    test = stats.ttest_rel(a, b)
    interval = test.confidence_interval(confidence)
    return {**result, "ci_low": float(interval.low), "ci_high": float(interval.high), "p_value": float(test.pvalue), "note": ""}


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (controls the family-wise error rate); None stays None."""
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(difference: float, p_value: float, alpha: float = ALPHA, a: str = "A", b: str = "B") -> str:
    if p_value < alpha:
        return f"{a} better" if difference > 0 else f"{b} better"
    return "no detectable difference"


def metrics_from_counts(counts: np.ndarray, label_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Accuracy, macro F1, macro recall (and F1-PN for negative/neutral/positive) from confusion
    counts of shape (..., K, K), rows gold, columns predicted; an empty class scores 0, as
    `pipelines/sentiment_metrics` (sklearn with `zero_division=0`)."""
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
    names = list(label_names)
    if len(names) == 3 and {"negative", "positive"} <= set(names):
        scores["f1_pn"] = f1[..., [names.index("positive"), names.index("negative")]].mean(axis=-1)
    return scores


def confusion_counts(labels, predictions, num_labels: int) -> np.ndarray:
    codes = np.asarray(labels, dtype=np.int64) * num_labels + np.asarray(predictions, dtype=np.int64)
    return np.bincount(codes, minlength=num_labels * num_labels).reshape(num_labels, num_labels)


def score_predictions(frame: pd.DataFrame, label_names: Sequence[str]) -> dict[str, float]:
    """The metrics of one predictions frame (columns "label", "prediction")."""
    counts = confusion_counts(frame["label"], frame["prediction"], len(label_names))
    return {key: float(value) for key, value in metrics_from_counts(counts, label_names).items()}


def _seed_map(runs) -> dict:
    """{seed: frame}; a list pairs by position."""
    return dict(runs) if isinstance(runs, Mapping) else dict(enumerate(runs))


def _aligned(frames: list[pd.DataFrame], num_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(gold (n,), predictions (runs, n)), every frame sorted by "index" and checked against the first."""
    ordered = [frame.sort_values("index", kind="stable") for frame in frames]
    index = ordered[0]["index"].to_numpy(np.int64)
    gold = ordered[0]["label"].to_numpy(np.int64)
    if len(np.unique(index)) != len(index):
        raise ValueError("predictions: an index appears twice; each test sentence must be predicted once per run")
    for frame in ordered[1:]:
        if not np.array_equal(frame["index"].to_numpy(np.int64), index):
            raise ValueError("predictions cover different test sentences: a paired comparison needs the same test set")
        if not np.array_equal(frame["label"].to_numpy(np.int64), gold):
            raise ValueError("predictions disagree on the gold labels of the same sentences: not the same test set")
    predictions = np.stack([frame["prediction"].to_numpy(np.int64) for frame in ordered])
    if predictions.min(initial=0) < 0 or max(predictions.max(initial=0), gold.max(initial=0)) >= num_labels:
        raise ValueError(f"predictions: labels outside 0..{num_labels - 1} (label_names has {num_labels} names)")
    return gold, predictions


def _pair_seeds(a_runs: dict, b_runs: dict) -> tuple[list, list, bool]:
    """Slots (a seed, b seed). Seeds both models have are paired (the seed also draws the validation
    split, so seed s of A and B saw the same training data); without a common seed every seed of each
    model is used, on lcm(n_A, n_B) slots, so each seed of a model weighs the same."""
    common = sorted(set(a_runs) & set(b_runs))
    if common:
        return common, common, True
    a_seeds, b_seeds = sorted(a_runs), sorted(b_runs)
    slots = math.lcm(len(a_seeds), len(b_seeds))
    return [a_seeds[i % len(a_seeds)] for i in range(slots)], [b_seeds[i % len(b_seeds)] for i in range(slots)], False


class _DifferenceStatistic:
    """The mean over seeds of metric(A) − metric(B), from confusion counts of any weighting of sentences.

    Sentences with the same gold label and the same predictions of every seed of both models are
    interchangeable, so they are grouped into patterns (a few hundred for real models, at most n).
    Each pattern adds one count per seed to cell (seed, gold, predicted): a matrix `cells` (patterns,
    seeds·K·K) per model. Pattern counts of a batch of resamples times `cells` give every resample's
    confusion counts in one matrix product."""

    def __init__(self, gold: np.ndarray, a: np.ndarray, b: np.ndarray, metric: str, label_names: Sequence[str]):
        self.k, self.seeds, self.n = len(label_names), a.shape[0], len(gold)
        self.metric, self.label_names = metric, list(label_names)
        patterns, self.pattern_of, self.pattern_sizes = np.unique(
            np.vstack([gold, a, b]), axis=1, return_inverse=True, return_counts=True
        )
        self.pattern_of = self.pattern_of.ravel()
        gold, a, b = patterns[0], patterns[1 : 1 + self.seeds], patterns[1 + self.seeds :]
        self.cells_a, self.cells_b = self._one_hot(gold, a), self._one_hot(gold, b)
        self.total_a, self.total_b = self.pattern_sizes @ self.cells_a, self.pattern_sizes @ self.cells_b
        self.swap = self.cells_b - self.cells_a  # what one sentence moves when A's and B's predictions trade places

    def _one_hot(self, gold: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        codes = np.arange(self.seeds)[:, None] * self.k * self.k + gold[None, :] * self.k + predictions  # (seeds, patterns)
        cells = np.zeros((len(gold), self.seeds * self.k * self.k), dtype=np.float32)  # counts < 2**24: exact
        cells[np.arange(len(gold))[None, :], codes] = 1.0  # seeds own disjoint cells: no two writes collide
        return cells

    def _score(self, counts: np.ndarray) -> np.ndarray:
        counts = counts.reshape(*counts.shape[:-1], self.seeds, self.k, self.k)
        return metrics_from_counts(counts, self.label_names)[self.metric].mean(axis=-1)  # mean over seeds

    def difference(self, counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
        return self._score(counts_a) - self._score(counts_b)

    def observed(self) -> float:
        return float(self.difference(self.total_a, self.total_b))

    def per_model(self) -> tuple[list[float], list[float]]:
        shape = (self.seeds, self.k, self.k)
        a = metrics_from_counts(self.total_a.reshape(shape), self.label_names)[self.metric]
        b = metrics_from_counts(self.total_b.reshape(shape), self.label_names)[self.metric]
        return a.tolist(), b.tolist()

    def bootstrap(self, patterns: np.ndarray, axis: int = -1) -> np.ndarray:
        """`scipy.stats.bootstrap` statistic: the patterns of resampled sentences (..., n) → differences (...)."""
        patterns = np.moveaxis(np.asarray(patterns), axis, -1)
        flat = patterns.reshape(-1, patterns.shape[-1])
        size = len(self.pattern_sizes)
        offsets = np.arange(len(flat))[:, None] * size
        counts = np.bincount((flat + offsets).ravel(), minlength=len(flat) * size).reshape(len(flat), size)
        counts = counts.astype(np.float32)
        return self.difference(counts @ self.cells_a, counts @ self.cells_b).reshape(patterns.shape[:-1])

    def difference_after_swaps(self, moved: np.ndarray) -> np.ndarray:
        """Permutation statistic: `moved` (batch, cells), the counts that swapped sentences move from A to B."""
        return self.difference(self.total_a + moved, self.total_b - moved)


def permutation_p_value(statistic: _DifferenceStatistic, n_resamples: int, rng: np.random.Generator) -> float:
    """Two-sided p-value of the paired (swap) permutation test, with `scipy.stats.permutation_test`'s
    conventions for a randomized null: the observed arrangement counts as one (+1 / n_resamples + 1),
    ties count as extreme, two-sided is twice the smaller one-sided p.

    Each sentence's predictions are swapped with probability 1/2, so the number of swapped sentences of
    a pattern is Binomial(pattern size, 1/2): drawn per pattern, the null distribution is the same as
    swapping sentence by sentence. `permutation_test(..., permutation_type="samples")` builds it in a
    Python loop over sentences instead (12 s for 12,284 sentences with a trivial statistic)."""
    observed = statistic.observed()
    order = np.argsort(statistic.pattern_sizes > 1, kind="stable")  # patterns of one sentence first
    sizes, swap = statistic.pattern_sizes[order], statistic.swap[order]
    singles = int(np.count_nonzero(sizes == 1))  # a fair coin each: eight coins from one random byte
    batch = max(1, BATCH_CELLS // len(sizes))
    null = []
    for start in range(0, n_resamples, batch):
        m = min(batch, n_resamples - start)
        coins = np.unpackbits(rng.integers(0, 256, size=(m, -(-singles // 8)), dtype=np.uint8), axis=1, count=singles)
        swapped = rng.binomial(sizes[singles:], 0.5, size=(m, len(sizes) - singles)).astype(np.float32)
        null.append(statistic.difference_after_swaps(coins.astype(np.float32) @ swap[:singles] + swapped @ swap[singles:]))
    null = np.concatenate(null)
    tolerance = max(abs(observed), 1.0) * 1e-12  # equal ratios of counts may differ in the last bits
    greater = (np.count_nonzero(null >= observed - tolerance) + 1) / (n_resamples + 1)
    less = (np.count_nonzero(null <= observed + tolerance) + 1) / (n_resamples + 1)
    return float(min(1.0, 2 * min(greater, less)))


def paired_comparison(
    a_runs: Mapping[int, pd.DataFrame] | Sequence[pd.DataFrame],
    b_runs: Mapping[int, pd.DataFrame] | Sequence[pd.DataFrame],
    metric: str,
    label_names: Sequence[str],
    n_resamples: int = N_RESAMPLES,
    seed: int = RESAMPLING_SEED,
    alpha: float = ALPHA,
) -> dict:
    """Model A against model B on the same test sentences.

    `a_runs`, `b_runs`: the predictions frames ("index", "label", "prediction") of each seed, as
    {seed: frame} (a list pairs by position). Seeds both models have are paired, else every seed of each
    is used. Returns the difference A − B of `metric` (per seed, averaged over seeds), its 95% paired
    bootstrap CI, the permutation p-value, and the verdict ("A better", "B better" or "no detectable
    difference" at `alpha`), with the per-seed scores, seeds, resamples and resampling seed."""
    a_runs, b_runs = _seed_map(a_runs), _seed_map(b_runs)
    if not a_runs or not b_runs:
        raise ValueError("paired_comparison needs at least one run of each model")
    a_seeds, b_seeds, paired = _pair_seeds(a_runs, b_runs)
    k = len(label_names)
    if metric not in metrics_from_counts(np.zeros((k, k)), label_names):
        raise ValueError(f"unknown metric {metric!r} for labels {list(label_names)}; choose one of: {', '.join(METRICS)}")
    gold, predictions = _aligned([a_runs[s] for s in a_seeds] + [b_runs[s] for s in b_seeds], k)
    statistic = _DifferenceStatistic(gold, predictions[: len(a_seeds)], predictions[len(a_seeds) :], metric, label_names)
    n = len(gold)
    batch = max(1, BATCH_CELLS // max(n, 1))
    difference = statistic.observed()

    if np.array_equal(statistic.cells_a, statistic.cells_b):  # same predictions: every resample gives 0
        low = high = 0.0
        p_value = 1.0
    else:
        interval = stats.bootstrap(
            (statistic.pattern_of,), statistic.bootstrap, n_resamples=n_resamples, batch=batch, vectorized=True,
            paired=True, method="percentile", confidence_level=1 - alpha, rng=np.random.default_rng(seed),
        ).confidence_interval  # fmt: skip
        low, high = float(interval.low), float(interval.high)
        p_value = permutation_p_value(statistic, n_resamples, np.random.default_rng(seed))
    a_scores, b_scores = statistic.per_model()
    return {
        "metric": metric,
        "difference": difference,
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
        "verdict": verdict(difference, p_value, alpha),
        "a_mean": float(np.mean(a_scores)),
        "b_mean": float(np.mean(b_scores)),
        "a_seeds": sorted(set(a_seeds)),  # slots repeat seeds when unpaired
        "b_seeds": sorted(set(b_seeds)),
        "paired_seeds": paired,
        "test_sentences": n,
        "n_resamples": n_resamples,
        "resampling_seed": seed,
    }
