"""The two benchmarks as `datasets.DatasetDict`s with columns `text` and `label` (a `ClassLabel`).

Local copies of the original releases are read from `--data-dir` or `$SENTIBENCH_DATA_DIR`:

    <data_dir>/MR/rt-polarity.pos, rt-polarity.neg              one sentence a line
    <data_dir>/Semeval2017A/train_dev/**/*.tsv                   id<TAB>label<TAB>text
    <data_dir>/Semeval2017A/gold/SemEval2017-task4-test.subtask-A.english.txt

Without a local folder the Hub copies (`rotten_tomatoes`, `tweet_eval`/`sentiment`) are used.

Any other single-label text-classification data comes from local files (`--train_file`,
`--validation_file`, `--test_file`: CSV, TSV, JSON lines or Parquet) or a Hub dataset
(`--dataset_name`), read with `datasets.load_dataset` and brought to the same two columns.
`load_data` is the one entry point the scripts use for all three sources.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from dataclasses import dataclass, field
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


# --- Your own data: local files or a Hub dataset ------------------------------------------------

# Extension -> (what it holds, `datasets` builder, its options). CSV/TSV cells "NA" or "null" stay text.
FILE_FORMATS = {
    ".csv": ("CSV", "csv", {"keep_default_na": False}),
    ".tsv": ("TSV", "csv", {"delimiter": "\t", "keep_default_na": False}),
    ".json": ("JSON lines", "json", {}),
    ".jsonl": ("JSON lines", "json", {}),
    ".parquet": ("Parquet", "parquet", {}),
}
TEXT_COLUMNS = ("text", "sentence", "tweet", "review", "content")
LABEL_COLUMNS = ("label", "labels", "sentiment", "polarity")
SENTIMENT_ORDERS = (("negative", "neutral", "positive"), ("negative", "positive"))
LOCAL_FILES_HINT = "--train_file/--test_file with .csv, .tsv, .json, .jsonl or .parquet files"


@dataclass
class DataSourceArguments:
    """Where the data comes from: a built-in benchmark, local files, or a Hub dataset.

    One set of options for train.py, finetune.py and evaluate_pretrained.py. The label names are
    `--class_names`, because `TrainingArguments` already owns `--label_names` (the batch keys
    holding the labels).
    """

    dataset: str = field(default="mr", metadata={"help": f"built-in benchmark, one of: {', '.join(DATASET_NAMES)}"})
    data_dir: str | None = field(
        default=None,
        metadata={"help": "folder with MR/ and Semeval2017A/ as released (or $SENTIBENCH_DATA_DIR); else the Hub"},
    )
    train_file: str | None = field(
        default=None, metadata={"help": "your own training data: .csv, .tsv, .json/.jsonl (JSON lines) or .parquet"}
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "default: --validation_fraction of the training data, drawn with --seed"}
    )
    test_file: str | None = field(
        default=None,
        metadata={
            "help": "default in train.py/finetune.py: --validation_fraction of the training data held out with "
            "--seed; evaluate_pretrained.py needs only this file"
        },
    )
    dataset_name: str | None = field(default=None, metadata={"help": "a Hub dataset id instead, e.g. 'org/name'"})
    dataset_config: str | None = field(default=None, metadata={"help": "the Hub dataset's configuration name"})
    text_column: str | None = field(default=None, metadata={"help": f"default: the first of {', '.join(TEXT_COLUMNS)}"})
    label_column: str | None = field(
        default=None, metadata={"help": f"default: the first of {', '.join(LABEL_COLUMNS)}"}
    )
    class_names: str | None = field(
        default=None,
        metadata={
            "help": "label names in id order, e.g. 'negative,neutral,positive'; default: the dataset's own "
            "names, else negative/neutral/positive order, else sorted"
        },
    )

    def __post_init__(self):
        if self.dataset not in DATASET_NAMES:
            raise ValueError(f"unknown --dataset {self.dataset!r}; choose one of: {', '.join(DATASET_NAMES)}")
        files = [option for option, value in self._file_options() if value]
        if files and self.dataset_name:
            raise ValueError(f"conflicting options {files[0]} and --dataset_name: give local files or a Hub dataset")
        own_data = files[0] if files else "--dataset_name" if self.dataset_name else None
        if own_data and self.dataset != "mr":  # "mr" is the default, so only another name can be told apart
            raise ValueError(f"conflicting options {own_data} and --dataset {self.dataset}: give one source of data")
        if own_data and self.data_dir:
            raise ValueError(f"conflicting options {own_data} and --data_dir (the folder of the built-in benchmarks)")
        if self.dataset_config and not self.dataset_name:
            raise ValueError("--dataset_config needs --dataset_name")
        if not own_data:
            for option, value in (
                ("--text_column", self.text_column),
                ("--label_column", self.label_column),
                ("--class_names", self.class_names),
            ):
                if value:
                    raise ValueError(f"{option} applies to your own data (--train_file, --test_file or --dataset_name)")
        parse_class_names(self.class_names)

    def _file_options(self) -> list[tuple[str, str | None]]:
        return [("--train_file", self.train_file), ("--validation_file", self.validation_file), ("--test_file", self.test_file)]

    @property
    def source(self) -> str:
        """'files', 'hub' or 'builtin'."""
        if any(value for _, value in self._file_options()):
            return "files"
        return "hub" if self.dataset_name else "builtin"

    @property
    def dataset_label(self) -> str:
        """A short readable name for tables and folders: the built-in name, the Hub id, or the file's stem."""
        if self.source == "files":
            return Path(self.train_file or self.test_file or self.validation_file).stem
        return self.dataset_name if self.source == "hub" else self.dataset


