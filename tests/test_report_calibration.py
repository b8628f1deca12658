"""The report's "How sure" section (`pipelines.report.calibration`) on tiny runs built in code, and its pieces:
risk–coverage, the abstention threshold, per-sentence values, the score interval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.calibration import (
    abstain_threshold,
    calibration_scores,
    conformal_sets,
    consistency_test,
    risk_coverage,
    scaled_probabilities,
    selective_scores,
    set_scores,
)
from pipelines.report import write_report
from pipelines.formatting import markdown_table
from pipelines.report.calibration import (
    SCORES, SCORES_COLUMNS, HowSure, Run, conformal_scores, goal_lines, holm_calibrated, probabilities_label, score_rows,
    selective_values, sentence_values, sure_lines,
)
from pipelines.report.collect import Group
from pipelines.report.tables import fmt_p
from pipelines.runs.io import write_validation_predictions
from pipelines.runs.setting import Setting
from pipelines.statistics import crossed_variance, holm, score_interval, values_interval
from tests.conftest import report_row

TWO = ["negative", "positive"]
N = 1000


def test_risk_coverage_on_a_hand_example():
    # confidences 0.9 (right), 0.8 (wrong), 0.8 (right), 0.6 (wrong): the tied 0.8s are answered together
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.4, 0.6]])
    labels = np.array([0, 0, 0, 0])
    coverage, risk = risk_coverage(probabilities, labels)
    np.testing.assert_allclose(coverage, [0.25, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 1 / 3, 0.5])
    shuffled = [3, 1, 0, 2]
    np.testing.assert_allclose(risk_coverage(probabilities[shuffled], labels[shuffled])[1], risk)  # row order never matters


def test_abstain_threshold_answers_the_share_asked():
    probabilities = np.array([[c, 1 - c] for c in (0.9, 0.8, 0.7, 0.6, 0.55)])
    assert abstain_threshold(probabilities, 0.8) == 0.6  # the 4th most confident of 5
    assert abstain_threshold(probabilities, 0.9) == 0.55  # ⌈4.5⌉ = 5th
    assert selective_scores(probabilities, np.zeros(5, dtype=int), 0.6) == {"coverage": 0.8, "accuracy": 1.0}
    with pytest.raises(ValueError, match="coverage in"):
        abstain_threshold(probabilities, 0.0)


def random_run(seed: int, n: int = N, temperature: float = 2.0):
    """Labels drawn from softmax(z); probabilities softmax(z * temperature): overconfident for temperature > 1."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(n, 2))
    labels = (rng.random(n) > scaled_probabilities(logits, 1.0)[:, 0]).astype(int)
    return labels, logits * temperature


@pytest.mark.parametrize("score", list(SCORES))
def test_sentence_values_average_to_the_library_score(score):
    labels, logits = random_run(0)
    probabilities = scaled_probabilities(logits, 1.0)
    assert sentence_values(probabilities, labels, score).mean() == pytest.approx(calibration_scores(probabilities, labels)[score], abs=1e-6)


def test_sentence_values_bin_as_the_library_does():
    """torchmetrics puts a confidence of exactly 1 in a bin of its own, and bins the top label's confidence in float32:
    the linearization bins alike, so its mean is the library's ECE (clipping 1 into the last bin gave 0.475 here)."""
    sure_and_wrong, right_at_095 = [1.0, 0.0], [0.95, 0.05]
    probabilities = np.array([sure_and_wrong, right_at_095])
    labels = np.array([1, 0])
    assert calibration_scores(probabilities, labels)["ece"] == pytest.approx(0.525)  # (|0 - 1| + |1 - 0.95|) / 2
    assert sentence_values(probabilities, labels, "ece").mean() == pytest.approx(0.525)
    # just below 2/3 in float64, 2/3 in float32: torchmetrics' bin 10 (of 15), not 9; a wrong row at 0.6 in bin 9
    below = np.nextafter(2 / 3, 0)
    probabilities = np.array([[below, 1 - below], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0])
    for score in ("ece", "classwise_ece"):
        expected = calibration_scores(probabilities, labels)[score]
        assert sentence_values(probabilities, labels, score).mean() == pytest.approx(expected, abs=1e-7)


def test_selective_values_average_to_the_accuracy_on_the_answered():
    labels, logits = random_run(1)
    probabilities = scaled_probabilities(logits, 1.0)
    values, coverage = selective_values(probabilities, labels, 0.8)
    expected = selective_scores(probabilities, labels, 0.8)
    assert values.mean() == pytest.approx(expected["accuracy"]) and coverage == pytest.approx(expected["coverage"])


