"""What the scripts share: argument parsing and one-line user errors.

A `UserError` (`pipelines.errors`) prints one `error:` line and exits 2; every other exception is
a bug and keeps its traceback. `--traceback` shows the traceback of a user error too (the name
`--debug` belongs to `TrainingArguments`). Before torch and transformers are imported (seconds),
`check_options` answers `--help` from the project's own dataclasses and checks their values, so
`--help` and a bad project option take a fraction of a second; `parse` then reads every option,
the Trainer's included, and the scripts import their flow only after it.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import enum
import json
import os
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import fields

from pipelines.errors import OptionError, UserError

USAGE = "%(prog)s [OPTIONS] | %(prog)s ARGS.json  (each option is described below; a JSON file holds the same names)"
TRAINER_GROUP = "Trainer options (transformers.TrainingArguments, with this script's defaults)"

TRACEBACK_FLAG = "--traceback"
FULL_HELP_FLAG = "--help_all"
TRAINER_EPILOG = (
    "Every other transformers.TrainingArguments option is taken too (--seed, --logging_dir, --report_to, "
    f"--resume_from_checkpoint, ...): {FULL_HELP_FLAG} lists all (over 100) with this script's defaults (it imports transformers: seconds)."
)


def _trainer_last(dataclass_types) -> list[int]:
    """Positions of `dataclass_types` with the Trainer's group last, so `--help` shows the project's options first."""
    shown_last = [getattr(kind, "_argument_group_name", None) == TRAINER_GROUP for kind in dataclass_types]
    return sorted(range(len(dataclass_types)), key=lambda index: shown_last[index])


def _string_to_bool(value: str) -> bool:
    """`HfArgumentParser`'s reading of a boolean option's value."""
    if value.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if value.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"truthy value expected: got {value!r} (true/false, yes/no, 1/0)")


def _add_field(group, field: dataclasses.Field, hint) -> None:
    """One dataclass field as `HfArgumentParser` declares it: `--name` and `--name-with-dashes`,
    `Optional[X]` read as X, a boolean with an optional value (and `--no_name` when it defaults to
    True), a list as one or more values."""
    options = [f"--{field.name}"] + ([f"--{field.name.replace('_', '-')}"] if "_" in field.name else [])
    hint = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint)  # Optional[X] -> X
    default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
    kwargs = {"dest": field.name, "default": default, "help": field.metadata.get("help")}
    if hint is bool:
        group.add_argument(*options, type=_string_to_bool, nargs="?", const=True, **kwargs)
        if default is True:
            group.add_argument(f"--no_{field.name}", f"--no-{field.name.replace('_', '-')}", action="store_false", dest=field.name)
    elif typing.get_origin(hint) is list:
        group.add_argument(*options, type=typing.get_args(hint)[0], nargs="+", **kwargs)
    else:
        group.add_argument(*options, type=hint, **kwargs)


def program_name() -> str:
    """How the user ran this script, for usage lines: "python -m pipelines.report" for a module run with `-m`
    (argparse would say "__main__.py"), else the script's file name ("train.py")."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name.removesuffix('.__main__')}"
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"


