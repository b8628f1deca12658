"""Label unlabelled texts with any classifier, from the command line.

    python -m pipelines.predict --model RUN_DIR|ONNX_DIR|NAME --input FILE --output FILE [--text_column text]

`--model` is anything `pipelines.inference.load_classifier` loads: a `train.py`/`finetune.py` run
folder (`finetune.py --setfit` too; or any `save_pretrained` folder or Hub id), a `pipelines.export` folder, or a model used as
it is (`vader`, `textblob`, `afinn`; `minilm`, `mpnet` zero-shot) over `--class_names`.

The input is read as training reads its files (`pipelines.data.files.read_data_file`: CSV, TSV, JSON
lines or Parquet by extension, the same encoding and parser diagnostics, the same text-column
choice), except that every CSV/TSV cell stays the string it is (`00501` is not read as the number 501),
so the columns are written back as they were. A text that is not a string stops the run naming its row;
an empty text is kept (every input row gets an output row) and counted. The output is the input's rows
and columns plus `label` (the predicted class name) and one `probability_<class>` column per class, in
the format of the output's extension, written at once (a temporary file renamed), only after every
check passed.
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines.cli import parse, run_cli
from pipelines.arguments import check_encoding, parse_class_names
from pipelines.data.files import FILE_FORMATS, read_data_file
from pipelines.data.rows import TEXT_COLUMNS, Place, pick_column
from pipelines.errors import DataError, OptionError, PathError
from pipelines.inference import check_device, default_device, load_classifier
from pipelines.runs.io import check_writable_dir
from pipelines.scorers import LEXICONS

LABEL_COLUMN = "label"
PROBABILITY_PREFIX = "probability_"


@dataclass
class PredictArguments:
    model: str = field(metadata={"help": "a run folder, an exported ONNX folder, a Hub id, or vader, textblob, afinn, minilm, mpnet"})
    input: str = field(metadata={"help": "the texts: .csv, .tsv, .json/.jsonl (JSON lines) or .parquet"})
    output: str = field(metadata={"help": "the input rows plus label and probability_<class> columns; format by extension"})
    text_column: str | None = field(default=None, metadata={"help": f"default: the first of {', '.join(TEXT_COLUMNS)}"})
    class_names: str | None = field(
        default=None, metadata={"help": "lexicon and zero-shot models only: the classes, default negative,neutral,positive"}
    )
    encoding: str | None = field(default=None, metadata={"help": "text encoding of a CSV, TSV or JSON lines input; default UTF-8"})
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass"})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1...; default: a GPU when present"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing --output file"})

    def __post_init__(self):
        for option, path in (("--input", self.input), ("--output", self.output)):
            if Path(path).suffix.lower() not in FILE_FORMATS:
                raise OptionError(f"{option} {path}: unknown extension {Path(path).suffix or '(none)'!r}; use one of: {', '.join(FILE_FORMATS)}")
        if Path(self.output).expanduser().resolve() == Path(self.input).expanduser().resolve():
            raise OptionError(f"--output {self.output} is the --input file; write the predictions to another file")
        if self.batch_size < 1:
            raise OptionError(f"--batch_size must be at least 1, got {self.batch_size}")
        if self.encoding:
            check_encoding(self.encoding)
        parse_class_names(self.class_names)


def input_texts(args: PredictArguments, data) -> list[str]:
    """The texts of the input's text column; `DataError` naming the row of a text that is not a string."""
    delimited = Path(args.input).suffix.lower() in (".csv", ".tsv")
    place = Place(args.input, "data row", " (1-based, not counting the header)" if delimited else " (1-based)")
    column = pick_column(data.column_names, args.text_column, TEXT_COLUMNS, "--text_column", place.name)
    texts, empty = [], []
    for row, text in enumerate(data[column], start=1):
        if text is None or (isinstance(text, str) and not text.strip()):
            empty.append(row)
            text = ""
        elif not isinstance(text, str):
            raise DataError(f"{place.row(row)}: text {text!r:.60} in column {column!r} is not a string")
        texts.append(text)
    if empty:
        print(f"{args.input}: {len(empty)} rows with empty text, predicted as they are (rows {', '.join(map(str, empty[:5]))}{', ...' if len(empty) > 5 else ''})")
    return texts


