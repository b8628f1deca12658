"""Does the report's ECE interval cover the ECE, and does its test of "calibrated" keep its level? Simulated test sets.

`python -m bench.ece_interval_coverage [--replicates 500] [--test_replicates 100] [--resamples 49] [--seed 0] [--output FILE]`

Each simulated test set has n sentences with true class probabilities softmax(z), z ~ N(0, scale²) per class, and a
label drawn from them; the model under test outputs softmax(t · z): calibrated at t = 1, over-confident at t > 1,
under-confident at t < 1. One run per test set (the report's "1 seed" case: the interval counts the sentences only).

- Interval: the report's procedure (`pipelines.report.calibration.sentence_values` for the ECE, the delta method with
  the bins held fixed, and `pipelines.statistics.values_interval` with the library's ECE as the point), 95%. Its
  target is the population binned ECE (15 equal-width bins, top label): 0 at t = 1 exactly; otherwise the library's
  ECE on 2,000,000 fresh sentences (its own floor, by 1/√n from the table's, under 0.001). Coverage is the share of test sets whose
  interval holds it, ± its binomial standard error; bias is the mean library ECE minus the target.
- Test: `pipelines.calibration.consistency_test` with `--resamples` rounds on `--test_replicates` test sets: the
  share of p < 0.05 (its size at t = 1: exactly 4% at 49 or 99 rounds, the largest (1 + c) / (1 + rounds) below
  0.05; its power otherwise) and its mean floor (the ECE if calibrated).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.common import bench_parser, markdown_page
from pipelines.calibration import consistency_test, scaled_probabilities, top_label_ece
from pipelines.report.calibration import sentence_values
from pipelines.statistics import values_interval

# (name, sentences, classes, scale of z, t): MR's lab test set (662 sentences, two classes, a fine-tuned
# transformer's confidence) and SemEval 2017 4A's (12,284 tweets, three classes, less sure)
SETTINGS = [
    ("MR-like, calibrated", 662, 2, 3.0, 1.0),
    ("MR-like, over-confident", 662, 2, 3.0, 1.5),
    ("MR-like, under-confident", 662, 2, 3.0, 0.7),
    ("SemEval-like, calibrated", 12_284, 3, 1.5, 1.0),
    ("SemEval-like, over-confident", 12_284, 3, 1.5, 1.5),
]
TARGET_SENTENCES = 2_000_000


def test_set(rng: np.random.Generator, n: int, classes: int, scale: float, t: float) -> tuple[np.ndarray, np.ndarray]:
    """The model's probabilities (n, classes) and labels (n,) drawn from the true ones."""
    z = rng.normal(scale=scale, size=(n, classes))
    truth = scaled_probabilities(z, 1.0)
    labels = np.minimum((rng.random(n)[:, None] > truth.cumsum(axis=1)).sum(axis=1), classes - 1)
    return scaled_probabilities(z, 1 / t), labels


def target_ece(rng: np.random.Generator, classes: int, scale: float, t: float) -> float:
    if t == 1.0:
        return 0.0
    probabilities, labels = test_set(rng, TARGET_SENTENCES, classes, scale, t)
    return top_label_ece(torch.tensor(probabilities), torch.tensor(labels))


def one_setting(rng: np.random.Generator, setting: tuple, replicates: int, test_replicates: int, resamples: int) -> dict:
    name, n, classes, scale, t = setting
    target = target_ece(rng, classes, scale, t)
    points, covered, widths, accuracies = [], [], [], []
    for _ in range(replicates):
        probabilities, labels = test_set(rng, n, classes, scale, t)
        point = top_label_ece(torch.tensor(probabilities), torch.tensor(labels))  # the report's ECE (`calibration_scores`)
        found = values_interval(sentence_values(probabilities, labels, "ece")[None, :], point)
        points.append(point)
        covered.append(found["ci_low"] <= target <= found["ci_high"])
        widths.append(found["ci_high"] - found["ci_low"])
        accuracies.append(float((probabilities.argmax(axis=1) == labels).mean()))
    tests = []
    for draw in range(test_replicates):
        probabilities, labels = test_set(rng, n, classes, scale, t)
        tests.append(consistency_test([(probabilities, labels)], resamples=resamples, seed=draw))
    coverage = float(np.mean(covered))
    rejected = float(np.mean([test["p_value"] < 0.05 for test in tests]))
    return {"setting": name, "n": f"{n:,}", "classes": classes, "t": t, "accuracy": f"{np.mean(accuracies):.3f}",
            "target": f"{target:.4f}", "mean ECE": f"{np.mean(points):.4f}", "bias": f"{np.mean(points) - target:+.4f}",
            "coverage": f"{coverage:.1%} ± {np.sqrt(coverage * (1 - coverage) / replicates):.1%}",
            "mean width": f"{np.mean(widths):.4f}", "mean floor": f"{np.mean([test['floor'] for test in tests]):.4f}",
            "p < 0.05": f"{rejected:.1%} ± {np.sqrt(rejected * (1 - rejected) / test_replicates):.1%}"}  # fmt: skip


def table(rows: list[dict]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows])


def main(argv: list[str] | None = None) -> str:
    """Every setting's row, printed and written to --output with the command and the machine; returns the table."""
    parser = bench_parser("ece_interval_coverage", __doc__, data_dir=False)
    parser.add_argument("--replicates", type=int, default=500, help="simulated test sets per setting for the interval")
    parser.add_argument("--test_replicates", type=int, default=100, help="simulated test sets per setting for the test")
    parser.add_argument("--resamples", type=int, default=49, help="consistency-resampling rounds per test")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    text = table([one_setting(rng, setting, args.replicates, args.test_replicates, args.resamples) for setting in SETTINGS])
    print(text)
    command = (f"HF_HUB_OFFLINE=1 nice -n 19 python -m bench.ece_interval_coverage --replicates {args.replicates} "
               f"--test_replicates {args.test_replicates} --resamples {args.resamples} --seed {args.seed} --output {args.output}")  # fmt: skip
    method = __doc__.split("\n", 3)[3].strip()
    title = 'The report\'s ECE interval and its test of "calibrated" on simulated test sets'
    Path(args.output).write_text(markdown_page(title, command, method + "\n\n" + text + "\n"), encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
