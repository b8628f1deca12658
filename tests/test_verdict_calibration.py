"""bench/verdict_calibration.py simulates what it says: the seed SD it is asked for, the accuracies it states."""

from __future__ import annotations

import numpy as np
import pytest

from bench import verdict_calibration as calibration


@pytest.mark.parametrize("target", [0.014, 0.023])
def test_the_seed_effect_gives_run_accuracies_the_asked_sd(target):
    sigma = calibration.seed_sigma(target)
    assert calibration.run_accuracy_sd(sigma, 0.79) == pytest.approx(target, rel=1e-6)
    assert calibration.seed_sigma(0.0) == 0.0


def test_simulated_runs_score_the_stated_architecture_accuracy():
    rng = np.random.default_rng(0)
    scores = []
    cv = calibration.Setting("cv", sentences=662, seeds=5, folds=10, fold_sd=0.014)
    for _ in range(30):
        a, b = calibration.simulate(rng, cv, (0.80, 0.78), (calibration.seed_sigma(0.014), calibration.seed_sigma(0.014)))
        scores.append([np.mean([(f["label"] == f["prediction"]).mean() for f in runs.values()]) for runs in (a, b)])
    means = np.mean(scores, axis=0)  # 30 studies × 5 seeds × 662 sentences: standard error about 0.004
    assert means == pytest.approx([0.80, 0.78], abs=0.012)


def test_the_script_writes_its_table(tmp_path):
    argv = ["--studies", "2", "--old_studies", "1", "--resamples", "50", "--settings", "1", "--seed", "3", "--output", str(tmp_path / "out.md")]
    text = calibration.main(argv)
    assert (tmp_path / "out.md").read_text() == text
    row = next(line for line in text.splitlines() if line.startswith("| lab split"))
    assert row.count("%") == 12  # the report's comparison, S − 1, Welch–Satterthwaite, bootstrap: 3 each
    assert "--studies 2 --seed 3 --old_studies 1 --resamples 50 --settings 1" in text and "pooled" not in text


def test_the_other_references_share_the_variance_and_differ_in_df():
    """All the variance in the seed stage: Welch–Satterthwaite df is S − 1, the same interval; none: n − 1 df."""
    setting = calibration.Setting("lab", sentences=101, seeds=5)
    found = {"difference": 0.02, "se": 0.01, "seed_share": 1.0}
    refs = calibration.other_references(found, setting)
    assert refs["ws"] == pytest.approx(refs["s1"]) and refs["s1"][0] == pytest.approx(0.02 - 2.7764451 * 0.01)
    refs = calibration.other_references({**found, "seed_share": 0.0}, setting)
    assert refs["ws"][0] == pytest.approx(0.02 - 1.9839715 * 0.01, abs=1e-8) and refs["ws"][1] == pytest.approx(0.0482, abs=1e-4)  # t on 100 df


def test_reference_coverage_is_exact_at_the_ends_and_orders_the_references_between():
    """Seed stage alone: each reference is the t on S − 1 df, 95%; at share 0.5 of 4 df the t on S − 1 df for the whole
    over-covers (98.9%), Welch–Satterthwaite under-covers a little and Behrens–Fisher lies between."""
    rng = np.random.default_rng(0)
    ends = calibration.reference_coverage(4, 1.0, 40_000, rng)
    assert all(value == pytest.approx(0.95, abs=0.004) for value in ends.values())
    middle = calibration.reference_coverage(4, 0.5, 40_000, rng)
    assert middle["ws"] < middle["bf"] < middle["s1"] and middle["s1"] == pytest.approx(0.989, abs=0.003)


def test_an_unpaired_setting_gives_b_its_own_seeds_and_the_table_the_separate_reference():
    """B's runs have seeds of their own (none common), so the report's comparison is unpaired (its two seed stages added
    on their Welch–Satterthwaite df); the table adds each seed stage on its own t ("separate"), which is wider."""
    rng = np.random.default_rng(0)
    setting = calibration.Setting("unpaired", sentences=200, seeds=5, seed_sd=0.023, b_seeds=3)
    sigma = calibration.seed_sigma(0.023)
    a, b = calibration.simulate(rng, setting, (0.80, 0.78), (sigma, 0.0))
    assert (sorted(a), sorted(b)) == ([0, 1, 2, 3, 4], [5, 6, 7])
    found = calibration.crossed_comparison(a, b, "accuracy", calibration.NAMES)
    assert found["paired_seeds"] is False and found["df"] < 4 + 2  # Welch–Satterthwaite, below the sum of the two S − 1
    low, p, high = calibration.separate_reference(a, b, found["difference"])
    assert low < found["difference"] < high and (high - low) > found["ci_high"] - found["ci_low"]
    text = calibration.main(["--studies", "2", "--settings", "9", "--seed", "3"])
    row = next(line for line in text.splitlines() if line.startswith("| unpaired"))
    assert row.count("%") == 12 and "coverage, separate" in text and "seed stages' Welch–Satterthwaite" in text


