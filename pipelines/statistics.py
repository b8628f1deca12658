"""Answers with their uncertainty: scores summarized over seeds, and comparisons of two architectures.

A study question asks whether architecture A beats architecture B, not whether these particular
training runs of A beat those of B. Two things are drawn at random behind every number: the test
sentences (from the population of sentences) and the training runs (seeds, folds: from the
population of runs an architecture can produce). The comparison counts both.

The statistic is Δ = mean over A's runs of metric(A run) − mean over B's runs of metric(B run),
every run scored on the same test sentences.

- Two-stage bootstrap (`two_stage_bootstrap`): each resample first draws runs with replacement
  within each model (S − 1 draws from S runs, so that the resampled mean has the unbiased
  variance s²/S of the observed mean rather than (S − 1)/S of it; runs of A and B that share a
  seed are drawn together, since the seed also drew their validation split), then draws test
  sentences with replacement, the same sentences for every run of both models (the pairing on
  sentences). Resampling both ways of a crossed design is the "pigeonhole" bootstrap (Owen 2007,
  Annals of Applied Statistics 1(2)); it is the two-stage resampling of Davison & Hinkley (1997,
  "Bootstrap Methods and their Application", §3.8) applied to both factors, the recommendation of
  Bouthillier et al. (2021, "Accounting for variance in machine learning benchmarks", MLSys).
  A model with one run (a model scored as it is) has no seed stage: for it only the sentences are
  resampled. Not calibrated (`bench/verdict_calibration.md`): too conservative on the lab split (the
  run × sentence noise counted up to three times) and too liberal with 3–5 seeds when seed luck
  dominates (the percentile seed stage treats their variance as known); the report uses
  `crossed_comparison`, and the bootstrap stays as the baseline the calibration bench compares against.
- CI and p from the same draws: the CI is the percentile interval (order statistics k and
  B − k + 1, k = ⌈B·α/2⌉), and p = 2·min(#{Δ* ≤ 0}, #{Δ* ≥ 0}) / B is the smallest α whose interval
  excludes 0 (the inverted interval). So "the 95% CI excludes 0" and "p < 0.05" never disagree.
  p carries its Monte-Carlo standard error 2·sqrt(q(1 − q)/B), q = p/2.
- The report's comparison (`crossed_comparison`): the same Δ with the unbiased two-way random-effects
  (runs × sentences) variance in two stages, seeds and sentences, each referred to its own estimate's
  distribution (the Behrens–Fisher reference: a t on S − 1 df for the seed stage plus a normal for the
  sentence stage; two models without common seeds, each with several runs, add their seed stages on the
  Welch–Satterthwaite df of the sum, Welch's test for the seed stage), CI and p from that one reference,
  closed form up to a one-dimensional integral; checked by simulation in the settings the report and the curves
  pages use (`bench/verdict_calibration.md`: paired seeds, lab split and 10-fold CV; the unpaired ones in
  `bench/verdict_calibration_unpaired.md`, where referring each model's seed stage to its own t instead over-covers;
  3 seeds × 12,284, a model against one as-is run and a model against its int8 copy in
  `bench/verdict_calibration_one_run.md`). A model against one *trained* run of another is calibrated for that
  run only: read as the other architecture, the run's own seed luck is missing from the interval (simulated: 89%
  coverage, 11% false alarms), which is why such a model is labelled "1 seed: training variance not counted".
- A table of questions (`answer_family`): Holm's adjustment over the table, the verdict reads the Holm
  p, and each row's CI and MDE are at the level Holm decided it at (`holm_levels`), so the printed
  interval and the verdict agree.
- Minimum detectable effect at 80% power: the report's (`crossed_interval_and_p`) is the sum of the
  reference's (1 − α/2) and 0.8 quantiles, at the α the row is decided at (its Holm level in a table);
  the bootstrap's (`paired_comparison`) is (z_{1−α/2} + z_{0.8})·SE = 2.80·SE at α = 0.05, with SE the
  standard deviation of its draws (the normal approximation of a two-sided test).
- The seed-level view: Almost Stochastic Order (Dror et al. 2019) over the per-run scores, ε_min
  from `deepsig.aso` (Ulmer et al. 2022), the reference implementation, at a confidence passed in.

Macro recall and macro F1 are not means over sentences, so a resample is turned into confusion
counts (one matrix product for a batch of resamples) and the metrics computed from the counts.
Every resampling uses a fixed seed (`seed`, default 0) that is returned with the result.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from pipelines.errors import DataError, OptionError
from pipelines.metrics import METRICS as METRIC_TABLE
from pipelines.metrics import confusion_counts, metric_from_counts, metrics_from_counts

ALPHA = 0.05
CONFIDENCE = 0.95
POWER = 0.80
N_RESAMPLES = 10_000
RESAMPLING_SEED = 0
METRICS = tuple(METRIC_TABLE)  # the keys of `pipelines.metrics.METRICS`
BATCH_CELLS = 4_000_000  # resampled patterns held in memory at once: batch × patterns


UNIT_RANGE = (0.0, 1.0)  # where accuracy, F1, recall and ECE live: `bounds` of their intervals


def within(found: dict, bounds: tuple[float | None, float | None] | None) -> dict:
    """`found` with its interval (ci_low, ci_high) cut to the score's range `bounds` (low, high; None: unbounded).
    A t interval of a bounded score can pass the bound (two seeds, t on 1 df: accuracy [−0.87, 1.99]); the score
    cannot, so the cut interval holds the true value exactly as often as the uncut one."""
    if not bounds or found.get("ci_low") is None:
        return found
    low, high = bounds
    cut = dict(found)
    if low is not None:
        cut["ci_low"] = max(cut["ci_low"], low)
    if high is not None:
        cut["ci_high"] = min(cut["ci_high"], high)
    return cut


def summarize(values: Sequence[float], confidence: float = CONFIDENCE, bounds: tuple | None = None) -> dict:
    """n, mean, sample std (ddof=1) and the t interval of the mean (df = n − 1) of per-seed scores, cut to
    `bounds` (`within`; e.g. `UNIT_RANGE` for a metric). One value has no spread: std and the interval are
    None and `note` says "single seed"."""
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
    return within({"n": n, "mean": mean, "std": std, "ci_low": float(low), "ci_high": float(high), "note": ""}, bounds)


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


def minimum_detectable_effect(se: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The true difference a two-sided level-α test detects with probability `power`, for an estimate with
    standard error `se` (normal approximation): (z_{1−α/2} + z_{power})·se, 2.80·se at α = 0.05, power 0.8."""
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)


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
        raise DataError("predictions: an index appears twice; each test sentence must be predicted once per run")
    for frame in ordered[1:]:
        if not np.array_equal(frame["index"].to_numpy(np.int64), index):
            raise DataError("predictions cover different test sentences: a paired comparison needs the same test set")
        if not np.array_equal(frame["label"].to_numpy(np.int64), gold):
            raise DataError("predictions disagree on the gold labels of the same sentences: not the same test set")
    predictions = np.stack([frame["prediction"].to_numpy(np.int64) for frame in ordered])
    if predictions.min(initial=0) < 0 or max(predictions.max(initial=0), gold.max(initial=0)) >= num_labels:
        raise DataError(f"predictions: labels outside 0..{num_labels - 1} (label_names has {num_labels} names)")
    return gold, predictions


