"""Configurations of the GloVe models: one per architecture, fields with defaults, nothing else."""

from transformers import PretrainedConfig


class GloveConfig(PretrainedConfig):
    r"""
    Fields every GloVe model shares.

    vocab_size: rows of the embedding matrix (`[PAD]` at 0, `[UNK]` at 1, then words).
    embedding_dim: width of the word vectors (50 for glove.6B.50d).
    freeze_embeddings: keep the GloVe vectors fixed (the classic set-up) or fine-tune them.
    dropout: dropout on the sentence representation before the classifier.
    max_length: longest input in tokens; the tokenizer truncates to it.
    """

    model_type = "glove"

    vocab_size: int = 2
    embedding_dim: int = 50
    freeze_embeddings: bool = True
    dropout: float = 0.2
    max_length: int = 128
    initializer_range: float = 0.02
    pad_token_id: int | None = 0


class GloveMeanConfig(GloveConfig):
    r"""Mean pooling baseline: u = mean(E), r = ReLU(W u + b), logits = V r + c.

    hidden_size: width of r.
    """

    model_type = "glove-mean"

    hidden_size: int = 128


class GloveMeanMaxConfig(GloveMeanConfig):
    r"""Mean‖max pooling: u = [mean(E) ‖ max(E)], then as the mean model."""

    model_type = "glove-meanmax"
