"""Do the report's comparisons mean what they say? Coverage, false alarms and power over simulated studies.

`python -m bench.verdict_calibration [--studies 500] [--old_studies 100] [--resamples 1000] [--seed 0]`

Each simulated study has two architectures trained with the same seeds (paired), tested on the same
sentences. Run s of architecture m gets sentence i right with probability
Φ(μ_m + τ·z_i + τ_own·w_mi + v_ms + f_msk): z_i a sentence effect shared by both architectures (some
sentences are hard for every model), w_mi one of each architecture, v_ms ~ N(0, σ_v) the run's luck
(seed), f_msk ~ N(0, σ_f) the luck of the model trained for fold k (cross-validation only: each seed's
10 fold models predict one tenth of the sentences each, folds drawn by the seed and shared by A and B;
"independent" gives every fold model its own luck, "shared" one luck per seed), and the draw itself
the run's sentence-level noise ("matched" architectures draw it with the same uniform for run s of A
and B, and τ_own is small: correlated predictions). The architecture-level accuracy is
Φ(μ_m / sqrt(1 + τ² + τ_own² + σ_v² + σ_f²)) exactly, so the true difference is known: 0.02 (0.80 vs
0.78) for coverage and power, 0 (0.79 both) for false alarms. σ_v (σ_f) is set so that a run's (a fold
model's) population accuracy has the stated SD over seeds.

For each study the calibrated comparison (`pipelines.statistics.crossed_comparison`: unbiased two-way
random-effects variance, t on S − 1 df) gives a 95% CI and p on every study; today's two-stage
bootstrap (`paired_comparison`, what the report uses) runs on the first `--old_studies` of them (it costs
about a second a comparison). Goals (issue 27): coverage 93–97%, false alarms ≤ 7%, in every setting.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from pipelines.statistics import crossed_comparison, paired_comparison

TAU, TAU_OWN = 1.5, 0.6  # probit scale: sentence difficulty shared, and per architecture
ALTERNATIVE, NULL = (0.80, 0.78), (0.79, 0.79)
NAMES = ["negative", "positive"]
HERMITE = np.polynomial.hermite_e.hermegauss(60)  # nodes and weights for expectations over N(0, 1)


@dataclass(frozen=True)
class Setting:
    name: str
    sentences: int = 662  # MR's lab test set
    seeds: int = 5
    seed_sd: float = 0.0  # SD over seeds of a run's population accuracy
    folds: int | None = None  # cross-validation: every sentence predicted once per seed, by its fold's model
    fold_sd: float = 0.0  # SD of a fold model's population accuracy
    fold_shared: bool = False  # one fold luck per seed (all its folds), instead of one per fold model
    tau_own: float = TAU_OWN
    matched: bool = False  # A's and B's run s draw their sentence-level noise with the same uniforms


SETTINGS = (
    Setting("lab split, 5 seeds × 662, seed SD 0"),
    Setting("lab split, 5 seeds × 662, seed SD 0.014", seed_sd=0.014),
    Setting("lab split, 5 seeds × 662, seed SD 0.023", seed_sd=0.023),
    Setting("10-fold CV × 3 seeds (10,662), fold SD 0.023 independent", sentences=10_662, seeds=3, folds=10, fold_sd=0.023),
    Setting("10-fold CV × 3 seeds (10,662), fold SD 0.023 shared within a seed", sentences=10_662, seeds=3, folds=10, fold_sd=0.023, fold_shared=True),
    Setting("5 seeds × 12,284, seed SD 0.010", sentences=12_284, seed_sd=0.010),
    Setting("3 seeds × 662, seed SD 0.023", seeds=3, seed_sd=0.023),
    Setting("matched architectures, 5 seeds × 662, seed SD 0.014", seed_sd=0.014, tau_own=0.1, matched=True),
)


def run_accuracy_sd(sigma_v: float, accuracy: float, tau_own: float = TAU_OWN) -> float:
    """SD over seeds of a run's population accuracy Φ((μ + v)/sqrt(1 + τ² + τ_own²)), v ~ N(0, σ_v)."""
    spread = np.sqrt(1 + TAU**2 + tau_own**2)
    mu = stats.norm.ppf(accuracy) * np.sqrt(spread**2 + sigma_v**2)
    nodes, weights = HERMITE
    values = stats.norm.cdf((mu + sigma_v * nodes) / spread)
    mean = weights @ values / weights.sum()
    return float(np.sqrt(weights @ (values - mean) ** 2 / weights.sum()))


def seed_sigma(target_sd: float, tau_own: float = TAU_OWN) -> float:
    """σ (probit scale) that gives run accuracies this SD over seeds, at accuracy 0.79."""
    if target_sd == 0:
        return 0.0
    return float(optimize.brentq(lambda s: run_accuracy_sd(s, 0.79, tau_own) - target_sd, 1e-6, 3.0))


def run_luck(rng: np.random.Generator, setting: Setting, sigma_v: float, sigma_f: float, folds: np.ndarray) -> np.ndarray:
    """(seeds, sentences) probit shift of each run on each sentence: seed luck plus its fold model's luck."""
    luck = np.repeat(rng.normal(0.0, sigma_v, size=(setting.seeds, 1)), setting.sentences, axis=1)
    if setting.folds:
        per_fold = rng.normal(0.0, sigma_f, size=(setting.seeds, 1 if setting.fold_shared else setting.folds))
        luck += np.take_along_axis(per_fold, folds if not setting.fold_shared else np.zeros_like(folds), axis=1)
    return luck


