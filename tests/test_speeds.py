"""bench/speeds.py and the front's marking: every lab-split group of a runs folder timed, the report's names kept."""

import json

import train
from bench import speeds
from pipelines.cli import run_cli
from pipelines.report.front import pareto_front


def test_pareto_front_keeps_the_points_nothing_beats():
    points = [(1000.0, 0.78), (30.0, 0.82), (500.0, 0.75), (30.0, 0.80), (5.0, 0.89)]
    assert pareto_front(points) == [True, True, False, False, True]


def train_tiny(folder, tiny_semeval, tiny_glove, model="mean"):
    argv = ["--model", model, "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
            "--output_dir", str(folder), "--num_train_epochs", "1", "--report_to", "none", "--seed", "0"]  # fmt: skip
    assert run_cli(train.main, argv) == 0


def test_bench_times_every_lab_group_under_the_reports_names(tmp_path, tiny_semeval, tiny_glove):
    runs = tmp_path / "runs"
    for model in ("mean", "meanmax"):
        train_tiny(runs / f"semeval2017a-lab-frozen/{model}/seed-0", tiny_semeval, tiny_glove, model)
    output = tmp_path / "speeds.json"
    argv = ["--runs_dirs", str(runs), "--data_dir", str(tiny_semeval), "--output", str(output), "--repeats", "1", "--latency_sentences", "5"]
    assert run_cli(speeds.main, argv) == 0
    rows = json.loads(output.read_text())["datasets"]["semeval2017a"]
    assert {(row["model"], row["setting"], row["timed_on"]) for row in rows} == {
        ("mean", "frozen vectors", "its own run"), ("meanmax", "frozen vectors", "its own run")}
    for row in rows:
        assert row["sentences_per_second"] > 0 and row["latency_p95_ms"] >= row["latency_p50_ms"] > 0
        assert row["parameters"] > 0 and row["disk_mb"] > 0 and "score" not in row  # the report scores


def test_a_group_without_weights_is_timed_on_its_stand_in(tmp_path, tiny_semeval, tiny_glove):
    """Runs made on a lent GPU come back without weights: `--stand_ins` times a run of the same model instead."""
    here, gpu = tmp_path / "here/mean/seed-0", tmp_path / "gpu"
    train_tiny(here, tiny_semeval, tiny_glove)
    train_tiny(gpu / "semeval2017a-lab-frozen/mean/seed-0", tiny_semeval, tiny_glove)
    for weights in gpu.rglob("*.safetensors"):
        weights.unlink()
    output = tmp_path / "speeds.json"
    argv = ["--runs_dirs", str(gpu), "--data_dir", str(tiny_semeval), "--output", str(output), "--repeats", "1", "--latency_sentences", "5"]
    assert run_cli(speeds.main, argv) == 0
    written = json.loads(output.read_text())
    assert written["datasets"] == {"semeval2017a": []}
    assert written["not_measured"]["semeval2017a"][0].startswith("mean (frozen vectors): no run of the group kept its weights")
    assert run_cli(speeds.main, argv + ["--stand_ins", f"mean={here}"]) == 0
    (row,) = json.loads(output.read_text())["datasets"]["semeval2017a"]
    assert row["timed_on"] == "stand-in here/mean/seed-0" and row["sentences_per_second"] > 0
