"""What the scripts share: argument parsing and one-line errors instead of tracebacks."""

from __future__ import annotations

import sys
from collections.abc import Callable

from safetensors import SafetensorError
from transformers import HfArgumentParser


# ValueError covers the data and GloVe format errors; OSError missing, unreadable or unwritable files.
USER_ERRORS = (ValueError, OSError, SafetensorError)


def parse(dataclass_types, argv: list[str] | None = None):
    """Dataclasses from the command line, or from a single `.json` argument."""
    argv = sys.argv[1:] if argv is None else argv
    parser = HfArgumentParser(dataclass_types)
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(argv[0])
    return parser.parse_args_into_dataclasses(args=argv)


def run_cli(main: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    """Run `main(argv)`; a user error prints one line and exits 2 (`--debug` keeps the traceback)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    try:
        main(argv)
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
