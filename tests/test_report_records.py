"""Compact run records rebuild the same report; the report's settings, best-model choices and captions.

Tiny run folders are built in code, as `train.py` and `evaluate_pretrained.py` write them: results.json,
training_args.json, trainer_state.json (with the validation score of every epoch), predictions.parquet,
and weights the records must leave out.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.cli import run_cli
from pipelines.report import write_report
from pipelines.report.records import main as records_main
from pipelines.report.records import write_records
from pipelines.statistics import ASO_MIN_RUNS, almost_stochastic_order
from tests.conftest import REPO_ROOT, write_evaluation

TWO = ["negative", "positive"]
N = 80


def state(validation: float) -> dict:
    """Two epochs; the second restored, with this validation accuracy; early stopping's patience 5."""
    history = [
        {"epoch": 1.0, "loss": 0.7, "step": 10}, {"epoch": 1.0, "eval_loss": 0.6, "eval_accuracy": validation - 0.05, "step": 10},
        {"epoch": 2.0, "loss": 0.6, "step": 20}, {"epoch": 2.0, "eval_loss": 0.55, "eval_accuracy": validation, "step": 20},
    ]  # fmt: skip
    callbacks = {"EarlyStoppingCallback": {"args": {"early_stopping_patience": 5, "early_stopping_threshold": 0.0}}}
    return {"log_history": history, "best_global_step": 20, "best_metric": validation, "stateful_callbacks": callbacks}


