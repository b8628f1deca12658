"""Every source of data as a `datasets.DatasetDict` with columns `text` and `label` (a `ClassLabel`).

A built-in benchmark (`--dataset`, entries in `pipelines.benchmarks`) is read from its release
under `--data-dir` or `$SENTIBENCH_DATA_DIR`, else from its Hub copy. Any other single-label
text-classification data comes from local files (`--train_file`, `--validation_file`,
`--test_file`: CSV, TSV, JSON lines or Parquet) or a Hub dataset (`--dataset_name`), read with
`datasets.load_dataset` and brought to the same two columns, checked row by row. `load_data` is
the one entry point the scripts use for all three sources.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import math
import os
import re
import unicodedata
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.benchmarks import BENCHMARKS, Benchmark, get_benchmark
from pipelines.errors import DataError, OptionError, PathError

DATA_DIR_ENV = "SENTIBENCH_DATA_DIR"


def features_for(label_names):
    """`datasets.Features`: `text` a string, `label` a `ClassLabel` of `label_names`."""
    from datasets import ClassLabel, Features, Value  # `datasets` takes seconds to import, and parsing options needs none of it

    return Features({"text": Value("string"), "label": ClassLabel(names=list(label_names))})


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The folder given by option, else by `$SENTIBENCH_DATA_DIR`, else None (use the Hub)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    return Path(chosen) if chosen else None


def load_sentiment_dataset(name: str, data_dir: str | os.PathLike | None = None) -> DatasetDict:
    """`train` and `test` of the benchmark `name`, from its release under `data_dir`, else the Hub.

    Raises `OptionError` for an unknown name, `PathError` for a missing folder or file and
    `DataError` for a line of the release that cannot be read (naming file and line).
    """
    benchmark = get_benchmark(name)
    folder = resolve_data_dir(data_dir)
    if folder is None:
        return load_from_hub(benchmark)
    if not folder.is_dir():
        raise PathError(f"data folder not found: {folder} (expected {benchmark.layout})")
    from datasets import Dataset, DatasetDict

    features = features_for(benchmark.label_names)
    splits = {}
    for split, rows in benchmark.reader(folder / benchmark.folder).items():
        texts = [text for text, _ in rows]
        splits[split] = Dataset.from_dict(
            {"text": texts, "label": [features["label"].str2int(label) for _, label in rows]}, features=features
        )
    return DatasetDict(splits)


def load_from_hub(benchmark: Benchmark) -> DatasetDict:
    """The benchmark's Hub copy, its splits joined as `benchmark.hub_splits` says, each label
    matched to the benchmark's names by name (`hub_label_ids`), never by position.

    Raises `PathError` (`HubUnreachable` without the Hub) as `load_hub_or_cache` says, and
    `DataError` when the copy's class names do not match the benchmark's.
    """
    hub = load_hub_or_cache(
        benchmark.hub_id, benchmark.hub_config, f"point --data-dir (or ${DATA_DIR_ENV}) at a folder with {benchmark.layout}"
    )
    from datasets import DatasetDict, concatenate_datasets

    features = features_for(benchmark.label_names)
    splits = {}
    for split, names in benchmark.hub_splits.items():
        joined = concatenate_datasets([hub[name] for name in names]).select_columns(["text", "label"])
        label2id = hub_label_ids(joined.features["label"].names, benchmark)
        splits[split] = joined.align_labels_with_mapping(label2id, "label").cast(features)
    return DatasetDict(splits)


def hub_label_ids(hub_names: list[str], benchmark: Benchmark) -> dict[str, int]:
    """Each of the Hub copy's class names -> the benchmark's id of the same class: the same name
    (any case) or its start (rotten_tomatoes' `neg` is `negative`). `DataError` naming both
    orders unless every class matches exactly one of the benchmark's."""

    def benchmark_id(hub_name: str) -> int | None:
        exact = [i for i, name in enumerate(benchmark.label_names) if name.lower() == hub_name.lower()]
        found = exact or [i for i, name in enumerate(benchmark.label_names) if name.lower().startswith(hub_name.lower())]
        return found[0] if len(found) == 1 else None

    label2id = {hub_name: benchmark_id(hub_name) for hub_name in hub_names}
    if sorted(label2id.values(), key=lambda i: -1 if i is None else i) != list(range(len(benchmark.label_names))):
        raise DataError(
            f"Hub dataset {benchmark.hub_id}: its classes {', '.join(hub_names)} (in id order) do not match "
            f"{benchmark.name}'s {', '.join(benchmark.label_names)} by name; point --data-dir at a folder with {benchmark.layout}"
        )
    return label2id


# --- Your own data: local files or a Hub dataset ------------------------------------------------

# Extension -> (what it holds, `datasets` builder, its options). CSV/TSV cells "NA" or "null" stay
# text (a label so spelled is missing, see MISSING_LABELS). TSV files are read unquoted: a quote
# character is text, as in most tab-separated exports of tweets and reviews.
FILE_FORMATS = {
    ".csv": ("CSV", "csv", {"keep_default_na": False}),
    ".tsv": ("TSV", "csv", {"delimiter": "\t", "keep_default_na": False, "quoting": csv.QUOTE_NONE}),
    ".json": ("JSON lines", "json", {}),
    ".jsonl": ("JSON lines", "json", {}),
    ".parquet": ("Parquet", "parquet", {}),
}
TEXT_COLUMNS = ("text", "sentence", "tweet", "review", "content")
LABEL_COLUMNS = ("label", "labels", "sentiment", "polarity")
SENTIMENT_ORDERS = (("negative", "neutral", "positive"), ("negative", "positive"))
LOCAL_FILES_HINT = "--train_file/--test_file with .csv, .tsv, .json, .jsonl or .parquet files"
# A label cell holding one of these (any case, surrounding spaces ignored), JSON null, or a NaN
# stops the run: pandas' missing-value spellings, which exports write for an unlabelled row.
MISSING_LABELS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>", "#n/a", "#na", "nil"})


@dataclass
class DataSourceArguments:
    """Where the data comes from: a built-in benchmark, local files, or a Hub dataset.

    One set of options for train.py, finetune.py and evaluate_pretrained.py. The label names are
    `--class_names`, because `TrainingArguments` already owns `--label_names` (the batch keys
    holding the labels). Raises `OptionError` for options that conflict or cannot be used.
    """

    dataset: str = field(default="mr", metadata={"help": f"built-in benchmark, one of: {', '.join(BENCHMARKS)}"})
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
    encoding: str | None = field(
        default=None,
        metadata={"help": "text encoding of your CSV, TSV and JSON lines files, e.g. cp1252 or latin-1; default UTF-8"},
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
        if self.dataset not in BENCHMARKS:
            raise OptionError(f"unknown --dataset {self.dataset!r}; choose one of: {', '.join(BENCHMARKS)}")
        files = [option for option, value in self._file_options() if value]
        if files and self.dataset_name:
            raise OptionError(f"conflicting options {files[0]} and --dataset_name: give local files or a Hub dataset")
        own_data = files[0] if files else "--dataset_name" if self.dataset_name else None
        if own_data and self.dataset != "mr":  # "mr" is the default, so only another name can be told apart
            raise OptionError(f"conflicting options {own_data} and --dataset {self.dataset}: give one source of data")
        if own_data and self.data_dir:
            raise OptionError(f"conflicting options {own_data} and --data_dir (the folder of the built-in benchmarks)")
        if self.dataset_config and not self.dataset_name:
            raise OptionError("--dataset_config needs --dataset_name")
        if self.encoding and not files:
            raise OptionError("--encoding applies to your own files (--train_file, --validation_file, --test_file)")
        if self.encoding:
            check_encoding(self.encoding)
        if not own_data:
            for option, value in (
                ("--text_column", self.text_column),
                ("--label_column", self.label_column),
                ("--class_names", self.class_names),
            ):
                if value:
                    raise OptionError(f"{option} applies to your own data (--train_file, --test_file or --dataset_name)")
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


def check_encoding(name: str) -> None:
    """Raise `OptionError` unless Python knows the codec `name`."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise OptionError(f"unknown --encoding {name!r}; use a Python codec name such as utf-8, cp1252 or latin-1") from None


def parse_class_names(text: str | None) -> list[str] | None:
    """`'negative,neutral,positive'` -> the list; None when not given; `OptionError` when malformed."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names) or len(set(names)) != len(names) or len(names) < 2:
        raise OptionError(f"--class_names {text!r} must list two or more different, non-empty names, comma-separated")
    return names


def load_data(args: DataSourceArguments) -> tuple[DatasetDict, dict]:
    """The splits (columns `text`, `label` as a `ClassLabel`) from whichever source `args` names,
    and a description of that source for `results.json` and the model card."""
    if args.source == "files":
        paths = (args.train_file, args.validation_file, args.test_file)
        files = {split: path for split, path in zip(("train", "validation", "test"), paths) if path}
        return load_user_dataset(
            files, args.text_column, args.label_column, parse_class_names(args.class_names), args.encoding
        )
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


def read_data_file(path: str, encoding: str | None = None) -> Dataset:
    """One local file as a `Dataset`, read by `datasets`; every failure is a `DataError` or
    `PathError` naming the file (and, where the parser says, the row)."""
    from datasets import load_dataset
    from datasets.utils import logging as datasets_logging

    file = Path(path)
    if file.suffix.lower() not in FILE_FORMATS:
        raise DataError(f"{path}: unknown extension {file.suffix or '(none)'!r}; use one of: {', '.join(FILE_FORMATS)}")
    if not file.is_file():
        raise PathError(f"data file not found: {path}")
    if file.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    kind, builder, options = FILE_FORMATS[file.suffix.lower()]
    if builder != "parquet":  # checked first: pyarrow's JSON reader lets invalid UTF-8 through to a later crash
        decoding = decoding_error(file, encoding or "utf-8")
        if decoding:
            raise decoding
        if encoding:
            check_plausible(file, encoding)
        options = {**options, "encoding": encoding} if encoding else options
    verbosity = datasets_logging.get_verbosity()
    datasets_logging.set_verbosity(datasets_logging.CRITICAL)  # its own log line would repeat our error
    try:
        return load_dataset(builder, data_files={"data": str(file)}, split="data", **options)
    except Exception as err:  # pandas, pyarrow and `datasets` raise their own kinds; all mean a bad file
        raise _read_error(file, kind, err) from err
    finally:
        datasets_logging.set_verbosity(verbosity)


def _read_error(file: Path, kind: str, err: Exception) -> DataError:
    """What went wrong reading `file`, in one line: a quote never closed, no rows, or the
    parser's own first line."""
    why = _first_line(err)
    if "corresponds to no data" in why:
        return DataError(f"{file}: no data rows")
    unclosed = re.search(r"EOF inside string starting at row (\d+)", why)
    if unclosed:
        return DataError(
            f"{file}: a quote opens in data row {unclosed.group(1)} (1-based, not counting the header) and is never "
            f"closed; close it, or double a quote that is text (\"\")"
        )
    return DataError(f"{file}: cannot be read as {kind}: {why}")


def decoding_error(file: Path, encoding: str) -> DataError | None:
    """None when `file` decodes as `encoding`; else an error naming the line, the bytes, the
    encoding charset-normalizer detects, and the `--encoding` option that reads it."""
    from charset_normalizer import from_bytes

    raw = file.read_bytes()
    try:
        raw.decode(encoding)
        return None
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        bad = raw[err.start : err.end]
        before = raw[raw.rfind(b"\n", 0, err.start) + 1 : err.start].decode(encoding, errors="replace")[-30:]
    suggested = suggested_encoding(raw)
    if suggested and codecs.lookup(suggested).name != codecs.lookup(encoding).name:
        hint = f"it reads best as {suggested}: give --encoding {suggested} (or the file's own encoding)"
    else:
        hint = "give --encoding with the file's encoding, e.g. --encoding cp1252"
    return DataError(f"{file}: line {line}: bytes {bad!r} after {before!r} are not valid {encoding}; {hint}")


# The encodings of common Windows exports, commonest first: of those that read a file equally well,
# the first is advised (cp1252 for Western text, which cp1250 reads too, as other letters: Œ -> Ś).
WINDOWS_ENCODINGS = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257", "latin-1")
C1_CONTROLS = re.compile("[\x80-\x9f]")  # what latin-1 makes of cp1252's quotes, dashes and Œ
NON_ASCII_INSIDE_WORD = re.compile(r"(?<=\w)[^\x00-\x7f](?=\w)")
ODD_CATEGORIES = {"No", "So", "Sk", "Sm", "Sc", "Cc", "Co", "Cn"}  # e.g. cp1252 reads cp1250's ł, ą as ³, ¹


def implausible_characters(text: str) -> int:
    """How many characters of `text` a wrong decoding made: C1 controls (U+0080-U+009F) anywhere,
    and digits, symbols or controls other than ASCII inside a word ('b³d')."""
    inside = NON_ASCII_INSIDE_WORD.findall(text)
    return len(C1_CONTROLS.findall(text)) + sum(unicodedata.category(char) in ODD_CATEGORIES for char in inside)


def suggested_encoding(raw: bytes) -> str | None:
    """The encoding that reads `raw` with the fewest `implausible_characters`; ties go to the
    commoner export (`WINDOWS_ENCODINGS`' order). charset-normalizer's guess comes first when it is
    not one of them (another script, e.g. Shift JIS); None when nothing reads the bytes."""
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    guess = [best.encoding] if best is not None else []
    if guess and codecs.lookup(guess[0]).name in {codecs.lookup(name).name for name in WINDOWS_ENCODINGS}:
        guess = []
    scored = []
    for rank, name in enumerate([*guess, *WINDOWS_ENCODINGS]):
        try:
            scored.append((implausible_characters(raw.decode(name)), rank, name))
        except UnicodeDecodeError:
            continue
    return min(scored)[2] if scored else None


def check_plausible(file: Path, encoding: str) -> None:
    """`file` read as `encoding` looks like text, else `DataError` (C1 control characters: latin-1
    on a cp1252 export) or a warning (symbols inside words), each naming the lines and the
    encoding that reads the file best (`suggested_encoding`)."""
    raw = file.read_bytes()
    lines = raw.decode(encoding).splitlines()
    odd = [number for number, line in enumerate(lines, 1) if implausible_characters(line)]
    if not odd:
        return
    suggested = suggested_encoding(raw)
    advice = "check --encoding"
    if suggested and codecs.lookup(suggested).name != codecs.lookup(encoding).name:
        advice = f"it reads best as {suggested}: give --encoding {suggested}"
    where = f"{len(odd)} of {len(lines)} lines (first line {odd[0]}: {lines[odd[0] - 1][:60]!r})"
    if any(C1_CONTROLS.search(lines[number - 1]) for number in odd):
        raise DataError(f"{file}: read as {encoding}, {where} hold C1 control characters (U+0080-U+009F), which text does not; {advice}")
    warnings.warn(f"{file}: read as {encoding}, {where} hold symbols or digits inside words; {advice}", UserWarning, stacklevel=2)


@dataclass(frozen=True)
class Place:
    """Where a split's rows come from, for messages: the file or Hub split, what a row is called,
    and how rows are counted."""

    name: str
    unit: str = "data row"
    counting: str = " (1-based)"
    delimiter: str | None = None  # CSV and TSV files: the field separator

    def row(self, number: int) -> str:
        return f"{self.name}: {self.unit} {number}{self.counting}"


def load_user_dataset(
    files: dict[str, str],
    text_column: str | None = None,
    label_column: str | None = None,
    class_names: list[str] | None = None,
    encoding: str | None = None,
) -> tuple[DatasetDict, dict]:
    """Local files, one per split (`train`, `validation`, `test`), as a `DatasetDict` and its description."""
    raw, places = {}, {}
    for split, path in files.items():
        raw[split] = read_data_file(path, encoding)
        delimiter = {".csv": ",", ".tsv": "\t"}.get(Path(path).suffix.lower())
        header = " (1-based, not counting the header)" if delimiter else " (1-based)"
        places[split] = Place(str(path), "data row", header, delimiter)
    dataset, columns = to_classification(raw, places, text_column, label_column, class_names)
    description = {
        "source": "files",
        **{f"{split}_file": str(path) for split, path in files.items()},
        "sha256": {str(path): file_digest(path) for path in files.values()},
        **({"encoding": encoding} if encoding else {}),
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
    """A Hub dataset's `train`, `validation` and `test` splits (those it has), like local files.

    Raises `PathError` (`HubUnreachable` without the Hub) as `load_hub_or_cache` says, and
    `DataError` for a dataset without those splits or with rows `to_classification` refuses.
    """
    shown = _shown(name, config)
    hub = load_hub_or_cache(name, config, f"use local files: {LOCAL_FILES_HINT}")
    raw = {split: hub[split] for split in ("train", "validation", "test") if split in hub}
    if not raw:
        raise DataError(f"Hub dataset {shown} has no train, validation or test split (it has: {', '.join(hub)})")
    places = {split: Place(f"{name}[{split}]", "row") for split in raw}
    dataset, columns = to_classification(raw, places, text_column, label_column, class_names)
    return dataset, {"source": "hub", "dataset_name": name, "dataset_config": config, **columns, "test_held_out": False}


def _shown(name: str, config: str | None) -> str:
    return f"{name!r}" + (f" (config {config!r})" if config else "")


def load_hub_or_cache(name: str, config: str | None, local_alternative: str) -> DatasetDict:
    """`datasets.load_dataset(name, config)`: from the Hub when `hub.hub_reachable()`, else from
    the local datasets cache alone, in offline mode.

    Without offline mode `datasets` asks the Hub first and retries for some twenty seconds before
    it falls back to its cache (datasets 5.2, Hub unreachable); offline mode reads the cache at once.
    Raises `HubUnreachable` (a `PathError`) naming the dataset and what to do when the Hub is
    unreachable and the dataset (or this config of it) was never cached, and `PathError` when
    the Hub answers but the load fails. `local_alternative` ("use local files: ...") ends both.
    """
    from datasets import load_dataset

    from pipelines import hub  # here, not at the top: it imports transformers, which local data never needs

    shown = _shown(name, config)
    if not hub.hub_reachable():
        try:
            with _datasets_offline():
                return load_dataset(name, config)
        except (ConnectionError, ValueError) as err:  # offline: an uncached dataset, an uncached config
            raise hub.unreachable_error(
                f"the Hub dataset {shown} is not in the local datasets cache and",
                f"load it once while the Hub is reachable (later runs read the cached copy, also with HF_HUB_OFFLINE=1), "
                f"or {local_alternative}",
            ) from err
    try:
        return load_dataset(name, config)
    except Exception as err:  # the Hub client raises many kinds of connection and repository errors
        raise PathError(
            f"could not load {shown} from the Hub ({type(err).__name__}: {_first_line(err)}); offline, {local_alternative}"
        ) from err


@contextmanager
def _datasets_offline():
    """`HF_HUB_OFFLINE` for the `datasets` and `huggingface_hub` calls inside, as if set at startup.

    Both read a module constant on every call (`datasets.config.HF_HUB_OFFLINE` was copied from
    the Hub client's at import), so setting the two is offline mode; the previous values return.
    """
    import datasets
    import huggingface_hub

    saved = datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = saved


# --- from any table to text + ClassLabel ----------------------------------------------------------


def pick_column(columns: list[str], chosen: str | None, candidates: tuple[str, ...], option: str, where: str) -> str:
    """The column `option` names, else the first candidate present (case-insensitive)."""
    if chosen is not None:
        if chosen not in columns:
            raise DataError(f"{where}: no column {chosen!r} ({option}); the columns are: {', '.join(columns)}")
        return chosen
    by_lower = {column.lower(): column for column in columns}
    for candidate in candidates:
        if candidate in by_lower:
            return by_lower[candidate]
    raise DataError(
        f"{where}: none of the columns {', '.join(columns)} is one of {', '.join(candidates)}; name it with {option}"
    )


def _label_kind(value) -> str | None:
    if isinstance(value, str):
        return "string"
    if isinstance(value, int) and not isinstance(value, bool):
        return "integer"
    return None


def is_missing_label(value, class_names: list[str] | None = None) -> bool:
    """None, NaN, or a string of `MISSING_LABELS` (unless `--class_names` lists it as a class)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    if isinstance(value, str) and value.strip().lower() in MISSING_LABELS:
        return not (class_names and value.strip() in class_names)
    return False


def default_class_names(labels: set[str]) -> list[str]:
    """negative/neutral/positive order when those are the names (any case), else sorted."""
    for order in SENTIMENT_ORDERS:
        if {label.lower() for label in labels} == set(order) and len(labels) == len(order):
            return sorted(labels, key=lambda label: order.index(label.lower()))
    return sorted(labels)


@dataclass
class LabelledRows:
    """One split's rows that have text: (row number, text, label), and where they come from."""

    rows: list[tuple[int, str, str | int]]
    place: Place
    label_column: str
    label_feature: object  # the source's feature of the label column (a `ClassLabel` keeps its names)


def to_classification(
    raw: dict[str, Dataset],
    places: dict[str, Place],
    text_column: str | None,
    label_column: str | None,
    class_names: list[str] | None,
) -> tuple[DatasetDict, dict]:
    """Columns `text` and `label` (a `ClassLabel`) from each split, checked row by row.

    Rows whose text is empty or missing are dropped, with a printed count: scraped review files
    often hold a few, and one should not stop a run. A missing label (empty, a `MISSING_LABELS`
    spelling, JSON null, NaN) stops the run, naming the first row and counting the others: a
    label cannot be guessed, and a dropped test row would change the test set unseen. A text that
    is not a string (a number, a list) means the wrong column or a broken file, and stops the run.
    A `ClassLabel` column's ids are read as its names first, so every split (CSV, Parquet, JSON,
    Hub) is matched to train by name, whatever order each file lists its names in. The class
    names come from `class_names`, else the training labels' `ClassLabel` names, else the
    training labels (the first split given when there is no training file); a label outside them
    stops the run. Every stop is a `DataError` naming the file (or Hub split) and row.
    """
    from datasets import ClassLabel

    kept, columns_used, dropped = {}, {}, {}
    for split, data in raw.items():
        place = places[split]
        text_name = pick_column(data.column_names, text_column, TEXT_COLUMNS, "--text_column", place.name)
        label_name = pick_column(data.column_names, label_column, LABEL_COLUMNS, "--label_column", place.name)
        columns_used = {"text_column": text_name, "label_column": label_name}
        rows, empty = _checked_rows(data, text_name, label_name, place, class_names)
        if place.delimiter:
            _check_swallowed_rows(rows, place, len(data.column_names) - data.column_names.index(label_name))
        if empty:
            dropped[place.name] = len(empty)
            print(f"{place.name}: dropped {len(empty)} rows with empty text ({place.unit}s {_some(empty)})", flush=True)
        if not rows:
            raise DataError(f"{place.name}: no rows with text in column {text_name!r}")
        feature = data.features[label_name]
        if isinstance(feature, ClassLabel):  # matched by name across splits, never by position
            rows = _named_labels(rows, feature, place)
        kept[split] = LabelledRows(rows, place, label_name, feature)
    kind = _label_type(kept)
    names, to_id, outside = _class_mapping(kept, kind, class_names)
    from datasets import Dataset, DatasetDict

    features = features_for(names)
    splits = {}
    for split, labelled in kept.items():
        ids = []
        for row, _, label in labelled.rows:
            if label not in to_id:
                raise DataError(f"{labelled.place.row(row)}: label {label!r} is {outside}")
            ids.append(to_id[label])
        splits[split] = Dataset.from_dict({"text": [text for _, text, _ in labelled.rows], "label": ids}, features=features)
    description = {**columns_used, "class_names": names}
    if dropped:
        description["dropped_empty_texts"] = dropped
    return DatasetDict(splits), description


def _some(rows: list[int]) -> str:
    return ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")


def _checked_rows(data: Dataset, text_name: str, label_name: str, place: Place, class_names: list[str] | None):
    """(row, text, label) of the rows with text, and the numbers of the rows without."""
    rows, empty, missing = [], [], []
    for row, (text, label) in enumerate(zip(data[text_name], data[label_name]), start=1):
        if text is None or (isinstance(text, str) and not text.strip()):
            empty.append(row)
            continue
        if not isinstance(text, str):
            raise DataError(f"{place.row(row)}: text {text!r:.60} in column {text_name!r} is not a string")
        if is_missing_label(label, class_names):
            missing.append((row, label))
            continue
        if isinstance(label, float) and label.is_integer():  # a CSV column of numbers may come back as floats
            label = int(label)
        if _label_kind(label) is None:
            raise DataError(f"{place.row(row)}: label {label!r:.60} is not a string or an integer")
        rows.append((row, text, label.strip() if isinstance(label, str) else label))
    if missing:
        row, value = missing[0]
        plural = "s" if len(missing) > 1 else ""
        shown = "null" if value is None else "NaN" if isinstance(value, float) else repr(value)
        hint = f"; if {value.strip()!r} is a class, list it in --class_names" if isinstance(value, str) and value.strip() else ""
        raise DataError(
            f"{place.row(row)}: missing label {shown} in column {label_name!r} ({len(missing)} row{plural} without "
            f"a label: {place.unit}{plural} {_some([r for r, _ in missing])}); "
            f"label or remove them{hint}"
        )
    return rows, empty


def _named_labels(rows: list[tuple[int, str, str | int]], feature: ClassLabel, place: Place) -> list[tuple[int, str, str]]:
    """A `ClassLabel` column's ids as its names, so files whose names come in another order
    (a Parquet test file written by `datasets`, a Hub split) still agree with train; an id outside
    the names stops the run, naming the row."""
    named = []
    for row, text, label in rows:
        if not isinstance(label, int) or not 0 <= label < feature.num_classes:
            raise DataError(f"{place.row(row)}: label {label!r} is not a class id of the file's ClassLabel {feature.names}")
        named.append((row, text, feature.names[label]))
    return named


def _check_swallowed_rows(rows: list[tuple[int, str, str | int]], place: Place, label_from_end: int) -> None:
    """Stop at a quoted cell that swallowed rows: a stray quote opens it and a later one closes
    it, so every line of it but the last reads as a row of its own: a label of the file exactly
    (no space after the separator, as files are written, unlike prose) `label_from_end` fields
    from the end. A genuine multi-line text has no such lines."""
    labels = {str(label) for _, _, label in rows}
    for row, text, _ in rows:
        lines = text.splitlines()
        if len(lines) < 2:
            continue
        fields = [line.split(place.delimiter) for line in lines[:-1]]
        if all(len(parts) > label_from_end - 1 and parts[-label_from_end] in labels for parts in fields):
            raise DataError(
                f"{place.row(row)}: a quote opens here and closes {len(lines) - 1} line(s) later, so the "
                f"rows between are read as text ({lines[0][:40]!r} ...); if the quote is text, double it (\"\") "
                "or quote the whole cell"
            )


def _label_type(kept: dict[str, LabelledRows]) -> str:
    """'string' or 'integer', the same in every split; mixed types stop the run."""
    kinds = {}
    for split, labelled in kept.items():
        first = {}
        for row, _, label in labelled.rows:
            first.setdefault(_label_kind(label), (row, label))
        if len(first) > 1:
            (row_a, a), (row_b, b) = first["string"], first["integer"]
            place = labelled.place
            raise DataError(
                f"{place.name}: mixed label types in column {labelled.label_column!r}: {place.unit} {row_a} holds the "
                f"string {a!r}, {place.unit} {row_b} the integer {b!r}{place.counting}; use one type"
            )
        kinds[split] = next(iter(first))
    if len(set(kinds.values())) > 1:
        raise DataError(
            "mixed label types across files: "
            + ", ".join(f"{kept[split].place.name} has {kind} labels" for split, kind in kinds.items())
            + " (a ClassLabel column counts as its names); give every file the class names, not ids"
        )
    return next(iter(kinds.values()))


def _class_mapping(kept: dict[str, LabelledRows], kind: str, class_names: list[str] | None):
    """(class names, label -> id, how a label outside them is described)."""
    from datasets import ClassLabel

    reference = kept[next(iter(kept))]  # train when given: the labels training sees define the classes
    labels = {label for _, _, label in reference.rows}
    if class_names is not None:
        names = class_names
        to_id = {name: i for i, name in enumerate(names)} if kind == "string" else {i: i for i in range(len(names))}
        outside = f"not one of --class_names {','.join(names)}"
    elif isinstance(reference.label_feature, ClassLabel):  # its names, in its order, even those no row holds
        names = list(reference.label_feature.names)
        to_id = {name: i for i, name in enumerate(names)}
        outside = f"not a class of {reference.place.name} ({', '.join(names)})"
    else:
        if kind == "string":
            names = default_class_names(labels)
            to_id = {name: i for i, name in enumerate(names)}
        else:  # 0..k-1 keep their ids; other integers (1..5 stars, -1/0/1) are numbered in order
            values = sorted(labels)
            names = [str(value) for value in values]
            to_id = {value: i for i, value in enumerate(values)}
        outside = f"never seen in {reference.place.name}"
    if "train" in kept and len(labels) < 2:
        raise DataError(
            f"{reference.place.name}: the label column {reference.label_column!r} holds one class "
            f"({next(iter(labels))!r}); a classifier needs at least two"
        )
    if len(names) < 2:
        raise DataError(
            f"{reference.place.name}: the label column {reference.label_column!r} holds one class ({names[0]!r}); "
            "name all classes with --class_names"
        )
    return names, to_id, outside
