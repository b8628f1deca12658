"""`--class_weights`: sklearn's balanced weights, the weighted cross-entropy by hand, both flows' results.json."""

import json
import math
import re

import pytest
import torch

import finetune
import train
from pipelines.cli import run_cli
from pipelines.errors import DataError, OptionError
from pipelines.losses import class_weights_for, sentiment_loss
from tests.tiny_bert import build_tiny_bert, write_semeval

LABELS = ["negative", "neutral", "positive"]


def test_balanced_weights_are_n_samples_over_classes_times_count():
    # 6 rows: counts 1, 3, 2 -> 6 / (3 * count)
    assert class_weights_for("balanced", [0, 1, 1, 1, 2, 2], LABELS) == pytest.approx([2.0, 2 / 3, 1.0])
    assert class_weights_for(" 1, 0.5 ,2", [0, 1, 2], LABELS) == [1.0, 0.5, 2.0]
    assert class_weights_for(None, [0, 1], LABELS) is None


@pytest.mark.parametrize(
    ("setting", "labels", "error", "message"),
    [
        ("1,2", [0, 1, 2], OptionError, "needs 3 positive weights, one per label in order (negative, neutral, positive)"),
        ("1,0,1", [0, 1, 2], OptionError, "must all be positive numbers"),
        ("heavy", [0, 1, 2], OptionError, "takes 'balanced' or comma-separated numbers"),
        ("balanced", [0, 0, 2], DataError, "the training split has no neutral rows"),
    ],
)
def test_bad_class_weights_name_the_option(setting, labels, error, message):
    with pytest.raises(error, match=re.escape(message)):
        class_weights_for(setting, labels, LABELS)


def test_weighted_loss_equals_a_hand_computation():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [0.0, 1.0, 3.0]])
    labels = torch.tensor([0, 1, 1])
    weights = torch.tensor([2.0, 0.5, 1.0])

    def minus_log_p(row, label):
        return -(logits[row, label].item() - math.log(sum(math.exp(v) for v in logits[row].tolist())))

    losses = [minus_log_p(row, label) for row, label in enumerate(labels.tolist())]
    by_hand = (2.0 * losses[0] + 0.5 * losses[1] + 0.5 * losses[2]) / (2.0 + 0.5 + 0.5)
    assert sentiment_loss(logits, labels, class_weights=weights).item() == pytest.approx(by_hand, rel=1e-6)
    unweighted = sum(losses) / 3
    assert sentiment_loss(logits, labels).item() == pytest.approx(unweighted, rel=1e-6)
    assert abs(by_hand - unweighted) > 0.1  # the weights matter on this batch


def test_train_records_balanced_weights_from_the_training_split(tmp_path, tiny_semeval, tiny_glove):
    output_dir = tmp_path / "out"
    argv = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
            "--output_dir", str(output_dir), "--num_train_epochs", "1", "--class_weights", "balanced", "--report_to", "none"]
    assert run_cli(train.main, argv) == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert results["class_weights"] == "balanced"
    # the fixture's 300 training rows cycle through the labels: 100 each, 80 each after the 20% hold-out
    assert results["class_weight_values"] == pytest.approx([1.0, 1.0, 1.0])


def test_finetune_takes_explicit_weights(tmp_path):
    data = write_semeval(tmp_path / "data")
    base = build_tiny_bert(tmp_path / "base", LABELS)
    output_dir = tmp_path / "out"
    argv = ["--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(data), "--output_dir", str(output_dir),
            "--num_train_epochs", "1", "--per_device_train_batch_size", "8", "--report_to", "none",
            "--max_train_samples", "24", "--max_eval_samples", "6", "--class_weights", "1,3,1"]
    assert run_cli(finetune.main, argv) == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert results["class_weights"] == [1.0, 3.0, 1.0] and results["class_weight_values"] == [1.0, 3.0, 1.0]


def test_bad_class_weights_on_the_command_line_is_one_line(tmp_path, tiny_semeval, tiny_glove, capsys):
    output_dir = tmp_path / "out"
    argv = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
            "--output_dir", str(output_dir), "--class_weights", "1,2"]
    assert run_cli(train.main, argv) == 2
    assert "error: --class_weights needs 3 positive weights" in capsys.readouterr().err
    assert run_cli(train.main, [*argv[:-1], "1,-2,1"]) == 2  # the form is checked before anything is written
    assert "error: --class_weights must all be positive numbers, got '1,-2,1'" in capsys.readouterr().err
