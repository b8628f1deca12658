"""Where runs live: cell folders made and parsed in one place, and the name of every file in a run folder.

The grid writes `<runs_dir>/<dataset>-<protocol>-<vectors><suffix>/<model>/seed-<s>[/fold-<f>]`
(protocol "lab" or "cv<k>", vectors "trained" or "frozen", suffix `Setting.folder_suffix`); the
fine-tune study writes `<runs_dir>/<dataset>-<model>/seed-<s>`. A single run outside a grid goes to
`default_run_folder`. Everything that makes or reads these names imports them from here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# The files of a run folder.
RESULTS_FILE = "results.json"  # the run record, written last: a folder holding it is a finished run
PREDICTIONS_FILE = "predictions.parquet"
VALIDATION_PREDICTIONS_FILE = "validation_predictions.parquet"  # logits and labels, for calibration (pipelines.calibration)
TRAINER_STATE_FILE = "trainer_state.json"  # transformers.trainer.TRAINER_STATE_NAME
ARGS_FILE = "training_args.json"
RUN_DEFINITION_FILE = "run_definition.json"  # what resume checks (pipelines.fitting)
RUN_LOCK_FILE = ".run.lock"
TRAINING_CLOCK_FILE = "training_clock.json"  # in a checkpoint: wall seconds of training up to it (pipelines.fitting.TrainingClock)
RUN_OWNER_FILE = ".run-owner.json"  # who holds the lock: pid, host, start (the lock file itself is truncated by every try)
SETFIT_HEAD_FILE = "model_head.pkl"  # a SetFit run's scikit-learn head: setfit.modeling.MODEL_HEAD_NAME
# In a grid cell's folder besides: its training log, the traceback when it failed, and the train.py options it ran with.
CELL_LOG_FILE, CELL_ERROR_FILE, CELL_OPTIONS_FILE = "train.log", "error.txt", "cell.json"
# The files of an as-is evaluation folder (evaluate_pretrained.py) and of an ONNX export.
EVALUATION_FILE, EVALUATION_MD = "evaluation.json", "evaluation.md"
EXPORT_RECORD = "export.json"

GRID_GROUP = re.compile(r"(?P<dataset>.+?)-(?P<protocol>lab|cv\d+)-(?P<vectors>trained|frozen)(?P<suffix>-.*)?")
SEED, FOLD = re.compile(r"seed-(\d+)"), re.compile(r"fold-(\d+)")


@dataclass(frozen=True)
class CellFolder:
    """One run's folder below a runs folder; `vectors` None for the fine-tune study's layout."""

    dataset: str
    model: str
    seed: int
    protocol: str = "lab"  # "lab" or "cv<k>"
    vectors: str | None = None  # "trained" or "frozen": a grid cell
    suffix: str = ""  # Setting.folder_suffix of a grid cell
    fold: int | None = None

    @staticmethod
    def grid_group(dataset: str, protocol: str, vectors: str, suffix: str = "") -> str:
        """The folder of one grid's cells: `mr-lab-trained-distilled-minilm`."""
        return f"{dataset}-{protocol}-{vectors}{suffix}"

    @property
    def path(self) -> PurePosixPath:
        """The folder relative to the runs folder: `mr-lab-trained/bilstm/seed-0`, `mr-minilm/seed-0`."""
        if self.vectors is None:
            return PurePosixPath(f"{self.dataset}-{self.model}", f"seed-{self.seed}")
        path = PurePosixPath(self.grid_group(self.dataset, self.protocol, self.vectors, self.suffix), self.model, f"seed-{self.seed}")
        return path / f"fold-{self.fold}" if self.fold is not None else path

    def under(self, runs_dir: str | Path) -> Path:
        return Path(runs_dir) / self.path

    @classmethod
    def parse(cls, folder: str | Path) -> CellFolder | None:
        """The cell a folder is, read from the end of its path; None when it is in neither layout."""
        parts = list(PurePosixPath(Path(folder).as_posix()).parts)
        fold = None
        if parts and FOLD.fullmatch(parts[-1]):
            fold = int(parts.pop()[len("fold-"):])
        if not parts or not SEED.fullmatch(parts[-1]):
            return None
        seed = int(parts.pop()[len("seed-"):])
        if len(parts) >= 2 and (group := GRID_GROUP.fullmatch(parts[-2])):
            return cls(group["dataset"], parts[-1], seed, group["protocol"], group["vectors"], group["suffix"] or "", fold)
        if fold is None and parts and "-" in parts[-1]:
            dataset, model = parts[-1].split("-", 1)
            return cls(dataset, model, seed)
        return None


