"""The learning-curve report: points with intervals per size, and crossovers named with Holm over sizes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.cli import run_cli
from pipelines.report import curves
from tests.conftest import write_evaluation

N_TEST = 400


def write_run(folder, model: str, seed: int, size: int | None, accuracy: float) -> None:
    """A GloVe run record whose predictions on a fixed 400-sentence test set have the given accuracy."""
    rng = np.random.default_rng(1000 * seed + (size or 0) + len(model))
    gold = np.tile([0, 1], N_TEST // 2)
    wrong = rng.random(N_TEST) > accuracy
    predictions = np.where(wrong, 1 - gold, gold)
    folder.mkdir(parents=True)
    pd.DataFrame({"index": np.arange(N_TEST), "label": gold, "prediction": predictions}).to_parquet(folder / "predictions.parquet")
    record = {
        "dataset": "mr", "model": model, "model_type": "glove-pooling", "vectors": "trained", "protocol": "lab", "seed": seed,
        "label_names": ["negative", "positive"], "test": {"accuracy": float((predictions == gold).mean())},
        "predictions_file": "predictions.parquet", **({"train_size_per_class": size} if size else {}),
    }
    (folder / "results.json").write_text(json.dumps(record))


@pytest.fixture
def curve_runs(tmp_path):
    root = tmp_path / "records"
    for seed in range(3):
        for size, (good, weak) in {16: (0.9, 0.55), 64: (0.92, 0.6), None: (0.8, 0.8)}.items():
            group = "mr-lab-trained" + (f"-n{size}" if size else "")
            write_run(root / group / "bilstm" / f"seed-{seed}", "bilstm", seed, size, good)
            write_run(root / group / "meanmax" / f"seed-{seed}", "meanmax", seed, size, weak)
    return root


def test_the_curves_name_where_one_model_is_better_with_holm_over_the_sizes(curve_runs, tmp_path, capsys):
    output = tmp_path / "curves"
    assert run_cli(curves.main, [str(curve_runs), "--output", str(output)]) == 0
    assert (output / "curves-mr.png").stat().st_size > 10_000
    summary = json.loads((output / "curves.json").read_text())["datasets"]["mr"]
    points = summary["points"]["bilstm (trained vectors)"]
    assert list(points) == ["16", "64", "all"] and all(point["n"] == 3 and point["ci_low"] < point["mean"] < point["ci_high"] for point in points.values())
    (comparison,) = summary["comparisons"]
    rows = comparison["rows"]
    assert [row["size"] for row in rows] == ["16", "64", "all"] and all(row["family_size"] == 3 for row in rows)
    assert [row["verdict"] for row in rows] == ["A better", "A better", "no detectable difference"]
    assert all(row["holm_p"] >= row["p_value"] for row in rows)
    assert comparison["crossovers"].startswith(
        "bilstm (trained vectors) better at 16–64 per class; no detectable difference at all per class"
    )
    table = (output / "curves-mr.md").read_text()
    assert "python -m pipelines.report.curves" in table and "| 16 | 3/3 |" in table


def test_a_variant_is_its_own_curve_and_a_cut_training_set_or_a_second_evaluation_is_refused(curve_runs, tmp_path, capsys):
    """Round 26's review: class-weighted BiLSTM runs (seeds 3, 4) became seeds of the plain BiLSTM curve; runs cut by
    `--max_train_samples` joined the `all` point; of two evaluations of one as-is model the last silently won."""
    for seed in (3, 4):
        write_run(curve_runs / "mr-lab-trained-weighted" / "bilstm" / f"seed-{seed}", "bilstm", seed, None, 0.5)
        record = curve_runs / "mr-lab-trained-weighted" / "bilstm" / f"seed-{seed}" / "results.json"
        record.write_text(json.dumps(json.loads(record.read_text()) | {"class_weights": "balanced"}))
    found = curves.gather_curves([curve_runs])["mr"]
    assert sorted(found) == ["bilstm (trained vectors)", "bilstm (trained vectors, class-weighted)", "meanmax (trained vectors)"]
    assert sorted(found["bilstm (trained vectors)"].runs[None]) == [0, 1, 2]
    for seed, sentences in ((0, 8000), (1, 8000), (2, 500)):
        record = curve_runs / "mr-lab-trained" / "bilstm" / f"seed-{seed}" / "results.json"
        record.write_text(json.dumps(json.loads(record.read_text()) | {"train_sentences": sentences}))
    assert run_cli(curves.main, [str(curve_runs), "--output", str(tmp_path / "curves")]) == 2
    err = capsys.readouterr().err
    assert "seed-2: bilstm (trained vectors) at all per class trained on 500 sentences" in err and "seed-0 on 8000" in err
    assert not (tmp_path / "curves").exists()
    for copy in ("a", "b"):
        zero_shot_evaluation(tmp_path / copy, "mr", {})
    with pytest.raises(curves.DataError, match=r"zs on mr is also scored in .*a/evaluation.json; give --as_is one evaluation"):
        curves.gather_zero_label([tmp_path / "a", tmp_path / "b"])


def test_a_model_filter_and_no_records_give_one_line(curve_runs, tmp_path, capsys):
    output = tmp_path / "curves"
    assert run_cli(curves.main, [str(curve_runs), "--output", str(output), "--models", "bilstm"]) == 0
    assert json.loads((output / "curves.json").read_text())["datasets"]["mr"]["comparisons"] == []
    assert run_cli(curves.main, [str(tmp_path / "nothing"), "--output", str(output)]) == 2
    assert capsys.readouterr().err.startswith("error: no lab-split run records with predictions under")
    # a model named that no record ran drew a page of the others, silently (a fresh user's `--models meanmax,bilstm,lstm`)
    assert run_cli(curves.main, [str(curve_runs), "--output", str(tmp_path / "other"), "--models", "bilstm,lstm"]) == 2
    assert capsys.readouterr().err.strip() == f"error: --models lstm: no lab-split run record of it with predictions under {curve_runs}"
    assert not (tmp_path / "other").exists()


def test_an_as_is_model_is_the_zero_label_line_compared_unpaired_at_every_size(curve_runs, tmp_path):
    """Issue 29: the zero-shot scorer is drawn as a line (its score and sentence interval) and every curve is set against it."""
    from pipelines.statistics import score_interval

    evaluation = tmp_path / "asis-mr"
    (evaluation / "predictions").mkdir(parents=True)
    gold = np.tile([0, 1], N_TEST // 2)
    predictions = np.where(np.arange(N_TEST) % 4 == 0, 1 - gold, gold)  # right on 3 of 4: 0.75
    pd.DataFrame({"index": np.arange(N_TEST), "label": gold, "prediction": predictions}).to_parquet(evaluation / "predictions" / "zs.parquet")
    entry = {"model": "zs", "family": "zero-shot", "accuracy": 0.75, "ci": {}, "seconds": 1.0, "sentences_per_second": 400.0,
             "load_seconds": 0.1, "labels": "", "rule": "", "ties": 0, "predicted_counts": [200, 200],
             "confusion_matrix": [[150, 50], [50, 150]], "predictions_file": "predictions/zs.parquet"}  # fmt: skip
    write_evaluation(evaluation, [entry, {**entry, "model": "other"}], test_sentences=N_TEST, neutral_threshold=0.8)
    output = tmp_path / "curves"
    assert run_cli(curves.main, [str(curve_runs), "--output", str(output), "--models", "bilstm", "--as_is", str(evaluation),
                                 "--as_is_models", "zs"]) == 0  # fmt: skip
    summary = json.loads((output / "curves.json").read_text())["datasets"]["mr"]
    line = summary["zero_label"]["zs (as is, no labels)"]
    expected = score_interval(gold, predictions[None, :], "accuracy", ["negative", "positive"])
    assert (line["mean"], line["ci_low"], line["ci_high"]) == pytest.approx((0.75, expected["ci_low"], expected["ci_high"]))
    assert list(summary["points"]) == ["bilstm (trained vectors)"]  # "other" was not asked for; the line is no curve
    (comparison,) = summary["comparisons"]
    assert (comparison["a"], comparison["b"]) == ("bilstm (trained vectors)", "zs (as is, no labels)")
    rows = comparison["rows"]
    assert [row["size"] for row in rows] == ["16", "64", "all"] and not any(row["paired_seeds"] for row in rows)
    # 0.90 and 0.92 against 0.75 are found; 0.80 against 0.75 with 3 seeds (t on 2 df) is not
    assert [row["verdict"] for row in rows] == ["A better", "A better", "no detectable difference"]
    assert rows[0]["difference"] == pytest.approx(summary["points"]["bilstm (trained vectors)"]["16"]["mean"] - 0.75)
    assert "zs (as is, no labels): 0.7500 [" in (output / "curves-mr.md").read_text()


def zero_shot_evaluation(folder, dataset: str, data: dict, sentences: int = N_TEST):
    """An as-is evaluation of one zero-shot model, right on 3 of 4 test sentences."""
    (folder / "predictions").mkdir(parents=True)
    gold = np.tile([0, 1], N_TEST // 2)[:sentences]
    predictions = np.where(np.arange(sentences) % 4 == 0, 1 - gold, gold)
    pd.DataFrame({"index": np.arange(sentences), "label": gold, "prediction": predictions}).to_parquet(folder / "predictions" / "zs.parquet")
    entry = {"model": "zs", "family": "zero-shot", "accuracy": 0.75, "predictions_file": "predictions/zs.parquet"}
    return write_evaluation(folder, [entry], dataset=dataset, data=data, test_sentences=sentences)


def test_own_data_runs_and_an_evaluation_of_their_test_file_are_matched_by_the_files_digest(curve_runs, tmp_path, capsys):
    """Round 25's new-user trial: a user's runs are named after their train file and an evaluation after its test file,
    so `--as_is` drew nothing on own data, silently; and the `all` tick said "~" twice the largest size."""
    digests = {"train2.csv": "a" * 64, "test2.csv": "b" * 64}
    for path in curve_runs.rglob("results.json"):
        record = json.loads(path.read_text())
        record |= {"dataset": "train2", "data": {"source": "files", "train_file": "train2.csv", "test_file": "test2.csv", "sha256": digests}}
        if "train_size_per_class" not in record:
            record |= {"train_sentences": 40, "validation_sentences": 10}
        path.write_text(json.dumps(record))
    mine = zero_shot_evaluation(tmp_path / "asis-mine", "test2", {"source": "files", "test_file": "test2.csv", "sha256": {"test2.csv": "b" * 64}})
    other = zero_shot_evaluation(tmp_path / "asis-other", "test2", {"source": "files", "test_file": "test2.csv", "sha256": {"test2.csv": "c" * 64}})
    output = tmp_path / "curves"
    argv = [str(curve_runs), "--output", str(output), "--models", "bilstm", "--as_is"]
    assert run_cli(curves.main, [*argv, str(mine.parent)]) == 0
    summary = json.loads((output / "curves.json").read_text())["datasets"]
    assert list(summary) == ["train2"] and list(summary["train2"]["zero_label"]) == ["zs (as is, no labels)"]
    capsys.readouterr()
    assert run_cli(curves.main, [*argv, str(other.parent)]) == 0  # another test file of the same name
    assert json.loads((output / "curves.json").read_text())["datasets"]["train2"]["zero_label"] == {}
    assert f"note: {other}: zs (as is, no labels) scored test2, which no run here was tested on; not drawn" in capsys.readouterr().err
    found = curves.gather_curves([curve_runs], names={"bilstm"})["train2"]
    assert curves.all_position("train2", list(found.values())) == (25.0, True)  # (40 + 10) / 2 classes


def test_runs_of_one_dataset_trained_on_other_files_are_refused_as_the_report_refuses_them(curve_runs, tmp_path, capsys):
    """A user's dataset is named after its train file: meanmax trained on an edited reviews.csv is not on bilstm's data,
    and the main report (`collect.check_comparable`) refuses to compare them; so do the curves."""
    for path in curve_runs.rglob("results.json"):
        record = json.loads(path.read_text())
        train = ("b" if record["model"] == "meanmax" else "a") * 64
        digests = {"reviews.csv": train, "test.csv": "c" * 64}
        record |= {"dataset": "reviews", "data": {"source": "files", "train_file": "reviews.csv", "test_file": "test.csv", "sha256": digests}}
        path.write_text(json.dumps(record))
    output = tmp_path / "curves"
    assert run_cli(curves.main, [str(curve_runs), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: runs `") and "are both on dataset 'reviews' but were trained on different files" in err and err.count("\n") == 1
    assert not output.exists()


def test_curves_that_cannot_be_compared_name_both_and_leave_no_folder(curve_runs, tmp_path, capsys):
    short = zero_shot_evaluation(tmp_path / "asis-short", "mr", {}, sentences=N_TEST - 2)
    output = tmp_path / "curves"
    assert run_cli(curves.main, [str(curve_runs), "--output", str(output), "--models", "bilstm", "--as_is", str(short.parent)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: bilstm (trained vectors) (") and " against zs (as is, no labels) (" in error
    assert error.endswith("predictions cover different test sentences: a paired comparison needs the same test set")
    assert not output.exists()


def test_opposite_verdicts_with_an_undetected_size_between_them_are_a_crossover():
    """B better at small sizes, no detectable difference at one, A better at `all`: the curves cross (round 14 found
    SemEval's multihead vs VADER called "no crossover" because the two verdicts were not adjacent)."""
    a, b = curves.Curve("semeval2017a", "multihead", ["negative", "neutral", "positive"]), curves.Curve("semeval2017a", "vader", [])
    rows = [
        {"size": 16, "difference": -0.17, "holm_p": 0.013},
        {"size": 1024, "difference": 0.0002, "holm_p": 0.99},
        {"size": None, "difference": 0.066, "holm_p": 0.006},
    ]
    assert curves.crossover_text(a, b, rows).endswith("(the curves cross).")
    same_side = [{**rows[0], "difference": 0.17}, rows[1], rows[2]]  # A better, nothing, A better: no crossing
    assert curves.crossover_text(a, b, same_side).endswith("(no crossover between two detected differences).")
