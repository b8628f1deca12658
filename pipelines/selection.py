"""Which checkpoint to restore: by validation loss, or by the benchmark's official metric.

`--metric_for_best_model official` resolves to the official metric of the labels
(the benchmark's entry, `pipelines.benchmarks.official_metric_for`). To measure what the choice is worth, `TestScoreCallback`
scores the test set after every validation pass and writes it into the log history (never
used for any decision), so one run tells the test score of the checkpoint each criterion picks.
It leaves the trained model as it would be without it: see `TestScoreCallback`.
"""

from __future__ import annotations

import torch
from transformers import TrainerCallback

from pipelines.errors import OptionError
from pipelines.benchmarks import official_metric_for
from pipelines.metrics import METRIC_KEYS

OFFICIAL = "official"


def best_metric_fields(name: str | None, label_names: list[str], dataset: str | None = None) -> dict:
    """The `TrainingArguments` fields that choose the checkpoint, for `--metric_for_best_model name`:
    `metric_for_best_model` with `official` turned into the metric of these labels, and
    `greater_is_better` (true for every metric but loss); empty when `name` is None. The flows apply
    them once the labels are known (for your own files, only once they are read), with
    `dataclasses.replace(training_args, **fields)`: a new object, the one given is left as it is.

    Raises `OptionError` for a name the evaluation does not report (the `Trainer` would fail on
    it only after the first epoch).
    """
    if name == OFFICIAL:
        name = official_metric_for(dataset, label_names)
    if name is None:
        return {}
    allowed = ["loss", *METRIC_KEYS, "f1_pn"]  # f1_pn: reported for negative/neutral/positive data
    if name.removeprefix("eval_") not in allowed:
        raise OptionError(f"--metric_for_best_model {name!r} is not reported; choose one of: {OFFICIAL}, {', '.join(allowed)}")
    return {"metric_for_best_model": name, "greater_is_better": name.removeprefix("eval_") != "loss"}


class TestScoreCallback(TrainerCallback):
    """Scores `test_dataset` after each validation pass; `trainer` is set once the Trainer exists.

    The pass runs on a fork of the global torch RNG (CPU and CUDA), restored after: every
    `DataLoader` iterator draws its base seed from that RNG, which also orders the next epoch's
    length-grouped batches and draws dropout, so without the fork this logging changed the model
    (MR meanmax, seed 0: 0.6949 after 17 epochs instead of 0.6692 after 9).
    """

    def __init__(self, test_dataset):
        self.test_dataset = test_dataset
        self.trainer = None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.trainer is None or "eval_loss" not in (metrics or {}):
            return
        with torch.random.fork_rng():
            scores = self.trainer.predict(self.test_dataset, metric_key_prefix="test").metrics
        # Logged beside the validation entry, so a resumed run keeps them with the trainer state.
        state.log_history.append(
            {"epoch": state.epoch, "step": state.global_step, **{k: v for k, v in scores.items() if k.startswith("test_")}}
        )


def selection_summary(log_history: list[dict], label_names: list[str], restored_by: str, dataset: str | None = None) -> dict:
    """For validation loss and the official metric: the epoch each picks and that epoch's test scores.

    The first best counts, as in `Trainer` (a later tie is no improvement). Empty when the test
    set was not scored each epoch.
    """
    tests = {entry["step"]: entry for entry in log_history if "test_loss" in entry}
    validations = [entry for entry in log_history if "eval_loss" in entry and entry.get("step") in tests]
    if not validations:
        return {}
    chosen = {}
    for criterion, sign in (("eval_loss", -1), (f"eval_{official_metric_for(dataset, label_names)}", 1)):
        best = max(validations, key=lambda entry: (sign * entry[criterion], -entry["step"]))
        test = tests[best["step"]]
        chosen[criterion] = {
            "epoch": best["epoch"],
            "validation": best[criterion],
            "test": {key: test[f"test_{key}"] for key in (*METRIC_KEYS, "f1_pn") if f"test_{key}" in test},
        }
    restored = restored_by if restored_by.startswith("eval_") else f"eval_{restored_by}"
    return {"restored_by": restored, "by_criterion": chosen}
