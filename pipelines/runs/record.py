"""A run's records, typed and versioned: `results.json` (`RunRecord`) and `evaluation.json` (`EvaluationRecord`).

Every training flow builds its record with `RunRecord.new` and writes it with `write_results`;
every reader (the report, the grid, the model card, `scripts/`) goes through `RunRecord.from_dict`,
which is the one place that knows how older files differ (see `RunRecord.from_dict`). An as-is
evaluation (`evaluate_pretrained.py`) is an `EvaluationRecord` of `ScoredModel`s, read alike. What a
record says of where it was made (library versions, the commit, the device) is gathered here too;
the files themselves are written by `pipelines.runs.io`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field, fields
from pathlib import Path

from pipelines.errors import DataError
from pipelines.runs.io import read_json, write_json_atomic
from pipelines.runs.layout import EVALUATION_FILE, RESULTS_FILE, portable_paths

# 1: the first versioned record (files without `schema_version` are version 0 and read the same).
SCHEMA_VERSION = 1


@dataclass
class RunRecord:
    """What `train.py` and `finetune.py` write to `results.json`, typed.

    The typed fields are those something reads back; `extra` keeps the rest of the run's
    description (`data`, `embeddings`, `vocab_size`, `model_path`, `max_length`, sentence counts...)
    in the order the flow gave it, so the file reads as before. `output_dir` is where it was read
    from, never written.
    """

    dataset: str
    model: str
    test: dict[str, float]
    model_type: str | None = None
    label_names: list[str] | None = None
    protocol: str = "lab"  # "lab": a fixed test split; "cv": one fold of cross-validation
    cv_folds: int | None = None
    fold: int | None = None
    vectors: str | None = None  # GloVe runs: "trained" or "frozen"
    selection: dict | None = None  # pipelines.selection.selection_summary
    early_stopping_patience: int | None = None  # validation passes without improvement before stopping; None: older runs, SetFit
    class_weights: str | None = None  # pipelines.losses: the --class_weights given
    distillation: dict | None = None  # pipelines.distillation: teacher, loss, alpha, ...
    predictions_file: str | None = None
    validation_predictions_file: str | None = None  # runs from before it was saved: None
    calibration: dict | None = None  # pipelines.calibration.calibration_record: T, test scores before and after
    epochs: float | None = None
    best_checkpoint: str | None = None
    train_seconds: float | None = None  # wall seconds of Trainer.train (its evaluations included), over every resume
    train_seconds_from_step: int | None = None  # set when train_seconds misses the steps before it (resumed from a checkpoint without a clock)
    train_device: str | None = None  # where it trained (`training_device`): "cpu: 2 torch threads, <CPU>" or "cuda: <GPU>"; None: older runs
    parameters: dict[str, int] | None = None  # {"trainable": n, "total": n}
    confusion_matrix: list[list[int]] | None = None  # (gold, predicted)
    per_class: dict | None = None  # label -> support, precision, recall, f1
    train_overlap: dict[str, int] | None = None  # split -> its sentences also in train (pipelines.splits.train_overlap)
    train_size_per_class: int | None = None  # --train_size: trained on N sentences per class (pipelines.train_sizes); None: all
    config_overrides: dict | None = None  # --config_overrides: {config field: its typed value}; None: the preset's defaults (and older runs)
    learning_rate: float | None = None  # --learning_rate when not the flow's default (`arguments.given_learning_rate`); None: the default (and older runs)
    seed: int | None = None
    versions: dict[str, str] | None = None
    code: dict | None = None  # source_revision(): the commit that made the run; None outside a git checkout
    weights_fingerprint: str | None = None  # a fine-tuned run's saved model, 16 hex digits of `weights_fingerprint`; None: older runs
    extra: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    output_dir: str | None = None

    # Written only when set: a lab run has no fold, a fine-tuned run no vectors, a plain run no loss settings.
    _OPTIONAL = (
        "cv_folds", "fold", "vectors", "class_weights", "distillation", "per_class", "train_overlap",
        "validation_predictions_file", "calibration", "early_stopping_patience", "train_size_per_class",
        "train_seconds_from_step", "train_device", "config_overrides", "learning_rate", "weights_fingerprint",
    )

    @classmethod
    def new(cls, description: dict, **outcome) -> RunRecord:
        """The record of a run made now (this `SCHEMA_VERSION`, no legacy fallbacks): the typed
        fields from the flow's `description` (its `run_info`) and from `outcome` (`test`, `seed`,
        ...), the rest of the description kept in `extra` in the order given. `TypeError` for an
        `outcome` name that is not a field."""
        known = {item.name for item in fields(cls)} - {"extra", "output_dir", "schema_version"}
        typed = {key: value for key, value in description.items() if key in known}
        return cls(**typed | outcome, extra={key: value for key, value in description.items() if key not in known})

    @classmethod
    def from_dict(cls, payload: dict, output_dir: str | os.PathLike | None = None) -> RunRecord:
        """A record from a `results.json` payload, old or new: the legacy fallbacks live here.

        Files from before a key was recorded read as: no `protocol` -> "lab"; no `vectors` on a
        GloVe run -> told from its parameter counts (all trainable: "trained"), else "frozen"
        (train.py's default); no `model` -> the folder's name; no `selection`, `per_class`, `class_weights`, `distillation`,
        `validation_predictions_file`, `calibration`, `early_stopping_patience`, `config_overrides` -> None (the report then reads
        the patience from `trainer_state.json`).
        `DataError` when it is not a run record (`is_run_record`).
        """
        if not is_run_record(payload):
            raise DataError(f"{output_dir or 'results.json'}: not a run record (no 'dataset' and 'test' scores)")
        known = {item.name for item in fields(cls)} - {"extra", "output_dir"}
        record = cls(
            **{"model": Path(output_dir).resolve().name if output_dir else "?"}  # the oldest records named the model by their folder
            | {key: value for key, value in payload.items() if key in known},
            extra={key: value for key, value in payload.items() if key not in known and key != "output_dir"},
            output_dir=str(payload.get("output_dir") or output_dir) if (payload.get("output_dir") or output_dir) else None,
        )
        record.schema_version = payload.get("schema_version", 0)
        record.model = str(record.model)
        record.protocol = record.protocol or "lab"
        if record.vectors is None and record.is_glove:
            parameters = record.parameters or {}
            trained = "trainable" in parameters and parameters.get("trainable") == parameters.get("total")
            record.vectors = "trained" if trained else "frozen"
        return record

    @classmethod
    def read(cls, run_dir: str | os.PathLike) -> RunRecord:
        """The record in `run_dir/results.json`; `DataError` for a file that is not JSON or not a run."""
        path = Path(run_dir) / RESULTS_FILE
        return cls.from_dict(read_json(path), output_dir=run_dir)

    @property
    def is_glove(self) -> bool:
        return str(self.model_type or "").startswith("glove")

    @property
    def is_setfit(self) -> bool:
        """A SetFit run (`finetune.py --setfit`, `pipelines.setfitting`): not a `PreTrainedModel`; its head is `model_head.pkl`."""
        return self.model_type == "setfit"

    # What the run produced, never where it lives: the same for a run folder and its compact record
    # (`pipelines.report.records` rewrites paths only). Its test scores and training wall time tell two runs of one
    # model, dataset and seed apart (a teacher trained on CPU, another on GPU).
    IDENTITY_FIELDS = ("dataset", "model", "protocol", "fold", "seed", "test", "train_seconds")

    def identity(self) -> dict:
        """Which run this is, as a value another record can keep (a distilled run's `distillation.teacher_run`,
        written by `pipelines.distillation`): {"model", "dataset", "seed", "record"}, `record` 16 hex digits of
        SHA-256 over `IDENTITY_FIELDS`."""
        payload = json.dumps([getattr(self, name) for name in self.IDENTITY_FIELDS], sort_keys=True)
        digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
        return {"model": self.model, "dataset": self.dataset, "seed": self.seed, "record": digest}

    @property
    def teacher_run(self) -> dict | None:
        """The run a distilled run learnt from: its teacher's `identity()`, recorded at distillation time as
        `distillation.teacher_run`. A teacher with no run record (any checkpoint folder): {"model": its name}, which
        no run matches. Runs distilled before `teacher_run` was recorded: {"model": its name, "folder": the last two
        parts of its `teacher_path`, "fingerprint": its `teacher_fingerprint`}, the only link they have to the teacher's
        record (`runs/teachers/mr-minilm-cpu` -> `teachers/mr-minilm-cpu`; the fingerprint tells a run re-made in that
        folder from the teacher). None for a run not distilled."""
        distillation = self.distillation if isinstance(self.distillation, dict) else {}
        if "teacher_run" in distillation:
            return distillation["teacher_run"] or {"model": distillation.get("teacher")}
        path = distillation.get("teacher_path")
        if not path:
            return None
        folder = "/".join(Path(str(path).rstrip("/")).parts[-2:])
        return {"model": distillation.get("teacher"), "folder": folder, "fingerprint": distillation.get("teacher_fingerprint")}

    def get(self, key: str, default=None):
        """A field or an `extra` entry by its `results.json` key (for the few descriptive keys only one reader uses)."""
        if key in self.extra:
            return self.extra[key]
        value = getattr(self, key, None) if key in {item.name for item in fields(self)} else None
        return default if value is None else value

    def to_dict(self) -> dict:
        """The `results.json` payload: version first, the run's description, then its outcome; paths under
        the working folder relative to it (`layout.portable_paths`)."""
        payload = {"schema_version": self.schema_version, "dataset": self.dataset, "model": self.model}
        if self.model_type is not None:
            payload["model_type"] = self.model_type
        payload.update(self.extra)
        for item in fields(self):
            if item.name in payload or item.name in ("extra", "output_dir"):
                continue
            value = getattr(self, item.name)
            if value is None and item.name in self._OPTIONAL:
                continue
            payload[item.name] = value
        return portable_paths(payload)


# 1: the first versioned evaluation (files without `schema_version` are version 0 and read the same).
# 2: temperature scaling of the as-is scorers on validation: `validation` (the split) and, per model,
#    `calibration` and `validation_predictions_file` (versions 0 and 1 have none: None).
# 3: every model scored on that split, lexicons included: per model `validation` (its scores there, as `test`),
#    so the best as-is model is chosen on validation (versions 0 to 2 have none: None).
# 4: per model `model_temperature`, the temperature a scored run folder's own calibration already applies (written only
#    where it has one; versions 0 to 3 did not look: None, as for a model without one).
EVALUATION_SCHEMA_VERSION = 4


@dataclass
class ScoredModel:
    """One model of an as-is evaluation (`evaluate_pretrained.py`), an entry of `evaluation.json`'s `results`.

    `test` holds the scores over the dataset's labels (`pipelines.metrics.METRICS` keys, 0..1),
    written at the top of the entry as the report reads them; `ci` their 95% intervals
    (metric -> [low, high]); `seconds` the scoring time of the whole test set, `load_seconds` the
    load time. `validation` holds the same scores on the evaluation's validation sentences
    (`EvaluationRecord.validation`), where the report chooses the best as-is model. `extra` keeps what
    this version does not type.
    """

    model: str
    family: str
    test: dict[str, float]
    ci: dict[str, list[float]]
    seconds: float
    sentences_per_second: float
    load_seconds: float
    labels: str  # the label mapping, e.g. "LABEL_0->negative; LABEL_1->positive"
    rule: str  # how a prediction is made (the scorer's own rule, else the mapping)
    ties: int  # sentences whose top probability was shared
    predicted_counts: list[int]  # per dataset label
    confusion_matrix: list[list[int]]  # (gold, predicted)
    predictions_file: str | None = None  # relative to the evaluation's folder
    trained_on: str | None = None  # a run folder's own dataset, when it names one
    # pipelines.calibration.calibrate_probabilities' record (T fitted on validation; test ECE/Brier/NLL before
    # and after; conformal sets), or {"skipped": why}; None: not calibrated (--temperature_scaling false, version < 2)
    calibration: dict | None = None
    validation_predictions_file: str | None = None  # its validation log probabilities and labels, before scaling
    # its scores on the validation sentences ({metric: 0..1}, as `test`); None: not scored there (version < 3, no split)
    validation: dict[str, float] | None = None
    # the temperature the scored model's own saved calibration already divides its logits by (a run calibrated when
    # trained, `Classifier.temperature`): its probabilities "before" this evaluation's temperature scaling include it;
    # None: the model has none (and in files written before this field)
    model_temperature: float | None = None
    extra: dict = field(default_factory=dict)

    _OPTIONAL = ("calibration", "validation_predictions_file", "validation", "model_temperature")  # written only when set: older files read back as they were

    @classmethod
    def from_dict(cls, entry: dict) -> ScoredModel:
        """An entry as `to_dict` wrote it; `KeyError` for an entry without a typed field that has no default."""
        from pipelines.metrics import METRICS

        known = {item.name for item in fields(cls)} - {"test", "extra"}
        return cls(
            **{key: value for key, value in entry.items() if key in known},
            test={key: value for key, value in entry.items() if key in METRICS},
            extra={key: value for key, value in entry.items() if key not in known and key not in METRICS},
        )

    def to_dict(self) -> dict:
        """The entry: model, family, where it was trained, the scores, then the rest, as files have always read."""
        entry = {"model": self.model, "family": self.family}
        if self.trained_on is not None:
            entry["trained_on"] = self.trained_on
        entry.update(self.test)
        for item in fields(self):
            if item.name not in entry and item.name not in ("test", "extra", "trained_on"):
                if getattr(self, item.name) is not None or item.name not in self._OPTIONAL:
                    entry[item.name] = getattr(self, item.name)
        return entry | self.extra


@dataclass
class EvaluationRecord:
    """What `evaluate_pretrained.py` writes to `evaluation.json`, typed: one test set, the models
    scored on it (`results`) and those that could not be (`failures`: model, one-line error).

    `from_dict` is the one place that knows older files: without `schema_version` a file is version
    0; without `code`, `failures` or `notes` they read as None, [] and []; without `validation` (and
    each model without `calibration`, `validation_predictions_file`: versions 0 and 1; without its
    `validation` scores: versions 0 to 2; without `model_temperature`: versions 0 to 3, and any model without one) as None.
    """

    dataset: str
    data: dict  # the data source (`pipelines.data.load_data`'s description)
    test_sentences: int
    label_names: list[str]
    batch_size: int
    neutral_threshold: float
    device: str
    ci_method: str
    results: list[ScoredModel]
    failures: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] | None = None
    code: dict | None = None  # source_revision(); None outside a git checkout, and in version-0 files
    # the validation sentences the scorers were scored (and calibrated) on (pipelines.pretrained.validation_split):
    # {"sentences", "source"}, or {"skipped": why}; None: a version < 2 file (or, in version 2, --temperature_scaling false)
    validation: dict | None = None
    schema_version: int = EVALUATION_SCHEMA_VERSION

    @classmethod
    def from_dict(cls, payload: dict, path: str | os.PathLike = EVALUATION_FILE) -> EvaluationRecord:
        """A record from an `evaluation.json` payload, old or new; `DataError` naming `path` when it is not one."""
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list) or "dataset" not in payload:
            raise DataError(f"{path}: not an evaluation record (no 'dataset' and 'results' list)")
        known = {item.name for item in fields(cls)} - {"results"}
        try:
            return cls(
                **{key: value for key, value in payload.items() if key in known} | {"schema_version": payload.get("schema_version", 0)},
                results=[ScoredModel.from_dict(entry) for entry in payload["results"]],
            )
        except (KeyError, TypeError) as err:
            raise DataError(f"{path}: an evaluation record without {err}") from None

    @classmethod
    def read(cls, path: str | os.PathLike) -> EvaluationRecord:
        """The record in the file `path`; `DataError` for a file that is not JSON or not an evaluation."""
        return cls.from_dict(read_json(path), path)

    def to_dict(self) -> dict:
        """The `evaluation.json` payload: version first, then the fields in order, each model as `ScoredModel.to_dict`."""
        payload = {"schema_version": self.schema_version}
        for item in fields(self):
            if item.name != "schema_version" and not (item.name == "validation" and self.validation is None):
                payload[item.name] = getattr(self, item.name)
        payload["results"] = [scored.to_dict() for scored in self.results]
        return payload


def is_run_record(payload) -> bool:
    """A `results.json` written by `train.py`/`finetune.py`: a dataset and a mapping of test scores
    (a grid's own summary, or an `evaluate_pretrained.py` file, is not)."""
    return isinstance(payload, dict) and isinstance(payload.get("test"), dict) and "dataset" in payload


def finished_record(run_dir: str | os.PathLike) -> RunRecord | None:
    """The record of a finished run in `run_dir`, or None (no `results.json`, or one half written by an older version)."""
    try:
        return RunRecord.read(run_dir) if (Path(run_dir) / RESULTS_FILE).is_file() else None
    except DataError:
        return None


# The files that make a model what it is (config, weights, tokenizer, remote code); run records do not count.
MODEL_FILE_PATTERNS = ("config.json", "*.safetensors", "pytorch_model*.bin", "tokenizer*.json", "vocab*", "merges.txt", "special_tokens_map.json", "*.model", "*.py")


def weights_fingerprint(folder: str | os.PathLike) -> str:
    """SHA-256 (64 hex digits) over the names and contents of a saved model's files (`MODEL_FILE_PATTERNS`) in
    `folder`: the same for a copy of the model, different for any other weights. A distilled run records its teacher's
    (`distillation.teacher_fingerprint`), a fine-tuned run its own (`RunRecord.weights_fingerprint`), 16 digits each."""
    digest = hashlib.sha256()
    files = sorted({path for pattern in MODEL_FILE_PATTERNS for path in Path(folder).glob(pattern) if path.is_file()})
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def write_results(output_dir: str | os.PathLike, record: RunRecord) -> Path:
    """`output_dir/results.json`, atomically; write it last: a folder holding it is a finished run."""
    return write_json_atomic(Path(output_dir) / RESULTS_FILE, record.to_dict())


# --- where a run was made -------------------------------------------------------------------------


def training_device(device) -> str:
    """Where a run trains, for its record's cost: "cuda: <GPU name>" or "cpu: <N> torch threads, <CPU model>"
    (`device`: a `torch.device`, e.g. `TrainingArguments.device`)."""
    import torch

    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"{device.type}: {torch.get_num_threads()} torch threads, {cpu_model()}"


def cpu_model() -> str:
    """The CPU's model name (`/proc/cpuinfo`'s "model name"; elsewhere `platform.processor()`, else "unknown CPU")."""
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
    return cpu


def library_versions() -> dict[str, str]:
    import datasets
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "tokenizers": tokenizers.__version__,
    }


PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding `pipelines/` and `models/`


@functools.cache
def process_revision() -> dict | None:
    """`source_revision()` as this process first asked for it, then the same value for the whole process: the
    code it imported, not the checkout's HEAD when a record is written (a commit made while a run trains must
    not be named as its code). `pipelines.cli.run_cli` and `fitting.fit_and_test` ask at their start."""
    return source_revision()


def source_revision(root: Path = PACKAGE_ROOT) -> dict | None:
    """`{"commit": <40-hex HEAD>, "dirty": <tracked files differ from it>}` of the checkout at `root`
    (by default the one this code runs from), or None where `root` is not the top of a git checkout
    (an installed wheel) or git is missing.

    Untracked files (runs, caches) do not count as dirty: they do not change what the code computes.
    """
    root = Path(root).resolve()

    def git(*args: str) -> str:
        # GIT_OPTIONAL_LOCKS=0: `git status` never takes .git/index.lock, so a run starting never blocks a commit
        environment = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True, env=environment).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return None
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return None
