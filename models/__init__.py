"""GloVe sentiment models. Importing this package registers them with the Auto classes.

Three encoder families (pooling, recurrent, attention), one config and one model class each;
the seven `--model` names are presets over their fields (`presets.py`), and the seven
`model_type`s of folders saved before the families existed load through `legacy.py`.
"""

from transformers import AutoConfig, AutoModelForSequenceClassification

from .configuration_glove import GloveAttentionConfig, GloveConfig, GlovePoolingConfig, GloveRecurrentConfig
from .glove import GloveFormatError, GloveVectors, load_glove
from .legacy import (
    LEGACY_MODELS,
    GloveBiLstmConfig,
    GloveBiLstmForSequenceClassification,
    GloveLstmConfig,
    GloveLstmForSequenceClassification,
    GloveMeanConfig,
    GloveMeanForSequenceClassification,
    GloveMeanMaxConfig,
    GloveMeanMaxForSequenceClassification,
    GloveMultiHeadConfig,
    GloveMultiHeadForSequenceClassification,
    GloveTransformerConfig,
    GloveTransformerForSequenceClassification,
)
from .modeling_attention import GloveAttentionForSequenceClassification
from .modeling_glove_base import GlovePreTrainedModel
from .modeling_pooling import GlovePoolingForSequenceClassification
from .modeling_recurrent import GloveRecurrentForSequenceClassification
from .presets import GLOVE_PRESETS, GlovePreset, model_type_for, preset, preset_fields

# The `--model` names in their order (grid, report, --help): name -> GlovePreset.
GLOVE_MODELS = GLOVE_PRESETS

GLOVE_FAMILIES = {
    GlovePoolingConfig.model_type: (GlovePoolingConfig, GlovePoolingForSequenceClassification),
    GloveRecurrentConfig.model_type: (GloveRecurrentConfig, GloveRecurrentForSequenceClassification),
    GloveAttentionConfig.model_type: (GloveAttentionConfig, GloveAttentionForSequenceClassification),
}

for _config_class, _model_class in [*GLOVE_FAMILIES.values(), *LEGACY_MODELS.values()]:
    AutoConfig.register(_config_class.model_type, _config_class, exist_ok=True)
    AutoModelForSequenceClassification.register(_config_class, _model_class, exist_ok=True)
    # A saved folder then carries its configuration and modeling code and an `auto_map`, so
    # `from_pretrained(..., trust_remote_code=True)` works without this package installed.
    _config_class.register_for_auto_class("AutoConfig")
    _model_class.register_for_auto_class("AutoModelForSequenceClassification")


__all__ = [
    "GLOVE_FAMILIES",
    "GLOVE_MODELS",
    "GLOVE_PRESETS",
    "LEGACY_MODELS",
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
    "GlovePoolingConfig",
    "GlovePoolingForSequenceClassification",
    "GlovePreTrainedModel",
    "GlovePreset",
    "GloveRecurrentConfig",
    "GloveRecurrentForSequenceClassification",
    "GloveTransformerConfig",
    "GloveTransformerForSequenceClassification",
    "GloveVectors",
    "load_glove",
    "model_type_for",
    "preset",
    "preset_fields",
]
