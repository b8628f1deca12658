"""A built-in benchmark (`pipelines.benchmarks`) as `train` and `test`: from its release under
`--data-dir` or `$SENTIBENCH_DATA_DIR`, else from its Hub copy, labels matched by name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.benchmarks import Benchmark, get_benchmark
from pipelines.data import hub_datasets
from pipelines.data.rows import features_for
from pipelines.errors import DataError, PathError

if TYPE_CHECKING:
    from datasets import DatasetDict

DATA_DIR_ENV = "SENTIBENCH_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The folder given by option, else by `$SENTIBENCH_DATA_DIR`, else None (use the Hub)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    return Path(chosen) if chosen else None


def source_text(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """Where `load_sentiment_dataset(name, data_dir)` reads, in words: the release's files (the
    benchmark's `layout` in the folder given, and where the folder was given) or its Hub copy."""
    benchmark = get_benchmark(name)
    folder = resolve_data_dir(data_dir)
    if folder is None:
        config = f"/{benchmark.hub_config}" if benchmark.hub_config else ""
        return f"its Hub copy {benchmark.hub_id}{config} (no --data-dir or ${DATA_DIR_ENV} given)"
    files = benchmark.layout.replace("<data_dir>", str(folder))
    if files == benchmark.layout:  # a layout that does not say where the folder goes
        files = f"{folder / benchmark.folder} ({benchmark.layout})"
    return files if data_dir else f"{files} (${DATA_DIR_ENV})"


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

    Raises `PathError` (`HubUnreachable` without the Hub) as `hub_datasets.load_hub_or_cache` says, and
    `DataError` when the copy's class names do not match the benchmark's.
    """
    hub = hub_datasets.load_hub_or_cache(
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
