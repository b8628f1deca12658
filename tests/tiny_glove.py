"""Tiny GloVe model folders with random weights, saved as `train.py` saves them, for offline tests."""

from __future__ import annotations

from pathlib import Path

import torch

from models import GLOVE_MODELS
from pipelines.tokenization import build_tokenizer
from tests.conftest import NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS

WORDS = NEUTRAL_WORDS + POSITIVE_WORDS + NEGATIVE_WORDS + ["not", "do", "n't", "but", "very", ",", ".", "!"]
EMBEDDING_DIM = 10  # divided by the default head counts (1 and 5)
MAX_LENGTH = 16


def build_tiny_glove(folder: Path, name: str, labels: tuple[str, ...] = ("negative", "positive"), seed: int = 0) -> Path:
    """`folder` with a `--model name` GloVe model (random vectors, [PAD] zero) and its tokenizer."""
    tokenizer = build_tokenizer(WORDS, MAX_LENGTH)
    preset = GLOVE_MODELS[name]
    config = preset.config(
        vocab_size=len(tokenizer),
        embedding_dim=EMBEDDING_DIM,
        max_length=MAX_LENGTH,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    torch.manual_seed(seed)
    model = preset.model_class(config)
    vectors = torch.randn(len(tokenizer), EMBEDDING_DIM)
    vectors[tokenizer.pad_token_id] = 0.0
    model.load_word_vectors(vectors)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
