"""Learning curves: training sizes per class, and the stratified subsample a run trains on.

`--train_size N` (train.py, finetune.py) and the grid's `--train_sizes 16,64,256,all` train on N
sentences of each class, drawn from the training split with the run's seed, so the same seed
draws the same sentences for every model and a curve's points at one size are paired. The
validation split is then drawn from those N per class as from the full split (the same
`--validation_fraction`, per class), so a point with N labels per class uses N labels in all;
data that bring their own validation split keep it in the same proportion to train, per class.
The test set is never touched. `all` is the whole training split (no subsample).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections import Counter
from dataclasses import replace

from typing import TYPE_CHECKING

import numpy as np

from pipelines.data import column
from pipelines.errors import DataError, OptionError

if TYPE_CHECKING:  # `pipelines.arguments` imports this module, and must parse without `datasets`
    from datasets import Dataset, DatasetDict

ALL = "all"


def parse_train_sizes(text: str, option: str = "--train_sizes") -> list[int | None]:
    """`16,64,all` -> [16, 64, None] (None: the whole training split), in the order given, each once."""
    sizes: list[int | None] = []
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        if part.lower() == ALL:
            size = None
        else:
            try:
                size = int(part)
            except ValueError:
                raise OptionError(f"{option} takes sentences per class as comma-separated integers or {ALL}, e.g. 16,64,{ALL}; got {part!r}") from None
            check_train_size(size, option)
        if size in sizes:
            raise OptionError(f"{option} names {part} twice")
        sizes.append(size)
    if not sizes:
        raise OptionError(f"{option} is empty; give sentences per class such as 16,64,256,{ALL}")
    return sizes


def check_train_size(size: int | None, option: str = "--train_size") -> None:
    if size is not None and size < 1:
        raise OptionError(f"{option}: a training size is sentences per class, at least 1; got {size}")


def size_label(size: int | None) -> str:
    """A size as folders and tables name it: `n16`, or `all`."""
    return ALL if size is None else f"n{size}"


def check_fits(train: Dataset, size: int, option: str = "--train_size", source: str = "the training data") -> None:
    """`OptionError` naming `option` unless every class of `train` has `size` rows."""
    names = train.features["label"].names
    counts = Counter(column(train, "label"))
    for label, name in enumerate(names):
        if counts.get(label, 0) < size:
            raise OptionError(
                f"{option} {size}: class {name!r} has {counts.get(label, 0)} training sentences in {source}; "
                f"give at most {min(counts.get(i, 0) for i in range(len(names)))} per class, or {ALL}"
            )


def per_class_rows(train: Dataset, sizes: dict[int, int], seed: int) -> list[int]:
    """Row indices of `train`: `sizes[label]` rows of each class, drawn with `seed`, in the split's order."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(column(train, "label"))
    chosen = [rng.permutation(np.flatnonzero(labels == label))[:count] for label, count in sorted(sizes.items())]
    return sorted(int(row) for row in np.concatenate(chosen)) if chosen else []


def subsample(dataset: DatasetDict, size: int, seed: int, option: str = "--train_size", source: str = "the training data") -> DatasetDict:
    """`dataset` with `size` training rows of each class (drawn with `seed`); a validation split the
    data brought shrinks in the same proportion to train, per class (at least one row); test unchanged."""
    from datasets import DatasetDict

    train = dataset["train"]
    check_fits(train, size, option, source)
    classes = range(len(train.features["label"].names))
    kept = DatasetDict({**dataset, "train": train.select(per_class_rows(train, {label: size for label in classes}, seed))})
    if "validation" in dataset:
        counts, held = Counter(column(train, "label")), Counter(column(dataset["validation"], "label"))
        shares = {label: min(held[label], max(1, math.ceil(size * held[label] / counts[label]))) for label in classes if held[label]}
        kept["validation"] = dataset["validation"].select(per_class_rows(dataset["validation"], shares, seed))
    return kept


def check_sizes(data_args, sizes: list[int | None], seed: int, option: str = "--train_sizes") -> None:
    """`OptionError` naming `option` for a size larger than a class of `data_args`' training split, or
    too small to hold out its validation split; the grid checks its sizes here before any cell runs."""
    from pipelines.splits import load_train_test

    counted = [size for size in sizes if size is not None]
    if not counted:
        return
    with contextlib.redirect_stdout(io.StringIO()):  # the data's warnings: each cell prints them where they matter
        dataset, _ = load_train_test(replace(data_args, train_size=None), seed)
        check_fits(dataset["train"], max(counted), option, data_args.dataset_label)
        try:
            load_train_test(replace(data_args, train_size=min(counted)), seed)
        except DataError as err:
            raise OptionError(f"{option} {min(counted)}: {err}") from None
