"""Training sizes for learning curves: the per-class subsample, its validation split, bad sizes."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

import train
from pipelines import experiments
from pipelines.arguments import DataArguments
from pipelines.cli import run_cli
from pipelines.experiments import ExperimentArguments, grid_cells
from pipelines.splits import load_train_test, split_validation
from pipelines.train_sizes import parse_train_sizes, subsample

FEATURES = Features({"text": Value("string"), "label": ClassLabel(names=["negative", "neutral", "positive"])})


def toy(counts: dict[int, int], prefix: str) -> Dataset:
    rows = [(f"{prefix} {label} {i}", label) for label, count in counts.items() for i in range(count)]
    return Dataset.from_dict({"text": [t for t, _ in rows], "label": [label for _, label in rows]}, features=FEATURES)


def toy_data(validation: bool = False) -> DatasetDict:
    splits = {"train": toy({0: 40, 1: 25, 2: 90}, "train"), "test": toy({0: 7, 1: 5, 2: 9}, "test")}
    if validation:
        splits["validation"] = toy({0: 20, 1: 5, 2: 30}, "validation")
    return DatasetDict(splits)


def test_the_subsample_holds_exactly_n_of_every_class_drawn_by_the_seed_and_leaves_test_alone():
    data = toy_data()
    kept = subsample(data, 8, seed=3)
    assert Counter(kept["train"]["label"]) == {0: 8, 1: 8, 2: 8}
    assert set(kept["train"]["text"]) <= set(data["train"]["text"])
    assert kept["train"]["text"] == subsample(data, 8, seed=3)["train"]["text"]  # same seed, same sentences
    assert kept["train"]["text"] != subsample(data, 8, seed=4)["train"]["text"]
    assert kept["test"]["text"] == data["test"]["text"] and kept["test"]["label"] == data["test"]["label"]


def test_a_validation_split_the_data_brought_keeps_its_proportion_to_train_per_class():
    kept = subsample(toy_data(validation=True), 10, seed=0)
    # train 40/25/90 against validation 20/5/30: half, a fifth and a third of 10 per class, rounded up
    assert Counter(kept["validation"]["label"]) == {0: 5, 1: 2, 2: 4}


def test_train_size_draws_validation_from_the_subsample_and_the_test_set_is_unchanged(tiny_mr):
    full, _ = load_train_test(DataArguments(dataset="mr", data_dir=str(tiny_mr)), seed=0)
    data_args = DataArguments(dataset="mr", data_dir=str(tiny_mr), train_size=20)
    small, description = load_train_test(data_args, seed=0)
    assert description["train_size_per_class"] == 20
    assert Counter(small["train"]["label"]) == {0: 20, 1: 20}
    assert small["test"]["text"] == full["test"]["text"]
    splits = split_validation(small, data_args.validation_fraction, seed=0)
    assert Counter(splits["validation"]["label"]) == {0: 4, 1: 4}  # 0.2 of 20 per class, stratified
    assert Counter(splits["train"]["label"]) == {0: 16, 1: 16}
    again, _ = load_train_test(data_args, seed=0)
    assert again["train"]["text"] == small["train"]["text"]


def test_sizes_parse_in_order_with_all_as_the_whole_split():
    assert parse_train_sizes("16, 64,all") == [16, 64, None]


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ("0,16", "--train_sizes: a training size is sentences per class, at least 1; got 0"),
        ("16,abc", "--train_sizes takes sentences per class as comma-separated integers or all"),
        ("16,6000", "--train_sizes 6000: class 'negative' has 5000 training sentences in mr; give at most 5000 per class"),
        ("1", "--train_sizes 1: --train_size 1 (mr): class 'negative' has 1 row, too few to hold out"),
        ("16,16", "--train_sizes names 16 twice"),
        (",", "--train_sizes is empty"),
    ],
)
def test_bad_sizes_give_one_line_naming_the_option(sizes, message, tiny_mr, tmp_path, capsys):
    argv = ["--datasets", "mr", "--data_dir", str(tiny_mr), "--models", "mean", "--runs_dir", str(tmp_path), "--train_sizes", sizes, "--dry_run"]
    assert run_cli(experiments.main, argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {message}") and captured.err.count("\n") == 1 and not captured.out


def test_train_py_refuses_a_size_no_class_has(tiny_mr, tiny_glove, tmp_path, capsys):
    argv = ["--dataset", "mr", "--data_dir", str(tiny_mr), "--embeddings", str(tiny_glove), "--output_dir", str(tmp_path / "run")]
    assert run_cli(train.main, [*argv, "--train_size", "0"]) == 2
    assert "error: --train_size: a training size is sentences per class" in capsys.readouterr().err
    assert run_cli(train.main, [*argv, "--train_size", "5001"]) == 2
    assert "error: --train_size 5001: class 'negative' has 5000 training sentences" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_each_size_is_a_cell_in_a_folder_of_its_own(tmp_path):
    args = ExperimentArguments(datasets="mr", models="mean", seeds="0,1", train_sizes="16,all", runs_dir=str(tmp_path))
    folders = sorted(str(cell.output_dir).removeprefix(f"{tmp_path}/") for cell in grid_cells(args))
    assert folders == ["mr-lab-frozen-n16/mean/seed-0", "mr-lab-frozen-n16/mean/seed-1", "mr-lab-frozen/mean/seed-0", "mr-lab-frozen/mean/seed-1"]


@pytest.mark.slow
def test_a_cell_records_its_training_size_and_trains_on_that_many_sentences(tiny_semeval, tiny_glove, tmp_path):
    argv = [
        "--datasets", "semeval2017a", "--data_dir", str(tiny_semeval), "--embeddings", str(tiny_glove), "--models", "mean",
        "--seeds", "0", "--workers", "1", "--runs_dir", str(tmp_path), "--results", str(tmp_path / "results"),
        "--num_train_epochs", "1", "--train_sizes", "10",
    ]
    assert run_cli(experiments.main, argv) == 0
    cell = tmp_path / "semeval2017a-lab-frozen-n10" / "mean" / "seed-0"
    results = json.loads((cell / "results.json").read_text())
    assert results["train_size_per_class"] == 10 and results["data"]["train_size_per_class"] == 10
    validation = pq.read_table(cell / results["validation_predictions_file"]).num_rows
    assert validation == 6  # 0.2 of the 10 sentences of each of 3 classes
    assert pq.read_table(cell / results["predictions_file"]).num_rows == 90  # the whole test set
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["train_size_per_class"] == 10
