"""The GloVe flow: build a GloVe model and its tokenizer from the data, then the shared Trainer flow.

`prepare_glove_data` loads the data, builds the vocabulary and tokenizes (once per data set and
seed, so the grid shares it across cells); `build_glove_model` makes the `--model` preset through
the Auto classes; `train_glove` hands both to `pipelines.fitting.fit_and_test`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from datasets import DatasetDict
from transformers import AutoConfig, AutoModelForSequenceClassification, PretrainedConfig, PreTrainedTokenizerFast, set_seed

import models
from models.glove import GloveVectors
from pipelines import hub
from pipelines.arguments import (
    DataArguments,
    DistillationArguments,
    GloveModelArguments,
    GloveTrainingArguments,
    RunTrainingArguments,
)
from pipelines.cli import parse_pairs
from pipelines.distillation import check_teacher, prepare_training
from pipelines.errors import ConfigError, UserError
from pipelines.fitting import fit_and_test
from pipelines.runs.io import check_writable_dir
from pipelines.runs.record import RunRecord
from pipelines.selection import best_metric_fields
from pipelines.splits import load_train_test, protocol_info, split_validation
from pipelines.tokenization import build_tokenizer, build_vocabulary, embedding_matrix, load_word_vectors, tokenize_dataset

__all__ = [  # the GloVe flow, and the shared names train.py and the grid import from here
    "DataArguments", "GloveModelArguments", "GloveTrainingArguments", "PreparedGloveData", "RunTrainingArguments",
    "build_glove_model", "fit_and_test", "prepare_glove_data", "train_glove",
]


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
    """The model `--model name` names, through the Auto classes, with its GloVe rows loaded. Its weights are drawn
    with `seed`, which is set again after, so training starts from the seed's state wherever the model is built: a
    search trial's model, drawn inside `Trainer.train` (`model_init`), and the run that repeats the best trial, built
    before its `Trainer` (which sets the seed itself), then see the same dropout and batch order."""
    config = glove_config(
        name,
        glove.dim,
        train_embeddings,
        config_overrides,
        vocab_size=len(tokenizer),
        max_length=tokenizer.model_max_length,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={label: i for i, label in enumerate(label_names)},
    )
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config)
    model.load_word_vectors(torch.from_numpy(embedding_matrix(glove, vocabulary)))
    set_seed(seed)  # training starts from the seed, not from what drawing the weights left (below)
    return model


def glove_config(name: str, embedding_dim: int, train_embeddings: bool, config_overrides: str | None, **fields) -> PretrainedConfig:
    """The config of `--model name` over `embedding_dim`-d vectors, `--config_overrides` applied;
    `fields` are those the data sets (vocabulary, labels). `ConfigError` for an override the
    config cannot take (an unknown field, a value of the wrong type, `num_heads` that does not
    divide the vectors' width), so `prepare_glove_data` checks it before any data is read."""
    model_type = models.model_type_for(name)
    try:
        overrides = typed_overrides(AutoConfig.for_model(model_type), config_overrides)  # then checked with the others at creation
        config = AutoConfig.for_model(
            model_type, **{**models.preset_fields(name), **overrides}, embedding_dim=embedding_dim,
            freeze_embeddings=not train_embeddings, **fields,
        )  # fmt: skip
    except UserError:
        raise
    except ValueError as err:  # the config's own checks: the message names the field and the allowed values
        overrides = f" with --config_overrides {config_overrides}" if config_overrides else ""
        raise ConfigError(f"--model {name} over {embedding_dim}-d word vectors{overrides}: {err}") from None
    return config


def override_pairs(config_overrides: str | None) -> dict[str, str]:
    """`--config_overrides` ("num_layers=6,dropout=0.1") as {field: value text}, in its order (`pipelines.cli.parse_pairs`)."""
    return parse_pairs(config_overrides, "--config_overrides", example="hidden_size=256,dropout=0.3")


def recorded_overrides(config: PretrainedConfig, config_overrides: str) -> dict:
    """The fields `--config_overrides` names, with the typed values the built `config` holds (the
    record's `config_overrides`, read by `pipelines.runs.setting.Setting.of`)."""
    return {key: getattr(config, key) for key in override_pairs(config_overrides)}


# Config fields the flow sets from `--model`, the vocabulary, the word vectors and temperature scaling; `--config_overrides` leaves them be.
DERIVED_CONFIG_FIELDS = ("vocab_size", "embedding_dim", "pad_token_id", "preset", "temperature")  # temperature: fitted after training


def typed_overrides(config: PretrainedConfig, config_overrides: str | None) -> dict:
    """`--config_overrides` as {field: value}, each value typed by `config`'s field as transformers'
    `PretrainedConfig.update_from_string` types it (bool from true/false, yes/no, y/n, 1/0; int; float; str); {} for none.
    `config` is left as it is. One-line errors (exit 2): `OptionError` for an entry that is not field=value;
    `ConfigError` naming the field for one the model does not have or that is not changed here (the
    `PretrainedConfig` basics such as `id2label`, `DERIVED_CONFIG_FIELDS`), and naming the value for one its type refuses.
    """
    pairs = override_pairs(config_overrides)
    base_fields = set(PretrainedConfig().to_dict())
    valid = [name for name in config.to_dict() if name not in base_fields and name not in DERIVED_CONFIG_FIELDS]
    typed = copy.deepcopy(config)
    for key, value in pairs.items():
        if key not in valid:
            raise ConfigError(f"--config_overrides: {config.model_type} has no field {key!r} to change; valid fields: {', '.join(valid)}")
        current = getattr(config, key)
        try:
            typed.update_from_string(f"{key}={value}")
        except ValueError:
            raise ConfigError(f"--config_overrides: {key}={value!r} is not a valid {type(current).__name__} (now {current!r})") from None
        except TypeError:  # a field that holds neither int, float, bool nor str
            raise ConfigError(f"--config_overrides: {key} holds {current!r}; only int, float, bool and str fields can be set here") from None
    return {key: getattr(typed, key) for key in pairs}


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
    """Load the word vectors, check the model's config over them, load the data, build the
    vocabulary from its training split, and tokenize it.

    The validation split is drawn later, from the tokenized data (the same rows as drawing it
    from the text), so the experiment grid prepares a data set once for all its seeds.
    """
    glove = load_word_vectors(model_args.embeddings)
    glove_config(model_args.model, glove.dim, model_args.train_embeddings, model_args.config_overrides)  # before the data is read
    dataset, description = load_train_test(data_args, seed)
    vocabulary = build_vocabulary(glove, dataset["train"]["text"], model_args.max_vocab_size or None)  # 0: the whole vocabulary
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
    record_extra: dict | None = None,
) -> RunRecord:
    """Train, test and save one GloVe run; `record_extra` adds entries to its `results.json` (a search's trial).
    Its description (`run_info`, in `results.json` and the run's definition) holds the word vectors' file and the
    SHA-256 of the float32 rows the model starts from (`embeddings_sha256`), so a resume notices vectors that changed."""
    check_writable_dir(Path(training_args.output_dir))  # before minutes of work, not after; created when training starts
    hub.check_push(training_args.push_to_hub, training_args.output_dir, training_args.hub_model_id, training_args.hub_token)
    check_teacher(loss_args)
    prepared = prepared or prepare_glove_data(model_args, data_args, training_args.seed)
    best_metric = best_metric_fields(training_args.metric_for_best_model, prepared.label_names, data_args.dataset_label)
    if best_metric != {key: getattr(training_args, key) for key in best_metric}:  # a grid's cell comes resolved (`experiments.grid_cells`)
        training_args = replace(training_args, **best_metric)
    model = glove_model_of(model_args, prepared, training_args.seed)
    run_info = {
        "model": model_args.model,
        "model_type": model.config.model_type,
        "dataset": data_args.dataset_label,
        "data": prepared.description,
        **protocol_info(prepared.description),
        "vectors": "trained" if model_args.train_embeddings else "frozen",
        "embeddings": prepared.glove.source,
        # the vectors themselves, as the model starts from them (its embedding, loaded from `embedding_matrix`, before
        # training): the same file rewritten with other values is another run
        "embeddings_sha256": embeddings_digest(model),
        "vocab_size": len(prepared.tokenizer),
        **({"config_overrides": recorded_overrides(model.config, model_args.config_overrides)} if model_args.config_overrides else {}),
        **(record_extra or {}),
    }
    tokenized, trainer_class, loss_info = glove_training_data(loss_args, prepared, data_args, training_args.seed, not training_args.disable_tqdm)
    return fit_and_test(
        model, prepared.tokenizer, tokenized, training_args, prepared.label_names, data_args.early_stopping_patience,
        {**run_info, **loss_info}, score_test_each_epoch=data_args.score_test_each_epoch, trainer_class=trainer_class,
    )