def test_score_interval_of_one_run_is_the_t_interval_over_sentences():
    values = np.random.default_rng(2).normal(size=(1, 500))
    found = values_interval(values)
    assert values_interval(values, 0.25)["mean"] == 0.25 and values_interval(values, 0.25)["se"] == found["se"]  # a given point
    half = 1.9647 * values.std(ddof=1) / np.sqrt(500)  # t_{0.975, 499}
    assert (found["ci_high"] - found["ci_low"]) / 2 == pytest.approx(half, rel=1e-3)
    variance = crossed_variance(values, np.zeros((1, 500)), paired=False)
    assert (variance.seed, variance.sentence_df) == (0.0, 499)
    gold = np.tile([0, 1], 250)
    predictions = np.stack([np.where(np.random.default_rng(seed).random(500) < 0.8, gold, 1 - gold) for seed in range(3)])
    metric = score_interval(gold, predictions, "accuracy", ["negative", "positive"])  # a metric's: the same procedure
    assert {k: metric[k] for k in ("mean", "ci_low", "ci_high", "se", "df", "runs")} == pytest.approx(values_interval((predictions == gold).astype(float)))


def write_run(root: Path, name: str, seed: int, setting: dict, temperature: float = 2.0, validation: bool = False) -> Path:
    """A GloVe meanmax MR run record: test predictions with probabilities; with `validation`, calibrated as
    `pipelines.calibrate` leaves it (T recorded, the saved probabilities scaled, validation logits kept)."""
    labels, logits = random_run(seed, temperature=temperature)
    run = root / name
    run.mkdir(parents=True)
    results = {"model": "meanmax", "model_type": "glove-meanmax", "dataset": "mr", "label_names": TWO, "seed": seed,
               "vectors": "trained", "protocol": "lab", "test": {"accuracy": 0.7, "f1_macro": 0.7, "recall_macro": 0.7},
               "predictions_file": "predictions.parquet", **setting}  # fmt: skip
    probabilities = scaled_probabilities(logits, 1.0)
    if validation:
        val_labels, val_logits = random_run(100 + seed, temperature=temperature)
        write_validation_predictions(run / "validation_predictions.parquet", val_labels, val_logits)
        results["validation_predictions_file"] = "validation_predictions.parquet"
        results["calibration"] = {"temperature": temperature}
        probabilities = scaled_probabilities(logits, temperature)
    frame = pd.DataFrame({"index": np.arange(N), "label": labels, "prediction": probabilities.argmax(axis=1),
                          "probabilities": list(probabilities)})  # fmt: skip
    frame.to_parquet(run / "predictions.parquet")
    (run / "results.json").write_text(json.dumps(results))
    return run


