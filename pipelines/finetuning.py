"""Fine-tune a pretrained transformer on MR, SemEval-2017 4A or your own data, through the shared `fit_and_test` flow."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, TrainingArguments, set_seed

from pipelines import hub, hub_access
from pipelines.backbones import length_from_data, resolve_model
from pipelines.calibration import forget_calibration
from pipelines.errors import DataError, PathError, one_line
from pipelines.losses import LossArguments, loss_trainer
from pipelines.arguments import FinetuneDataArguments, FinetuneModelArguments, FinetuneTrainingArguments, model_label
from pipelines.runs.io import check_folder_kind, check_writable_dir, hold_run_folder
from pipelines.runs.record import RunRecord, training_device
from pipelines.selection import best_metric_fields
from pipelines.tokenization import tokenize_dataset
from pipelines.fitting import fit_and_test, prepare_output_dir, summary_line
from pipelines import inference
from pipelines.inference import default_device
from pipelines.arguments import SetFitArguments
from pipelines.runs.layout import ARGS_FILE, TRAINER_STATE_FILE
from pipelines.setfitting import save_setfit_run, setfit_definition, setfit_record, train_setfit
from pipelines.splits import load_train_test, protocol_info, split_validation



LOCAL_MODEL_HINT = "give --model a local save_pretrained folder (a run folder) or an offline alias (minilm, mpnet)"


def load_pretrained(path: str, label_names: list[str], seed: int, load_kwargs: dict):
    """(model, tokenizer, config) with the dataset's labels, `label_names` in id order.

    A checkpoint whose head has another number of labels (an SST-2 model tuned on SemEval) gets a
    new head, drawn with `seed`. One with as many labels keeps its trained head: re-ordered to
    `label_names` when it holds these same names in another order (`id2label`, `reorder_head`), so
    every class keeps its trained row; otherwise row `i` becomes `label_names[i]`, whatever it was
    trained as (`ignore_mismatched_sizes` redraws only layers whose shape differs). A tokenizer
    without a pad token (GPT-2's) pads with its end-of-text token, which the model's config then
    names as `pad_token_id`, and says so in one line (`pad_with_eos`).
    `PathError` or `DataError` for a model that cannot be loaded; `ConfigError` for a tokenizer
    with neither a pad nor an end-of-text token, before the output folder is touched.
    """
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **load_kwargs)
        padded_with_eos = pad_with_eos(tokenizer, path)
        saved_names = list(AutoConfig.from_pretrained(path, **load_kwargs).id2label.values())
        config = AutoConfig.from_pretrained(
            path,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={name: i for i, name in enumerate(label_names)},
            **load_kwargs,
        )
        set_seed(seed)  # the new classification head is drawn at random
        model = AutoModelForSequenceClassification.from_pretrained(path, config=config, ignore_mismatched_sizes=True, **load_kwargs)
        set_seed(seed)  # training starts from the seed's state, as a search trial does: `training.build_glove_model`
    except SafetensorError as err:
        raise DataError(f"corrupt weights in {path}: {err}") from None
    except OSError as err:  # no such repo, a folder without the files: transformers says which in its first line
        raise PathError(f"cannot load model {path}: {one_line(err)}") from err
    if padded_with_eos:  # GPT-2-style heads score each text's last token that is not padding
        model.config.pad_token_id = tokenizer.pad_token_id
    forget_calibration(model, path, head_kept=len(saved_names) == len(label_names))
    by_name = {str(name).lower(): i for i, name in enumerate(saved_names)}
    if saved_names != label_names and len(by_name) == len(label_names) and set(by_name) == {n.lower() for n in label_names}:
        reorder_head(model, [by_name[name.lower()] for name in label_names], path, saved_names, label_names)
    return model, tokenizer, model.config


def pad_with_eos(tokenizer, path: str) -> bool:
    """`inference.pad_with_eos` for a backbone to fine-tune, saying so in one line when it pads with the end-of-text
    token; its `ConfigError` says to give --model another backbone."""
    if not inference.pad_with_eos(tokenizer, path, hint="give --model one that has either (save its tokenizer with pad_token set)"):
        return False
    print(f"{path}: its tokenizer has no pad token; padding with its end-of-text token {tokenizer.eos_token!r}")
    return True


def reorder_head(model, order: list[int], path: str, saved_names: list[str], label_names: list[str]) -> None:
    """Row `i` of the output layer becomes the checkpoint's row `order[i]`, so the logit of each
    class is the one it was trained as. The output layer is the last `nn.Linear` with one row per
    class (BERT's `classifier`, RoBERTa's `classifier.out_proj`, the GloVe models' head);
    `DataError` naming both orders when the model has none."""
    heads = [module for module in model.modules() if isinstance(module, torch.nn.Linear) and module.out_features == len(order)]
    if not heads:
        raise DataError(
            f"{path} was trained with the labels in the order {','.join(saved_names)} and its head cannot be re-ordered "
            f"to {','.join(label_names)}; give --class_names {','.join(saved_names)}"
        )
    with torch.no_grad():
        heads[-1].weight.copy_(heads[-1].weight[order])
        if heads[-1].bias is not None:
            heads[-1].bias.copy_(heads[-1].bias[order])
    print(f"{path}: its head's rows re-ordered from {','.join(saved_names)} to {','.join(label_names)}")


def finetune(
    model_args: FinetuneModelArguments,
    data_args: FinetuneDataArguments,
    training_args: TrainingArguments,
    loss_args: LossArguments | None = None,
    setfit_args: SetFitArguments | None = None,
    record_extra: dict | None = None,
) -> RunRecord:
    """Fine-tune and test one run; `record_extra` adds entries to its `results.json` (a search's best trial)."""
    path, load_kwargs = resolve_backbone(model_args, training_args)
    splits, label_names, data_description, full_test_size = finetune_splits(data_args, training_args.seed)
    if setfit_args is not None and setfit_args.setfit:
        return finetune_setfit(path, splits, label_names, data_description, full_test_size, model_args, data_args, training_args, setfit_args)
    training_args = replace(training_args, **best_metric_fields(training_args.metric_for_best_model, label_names, data_args.dataset_label))
    model, tokenizer, config = load_pretrained(path, label_names, training_args.seed, load_kwargs)
    max_length = input_length(model_args, tokenizer, splits)
    # saved with the model: `pipeline()`, `pipelines.predict`, export and the teacher then cut where training did
    tokenizer.model_max_length = max_length
    tokenized = tokenize_dataset(splits, tokenizer, max_length)
    run_info = {
        "model": model_label(model_args.model),
        "model_path": path,
        "model_type": config.model_type,
        "dataset": data_args.dataset_label,
        "data": data_description,
        **protocol_info(data_description),
        "max_length": max_length,
        "train_sentences": len(splits["train"]),
        "validation_sentences": len(splits["validation"]),
        "test_sentences": len(splits["test"]),
        **({"test_sentences_available": full_test_size} if len(splits["test"]) < full_test_size else {}),
        **(record_extra or {}),
    }
    trainer_class, loss_info = loss_trainer(loss_args, splits["train"]["label"], label_names)
    return fit_and_test(
        model, tokenizer, tokenized, training_args, label_names, data_args.early_stopping_patience,
        {**run_info, **loss_info}, score_test_each_epoch=data_args.score_test_each_epoch, trainer_class=trainer_class,
    )


def resolve_backbone(model_args: FinetuneModelArguments, training_args: TrainingArguments) -> tuple[str, dict]:
    """`--model` as a loadable path and its load options; the output folder and a push checked first."""
    try:
        path = resolve_model(model_args.model)
    except OSError as err:  # a --model folder that is missing or incomplete: the user's to fix
        raise PathError(str(err)) from err
    load_kwargs = hub_access.model_load_kwargs(path, LOCAL_MODEL_HINT)  # seconds, not a minute of retries, when offline
    check_writable_dir(Path(training_args.output_dir))  # before minutes of work, not after; created when training starts
    hub.check_push(training_args.push_to_hub, training_args.output_dir, training_args.hub_model_id, training_args.hub_token)
    return path, load_kwargs


def input_length(model_args: FinetuneModelArguments, tokenizer, splits) -> int:
    """`--max_length`, capped by the tokenizer, or the `--max_length_quantile` of the training texts."""
    if model_args.max_length_quantile is not None:  # on CPU, padding is most of a base model's cost
        return length_from_data(tokenizer, splits["train"]["text"], model_args.max_length_quantile)
    if model_args.max_length > tokenizer.model_max_length:  # a saved run's tokenizer holds the length it trained with
        print(f"--max_length {model_args.max_length}: cut to {tokenizer.model_max_length}, the tokenizer's model_max_length")
    return min(model_args.max_length, tokenizer.model_max_length)


def finetune_splits(data_args: FinetuneDataArguments, seed: int) -> tuple:
    """(train/validation/test, label names, the data's description, test sentences before `--max_test_samples`):
    the data, the validation split and the `--max_*_samples` cuts, each drawn with `seed`."""
    dataset, data_description = load_train_test(data_args, seed)
    label_names = dataset["train"].features["label"].names
    splits = split_validation(dataset, data_args.validation_fraction, seed)
    if "index" not in splits["test"].column_names:  # predictions name each sentence's place in the test set
        splits["test"] = splits["test"].add_column("index", range(len(splits["test"])))
    full_test_size = len(splits["test"])
    for split, limit in (
        ("train", data_args.max_train_samples),
        ("validation", data_args.max_eval_samples),
        ("test", data_args.max_test_samples),
    ):
        if limit is not None:  # shuffled first: the test files are sorted by class
            splits[split] = splits[split].shuffle(seed=seed).select(range(min(limit, len(splits[split]))))
    if data_args.max_train_samples is not None:  # a class with no training sentence: SetFit's head would not even have its column
        missing = [name for i, name in enumerate(label_names) if i not in set(splits["train"]["label"])]
        if missing:
            raise DataError(f"--max_train_samples {data_args.max_train_samples} leaves no training sentence of class "
                            f"{', '.join(map(repr, missing))}; give more, or --train_size N (N sentences of each class)")  # fmt: skip
    if len(splits["test"]) < full_test_size:
        print(f"--max_test_samples {data_args.max_test_samples}: testing on {len(splits['test'])} of {full_test_size} test sentences")
    return splits, label_names, data_description, full_test_size


def finetune_setfit(
    path, splits, label_names, data_description, full_test_size, model_args, data_args, training_args, setfit_args
) -> RunRecord:
    """The SetFit branch of `finetune` (`pipelines.setfitting`): same splits, same record, same temperature scaling,
    and the same output-folder rules (`hold_run_folder`, `prepare_output_dir` with `setfit_definition`)."""
    # SetFitModel trains on the GPU when there is one (`inference.default_device`'s rule), where `train_setfit`'s
    # CPU autocast does nothing: bf16 is recorded, and asked for, only where the CPU trains
    bf16 = training_args.bf16 and default_device() == "cpu"
    run_info = {
        "model": model_label(model_args.model, setfit=True),
        "model_path": path,
        "dataset": data_args.dataset_label,
        "data": data_description,
        **protocol_info(data_description),
        "train_sentences": len(splits["train"]),
        "validation_sentences": len(splits["validation"]),
        "test_sentences": len(splits["test"]),
        **({"test_sentences_available": full_test_size} if len(splits["test"]) < full_test_size else {}),
        "setfit": {key.removeprefix("setfit_"): value for key, value in vars(setfit_args).items() if key != "setfit"}
        | {"bf16": bf16},
    }
    output_dir = Path(training_args.output_dir)
    check_folder_kind(output_dir, "run")
    with hold_run_folder(output_dir):
        prepare_output_dir(training_args, setfit_definition(run_info, splits, training_args.seed))
        for trainer_file in (ARGS_FILE, TRAINER_STATE_FILE):  # an overwritten Trainer run's, which this run does not write
            (output_dir / trainer_file).unlink(missing_ok=True)
        model, seconds = train_setfit(path, splits, label_names, setfit_args, training_args.seed, bf16=bf16)
        record, test_predictions, validation = setfit_record(model, splits, label_names, run_info, training_args.seed)
        record.train_seconds = round(seconds, 2)
        record.train_device = training_device(model.model_body.device)
        save_setfit_run(model, record, test_predictions, validation, training_args.output_dir, training_args.temperature_scaling)
    print(summary_line(record, test_predictions, len(splits["test"])))
    print(f"saved to {training_args.output_dir}")
    return record