def parse_class_names(text: str | None) -> list[str] | None:
    """`'negative,neutral,positive'` -> the list; None when not given."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names) or len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"--class_names {text!r} must list two or more different, non-empty names, comma-separated")
    return names


def load_data(args: DataSourceArguments) -> tuple[DatasetDict, dict]:
    """The splits (columns `text`, `label` as a `ClassLabel`) from whichever source `args` names,
    and a description of that source for `results.json` and the model card."""
    if args.source == "files":
        paths = (args.train_file, args.validation_file, args.test_file)
        files = {split: path for split, path in zip(("train", "validation", "test"), paths) if path}
        return load_user_dataset(files, args.text_column, args.label_column, parse_class_names(args.class_names))
    if args.source == "hub":
        return load_hub_dataset(
            args.dataset_name, args.dataset_config, args.text_column, args.label_column, parse_class_names(args.class_names)
        )
    folder = resolve_data_dir(args.data_dir)
    dataset = load_sentiment_dataset(args.dataset, args.data_dir)
    description = {"source": "builtin", "dataset": args.dataset, "data_dir": str(folder) if folder else None}
    return dataset, {**description, "test_held_out": False}


def file_digest(path: str | os.PathLike) -> str:
    """The first 12 hex digits of the file's SHA-256: enough to tell two versions of a file apart."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _first_line(err: BaseException) -> str:
    while err.__cause__ is not None:  # `datasets` wraps the parser's own error, which says what is wrong
        err = err.__cause__
    text = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
    return text[:200]


def read_data_file(path: str) -> Dataset:
    """One local file as a `Dataset`, read by `datasets`; every failure names the file."""
    from datasets import load_dataset
    from datasets.utils import logging as datasets_logging

    file = Path(path)
    if file.suffix.lower() not in FILE_FORMATS:
        raise ValueError(f"{path}: unknown extension {file.suffix or '(none)'!r}; use one of: {', '.join(FILE_FORMATS)}")
    if not file.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    if file.stat().st_size == 0:
        raise ValueError(f"{path}: empty file")
    kind, builder, options = FILE_FORMATS[file.suffix.lower()]
    verbosity = datasets_logging.get_verbosity()
    datasets_logging.set_verbosity(datasets_logging.CRITICAL)  # its own log line would repeat our error
    try:
        return load_dataset(builder, data_files={"data": str(file)}, split="data", **options)
    except Exception as err:  # pandas, pyarrow and `datasets` raise their own kinds; all mean a bad file
        why = _first_line(err)
        if "corresponds to no data" in why:
            raise ValueError(f"{path}: no data rows") from err
        if "EOF inside string" in why:
            why += " (a quote that is never closed)"
        raise ValueError(f"{path}: cannot be read as {kind}: {why}") from err
    finally:
        datasets_logging.set_verbosity(verbosity)


