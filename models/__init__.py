"""GloVe sentiment models. Importing this package registers them with the Auto classes."""

from transformers import AutoConfig, AutoModelForSequenceClassification

from .configuration_glove import GloveConfig, GloveMeanConfig, GloveMeanMaxConfig
from .glove import GloveFormatError, GloveVectors, load_glove
from .modeling_glove_base import GlovePreTrainedModel
from .modeling_pooling import GloveMeanForSequenceClassification, GloveMeanMaxForSequenceClassification

# Name on the command line -> (config class, model class).
GLOVE_MODELS = {
    "mean": (GloveMeanConfig, GloveMeanForSequenceClassification),
    "meanmax": (GloveMeanMaxConfig, GloveMeanMaxForSequenceClassification),
}

for _config_class, _model_class in GLOVE_MODELS.values():
    AutoConfig.register(_config_class.model_type, _config_class, exist_ok=True)
    AutoModelForSequenceClassification.register(_config_class, _model_class, exist_ok=True)


def model_type_for(name: str) -> str:
    """The `model_type` of a `--model` name, with the valid names when it is unknown."""
    if name not in GLOVE_MODELS:
        raise ValueError(f"unknown --model {name!r}; choose one of: {', '.join(GLOVE_MODELS)}")
    return GLOVE_MODELS[name][0].model_type


__all__ = [
    "GLOVE_MODELS",
    "GloveConfig",
    "GloveFormatError",
    "GloveMeanConfig",
    "GloveMeanForSequenceClassification",
    "GloveMeanMaxConfig",
    "GloveMeanMaxForSequenceClassification",
    "GlovePreTrainedModel",
    "GloveVectors",
    "load_glove",
    "model_type_for",
]
