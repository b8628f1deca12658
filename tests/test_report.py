"""The results report from fake result files of all three scripts, built in code.

The runs follow the contract of `fit_and_test`: `results.json` with dataset, model, model_type, seed,
vectors, protocol (and fold, cv_folds), label_names, test, selection, predictions_file; and a
`predictions.parquet` with index, label, prediction, probabilities.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from pipelines.cli import run_cli
from pipelines.report import find_trainer_state, main, write_report
from tests.conftest import report_row, write_evaluation

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
    write_evaluation(pretrained, [  # evaluate_pretrained.py: metrics at the top of each row, no confusion matrix
        {"model": "distilbert-sst2", "accuracy": 1.0, "f1_macro": 1.0, "recall_macro": 1.0, "predictions_file": "predictions/sst2.parquet"},
        {"model": "nlptown", "accuracy": 0.81, "f1_macro": 0.8, "recall_macro": 0.81},
    ], label_names=TWO)
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
    """The rows of the markdown tables in `text` as {header: cell}; tables after the first with its header
    (the Holm families of one section) add their rows."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if "---" not in line]
    return [dict(zip(header, row)) for row in rows if row != header]


def subsection(text: str, title: str) -> str:
    return text.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]


def test_the_report_names_the_command_that_made_it_with_every_option_that_changes_its_numbers(report_path, runs):
    """Round 30's review: the docs said `python -m pipelines.report results/records` rebuilds the committed report, which
    was made with --teachers, --speeds and --aso_iterations 200 (other Holm families, fronts and ASO ε without them)."""
    made_by = f"Made by `python -m pipelines.report {runs} --output {report_path.parent} --aso_iterations 50 --seed 3`."
    assert made_by in report_path.read_text().splitlines()[2]


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
    # 3 seeds, but the 60 sentences hold 87% of the variance: the Behrens–Fisher reference is nearly normal, p 0.006
    # (a t on 2 df for the whole variance gave 0.039); Holm over the 6 pairs 0.023, and the verdict follows it
    assert pooling["Δ accuracy"] == "+0.2667" and pooling["p"] == "0.006" and pooling["Holm p"] == "0.023"
    assert pooling["verdict (Holm p < 0.05)"] == "meanmax better"
    assert pooling["ASO ε(A>B) / ε(B>A)"] == ""  # 3 runs each: fewer than 5
    for row, found in ((pooling, True), (rows[("lstm vs mean", "lab split")], False)):
        level, bounds = row["CI (Holm level)"].split(": ")
        low, high = (float(x) for x in bounds.strip("[]").split(", "))
        assert (low > 0 or high < 0) == found and float(level.rstrip("%")) > 95  # at the Holm level, like the verdict
    assert rows[("lstm vs mean", "lab split")]["verdict (Holm p < 0.05)"].startswith("no detectable difference")  # Holm p 0.103
    lstm = rows[("LSTM vs BiLSTM", "lab split")]
    assert (lstm["Δ accuracy"], lstm["CI (Holm level)"].split(": ")[1], lstm["p"]) == ("+0.0000", "[+0.0000, +0.0000]", "1.000")
    assert lstm["verdict (Holm p < 0.05)"] == "no detectable difference; MDE 0.0 pts" and lstm["Holm p"] == "1.000"
    vectors = rows[("frozen vs trained vectors: mean", "lab split")]
    assert vectors["A"] == "mean (trained vectors)" and vectors["verdict (Holm p < 0.05)"] == "trained better"  # p 0.026, a family of 1
    tuned = rows[("fine-tuned minilm vs the best GloVe model", "lab split")]
    assert tuned["B"] == "meanmax (trained vectors)" and tuned["runs A/B"] == "2/2" and tuned["Δ accuracy"] == "+0.0583"  # seeds 1, 2 of both: 58/60 − (54 + 55)/120
    assert "Behrens–Fisher reference" in text and "S − 1 degrees of freedom" in text and "two-stage bootstrap, which counts" in text
    assert "The best GloVe model: meanmax (trained vectors), chosen on TEST: no validation score recorded (lab split)" in text
    architectures = [c for c in numbers["datasets"]["mr"]["comparisons"] if c["family"] == "GloVe architectures, every pair"]
    lab_pairs = {(c["a"].split()[0], c["b"].split()[0]) for c in architectures if c["protocol"] == "lab split"}
    # every pair of the four trained-vector models with runs (no attention here), the later preset as A
    assert lab_pairs == {("meanmax", "mean"), ("lstm", "mean"), ("bilstm", "mean"), ("lstm", "meanmax"), ("bilstm", "meanmax"),
                         ("bilstm", "lstm")}  # fmt: skip
    assert "- self-attention vs mean‖max" not in text  # a model with no runs is no question
    asis = rows[("the best as-is model vs the best GloVe model", "lab split")]
    assert (asis["A"], asis["B"], asis["runs A/B"]) == ("distilbert-sst2 (as is)", "meanmax (trained vectors)", "1/3 (unpaired)")
    assert rows[("fine-tuned minilm vs the best as-is model", "lab split")]["B"] == "distilbert-sst2 (as is)"
    assert "the best as-is model: distilbert-sst2 (as is), chosen on TEST: no validation score recorded (lab split)" in text
    assert "1 seed" not in asis["runs A/B"]  # an as-is model has no training variance to count
    comparisons = numbers["datasets"]["mr"]["comparisons"]
    for family in {(c["protocol"], c["family"]) for c in comparisons}:  # Holm within each family of a (dataset, protocol) table
        adjusted = [c for c in comparisons if (c["protocol"], c["family"]) == family]
        assert min(c["holm_p"] for c in adjusted) == pytest.approx(min(1.0, len(adjusted) * min(c["p_value"] for c in adjusted)))


