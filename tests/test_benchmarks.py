"""A benchmark is one entry: a toy third one, registered in a few lines, trains through train.py
and appears in the report."""

import json
import random

import pytest

import train
from pipelines.report import main as report_main
from pipelines.benchmarks import (
    BENCHMARKS, Benchmark, closest_benchmark, get_benchmark, official_metric_for, read_mr, read_semeval2017a, register_benchmark,
)
from pipelines.cli import run_cli
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.errors import OptionError
from tests.conftest import polar_sentence
from tests.tiny_bert import write_mr, write_semeval


def read_toy(folder):
    """`train.txt` and `test.txt`, lines `label<TAB>text`."""
    return {
        split: [(text, label) for label, text in (line.split("\t", 1) for line in (folder / f"{split}.txt").read_text().splitlines())]
        for split in ("train", "test")
    }


@pytest.fixture
def toy(tmp_path):
    register_benchmark(
        Benchmark(
            name="toy", title="Toy reviews", label_names=("bad", "good"), reader=read_toy, folder="Toy",
            layout="<data_dir>/Toy/{train,test}.txt, lines label<TAB>text", official_metric="f1_macro",
        )
    )
    rng, folder = random.Random(0), tmp_path / "data" / "Toy"
    folder.mkdir(parents=True)
    for split, count in (("train", 40), ("test", 10)):
        lines = [f"{label}\t{polar_sentence(rng, sentiment)}" for _ in range(count) for label, sentiment in (("bad", "negative"), ("good", "positive"))]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    yield tmp_path / "data"
    del BENCHMARKS["toy"]


def test_a_registered_benchmark_trains_through_train_py(toy, tmp_path, tiny_glove):
    output_dir = tmp_path / "out"
    argv = ["--dataset", "toy", "--data-dir", str(toy), "--model", "mean", "--embeddings", str(tiny_glove)]
    argv += ["--output_dir", str(output_dir), "--num_train_epochs", "3", "--learning_rate", "0.02", "--report_to", "none"]
    assert run_cli(train.main, argv) == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert results["dataset"] == "toy" and results["label_names"] == ["bad", "good"]
    assert results["data"] == {"source": "builtin", "dataset": "toy", "data_dir": str(toy), "test_held_out": False}
    assert {name: scores["support"] for name, scores in results["per_class"].items()} == {"bad": 10, "good": 10}

    assert run_cli(report_main, [str(output_dir), "--output", str(tmp_path / "report"), "--aso_iterations", "20"]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## toy\n\nOfficial metric: macro F1." in report  # the entry's official metric, not one inferred
    row = next(line for line in report.splitlines() if line.startswith("| mean | frozen vectors, learning rate 0.02 | lab split | 1 seed |"))
    assert f"| {results['test']['f1_macro']:.4f} |" in row


def test_an_entry_holds_what_the_flows_ask(toy):
    dataset = load_sentiment_dataset("toy", toy)
    assert (dataset["train"].num_rows, dataset["test"].num_rows) == (80, 20)
    assert dataset["train"].features["label"].names == ["bad", "good"]
    assert official_metric_for("toy", ["bad", "good"]) == "f1_macro"  # from the entry, not inferred


def test_builtin_entries_and_the_rule_for_other_data():
    assert official_metric_for("semeval2017a", None) == "recall_macro" and official_metric_for("mr", None) == "accuracy"
    assert official_metric_for("my_tweets", ["negative", "neutral", "positive"]) == "recall_macro"  # inferred
    assert get_benchmark("semeval2017a").fixed_test_set and not get_benchmark("mr").fixed_test_set
    assert closest_benchmark(["Negative", "Neutral", "Positive"]).name == "semeval2017a"
    assert closest_benchmark(["bad", "good"]).name == "mr"
    with pytest.raises(OptionError, match="unknown --dataset 'imdb'; choose one of: mr, semeval2017a"):
        get_benchmark("imdb")
    with pytest.raises(ValueError, match="official_metric 'auc' is not one of"):
        register_benchmark(Benchmark("x", "x", ("a", "b"), read_toy, "X", "x", official_metric="auc"))


def test_the_closest_benchmark_is_found_by_what_the_labels_mean():
    """The review: `neg,neu,pos` shared no raw name with either benchmark, so the tie picked MR's two-label models."""
    for spelled in (["neg", "neu", "pos"], ["NEG", "NEU", "POS"]):
        assert closest_benchmark(spelled).name == "semeval2017a"
    assert closest_benchmark(["NEG", "POS"]).name == "mr"


def test_a_line_breaks_only_at_a_line_end(tmp_path):
    """The review: `str.splitlines` also broke at Latin-1's byte 0x85 (an MR sentence became two and the lab split
    shifted, exit 0) and at U+2028 (a SemEval tweet refused, with a wrong line number). CRLF and a lone CR (old Mac
    files) still end a line."""
    root = write_semeval(write_mr(tmp_path, test_per_class=2))
    pos = root / "MR" / "rt-polarity.pos"
    lines = pos.read_text().splitlines()
    lines[0] = "wait for it \x85 a wonderful film"
    pos.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))  # not UTF-8: read as Latin-1, as Cornell's release
    splits = read_mr(root / "MR")
    assert (len(splits["train"]), len(splits["test"])) == (10_000, 4) and ("wait for it \x85 a wonderful film", "positive") in splits["train"]
    assert splits["test"][-1] == (lines[-1], "positive")
    neg = root / "MR" / "rt-polarity.neg"
    neg.write_bytes(neg.read_bytes().replace(b"\n", b"\r"))  # old Mac line ends
    assert read_mr(root / "MR") == splits
    gold = root / "Semeval2017A" / "gold" / "SemEval2017-task4-test.subtask-A.english.txt"
    tweets = gold.read_text().splitlines()
    tweets[0] = "9000\tpositive\tfirst line\u2028second line"
    gold.write_text("\n".join(tweets) + "\n")
    test = read_semeval2017a(root / "Semeval2017A")["test"]
    assert len(test) == 12 and test[0] == ("first line\u2028second line", "positive")