def new_columns(columns: list[str], label_names: list[str], where: str) -> list[str]:
    """`label` and one probability column per class; `DataError` if the input already has one."""
    added = [LABEL_COLUMN, *(f"{PROBABILITY_PREFIX}{name}" for name in label_names)]
    taken = [name for name in added if name in columns]
    if taken:
        raise DataError(f"{where}: already has column {taken[0]!r}, which the predictions would replace; rename or drop it")
    return added


def input_table(data):
    """The input `Dataset` as a pandas DataFrame whose integer and boolean columns keep pandas' nullable types, so a
    JSON-lines or Parquet column of integers with a missing value is written back as integers (`{"id": 1}`), not
    floats (`1.0`) as `Dataset.to_pandas` gives."""
    import pandas as pd
    import pyarrow as pa

    nullable = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
                pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(), pa.uint32(): pd.UInt32Dtype(),
                pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype()}  # fmt: skip
    return data.with_format("arrow")[:].to_pandas(types_mapper=nullable.get)


def write_table(table, path: Path) -> None:
    """`table` (a pandas DataFrame) in the format of `path`'s extension, through a temporary file renamed into place."""
    partial = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        for column_name in table.columns:
            cells = table[column_name].astype(str)
            broken = cells.str.contains("[\t\r\n]", regex=True)
            if broken.any():
                row = int(np.flatnonzero(broken.to_numpy())[0]) + 1
                raise DataError(
                    f"{path}: row {row}'s {column_name!r} holds a tab or a line break, which a .tsv file cannot hold as the "
                    "toolkit reads TSV (unquoted); write .csv, .jsonl or .parquet"
                )
    try:
        if suffix == ".parquet":
            table.to_parquet(partial, index=False)
        elif suffix in (".json", ".jsonl"):
            table.to_json(partial, orient="records", lines=True, force_ascii=False)
        elif suffix == ".tsv":  # unquoted, as the toolkit reads TSV (`pipelines.data.files`: QUOTE_NONE, as SemEval's files are)
            table.to_csv(partial, sep="\t", index=False, quoting=csv.QUOTE_NONE)
        else:
            table.to_csv(partial, index=False)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def predict(args: PredictArguments) -> Path:
    """Read and check the input, load the model, label every row, write `--output`; returns its path.
    Bad input raises a `UserError` before anything is written."""
    output = Path(args.output).expanduser()
    if output.is_dir():
        raise PathError(f"--output {output} is a folder; give the file to write, e.g. {output / 'predictions.csv'}")
    if output.exists() and not args.overwrite:
        raise PathError(f"--output {output} exists; choose another file or pass --overwrite")
    check_writable_dir(output.parent)
    device = args.device or default_device()
    check_device(device)
    data = read_data_file(args.input, args.encoding, cells_as_text=True)  # the columns written back as they were
    texts = input_texts(args, data)
    classifier = load_classifier(args.model, parse_class_names(args.class_names), None, device, args.batch_size, progress=True)
    if args.class_names and list(classifier.label_names) != parse_class_names(args.class_names):
        if args.model in LEXICONS:
            raise OptionError(
                f"--class_names {args.class_names}: {args.model} is a lexicon, whose rule gives negative,positive or "
                "negative,neutral,positive (in that order)"
            )
        raise OptionError(f"--class_names is for lexicon and zero-shot models; {args.model} predicts its own: {', '.join(classifier.label_names)}")
    added = new_columns(data.column_names, classifier.label_names, args.input)
    probabilities = classifier.probabilities(texts)
    table = input_table(data)
    table[added[0]] = np.asarray(classifier.label_names, dtype=object)[probabilities.argmax(axis=-1)]
    for column, values in zip(added[1:], probabilities.T):
        table[column] = values
    output.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, output)
    print(f"wrote {output}: {len(texts)} rows labelled by {classifier.name} ({', '.join(classifier.label_names)})")
    return output


def main(argv: list[str]) -> None:
    (args,) = parse((PredictArguments,), argv)
    predict(args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