def test_ci_and_verdict_agree_and_each_holm_family_is_named_with_the_questions_it_adjusted(report, numbers):
    text = subsection(section(report, "mr"), "Study questions")
    rows = table(text)
    for row in rows:
        low, high = (float(x) for x in row["CI (Holm level)"].split(": ")[1].strip("[]").split(", "))
        assert (low > 0 or high < 0) == (not row["verdict (Holm p < 0.05)"].startswith("no detectable difference")), row
    comparisons = numbers["datasets"]["mr"]["comparisons"]
    families = list(dict.fromkeys((c["protocol"], c["family"]) for c in comparisons))
    assert ("lab split", "GloVe architectures, every pair") in families and ("3-fold CV", "GloVe architectures, every pair") in families
    for protocol, family in families:
        adjusted = [c for c in comparisons if (c["protocol"], c["family"]) == (protocol, family)]
        size = len(adjusted)
        assert {c["family_size"] for c in adjusted} == {size}
        said = f"mr, {protocol}, {family}: {size} question{'s' if size != 1 else ''}"
        assert said in text.split("**Holm families**")[1].split("\n")[0]
        caption = f"**{said.replace(f'{family}:', f'{family}**:')}, one Holm family"
        assert len(table(text.split(caption)[1].split("\n\n**")[0])) == size  # the family's own table, with its size
    assert "for the 23 questions" not in text


def test_a_trained_model_with_one_seed_is_labelled_not_treated_as_as_is():
    from pipelines.report.collect import Group
    from pipelines.report.compare import Question, one_seed_note

    def group(model, kind, seeds):
        return Group("mr", model, "plain", "lab", kind, [report_row(model=model, kind=kind, seed=seed) for seed in seeds])

    question = Question("fine-tuned vs as-is", group("minilm", "finetuned", [0]), group("vader", "pretrained", [None]))
    assert one_seed_note(question) == "minilm: 1 seed: training variance not counted"
    assert one_seed_note(Question("two seeds", group("minilm", "finetuned", [0, 1]), group("mean", "glove", [0, 1]))) == ""


def test_questions_without_usable_runs_say_why(report):
    text = subsection(section(report, "semeval2017a"), "Study questions")
    assert "_No question has runs of both models yet._" in text and "Holm" not in text
    assert "- LSTM vs BiLSTM (lab split): bilstm (trained vectors): no predictions.parquet in `semeval/bilstm`" in text
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


def files_data(test_digest: str) -> dict:
    """A run's `data` description for files of the user's own (`pipelines.data.files`), its test file's digest given."""
    return {"source": "files", "train_file": "/d/train.csv", "test_file": "/d/test.csv",
            "sha256": {"/d/train.csv": "a" * 64, "/d/test.csv": test_digest}}  # fmt: skip


