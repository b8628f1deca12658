"""bench/pareto.py: the front, the score interval by hand, and one run over two tiny trained models."""

import json

import numpy as np
import pytest

import train
from bench import pareto
from pipelines.cli import run_cli


def test_pareto_front_keeps_the_points_nothing_beats():
    points = [(1000.0, 0.78), (30.0, 0.82), (500.0, 0.75), (30.0, 0.80), (5.0, 0.89)]
    assert pareto.pareto_front(points) == [True, True, False, False, True]


def test_score_interval_means_seeds_and_recalls_by_class():
    labels = np.array([0, 0, 0, 1, 1, 2])
    seed_a = np.array([0, 0, 1, 1, 1, 2])  # recalls 2/3, 1, 1
    seed_b = np.array([0, 0, 0, 1, 0, 0])  # recalls 1, 1/2, 0
    mean, low, high = pareto.score_interval([(labels, seed_a), (labels, seed_b)], "recall_macro", 3)
    assert mean == pytest.approx(((2 / 3 + 1 + 1) / 3 + (1 + 0.5 + 0) / 3) / 2)
    assert low < mean < high
    mean, low, high = pareto.score_interval([(labels, labels)], "accuracy", 3)
    assert (mean, low, high) == (1.0, 1.0, 1.0)


def test_bench_writes_table_figure_and_json(tmp_path, tiny_semeval, tiny_glove):
    runs = tmp_path / "runs"
    for model in ("mean", "meanmax"):
        argv = ["--model", model, "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
                "--output_dir", str(runs / model / "seed-0"), "--num_train_epochs", "1", "--report_to", "none"]
        assert run_cli(train.main, argv) == 0
    output = tmp_path / "pareto"
    argv = ["--models", str(runs / "*"), "--data_dir", str(tiny_semeval), "--output_dir", str(output),
            "--repeats", "1", "--latency_sentences", "5", "--note", "tiny"]
    assert run_cli(pareto.main, argv) == 0
    rows = json.loads((output / "pareto.json").read_text())["datasets"]["semeval2017a"]
    assert {row["model"] for row in rows} == {"mean (frozen GloVe)", "meanmax (frozen GloVe)"}
    for row in rows:
        assert row["sentences_per_second"] > 0 and row["latency_p95_ms"] >= row["latency_p50_ms"] > 0
        assert row["parameters"] > 0 and row["disk_mb"] > 0 and row["ci_low"] <= row["score"] <= row["ci_high"]
    assert any(row["front"] == "yes" for row in rows)
    assert "| mean (frozen GloVe) | 1 |" in (output / "pareto-semeval2017a.md").read_text()
    assert (output / "pareto-semeval2017a.png").stat().st_size > 1000


def test_a_group_without_weights_is_timed_on_its_stand_in(tmp_path, tiny_semeval, tiny_glove):
    """Runs made on a lent GPU come back without weights: `--stand_ins` times a run of the same model instead."""
    runs = tmp_path / "runs"
    for folder in ("here/mean/seed-0", "gpu/mean/seed-0"):
        argv = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
                "--output_dir", str(runs / folder), "--num_train_epochs", "1", "--report_to", "none", "--seed", "0"]
        assert run_cli(train.main, argv) == 0
    for weights in (runs / "gpu/mean/seed-0").glob("*.safetensors"):
        weights.unlink()
    output = tmp_path / "pareto"
    argv = ["--models", str(runs / "gpu/*"), "--data_dir", str(tiny_semeval), "--output_dir", str(output),
            "--repeats", "1", "--latency_sentences", "5"]
    assert run_cli(pareto.main, argv) == 0
    assert json.loads((output / "pareto.json").read_text())["datasets"] == {"semeval2017a": []}
    assert "Not measured: mean (frozen GloVe): no run of the group kept its weights" in (output / "pareto-semeval2017a.md").read_text()
    argv += ["--stand_ins", f"mean={runs / 'here/mean/seed-0'}"]
    assert run_cli(pareto.main, argv) == 0
    (row,) = json.loads((output / "pareto.json").read_text())["datasets"]["semeval2017a"]
    assert row["timed_folder"] == str(runs / "here/mean/seed-0") and row["timed_on"] == "stand-in here/mean/seed-0"
    assert row["sentences_per_second"] > 0


def test_an_as_is_model_from_the_report_is_timed_through_its_scorer(tmp_path, tiny_semeval):
    """A report model's score and interval come from the predictions the report lists (the same bootstrap as every
    row: sentences only for one run); pareto.json keeps the report's scores fingerprint for `--front`."""
    import pandas as pd

    from pipelines.report.build import scores_fingerprint

    labels = np.array([0, 1, 2, 1, 1, 0, 2, 2])
    predicted = np.array([0, 1, 1, 1, 0, 0, 2, 1])  # recalls 1, 2/3, 1/3
    pd.DataFrame({"index": np.arange(8), "label": labels, "prediction": predicted}).to_parquet(tmp_path / "vader.parquet")
    summary = {"model": "vader", "setting": "as is", "protocol": "lab split", "n": "1 run",
               "metrics": {"recall_macro": {"mean": 2 / 3, "ci_low": None, "ci_high": None}}}
    run = {"model": "vader", "dataset": "semeval2017a", "setting": "as is", "protocol": "lab", "predictions": str(tmp_path / "vader.parquet")}
    report = {"datasets": {"semeval2017a": {"official_metric": "recall_macro", "label_names": ["negative", "neutral", "positive"],
                                             "summaries": [summary]}}, "runs": [run]}
    (tmp_path / "report.json").write_text(json.dumps(report))
    output = tmp_path / "pareto"
    argv = ["--report", str(tmp_path / "report.json"), "--report_models", "vader=vader", "--data_dir", str(tiny_semeval),
            "--output_dir", str(output), "--repeats", "1", "--latency_sentences", "5"]
    assert run_cli(pareto.main, argv) == 0
    written = json.loads((output / "pareto.json").read_text())
    (row,) = written["datasets"]["semeval2017a"]
    assert row["model"] == "vader (as is)" and row["score"] == round(2 / 3, 4) and row["timed_on"] == "vader scorer"
    assert row["ci_low"] < row["score"] < row["ci_high"] and row["interval_of"] == "bootstrap: sentences (1 run)"
    assert row["parameters"] == 0 and row["disk_mb"] > 0.1 and row["sentences_per_second"] > 0 and row["latency_p95_ms"] >= row["latency_p50_ms"] > 0
    assert written["report_fingerprint"] == scores_fingerprint(report["datasets"])
    (tmp_path / "vader.parquet").unlink()  # a report whose predictions are gone: the row is listed, not made up
    assert run_cli(pareto.main, argv) == 0
    assert json.loads((output / "pareto.json").read_text())["not_measured"]["semeval2017a"][0].startswith("vader (as is):")