def glove_model_of(model_args: GloveModelArguments, prepared: PreparedGloveData, seed: int):
    """`build_glove_model` for `model_args` over `prepared` data: the model a run of them starts from."""
    return build_glove_model(
        model_args.model, prepared.glove, prepared.vocabulary, prepared.tokenizer, prepared.label_names, seed=seed,
        train_embeddings=model_args.train_embeddings, config_overrides=model_args.config_overrides,
    )  # fmt: skip


def embeddings_digest(model) -> str:
    """The first 16 hex digits of the SHA-256 of a model's input embedding (float32 rows, as it starts from them):
    the run description's `embeddings_sha256`, so the same vectors file rewritten with other values is another run."""
    return hashlib.sha256(model.get_input_embeddings().weight.detach().numpy().tobytes()).hexdigest()[:16]


def glove_training_data(loss_args, prepared: PreparedGloveData, data_args: DataArguments, seed: int, progress: bool = False):
    """(tokenized splits, `Trainer` class, loss description) of a GloVe run: `distillation.prepare_training` over
    `prepared`, the validation split drawn from train with `seed` (`--validation_fraction`) where the data has none."""
    split = functools.partial(split_validation, fraction=data_args.validation_fraction, seed=seed)
    return prepare_training(loss_args, prepared, split, progress=progress)
