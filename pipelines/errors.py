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
