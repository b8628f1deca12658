"""Every source of data as a `datasets.DatasetDict` with columns `text` and `label` (a `ClassLabel`).

A built-in benchmark (`--dataset`, entries in `pipelines.benchmarks`) is read from its release
under `--data-dir` or `$SENTIBENCH_DATA_DIR`, else from its Hub copy (`builtin`). Any other
single-label text-classification data comes from local files (`--train_file`, `--validation_file`,
`--test_file`: CSV, TSV, JSON lines or Parquet; `files`, whose encodings `encodings` checks) or a
Hub dataset (`--dataset_name`; `hub_datasets`), read with `datasets.load_dataset` and brought to
the same two columns, checked row by row (`rows`). `load_data` is the one entry point the scripts
use for all three sources; the options it reads are `pipelines.arguments.DataSourceArguments`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.data import builtin, files, hub_datasets

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from pipelines.arguments import DataSourceArguments


def column(split: Dataset, name: str) -> list:
    """All values of column `name` of `split`, as a list, read from Arrow at once.

    `datasets` >= 4 returns a lazy `Column` for `split[name]`, and iterating one formats every row
    in Python: SemEval-2017 4A's 49,570 training labels took 1.56 CPU s iterated and 0.006 sliced
    (the command is in the commit that added this function).
    """
    return split[name][:]


def source_line(args: DataSourceArguments) -> str:
    """What `load_data(args)` reads, in one line: `reading mr from ../data/MR/rt-polarity.pos and ...`."""
    if args.source == "files":
        paths = (args.train_file, args.validation_file, args.test_file)
        return f"reading {args.dataset_label} from " + ", ".join(
            f"{split} {path}" for split, path in zip(("train", "validation", "test"), paths) if path
        )
    if args.source == "hub":
        config = f" (config {args.dataset_config})" if args.dataset_config else ""
        return f"reading {args.dataset_name}{config} from the Hub"
    return f"reading {args.dataset} from {builtin.source_text(args.dataset, args.data_dir)}"


# The lines `name_source` printed in this process: the grid's cells, `--train_size` and the searches read
# one source many times, and it is named once.
_NAMED: set[str] = set()


def name_source(args: DataSourceArguments) -> None:
    """Print which folder or files the data comes from (`source_line`), once per process and source."""
    line = source_line(args)
    if line not in _NAMED:
        _NAMED.add(line)
        print(line, flush=True)


def load_data(args: DataSourceArguments) -> tuple[DatasetDict, dict]:
    """The splits (columns `text`, `label` as a `ClassLabel`) from whichever source `args` names,
    and a description of that source for `results.json` and the model card. Every flow reads its data
    here, so this names the source first (`name_source`), before anything is read."""
    name_source(args)
    if args.source == "files":
        paths = (args.train_file, args.validation_file, args.test_file)
        given = {split: path for split, path in zip(("train", "validation", "test"), paths) if path}
        return files.load_user_dataset(given, args.text_column, args.label_column, args.class_name_list, args.encoding)
    if args.source == "hub":
        return hub_datasets.load_hub_dataset(
            args.dataset_name, args.dataset_config, args.text_column, args.label_column, args.class_name_list
        )
    folder = builtin.resolve_data_dir(args.data_dir)
    dataset = builtin.load_sentiment_dataset(args.dataset, args.data_dir)
    description = {"source": "builtin", "dataset": args.dataset, "data_dir": str(folder) if folder else None}
    return dataset, {**description, "test_held_out": False}
