"""The Trainer flow both training flows share: fit with early stopping, test, save, report.

`fit_and_test` takes a built model, its tokenizer and tokenized train/validation/test splits;
the GloVe flow (`pipelines.training`) and the fine-tuning flow (`pipelines.finetuning`) differ
only in how they build those. `prepare_output_dir` decides, from `run_definition.json`, whether a
folder holds an interrupted run of this same definition to resume, and refuses a checkpoint or a
finished run of another definition; one live run holds a folder at a time.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from datasets import DatasetDict
from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments

from pipelines import hub, model_card
from pipelines.arguments import given_learning_rate
from pipelines.calibration import calibrate_after_training
from pipelines.errors import DataError, OptionError, PathError
from pipelines.formatting import format_metrics
from pipelines.metrics import METRIC_KEYS, compute_metrics_fn, per_class_scores
from pipelines.runs.io import (
    check_folder_kind,
    CHECKPOINT_PREFIX,
    checkpoints_newest_first,
    hold_run_folder,
    last_complete_checkpoint,
    torn_file,
    write_json_atomic,
    write_predictions,
)
from pipelines.runs.layout import (
    ARGS_FILE,
    PREDICTIONS_FILE,
    RESULTS_FILE,
    RUN_DEFINITION_FILE,
    TRAINER_STATE_FILE,
    TRAINING_CLOCK_FILE,
)
from pipelines.runs.record import RunRecord, library_versions, process_revision, training_device, weights_fingerprint, write_results
from pipelines.selection import TestScoreCallback, selection_summary


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
) -> RunRecord:
    """Train on `train`, stop early on `validation`, restore the best model, score `test`, save all.

    The test predictions go to `predictions.parquet`, the validation logits to
    `validation_predictions.parquet`; with `training_args.temperature_scaling` (the default), one
    temperature fitted on the latter is stored in the saved model before it is saved
    (`pipelines.calibration.calibrate_after_training`). With `score_test_each_epoch`, the test set
    is also scored after every validation pass (logged only), and `results.json` says which epoch
    validation loss and the official metric would each restore, with its test scores.
    `trainer_class` builds the trainer (`pipelines.losses.loss_trainer`: class weights, distillation).
    `training_args.metric_for_best_model` is a metric name, already resolved from `official`
    (`pipelines.selection.best_metric_fields`, applied by the flow once the labels are known).
    The output folder is held for the whole run (`hold_run_folder`: `PathError` while another
    live run holds it, or at once when it holds an as-is evaluation) and checked by `prepare_output_dir`; a loss that turns NaN or infinite
    stops the run (`StopOnNonFiniteLoss`, then `OptionError`). Returns the run's record, as
    written to `results.json`.
    """
    definition = run_definition(model, tokenizer, tokenized, training_args, run_info, early_stopping_patience)
    code = process_revision()  # the code this process started with, before hours of training
    check_folder_kind(training_args.output_dir, "run")
    if training_args.resume_from_checkpoint:  # before the folder is made: a refused resume writes nothing
        check_checkpoint_to_resume(Path(training_args.resume_from_checkpoint), definition, Path(training_args.output_dir))
    with hold_run_folder(training_args.output_dir) if training_args.process_index == 0 else nullcontext():
        resume_from = prepare_output_dir(training_args, definition)
        test_scores = TestScoreCallback(tokenized["test"]) if score_test_each_epoch else None
        divergence = StopOnNonFiniteLoss()
        clock = TrainingClock(resume_from)
        trainer = trainer_class(
            model=model,
            args=hub.without_trainer_push(training_args),
            train_dataset=tokenized["train"],
            eval_dataset=tokenized["validation"],
            processing_class=tokenizer,
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=compute_metrics_fn(label_names),
            callbacks=[
                EarlyStoppingCallback(early_stopping_patience=early_stopping_patience), divergence, clock,
                ending := StoppingSummary(), *filter(None, [test_scores]),
            ],
        )
        if test_scores:
            test_scores.trainer = trainer
        ending.handler = trainer.callback_handler
        trainer.train(resume_from_checkpoint=resume_from)
        if divergence.message:
            raise OptionError(divergence.message)
        if trainer.is_world_process_zero():
            print(ending.summary)
        test_prediction, validation = predict_in_order(trainer, tokenized["test"], tokenized["validation"])
        scores, test_predictions = score_test(test_prediction, tokenized["test"], label_names)
        record = RunRecord.new(
            run_info,
            **scores,  # label names, test scores, confusion matrix, per-class scores
            selection=selection_summary(trainer.state.log_history, label_names, training_args.metric_for_best_model, run_info.get("dataset")),
            predictions_file=PREDICTIONS_FILE,
            epochs=trainer.state.epoch,
            best_checkpoint=trainer.state.best_model_checkpoint,
            seed=training_args.seed,
            versions=library_versions(),
            code=code,
        )
        test_predictions = calibrate_after_training(
            trainer.model, validation, record, test_predictions, training_args.temperature_scaling,
            Path(training_args.output_dir) if trainer.is_world_process_zero() else None,
        )
        record.train_seconds = round(clock.seconds(), 2)
        record.train_seconds_from_step = clock.unknown_before_step
        record.train_device = training_device(trainer.args.device)
        record.parameters = count_parameters(model)
        record.early_stopping_patience = ending.stopper().early_stopping_patience  # a resumed run's: its checkpoint's
        record.learning_rate = given_learning_rate(training_args)
        save_run(trainer, training_args, record, test_predictions, len(tokenized["test"]))
        return record


class StoppingSummary(TrainerCallback):
    """When training ends, `summary` says in one line which epoch's weights the run keeps and why
    training ended, e.g. `restored epoch 7 (best validation accuracy 0.7925); stopped: no better
    validation accuracy in 5 evaluations`. `handler` is the trainer's `CallbackHandler`, set once the
    trainer is built: the run's `EarlyStoppingCallback` is looked up there when training ends, because
    a resumed run's trainer replaces it with one rebuilt from the checkpoint (`Trainer._load_callback_state`).
    Not stateful: a resumed run's stopper carries its own state."""

    def __init__(self):
        self.handler = None
        self.summary: str | None = None

    def stopper(self) -> EarlyStoppingCallback:
        """The early-stopping callback the trainer holds now."""
        return next(callback for callback in self.handler.callbacks if isinstance(callback, EarlyStoppingCallback))

    def on_train_end(self, args: TrainingArguments, state, control, **kwargs):
        criterion = f"validation {(args.metric_for_best_model or 'loss').removeprefix('eval_')}"
        epoch_at_step = {entry["step"]: entry["epoch"] for entry in state.log_history if "eval_loss" in entry}
        if args.load_best_model_at_end and state.best_global_step in epoch_at_step:
            restored = f"restored epoch {epoch_at_step[state.best_global_step]:g} (best {criterion} {state.best_metric:.4f})"
        else:
            restored = f"kept the last weights, epoch {state.epoch:g}"
        stopper = self.stopper()
        patience = stopper.early_stopping_patience
        if stopper.early_stopping_patience_counter >= patience:
            reason = f"no better {criterion} in {patience} evaluation{'s' if patience > 1 else ''}"
        elif state.global_step >= state.max_steps:
            budget = f"{args.max_steps} steps" if args.max_steps > 0 else f"{args.num_train_epochs:g} epochs"
            reason = f"the budget of {budget} was spent"
        else:
            reason = f"at step {state.global_step} of {state.max_steps}"
        self.summary = f"{restored}; stopped: {reason}"