def stored(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities as the report reads them: at float16, the precision of a compact record."""
    stored = np.asarray(probabilities).astype(np.float16).astype(np.float64)
    return stored / stored.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Plain runs (seeds 0-3, calibrated from validation) and class-weighted runs (seeds 0-3, no validation)."""
    root = tmp_path_factory.mktemp("runs")
    for seed in range(4):
        write_run(root, f"plain/seed-{seed}", seed, {}, validation=True)
        write_run(root, f"weighted/seed-{seed}", seed, {"class_weights": "balanced"}, temperature=3.0)
    path = write_report(root)
    return root, path.read_text(), json.loads((path.parent / "report.json").read_text())["calibration"]["mr"]


def test_report_section_scores_every_group_from_its_files(report):
    root, text, numbers = report
    assert "## How sure" in text and "top-label, 15 equal-width" in text
    by_label = {(row["setting"], row["probabilities"]): row for row in numbers["scores"]}
    assert set(by_label) == {("trained vectors", "before temperature scaling"), ("trained vectors", "after temperature scaling"),
                             ("trained vectors, class-weighted", "ECE before scaling only")}  # fmt: skip
    weighted = [random_run(seed, temperature=3.0) for seed in range(4)]
    expected = np.mean([calibration_scores(stored(scaled_probabilities(z, 1.0)), y)["ece"] for y, z in weighted])
    found = by_label[("trained vectors, class-weighted", "ECE before scaling only")]["ece"]
    assert found["mean"] == pytest.approx(expected, abs=1e-5) and found["ci_low"] < expected < found["ci_high"] and found["runs"] == 4
    plain = [random_run(seed) for seed in range(4)]
    after = np.mean([calibration_scores(stored(scaled_probabilities(z, 2.0)), y)["ece"] for y, z in plain])
    assert by_label[("trained vectors", "after temperature scaling")]["ece"]["mean"] == pytest.approx(after, abs=1e-5)
    assert (root / "report" / "figures" / "reliability-mr.png").is_file() and (root / "report" / "figures" / "risk-coverage-mr.png").is_file()


def test_report_verdicts_temperature_scaling_and_class_weights(report):
    _, text, numbers = report
    verdicts = {(v["question"], v["score"]): v for v in numbers["verdicts"]}
    assert set(verdicts) == {(q, s) for q in ("temperature scaling: meanmax (trained vectors)", "class-weighted vs unweighted: meanmax")
                             for s in ("ece", "brier")}  # fmt: skip
    assert all(v["family_size"] == 4 and v["paired"] for v in verdicts.values())
    # scaling by the true T (2) fixes logits made twice as sure; T = 3 is surer still than T = 2
    assert verdicts[("temperature scaling: meanmax (trained vectors)", "ece")]["verdict"] == "after scaling better calibrated"
    assert verdicts[("class-weighted vs unweighted: meanmax", "ece")]["verdict"] == "unweighted better calibrated"
    assert "| class-weighted vs unweighted: meanmax | ECE | 4 vs 4, paired |" in text


def test_report_reads_each_ece_against_what_a_calibrated_model_would_show(report):
    _, text, numbers = report
    by_label = {(row["setting"], row["probabilities"]): row["if_calibrated"] for row in numbers["scores"]}
    plain = [random_run(seed) for seed in range(4)]  # labels from softmax(z), saved probabilities softmax(2z / 2)
    expected = consistency_test([(stored(scaled_probabilities(z, 2.0)), y) for y, z in plain])
    after = by_label[("trained vectors", "after temperature scaling")]
    assert after["floor"] == pytest.approx(expected["floor"]) and after["p_value"] == pytest.approx(expected["p_value"])
    assert after["sentences"] == N and len(after["run_p_values"]) == 4 and after["p_value"] > 0.05  # calibrated by construction
    assert by_label[("trained vectors", "before temperature scaling")]["p_value"] < 0.01  # softmax(2z): overconfident
    assert "| ECE [95% CI] | ECE if calibrated ± sd | p (calibrated) | Holm p (calibrated) |" in text
    assert "consistency resampling" in text and "Goal:" not in text  # no fine-tuned transformer among these runs


def table_column(text: str, title: str) -> list[str]:
    """The cells of the column headed `title` in the first markdown table of `text` that has one."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("|") and f"| {title} |" in line)
    column = [cell.strip() for cell in lines[at].strip("|").split("|")].index(title)
    cells = []
    for line in lines[at + 2:]:  # past the header and its |---| line
        if not line.startswith("|"):
            break
        cells.append([cell.strip() for cell in line.strip("|").split("|")][column])
    return cells


def test_report_adjusts_the_p_of_calibrated_by_holm_over_the_table(report):
    """The three rows of the fixture's table (one protocol) are one Holm family; the table's Holm column and
    report.json hold the adjusted p-values, the column beside it the raw ones."""
    _, text, numbers = report
    tested = [row["if_calibrated"] for row in numbers["scores"]]
    adjusted = holm([t["p_value"] for t in tested])
    assert [t["holm_p"] for t in tested] == pytest.approx(adjusted) and {t["family_size"] for t in tested} == {3}
    assert any(h != pytest.approx(t["p_value"]) for h, t in zip(adjusted, tested))  # the adjustment changes something here
    section = text[text.index("### mr: calibration"):]
    assert table_column(section, "Holm p (calibrated)") == [fmt_p(p) for p in adjusted]
    assert table_column(section, "p (calibrated)") == [fmt_p(t["p_value"]) for t in tested]
    assert "Holm p (calibrated) over this table's rows of one protocol: lab split, 3 rows." in section


def finetuned_rows(p_values: list[float]) -> list[dict]:
    """Rows of one lab-split calibration table: MPNet before and after scaling, then as-is models, with these p-values."""
    mpnet = Group("mr", "mpnet", Setting("fine-tuned"), "lab", "finetuned", [report_row(kind="finetuned", model="mpnet")])
    interval = {"mean": 0.035, "ci_low": 0.01, "ci_high": 0.06}
    rows = []
    for i, p in enumerate(p_values):
        group = mpnet if i < 2 else Group("mr", f"scorer{i}", Setting("as is"), "lab", "pretrained", [report_row(kind="pretrained")])
        tested = {"floor": 0.0216, "floor_sd": 0.0063, "p_value": p, "sentences": 662, "above_goal": 0.52}
        rows.append({"group": group, "runs": "1 seed", "probabilities": ("before", "after")[min(i, 1)] + " temperature scaling",
                     **{score: interval for score in SCORES}, "if_calibrated": tested})  # fmt: skip
    return rows


def test_holm_turns_a_raw_rejection_of_calibrated_into_none():
    """MPNet after scaling: raw p 0.025 (below 0.05), Holm p 0.050 in a family of 3 (0.001, 0.025, 0.4): not rejected.
    The table's Holm column and the goal line read the adjusted p; the raw p stays beside it."""
    rows = finetuned_rows([0.001, 0.025, 0.4])
    holm_calibrated(rows, lambda row: row["group"].protocol)
    assert [row["if_calibrated"]["holm_p"] for row in rows] == pytest.approx([0.003, 0.05, 0.4])
    table = markdown_table(score_rows(rows), SCORES_COLUMNS)
    assert table_column(table, "p (calibrated)") == ["0.001", "0.025", "0.400"]
    assert table_column(table, "Holm p (calibrated)") == ["0.003", "0.050", "0.400"]
    (line,) = [line for line in goal_lines(HowSure("mr", {}, rows, [], [], [], [])) if line.startswith("- ")]
    assert line == ("- mpnet (fine-tuned), lab split (1 seed): ECE 0.0350 after scaling, above 0.02; a calibrated model would show "
                    "0.0216 ± 0.0063 on these 662 sentences, above 0.02 in 52% of the draws; Holm p = 0.050 over the table's "
                    "3 lab split rows (p = 0.025 before adjusting): no more than a calibrated model shows, at 0.05.")  # fmt: skip
    alone = finetuned_rows([0.001, 0.025])[1:]  # a family of one: nothing to adjust, rejected
    holm_calibrated(alone, lambda row: row["group"].protocol)
    (line,) = [line for line in goal_lines(HowSure("mr", {}, alone, [], [], [], [])) if line.startswith("- ")]
    assert line.endswith("Holm p = 0.025 over the table's 1 lab split rows (p = 0.025 before adjusting): more than a calibrated "
                         "model shows, at 0.05.")  # fmt: skip


def test_holm_families_are_one_per_protocol():
    rows = finetuned_rows([0.01, 0.02, 0.03])
    rows[2]["group"] = Group("mr", "mean", Setting("trained vectors"), "cv", "glove", [report_row(protocol="cv")])
    holm_calibrated(rows, lambda row: row["group"].protocol)
    assert [(row["if_calibrated"]["holm_p"], row["if_calibrated"]["family_size"]) for row in rows] == [
        (pytest.approx(0.02), 2), (pytest.approx(0.02), 2), (pytest.approx(0.03), 1)]


def test_report_abstains_on_validation_where_it_can_and_labels_the_rest(report):
    root, text, numbers = report
    rows = {row["setting"]: row for row in numbers["abstain"]}
    assert rows["trained vectors"]["0.9"]["chosen_on"] == "validation"
    assert rows["trained vectors, class-weighted"]["0.9"]["chosen_on"] == "test" and "**threshold chosen on test**" in text
    assert rows["trained vectors, class-weighted"]["0.9"]["test_coverage"] == pytest.approx(0.9, abs=0.01)
    # on validation: the threshold answers 90% of validation, and test coverage is what it gives there
    expected = []
    for seed in range(4):
        val_labels, val_logits = random_run(100 + seed)
        labels, logits = random_run(seed)
        threshold = abstain_threshold(scaled_probabilities(val_logits, 2.0), 0.9)
        expected.append(selective_scores(stored(scaled_probabilities(logits, 2.0)), labels, threshold)["accuracy"])
    assert rows["trained vectors"]["0.9"]["mean"] == pytest.approx(np.mean(expected))


def test_report_gives_conformal_sets_where_validation_was_saved_and_names_the_rest(report):
    _, text, numbers = report
    (row,) = numbers["conformal"]
    assert row["setting"] == "trained vectors" and row["runs"] == "4 seeds"
    expected = []
    for seed in range(4):
        val_labels, val_logits = random_run(100 + seed)
        labels, logits = random_run(seed)
        validation = scaled_probabilities(val_logits.astype(np.float32), 2.0)  # the validation file keeps float32 logits
        expected.append(set_scores(conformal_sets(validation, val_labels, stored(scaled_probabilities(logits, 2.0)), 0.1), labels))
    assert row["0.1"]["coverage"] == pytest.approx(np.mean([e["coverage"] for e in expected]))
    assert row["0.1"]["mean_set_size"] == pytest.approx(np.mean([e["mean_set_size"] for e in expected]))
    assert 0.85 < row["0.1"]["coverage"] and row["0.05"]["mean_set_size"] >= row["0.1"]["mean_set_size"]
    assert numbers["no_conformal"] == ["meanmax (trained vectors, class-weighted), lab split: no validation predictions saved (runs made before they were)"]
    assert "### mr: conformal prediction sets" in text and "No conformal sets: meanmax (trained vectors, class-weighted)" in text


def test_the_sure_line_tells_always_sure_scorers_from_those_with_ties():
    """SemEval's lexicons are one-hot on every tweet (ECE = error rate); MR's give 0.5 / 0.5 to a tie."""
    one_hot = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    tied = np.array([[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    labels = np.array([0, 1, 1])  # the one-hot rows predict 0, 1, 0; the tied rows 0, 0, 0
    runs = {}
    rows = []
    for name, probabilities in (("vader", one_hot), ("afinn", tied)):
        group = Group("mr", name, Setting("as is"), "lab", "pretrained", [report_row(kind="pretrained", model=name)])
        runs[group.key] = [Run(None, np.arange(3), labels, probabilities, probabilities, None, None, False)]
        rows.append({"group": group})
    (line, _) = sure_lines(HowSure("mr", runs, rows, [], [], [], []))
    assert "so the ECE is the error rate: vader (as is)." in line and "afinn (as is) on 2 of 3 sentences" in line
    assert calibration_scores(one_hot, labels)["ece"] == pytest.approx(1 / 3)  # its error rate
    # the sure row right (gap 0), the ties 0 of 2 right (|0 - 0.5| x 2/3): 1/3, against an error rate of 2/3
    assert calibration_scores(tied, labels)["ece"] == pytest.approx(1 / 3)


def test_an_as_is_scorer_left_out_of_scaling_gives_its_reason_for_no_conformal_sets():
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0]])
    run = Run(None, np.arange(2), np.array([0, 0]), probabilities, probabilities, None, None, False)
    lexicon = Group("mr", "vader", Setting("as is"), "lab", "pretrained",
                    [report_row(kind="pretrained", model="vader", setting=Setting("as is"), calibration={"skipped": "a lexicon's output is a label"})])
    assert conformal_scores(lexicon, [run]) == "not calibrated: a lexicon's output is a label"
    old = Group("mr", "mpnet", Setting("as is"), "lab", "pretrained", [report_row(kind="pretrained", model="mpnet", setting=Setting("as is"))])
    assert conformal_scores(old, [run]) == "no validation predictions saved (runs made before they were)"
    # its calibration row: left out by design, with the reason's first clause; an older record: before scaling only
    lexicon.rows[0].calibration["skipped"] = "a lexicon's output is a label by a fixed rule (one-hot): no probability to rescale"
    assert probabilities_label(lexicon, [run]) == "not scaled: a lexicon's output is a label by a fixed rule (one-hot)"
    assert probabilities_label(old, [run]) == "ECE before scaling only"


def test_a_group_with_some_runs_scaled_is_scored_before_scaling_throughout(monkeypatch):
    """SemEval's MiniLM: seed 0 made before validation predictions were saved (never scaled), later seeds scaled.
    Its one row scores every run before scaling (no mix of scaled and unscaled probabilities) and says so."""
    from pipelines.report import calibration as report_calibration

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    logits = rng.normal(size=(400, 2)) * 3
    before = scaled_probabilities(logits, 1.0)
    after = scaled_probabilities(logits, 2.0)
    old = Run(0, np.arange(400), labels, before, before, None, None, False)
    new = Run(1, np.arange(400), labels, after, before, before[:50], labels[:50], True)
    group = Group("semeval2017a", "minilm", Setting("fine-tuned"), "lab", "trained",
                  [report_row(model="minilm", setting=Setting("fine-tuned"), seed=seed) for seed in (0, 1)])
    monkeypatch.setattr(report_calibration, "read_runs", lambda g: [old, new])
    (row,) = report_calibration.how_sure("semeval2017a", [group]).rows
    assert row["probabilities"].startswith("before temperature scaling (1 of 2 runs scaled")
    ece_before = calibration_scores(before, labels)["ece"]
    assert row["ece"]["mean"] == pytest.approx(ece_before) and row["if_calibrated"]["ece"] == pytest.approx(ece_before)
    assert calibration_scores(after, labels)["ece"] != pytest.approx(ece_before)


def test_a_partly_scaled_groups_figures_and_abstention_read_its_rows_probabilities(monkeypatch):
    """Three classes, where scaling reorders the sentences by confidence: the figures and the abstention table of a
    group scored before scaling throughout read the probabilities before scaling of every run, thresholds on test."""
    from pipelines.report import calibration as report_calibration

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 400)
    logits = rng.normal(size=(400, 3)) * 3
    before, after = scaled_probabilities(logits, 1.0), scaled_probabilities(logits, 3.0)
    old = Run(0, np.arange(400), labels, before, before, None, None, False)
    new = Run(1, np.arange(400), labels, after, before, before[:50], labels[:50], True)
    group = Group("semeval2017a", "minilm", Setting("fine-tuned"), "lab", "finetuned",
                  [report_row(model="minilm", setting=Setting("fine-tuned"), seed=seed, kind="finetuned") for seed in (0, 1)])
    monkeypatch.setattr(report_calibration, "read_runs", lambda g: [old, new])
    result = report_calibration.how_sure("semeval2017a", [group])
    (name, drawn), = report_calibration.curves(result)["finetuned"]
    assert all(np.array_equal(probabilities, before) for probabilities, _ in drawn)
    (abstain,) = result.abstain

    def accuracy(probabilities):
        return selective_scores(probabilities, labels, abstain_threshold(probabilities, 0.8))["accuracy"]

    assert abstain[0.8]["chosen_on"] == "test" and abstain[0.8]["mean"] == pytest.approx(accuracy(before))
    assert accuracy(after) != pytest.approx(accuracy(before))  # the saved (mixed) probabilities would read otherwise


