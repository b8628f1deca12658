"""The hyperparameter search spaces of `train.py --search optuna`, one per GloVe model family, and of
`finetune.py --search optuna` (`FINETUNE_SPACE`, any pretrained backbone).

A space is a function of an Optuna trial and the model width (`embedding_dim`: the attention
family's head count must divide it) that returns `{name: value}`; a name that is a
`TrainingArguments` field (the learning rate) goes to the Trainer, every other one is a config
field of the family (`models/configuration_glove.py`). The attention space covers what the lab's
question 5 asks about: layers, heads, feed-forward size, dropout and learning rate, wide enough
to hold the classic Transformer's 6 layers, d_ff 2048 and dropout 0.1 (Vaswani et al. 2017; its
8 heads do not divide 50d GloVe, 10 do) beside our defaults (2 layers, 5 heads, d_ff 200, dropout
0.1, lr 1e-3); the other families get a smaller space (width, depth, dropout, learning rate).

Fine-tuning searches the training options only (the backbone is fixed by its weights): learning rate,
batch size, weight decay and warm-up, around `FinetuneTrainingArguments`' 5e-5, 32, 0.01, 0.1 and the
grid of BERT's paper (Devlin et al. 2019, appendix A.3: lr 2e-5 to 5e-5, batches 16 and 32).
"""

from __future__ import annotations

from collections.abc import Callable

LEARNING_RATES = (1e-4, 1e-2)  # log-uniform, around GloveTrainingArguments' 1e-3


def head_counts(width: int, most: int = 10) -> list[int]:
    """Head counts that divide the model width, up to `most` (50d GloVe: 1, 2, 5, 10)."""
    return [count for count in range(1, most + 1) if width % count == 0]


def attention_space(trial, width: int) -> dict:
    return {
        "num_layers": trial.suggest_int("num_layers", 1, 6),
        "num_heads": trial.suggest_categorical("num_heads", head_counts(width)),
        "ffn_dim": trial.suggest_int("ffn_dim", 50, 2048, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", *LEARNING_RATES, log=True),
    }


def recurrent_space(trial, width: int) -> dict:
    return {
        "hidden_size": trial.suggest_int("hidden_size", 32, 512, log=True),
        "num_layers": trial.suggest_int("num_layers", 1, 2),
        "dropout": trial.suggest_float("dropout", 0.0, 0.6),
        "learning_rate": trial.suggest_float("learning_rate", *LEARNING_RATES, log=True),
    }


def pooling_space(trial, width: int) -> dict:
    return {
        "hidden_size": trial.suggest_int("hidden_size", 32, 512, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.6),
        "learning_rate": trial.suggest_float("learning_rate", *LEARNING_RATES, log=True),
    }


def finetune_space(trial, width: int | None = None) -> dict:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-4, log=True),
        "per_device_train_batch_size": trial.suggest_categorical("per_device_train_batch_size", [8, 16, 32]),
        "weight_decay": trial.suggest_float("weight_decay", 0.0, 0.1),
        "warmup_steps": trial.suggest_float("warmup_steps", 0.0, 0.2),  # below 1: a share of all steps
    }


FINETUNE_SPACE = "finetune"

# By the family's `model_type` (`models.model_type_for(--model)`), and `FINETUNE_SPACE` for finetune.py.
SEARCH_SPACES: dict[str, Callable] = {
    "glove-attention": attention_space,
    "glove-recurrent": recurrent_space,
    "glove-pooling": pooling_space,
    FINETUNE_SPACE: finetune_space,
}
