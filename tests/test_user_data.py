"""Your own data: local files in every format, Hub datasets, label rules, hold-outs and bad input."""

import gzip
import json
import random
import re
import shutil

import datasets
import httpx
import huggingface_hub
import pandas as pd
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from datasets.packaged_modules.json.json import Json

import evaluate_pretrained
import finetune
import train
from pipelines import hub_access
from pipelines.cli import run_cli
from pipelines.data import load_data
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.data.files import load_user_dataset
from pipelines.errors import DataError
from pipelines.hub_access import HubUnreachable
from pipelines.model_card import card_data, card_text
from pipelines.pretrained import PretrainedArguments
from pipelines.runs.record import RunRecord
from pipelines.splits import load_train_test, protocol_info, split_validation
from pipelines.training import DataArguments
from tests.conftest import polar_sentence
from tests.tiny_bert import NEGATIVE, NEUTRAL, POSITIVE, build_tiny_bert

FAST = ["--num_train_epochs", "4", "--per_device_train_batch_size", "16", "--learning_rate", "0.02", "--report_to", "none"]
SENTIMENTS = ["positive", "negative", "neutral"]


def records(per_class=20, labels=SENTIMENTS, seed=0, text="text", label="label"):
    rng = random.Random(seed)
    polar = {name: name if name in SENTIMENTS else SENTIMENTS[i % 3] for i, name in enumerate(labels)}
    return [{text: polar_sentence(rng, polar[name]), label: name} for _ in range(per_class) for name in labels]


