"""Folders saved before the three families: the seven old `model_type`s still load.

Until the configs described the whole network, each `--model` name had its own `model_type`
(`glove-mean` ... `glove-transformer`) and `bidirectional` / `final_layer_norm` lived in the
class. An old `config.json` lacks those fields, so each old `model_type` keeps a config class
whose defaults are its preset's fields, and a model class of its family tied to that config
(the Auto classes map config classes to model classes one to one). The weights' names did not
change, so an old folder gives the same logits. `glove-attention` needs no alias: it is the
attention family's own `model_type`, and its old folders are that family's defaults.
Where `models` is imported these classes load an old folder, with or without `trust_remote_code`;
elsewhere `trust_remote_code=True` runs the code the folder carries. An old folder loaded and
saved again names these classes in its `auto_map` and carries this file.
"""

from .configuration_glove import GloveAttentionConfig, GlovePoolingConfig, GloveRecurrentConfig
from .modeling_attention import GloveAttentionForSequenceClassification
from .modeling_pooling import GlovePoolingForSequenceClassification
from .modeling_recurrent import GloveRecurrentForSequenceClassification


class GloveMeanConfig(GlovePoolingConfig):
    model_type = "glove-mean"


class GloveMeanMaxConfig(GlovePoolingConfig):
    model_type = "glove-meanmax"
    pooling: str = "mean_max"


class GloveLstmConfig(GloveRecurrentConfig):
    model_type = "glove-lstm"


class GloveBiLstmConfig(GloveRecurrentConfig):
    model_type = "glove-bilstm"
    bidirectional: bool = True


class GloveMultiHeadConfig(GloveAttentionConfig):
    model_type = "glove-multihead"
    num_heads: int = 5


class GloveTransformerConfig(GloveAttentionConfig):
    model_type = "glove-transformer"
    num_heads: int = 5
    num_layers: int = 2
    final_layer_norm: bool = True


class GloveMeanForSequenceClassification(GlovePoolingForSequenceClassification):
    config_class = GloveMeanConfig


class GloveMeanMaxForSequenceClassification(GlovePoolingForSequenceClassification):
    config_class = GloveMeanMaxConfig


class GloveLstmForSequenceClassification(GloveRecurrentForSequenceClassification):
    config_class = GloveLstmConfig


class GloveBiLstmForSequenceClassification(GloveRecurrentForSequenceClassification):
    config_class = GloveBiLstmConfig


class GloveMultiHeadForSequenceClassification(GloveAttentionForSequenceClassification):
    config_class = GloveMultiHeadConfig


class GloveTransformerForSequenceClassification(GloveAttentionForSequenceClassification):
    config_class = GloveTransformerConfig


# Old `model_type` -> (config class, model class).
LEGACY_MODELS = {
    config_class.model_type: (config_class, model_class)
    for config_class, model_class in (
        (GloveMeanConfig, GloveMeanForSequenceClassification),
        (GloveMeanMaxConfig, GloveMeanMaxForSequenceClassification),
        (GloveLstmConfig, GloveLstmForSequenceClassification),
        (GloveBiLstmConfig, GloveBiLstmForSequenceClassification),
        (GloveMultiHeadConfig, GloveMultiHeadForSequenceClassification),
        (GloveTransformerConfig, GloveTransformerForSequenceClassification),
    )
}
