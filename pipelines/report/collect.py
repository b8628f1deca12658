"""Gather the runs under a folder into rows, and the rows into groups.

A row (`ReportRow`) is one trained run (a `results.json` that is a run record: a "dataset" and a "test" mapping)
or one model scored by `evaluate_pretrained.py` (an entry of an `evaluation.json`). Any other JSON
file of that name (a grid's own summary, say) is not a run and is left out. The same files make a
run folder and a compact record (`pipelines.report.records`), so both read alike.

Learning curves and the validation score of the restored checkpoint come from the run's
`trainer_state.json` (`Trainer.save_state`), else the newest `checkpoint-*/trainer_state.json`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from tqdm.auto import tqdm

import models
from pipelines.benchmarks import official_metric_for
from pipelines.data.files import file_digests
from pipelines.errors import DataError
from pipelines.metrics import METRICS
from pipelines.runs.io import file_name, find_trainer_state, read_json
from pipelines.runs.layout import ARGS_FILE, EVALUATION_FILE, RESULTS_FILE, short_name
from pipelines.runs.record import EvaluationRecord, RunRecord, is_run_record
from pipelines.runs.setting import Setting

METRIC_NAMES = {key: metric.display for key, metric in METRICS.items()}

# The GloVe models in the order a reader meets them: the presets' own order.
GLOVE_ORDER = list(models.GLOVE_MODELS)
KINDS = ["glove", "finetuned", "pretrained"]


def slug(text: str) -> str:
    """A file-name-safe version of a group's or dataset's name (`pipelines.runs.io.file_name`). Text with characters
    beyond ASCII (a dataset or model named in Cyrillic) also gets 8 hex digits of its SHA-256: `file_name` turns
    each run of them into one `_`, so two such names would share a figure's file."""
    if text.isascii():
        return file_name(text)
    return f"{file_name(text)}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


def dataset_slug(name: str) -> str:
    """A dataset's name in its figures' file names: the name itself when it is already file-name safe (`mr`,
    `semeval2017a`), else its `slug` with 8 hex digits of its SHA-256, so two datasets never share a figure
    (`my data` and `my_data` would both be `my_data`)."""
    safe = file_name(name)
    return name if safe == name else f"{safe}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


def figure_slugs(groups: list) -> dict:
    """`Group.key` -> its figures' file-name part: `Group.slug`, and where two groups' slugs meet (`a-b` + `c` and `a` +
    `b-c` join to the same text; so do names differing only in characters a file name cannot hold), 8 hex digits of
    the SHA-256 of the group's key after it, so no group draws over another's figure."""
    by_slug: dict[str, list] = {}
    for g in groups:
        by_slug.setdefault(g.slug, []).append(g.key)
    return {key: text if len(keys) == 1 else f"{text}-{hashlib.sha256(repr(key).encode('utf-8')).hexdigest()[:8]}"
            for text, keys in by_slug.items() for key in keys}  # fmt: skip


def relative_name(folder: Path, root: Path) -> str:
    return folder.relative_to(root).as_posix() if folder != root else folder.name


def restored_by(results: RunRecord, run_dir: Path, state: dict | None) -> str | None:
    """Which validation score chose the restored checkpoint ("eval_loss", "eval_accuracy", ...), from the
    run's own record: results.json's selection, else its training_args.json; None when neither says."""
    chosen = (results.selection or {}).get("restored_by")
    if not chosen and (run_dir / ARGS_FILE).is_file():
        arguments = read_json(run_dir / ARGS_FILE)
        if arguments.get("load_best_model_at_end"):
            chosen = arguments.get("metric_for_best_model") or "loss"
        else:
            chosen = "last epoch"
    if chosen and chosen != "last epoch" and not chosen.startswith("eval_"):
        chosen = f"eval_{chosen}"
    return chosen


def patience_of(state: dict | None) -> int | None:
    """Early stopping's patience, from the callback state `Trainer.save_state` keeps: for runs recorded before
    `RunRecord.early_stopping_patience` (the record's own value comes first)."""
    callback = ((state or {}).get("stateful_callbacks") or {}).get("EarlyStoppingCallback") or {}
    return (callback.get("args") or {}).get("early_stopping_patience")


def validation_score(state: dict | None, label_names: list | None, dataset: str | None = None) -> float | None:
    """The official validation metric at the restored (best) step of the log history."""
    if not state or not label_names or state.get("best_global_step") is None:
        return None
    key = f"eval_{official_metric_for(dataset, label_names)}"
    return next((e[key] for e in state.get("log_history", []) if e.get("step") == state["best_global_step"] and key in e), None)