def load_user_dataset(
    files: dict[str, str],
    text_column: str | None = None,
    label_column: str | None = None,
    class_names: list[str] | None = None,
) -> tuple[DatasetDict, dict]:
    """Local files, one per split (`train`, `validation`, `test`), as a `DatasetDict` and its description."""
    raw, places = {}, {}
    for split, path in files.items():
        raw[split] = read_data_file(path)
        header = " (1-based, not counting the header)" if Path(path).suffix.lower() in (".csv", ".tsv") else " (1-based)"
        places[split] = (str(path), "data row", header)
    dataset, columns = to_classification(raw, places, text_column, label_column, class_names)
    description = {
        "source": "files",
        **{f"{split}_file": str(path) for split, path in files.items()},
        "sha256": {str(path): file_digest(path) for path in files.values()},
        **columns,
        "test_held_out": False,
    }
    return dataset, description


def load_hub_dataset(
    name: str,
    config: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    class_names: list[str] | None = None,
) -> tuple[DatasetDict, dict]:
    """A Hub dataset's `train`, `validation` and `test` splits (those it has), like local files."""
    from datasets import load_dataset

    shown = f"{name!r}" + (f" (config {config!r})" if config else "")
    try:
        hub = load_dataset(name, config)
    except Exception as err:  # offline, the Hub client raises many kinds of connection errors
        raise FileNotFoundError(
            f"could not load {shown} from the Hub ({type(err).__name__}: {_first_line(err)}); "
            f"offline, use local files: {LOCAL_FILES_HINT}"
        ) from err
    raw = {split: hub[split] for split in ("train", "validation", "test") if split in hub}
    if not raw:
        raise ValueError(f"Hub dataset {shown} has no train, validation or test split (it has: {', '.join(hub)})")
    places = {split: (f"{name}[{split}]", "row", " (1-based)") for split in raw}
    dataset, columns = to_classification(raw, places, text_column, label_column, class_names)
    return dataset, {"source": "hub", "dataset_name": name, "dataset_config": config, **columns, "test_held_out": False}


def pick_column(columns: list[str], chosen: str | None, candidates: tuple[str, ...], option: str, where: str) -> str:
    """The column `option` names, else the first candidate present (case-insensitive)."""
    if chosen is not None:
        if chosen not in columns:
            raise ValueError(f"{where}: no column {chosen!r} ({option}); the columns are: {', '.join(columns)}")
        return chosen
    by_lower = {column.lower(): column for column in columns}
    for candidate in candidates:
        if candidate in by_lower:
            return by_lower[candidate]
    raise ValueError(
        f"{where}: none of the columns {', '.join(columns)} is one of {', '.join(candidates)}; name it with {option}"
    )


def _label_kind(value) -> str | None:
    if isinstance(value, str):
        return "string"
    if isinstance(value, int) and not isinstance(value, bool):
        return "integer"
    return None


def default_class_names(labels: set[str]) -> list[str]:
    """negative/neutral/positive order when those are the names (any case), else sorted."""
    for order in SENTIMENT_ORDERS:
        if {label.lower() for label in labels} == set(order) and len(labels) == len(order):
            return sorted(labels, key=lambda label: order.index(label.lower()))
    return sorted(labels)


