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


def test_an_unpaired_setting_gives_b_its_own_seeds_and_the_table_the_rule_before():
    """B's runs have seeds of their own (none common), so the report's comparison is unpaired and refers each model's
    seed stage to its own t; the table adds the rule before ("pooled": one t on the Welch–Satterthwaite df)."""
    rng = np.random.default_rng(0)
    setting = calibration.Setting("unpaired", sentences=200, seeds=5, seed_sd=0.023, b_seeds=3)
    sigma = calibration.seed_sigma(0.023)
    a, b = calibration.simulate(rng, setting, (0.80, 0.78), (sigma, 0.0))
    assert (sorted(a), sorted(b)) == ([0, 1, 2, 3, 4], [5, 6, 7])
    found = calibration.crossed_comparison(a, b, "accuracy", calibration.NAMES)
    assert found["paired_seeds"] is False
    low, p, high = calibration.pooled_reference(a, b, found["difference"])
    assert low < found["difference"] < high and (high - low) < found["ci_high"] - found["ci_low"]  # the rule before was narrower
    text = calibration.main(["--studies", "2", "--settings", "9", "--seed", "3"])
    row = next(line for line in text.splitlines() if line.startswith("| unpaired"))
    assert row.count("%") == 12 and "coverage, pooled (before)" in text and "seed stages' Welch–Satterthwaite" in text
