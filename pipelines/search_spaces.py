"""The hyperparameter search spaces of `train.py --search optuna`, one per GloVe model family.

A space is a function of an Optuna trial and the model width (`embedding_dim`: the attention
family's head count must divide it) that returns `{name: value}`; a name that is a
`TrainingArguments` field (the learning rate) goes to the Trainer, every other one is a config
field of the family (`models/configuration_glove.py`). The attention space covers what the lab's
question 5 asks about: layers, heads, feed-forward size, dropout and learning rate, wide enough
to hold the classic Transformer's 6 layers, d_ff 2048 and dropout 0.1 (Vaswani et al. 2017; its
8 heads do not divide 50d GloVe, 10 do) beside our defaults (2 layers, 5 heads, d_ff 200, dropout
0.1, lr 1e-3); the other families get a smaller space (width, depth, dropout, learning rate).
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


# By the family's `model_type` (`models.model_type_for(--model)`).
SEARCH_SPACES: dict[str, Callable] = {
    "glove-attention": attention_space,
    "glove-recurrent": recurrent_space,
    "glove-pooling": pooling_space,
}
