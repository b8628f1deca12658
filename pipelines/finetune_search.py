"""`finetune.py --search optuna`: `train.py --search`'s study (`pipelines.search`) for a pretrained backbone.

    python finetune.py --model minilm --dataset mr --data-dir ../shared/datasets --search optuna --n_trials 8

The same machinery as the GloVe search: `Trainer.hyperparameter_search(backend="optuna")` over a
Trainer holding the training and validation splits only, each trial a fresh copy of the backbone
(`model_init`) with the training options `FINETUNE_SPACE` draws (`pipelines.search_spaces`), its
objective the trial's best validation score of the official metric; the study in Optuna's storage
(`--storage`, default `<output_dir>/optuna-journal.log`) named by the command's setting, so processes
share it and a rerun resumes it. The setting holds the precision `--auto_mixed_precision` picks by the
machine (bf16 or fp16 on a GPU, bf16 on a CPU with native bf16, else fp32): machines of different kinds
share a study only when the precision is given (`--bf16 true`, `--fp16 true`, `--no_auto_mixed_precision`).
Then the study's best values train an ordinary `finetune` run in `<output_dir>/best-trial-<n>`, the only
time the test set is scored, its record saying under `search` which study, trial, validation score and
values made it.
"""

from __future__ import annotations

import copy
from pathlib import Path

from transformers import AutoTokenizer

from pipelines.arguments import FinetuneDataArguments, FinetuneModelArguments, FinetuneTrainingArguments, LossArguments, SearchArguments
from pipelines.finetuning import finetune, finetune_splits, input_length, load_pretrained, model_label, pad_with_eos, resolve_backbone
from pipelines.losses import loss_trainer
from pipelines.runs.record import RunRecord
from pipelines.search import (
    check_one_process, check_storage, check_study_folder, once_per_study, run_study, study_name, trial_name, trial_trainer,
)
from pipelines.search_spaces import FINETUNE_SPACE, SEARCH_SPACES
from pipelines.tokenization import tokenize_dataset


def search_finetune(
    model_args: FinetuneModelArguments,
    data_args: FinetuneDataArguments,
    training_args: FinetuneTrainingArguments,
    loss_args: LossArguments | None,
    search_args: SearchArguments,
) -> RunRecord:
    """Run `search_args.n_trials` trials of the study this command names, then fine-tune its best values
    into `<output_dir>/best-trial-<n>` (skipped when that folder holds a finished run). Returns the best
    run's record. Raises `pipelines.search_storage.optuna_storage`'s errors for a bad `--storage`, `check_study_folder`'s
    for an output folder of another study and `check_one_process`'s under several processes."""
    check_one_process(training_args)
    output_dir = Path(training_args.output_dir)
    path, load_kwargs = resolve_backbone(model_args, training_args)  # checks the output folder and a push first
    check_storage(search_args)
    splits, label_names, data_description, _ = finetune_splits(data_args, training_args.seed)
    name = study_name(
        model_args, data_args, training_args, loss_args, search_args, label=model_label(model_args.model), data_description=data_description
    )
    check_study_folder(output_dir, name)
    tokenizer = AutoTokenizer.from_pretrained(path, **load_kwargs)
    pad_with_eos(tokenizer, path)  # as each trial's model (`load_pretrained`), whose config then names the pad token
    tokenized = tokenize_dataset(splits, tokenizer, input_length(model_args, tokenizer, splits))

    def model_init(trial=None):  # a fresh backbone and head for every trial, the head drawn with the run's seed
        return load_pretrained(path, label_names, training_args.seed, load_kwargs)[0]

    trainer_class, _ = loss_trainer(loss_args, splits["train"]["label"], label_names)
    trainer = trial_trainer(trainer_class, model_init, training_args, data_args, name, tokenized, tokenizer, label_names)

    def hp_space(trial) -> dict:
        return {**SEARCH_SPACES[FINETUNE_SPACE](trial), "run_name": f"{name}/{trial_name(trial)}"}

    best = run_study(trainer, hp_space, search_args, output_dir, name)

    def train(best_dir: str) -> RunRecord:
        best_args = copy.copy(training_args)
        best_args.output_dir = best_dir
        for key, value in best.params.items():
            setattr(best_args, key, value)
        return finetune(model_args, data_args, best_args, loss_args=loss_args, record_extra={"search": best.record()})

    return once_per_study(output_dir, best, train)
