"""The argument dataclasses both training flows share, declared once.

`DataArguments` is the data source (`pipelines.data.DataSourceArguments`) plus the held-out
shares and early stopping; `RunTrainingArguments` is `TrainingArguments` with the defaults every
run here uses. The GloVe flow (`pipelines.training`) and the fine-tuning flow
(`pipelines.finetuning`) subclass them with their own defaults only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import TrainingArguments

from pipelines.benchmarks import BENCHMARKS
from pipelines.data import DataSourceArguments
from pipelines.errors import OptionError
from pipelines.run_files import folder_name


@dataclass
class DataArguments(DataSourceArguments):
    """The data options (`DataSourceArguments`) plus what training needs: the held-out shares."""

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

    def __post_init__(self):
        super().__post_init__()
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
        if (self.validation_file or self.test_file) and not self.train_file:
            raise OptionError("--validation_file and --test_file need --train_file")
        if not 0.0 < self.validation_fraction < 1.0:
            raise OptionError(f"--validation_fraction must be between 0 and 1, got {self.validation_fraction}")


@dataclass
class RunTrainingArguments(TrainingArguments):
    """`TrainingArguments` with what both training flows share, declared once.

    Evaluation, checkpoints and logs every epoch, the best checkpoint restored (by the official
    metric), batches grouped by length, early stopping's patience restored on resume, and
    `--output_dir` remembered as given or not (the scripts name a missing one after the run).
    """

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

    def __post_init__(self):
        self.output_dir_given = self.output_dir is not None
        for option in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if getattr(self, option) < 1:
                raise OptionError(f"--{option} must be at least 1, got {getattr(self, option)}")
        if not torch.cuda.is_available():  # pinned memory only helps copies to a GPU; on CPU torch warns every epoch
            self.dataloader_pin_memory = False
        super().__post_init__()


def default_output_dir(
    dataset: str, model: str, cv_folds: int | None = None, fold: int = 0, seed: int = TrainingArguments.seed, variant: str | None = None
) -> str:
    """`runs/<dataset>-<model>`, then what else tells runs apart, so another run never lands in a
    finished run's folder: `-<variant>` (train.py: `trained-vectors` or `frozen-vectors` when not
    the default), `-seed<S>` for a seed other than `TrainingArguments`' 42, and `-cv<K>-fold<F>`
    for one fold of cross-validation. A run with the defaults keeps the plain name."""
    parts = [f"{dataset}-{model}", variant, f"seed{seed}" if seed != TrainingArguments.seed else None]
    parts.append(f"cv{cv_folds}-fold{fold}" if cv_folds else None)
    return str(Path("runs") / folder_name("-".join(filter(None, parts))))
