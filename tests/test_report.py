"""The results report from fake result files of all three scripts, built in code.

The runs follow the contract of `fit_and_test`: `results.json` with dataset, model, model_type, seed,
vectors, protocol (and fold, cv_folds), label_names, test, selection, predictions_file; and a
`predictions.parquet` with index, label, prediction, probabilities.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from pipelines.cli import run_cli
from pipelines.report import find_trainer_state, main, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TWO = ["negative", "positive"]
THREE = ["negative", "neutral", "positive"]
MR_TEST = 60  # sentences of the fake MR test split, half of each class
MR_ALL = 90  # sentences of the fake MR dataset, for 3-fold cross-validation


def trainer_state(epochs: int, best_epoch: int) -> dict:
    """A `Trainer` log history: one training and one validation entry per epoch, 10 steps an epoch."""
    history = []
    for epoch in range(1, epochs + 1):
        history.append({"epoch": float(epoch), "loss": 0.7 - 0.03 * epoch, "step": 10 * epoch})
        history.append({"epoch": float(epoch), "eval_loss": 0.65 - 0.02 * min(epoch, best_epoch), "step": 10 * epoch})
    return {"log_history": history, "best_global_step": 10 * best_epoch}


def predictions_right_on(labels: np.ndarray, right: int, k: int) -> np.ndarray:
    """Right on the first `right` sentences, wrong (the next label) on the rest."""
    return np.where(np.arange(len(labels)) < right, labels, (labels + 1) % k)


def test_scores(labels, predictions, names) -> dict:
    scores = {
        "accuracy": accuracy_score(labels, predictions),
        "f1_macro": f1_score(labels, predictions, labels=range(len(names)), average="macro", zero_division=0),
        "recall_macro": recall_score(labels, predictions, labels=range(len(names)), average="macro", zero_division=0),
    }
    if len(names) == 3:
        scores["f1_pn"] = f1_score(labels, predictions, labels=[2, 0], average=None, zero_division=0).mean()
    return {key: float(value) for key, value in scores.items()}


test_scores.__test__ = False  # a helper, not a test


def write_run(root: Path, name: str, model: str, dataset: str, labels=None, predictions=None, model_type=None, **extra) -> Path:
    """A run folder; with `predictions`, test scores computed from them and `predictions.parquet`."""
    names = THREE if dataset != "mr" else TWO
    index = extra.pop("index", None)
    results = {
        "model": model,
        "model_type": model_type or f"glove-{model}",
        "dataset": dataset,
        "label_names": names,
        "test": {"accuracy": 0.7, "f1_macro": 0.69, "recall_macro": 0.7, **({"f1_pn": 0.66} if len(names) == 3 else {})},
        "epochs": 6.0,
        "train_seconds": 12.5,
        "confusion_matrix": [[30 if i == j else 5 for j in range(len(names))] for i in range(len(names))],
        **extra,
    }
    run = root / name
    run.mkdir(parents=True)
    if predictions is not None:
        labels, predictions = np.asarray(labels), np.asarray(predictions)
        results["test"] = test_scores(labels, predictions, names)
        counts = np.zeros((len(names), len(names)), dtype=int)
        np.add.at(counts, (labels, predictions), 1)
        results["confusion_matrix"] = counts.tolist()
        results["predictions_file"] = "predictions.parquet"
        probabilities = np.eye(len(names))[predictions].tolist()
        index = np.arange(len(labels)) if index is None else index
        pd.DataFrame({"index": index, "label": labels, "prediction": predictions, "probabilities": probabilities}).to_parquet(
            run / "predictions.parquet"
        )
    (run / "results.json").write_text(json.dumps(results))
    return run


def selection(by_loss: float, by_accuracy: float) -> dict:
    return {
        "restored_by": "eval_loss",
        "by_criterion": {
            "eval_loss": {"epoch": 4.0, "test": {"accuracy": by_loss}},
            "eval_accuracy": {"epoch": 6.0, "test": {"accuracy": by_accuracy}},
        },
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report") / "runs"
    mr = np.tile([0, 1], MR_TEST // 2)
    lab = {"protocol": "lab", "vectors": "trained"}
    for i, seed in enumerate((1, 2, 3)):
        # mean right on 36, 39, 42 of 60 sentences (0.60, 0.65, 0.70); meanmax on 54, 55, 56
        write_run(root, f"mr-mean-s{seed}", "mean", "mr", mr, predictions_right_on(mr, 36 + 3 * i, 2), seed=seed, **lab)
        write_run(
            root, f"mr-meanmax-s{seed}", "meanmax", "mr", mr, predictions_right_on(mr, 54 + i, 2), seed=seed,
            selection=selection(*[(0.80, 0.83), (0.82, 0.84), (0.81, 0.85)][i]), **lab,
        )  # fmt: skip
        same = predictions_right_on(mr, 45 + i, 2)  # the LSTM and the BiLSTM predict alike
        write_run(root, f"mr-lstm-s{seed}", "lstm", "mr", mr, same, seed=seed, **lab)
        write_run(root, f"mr-bilstm-s{seed}", "bilstm", "mr", mr, same, seed=seed, **lab)
        frozen = {"protocol": "lab", "vectors": "frozen"}
        write_run(root, f"mr-mean-frozen-s{seed}", "mean", "mr", mr, predictions_right_on(mr, 30 + i, 2), seed=seed, **frozen)
    for seed in (1, 2):
        write_run(
            root, f"ft/mr-minilm-s{seed}", "minilm", "mr", mr, predictions_right_on(mr, 58, 2), model_type="bert", seed=seed,
            protocol="lab",
        )  # fmt: skip
    (root / "mr-mean-s1" / "trainer_state.json").write_text(json.dumps(trainer_state(6, best_epoch=4)))
    for step, epochs in ((20, 2), (60, 6)):  # a run from before the state was saved beside the model
        (root / "mr-meanmax-s1" / f"checkpoint-{step}").mkdir()
        (root / "mr-meanmax-s1" / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps(trainer_state(epochs, 3)))

    # 3-fold cross-validation over 90 sentences: fold f tests sentences f, f + 3, f + 6, ...
    everything = np.tile([0, 1], MR_ALL // 2)
    for model, right in (("mean", 18), ("meanmax", 28)):
        for seed in (1, 2):
            for fold in range(3):
                index = np.arange(fold, MR_ALL, 3)
                write_run(
                    root, f"cv/mr-{model}-s{seed}-f{fold}", model, "mr", everything[index],
                    predictions_right_on(everything[index], right - fold, 2), index=index, seed=seed,
                    protocol="cv", fold=fold, cv_folds=3, vectors="trained",
                )  # fmt: skip

    tweets = np.tile([0, 1, 2], 20)
    for seed in (1, 2):
        write_run(root, f"semeval/lstm-s{seed}", "lstm", "semeval2017a", tweets, predictions_right_on(tweets, 40, 3), seed=seed, vectors="trained")
    # an older run: no protocol, vectors, predictions or trainer state; trained vectors by its parameter counts
    write_run(root, "semeval/bilstm", "bilstm", "semeval2017a", seed=42, parameters={"trainable": 100, "total": 100})
    write_run(root, "mine/mean", "mean", "my-tweets", tweets, predictions_right_on(tweets, 45, 3), seed=7, vectors="frozen")

    pretrained = root / "pretrained-mr"
    (pretrained / "predictions").mkdir(parents=True)
    pd.DataFrame({"index": np.arange(MR_TEST), "label": mr, "prediction": mr}).to_parquet(pretrained / "predictions" / "sst2.parquet")
    evaluation = {  # evaluate_pretrained.py: metrics at the top of each row, no confusion matrix
        "dataset": "mr",
        "label_names": TWO,
        "results": [
            {"model": "distilbert-sst2", "accuracy": 1.0, "f1_macro": 1.0, "recall_macro": 1.0, "predictions_file": "predictions/sst2.parquet"},
            {"model": "nlptown", "accuracy": 0.81, "f1_macro": 0.8, "recall_macro": 0.81},
        ],
    }
    (pretrained / "evaluation.json").write_text(json.dumps(evaluation))
    return root


@pytest.fixture(scope="module")
def report_path(runs, tmp_path_factory) -> Path:
    return write_report(runs, tmp_path_factory.mktemp("out") / "report", seed=3, aso_iterations=50)


@pytest.fixture(scope="module")
def report(report_path) -> str:
    return report_path.read_text()


@pytest.fixture(scope="module")
def numbers(report_path) -> dict:
    return json.loads((report_path.parent / "report.json").read_text())


def section(report: str, title: str) -> str:
    return report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def table(text: str) -> list[dict]:
    """The first markdown table in `text`, as rows of {header: cell}."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if "---" not in line]
    return [dict(zip(header, row)) for row in rows]


