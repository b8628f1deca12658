"""What the scripts share: argument parsing and one-line user errors.

A `UserError` (`pipelines.errors`) prints one `error:` line and exits 2; every other exception is
a bug and keeps its traceback. `--traceback` shows the traceback of a user error too (the name
`--debug` belongs to `TrainingArguments`). The scripts import their dataclasses from
`pipelines.arguments` and their flow only after `parse`, so `--help` and a bad option skip the
flows' imports (`datasets`, `evaluate`, the models' code paths: seconds).
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Callable
from dataclasses import fields

from transformers import HfArgumentParser

from pipelines.errors import OptionError, UserError

USAGE = "%(prog)s [OPTIONS] | %(prog)s ARGS.json  (each option is described below; a JSON file holds the same names)"
TRAINER_GROUP = "Trainer options (transformers.TrainingArguments, with this script's defaults)"

TRACEBACK_FLAG = "--traceback"


def parse(dataclass_types, argv: list[str] | None = None, return_remaining: bool = False):
    """Dataclasses from the command line, or from a single `.json` argument.

    A `ValueError` while the dataclasses check their values (ours or `TrainingArguments`') is an
    option the user gave, so it becomes an `OptionError`. With `return_remaining`, the options
    none of the dataclasses knows come last, as a list, for another parser (the grid passes them
    on to train.py's). `--help` lists the project's options first and `TrainingArguments`' ~290
    after them, under their own heading; the dataclasses come back in the order given.
    """
    argv = sys.argv[1:] if argv is None else argv
    shown_last = [getattr(kind, "_argument_group_name", None) == TRAINER_GROUP for kind in dataclass_types]
    order = sorted(range(len(dataclass_types)), key=lambda index: shown_last[index])
    parser = HfArgumentParser([dataclass_types[index] for index in order], usage=USAGE)
    try:
        if len(argv) == 1 and argv[0].endswith(".json") and not return_remaining:
            parsed = parser.parse_json_file(argv[0])
        else:
            parsed = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=return_remaining)
    except UserError:
        raise
    except ValueError as err:
        raise OptionError(str(err)) from err
    by_position = dict(zip(order, parsed))
    return (*(by_position[index] for index in range(len(dataclass_types))), *parsed[len(order):])


def leading_positionals(argv: list[str], option: str) -> list[str]:
    """`VALUE... --other ...` as `option VALUE... --other ...`, for the commands whose first
    arguments are folders (`python -m pipelines.report RUNS_DIR`): `HfArgumentParser` knows options only."""
    if argv and not argv[0].startswith("-"):
        return [option, *argv]
    return argv


def to_argv(*instances) -> list[str]:
    """The options that `parse` turns back into these dataclass instances: `--name value` for each
    field whose value differs from the one its class gets with no options, in field order.

    Booleans are written `true`/`false`, lists as their items, enums by their value, dicts as JSON.
    `ValueError` naming the field for a value no option can give (None where the class gives a value).
    """
    argv = []
    for instance in instances:
        defaults = type(instance)()
        for item in fields(instance):
            value = getattr(instance, item.name)
            if not item.init or value == getattr(defaults, item.name):
                continue
            if value is None:
                raise ValueError(f"{type(instance).__name__}.{item.name} is None, which no --{item.name} value gives")
            argv += [f"--{item.name}", *_option_values(value)]
    return argv


def _option_values(value) -> list[str]:
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, enum.Enum):
        return [str(value.value)]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    if isinstance(value, dict):
        return [json.dumps(value)]
    return [str(value)]


def run_cli(main: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    """Run `main(argv)`; a `UserError` prints one line and returns 2, anything else propagates."""
    argv = sys.argv[1:] if argv is None else list(argv)
    show_traceback = TRACEBACK_FLAG in argv
    if show_traceback:
        argv.remove(TRACEBACK_FLAG)
    try:
        main(argv)
    except UserError as err:
        if show_traceback:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def limit_torch_threads() -> None:
    """One torch thread per process when `OMP_NUM_THREADS` is unset, as `accelerate launch` sets it.

    On a machine whose cores are shared, torch's default of one thread per core spins waiting
    for cores another process holds: plain `python train.py` ran 10x slower than `accelerate
    launch` beside a busy process (`bench/threads.py` measures both). Called by the scripts'
    entry points only, so importing them (tests, notebooks) changes nothing.
    """
    import torch

    if "OMP_NUM_THREADS" not in os.environ and not torch.cuda.is_available():
        torch.set_num_threads(1)


def quiet_progress_bars() -> None:
    """No "Writing model shards" bar at every checkpoint (transformers' own bars; the Trainer's stays)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
