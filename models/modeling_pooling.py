"""Pooling models: a sentence is the average (and the maximum) of its word vectors."""

import torch
from torch import nn

from .configuration_glove import GlovePoolingConfig
from .modeling_glove_base import GlovePreTrainedModel


def masked_mean(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens only; a sentence without any gives zeros, not NaN."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (batch, seq_len, 1)
    counts = mask.sum(dim=1).clamp(min=1.0)  # (batch, 1)
    return (states * mask).sum(dim=1) / counts  # (batch, dim)


def masked_max(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Max over real tokens only; a sentence without any gives zeros, not -inf."""
    mask = attention_mask.unsqueeze(-1).bool()  # (batch, seq_len, 1)
    filled = states.masked_fill(~mask, torch.finfo(states.dtype).min)
    maxima = filled.max(dim=1).values  # (batch, dim)
    return torch.where(mask.any(dim=1), maxima, torch.zeros_like(maxima))


class GlovePoolingForSequenceClassification(GlovePreTrainedModel):
    """`config.pooling`: `mean` pools to (batch, dim), `mean_max` to (batch, 2 * dim)."""

    config_class = GlovePoolingConfig

    def __init__(self, config: GlovePoolingConfig):
        config.validate_architecture()
        super().__init__(config)
        pooled_size = config.embedding_dim * (2 if config.pooling == "mean_max" else 1)
        self.hidden = nn.Linear(pooled_size, config.hidden_size)
        self.build_head(config.hidden_size)

    def encode(self, embedded, attention_mask):
        pooled = masked_mean(embedded, attention_mask)  # (batch, dim)
        if self.config.pooling == "mean_max":
            pooled = torch.cat([pooled, masked_max(embedded, attention_mask)], dim=-1)  # (batch, 2 * dim)
        return torch.relu(self.hidden(pooled)), None  # (batch, hidden)