def subsection(text: str, title: str) -> str:
    return text.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]


def test_scores_table_gives_mean_std_and_t_interval_per_group(report):
    scores = table(subsection(section(report, "mr"), "Scores"))
    rows = {(row["model"], row["setting"], row["protocol"]): row for row in scores}
    mean = rows[("mean", "trained vectors", "lab split")]
    # 0.60, 0.65, 0.70: std 0.05; t(0.975, 2) * 0.05 / sqrt(3) = 0.124207
    assert mean["n"] == "3 seeds" and mean["accuracy"] == "0.6500 ± 0.0500"
    assert mean["accuracy 95% CI"] == "[0.5258, 0.7742]"
    assert rows[("meanmax", "trained vectors", "lab split")]["accuracy"] == "0.9167 ± 0.0167"
    assert rows[("mean", "frozen vectors", "lab split")]["n"] == "3 seeds"
    assert rows[("minilm", "fine-tuned", "lab split")]["accuracy"] == "0.9667 ± 0.0000"
    sst2 = rows[("distilbert-sst2", "as is", "lab split")]
    assert sst2["n"] == "1 run" and sst2["accuracy"] == "1.0000" and sst2["accuracy 95% CI"] == "single run"
    assert "Official metric: accuracy." in section(report, "mr")
    assert "Official metric: macro recall." in section(report, "semeval2017a")
    assert "Official metric: macro recall." in section(report, "my-tweets")  # a user dataset gets its own tables
    assert list(scores[0]) == ["model", "setting", "protocol", "n", "accuracy", "macro F1", "macro recall", "accuracy 95% CI"]


