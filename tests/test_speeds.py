"""bench/speeds.py and the front's marking: every lab-split group of a runs folder timed, the report's names kept; an
--update's groups (a SetFit run among them) merged into an existing file beside a reference row timed again."""

import json
import shlex

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


def setfit_run(runs, labels):
    """The tiny SetFit run (tests/tiny_bert.py) with a SetFit run record, where the fine-tune study puts one."""
    from pipelines.runs.record import RunRecord, write_results
    from tests.tiny_bert import build_tiny_setfit

    folder = build_tiny_setfit(runs / "semeval2017a-setfit-tiny" / "seed-0", labels)
    record = RunRecord.new({"dataset": "semeval2017a", "model": "setfit-tiny", "protocol": "lab"}, model_type="setfit", seed=0,
                           test={"recall_macro": 0.5}, label_names=labels, predictions_file="predictions.parquet")  # fmt: skip
    write_results(folder, record)
    return folder


ROW = {"latency_p50_ms": 1.0, "latency_p95_ms": 2.0, "parameters": 10, "disk_mb": 1.0}


def existing_speeds(path):
    """A speeds file as an earlier full run left it: a reference (the VADER scorer), an old row of the group the
    update times again, and a row whose runs are gone; the file's own command, machine and note."""
    rows = [{**ROW, "model": "vader", "setting": "as is", "sentences_per_second": 1000.0, "timed_on": "vader scorer"},
            {**ROW, "model": "setfit-tiny", "setting": "fine-tuned", "sentences_per_second": 1.0, "timed_on": "its own run"},
            {**ROW, "model": "mean", "setting": "trained vectors", "sentences_per_second": 500.0, "timed_on": "its own run"}]
    speeds = {"command": "python -m bench.speeds --runs_dirs old", "note": "the original note", "machine": "the old machine",
              "threads": 1, "datasets": {"semeval2017a": rows, "mr": [dict(rows[2])]},
              "not_measured": {"semeval2017a": ["setfit-tiny (fine-tuned): was not installed", "lstm (trained vectors): gone"]}}  # fmt: skip
    path.write_text(json.dumps(speeds))
    return speeds


def test_an_update_times_the_new_groups_and_a_reference_and_keeps_every_other_row(tmp_path, tiny_semeval, capsys):
    """Issue 26 item 4: MPNet and SetFit throughput added to a file whose GloVe runs are gone; a SetFit run timed through
    its classifier, its encoder and head counted; the reference row timed again, its ratio recorded, nothing rescaled."""
    from pipelines.inference import load_classifier

    labels = ["negative", "neutral", "positive"]
    folder = setfit_run(tmp_path / "runs", labels)
    output = tmp_path / "speeds.json"
    before = existing_speeds(output)
    argv = ["--runs_dirs", str(tmp_path / "runs"), "--data_dir", str(tiny_semeval), "--output", str(output), "--update",
            "--reference", "vader (as is)", "--repeats", "1", "--latency_sentences", "5"]  # fmt: skip
    assert run_cli(speeds.main, argv) == 0
    after = json.loads(output.read_text())
    assert {key: after[key] for key in ("command", "note", "machine", "threads")} == {key: before[key] for key in ("command", "note", "machine", "threads")}
    assert after["datasets"]["mr"] == before["datasets"]["mr"]
    rows = {(row["model"], row["setting"]): row for row in after["datasets"]["semeval2017a"]}
    assert list(rows) == sorted(rows, key=lambda key: -rows[key]["sentences_per_second"]) and len(rows) == 3
    assert rows[("vader", "as is")] == before["datasets"]["semeval2017a"][0]  # the reference is not rescaled
    assert rows[("mean", "trained vectors")] == before["datasets"]["semeval2017a"][2]
    added = rows[("setfit-tiny", "fine-tuned")]
    assert added["timed_on"] == "its own run" and added["sentences_per_second"] > 1.0 and added["latency_p95_ms"] >= added["latency_p50_ms"] > 0
    classifier = load_classifier(folder)
    head = classifier.model.model_head
    body = sum(p.numel() for p in classifier.model.model_body.parameters())
    assert added["parameters"] == body + head.coef_.size + head.intercept_.size == body + 3 * 16 + 3  # 3 classes over 16 dimensions
    travels = [path for path in folder.rglob("*") if path.is_file() and path.name not in ("README.md", "results.json")]
    assert {path.name for path in travels} >= {"model.safetensors", "model_head.pkl", "modules.json", "config.json"}
    assert added["disk_mb"] == round(sum(path.stat().st_size for path in travels) / 2**20, 2)
    timed_by = added["timed_by"]
    assert timed_by["command"] == shlex.join(["python", "-m", "bench.speeds", *argv])
    assert timed_by["machine"] and timed_by["date"].endswith(" UTC")
    reference = timed_by["reference"]
    assert (reference["group"], reference["timed_on"], reference["sentences_per_second_then"]) == ("vader (as is)", "vader scorer", 1000.0)
    assert reference["ratio_now_to_then"] == round(reference["sentences_per_second_now"] / 1000.0, 3) > 0
    assert f"reference vader (as is): 1000.0 sentences/s in the file, {reference['sentences_per_second_now']} now" in capsys.readouterr().out
    assert after["not_measured"]["semeval2017a"] == ["lstm (trained vectors): gone"]  # the group's old line goes: it is timed now


def test_an_update_refuses_what_it_cannot_compare_before_timing_anything(tmp_path, tiny_semeval, capsys):
    from pipelines.runs.record import RunRecord, write_results

    runs = tmp_path / "runs"
    folder = runs / "semeval2017a-setfit-tiny" / "seed-0"
    folder.mkdir(parents=True)  # a record without its model: every refusal comes before anything is loaded
    write_results(folder, RunRecord.new({"dataset": "semeval2017a", "model": "setfit-tiny", "protocol": "lab"}, model_type="setfit", seed=0,
                                        test={}, label_names=["negative", "neutral", "positive"]))  # fmt: skip
    output = tmp_path / "speeds.json"
    existing_speeds(output)
    written = output.read_text()
    base = ["--runs_dirs", str(runs), "--data_dir", str(tiny_semeval), "--output", str(output), "--update"]
    cases = [
        ([], "--update needs --reference"),
        (["--reference", "mean (trained vectors)"], "--reference 'mean (trained vectors)' was timed on 'its own run', which this command cannot find again"),
        (["--reference", "vader (as is)", "--threads", "2"], f"--threads 2: {output} was timed with 1 torch threads"),
    ]
    for extra, message in cases:
        assert run_cli(speeds.main, base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert output.read_text() == written
    missing = tmp_path / "missing.json"
    assert run_cli(speeds.main, [*base[:4], "--output", str(missing), "--update", "--reference", "vader (as is)"]) == 2
    assert "--update adds to an existing speeds file" in capsys.readouterr().err and not missing.exists()
    assert run_cli(speeds.main, [*base[:-1], "--reference", "vader (as is)"]) == 2
    assert "--reference is for --update" in capsys.readouterr().err
    assert run_cli(speeds.main, [*base, "--reference", "vader (as is)", "--datasets", "mr"]) == 2
    assert "no lab-split group of mr to add" in capsys.readouterr().err and output.read_text() == written
