"""The two benchmarks as `datasets.DatasetDict`s with columns `text` and `label` (a `ClassLabel`).

Local copies of the original releases are read from `--data-dir` or `$SENTIBENCH_DATA_DIR`:

    <data_dir>/MR/rt-polarity.pos, rt-polarity.neg              one sentence a line
    <data_dir>/Semeval2017A/train_dev/**/*.tsv                   id<TAB>label<TAB>text
    <data_dir>/Semeval2017A/gold/SemEval2017-task4-test.subtask-A.english.txt

Without a local folder the Hub copies (`rotten_tomatoes`, `tweet_eval`/`sentiment`) are used.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, concatenate_datasets

DATA_DIR_ENV = "SENTIBENCH_DATA_DIR"

LABEL_NAMES = {
    "mr": ["negative", "positive"],
    "semeval2017a": ["negative", "neutral", "positive"],
}
DATASET_NAMES = tuple(LABEL_NAMES)

MR_LAYOUT = "<data_dir>/MR/rt-polarity.pos and <data_dir>/MR/rt-polarity.neg, one sentence a line"
SEMEVAL_LAYOUT = (
    "<data_dir>/Semeval2017A/train_dev/{train,dev}/*.tsv and "
    "<data_dir>/Semeval2017A/gold/SemEval2017-task4-test.subtask-A.english.txt, lines id<TAB>label<TAB>text"
)
SEMEVAL_TEST_FILE = "SemEval2017-task4-test.subtask-A.english.txt"
MR_TRAIN_PER_CLASS = 5000  # the lab split: the first 5,000 sentences of each class train, the rest test

HUB_IDS = {"mr": ("rotten_tomatoes", None), "semeval2017a": ("tweet_eval", "sentiment")}


class DataFormatError(ValueError):
    """A line that cannot be read; the message names the file and the line number."""


def features_for(dataset_name: str) -> Features:
    return Features({"text": Value("string"), "label": ClassLabel(names=LABEL_NAMES[dataset_name])})


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The folder given by option, else by `$SENTIBENCH_DATA_DIR`, else None (use the Hub)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    return Path(chosen) if chosen else None


def load_sentiment_dataset(
    name: str, data_dir: str | os.PathLike | None = None, mr_train_per_class: int = MR_TRAIN_PER_CLASS
) -> DatasetDict:
    """`train` and `test` splits of `mr` or `semeval2017a`."""
    if name not in LABEL_NAMES:
        raise ValueError(f"unknown --dataset {name!r}; choose one of: {', '.join(DATASET_NAMES)}")
    folder = resolve_data_dir(data_dir)
    if folder is None:
        return load_from_hub(name)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder not found: {folder} (expected {MR_LAYOUT if name == 'mr' else SEMEVAL_LAYOUT})")
    if name == "mr":
        return load_mr(folder / "MR", train_per_class=mr_train_per_class)
    return load_semeval2017a(folder / "Semeval2017A")


def _read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file, or of a Latin-1 one (the original Cornell MR release)."""
    raw = path.read_bytes()
    if not raw.strip():
        raise DataFormatError(f"{path}: empty file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.splitlines()


def _require_file(path: Path, layout: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"missing data file: {path} (expected {layout})")


def load_mr(folder: Path, train_per_class: int = MR_TRAIN_PER_CLASS) -> DatasetDict:
    features = features_for("mr")
    splits = {"train": {"text": [], "label": []}, "test": {"text": [], "label": []}}
    for label, suffix in enumerate(("neg", "pos")):
        path = folder / f"rt-polarity.{suffix}"
        _require_file(path, MR_LAYOUT)
        sentences = []
        for line_number, line in enumerate(_read_lines(path), start=1):
            sentence = line.strip()
            if not sentence:
                raise DataFormatError(f"{path}:{line_number}: empty line, expected one sentence")
            sentences.append(sentence)
        if len(sentences) <= train_per_class:
            raise DataFormatError(
                f"{path}: {len(sentences)} sentences, the MR split needs more than {train_per_class} "
                "(the first ones train, the rest test)"
            )
        for split, chunk in (("train", sentences[:train_per_class]), ("test", sentences[train_per_class:])):
            splits[split]["text"] += chunk
            splits[split]["label"] += [label] * len(chunk)
    return DatasetDict({split: Dataset.from_dict(columns, features=features) for split, columns in splits.items()})


_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def clean_tweet(text: str) -> str:
    """Undo the release's CSV quoting, `\\u2019`-style escapes and HTML entities; keep inner tabs."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        text = text[1:-1].replace('""', '"')
    text = _UNICODE_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
    text = text.replace('\\"', '"')
    for _ in range(3):  # some tweets were escaped twice or three times: `&amp;amp;amp;`
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    return text.strip()


def read_semeval_file(path: Path) -> list[tuple[str, str, str]]:
    """(id, label, text) rows; a line without label or text, or with an unknown label, stops."""
    names = LABEL_NAMES["semeval2017a"]
    rows = []
    for line_number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\t").split("\t")
        if len(fields) < 3 or not fields[1].strip():
            raise DataFormatError(f"{path}:{line_number}: expected id<TAB>label<TAB>text, got {line[:60]!r}")
        tweet_id, label = fields[0].strip(), fields[1].strip()
        if label not in names:
            raise DataFormatError(f"{path}:{line_number}: unknown label {label!r}, expected one of {', '.join(names)}")
        text = clean_tweet("\t".join(fields[2:]))
        if not text:
            raise DataFormatError(f"{path}:{line_number}: empty text")
        rows.append((tweet_id, label, text))
    return rows


def load_semeval2017a(folder: Path) -> DatasetDict:
    features = features_for("semeval2017a")
    train_files = sorted((folder / "train_dev").rglob("*.tsv"))
    test_file = folder / "gold" / SEMEVAL_TEST_FILE
    if not train_files:
        raise FileNotFoundError(f"no training files under {folder / 'train_dev'} (expected {SEMEVAL_LAYOUT})")
    _require_file(test_file, SEMEVAL_LAYOUT)

    seen_ids: set[str] = set()
    train_rows = []
    for path in train_files:
        for tweet_id, label, text in read_semeval_file(path):
            if tweet_id not in seen_ids:  # the releases overlap: keep a tweet's first occurrence
                seen_ids.add(tweet_id)
                train_rows.append((label, text))
    test_rows = [(label, text) for _, label, text in read_semeval_file(test_file)]

    def to_dataset(rows):
        return Dataset.from_dict(
            {"text": [text for _, text in rows], "label": [features["label"].str2int(label) for label, _ in rows]},
            features=features,
        )

    return DatasetDict({"train": to_dataset(train_rows), "test": to_dataset(test_rows)})


def load_from_hub(name: str) -> DatasetDict:
    """The Hub copy, train + validation as train, labels renamed to the local names."""
    from datasets import load_dataset

    hub_id, config = HUB_IDS[name]
    try:
        hub = load_dataset(hub_id, config)
    except Exception as err:  # offline, the Hub client raises many kinds of connection errors
        raise FileNotFoundError(
            f"could not load {hub_id!r} from the Hub ({type(err).__name__}); offline, point --data-dir "
            f"(or ${DATA_DIR_ENV}) at a folder with {MR_LAYOUT if name == 'mr' else SEMEVAL_LAYOUT}"
        ) from err
    features = features_for(name)
    train = concatenate_datasets([hub["train"], hub["validation"]])
    return DatasetDict(
        {
            "train": train.select_columns(["text", "label"]).cast(features),
            "test": hub["test"].select_columns(["text", "label"]).cast(features),
        }
    )
