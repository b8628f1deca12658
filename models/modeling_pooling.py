"""Pooling models: a sentence is the average (and the maximum) of its word vectors."""

import torch
from torch import nn

from .configuration_glove import GloveMeanConfig, GloveMeanMaxConfig
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


class GloveMeanForSequenceClassification(GlovePreTrainedModel):
    config_class = GloveMeanConfig

    def __init__(self, config: GloveMeanConfig):
        super().__init__(config)
        self.hidden = nn.Linear(self.pooled_size(config), config.hidden_size)
        self.build_head(config.hidden_size)

    @staticmethod
    def pooled_size(config: GloveMeanConfig) -> int:
        return config.embedding_dim

    def pool(self, embedded: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(embedded, attention_mask)  # (batch, dim)

    def encode(self, embedded, attention_mask):
        pooled = self.pool(embedded, attention_mask)
        return torch.relu(self.hidden(pooled)), None  # (batch, hidden)


class GloveMeanMaxForSequenceClassification(GloveMeanForSequenceClassification):
    config_class = GloveMeanMaxConfig

    @staticmethod
    def pooled_size(config: GloveMeanMaxConfig) -> int:
        return 2 * config.embedding_dim

    def pool(self, embedded, attention_mask):
        return torch.cat([masked_mean(embedded, attention_mask), masked_max(embedded, attention_mask)], dim=-1)
