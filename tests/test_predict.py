"""python -m pipelines.predict: every input and output format, as-is scorers, and bad input in one line."""

import csv
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipelines.cli import run_cli
from pipelines.inference import TorchSequenceClassifier
from pipelines.predict import main
from tests.tiny_glove import build_tiny_glove

TEXTS = ["a good fun film", "the movie is n't good , but it is not bad", "dull", "very very very bad ! " * 10]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return build_tiny_glove(tmp_path_factory.mktemp("predict") / "mean", "mean")


def write(path, rows: dict) -> None:
    frame = pd.DataFrame(rows)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)


def read(path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", keep_default_na=False)


@pytest.mark.parametrize("source, target", [(".csv", ".csv"), (".tsv", ".jsonl"), (".jsonl", ".parquet"), (".parquet", ".tsv")])
def test_rows_come_back_with_label_and_probabilities(tmp_path, model, source, target):
    given, output = tmp_path / f"in{source}", tmp_path / f"out{target}"
    write(given, {"id": [10, 11, 12, 13], "text": TEXTS})
    assert run_cli(main, ["--model", str(model), "--input", str(given), "--output", str(output), "--batch_size", "3"]) == 0
    table = read(output)
    expected = TorchSequenceClassifier.from_pretrained(model).probabilities(TEXTS)
    assert list(table.columns) == ["id", "text", "label", "probability_negative", "probability_positive"]
    assert table["id"].tolist() == [10, 11, 12, 13] and table["text"].tolist() == TEXTS
    np.testing.assert_allclose(table[["probability_negative", "probability_positive"]].to_numpy(), expected, atol=1e-6)
    assert table["label"].tolist() == [["negative", "positive"][i] for i in expected.argmax(axis=1)]


def test_an_as_is_scorer_over_the_given_classes_and_empty_texts_kept(tmp_path, capsys):
    given, output = tmp_path / "tweets.csv", tmp_path / "labelled.csv"
    given.write_text("tweet\na wonderful film\n\"\"\na terrible mess\n")
    argv = ["--model", "afinn", "--input", str(given), "--output", str(output), "--class_names", "negative,positive"]
    assert run_cli(main, argv) == 0
    table = read(output)
    assert table["label"].tolist() == ["positive", "negative", "negative"]  # the empty text is a tie: the first class
    assert table["probability_positive"].tolist() == [1.0, 0.5, 0.0]
    assert "1 rows with empty text" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, extra, message",
    [
        ('{"text": "fine"}\n{"text": 5}\n', [], "data row 2 (1-based): text 5 in column 'text' is not a string"),
        ('{"review": "fine"}\n', ["--text_column", "body"], "no column 'body' (--text_column)"),
        ('{"text": "fine", "label": "x"}\n', [], "already has column 'label'"),
        ('{"text": "fine"}\n', ["--class_names", "bad,good"], "--class_names is for lexicon and zero-shot models"),
        ('{"text": "fine"}\n', ["--encoding", "nope"], "unknown --encoding 'nope'"),
        ('{"text": "fine"}\n', ["--device", "gpu"], "--device must be cpu, cuda, cuda:N, mps or xpu, got 'gpu'"),
        ('{"text": "fine"}\n', ["--device", "cuda:7"], "--device cuda:7: this machine has no such device"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, model, content, extra, message):
    given = tmp_path / "in.jsonl"
    given.write_text(content)
    output = tmp_path / "out" / "predictions.csv"
    assert run_cli(main, ["--model", str(model), "--input", str(given), "--output", str(output), *extra]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(("error:", "Traceback"))]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


def test_bad_options_and_an_existing_output_are_refused(tmp_path, capsys, model):
    given = tmp_path / "in.csv"
    given.write_text("text\nfine\n")
    for output, message in ((tmp_path / "out.xlsx", "unknown extension '.xlsx'"), (given, "is the --input file")):
        assert run_cli(main, ["--model", str(model), "--input", str(given), "--output", str(output)]) == 2
        assert message in capsys.readouterr().err
    existing = tmp_path / "done.jsonl"
    existing.write_text(json.dumps({"kept": True}) + "\n")
    assert run_cli(main, ["--model", str(model), "--input", str(given), "--output", str(existing)]) == 2
    assert "exists; choose another file or pass --overwrite" in capsys.readouterr().err
    assert existing.read_text() == json.dumps({"kept": True}) + "\n"
    assert run_cli(main, ["--model", str(model), "--input", str(given), "--output", str(existing), "--overwrite"]) == 0
    assert read(existing)["text"].tolist() == ["fine"]


def test_a_tsv_output_reads_back_as_its_input_text_and_a_text_tsv_cannot_hold_is_refused(tmp_path, capsys):
    """Round 25's new-user trial: a .tsv output was quoted CSV-style (`"quoted" great` became `\"\"\"quoted\"\" great\"`),
    which the toolkit's TSV reader (unquoted, as SemEval's files are) then read as the text."""
    from pipelines.data.files import read_data_file

    given, output = tmp_path / "in.tsv", tmp_path / "out.tsv"
    given.write_text('id\ttext\n5\t"quoted" great\n6\tplain dull\n')
    assert run_cli(main, ["--model", "vader", "--input", str(given), "--output", str(output)]) == 0
    assert list(read_data_file(str(output))["text"]) == ['"quoted" great', "plain dull"]
    tabbed, refused = tmp_path / "tabbed.jsonl", tmp_path / "refused.tsv"
    tabbed.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"text": "a\ttab"}) + "\n")
    capsys.readouterr()
    assert run_cli(main, ["--model", "vader", "--input", str(tabbed), "--output", str(refused)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: {refused}: row 2's 'text' holds a tab or a line break, which a .tsv file cannot hold as the toolkit "
        "reads TSV (unquoted); write .csv, .jsonl or .parquet"
    )
    assert not refused.exists() and not list(tmp_path.glob(".refused*"))


def test_every_input_column_is_written_back_as_it_was_read(tmp_path, model):
    """The review: `00001,02139,True` came back `1.0,2139,True` (`"id":1.0` in JSON lines): pandas had typed the cells;
    and a column of numbers for 10,000 rows then a word was refused naming neither (`datasets` types each chunk alone)."""
    rows = [["id", "zip", "flag", "text"], ["00001", "02139", "True", "pure joy !"], ["1e5", "", "NA", ""]]
    rows += [[str(i), str(i), "0", "dull"] for i in range(10_000)] + [["A7", "n/a", "x", "a good fun film"]]
    given = tmp_path / "in.csv"
    with open(given, "w", newline="") as stream:
        csv.writer(stream).writerows(rows)
    for output in (tmp_path / "out.csv", tmp_path / "out.jsonl"):
        assert run_cli(main, ["--model", str(model), "--input", str(given), "--output", str(output), "--batch_size", "512"]) == 0
    with open(tmp_path / "out.csv", newline="") as stream:
        assert [row[:4] for row in csv.reader(stream)] == rows
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert {key: first[key] for key in rows[0]} == dict(zip(rows[0], rows[1]))


def test_integers_with_a_missing_value_stay_integers_in_json_lines_and_parquet(tmp_path, model):
    """The review: `{"id": 1}` beside `{"id": null}` came back `1.0` (`Dataset.to_pandas` makes such a column float)."""
    given = tmp_path / "in.jsonl"
    given.write_text('{"id": 1, "ok": true, "text": "pure joy"}\n{"id": null, "ok": null, "text": "dull"}\n')
    for name in ("out.jsonl", "out.csv", "out.parquet"):
        assert run_cli(main, ["--model", str(model), "--input", str(given), "--output", str(tmp_path / name)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(row["id"], row["ok"]) for row in rows] == [(1, True), (None, None)]
    with open(tmp_path / "out.csv", newline="") as stream:
        assert [row[:2] for row in csv.reader(stream)] == [["id", "ok"], ["1", "True"], ["", ""]]
    assert pq.read_table(tmp_path / "out.parquet").column("id").to_pylist() == [1, None]


def test_an_output_that_is_a_folder_is_refused_before_the_model_runs(tmp_path, capsys, model):
    """The review: `--output` naming a folder, with `--overwrite`, ended in an IsADirectoryError traceback after the model ran."""
    given, folder = tmp_path / "in.csv", tmp_path / "out.csv"
    given.write_text("text\nfine\n")
    folder.mkdir()
    assert run_cli(main, ["--model", str(model), "--input", str(given), "--output", str(folder), "--overwrite"]) == 2
    assert capsys.readouterr().err.strip() == f"error: --output {folder} is a folder; give the file to write, e.g. {folder / 'predictions.csv'}"
    assert list(folder.iterdir()) == [] and sorted(path.name for path in tmp_path.iterdir()) == ["in.csv", "out.csv"]
