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
    assert row.count("%") == 6 and "--studies 2 --old_studies 1 --resamples 50 --seed 3" in text
