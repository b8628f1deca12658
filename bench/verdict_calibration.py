"""Do the report's comparisons mean what they say? Coverage, false alarms and power over simulated studies.

`python -m bench.verdict_calibration [--studies 500] [--seed 1 2] [--old_studies 0] [--resamples 1000] [--output FILE]`

Each simulated study has two architectures trained with the same seeds (paired), tested on the same
sentences; in the unpaired settings (`b_seeds`) B's runs have seeds of their own and another number of them, so each
model's seed stage is estimated from its own runs: the design of the report's unpaired questions (a lab-split model
against the same model in 10-fold CV, where the seeds draw different things), simulated here without folds (the CV
model's fold luck is not modelled: B's runs are lab-split-like runs with their own seed luck). Run s of architecture m gets sentence i right with probability
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

For each study the report's comparison (`pipelines.statistics.crossed_comparison`: unbiased two-way
random-effects variance in a seed stage and a sentence stage, Behrens–Fisher reference) gives a 95% CI and
p, and two other references are computed from the same variance: today's before this one, a t on S − 1 df
for the whole variance, and a t on the Welch–Satterthwaite df over the two stages (seed stage S − 1 df,
sentence stage n − 1); in the unpaired settings, where the report adds the two models' seed stages on their
Welch–Satterthwaite df (Welch's test for the seed stage), also "separate": each model's seed stage referred to its own
t (Fisher's Behrens–Fisher distribution of two means, plus the normal sentence stage; `separate_reference`). The two-stage bootstrap (`paired_comparison`) runs on the first `--old_studies`
(default 0: it costs about a second a comparison). Each simulation seed (`--seed 1 2`) runs in its own
process and gets its own table; the last table pools them. Goals (issue 27): coverage 93–97%, false
alarms ≤ 7%, in every setting where each model's seed luck is estimated or absent; setting 15 (one trained run read as
its architecture) shows by design where they fail.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from pipelines.statistics import chi2_nodes, crossed_comparison, crossed_variance, paired_comparison

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
    b_seeds: int | None = None  # unpaired: B has this many runs of its own seeds (A has `seeds`); None: paired
    b_seed_sd: float | None = None  # B's SD over seeds (None: `seed_sd`); 0 for a model scored as it is (no seed luck)

    def __post_init__(self):
        if self.b_seeds and (self.folds or self.matched):
            raise ValueError(f"{self.name}: an unpaired setting (b_seeds) has no folds and no matched draws in this simulation")


SETTINGS = (
    Setting("lab split, 5 seeds × 662, seed SD 0"),
    Setting("lab split, 5 seeds × 662, seed SD 0.014", seed_sd=0.014),
    Setting("lab split, 5 seeds × 662, seed SD 0.023", seed_sd=0.023),
    Setting("10-fold CV × 3 seeds (10,662), fold SD 0.023 independent", sentences=10_662, seeds=3, folds=10, fold_sd=0.023),
    Setting("10-fold CV × 3 seeds (10,662), fold SD 0.023 shared within a seed", sentences=10_662, seeds=3, folds=10, fold_sd=0.023, fold_shared=True),
    Setting("5 seeds × 12,284, seed SD 0.010", sentences=12_284, seed_sd=0.010),
    Setting("3 seeds × 662, seed SD 0.023", seeds=3, seed_sd=0.023),
    Setting("matched architectures, 5 seeds × 662, seed SD 0.014", seed_sd=0.014, tau_own=0.1, matched=True),
    Setting("unpaired, 5 vs 3 seeds × 662, seed SD 0.014", seed_sd=0.014, b_seeds=3),
    Setting("unpaired, 5 vs 3 seeds × 662, seed SD 0.023", seed_sd=0.023, b_seeds=3),
    Setting("unpaired, 3 vs 3 seeds × 662, seed SD 0.023", seeds=3, seed_sd=0.023, b_seeds=3),
    # round 30: the settings the report and the curves pages use that 1-11 left out
    Setting("3 seeds × 12,284, seed SD 0.010", sentences=12_284, seeds=3, seed_sd=0.010),
    Setting("unpaired, 3 seeds vs 1 as-is run × 662, seed SD 0.023", seeds=3, seed_sd=0.023, b_seeds=1, b_seed_sd=0.0),
    Setting("unpaired, 5 seeds vs 1 as-is run × 12,284, seed SD 0.010", sentences=12_284, seed_sd=0.010, b_seeds=1, b_seed_sd=0.0),
    Setting("unpaired, 5 seeds vs 1 trained run × 662, seed SD 0.014 both", seed_sd=0.014, b_seeds=1),
    Setting("1 run vs 1 × 662, matched (a model and its int8 copy)", seeds=1, tau_own=0.1, matched=True),
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


def run_luck(rng: np.random.Generator, setting: Setting, sigma_v: float, sigma_f: float, folds: np.ndarray, seeds: int | None = None) -> np.ndarray:
    """(seeds, sentences) probit shift of each run on each sentence: seed luck plus its fold model's luck.
    `seeds`: the number of runs (default `setting.seeds`)."""
    luck = np.repeat(rng.normal(0.0, sigma_v, size=(seeds or setting.seeds, 1)), setting.sentences, axis=1)
    if setting.folds:
        per_fold = rng.normal(0.0, sigma_f, size=(setting.seeds, 1 if setting.fold_shared else setting.folds))
        luck += np.take_along_axis(per_fold, folds if not setting.fold_shared else np.zeros_like(folds), axis=1)
    return luck


def simulate(rng: np.random.Generator, setting: Setting, accuracies: tuple[float, float], sigmas: tuple[float, ...]) -> tuple[dict, dict]:
    """One study: {seed: predictions frame} of architecture A and of B (unpaired: B's seeds are others, numbered from
    `setting.seeds` on, so no seed is common). `sigmas`: (σ_v, σ_f[, B's σ_v]) on the probit scale; B's σ_v defaults to A's."""
    n, sigma_f = setting.sentences, sigmas[1]
    labels = rng.integers(0, 2, n)
    shared = TAU * rng.standard_normal(n)
    folds = np.stack([rng.permutation(n) % setting.folds for _ in range(setting.seeds)]) if setting.folds else None
    uniforms = rng.random((setting.seeds, n))
    runs = []
    for model, accuracy in enumerate(accuracies):
        sigma_v = sigmas[2] if model == 1 and len(sigmas) > 2 else sigmas[0]  # B's own (`b_seed_sd`): 0 for an as-is model
        seeds = setting.b_seeds if model == 1 and setting.b_seeds else setting.seeds
        first = setting.seeds if model == 1 and setting.b_seeds else 0
        mu = stats.norm.ppf(accuracy) * np.sqrt(1 + TAU**2 + setting.tau_own**2 + sigma_v**2 + sigma_f**2)
        own = setting.tau_own * rng.standard_normal(n)
        draws = uniforms if setting.matched else rng.random((seeds, n))
        right = draws < stats.norm.cdf(mu + shared + own + run_luck(rng, setting, sigma_v, sigma_f, folds, seeds))
        predictions = np.where(right, labels, 1 - labels)
        runs.append({first + s: pd.DataFrame({"index": np.arange(n), "label": labels, "prediction": predictions[s]}) for s in range(seeds)})
    return runs[0], runs[1]


def other_references(found: dict, setting: Setting) -> dict[str, tuple[float, float]]:
    """{name: (ci_low, p, ci_high)} of the t references computed from the same variance as `found`: "s1", a t on S − 1 df
    for the whole variance (the report's rule before the Behrens–Fisher reference; unpaired: the fewer runs' S − 1), and
    "ws", a t on the Welch–Satterthwaite df V²/(seed²/df_seed + sentences²/(n − 1)) (Satterthwaite 1946), df_seed S − 1
    (unpaired: the seed stages' own Welch–Satterthwaite df, `found["df"]`)."""
    d, se = found["difference"], found["se"]
    seed, sentences = found["seed_share"] * se**2, (1 - found["seed_share"]) * se**2
    fewer = min(setting.seeds, setting.b_seeds or setting.seeds) - 1
    seed_df = found["df"] if setting.b_seeds and seed > 0 else setting.seeds - 1
    df = {"ws": se**4 / ((seed**2 / seed_df if seed > 0 else 0.0) + sentences**2 / (setting.sentences - 1))}
    if fewer >= 1:  # one run on a side: no S − 1 reference (its column shows –)
        df["s1"] = fewer
    return {key: (d - stats.t.ppf(0.975, v) * se, 2 * stats.t.sf(abs(d) / se, v), d + stats.t.ppf(0.975, v) * se) for key, v in df.items()}


def separate_tail(x: float, parts: list[tuple[float, float]], sentences: float) -> float:
    """P(|W| ≥ |x|), W = Σ_g sqrt(v_g)·T_{df_g} + sqrt(sentences)·Z: each seed stage (v_g, df_g) on its own t, the
    sentence stage normal (Fisher 1935's Behrens–Fisher distribution of two means, plus the sentence stage). Computed
    as E[2Φ(−|x| / sqrt(Σ_g v_g/U_g + sentences))], U_g = χ²_{df_g}/df_g, on a 300-point log grid per U (the
    trapezoid rule of `pipelines.statistics.chi2_nodes`; `tests/test_verdict_calibration.py` checks it against a
    convolution)."""
    spread = np.full((1,) * len(parts), sentences)
    weights = np.ones((1,) * len(parts))
    for axis, (variance, df) in enumerate(parts):
        u, w = chi2_nodes(df, 300)
        shape = [1] * len(parts)
        shape[axis] = len(u)
        spread = spread + variance / u.reshape(shape)
        weights = weights * w.reshape(shape)
    return float((weights * 2 * special.ndtr(-abs(x) / np.sqrt(spread))).sum())


def separate_reference(a: dict, b: dict, difference: float) -> tuple[float, float, float]:
    """(ci_low, p, ci_high) at 95% of two unpaired models with each one's seed stage on its own t (`separate_tail`),
    from the same runs × sentences variance as the report's (`crossed_variance`: its sentence stage, and each model's
    s²(run scores)/S on S − 1 df)."""
    values = [np.stack([(f["label"] == f["prediction"]).to_numpy(float) for f in runs.values()]) for runs in (a, b)]
    sentences = crossed_variance(*values, paired=False).sentences
    parts = [(v.mean(axis=1).var(ddof=1) / len(v), len(v) - 1) for v in values if len(v) > 1]
    parts = [(v, df) for v, df in parts if v > 0]
    total = sentences + sum(v for v, _ in parts)
    high = 50 * np.sqrt(total)
    half = optimize.brentq(lambda x: separate_tail(x, parts, sentences) - 0.05, 0.0, high, xtol=1e-12 * high)
    return difference - half, separate_tail(difference, parts, sentences), difference + half


def calibrate(setting: Setting, studies: int, old_studies: int, resamples: int, rng: np.random.Generator) -> dict:
    """Coverage and power at a true 0.02, false alarms at 0: the report's comparison, the S − 1 and
    Welch–Satterthwaite references, and the bootstrap on the first `old_studies`. {key: list of 0/1 or values}."""
    b_sd = setting.seed_sd if setting.b_seed_sd is None else setting.b_seed_sd
    sigmas = (seed_sigma(setting.seed_sd, setting.tau_own), seed_sigma(setting.fold_sd, setting.tau_own), seed_sigma(b_sd, setting.tau_own))
    truth = ALTERNATIVE[0] - ALTERNATIVE[1]
    tally = {f"{method}{key}": [] for method in METHODS for key in ("covered", "power", "rejected")} | {"width": [], "share": []}
    for study in range(studies):
        for accuracies in (ALTERNATIVE, NULL):
            a, b = simulate(rng, setting, accuracies, sigmas)
            found = crossed_comparison(a, b, "accuracy", NAMES)
            answers = {"": (found["ci_low"], found["p_value"], found["ci_high"]), **{f"{k}_": v for k, v in other_references(found, setting).items()}}
            if setting.b_seeds:
                answers["separate_"] = separate_reference(a, b, found["difference"])
            if study < old_studies:
                old = paired_comparison(a, b, "accuracy", NAMES, n_resamples=resamples, seed=study)
                answers["old_"] = (old["ci_low"], old["p_value"], old["ci_high"])
            for prefix, (low, p, high) in answers.items():
                if accuracies == NULL:
                    tally[prefix + "rejected"].append(p < 0.05)
                else:
                    tally[prefix + "covered"].append(low <= truth <= high)
                    tally[prefix + "power"].append(low > 0)
            if accuracies == ALTERNATIVE:
                tally["width"].append(found["ci_high"] - found["ci_low"])
                tally["share"].append(found["seed_share"])
    return {"setting": setting.name, **tally}


METHODS = ("", "s1_", "ws_", "separate_", "old_")  # the report's (Behrens–Fisher), t on S − 1 df, Welch–Satterthwaite, separate, bootstrap


def share(values: list) -> str:
    if not values:
        return "–"
    value, studies = float(np.mean(values)), len(values)
    return f"{100 * value:.1f}% ± {100 * np.sqrt(value * (1 - value) / studies):.1f}"


def table(rows: list[dict]) -> list[str]:
    """One markdown table: a row per setting, the report's comparison first, then the other references."""
    bootstrap = any(row["old_covered"] for row in rows)
    separate = any(row["separate_covered"] for row in rows)
    head = ["setting", "coverage", "false alarms", "power at 2 points", "mean CI width", "seed stage share",
            "coverage, S − 1 (before)", "false alarms, S − 1", "power, S − 1", "coverage, WS", "false alarms, WS", "power, WS"]  # fmt: skip
    head += ["coverage, separate", "false alarms, separate", "power, separate"] if separate else []
    head += ["coverage, bootstrap", "false alarms, bootstrap", "power, bootstrap"] if bootstrap else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    shown = [prefix for prefix in METHODS if prefix not in ("separate_", "old_") or (prefix == "separate_" and separate) or (prefix == "old_" and bootstrap)]
    for r in rows:
        cells = [r["setting"]]
        for prefix in shown:
            cells += [share(r[prefix + "covered"]), share(r[prefix + "rejected"]), share(r[prefix + "power"])]
            if prefix == "":
                cells += [f"{np.mean(r['width']):.4f}", f"{np.mean(r['share']):.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(tables: dict[int, list[dict]], args: argparse.Namespace, chosen: tuple[Setting, ...] = SETTINGS) -> str:
    command = (f"OMP_NUM_THREADS=1 python -m bench.verdict_calibration --studies {args.studies} --seed {' '.join(map(str, args.seed))} "
               f"--old_studies {args.old_studies} --resamples {args.resamples}" + (f" --settings {args.settings}" if args.settings else ""))
    lines = [
        "# Verdict calibration: coverage, false alarms and power of the report's comparisons",
        "",
        f"Command: `{command}`",
        "",
        f"Per setting and simulation seed {args.studies} simulated studies with a true difference of 2 points ({ALTERNATIVE[0]} vs "
        f"{ALTERNATIVE[1]}: coverage of the 95% CI, power = CI above 0) and as many with none ({NULL[0]} both: false alarms, "
        f"p < 0.05); sentence effects τ = {TAU} (shared), τ_own = {TAU_OWN} per architecture (0.1 when matched). The module "
        "docstring gives the model. Columns: the report's comparison (`crossed_comparison`: the Behrens–Fisher reference, t on "
        "S − 1 df for the seed stage plus a normal for the sentence stage), its mean CI width and the seed stage's mean share of "
        "the variance; then, from the same variance, a t on S − 1 df for the whole (the rule before) and a t on the "
        "Welch–Satterthwaite df over the two stages (WS)"
        + ("; unpaired settings (B's runs have seeds of their own): the report's comparison adds the two models' seed stages "
           "on their Welch–Satterthwaite df (Welch's test for the seed stage) beside the normal sentence stage, S − 1 is the "
           "fewer runs' and WS takes the seed stages' Welch–Satterthwaite df; \"separate\" refers each model's seed stage "
           "to its own t (S_A − 1 and S_B − 1 df: Fisher's Behrens–Fisher distribution, plus the sentence stage)" if any(s.b_seeds for s in chosen) else "")
        + (f"; the two-stage bootstrap ({args.resamples:,} resamples) on the first {args.old_studies} studies" if args.old_studies else "")
        + ". ± is the binomial standard error over studies. Goals: coverage 93–97%, false alarms ≤ 7%.",
    ]
    for seed, rows in tables.items():
        lines += ["", f"## Simulation seed {seed}", "", *table(rows)]
    if len(tables) > 1:
        pooled = [{key: value if key == "setting" else sum((t[i][key] for t in tables.values()), []) for key, value in row.items()}
                  for i, row in enumerate(next(iter(tables.values())))]  # fmt: skip
        lines += ["", f"## Seeds {', '.join(map(str, tables))} pooled ({args.studies * len(tables)} studies a setting)", "", *table(pooled)]
    return "\n".join(lines) + "\n"


def reference_coverage(df: int, share: float, draws: int, rng: np.random.Generator) -> dict[str, float]:
    """Coverage of the 95% interval of each reference where only the seed stage is estimated: Δ̂ − Δ ~ N(0, 1), the
    seed stage `share` of that variance estimated as share·U, U = χ²_df/df, the sentence stage 1 − share known.
    The Behrens–Fisher quantile depends on the estimated share only: interpolated from 101 exact ones."""
    from pipelines.statistics import CrossedVariance, crossed_interval_and_p

    grid = np.linspace(0, 1, 101)
    quantiles = [crossed_interval_and_p(0.0, CrossedVariance(g, df, 1 - g, 10**9))["ci_high"] for g in grid]
    u, z = rng.chisquare(df, draws) / df, np.abs(rng.standard_normal(draws))
    variance = share * u + 1 - share
    estimated, t = share * u / variance, z / np.sqrt(variance)
    satterthwaite = df / np.maximum(estimated, 1e-12) ** 2
    return {"s1": float(np.mean(t <= stats.t.ppf(0.975, df))), "ws": float(np.mean(t <= stats.t.ppf(0.975, satterthwaite))),
            "bf": float(np.mean(t <= np.interp(estimated, grid, quantiles)))}  # fmt: skip


def references_table(draws: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    lines = [f"Command: `python -m bench.verdict_calibration --references --seed {seed}` ({draws:,} draws per cell, "
             f"Monte-Carlo SE ≤ 0.05 points)", "",
             "| seed stage df | its share of the variance | coverage, Behrens–Fisher | coverage, S − 1 | coverage, WS |", "|---|---|---|---|---|"]  # fmt: skip
    for df in (2, 4):
        for share in (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0):
            found = reference_coverage(df, share, draws, rng)
            lines.append(f"| {df} | {share:.2f} | {100 * found['bf']:.1f}% | {100 * found['s1']:.1f}% | {100 * found['ws']:.1f}% |")
    return "\n".join(lines) + "\n"


def run_seed(seed: int, settings: tuple[Setting, ...], args: argparse.Namespace) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [calibrate(setting, args.studies, min(args.old_studies, args.studies), args.resamples, rng) for setting in settings]


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.verdict_calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500, help="simulated studies per setting, each under both truths (default 500)")
    parser.add_argument("--seed", type=int, nargs="+", default=[1, 2], help="simulation seeds, one process and one table each (default 1 2)")
    parser.add_argument("--old_studies", type=int, default=0, help="of those, how many also get the two-stage bootstrap (default 0)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per comparison (default 1000)")
    parser.add_argument("--settings", default=None, help="comma-separated setting numbers, 1-based (default: all)")
    parser.add_argument("--output", help="also write the tables here (markdown)")
    parser.add_argument("--references", action="store_true", help="only the coverage of each reference where the seed stage's "
                        "share of the variance is known (no simulated studies), at the first --seed")  # fmt: skip
    args = parser.parse_args(argv)
    if args.references:
        text = references_table(200_000, args.seed[0])
        print(text)
        return text
    chosen = tuple(SETTINGS[int(i) - 1] for i in args.settings.split(",")) if args.settings else SETTINGS
    with ProcessPoolExecutor(max_workers=len(args.seed)) as pool:
        tables = dict(zip(args.seed, pool.map(run_seed, args.seed, [chosen] * len(args.seed), [args] * len(args.seed))))
    text = markdown(tables, args, chosen)
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