def test_a_one_run_setting_has_no_s_minus_1_reference_and_an_as_is_b_has_no_seed_luck(monkeypatch):
    """Settings 12-16 (round 30): B with one run and `b_seed_sd=0` is an as-is model, the same accuracy in expectation
    with no seed luck; one run on a side leaves the S − 1 reference undefined (its cells –), the rest computed."""
    rng = np.random.default_rng(0)
    setting = calibration.Setting("as-is b", sentences=2000, seeds=3, seed_sd=0.023, b_seeds=1, b_seed_sd=0.0)
    sigma = calibration.seed_sigma(0.023)
    assert calibration.simulate(rng, setting, (0.80, 0.78), (sigma, 0.0, 0.0))[1].keys() == {3}
    lucky = calibration.Setting("b lucky", sentences=2000, seeds=3, b_seeds=30, seed_sd=0.023)
    plain = calibration.Setting("b as is", sentences=2000, seeds=3, b_seeds=30, seed_sd=0.023, b_seed_sd=0.0)
    spread = {}
    for s in (lucky, plain):
        _, b = calibration.simulate(np.random.default_rng(1), s, (0.80, 0.78), (sigma, 0.0, calibration.seed_sigma(s.b_seed_sd if s.b_seed_sd is not None else 0.023)))
        spread[s.name] = np.std([(f["label"] == f["prediction"]).mean() for f in b.values()])
    assert spread["b as is"] < 0.012 and spread["b lucky"] > 0.016  # sentence draws alone: about sqrt(0.78 · 0.22 / 2000) = 0.009
    seen, simulate = [], calibration.simulate
    monkeypatch.setattr(calibration, "simulate", lambda rng, s, accuracies, sigmas: seen.append(sigmas) or simulate(rng, s, accuracies, sigmas))
    as_is = next(s for s in calibration.SETTINGS if s.name.startswith("unpaired, 3 seeds vs 1 as-is"))
    calibration.calibrate(as_is, 1, 0, 10, np.random.default_rng(0))  # the setting's b_seed_sd reaches B's seed luck
    assert seen[0] == (sigma, 0.0, 0.0)
    text = calibration.main(["--studies", "2", "--settings", "13", "--seed", "3"])
    row = next(line for line in text.splitlines() if line.startswith("| unpaired, 3 seeds vs 1 as-is"))
    assert [cell.strip() for cell in row.split("|")][7:10] == ["–", "–", "–"] and row.count("%") == 9


def upper_tail(c: float, seed: float, df: float, sentences: float) -> float:
    """P(sqrt(seed)·T_df + sqrt(sentences)·Z ≥ c), from the report's one-stage Behrens–Fisher tail (symmetric)."""
    from pipelines.statistics import CrossedVariance, behrens_fisher_tail

    both = behrens_fisher_tail(abs(c), CrossedVariance(seed, df, sentences, 10**9))
    return both / 2 if c >= 0 else 1 - both / 2


@pytest.mark.parametrize("a, b, sentences, x", [((1 / 4, 1), (1 / 9, 2), 0.05, 2.0), ((1e-4, 4), (3e-4, 2), 2e-4, 0.12), ((0.01, 4), (0.02, 2), 0.005, 0.4)])
def test_the_separate_tail_is_the_convolution_of_two_ts_and_a_normal(a, b, sentences, x):
    """P(|sqrt(v_A)·T_{df_A} + sqrt(v_B)·T_{df_B} + sqrt(sentences)·Z| ≥ x), integrated the other way round (over A's
    t, with B's part and the sentences by the report's one-stage tail); with one part it is the report's tail."""
    from scipy import integrate, stats

    from pipelines.statistics import CrossedVariance, behrens_fisher_tail

    (v_a, df_a), (v_b, df_b) = a, b
    by_convolution = integrate.quad(
        lambda t: stats.t.pdf(t, df_a) * (upper_tail(x - np.sqrt(v_a) * t, v_b, df_b, sentences) + 1 - upper_tail(-x - np.sqrt(v_a) * t, v_b, df_b, sentences)),
        -np.inf, np.inf, epsabs=1e-13, epsrel=1e-10, limit=400,
    )[0]  # fmt: skip
    assert calibration.separate_tail(x, [a, b], sentences) == pytest.approx(by_convolution, rel=1e-8)
    assert calibration.separate_tail(x, [a], sentences) == pytest.approx(behrens_fisher_tail(x, CrossedVariance(*a, sentences, 661)), rel=1e-8)


def test_an_unpaired_setting_with_folds_or_matched_draws_is_refused():
    """The simulation gives B its own runs only without folds or matched draws (both are per seed of A)."""
    with pytest.raises(ValueError, match="unpaired setting"):
        calibration.Setting("cv", folds=10, fold_sd=0.023, b_seeds=3)
    with pytest.raises(ValueError, match="unpaired setting"):
        calibration.Setting("matched", matched=True, b_seeds=3)