# Every default output folder is made under these, here and nowhere else.
RUNS_DIR = Path("runs")
GRID_RUNS_DIR = str(RUNS_DIR / "grid")  # the grid's default --runs_dir, where evaluate_pretrained.py also looks for its cells


def short_name(folder: str | Path) -> str:
    """A run folder named by where it sits in its grid (`mr-lab-trained/bilstm/seed-0`), not by the path of
    the machine that made it; a folder in no layout keeps its last part (with its seed folder's parent);
    Hub ids and aliases (`vader`, `org/name`), which are no folders, stay as they are."""
    cell = CellFolder.parse(folder)
    if cell is not None:
        return cell.path.as_posix()
    parts = Path(folder).parts
    if len(parts) > 1 and parts[-1].startswith(("seed-", "fold-")):
        return "/".join(parts[-2:])
    return str(folder) if len(parts) <= 2 else parts[-1]


def folder_name(text: str) -> str:
    """A run folder's name from a dataset and model label: a Hub id's `/` becomes `_`, nothing else
    changes (so the folders of earlier runs keep their names)."""
    return text.replace("/", "_")


def default_run_folder(
    dataset: str, model: str, cv_folds: int | None = None, fold: int = 0, seed: int | None = None,
    variant: str | None = None, search: str | None = None, train_size: int | None = None,
) -> str:
    """`runs/<dataset>-<model>`, then what else tells runs apart, so another run never lands in a
    finished run's folder: `-<variant>` (train.py: `trained-vectors` or `frozen-vectors` when not
    the default), `-seed<S>` for a seed other than the default (None), `-cv<K>-fold<F>` for one
    fold of cross-validation, `-n<N>` for `--train_size N` (per class), and `-search-<backend>` for a
    search's trials, journal and best run. A run with the defaults keeps the plain name."""
    parts = [f"{dataset}-{model}", variant, f"seed{seed}" if seed is not None else None]
    parts.append(f"cv{cv_folds}-fold{fold}" if cv_folds else None)
    parts.append(f"n{train_size}" if train_size else None)
    parts.append(f"search-{search}" if search else None)
    return str(RUNS_DIR / folder_name("-".join(filter(None, parts))))


def default_evaluation_folder(dataset_label: str) -> str:
    """`runs/pretrained-<dataset>`: where evaluate_pretrained.py writes without `--output_dir`."""
    return str(RUNS_DIR / folder_name(f"pretrained-{dataset_label}"))


CACHE_VARIABLE = "SENTIBENCH_CACHE"


def cache_home() -> Path:
    """`$SENTIBENCH_CACHE`, default `~/.cache/sentibench`: extracted backbones, teacher logits
    (`io.cache_root`). `models.glove` keeps its own copy of this rule: `models/` must not import `pipelines`."""
    return Path(os.environ.get(CACHE_VARIABLE, Path.home() / ".cache" / "sentibench"))


def portable_paths(value, base: str | Path | None = None):
    """`value` (a record: dicts, lists, strings) with every absolute path under `base` (default: the
    working folder, where commands run from, the repository root) made relative to it, so a record
    names `runs/study/mr-lab-trained/bilstm/seed-0`, never the machine's `/work/...`; a path in the
    cache (`cache_home`, e.g. an extracted MPNet backbone) is written `$SENTIBENCH_CACHE/backbones/...`;
    other values as they are."""
    base = Path(base or Path.cwd()).resolve()
    if isinstance(value, dict):
        return {key: portable_paths(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [portable_paths(item, base) for item in value]
    if isinstance(value, str) and value.startswith("/") and "\n" not in value:
        path = Path(value)
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix() or "."
        cache = cache_home().resolve()
        if path.is_relative_to(cache):
            return f"${CACHE_VARIABLE}/{path.relative_to(cache).as_posix()}"
    return value