def to_classification(
    raw: dict[str, Dataset],
    places: dict[str, tuple[str, str, str]],
    text_column: str | None,
    label_column: str | None,
    class_names: list[str] | None,
) -> tuple[DatasetDict, dict]:
    """Columns `text` and `label` (a `ClassLabel`) from each split, checked row by row.

    `places[split]` is (file or split name, what a row is called, how rows count) for messages.
    Rows whose text is empty or missing are dropped, with a printed count: scraped review files
    often hold a few, and one should not stop a run. A text that is not a string (a number, a
    list) means the wrong column or a broken file, and stops the run. The class names come from
    `class_names`, else the labels' `ClassLabel` names, else the training labels (the first split
    given when there is no training file); a label outside them stops the run.
    """

    def where(split: str, row: int) -> str:
        name, unit, counting = places[split]
        return f"{name}: {unit} {row}{counting}"

    kept, columns_used, dropped = {}, {}, {}
    for split, data in raw.items():
        name = places[split][0]
        text_name = pick_column(data.column_names, text_column, TEXT_COLUMNS, "--text_column", name)
        label_name = pick_column(data.column_names, label_column, LABEL_COLUMNS, "--label_column", name)
        columns_used = {"text_column": text_name, "label_column": label_name}
        rows, empty = [], []
        for row, (text, label) in enumerate(zip(data[text_name], data[label_name]), start=1):
            if text is None or (isinstance(text, str) and not text.strip()):
                empty.append(row)
                continue
            if not isinstance(text, str):
                raise ValueError(f"{where(split, row)}: text {text!r:.60} in column {text_name!r} is not a string")
            if isinstance(label, float) and label.is_integer():  # a CSV column of numbers may come back as floats
                label = int(label)
            if label is None or (isinstance(label, str) and not label.strip()):
                raise ValueError(f"{where(split, row)}: empty label in column {label_name!r}")
            if _label_kind(label) is None:
                raise ValueError(f"{where(split, row)}: label {label!r:.60} is not a string or an integer")
            rows.append((row, text, label.strip() if isinstance(label, str) else label))
        if empty:
            dropped[name] = len(empty)
            shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
            print(f"{name}: dropped {len(empty)} rows with empty text ({places[split][1]}s {shown})", flush=True)
        if not rows:
            raise ValueError(f"{name}: no rows with text in column {text_name!r}")
        kept[split] = (rows, label_name, data.features[label_name])

    kinds = {}
    for split, (rows, label_name, _) in kept.items():
        first = {}
        for row, _, label in rows:
            first.setdefault(_label_kind(label), (row, label))
        if len(first) > 1:
            (row_a, a), (row_b, b) = first["string"], first["integer"]
            name, unit, counting = places[split]
            raise ValueError(
                f"{name}: mixed label types in column {label_name!r}: {unit} {row_a} holds the string {a!r}, "
                f"{unit} {row_b} the integer {b!r}{counting}; use one type"
            )
        kinds[split] = next(iter(first))
    if len(set(kinds.values())) > 1:
        raise ValueError(
            "mixed label types across files: "
            + ", ".join(f"{places[split][0]} has {kind} labels" for split, kind in kinds.items())
        )
    kind = next(iter(kinds.values()))

    reference = next(iter(kept))  # train when given: the labels training sees define the classes
    reference_labels = {label for _, _, label in kept[reference][0]}
    feature = kept[reference][2]
    if class_names is not None:
        names = class_names
        to_id = {name: i for i, name in enumerate(names)} if kind == "string" else {i: i for i in range(len(names))}
        outside = f"not one of --class_names {','.join(names)}"
    elif kind == "integer" and isinstance(feature, ClassLabel):
        names = list(feature.names)
        to_id = {i: i for i in range(len(names))}
        outside = f"not a class of {places[reference][0]} ({len(names)} classes)"
    else:
        if kind == "string":
            names = default_class_names(reference_labels)
            to_id = {name: i for i, name in enumerate(names)}
        else:  # 0..k-1 keep their ids; other integers (1..5 stars, -1/0/1) are numbered in order
            values = sorted(reference_labels)
            names = [str(value) for value in values]
            to_id = {value: i for i, value in enumerate(values)}
        outside = f"never seen in {places[reference][0]}"
    if "train" in kept and len(reference_labels) < 2:
        raise ValueError(
            f"{places['train'][0]}: the label column {kept['train'][1]!r} holds one class "
            f"({next(iter(reference_labels))!r}); a classifier needs at least two"
        )
    if len(names) < 2:
        raise ValueError(
            f"{places[reference][0]}: the label column {kept[reference][1]!r} holds one class ({names[0]!r}); "
            "name all classes with --class_names"
        )

    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    splits = {}
    for split, (rows, _, _) in kept.items():
        ids = []
        for row, _, label in rows:
            if label not in to_id:
                raise ValueError(f"{where(split, row)}: label {label!r} is {outside}")
            ids.append(to_id[label])
        splits[split] = Dataset.from_dict({"text": [text for _, text, _ in rows], "label": ids}, features=features)
    description = {**columns_used, "class_names": names}
    if dropped:
        description["dropped_empty_texts"] = dropped
    return DatasetDict(splits), description