def options_parser(dataclass_types) -> argparse.ArgumentParser:
    """An argparse parser of the project's dataclasses alone (no `TrainingArguments`: no transformers import)."""
    trainer = any(getattr(kind, "_argument_group_name", None) == TRAINER_GROUP for kind in dataclass_types)
    parser = argparse.ArgumentParser(
        prog=program_name(), usage=USAGE, epilog=TRAINER_EPILOG if trainer else None, allow_abbrev=False,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for index in _trainer_last(dataclass_types):
        kind = dataclass_types[index]
        group_name = getattr(kind, "_argument_group_name", None)
        group = parser.add_argument_group(group_name) if group_name else parser
        hints = typing.get_type_hints(kind)
        for field in dataclasses.fields(kind):
            if field.init:
                _add_field(group, field, hints[field.name])
    return parser


def check_options(dataclass_types, argv: list[str]) -> None:
    """`--help`, and the project's options checked, before torch and transformers are imported.

    `dataclass_types` are the project's dataclasses (`pipelines.arguments`, no `TrainingArguments`
    subclass). `--help` lists them, the Trainer defaults this script sets last, and exits. Otherwise
    the options they declare are read (the others are left to `parse`, which knows the Trainer's)
    and each dataclass is built, so its checks raise an `OptionError` at once. A single `.json`
    argument and `--help_all` are left to `parse`."""
    if not dataclass_types or (len(argv) == 1 and argv[0].endswith(".json")) or FULL_HELP_FLAG in argv:
        return
    known, _ = options_parser(dataclass_types).parse_known_args(argv)
    for kind in dataclass_types:
        try:
            kind(**{field.name: getattr(known, field.name) for field in dataclasses.fields(kind) if field.init})
        except UserError:
            raise
        except ValueError as err:
            raise OptionError(str(err)) from err


def parse(dataclass_types, argv: list[str] | None = None, return_remaining: bool = False):
    """Dataclasses from the command line, or from a single `.json` argument.

    A `ValueError` while the dataclasses check their values (ours or `TrainingArguments`') is an
    option the user gave, so it becomes an `OptionError`. With `return_remaining`, the options
    none of the dataclasses knows come last, as a list, for another parser (the grid passes them
    on to train.py's). `--help_all` (or `--help` here) lists the project's options first and
    `TrainingArguments`' (over 100) after them, under their own heading; the dataclasses come back in the order given.
    """
    from transformers import HfArgumentParser

    argv = sys.argv[1:] if argv is None else argv
    if FULL_HELP_FLAG in argv:
        argv = ["--help"]
    order = _trainer_last(dataclass_types)
    parser = HfArgumentParser([dataclass_types[index] for index in order], prog=program_name(), usage=USAGE)
    try:
        if len(argv) == 1 and argv[0].endswith(".json") and not return_remaining:
            parsed = parser.parse_dict(json_arguments(argv[0], dataclass_types))
        else:
            parsed = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
            if not return_remaining:
                check_all_used(parsed[-1], parser)
                parsed = parsed[:-1]
    except UserError:
        raise
    except ValueError as err:
        raise OptionError(str(err)) from err
    by_position = dict(zip(order, parsed))
    return (*(by_position[index] for index in range(len(dataclass_types))), *parsed[len(order):])


def check_all_used(remaining: list[str], parser) -> None:
    """`OptionError` for the first word of the command line no option took: "unknown option --lerning_rate (did you
    mean --learning_rate?)", or an argument where none is expected. (`HfArgumentParser` says "Some specified arguments
    are not used by the HfArgumentParser" and lists them.)"""
    if not remaining:
        return
    word = next((word for word in remaining if word.startswith("-")), remaining[0])
    if not word.startswith("-"):
        raise OptionError(f"unexpected argument {word!r}: every option is given as --name value")
    name = word.split("=", 1)[0]
    close = difflib.get_close_matches(name, [option for option in parser._option_string_actions if option.startswith("--")], n=1)
    raise OptionError(f"unknown option {name}" + (f" (did you mean {close[0]}?)" if close else "") + "; --help lists them")


def json_arguments(path: str, dataclass_types) -> dict:
    """The options of a JSON arguments file, each checked against its field's declared type as the command line's
    parser would (a number for a float or int field, true/false for a bool, one of the choices of an enum or a
    `Literal`), since `HfArgumentParser.parse_dict` hands values to the dataclasses unchecked; a whole number given for
    a float field becomes a float, as on the command line (a learning rate of 1 is 1.0). `OptionError` naming
    the file and the option for a value of the wrong type, for a file that is not JSON or not an object; names no
    dataclass declares are refused, naming the file and the closest declared name."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except OSError as err:
        raise OptionError(f"{path}: cannot read the arguments file ({err.strerror or err})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise OptionError(f"{path}: not a JSON arguments file ({err})") from None
    if not isinstance(data, dict):
        raise OptionError(f"{path}: not a JSON arguments file (an object of option names and values is expected)")
    hints, none_default = {}, set()
    for kind in dataclass_types:
        declared = {item.name: item for item in fields(kind)}
        hints |= {name: hint for name, hint in typing.get_type_hints(kind).items() if name in declared}
        none_default |= {name for name, item in declared.items() if item.default is None}  # `x: int = None`: null is its default
    for name in data:
        if name not in hints:
            close = difflib.get_close_matches(name, list(hints), n=1)
            raise OptionError(f"{path}: unknown option {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    for name, value in data.items():
        if name in hints and not (value is None and name in none_default) and not _fits(value, hints[name]):
            raise OptionError(f"{path}: {name} is {value!r}, which is not {_type_said(hints[name])}")
        members = typing.get_args(hints.get(name)) or (hints.get(name),)
        if type(value) is int and float in members and int not in members:
            data[name] = float(value)  # as the command line's parser gives a float field: 1 -> 1.0
    return data


def _fits(value, hint) -> bool:
    """Whether a JSON value can be `hint` (unions: any member; unknown kinds of hint: yes)."""
    origin, members = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, member) for member in members)
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in members
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in {member.value for member in hint} or value in hint.__members__
    if origin in (list, tuple) or hint in (list, tuple):
        return isinstance(value, list)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _type_said(hint) -> str:
    """A field's type in words: "a number", "true or false", "one of 'no', 'steps', 'epoch'"."""
    origin, members = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_said(member) for member in members)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(member) for member in members)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(repr(member.value) for member in hint)
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text", type(None): "null", list: "a list", dict: "an object"}
    return words.get(hint, words.get(origin, str(hint)))


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


