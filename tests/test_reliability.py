"""Resume after SIGKILL, determinism, and bad input through train.py end to end."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import train
from pipelines.cli import run_cli
from tests.conftest import REPO_ROOT, polar_sentence, write_glove_text, write_semeval
import random

EPOCHS = 6


@pytest.fixture
def run_args(tmp_path, tiny_glove):
    data_dir = write_semeval(tmp_path / "data", train_rows=1200, test_rows=90)

    def args(output_dir, *extra):
        return [
            "--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(data_dir), "--embeddings",
            str(tiny_glove), "--output_dir", str(output_dir), "--num_train_epochs", str(EPOCHS),
            "--per_device_train_batch_size", "16", "--learning_rate", "0.01", "--early_stopping_patience", "100",
            "--save_total_limit", "3", *extra,
        ]

    return args


def test_resumed_run_after_sigkill_matches_uninterrupted_run(tmp_path, run_args):
    assert run_cli(train.main, run_args(tmp_path / "whole")) == 0
    whole = json.loads((tmp_path / "whole" / "results.json").read_text())

    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen(
        [sys.executable, "train.py", *run_args(interrupted)], cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    steps_per_epoch = 960 // 16
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        states = list(interrupted.glob("checkpoint-*/trainer_state.json"))
        if any(int(state.parent.name.split("-")[1]) >= 2 * steps_per_epoch for state in states):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (interrupted / "results.json").exists()

    assert run_cli(train.main, run_args(interrupted)) == 0  # resumes from the last complete checkpoint
    resumed = json.loads((interrupted / "results.json").read_text())
    assert resumed["test"] == whole["test"]
    assert resumed["confusion_matrix"] == whole["confusion_matrix"]
    assert resumed["epochs"] == whole["epochs"] == EPOCHS


def test_same_seed_gives_identical_metrics_and_records_it(tmp_path, run_args):
    results = []
    for name in ("first", "second"):
        assert run_cli(train.main, run_args(tmp_path / name, "--num_train_epochs", "2", "--seed", "7")) == 0
        results.append(json.loads((tmp_path / name / "results.json").read_text()))
    assert results[0]["test"] == results[1]["test"]
    assert results[0]["seed"] == 7 and {"torch", "transformers", "datasets"} <= set(results[0]["versions"])


def test_finished_run_is_replaced_only_by_its_own_definition_or_when_asked(tmp_path, run_args, capsys):
    output_dir = tmp_path / "out"
    assert run_cli(train.main, run_args(output_dir, "--num_train_epochs", "1")) == 0
    assert run_cli(train.main, run_args(output_dir, "--num_train_epochs", "1")) == 0  # the same run again starts over
    capsys.readouterr()
    assert run_cli(train.main, run_args(output_dir, "--num_train_epochs", "2")) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: {output_dir} holds a finished run of another definition (training.num_train_epochs: 1")
    assert "--overwrite_output_dir" in error
    assert json.loads((output_dir / "results.json").read_text())["epochs"] == 1  # untouched
    assert run_cli(train.main, run_args(output_dir, "--num_train_epochs", "2", "--overwrite_output_dir")) == 0
    assert json.loads((output_dir / "results.json").read_text())["epochs"] == 2


def bad_input_cases(tmp_path: Path, tiny_glove: Path) -> dict:
    good = write_semeval(tmp_path / "good")
    missing = write_semeval(tmp_path / "missing")
    (missing / "Semeval2017A" / "gold" / "SemEval2017-task4-test.subtask-A.english.txt").unlink()
    empty = write_semeval(tmp_path / "empty")
    (empty / "Semeval2017A" / "train_dev" / "dev" / "twitter-b-A.tsv").write_text("")
    malformed = write_semeval(tmp_path / "malformed")
    (malformed / "Semeval2017A" / "train_dev" / "dev" / "twitter-b-A.tsv").write_text("1\tpositive\tok\n2\tgreat\tno\n")
    ragged = tmp_path / "ragged.txt"
    ragged.write_text(write_glove_text(tmp_path / "g.txt", ["good", "bad"], dim=3).read_text() + "ugly 0.1\n")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    base = ["--model", "mean", "--dataset", "semeval2017a", "--embeddings", str(tiny_glove)]
    return {
        "unknown dataset": (["--dataset", "imdb"], "unknown --dataset 'imdb'; choose one of: mr, semeval2017a"),
        "unknown model": (["--model", "cnn"], "unknown --model 'cnn'; choose one of:"),
        "missing file": ([*base, "--data-dir", str(missing)], "missing data file:"),
        "empty file": ([*base, "--data-dir", str(empty)], "twitter-b-A.tsv: empty file"),
        "malformed line": ([*base, "--data-dir", str(malformed)], "twitter-b-A.tsv:2: unknown label 'great'"),
        "ragged glove": ([*base, "--data-dir", str(good), "--embeddings", str(ragged)], "ragged.txt:3: row has 1 values"),
        "unwritable output": ([*base, "--data-dir", str(good), "--output_dir", str(a_file / "out")], "output folder not writable"),
    }


@pytest.mark.parametrize(
    "case",
    ["unknown dataset", "unknown model", "missing file", "empty file", "malformed line", "ragged glove", "unwritable output"],
)
def test_bad_input_gives_one_line_and_writes_nothing(tmp_path, tiny_glove, capsys, case):
    argv, message = bad_input_cases(tmp_path, tiny_glove)[case]
    output_dir = tmp_path / "results-here"
    if "--output_dir" not in argv:
        argv = [*argv, "--output_dir", str(output_dir)]
    assert run_cli(train.main, argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error
    assert not output_dir.exists()  # not even an empty folder: the run never started


def test_cli_exit_status_and_debug_traceback():
    command = [sys.executable, "train.py", "--model", "cnn"]
    quiet = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert quiet.stderr.strip().splitlines()[-1].startswith("error: unknown --model 'cnn'")
    loud = subprocess.run([*command, "--traceback"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert loud.returncode != 0 and "Traceback" in loud.stderr
    # --debug stays TrainingArguments' own option: parsed as such, so the model error is still one line
    with_debug = subprocess.run([*command, "--debug", "underflow_overflow"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert with_debug.returncode == 2 and with_debug.stderr.strip().splitlines()[-1].startswith("error: unknown --model 'cnn'")


def write_reviews(path: Path, rows: int, seed: int) -> Path:
    rng = random.Random(seed)
    labels = ["negative", "positive"] * (rows // 2)
    path.write_text("text,label\n" + "".join(f"{polar_sentence(rng, label)},{label}\n" for label in labels))
    return path


def interrupted_run(tmp_path, tiny_glove, *extra) -> tuple[Path, list[str]]:
    """A run folder with checkpoints and no results.json, as a killed run leaves it, and its argv."""
    output_dir = tmp_path / "run"
    argv = [
        "--model", "mean", "--train_file", str(write_reviews(tmp_path / "a.csv", 200, 0)), "--embeddings", str(tiny_glove),
        "--output_dir", str(output_dir), "--num_train_epochs", "2", "--save_total_limit", "3", *extra,
    ]  # fmt: skip
    assert run_cli(train.main, argv) == 0
    (output_dir / "results.json").unlink()
    return output_dir, argv


@pytest.mark.parametrize(
    "change, differs",
    [
        (lambda argv, tmp: [*argv, "--train_file", str(write_reviews(tmp / "b.csv", 200, 1))], "run.data.train_file"),
        (lambda argv, tmp: [*argv, "--model", "lstm"], "run.model: mean -> lstm"),
    ],
    ids=["another --train_file", "another --model"],
)
def test_restart_of_another_run_in_the_folder_stops_naming_what_differs(tmp_path, tiny_glove, capsys, change, differs):
    output_dir, argv = interrupted_run(tmp_path, tiny_glove)
    capsys.readouterr()
    assert run_cli(train.main, change(argv, tmp_path)) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the tokenizing progress bars
    assert error.startswith(f"error: {output_dir} holds an interrupted run of another definition ("), error
    assert differs in error and "--overwrite_output_dir" in error
    assert not (output_dir / "results.json").exists()  # nothing trained
    assert run_cli(train.main, [*change(argv, tmp_path), "--overwrite_output_dir"]) == 0
    assert "resuming" not in capsys.readouterr().out


def test_resumed_run_says_so_and_keeps_early_stopping_patience(tmp_path, tiny_glove, capsys):
    """A run killed while early stopping counts down ends at the same epoch as one never killed."""
    patience = ["--num_train_epochs", "30", "--early_stopping_patience", "2", "--learning_rate", "0.05",
                "--save_total_limit", "40", "--metric_for_best_model", "eval_loss"]  # fmt: skip
    whole, argv = interrupted_run(tmp_path, tiny_glove, *patience)
    state = json.loads((whole / "trainer_state.json").read_text())
    steps_per_epoch = round(state["global_step"] / state["epoch"])
    best_epoch, last_epoch = int(state["best_model_checkpoint"].split("-")[-1]) // steps_per_epoch, state["epoch"]
    assert last_epoch == best_epoch + 2 < 30, "the fixture should stop early"
    # As if killed just after the first evaluation without improvement: later checkpoints never written.
    for checkpoint in whole.glob("checkpoint-*"):
        if int(checkpoint.name.split("-")[1]) > (best_epoch + 1) * steps_per_epoch:
            shutil.rmtree(checkpoint)
    resumed = whole / f"checkpoint-{(best_epoch + 1) * steps_per_epoch}"
    before = json.loads((resumed / "training_clock.json").read_text())["train_seconds"]
    capsys.readouterr()
    assert run_cli(train.main, argv) == 0
    assert f"resuming the interrupted run in {whole} from {resumed}" in capsys.readouterr().out
    record = json.loads((whole / "results.json").read_text())
    assert record["epochs"] == last_epoch
    # The record's training time counts the killed session's seconds too (TrainingClock), and says where it ran.
    assert 0 < before < record["train_seconds"] and "train_seconds_from_step" not in record
    assert record["train_device"].startswith("cpu: ") and "torch threads" in record["train_device"]


def test_training_clock_counts_from_a_checkpoint_without_one(tmp_path):
    """A checkpoint written before the clock existed: the time counts from its step, and says so."""
    from pipelines.fitting import TrainingClock

    checkpoint = tmp_path / "checkpoint-125"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 125}))
    clock = TrainingClock(checkpoint)
    assert clock.unknown_before_step == 125 and clock.seconds() == 0.0
    (checkpoint / "training_clock.json").write_text(json.dumps({"train_seconds": 61.5}))
    clock = TrainingClock(checkpoint)
    assert clock.unknown_before_step is None and clock.seconds() == 61.5
