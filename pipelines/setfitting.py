"""SetFit over a sentence encoder (`finetune.py --setfit`): the same data, splits, metrics and
records as the Trainer flow, with the `setfit` library's two phases instead of a fine-tuned head.

SetFit (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts") first fine-tunes the
sentence encoder contrastively on pairs of training sentences (same class: similar; other class:
dissimilar; `setfit.Trainer`'s `CosineSimilarityLoss`), then fits a logistic-regression head on the
encoder's embeddings of every training sentence. Its cost is set by the number of contrastive
steps (one pass over the pairs it draws, `2 × --setfit_iterations` a training sentence, and at most
`--setfit_max_steps` batches of `--setfit_batch_size` pairs; `contrastive_steps`), not by the size
of a large training set, which is what makes it cheap on a CPU and the few-shot method of the learning curves.
The pairs are drawn from at most `--setfit_pair_pool` training sentences (`contrastive_pool`: setfit lists
every pair of its sentences first, more memory than this machine has for SemEval's training split).

Temperature scaling (Guo et al. 2017) is the same step as the Trainer flow's
(`pipelines.calibration.calibrate_after_training`, on by default, `--temperature_scaling false`
turns it off): one T fitted on the validation sentences' head logits, and `results.json` records T
and the test ECE before and after under `calibration`. It is exact for the logistic head: its
`predict_proba` is sigmoid (binary) or softmax (multiclass) of its linear `decision_function`
(`pipelines.inference.head_logits`), so `coef_` and `intercept_` divided by T give exactly softmax(logits / T), argmax
unchanged; the head records `temperature_scaling = {"temperature": T, ...}` (the fitted head is the
saved one times T) and the abstention threshold (`abstain_threshold`) as attributes, pickled with it.

The run folder holds the SetFit model (`SetFitModel.save_pretrained`: the encoder and
`model_head.pkl`, scaled), `predictions.parquet` (the scaled probabilities),
`validation_predictions.parquet` (the head's logits before scaling; log probabilities in runs made
before the step, which `python -m pipelines.calibrate` scales from them) and `results.json` with the
same `RunRecord` as every run, so the report, the records and `bench/speeds` read it as they read
the others. It is not a `PreTrainedModel`: load it with `setfit.SetFitModel.from_pretrained(folder)`,
not `pipeline()`. A killed run starts again from the beginning (the library keeps no resumable checkpoint).
The output folder is held and checked as the Trainer flow's is (`pipelines.fitting.prepare_output_dir`, with the
definition `setfit_definition`): a folder holding another run, SetFit or not, is not replaced without
`--overwrite_output_dir`; a finished SetFit run of the same definition starts over.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from transformers.trainer_utils import PredictionOutput

from pipelines.arguments import SetFitArguments
from pipelines.calibration import calibrate_after_training, forget_calibration, scaled_probabilities
from pipelines.data import column
from pipelines.inference import SetFitClassifier
from pipelines.metrics import per_class_scores, score
from pipelines.runs.io import write_predictions
from pipelines.runs.layout import PREDICTIONS_FILE, RESULTS_FILE
from pipelines.runs.record import RunRecord, library_versions, process_revision, write_results
from pipelines.train_sizes import per_class_rows


ENCODE_BATCH_SIZE = 32  # SetFitModel.encode's default, which the committed runs' predictions were made with


def setfit_definition(run_info: dict, splits, seed: int) -> dict:
    """What makes a SetFit run this run, in the Trainer flow's `run_definition.json` shape: its description (model,
    data, the SetFit options), its seed, and the SHA-256 of each split's texts and labels."""
    digests = {}
    for name in splits:
        texts, labels = list(splits[name]["text"]), [int(label) for label in splits[name]["label"]]
        digests[name] = hashlib.sha256(json.dumps([texts, labels], ensure_ascii=False).encode()).hexdigest()[:16]
    return {"run": run_info, "training": {"seed": seed}, "data_sha256": digests}