def score_test(prediction, test_split, label_names: list[str]) -> tuple[dict, tuple]:
    """The restored model's test scores from its `prediction` of `test_split` (`predict_in_order`): the
    record's `label_names`, `test` (`METRIC_KEYS` and F1-PN), `confusion_matrix` (gold rows, predicted
    columns) and `per_class` (support, precision, recall, F1), and the per-sentence predictions
    `(indices, gold labels, probabilities (n, num_labels))`."""
    test_metrics = {key.removeprefix("test_"): value for key, value in prediction.metrics.items()}
    test_metrics = {key: test_metrics[key] for key in (*METRIC_KEYS, "f1_pn") if key in test_metrics}
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    probabilities = torch.softmax(torch.from_numpy(np.asarray(logits, dtype=np.float32)), dim=-1).numpy()
    predicted = probabilities.argmax(axis=-1)
    confusion = np.zeros((len(label_names), len(label_names)), dtype=int)
    np.add.at(confusion, (prediction.label_ids, predicted), 1)
    indices = test_split["index"] if "index" in test_split.column_names else range(len(test_split))
    scores = {
        "label_names": label_names,
        "test": test_metrics,
        "confusion_matrix": confusion.tolist(),
        "per_class": per_class_scores(prediction.label_ids, predicted, label_names),
    }
    return scores, (indices, prediction.label_ids, probabilities)


