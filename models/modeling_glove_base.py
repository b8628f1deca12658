"""What every GloVe model shares: the embedding, its freezing, the classifier head and the loss.

A subclass only says how to turn embedded tokens into one sentence vector (`encode`) and how
wide that vector is (`representation_size`). The logits are divided by `config.temperature`
(1.0 until `pipelines.calibration` fits one on validation data), so every consumer of the
forward pass (`pipeline()`, the ONNX export, the demo) gets calibrated probabilities.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_glove import GloveConfig


class GlovePreTrainedModel(PreTrainedModel):
    config_class = GloveConfig
    base_model_prefix = "glove"
    main_input_name = "input_ids"

    def __init__(self, config: GloveConfig):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.embeddings.weight.requires_grad_(not config.freeze_embeddings)

    def build_head(self, representation_size: int) -> None:
        """Call at the end of a subclass `__init__`, once the representation width is known."""
        self.dropout = nn.Dropout(self.config.dropout)
        self.classifier = nn.Linear(representation_size, self.config.num_labels)
        self.post_init()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """Loading makes every parameter trainable again; the config says whether GloVe stays frozen."""
        loaded = super().from_pretrained(*args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        model.embeddings.weight.requires_grad_(not model.config.freeze_embeddings)
        return loaded

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings = value
        self.embeddings.weight.requires_grad_(not self.config.freeze_embeddings)

    def load_word_vectors(self, vectors: torch.Tensor) -> None:
        """Copy pretrained vectors (one row per vocabulary id) into the embedding."""
        if tuple(vectors.shape) != tuple(self.embeddings.weight.shape):
            raise ValueError(
                f"word vectors have shape {tuple(vectors.shape)}, the embedding expects "
                f"{tuple(self.embeddings.weight.shape)} (vocab_size, embedding_dim)"
            )
        with torch.no_grad():
            self.embeddings.weight.copy_(vectors)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=self.config.initializer_range)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            for name, param in module.named_parameters():
                if "weight" in name:
                    nn.init.xavier_uniform_(param)
                else:
                    nn.init.zeros_(param)

    def encode(self, embeddings: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(batch, seq_len, dim), (batch, seq_len) -> sentence vectors (batch, repr), attentions or None."""
        raise NotImplementedError

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = (input_ids != self.config.pad_token_id).long()
        if input_ids.shape[1] == 0:
            # An empty text: one padded step keeps every encoder's shapes valid; it is masked out.
            input_ids = input_ids.new_full((input_ids.shape[0], 1), self.config.pad_token_id)
            attention_mask = attention_mask.new_zeros((input_ids.shape[0], 1))
        if input_ids.shape[1] > self.config.max_length:
            input_ids = input_ids[:, : self.config.max_length]
            attention_mask = attention_mask[:, : self.config.max_length]
        embedded = self.embeddings(input_ids)  # (batch, seq_len, dim)
        sentence, attentions = self.encode(embedded, attention_mask)  # (batch, repr)
        logits = self.classifier(self.dropout(sentence)) / self.config.temperature  # (batch, num_labels)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, attentions=attentions if output_attentions else None
        )
