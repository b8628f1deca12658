"""Issue 31's silent wrong numbers: labels matched by name, one live run per folder, resumes and
restarts checked against the run's definition, divergence, head order, torn checkpoints."""

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from pipelines.benchmarks import get_benchmark
from pipelines.data import load_from_hub, load_user_dataset
from pipelines.errors import DataError

REVIEWS = {"text": ["a good film", "a bad film", "great fun", "dull mess"], "sentiment": ["pos", "neg", "pos", "neg"]}


def class_label_parquet(path, names: list[str]):
    """REVIEWS as a Parquet file written by `datasets`, its `ClassLabel` listing `names` in that order."""
    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    ids = [names.index(label) for label in REVIEWS["sentiment"]]
    Dataset.from_dict({"text": REVIEWS["text"], "label": ids}, features=features).to_parquet(path)
    return str(path)


@pytest.mark.parametrize("train_format", ["csv", "parquet"])
def test_class_names_in_another_order_in_another_file_are_matched_by_name(tmp_path, train_format):
    if train_format == "csv":
        train = tmp_path / "train.csv"
        train.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(REVIEWS["text"], REVIEWS["sentiment"])))
        train = str(train)
    else:
        train = class_label_parquet(tmp_path / "train.parquet", ["neg", "pos"])
    test = class_label_parquet(tmp_path / "test.parquet", ["pos", "neg"])  # the other order
    dataset, _ = load_user_dataset({"train": train, "test": test})
    for split in ("train", "test"):
        labels = dataset[split].features["label"].int2str(dataset[split]["label"])
        assert labels == REVIEWS["sentiment"], split


@pytest.mark.parametrize("hub_names", [["pos", "neg"], ["neg", "pos"], ["Positive", "Negative"]])
def test_benchmark_hub_copy_is_matched_by_name(monkeypatch, hub_names):
    features = Features({"text": Value("string"), "label": ClassLabel(names=hub_names)})
    ids = [[name.lower()[:3] for name in hub_names].index(label) for label in REVIEWS["sentiment"]]
    split = Dataset.from_dict({"text": REVIEWS["text"], "label": ids}, features=features)
    fake = DatasetDict({"train": split, "validation": split, "test": split})
    monkeypatch.setattr("pipelines.data.load_hub_or_cache", lambda *args: fake)
    dataset = load_from_hub(get_benchmark("mr"))
    expected = ["positive" if label == "pos" else "negative" for label in REVIEWS["sentiment"]]
    assert dataset["test"].features["label"].int2str(dataset["test"]["label"]) == expected


def test_benchmark_hub_copy_with_other_names_stops_naming_both_orders(monkeypatch):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["bad", "good"])})
    split = Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}, features=features)
    monkeypatch.setattr("pipelines.data.load_hub_or_cache", lambda *args: DatasetDict({"train": split, "validation": split, "test": split}))
    with pytest.raises(DataError, match="its classes bad, good .* do not match mr's negative, positive by name"):
        load_from_hub(get_benchmark("mr"))