def test_cross_validation_rows_are_labelled_and_summarized_over_folds(report, numbers):
    scores = table(subsection(section(report, "mr"), "Scores"))
    keys = [(row["model"], row["setting"], row["protocol"]) for row in scores]
    lab = keys.index(("meanmax", "trained vectors", "lab split"))
    assert keys[lab + 1] == ("meanmax", "trained vectors", "3-fold CV")  # beside the lab-split row
    cv = scores[lab + 1]
    # folds score 28/30, 27/30, 26/30 for each of 2 seeds: mean 0.9, sample std over the 6 folds 0.0298
    assert cv["n"] == "3 folds × 2 seeds" and cv["accuracy"] == "0.9000 ± 0.0298"
    comparison = next(c for c in numbers["datasets"]["mr"]["comparisons"] if c["protocol"] == "3-fold CV")
    assert comparison["question"] == "mean vs mean‖max" and comparison["test_sentences"] == MR_ALL  # every sentence, once per seed
    assert comparison["a_seeds"] == [1, 2] and comparison["difference"] == pytest.approx(0.9 - 17 / 30)


def test_study_questions_give_difference_interval_p_and_verdict(report, numbers):
    text = subsection(section(report, "mr"), "Study questions")
    rows = {(row["question"], row["protocol"]): row for row in table(text)}
    pooling = rows[("mean vs mean‖max", "lab split")]
    assert (pooling["A"], pooling["B"], pooling["runs A/B"]) == ("meanmax (trained vectors)", "mean (trained vectors)", "3/3")
    # 3 seeds: t on 2 df, so 26.7 points over 3 seed pairs reach only p 0.039; the verdict follows its Holm p
    assert pooling["Δ accuracy"] == "+0.2667" and pooling["p"] == "0.039"
    assert float(pooling["Holm p"]) >= 0.05 and pooling["verdict (Holm p < 0.05)"].startswith("no detectable difference")
    assert pooling["ASO ε(A>B) / ε(B>A)"] == ""  # 3 runs each: fewer than 5
    level, bounds = pooling["CI (Holm level)"].split(": ")
    low, high = (float(x) for x in bounds.strip("[]").split(", "))
    assert low < 0 < 0.2667 < high and float(level.rstrip("%")) > 95  # at the Holm level, like the verdict
    lstm = rows[("LSTM vs BiLSTM", "lab split")]
    assert (lstm["Δ accuracy"], lstm["CI (Holm level)"].split(": ")[1], lstm["p"]) == ("+0.0000", "[+0.0000, +0.0000]", "1.000")
    assert lstm["verdict (Holm p < 0.05)"] == "no detectable difference; MDE 0.0 pts" and lstm["Holm p"] == "1.000"
    vectors = rows[("frozen vs trained vectors: mean", "lab split")]
    assert vectors["A"] == "mean (trained vectors)" and vectors["verdict (Holm p < 0.05)"].startswith("no detectable difference")  # 3 seeds, 2 df
    tuned = rows[("fine-tuned minilm vs the best GloVe model", "lab split")]
    assert tuned["B"] == "meanmax (trained vectors)" and tuned["runs A/B"] == "2/2" and tuned["Δ accuracy"] == "+0.0583"  # seeds 1, 2 of both: 58/60 − (54 + 55)/120
    assert "S − 1 degrees of freedom" in text and "two-stage bootstrap, which counts" in text
    assert "The best GloVe model: meanmax (trained vectors), chosen on TEST: no validation score recorded (lab split)" in text
    assert "- self-attention vs mean‖max (lab split): no attention runs" in text
    asis = rows[("the best as-is model vs the best GloVe model", "lab split")]
    assert (asis["A"], asis["B"], asis["runs A/B"]) == ("distilbert-sst2 (as is)", "meanmax (trained vectors)", "1/3 (unpaired)")
    assert rows[("fine-tuned minilm vs the best as-is model", "lab split")]["B"] == "distilbert-sst2 (as is)"
    assert "the best as-is model: distilbert-sst2 (as is), chosen on TEST: no validation score recorded (lab split)" in text
    assert "1 seed" not in asis["runs A/B"]  # an as-is model has no training variance to count
    comparisons = numbers["datasets"]["mr"]["comparisons"]
    lab = [c for c in comparisons if c["protocol"] == "lab split"]  # Holm within the (dataset, protocol) family
    assert min(c["holm_p"] for c in lab) == pytest.approx(min(1.0, len(lab) * min(c["p_value"] for c in lab)))


