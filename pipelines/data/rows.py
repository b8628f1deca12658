"""From any table to `text` and a `ClassLabel` `label`: the columns picked, every row checked
(empty texts dropped and counted, a missing or mixed-type label named by file and row), and the
class names fixed by name across splits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.errors import DataError

if TYPE_CHECKING:
    from datasets import ClassLabel, Dataset, DatasetDict

TEXT_COLUMNS = ("text", "sentence", "tweet", "review", "content")
LABEL_COLUMNS = ("label", "labels", "sentiment", "polarity")
SENTIMENT_ORDERS = (("negative", "neutral", "positive"), ("negative", "positive"))
# A label cell holding one of these (any case, surrounding spaces ignored), JSON null, or a NaN
# stops the run: pandas' missing-value spellings, which exports write for an unlabelled row.
MISSING_LABELS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>", "#n/a", "#na", "nil"})


def features_for(label_names):
    """`datasets.Features`: `text` a string, `label` a `ClassLabel` of `label_names`."""
    from datasets import ClassLabel, Features, Value  # `datasets` takes seconds to import, and parsing options needs none of it

    return Features({"text": Value("string"), "label": ClassLabel(names=list(label_names))})


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


def _check_one_spelling(split: LabelledRows) -> None:
    """`DataError` naming two labels of `split` that differ only in case, with a row of each: they would be two classes."""
    first: dict[str, tuple[str, int]] = {}
    for number, _, label in split.rows:
        seen = first.setdefault(label.casefold(), (label, number))
        if seen[0] != label:
            place = split.place
            raise DataError(f"{place.name}: labels {seen[0]!r} in {place.unit} {seen[1]} and {label!r} in {place.unit} {number}{place.counting} "
                            "differ only in case and would be two classes; spell each class one way")  # fmt: skip


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
            _check_one_spelling(reference)
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
