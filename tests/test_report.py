"""The results report from fake result files of all three scripts, built in code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import run_cli
from pipelines.report import find_trainer_state, main, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def trainer_state(epochs: int, best_epoch: int) -> dict:
    """A `Trainer` log history: one training and one validation entry per epoch, 10 steps an epoch."""
    history = []
    for epoch in range(1, epochs + 1):
        history.append({"epoch": float(epoch), "loss": 0.7 - 0.03 * epoch, "step": 10 * epoch})
        history.append({"epoch": float(epoch), "eval_loss": 0.65 - 0.02 * min(epoch, best_epoch), "step": 10 * epoch})
    return {"log_history": history, "best_global_step": 10 * best_epoch}


def write_run(root: Path, name: str, model: str, dataset: str, model_type: str | None = None, **extra) -> Path:
    labels = ["negative", "positive"] if dataset == "mr" else ["negative", "neutral", "positive"]
    size = len(labels)
    results = {
        "model": model,
        "model_type": model_type or f"glove-{model}",
        "dataset": dataset,
        "label_names": labels,
        "test": {"accuracy": 0.7, "f1_macro": 0.69, "recall_macro": 0.7, **({"f1_pn": 0.66} if size == 3 else {})},
        "epochs": 6.0,
        "train_seconds": 12.5,
        "confusion_matrix": [[30 if i == j else 5 for j in range(size)] for i in range(size)],
        **extra,
    }
    run = root / name
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(results))
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report") / "runs"
    mean = write_run(root, "mr-mean", "mean", "mr")
    (mean / "trainer_state.json").write_text(json.dumps(trainer_state(6, best_epoch=4)))
    meanmax = write_run(root, "mr-meanmax", "meanmax", "mr")
    for step, epochs in ((20, 2), (60, 6)):  # a run from before the state was saved beside the model
        (meanmax / f"checkpoint-{step}").mkdir()
        (meanmax / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps(trainer_state(epochs, 3)))
    write_run(root, "semeval/bilstm", "bilstm", "semeval2017a")  # no trainer state at all
    write_run(root, "ft/mr-minilm", "minilm", "mr", model_type="bert")  # finetune.py
    pretrained = root / "pretrained-mr"
    pretrained.mkdir()
    evaluation = {  # evaluate_pretrained.py: metrics at the top of each row, no confusion matrix
        "dataset": "mr",
        "label_names": ["negative", "positive"],
        "results": [
            {"model": "distilbert-sst2", "accuracy": 0.88, "f1_macro": 0.88, "recall_macro": 0.88, "seconds": 3.1},
            {"model": "minilm", "accuracy": 0.81, "f1_macro": 0.8, "recall_macro": 0.81},
        ],
    }
    (pretrained / "evaluation.json").write_text(json.dumps(evaluation))
    return root


@pytest.fixture(scope="module")
def report_path(runs) -> Path:
    return write_report(runs)


def section(report: str, title: str) -> str:
    return report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def table_models(text: str) -> list[tuple[str, str]]:
    """(dataset, model) of each table row."""
    rows = [line.split("|")[1:3] for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    return [(dataset.strip(), model.strip()) for dataset, model in rows[1:]]


def test_one_table_per_study_question(report_path):
    report = report_path.read_text()
    assert table_models(section(report, "Pooling: mean vs mean‖max")) == [("mr", "mean"), ("mr", "meanmax")]
    assert table_models(section(report, "Self-attention")) == [("mr", "meanmax")]
    lstm = section(report, "LSTM vs BiLSTM")
    assert table_models(lstm) == [("semeval2017a", "bilstm")] and "F1-PN" in lstm and "0.6600" in lstm
    assert "_No runs yet._" in section(report, "Transformer encoder")
    pretrained = section(report, "Pretrained models as they are")
    assert table_models(pretrained) == [("mr", "distilbert-sst2"), ("mr", "minilm")] and "epochs" not in pretrained
    assert table_models(section(report, "Fine-tuned transformers")) == [("mr", "minilm")]
    header = next(line for line in report.splitlines() if line.startswith("| dataset"))
    assert header == "| dataset | model | accuracy | macro F1 | macro recall | epochs | train s | run |"
    assert "| mr | mean | 0.7000 | 0.6900 | 0.7000 | 6 | 12 | mr-mean |" in report


def test_figures_are_written_and_linked(report_path):
    report, figures = report_path.read_text(), report_path.parent / "figures"
    expected = {
        "scores-mr.png", "scores-semeval2017a.png", "curves-mr-mean.png", "curves-mr-meanmax.png",
        "confusion-mr-mean-mean.png", "confusion-mr-meanmax-meanmax.png", "confusion-semeval_bilstm-bilstm.png",
        "confusion-ft_mr-minilm-minilm.png",
    }  # fmt: skip
    assert {path.name for path in figures.iterdir()} == expected  # pretrained rows have no confusion matrix
    for name in expected:
        assert (figures / name).read_bytes().startswith(PNG_MAGIC) and f"(figures/{name})" in report
    assert "No `trainer_state.json` for: `ft/mr-minilm`, `semeval/bilstm`." in report
    rows = json.loads((report_path.parent / "report.json").read_text())
    assert len(rows) == 6 and {row["kind"] for row in rows} == {"glove", "finetuned", "pretrained"}


def test_learning_curves_come_from_the_run_folder_else_the_newest_checkpoint(runs):
    assert find_trainer_state(runs / "mr-mean") == runs / "mr-mean" / "trainer_state.json"
    assert find_trainer_state(runs / "mr-meanmax") == runs / "mr-meanmax" / "checkpoint-60" / "trainer_state.json"
    assert find_trainer_state(runs / "semeval" / "bilstm") is None


def test_cli_writes_the_report_and_names_a_missing_folder(tmp_path, capsys):
    write_run(tmp_path / "runs", "mr-mean", "mean", "mr")
    assert run_cli(main, [str(tmp_path / "runs"), "--output", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.md").is_file() and "wrote" in capsys.readouterr().out
    assert run_cli(main, [str(tmp_path / "nowhere")]) == 2
    assert f"runs folder not found: {tmp_path / 'nowhere'}" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli(main, [str(tmp_path / "empty")]) == 2
    assert "no results.json or evaluation.json under" in capsys.readouterr().err