@dataclass(frozen=True, kw_only=True)
class ReportRow:
    """One run as the report reads it: a trained run (`trained_row`) or one model of an as-is evaluation
    (`pretrained_rows`). Paths are strings (None when the file is not there); seeds, folds and training
    fields are None for an as-is model."""

    kind: str  # one of KINDS: "glove", "finetuned", "pretrained"
    model: str
    dataset: str
    setting: Setting
    protocol: str  # "lab" or "cv"
    seed: int | None = None
    fold: int | None = None
    cv_folds: int | None = None
    run: str  # the run's folder (an evaluation's folder) relative to the runs folder read
    test: dict[str, float | None] = field(default_factory=dict)  # every metric of METRIC_NAMES, None where not scored
    validation: float | None = None  # the official validation metric at the restored checkpoint (as-is: on validation)
    restored_by: str | None = None  # "eval_loss", "eval_accuracy", "last epoch" (`restored_by`)
    patience: int | None = None  # early stopping's patience
    epochs: float | None = None
    train_seconds: float | None = None
    train_seconds_from_step: int | None = None
    train_device: str | None = None
    versions: dict | None = None
    label_names: list[str] | None = None
    confusion_matrix: list[list[int]] | None = None  # (gold, predicted)
    selection: dict | None = None  # `pipelines.selection.selection_summary`
    predictions: str | None = None  # test predictions (Parquet)
    trainer_state: str | None = None
    identity: dict | None = None  # a trained run's `RunRecord.identity`: what a student's `teacher` names
    teacher: dict | None = None  # a distilled run's `RunRecord.teacher_run`
    weights_fingerprint: str | None = None  # a fine-tuned run's `RunRecord.weights_fingerprint`
    code: dict | None = None  # the commit that made it (`RunRecord.code`, evaluation.json's "code")
    trained_on: str | None = None  # an as-is model trained on another benchmark: that benchmark
    calibration: dict | None = None  # the "How sure" section (`pipelines.report.calibration`)
    model_temperature: float | None = None  # an as-is model's own saved temperature (`ScoredModel.model_temperature`)
    validation_predictions: str | None = None
    data_files: dict[str, str] | None = None  # {split: SHA-256} of the user files it read (`data.files.file_digests`); None: a benchmark
    train_sentences: int | None = None  # the sentences it trained on (`--max_train_samples` cuts them); None: as-is, older runs

    def to_json(self) -> dict:
        """The row as report.json's "runs" keep it: the metrics at the top, the setting as its label, no trainer state
        or versions."""
        kept = {}
        for item in fields(self):
            if item.name == "test":
                kept.update(self.test)
            elif item.name not in ("trainer_state", "versions") and not (item.name == "model_temperature" and self.model_temperature is None):
                kept[item.name] = getattr(self, item.name)  # a model_temperature only where there is one, as in evaluation.json
        return kept | {"setting": self.setting.label}


def trained_row(results: RunRecord, run_dir: Path, root: Path) -> ReportRow:
    state_path = find_trainer_state(run_dir)
    state = read_json(state_path) if state_path else None
    return ReportRow(
        kind="glove" if results.is_glove else "finetuned", model=results.model, dataset=str(results.dataset),
        setting=Setting.of(results), protocol=str(results.protocol), seed=results.seed, fold=results.fold,
        cv_folds=results.cv_folds, run=relative_name(run_dir, root),
        test={key: results.test.get(key) for key in METRIC_NAMES},
        validation=validation_score(state, results.label_names, results.dataset),
        restored_by=restored_by(results, run_dir, state),
        patience=results.early_stopping_patience if results.early_stopping_patience is not None else patience_of(state),
        epochs=results.epochs, train_seconds=results.train_seconds, train_seconds_from_step=results.train_seconds_from_step,
        train_device=results.train_device, versions=results.versions, label_names=results.label_names,
        confusion_matrix=results.confusion_matrix, selection=results.selection or None,
        predictions=present_file(run_dir, results.predictions_file), trainer_state=str(state_path) if state_path else None,
        identity=results.identity(), teacher=results.teacher_run, weights_fingerprint=results.weights_fingerprint, code=results.code, calibration=results.calibration,
        validation_predictions=present_file(run_dir, results.validation_predictions_file),
        data_files=file_digests(results.get("data")), train_sentences=results.get("train_sentences"),
    )  # fmt: skip


def present_file(folder: Path, name: str | None) -> str | None:
    """`folder/name` when that file is there, else None."""
    return str(folder / name) if name and (folder / name).is_file() else None


