"""How far a grid option travels: the function stays of `--learning_rate` from the grid's
command line to its cell's record, counted with `sys.setprofile` on one tiny grid cell.

Issue 30 asks that "a parameter given to the grid (e.g. the learning rate) should reach its
cell's record in at most 20 function stays across at most 10 files". What is counted:

- **Project code**: the repository's Python files outside `tests/` and `bench/` (`pipelines/`,
  `models/`, `train.py`, ...).
- **The value**: the learning rate given to the grid, `VALUE` (a number no default equals). An
  argument carries it when it is the number, its command-line text, or a list, tuple, set, dict or
  object (its attributes) holding either within `DEPTH` levels: a `Cell` holds its
  `GloveTrainingArguments`, which hold `learning_rate`; a list of cells is one level more.
- **A function stay**: one call of a project function whose arguments (its frame's locals at the
  call, `self` included) carry the value, made by project code: the nearest calling frame that is
  not dataclass or argument-parser machinery (`TRANSPARENT`) is project code, or the call is the
  entry, `pipelines.experiments.main`. Comprehensions and generator expressions are part of the
  function they are written in, not stays of their own (Python 3.12 inlines comprehensions, PEP
  709, so counting their frames would make the number depend on the version). Calls a library makes back into our code while the value
  sits in a library object (the `Trainer` calling our callbacks and loss every step) are not on
  the value's path through our code and are not counted.
- **Two windows**, both from the call of `pipelines.experiments.main(argv)`:
  - **to the record** (issue 30's measure, "reach its cell's record"): the stays made before
    `runs.record.write_results(output_dir, record)` is called, the call that writes the cell's
    `RunRecord` to `results.json`; that call and everything after it are outside. The script
    checks that the `record` handed to it holds the value (`RunRecord.learning_rate`).
  - **in all**: until the cell's `fitting.save_run` returns, having written `results.json`, the
    arguments beside it (`training_args.json`, checked to hold the value) and the model card. The
    stays between the two windows read the finished record back to write it (`RunRecord.to_dict`)
    and to write the card (`model_card`), the value travelling no further.

The grid is one model (`mean`), one seed and one epoch on a tiny SemEval-layout fixture with
8-dimensional vectors (the writers of `tests/conftest.py`), in this process (`--workers 1`).

    python -m bench.trace_setting [--output bench/trace_setting.md]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VALUE = 0.000987
TEXT = str(VALUE)
DEPTH = 3
ITEMS_LIMIT = 64  # items of one container looked at: the argument lists and dataclasses are short, datasets are not
# Frames between a caller and the function it calls that are machinery, not a stay of their own.
TRANSPARENT = ("<string>", "dataclasses.py", "argparse.py", "hf_argparser.py", "functools.py", "contextlib.py")
COMPREHENSIONS = ("<genexpr>", "<listcomp>", "<dictcomp>", "<setcomp>")
ENTRY = ("pipelines/experiments.py", "main")
RECORD_WRITTEN = ("pipelines/runs/record.py", "write_results")  # the cut of the window "to the record"
END = ("pipelines/fitting.py", "save_run")


def project_file(filename: str) -> str | None:
    """`filename` relative to the repository when it is project code, else None."""
    if not filename.startswith(str(REPO_ROOT)):
        return None
    relative = Path(filename).relative_to(REPO_ROOT).as_posix()
    if relative.startswith(("tests/", "bench/", ".venv/")) or "/site-packages/" in relative:
        return None
    return relative


def carries(value, depth: int = DEPTH, seen: set | None = None) -> bool:
    """Whether `value` is the learning rate, its text, or holds either within `depth` levels."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, bytes)):
        return False
    if isinstance(value, float):
        return value == VALUE
    if isinstance(value, str):
        return value == TEXT
    if depth == 0:
        return False
    seen = set() if seen is None else seen
    if id(value) in seen:
        return False
    seen.add(id(value))
    if isinstance(value, dict):
        items = list(value.values())[:ITEMS_LIMIT]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)[:ITEMS_LIMIT]
    else:
        try:
            items = list(vars(value).values())[:ITEMS_LIMIT]
        except TypeError:  # no __dict__: slots, C objects
            return False
    return any(carries(item, depth - 1, seen) for item in items)


