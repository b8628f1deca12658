"""The experiment grid's arguments and its table files, without training."""

from __future__ import annotations

import json
import time

import pytest

from pipelines.experiments import ExperimentArguments, table_row, write_tables


def finished_run(model: str, dataset: str) -> dict:
    return {
        "model": model,
        "dataset": dataset,
        "test": {"accuracy": 0.75, "f1_macro": 0.74, "recall_macro": 0.75},
        "epochs": 9.0,
        "train_seconds": 41.6,
        "parameters": {"trainable": 1000, "total": 2000},
        "output_dir": f"runs/glove/{dataset}-{model}",
    }


def test_tables_hold_the_command_and_one_row_per_run(tmp_path):
    args = ExperimentArguments(datasets="mr", models="mean,bilstm", results=str(tmp_path / "glove_models"))
    rows = [table_row(finished_run(model, "mr")) for model in args.model_names]
    write_tables(args, rows, command="python -m pipelines.experiments --datasets mr", started=time.perf_counter())

    markdown = (tmp_path / "glove_models.md").read_text(encoding="utf-8")
    assert "python -m pipelines.experiments --datasets mr" in markdown
    assert "| mr | bilstm | 0.7500 | 0.7400 | 0.7500 | 9 | 42 | 1000 | 2000 |" in markdown
    saved = json.loads((tmp_path / "glove_models.json").read_text(encoding="utf-8"))
    assert [row["model"] for row in saved["rows"]] == ["mean", "bilstm"]
    assert saved["command"] == "python -m pipelines.experiments --datasets mr"


@pytest.mark.parametrize("option", [{"models": "mean,cnn"}, {"datasets": "mr,imdb"}])
def test_unknown_names_are_refused_before_any_training(option):
    with pytest.raises(ValueError, match="choose one of"):
        ExperimentArguments(**option)