def test_cross_fitted_validation_ece_refits_on_one_half_and_scores_the_other():
    """An overconfident run (T = 3) is scaled back on each validation half and scored on the other: near a calibrated
    run's ECE, far below the raw one; a run without validation predictions, or too few to fit, gives None."""
    from pipelines.report.calibration import cross_fitted_validation_ece, label_shares

    labels, logits = random_run(3, n=8000, temperature=3.0)
    raw = scaled_probabilities(logits, 1.0)
    run = Run(0, np.arange(8000), labels, raw, raw, raw, labels, True)
    held_out = cross_fitted_validation_ece([run])
    assert calibration_scores(raw, labels)["ece"] > 0.1 > 0.03 > held_out
    _, calibrated_logits = random_run(3, n=8000, temperature=1.0)
    calibrated = calibration_scores(scaled_probabilities(calibrated_logits, 1.0), labels)["ece"]
    assert abs(held_out - calibrated) < 0.015  # what a calibrated model shows on as many sentences, give or take its noise
    assert cross_fitted_validation_ece([run, Run(1, np.arange(8000), labels, raw, raw, None, None, False)]) is None
    perfect = Run(0, np.arange(4), np.array([0, 1, 0, 1]), raw[:4], raw[:4], np.eye(2)[[0, 1, 0, 1]] * 0.98 + 0.01, np.array([0, 1, 0, 1]), True)
    assert cross_fitted_validation_ece([perfect]) is None  # every sentence right: no temperature is identifiable
    assert label_shares(np.array([0, 2, 2, 1]), 3) == "0.250 / 0.250 / 0.500"


