"""`train.py --search optuna`: a hyperparameter search on validation data, then one ordinary run.

    python train.py --model transformer --dataset mr --data-dir ../shared/datasets --search optuna --n_trials 30
    python train.py ... --search optuna --storage postgresql://host/db   # the same command on N machines: one study (of one precision, below)

The search is `Trainer.hyperparameter_search(backend="optuna")` over a Trainer that holds the
training and validation splits only, so no trial ever sees the test set. Each trial trains a
fresh model (`model_init`) with the values the family's space (`pipelines.search_spaces`) draws;
its objective is the best validation score of the official metric in that trial, the checkpoint
the run restores. Optuna's default sampler (TPE, unseeded, so processes sharing a study do not
propose the same trials) drives it. No pruner by default: early stopping already ends a trial that stops
improving, and Optuna's median pruner (`--pruner median`), which stops a trial below the median of the
completed trials' scores at the same evaluation, stopped 24 of the 28 trials of one round of question 5's
first study, 9 after one epoch (all with learning rates below 6e-4), where an earlier trial that finished
second-best had scored 0.6475 (results/search/README.md).

The study lives in Optuna's storage: by default a journal file, `<output_dir>/optuna-journal.log`
(`JournalStorage`, file-locked, so processes on one machine or on a shared disk append to it
together), or any database URL (`--storage`). Its name comes from the command's setting
(`study_name`), so every process that runs the same command joins the same study, and running
it again after an interruption resumes it: `--n_trials` is what each process adds. The setting
holds the content of your own data files (an edited CSV starts another study) and the precision
(`--fp16`, `--bf16`), which `finetune.py` picks by the machine (`--auto_mixed_precision`: bf16 or
fp16 on a GPU, bf16 on a CPU with native bf16, else fp32): there, machines of different kinds join
different studies unless the precision is given (`--bf16 true`, `--fp16 true` or
`--no_auto_mixed_precision`). A search prints its study's name and precision as it starts.

When its trials are done, a process trains the study's best configuration with the plain flow
(`train_glove`) into `<output_dir>/best-trial-<n>`, the only time the test set is scored: an
ordinary run folder whose `results.json` says, under `search`, which study, trial, validation
score and values made it, and of how many complete trials it was the best (`StudyBest`; a process that
ends later, after more trials, may choose another best, and names the earlier best run superseded). The
run starts from the random state its trial trained from (`training.build_glove_model` sets the seed again
after drawing the weights), so its best validation score is the trial's. Trials keep their checkpoints in `<output_dir>/trials/<study>/trial-<n>`; with `--report_to`,
each trial is one tracked run, `<study>/trial-<n>` (TensorBoard: `<output_dir>/trials/<study>/runs/*/trial-<n>`).
Every study numbers its trials from 0, so an output folder holds one study: a best run of another
study there is refused before any training (`check_study_folder`).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import functools
import hashlib
import json
import signal
import threading
from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path

from transformers import DataCollatorWithPadding, EarlyStoppingCallback

import models
from pipelines import hub
from pipelines.arguments import DataArguments, DistillationArguments, GloveModelArguments, GloveTrainingArguments, SearchArguments
from pipelines.cli import pairs_text
from pipelines.data.files import file_digests
from pipelines.distillation import check_teacher, prepare_training
from pipelines.errors import OptionError
from pipelines.fitting import DEFINING_TRAINING_OPTIONS, LATER_DEFINING_FIELDS
from pipelines.metrics import compute_metrics_fn
from pipelines.runs.io import check_writable_dir
from pipelines.runs.layout import RESULTS_FILE
from pipelines.runs.record import RunRecord
from pipelines.search_spaces import SEARCH_SPACES
from pipelines.search_storage import optuna_storage, split_params
from pipelines.selection import best_metric_fields
from pipelines.splits import split_validation
from pipelines.training import PreparedGloveData, build_glove_model, override_pairs, prepare_glove_data, train_glove

TRIALS_FOLDER = "trials"


def study_name(
    model_args, data_args: DataArguments, training_args, loss_args, search_args: SearchArguments, label: str | None = None,
    data_description: dict | None = None,
) -> str:
    """`<dataset>-<model>-<hash>`: the hash (SHA-256, 12 hex digits) of every option that defines the
    runs (model, data, seed and training options, loss) and of the pruner, which decides which trials
    finish; not where they are written, the storage nor the trial count. `label` names the model instead
    of `--model` (finetune.py: a folder's name, not its path). The median pruner adds nothing to the hash:
    it was the only one when question 5's first study was named (results/search/). `data_description`
    (`load_train_test`'s): the SHA-256 of the user's own data files joins the hash, so an edited file starts
    another study; a benchmark's or a Hub dataset's adds nothing (their studies keep their names)."""
    digests = file_digests(data_description)
    setting = {
        "model": asdict(model_args),
        "data": asdict(data_args),
        "training": hashed_training_options(training_args),
        "loss": {item.name: getattr(loss_args, item.name) for item in fields(loss_args)} if loss_args else None,
        **({} if search_args.pruner == "median" else {"pruner": search_args.pruner}),
        **({"data_sha256": digests} if digests else {}),
    }
    digest = hashlib.sha256(json.dumps(setting, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{data_args.dataset_label}-{label or model_args.model}-{digest}"


def hashed_training_options(training_args) -> dict:
    """The defining training options a study name hashes: those of `DEFINING_TRAINING_OPTIONS`, less the ones added
    to it in round 25 (`LATER_DEFINING_FIELDS`) while they keep their defaults, so a study named before then (the
    committed question-5 journals) keeps its name, and one that changes them gets its own."""
    defaults = {
        item.name: item.default_factory() if item.default_factory is not MISSING else item.default for item in fields(training_args)
    }
    return {
        name: getattr(training_args, name)
        for name in DEFINING_TRAINING_OPTIONS
        if hasattr(training_args, name) and not (name in LATER_DEFINING_FIELDS and getattr(training_args, name) == defaults.get(name))
    }


def check_one_process(training_args) -> None:
    """`OptionError` when the command runs as one of several processes (`accelerate launch --num_processes N`,
    torchrun): a trial trains in one process, and processes share a study by running the same command each on its
    own (the module's docstring). Under DDP `Trainer.hyperparameter_search` hands no best trial to the processes
    other than the first, which then fail after every trial while the first waits for them in its best run."""
    if training_args.world_size > 1:
        raise OptionError(
            f"--search optuna runs in one process, not {training_args.world_size} (accelerate launch --num_processes, "
            "torchrun): start the same command in N processes or on N machines instead, which share its study"
        )


def check_storage(search_args: SearchArguments) -> None:
    """A given `--storage` opened once before the data is read, so a bad one is refused in seconds
    (`optuna_storage`'s errors); the default journal is made with the first trial, in the output folder."""
    if search_args.storage:
        optuna_storage(search_args.storage)


def optuna_pruner(search_args: SearchArguments):
    """`--pruner`: Optuna's `NopPruner` (none) or `MedianPruner` with its defaults (5 startup trials, no warm-up)."""
    import optuna

    return optuna.pruners.MedianPruner() if search_args.pruner == "median" else optuna.pruners.NopPruner()


def trial_name(trial) -> str:
    """`trial-<n>`: the trial's folder under `<output_dir>/trials` and its run for `--report_to` trackers."""
    return f"trial-{trial.number}"


def with_overrides(overrides: str | None, values: dict) -> str:
    """`--config_overrides` with `values` set (they win over the same fields given by hand)."""
    return pairs_text({**override_pairs(overrides), **values})


def search_trainer(model_args, data_args, training_args, loss_args, prepared: PreparedGloveData, name: str):
    """A Trainer over train and validation only, and its `hp_space`. Each trial's model comes from the
    family's space through `model_init`: Optuna hands back the value already drawn for a name, so the
    config fields drawn there and the training fields drawn by `hp_space` are one trial's draw."""
    tokenized, trainer_class, _ = prepare_training(
        loss_args, prepared, functools.partial(split_validation, fraction=data_args.validation_fraction, seed=training_args.seed),
        progress=not training_args.disable_tqdm,
    )
    space = SEARCH_SPACES[models.model_type_for(model_args.model)]
    width = prepared.glove.dim

    def model_init(trial=None):
        config_values = {} if trial is None else split_params(space(trial, width))[0]
        overrides = with_overrides(model_args.config_overrides, config_values) or None
        return build_glove_model(
            model_args.model, prepared.glove, prepared.vocabulary, prepared.tokenizer, prepared.label_names,
            seed=training_args.seed, train_embeddings=model_args.train_embeddings, config_overrides=overrides,
        )

    trainer = trial_trainer(trainer_class, model_init, training_args, data_args, name, tokenized, prepared.tokenizer, prepared.label_names)

    def hp_space(trial) -> dict:  # what the Trainer sets on its arguments (model_init draws the rest), and the tracked run's name
        drawn = split_params(space(trial, width))[1]
        return {**drawn, "run_name": f"{name}/{trial_name(trial)}"}

    return trainer, hp_space


def trial_trainer(trainer_class, model_init, training_args, data_args, name: str, tokenized, tokenizer, label_names: list[str]):
    """The `Trainer` a study's trials run in, for both flows (`search_glove`, `finetune_search.search_finetune`): each
    trial's model from `model_init`, trained on `tokenized["train"]` and scored on `tokenized["validation"]` only (the
    test split never enters a trial), early stopping on the checkpoint metric as in a run, never pushing, its
    checkpoints in `<output_dir>/trials/<study name>/trial-<n>` (a study of its own: two studies in one output folder
    number their trials alike)."""
    trial_args = hub.without_trainer_push(training_args)  # a copy
    trial_args.output_dir = str(Path(training_args.output_dir) / TRIALS_FOLDER / name)
    trial_args = replace(trial_args, **best_metric_fields(trial_args.metric_for_best_model, label_names, data_args.dataset_label))
    return trainer_class(
        model_init=model_init,
        args=trial_args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics_fn(label_names),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=data_args.early_stopping_patience)],
    )


def search_glove(
    model_args: GloveModelArguments,
    data_args: DataArguments,
    training_args: GloveTrainingArguments,
    loss_args: DistillationArguments | None,
    search_args: SearchArguments,
) -> RunRecord:
    """Run `search_args.n_trials` trials of the study this command names, then train its best
    configuration into `<output_dir>/best-trial-<n>` (skipped when that folder holds a finished run).
    Returns the best run's record. Raises what `train_glove` raises for bad options, `optuna_storage`'s errors
    for a bad `--storage`, `check_study_folder`'s for an output folder of another study and `check_one_process`'s
    under several processes."""
    check_one_process(training_args)
    output_dir = Path(training_args.output_dir)
    check_writable_dir(output_dir)
    # The best run pushes: refused now, not after the trials.
    hub.check_push(training_args.push_to_hub, training_args.output_dir, training_args.hub_model_id, training_args.hub_token)
    check_teacher(loss_args)
    check_storage(search_args)
    prepared = prepare_glove_data(model_args, data_args, training_args.seed)
    name = study_name(model_args, data_args, training_args, loss_args, search_args, data_description=prepared.description)
    check_study_folder(output_dir, name)
    trainer, hp_space = search_trainer(model_args, data_args, training_args, loss_args, prepared, name)
    best = run_study(trainer, hp_space, search_args, output_dir, name)
    return train_best(model_args, data_args, training_args, loss_args, prepared, best)


def run_study(trainer, hp_space, search_args: SearchArguments, output_dir: Path, name: str):
    """`search_args.n_trials` more trials of study `name` through `trainer.hyperparameter_search`; the best
    trial so far (`BestRun`). A trial's objective is its best validation score of `metric_for_best_model`."""
    key = trainer.args.metric_for_best_model
    key = key if key.startswith("eval_") else f"eval_{key}"

    def best_validation(metrics: dict) -> float:  # this trial's best epoch so far: the checkpoint a run restores
        scores = [entry[key] for entry in trainer.state.log_history if key in entry] or [metrics[key]]
        return max(scores) if trainer.args.greater_is_better else min(scores)

    import optuna

    precision = "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32"  # part of the name: another precision, another study
    print(f"study {name} ({precision}): {search_args.n_trials} trial(s) more")
    storage = optuna_storage(search_args.storage, output_dir)
    with terminate_as_interrupt():
        found = trainer.hyperparameter_search(
            hp_space=hp_space, compute_objective=best_validation, n_trials=search_args.n_trials, hp_name=trial_name,
            direction="maximize" if trainer.args.greater_is_better else "minimize", backend="optuna",
            storage=storage, study_name=name, load_if_exists=True, pruner=optuna_pruner(search_args),
        )
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = StudyBest(name, int(found.run_id), found.objective, found.hyperparameters, len(trials))
    print(f"study {name}: best trial {best.trial} of {best.complete_trials} complete, validation {key} {best.validation:.4f}, {best.params}")
    return best


@dataclass(frozen=True)
class StudyBest:
    """A study's best trial when a process chose it: the `search` entry of the run that repeats it (`record`).
    `complete_trials` is how many of the study's trials were complete then: processes sharing a study that end at
    different times may each choose (and train, scoring the test set) another best, the later from more trials."""

    study: str
    trial: int
    validation: float  # the trial's objective: its best validation score of the checkpoint metric
    params: dict
    complete_trials: int

    def record(self) -> dict:
        """The `search` entry of the best run's `results.json`: which study, trial, validation score and values made it."""
        return {"study": self.study, "trial": self.trial, "validation": self.validation, "params": self.params, "complete_trials": self.complete_trials}


@contextlib.contextmanager
def terminate_as_interrupt():
    """SIGTERM raises `KeyboardInterrupt` inside the block (main thread only), as Ctrl-C does, so a search
    stopped by `kill`, a Slurm time limit or a preemption has Optuna record its trial under way as failed
    (`optuna.study._optimize`: a trial that raises `KeyboardInterrupt` is told `TrialState.FAIL`, then the
    interrupt goes on). Without it the process dies at once and the trial stays `running` in the storage for
    good: a journal has no heartbeat to find it stale. Background jobs of a non-interactive shell ignore SIGINT,
    so `kill -INT` cannot stop them; `kill` can. The previous handler is restored on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def train_best(model_args, data_args, training_args, loss_args, prepared, best: StudyBest) -> RunRecord:
    """The best trial's values as an ordinary run (`train_glove`), with a `search` entry in its record."""
    def train(output_dir: str) -> RunRecord:
        best_args = copy.copy(training_args)
        best_args.output_dir = output_dir
        return train_trial(model_args, data_args, best_args, loss_args, prepared, best)

    return once_per_study(Path(training_args.output_dir), best, train)


def check_study_folder(output_dir: Path, name: str) -> None:
    """`OptionError` when `output_dir` holds the best run of a study other than `name` (another command: another
    `--pruner`, learning rate or data), before any training: every study numbers its trials from 0, so two in one
    folder would share `best-trial-<n>` (their trials have a folder each, `trials/<study>`)."""
    for results in sorted(output_dir.glob(f"best-trial-*/{RESULTS_FILE}")):
        check_best_run(results.parent, name)


def check_best_run(best_dir: Path, name: str, trial: int | None = None) -> RunRecord:
    """The record of the finished run in `best_dir`; `OptionError` naming the folder and its study unless its
    `search` entry names study `name` (and `trial`, when given)."""
    record = RunRecord.read(best_dir)
    made_by = record.get("search") or {}
    if made_by.get("study") != name or (trial is not None and made_by.get("trial") != trial):
        raise OptionError(
            f"{best_dir} holds trial {made_by.get('trial')} of study {made_by.get('study')}, not of this command's study {name} "
            "(another option, e.g. --pruner or --learning_rate, or other data): give another --output_dir"
        )
    return record


def once_per_study(output_dir: Path, best: StudyBest, train) -> RunRecord:
    """`train(<output_dir>/best-trial-<n>)` unless that folder holds a finished run, whose record is
    returned: processes of one study that end with the same best trial train it once (a file lock).
    `OptionError` (`check_best_run`) when that run is not trial n of `best.study`. A best run of an earlier
    best trial of the study (another process ended sooner, after fewer trials) is named as superseded."""
    best_dir = output_dir / f"best-trial-{best.trial}"
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / f".best-trial-{best.trial}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (best_dir / RESULTS_FILE).is_file():
            record = check_best_run(best_dir, best.study, best.trial)
            print(f"{best_dir} already holds the best trial's run")
            return record
        earlier = [folder for folder in sorted(output_dir.glob("best-trial-*")) if folder != best_dir and (folder / RESULTS_FILE).is_file()]
        for folder in earlier:  # of this study: `check_study_folder` refused any other
            print(f"{folder} is superseded: trial {best.trial} is the study's best of {best.complete_trials} complete trials; read {best_dir}")
        return train(str(best_dir))


def train_trial(model_args, data_args, best_args, loss_args, prepared, best: StudyBest) -> RunRecord:
    """`train_glove` with a trial's values: config fields through `--config_overrides`, the rest on `best_args`."""
    config_values, training_values = split_params(best.params)
    for key, value in training_values.items():
        setattr(best_args, key, value)
    best_model_args = copy.copy(model_args)
    best_model_args.config_overrides = with_overrides(model_args.config_overrides, config_values) or None
    return train_glove(best_model_args, data_args, best_args, prepared=prepared, loss_args=loss_args, record_extra={"search": best.record()})