def contrastive_steps(train_size: int, setfit_args: SetFitArguments) -> int:
    """setfit's `max_steps` for `train_size` training sentences: -1 (one epoch: one pass over the
    `2 × setfit_iterations × train_size` pairs setfit's `ContrastiveDataset` draws) when that pass
    fits in `setfit_max_steps` batches, else `setfit_max_steps`. Passing `setfit_max_steps` alone would
    not cap: with setfit 1.x over sentence-transformers' trainer, `max_steps` overrides the epochs and
    cycles over a small pair set (16 sentences a class, 2 iterations: 100 pairs seen 32 times in 200
    steps), so a few-shot cell would cost as much as a full-data one."""
    pairs = 2 * setfit_args.setfit_iterations * train_size
    return -1 if pairs <= setfit_args.setfit_max_steps * setfit_args.setfit_batch_size else setfit_args.setfit_max_steps


def contrastive_pool(train, pool: int, seed: int):
    """The training sentences setfit draws its contrastive pairs from: `train` itself when it has at most
    `pool` rows, else a stratified sample of about `pool` rows (each class in its share of `train`, at
    least one row; `train_sizes.per_class_rows`, drawn with `seed`), in the split's order.

    Why a pool: setfit 1.x's `ContrastiveDataset` lists every pair of the n sentences it is given before it
    draws any (`setfit.sampler.shuffle_combinations`: `np.triu_indices(n)` and a permutation of its
    n(n+1)/2 rows, 24 bytes a pair), so SemEval's 39,656 training tweets ask for ~19 GB before the first
    step (killed here by the kernel's OOM killer on 24 GB; setfit#472), while the 200 steps of 16 pairs the
    study trains (`contrastive_steps`) touch at most 6,400 sentences. 10,000 (the default) leaves MR's 8,000
    training sentences whole; the sampler alone over 10,000 sentences peaked at 1.5 GB more resident memory
    and took 44 s here (`ContrastiveDataset(..., num_iterations=2, max_pairs=3200)`, one contended core).
    """
    if len(train) <= pool:
        return train
    counts = np.bincount(np.asarray(column(train, "label")))
    shares = {label: max(1, round(pool * count / len(train))) for label, count in enumerate(counts) if count}
    return train.select(per_class_rows(train, shares, seed))


def contrastive_autocast(bf16: bool):
    """The context SetFit's contrastive phase trains in: CPU bf16 autocast when `bf16`, else none.

    One context spans the whole phase (setfit's `Trainer.train_embeddings` is one call), so it must not
    keep autocast's weight cast cache (`cache_enabled=False`): with the cache (PyTorch's default), the
    bf16 copy of each weight made at the first forward is reused for every later forward in the region,
    though the optimizer updates the fp32 weight after each step, so the forward passes never see
    training and the updates are taken blind. PyTorch empties the cache only on leaving the outermost
    autocast region (torch.amp docs, "autocast"); the HF Trainer enters one per forward and never meets it.
    `bench/autocast_cache.md` (MPNet, four AdamW steps on one batch of 16 MR pairs): the loss fell 0.317 -> 0.108
    in fp32 and without the cache, and stayed at 0.317 -> 0.289 with it. Round 16's bf16 SetFit runs trained with
    the cache: MR at 16 sentences a class, seed 0, 0.705 against 0.822 in fp32; without it 0.823.
    """
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False)


