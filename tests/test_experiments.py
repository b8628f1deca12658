"""The experiment grid: cells, dry-run commands, skipping finished cells, failing cells, bad options."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

import train
from pipelines import experiments
from pipelines.cli import run_cli
from pipelines.experiments import ExperimentArguments, grid_cells, run_experiments


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
    args = ExperimentArguments(datasets="mr", models="mean,bilstm", seeds="0,1,2", cv_folds=10, runs_dir=str(tmp_path))
    cells = grid_cells(args)
    assert len(cells) == 2 * 3 * 10
    assert len({cell.output_dir for cell in cells}) == len(cells)
    assert cells[0].model == "bilstm"  # the slow model first, so no worker idles at the end
    assert {cell.fold for cell in cells} == set(range(10)) and {cell.seed for cell in cells} == {0, 1, 2}


def test_dry_run_prints_one_train_command_per_cell_that_train_py_accepts(tmp_path, capsys, monkeypatch):
    argv = ["--datasets", "mr", "--models", "mean", "--seeds", "3,4", "--cv_folds", "2", "--train_embeddings"]
    assert run_cli(experiments.main, [*argv, "--runs_dir", str(tmp_path), "--dry_run"]) == 0
    commands = capsys.readouterr().out.strip().splitlines()
    assert len(commands) == 4 and all(command.startswith("python train.py --model mean --dataset mr") for command in commands)
    first = shlex.split(commands[0])
    assert first[first.index("--seed") + 1] == "3" and first[first.index("--fold") + 1] == "0"
    assert "--train_embeddings" in first and "--score_test_each_epoch" in first

    parsed = {}
    monkeypatch.setattr(train, "train_glove", lambda *dataclasses, **options: parsed.setdefault("args", dataclasses))
    assert run_cli(train.main, first[2:]) == 0  # the printed command is a valid train.py command line
    model_args, data_args, training_args = parsed["args"]
    assert (data_args.cv_folds, data_args.fold, training_args.seed) == (2, 0, 3) and model_args.train_embeddings


def test_finished_cells_are_skipped_and_a_failing_cell_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    args = ExperimentArguments(
        datasets="mr", models="mean,meanmax", seeds="0,1", workers=1, runs_dir=str(tmp_path / "runs"),
        results=str(tmp_path / "table"),
    )
    cells = grid_cells(args)
    done = cells[0]
    Path(done.output_dir).mkdir(parents=True)
    (Path(done.output_dir) / "results.json").write_text(json.dumps(finished_run(done.model, "mr", done.seed, done.output_dir)))
    ran = []

    def fake_run_cell(args, cell):
        ran.append(cell)
        if cell.model == "meanmax" and cell.seed == 1:
            raise ValueError("out of cheese\nsecond line")
        return finished_run(cell.model, cell.dataset, cell.seed, cell.output_dir)

    monkeypatch.setattr(experiments, "run_cell", fake_run_cell)
    with pytest.raises(experiments.CellsFailed, match="1 of 4 cells failed"):
        run_experiments(args, command="python -m pipelines.experiments")
    assert done not in ran and len(ran) == 3
    assert "error: " in capsys.readouterr().err and "out of cheese" in (tmp_path / "table.json").read_text()
    saved = json.loads((tmp_path / "table.json").read_text())
    assert len(saved["rows"]) == 3 and len(saved["failures"]) == 1
    assert "| mr | mean | 0 |" in (tmp_path / "table.md").read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seeds", "0,one"], "--seeds takes comma-separated integers"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--cv_folds", "1", "--datasets", "mr"], "--cv_folds must be at least 2"),
        (["--cv_folds", "10", "--datasets", "semeval2017a"], "semeval2017a has a fixed test set"),
        (["--models", "mean,cnn"], "unknown --model 'cnn'"),
        (["--datasets", "mr,imdb"], "unknown --dataset 'imdb'"),
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