def pretrained_rows(path: Path, root: Path) -> list[ReportRow]:
    """One row per model scored by `evaluate_pretrained.py`, read through `EvaluationRecord` (older versions
    included); `DataError` naming `path` when it is not an evaluation record, or one of a sampled test set."""
    evaluation = EvaluationRecord.read(path)
    check_whole_test_set(path, evaluation.test_sentences, (evaluation.data or {}).get("test_sentences_available"), "--max_samples")
    label_names = evaluation.label_names
    official = official_metric_for(evaluation.dataset, label_names) if label_names else None
    rows = []
    for scored in evaluation.results:
        rows.append(ReportRow(
            kind="pretrained", model=short_name(str(scored.model)), dataset=str(evaluation.dataset),
            # an exported project model (`pipelines.export`) is scored like an as-is model but is none
            setting=Setting("ONNX export" if str(scored.family).lower().startswith("onnx") else "as is"),
            protocol="lab", run=relative_name(path.parent, root), test={key: scored.test.get(key) for key in METRIC_NAMES},
            validation=scored.validation.get(official) if isinstance(scored.validation, dict) else None,
            label_names=label_names, confusion_matrix=scored.confusion_matrix,
            predictions=present_file(path.parent, scored.predictions_file),
            code=evaluation.code, trained_on=scored.trained_on,
            # temperature scaling on validation (evaluation.json version 2; `pipelines.pretrained`), as a run's
            calibration=scored.calibration, model_temperature=scored.model_temperature,
            validation_predictions=present_file(path.parent, scored.validation_predictions_file),
            data_files=file_digests(evaluation.data),
        ))  # fmt: skip
    return rows


def gather_rows(root: Path, progress: bool = False) -> list[ReportRow]:
    """Every run record and pretrained evaluation under `root`; other JSON files are not runs.
    `progress`: a bar over the files read."""
    rows = []
    for path in tqdm(sorted(root.rglob(RESULTS_FILE)), desc="reading runs", unit="run", disable=not progress):
        results = read_json(path)
        if is_run_record(results):
            check_whole_test_set(path, results.get("test_sentences"), results.get("test_sentences_available"), "--max_test_samples")
            rows.append(trained_row(RunRecord.from_dict(results, path.parent), path.parent, root))
    for path in sorted(root.rglob(EVALUATION_FILE)):
        rows += pretrained_rows(path, root)
    return sorted(same_test_file_same_dataset(rows), key=sort_key)


def same_test_file_same_dataset(rows: list[ReportRow]) -> list[ReportRow]:
    """An as-is evaluation of a user's test file takes the dataset name of the runs tested on that same file (by its
    SHA-256): a run names the user's data after its train file, an evaluation after its test file, and the report
    compares only rows of one dataset."""
    trained = {row.data_files["test"]: row.dataset for row in rows if row.kind != "pretrained" and row.data_files and "test" in row.data_files}
    return [
        replace(row, dataset=trained[row.data_files["test"]])
        if row.kind == "pretrained" and row.data_files and trained.get(row.data_files.get("test"), row.dataset) != row.dataset
        else row
        for row in rows
    ]


def check_whole_test_set(path: Path, scored: int | None, available: int | None, option: str) -> None:
    """`DataError` naming `path` for a record scored on a sample of its test set (`option`): its scores are not the
    benchmark's, and its predictions pair with no whole-test-set run's."""
    if available is not None:
        raise DataError(
            f"{path}: scored on {scored} of {available} test sentences ({option}); the report compares scores on whole "
            "test sets: move it out of the folder the report reads"
        )


def model_order(kind: str, model: str) -> tuple:
    return (KINDS.index(kind), GLOVE_ORDER.index(model) if model in GLOVE_ORDER else len(GLOVE_ORDER), model)


def sort_key(row: ReportRow) -> tuple:
    seed = row.seed if isinstance(row.seed, int) else -1
    fold = row.fold if isinstance(row.fold, int) else -1
    protocol = 0 if row.protocol == "lab" else 1
    return (row.dataset, *model_order(row.kind, row.model), row.setting.sort_key(), protocol, seed, fold, row.run)


@dataclass
class Group:
    """The runs of one (dataset, model, setting, protocol); they differ by seed (and fold)."""

    dataset: str
    model: str
    setting: Setting
    protocol: str
    kind: str
    rows: list[ReportRow] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.model} ({self.setting.label})"

    @property
    def plain(self) -> bool:
        """Trained the default way: no distillation, no class weights."""
        return self.setting == self.setting.plain()

    @property
    def protocol_label(self) -> str:
        if self.protocol == "lab":
            return "lab split"
        folds = {row.cv_folds for row in self.rows if row.cv_folds}
        return f"{folds.pop()}-fold CV" if len(folds) == 1 else "CV"

    @property
    def key(self) -> tuple:
        """What the report keys a group's predictions, summaries and calibration by: (dataset, model, setting, protocol)."""
        return (self.dataset, self.model, self.setting, self.protocol)

    @property
    def slug(self) -> str:
        """The group in its figures' file names."""
        return slug(f"{self.dataset}-{self.model}-{self.setting.label}-{self.protocol}")

    @property
    def seeds(self) -> list:
        return sorted({row.seed for row in self.rows if isinstance(row.seed, int)})

    def validation(self) -> float | None:
        """Mean official validation score of the restored checkpoints; None unless every run has one."""
        scores = [row.validation for row in self.rows]
        return None if not scores or None in scores else sum(scores) / len(scores)

    def size(self) -> str:
        """How many runs, in words: "5 seeds", "10 folds × 3 seeds", "1 run"."""
        if self.kind == "pretrained":
            return "1 run" if len(self.rows) == 1 else f"{len(self.rows)} runs"
        seeds = len(self.seeds) or len(self.rows)
        if self.protocol == "cv":
            folds = len({row.fold for row in self.rows})
            return f"{folds} folds" + (f" × {seeds} seeds" if seeds > 1 else "")
        return f"{seeds} seed" + ("s" if seeds != 1 else "")