def test_ci_and_verdict_agree_and_each_holm_family_is_named_with_the_questions_it_adjusted(report, numbers):
    text = subsection(section(report, "mr"), "Study questions")
    rows = table(text)
    for row in rows:
        low, high = (float(x) for x in row["CI (Holm level)"].split(": ")[1].strip("[]").split(", "))
        assert (low > 0 or high < 0) == (not row["verdict (Holm p < 0.05)"].startswith("no detectable difference")), row
    comparisons = numbers["datasets"]["mr"]["comparisons"]
    for protocol in ("lab split", "3-fold CV"):
        adjusted = [c for c in comparisons if c["protocol"] == protocol]
        assert {c["family_size"] for c in adjusted} == {len(adjusted)} == {sum(row["protocol"] == protocol for row in rows)}
        size = len(adjusted)
        assert f"mr, {protocol}: {size} question{'s' if size != 1 else ''}" in text.split("**Holm families**")[1].split("\n")[0]
    assert "for the 23 questions" not in text


def test_a_trained_model_with_one_seed_is_labelled_not_treated_as_as_is():
    from pipelines.report.collect import Group
    from pipelines.report.compare import Question, one_seed_note

    def group(model, kind, seeds):
        return Group("mr", model, "plain", "lab", kind, [{"seed": seed} for seed in seeds])

    question = Question("fine-tuned vs as-is", group("minilm", "finetuned", [0]), group("vader", "pretrained", [None]))
    assert one_seed_note(question) == "minilm: 1 seed: training variance not counted"
    assert one_seed_note(Question("two seeds", group("minilm", "finetuned", [0, 1]), group("mean", "glove", [0, 1]))) == ""


