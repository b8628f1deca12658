"""Bad input through evaluate_pretrained.py and finetune.py: one line, status 2, nothing partial.

train.py's cases are in test_reliability.py; these reuse the tiny BERT of test_pretrained.py.
"""

import pytest

import evaluate_pretrained
import finetune
from pipelines.cli import run_cli
from tests.tiny_bert import build_tiny_bert, build_tiny_gpt2, write_semeval


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    missing = build_tiny_bert(root / "missing-weights", ["negative", "positive"])
    (missing / "model.safetensors").unlink()
    corrupt = build_tiny_bert(root / "corrupt-weights", ["negative", "positive"])
    weights = (corrupt / "model.safetensors").read_bytes()
    (corrupt / "model.safetensors").write_bytes(weights[: len(weights) // 2])  # a write cut short
    return {"data": write_semeval(root / "data"), "missing": missing, "corrupt": corrupt, "root": root}


def data_folder(root, case):
    folder = write_semeval(root / case)
    train_file = folder / "Semeval2017A" / "train_dev" / "train" / "twitter-tiny-A.tsv"
    if case == "missing file":
        (folder / "Semeval2017A" / "gold" / "SemEval2017-task4-test.subtask-A.english.txt").unlink()
    elif case == "empty file":
        train_file.write_text("")
    elif case == "malformed line":
        train_file.write_text("1\tpositive\tfine\n2\tpositive\n")
    return folder


EXPECTED = {
    "missing weights": "has no weights file (expected one of: model.safetensors",
    "corrupt weights": "Error while deserializing header",
    "missing file": "missing data file:",
    "empty file": "twitter-tiny-A.tsv: empty file",
    "malformed line": "twitter-tiny-A.tsv:2: expected id<TAB>label<TAB>text",
    "unknown dataset": "unknown --dataset 'imdb'; choose one of: mr, semeval2017a",
}


def one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(("error:", "Traceback"))]
    assert lines and not any(line.startswith("Traceback") for line in lines)
    return lines[-1]


@pytest.mark.parametrize("case", list(EXPECTED))
def test_finetune_bad_input(checkpoints, tmp_path, capsys, case):
    model = checkpoints["missing"] if case == "missing weights" else checkpoints["corrupt"]
    if not case.endswith("weights"):
        model = build_tiny_bert(tmp_path / "good", ["negative", "positive"])
    data = data_folder(tmp_path, case) if case in ("missing file", "empty file", "malformed line") else checkpoints["data"]
    dataset = "imdb" if case == "unknown dataset" else "semeval2017a"
    output_dir = tmp_path / "out"
    argv = ["--model", str(model), "--dataset", dataset, "--data-dir", str(data), "--output_dir", str(output_dir)]
    assert run_cli(finetune.main, [*argv, "--num_train_epochs", "1"]) == 2
    assert EXPECTED[case] in one_error_line(capsys)
    assert not output_dir.exists()  # not even an empty folder: the run never started


def test_finetune_a_tokenizer_without_pad_or_end_of_text_token_stops_before_writing(checkpoints, tmp_path, capsys):
    """DataCollatorWithPadding failed at the first batch with a traceback, after run_definition.json and .run.lock were
    written. (One with an end-of-text token pads with it: test_finetune.py.)"""
    model, output_dir = build_tiny_gpt2(tmp_path / "gpt2", ["negative", "positive"], eos=False), tmp_path / "out"
    argv = ["--model", str(model), "--dataset", "semeval2017a", "--data-dir", str(checkpoints["data"]), "--output_dir", str(output_dir)]
    assert run_cli(finetune.main, [*argv, "--num_train_epochs", "1"]) == 2
    assert one_error_line(capsys) == (
        f"error: the tokenizer of {model} has no pad token and no end-of-text token to pad with; give --model one that has "
        "either (save its tokenizer with pad_token set)"
    )
    assert not output_dir.exists()  # not even an empty folder: the run never started


@pytest.mark.parametrize("case", ["missing weights", "corrupt weights"])
def test_evaluate_pretrained_reports_a_broken_checkpoint_and_writes_nothing(checkpoints, tmp_path, capsys, case):
    model = checkpoints["missing" if case == "missing weights" else "corrupt"]
    argv = ["--dataset", "semeval2017a", "--data-dir", str(checkpoints["data"]), "--output_dir", str(tmp_path / "out")]
    assert run_cli(evaluate_pretrained.main, [*argv, "--models", str(model)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors[0].startswith(f"error: {model}: ") and EXPECTED[case] in errors[0]
    assert errors[-1] == f"error: no model could be scored on semeval2017a: {model}"
    assert not (tmp_path / "out").exists()  # not even an empty folder


def test_unwritable_output_folder_stops_before_any_work(checkpoints, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    model = build_tiny_bert(tmp_path / "good", ["negative", "positive"])
    argv = ["--model", str(model), "--dataset", "semeval2017a", "--data-dir", str(checkpoints["data"])]
    assert run_cli(finetune.main, [*argv, "--output_dir", str(a_file / "out")]) == 2
    assert "output folder not writable" in one_error_line(capsys)


def test_evaluate_pretrained_unwritable_output_stops_before_scoring(checkpoints, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    model = build_tiny_bert(tmp_path / "good", ["negative", "positive"])
    argv = ["--dataset", "semeval2017a", "--data-dir", str(checkpoints["data"]), "--models", str(model)]
    assert run_cli(evaluate_pretrained.main, [*argv, "--output_dir", str(a_file / "out")]) == 2
    assert "output folder not writable" in one_error_line(capsys)