def group_rows(rows: list[ReportRow]) -> list[Group]:
    """The rows by (dataset, model, setting, protocol), checked by `check_comparable`."""
    groups: dict[tuple, Group] = {}
    for row in rows:
        key = (row.dataset, row.model, row.setting, row.protocol)
        groups.setdefault(key, Group(*key, kind=row.kind)).rows.append(row)
    found = sorted(groups.values(), key=lambda g: sort_key(g.rows[0])[:-3])  # rows sort by group, then seed, fold, run
    check_comparable(found)
    return found


def check_comparable(groups: list[Group]) -> None:
    """`DataError` naming two runs the report would otherwise pool or pair wrongly: two runs of one group with the same
    seed and fold (the report cannot tell them apart: an option it does not record, such as `--num_train_epochs`,
    differs, or a run was copied), runs of one group that read different files, trained on different numbers of
    sentences (`--max_train_samples`; the same fold of cross-validation) or with another number of cross-validation
    folds, runs under one dataset name (a user's dataset is named after its train file) trained or
    scored on different files, and rows of one dataset that name its classes differently (their official metric and
    scores per class would not be the same)."""
    tests: dict[str, ReportRow] = {}
    trains: dict[str, ReportRow] = {}  # the first run of each dataset that read a train file of the user's
    classes: dict[str, ReportRow] = {}
    for group in groups:
        seen: dict[tuple, ReportRow] = {}
        first = group.rows[0]
        for row in group.rows:
            named = classes.setdefault(group.dataset, row) if row.label_names else row  # the first row that names them
            if list(row.label_names or []) != list(named.label_names or row.label_names or []):
                raise DataError(f"`{named.run}` and `{row.run}` are both on dataset {group.dataset!r} but name its classes "
                                f"{', '.join(named.label_names)} and {', '.join(row.label_names)}: give every run the same "
                                f"--class_names, or report them from separate folders")  # fmt: skip
            same_fold = next((r for r in group.rows if r.fold == row.fold and r.train_sentences is not None), row)  # CV folds differ in size
            folded = next((r for r in group.rows if r.cv_folds is not None), first)
            for what, other, value, ours in (("cross-validation folds", folded, row.cv_folds, folded.cv_folds),
                                             ("training sentences", same_fold, row.train_sentences, same_fold.train_sentences)):  # fmt: skip
                if value is not None and ours is not None and value != ours:
                    raise DataError(f"runs `{other.run}` and `{row.run}` are both {group.name} on {group.dataset} but with "
                                    f"{ours} and {value} {what} (an option the report does not group by, e.g. "
                                    f"--max_train_samples, differs); report them from separate folders")  # fmt: skip
            key = (row.seed, row.fold)
            if key in seen:
                which = "".join(f", {name} {value}" for name, value in (("seed", row.seed), ("fold", row.fold)) if value is not None)
                raise DataError(f"runs `{seen[key].run}` and `{row.run}` are both {group.name} on {group.dataset} ({group.protocol_label}"
                                f"{which}): the report cannot tell them apart (an option it does not record differs, e.g. "
                                f"--num_train_epochs, or a run was copied); report them from separate folders")  # fmt: skip
            seen[key] = row
            if row.data_files != first.data_files:
                raise DataError(f"runs `{first.run}` and `{row.run}` are both {group.name} on {group.dataset} but read different "
                                f"files; report them from separate folders")  # fmt: skip
            test = (row.data_files or {}).get("test")
            other = tests.setdefault(group.dataset, row)
            if test != (other.data_files or {}).get("test"):
                raise DataError(f"runs `{other.run}` and `{row.run}` are both on dataset {group.dataset!r} but were tested on different "
                                f"files (a dataset of your own is named after its train file); report them from separate folders")  # fmt: skip
            train = (row.data_files or {}).get("train")
            trained = trains.setdefault(group.dataset, row) if train else None
            if train and train != trained.data_files["train"]:
                raise DataError(f"runs `{trained.run}` and `{row.run}` are both on dataset {group.dataset!r} but were trained on "
                                f"different files of one name; report them from separate folders")  # fmt: skip