def test_questions_without_usable_runs_say_why(report):
    text = subsection(section(report, "semeval2017a"), "Study questions")
    assert "_No question has runs of both models yet._" in text and "Holm" not in text
    assert "- LSTM vs BiLSTM (lab split): bilstm (trained vectors): no predictions.parquet in `semeval/bilstm`" in text
    assert "- mean vs mean‖max (lab split): no meanmax or mean runs" in text
    scores = table(subsection(section(report, "semeval2017a"), "Scores"))
    bilstm = next(row for row in scores if row["model"] == "bilstm")
    assert bilstm["n"] == "1 seed" and bilstm["macro recall 95% CI"] == "single seed" and "F1-PN" in bilstm


def test_model_selection_compares_the_checkpoints_each_criterion_picks(report):
    rows = table(subsection(section(report, "mr"), "Model selection"))
    assert len(rows) == 1
    row = rows[0]
    # by loss 0.80, 0.82, 0.81; by accuracy 0.83, 0.84, 0.85: differences 0.03, 0.02, 0.04
    assert (row["model"], row["runs"]) == ("meanmax", "3")
    assert row["by validation loss"] == "0.8100 ± 0.0100" and row["by validation accuracy"] == "0.8400 ± 0.0100"
    assert row["Δ (metric − loss)"] == "+0.0300" and row["95% CI"] == "[+0.0052, +0.0548]"
    assert row["p"] == "0.035" and row["better"] == "validation accuracy better"
    assert "Model selection" not in section(report, "semeval2017a")


def test_one_figure_per_group_not_per_run(report_path, report):
    figures = {path.name for path in (report_path.parent / "figures").iterdir()}
    assert {"scores-mr.png", "scores-semeval2017a.png", "scores-my-tweets.png"} <= figures
    assert {name for name in figures if name.startswith("curves-")} == {
        "curves-mr-mean-trained_vectors-lab.png", "curves-mr-meanmax-trained_vectors-lab.png"
    }  # fmt: skip
    confusion = {name for name in figures if name.startswith("confusion-")}
    assert "confusion-mr-meanmax-trained_vectors-cv.png" in confusion  # 6 runs, one figure
    assert "confusion-mr-distilbert-sst2-as_is-lab.png" in confusion  # counted from its predictions
    assert "confusion-mr-nlptown-as_is-lab.png" not in confusion  # neither a matrix nor predictions
    assert len(confusion) == 12  # the 13 groups but nlptown
    assert "No `trainer_state.json` in any run of: mr mean (trained vectors) 3-fold CV; mr mean (frozen vectors) lab split;" in report
    for name in figures:
        assert (report_path.parent / "figures" / name).read_bytes().startswith(PNG_MAGIC) and f"(figures/{name})" in report


