"""Where a study lives and what a trial's values are, shared by the search (`pipelines.search`,
`pipelines.finetune_search`) and its report (`pipelines.report.search`) without the training stack's
imports: Optuna's storage opened with one-line errors (`optuna_storage`), and a trial's values split
into model-config fields and `TrainingArguments` fields (`split_params`)."""

from __future__ import annotations

import functools
from pathlib import Path

from pipelines.errors import OptionError, PathError, one_line

JOURNAL_FILE = "optuna-journal.log"


def optuna_storage(given: str | None, output_dir: Path | None = None, must_exist: bool = False):
    """Optuna's storage of a study, opened: a database URL (`://`) as Optuna opens it, otherwise `JournalStorage`
    over a file, `given` or `<output_dir>/optuna-journal.log`, made with its folder when missing (a search's; a
    report passes `must_exist` and is refused a missing file). `OptionError` for a URL Optuna cannot open (no such
    database kind, its driver missing, no connection) or a file that is not a journal (an SQLite file given without
    `sqlite:///`, a text file: a journal would be appended to it); `PathError` for a folder, a missing file
    (`must_exist`) or a file that cannot be written."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from sqlalchemy.exc import SQLAlchemyError

    if given and "://" in given:
        try:
            return optuna.storages.get_storage(given)
        except (ImportError, SQLAlchemyError) as err:
            raise OptionError(f"--storage {given}: Optuna cannot open it ({one_line(err, 200)}); "
                              "give a database URL such as sqlite:///study.db, or a journal file") from None  # fmt: skip
    path = Path(given) if given else Path(output_dir or ".") / JOURNAL_FILE
    named = f"--storage {path}" if given else f"study journal {path}"
    not_journal = OptionError(
        f"{named} is not an Optuna journal file; give a journal file (a new name makes one) or a database URL (sqlite:///{path} for an SQLite file)"
    )
    if path.is_dir():
        raise PathError(f"{named} is a folder; give a journal file (e.g. {path / JOURNAL_FILE}) or a database URL")
    if must_exist and not path.is_file():
        raise PathError(f"study journal not found: {path}")
    try:
        if path.is_file():
            with open(path, "rb") as file:
                if file.read(1) not in (b"", b"{"):  # each journal line is a JSON object: never append one to another kind of file
                    raise not_journal
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    except ValueError:  # `not_journal`, or lines Optuna cannot read as JSON (or as text)
        raise not_journal from None
    except OSError as err:
        raise PathError(f"{named}: cannot open it ({err.strerror or one_line(err)})") from None


@functools.cache
def training_fields() -> frozenset[str]:
    """The names of `TrainingArguments`' fields: a trial's values of these go to the run's arguments, the rest to
    the model's config (`--config_overrides`)."""
    from dataclasses import fields

    from transformers import TrainingArguments

    return frozenset(item.name for item in fields(TrainingArguments))


def split_params(params: dict) -> tuple[dict, dict]:
    """A trial's values as (model-config fields, `TrainingArguments` fields), each in the trial's order."""
    training = training_fields()
    return {k: v for k, v in params.items() if k not in training}, {k: v for k, v in params.items() if k in training}