class RunScores:
    """Each run's metric under any reweighting of the test sentences.

    Sentences with the same gold label and the same prediction from every run are interchangeable,
    so they are grouped into patterns (a few hundred for real models, at most n). Each pattern adds
    one count per run to cell (run, gold, predicted): a matrix `cells` (patterns, runs·K·K). The
    pattern counts of a batch of resamples (batch, patterns) times `cells` give every resample's
    confusion counts in one matrix product."""

    def __init__(self, gold: np.ndarray, predictions: np.ndarray, metric: str, label_names: Sequence[str]):
        self.k, self.runs, self.n = len(label_names), predictions.shape[0], len(gold)
        self.metric, self.label_names = metric, list(label_names)
        patterns, self.sizes = np.unique(np.vstack([gold, predictions]), axis=1, return_counts=True)
        codes = np.arange(self.runs)[:, None] * self.k * self.k + patterns[0][None, :] * self.k + patterns[1:]  # (runs, P)
        self.cells = np.zeros((patterns.shape[1], self.runs * self.k * self.k), dtype=np.float32)  # counts < 2**24: exact
        self.cells[np.arange(patterns.shape[1])[None, :], codes] = 1.0  # runs own disjoint cells: no two writes collide

    def scores(self, pattern_counts: np.ndarray) -> np.ndarray:
        """(batch, patterns) counts → (batch, runs) metric of every run."""
        counts = (np.asarray(pattern_counts, dtype=np.float32) @ self.cells).reshape(-1, self.runs, self.k, self.k)
        return metrics_from_counts(counts, self.label_names)[self.metric]

    def observed(self) -> np.ndarray:
        """(runs,) the metric of every run on the test set as it is."""
        return self.scores(self.sizes[None, :])[0]

    def resample_sentences(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """(m, runs) metrics after drawing n sentences with replacement: pattern counts ~ Multinomial(n, sizes / n)."""
        return self.scores(rng.multinomial(self.n, self.sizes / self.n, size=m))


def _run_draws(rng: np.random.Generator, m: int, runs: int) -> np.ndarray:
    """(m, draws) run positions: S − 1 draws with replacement from S ≥ 2 runs (unbiased variance of the mean), else run 0."""
    return rng.integers(0, runs, size=(m, runs - 1)) if runs > 1 else np.zeros((m, 1), dtype=np.int64)


def two_stage_bootstrap(
    statistic: RunScores, a_runs: int, b_runs: int, paired: bool, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_resamples,) draws of Δ* = mean metric of A's drawn runs − mean of B's, on resampled sentences.

    Runs 0..a_runs − 1 of `statistic` are A's, the next b_runs B's. `paired`: A's run i and B's run i
    share a seed and are drawn together. Sentences are drawn once per resample for every run (paired
    on sentences)."""
    batch = max(1, BATCH_CELLS // len(statistic.sizes))
    draws = []
    for start in range(0, n_resamples, batch):
        m = min(batch, n_resamples - start)
        scores = statistic.resample_sentences(rng, m)  # (m, runs)
        a_pick = _run_draws(rng, m, a_runs)
        b_pick = a_pick if paired else _run_draws(rng, m, b_runs)
        a_mean = np.take_along_axis(scores[:, :a_runs], a_pick, axis=1).mean(axis=1)
        b_mean = np.take_along_axis(scores[:, a_runs:], b_pick, axis=1).mean(axis=1)
        draws.append(a_mean - b_mean)
    return np.concatenate(draws)


def interval_and_p(draws: np.ndarray, alpha: float = ALPHA) -> dict:
    """Percentile interval and the p-value of its inversion, from the same draws, so that the (1 − α)
    interval excludes 0 exactly when p < α.

    Interval: order statistics k and B − k + 1 (1-based), k = ⌈B·α/2⌉. p = 2·min(#{Δ* ≤ 0}, #{Δ* ≥ 0}) / B,
    capped at 1, with Monte-Carlo standard error 2·sqrt(q(1 − q)/B), q = p/2 (0 at the cap). The interval's low end is
    above 0 iff fewer than k draws are ≤ 0, i.e. iff 2·#{Δ* ≤ 0}/B < α; likewise for the high end."""
    draws = np.sort(np.asarray(draws, dtype=float))
    b = len(draws)
    k = max(1, math.ceil(b * alpha / 2 - 1e-9))
    tail = min(np.count_nonzero(draws <= 0), np.count_nonzero(draws >= 0))
    q = int(tail) / b
    p = min(1.0, 2 * q)
    return {
        "ci_low": float(draws[k - 1]),
        "ci_high": float(draws[b - k]),
        "p_value": p,
        "p_mc_se": float(2 * math.sqrt(q * (1 - q) / b)) if p < 1 else 0.0,  # 1 is a cap, not an estimate
        "se": float(draws.std(ddof=1)) if b > 1 else 0.0,
    }


def _pair_seeds(a_runs: dict, b_runs: dict) -> tuple[list, list, bool]:
    """Seeds both models have are paired (the seed also draws the validation split, so seed s of A and
    B saw the same training data); with fewer than two common seeds every seed of each model is used,
    unpaired, so a single fine-tuned run is compared with all five runs of a GloVe model, not one."""
    common = sorted(set(a_runs) & set(b_runs))
    if len(common) >= 2:
        return common, common, True
    return sorted(a_runs), sorted(b_runs), False


def paired_comparison(
    a_runs: Mapping[int, pd.DataFrame] | Sequence[pd.DataFrame],
    b_runs: Mapping[int, pd.DataFrame] | Sequence[pd.DataFrame],
    metric: str,
    label_names: Sequence[str],
    n_resamples: int = N_RESAMPLES,
    seed: int = RESAMPLING_SEED,
    alpha: float = ALPHA,
) -> dict:
    """Architecture A against architecture B on the same test sentences (the two-stage bootstrap).

    `a_runs`, `b_runs`: the predictions frames ("index", "label", "prediction") of each run, as
    {seed: frame} (a list pairs by position). Seeds both models have are paired, else every seed of each
    is used. Returns Δ = A − B of `metric` (per run, averaged over runs), its 95% CI and the p-value of
    the same bootstrap draws, p's Monte-Carlo SE, the bootstrap SE and the minimum detectable effect,
    the verdict at `alpha` on the raw p, each run's score, and what was resampled.
    Raises `DataError` for runs on different test sentences, `OptionError` for an unknown metric."""
    a_runs, b_runs = _seed_map(a_runs), _seed_map(b_runs)
    if not a_runs or not b_runs:
        raise DataError("paired_comparison needs at least one run of each model")
    a_seeds, b_seeds, paired = _pair_seeds(a_runs, b_runs)
    k = len(label_names)
    if metric not in metrics_from_counts(np.zeros((k, k)), label_names):
        raise OptionError(f"unknown metric {metric!r} for labels {list(label_names)}; choose one of: {', '.join(METRICS)}")
    gold, predictions = _aligned([a_runs[s] for s in a_seeds] + [b_runs[s] for s in b_seeds], k)
    statistic = RunScores(gold, predictions, metric, label_names)
    scores = statistic.observed()
    a_scores, b_scores = scores[: len(a_seeds)], scores[len(a_seeds) :]
    difference = float(a_scores.mean() - b_scores.mean())
    draws = two_stage_bootstrap(statistic, len(a_seeds), len(b_seeds), paired, n_resamples, np.random.default_rng(seed))
    found = interval_and_p(draws, alpha)
    stages = [name for name, runs in (("A", len(a_seeds)), ("B", len(b_seeds))) if runs == 1]
    return {
        "metric": metric,
        "difference": difference,
        **found,
        "mde": minimum_detectable_effect(found["se"], alpha),
        "verdict": verdict(difference, found["p_value"], alpha),
        "a_mean": float(a_scores.mean()),
        "b_mean": float(b_scores.mean()),
        "a_scores": a_scores.tolist(),
        "b_scores": b_scores.tolist(),
        "a_seeds": a_seeds,
        "b_seeds": b_seeds,
        "paired_seeds": paired,
        "resampled": "runs and sentences" if not stages else f"sentences only for {' and '.join(stages)} (one run)",
        "test_sentences": len(gold),
        "n_resamples": n_resamples,
        "resampling_seed": seed,
    }


METHOD = ("Behrens–Fisher reference (t on S − 1 df for the seed stage, normal for the sentence stage), unbiased "
          "two-way random-effects (runs × sentences) variance")
ASO_MIN_RUNS = 5  # fewer runs per model and ε_min's bootstrap over run scores means little (Ulmer et al. 2022, §5)


def almost_stochastic_order(
    a_scores: Sequence[float], b_scores: Sequence[float], confidence: float, seed: int = RESAMPLING_SEED, iterations: int = 1000
) -> float | None:
    """ε_min of Almost Stochastic Order (Dror et al. 2019) that A's run scores dominate B's, from
    `deepsig.aso` (Ulmer et al. 2022) at `confidence`, passed explicitly (deepsig's own multiplicity option
    barely moves it): the smallest ε for which A is ε-almost stochastically larger; 0 means A dominates,
    below 0.5 A is almost stochastically better, 1 means no sign of A dominating (not that B dominates:
    ask the other direction). None when a model has fewer than `ASO_MIN_RUNS` runs, or when ε is undefined
    (the same score in every run of both). The test sentences are held fixed: it reads the runs only."""
    if min(len(a_scores), len(b_scores)) < ASO_MIN_RUNS:
        return None
    from deepsig import aso  # imports torch: only when asked

    with warnings.catch_warnings():  # equal scores: deepsig warns of a zero division and the ε it returns is not a number
        warnings.simplefilter("ignore", UserWarning)
        epsilon = float(aso(np.asarray(a_scores), np.asarray(b_scores), confidence_level=confidence,
                            num_bootstrap_iterations=iterations, seed=seed, show_progress=False))  # fmt: skip
    return None if math.isnan(epsilon) else epsilon


def holm_levels(p_values: Sequence[float], alpha: float = ALPHA) -> list[float]:
    """The level at which Holm's step-down procedure decides each question: α/(m − r) for the question
    of rank r (0-based, smallest p first) while every smaller p was rejected, and α/(m − r₀) for every
    question at or after the first step r₀ that is not rejected (the procedure stops there). A (1 − level)
    interval from the same test excludes 0 exactly when the Holm p is below α."""
    m = len(p_values)
    levels = [alpha] * m
    stopped = None
    for rank, i in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        if stopped is None and p_values[i] >= alpha / (m - rank):
            stopped = rank
        levels[i] = alpha / (m - (rank if stopped is None else stopped))
    return levels


def answer_family(compute: Sequence[Callable[[float], dict]], alpha: float = ALPHA) -> list[dict]:
    """The questions of one table, Holm over them: `compute[i](level)` returns `crossed_comparison`'s dict
    for question i with its CI and MDE at `level`.

    Adds "holm_p", "family_size" and "ci_alpha" (`holm_levels`), and recomputes each row's CI and MDE at
    its Holm level, so the printed interval excludes 0 exactly when the verdict, which reads the Holm p,
    finds a difference."""
    p_values = [function(alpha)["p_value"] for function in compute]
    adjusted, levels = holm(p_values), holm_levels(p_values, alpha)
    results = []
    for function, p, level in zip(compute, adjusted, levels):
        result = function(level)
        result.update(holm_p=p, family_size=len(compute), ci_alpha=level, verdict=verdict(result["difference"], p, alpha))
        results.append(result)
    return results


def sentence_values(gold: np.ndarray, predictions: np.ndarray, metric: str, label_names: Sequence[str]) -> np.ndarray:
    """(runs, n) per-sentence values whose mean over the n sentences is each run's `metric`.

    The delta method (influence function): value = metric + n·∂metric/∂count of the sentence's
    (gold, predicted) cell, the derivative by central differences on the confusion counts. Exact for
    accuracy (the value is 1 for a right answer, 0 for a wrong one); a first-order linearization for the
    macro metrics and a class's recall (`metric_from_counts`). `gold` (n,), `predictions` (runs, n) as label ids."""
    k, n = len(label_names), len(gold)
    counts = np.stack([confusion_counts(gold, row, k) for row in predictions]).astype(float)  # (runs, K, K)
    step = 1e-3 * n
    bumps = np.eye(k * k).reshape(k * k, k, k) * step  # (K·K, K, K)
    up = metric_from_counts(counts[:, None] + bumps, metric, label_names)  # (runs, K·K)
    down = metric_from_counts(counts[:, None] - bumps, metric, label_names)
    gradient = (up - down) / (2 * step)
    observed = metric_from_counts(counts, metric, label_names)  # (runs,)
    influence = n * np.take_along_axis(gradient, gold[None, :] * k + predictions, axis=1)  # (runs, n)
    # Its mean is 0 (the metrics are scale-free in the counts: Euler); centring removes the difference's rounding.
    return observed[:, None] + influence - influence.mean(axis=1, keepdims=True)


@dataclass(frozen=True)
class CrossedVariance:
    """Var(Δ̂) of a runs × sentences estimate as two independent stages, each with its own degrees of freedom.

    `seed`: the seed stage, Σ_groups s²(run means)/S, in (metric units)²; `seed_df`: its df, S − 1 of its
    group (Welch–Satterthwaite over two unpaired groups, Welch 1947: calibrated by simulation there,
    `bench/verdict_calibration_unpaired.md`); 0 when no group has two runs.
    `sentences`: the sentence stage, (MS_D − Σ_groups MS_interaction/S)/n truncated at 0; `sentence_df`: n − 1."""

    seed: float
    seed_df: float
    sentences: float
    sentence_df: int

    @property
    def total(self) -> float:
        return self.seed + self.sentences


def crossed_variance(a_values: np.ndarray, b_values: np.ndarray, paired: bool) -> CrossedVariance:
    """Var(Δ̂) of Δ̂ = mean(a_values) − mean(b_values), runs × sentences crossed, by stage (`CrossedVariance`).

    `a_values` (S_A, n), `b_values` (S_B, n): per-sentence values of each run (`sentence_values`), the
    same n sentences. Two-way random-effects ANOVA (runs × sentences), unbiased by the expected mean
    squares, written as two independent parts: the seed stage Σ_groups s²(run means)/S (each group's
    spread of its run scores, S − 1 df, which holds the run effect and each run's luck on its sentences)
    plus the sentence stage (MS_D − Σ_groups MS_interaction/S)/n, truncated at 0 (n − 1 df: the sentence
    effect shared by every run), MS_D the variance over sentences of the per-sentence difference of run
    means. The groups are the paired differences (`paired`: run s of A and B share seed s) or A's and B's
    runs apart (a one-run group has no seed stage: its training variance cannot be estimated, its luck on
    sentences stays in MS_D)."""
    n = a_values.shape[1]
    per_sentence = a_values.mean(axis=0) - b_values.mean(axis=0)
    seed_parts, interaction = [], 0.0
    for group in [a_values - b_values] if paired else [a_values, b_values]:
        runs = group.shape[0]
        if runs < 2:
            continue
        run_means, sentence_means = group.mean(axis=1), group.mean(axis=0)
        residual = group - run_means[:, None] - sentence_means[None, :] + group.mean()
        interaction += (residual**2).sum() / ((runs - 1) * (n - 1)) / runs  # MS_interaction / S
        seed_parts.append((run_means.var(ddof=1) / runs, runs - 1))
    seed = sum(part for part, _ in seed_parts)
    if len(seed_parts) == 2 and seed > 0:  # two unpaired groups: Welch–Satterthwaite df of their sum
        seed_df = seed**2 / sum(part**2 / df for part, df in seed_parts)
    else:
        seed_df = min((df for _, df in seed_parts), default=0)
    sentences = max(0.0, (per_sentence.var(ddof=1) - interaction) / n)
    return CrossedVariance(float(seed), float(seed_df), float(sentences), n - 1)


@functools.lru_cache(maxsize=64)
def chi2_nodes(df: float, points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Nodes u (points,) and weights (points,) of E[g(U)], U = χ²_df/df: the trapezoid rule in log u between the
    10⁻¹⁵ and 1 − 10⁻¹⁵ quantiles (an analytic integrand, so the rule converges fast; at 2,000 points tail p agree
    with `scipy.stats.t` to 10⁻¹⁰ relative)."""
    low, high = stats.chi2.ppf([1e-15, 1 - 1e-15], df) / df
    log_u = np.linspace(math.log(low), math.log(high), points)
    u = np.exp(log_u)
    weights = np.exp(stats.chi2.logpdf(u * df, df) + math.log(df) + log_u) * (log_u[1] - log_u[0])
    return u, weights


def behrens_fisher_tail(x: float, variance: CrossedVariance) -> float:
    """P(|W| ≥ |x|) for W = sqrt(seed)·T_{seed_df} + sqrt(sentences)·Z, the Behrens–Fisher reference of Δ̂ − Δ.

    Each stage is referred to its own estimate's distribution: the seed stage, estimated from S − 1 df, as a
    t; the sentence stage, from n − 1 (hundreds to thousands), as known. Computed as E_U[2Φ(−|x| /
    sqrt(seed/U + sentences))], U = χ²_{seed_df}/seed_df (given U, W is normal). Without a seed stage W is
    sqrt(sentences)·T_{n − 1}, a t test over the sentences."""
    x = abs(x)
    if variance.seed == 0 or variance.seed_df == 0:
        return float(2 * stats.t.sf(x / math.sqrt(variance.sentences), variance.sentence_df))
    u, weights = chi2_nodes(variance.seed_df)
    return float(weights @ (2 * special.ndtr(-x / np.sqrt(variance.seed / u + variance.sentences))))


def _behrens_fisher_quantile(probability: float, variance: CrossedVariance) -> float:
    """The x > 0 with P(W ≥ x) = 1 − probability (`probability` > 0.5), W of `behrens_fisher_tail`."""
    tail = 2 * (1 - probability)
    high = float(stats.t.ppf(probability, max(variance.seed_df, 1))) * math.sqrt(variance.total)
    while behrens_fisher_tail(high, variance) > tail:
        high *= 2
    return float(optimize.brentq(lambda x: behrens_fisher_tail(x, variance) - tail, 0.0, high, xtol=1e-12 * high))


def crossed_interval_and_p(difference: float, variance: CrossedVariance, alpha: float = ALPHA, power: float = POWER) -> dict:
    """The interval Δ ± h, h the (1 − α/2) quantile of the Behrens–Fisher reference (`behrens_fisher_tail`),
    and the p-value P(|W| ≥ |Δ|) of the same reference, so the interval excludes 0 exactly when p < α; the
    minimum detectable effect is the sum of its (1 − α/2) and `power` quantiles (the t test's formula).
    Returns {ci_low, ci_high, p_value, se = sqrt(total), mde, df (the seed stage's, else n − 1), seed_share}.

    Why this reference (`bench/verdict_calibration.md`): the seed stage's variance is estimated from S − 1 =
    2–4 df, the sentence stage's from hundreds to thousands. A t on S − 1 df for the sum (the rule before)
    overstates the tails where the sentence stage is large (coverage up to 99.6% on the lab split); a
    Welch–Satterthwaite df (Satterthwaite 1946) grows exactly when the seed stage happens to come out small,
    and is liberal (coverage down to 90.6%). The Behrens–Fisher reference, the fiducial interval of Fisher
    (1935, Annals of Eugenics 6) and the posterior under reference priors (Box & Tiao 1973, "Bayesian
    Inference in Statistical Analysis", §2.5), gives each stage its own distribution and errs on the
    conservative side (Robinson 1976, Annals of Statistics 4(5)): in every setting simulated where each model's
    seed luck is estimated (two or more runs) or absent (an as-is model, or the one run a question is about), false
    alarms ≤ 7% and coverage 93–98% per simulation seed (one cell 7.2% ± 1.2), 94–97.5% pooled over seeds
    (`bench/verdict_calibration_one_run.md` also shows the liberal case: one trained run read as its architecture)."""
    se = math.sqrt(variance.total)
    df = variance.seed_df if variance.seed > 0 else variance.sentence_df
    found = {"se": se, "df": float(df), "seed_share": variance.seed / variance.total if se > 0 else 0.0}
    if se == 0:
        return {"ci_low": difference, "ci_high": difference, "p_value": 1.0 if difference == 0 else 0.0, "mde": 0.0, **found}
    half = _behrens_fisher_quantile(1 - alpha / 2, variance)
    mde = half + _behrens_fisher_quantile(power, variance)
    p_value = behrens_fisher_tail(difference, variance)
    return {"ci_low": difference - half, "ci_high": difference + half, "p_value": p_value, "mde": mde, **found}


def crossed_comparison(
    a_runs: Mapping[int, pd.DataFrame] | Sequence[pd.DataFrame],
    b_runs: Mapping[int, pd.DataFrame] | Sequence[pd.DataFrame],
    metric: str,
    label_names: Sequence[str],
    alpha: float = ALPHA,
) -> dict:
    """Architecture A against B on the same test sentences: the calibrated, closed-form comparison.

    Δ = A − B of `metric` (per run, averaged over runs; `metric_from_counts`: a key of `metrics_from_counts`
    or "recall:<label name>"), its unbiased runs × sentences variance by stage (`crossed_variance`), and the
    interval and p of one Behrens–Fisher reference (`crossed_interval_and_p`).
    Why not the two-stage bootstrap: resampling both factors of a crossed design counts the run ×
    sentence interaction up to three times (Owen 2007, Annals of Applied Statistics 1(2)), and its
    percentile seed stage treats 3–5 runs' variance as known; the expected-mean-squares estimate counts
    each component once and the Behrens–Fisher reference gives the seed stage its S − 1 degrees of freedom
    (`bench/verdict_calibration.md`; two unpaired models: `CrossedVariance.seed_df`). Seeds pair as in `paired_comparison`. Raises `DataError` for runs on
    different test sentences, `OptionError` for an unknown metric."""
    a_runs, b_runs = _seed_map(a_runs), _seed_map(b_runs)
    if not a_runs or not b_runs:
        raise DataError("crossed_comparison needs at least one run of each model")
    a_seeds, b_seeds, paired = _pair_seeds(a_runs, b_runs)
    k = len(label_names)
    metric_from_counts(np.zeros((k, k)), metric, label_names)  # an unknown metric: `OptionError` before any work
    gold, predictions = _aligned([a_runs[s] for s in a_seeds] + [b_runs[s] for s in b_seeds], k)
    values = sentence_values(gold, predictions, metric, label_names)  # (runs, n)
    a_values, b_values = values[: len(a_seeds)], values[len(a_seeds) :]
    difference = float(a_values.mean() - b_values.mean())
    found = crossed_interval_and_p(difference, crossed_variance(a_values, b_values, paired), alpha=alpha)
    return {
        "metric": metric,
        "difference": difference,
        **found,
        "verdict": verdict(difference, found["p_value"], alpha),
        "a_mean": float(a_values.mean()),
        "b_mean": float(b_values.mean()),
        "a_scores": a_values.mean(axis=1).tolist(),
        "b_scores": b_values.mean(axis=1).tolist(),
        "a_seeds": a_seeds,
        "b_seeds": b_seeds,
        "paired_seeds": paired,
        "test_sentences": len(gold),
        "method": METHOD,
    }


def score_interval(gold, predictions, metric: str, label_names: Sequence[str], alpha: float = ALPHA) -> dict:
    """One model's `metric` on a test set, mean over its runs, with the calibrated interval of `crossed_comparison`.

    `gold` (n,) label ids, `predictions` (runs, n) or (n,) for one run, the same sentences in the same order.
    The variance is `crossed_variance` of the model against a constant: the seed stage s²(run scores)/S and
    the sentence stage (MS over sentences of the run-mean values − MS_interaction/S)/n, the Behrens–Fisher
    reference of `crossed_interval_and_p`; one run has no seed stage (sentence variance only, t on n − 1 df:
    its training variance is not counted, and `method` says so). Returns {metric, mean, ci_low, ci_high, se,
    df, runs, method}. Raises `OptionError` for a metric these labels lack, `DataError` when a run's predictions
    do not match `gold` in length."""
    gold = np.asarray(gold, dtype=np.int64)
    predictions = np.atleast_2d(np.asarray(predictions, dtype=np.int64))  # (runs, n)
    k = len(label_names)
    if metric not in metrics_from_counts(np.zeros((k, k)), label_names):
        raise OptionError(f"unknown metric {metric!r} for labels {list(label_names)}; choose one of: {', '.join(METRICS)}")
    if predictions.shape[1] != len(gold):
        raise DataError(f"score_interval: {predictions.shape[1]} predictions per run for {len(gold)} gold labels")
    found = values_interval(sentence_values(gold, predictions, metric, label_names), alpha=alpha, bounds=UNIT_RANGE)  # (runs, n)
    one_run = "t over test sentences (1 run: training variance not counted)"
    return {"metric": metric, **found, "method": f"{METHOD} ({found['runs']} runs)" if found["runs"] > 1 else one_run}


def values_interval(values: np.ndarray, point: float | None = None, alpha: float = ALPHA, bounds: tuple | None = None) -> dict:
    """The interval of one model's score from per-sentence values, `score_interval`'s procedure for any score.

    `values` (runs, n): each run's values on the same n sentences, whose mean over sentences is the run's score
    (`sentence_values` for a metric; a calibration score's exact or delta-method values, `pipelines.report.calibration`).
    `point`: the score, when it is not the mean of `values` (a library's binned ECE: the values then give its variance
    only); default their mean. The variance is `crossed_variance` against a constant (no variance of its own), the
    reference `crossed_interval_and_p`'s; the interval is cut to the score's range `bounds` (`within`). Returns
    {mean, ci_low, ci_high, se, df, runs}."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    mean = float(values.mean()) if point is None else float(point)
    found = crossed_interval_and_p(mean, crossed_variance(values, np.zeros((1, values.shape[1])), paired=False), alpha=alpha)
    return within({"mean": mean, "ci_low": found["ci_low"], "ci_high": found["ci_high"], "se": found["se"], "df": found["df"],
                   "runs": len(values)}, bounds)  # fmt: skip