def test_every_run_is_listed_and_kept_in_report_json(report, numbers):
    runs = table(subsection(section(report, "All runs"), "mr"))
    assert len(runs) == 3 * 5 + 2 + 12 + 2  # lab GloVe runs, minilm, CV folds, pretrained
    assert {"model": "mean", "setting": "trained vectors", "protocol": "lab split", "seed": "1", "fold": "",
            "accuracy": "0.6000", "run": "mr-mean-s1"}.items() <= runs[0].items()  # fmt: skip
    assert len(numbers["runs"]) == 35 and {row["kind"] for row in numbers["runs"]} == {"glove", "finetuned", "pretrained"}
    assert numbers["statistics"]["aso_seed"] == 3
    mean = next(s for s in numbers["datasets"]["mr"]["summaries"] if s["model"] == "mean" and s["protocol"] == "lab split")
    f1 = mean["metrics"]["f1_macro"]
    assert f1["n"] == 3 and f1["ci_low"] < f1["mean"] < f1["ci_high"]


def test_learning_curves_come_from_the_run_folder_else_the_newest_checkpoint(runs):
    assert find_trainer_state(runs / "mr-mean-s1") == runs / "mr-mean-s1" / "trainer_state.json"
    assert find_trainer_state(runs / "mr-meanmax-s1") == runs / "mr-meanmax-s1" / "checkpoint-60" / "trainer_state.json"
    assert find_trainer_state(runs / "semeval" / "bilstm") is None


