"""Do the report's comparisons mean what they say? Coverage and false alarms over simulated studies.

`python -m bench.verdict_calibration [--studies 300] [--resamples 2000] [--output bench/verdict_calibration.md]`

Each simulated study has two architectures, 5 training runs (seeds) each, tested on the same 662
sentences (MR's lab test set). Run s of architecture m gets sentence i right with probability
Φ(μ_m + τ·z_i + τ_own·w_mi + v_ms): z_i a sentence effect shared by both architectures (some
sentences are hard for every model), w_mi one of each architecture (what one architecture finds
hard and the other does not), v_ms ~ N(0, σ_v) the run's luck (seed), and the draw itself the
run's sentence-level noise. σ_v is set so that the standard deviation of run accuracy over seeds
is 0, 0.014 or 0.023 (the issue's figures for MR). The architecture-level accuracy is
Φ(μ_m / sqrt(1 + τ² + τ_own² + σ_v²)) exactly, so the true difference is known: 0.02 (0.80 vs 0.78)
for coverage, 0 (0.79 both) for the false-alarm rate.

For each study `pipelines.statistics.paired_comparison` (the two-stage bootstrap the report uses)
gives a 95% CI and p; beside it, the procedure the report used before (sentences resampled, runs
held fixed). Goals (issue 17): coverage 93–97%, rejection under the null ≤ 7%.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from pipelines.statistics import RunScores, interval_and_p, paired_comparison

SENTENCES, SEEDS = 662, 5
TAU, TAU_OWN = 1.5, 0.6  # probit scale: sentence difficulty shared, and per architecture
SEED_SDS = (0.0, 0.014, 0.023)  # standard deviation of run accuracy over seeds
ALTERNATIVE, NULL = (0.80, 0.78), (0.79, 0.79)
NAMES = ["negative", "positive"]
HERMITE = np.polynomial.hermite_e.hermegauss(60)  # nodes and weights for expectations over N(0, 1)


def run_accuracy_sd(sigma_v: float, accuracy: float) -> float:
    """SD over seeds of a run's population accuracy Φ((μ + v)/sqrt(1 + τ² + τ_own²)), v ~ N(0, σ_v)."""
    spread = np.sqrt(1 + TAU**2 + TAU_OWN**2)
    mu = stats.norm.ppf(accuracy) * np.sqrt(spread**2 + sigma_v**2)
    nodes, weights = HERMITE
    values = stats.norm.cdf((mu + sigma_v * nodes) / spread)
    mean = weights @ values / weights.sum()
    return float(np.sqrt(weights @ (values - mean) ** 2 / weights.sum()))


def seed_sigma(target_sd: float) -> float:
    """σ_v (probit scale) that gives run accuracies this SD over seeds, at accuracy 0.79."""
    if target_sd == 0:
        return 0.0
    return float(optimize.brentq(lambda s: run_accuracy_sd(s, 0.79) - target_sd, 1e-6, 3.0))


def simulate(rng: np.random.Generator, accuracies: tuple[float, float], sigma_v: float) -> tuple[dict, dict]:
    """One study: {seed: predictions frame} of architecture A and of B."""
    labels = rng.integers(0, 2, SENTENCES)
    shared = TAU * rng.standard_normal(SENTENCES)
    runs = []
    for accuracy in accuracies:
        mu = stats.norm.ppf(accuracy) * np.sqrt(1 + TAU**2 + TAU_OWN**2 + sigma_v**2)
        own = TAU_OWN * rng.standard_normal(SENTENCES)
        luck = rng.normal(0.0, sigma_v, size=(SEEDS, 1)) if sigma_v else np.zeros((SEEDS, 1))
        right = rng.random((SEEDS, SENTENCES)) < stats.norm.cdf(mu + shared + own + luck)
        predictions = np.where(right, labels, 1 - labels)
        runs.append({s: pd.DataFrame({"index": np.arange(SENTENCES), "label": labels, "prediction": predictions[s]}) for s in range(SEEDS)})
    return runs[0], runs[1]


def runs_fixed(a: dict, b: dict, resamples: int, seed: int) -> dict:
    """The report's old procedure: sentences resampled, each model's runs held fixed."""
    frames = [*a.values(), *b.values()]
    gold = frames[0]["label"].to_numpy()
    statistic = RunScores(gold, np.stack([f["prediction"].to_numpy() for f in frames]), "accuracy", NAMES)
    scores = statistic.resample_sentences(np.random.default_rng(seed), resamples)
    return interval_and_p(scores[:, :SEEDS].mean(axis=1) - scores[:, SEEDS:].mean(axis=1))


