"""The training loss every flow can use: cross-entropy, class-weighted or not, plus a distillation term.

`LossTrainer` is a `Trainer` whose `compute_loss` calls the model without labels and computes

    loss = alpha * CE_w(student logits, gold labels) + (1 - alpha) * D(student logits, teacher logits)

- `CE_w` is cross-entropy with per-class weights `w` (none: all ones), reduced as PyTorch's
  `cross_entropy(weight=w)` does: sum_i w[y_i] * -log p_i[y_i] / sum_i w[y_i], over the rows
  that have a gold label (augmented transfer-set rows carry the label -100 and only a teacher).
  `--class_weights balanced` takes `w` from sklearn's `compute_class_weight("balanced")`:
  w[c] = n_samples / (n_classes * count[c]) over the training split. The validation loss is
  weighted alike, so `--metric_for_best_model eval_loss` selects on the objective trained.
- `D` is the distillation term, only for batches that carry `teacher_logits` (the training split
  of a distilled run; validation and test never do, so the eval loss stays the gold CE):
  `mse` (default): logit regression, sum over classes of (z_student - z_teacher)^2, mean over rows.
  Tang et al. (2019, "Distilling Task-Specific Knowledge from BERT into Simple Neural Networks")
  distil BERT into a BiLSTM this way and found it better than soft-target cross-entropy; it needs
  no temperature, since logits keep the teacher's confidence that a softmax would flatten.
  `kl`: Hinton et al. (2015): T^2 * KL(softmax(z_teacher / T) || softmax(z_student / T)), mean
  over rows; T^2 keeps its gradients on the scale of the CE term as T changes.
  Without a teacher, the loss is `CE_w` alone (alpha does not apply).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch.nn import functional as F
from transformers import Trainer

from pipelines.arguments import DistillationArguments, LossArguments, parse_weights
from pipelines.errors import DataError, OptionError

IGNORE_INDEX = -100  # the label of a transfer-set row: teacher logits only


def class_weights_for(setting: str | None, train_labels, label_names: list[str]) -> list[float] | None:
    """Per-class weights in label order from `--class_weights`, or None for plain cross-entropy.

    `balanced` is sklearn's `compute_class_weight("balanced")` on the training labels (ints
    0..k-1); a class the training split lacks raises `DataError`. Explicit weights must be k
    positive numbers. Raises `OptionError` otherwise.
    """
    if not setting:
        return None
    if setting.strip() == "balanced":
        from sklearn.utils.class_weight import compute_class_weight

        labels = np.asarray(train_labels)
        missing = [name for index, name in enumerate(label_names) if not (labels == index).any()]
        if missing:
            raise DataError(f"--class_weights balanced: the training split has no {', '.join(missing)} rows")
        return compute_class_weight("balanced", classes=np.arange(len(label_names)), y=labels).tolist()
    weights = parse_weights(setting)
    if len(weights) != len(label_names):
        raise OptionError(
            f"--class_weights needs {len(label_names)} positive weights, one per label in order "
            f"({', '.join(label_names)}), got {setting!r}"
        )
    return weights


def class_weight_info(setting: str | None, weights: list[float] | None) -> dict:
    """What `results.json` records: `class_weights` ("balanced" or the list given) and the numbers used."""
    if weights is None:
        return {}
    given = "balanced" if setting.strip() == "balanced" else weights
    return {"class_weights": given, "class_weight_values": [round(weight, 6) for weight in weights]}


def sentiment_loss(
    logits: torch.Tensor,
    labels: torch.Tensor | None,
    teacher_logits: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
    distillation: DistillationArguments | None = None,
) -> torch.Tensor:
    """The loss of the module docstring, its distillation term as `distillation` says (`--distillation_loss`,
    `--distillation_alpha`, `--distillation_temperature`). logits, teacher_logits: (batch, num_labels); labels: (batch,)."""
    gold = labels is not None and bool((labels != IGNORE_INDEX).any())
    cross_entropy = (
        F.cross_entropy(logits, labels, weight=class_weights, ignore_index=IGNORE_INDEX) if gold else logits.sum() * 0.0
    )
    if teacher_logits is None or distillation is None:
        return cross_entropy
    teacher_logits = teacher_logits.to(logits.dtype)
    if distillation.distillation_loss == "mse":
        teacher_term = (logits - teacher_logits).pow(2).sum(dim=-1).mean()
    else:
        temperature = distillation.distillation_temperature
        teacher_term = F.kl_div(
            F.log_softmax(logits / temperature, dim=-1),
            F.log_softmax(teacher_logits / temperature, dim=-1),
            log_target=True,
            reduction="batchmean",
        ) * temperature**2
    return distillation.distillation_alpha * cross_entropy + (1.0 - distillation.distillation_alpha) * teacher_term


class LossTrainer(Trainer):
    """`Trainer` with `sentiment_loss`: class weights and, for batches with `teacher_logits`, distillation.

    The training split may carry a `teacher_logits` column (float, (num_labels,) per row); it is
    kept through `remove_unused_columns` and padded by `DataCollatorWithPadding` as a float tensor.
    """

    loss_is_scaled_for_ga = False  # a per-batch mean: Trainer divides it over accumulation steps

    def __init__(self, *args, class_weights: list[float] | None = None, distillation: DistillationArguments | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self.distillation = distillation

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if "teacher_logits" not in self._signature_columns:
            self._signature_columns.append("teacher_logits")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        labels = inputs.pop("labels", None)
        teacher_logits = inputs.pop("teacher_logits", None)
        outputs = model(**inputs)
        logits = outputs["logits"]
        weights = None if self.class_weights is None else self.class_weights.to(logits.device)
        loss = sentiment_loss(logits.float(), labels, teacher_logits, weights, self.distillation)
        return (loss, outputs) if return_outputs else loss


def loss_trainer(
    loss_args: LossArguments | None, train_labels, label_names: list[str]
) -> tuple[type[Trainer] | functools.partial, dict]:
    """The trainer class `fit_and_test` builds, and what `results.json` records about the loss.

    Plain `Trainer` (the model's own unweighted loss) unless class weights or distillation (a
    `DistillationArguments` with a teacher) apply.
    """
    distillation = loss_args if isinstance(loss_args, DistillationArguments) and loss_args.teacher else None
    setting = loss_args.class_weights if loss_args else None
    weights = class_weights_for(setting, train_labels, label_names)
    if weights is None and distillation is None:
        return Trainer, {}
    return functools.partial(LossTrainer, class_weights=weights, distillation=distillation), class_weight_info(setting, weights)
