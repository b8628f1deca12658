"""Attention models, built up in order: self-attention, feed-forward, block, model.

The presets: `attention` is one single-head block, `multihead` one block with several heads and
an output projection, `transformer` a stack of multi-head blocks with a final LayerNorm. Padded
keys get no attention weight and the sentence is the average of the real tokens' outputs, so
padding never changes the result. Inputs are at most `config.max_length` tokens (the base class
truncates), so the position table is never indexed past its end.
"""

import math

import torch
from torch import nn

from .configuration_glove import GloveAttentionConfig
from .modeling_glove_base import GlovePreTrainedModel
from .modeling_pooling import masked_mean


class SelfAttention(nn.Module):
    """Queries, keys and values from the same tokens; padded keys are masked out."""

    def __init__(self, config: GloveAttentionConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.embedding_dim // config.num_heads
        self.qkv = nn.Linear(config.embedding_dim, 3 * config.embedding_dim)
        # One head's values already have the model width; several heads need mixing.
        self.output = nn.Linear(config.embedding_dim, config.embedding_dim) if config.num_heads > 1 else nn.Identity()
        self.attention_dropout = nn.Dropout(config.attention_dropout)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, seq_len, width = hidden.shape
        query, key, value = self.qkv(hidden).split(width, dim=-1)  # 3 x (batch, seq_len, width)
        query, key, value = (
            t.view(batch, seq_len, self.num_heads, self.head_dim).transpose(1, 2) for t in (query, key, value)
        )  # (batch, heads, seq_len, head_dim)
        scores = query @ key.transpose(-2, -1) / math.sqrt(self.head_dim)  # (batch, heads, seq_len, seq_len)
        # The dtype's minimum, not -inf: a text without real tokens then gets finite (unused) outputs.
        padded_keys = ~attention_mask.bool()[:, None, None, :]  # (batch, 1, 1, seq_len)
        weights = scores.masked_fill(padded_keys, torch.finfo(scores.dtype).min).softmax(dim=-1)
        mixed = self.attention_dropout(weights) @ value  # (batch, heads, seq_len, head_dim)
        mixed = mixed.transpose(1, 2).reshape(batch, seq_len, width)  # (batch, seq_len, width)
        return self.output(mixed), weights


class FeedForward(nn.Module):
    def __init__(self, config: GloveAttentionConfig):
        super().__init__()
        self.up = nn.Linear(config.embedding_dim, config.ffn_dim)
        self.down = nn.Linear(config.ffn_dim, config.embedding_dim)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.down(nn.functional.gelu(self.up(hidden)))  # (batch, seq_len, width)


class AttentionBlock(nn.Module):
    """Pre-LayerNorm residual block: x + attention(LN(x)), then x + feed-forward(LN(x))."""

    def __init__(self, config: GloveAttentionConfig):
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.embedding_dim)
        self.attention = SelfAttention(config)
        self.feed_forward_norm = nn.LayerNorm(config.embedding_dim)
        self.feed_forward = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attended, weights = self.attention(self.attention_norm(hidden), attention_mask)
        hidden = hidden + self.dropout(attended)  # (batch, seq_len, width)
        hidden = hidden + self.dropout(self.feed_forward(self.feed_forward_norm(hidden)))
        return hidden, weights


class GloveAttentionForSequenceClassification(GlovePreTrainedModel):
    config_class = GloveAttentionConfig

    def __init__(self, config: GloveAttentionConfig):
        config.validate_architecture()
        super().__init__(config)
        self.positions = nn.Embedding(config.max_length, config.embedding_dim)
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(AttentionBlock(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(config.embedding_dim) if config.final_layer_norm else nn.Identity()
        self.build_head(config.embedding_dim)

    def encode(self, embedded, attention_mask):
        positions = torch.arange(embedded.shape[1], device=embedded.device)  # (seq_len,)
        hidden = self.embedding_dropout(embedded + self.positions(positions))  # (batch, seq_len, width)
        attentions = []
        for block in self.blocks:
            hidden, weights = block(hidden, attention_mask)
            attentions.append(weights)
        hidden = self.final_norm(hidden)
        return masked_mean(hidden, attention_mask), tuple(attentions)  # (batch, width)