def write(path, rows):
    """`rows` (a list of dicts) as the file's extension says, written by pandas."""
    frame = pd.DataFrame(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif path.suffix in (".json", ".jsonl"):
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    return path


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def names(dataset):
    return dataset["train"].features["label"].names


# --- formats and columns -------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_every_format_loads_to_text_and_classlabel(tmp_path, extension):
    rows = records(text="sentence", label="sentiment")  # found by the default column lists
    dataset, description = load_user_dataset({"train": str(write(tmp_path / f"train{extension}", rows))})
    assert dataset["train"].features == Features(
        {"text": Value("string"), "label": ClassLabel(names=["negative", "neutral", "positive"])}
    )
    assert dataset["train"]["text"] == [row["sentence"] for row in rows]
    assert dataset["train"].features["label"].int2str(dataset["train"]["label"][:3]) == SENTIMENTS
    assert (description["text_column"], description["label_column"]) == ("sentence", "sentiment")
    assert len(description["sha256"][str(tmp_path / f"train{extension}")]) == 12


def test_a_file_rewritten_with_its_old_modification_time_is_read_anew(tmp_path):
    """`datasets` caches a local file by path and modification time: a file rewritten with its old time kept (`cp -p`,
    `rsync -a`) was read as its earlier version (exit 0) while the record named the new bytes' digest."""
    import os

    path = write_lines(tmp_path / "c.csv", ["text,label", "good film,positive", "bad film,negative"])
    first, _ = load_user_dataset({"test": str(path)})
    kept = os.stat(path)
    write_lines(path, ["text,label", "bad film,positive", "good film,negative"])  # same size, labels swapped
    os.utime(path, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    second, description = load_user_dataset({"test": str(path)})
    assert first["test"]["text"] == ["good film", "bad film"] and second["test"]["text"] == ["bad film", "good film"]
    labels = second["test"].features["label"].int2str(second["test"]["label"])
    assert labels == ["positive", "negative"] and len(description["sha256"][str(path)]) == 12


def test_columns_by_option_and_na_stays_text(tmp_path):
    path = write_lines(tmp_path / "d.csv", ["id,body,stars", "1,NA,good", "2,null,bad", "3,fine,good"])
    dataset, _ = load_user_dataset({"train": str(path)}, text_column="body", label_column="stars")
    assert dataset["train"]["text"] == ["NA", "null", "fine"] and names(dataset) == ["bad", "good"]


# --- quotes, missing labels and encodings: each kind of input once ---------------------------------


def test_tsv_reads_quotes_as_text(tmp_path):
    tweets = [f"tweet {i} is good" if i % 2 else f"tweet {i} is bad" for i in range(40)]
    tweets[3], tweets[19], tweets[30] = '"so it begins', 'that was fun lol"', 'he said "fine" and left'
    lines = ["tweet\tsentiment"] + [f"{text}\t{'positive' if i % 2 else 'negative'}" for i, text in enumerate(tweets)]
    dataset, _ = load_user_dataset({"train": str(write_lines(tmp_path / "tweets.tsv", lines))})
    assert dataset["train"]["text"] == tweets  # 40 rows, every quote kept as text


def test_tsv_row_with_an_extra_tab_names_its_line(tmp_path):
    path = write_lines(tmp_path / "t.tsv", ["text\tlabel", "good\tpositive", "bad\tday\tnegative"])
    with pytest.raises(DataError, match=r"t\.tsv: cannot be read as TSV: .*Expected 2 fields in line 3, saw 3"):
        load_user_dataset({"train": str(path)})


@pytest.mark.parametrize(
    "lines", [["text,label", "great, fun,pos", "bad, film,neg"], ["text,label", "", "great, fun,pos", "bad film,neg", "good,pos"]],
    ids=["every row", "the first row only"],
)
def test_csv_rows_wider_than_the_header_are_refused_not_read_shifted(tmp_path, lines):
    """pandas took the extra first field for an index column: the texts became ' fun', ' film' (exit 0), or, where only the
    first row was wider, the next rows lost their labels ("missing label")."""
    path = write_lines(tmp_path / "w.csv", lines)
    with pytest.raises(DataError) as error:
        load_user_dataset({"train": str(path)})
    assert str(error.value) == (f"{path}: data row 1 (line 3) " if "" in lines else f"{path}: data row 1 (line 2) ") + (
        "has 3 fields, more than the header's 2 (text, label); a text that holds a comma must be quoted, e.g. \"great, fun\",positive"
    )
    quoted = write_lines(tmp_path / "q.csv", ["text,label", '"great, fun",pos', '"bad, film",neg'])
    assert load_user_dataset({"train": str(quoted)})[0]["train"]["text"] == ["great, fun", "bad, film"]


def test_two_spellings_of_one_label_that_differ_in_case_are_refused_naming_a_row_of_each(tmp_path):
    """'Positive' and 'positive' in one train file trained a 3-class model (exit 0)."""
    rows = [{"text": "good", "label": "Positive"}, {"text": "bad", "label": "negative"}, {"text": "fine", "label": "positive"}]
    with pytest.raises(DataError) as error:
        load_user_dataset({"train": str(write(tmp_path / "t.csv", rows))})
    assert str(error.value) == (f"{tmp_path / 't.csv'}: labels 'Positive' in data row 1 and 'positive' in data row 3 (1-based, not "
                                "counting the header) differ only in case and would be two classes; spell each class one way")  # fmt: skip
    assert names(load_user_dataset({"train": str(write(tmp_path / "u.csv", rows[:2]))})[0]) == ["negative", "Positive"]


def test_csv_quote_never_closed_names_the_row_where_it_opens(tmp_path):
    lines = ["text,label", '"a quoted, multi-line', 'cell",positive', "fine,negative", '"never closed,positive', "ok,negative"]
    with pytest.raises(DataError, match=r"q\.csv: a quote opens in data row 3 \(1-based, not counting the header\)"):
        load_user_dataset({"train": str(write_lines(tmp_path / "q.csv", lines))})


def test_csv_stray_quotes_that_swallow_rows_stop_at_the_opening_row(tmp_path):
    tweets = [f"tweet {i} is good" if i % 2 else f"tweet {i} is bad" for i in range(40)]
    tweets[3], tweets[19] = '"so it begins', 'that was fun lol"'  # CSV reads rows 4..20 as one quoted text
    lines = ["tweet,sentiment"] + [f"{text},{'positive' if i % 2 else 'negative'}" for i, text in enumerate(tweets)]
    with pytest.raises(DataError, match=r"t\.csv: data row 4 \(1-based, not counting the header\): a quote opens here "
                       r"and closes 16 line\(s\) later"):
        load_user_dataset({"train": str(write_lines(tmp_path / "t.csv", lines))})
    lines = ["id,text,label", '1,"Great film, good', 'loved it",good', "2,meh,bad"]  # a real multi-line cell
    dataset, _ = load_user_dataset({"train": str(write_lines(tmp_path / "ok.csv", lines))})
    assert dataset["train"]["text"] == ["Great film, good\nloved it", "meh"]


MISSING = {  # file name -> how a missing label is spelled in it
    "empty.csv": "text,label\ngood,positive\nbad,\nmeh,negative\n",
    "spaces.csv": "text,label\ngood,positive\nbad,   \nmeh,negative\n",
    "na.csv": "text,label\ngood,positive\nbad,NA\nmeh,negative\n",
    "n_a.csv": "text,label\ngood,positive\nbad,N/A\nmeh,negative\n",
    "nan.tsv": "text\tlabel\ngood\tpositive\nbad\tNaN\nmeh\tnegative\n",
    "null.csv": "text,label\ngood,positive\nbad,null\nmeh,negative\n",
    "none.csv": "text,label\ngood,positive\nbad,None\nmeh,negative\n",
    "json_null.jsonl": '{"text": "good", "label": "positive"}\n{"text": "bad", "label": null}\n{"text": "meh", "label": "negative"}\n',
    "json_na.jsonl": '{"text": "good", "label": "positive"}\n{"text": "bad", "label": "NA"}\n{"text": "meh", "label": "negative"}\n',
    "int_null.jsonl": '{"text": "good", "label": 1}\n{"text": "bad", "label": null}\n{"text": "meh", "label": 0}\n',
    "none.parquet": ["positive", None, "negative"],
    "nan.parquet": [1.0, float("nan"), 0.0],
}


@pytest.mark.parametrize("name", list(MISSING))
def test_every_spelling_of_a_missing_label_stops_at_its_row(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".parquet"):
        pd.DataFrame({"text": ["good", "bad", "meh"], "label": MISSING[name]}).to_parquet(path)
    else:
        path.write_text(MISSING[name], encoding="utf-8")
    with pytest.raises(DataError, match=r": data row 2 \(1-based.*\): missing label .* in column 'label' \(1 row without"):
        load_user_dataset({"train": str(path)})


def test_missing_labels_are_counted_and_a_listed_class_is_not_missing(tmp_path):
    path = write_lines(tmp_path / "d.csv", ["text,label", "good,positive", "bad,NA", "meh,None", "ok,NA"])
    with pytest.raises(DataError, match=r"\(3 rows without a label: data rows 2, 3, 4\); label or remove them; if 'NA' is a class"):
        load_user_dataset({"train": str(path)})
    dataset, _ = load_user_dataset({"train": str(path)}, class_names=["NA", "None", "positive"])
    assert dataset["train"]["label"] == [2, 0, 1, 0]


CP1252_TEXT = "Niño’s café — très émouvant"


def test_a_cp1252_file_names_line_bytes_detected_encoding_and_option(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(f"text,label\ngood film,positive\n{CP1252_TEXT},positive\nbad,negative\n".encode("cp1252"))
    with pytest.raises(DataError) as caught:
        load_user_dataset({"train": str(path)})
    assert str(caught.value) == (
        f"{path}: line 3: bytes b'\\xf1' after 'Ni' are not valid utf-8; "
        "it reads best as cp1252: give --encoding cp1252 (or the file's own encoding)"
    )
    dataset, description = load_user_dataset({"train": str(path)}, encoding="cp1252")
    assert dataset["train"]["text"][1] == CP1252_TEXT and description["encoding"] == "cp1252"


WESTERN = ["Œuvre não coração", "São Paulo ã", "“bon” film — très"]  # charset-normalizer 3 guesses cp1250 for these
POLISH = ["Żółć zbyt słodka", "ładny film ale było źle", "świetna gra aktorów i wątek"]


def encoded_csv(path, texts, encoding):
    rows = "".join(f"{text},{label}\n" for text, label in zip(texts * 3, ["positive", "negative"] * 5))
    path.write_bytes(("text,label\n" + rows).encode(encoding))
    return path


@pytest.mark.parametrize("texts, encoding", [(WESTERN, "cp1252"), (POLISH, "cp1250")])
def test_the_advised_encoding_is_the_one_that_reads_the_text(tmp_path, texts, encoding):
    path = encoded_csv(tmp_path / "export.csv", texts, encoding)
    with pytest.raises(DataError, match=f"it reads best as {encoding}: give --encoding {encoding} "):
        load_user_dataset({"train": str(path)})
    assert load_user_dataset({"train": str(path)}, encoding=encoding)[0]["train"]["text"][:3] == texts


def test_latin1_on_a_cp1252_export_stops_naming_the_lines_and_cp1252(tmp_path):
    path = encoded_csv(tmp_path / "export.csv", WESTERN, "cp1252")
    with pytest.raises(DataError) as caught:
        load_user_dataset({"train": str(path)}, encoding="latin-1")
    assert str(caught.value).startswith(f"{path}: read as latin-1, 6 of 10 lines (first line 2: '\\x8cuvre")
    assert str(caught.value).endswith("hold C1 control characters (U+0080-U+009F), which text does not; it reads best as cp1252: give --encoding cp1252")


def test_cp1252_on_a_cp1250_file_warns_of_symbols_inside_words(tmp_path):
    path = encoded_csv(tmp_path / "export.csv", POLISH, "cp1250")
    with pytest.warns(UserWarning, match=r"read as cp1252, 9 of 10 lines .* symbols or digits inside words; it reads best as cp1250"):
        load_user_dataset({"train": str(path)}, encoding="cp1252")


@pytest.mark.parametrize("extension, line", [(".tsv", 2), (".jsonl", 1)])
def test_latin1_files_read_with_encoding(tmp_path, extension, line):
    text = "un film très émouvant, à voir"
    if extension == ".tsv":
        content = f"text\tlabel\n{text}\tpositive\nnul\tnegative\n"
    else:
        content = f'{{"text": "{text}", "label": "positive"}}\n{{"text": "nul", "label": "negative"}}\n'
    path = tmp_path / f"fr{extension}"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(DataError, match=rf"fr\{extension}: line {line}: bytes b'\\xe8' after '.*un film tr' are not valid utf-8; .*give --encoding"):
        load_user_dataset({"train": str(path)})
    dataset, _ = load_user_dataset({"train": str(path)}, encoding="latin-1")
    assert dataset["train"]["text"] == [text, "nul"]


# --- label order -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, class_names, expected",
    [
        (["Positive", "Negative"], None, ["Negative", "Positive"]),  # sentiment order, any case
        (["positive", "neutral", "negative"], None, ["negative", "neutral", "positive"]),
        (["sports", "arts", "news"], None, ["arts", "news", "sports"]),  # else sorted
        (["sports", "arts", "news"], ["sports", "news", "arts"], ["sports", "news", "arts"]),  # as given
        ([0, 2, 1], None, ["0", "1", "2"]),
        ([1, 0], ["bad", "good"], ["bad", "good"]),
        ([5, 1, 3], None, ["1", "3", "5"]),  # integers that are not 0..k-1 are numbered in order
    ],
)
def test_label_order_rules(tmp_path, labels, class_names, expected):
    path = write(tmp_path / "train.jsonl", records(per_class=3, labels=labels))
    dataset, description = load_user_dataset({"train": str(path)}, class_names=class_names)
    assert names(dataset) == description["class_names"] == expected
    first = dataset["train"].features["label"].int2str(dataset["train"]["label"][0])
    assert first == (class_names[labels[0]] if isinstance(labels[0], int) and class_names else str(labels[0]))


def test_integer_labels_take_classlabel_names_from_the_file(tmp_path):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    Dataset.from_dict({"text": ["a good film", "a bad film"] * 3, "label": [1, 0] * 3}, features=features).to_parquet(
        tmp_path / "train.parquet"
    )
    dataset, _ = load_user_dataset({"train": str(tmp_path / "train.parquet")})
    assert names(dataset) == ["neg", "pos"] and dataset["train"]["label"][:2] == [1, 0]


def test_test_label_never_seen_in_training_names_value_file_and_row(tmp_path):
    train_file = write(tmp_path / "train.csv", records(labels=["negative", "positive"]))
    test_rows = records(per_class=2, labels=["negative", "positive"])
    test_rows[2]["label"] = "neutral"
    test_file = write(tmp_path / "test.csv", test_rows)
    with pytest.raises(ValueError) as caught:
        load_user_dataset({"train": str(train_file), "test": str(test_file)})
    assert str(caught.value) == (
        f"{test_file}: data row 3 (1-based, not counting the header): label 'neutral' is never seen in {train_file}"
    )


def test_empty_texts_are_dropped_with_a_count(tmp_path, capsys):
    rows = records(per_class=5, labels=["negative", "positive"])
    rows[1]["text"], rows[4]["text"] = "", "   "
    dataset, description = load_user_dataset({"train": str(write(tmp_path / "train.csv", rows))})
    assert len(dataset["train"]) == 8
    assert description["dropped_empty_texts"] == {str(tmp_path / "train.csv"): 2}
    assert "dropped 2 rows with empty text (data rows 2, 5)" in capsys.readouterr().out


# --- hold-outs -------------------------------------------------------------------------------------


def test_no_test_file_holds_out_a_stratified_test_split_by_seed(tmp_path):
    train_file = write(tmp_path / "my_reviews.csv", records(per_class=50))
    args = DataArguments(train_file=str(train_file))
    dataset, description = load_train_test(args, seed=7)
    assert description["test_held_out"] and description["test_fraction"] == 0.2
    assert (len(dataset["train"]), len(dataset["test"])) == (120, 30)
    assert sorted(dataset["test"]["label"]) == [0] * 10 + [1] * 10 + [2] * 10  # per class
    again, _ = load_train_test(args, seed=7)
    assert again["test"]["text"] == dataset["test"]["text"]  # the same sentences for every model with this seed
    splits = split_validation(dataset, args.validation_fraction, seed=7)
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (96, 24, 30)
    assert args.dataset_label == "my_reviews"
    # round 26's review: a file named like a benchmark took its official metric (MR's accuracy for a three-class file)
    from pipelines.benchmarks import official_metric_for

    named = DataArguments(train_file="data/mr.csv")
    assert named.dataset_label == "mr.csv" and official_metric_for(named.dataset_label, ["negative", "neutral", "positive"]) == "recall_macro"


def test_validation_and_test_files_are_used_as_given(tmp_path):
    files = {split: write(tmp_path / f"{split}.tsv", records(per_class=n, seed=i)) for i, (split, n) in enumerate(
        (("train", 10), ("validation", 3), ("test", 4))
    )}
    args = DataArguments(train_file=str(files["train"]), validation_file=str(files["validation"]), test_file=str(files["test"]))
    dataset, description = load_train_test(args, seed=0)
    assert not description["test_held_out"]
    splits = split_validation(dataset, args.validation_fraction, seed=0)
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (30, 9, 12)


def test_a_class_too_small_to_hold_out_is_named_with_its_file_and_count(tmp_path):
    rows = records(per_class=10, labels=["negative", "positive"]) + records(per_class=2, labels=["neutral"], seed=1)
    train_file = write(tmp_path / "tweets.csv", rows)
    with pytest.raises(DataError) as caught:  # the test split takes one of the two neutral rows
        load_train_test(DataArguments(train_file=str(train_file)), seed=0)
    assert str(caught.value) == (
        f"{train_file}: class 'neutral' has 1 row left after the test split was held out (2 in {train_file}), too "
        "few to hold out 0.2 of each class as the validation split (each class needs at least 2 rows); add rows of "
        "'neutral', remove them, or give --validation_file"
    )
    rows = records(per_class=10, labels=["negative", "positive"]) + records(per_class=1, labels=["neutral"], seed=1)
    with pytest.raises(DataError, match=r"class 'neutral' has 1 row, too few .* as the test split .* --test_file$"):
        load_train_test(DataArguments(train_file=str(write(tmp_path / "one.csv", rows))), seed=0)


# --- Hub datasets ----------------------------------------------------------------------------------


def test_hub_dataset_keeps_its_classlabel_names_and_the_card_names_it(monkeypatch):
    features = Features({"review": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    fake = DatasetDict(
        {split: Dataset.from_dict({"review": ["good", "bad"] * 4, "label": [1, 0] * 4}, features=features) for split in ("train", "test")}
    )
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda name, config: calls.append((name, config)) or fake)
    dataset, description = load_data(DataArguments(dataset_name="someone/reviews", dataset_config="en"))
    assert calls == [("someone/reviews", "en")] and names(dataset) == ["neg", "pos"]
    assert description == {
        "source": "hub", "dataset_name": "someone/reviews", "dataset_config": "en", "text_column": "review",
        "label_column": "label", "class_names": ["neg", "pos"], "test_held_out": False,
    }
    results = RunRecord.from_dict({"dataset": "someone/reviews", "data": description, "model": "meanmax", "test": {"accuracy": 0.5}})
    assert card_data(results, "m").datasets == ["someone/reviews"]
    assert "the Hub dataset someone/reviews (en)" in card_text(results, "m")


def unreachable_hub(monkeypatch, cache) -> list:
    """A user without HF_HUB_OFFLINE whose Hub does not answer, `cache` as the datasets cache: every
    request the Hub client sends is recorded and refused at once (no retries are waited through)."""
    sent = []

    def send(self, request, **kwargs):
        sent.append(str(request.url))
        raise httpx.ConnectError("refused by the test", request=request)

    monkeypatch.setattr(httpx.Client, "send", send)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(hub_access, "hub_reachable", lambda: False)
    return sent


def cache_as_hub_dataset(cache, repo_id, splits):
    """`splits` (split -> rows) where `datasets` caches a Hub dataset: <namespace>___<name>/<config>/<version>/<commit>/."""
    namespace, name = repo_id.split("/")
    files = {split: str(write(cache / f"source-{split}.jsonl", rows)) for split, rows in splits.items()}
    builder = Json(cache_dir=str(cache / "build"), dataset_name=name, data_files=files)
    builder.download_and_prepare()
    shutil.copytree(builder.cache_dir, cache / f"{namespace}___{name}" / "default" / "0.0.0" / "0123abcd")


def test_unreachable_hub_loads_a_cached_hub_dataset_without_asking_the_hub(tmp_path, monkeypatch):
    rows = records(per_class=4, labels=["negative", "positive"], text="review")
    cache_as_hub_dataset(tmp_path, "someone/reviews", {"train": rows, "test": rows})
    sent = unreachable_hub(monkeypatch, tmp_path)
    dataset, description = load_data(DataArguments(dataset_name="someone/reviews"))
    assert sent == []  # the Hub was never asked: without offline mode `datasets` would retry it first
    assert dataset["train"].num_rows == 8 and names(dataset) == ["negative", "positive"]
    assert description["source"] == "hub" and description["text_column"] == "review"
    assert datasets.config.HF_HUB_OFFLINE is False and huggingface_hub.constants.HF_HUB_OFFLINE is False  # restored


def test_unreachable_hub_and_an_uncached_dataset_fail_in_one_line_saying_what_to_do(tmp_path, capsys, monkeypatch):
    cache_as_hub_dataset(tmp_path, "someone/reviews", {"train": records(per_class=2, labels=["negative", "positive"])})
    sent = unreachable_hub(monkeypatch, tmp_path)
    argv = ["--dataset_name", "someone/not-cached", "--output_dir", str(tmp_path / "out")]
    assert run_cli(train.main, argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        "error: the Hub dataset 'someone/not-cached' is not in the local datasets cache and needs the Hugging Face "
        f"Hub, which is unreachable ({huggingface_hub.constants.ENDPOINT} did not answer within 3 s); load it once while the Hub "
        "is reachable (later runs read the cached copy, also with HF_HUB_OFFLINE=1), or use local files: "
        "--train_file/--test_file with .csv, .tsv, .json, .jsonl or .parquet files"
    )
    assert sent == [] and not (tmp_path / "out").exists()
    with pytest.raises(HubUnreachable, match=r"^the Hub dataset 'someone/reviews' \(config 'other'\) is not in the local"):
        load_data(DataArguments(dataset_name="someone/reviews", dataset_config="other"))  # cached, but not this config
    assert sent == []


# --- the scripts on your own data ------------------------------------------------------------------


def test_train_on_a_csv_holds_out_test_and_names_the_data(tmp_path, tiny_glove):
    train_file = write(tmp_path / "my_reviews.csv", records(per_class=40, labels=["negative", "positive"]))
    output_dir = tmp_path / "out"
    argv = ["--model", "mean", "--train_file", str(train_file), "--embeddings", str(tiny_glove), "--output_dir", str(output_dir)]
    assert run_cli(train.main, [*argv, *FAST]) == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert results["dataset"] == "my_reviews" and results["label_names"] == ["negative", "positive"]
    assert results["data"]["source"] == "files" and results["data"]["test_held_out"] is True
    assert results["data"]["sha256"] == {str(train_file): results["data"]["sha256"][str(train_file)]}
    assert sum(map(sum, results["confusion_matrix"])) == 16 and results["test"]["accuracy"] > 0.6
    assert {name: scores["support"] for name, scores in results["per_class"].items()} == {"negative": 8, "positive": 8}
    recalls = [results["per_class"][name]["recall"] for name in ("negative", "positive")]
    assert results["test"]["recall_macro"] == pytest.approx(sum(recalls) / 2)
    config = json.loads((output_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    card = (output_dir / "README.md").read_text()
    assert "local files: train `my_reviews.csv`; test: 20% of the training file, held out per class with seed 42" in card
    assert "datasets:" not in card


def test_train_reads_a_cp1252_file_with_encoding_and_stops_in_one_line_without(tmp_path, tiny_glove, capsys):
    rows = records(per_class=20, labels=["negative", "positive"])
    rows[0]["text"] = CP1252_TEXT
    train_file = tmp_path / "export.csv"
    train_file.write_bytes(pd.DataFrame(rows).to_csv(index=False).encode("cp1252"))
    argv = ["--model", "mean", "--train_file", str(train_file), "--embeddings", str(tiny_glove), *FAST]
    assert run_cli(train.main, [*argv, "--output_dir", str(tmp_path / "no")]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {train_file}: line 2: bytes b'\\xf1' after 'Ni' are not valid")
    assert not (tmp_path / "no" / "results.json").exists()
    assert run_cli(train.main, [*argv, "--encoding", "cp1252", "--output_dir", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "results.json").read_text())["data"]["encoding"] == "cp1252"


def test_finetune_on_jsonl_files_with_integer_labels(tmp_path):
    model = build_tiny_bert(tmp_path / "base", ["negative", "positive"])
    rows = [{"text": text, "label": label} for label, texts in ((0, NEGATIVE), (1, POSITIVE)) for text in texts * 3]
    train_file, test_file = write(tmp_path / "train.jsonl", rows), write(tmp_path / "test.jsonl", rows[::3])
    output_dir = tmp_path / "out"
    argv = ["--model", str(model), "--train_file", str(train_file), "--test_file", str(test_file), "--class_names", "bad,good"]
    argv += ["--output_dir", str(output_dir), "--num_train_epochs", "1", "--report_to", "none"]
    assert run_cli(finetune.main, argv) == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert results["dataset"] == "train" and results["label_names"] == ["bad", "good"]
    assert results["data"]["test_held_out"] is False and results["test_sentences"] == 8
    assert json.loads((output_dir / "config.json").read_text())["id2label"] == {"0": "bad", "1": "good"}


def test_evaluate_pretrained_maps_a_tweet_model_onto_a_user_test_file(tmp_path):
    model = build_tiny_bert(tmp_path / "tweet-model", ["NEG", "NEU", "POS"])
    rows = [{"tweet": text, "sentiment": label} for label, texts in (("positive", POSITIVE), ("neutral", NEUTRAL), ("negative", NEGATIVE)) for text in texts]
    test_file = write(tmp_path / "my_tweets.csv", rows)
    argv = ["--test_file", str(test_file), "--models", str(model), "--output_dir", str(tmp_path / "out")]
    assert run_cli(evaluate_pretrained.main, argv) == 0
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report["dataset"] == "my_tweets" and report["label_names"] == ["negative", "neutral", "positive"]
    assert report["data"]["source"] == "files" and report["test_sentences"] == 12
    (row,) = report["results"]
    assert row["labels"] == "NEG->negative; NEU->neutral; POS->positive" and "f1_pn" in row


def test_evaluate_pretrained_defaults_to_a_folder_named_after_the_file():
    args = PretrainedArguments(test_file="data/my_tweets.csv")
    assert args.output_dir == "runs/pretrained-my_tweets" and args.models == []


# --- bad input: one line, status 2, nothing written ------------------------------------------------

BAD_INPUT = {
    "missing file": "data file not found: {tmp}/nowhere.csv",
    "unknown extension": "{tmp}/train.xlsx: unknown extension '.xlsx'; use one of: .csv, .tsv, .json, .jsonl, .parquet",
    "empty file": "{tmp}/train.csv: empty file",
    "header only": "{tmp}/train.csv: no data rows",
    "missing column": "{tmp}/train.csv: no column 'body' (--text_column); the columns are: text, label",
    "no label column": "{tmp}/train.csv: none of the columns text, stars is one of label, labels, sentiment, polarity; "
    "name it with --label_column",
    "one class": "{tmp}/train.csv: the label column 'label' holds one class ('positive'); a classifier needs at least two",
    "mixed label types": "{tmp}/train.jsonl: mixed label types in column 'label': data row 1 holds the string 'negative', "
    "data row 3 the integer 1 (1-based); use one type",
    "mixed types across files": "mixed label types across files: {tmp}/train.csv has string labels, "
    "{tmp}/test.jsonl has integer labels (a ClassLabel column counts as its names); give every file the class names, not ids",
    "text not a string": "{tmp}/train.jsonl: data row 2 (1-based): text 42 in column 'text' is not a string",
    "empty label": "{tmp}/train.csv: data row 2 (1-based, not counting the header): missing label '' in column "
    "'label' (1 row without a label: data row 2); label or remove them",
    "unseen test label": "{tmp}/test.csv: data row 2 (1-based, not counting the header): label 'mixed' is never seen in "
    "{tmp}/train.csv",
    "broken quote": "{tmp}/train.csv: a quote opens in data row 2 (1-based, not counting the header) and is never "
    'closed; close it, or double a quote that is text ("")',
    "broken parquet": "{tmp}/train.parquet: cannot be read as Parquet: Parquet magic bytes not found in footer. "
    "Either the file is corrupted or this is not a parquet file.",
    "with --dataset": "conflicting options --train_file and --dataset semeval2017a: give one source of data",
    "with --dataset_name": "conflicting options --train_file and --dataset_name: give local files or a Hub dataset",
    "with --data_dir": "conflicting options --train_file and --data_dir (the folder of the built-in benchmarks)",
    "test file alone": "--validation_file and --test_file need --train_file",
    "column option on a built-in": "--text_column applies to your own data (--train_file, --test_file or --dataset_name)",
    "unknown encoding": "unknown --encoding 'utf-9'; use a Python codec name such as utf-8, cp1252 or latin-1",
    "encoding on a built-in": "--encoding applies to your own files (--train_file, --validation_file, --test_file)",
    "bad class names": "--class_names 'a,,b' must list two or more different, non-empty names, comma-separated",
    "max_length 0": "--max_length must be at least 1, got 0",
    "embeddings not gzip": "{tmp}/vectors.gz: cannot be read as a gzip-compressed GloVe/word2vec text file "
    "(Not a gzipped file (b'th'))",
    "override not an int": "--config_overrides: hidden_size='abc' is not a valid int (now 128)",
    "override unknown field": "--config_overrides: glove-pooling has no field 'hiden_size' to change; valid fields: "
    "freeze_embeddings, dropout, max_length, initializer_range, pooling, hidden_size",
    "override not key=value": "--config_overrides entry 'dropout' is not field=value (e.g. 'hidden_size=256,dropout=0.3')",
    "override without =": "--config_overrides entry 'no_equals_sign' is not field=value (e.g. 'hidden_size=256,dropout=0.3')",
    "override with two =": "--config_overrides entry 'dropout=0.1=0.2' is not field=value (e.g. 'hidden_size=256,dropout=0.3')",
}


def bad_input(case, tmp_path, glove):
    """The train.py arguments for one bad-input case, with its files written under `tmp_path`."""
    good = write(tmp_path / "good.csv", records(per_class=5, labels=["negative", "positive"]))
    argv = ["--train_file", str(good)]
    if case == "missing file":
        argv = ["--train_file", str(tmp_path / "nowhere.csv")]
    elif case == "unknown extension":
        argv = ["--train_file", str(write_lines(tmp_path / "train.xlsx", ["text,label"]))]
    elif case == "empty file":
        (tmp_path / "train.csv").write_bytes(b"")
        argv = ["--train_file", str(tmp_path / "train.csv")]
    elif case == "header only":
        argv = ["--train_file", str(write_lines(tmp_path / "train.csv", ["text,label"]))]
    elif case == "missing column":
        argv += ["--text_column", "body"]
        argv[1] = str(write(tmp_path / "train.csv", records(per_class=2)))
    elif case == "no label column":
        argv[1] = str(write(tmp_path / "train.csv", records(per_class=2, label="stars")))
    elif case == "one class":
        argv[1] = str(write(tmp_path / "train.csv", records(per_class=4, labels=["positive"])))
    elif case == "mixed label types":
        argv[1] = str(write_lines(tmp_path / "train.jsonl", [
            '{"text": "a bad film", "label": "negative"}', '{"text": "a fine film", "label": "positive"}',
            '{"text": "a good film", "label": 1}',
        ]))
    elif case == "mixed types across files":
        argv[1] = str(write(tmp_path / "train.csv", records(per_class=4, labels=["negative", "positive"])))
        argv += ["--test_file", str(write(tmp_path / "test.jsonl", records(per_class=2, labels=[0, 1])))]
    elif case == "text not a string":
        argv[1] = str(write_lines(tmp_path / "train.jsonl", ['{"text": "fine", "label": "a"}', '{"text": 42, "label": "b"}']))
    elif case == "empty label":
        argv[1] = str(write_lines(tmp_path / "train.csv", ["text,label", "good film,positive", "bad film,"]))
    elif case == "unseen test label":
        argv += ["--test_file", str(write_lines(tmp_path / "test.csv", ["text,label", "good,positive", "so so,mixed"]))]
        argv[1] = str(write(tmp_path / "train.csv", records(per_class=4, labels=["negative", "positive"])))
    elif case == "broken quote":
        argv[1] = str(write_lines(tmp_path / "train.csv", ["text,label", "good film,positive", '"bad film,negative', "ok,positive"]))
    elif case == "broken parquet":
        (tmp_path / "train.parquet").write_bytes(b"not parquet at all")
        argv[1] = str(tmp_path / "train.parquet")
    elif case == "with --dataset":
        argv += ["--dataset", "semeval2017a"]
    elif case == "with --dataset_name":
        argv += ["--dataset_name", "someone/reviews"]
    elif case == "with --data_dir":
        argv += ["--data_dir", str(tmp_path)]
    elif case == "test file alone":
        argv = ["--test_file", str(good)]
    elif case == "column option on a built-in":
        argv = ["--text_column", "body"]
    elif case == "unknown encoding":
        argv += ["--encoding", "utf-9"]
    elif case == "encoding on a built-in":
        argv = ["--encoding", "cp1252"]
    elif case == "bad class names":
        argv += ["--class_names", "a,,b"]
    elif case == "max_length 0":
        argv += ["--max_length", "0"]
    elif case == "embeddings not gzip":
        with open(tmp_path / "vectors.gz", "w") as plain:
            plain.write("the 0.1 0.2\n")
        return [*argv, "--embeddings", str(tmp_path / "vectors.gz")]
    elif case == "override not an int":
        argv += ["--config_overrides", "hidden_size=abc"]
    elif case == "override unknown field":
        argv += ["--config_overrides", "dropout=0.3,hiden_size=64"]
    elif case == "override not key=value":
        argv += ["--config_overrides", "dropout"]
    elif case == "override without =":
        argv += ["--config_overrides", "hidden_size=64,no_equals_sign"]
    elif case == "override with two =":
        argv += ["--config_overrides", "dropout=0.1=0.2"]
    return [*argv, "--embeddings", str(glove)]


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, tiny_glove, capsys):
    data = tmp_path / "data"
    data.mkdir()
    output_dir = tmp_path / "out"
    argv = [*bad_input(case, data, tiny_glove), "--model", "meanmax", "--output_dir", str(output_dir), *FAST]
    assert run_cli(train.main, argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(("error:", "Traceback"))]
    assert lines == ["error: " + BAD_INPUT[case].format(tmp=data)]
    assert not (output_dir / "results.json").exists() and not (output_dir / "model.safetensors").exists()


def test_gzip_embeddings_still_load(tmp_path, tiny_glove):
    from models.glove import parse_glove_text

    packed = tmp_path / "vectors.txt.gz"
    packed.write_bytes(gzip.compress(tiny_glove.read_bytes()))
    assert len(parse_glove_text(packed)) == len(parse_glove_text(tiny_glove))


def test_evaluate_pretrained_needs_a_test_file(tmp_path, capsys):
    train_file = write(tmp_path / "train.csv", records(per_class=2))
    assert run_cli(evaluate_pretrained.main, ["--train_file", str(train_file), "--models", "x"]) == 2
    assert capsys.readouterr().err.strip() == "error: evaluate_pretrained.py scores a test set: give --test_file"


# --- the same data as a built-in and as files ------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.slow
def test_mr_as_csv_files_trains_to_the_same_metrics_as_the_builtin(tmp_path, real_data_dir):
    mr = load_sentiment_dataset("mr", real_data_dir)
    for split in ("train", "test"):  # string labels, as a user's file would have them
        frame = mr[split].to_pandas()
        frame["label"] = mr[split].features["label"].int2str(frame["label"].tolist())
        frame.to_csv(tmp_path / f"{split}.csv", index=False)
    common = ["--model", "meanmax", "--num_train_epochs", "1", "--seed", "42", "--report_to", "none"]  # one epoch: the same data, the same run
    as_files = [*common, "--train_file", str(tmp_path / "train.csv"), "--test_file", str(tmp_path / "test.csv")]
    builtin = [*common, "--dataset", "mr", "--data-dir", str(real_data_dir)]
    results = {}
    for name, argv in (("files", as_files), ("builtin", builtin)):
        assert run_cli(train.main, [*argv, "--output_dir", str(tmp_path / name)]) == 0
        results[name] = json.loads((tmp_path / name / "results.json").read_text())
        print(name, results[name]["test"])
    assert results["files"]["test"] == results["builtin"]["test"]
    assert results["files"]["confusion_matrix"] == results["builtin"]["confusion_matrix"]
    assert results["files"]["vocab_size"] == results["builtin"]["vocab_size"]
    assert (results["files"]["dataset"], results["builtin"]["dataset"]) == ("train", "mr")


def test_test_sentences_copied_from_train_are_counted_shown_and_recorded(tmp_path, capsys):
    train_rows = records(per_class=20, labels=["negative", "positive"])
    test_rows = records(per_class=10, labels=["negative", "positive"], seed=1)
    for row, copied in zip(test_rows[:6], train_rows):  # 6 copies, differing in case and spacing only
        row["text"] = "  " + copied["text"].upper().replace(" ", "   ")
    args = DataArguments(train_file=str(write(tmp_path / "train.csv", train_rows)), test_file=str(write(tmp_path / "test.csv", test_rows)))
    dataset, description = load_train_test(args, seed=0)
    copies = sum(text.strip().upper() == text.strip() for text in dataset["test"]["text"][:6])
    assert description["train_overlap"] == {"test": 6} and copies == 6
    assert "warning: 6 of 20 test sentences also occur in train (case and spacing aside), e.g. row 0: " in capsys.readouterr().out
    record = RunRecord.from_dict({"dataset": "d", "model": "m", "test": {}, **protocol_info(description)})
    assert record.train_overlap == {"test": 6} and record.to_dict()["train_overlap"] == {"test": 6}
    _, clean = load_train_test(DataArguments(train_file=str(tmp_path / "train.csv")), seed=0)
    assert "train_overlap" not in clean and "train_overlap" not in RunRecord.from_dict({"dataset": "d", "model": "m", "test": {}}).to_dict()


def test_a_validation_file_that_is_the_test_set_is_refused_and_one_sharing_sentences_is_counted(tmp_path, capsys):
    """Round 26's review: `--validation_file test.csv --test_file test.csv` chose the checkpoint, the temperature and the
    thresholds on the test set, silently; cross-validation never looked for a sentence held twice across folds."""
    train_rows = records(per_class=20, labels=["negative", "positive"])
    test_rows = records(per_class=10, labels=["negative", "positive"], seed=1)
    test = str(write(tmp_path / "test.csv", test_rows))
    args = dict(train_file=str(write(tmp_path / "train.csv", train_rows)), test_file=test)
    with pytest.raises(DataError, match=r"--validation_file .*test.csv: every test sentence is in it"):
        load_train_test(DataArguments(**args, validation_file=test), seed=0)
    validation = str(write(tmp_path / "validation.csv", test_rows[:4] + records(per_class=5, labels=["negative", "positive"], seed=2)))
    dataset, description = load_train_test(DataArguments(**args, validation_file=validation), seed=0)
    assert description["validation_test_overlap"] == 4 and protocol_info(description)["validation_test_overlap"] == 4
    assert "warning: 4 of 20 test sentences also occur in validation (case and spacing aside), e.g. row 0: " in capsys.readouterr().out
    held = train_rows + train_rows[:3]  # three sentences twice: each may fall in a training fold and the test fold
    _, folded = load_train_test(DataArguments(train_file=str(write(tmp_path / "twice.csv", held)), cv_folds=2, fold=0), seed=0)
    _, other = load_train_test(DataArguments(train_file=str(tmp_path / "twice.csv"), cv_folds=2, fold=1), seed=0)
    assert folded["train_overlap"]["test"] + other["train_overlap"]["test"] >= 3


def test_max_train_samples_that_leaves_a_class_without_a_training_sentence_is_refused(tmp_path):
    """Round 26's review: a plain cut of imbalanced data can drop a class; SetFit's head then has no column for it and
    its argmax positions were read as class ids (every "positive" scored as "neutral")."""
    from pipelines.arguments import FinetuneDataArguments
    from pipelines.finetuning import finetune_splits

    rows = records(per_class=10, labels=["negative", "neutral", "positive"])
    args = dict(train_file=str(write(tmp_path / "train.csv", rows)), test_file=str(write(tmp_path / "test.csv", rows[:9])))
    with pytest.raises(DataError, match=r"--max_train_samples 1 leaves no training sentence of class '\w+', '\w+'; give more, or --train_size"):
        finetune_splits(FinetuneDataArguments(**args, max_train_samples=1), seed=0)
    splits, *_ = finetune_splits(FinetuneDataArguments(**args, max_train_samples=20), seed=0)
    assert len(splits["train"]) == 20 and set(splits["train"]["label"]) == {0, 1, 2}


def test_evaluate_pretrained_scores_without_validation_when_a_class_is_too_small_to_hold_out(tmp_path, capsys):
    """A training class of one row cannot give a validation split: an error (exit 2, nothing written) when
    temperature scaling needs it; with --temperature_scaling false, the test scores alone and the reason recorded."""
    rows = records(per_class=4)
    train_file = write(tmp_path / "train.csv", [row for row in rows if row["label"] != "neutral"] + [next(row for row in rows if row["label"] == "neutral")])
    test_file = write(tmp_path / "test.csv", records(per_class=3, seed=1))
    argv = ["--train_file", str(train_file), "--test_file", str(test_file), "--models", "vader"]
    assert run_cli(evaluate_pretrained.main, [*argv, "--output_dir", str(tmp_path / "scaled")]) == 2
    assert "class 'neutral' has 1 row" in capsys.readouterr().err and not (tmp_path / "scaled").exists()
    assert run_cli(evaluate_pretrained.main, [*argv, "--output_dir", str(tmp_path / "plain"), "--temperature_scaling", "false"]) == 0
    report = json.loads((tmp_path / "plain" / "evaluation.json").read_text())
    assert "class 'neutral' has 1 row" in report["validation"]["skipped"] and "validation" not in report["results"][0]
    assert "No validation scores or temperature scaling: " in (tmp_path / "plain" / "evaluation.md").read_text()
