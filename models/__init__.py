"""GloVe sentiment models. Importing this package registers them with the Auto classes."""

from transformers import AutoConfig, AutoModelForSequenceClassification

from .configuration_glove import (
    GloveAttentionConfig,
    GloveBiLstmConfig,
    GloveConfig,
    GloveLstmConfig,
    GloveMeanConfig,
    GloveMeanMaxConfig,
    GloveMultiHeadConfig,
    GloveTransformerConfig,
)
from .glove import GloveFormatError, GloveVectors, load_glove
from .modeling_attention import (
    GloveAttentionForSequenceClassification,
    GloveMultiHeadForSequenceClassification,
    GloveTransformerForSequenceClassification,
)
from .modeling_glove_base import GlovePreTrainedModel
from .modeling_pooling import GloveMeanForSequenceClassification, GloveMeanMaxForSequenceClassification
from .modeling_recurrent import GloveBiLstmForSequenceClassification, GloveLstmForSequenceClassification

# Name on the command line -> (config class, model class).
GLOVE_MODELS = {
    "mean": (GloveMeanConfig, GloveMeanForSequenceClassification),
    "meanmax": (GloveMeanMaxConfig, GloveMeanMaxForSequenceClassification),
    "lstm": (GloveLstmConfig, GloveLstmForSequenceClassification),
    "bilstm": (GloveBiLstmConfig, GloveBiLstmForSequenceClassification),
    "attention": (GloveAttentionConfig, GloveAttentionForSequenceClassification),
    "multihead": (GloveMultiHeadConfig, GloveMultiHeadForSequenceClassification),
    "transformer": (GloveTransformerConfig, GloveTransformerForSequenceClassification),
}

for _config_class, _model_class in GLOVE_MODELS.values():
    AutoConfig.register(_config_class.model_type, _config_class, exist_ok=True)
    AutoModelForSequenceClassification.register(_config_class, _model_class, exist_ok=True)
    # A saved folder then carries its configuration and modeling code and an `auto_map`, so
    # `from_pretrained(..., trust_remote_code=True)` works without this package installed.
    _config_class.register_for_auto_class("AutoConfig")
    _model_class.register_for_auto_class("AutoModelForSequenceClassification")


def model_type_for(name: str) -> str:
    """The `model_type` of a `--model` name, with the valid names when it is unknown."""
    if name not in GLOVE_MODELS:
        raise ValueError(f"unknown --model {name!r}; choose one of: {', '.join(GLOVE_MODELS)}")
    return GLOVE_MODELS[name][0].model_type


__all__ = [
    "GLOVE_MODELS",
    "GloveAttentionConfig",
    "GloveAttentionForSequenceClassification",
    "GloveBiLstmConfig",
    "GloveBiLstmForSequenceClassification",
    "GloveConfig",
    "GloveFormatError",
    "GloveLstmConfig",
    "GloveLstmForSequenceClassification",
    "GloveMeanConfig",
    "GloveMeanForSequenceClassification",
    "GloveMeanMaxConfig",
    "GloveMeanMaxForSequenceClassification",
    "GloveMultiHeadConfig",
    "GloveMultiHeadForSequenceClassification",
    "GlovePreTrainedModel",
    "GloveTransformerConfig",
    "GloveTransformerForSequenceClassification",
    "GloveVectors",
    "load_glove",
    "model_type_for",
]