def test_goal_line_clause_names_the_held_out_validation_ece_and_both_label_shares():
    from pipelines.report.calibration import cross_fitted_validation_ece, shift_said

    labels, logits = random_run(4, n=8000, temperature=2.0)
    raw = scaled_probabilities(logits, 1.0)
    runs = [Run(0, np.arange(100), labels[:100], raw[:100], raw[:100], raw, labels, True)]
    clause = shift_said(runs, "after temperature scaling")
    assert "halves of 4,000 sentences" in clause and f"scaling gives ECE {cross_fitted_validation_ece(runs):.4f}" in clause
    shares = np.bincount(labels) / len(labels)
    assert f"validation {shares[0]:.3f} / {shares[1]:.3f}, test " in clause
    assert shift_said(runs, "before temperature scaling") == "" == shift_said("no predictions file", "after temperature scaling")


def test_the_held_out_validation_clause_is_said_of_lab_split_groups_only():
    """A CV run's validation probabilities are its folds' joined, each scaled by a temperature fitted on those same
    sentences: refitting one temperature on half of them left the "cross-fitted" ECE optimistic, and its halves counted
    every fold's sentences."""
    labels, logits = random_run(4, n=8000, temperature=2.0)
    raw = scaled_probabilities(logits, 1.0)
    runs = [Run(0, np.arange(100), labels[:100], raw[:100], raw[:100], raw, labels, True)]
    said = {}
    for protocol in ("lab", "cv"):
        rows = finetuned_rows([0.01, 0.02])[1:]  # MPNet after scaling
        rows[0]["group"] = Group("mr", "mpnet", Setting("fine-tuned"), protocol, "finetuned", [report_row(kind="finetuned", protocol=protocol)])
        holm_calibrated(rows, lambda row: row["group"].protocol)
        (said[protocol],) = [line for line in goal_lines(HowSure("mr", {rows[0]["group"].key: runs}, rows, [], [], [], [])) if line.startswith("- ")]
    assert "On validation sentences it was not fitted on" in said["lab"]
    assert "validation sentences" not in said["cv"] and said["cv"].endswith("at 0.05.")


