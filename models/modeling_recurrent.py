"""Recurrent models: an LSTM reads the word vectors; the sentence is its state at the real ends.

Sequences are packed by their real lengths, so padding never enters the recurrence: the final
forward state is the one at the last real token and, for the BiLSTM, the final backward state is
the one at the first token. Padding is on the right (the tokenizer's default).
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .configuration_glove import GloveBiLstmConfig, GloveLstmConfig
from .modeling_glove_base import GlovePreTrainedModel


class GloveLstmForSequenceClassification(GlovePreTrainedModel):
    config_class = GloveLstmConfig
    bidirectional = False

    def __init__(self, config: GloveLstmConfig):
        super().__init__(config)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.lstm_dropout if config.num_layers > 1 else 0.0,
            bidirectional=self.bidirectional,
            batch_first=True,
        )
        self.build_head(config.hidden_size * (2 if self.bidirectional else 1))

    def encode(self, embedded, attention_mask):
        # An empty text runs one (zero, masked) step instead of crashing the packing.
        lengths = attention_mask.sum(dim=1).clamp(min=1).cpu()  # (batch,)
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        _, (final, _) = self.lstm(packed)  # final: (num_layers * directions, batch, hidden)
        if self.bidirectional:
            return torch.cat([final[-2], final[-1]], dim=-1), None  # (batch, 2 * hidden)
        return final[-1], None  # (batch, hidden)


class GloveBiLstmForSequenceClassification(GloveLstmForSequenceClassification):
    config_class = GloveBiLstmConfig
    bidirectional = True