def summary_line(record: RunRecord, test_predictions: tuple, test_size: int) -> str:
    """The line a run ends with: its test scores and the official metric's 95% interval over the test sentences
    (`statistics.score_interval`, one run: the seed's variance is not in it). `test_predictions`: (indices, gold
    label ids (n,), probabilities (n, K)) as `write_predictions` takes them."""
    from pipelines.benchmarks import official_metric_for
    from pipelines.statistics import score_interval

    _, labels, probabilities = test_predictions
    official = official_metric_for(record.dataset, record.label_names)
    found = score_interval(np.asarray(labels), np.asarray(probabilities).argmax(axis=-1), official, record.label_names)
    return (f"test ({test_size} sentences) {format_metrics(record.test)}  ({official} 95% CI [{found['ci_low']:.4f}, "
            f"{found['ci_high']:.4f}] over these sentences; one run: another seed varies more)")


def save_run(trainer: Trainer, training_args: TrainingArguments, record: RunRecord, test_predictions: tuple, test_size: int) -> None:
    """Weights, tokenizer, training arguments (JSON), trainer state, predictions, `results.json`
    (last: a folder holding it is a finished run; it records the saved weights' `weights_fingerprint`) and the model card; pushed when asked."""
    trainer.save_model(training_args.output_dir)
    if not trainer.is_world_process_zero():
        return
    (Path(training_args.output_dir) / "training_args.bin").unlink(missing_ok=True)  # no pickle in the final folder: JSON instead
    (Path(training_args.output_dir) / ARGS_FILE).write_text(training_args.to_json_string() + "\n", encoding="utf-8")
    record.weights_fingerprint = weights_fingerprint(training_args.output_dir)[:16]  # what a student of it records of its teacher
    trainer.save_state()  # trainer_state.json: the log history the report draws learning curves from
    write_predictions(Path(training_args.output_dir) / PREDICTIONS_FILE, *test_predictions)
    write_results(training_args.output_dir, record)
    model_card.write_model_card(training_args.output_dir, record, training_args.hub_model_id)
    print(summary_line(record, test_predictions, test_size))
    print(f"saved to {training_args.output_dir}")
    if training_args.push_to_hub:
        repo_id = hub.hub_repo_id(training_args.hub_model_id, training_args.output_dir)
        hub.push_run(training_args.output_dir, repo_id, training_args.hub_token, training_args.hub_private_repo, training_args.hub_revision)
        print(f"pushed to {repo_id}")


def predict_in_order(trainer: Trainer, test, validation) -> list:
    """For the `test` and `validation` splits: their predictions, gold labels and metrics (the
    Trainer's `EvalLoopOutput`; `test_` and, as `Trainer.evaluate` names the validation set, `eval_`
    prefixed), their sentences in dataset order.

    From transformers 5, `Trainer.predict` groups evaluation batches by length too when training's
    are (`train_sampling_strategy="group_by_length"`), and its predictions come back in that
    shuffled order. Scores do not care, but per-sentence predictions must line up with the test
    set, so this runs the Trainer's own evaluation loop over a loader without a sampler (the
    loader `Trainer.get_test_dataloader` builds, less its sampler); the arguments stay as they are.
    Each loop ends as `Trainer.predict` ends it, with the callbacks' `on_predict`: the progress bar the
    loop opened (`ProgressCallback`) is closed there, else it stays open and is drawn again when the
    process exits, after "saved to"; trackers (`--report_to wandb`, trackio, comet, swanlab) log the
    metrics there under their prefix, so the validation pass must not say `test_`.
    """
    outputs = []
    for dataset, prefix in ((test, "test"), (validation, "eval")):
        loader = trainer._get_dataloader(dataset, description="test", batch_size=trainer.args.eval_batch_size)
        outputs.append(trainer.evaluation_loop(loader, description="Prediction", metric_key_prefix=prefix))
        trainer.control = trainer.callback_handler.on_predict(trainer.args, trainer.state, trainer.control, outputs[-1].metrics)
    return outputs