def parse_pairs(text: str | None, option: str, form: str = "field=value", example: str | None = None) -> dict[str, str]:
    """`key=value[,key=value...]`, the one reading of every option in that form (`--config_overrides`,
    `--label_map`, `--stand_ins`): "num_layers=6, dropout=0.1" -> {"num_layers": "6", "dropout": "0.1"}, each side
    stripped, in the order given (a repeated key keeps its last value); empty items are skipped; {} for None or "".
    The values stay text: the option's owner types them (`pipelines.training.typed_overrides` by the config's fields).
    `OptionError` naming `option` and the item, e.g. "--config_overrides entry 'no_equals_sign' is not field=value
    (e.g. 'hidden_size=256,dropout=0.3')", for an item without exactly one `=` or with an empty side."""
    pairs = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip() or "=" in value:
            raise OptionError(f"{option} entry {item!r} is not {form}" + (f" (e.g. {example!r})" if example else ""))
        pairs[key.strip()] = value.strip()
    return pairs


def pairs_text(pairs: dict) -> str:
    """The inverse of `parse_pairs`: {"dropout": 0.1, "num_layers": 6} -> "dropout=0.1,num_layers=6", in the dict's
    order, booleans as true/false (as `to_argv` writes them), other values by `str`."""
    return ",".join(f"{key}={str(value).lower() if isinstance(value, bool) else value}" for key, value in pairs.items())


def run_cli(
    main: Callable[[list[str]], object], argv: list[str] | None = None, options: tuple = (), limit_threads: bool = False
) -> int:
    """Run `main(argv)`; a `UserError` prints one line and returns 2, anything else propagates.

    First `check_options(options, argv)` (`--help` and the project's options, without torch), then
    `limit_torch_threads()` when `limit_threads`; the commit this process runs (`runs.record.process_revision`)
    is read before `main`, so a record written hours later names the code that made it."""
    argv = sys.argv[1:] if argv is None else list(argv)
    show_traceback = TRACEBACK_FLAG in argv
    if show_traceback:
        argv.remove(TRACEBACK_FLAG)
    try:
        check_options(options, argv)
        if limit_threads:
            limit_torch_threads()
        from pipelines.runs.record import process_revision

        process_revision()
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
