"""The report's "How sure" section: calibration, abstaining and domain shift, from saved test probabilities.

For every group of runs (dataset, model, setting, protocol) whose predictions files hold probabilities:

- Calibration scores (`pipelines.calibration.calibration_scores`: ECE top-label with 15 equal-width
  bins and classwise ECE from torchmetrics, Brier score and NLL from scikit-learn), each run scored
  on the test set and averaged over the group's runs, with a 95% interval that counts the runs and
  the sentences: the report's runs × sentences procedure (`pipelines.statistics.crossed_variance`,
  `crossed_interval_and_p`: the Behrens–Fisher reference, t on S − 1 df for the seeds). That procedure
  needs per-sentence values whose mean is the score (`sentence_values`):
  exact for Brier and NLL (means over sentences), the delta method for the binned ECEs (bins held
  fixed: sign(gap of the bin) × (correct − confidence)), so the library's ECE is the point estimate
  and the linearization gives only its variance. A score's interval is the comparison with a run
  that scores 0 on every sentence (`pipelines.statistics.values_interval`, the procedure of every score's interval), which
  leaves only the group's own variance.
- Beside each ECE, the ECE a calibrated model would show on the same sentences (the binned estimator's floor) and
  the p-value of "calibrated", by consistency resampling (`pipelines.calibration.consistency_test`: labels redrawn
  from the run's own probabilities, one test per row on its group's mean ECE), and that p-value Holm-adjusted over
  the rows of its table with the same protocol (`holm_calibrated`); the fine-tuned transformers' ECE after
  scaling is read against the goal `GOAL_ECE`, that floor and the Holm p (`goal_lines`), and beside the ECE scaling
  gives on validation sentences it was not fitted on and the two splits' label shares (`cross_fitted_validation_ece`,
  lab-split groups only: a CV run's folds were each scaled on their own validation sentences), which separate what one
  temperature cannot fix from a test set drawn otherwise than validation; and beside temperature scaling, other
  calibrators fitted on the same validation sentences (`calibrator_rows`: the temperature of least validation ECE,
  bias-corrected temperature scaling, EM label-shift adaptation, and an oracle correction to the test's own class
  shares), each against temperature scaling (paired, one Holm family per table), which tell a label shift from other
  shift; and the least ECE any one temperature reaches on the test (`least_ece_temperature`, an oracle chosen on the
  test's own labels, no verdict).
- Runs whose validation logits were saved and whose temperature is recorded are shown before and
  after temperature scaling (the saved probabilities are after; before is softmax(T · log p));
  committed runs without validation predictions show "ECE before scaling only".
- Verdicts, one Holm family per dataset and protocol: temperature scaling after vs before (same
  runs, paired), class-weighted vs unweighted and distilled vs plain training (the same pairs as
  the accuracy questions, `pipelines.report.compare.variant_questions`), compared on the raw
  (before scaling) probabilities, lower is better.
- Abstaining: accuracy at 80% and 90% coverage, the confidence threshold chosen on each run's
  validation predictions (`pipelines.calibration.abstain_threshold`), else on test, labelled so.
- Figures: one reliability diagram and one risk–coverage plot per dataset, the lab-split groups,
  GloVe, fine-tuned and as-is models side by side (`pipelines.report.figures`).
- Conformal prediction sets (`pipelines.calibration.conformal_sets`, split conformal through crepes):
  for every lab-split group whose runs saved validation predictions, calibrated on each run's
  validation sentences and measured on test (coverage, mean set size), at `CONFORMAL_ALPHAS`;
  the other groups are named with the reason.
- Domain shift: as-is scores of models trained on another benchmark (`evaluation.json` rows with
  `trained_on`), on the classes both benchmarks share, probabilities renormalised over them; before
  and after the temperature fitted on this benchmark's validation sentences when the evaluation did so.
- As-is scorers calibrated by `evaluate_pretrained.py` (version-2 evaluations) read like runs: their
  predictions hold the scaled probabilities, their entry the temperature and their validation file. Those
  it leaves out by design (lexicons, a thresholded neutral) say so, with the reason, instead of "ECE before
  scaling only" (which marks runs that re-making would scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.benchmarks import BENCHMARKS, get_benchmark, official_metric_for
from pipelines.metrics import METRICS
from pipelines.data import column
from pipelines.calibration import (
    CONFORMAL_ALPHAS,
    CONFORMAL_METHOD,
    CONSISTENCY_RESAMPLES,
    CONSISTENCY_SEED,
    ECE_BINS,
    ECE_TEMPERATURE_GRID,
    abstain_threshold,
    bias_corrected_temperature_scaling,
    calibration_scores,
    conformal_sets,
    consistency_test,
    TemperatureNotIdentifiable,
    ece_bins,
    em_label_shift,
    fit_temperature,
    least_ece_temperature,
    logits_from_probabilities,
    prior_corrected,
    scaled_probabilities,
    set_scores,
)
from pipelines.report.collect import Group, ReportRow, dataset_slug, trained_row
from pipelines.report.compare import variant_questions
from pipelines.report.tables import fmt, fmt_p
from pipelines.formatting import markdown_table
from pipelines.runs.io import read_validation_predictions
from pipelines.statistics import ALPHA, UNIT_RANGE, CrossedVariance, sentence_values as metric_values, crossed_interval_and_p, crossed_variance, holm, holm_levels, values_interval

SCORES = {"ece": "ECE", "classwise_ece": "classwise ECE", "brier": "Brier", "nll": "NLL"}
SCORE_RANGES = {"ece": UNIT_RANGE, "classwise_ece": UNIT_RANGE, "brier": (0.0, 2.0), "nll": (0.0, None)}  # their intervals' `bounds`
VERDICT_SCORES = ("ece", "brier")
COVERAGES = (0.8, 0.9)
NOTE = (
    f"ECE: expected calibration error, top-label, {ECE_BINS} equal-width confidence bins (torchmetrics, which puts a "
    "confidence of exactly 1 in a bin of its own); classwise ECE: "
    f"the same per class, averaged (Kull et al. 2019); Brier: sum over classes, in [0, 2]; NLL: nats (scikit-learn). Lower "
    "is better. Each is the mean over a group's runs of the run's test score (a cross-validation seed is one run: its "
    "folds' out-of-fold predictions joined, every sentence scored once); the interval (95%) counts the runs and the "
    "sentences once each (the report's runs × sentences procedure, Behrens–Fisher; sentences only for one run), the binned ECEs "
    "linearized with their bins held fixed for the variance. The top-label ECE's interval, checked by simulation for one "
    "run (`bench/ece_interval_coverage.md`, 662 and 12,284 sentences): where the ECE is 0.04–0.08 the interval holds it "
    "in 93–97% of test sets; for a calibrated model the ECE is biased upwards by its floor and the interval holds the "
    "true 0 in only 27–34% of them, so an ECE near its floor is read against the ECE if calibrated and the test of "
    "\"calibrated\" beside it, not its interval."
)

# The largest family of rows whose smallest possible Holm p, m / (1 + rounds), is below ALPHA.
SMALLEST_REJECTING_FAMILY = math.ceil(ALPHA * (1 + CONSISTENCY_RESAMPLES)) - 1
FLOOR_NOTE = (
    "ECE if calibrated: the ECE a perfectly calibrated model would show with these probabilities on these test sentences, "
    "the binned estimator's floor (above 0 on any finite test set, and higher the fewer the sentences and the surer the "
    f"model): consistency resampling (Bröcker & Smith 2007; Vaicenavicius et al. 2019), each run's test labels redrawn "
    f"{CONSISTENCY_RESAMPLES:,} times from its own probabilities (numpy seed {CONSISTENCY_SEED}, one spawned stream per run) "
    "and scored by the same ECE (torchmetrics' binning, every round at once); the mean over those rounds of the group's "
    "mean ECE, ± its standard deviation over rounds. "
    "p (calibrated): the Monte Carlo test of \"every run of the group is calibrated\" on the group's mean ECE, "
    f"(1 + rounds at least as large as the observed) / (1 + {CONSISTENCY_RESAMPLES:,}), one test per row. Holm p (calibrated): "
    "that p-value adjusted by Holm's step-down procedure over one family, the rows of one table with the same protocol "
    "(the family sizes are given under each table); a before-scaling and an after-scaling row each count, as each "
    "answers its own \"is this calibrated?\" and a reader picks the calibrated rows out of the whole table; one family "
    f"per protocol, as the report's verdicts. A row shows more than a calibrated model when its Holm p is below {ALPHA}. "
    f"With {CONSISTENCY_RESAMPLES:,} rounds the smallest p is 1/{1 + CONSISTENCY_RESAMPLES:,}, so a family of m rows has no "
    f"Holm p below m/{1 + CONSISTENCY_RESAMPLES:,} and rejects nothing when m > {SMALLEST_REJECTING_FAMILY}. "
    "report.json keeps the p-value, the Holm p, the family size and each run's own p-value (not adjusted). An ECE within "
    "its floor's spread is what a calibrated model shows here, so an ECE is read against its floor, and a small gain in "
    "ECE between two probabilities both near their floor says little."
)
SAME_SHARES = 0.005  # `calibrator_rows`: test and validation label shares this close are the same (no label shift)
GOAL_ECE = 0.02  # the goal set for fine-tuned transformers after temperature scaling (top-label ECE, on every benchmark)
CROSS_FIT_SEED = 0  # the random halving of each run's validation sentences in `cross_fitted_validation_ece`


@dataclass
class Run:
    """One run (a seed; a CV seed's folds joined) on the test sentences, sorted by sentence index."""

    seed: object
    index: np.ndarray  # (n,)
    labels: np.ndarray  # (n,)
    after: np.ndarray  # (n, K) the saved probabilities
    before: np.ndarray | None  # (n, K) before temperature scaling; None when it cannot be recovered
    validation: np.ndarray | None  # (n_val, K) validation probabilities at the saved scale
    validation_labels: np.ndarray | None
    scaled: bool  # temperature scaling applied (so `after` differs from `before`)
    validation_before: np.ndarray | None = None  # (n_val, K) validation probabilities before scaling (the saved logits')


def read_row(row: ReportRow) -> dict | None | str:
    """One run file's test frame and validation probabilities; None without probabilities; why not, when its
    probabilities before temperature scaling cannot be recovered from the saved ones."""
    frame = pd.read_parquet(row.predictions)
    if "probabilities" not in frame.columns:
        return None
    # At float16, the precision a compact record keeps (`pipelines.report.records`): a run folder and its record score alike.
    after = np.stack(frame["probabilities"].to_numpy()).astype(np.float16).astype(np.float64)  # (n, K)
    after /= after.sum(axis=1, keepdims=True)
    temperature = (row.calibration or {}).get("temperature") or None
    if temperature and (after == 0).any():
        # log 0 has no finite value: softmax(log p * T) would be another distribution than the unscaled one (a small T
        # drives the saved probabilities below float16's range), so the scores before scaling are not recoverable
        return (f"`{row.run}`: its probabilities before temperature scaling (T = {temperature:.3g}) cannot be recovered from the "
                f"saved ones ({int((after == 0).sum())} of them round to 0 at float16)")  # fmt: skip
    before = scaled_probabilities(logits_from_probabilities(after), 1 / temperature) if temperature else after
    validation = validation_before = labels = None
    if row.validation_predictions:
        labels, logits = read_validation_predictions(row.validation_predictions)  # the logits before scaling
        validation, validation_before = scaled_probabilities(logits, temperature or 1.0), scaled_probabilities(logits, 1.0)
    return {"index": frame["index"].to_numpy(np.int64), "labels": frame["label"].to_numpy(np.int64), "after": after,
            "before": before, "validation": validation, "validation_labels": labels, "scaled": temperature is not None,
            "validation_before": validation_before}  # fmt: skip


def read_runs(group: Group) -> list[Run] | str:
    """The group's runs, one per seed, all on the same sentences; or why there are none."""
    by_seed: dict = {}
    for row in group.rows:
        if not row.predictions:
            return f"no predictions file in `{row.run}`"
        part = read_row(row)
        if part is None:
            return f"no probabilities in `{row.run}`"
        if isinstance(part, str):
            return part
        by_seed.setdefault(row.seed if isinstance(row.seed, int) else "no seed", []).append(part)
    runs = []
    for seed, parts in sorted(by_seed.items(), key=lambda item: str(item[0])):
        if group.protocol != "cv" and len(parts) > 1:
            return f"seed {seed} ran {len(parts)} times"
        joined = {key: np.concatenate([p[key] for p in parts]) for key in ("index", "labels", "after", "before")}
        order = np.argsort(joined["index"], kind="stable")
        has_validation = all(p["validation"] is not None for p in parts)
        runs.append(Run(seed, joined["index"][order], joined["labels"][order], joined["after"][order], joined["before"][order],
                        np.concatenate([p["validation"] for p in parts]) if has_validation else None,
                        np.concatenate([p["validation_labels"] for p in parts]) if has_validation else None,
                        all(p["scaled"] for p in parts),
                        np.concatenate([p["validation_before"] for p in parts]) if has_validation else None))  # fmt: skip
    if any(not np.array_equal(run.index, runs[0].index) for run in runs[1:]):
        return "its runs cover different test sentences"
    return runs


def sentence_values(probabilities: np.ndarray, labels: np.ndarray, score: str) -> np.ndarray:
    """(n,) per-sentence values whose mean is the run's `score` (see the module docstring).
    probabilities: (n, K); labels: (n,) class ids."""
    n, k = probabilities.shape
    if score == "brier":
        return ((probabilities - np.eye(k)[labels]) ** 2).sum(axis=1)
    if score == "nll":
        return -np.log(np.clip(probabilities[np.arange(n), labels], np.finfo(np.float64).eps, None))
    if score == "ece":  # torchmetrics scores the top label's confidence in float32
        confidence = probabilities.max(axis=1).astype(np.float32)
        return binned_gap_values(confidence, (probabilities.argmax(axis=1) == labels).astype(float))
    if score == "classwise_ece":
        return np.mean([binned_gap_values(probabilities[:, c], (labels == c).astype(float)) for c in range(k)], axis=0)
    raise ValueError(f"unknown calibration score {score!r}; one of: {', '.join(SCORES)}")


def binned_gap_values(confidence: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """sign(Σ_bin (outcome − confidence)) × (outcome − confidence), binned as the library bins
    (`pipelines.calibration.ece_bins`: `ECE_BINS` equal-width bins, a confidence of exactly 1 in its own): their mean
    is the library's binned L1 calibration error. confidence: (n,) in the dtype the library scores; returns (n,)."""
    bins = ece_bins(confidence)
    gap = outcome - confidence.astype(np.float64)
    return np.sign(np.bincount(bins, weights=gap, minlength=ECE_BINS + 1))[bins] * gap


def selective_values(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """(n,) per-sentence values whose mean is the accuracy on the sentences with top probability >= threshold (the
    delta method for a ratio: acc + n·[answered]·(correct − acc)/answered), and the coverage."""
    answered = probabilities.max(axis=1) >= threshold
    correct = (probabilities.argmax(axis=1) == labels).astype(float)
    accuracy = correct[answered].mean() if answered.any() else 0.0
    return accuracy + len(labels) * answered * (correct - accuracy) / max(answered.sum(), 1), float(answered.mean())


def group_scores(runs: list[Run], which: str) -> dict:
    """{score: interval} of the runs' `which` ("before" or "after") probabilities, and under "if_calibrated" the ECE
    a calibrated model would show on the same sentences with the p-value of "calibrated"
    (`pipelines.calibration.consistency_test` without its rounds, with "sentences": the test size, and "above_goal":
    the share of rounds in which the calibrated model's ECE is above `GOAL_ECE`)."""
    points = [calibration_scores(getattr(run, which), run.labels) for run in runs]
    found = {}
    for score in SCORES:
        values = np.stack([sentence_values(getattr(run, which), run.labels, score) for run in runs])
        found[score] = values_interval(values, float(np.mean([point[score] for point in points])), bounds=SCORE_RANGES[score])
    tested = consistency_test([(getattr(run, which), run.labels) for run in runs])
    resampled = tested.pop("resampled")
    found["if_calibrated"] = {**tested, "sentences": len(runs[0].labels), "above_goal": float(np.mean(resampled > GOAL_ECE))}
    return found


def holm_calibrated(rows: list[dict], family) -> None:
    """Holm's step-down adjustment (`pipelines.statistics.holm`) of the p-values of "calibrated" over each family of
    rows, the rows with the same `family(row)`: adds "holm_p" and "family_size" to each row's "if_calibrated"
    (`group_scores`). The report's families are the rows of one table with the same protocol (`how_sure`)."""
    families: dict = {}
    for row in rows:
        families.setdefault(family(row), []).append(row["if_calibrated"])
    for tested in families.values():
        for found, adjusted in zip(tested, holm([t["p_value"] for t in tested])):
            found.update(holm_p=adjusted, family_size=len(tested))


def family_sizes(rows: list[dict]) -> str:
    """The families of a table's Holm p (calibrated), said under it: "lab split, 38 rows; 10-fold CV, 7 rows"."""
    sizes = {row["group"].protocol_label: row["if_calibrated"]["family_size"] for row in rows}
    return "; ".join(f"{protocol}, {size} row{'s' if size != 1 else ''}" for protocol, size in sizes.items())


def scored(runs: list[Run]) -> str:
    """Which probabilities a group is scored on: "after" scaling when every run was scaled, else "before" (for a run
    never scaled they are the same; a group with some runs scaled is scored before scaling throughout)."""
    return "after" if all(run.scaled for run in runs) else "before"


def abstain_scores(runs: list[Run]) -> dict:
    """{coverage: interval of the accuracy, test coverage and where the threshold was chosen}, on the probabilities the
    group is scored on (`scored`). The threshold is chosen on each run's validation probabilities at that scale (from
    its saved logits) when every run saved them, else on each run's test ones."""
    which = scored(runs)
    on_validation = all(run.validation is not None for run in runs)
    found = {}
    for coverage in COVERAGES:
        values, covered = [], []
        for run in runs:
            test = getattr(run, which)
            validation = run.validation if which == "after" or run.validation_before is None else run.validation_before
            threshold = abstain_threshold(validation if on_validation else test, coverage)
            sentence, share = selective_values(test, run.labels, threshold)
            values.append(sentence)
            covered.append(share)
        values = np.stack(values)
        found[coverage] = {**values_interval(values, bounds=UNIT_RANGE), "test_coverage": float(np.mean(covered)),
                           "chosen_on": "validation" if on_validation else "test"}  # fmt: skip
    return found


def difference(a_runs: list[Run], b_runs: list[Run], a_which: str, b_which: str, score: str, paired: bool) -> tuple[float, CrossedVariance]:
    """Δ = A − B of `score` (library points, run means) and its runs × sentences variance by stage."""
    a_values = np.stack([sentence_values(getattr(run, a_which), run.labels, score) for run in a_runs])
    b_values = np.stack([sentence_values(getattr(run, b_which), run.labels, score) for run in b_runs])
    a_point = np.mean([calibration_scores(getattr(run, a_which), run.labels)[score] for run in a_runs])
    b_point = np.mean([calibration_scores(getattr(run, b_which), run.labels)[score] for run in b_runs])
    return float(a_point - b_point), crossed_variance(a_values, b_values, paired)


def paired_runs(a: list[Run], b: list[Run]) -> tuple[list[Run], list[Run], bool]:
    """Runs sharing a seed are paired when at least two do (as `pipelines.statistics` pairs them); else all, unpaired."""
    a_by, b_by = {run.seed: run for run in a}, {run.seed: run for run in b}
    common = sorted(set(a_by) & set(b_by), key=str)
    if len(common) >= 2:
        return [a_by[s] for s in common], [b_by[s] for s in common], True
    return a, b, False


@dataclass
class Question:
    text: str
    a_label: str
    b_label: str
    a_runs: list
    b_runs: list
    a_which: str
    b_which: str
    paired: bool


def calibration_questions(groups: list[Group], runs: dict) -> tuple[list[Question], list[str]]:
    """Temperature scaling after vs before per scaled group; class weights and distillation vs plain (raw probabilities)."""
    found, skipped = [], []
    for g in groups:
        scaled = runs.get(g.key)
        if isinstance(scaled, list) and all(run.scaled for run in scaled):
            found.append(Question(f"temperature scaling: {g.name}", "after scaling", "before", scaled, scaled, "after", "before", True))
    for question in variant_questions(groups):
        a, b = (runs.get(g.key) if g else None for g in (question.a, question.b))
        why = question.why or next((f"{g.name}: {r}" for g, r in ((question.a, a), (question.b, b)) if isinstance(r, str)), "")
        if not why and not np.array_equal(a[0].index, b[0].index):
            why = "not the same test sentences"
        if why:
            skipped.append(f"{question.text}: {why}")
            continue
        a_runs, b_runs, paired = paired_runs(a, b)
        found.append(Question(question.text, question.a_label, question.b_label, a_runs, b_runs, "before", "before", paired))
    return found, skipped


def answer_questions(questions: list[Question], alpha: float = ALPHA) -> list[dict]:
    """Every question × `VERDICT_SCORES`, one Holm family: each CI and MDE at its Holm level, the verdict on the Holm p."""
    cells = [(q, score, difference(q.a_runs, q.b_runs, q.a_which, q.b_which, score, q.paired)) for q in questions for score in VERDICT_SCORES]
    raw = [crossed_interval_and_p(d, v, alpha=alpha)["p_value"] for _, _, (d, v) in cells]
    answers = []
    for (q, score, (d, v)), p, level in zip(cells, holm(raw), holm_levels(raw, alpha)):
        found = crossed_interval_and_p(d, v, alpha=level)
        better = q.a_label if d < 0 else q.b_label
        answers.append({"question": q.text, "score": score, "a": q.a_label, "b": q.b_label, "difference": d, **found,
                        "holm_p": p, "ci_level": 1 - level, "family_size": len(cells), "runs": f"{len(q.a_runs)} vs {len(q.b_runs)}",
                        "paired": q.paired,
                        "verdict": f"{better} better calibrated" if p < alpha else "no detectable difference"})  # fmt: skip
    return answers


def shift_runs(group: Group, runs: list[Run]) -> tuple[list[Run], list[str]] | None:
    """An as-is group of a model trained on another benchmark (`trained_on`), restricted to the classes both share,
    probabilities renormalised over them; None for any other group."""
    trained_on = group.rows[0].trained_on
    names = group.rows[0].label_names
    if group.kind != "pretrained" or not trained_on or trained_on == group.dataset or trained_on not in BENCHMARKS or not names:
        return None
    shared = sorted(names.index(name) for name in BENCHMARKS[trained_on].label_names if name in names)  # in the dataset's order

    def renormalised(probabilities: np.ndarray) -> np.ndarray:
        kept = probabilities[:, shared]
        return kept / np.clip(kept.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny, None)

    restricted = []
    for run in runs:
        keep = np.isin(run.labels, shared)
        labels = np.searchsorted(shared, run.labels[keep])  # the position of each kept label in `shared`
        restricted.append(Run(run.seed, run.index[keep], labels, renormalised(run.after[keep]), renormalised(run.before[keep]),
                              None, None, run.scaled))  # fmt: skip
    return restricted, [names[i] for i in shared]


@dataclass
class HowSure:
    """The numbers of one dataset's "How sure" section, computed before anything is written."""

    dataset: str
    runs: dict  # `Group.key` -> list[Run] | why not
    rows: list[dict]
    abstain: list[dict]
    answers: list[dict]
    skipped: list[str]
    shift: list[dict]
    conformal: list[dict] = field(default_factory=list)
    no_conformal: list[str] = field(default_factory=list)  # "group: why" for the groups without conformal sets
    calibrators: list[dict] = field(default_factory=list)  # `calibrator_rows`: other calibrators beside temperature scaling


def how_sure(dataset: str, groups: list[Group]) -> HowSure:
    """Scores (the p-values of "calibrated" Holm-adjusted per table and protocol), abstention, verdicts (one Holm family
    per protocol) and domain shift of one dataset's groups."""
    runs = {g.key: read_runs(g) for g in groups}
    rows, abstain, answers, skipped, shift, conformal, no_conformal = [], [], [], [], [], [], []
    for g in groups:
        found = runs[g.key]
        if isinstance(found, str):
            skipped.append(f"{g.name}, {g.protocol_label}: {found}")
            continue
        scaled = scored(found) == "after"
        label = probabilities_label(g, found)
        base = {"group": g, "runs": group_size(g, found)}
        restricted = shift_runs(g, found)
        if restricted:  # its own table: on this dataset's own classes it never predicts the ones it was not trained on
            shared = {**base, "classes": restricted[1], "sentences": len(restricted[0][0].labels)}
            if scaled:
                shift.append({**shared, "probabilities": before_label(g), **group_scores(restricted[0], "before")})
            shift.append({**shared, "probabilities": "after temperature scaling" if scaled else None,
                              **group_scores(restricted[0], scored(found))})  # fmt: skip
            continue
        if scaled:
            rows.append({**base, "probabilities": before_label(g), **group_scores(found, "before")})
        # a group with some runs scaled and some not (older runs without validation predictions) is scored before
        # scaling throughout, as its label says; for a run never scaled "before" is "after"
        rows.append({**base, "probabilities": label, **group_scores(found, scored(found))})
        abstain.append({**base, **abstain_scores(found)})
        sets = conformal_scores(g, found)
        if isinstance(sets, str):
            no_conformal.append(f"{g.name}, {g.protocol_label}: {sets}")
        else:
            conformal.append({**base, **sets})
    for protocol in sorted({g.protocol for g in groups}, key=lambda p: p != "lab"):
        questions, missing = calibration_questions([g for g in groups if g.protocol == protocol], runs)
        answers += [{**answer, "protocol": protocol} for answer in answer_questions(questions)]
        skipped += missing
    for table in (rows, shift):  # one Holm family per table and protocol, as the verdicts
        holm_calibrated(table, lambda row: row["group"].protocol)
    calibrators = calibrator_rows(dataset, groups, runs)
    return HowSure(dataset, runs, rows, abstain, answers, skipped, shift, conformal, no_conformal, calibrators)


def left_out(group: Group) -> str | None:
    """Why this group was left out of temperature scaling (its record's `calibration.skipped`): by design for an
    as-is scorer (a lexicon, a thresholded neutral), or no identifiable temperature (`TemperatureNotIdentifiable`); or None."""
    return next((row.calibration["skipped"] for row in group.rows if "skipped" in (row.calibration or {})), None)


def own_temperature(group: Group) -> str:
    """"" or, for as-is models whose own saved calibration already divides their logits by a temperature (a run folder
    calibrated when trained, scored by evaluate_pretrained.py: `ScoredModel.model_temperature`), the clause that says
    so: its probabilities before the evaluation's own temperature scaling are that model's scaled ones."""
    found = sorted({row.model_temperature for row in group.rows if row.model_temperature})
    if not found:
        return ""
    which = f"{found[0]:.3g}" if len(found) == 1 else f"{found[0]:.3g}-{found[-1]:.3g}"
    some = "" if all(row.model_temperature for row in group.rows) else "some runs: "
    return f" (the model's own temperature, {some}T = {which}, kept)"


def before_label(group: Group) -> str:
    """The label of a group's row scored before temperature scaling: this evaluation's, for a model that had its own."""
    own = own_temperature(group)
    return f"before this evaluation's temperature scaling{own}" if own else "before temperature scaling"


def probabilities_label(group: Group, runs: list[Run]) -> str:
    """Which probabilities the group's calibration row scores: after scaling; not scaled (validation saved but no
    temperature, or left out by design, with the reason's first clause); else before scaling only (a run made
    before validation predictions were saved, which re-making it would scale). Each but "after" says a model's own
    saved temperature (`own_temperature`)."""
    if all(run.scaled for run in runs):
        return "after temperature scaling"
    why, own = left_out(group), own_temperature(group)
    if any(run.scaled for run in runs):
        others = f"the others: {why.split(':')[0]}" if why else "the others made before validation predictions were saved"
        return f"before temperature scaling ({sum(run.scaled for run in runs)} of {len(runs)} runs scaled, {others}){own}"
    if why:
        return f"not scaled: {why.split(':')[0]}{own}"
    return ("not scaled" if all(run.validation is not None for run in runs) else "ECE before scaling only") + own


def conformal_scores(group: Group, runs: list[Run]) -> dict | str:
    """{alpha: {"coverage", "mean_set_size", "empty": means over the runs}} of each run's conformal sets
    (`pipelines.calibration.conformal_sets`: calibrated on its validation sentences, measured on test);
    or why the group has none."""
    if group.protocol != "lab":
        return "cross-validation: each fold is its own model (conformal sets per fold are not shown)"
    if any(run.validation is None for run in runs):
        skipped = left_out(group)
        return f"not calibrated: {skipped}" if skipped else "no validation predictions saved (runs made before they were)"
    found = {}
    for alpha in CONFORMAL_ALPHAS:
        each = [set_scores(conformal_sets(run.validation, run.validation_labels, run.after, alpha), run.labels) for run in runs]
        found[alpha] = {key: float(np.mean([scores[key] for scores in each])) for key in each[0]}
    return found


def group_size(group: Group, runs: list[Run]) -> str:
    if group.kind == "pretrained":
        return "1 run"
    return "1 seed: training variance not counted" if len(runs) == 1 else f"{len(runs)} seeds"


def interval_text(found: dict) -> str:
    return f"{fmt(found['mean'])} [{fmt(found['ci_low'])}, {fmt(found['ci_high'])}]"


def score_cells(row: dict) -> dict:
    """A row's score cells: each score with its interval, the ECE if calibrated and the p-value of "calibrated", raw
    and Holm-adjusted (`holm_calibrated`)."""
    tested = row["if_calibrated"]
    return {**{score: interval_text(row[score]) for score in SCORES}, "floor": f"{fmt(tested['floor'])} ± {fmt(tested['floor_sd'])}",
            "calibrated_p": fmt_p(tested["p_value"]), "calibrated_holm": fmt_p(tested["holm_p"])}  # fmt: skip


def score_rows(rows: list[dict]) -> list[dict]:
    return [{"model": r["group"].name, "protocol": r["group"].protocol_label, "runs": r["runs"], "probabilities": r["probabilities"],
             **score_cells(r)} for r in rows]  # fmt: skip


def answer_rows(answers: list[dict]) -> list[dict]:
    return [{"question": a["question"], "score": SCORES[a["score"]], "runs": a["runs"] + (", paired" if a["paired"] else ""),
             "difference": f"{fmt(a['difference'], sign=True)} [{fmt(a['ci_low'], sign=True)}, {fmt(a['ci_high'], sign=True)}] "
                           f"({a['ci_level']:.1%})", "holm_p": fmt_p(a["holm_p"]), "mde": fmt(a["mde"]), "verdict": a["verdict"]}
            for a in answers]  # fmt: skip


def abstain_rows(abstain: list[dict]) -> list[dict]:
    rows = []
    for r in abstain:
        cells = {f"at_{c}": f"{interval_text(r[c])}, covers {r[c]['test_coverage']:.1%}" for c in COVERAGES}
        rows.append({"model": r["group"].name, "protocol": r["group"].protocol_label, "runs": r["runs"], **cells,
                     "threshold": "chosen on validation" if r[COVERAGES[0]]["chosen_on"] == "validation" else "**threshold chosen on test**"})  # fmt: skip
    return rows


def curves(result: HowSure) -> dict[str, list]:
    """Lab-split groups by kind, for the figures, on the probabilities their calibration rows score (`scored`):
    {kind: [(name, [(probabilities (n, K), labels (n,)) per run])]}."""
    found: dict[str, list] = {}
    for g in (g for g in {row["group"].key: row["group"] for row in result.rows}.values() if g.protocol == "lab"):
        runs = result.runs[g.key]
        found.setdefault(g.kind, []).append((g.name, [(getattr(run, scored(runs)), run.labels) for run in runs]))
    return found


FLOOR_COLUMNS = [("floor", "ECE if calibrated ± sd"), ("calibrated_p", "p (calibrated)"), ("calibrated_holm", "Holm p (calibrated)")]
SCORES_COLUMNS = [("model", "model (setting)"), ("protocol", "protocol"), ("runs", "runs"), ("probabilities", "probabilities"),
                  ("ece", "ECE [95% CI]"), *FLOOR_COLUMNS,
                  *((score, f"{name} [95% CI]") for score, name in SCORES.items() if score != "ece")]  # fmt: skip
ANSWER_COLUMNS = [("question", "question"), ("score", "score"), ("runs", "runs"), ("difference", "Δ = A − B [CI] (level)"),
                  ("holm_p", "Holm p"), ("mde", "MDE"), ("verdict", "verdict")]  # fmt: skip
CONFORMAL_COLUMNS = [("model", "model (setting)"), ("protocol", "protocol"), ("runs", "runs"),
                     *((f"at_{a}", f"{1 - a:.0%} sets: test coverage, mean size, empty") for a in CONFORMAL_ALPHAS)]  # fmt: skip
ABSTAIN_COLUMNS = [("model", "model (setting)"), ("protocol", "protocol"), ("runs", "runs"),
                   *((f"at_{c}", f"accuracy at {c:.0%} coverage [95% CI], test coverage") for c in COVERAGES), ("threshold", "threshold")]  # fmt: skip


def how_sure_section(results: list[HowSure], figures) -> list[str]:
    """The markdown of the "How sure" section, its figures drawn into `figures` (a folder)."""
    lines = ["## How sure", "", NOTE, "", FLOOR_NOTE, ""]
    for result in results:
        lines += dataset_lines(result, figures) if result.rows else []
        if result.shift:
            lines += [f"### {result.dataset}: under domain shift", "",
                      "Models trained on another benchmark, scored as they are on this one's sentences of the classes both "
                      "share, their probabilities renormalised over those classes; before and after the temperature fitted on "
                      "this benchmark's validation sentences where `evaluate_pretrained.py` fitted one, else as they are. "
                      "`python -m pipelines.report.calibration --shift RUN_DIR...` measures before and after the run's own "
                      "temperature from a run folder with its weights.", "",
                      markdown_table(score_rows([{**r, "probabilities": f"{', '.join(r['classes'])} ({r['sentences']} sentences)"
                                                                        + (f", {r['probabilities']}" if r["probabilities"] else "")}
                                                 for r in result.shift]), SCORES_COLUMNS),
                      f"Holm p (calibrated) over this table's rows of one protocol: {family_sizes(result.shift)}.", ""]  # fmt: skip
    return lines


def dataset_lines(result: HowSure, figures) -> list[str]:
    """One dataset's calibration table, verdicts, reliability diagram and abstention table."""
    from pipelines.report.figures import plot_reliability, plot_risk_coverage

    slug = dataset_slug(result.dataset)
    lines = [f"### {result.dataset}: calibration", "", markdown_table(score_rows(result.rows), SCORES_COLUMNS),
             f"Holm p (calibrated) over this table's rows of one protocol: {family_sizes(result.rows)}.", ""]
    lines += goal_lines(result) + calibrator_lines(result) + sure_lines(result)
    if result.answers:
        lines += [f"Verdicts ({len(result.answers)} rows, one Holm family per protocol, at {ALPHA}; lower is better, so a negative "
                  "Δ favours A): temperature scaling on the same runs (paired), class weights and distillation against the "
                  "same model trained plainly, on the probabilities before scaling.", "",
                  markdown_table(answer_rows(result.answers), ANSWER_COLUMNS)]  # fmt: skip
    lines += [f"Not compared: {line}" for line in result.skipped] + ([""] if result.skipped else [])
    by_kind = curves(result)
    if by_kind:  # the figures show the lab-split groups
        reliability = plot_reliability(result.dataset, by_kind, figures / f"reliability-{slug}.png")
        lines += [FIGURES_NOTE, "", f"![{result.dataset} reliability](figures/{reliability.name})", ""]
    lines += [f"### {result.dataset}: abstaining", "", ABSTAIN_NOTE, "",
              markdown_table(abstain_rows(result.abstain), ABSTAIN_COLUMNS)]  # fmt: skip
    if by_kind:
        risk = plot_risk_coverage(result.dataset, by_kind, figures / f"risk-coverage-{slug}.png")
        lines += [f"![{result.dataset} risk–coverage](figures/{risk.name})", ""]
    return lines + conformal_lines(result)


FIGURES_NOTE = (
    "The figures show the lab-split groups, each on the probabilities its last calibration row scores (after temperature "
    "scaling where every run was scaled, else before), runs pooled (reliability: scikit-learn's `calibration_curve`, "
    f"{ECE_BINS} equal-width bins) or averaged (risk–coverage)."
)
ABSTAIN_NOTE = (
    f"Answer only when the top probability reaches a threshold chosen to answer {' ('.join(f'{c:.0%}' for c in COVERAGES)}) of "
    "the validation sentences (`pipelines.calibration.abstain_threshold`), on the probabilities the group's last "
    "calibration row scores (a group scored before scaling whose runs were partly scaled: each run's validation "
    "probabilities before scaling, from its saved logits). Where any run of the group saved no validation predictions (a "
    "run made before they were saved), every run's threshold is chosen on "
    "its own test sentences, labelled so. Accuracy on the answered test sentences, mean over runs, 95% interval by the "
    "same runs × sentences procedure (the ratio linearized)."
)


def sure_lines(result: HowSure) -> list[str]:
    """What the as-is groups whose top probability is 1 (a lexicon's one-hot rows) show: always sure, the ECE is the
    error rate; sure except on two-class ties (0.5 / 0.5), counted from their probabilities."""
    always, tied = [], []
    for g in {row["group"].key: row["group"] for row in result.rows if row["group"].kind == "pretrained"}.values():
        top = np.concatenate([getattr(run, scored(result.runs[g.key])).max(axis=1) for run in result.runs[g.key]])
        if np.all(top == 1):
            always.append(g.name)
        elif np.all((top == 1) | (top == 0.5)) and np.any(top == 1):
            tied.append(f"{g.name} on {int(np.sum(top == 0.5)):,} of {len(top):,}")
    lines = []
    if always:
        lines.append(f"Always sure (top probability 1 on every sentence), so the ECE is the error rate: {', '.join(always)}.")
    if tied:
        lines.append(f"Sure (top probability 1) except on ties, where they give 0.5 / 0.5 and predict the first label: "
                     f"{', '.join(tied)} sentences; their ECE weighs the error rate of the sure sentences and "
                     "|accuracy on ties − 0.5| by their shares, so it is not their error rate.")  # fmt: skip
    return [" ".join(lines), ""] if lines else []


def goal_lines(result: HowSure) -> list[str]:
    """The goal for fine-tuned transformers (ECE <= `GOAL_ECE` after temperature scaling), each fine-tuned group's
    last row (after scaling where it was scaled) read against the ECE a calibrated model would show and against the
    row's Holm p of "calibrated" (`holm_calibrated`), which says whether calibration is rejected; where it was scaled,
    beside the ECE scaling gives on held-out validation halves and the label shares of validation and test (`shift_said`),
    for a lab-split group only: a CV run's validation probabilities are its folds' joined, each scaled by a temperature
    fitted on those same sentences, which one temperature refitted on half of them cannot undo (the held-out ECE would
    be optimistic, and its "halves" would count every fold's sentences)."""
    finetuned = {row["group"].key: row for row in result.rows if row["group"].kind == "finetuned"}  # the last row wins
    if not finetuned:
        return []
    lines = [f"Goal: every fine-tuned transformer at most {GOAL_ECE} ECE after temperature scaling, on every benchmark. "
             "Read against what a calibrated model would show on the same sentences (for a group, its mean ECE over runs), "
             "and against the row's Holm p (calibrated):", ""]  # fmt: skip
    for row in finetuned.values():
        tested, ece = row["if_calibrated"], row["ece"]["mean"]
        where = "after scaling" if row["probabilities"] == "after temperature scaling" else f"({row['probabilities']})"
        fit = "no more than a calibrated model shows" if tested["holm_p"] >= ALPHA else "more than a calibrated model shows"
        lines.append(f"- {row['group'].name}, {row['group'].protocol_label} ({row['runs']}): ECE {fmt(ece)} {where}, "
                     f"{'at most' if ece <= GOAL_ECE else 'above'} {GOAL_ECE}; a calibrated model would show "
                     f"{fmt(tested['floor'])} ± {fmt(tested['floor_sd'])} on these {tested['sentences']:,} sentences, above "
                     f"{GOAL_ECE} in {tested['above_goal']:.0%} of the draws; Holm p {p_said(tested['holm_p'])} over the "
                     f"table's {tested['family_size']} {row['group'].protocol_label} rows (p {p_said(tested['p_value'])} "
                     f"before adjusting): {fit}, at {ALPHA}."  # fmt: skip
                     + (shift_said(result.runs.get(row["group"].key), row["probabilities"]) if row["group"].protocol == "lab" else ""))
    return lines + [""]



CALIBRATORS = {
    "temperature": "temperature scaling (as saved)",
    "ece_temperature": "the temperature of least validation ECE",
    "bcts": "bias-corrected temperature scaling",
    "em": "BCTS + EM label-shift adaptation",
    "oracle": "prior correction to the test's own label shares (oracle)",
    "oracle_temperature": "the temperature of least test ECE (oracle)",
}
COMPARED = ("ece_temperature", "bcts", "em", "oracle")  # the keys of `CALIBRATORS` compared with temperature scaling
CALIBRATORS_NOTE = (
    "Why an ECE stays above the goal: other calibrators fitted on the same validation sentences, applied to the same "
    "test probabilities, and one temperature chosen on the test itself (a diagnosis; none is a step of training; "
    "temperature scaling and the two least-ECE temperatures change no prediction, BCTS, EM and the prior correction "
    "may). The temperature of least validation ECE (`pipelines.calibration.least_ece_temperature` on the validation "
    "sentences) asks whether temperature scaling's (fitted by NLL) is the wrong one for the ECE. Bias-corrected "
    "temperature scaling (BCTS: softmax(z / T + b), a bias per class; Alexandari et al. 2020, through their "
    "`abstention` package) asks whether one temperature is too few parameters. EM label-shift adaptation (Saerens "
    "et al. 2002, on BCTS probabilities as Alexandari et al. recommend) estimates the test's class shares from its "
    "unlabelled sentences and reweights each probability by estimated / validation share. The oracle reweights the "
    "temperature-scaled probabilities by the test's true label shares / validation's (Bayes' rule; it reads the test "
    "labels' shares, so no deployed model has it): if the test differed from validation only by its class shares, it "
    "would bring the ECE to what a calibrated model shows. The oracle temperature is the one, on a grid of "
    f"{ECE_TEMPERATURE_GRID[0]:g}-{ECE_TEMPERATURE_GRID[-1]:g} × the saved temperature in "
    f"{ECE_TEMPERATURE_GRID[1] / ECE_TEMPERATURE_GRID[0] - 1:.2%} steps, whose test ECE is least "
    "(`pipelines.calibration.least_ece_temperature`, chosen on the test sentences and labels themselves and scored on "
    "them; it gets no difference or verdict): the least ECE a temperature per run reaches on this test, optimistic "
    f"(the least of {len(ECE_TEMPERATURE_GRID)} noisy values, so its interval is too narrow and it may fall below what "
    "a calibrated model shows). If it stays above the goal, no temperature in that range chosen on any validation set "
    "reaches the goal there. Each cell: ECE (top-label, 15 bins) and the official metric, mean over runs with the runs × sentences "
    "95% interval (`pipelines.statistics.values_interval`)."
)


def calibrator_rows(dataset: str, groups: list[Group], runs: dict) -> list[dict]:
    """For each lab-split fine-tuned group whose runs were all temperature-scaled with their validation probabilities
    saved, one row: under each key of `CALIBRATORS` {"ece": interval, <official metric>: interval} of its test
    probabilities (`pipelines.calibration.bias_corrected_temperature_scaling`, `em_label_shift`, `prior_corrected`,
    `least_ece_temperature` for "ece_temperature", each fitted on the run's own validation sentences at the saved
    scale; `least_ece_temperature` on the run's own test sentences for "oracle_temperature"), and for each key of
    `COMPARED` "difference": Δ ECE against temperature scaling on the same runs and sentences (paired where the
    group has two runs or more), with its CI at its Holm level, p, Holm p over the table and verdict. The oracle
    prior correction gets no difference where the test's label shares are validation's (within `SAME_SHARES`): it is
    temperature scaling itself there, so it is left out of the family; the oracle temperature never gets one (it is
    fitted on the sentences it is scored on). Also "test_shares", "validation_shares", "em_shares" (EM's estimate)
    and "mean_probability" (the model's mean test probability per class), each (K,) and a mean over runs; "oracle_temperatures": the
    temperature of least ECE on each run's test sentences, relative to its saved scale (runs,).
    `RuntimeError` from `bias_corrected_temperature_scaling` when its fit does not converge."""
    found = []
    for g in groups:
        group_runs = runs.get(g.key)
        if g.kind != "finetuned" or g.protocol != "lab" or not isinstance(group_runs, list):
            continue
        if not all(run.scaled and run.validation is not None for run in group_runs):
            continue
        label_names = g.rows[0].label_names
        metric = official_metric_for(dataset, label_names)
        k = group_runs[0].after.shape[1]
        probabilities: dict[str, list[np.ndarray]] = {key: [] for key in CALIBRATORS}
        shares: dict[str, list[np.ndarray]] = {"test_shares": [], "validation_shares": [], "em_shares": [], "mean_probability": []}
        oracle_temperatures = []
        for run in group_runs:
            validation_logits = logits_from_probabilities(run.validation)  # (n_val, K), at the saved scale
            both = bias_corrected_temperature_scaling(validation_logits, run.validation_labels,
                                                      np.vstack([validation_logits, logits_from_probabilities(run.after)]))  # fmt: skip
            bcts_validation, bcts = both[: len(validation_logits)], both[len(validation_logits) :]
            adapted, estimated = em_label_shift(bcts_validation, run.validation_labels, bcts)
            validation_shares = np.bincount(run.validation_labels, minlength=k) / len(run.validation_labels)
            test_shares = np.bincount(run.labels, minlength=k) / len(run.labels)
            probabilities["temperature"].append(run.after)
            test_logits = logits_from_probabilities(run.after)  # (n, K), at the saved scale
            ece_temperature, _ = least_ece_temperature(validation_logits, run.validation_labels)
            probabilities["ece_temperature"].append(scaled_probabilities(test_logits, ece_temperature))
            probabilities["bcts"].append(bcts)
            probabilities["em"].append(adapted)
            probabilities["oracle"].append(prior_corrected(run.after, validation_shares, test_shares))
            oracle_temperatures.append(least_ece_temperature(test_logits, run.labels)[0])
            probabilities["oracle_temperature"].append(scaled_probabilities(test_logits, oracle_temperatures[-1]))
            for key, value in zip(shares, (test_shares, validation_shares, estimated, run.after.mean(axis=0))):
                shares[key].append(value)
        row = {"group": g, "runs": group_size(g, group_runs), "metric": metric, "oracle_temperatures": oracle_temperatures,
               **{key: np.mean(values, axis=0).tolist() for key, values in shares.items()}}  # fmt: skip
        labels = group_runs[0].labels
        ece = {}
        for key, each in probabilities.items():
            values = np.stack([sentence_values(p, run.labels, "ece") for p, run in zip(each, group_runs)])  # (runs, n)
            point = float(np.mean([calibration_scores(p, run.labels)["ece"] for p, run in zip(each, group_runs)]))
            ece[key] = (values, point)
            predictions = np.stack([p.argmax(axis=1) for p in each])  # (runs, n)
            row[key] = {"ece": values_interval(values, point, bounds=UNIT_RANGE),
                        metric: values_interval(metric_values(labels, predictions, metric, label_names), bounds=UNIT_RANGE)}  # fmt: skip
        same_shares = np.allclose(row["test_shares"], row["validation_shares"], atol=SAME_SHARES)
        for key in COMPARED:  # each against temperature scaling on the same runs and sentences (paired)
            if key == "oracle" and same_shares:
                continue
            (a_values, a_point), (b_values, b_point) = ece[key], ece["temperature"]
            row[key]["difference"] = {"difference": a_point - b_point,
                                      "variance": crossed_variance(a_values, b_values, paired=len(group_runs) > 1)}  # fmt: skip
        found.append(row)
    # one Holm family per table: every calibrator against temperature scaling, as the report's verdicts
    cells = [row[key]["difference"] for row in found for key in CALIBRATORS if "difference" in row[key]]
    raw = [crossed_interval_and_p(c["difference"], c["variance"])["p_value"] for c in cells]
    for cell, p, level in zip(cells, holm(raw), holm_levels(raw)):
        found_at = crossed_interval_and_p(cell["difference"], cell.pop("variance"), alpha=level)
        cell.update(ci_low=found_at["ci_low"], ci_high=found_at["ci_high"], ci_level=1 - level, p_value=found_at["p_value"],
                    mde=found_at["mde"], holm_p=p, family_size=len(cells),
                    verdict=("no detectable difference" if p >= ALPHA else "lower ECE" if cell["difference"] < 0 else "higher ECE"))  # fmt: skip
    return found


def shares_text(shares) -> str:
    """`0.156 / 0.448 / 0.396`: class shares (K,), in label order (`label_shares` formats a split's own)."""
    return " / ".join(f"{share:.3f}" for share in shares)


def calibrator_lines(result: HowSure) -> list[str]:
    """The table of `calibrator_rows` with its note and, per row, what it says: which calibrators lower the ECE,
    whether the oracle prior correction does (a label shift) or not (a shift beyond the class shares), and the ECE of
    the oracle temperature against `GOAL_ECE` (whether any temperature per run reaches the goal on this test)."""
    if not result.calibrators:
        return []
    rows, said = [], []
    for r in result.calibrators:
        metric = METRICS[r["metric"]].display
        cells = {key: f"ECE {interval_text(r[key]['ece'])}; {metric} {interval_text(r[key][r['metric']])}"
                      + (f"; Δ ECE {delta_text(r[key]['difference'])}" if "difference" in r[key] else "") for key in CALIBRATORS}  # fmt: skip
        if "difference" not in r["oracle"]:
            cells["oracle"] = "the test's label shares are validation's: temperature scaling itself"
        rows.append({"model": r["group"].name, "runs": r["runs"], **cells,
                     "shares": f"model {shares_text(r['mean_probability'])}; EM {shares_text(r['em_shares'])}; "
                               f"test {shares_text(r['test_shares'])}; validation {shares_text(r['validation_shares'])}"})  # fmt: skip
        lower = [CALIBRATORS[key] for key in COMPARED if r[key].get("difference", {}).get("verdict") == "lower ECE"]
        oracle = r["oracle"].get("difference")
        if oracle is None:
            shift = "the test's label shares are validation's, so the oracle has no label shift to undo"
        elif oracle["verdict"] == "lower ECE":
            shift = "the oracle prior correction lowers it, so part of the gap is the test's class shares"
        else:
            shift = (f"the oracle prior correction does not lower it ({oracle['verdict']}, Δ {fmt(oracle['difference'], sign=True)}): "
                     "the test differs from validation by more than its class shares, which a label shift alone would not")  # fmt: skip
        best = r["oracle_temperature"]["ece"]["mean"]
        reach = ("so a temperature chosen on this test's labels reaches the goal (optimistic)" if best <= GOAL_ECE else
                 "so no temperature per run reaches the goal on this test")  # fmt: skip
        said.append(f"- {r['group'].name}: ECE after temperature scaling {fmt(r['temperature']['ece']['mean'])}; "
                    f"{'lower with ' + ' and '.join(lower) if lower else 'no calibrator here lowers it detectably'}; {shift}; "
                    f"the temperature of least test ECE gives {fmt(best)} ({'at most' if best <= GOAL_ECE else 'above'} "
                    f"{GOAL_ECE}, at {fmt_range(r['oracle_temperatures'])} × the saved temperature), {reach}.")  # fmt: skip
    columns = [("model", "model (setting)"), ("runs", "runs"), *((key, name) for key, name in CALIBRATORS.items()),
               ("shares", "class shares: the model's mean test probability, EM's estimate, test, validation (means over runs)")]  # fmt: skip
    size = next(r[key]["difference"]["family_size"] for r in result.calibrators for key in CALIBRATORS if "difference" in r[key])
    return [CALIBRATORS_NOTE + f" Δ ECE: the calibrator − temperature scaling on the same runs and sentences (paired), its CI "
            f"at its Holm level, Holm p over the table's {size} differences, the verdict at {ALPHA} and the minimum "
            "detectable effect (MDE, at 80% power and the same level).", "",
            markdown_table(rows, columns), *said, ""]


def fmt_range(values) -> str:
    """`1.08` for one value or equal ones, `1.02-1.11` for a spread: the smallest and largest of `values`, 2 decimals."""
    low, high = fmt(min(values), digits=2), fmt(max(values), digits=2)
    return low if low == high else f"{low}-{high}"


def delta_text(cell: dict) -> str:
    """A difference of `calibrator_rows`, e.g. "-0.0122 [-0.0167, -0.0077] (99.2%), Holm p 0.006, MDE 0.0062, lower ECE"."""
    return (f"{fmt(cell['difference'], sign=True)} [{fmt(cell['ci_low'], sign=True)}, {fmt(cell['ci_high'], sign=True)}] "
            f"({cell['ci_level']:.1%}), Holm p {fmt_p(cell['holm_p'])}, MDE {fmt(cell['mde'])}, {cell['verdict']}")

def cross_fitted_validation_ece(runs: list[Run], seed: int = CROSS_FIT_SEED) -> float | None:
    """Top-label ECE of temperature scaling on validation sentences it was not fitted on, mean over halves and runs.

    Each run's validation sentences are halved at random (`seed`); one temperature is fitted on each half
    (`pipelines.calibration.fit_temperature`: NLL, as after training) and the other half is scored at it
    (`calibration_scores`' ECE: top-label, 15 bins). This is what scaling gives on sentences drawn as the
    validation ones were; a test set drawn otherwise (SemEval's 2017 tweets after 2013-2016 training tweets)
    adds its shift to the test ECE. None when a run saved no validation predictions or a half identifies no
    temperature (`TemperatureNotIdentifiable`: a few-shot run's handful of sentences). For lab-split runs (`goal_lines`):
    the one saved temperature, fitted on all of a run's validation sentences, is a free scale the half's refit undoes,
    whereas a CV run's joined folds carry one temperature each, fitted on the very sentences held out here.
    """
    rng = np.random.default_rng(seed)
    eces = []
    for run in runs:
        if run.validation is None:
            return None
        logits, labels = logits_from_probabilities(run.validation), run.validation_labels  # (n_val, K), (n_val,)
        order = rng.permutation(len(labels))
        halves = order[: len(order) // 2], order[len(order) // 2 :]
        for fit, held_out in (halves, halves[::-1]):
            try:
                temperature = fit_temperature(logits[fit], labels[fit])
            except TemperatureNotIdentifiable:
                return None
            eces.append(calibration_scores(scaled_probabilities(logits[held_out], temperature), labels[held_out])["ece"])
    return float(np.mean(eces))


def label_shares(labels: np.ndarray, num_labels: int) -> str:
    """`0.156 / 0.448 / 0.396`: each class's share of `labels` (n,), in label order."""
    return shares_text(np.bincount(labels, minlength=num_labels) / len(labels))


def shift_said(runs: list[Run] | str | None, probabilities: str) -> str:
    """One clause for the goal line of a group scaled after training (`probabilities`, the row's label): the
    cross-fitted validation ECE after scaling and the two splits' label shares; "" for a group not scaled or not read."""
    if probabilities != "after temperature scaling" or not isinstance(runs, list):
        return ""
    held_out = cross_fitted_validation_ece(runs)
    if held_out is None:
        return ""
    run = runs[0]
    num_labels = run.after.shape[1]
    return (f" On validation sentences it was not fitted on (`cross_fitted_validation_ece`: halves of "
            f"{len(run.validation_labels) // 2:,} sentences, mean over halves and runs; a calibrated model's ECE rises as the "
            f"sentences fall) scaling gives ECE {fmt(held_out)}; label shares, validation {label_shares(run.validation_labels, num_labels)}, "
            f"test {label_shares(run.labels, num_labels)}.")  # fmt: skip


def p_said(p: float) -> str:
    """"= 0.025" or "< 0.001"."""
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def conformal_lines(result: HowSure) -> list[str]:
    """One dataset's conformal prediction sets: a table of the groups that have them, one line naming the rest."""
    lines = [f"### {result.dataset}: conformal prediction sets", "",
             f"Sets of labels that should hold the gold label in {', '.join(f'{1 - a:.0%}' for a in CONFORMAL_ALPHAS)} of "
             f"sentences: {CONFORMAL_METHOD}; calibrated on each run's validation predictions, at the scale the run outputs (after "
             "its temperature, where it has one), and measured on test, mean over runs. The same validation sentences fitted "
             "the temperature (and chose a Trainer run's checkpoint), so the guarantee is approximate.", ""]  # fmt: skip
    if result.conformal:
        lines += [markdown_table(conformal_rows(result.conformal), CONFORMAL_COLUMNS)]
    lines += [f"No conformal sets: {line}" for line in result.no_conformal]
    return lines + [""]


def conformal_rows(conformal: list[dict]) -> list[dict]:
    rows = []
    for r in conformal:
        cells = {f"at_{a}": f"{r[a]['coverage']:.4f}, {r[a]['mean_set_size']:.3f} labels, {r[a]['empty']:.1%} empty" for a in CONFORMAL_ALPHAS}
        rows.append({"model": r["group"].name, "protocol": r["group"].protocol_label, "runs": r["runs"], **cells})
    return rows


def numbers(results: list[HowSure]) -> dict:
    """What report.json keeps of the section, per dataset."""
    def plain(row: dict) -> dict:
        g = row["group"]
        return {"model": g.model, "setting": g.setting.label, "protocol": g.protocol_label,
                **{str(key): value for key, value in row.items() if key != "group"}}  # fmt: skip

    return {r.dataset: {"scores": [plain(row) for row in r.rows], "abstain": [plain(row) for row in r.abstain],
                        "verdicts": r.answers, "not_compared": r.skipped, "shift": [plain(row) for row in r.shift],
                        "conformal": [plain(row) for row in r.conformal], "no_conformal": r.no_conformal,
                        "calibrators": [plain(row) for row in r.calibrators]}
            for r in results}  # fmt: skip


# --- domain shift from a run folder: python -m pipelines.report.calibration --shift RUN_DIR... -----------------------


@dataclass
class ShiftArguments:
    shift: list[str] = field(metadata={"help": "finished train.py / finetune.py run folders with their weights"})
    dataset: str = field(default="semeval2017a", metadata={"help": "the benchmark to score them on (its test split)"})
    data_dir: str | None = field(default=None, metadata={"help": "the benchmarks' folder (else the Hub copy)"})
    output: str | None = field(default=None, metadata={"help": "a markdown file for the table (else printed only)"})


def run_row(run_dir: Path) -> ReportRow:
    """A run folder as the report reads it (`collect.trained_row`), for `read_row`."""
    from pipelines.runs.record import RunRecord

    return trained_row(RunRecord.read(run_dir), run_dir, run_dir.parent)


def shift_rows(run_dir: Path, dataset: str, data_dir: str | None) -> list[dict]:
    """In-domain (its own test predictions) and shifted (`dataset`'s test sentences of the classes both share) scores of
    one run, before and after its temperature; each with its 95% interval over sentences (one run).
    `OptionError` for an unknown `dataset`, `PathError` for a folder that is not a finished run or has no model
    (`TorchSequenceClassifier.from_pretrained`), `DataError` for one without its test predictions or their probabilities;
    each before the model is loaded."""
    from pipelines.calibration import model_temperature
    from pipelines.data.builtin import load_sentiment_dataset
    from pipelines.errors import DataError, PathError
    from pipelines.inference import TorchSequenceClassifier
    from pipelines.runs.layout import PREDICTIONS_FILE, RESULTS_FILE
    from pipelines.runs.record import RunRecord

    names = get_benchmark(dataset).label_names
    if not (run_dir / RESULTS_FILE).is_file():
        raise PathError(f"{run_dir}: not a finished run (no {RESULTS_FILE})")
    record = RunRecord.read(run_dir)
    row = run_row(run_dir)
    if not row.predictions:
        raise DataError(f"{run_dir}: no test predictions ({record.predictions_file or PREDICTIONS_FILE}) to score it in domain")
    own = read_row(row)
    if not isinstance(own, dict):
        raise DataError(own or f"{run_dir}: no probabilities in its predictions")
    classifier = TorchSequenceClassifier.from_pretrained(run_dir)
    temperature = model_temperature(classifier.model.config)
    shared = [name for name in classifier.label_names if name in names]
    if len(shared) < 2:
        raise DataError(f"{run_dir}: its labels {classifier.label_names} share fewer than two classes with {dataset} ({list(names)})")
    test = load_sentiment_dataset(dataset, data_dir)["test"]
    kept = [(text, names[label]) for text, label in zip(column(test, "text"), column(test, "label")) if names[label] in shared]
    columns = [classifier.label_names.index(name) for name in shared]
    after = classifier.probabilities([text for text, _ in kept])[:, columns]  # (n, shared)
    after = after / after.sum(axis=1, keepdims=True)
    labels = np.array([shared.index(name) for _, name in kept])
    before = scaled_probabilities(logits_from_probabilities(after), 1 / temperature)
    shifted = Run(0, np.arange(len(labels)), labels, after, before, None, None, temperature != 1.0)
    home = Run(0, own["index"], own["labels"], own["after"], own["before"], None, None, own["scaled"])
    rows = []
    for where, run, sentences in ((f"{record.dataset} (in domain)", home, len(own["labels"])), (f"{dataset}: {', '.join(shared)}", shifted, len(labels))):
        for which in ("before", "after") if run.scaled else ("before",):
            rows.append({"run": run_dir.name, "model": record.model, "test": where, "sentences": sentences, "temperature": temperature,
                         "accuracy": float((run.after.argmax(axis=1) == run.labels).mean()),
                         "probabilities": f"{which} temperature scaling" if run.scaled else "not scaled", **group_scores([run], which)})  # fmt: skip
    return rows


SHIFT_COLUMNS = [("run", "run"), ("model", "model"), ("test", "test sentences"), ("sentences", "n"), ("accuracy", "accuracy"),
                 ("temperature", "T"), ("probabilities", "probabilities"), *SCORES_COLUMNS[4:]]


def main(argv: list[str]) -> None:
    """Domain-shift calibration of run folders: one markdown table, printed and written to --output. `OptionError` for an
    unknown --dataset and `PathError` for an --output that cannot be written, before any run folder is scored."""
    from pipelines.cli import parse
    from pipelines.errors import PathError
    from pipelines.runs.io import check_writable_dir

    (args,) = parse((ShiftArguments,), argv)
    get_benchmark(args.dataset)
    output = Path(args.output) if args.output else None
    if output is not None and output.is_dir():
        raise PathError(f"--output {output} is a folder; give a markdown file")
    if output is not None:
        check_writable_dir(output.absolute().parent)
    rows = [row for run_dir in args.shift for row in shift_rows(Path(run_dir), args.dataset, args.data_dir)]
    holm_calibrated(rows, lambda row: None)  # one table of run folders: one family
    table = markdown_table([{**r, **score_cells(r)} for r in rows], SHIFT_COLUMNS)
    text = "\n".join([f"Made by: `python -m pipelines.report.calibration {' '.join(argv)}`", "", NOTE, "", FLOOR_NOTE, "",
                      "One run each: the intervals count the test sentences only (single seed).", "", table,
                      f"Holm p (calibrated) over every row of this table: {len(rows)} rows.", ""])  # fmt: skip
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    import sys

    from pipelines.cli import run_cli

    sys.exit(run_cli(main))
