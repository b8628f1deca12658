"""SetFit over a sentence encoder (`finetune.py --setfit`): the same data, splits, metrics and
records as the Trainer flow, with the `setfit` library's two phases instead of a fine-tuned head.

SetFit (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts") first fine-tunes the
sentence encoder contrastively on pairs of training sentences (same class: similar; other class:
dissimilar; `setfit.Trainer`'s `CosineSimilarityLoss`), then fits a logistic-regression head on the
encoder's embeddings of every training sentence. Its cost is set by the number of contrastive
steps (one pass over the pairs it draws, `2 × --setfit_iterations` a training sentence, and at most
`--setfit_max_steps` batches of `--setfit_batch_size` pairs; `contrastive_steps`), not by the size
of a large training set, which is what makes it cheap on a CPU and the few-shot method of the learning curves.

The run folder holds the SetFit model (`SetFitModel.save_pretrained`: the encoder and
`model_head.pkl`), `predictions.parquet`, `validation_predictions.parquet` (log probabilities: the
head is not scaled, no temperature is fitted) and `results.json` with the same `RunRecord` as every run,
so the report, the records and `bench/speeds` read it as they read the others. It is not a
`PreTrainedModel`: load it with `setfit.SetFitModel.from_pretrained(folder)`, not `pipeline()`.
A killed run starts again from the beginning (the library keeps no resumable checkpoint).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from pipelines.arguments import SetFitArguments
from pipelines.metrics import per_class_scores, score
from pipelines.calibration import logits_from_probabilities
from pipelines.run_files import (
    PREDICTIONS_FILE, RESULTS_FILE, VALIDATION_PREDICTIONS_FILE, RunRecord, library_versions, write_predictions, write_results,
    write_validation_predictions,
)


def contrastive_steps(train_size: int, setfit_args: SetFitArguments) -> int:
    """setfit's `max_steps` for `train_size` training sentences: -1 (one epoch: one pass over the
    `2 × setfit_iterations × train_size` pairs setfit's `ContrastiveDataset` draws) when that pass
    fits in `setfit_max_steps` batches, else `setfit_max_steps`. Passing `setfit_max_steps` alone would
    not cap: with setfit 1.x over sentence-transformers' trainer, `max_steps` overrides the epochs and
    cycles over a small pair set (16 sentences a class, 2 iterations: 100 pairs seen 32 times in 200
    steps), so a few-shot cell would cost as much as a full-data one."""
    pairs = 2 * setfit_args.setfit_iterations * train_size
    return -1 if pairs <= setfit_args.setfit_max_steps * setfit_args.setfit_batch_size else setfit_args.setfit_max_steps


def train_setfit(path: str, splits, label_names: list[str], setfit_args: SetFitArguments, seed: int):
    """The trained `SetFitModel` and the training seconds. `splits` has `text` and `label` columns."""
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(path, labels=label_names)
    scratch = tempfile.TemporaryDirectory(prefix="setfit-")  # the library wants a folder it never fills with save_strategy "no"
    args = TrainingArguments(
        output_dir=scratch.name, batch_size=setfit_args.setfit_batch_size,
        num_epochs=1, max_steps=contrastive_steps(len(splits["train"]), setfit_args), num_iterations=setfit_args.setfit_iterations,
        body_learning_rate=setfit_args.setfit_learning_rate, seed=seed, report_to="none", save_strategy="no",
        show_progress_bar=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=splits["train"].select_columns(["text", "label"]))
    started = time.perf_counter()
    with scratch:
        trainer.train()
    return model, time.perf_counter() - started


def setfit_record(model, splits, label_names: list[str], run_info: dict, seed: int) -> tuple[RunRecord, tuple, tuple]:
    """Validation and test scores of a trained SetFit model as a `RunRecord`, the test predictions
    `(indices, gold labels, probabilities (n, num_labels))` and the validation predictions `(gold labels,
    log probabilities (n_val, num_labels))`: the logistic head's logits up to a per-row constant, saved so
    the run can be calibrated or given conformal sets later, as every run's are."""
    scores = {}
    for split in ("validation", "test"):
        probabilities = np.asarray(model.predict_proba(list(splits[split]["text"]), show_progress_bar=True), dtype=np.float32)
        gold = np.asarray(splits[split]["label"])
        scores[split] = (probabilities, gold, score(probabilities.argmax(axis=-1), gold, label_names))
    probabilities, gold, test = scores["test"]
    predicted = probabilities.argmax(axis=-1)
    confusion = np.zeros((len(label_names), len(label_names)), dtype=int)
    np.add.at(confusion, (gold, predicted), 1)
    body = model.model_body
    record = RunRecord.new(
        run_info | {"validation": scores["validation"][2]}, model_type="setfit", label_names=label_names,
        test=test, predictions_file=PREDICTIONS_FILE, validation_predictions_file=VALIDATION_PREDICTIONS_FILE,
        epochs=1.0, confusion_matrix=confusion.tolist(),
        per_class=per_class_scores(gold, predicted, label_names), seed=seed, versions=library_versions(),
        parameters={"trainable": sum(p.numel() for p in body.parameters()), "total": sum(p.numel() for p in body.parameters())},
    )
    indices = splits["test"]["index"] if "index" in splits["test"].column_names else range(len(gold))
    validation_probabilities, validation_gold, _ = scores["validation"]
    return record, (indices, gold, probabilities), (validation_gold, logits_from_probabilities(validation_probabilities))


def save_setfit_run(model, record: RunRecord, test_predictions: tuple, validation_predictions: tuple, output_dir: str) -> None:
    """The model, the test and validation predictions, then `results.json` (last: a folder holding it is a finished run)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RESULTS_FILE).unlink(missing_ok=True)
    model.save_pretrained(str(folder))
    write_predictions(folder / PREDICTIONS_FILE, *test_predictions)
    write_validation_predictions(folder / VALIDATION_PREDICTIONS_FILE, *validation_predictions)
    write_results(folder, record)