def train_setfit(path: str, splits, label_names: list[str], setfit_args: SetFitArguments, seed: int, bf16: bool = False):
    """The trained `SetFitModel` and the training seconds. `splits` has `text` and `label` columns. The
    contrastive pairs are drawn from `contrastive_pool` (at most `setfit_pair_pool` training sentences), the
    head is fitted on the whole training split.

    `bf16`: the contrastive steps run under CPU bf16 autocast (`contrastive_autocast`; finetune.py sets it
    where the CPU trains and has native bf16, `training_arguments.native_cpu_bf16`). setfit's own `use_amp`
    means fp16, which a CPU does not speed up. The head's fit and every evaluation stay fp32.
    """
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(path, labels=label_names)
    train = splits["train"].select_columns(["text", "label"])
    pool = contrastive_pool(train, setfit_args.setfit_pair_pool, seed)
    scratch = tempfile.TemporaryDirectory(prefix="setfit-")  # the library wants a folder it never fills with save_strategy "no"
    args = TrainingArguments(
        output_dir=scratch.name, batch_size=setfit_args.setfit_batch_size,
        num_epochs=1, max_steps=contrastive_steps(len(pool), setfit_args), num_iterations=setfit_args.setfit_iterations,
        body_learning_rate=setfit_args.setfit_learning_rate, seed=seed, report_to="none", save_strategy="no",
        show_progress_bar=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train)
    started = time.perf_counter()
    with scratch:  # setfit's Trainer.train in its two phases, so autocast covers the contrastive one only
        with contrastive_autocast(bf16):
            trainer.train_embeddings(*trainer.dataset_to_parameters(pool), args=args)
        trainer.train_classifier(*trainer.dataset_to_parameters(train), args=args)
    return model, time.perf_counter() - started


def setfit_record(model, splits, label_names: list[str], run_info: dict, seed: int) -> tuple[RunRecord, tuple, PredictionOutput]:
    """Validation and test scores of a trained SetFit model as a `RunRecord`, the test predictions
    `(indices, gold labels, probabilities (n, num_labels))` and the validation split's head logits
    (`pipelines.inference.head_logits`, (n_val, num_labels)) with its gold labels, as `Trainer.predict` gives them, for
    temperature scaling (`calibrate_after_training`). Each split is encoded once, through the one
    classifier every command uses (`pipelines.inference.SetFitClassifier`)."""
    classifier = SetFitClassifier(model, label_names, batch_size=ENCODE_BATCH_SIZE, progress=True)
    scores = {}
    for split in ("validation", "test"):
        logits = classifier.logits(list(splits[split]["text"]))  # (n, num_labels): the head's decision function
        gold = np.asarray(column(splits[split], "label"))
        scores[split] = (logits, gold, score(logits.argmax(axis=-1), gold, label_names))
    logits, gold, test = scores["test"]
    predicted = logits.argmax(axis=-1)
    confusion = np.zeros((len(label_names), len(label_names)), dtype=int)
    np.add.at(confusion, (gold, predicted), 1)
    body = model.model_body
    record = RunRecord.new(
        run_info | {"validation": scores["validation"][2]}, model_type="setfit", label_names=label_names,
        test=test, predictions_file=PREDICTIONS_FILE, epochs=1.0, confusion_matrix=confusion.tolist(),
        per_class=per_class_scores(gold, predicted, label_names), seed=seed, versions=library_versions(), code=process_revision(),
        parameters={"trainable": sum(p.numel() for p in body.parameters()), "total": sum(p.numel() for p in body.parameters())},
    )
    indices = splits["test"]["index"] if "index" in splits["test"].column_names else range(len(gold))
    validation_logits, validation_gold, _ = scores["validation"]
    validation = PredictionOutput(predictions=validation_logits, label_ids=validation_gold, metrics=None)
    return record, (indices, gold, scaled_probabilities(logits, 1.0)), validation


def save_setfit_run(
    model, record: RunRecord, test_predictions: tuple, validation: PredictionOutput, output_dir: str, temperature_scaling: bool
) -> None:
    """Temperature scaling of the head as the Trainer flow does it (`calibrate_after_training`: the
    validation logits saved, T fitted on them when `temperature_scaling`), then the model, the
    (scaled) test predictions, and `results.json` last: a folder holding it is a finished run.

    A head loaded from a calibrated SetFit run (`--model RUN_DIR`) is fitted again by setfit (`model_head.fit`), which
    keeps the old run's temperature and threshold attributes: they are dropped first (`forget_calibration`), so the
    saved head says only what this run fitted."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RESULTS_FILE).unlink(missing_ok=True)
    forget_calibration(model.model_head, record.get("model_path") or record.model, head_kept=False)
    test_predictions = calibrate_after_training(model.model_head, validation, record, test_predictions, temperature_scaling, folder)
    model.save_pretrained(str(folder))
    write_predictions(folder / PREDICTIONS_FILE, *test_predictions)
    write_results(folder, record)