@dataclass
class Trace:
    """The stays, in call order: (file, function) per stay; `to_record` of them were made before the record was
    handed to `RECORD_WRITTEN`, whose `record` argument then held `recorded_rate` as its `learning_rate`."""

    stays: list[tuple[str, str]] = field(default_factory=list)
    active: bool = False
    done: bool = False
    to_record: int | None = None
    recorded_rate: float | None = None

    def hook(self, frame, event, arg) -> None:
        if self.done or event not in ("call", "return"):
            return
        where = project_file(frame.f_code.co_filename)
        if where is None:
            return
        name = (where, frame.f_code.co_name)
        if event == "return":
            if name == END and self.active:
                self.done = True
            return
        if frame.f_code.co_name in COMPREHENSIONS:
            return
        if name == RECORD_WRITTEN and self.active and self.to_record is None:
            self.to_record = len(self.stays)
            self.recorded_rate = getattr(frame.f_locals.get("record"), "learning_rate", None)
        if name == ENTRY:
            self.active = True
        elif not self.active or not self._called_by_project(frame):
            return
        if any(carries(local) for local in frame.f_locals.values()):
            self.stays.append((where, frame.f_code.co_qualname))

    @staticmethod
    def _called_by_project(frame) -> bool:
        caller = frame.f_back
        while caller is not None and caller.f_code.co_filename.endswith(TRANSPARENT):
            caller = caller.f_back
        return caller is not None and project_file(caller.f_code.co_filename) is not None


def tiny_grid(folder: Path) -> list[str]:
    """The grid's command line over a tiny SemEval-layout folder and 8-dimensional vectors."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.conftest import NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS, write_glove_text, write_semeval

    data = write_semeval(folder / "data", train_rows=60, test_rows=30)
    words = NEUTRAL_WORDS + POSITIVE_WORDS + NEGATIVE_WORDS + [",", ".", "n't", "'s", "do", "not"]
    glove = write_glove_text(folder / "tiny-glove.txt", words)
    runs = folder / "runs"
    return [
        "--datasets", "semeval2017a", "--data_dir", str(data), "--embeddings", str(glove), "--models", "mean",
        "--seeds", "0", "--workers", "1", "--runs_dir", str(runs), "--results", str(runs / "results"),
        "--num_train_epochs", "1", "--learning_rate", TEXT,
    ]  # fmt: skip


def run_traced() -> Trace:
    from pipelines import experiments

    trace = Trace()
    cache = os.environ.get("SENTIBENCH_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SENTIBENCH_CACHE"] = str(Path(tmp) / "cache")  # the tiny vectors' parsed copy goes here, not to the user's cache
        argv = tiny_grid(Path(tmp))
        output = io.StringIO()
        sys.setprofile(trace.hook)
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                experiments.main(argv)
        except Exception:
            print(output.getvalue(), file=sys.stderr)
            raise
        finally:
            sys.setprofile(None)
            if cache is None:
                os.environ.pop("SENTIBENCH_CACHE", None)
            else:
                os.environ["SENTIBENCH_CACHE"] = cache
        written = [json.loads(path.read_text()) for path in Path(tmp, "runs").glob("*/*/seed-*/training_args.json")]
        if len(written) != 1 or written[0]["learning_rate"] != VALUE:
            raise RuntimeError(f"the cell's training_args.json does not hold --learning_rate {TEXT}: {written}")
    if not trace.done:
        raise RuntimeError("the trace never reached fitting.save_run's return")
    if trace.recorded_rate != VALUE:
        raise RuntimeError(f"the record handed to runs.record.write_results holds learning_rate {trace.recorded_rate}, not {TEXT}")
    return trace


def report(trace: Trace) -> str:
    to_record = trace.stays[: trace.to_record]
    files, files_to_record = Counter(where for where, _ in trace.stays), Counter(where for where, _ in to_record)
    functions, functions_to_record = Counter(trace.stays), Counter(to_record)
    lines = [
        "# Function stays of a grid option on its way to the cell's record",
        "",
        "Made by `python -m bench.trace_setting` (counts, not timings: the same on every machine and run).",
        f"The grid's `--learning_rate {TEXT}` from `pipelines.experiments.main` to the cell's record, and on until",
        "`fitting.save_run` returns; what a stay is and where each window ends: the docstring of `bench/trace_setting.py`.",
        "Issue 30's target: at most 20 stays across at most 10 files to the record.",
        "",
        f"**To the record** (before `runs.record.write_results` is called with the cell's record, which holds the rate): "
        f"**{len(to_record)} stays across {len(files_to_record)} files.**",
        "",
        f"**In all** (until `fitting.save_run` returns, the record and the model card written): "
        f"**{len(trace.stays)} stays across {len(files)} files.**",
        "",
        "| file | to the record | in all |",
        "|---|---|---|",
        *(f"| `{where}` | {files_to_record[where]} | {count} |" for where, count in files.most_common()),
        "",
        "| function (in order of first stay) | to the record | in all |",
        "|---|---|---|",
        *(f"| `{where}` `{name}` | {functions_to_record[where, name]} | {count} |" for (where, name), count in functions.items()),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None, help="also write the table to this .md file")
    args = parser.parse_args()
    text = report(run_traced())
    print(text, end="")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