def test_runs_the_report_cannot_tell_apart_or_pair_are_refused_naming_both_and_nothing_is_written(tmp_path, capsys):
    """Two runs of one model, setting and seed (say two --num_train_epochs, not recorded) were pooled as one seed, with a
    95% CI of [-0.71, 2.46]; runs tested on different files under one dataset name were paired."""
    root = tmp_path / "runs"
    write_run(root, "a/mean", "mean", "train", seed=42, num_train_epochs=1, data=files_data("b" * 64))
    write_run(root, "b/mean", "mean", "train", seed=42, num_train_epochs=9, data=files_data("b" * 64))
    assert run_cli(main, [str(root), "--output", str(tmp_path / "rep"), "--disable_tqdm", "true"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "runs `a/mean` and `b/mean` are both mean (frozen vectors) on train (lab split, seed 42)" in err
    assert "cannot tell them apart" in err and not (tmp_path / "rep").exists()
    write_run(root, "b/meanmax", "meanmax", "train", seed=42, data=files_data("c" * 64))
    (root / "b" / "mean" / "results.json").unlink()
    assert run_cli(main, [str(root), "--output", str(tmp_path / "rep")]) == 2
    assert "both on dataset 'train' but were tested on different files" in capsys.readouterr().err
    write_run(root, "c/meanmax", "meanmax", "train", seed=43, data=files_data("b" * 64))
    (root / "b" / "meanmax" / "results.json").unlink()
    assert run_cli(main, [str(root), "--output", str(tmp_path / "rep"), "--aso_iterations", "20"]) == 0
    assert "- mean vs mean‖max (lab split)" in (tmp_path / "rep" / "report.md").read_text().split("Not answered:")[1]
    # round 26's review: `v1/train.csv` and `v2/train.csv` are both dataset 'train'; other models on each were compared
    write_run(root, "d/meanmax", "meanmax", "train", seed=43, data=files_data("b" * 64) | {"sha256": {"/d/train.csv": "d" * 64, "/d/test.csv": "b" * 64}})
    (root / "c" / "meanmax" / "results.json").unlink()
    assert run_cli(main, [str(root), "--output", str(tmp_path / "rep2")]) == 2
    assert "runs `a/mean` and `d/meanmax` are both on dataset 'train' but were trained on different files of one name" in capsys.readouterr().err
    (root / "d" / "meanmax" / "results.json").unlink()
    assert run_cli(main, [str(root), "--output", str(tmp_path / "one"), "--aso_iterations", "20"]) == 0
    text = (tmp_path / "one" / "report.md").read_text()
    assert "_No question has runs of both models yet._" in text and "Not answered:" not in text  # no empty heading


@pytest.mark.parametrize("case", ["max_train_samples", "cv folds", "class names"])
def test_runs_one_group_would_pool_though_they_differ_in_what_it_does_not_group_by_are_refused(case):
    """Round 26's review: 3 full-data seeds and 2 seeds of `--max_train_samples 500` were one group of 5 seeds (also in
    the learning curves' `all` point); 5-fold and 10-fold cross-validation one group; runs naming a dataset's classes `0, 1, 2` and `negative, neutral, positive` ranked by one metric."""
    from pipelines.errors import DataError
    from pipelines.report.collect import group_rows

    full = [report_row(run=f"full/seed-{s}", seed=s, train_sentences=8000, label_names=["negative", "positive"]) for s in range(3)]
    folds = [report_row(run=f"cv/seed-{s}/fold-{f}", seed=s, fold=f, protocol="cv", cv_folds=10, train_sentences=8610 + f % 2)
             for s in range(2) for f in range(3)]  # fmt: skip
    assert len(group_rows(full + folds)) == 2  # folds of one index agree; folds of different sizes in one run are right
    other = {"max_train_samples": dict(train_sentences=500), "cv folds": dict(protocol="cv", cv_folds=5, fold=0, train_sentences=None),
             "class names": dict(label_names=["0", "1"], model="mean")}[case]  # fmt: skip
    odd = report_row(run="odd/seed-3", seed=3, **{"train_sentences": 8000} | other)
    with pytest.raises(DataError) as refused:
        group_rows(full + folds + [odd])
    message = str(refused.value)
    assert "`odd/seed-3`" in message and ("`full/seed-0`" in message or "`cv/seed-0/fold-0`" in message)
    assert {"max_train_samples": "with 8000 and 500 training sentences", "cv folds": "with 10 and 5 cross-validation folds",
            "class names": "name its classes 0, 1 and negative, positive"}[case] in message  # fmt: skip


def test_groups_whose_names_share_a_file_name_keep_their_own_predictions_and_figures(tmp_path):
    """Round 26's review: datasets named in Cyrillic (`отзывы`, `твиты`) both became `_` in file names, and the report
    keyed predictions and summaries by that: the second dataset's questions and table read the first one's runs."""
    from pipelines.report.collect import Group, slug
    from pipelines.runs.io import file_name
    from pipelines.runs.setting import Setting

    root = tmp_path / "runs"
    labels = np.tile([0, 1], 20)
    for dataset, right in (("отзывы", 36), ("твиты", 24)):
        for seed in range(2):
            predictions = np.where(np.arange(40) < right + seed, labels, 1 - labels)
            write_run(root, f"{dataset}/mean/seed-{seed}", "mean", dataset, labels, predictions, seed=seed, label_names=TWO)
    assert slug("отзывы") != slug("твиты") and slug("отзывы").startswith("run-") and slug("mr-mean") == "mr-mean"
    write_report(root, tmp_path / "report", aso_iterations=20)
    numbers = json.loads((tmp_path / "report" / "report.json").read_text())["datasets"]
    means = {dataset: numbers[dataset]["summaries"][0]["metrics"]["accuracy"]["mean"] for dataset in ("отзывы", "твиты")}
    assert means == pytest.approx({"отзывы": 36.5 / 40, "твиты": 24.5 / 40})
    assert len(list((tmp_path / "report" / "figures").glob("scores-*.png"))) == 2
    first, second = (Group(name, "mean", Setting("trained vectors"), "lab", "glove") for name in ("отзывы", "твиты"))
    assert file_name(first.dataset) == file_name(second.dataset) and first.key != second.key and first.slug != second.slug


def test_groups_and_datasets_whose_names_join_to_one_file_name_draw_their_own_figures():
    """Round 26's note (not mended then): `a-b` + `c` and `a` + `b-c` join to one group slug, and datasets `my data` and
    `my_data` share `my_data`: the second figure overwrote the first, both sections pointing at it."""
    from pipelines.report.collect import Group, dataset_slug, figure_slugs
    from pipelines.runs.setting import Setting

    plain = Setting("trained vectors")
    groups = [Group("mr-x", "mean", plain, "lab", "glove"), Group("mr", "x-mean", plain, "lab", "glove"), Group("mr", "bilstm", plain, "lab", "glove")]
    assert groups[0].slug == groups[1].slug
    names = figure_slugs(groups)
    assert len(set(names.values())) == 3 and names[groups[2].key] == groups[2].slug
    assert dataset_slug("my data") != dataset_slug("my_data") == "my_data"
    assert (dataset_slug("mr"), dataset_slug("semeval2017a")) == ("mr", "semeval2017a")
    assert "/" not in dataset_slug("user/reviews")


def test_an_evaluation_of_the_runs_test_file_joins_their_dataset():
    """Round 25's new-user trial: own data's runs are named after the train file (`train2`), an evaluation after the test
    file (`test2`), so "the best as-is model against the best GloVe model" was never asked on a user's data."""
    from pipelines.report.collect import same_test_file_same_dataset
    from pipelines.runs.setting import Setting

    run = report_row(dataset="train2", data_files={"train": "a" * 64, "test": "b" * 64})
    mine = report_row(kind="pretrained", model="vader", dataset="test2", setting=Setting("as is"), data_files={"test": "b" * 64})
    other = report_row(kind="pretrained", model="afinn", dataset="test2", setting=Setting("as is"), data_files={"test": "c" * 64})
    assert [row.dataset for row in same_test_file_same_dataset([run, mine, other])] == ["train2", "train2", "test2"]


def test_a_records_file_digests_pair_with_its_files_even_after_its_paths_were_made_relative():
    from pipelines.report.collect import file_digests

    data = files_data("b" * 64)
    assert file_digests(data) == {"train": "a" * 64, "test": "b" * 64}
    assert file_digests(data | {"train_file": "train.csv", "test_file": "test.csv"}) == {"train": "a" * 64, "test": "b" * 64}
    assert file_digests({"source": "builtin", "dataset": "mr"}) is None and file_digests(None) is None


def test_a_student_finds_its_teacher_by_the_identity_it_recorded_not_by_the_folder_tail():
    """Two minilm teachers of MR whose folders end alike (one among the records, one in the teachers folder): the
    student's recorded `teacher_run` (`RunRecord.identity`) picks the one it learnt from; an end of folder could not."""
    from pipelines.report.collect import Group
    from pipelines.report.compare import teacher_questions
    from pipelines.runs.setting import Setting

    def teacher(seed, record):
        identity = {"model": "minilm", "dataset": "mr", "seed": seed, "record": record}
        return report_row(kind="finetuned", model="minilm", setting=Setting("fine-tuned"), run="teachers/mr-minilm", seed=seed, identity=identity)

    cpu, gpu = teacher(0, "a50e5655e0871e2c"), teacher(0, "0cb40dfedd681696")
    distilled = Setting("trained vectors", teacher="minilm")

    def student(named):
        return Group("mr", "bilstm", distilled, "lab", "glove", [report_row(setting=distilled, seed=s, teacher=named) for s in range(2)])

    (found,) = teacher_questions([student(gpu.identity)], [cpu, gpu])
    assert found.b.rows == [gpu] and found.b.name == "minilm, teacher teachers/mr-minilm (fine-tuned)"
    (found,) = teacher_questions([student(cpu.identity)], [gpu, cpu])
    assert found.b.rows == [cpu]
    (older,) = teacher_questions([student({"model": "minilm", "folder": "teachers/mr-minilm"})], [gpu, cpu])
    assert older.b.rows == [gpu]  # a record from before `teacher_run`: the first run whose folder ends alike
    # ... unless that run records other weights than the student's teacher had: a run re-made in the teacher's folder
    from dataclasses import replace

    gpu, cpu = replace(gpu, weights_fingerprint="1111111111111111"), replace(cpu, weights_fingerprint="2222222222222222")
    (older,) = teacher_questions([student({"model": "minilm", "folder": "teachers/mr-minilm", "fingerprint": "2222222222222222"})], [gpu, cpu])
    assert older.b.rows == [cpu]
    (remade,) = teacher_questions([student({"model": "minilm", "folder": "teachers/mr-minilm", "fingerprint": "3333333333333333"})], [gpu, cpu])
    assert remade.why == "its teacher teachers/mr-minilm is in neither the records nor the teachers folder"
    gone = {**gpu.identity, "record": "ffffffffffffffff"}
    (missing,) = teacher_questions([student(gone)], [cpu, gpu])
    assert missing.why == "its teacher minilm (mr, seed 0, record ffffffffffffffff) is in neither the records nor the teachers folder"
    (hub,) = teacher_questions([student({"model": "minilm"})], [cpu, gpu])  # a teacher with no run record
    assert hub.why == "its teacher minilm (no run record) is in neither the records nor the teachers folder"
    # round 26's review: a teacher per student seed (`--teacher teachers/t<seed>`); the first seed's teacher was used for all
    own = [teacher(s, f"{s:016x}") for s in range(2)]
    own = [replace(row, run=f"teachers/t{row.seed}") for row in own]
    each = Group("mr", "bilstm", distilled, "lab", "glove", [report_row(setting=distilled, seed=s, teacher=own[s].identity) for s in range(2)])
    (found,) = teacher_questions([each], [cpu, *reversed(own)])
    assert found.b.rows == own and found.b.name == "minilm, teachers teachers/t0, teachers/t1 (fine-tuned)"
    twins = Group("mr", "bilstm", distilled, "lab", "glove", [report_row(setting=distilled, seed=s, teacher=t.identity) for s, t in enumerate([cpu, gpu])])
    (found,) = teacher_questions([twins], [cpu, gpu])  # two teacher runs of seed 0
    assert found.why.startswith("its seeds learnt from 2 teacher runs (teachers/mr-minilm, teachers/mr-minilm), some of one seed")


def test_an_exported_model_is_its_own_setting_never_an_as_is_model(tmp_path):
    from pipelines.report.collect import pretrained_rows

    path = write_evaluation(tmp_path, [
        {"model": "vader", "family": "lexicon", "accuracy": 0.66},
        {"model": "bilstm-int8", "family": "OnnxSequenceClassifier", "accuracy": 0.80},
    ])  # fmt: skip
    rows = pretrained_rows(path, tmp_path)
    assert [(row.model, row.setting.label) for row in rows] == [("vader", "as is"), ("bilstm-int8", "ONNX export")]


def test_an_evaluation_is_read_through_its_record_and_a_partial_one_is_refused_by_name(tmp_path):
    """Issue 30: `evaluation.json` crosses into the report as an `EvaluationRecord`, not a free dict."""
    from pipelines.errors import DataError
    from pipelines.report.collect import pretrained_rows

    path = write_evaluation(tmp_path, [{"model": "vader", "family": "lexicon", "accuracy": 0.66, "trained_on": "semeval2017a",
                                        "validation": {"accuracy": 0.7}}], code={"commit": "abc", "dirty": False})  # fmt: skip
    (row,) = pretrained_rows(path, tmp_path)
    assert (row.test["accuracy"], row.test["f1_macro"], row.validation, row.trained_on, row.code) == (
        0.66, None, 0.7, "semeval2017a", {"commit": "abc", "dirty": False})  # fmt: skip
    path.write_text(json.dumps({"dataset": "mr", "label_names": ["negative", "positive"], "results": [{"model": "vader", "accuracy": 0.66}]}))
    with pytest.raises(DataError, match=r"evaluation\.json: an evaluation record without"):
        pretrained_rows(path, tmp_path)


def test_the_best_as_is_model_is_chosen_on_validation_when_every_candidate_has_a_validation_score(tmp_path):
    """Issue 28: evaluation.json version 3 records each model's validation scores; the report chooses on them,
    and on test (labelled, naming the models without one) only when some model lacks one."""
    from pipelines.report.collect import group_rows, pretrained_rows
    from pipelines.report.compare import best_of

    def chosen(results):
        groups = group_rows(pretrained_rows(write_evaluation(tmp_path, results, label_names=TWO), tmp_path))
        summaries = {g.key: {"accuracy": {"mean": g.rows[0].test["accuracy"]}} for g in groups}
        best, how = best_of(groups, "accuracy", summaries)
        return best.model, how

    mpnet = {"model": "mpnet", "family": "zero-shot", "accuracy": 0.79, "validation": {"accuracy": 0.70, "f1_macro": 0.7}}
    afinn = {"model": "afinn", "family": "lexicon", "accuracy": 0.67, "validation": {"accuracy": 0.72, "f1_macro": 0.7}}
    assert chosen([mpnet, afinn]) == ("afinn", "chosen on validation accuracy (0.7200)")  # not the better one on test
    older = {"model": "vader", "family": "lexicon", "accuracy": 0.66}  # a version-2 entry: no validation score
    assert chosen([mpnet, afinn, older]) == ("mpnet", "chosen on TEST: no validation score recorded for vader (as is)")
    assert chosen([older]) == ("vader", "chosen on TEST: no validation score recorded")


def test_a_scored_run_folder_is_named_by_its_place_in_the_grid():
    from pipelines.runs.layout import short_name

    assert short_name("/work/study/runs/study/mr-lab-trained/attention/seed-0") == "mr-lab-trained/attention/seed-0"
    assert short_name("runs/cross/semeval2017a-lab-trained/mean/seed-0") == "semeval2017a-lab-trained/mean/seed-0"
    assert short_name("cardiffnlp/twitter-roberta-base-sentiment-latest") == "cardiffnlp/twitter-roberta-base-sentiment-latest"
    assert short_name("vader") == "vader"


def speeds_file(path: Path) -> Path:
    """A bench.speeds file for the fixture's MR groups, a model timed without runs here, and one not measured."""
    speed = {"latency_p50_ms": 1.0, "latency_p95_ms": 2.0, "parameters": 2_500_000, "disk_mb": 10.0, "timed_on": "its own run"}
    rows = [{**speed, "model": "mean", "setting": "trained vectors", "sentences_per_second": 4000.0},
            {**speed, "model": "meanmax", "setting": "trained vectors", "sentences_per_second": 5.0},
            {**speed, "model": "distilbert-sst2", "setting": "as is", "sentences_per_second": 10.0},
            {**speed, "model": "gone", "setting": "trained vectors", "sentences_per_second": 1.0}]
    speeds = {"command": "python -m bench.speeds --runs_dirs x", "note": "", "machine": "2 CPU cores", "threads": 1,
              "datasets": {"mr": rows}, "not_measured": {"mr": ["mpnet (as is): not installed"]}}
    path.write_text(json.dumps(speeds))
    return path


def test_each_slow_phase_of_a_rebuild_shows_a_bar(runs, tmp_path, capsys):
    """With `progress` (the command line's default; the committed report takes minutes), each slow phase shows a bar."""
    write_report(runs, tmp_path / "report", seed=3, aso_iterations=10, progress=True)
    bars = capsys.readouterr().err
    for phase in ("reading runs", "comparisons (lab split)", "learning curves", "confusion matrices"):
        assert f"{phase}: 100%" in bars, phase
    write_report(runs, tmp_path / "quiet", seed=3, aso_iterations=10)
    assert "100%" not in capsys.readouterr().err


def test_the_front_puts_the_speeds_beside_the_reports_own_scores_and_intervals(runs, tmp_path):
    """Issue 30 item 4: scores and intervals from the report's groups and `score_interval`; speeds from bench.speeds."""
    from pipelines.statistics import score_interval

    path = write_report(runs, tmp_path / "report", seed=3, aso_iterations=10, speeds=speeds_file(tmp_path / "speeds.json"))
    text = subsection(path.read_text(), "mr: cost against accuracy")
    rows = table(text)
    assert [(r["model"], r["runs"], r["score"], r["interval over"], r["sent/s (batch 64)"], r["front"]) for r in rows] == [
        ("mean (trained vectors)", "3", "0.650", "seeds and sentences", "4,000", "yes"),
        ("distilbert-sst2 (as is)", "1", "1.000", "sentences (1 run)", "10", "yes"),
        ("meanmax (trained vectors)", "3", "0.917", "seeds and sentences", "5", ""),  # slower and worse than sst2
    ]
    mr = np.tile([0, 1], MR_TEST // 2)
    expected = score_interval(mr, np.stack([predictions_right_on(mr, 36 + 3 * i, 2) for i in range(3)]), "accuracy", TWO)
    (mean, *_) = json.loads((tmp_path / "report" / "report.json").read_text())["front"]["mr"]
    assert (mean["score"], mean["ci_low"], mean["ci_high"]) == pytest.approx((0.65, expected["ci_low"], expected["ci_high"]))
    assert rows[0]["95% CI"] == f"{expected['ci_low']:.3f} to {expected['ci_high']:.3f}" and rows[1]["95% CI"] == "1.000 to 1.000"
    assert "Not measured: mpnet (as is): not installed" in text
    assert "Not measured: gone (trained vectors): timed, but no lab-split runs in this report" in text
    assert "Test accuracy: mean over the runs" in text
    assert (tmp_path / "report" / "figures" / "pareto-mr.png").stat().st_size > 1000


def test_a_macro_f1_benchmark_front_prints_macro_f1(tmp_path):
    """The front scores with the benchmark's official metric, whatever it is (the toy benchmark's is macro F1)."""
    from pipelines.report.collect import Group
    from pipelines.report.compare import Predictions
    from pipelines.report.front import front_rows, front_section
    from pipelines.runs.setting import Setting

    labels = np.tile([0, 1, 2], 20)
    group = Group("toy", "mean", Setting("trained vectors"), "lab", "glove")
    answers = [predictions_right_on(labels, right, 3) for right in (40, 45)]
    for seed, predicted in enumerate(answers):
        pd.DataFrame({"index": np.arange(60), "label": labels, "prediction": predicted}).to_parquet(tmp_path / f"{seed}.parquet")
        group.rows.append(report_row(dataset="toy", model="mean", seed=seed, run=f"s{seed}", predictions=str(tmp_path / f"{seed}.parquet")))
    speed = {"model": "mean", "setting": "trained vectors", "sentences_per_second": 100.0, "latency_p50_ms": 1.0, "latency_p95_ms": 2.0,
             "parameters": 10, "disk_mb": 1.0, "timed_on": "its own run"}
    rows, skipped = front_rows([group], [speed], Predictions(), "f1_macro", ["negative", "neutral", "positive"])
    assert rows[0]["score"] == pytest.approx(np.mean([f1_score(labels, predicted, average="macro") for predicted in answers]))
    assert rows[0]["metric"] == "f1_macro" and not skipped
    lines = front_section("toy", rows, skipped, {"machine": "here", "threads": 1, "command": "x"}, tmp_path)
    assert lines[2].startswith("Test macro F1: mean over the runs")


def test_an_unreadable_speeds_file_is_one_error_line_and_nothing_written(runs, tmp_path, capsys):
    argv = [str(runs), "--output", str(tmp_path / "report"), "--aso_iterations", "10", "--disable_tqdm", "--speeds", str(tmp_path / "missing.json")]
    assert run_cli(main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--speeds {tmp_path / 'missing.json'}: cannot read it" in err[0]
    assert not (tmp_path / "report").exists()


def test_the_questions_a_reader_needs_are_built_from_the_groups():
    """Class weights ask each class's recall and the accuracy; a distillation loss is asked against the default
    one; a student against the teacher its record names; lab split against CV per model."""
    from pipelines.report.collect import Group
    from pipelines.report.compare import (CLASS_BALANCE, PROTOCOLS, class_balance_questions, distillation_loss_questions,
                                          protocol_questions, teacher_questions)  # fmt: skip
    from pipelines.runs.setting import Setting

    trained, weighted_setting = Setting("trained vectors"), Setting("trained vectors", class_weights="balanced")
    distilled = Setting("trained vectors", teacher="minilm")
    distilled_kl = Setting("trained vectors", teacher="minilm", distillation_loss="kl", distillation_temperature=2.0)

    def group(setting, protocol="lab", teacher=None, model="bilstm", kind="glove"):
        rows = [report_row(dataset="semeval2017a", model=model, kind=kind, setting=setting, protocol=protocol, seed=s,
                           cv_folds=10, teacher={"model": "minilm", "folder": teacher} if teacher else None) for s in range(2)]  # fmt: skip
        return Group("semeval2017a", model, setting, protocol, kind, rows)

    plain, weighted = group(trained), group(weighted_setting)
    balance = class_balance_questions([plain, weighted], THREE)
    assert [(q.metric, q.a, q.b, q.family) for q in balance] == [
        (m, weighted, plain, CLASS_BALANCE) for m in ("recall:negative", "recall:neutral", "recall:positive", "accuracy")]
    assert balance[1].text == "class-weighted vs unweighted, recall of neutral: bilstm"
    mse = group(distilled, teacher="teachers/mr-minilm-cpu")
    kl = group(distilled_kl, teacher="teachers/mr-minilm-cpu")
    (loss,) = distillation_loss_questions([plain, mse, kl])
    assert (loss.text, loss.a, loss.b) == ("distillation loss KL, T=2 vs logit regression: bilstm", kl, mse)
    # students recorded before `teacher_run`: the teacher is found by the end of its folder (`RunRecord.teacher_run`)
    teacher_row = report_row(kind="finetuned", dataset="semeval2017a", run="mr-minilm-cpu", model="minilm", setting=Setting("fine-tuned"))
    gpu_row = replace(teacher_row, run="study/semeval2017a-minilm/seed-0")
    found = teacher_questions([plain, mse, group(distilled, teacher="gpu/seed-9")], [teacher_row, gpu_row])
    assert [q.b.rows if q.b else q.why for q in found] == [[teacher_row], "its teacher gpu/seed-9 is in neither the records nor the teachers folder"]
    assert found[0].b.name == "minilm, teacher mr-minilm-cpu (fine-tuned)"
    assert found[0].b.key != group(Setting("fine-tuned"), model="minilm").key
    on_gpu = teacher_questions([group(distilled, teacher="semeval2017a-minilm/seed-0")], [teacher_row, gpu_row])
    assert on_gpu[0].b.rows == [gpu_row]  # a teacher among the report's own runs
    assert on_gpu[0].b.key != found[0].b.key  # two teachers of one model: their predictions are read apart
    (protocol,) = protocol_questions([plain, group(trained, "cv"), weighted])
    assert (protocol.a, protocol.b.protocol, protocol.family, protocol.text) == (plain, "cv", PROTOCOLS, "lab split vs 10-fold CV: bilstm (trained vectors)")


def test_each_configuration_of_a_model_is_its_own_group_and_every_pair_one_question_of_their_family():
    """Question 5: the default, the classic (`models.presets.CLASSIC_TRANSFORMER`) and a searched configuration of
    the transformer are three groups, asked in three pairs of one Holm family; a configuration is never the
    plain model (not among the architectures, nor "the best GloVe model"), and a distilled run's configuration
    is asked against the distilled default only."""
    from models.presets import CLASSIC_TRANSFORMER
    from pipelines.report.collect import Group
    from pipelines.report.compare import ARCHITECTURES, CONFIGURATIONS, architecture_questions, configuration_questions
    from pipelines.runs.setting import Setting, config_text

    def group(model, config=None, teacher=None):
        setting = Setting("trained vectors", teacher=teacher, config=config_text(config))
        return Group("mr", model, setting, "lab", "glove", [report_row(model=model, setting=setting, seed=s) for s in range(5)])

    default, classic = group("transformer"), group("transformer", CLASSIC_TRANSFORMER)
    searched = group("transformer", {"num_layers": 1, "num_heads": 2, "ffn_dim": 120, "dropout": 0.31})
    lstm, distilled = group("lstm"), group("transformer", teacher="minilm")
    distilled_classic = group("transformer", CLASSIC_TRANSFORMER, teacher="minilm")
    assert classic.setting.label == "trained vectors, config attention_dropout=0 dropout=0.1 ffn_dim=2048 num_heads=10 num_layers=6"
    assert not classic.plain and len({g.key for g in (default, classic, searched)}) == 3
    found = configuration_questions([lstm, searched, classic, default, distilled, distilled_classic])
    assert [(q.text, q.a, q.b, q.a_label, q.b_label) for q in found] == [
        ("classic vs default: transformer", classic, default, "classic", "default"),
        ("config dropout=0.31 ffn_dim=120 num_heads=2 num_layers=1 vs default: transformer", searched, default,
         "config dropout=0.31 ffn_dim=120 num_heads=2 num_layers=1", "default"),
        ("config dropout=0.31 ffn_dim=120 num_heads=2 num_layers=1 vs classic: transformer", searched, classic,
         "config dropout=0.31 ffn_dim=120 num_heads=2 num_layers=1", "classic"),
        ("classic vs default: transformer", distilled_classic, distilled, "classic", "default"),
    ]
    assert {q.family for q in found} == {CONFIGURATIONS} and "searched best vs default vs classic" in CONFIGURATIONS
    assert configuration_questions([default, lstm, distilled]) == []  # no configuration: no question
    from pipelines.report.compare import config_name

    best = group("transformer", "num_layers=2,dropout=0.4628040490213926")  # a study's best trial: named by its fields
    assert config_name(best.setting) == "config dropout=0.463 num_layers=2" and config_name(default.setting) == "default"
    named = configuration_questions([searched, best, default, classic])
    assert [q.text for q in named][:3] == ["classic vs default: transformer",  # then the others by their config text
                                           "config dropout=0.31 ffn_dim=120 num_heads=2 num_layers=1 vs default: transformer",
                                           "config dropout=0.463 num_layers=2 vs default: transformer"]
    assert len(named) == 6 and "config dropout=0.463 num_layers=2 vs classic: transformer" in [q.text for q in named]  # named ones first
    # The learning rate is part of a configuration (question 5 searches it): a searched best at its own learning
    # rate is asked against the default (and named by both), never grouped with the default config's runs.
    tuned = Group("mr", "transformer", Setting("trained vectors", config=config_text({"num_layers": 2}), learning_rate=4.2e-4), "lab", "glove", [])
    rate_only = Group("mr", "transformer", Setting("trained vectors", learning_rate=3e-3), "lab", "glove", [])
    assert [q.text for q in configuration_questions([tuned, default, rate_only])] == [
        "learning rate 0.003 vs default: transformer",
        "config num_layers=2, learning rate 0.00042 vs default: transformer",
        "config num_layers=2, learning rate 0.00042 vs learning rate 0.003: transformer",
    ]
    pairs = [(q.a.model, q.b.model) for q in architecture_questions([lstm, default, classic, searched])]
    assert pairs == [("transformer", "lstm")] and {q.family for q in architecture_questions([lstm, default])} == {ARCHITECTURES}


def test_lab_split_against_cv_compares_the_lab_test_sentences_unpaired_and_an_export_its_own_run():
    from pipelines.errors import DataError
    from pipelines.report.compare import exported_from, on_lab_sentences

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 50)  # the pooled data: 40 train sentences, then the lab split's 10 test sentences
    cv = {seed: pd.DataFrame({"index": np.arange(50)[::-1], "label": labels[::-1], "prediction": rng.integers(0, 2, 50)}) for seed in (0, 1)}
    lab = {seed: pd.DataFrame({"index": np.arange(10), "label": labels[40:], "prediction": labels[40:]}) for seed in (0, 1, 2)}
    a, b, note = on_lab_sentences(lab, cv)
    assert sorted(a) == ["lab seed 0", "lab seed 1", "lab seed 2"] and sorted(b) == ["CV seed 0", "CV seed 1"]  # no seed pairs
    part = b["CV seed 1"].sort_values("index")
    assert part["index"].tolist() == list(range(10)) and part["label"].tolist() == labels[40:].tolist()
    assert part["prediction"].tolist() == cv[1].set_index("index").loc[range(40, 50), "prediction"].tolist()
    assert "different things" in note
    with pytest.raises(DataError, match="not the lab split's test sentences"):
        on_lab_sentences({0: lab[0].assign(label=1 - lab[0]["label"])}, cv)

    gold = rng.integers(0, 2, 200)
    seeds = {seed: pd.DataFrame({"index": range(200), "label": gold, "prediction": rng.integers(0, 2, 200)}) for seed in range(3)}
    export = seeds[1].assign(prediction=lambda f: np.where(np.arange(200) < 3, 1 - f["prediction"], f["prediction"]))  # 3 changed
    kept, source, note = exported_from({"no seed": export}, seeds)
    assert list(source) == [1] and "98.5%" in note and kept["no seed"] is export
    with pytest.raises(DataError, match="not in the records"):
        exported_from({"no seed": export}, {0: seeds[0], 2: seeds[2]})  # its own run is missing: others agree by chance only


def test_the_report_says_which_code_made_each_record(report):
    from pipelines.report.tables import code_section

    def row(model, code):
        return report_row(model=model, code=code)

    rows = [row("mean", None), row("mean", None), row("bilstm", {"commit": "0123456789abcdef", "dirty": True}),
            row("lstm", {"commit": "0123456789abcdef", "dirty": False})]  # fmt: skip
    lines = code_section(rows)
    shown = table("\n".join(lines))
    assert [(r["code"], r["records"]) for r in shown] == [
        ("before code recording", "2"), ("commit 01234567 + uncommitted changes", "1"), ("commit 01234567", "1")]
    assert shown[0]["dataset model (setting, protocol) × records"] == "mr mean (trained vectors, lab) × 2"
    made_by = table(section(report, "Which code made these runs"))
    assert sum(int(r["records"]) for r in made_by) == 33 + 2  # every run once: "33 training runs and 2 as-is scores"
    assert "33 training runs and 2 as-is scores" in report and made_by[0]["code"] == "before code recording"  # the fixture's runs


def test_the_top_table_puts_each_fine_tuned_model_beside_the_best_glove_student_and_as_is_model(runs, tmp_path):
    """Issue 26 item 4: the top table's rows are chosen as the questions choose them, its scores are the front's
    `score_interval`, and its verdicts are the report's own answers (never a new test)."""
    path = write_report(runs, tmp_path / "report", seed=3, aso_iterations=10, speeds=speeds_file(tmp_path / "speeds.json"))
    text = path.read_text()
    assert text.index("## The top of the study") < text.index("\n## mr")
    rows = table(subsection(text, "mr (accuracy)"))
    on_test = " (chosen on TEST: no validation score recorded)"
    assert [(r["role"], r["model"], r["runs"], r["score"], r["train min/seed"], r["trained on"], r["sentences/s"]) for r in rows] == [
        ("fine-tuned", "minilm (fine-tuned)", "2 seeds", "0.967", "0.2", "not recorded", ""),  # 12.5 s a seed; no speed timed
        ("best GloVe model" + on_test, "meanmax (trained vectors)", "3 seeds", "0.917", "0.2", "not recorded", "5"),
        ("best as-is model" + on_test, "distilbert-sst2 (as is)", "1 run", "1.000", "", "", "10"),
    ]
    numbers = json.loads((tmp_path / "report" / "report.json").read_text())
    asked = {c["a"]: c for c in numbers["datasets"]["mr"]["comparisons"] if c["b"] == "meanmax (trained vectors)"}
    for row in (rows[0], rows[2]):
        assert (row["vs the best GloVe model"], row["Holm p"]) == (asked[row["model"]]["verdict"], f"{asked[row['model']]['holm_p']:.3f}")
    assert rows[1]["vs the best GloVe model"] == "the reference"
    front = {row["model"]: row for row in numbers["front"]["mr"]}
    for row in numbers["top"]["mr"]:
        if row["model"] in front:
            assert (row["score"], row["ci_low"], row["ci_high"]) == tuple(front[row["model"]][k] for k in ("score", "ci_low", "ci_high"))


def test_where_a_run_trained_comes_from_its_record_else_its_torch_build():
    from pipelines.report.top import device_of

    assert device_of(report_row(train_device="cpu: 2 torch threads, AMD EPYC")) == "cpu: 2 torch threads"
    assert device_of(report_row(versions={"torch": "2.13.0+cpu"})) == "cpu (threads not recorded)"
    assert device_of(report_row(versions={"torch": "2.11.0+cu130"})) == "GPU build of torch (device not recorded)"
    assert device_of(report_row()) == "not recorded"


def test_students_of_two_teachers_are_each_asked_against_plain_training_and_against_each_other(tmp_path):
    """BiLSTM students of mpnet and of minilm beside plain BiLSTMs: "distilled from mpnet vs plain training" and
    "distilled from mpnet vs distilled from minilm", answered with their statistics in the training family; a
    student of another loss is no pair of these."""
    from pipelines.report.collect import Group
    from pipelines.report.compare import TRAINING, teacher_pair_questions
    from pipelines.runs.setting import Setting

    mr = np.tile([0, 1], MR_TEST // 2)
    lab = {"protocol": "lab", "vectors": "trained"}
    for seed in (1, 2, 3):  # right on 45-47 of 60 sentences plain, 48-50 from minilm, 51-53 from mpnet
        for name, right, teacher in (("plain", 45, None), ("minilm", 48, "minilm"), ("mpnet", 51, "mpnet")):
            distillation = {"distillation": {"teacher": teacher, "teacher_path": f"teachers/mr-{teacher}", "alpha": 0.5}} if teacher else {}
            write_run(tmp_path / "runs", f"{name}/s{seed}", "bilstm", "mr", mr, predictions_right_on(mr, right + seed - 1, 2), seed=seed,
                      **lab, **distillation)  # fmt: skip
    written = write_report(tmp_path / "runs", tmp_path / "out" / "report", seed=3, aso_iterations=50)
    report = written.read_text()
    rows = {row["question"]: row for row in table(subsection(section(report, "mr"), "Study questions"))}
    from_mpnet = rows["distilled from mpnet vs plain training: bilstm"]
    assert (from_mpnet["A"], from_mpnet["B"], from_mpnet["Δ accuracy"]) == (
        "bilstm (trained vectors, distilled from mpnet)", "bilstm (trained vectors)", "+0.1000")  # (52 − 46) / 60
    pair = rows["distilled from mpnet vs distilled from minilm: bilstm"]
    assert (pair["A"], pair["B"], pair["runs A/B"], pair["Δ accuracy"]) == (
        "bilstm (trained vectors, distilled from mpnet)", "bilstm (trained vectors, distilled from minilm)", "3/3", "+0.0500")
    assert float(pair["p"]) < float(pair["Holm p"]) <= 1 and pair["verdict (Holm p < 0.05)"]
    numbers = json.loads((written.parent / "report.json").read_text())["datasets"]["mr"]["comparisons"]
    (found,) = [c for c in numbers if c["question"] == "distilled from mpnet vs distilled from minilm: bilstm"]
    assert found["family"] == TRAINING and found["difference"] == pytest.approx(0.05)

    def group(teacher, **setting):
        return Group("mr", "bilstm", Setting("trained vectors", teacher=teacher, **setting), "lab", "glove")

    mpnet, minilm, minilm_kl, plain = group("mpnet"), group("minilm"), group("minilm", distillation_loss="kl", distillation_temperature=2.0), group(None)
    mpnet_kl = group("mpnet", distillation_loss="kl", distillation_temperature=2.0)
    found = [(q.text, q.a, q.b, q.a_label, q.b_label) for q in teacher_pair_questions([plain, minilm, mpnet, minilm_kl, mpnet_kl])]
    assert found == [
        ("distilled from mpnet vs distilled from minilm: bilstm", mpnet, minilm, "from mpnet", "from minilm"),
        ("distilled from mpnet (KL, T=2) vs distilled from minilm (KL, T=2): bilstm", mpnet_kl, minilm_kl, "from mpnet", "from minilm"),
    ]
    assert teacher_pair_questions([plain, mpnet, minilm_kl]) == []  # another loss: no pair


def test_rows_added_to_the_speeds_by_an_update_reach_the_top_table_and_the_front_saying_so(runs, tmp_path):
    """Issue 26 item 4: a `bench.speeds --update` row (its `timed_by`) is matched to its group as any row is; the top
    table marks its speed, the front's "timed on" says when it was added, and the section gives the reference's ratio."""
    path = speeds_file(tmp_path / "speeds.json")
    speeds = json.loads(path.read_text())
    reference = {"group": "distilbert-sst2 (as is)", "timed_on": "distilbert-sst2 scorer", "sentences_per_second_then": 10.0,
                 "sentences_per_second_now": 8.0, "ratio_now_to_then": 0.8}  # fmt: skip
    timed_by = {"command": "python -m bench.speeds --runs_dirs ft --update", "machine": "a later machine", "date": "2026-12-06 03:00 UTC",
                "reference": reference}  # fmt: skip
    speeds["datasets"]["mr"].append({"model": "minilm", "setting": "fine-tuned", "sentences_per_second": 125.0, "latency_p50_ms": 19.0,
                                     "latency_p95_ms": 25.0, "parameters": 22_713_986, "disk_mb": 87.3, "timed_on": "its own run",
                                     "timed_by": timed_by})  # fmt: skip
    path.write_text(json.dumps(speeds))
    text = write_report(runs, tmp_path / "report", seed=3, aso_iterations=10, speeds=path).read_text()
    top = {row["model"]: row for row in table(subsection(text, "mr (accuracy)"))}
    assert top["minilm (fine-tuned)"]["sentences/s"] == "125 ‡" and top["meanmax (trained vectors)"]["sentences/s"] == "5"
    assert "‡: added to it later by `bench.speeds --update`" in section(text, "The top of the study")
    front = subsection(text, "mr: cost against accuracy")
    rows = {row["model"]: row for row in table(front)}
    assert rows["minilm (fine-tuned)"]["timed on"] == "its own run, added 2026-12-06 03:00 UTC"
    assert rows["mean (trained vectors)"]["timed on"] == "its own run"
    assert "all but the rows added later (below) timed in one run of `bench.speeds` (2 CPU cores" in front
    assert ("Added later (minilm (fine-tuned); \"added\" in \"timed on\"): timed 2026-12-06 03:00 UTC (a later machine) by "
            "`python -m bench.speeds --runs_dirs ft --update`, which timed the file's distilbert-sst2 (as is) row again on "
            "distilbert-sst2 scorer: 10.0 sentences/s then, 8.0 now, ratio now/then 0.800") in front
    del timed_by["reference"]["ratio_now_to_then"]
    path.write_text(json.dumps(speeds))
    from pipelines.errors import DataError
    from pipelines.report.front import read_speeds

    with pytest.raises(DataError, match=r"a mr row \(minilm\) lacks timed_by.reference.ratio_now_to_then"):
        read_speeds(path)


def test_the_front_names_the_tool_that_timed_its_speeds_from_their_command():
    """The committed speeds were timed by `bench.pareto`, before the front moved into the report: the section said
    `bench.speeds` above a "made by" line naming the other."""
    from pipelines.report.front import timing_tool

    assert timing_tool({"command": "python -m bench.pareto --data_dir d --output_dir o"}) == "bench.pareto"
    assert timing_tool({"command": "python -m bench.speeds --runs_dirs ft --update"}) == "bench.speeds"
    assert timing_tool({}) == "bench.speeds"
