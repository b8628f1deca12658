"""The user errors: bad input a user can fix, reported in one line with exit status 2.

Everything else that goes wrong is a bug (ours or a library's) and keeps its traceback. Raise
these where the message is written, naming the file, row or option and the allowed values.
Each also derives from the built-in type the same failure would otherwise raise (`ValueError`,
`OSError`), so callers that catch those keep working.
"""

from __future__ import annotations


class UserError(Exception):
    """Input a user can fix. `pipelines.cli.run_cli` prints it as one `error:` line and exits 2."""


class OptionError(UserError, ValueError):
    """A command-line option (or its JSON-file equivalent) has a value that cannot be used."""


class DataError(UserError, ValueError):
    """A data file, data set, word-vector file or weights file cannot be used as it is."""


class ConfigError(UserError, ValueError):
    """A model configuration (or a `--config_overrides` entry) that cannot be built."""


class PathError(UserError, OSError):
    """A file or folder that is missing, unreadable or unwritable."""


def one_line(err: BaseException, limit: int = 300) -> str:
    """The first non-empty line of an error, at most `limit` characters (Hub errors run to a paragraph)."""
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)[:limit]


def root_cause_line(err: BaseException) -> str:
    """`one_line` of the innermost `__cause__`, at most 200 characters: `datasets` wraps the
    parser's own error, which says what is wrong."""
    while err.__cause__ is not None:
        err = err.__cause__
    return one_line(err, 200)