@pytest.mark.parametrize("case", ["unknown dataset", "no predictions", "output a folder"])
def test_shift_command_names_bad_input_in_one_line_before_loading_a_model(tmp_path, capsys, case):
    """`python -m pipelines.report.calibration --shift RUN_DIR`: an unknown --dataset was a KeyError after the model loaded,
    a run folder without its predictions file a traceback from pd.read_parquet(None), an unwritable --output one at the end."""
    from pipelines.cli import run_cli
    from pipelines.report.calibration import main
    from pipelines.runs.record import RunRecord, write_results

    run = tmp_path / "run"
    run.mkdir()
    write_results(run, RunRecord.new({"dataset": "mr", "model": "bilstm"}, test={"accuracy": 0.5}, label_names=TWO,
                                     predictions_file="predictions.parquet"))  # fmt: skip
    argv = {"unknown dataset": ["--dataset", "nope"], "no predictions": [], "output a folder": ["--output", str(tmp_path)]}[case]
    assert run_cli(main, ["--shift", str(run), *argv]) == 2
    said = {"unknown dataset": "error: unknown --dataset 'nope'; choose one of: ",
            "no predictions": f"error: {run}: no test predictions (predictions.parquet) to score it in domain",
            "output a folder": f"error: --output {tmp_path} is a folder; give a markdown file"}[case]  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count("\n") == 1


