"""The held-out splits every flow shares: the test split, the validation split and CV folds.

Data without a test split gets one drawn from train, per class, with the run's seed; training
data without a validation split gets one the same way (`--validation_fraction` each). Before a
split is drawn, each class is checked to have enough rows for it, so a class that is too small
is named, with its count and the file it comes from, instead of `datasets`' message.
"""

from __future__ import annotations

from collections import Counter
from math import ceil

import numpy as np
from datasets import Dataset, DatasetDict

from pipelines.arguments import DataSourceArguments
from pipelines.data import column, load_data
from pipelines.errors import DataError
from pipelines.train_sizes import subsample


def split_validation(dataset: DatasetDict, fraction: float, seed: int) -> DatasetDict:
    """train / validation / test, the validation drawn from train with a fixed seed, per class,
    unless the data brought its own (`--validation_file`, a Hub validation split; then an as-is evaluation's
    data may have no train split, and none comes back)."""
    if "validation" in dataset:  # an as-is evaluation may bring validation and test without train
        return DatasetDict({split: dataset[split] for split in ("train", "validation", "test") if split in dataset})
    held_out = _stratified_split(dataset["train"], fraction, seed, "validation")
    return DatasetDict({"train": held_out["train"], "validation": held_out["test"], "test": dataset["test"]})


def check_stratified_split(
    train: Dataset, fraction: float, what: str, source: str = "the training data", before: Counter | None = None
) -> None:
    """Raise `DataError` unless `fraction` of every class of `train` can be held out as `what`.

    A class present needs two rows (one on each side), and each side as many rows as there are
    classes (`datasets.Dataset.train_test_split`'s own conditions). `before` holds the class
    counts of `source` when `train` is what remains of it after an earlier hold-out.
    """
    names = train.features["label"].names
    counts = Counter(column(train, "label"))
    option = f"--{what}_file"
    for label, count in sorted(counts.items()):
        if count < 2:
            in_file = f" left after the test split was held out ({before[label]} in {source})" if before else ""
            raise DataError(
                f"{source}: class {names[label]!r} has {count} row{'s' if count != 1 else ''}{in_file}, too few to hold "
                f"out {fraction:g} of each class as the {what} split (each class needs at least 2 rows); add rows "
                f"of {names[label]!r}, remove them, or give {option}"
            )
    held_out = ceil(fraction * len(train))
    for side, size in ((what, held_out), ("training", len(train) - held_out)):
        if size < len(counts):
            raise DataError(
                f"{source}: holding out {fraction:g} of its {len(train)} rows as the {what} split leaves {size} "
                f"{side} rows, fewer than its {len(counts)} classes; give more rows, another --validation_fraction, "
                f"or {option}"
            )


def _stratified_split(
    train: Dataset, fraction: float, seed: int, what: str, source: str = "the training data"
) -> DatasetDict:
    check_stratified_split(train, fraction, what, source)
    return train.train_test_split(test_size=fraction, seed=seed, stratify_by_column="label")


def _source_name(data_args: DataSourceArguments) -> str:
    """The training data as messages name it: the file, the Hub split, or the benchmark."""
    if data_args.train_file:
        return data_args.train_file
    return f"{data_args.dataset_name}[train]" if data_args.dataset_name else data_args.dataset


def load_train_test(data_args: DataSourceArguments, seed: int) -> tuple[DatasetDict, dict]:
    """`train` (+ `validation` when given) and `test` from any source, with its description.

    `data_args` is the flows' `DataArguments`: the data source plus `validation_fraction`,
    `cv_folds` and `fold`. Data without a test split gets one: `--validation_fraction` of train,
    per class, drawn with `seed`, so every model trained with that seed is tested on the same
    sentences. Training data never includes it: the vocabulary and the validation split come
    from what remains. Raises `DataError` when there is no training split, or a class is too
    small for a hold-out (checked here for the validation split too, before any training).
    """
    dataset, description = load_data(data_args)
    if "train" not in dataset:
        raise DataError(f"{data_args.dataset_label} has no training split; give --train_file")
    if data_args.cv_folds:
        folded = cross_validation_fold(dataset, data_args.cv_folds, data_args.fold, seed)
        description = {**description, "protocol": "cv", "cv_folds": data_args.cv_folds, "fold": data_args.fold}
        if getattr(data_args, "train_size", None):
            folded, description = train_subsample(folded, description, data_args.train_size, seed, _source_name(data_args))
        overlap = train_overlap(folded)  # a sentence the data holds twice can fall in a training fold and the test fold
        return folded, {**description, "train_overlap": overlap} if overlap else description
    source, before = _source_name(data_args), None
    if "test" not in dataset:
        before = Counter(column(dataset["train"], "label"))
        held_out = _stratified_split(dataset["train"], data_args.validation_fraction, seed, "test", source)
        dataset = DatasetDict({**dataset, "train": held_out["train"], "test": held_out["test"]})
        description = {**description, "test_held_out": True, "test_fraction": data_args.validation_fraction}
    if getattr(data_args, "train_size", None):
        dataset, description = train_subsample(dataset, description, data_args.train_size, seed, source)
        source, before = f"--train_size {data_args.train_size} ({source})", None
    if "validation" not in dataset:
        check_stratified_split(dataset["train"], data_args.validation_fraction, "validation", source, before)
    overlap = train_overlap(dataset)
    shared = validation_in_test(dataset, data_args)
    return dataset, description | ({"train_overlap": overlap} if overlap else {}) | ({"validation_test_overlap": shared} if shared else {})