def simulate(rng: np.random.Generator, setting: Setting, accuracies: tuple[float, float], sigmas: tuple[float, float]) -> tuple[dict, dict]:
    """One study: {seed: predictions frame} of architecture A and of B."""
    n, sigma_v, sigma_f = setting.sentences, *sigmas
    labels = rng.integers(0, 2, n)
    shared = TAU * rng.standard_normal(n)
    folds = np.stack([rng.permutation(n) % setting.folds for _ in range(setting.seeds)]) if setting.folds else None
    uniforms = rng.random((setting.seeds, n))
    runs = []
    for accuracy in accuracies:
        mu = stats.norm.ppf(accuracy) * np.sqrt(1 + TAU**2 + setting.tau_own**2 + sigma_v**2 + sigma_f**2)
        own = setting.tau_own * rng.standard_normal(n)
        draws = uniforms if setting.matched else rng.random((setting.seeds, n))
        right = draws < stats.norm.cdf(mu + shared + own + run_luck(rng, setting, sigma_v, sigma_f, folds))
        predictions = np.where(right, labels, 1 - labels)
        runs.append({s: pd.DataFrame({"index": np.arange(n), "label": labels, "prediction": predictions[s]}) for s in range(setting.seeds)})
    return runs[0], runs[1]


def calibrate(setting: Setting, studies: int, old_studies: int, resamples: int, rng: np.random.Generator) -> dict:
    """Coverage and power at a true 0.02, false alarms at 0, of the calibrated test and of the bootstrap."""
    sigmas = (seed_sigma(setting.seed_sd, setting.tau_own), seed_sigma(setting.fold_sd, setting.tau_own))
    truth = ALTERNATIVE[0] - ALTERNATIVE[1]
    tally = {key: [] for key in ("covered", "power", "rejected", "width", "df", "old_covered", "old_power", "old_rejected")}
    for study in range(studies):
        for accuracies in (ALTERNATIVE, NULL):
            a, b = simulate(rng, setting, accuracies, sigmas)
            found = [crossed_comparison(a, b, "accuracy", NAMES)]
            if study < old_studies:
                found.append(paired_comparison(a, b, "accuracy", NAMES, n_resamples=resamples, seed=study))
            for prefix, result in zip(("", "old_"), found):
                if accuracies == NULL:
                    tally[prefix + "rejected"].append(result["p_value"] < 0.05)
                    continue
                tally[prefix + "covered"].append(result["ci_low"] <= truth <= result["ci_high"])
                tally[prefix + "power"].append(result["ci_low"] > 0)
            if accuracies == ALTERNATIVE:
                tally["width"].append(found[0]["ci_high"] - found[0]["ci_low"])
                tally["df"].append(found[0]["df"])
    return {"setting": setting.name, **{key: float(np.mean(values)) if values else float("nan") for key, values in tally.items()}}


def share(value: float, studies: int) -> str:
    return f"{100 * value:.1f}% ± {100 * np.sqrt(value * (1 - value) / studies):.1f}" if studies else "–"


def markdown(rows: list[dict], args: argparse.Namespace, seconds: float) -> str:
    lines = [
        "# Verdict calibration: coverage, false alarms and power of the report's comparisons",
        "",
        f"Command: `OMP_NUM_THREADS=1 python -m bench.verdict_calibration --studies {args.studies} --old_studies {args.old_studies} "
        f"--resamples {args.resamples} --seed {args.seed}" + (f" --output {args.output}" if args.output else "") + "` "
        f"({seconds:.0f} s on a shared 2-core machine, one core).",
        "",
        f"Per setting {args.studies} simulated studies with a true difference of 2 points ({ALTERNATIVE[0]} vs {ALTERNATIVE[1]}: "
        f"coverage of the 95% CI, power = CI above 0) and as many with none ({NULL[0]} both: false alarms, p < 0.05); "
        f"sentence effects τ = {TAU} (shared), τ_own = {TAU_OWN} per architecture (0.1 when matched). The calibrated test "
        "(`crossed_comparison`) runs on every study; today's two-stage bootstrap (`paired_comparison`, "
        f"{args.resamples:,} resamples) on the first {args.old_studies} of each. The module docstring gives the model. "
        "± is the binomial standard error over studies. Goals: coverage 93–97%, false alarms ≤ 7%.",
        "",
        "| setting | coverage | false alarms | power at 2 points | mean CI width | mean df "
        "| coverage, bootstrap (today) | false alarms, bootstrap | power, bootstrap |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    n, old = args.studies, min(args.old_studies, args.studies)
    for r in rows:
        lines.append(
            f"| {r['setting']} | {share(r['covered'], n)} | {share(r['rejected'], n)} | {share(r['power'], n)} | {r['width']:.4f} "
            f"| {r['df']:.1f} | {share(r['old_covered'], old)} | {share(r['old_rejected'], old)} | {share(r['old_power'], old)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.verdict_calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500, help="simulated studies per setting, each under both truths (default 500)")
    parser.add_argument("--old_studies", type=int, default=100, help="of those, how many also get today's bootstrap (default 100)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per comparison (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulation (default 0)")
    parser.add_argument("--settings", default=None, help="comma-separated setting numbers, 1-based (default: all)")
    parser.add_argument("--output", help="also write the table here (markdown)")
    args = parser.parse_args(argv)
    chosen = [SETTINGS[int(i) - 1] for i in args.settings.split(",")] if args.settings else SETTINGS
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    rows = [calibrate(setting, args.studies, min(args.old_studies, args.studies), args.resamples, rng) for setting in chosen]
    text = markdown(rows, args, time.perf_counter() - start)
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