# TrainingArguments that change what a run computes (the rest say where and how output goes).
DEFINING_TRAINING_OPTIONS = (
    "seed", "data_seed", "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
    "num_train_epochs", "max_steps", "weight_decay", "warmup_steps", "lr_scheduler_type", "optim",
    "metric_for_best_model", "train_sampling_strategy", "fp16", "bf16",
    "label_smoothing_factor", "max_grad_norm", "adam_beta1", "adam_beta2", "adam_epsilon", "lr_scheduler_kwargs", "optim_args",
)
# Defining fields a run definition holds since round 25 (`training.<name>`): a definition written before then lacks
# them and is compared on the fields it has (its run used the defaults of the time, which these fields cannot add to).
# `world_size` (the number of processes: it sets the global batch and the steps per epoch) came later still, the same way.
LATER_DEFINING_FIELDS = (
    "label_smoothing_factor", "max_grad_norm", "adam_beta1", "adam_beta2", "adam_epsilon", "lr_scheduler_kwargs", "optim_args",
    "early_stopping_patience", "world_size",
)
# Run fields recorded since a later version, the same way (`run.` + the dotted key): a teacher's temperature (round 27)
# is also in its `teacher_fingerprint`, which hashes its config.json, so a run that lacks it was of the same teacher;
# a GloVe run's `embeddings_sha256` (the word vectors it starts from, added later) is compared where it was recorded.
LATER_RUN_FIELDS = ("distillation.teacher_temperature", "embeddings_sha256")