def write_run(root: Path, name: str, model: str, seed: int, right: int, validation: float, **extra) -> None:
    labels = np.tile([0, 1], N // 2)
    predictions = np.where(np.arange(N) < right, labels, 1 - labels)
    run = root / name
    run.mkdir(parents=True)
    probabilities = np.eye(2)[predictions] * 0.9 + 0.05
    pd.DataFrame({"index": np.arange(N), "label": labels, "prediction": predictions, "probabilities": list(probabilities)}).to_parquet(run / "predictions.parquet")
    results = {
        "model": model, "model_type": f"glove-{model}", "dataset": "mr", "protocol": "lab", "vectors": "trained", "seed": seed,
        "label_names": TWO, "test": {"accuracy": right / N, "f1_macro": right / N, "recall_macro": right / N},
        "predictions_file": "predictions.parquet", "epochs": 2.0, "train_seconds": 3.0, **extra,
    }  # fmt: skip
    (run / "results.json").write_text(json.dumps(results))
    (run / "training_args.json").write_text(json.dumps({"load_best_model_at_end": True, "metric_for_best_model": "accuracy"}))
    (run / "trainer_state.json").write_text(json.dumps(state(validation)))
    (run / "model.safetensors").write_bytes(b"\0" * 4096)
    (run / "checkpoint-20").mkdir()
    (run / "checkpoint-20" / "model.safetensors").write_bytes(b"\0" * 4096)



def test_the_patience_is_the_records_own_and_trainer_state_only_for_older_runs(tmp_path):
    from pipelines.report.collect import gather_rows

    write_run(tmp_path, "recorded", "mean", 0, 60, 0.8, early_stopping_patience=3)  # its trainer_state.json says 5
    write_run(tmp_path, "older", "mean", 1, 60, 0.8)
    assert {row.run: row.patience for row in gather_rows(tmp_path)} == {"recorded": 3, "older": 5}

@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study") / "runs"
    for seed in (0, 1, 2):
        # mean: the best on test (70-72 of 80), meanmax: the best on validation (0.80 vs 0.70)
        write_run(root, f"mean/s{seed}", "mean", seed, 70 + seed, 0.70)
        write_run(root, f"meanmax/s{seed}", "meanmax", seed, 60 + seed, 0.80)
        write_run(root, f"meanmax-cw/s{seed}", "meanmax", seed, 62 + seed, 0.79, class_weights="balanced")
        write_run(root, f"bilstm/s{seed}", "bilstm", seed, 50 + seed, 0.75)
        write_run(root, f"bilstm-distilled/s{seed}", "bilstm", seed, 74 + seed, 0.78, distillation={"teacher": "runs/minilm-mr/", "alpha": 0.5})
    (root / "results.json").write_text(json.dumps({"command": "python -m pipelines.experiments", "seeds": [0, 1, 2]}))  # the grid's own summary
    asis = root / "as-is"
    (asis / "predictions").mkdir(parents=True)
    labels = np.tile([0, 1], N // 2)
    for name, right in (("vader", 66), ("textblob", 68)):
        predictions = np.where(np.arange(N) < right, labels, 1 - labels)
        pd.DataFrame({"index": np.arange(N), "label": labels, "prediction": predictions, "probabilities": list(np.eye(2)[predictions])}).to_parquet(asis / "predictions" / f"{name}.parquet")
    write_evaluation(asis, [
        {"model": "vader", "accuracy": 66 / N, "f1_macro": 0.8, "recall_macro": 66 / N, "predictions_file": "predictions/vader.parquet", "validation": {"accuracy": 0.76}},
        {"model": "textblob", "accuracy": 68 / N, "f1_macro": 0.8, "recall_macro": 68 / N, "predictions_file": "predictions/textblob.parquet", "validation": {"accuracy": 0.72}},
    ], label_names=TWO)  # fmt: skip
    return root


@pytest.fixture(scope="module")
def reports(runs, tmp_path_factory) -> tuple[str, str, Path]:
    out = tmp_path_factory.mktemp("out")
    records = out / "records"
    count, size = write_records(runs, records)
    assert count == 16 and size < 200_000
    from_runs = write_report(runs, out / "from-runs", seed=1, aso_iterations=20).read_text()
    from_records = write_report(records, out / "from-records", seed=1, aso_iterations=20).read_text()
    return from_runs, from_records, records


def questions(report: str) -> dict[str, dict]:
    text = report.split("### Study questions\n", 1)[1].split("\n### ", 1)[0]
    lines = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return {row[0]: dict(zip(header, row)) for row in rows}


def test_records_hold_no_weights_and_small_predictions(reports):
    records = reports[2]
    assert not list(records.rglob("*.safetensors")) and not list(records.rglob("checkpoint-*"))
    assert not (records / "results.json").exists()  # the grid's summary is not a run
    frame = pd.read_parquet(records / "mean" / "s0" / "predictions.parquet")
    assert [str(t) for t in frame.dtypes[:3]] == ["int32", "int8", "int8"]
    assert np.asarray(frame["probabilities"].tolist()).dtype == np.float16
    assert (records / "as-is" / "predictions" / "vader.parquet").is_file()


def test_a_report_from_records_has_the_tables_of_the_report_from_run_folders(reports):
    from_runs, from_records, _ = reports
    # all but the title and the "Made by" command, which name the folder
    without_folder = lambda text: re.sub(r"Made by `[^`]*`", "Made by", text.split("\n", 1)[1])  # noqa: E731
    assert without_folder(from_runs) == without_folder(from_records) and "Made by `python -m pipelines.report " in from_runs


def test_settings_for_distillation_and_class_weights_and_their_questions(reports):
    report = reports[0]
    found = questions(report)
    distilled = found["distilled from minilm-mr vs plain training: bilstm"]
    assert distilled["A"] == "bilstm (trained vectors, distilled from minilm-mr)" and distilled["B"] == "bilstm (trained vectors)"
    low, high = (float(x) for x in distilled["CI (Holm level)"].split(": ")[1].strip("[]").split(", "))
    assert distilled["Δ accuracy"] == "+0.3000" and low < 0.3 < high
    holm_p = 0.0 if distilled["Holm p"] == "< 0.001" else float(distilled["Holm p"])
    assert (distilled["verdict (Holm p < 0.05)"] == "distilled better") == (holm_p < 0.05) == (low > 0)
    weighted = found["class-weighted vs unweighted: meanmax"]
    assert weighted["A"] == "meanmax (trained vectors, class-weighted)" and weighted["Δ accuracy"] == "+0.0250"


def test_the_best_models_are_chosen_on_validation_and_the_captions_read_the_runs(reports):
    report = reports[0]
    found = questions(report)
    versus = found["the best as-is model vs the best GloVe model"]
    assert (versus["A"], versus["B"], versus["runs A/B"]) == ("vader (as is)", "meanmax (trained vectors)", "1/3 (unpaired)")
    assert "The best GloVe model: meanmax (trained vectors), chosen on validation accuracy (0.8000) (lab split)" in report
    assert "the best as-is model: vader (as is), chosen on validation accuracy (0.7600) (lab split)" in report
    assert "Checkpoint restored by (read from each run's results.json / training_args.json): validation accuracy (15 runs)." in report
    assert "Early-stopping patience: 5 (15)." in report


def test_re_recording_a_student_keeps_the_teacher_its_record_was_linked_to(tmp_path):
    """A student whose run folder predates `distillation.teacher_run`, linked once in its record
    (`scripts.migrate_results` step 3): writing its record again from the folder keeps the link."""
    older = {"teacher": "minilm", "teacher_path": "runs/mr-minilm/seed-0", "teacher_fingerprint": "a50e5655e0871e2c", "loss": "mse"}
    write_run(tmp_path / "runs", "mr-lab-trained-distilled-minilm/bilstm/seed-0", "bilstm", 0, 60, 0.8, distillation=older)
    write_records(tmp_path / "runs", tmp_path / "records")
    record = tmp_path / "records" / "mr-lab-trained-distilled-minilm" / "bilstm" / "seed-0" / "results.json"
    assert "teacher_run" not in json.loads(record.read_text())["distillation"]
    identity = {"model": "minilm", "dataset": "mr", "seed": 0, "record": "72cfe266918b1653"}
    linked = json.loads(record.read_text())
    linked["distillation"]["teacher_run"] = identity
    record.write_text(json.dumps(linked))
    write_records(tmp_path / "runs", tmp_path / "records")
    distillation = json.loads(record.read_text())["distillation"]
    assert distillation["teacher_run"] == identity and list(distillation)[3] == "teacher_run"  # after teacher_fingerprint


def test_re_recording_a_folder_as_another_kind_of_run_leaves_none_of_the_earlier_runs_files(tmp_path):
    """A Trainer run recorded, its folder then re-made by a SetFit run (no trainer state, no training arguments, no
    validation predictions), recorded again into the same records: the report must not read the first run's epochs,
    patience or validation logits as the second's. Then an as-is evaluation in that folder's place."""
    write_run(tmp_path / "runs", "mr-minilm/seed-0", "minilm", 0, 60, 0.8)
    run, records = tmp_path / "runs" / "mr-minilm" / "seed-0", tmp_path / "records" / "mr-minilm" / "seed-0"
    pd.DataFrame({"label": [0, 1], "logits": [[0.0, 1.0], [1.0, 0.0]]}).to_parquet(run / "validation_predictions.parquet")
    results = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps(results | {"validation_predictions_file": "validation_predictions.parquet"}))
    write_records(tmp_path / "runs", tmp_path / "records")
    assert {"trainer_state.json", "training_args.json", "validation_predictions.parquet"} <= {p.name for p in records.iterdir()}
    for name in ("trainer_state.json", "training_args.json", "validation_predictions.parquet"):
        (run / name).unlink()
    (run / "results.json").write_text(json.dumps(results | {"model": "setfit-mpnet", "setfit": {"iterations": 20}}))
    write_records(tmp_path / "runs", tmp_path / "records")
    assert sorted(p.name for p in records.iterdir()) == ["predictions.parquet", "results.json"]
    assert json.loads((records / "results.json").read_text())["model"] == "setfit-mpnet"
    for name in ("results.json", "predictions.parquet"):
        (run / name).unlink()
    write_evaluation(run, [{"model": "vader", "accuracy": 0.66}])
    write_records(tmp_path / "runs", tmp_path / "records")
    assert "results.json" not in {p.name for p in records.iterdir()} and (records / "evaluation.json").is_file()
    # the same run recorded again from a folder whose files were pruned keeps what its record had
    write_run(tmp_path / "runs", "mr-bilstm/seed-0", "bilstm", 0, 60, 0.8)
    write_records(tmp_path / "runs", tmp_path / "records")
    for name in ("trainer_state.json", "predictions.parquet"):
        (tmp_path / "runs" / "mr-bilstm" / "seed-0" / name).unlink()
    write_records(tmp_path / "runs", tmp_path / "records")
    assert {"trainer_state.json", "predictions.parquet"} <= {p.name for p in (tmp_path / "records" / "mr-bilstm" / "seed-0").iterdir()}


def test_migration_links_each_older_student_to_the_one_run_its_folder_names(tmp_path):
    """`scripts.migrate_results` step 3: the fine-tuned run the end of `teacher_path` names; again, nothing to do;
    a folder that names two runs is an error and no student is written."""
    from pipelines.runs.record import RunRecord
    from scripts.migrate_results import link_teacher_runs

    older = {"teacher": "minilm", "teacher_path": "runs/mr-minilm/seed-0", "teacher_fingerprint": "a50e5655e0871e2c"}
    write_run(tmp_path / "records", "study/mr-minilm/seed-0", "minilm", 0, 70, 0.8, model_type="bert")
    write_run(tmp_path / "records", "study/mr-lab-trained-distilled-minilm/bilstm/seed-0", "bilstm", 0, 60, 0.8, distillation=older)
    student = tmp_path / "records" / "study" / "mr-lab-trained-distilled-minilm" / "bilstm" / "seed-0"
    assert link_teacher_runs(tmp_path / "records", [tmp_path / "records", tmp_path / "teachers"]) == 1
    teacher = RunRecord.read(tmp_path / "records" / "study" / "mr-minilm" / "seed-0")
    assert RunRecord.read(student).teacher_run == teacher.identity()
    assert link_teacher_runs(tmp_path / "records", [tmp_path / "records"]) == 0

    write_run(tmp_path / "again", "study/mr-lab-trained-distilled-minilm/bilstm/seed-0", "bilstm", 0, 60, 0.8, distillation=older)
    write_run(tmp_path / "teachers", "mr-minilm/seed-0", "minilm", 0, 75, 0.8, model_type="bert")  # a second run the folder names
    before = (tmp_path / "again" / "study" / "mr-lab-trained-distilled-minilm" / "bilstm" / "seed-0" / "results.json").read_text()
    with pytest.raises(ValueError, match="is 2 runs"):
        link_teacher_runs(tmp_path / "again", [tmp_path / "records", tmp_path / "teachers"])
    assert (tmp_path / "again" / "study" / "mr-lab-trained-distilled-minilm" / "bilstm" / "seed-0" / "results.json").read_text() == before


def test_every_committed_student_names_one_committed_teacher_run():
    """Each distilled record under results/records names its teacher's run (`distillation.teacher_run`), and that
    identity is exactly one record's of results/records and results/teachers; the SemEval BiLSTM students' is the
    lent GPU's MiniLM (results/teachers/semeval2017a-minilm-gpu), not the study's CPU seed 0 made later in its place."""
    from pipelines.runs.record import RunRecord, is_run_record

    records = [RunRecord.read(path.parent) for root in ("records", "teachers") for path in (REPO_ROOT / "results" / root).rglob("results.json")
               if is_run_record(json.loads(path.read_text()))]  # fmt: skip
    students = [record for record in records if record.distillation]
    identities = [record.identity() for record in records]
    assert len(students) >= 30
    for student in students:
        assert "teacher_run" in student.distillation, student.output_dir
        assert identities.count(student.teacher_run) == 1, student.output_dir
    gpu = RunRecord.read(REPO_ROOT / "results" / "teachers" / "semeval2017a-minilm-gpu").identity()
    semeval_bilstm = [s for s in students if s.dataset == "semeval2017a" and s.model == "bilstm" and s.distillation["teacher"] == "minilm"]
    assert len(semeval_bilstm) == 5 and all(s.teacher_run == gpu for s in semeval_bilstm)


def test_the_committed_report_names_the_command_its_script_runs():
    """The "Made by" line of the committed report is a line of scripts/build_report.sh (what the docs point to)."""
    made_by = re.search(r"Made by `([^`]+)`\.", (COMMITTED / "report.md").read_text(encoding="utf-8")).group(1)
    assert made_by in (REPO_ROOT / "scripts" / "build_report.sh").read_text().splitlines()
    assert "--teachers results/teachers --speeds results/pareto/speeds.json --aso_iterations 200" in made_by


def test_records_cli_refuses_a_folder_without_runs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_cli(records_main, [str(tmp_path / "empty"), "--output", str(tmp_path / "records")]) == 2
    assert "no results.json of a run" in capsys.readouterr().err and not (tmp_path / "records").exists()


def test_a_broken_predictions_file_is_named_in_one_line(tmp_path, capsys):
    from pipelines.report import main

    write_run(tmp_path / "runs", "mean/s0", "mean", 0, 60, 0.7)
    write_run(tmp_path / "runs", "meanmax/s0", "meanmax", 0, 60, 0.7)
    (tmp_path / "runs" / "mean" / "s0" / "predictions.parquet").write_bytes(b"not parquet")
    assert run_cli(main, [str(tmp_path / "runs"), "--output", str(tmp_path / "report")]) == 2
    assert f"{tmp_path / 'runs' / 'mean' / 's0' / 'predictions.parquet'}: not a predictions file" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


COMMITTED = REPO_ROOT / "results" / "report"


def committed_aso() -> tuple[dict, dict[tuple, float]]:
    """How the committed report was made (report.json's "statistics"), and the ASO ε it printed for each call
    `almost_stochastic_order(a_scores, b_scores, confidence, ...)` made: {(a_scores, b_scores, confidence): ε}."""
    made = json.loads((COMMITTED / "report.json").read_text(encoding="utf-8"))
    found = {}
    for numbers in made["datasets"].values():
        for c in numbers["comparisons"]:
            if c["aso_a_over_b"] is not None:
                found[(tuple(c["a_scores"]), tuple(c["b_scores"]), c["aso_confidence"])] = c["aso_a_over_b"]
                found[(tuple(c["b_scores"]), tuple(c["a_scores"]), c["aso_confidence"])] = c["aso_b_over_a"]
    return made["statistics"], found


@pytest.mark.slow
def test_the_committed_records_rebuild_the_committed_report(tmp_path, monkeypatch):
    """Issue 17: a fresh clone rebuilds results/report/report.md's tables from results/records alone; issue 19:
    with the committed cost/accuracy front, its speeds beside scores the report computes itself.

    Everything is recomputed from the records except the ASO ε (`deepsig.aso`, about 2 s a call, 150 calls: most
    of a full rebuild): each ASO call must ask exactly what report.json records (both directions' run scores,
    the family's confidence, the recorded seed and iterations), and every recorded call must be asked; its ε is
    then read from report.json. `test_the_committed_aso_numbers_recompute` recomputes the ε of one family."""
    made_with, recorded = committed_aso()
    asked = set()

    def recorded_aso(a_scores, b_scores, confidence, seed, iterations):
        if min(len(a_scores), len(b_scores)) < ASO_MIN_RUNS:
            return almost_stochastic_order(a_scores, b_scores, confidence, seed, iterations)  # None, nothing computed
        assert (seed, iterations) == (made_with["aso_seed"], made_with["aso_iterations"])
        key = (tuple(a_scores), tuple(b_scores), confidence)
        assert key in recorded, f"an ASO call report.json does not record: {key}"
        asked.add(key)
        return recorded[key]

    monkeypatch.setattr("pipelines.report.compare.almost_stochastic_order", recorded_aso)
    # The figures are not compared (a quarter of the rebuild's time): their file names are kept, nothing is drawn.
    for name in ("build.plot_learning_curves", "build.plot_confusion_matrix", "build.plot_scores", "front.plot_front",
                 "figures.plot_reliability", "figures.plot_risk_coverage"):  # fmt: skip
        monkeypatch.setattr(f"pipelines.report.{name}", lambda *arguments: arguments[-1])
    rebuilt = write_report(REPO_ROOT / "results" / "records", tmp_path / "report", seed=made_with["aso_seed"],
                           aso_iterations=made_with["aso_iterations"], speeds=REPO_ROOT / "results" / "pareto" / "speeds.json",
                           teachers=REPO_ROOT / "results" / "teachers")  # fmt: skip
    table_lines = lambda path: [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("|")]  # noqa: E731
    assert table_lines(rebuilt) == table_lines(COMMITTED / "report.md")
    assert asked == set(recorded) and len(recorded) == 158


@pytest.mark.slow
def test_the_committed_aso_numbers_recompute():
    """The ASO ε of one Holm family of the committed report (SemEval, lab split, how a GloVe model is trained:
    7 questions with ASO, both directions, one ε strictly between 0 and 1), recomputed by `almost_stochastic_order` from
    the run scores report.json records, at its recorded seed, iterations and the family's confidence."""
    made = json.loads((COMMITTED / "report.json").read_text(encoding="utf-8"))
    seed, iterations = made["statistics"]["aso_seed"], made["statistics"]["aso_iterations"]
    family = [c for c in made["datasets"]["semeval2017a"]["comparisons"]
              if c["family"] == "how a GloVe model is trained" and c["protocol"] == "lab split" and c["aso_a_over_b"] is not None]  # fmt: skip
    assert len(family) == 7 and any(0 < c["aso_a_over_b"] < 1 for c in family)
    for c in family:
        a_over_b = almost_stochastic_order(c["a_scores"], c["b_scores"], c["aso_confidence"], seed, iterations)
        b_over_a = almost_stochastic_order(c["b_scores"], c["a_scores"], c["aso_confidence"], seed, iterations)
        assert (a_over_b, b_over_a) == (c["aso_a_over_b"], c["aso_b_over_a"]), c["question"]