def test_other_calibrators_diagnose_a_test_that_differs_from_validation_only_by_its_class_shares():
    """A fine-tuned group whose test is a pure label shift of its validation: the oracle prior correction and EM bring
    the ECE down (lower ECE, paired), and the line says part of the gap is the class shares; on a test with
    validation's shares the oracle is temperature scaling itself."""
    from pipelines.report.calibration import CALIBRATORS, calibrator_lines, calibrator_rows
    from tests.test_calibration import label_shifted

    names = ["negative", "neutral", "positive"]
    validation, validation_labels = label_shifted([1 / 3] * 3, 6000, seed=0)
    runs = []
    for seed in range(3):
        test, labels = label_shifted([0.85, 0.1, 0.05], 6000, seed=10 + seed)
        runs.append(Run(seed, np.arange(6000), labels, test, test, validation, validation_labels, True))
    group = Group("semeval2017a", "mpnet", Setting("fine-tuned"), "lab", "finetuned",
                  [report_row(kind="finetuned", model="mpnet", dataset="semeval2017a", label_names=names, seed=s) for s in range(3)])
    (row,) = calibrator_rows("semeval2017a", [group], {group.key: runs})
    assert set(CALIBRATORS) <= set(row) and row["metric"] == "recall_macro"
    expected = np.mean([calibration_scores(run.after, run.labels)["ece"] for run in runs])
    assert row["temperature"]["ece"]["mean"] == pytest.approx(expected)
    assert row["oracle"]["difference"]["verdict"] == row["em"]["difference"]["verdict"] == "lower ECE"
    assert row["oracle"]["ece"]["mean"] < expected / 2 and row["oracle"]["difference"]["family_size"] == 4
    assert "difference" not in row["oracle_temperature"]  # fitted on the test: never a question of the family
    np.testing.assert_allclose(row["em_shares"], [0.85, 0.1, 0.05], atol=0.03)
    lines = calibrator_lines(HowSure("semeval2017a", {}, [], [], [], [], [], calibrators=[row]))
    assert any(line.startswith("- mpnet (fine-tuned): ECE after temperature scaling") and "part of the gap is the test's class shares" in line
               for line in lines)  # fmt: skip
    np.testing.assert_allclose(row["mean_probability"], np.mean([run.after.mean(axis=0) for run in runs], axis=0))
    same = [Run(0, np.arange(6000), validation_labels, validation, validation, validation, validation_labels, True)]
    (row,) = calibrator_rows("semeval2017a", [group], {group.key: same})
    assert row["oracle"]["ece"]["mean"] == pytest.approx(row["temperature"]["ece"]["mean"])
    assert "difference" not in row["oracle"] and row["bcts"]["difference"]["family_size"] == 3  # not a question there
    lines = calibrator_lines(HowSure("semeval2017a", {}, [], [], [], [], [], calibrators=[row]))
    assert "the oracle has no label shift to undo" in lines[3] and "temperature scaling itself" in lines[2]
    glove = Group("semeval2017a", "bilstm", Setting("trained vectors"), "lab", "glove", group.rows)
    assert calibrator_rows("semeval2017a", [glove], {glove.key: runs}) == []  # fine-tuned transformers only


def test_the_diagnosis_says_when_the_oracle_prior_correction_makes_it_worse():
    """SemEval's finding: the oracle raises the ECE (a shift beyond the class shares) while BCTS lowers it."""
    from pipelines.report.calibration import calibrator_lines, delta_text

    interval = {"mean": 0.0357, "ci_low": 0.0285, "ci_high": 0.0430}
    def cell(difference, verdict):
        return {"ece": interval, "recall_macro": interval,
                "difference": {"difference": difference, "ci_low": difference - 0.004, "ci_high": difference + 0.004,
                               "ci_level": 0.992, "holm_p": 0.006, "mde": 0.0062, "family_size": 4, "verdict": verdict}}  # fmt: skip
    group = Group("semeval2017a", "minilm", Setting("fine-tuned"), "lab", "finetuned", [report_row(kind="finetuned", model="minilm")])
    row = {"group": group, "runs": "3 seeds", "metric": "recall_macro", "temperature": {"ece": interval, "recall_macro": interval},
           "ece_temperature": cell(-0.0031, "no detectable difference"), "bcts": cell(-0.0122, "lower ECE"),
           "em": cell(0.0735, "higher ECE"), "oracle": cell(0.0398, "higher ECE"),
           "test_shares": [0.323, 0.483, 0.193], "validation_shares": [0.156, 0.448, 0.396], "em_shares": [0.51, 0.349, 0.141],
           "mean_probability": [0.35, 0.41, 0.24], "oracle_temperature": {"ece": {**interval, "mean": 0.0301}, "recall_macro": interval},
           "oracle_temperatures": [1.12, 1.04, 1.081]}  # fmt: skip
    lines = calibrator_lines(HowSure("semeval2017a", {}, [], [], [], [], [], calibrators=[row]))
    assert lines[3] == ("- minilm (fine-tuned): ECE after temperature scaling 0.0357; lower with bias-corrected temperature scaling; "
                        "the oracle prior correction does not lower it (higher ECE, Δ +0.0398): the test differs from validation "
                        "by more than its class shares, which a label shift alone would not; the temperature of least test ECE "
                        "gives 0.0301 (above 0.02, at 1.04-1.12 × the saved temperature), so no temperature per run reaches the "
                        "goal on this test.")  # fmt: skip
    assert "model 0.350 / 0.410 / 0.240; EM 0.510 / 0.349 / 0.141; test 0.323" in lines[2] and "4 differences" in lines[0]
    assert delta_text(row["bcts"]["difference"]) == "-0.0122 [-0.0162, -0.0082] (99.2%), Holm p 0.006, MDE 0.0062, lower ECE"