def run_definition(
    model, tokenizer, tokenized: DatasetDict, training_args: TrainingArguments, run_info: dict, early_stopping_patience: int
) -> dict:
    """What makes a run this run: its description, model config, training options (with the early-stopping
    patience and the number of processes, `world_size`), and the SHA-256 of each split's token ids and labels and of
    the vocabulary. Written to `run_definition.json` at the start, so a restart can tell whether the folder is its own."""
    config = {key: value for key, value in model.config.to_dict().items() if key not in ("transformers_version", "_name_or_path")}
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]))
    return {
        "run": run_info,
        "config": config,
        "training": {name: getattr(training_args, name) for name in DEFINING_TRAINING_OPTIONS if hasattr(training_args, name)}
        | {"early_stopping_patience": early_stopping_patience, "world_size": training_args.world_size},
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
    """`key: old -> new` for each field that differs (after a JSON round trip), at most `limit`. A field of
    `LATER_DEFINING_FIELDS` (or `LATER_RUN_FIELDS`) that `old` (the recorded definition) does not hold at all is not compared."""
    lacking = [f"training.{name}" for name in LATER_DEFINING_FIELDS if name not in old.get("training", {})]
    old, new = _flatten(old), _flatten(json.loads(json.dumps(new, default=str)))
    lacking += [f"run.{name}" for name in LATER_RUN_FIELDS if f"run.{name}" not in old]
    new = {key: value for key, value in new.items() if not any(key == field or key.startswith(field + ".") for field in lacking)}
    keys = [key for key in dict.fromkeys([*old, *new]) if old.get(key) != new.get(key)]
    shown = [f"{key}: {str(old.get(key))[:60]} -> {str(new.get(key))[:60]}" for key in keys[:limit]]
    return shown + ([f"and {len(keys) - limit} more"] if len(keys) > limit else [])


def prepare_output_dir(training_args: TrainingArguments, definition: dict) -> str | None:
    """Create the folder, say which checkpoint to resume from, and record the run's definition.

    `--resume_from_checkpoint` names a whole checkpoint of a run of this definition, checked before the folder is
    made (`check_checkpoint_to_resume`, called by `fit_and_test`; the SetFit flow refuses the option). Otherwise a folder holding checkpoints but no `results.json`
    is an interrupted run: it resumes from its last whole checkpoint if its `run_definition.json`
    matches this run's. A finished run of this definition starts over; `--overwrite_output_dir`
    starts over in any case, old checkpoints and results removed first. Raises `OptionError`
    naming the folder (or checkpoint) and what differs for another definition, and `DataError`
    for a checkpoint cut short.
    """
    output_dir = Path(training_args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    resume_from = training_args.resume_from_checkpoint  # checked by `check_checkpoint_to_resume` before the folder was made
    if not resume_from and not getattr(training_args, "overwrite_output_dir", False):
        recorded = recorded_definition(output_dir)
        differences = None if recorded is None else definition_differences(recorded, definition)
        resume_from = checkpoint_of_this_run(output_dir, differences, None if recorded is None else precision_hint(recorded, definition))
    if not resume_from:
        with training_args.main_process_first(desc="clearing a finished run"):
            for old_checkpoint in output_dir.glob(f"{CHECKPOINT_PREFIX}-*"):
                shutil.rmtree(old_checkpoint, ignore_errors=True)
            (output_dir / RESULTS_FILE).unlink(missing_ok=True)
    if training_args.process_index == 0:
        write_json_atomic(output_dir / RUN_DEFINITION_FILE, json.loads(json.dumps(definition, default=str)))
    if resume_from:
        print(f"resuming the interrupted run in {output_dir} from {resume_from}")
    return resume_from


def recorded_definition(run_dir: Path) -> dict | None:
    """The definition a run recorded in `run_dir/run_definition.json`; None without the file."""
    definition_file = run_dir / RUN_DEFINITION_FILE
    return json.loads(definition_file.read_text(encoding="utf-8")) if definition_file.is_file() else None


def precision_hint(recorded: dict, definition: dict) -> str:
    """For a recorded run that differs from this one in its precision alone: the option that resumes it as it was
    trained, e.g. "it trained in fp32: add --no_auto_mixed_precision to resume it" (a run started before finetune.py
    chose bf16 on a CPU with native bf16, or on another machine); else "". `--bf16 false` cannot say it: it is the
    default, which `--auto_mixed_precision` reads as not given."""
    keys = {line.split(":")[0] for line in definition_differences(recorded, definition, limit=len(_flatten(recorded)) + len(_flatten(definition)))}
    if not keys or not keys <= {"training.bf16", "training.fp16"}:
        return ""
    trained = next((name for name in ("bf16", "fp16") if recorded["training"].get(name)), None)
    return f"it trained in {trained or 'fp32'}: add {f'--{trained} true' if trained else '--no_auto_mixed_precision'} to resume it"


def checkpoint_of_this_run(output_dir: Path, differences: list[str] | None, hint: str = "") -> str | None:
    """The last whole checkpoint of an interrupted run of this definition in `output_dir`, else None.

    `differences`: what differs between the definition recorded in `output_dir` and this run's
    (`definition_differences`), None when none was recorded. `OptionError` when the folder holds a
    run (interrupted or finished) of another definition, or a run that recorded none (older versions, or
    another script's Trainer checkpoints): it is neither replaced nor resumed without `--overwrite_output_dir`.
    `hint` (`precision_hint`) joins the message for an interrupted run.
    """
    finished = (output_dir / RESULTS_FILE).exists()
    advice = "to start afresh there add --overwrite_output_dir (or delete the folder), or give another --output_dir"
    if finished and differences is None:
        raise OptionError(f"{output_dir} holds a finished run that recorded no {RUN_DEFINITION_FILE}, so it may be another run; {advice}")
    if finished and differences:
        raise OptionError(f"{output_dir} holds a finished run of another definition ({'; '.join(differences)}); {advice}")
    last_checkpoint = last_complete_checkpoint(output_dir)
    if finished or not last_checkpoint:
        return None
    if differences is None:
        raise OptionError(f"{output_dir} holds an interrupted run that recorded no {RUN_DEFINITION_FILE}, so it may be another run; {advice}")
    if differences:
        raise OptionError(f"{output_dir} holds an interrupted run of another definition ({'; '.join(differences)}); {hint + '; ' if hint else ''}{advice}")
    newest = checkpoints_newest_first(output_dir)[0]
    if str(newest) != last_checkpoint:
        print(f"{newest}: {torn_file(newest).name} missing or cut short (killed while saving); skipped")
    return last_checkpoint


def check_checkpoint_to_resume(checkpoint: Path, definition: dict, output_dir: Path) -> None:
    """`--resume_from_checkpoint` names a whole checkpoint of a run of this definition, to be resumed in its own run
    folder or in an `output_dir` that holds no run, or this raises: `PathError` (no such folder), `DataError` (a file
    cut short), `OptionError` (a run folder rather than one of its checkpoints; no `run_definition.json` beside it;
    another definition, naming what differs; an `output_dir` other than the checkpoint's own folder that holds
    checkpoints or results, which the trainer would take for this run's: it restores the best model from
    `<output_dir>/checkpoint-<best step>`; where they are an interrupted run of this definition, the message says to
    drop the option, which resumes it from its own last checkpoint)."""
    option = f"--resume_from_checkpoint {checkpoint}"
    if not checkpoint.is_dir():
        raise PathError(f"{option}: no such folder")
    if not checkpoint.name.startswith(f"{CHECKPOINT_PREFIX}-") and (checkpoints_newest_first(checkpoint) or (checkpoint / RUN_DEFINITION_FILE).is_file()):
        last = last_complete_checkpoint(checkpoint)
        raise OptionError(
            f"{option} is a run folder, not one of its {CHECKPOINT_PREFIX}-<step> folders; "
            + (f"name one (its last whole one is {last}), or give the run folder as --output_dir to resume it" if last else "it holds no whole checkpoint")
        )
    torn = torn_file(checkpoint)
    if torn is not None:
        whole = last_complete_checkpoint(checkpoint.parent)
        raise DataError(
            f"{option}: {torn} is missing or cut short (killed while saving?); "
            + (f"resume from {whole} instead" if whole else "start afresh without it")
        )
    recorded = recorded_definition(checkpoint.parent)
    if recorded is None:
        raise OptionError(
            f"{option}: no {RUN_DEFINITION_FILE} in {checkpoint.parent}, so it cannot be told to be a checkpoint "
            "of this run; resume a checkpoint this version wrote, or start afresh without it"
        )
    differences = definition_differences(recorded, definition)
    if differences:
        raise OptionError(
            f"{option} is a checkpoint of a run of another definition ({'; '.join(differences)}); "
            + (f"{hint}; " if (hint := precision_hint(recorded, definition)) else "")
            + "resume a checkpoint of this run, or start afresh without it"
        )
    if output_dir.resolve() != checkpoint.parent.resolve() and output_dir.is_dir():
        held = [path.name for path in (output_dir / RESULTS_FILE, *checkpoints_newest_first(output_dir)) if path.exists()]
        if held:
            own = recorded_definition(output_dir)
            same = own is not None and not definition_differences(own, definition) and not (output_dir / RESULTS_FILE).exists()
            raise OptionError(
                f"{option}: --output_dir {output_dir} holds "
                + (f"an interrupted run of this definition ({', '.join(held[:3])}); drop --resume_from_checkpoint to resume "
                   "it from its own last checkpoint" if same else
                   f"another run ({', '.join(held[:3])}{', ...' if len(held) > 3 else ''}), which resuming there would mix "
                   f"with this one; resume in the checkpoint's own folder ({checkpoint.parent}) or in an --output_dir without a run")
            )  # fmt: skip


class TrainingClock(TrainerCallback):
    """Wall seconds of training across resumes, for the record's cost (`train_seconds`): each checkpoint
    gets a `TRAINING_CLOCK_FILE` with the seconds spent up to it (evaluations included), and a run resumed
    from it starts counting from there, so a run spread over several sessions reports its whole time.
    A checkpoint written before the clock existed has no file: `unknown_before_step` is then its step, and
    the time counts from there only (recorded as `train_seconds_from_step`)."""

    def __init__(self, resume_from: str | Path | None = None):
        self.before, self.unknown_before_step, self.started = 0.0, None, None
        if resume_from:
            clock = Path(resume_from) / TRAINING_CLOCK_FILE
            if clock.is_file():
                self.before = float(json.loads(clock.read_text(encoding="utf-8"))["train_seconds"])
            else:
                state = Path(resume_from) / TRAINER_STATE_FILE
                self.unknown_before_step = json.loads(state.read_text(encoding="utf-8"))["global_step"] if state.is_file() else 0

    def seconds(self) -> float:
        return self.before + (time.perf_counter() - self.started if self.started is not None else 0.0)

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_save(self, args, state, control, **kwargs):
        checkpoint = Path(args.output_dir) / f"{CHECKPOINT_PREFIX}-{state.global_step}"
        if state.is_world_process_zero and checkpoint.is_dir():
            (checkpoint / TRAINING_CLOCK_FILE).write_text(json.dumps({"train_seconds": round(self.seconds(), 2)}) + "\n", encoding="utf-8")


class StopOnNonFiniteLoss(TrainerCallback):
    """Stop a diverged run: a logged training or validation loss that is NaN or infinite ends
    training at once, before that epoch is evaluated or saved, and `message` says where (epoch,
    step) and what to try; `fit_and_test` then raises it as an `OptionError`, so no `results.json`
    reports the run. The training loss is seen because `RunTrainingArguments` turns off Trainer's
    `logging_nan_inf_filter`, which would log the mean of the finite steps instead (0.0 when none is)."""

    def __init__(self):
        self.message: str | None = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key, what in (("loss", "training"), ("eval_loss", "validation")):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(value) and self.message is None:
                self.message = (
                    f"training diverged: the {what} loss is {value} at epoch {state.epoch:g}, step {state.global_step}; "
                    f"try a lower --learning_rate (now {args.learning_rate:g}) and --overwrite_output_dir"
                )
        if self.message:  # the Trainer's own loop ends the run cleanly (its progress bar closed, no checkpoint of it)
            control.should_training_stop, control.should_evaluate, control.should_save = True, False, False
