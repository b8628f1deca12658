"""The experiment grid: cells, dry-run commands, skipping finished cells, failing cells, bad options."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import train
from pipelines import experiments
from pipelines.arguments import DataArguments
from pipelines.benchmarks import BENCHMARKS
from pipelines.cli import parse, run_cli
from pipelines.experiments import ExperimentArguments, grid_cells, run_experiments
from pipelines.runs.record import RunRecord
from tests.conftest import REPO_ROOT


def finished_run(model: str, dataset: str, seed: int, output_dir: str) -> dict:
    return {
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "test": {"accuracy": 0.75, "f1_macro": 0.74, "recall_macro": 0.75},
        "epochs": 9.0,
        "train_seconds": 41.6,
        "output_dir": output_dir,
    }


def test_cells_cover_every_dataset_model_seed_and_fold(tmp_path):
    args = ExperimentArguments(datasets="mr", models="mean,bilstm", seeds="0,1,2", runs_dir=str(tmp_path))
    cells = grid_cells(args, data_args=DataArguments(cv_folds=10))
    assert len(cells) == 2 * 3 * 10
    assert len({cell.output_dir for cell in cells}) == len(cells)
    assert cells[0].model == "bilstm"  # the slow model first, so no worker idles at the end
    assert {cell.fold for cell in cells} == set(range(10)) and {cell.seed for cell in cells} == {0, 1, 2}


def test_dry_run_prints_one_train_command_per_cell_that_train_py_accepts(tmp_path, capsys, monkeypatch):
    argv = ["--datasets", "mr", "--models", "mean", "--seeds", "3,4", "--cv_folds", "2", "--train_embeddings"]
    assert run_cli(experiments.main, [*argv, "--runs_dir", str(tmp_path), "--dry_run"]) == 0
    commands = capsys.readouterr().out.strip().splitlines()
    assert len(commands) == 4 and all(command.startswith("python train.py --model mean ") for command in commands)
    first, second = shlex.split(commands[0]), shlex.split(commands[1])
    assert first[first.index("--seed") + 1] == "3" and second[second.index("--fold") + 1] == "1"
    assert "--fold" not in first and "--dataset" not in first  # fold 0 and mr are train.py's defaults
    assert "--train_embeddings" in first and "--score_test_each_epoch" in first

    parsed = {}
    monkeypatch.setattr("pipelines.training.train_glove", lambda *dataclasses, **options: parsed.setdefault("args", dataclasses))
    assert run_cli(train.main, first[2:]) == 0  # the printed command is a valid train.py command line
    model_args, data_args, training_args = parsed["args"]
    assert (data_args.dataset, data_args.cv_folds, data_args.fold, training_args.seed) == ("mr", 2, 0, 3) and model_args.train_embeddings


def test_the_grids_summary_goes_beside_its_cells_unless_told_otherwise():
    """--runs_dir /tmp/x wrote its summary to ./runs/grid/results.md, where the cells of another grid are summarized."""
    assert ExperimentArguments().results == "runs/grid/results"
    assert ExperimentArguments(runs_dir="/tmp/x").results == "/tmp/x/results"
    assert ExperimentArguments(runs_dir="/tmp/x", results="/tmp/y/table").results == "/tmp/y/table"


def test_finished_cells_are_skipped_and_a_failing_cell_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    args = ExperimentArguments(
        datasets="mr", models="mean,meanmax", seeds="0,1", workers=1, runs_dir=str(tmp_path / "runs"),
        results=str(tmp_path / "table"),
    )
    cells = grid_cells(args)
    done = cells[0]
    Path(done.output_dir).mkdir(parents=True)
    (Path(done.output_dir) / "results.json").write_text(json.dumps(finished_run(done.model, "mr", done.seed, done.output_dir)))
    (Path(done.output_dir) / "cell.json").write_text(json.dumps({"options": done.defining_options()}))
    ran = []

    def fake_train_glove(model_args, data_args, training_args, prepared, loss_args):
        ran.append(training_args.output_dir)
        if model_args.model == "meanmax" and training_args.seed == 1:
            raise ValueError("out of cheese\nsecond line")
        return RunRecord.from_dict(finished_run(model_args.model, data_args.dataset_label, training_args.seed, training_args.output_dir))

    monkeypatch.setattr(experiments, "train_glove", fake_train_glove)
    monkeypatch.setattr(experiments.PreparedData, "of", lambda self, *data: None)
    with pytest.raises(experiments.CellsFailed, match="1 of 4 cells failed"):
        run_experiments(args, cells, command="python -m pipelines.experiments")
    assert done.output_dir not in ran and len(ran) == 3
    failed = next(cell for cell in cells if cell.model == "meanmax" and cell.seed == 1)
    error_file = Path(failed.output_dir) / "error.txt"
    assert f"error: {failed.output_dir}: out of cheese (traceback: {error_file})" in capsys.readouterr().err
    traceback_text = error_file.read_text()  # the whole traceback, in the cell's own folder
    assert traceback_text.startswith("Traceback") and "fake_train_glove" in traceback_text and "second line" in traceback_text
    saved = json.loads((tmp_path / "table.json").read_text())
    assert len(saved["rows"]) == 3 and len(saved["failures"]) == 1 and str(error_file) in saved["failures"][0]
    assert "| mr | lab |" in (tmp_path / "table.md").read_text()


def test_each_invocation_adds_its_cells_to_the_summary(tmp_path, monkeypatch):
    def fake_train_glove(model_args, data_args, training_args, prepared, loss_args):
        results = finished_run(model_args.model, data_args.dataset_label, training_args.seed, training_args.output_dir)
        Path(training_args.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(training_args.output_dir) / "results.json").write_text(json.dumps(results))
        print("epoch log of", model_args.model)  # goes to the cell's train.log, not the grid's output
        return RunRecord.from_dict(results)

    monkeypatch.setattr(experiments, "train_glove", fake_train_glove)
    monkeypatch.setattr(experiments.PreparedData, "of", lambda self, *data: None)
    common = {"datasets": "mr", "workers": 1, "runs_dir": str(tmp_path / "runs"), "results": str(tmp_path / "table")}
    for grid in (ExperimentArguments(models="mean", seeds="0", **common), ExperimentArguments(models="lstm", seeds="0,1", **common)):
        run_experiments(grid, grid_cells(grid), command=f"grid --models {grid.models}")
    saved = json.loads((tmp_path / "table.json").read_text())
    assert sorted((row["model"], row["seed"]) for row in saved["rows"]) == [("lstm", 0), ("lstm", 1), ("mean", 0)]
    assert saved["commands"] == ["grid --models mean", "grid --models lstm"]
    markdown = (tmp_path / "table.md").read_text()
    assert "grid --models mean\ngrid --models lstm" in markdown and markdown.count("| mr |") == 3
    cell_log = next((tmp_path / "runs").rglob("train.log")).read_text()
    assert cell_log.startswith("epoch log of")
    assert "mr {'num_train_epochs': 50, 'per_device_train_batch_size': 64}" in markdown

    shortened = ExperimentArguments(models="attention", seeds="0", **common)
    cells = grid_cells(shortened, ["--num_train_epochs", "2", "--per-device-train-batch-size=32"])
    run_experiments(shortened, cells, command="grid --models attention --num_train_epochs 2")
    markdown = (tmp_path / "table.md").read_text()
    assert "mr {'num_train_epochs': 2, 'per_device_train_batch_size': 32}" in markdown, "the budget the cells ran with, not the dataset's"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seeds", "0,one"], "--seeds takes comma-separated integers"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--cv_folds", "1", "--datasets", "mr"], "--cv_folds must be at least 2"),
        (["--cv_folds", "10", "--datasets", "semeval2017a"], "semeval2017a has a fixed test set"),
        (["--models", "mean,cnn"], "unknown --model 'cnn'"),
        (["--datasets", "mr,imdb"], "unknown --dataset 'imdb'"),
        # two cells on one folder (a lock failure with several workers, else trained and listed twice)
        (["--seeds", "0,1,0"], "--seeds names 0 twice"),
        (["--models", "mean,bilstm,mean"], "--models names mean twice"),
        (["--datasets", "mr,mr"], "--datasets names mr twice"),
    ],
)
def test_bad_options_give_one_line(argv, message, capsys):
    assert run_cli(experiments.main, [*argv, "--dry_run"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error


def test_the_grid_runs_on_your_own_files(tmp_path, capsys):
    train_file, test_file = tmp_path / "my_reviews.csv", tmp_path / "held.csv"
    argv = ["--train_file", str(train_file), "--test_file", str(test_file), "--models", "mean", "--seeds", "0,1"]
    assert run_cli(experiments.main, [*argv, "--runs_dir", str(tmp_path / "runs"), "--dry_run"]) == 0
    commands = [shlex.split(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(commands) == 2 and "--dataset" not in commands[0]
    assert commands[0][commands[0].index("--train_file") + 1] == str(train_file)
    assert "my_reviews-lab-frozen" in commands[0][commands[0].index("--output_dir") + 1]


def test_the_summary_of_a_grid_on_your_own_files_states_its_budget_and_checkpoint_rule(tmp_path):
    """The summary read "Checkpoint restored by validation official (train). Training budget ...: train {}"."""
    from pipelines.arguments import DataArguments

    args = ExperimentArguments(models="mean", seeds="0", runs_dir=str(tmp_path / "runs"))
    data_args = DataArguments(train_file=str(tmp_path / "train.csv"))
    cells = grid_cells(args, ["--num_train_epochs", "2"], data_args)
    setting = experiments.grid_setting(args, cells, workers=1)
    assert setting["dataset_training"] == {"train": {"num_train_epochs": 2.0}}
    experiments.write_tables(args, {**setting}, [], "python -m pipelines.experiments", 1.0, [])
    text = Path(f"{args.results}.md").read_text()
    assert "Checkpoint restored by validation its official metric (train). Training budget" in text
    assert ": train {'num_train_epochs': 2.0}." in text and "train {}" not in text


def test_any_train_py_option_reaches_every_cell(tmp_path, capsys, monkeypatch):
    grid = ["--datasets", "mr", "--models", "mean,lstm", "--seeds", "0", "--runs_dir", str(tmp_path)]
    train_options = ["--learning_rate", "0.01", "--config_overrides", "dropout=0.3", "--num_train_epochs", "3"]
    assert run_cli(experiments.main, [*grid, *train_options, "--dry_run"]) == 0
    commands = [shlex.split(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(commands) == 2
    parsed = []
    monkeypatch.setattr("pipelines.training.train_glove", lambda *dataclasses, **options: parsed.append(dataclasses))
    for command in commands:
        assert command[:2] == ["python", "train.py"] and run_cli(train.main, command[2:]) == 0
    for model_args, data_args, training_args in parsed:
        assert training_args.learning_rate == 0.01 and model_args.config_overrides == "dropout=0.3"
        assert training_args.num_train_epochs == 3  # given to the grid, it wins over the dataset's budget
    # The cells the grid itself trains carry the same options, parsed once by train.py's parser.
    args = ExperimentArguments(datasets="mr", models="mean", seeds="0", runs_dir=str(tmp_path))
    (cell,) = grid_cells(args, train_options)
    assert (cell.training_args.learning_rate, cell.model_args.config_overrides, cell.training_args.seed) == (0.01, "dropout=0.3", 0)
    # A learning rate other than train.py's default is part of the cell's setting, so of its folder:
    # the same model and config at another learning rate never passes for this cell.
    assert Path(cell.output_dir).parent.parent.name == "mr-lab-frozen-config-dropout_0.3-lr0.01"
    (default_rate,) = grid_cells(args, ["--learning_rate", "1e-3"])
    assert Path(default_rate.output_dir).parent.parent.name == "mr-lab-frozen"


def test_a_cells_command_parses_back_into_the_cell(tmp_path):
    """`--dry_run` renders a cell with `to_argv`; train.py's parser turns that line back into the same dataclasses."""
    grid = {"models": "mean,bilstm", "seeds": "0,3", "runs_dir": str(tmp_path)}
    options = ["--train_embeddings", "--learning_rate", "0.0123", "--report_to", "tensorboard",
               "--max_vocab_size", "0", "--class_weights", "balanced"]  # fmt: skip
    cells = grid_cells(ExperimentArguments(datasets="mr", **grid), options, DataArguments(cv_folds=3))
    assert len(cells) == 2 * 2 * 3 and {cell.fold for cell in cells} == {0, 1, 2}
    for cell in cells:
        assert parse(experiments.TRAIN_ARGUMENT_TYPES, cell.argv()) == (cell.model_args, cell.data_args, cell.training_args, cell.loss_args)
    cell = cells[-1]
    assert cell.output_dir == str(tmp_path / "mr-cv3-trained-weighted-lr0.0123" / cell.model / f"seed-{cell.seed}" / f"fold-{cell.fold}")
    assert cell.training_args.run_name == f"mr-cv3-trained-weighted-lr0.0123/{cell.model}/seed-{cell.seed}/fold-{cell.fold}"
    argv = cell.argv()
    assert argv[argv.index("--learning_rate") + 1] == "0.0123" and argv[argv.index("--max_vocab_size") + 1] == "0"
    semeval = grid_cells(ExperimentArguments(datasets="semeval2017a", **grid))[0]  # its budget, from the benchmark
    assert semeval.training_args.per_device_train_batch_size == BENCHMARKS["semeval2017a"].grid_training["per_device_train_batch_size"]
    # the checkpoint rule resolved where the cell's arguments are made, so the run does not build them again
    assert (cell.training_args.metric_for_best_model, semeval.training_args.metric_for_best_model) == ("accuracy", "recall_macro")
    assert argv[argv.index("--metric_for_best_model") + 1] == "accuracy"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--output_dir", "x"], "--output_dir is set per cell by the grid; use --models"),
        (["--no_such_option", "1"], "--no_such_option"),
    ],
)
def test_train_options_the_grid_sets_or_train_py_refuses_give_one_line(argv, message, capsys):
    assert run_cli(experiments.main, ["--datasets", "mr", *argv, "--dry_run"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error


def tiny_grid_argv(runs_dir, data_dir, glove, *extra) -> list[str]:
    """Two cells (one model, two seeds) of one epoch on the tiny SemEval fixture."""
    return [
        "--datasets", "semeval2017a", "--data_dir", str(data_dir), "--embeddings", str(glove), "--models", "mean",
        "--seeds", "0,1", "--workers", "1", "--runs_dir", str(runs_dir), "--results", str(runs_dir / "results"),
        "--num_train_epochs", "1", *extra,
    ]


def cell_outputs(runs_dir) -> dict:
    """Each cell's test scores and test predictions, by its folder under `runs_dir`."""
    outputs = {}
    for results_file in sorted(Path(runs_dir).glob("*/*/seed-*/results.json")):
        folder = results_file.parent
        predictions = pq.read_table(folder / "predictions.parquet").to_pandas()
        outputs[folder.relative_to(runs_dir).as_posix()] = (
            json.loads(results_file.read_text())["test"], predictions["prediction"].tolist(),
            np.stack(predictions["probabilities"]).tolist(),
        )
    return outputs


@pytest.mark.slow
def test_the_grid_on_submitit_local_processes_gives_the_pools_records(tmp_path, tiny_semeval, tiny_glove, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the job processes import this checkout's pipelines
    assert run_cli(experiments.main, tiny_grid_argv(tmp_path / "pool", tiny_semeval, tiny_glove)) == 0
    engine = ["--engine", "submitit", "--engine_cluster", "local"]
    assert run_cli(experiments.main, tiny_grid_argv(tmp_path / "jobs", tiny_semeval, tiny_glove, *engine)) == 0
    pool, jobs = cell_outputs(tmp_path / "pool"), cell_outputs(tmp_path / "jobs")
    assert sorted(pool) == ["semeval2017a-lab-frozen/mean/seed-0", "semeval2017a-lab-frozen/mean/seed-1"]
    assert jobs == pool
    assert len(list((tmp_path / "jobs" / "submitit").rglob("*_result.pkl"))) == 2  # each cell was a submitit job
    summary = json.loads((tmp_path / "jobs" / "results.json").read_text())
    assert [row["accuracy"] for row in summary["rows"]] == [pool[key][0]["accuracy"] for key in sorted(pool)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--engine", "ray"], "--engine must be one of pool, submitit"),
        (["--engine", "submitit", "--engine_cluster", "lsf"], "--engine_cluster must be one of slurm, local, debug"),
        (["--engine_cluster", "local"], "--engine_cluster needs --engine submitit"),
        (["--engine", "submitit", "--slurm_time_minutes", "0"], "--slurm_time_minutes must be at least 1"),
        (["--run_name", "mine"], "--run_name is set per cell by the grid"),
    ],
)
def test_bad_engine_options_give_one_line_and_write_nothing(argv, message, tmp_path, capsys):
    assert run_cli(experiments.main, ["--datasets", "mr", "--runs_dir", str(tmp_path / "runs"), *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_cell_logs_to_tensorboard_as_one_run_named_by_its_setting_and_trains_the_same_model(tmp_path, tiny_semeval, tiny_glove):
    one_cell = ["--seeds", "0"]
    plain, tracked = tmp_path / "plain", tmp_path / "tracked"
    assert run_cli(experiments.main, [*tiny_grid_argv(plain, tiny_semeval, tiny_glove), *one_cell]) == 0
    argv = [*tiny_grid_argv(tracked, tiny_semeval, tiny_glove), *one_cell, "--report_to", "tensorboard"]
    assert run_cli(experiments.main, argv) == 0
    cell = tracked / "semeval2017a-lab-frozen" / "mean" / "seed-0"
    assert list((cell / "runs").rglob("events.out.tfevents.*"))  # the Trainer's TensorBoard logs, in the cell's folder
    training_args = json.loads((cell / "training_args.json").read_text())
    assert training_args["report_to"] == ["tensorboard"] and training_args["run_name"] == "semeval2017a-lab-frozen/mean/seed-0"
    assert not list(plain.rglob("events.out.tfevents.*"))
    assert cell_outputs(tracked) == cell_outputs(plain)  # tracking does not change the trained model


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_killed_grid_takes_its_pool_workers_with_it(tmp_path):
    """A grid stopped by a signal must not leave workers training on: they would write the cells a restarted grid
    trains too (seen here: four processes on five cells). Its pool's workers (`exit_with_grid`) end within a second
    or two of the grid's process."""
    import os
    import signal
    import subprocess
    import sys
    import time

    grid = subprocess.Popen(
        [sys.executable, "-c", (
            "import multiprocessing, os, time\n"
            "from concurrent.futures import ProcessPoolExecutor\n"
            "from pipelines.experiments import _init_pool_worker\n"
            "pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'), initializer=_init_pool_worker, initargs=(0, os.getpid()))\n"
            "print(pool.submit(os.getpid).result(), flush=True)\n"
            "pool.submit(time.sleep, 600)\n"
            "time.sleep(600)\n"
        )],  # fmt: skip
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    worker = int(grid.stdout.readline())
    os.kill(grid.pid, signal.SIGKILL)  # no clean-up runs in the grid's process
    grid.wait()

    def alive(pid: int) -> bool:  # a zombie (ended, not yet reaped by its new parent) counts as ended
        try:
            return open(f"/proc/{pid}/stat").read().split()[2] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 15
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    still = alive(worker)
    if still:
        os.kill(worker, signal.SIGKILL)
    assert not still, "the pool worker outlived its grid"


def test_a_worker_prepares_the_data_again_for_each_seed_when_the_test_split_is_held_out_by_the_seed(monkeypatch):
    """Round 26's review: on a train file without a test file, each seed holds out its own test split, but a worker
    kept the data of its first cell for every later seed (the key held the seed only for CV and training sizes): seeds
    1 and 2 were tested on seed 0's sentences while their records said seed 1 and 2."""
    from types import SimpleNamespace

    from pipelines.arguments import GloveModelArguments

    made = []

    def prepare(model_args, data_args, seed):
        made.append((data_args.train_file, seed))
        return SimpleNamespace(description={"test_held_out": data_args.test_file is None})

    monkeypatch.setattr(experiments, "prepare_glove_data", prepare)
    prepared, model = experiments.PreparedData(), GloveModelArguments(model="mean")
    held_out, fixed = DataArguments(train_file="own.csv"), DataArguments(train_file="own.csv", test_file="own_test.csv")
    firsts = [prepared.of(model, held_out, seed) for seed in (0, 1, 0)]
    assert made == [("own.csv", 0), ("own.csv", 1)] and firsts[0] is firsts[2] and firsts[0] is not firsts[1]
    assert prepared.of(model, fixed, 0) is prepared.of(model, fixed, 1)  # a fixed test file: prepared once
    assert made[2:] == [("own.csv", 0)]


def test_a_finished_cell_of_other_options_or_an_edited_data_file_is_refused_not_reused(tmp_path, monkeypatch):
    """Round 26's review: a grid re-run with `--max_length 64` (or on an edited train file) took the cells the first
    run finished with other options as its own and mixed them into its summary."""
    from pipelines.errors import OptionError

    data = tmp_path / "own.csv"
    data.write_text("text,label\n" + "".join(f"good {i},positive\nbad {i},negative\n" for i in range(10)))
    digest = experiments.file_digest(data)

    def fake_train_glove(model_args, data_args, training_args, prepared, loss_args):
        results = finished_run(model_args.model, data_args.dataset_label, training_args.seed, training_args.output_dir)
        results["data"] = {"source": "files", "train_file": str(data), "sha256": {str(data): digest}}
        Path(training_args.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(training_args.output_dir) / "results.json").write_text(json.dumps(results))
        return RunRecord.from_dict(results)

    monkeypatch.setattr(experiments, "train_glove", fake_train_glove)
    monkeypatch.setattr(experiments.PreparedData, "of", lambda self, *data: None)
    grid = ExperimentArguments(models="mean", seeds="0", workers=1, runs_dir=str(tmp_path / "runs"), results=str(tmp_path / "table"))
    data_args = DataArguments(train_file=str(data))
    run_experiments(grid, grid_cells(grid, [], data_args), command="grid")
    saved = json.loads(next((tmp_path / "runs").rglob("cell.json")).read_text())["options"]
    assert saved["--model"] == "mean" and saved["--seed"] == "0" and "--disable_tqdm" not in saved and "--run_name" not in saved
    run_experiments(grid, grid_cells(grid, ["--report_to", "tensorboard"], data_args), command="grid")  # logging only: reused
    with pytest.raises(OptionError, match=r"holds a finished cell made with other options \(--max_length \(default\) -> 64\); give another --runs_dir"):
        run_experiments(grid, grid_cells(grid, ["--max_length", "64"], data_args), command="grid")
    data.write_text(data.read_text() + "fine,positive\n")
    with pytest.raises(OptionError, match=r"holds a finished cell trained on an earlier version of .*own.csv"):
        run_experiments(grid, grid_cells(grid, [], data_args), command="grid")


@pytest.mark.slow
def test_a_cell_finished_by_its_dry_run_command_counts_only_for_a_grid_of_its_definition(tmp_path, tiny_semeval, tiny_glove, capsys):
    """Review: a folder finished by a `--dry_run` command (or train.py) has no `cell.json`, so a later grid with
    `--num_train_epochs 2`, another `--validation_fraction` or `--max_length` took it as its own, listed under the new
    command with exit 0. Its `run_definition.json` is compared instead; a folder that recorded neither is refused."""
    runs = tmp_path / "runs"
    argv = [*tiny_grid_argv(runs, tiny_semeval, tiny_glove), "--seeds", "0"]
    assert run_cli(experiments.main, [*argv, "--dry_run"]) == 0
    (command,) = capsys.readouterr().out.strip().splitlines()
    assert run_cli(train.main, shlex.split(command)[2:]) == 0
    cell = runs / "semeval2017a-lab-frozen" / "mean" / "seed-0"
    assert (cell / "results.json").is_file() and not (cell / "cell.json").exists()
    trained = (cell / "results.json").read_bytes()
    for extra, field in (
        (["--num_train_epochs", "2"], "training.num_train_epochs: 1.0 -> 2.0"),
        (["--validation_fraction", "0.3"], "data_sha256.train: "),
        (["--max_length", "16"], "config.max_length: 128 -> 16"),
    ):
        capsys.readouterr()
        assert run_cli(experiments.main, [*argv, *extra]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith(f"error: {cell} holds a finished run of another definition than this cell's (") and "\n" not in error
        assert field in error
    assert not (cell / "cell.json").exists() and (cell / "results.json").read_bytes() == trained

    assert run_cli(experiments.main, argv) == 0  # the definition its dry-run command made: reused, not trained again
    assert (cell / "results.json").read_bytes() == trained
    saved = json.loads((cell / "cell.json").read_text())["options"]
    assert saved["--num_train_epochs"] == "1.0" and saved["--model"] == "mean"  # later grids compare these

    (cell / "cell.json").unlink()
    (cell / "run_definition.json").unlink()
    capsys.readouterr()
    assert run_cli(experiments.main, argv) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"error: {cell} holds a finished run that recorded neither cell.json nor run_definition.json, so it may be "
                     "another run; give another --runs_dir, or delete the folder to run the cell again")  # fmt: skip


def test_a_submitit_job_trains_with_a_thread_per_cpu_it_was_given(tmp_path, monkeypatch):
    """Review: every job ran `torch.set_num_threads(1)`, so `--slurm_cpus_per_task 8` reserved 8 cores and used 1."""
    import torch

    from pipelines.arguments import EngineArguments

    (cell,) = grid_cells(ExperimentArguments(datasets="mr", models="mean", seeds="0", runs_dir=str(tmp_path / "runs")))
    threads, ended = [], []
    monkeypatch.setattr(experiments, "run_cell", lambda cell, prepared: threads.append(torch.get_num_threads()) or (cell, None, "not trained"))
    engine = EngineArguments(engine="submitit", engine_cluster="debug", slurm_cpus_per_task=3)
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
        experiments.run_cells([cell], 1, engine, tmp_path / "jobs", lambda *outcome: ended.append(outcome))
        monkeypatch.setenv("SLURM_CPUS_PER_TASK", "2")  # on Slurm: the CPUs the job was given
        experiments.run_cells([cell], 1, engine, tmp_path / "jobs", lambda *outcome: ended.append(outcome))
    finally:
        torch.set_num_threads(before)
    assert threads == [3, 2] and [error for _, _, error in ended] == ["not trained", "not trained"]


@pytest.mark.parametrize("where", ["--runs_dir", "--results", "--engine_folder"])
def test_a_folder_the_grid_cannot_write_is_refused_in_one_line_before_any_cell(where, tmp_path, capsys):
    """A --runs_dir under a file ended in a worker's NotADirectoryError traceback (exit 1); a submitit --engine_folder
    there, in submitit's own mkdir traceback."""
    (tmp_path / "notes.txt").write_text("not a folder")
    blocked = tmp_path / "notes.txt" / "x"
    argv = ["--datasets", "mr", "--models", "mean", "--seeds", "0", "--runs_dir", str(tmp_path / "runs"), where, str(blocked)]
    if where == "--engine_folder":
        argv += ["--engine", "submitit", "--engine_cluster", "local"]
    assert run_cli(experiments.main, argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: output folder not writable: {blocked.parent if where == '--results' else blocked}") and "\n" not in error
    assert not (tmp_path / "runs").exists()