def test_cli_writes_the_report_and_names_a_missing_folder(tmp_path, capsys):
    write_run(tmp_path / "runs", "mr-mean", "mean", "mr")
    assert run_cli(main, [str(tmp_path / "runs"), "--output", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.md").is_file() and "wrote" in capsys.readouterr().out
    assert run_cli(main, [str(tmp_path / "nowhere")]) == 2
    assert f"runs folder not found: {tmp_path / 'nowhere'}" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli(main, [str(tmp_path / "empty")]) == 2
    assert "no results.json of a run or evaluation.json under" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "report").exists()
    assert run_cli(main, [str(tmp_path / "runs"), "--aso_iterations", "0"]) == 2
    assert "--aso_iterations 0: give at least 2" in capsys.readouterr().err


def test_a_grid_summary_is_not_a_run_and_a_failed_report_leaves_no_folder(tmp_path, capsys):
    """Issue 15: `python -m pipelines.report runs/grid` read the grid's own results.json as a run (KeyError)."""
    grid = tmp_path / "grid"
    summary = {"command": "python -m pipelines.experiments --seeds 0", "seeds": [0], "cells": [{"model": "mean", "accuracy": 0.7}]}
    (grid / "results").mkdir(parents=True)
    (grid / "results.json").write_text(json.dumps(summary))
    (grid / "results" / "results.json").write_text(json.dumps(summary))
    assert run_cli(main, [str(grid)]) == 2
    assert "no results.json of a run" in capsys.readouterr().err and not (grid / "report").exists()
    write_run(grid / "runs", "mr-mean", "mean", "mr")
    assert run_cli(main, [str(grid), "--aso_iterations", "20"]) == 0
    assert "1 training runs and 0 as-is scores" in (grid / "report" / "report.md").read_text()


def test_an_exported_model_is_its_own_setting_never_an_as_is_model(tmp_path):
    from pipelines.report.collect import pretrained_rows

    evaluation = {
        "dataset": "mr", "label_names": ["negative", "positive"],
        "results": [
            {"model": "vader", "family": "lexicon", "accuracy": 0.66},
            {"model": "bilstm-int8", "family": "OnnxSequenceClassifier", "accuracy": 0.80},
        ],
    }  # fmt: skip
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    rows = pretrained_rows(tmp_path / "evaluation.json", tmp_path)
    assert [(row["model"], row["setting"]) for row in rows] == [("vader", "as is"), ("bilstm-int8", "ONNX export")]


def test_a_scored_run_folder_is_named_by_its_place_in_the_grid():
    from pipelines.report.collect import scored_model_name

    assert scored_model_name("/work/study/runs/study/mr-lab-trained/attention/seed-0") == "mr-lab-trained/attention/seed-0"
    assert scored_model_name("runs/cross/semeval2017a-lab-trained/mean/seed-0") == "semeval2017a-lab-trained/mean/seed-0"
    assert scored_model_name("cardiffnlp/twitter-roberta-base-sentiment-latest") == "cardiffnlp/twitter-roberta-base-sentiment-latest"
    assert scored_model_name("vader") == "vader"


def front_file(numbers: dict, path: Path, fingerprint: str | None = None) -> Path:
    """A bench.pareto pareto.json with two rows on the report's first dataset, measured on `numbers`' scores."""
    from pipelines.report.build import scores_fingerprint

    dataset = sorted(numbers["datasets"])[0]
    row = {"metric": numbers["datasets"][dataset]["official_metric"], "runs": 2, "interval_of": "bootstrap: seeds and sentences",
           "latency_p50_ms": 1.0, "latency_p95_ms": 2.0, "parameters": 2_500_000, "disk_mb": 10.0, "timed_on": "its own run"}
    rows = [{**row, "key": 1, "model": "fast", "score": 0.7, "ci_low": 0.65, "ci_high": 0.75, "sentences_per_second": 4000.0, "front": "yes"},
            {**row, "key": 2, "model": "slow, worse", "score": 0.6, "ci_low": 0.55, "ci_high": 0.65, "sentences_per_second": 40.0, "front": ""}]
    front = {"command": "python -m bench.pareto --models x", "note": "", "machine": "2 CPU cores", "threads": 1,
             "report_fingerprint": fingerprint or scores_fingerprint(numbers["datasets"]), "datasets": {dataset: rows},
             "not_measured": {dataset: ["mpnet (as is): not installed"]}}
    path.write_text(json.dumps(front))
    return path


def test_a_front_measured_on_these_scores_adds_its_figure_and_table(runs, numbers, tmp_path, capsys):
    """Issue 19 item 4: the report gains a figure per dataset and a table of the same, from bench.pareto's run.
    With `progress`, each slow phase shows a bar (the committed report takes minutes to rebuild)."""
    front = front_file(numbers, tmp_path / "pareto.json")
    path = write_report(runs, tmp_path / "report", seed=3, aso_iterations=10, front=front, progress=True)
    bars = capsys.readouterr().err
    for phase in ("reading runs", "comparisons (lab split)", "learning curves", "confusion matrices"):
        assert f"{phase}: 100%" in bars, phase
    dataset = sorted(numbers["datasets"])[0]
    text = subsection(path.read_text(), f"{dataset}: cost against accuracy")
    rows = table(text)
    assert [(r["model"], r["score"], r["95% CI"], r["sent/s (batch 64)"], r["front"]) for r in rows] == [
        ("fast", "0.700", "0.650 to 0.750", "4,000", "yes"), ("slow, worse", "0.600", "0.550 to 0.650", "40", "")]
    assert "Not measured: mpnet (as is): not installed" in text
    assert (tmp_path / "report" / "figures" / f"pareto-{dataset}.png").stat().st_size > 1000
    assert json.loads((tmp_path / "report" / "report.json").read_text())["scores_fingerprint"] == json.loads(front.read_text())["report_fingerprint"]


def test_a_front_measured_on_other_scores_is_refused_and_nothing_written(runs, numbers, tmp_path, capsys):
    front = front_file(numbers, tmp_path / "pareto.json", fingerprint="0123456789abcdef")
    argv = [str(runs), "--output", str(tmp_path / "report"), "--aso_iterations", "10", "--disable_tqdm", "--front", str(front)]
    assert run_cli(main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--front {front}: measured on other scores" in err[0] and "scripts/build_pareto.sh" in err[0]
    assert not (tmp_path / "report").exists()
    assert run_cli(main, argv[:-1] + [str(tmp_path / "missing.json")]) == 2
    assert f"--front {tmp_path / 'missing.json'}: cannot read it" in capsys.readouterr().err
