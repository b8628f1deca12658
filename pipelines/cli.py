"""What the scripts share: argument parsing and one-line user errors.

A `UserError` (`pipelines.errors`) prints one `error:` line and exits 2; every other exception is
a bug and keeps its traceback. `--traceback` shows the traceback of a user error too (the name
`--debug` belongs to `TrainingArguments`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from transformers import HfArgumentParser

from pipelines.errors import OptionError, UserError

TRACEBACK_FLAG = "--traceback"


def parse(dataclass_types, argv: list[str] | None = None):
    """Dataclasses from the command line, or from a single `.json` argument.

    A `ValueError` while the dataclasses check their values (ours or `TrainingArguments`') is an
    option the user gave, so it becomes an `OptionError`.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = HfArgumentParser(dataclass_types)
    try:
        if len(argv) == 1 and argv[0].endswith(".json"):
            return parser.parse_json_file(argv[0])
        return parser.parse_args_into_dataclasses(args=argv)
    except UserError:
        raise
    except ValueError as err:
        raise OptionError(str(err)) from err


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