def validation_in_test(dataset: DatasetDict, data_args: DataSourceArguments, shown: int = 3) -> int:
    """The rows of a validation split the data brings (`--validation_file`) whose text (`normalised`) is also in
    its test split, printed as a warning. Validation chooses the checkpoint, the temperature and the abstention and
    conformal thresholds: a validation set that is the test set makes every test score optimistic, so `DataError`
    when every test sentence is in it."""
    if "validation" not in dataset or "test" not in dataset:
        return 0
    validation = {normalised(text) for text in dataset["validation"]["text"]}
    rows = [row for row, text in enumerate(dataset["test"]["text"]) if normalised(text) in validation]
    if rows and len(rows) == len(dataset["test"]):
        given = getattr(data_args, "validation_file", None)
        raise DataError(f"{f'--validation_file {given}' if given else _source_name(data_args).replace('[train]', '[validation]')}: every test sentence is in it "
                        "(the same sentences as the test split); validation chooses the checkpoint and the calibration, so "
                        "give a validation set apart from the test set, or none (one is held out of train)")  # fmt: skip
    if rows:
        examples = "; ".join(f"row {row}: {dataset['test'][row]['text'][:60]!r}" for row in rows[:shown])
        print(f"warning: {len(rows)} of {len(dataset['test'])} test sentences also occur in validation (case and spacing aside), "
              f"e.g. {examples}; the checkpoint and calibration chosen on validation saw them", flush=True)
    return len(rows)


def train_subsample(dataset: DatasetDict, description: dict, size: int, seed: int, source: str) -> tuple[DatasetDict, dict]:
    """`--train_size`: `size` training sentences per class drawn with `seed` (`pipelines.train_sizes`)."""
    return subsample(dataset, size, seed, "--train_size", source), {**description, "train_size_per_class": size}


def normalised(text: str) -> str:
    """`text` as compared across splits: case folded, runs of whitespace as one space."""
    return " ".join(text.casefold().split())


def train_overlap(dataset: DatasetDict, shown: int = 3) -> dict[str, int]:
    """{split: rows whose text (`normalised`) also occurs in train}, for validation and test; each
    split with any is printed as a warning with its count and the first `shown` rows (0-based)."""
    seen = {normalised(text) for text in dataset["train"]["text"]}
    overlap = {}
    for split in ("validation", "test"):
        if split not in dataset:
            continue
        rows = [row for row, text in enumerate(dataset[split]["text"]) if normalised(text) in seen]
        if rows:
            overlap[split] = len(rows)
            examples = "; ".join(f"row {row}: {dataset[split][row]['text'][:60]!r}" for row in rows[:shown])
            print(f"warning: {len(rows)} of {len(dataset[split])} {split} sentences also occur in train "
                  f"(case and spacing aside), e.g. {examples}; their scores measure recall of training data", flush=True)
    return overlap


def protocol_info(description: dict) -> dict:
    """`protocol` (`lab`: a fixed test split; `cv`: one fold of cross-validation), the fold,
    `train_overlap` (`train_overlap`'s counts) when validation or test sentences occur in train,
    `validation_test_overlap` (`validation_in_test`) when test sentences occur in a validation file, and
    `train_size_per_class` when the run trained on a subsample (`--train_size`)."""
    return {
        "protocol": description.get("protocol", "lab"),
        **{key: description[key] for key in ("cv_folds", "fold", "train_overlap", "validation_test_overlap", "train_size_per_class")
           if key in description},
    }


def cross_validation_fold(dataset: DatasetDict, folds: int, fold: int, seed: int) -> DatasetDict:
    """Every split pooled, stratified into `folds` folds by `seed`; fold `fold` is the test set.

    The test split keeps an `index` column, the sentence's position in the pooled data, so the
    folds of one seed together predict every sentence once. Raises `DataError` when no class has
    `folds` rows (scikit-learn's `StratifiedKFold` cannot split it).
    """
    from datasets import concatenate_datasets
    from sklearn.model_selection import StratifiedKFold

    pooled = concatenate_datasets([dataset[split] for split in dataset])
    pooled = pooled.add_column("index", np.arange(len(pooled)))
    labels = np.asarray(column(pooled, "label"))
    if np.bincount(labels).max() < folds:
        raise DataError(f"--cv_folds {folds}: no class has {folds} rows ({len(labels)} rows in all); give fewer folds")
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels)
    train_rows, test_rows = list(splits)[fold]
    return DatasetDict({"train": pooled.select(train_rows).remove_columns("index"), "test": pooled.select(test_rows)})
