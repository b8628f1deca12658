"""Your own data from local files (CSV, TSV, JSON lines, Parquet), one per split, read by
`datasets`; every failure a `DataError` or `PathError` naming the file and, where the parser
says, the row. The bytes are checked first (`pipelines.data.encodings`)."""

from __future__ import annotations

import csv
import json
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.data.encodings import check_plausible, decoding_error
from pipelines.data.rows import Place, to_classification
from pipelines.errors import DataError, PathError, root_cause_line

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

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
LOCAL_FILES_HINT = "--train_file/--test_file with .csv, .tsv, .json, .jsonl or .parquet files"


def file_digest(path: str | os.PathLike) -> str:
    """The first 12 hex digits of the file's SHA-256: enough to tell two versions of a file apart."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def read_data_file(path: str, encoding: str | None = None, cells_as_text: bool = False) -> Dataset:
    """One local file as a `Dataset`, read by `datasets`; every failure is a `DataError` or
    `PathError` naming the file (and, where the parser says, the row). `cells_as_text`: every CSV/TSV
    cell is the string written there (`00501` stays `00501`), not a type pandas guesses for each
    10,000-row chunk, so `pipelines.predict` writes its input's columns back as they were."""
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
    if builder == "csv":  # checked first: pandas would read the rows shifted, without a word
        check_first_row_width(file, options, encoding or "utf-8")
        if cells_as_text:  # converters keyed by column position: a duplicate header name is mangled, not merged
            options = {**options, "converters": {i: str for i in range(header_width(file, options, encoding or "utf-8"))}}
    verbosity = datasets_logging.get_verbosity()
    datasets_logging.set_verbosity(datasets_logging.CRITICAL)  # its own log line would repeat our error
    try:
        return load_dataset(builder, data_files={"data": str(file)}, split="data", cache_dir=str(content_cache(file)), **options)
    except Exception as err:  # pandas, pyarrow and `datasets` raise their own kinds; all mean a bad file
        raise _read_error(file, kind, err, encoding or "utf-8") from err
    finally:
        datasets_logging.set_verbosity(verbosity)


def content_cache(file: Path) -> Path:
    """The `datasets` cache folder of `file`'s bytes: `$HF_DATASETS_CACHE/by-content/<file_digest>`. `datasets` keys
    its own cache of a local file by path and modification time, so a file rewritten with its old time kept (`cp -p`,
    `rsync -a`, `tar x`, `touch -r`) would be read as its earlier version while the record names the new one's digest."""
    from datasets import config

    return Path(config.HF_DATASETS_CACHE) / "by-content" / file_digest(file)


def header_width(file: Path, options: dict, encoding: str = "utf-8") -> int:
    """The number of fields in the header of a CSV/TSV file read with its `FILE_FORMATS` reader `options`; 0 if unreadable."""
    with open(file, encoding=encoding, errors="replace", newline="") as stream:
        reader = csv.reader(stream, delimiter=options.get("delimiter", ","), quoting=options.get("quoting", csv.QUOTE_MINIMAL))
        try:
            return len(next((row for row in reader if row), []))
        except csv.Error:  # a quote never closed: the parser that reads the file names it
            return 0


def check_first_row_width(file: Path, options: dict, encoding: str = "utf-8") -> None:
    """`DataError` for a CSV/TSV file whose first data row has more fields than its header. pandas
    takes the extra leading fields of such a row for an index column and reads every row shifted by one:
    `great, fun,pos` under `text,label` becomes the text ' fun' (and `datasets` keeps a `__index_level_0__`
    column), or, where only that row is wider, the following rows lose their labels. `options`: the file's
    `FILE_FORMATS` reader options (delimiter, quoting)."""
    delimiter = options.get("delimiter", ",")
    with open(file, encoding=encoding, errors="replace", newline="") as stream:
        reader = csv.reader(stream, delimiter=delimiter, quoting=options.get("quoting", csv.QUOTE_MINIMAL))
        rows = (row for row in reader if row)  # pandas skips blank lines
        try:
            header, first = next(rows, None), next(rows, None)
        except csv.Error:  # a quote never closed, say: the parser that reads the file names it
            return
        if header is None or first is None or len(first) <= len(header):
            return
        line = reader.line_num
    fix = ("a text that holds a comma must be quoted, e.g. \"great, fun\",positive" if delimiter == ","
           else "a TSV file is read unquoted, so a text may not hold a tab")  # fmt: skip
    raise DataError(
        f"{file}: data row 1 (line {line}) has {len(first)} fields, more than the header's {len(header)} ({', '.join(header)}); "
        f"{fix}"
    )


def _read_error(file: Path, kind: str, err: Exception, encoding: str = "utf-8") -> DataError:
    """What went wrong reading `file`, in one line: a quote never closed, no rows, or the
    parser's own first line."""
    why = root_cause_line(err)
    if "corresponds to no data" in why:
        return DataError(f"{file}: no data rows")
    unclosed = re.search(r"EOF inside string starting at row (\d+)", why)
    if unclosed:
        return DataError(
            f"{file}: a quote opens in data row {unclosed.group(1)} (1-based, not counting the header) and is never "
            f"closed; close it, or double a quote that is text (\"\")"
        )
    if kind == "JSON lines" and "JSON parse error" in why:  # pyarrow counts rows from 0, within its block
        line = first_bad_json_line(file, encoding)
        if line is not None:
            return DataError(f"{file}: line {line[0]} is not a JSON object ({line[1]}); each line holds one, e.g. {{\"text\": ..., \"label\": ...}}")
    return DataError(f"{file}: cannot be read as {kind}: {why}")


def first_bad_json_line(file: Path, encoding: str = "utf-8") -> tuple[int, str] | None:
    """(1-based line number, why) of the first non-blank line of a JSON-lines file that is not a JSON object; None if all are."""
    with open(file, encoding=encoding, errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as err:
                return number, err.msg
            if not isinstance(value, dict):
                return number, f"a JSON {type(value).__name__}, not an object"
    return None


def file_digests(data: dict | None) -> dict[str, str] | None:
    """{split: SHA-256 of its file} of a run that read the user's own files (the `sha256` of `load_user_dataset`'s
    description, in the order of its `<split>_file` entries, so a record whose paths were made relative still pairs them);
    None for a benchmark, a Hub dataset, or a record from before the digests were kept."""
    if not isinstance(data, dict) or data.get("source") != "files" or not isinstance(data.get("sha256"), dict):
        return None
    files = {key.removesuffix("_file"): str(path) for key, path in data.items() if key in ("train_file", "validation_file", "test_file")}
    digests = data["sha256"]
    if all(path in digests for path in files.values()):
        return {split: digests[path] for split, path in files.items()}
    return dict(zip(files, digests.values())) if len(files) == len(digests) else None


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