def test_the_oracle_temperature_finds_the_temperature_the_test_needs():
    """A test drawn overconfident by a factor 2.5 that validation does not show (validation calibrated, so the saved
    scale is 1): the temperature of least test ECE is about 2.5 relative to the saved scale and brings its ECE to what
    a calibrated model shows, and the line says a temperature chosen on the test's labels reaches the goal."""
    from pipelines.calibration import least_ece_temperature
    from pipelines.report.calibration import GOAL_ECE, calibrator_lines, calibrator_rows

    names = ["negative", "positive"]
    validation_labels, validation_logits = random_run(20, n=6000, temperature=1.0)
    runs = []
    for seed in range(2):
        labels, logits = random_run(21 + seed, n=6000, temperature=2.5)
        test = scaled_probabilities(logits, 1.0)
        runs.append(Run(seed, np.arange(6000), labels, test, test, scaled_probabilities(validation_logits, 1.0), validation_labels, True))
    group = Group("mr", "mpnet", Setting("fine-tuned"), "lab", "finetuned",
                  [report_row(kind="finetuned", model="mpnet", dataset="mr", label_names=names, seed=s) for s in range(2)])
    (row,) = calibrator_rows("mr", [group], {group.key: runs})
    np.testing.assert_allclose(row["oracle_temperatures"], 2.5, rtol=0.15)
    assert row["oracle_temperatures"][0] == least_ece_temperature(np.log(runs[0].after), runs[0].labels)[0]
    assert row["temperature"]["ece"]["mean"] > 0.1 > GOAL_ECE > row["oracle_temperature"]["ece"]["mean"]
    np.testing.assert_array_equal(row["oracle_temperature"]["accuracy"]["mean"], row["temperature"]["accuracy"]["mean"])  # argmax kept
    lines = calibrator_lines(HowSure("mr", {}, [], [], [], [], [], calibrators=[row]))
    assert "so a temperature chosen on this test's labels reaches the goal (optimistic)." in lines[3]
    assert "The oracle temperature is the one" in lines[0]


def test_the_temperature_of_least_validation_ece_corrects_a_saved_scale_that_misses_it():
    """Validation and test both overconfident by a factor 2 at the saved scale (a temperature that NLL got wrong, here
    by construction): the temperature of least validation ECE, about 2 × the saved one, brings the test ECE down
    (lower ECE, paired over 4 runs), keeps every prediction, and the line names it."""
    from pipelines.calibration import least_ece_temperature
    from pipelines.report.calibration import GOAL_ECE, calibrator_lines, calibrator_rows

    names = ["negative", "positive"]
    runs = []
    for seed in range(4):
        validation_labels, validation_logits = random_run(30 + seed, n=6000, temperature=2.0)
        labels, logits = random_run(40 + seed, n=6000, temperature=2.0)
        runs.append(Run(seed, np.arange(6000), labels, scaled_probabilities(logits, 1.0), scaled_probabilities(logits, 1.0),
                        scaled_probabilities(validation_logits, 1.0), validation_labels, True))  # fmt: skip
    group = Group("mr", "minilm", Setting("fine-tuned"), "lab", "finetuned",
                  [report_row(kind="finetuned", model="minilm", dataset="mr", label_names=names, seed=s) for s in range(4)])
    (row,) = calibrator_rows("mr", [group], {group.key: runs})
    found = least_ece_temperature(np.log(runs[0].validation), runs[0].validation_labels)[0]
    assert found == pytest.approx(2.0, rel=0.15)
    expected = calibration_scores(scaled_probabilities(np.log(runs[0].after), found), runs[0].labels)["ece"]
    assert row["ece_temperature"]["difference"]["verdict"] == "lower ECE"
    assert row["temperature"]["ece"]["mean"] > 0.08 > GOAL_ECE > row["ece_temperature"]["ece"]["mean"] > 0
    each = [calibration_scores(scaled_probabilities(np.log(run.after), least_ece_temperature(np.log(run.validation), run.validation_labels)[0]),
                               run.labels)["ece"] for run in runs]  # fmt: skip
    assert each[0] == expected and row["ece_temperature"]["ece"]["mean"] == pytest.approx(np.mean(each))
    assert row["ece_temperature"]["accuracy"] == row["temperature"]["accuracy"]  # no prediction moves
    lines = calibrator_lines(HowSure("mr", {}, [], [], [], [], [], calibrators=[row]))
    assert "lower with the temperature of least validation ECE" in lines[3]


def test_a_model_of_another_benchmark_is_restricted_to_shared_classes_in_the_datasets_own_order():
    """Round 26's review: `shift_runs` read the shared classes in the benchmark's order as if sorted; on data whose
    classes run positive, neutral, negative, an MR model's sentences kept the wrong labels."""
    from pipelines.report.calibration import shift_runs

    names = ["positive", "neutral", "negative"]
    row = report_row(kind="pretrained", model="mr-bilstm", dataset="mine", setting=Setting("as is"), label_names=names, trained_on="mr")
    group = Group("mine", "mr-bilstm", Setting("as is"), "lab", "pretrained", [row])
    probabilities = np.array([[0.7, 0.1, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    labels = np.array([0, 1, 2])
    (run,), kept = shift_runs(group, [Run(0, np.arange(3), labels, probabilities, probabilities, None, None, False)])
    assert kept == ["positive", "negative"] and run.labels.tolist() == [0, 1] and run.index.tolist() == [0, 2]
    np.testing.assert_allclose(run.after, [[0.7 / 0.9, 0.2 / 0.9], [0.2 / 0.8, 0.6 / 0.8]])