def calibrate(seed_sd: float, studies: int, resamples: int, rng: np.random.Generator) -> dict:
    sigma_v = seed_sigma(seed_sd)
    truth = ALTERNATIVE[0] - ALTERNATIVE[1]
    tally = {key: [] for key in ("covered", "rejected", "width", "mde", "old_covered", "old_rejected")}
    for study in range(studies):
        a, b = simulate(rng, ALTERNATIVE, sigma_v)
        result = paired_comparison(a, b, "accuracy", NAMES, n_resamples=resamples, seed=study)
        old = runs_fixed(a, b, resamples, study)
        tally["covered"].append(result["ci_low"] <= truth <= result["ci_high"])
        tally["old_covered"].append(old["ci_low"] <= truth <= old["ci_high"])
        tally["width"].append(result["ci_high"] - result["ci_low"])
        tally["mde"].append(result["mde"])
        a, b = simulate(rng, NULL, sigma_v)
        tally["rejected"].append(paired_comparison(a, b, "accuracy", NAMES, n_resamples=resamples, seed=study)["p_value"] < 0.05)
        tally["old_rejected"].append(runs_fixed(a, b, resamples, study)["p_value"] < 0.05)
    return {"seed_sd": seed_sd, "sigma_v": sigma_v, **{key: float(np.mean(values)) for key, values in tally.items()}}


def share(value: float, studies: int) -> str:
    return f"{100 * value:.1f}% ± {100 * np.sqrt(value * (1 - value) / studies):.1f}"


def markdown(rows: list[dict], args: argparse.Namespace, seconds: float) -> str:
    lines = [
        "# Verdict calibration: coverage and false alarms of the report's comparisons",
        "",
        f"Command: `nice -n 10 python -m bench.verdict_calibration --studies {args.studies} --resamples {args.resamples} --seed {args.seed}"
        + (f" --output {args.output}" if args.output else "") + "` "
        f"({seconds:.0f} s on a shared 2-core machine).",
        "",
        f"{args.studies} simulated studies per row (and as many under the null): 2 architectures × {SEEDS} seeds on "
        f"{SENTENCES} test sentences; true accuracies {ALTERNATIVE[0]} vs {ALTERNATIVE[1]} for coverage, {NULL[0]} both for "
        f"the null; sentence effects τ = {TAU} (shared), τ_own = {TAU_OWN} (per architecture); {args.resamples:,} bootstrap "
        "resamples. See the module docstring for the model. ± is the binomial standard error over studies. Goals: coverage "
        "93–97%, rejection under the null ≤ 7%.",
        "",
        "Where the two-stage bootstrap misses the coverage goal it errs on the safe side: with no seed variance at all "
        "(SD 0) both stages count each run's luck on particular sentences, which the crossed-design bootstrap counts up to "
        "three times (Owen 2007), so the interval is wider than it needs to be. A method-of-moments correction of that "
        "(the seed stage shrunk to the estimated seed variance component) was tried and dropped: with 5 seeds it let the "
        "false-alarm rate rise above 7% at SD 0.023 (a 60-study preview: 10%).",
        "",
        "| seed SD of accuracy | σ_v (probit) | coverage, two-stage | rejection under null, two-stage | mean CI width | mean MDE (80% power) "
        "| coverage, runs held fixed (old) | rejection under null, runs held fixed (old) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed_sd']:.3f} | {r['sigma_v']:.3f} | {share(r['covered'], args.studies)} | {share(r['rejected'], args.studies)} "
            f"| {r['width']:.4f} | {r['mde']:.4f} | {share(r['old_covered'], args.studies)} | {share(r['old_rejected'], args.studies)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.verdict_calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=300, help="simulated studies per seed SD (default 300)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples per comparison (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulation (default 0)")
    parser.add_argument("--seed_sds", default=",".join(map(str, SEED_SDS)), help="seed SDs of accuracy, comma-separated")
    parser.add_argument("--output", help="also write the table here (markdown)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    rows = [calibrate(float(sd), args.studies, args.resamples, rng) for sd in args.seed_sds.split(",")]
    text = markdown(rows, args, time.perf_counter() - start)
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
