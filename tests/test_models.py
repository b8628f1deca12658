"""Correctness of every GloVe model on tiny random vectors: padding, edge inputs, saving, training."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, pipeline

from models import (
    GLOVE_MODELS,
    LEGACY_MODELS,
    GloveAttentionConfig,
    GloveAttentionForSequenceClassification,
    GlovePoolingConfig,
    GlovePoolingForSequenceClassification,
)
from models.glove import GloveVectors
from models.presets import COMMITTED_STUDY, TRAINED_VECTORS_GAIN_MR, other_vectors_setting
from pipelines.tokenization import build_tokenizer
from pipelines.training import build_glove_model
from tests.conftest import REPO_ROOT

WORDS = ["good", "great", "fun", "bad", "awful", "dull", "film", "movie", "the", "a", "is", "story"]
VOCAB_SIZE = 2 + len(WORDS)  # [PAD], [UNK], words
PAD, UNK = 0, 1
# 10 is divided by the default head counts (1 and 5), so every model builds with its defaults.
EMBEDDING_DIM = 10
MAX_LENGTH = 16
LABELS = ["negative", "positive"]
ATTENTION_MODELS = ["attention", "multihead", "transformer"]


def build_model(name: str, **overrides):
    preset = GLOVE_MODELS[name]
    config = preset.config(
        vocab_size=VOCAB_SIZE,
        embedding_dim=EMBEDDING_DIM,
        max_length=MAX_LENGTH,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        **overrides,
    )
    torch.manual_seed(0)
    model = preset.model_class(config)
    vectors = torch.randn(VOCAB_SIZE, EMBEDDING_DIM)
    vectors[PAD] = 0.0
    model.load_word_vectors(vectors)
    return model.eval()


def ids(*rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids and attention mask for rows of token ids."""
    width = max(len(row) for row in rows)
    input_ids = torch.tensor([row + [PAD] * (width - len(row)) for row in rows])
    attention_mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
    return input_ids, attention_mask


SENTENCE = [2, 7, 9, 4, 12]
LONGER = [3, 5, 8, 10, 11, 13, 6, 2, 9]


@pytest.mark.parametrize("name", GLOVE_MODELS)
def test_padding_does_not_change_logits(name):
    model = build_model(name)
    alone_ids, alone_mask = ids(SENTENCE)
    batch_ids, batch_mask = ids(LONGER, SENTENCE)
    with torch.no_grad():
        alone = model(alone_ids, attention_mask=alone_mask, output_attentions=True)
        batch = model(batch_ids, attention_mask=batch_mask, output_attentions=True)
    torch.testing.assert_close(batch.logits[1], alone.logits[0], atol=1e-5, rtol=1e-5)
    if name in ATTENTION_MODELS:
        real = len(SENTENCE)
        for alone_weights, batch_weights in zip(alone.attentions, batch.attentions):
            # (batch, heads, query, key): the real tokens attend alike, and never to padding.
            torch.testing.assert_close(batch_weights[1, :, :real, :real], alone_weights[0], atol=1e-5, rtol=1e-5)
            assert batch_weights[1, :, :, real:].abs().max() == 0.0


@pytest.mark.parametrize("name", GLOVE_MODELS)
def test_unknown_words_empty_and_overlong_inputs_give_finite_logits(name):
    model = build_model(name)
    unknown_ids, unknown_mask = ids([UNK, UNK, UNK])
    empty = torch.zeros((2, 0), dtype=torch.long)
    # Far past the position table: the model truncates to max_length.
    overlong = torch.randint(2, VOCAB_SIZE, (1, 10_000))
    with torch.no_grad():
        for logits in (
            model(unknown_ids, attention_mask=unknown_mask).logits,
            model(empty, attention_mask=empty).logits,
            model(overlong).logits,
        ):
            assert logits.shape[-1] == len(LABELS)
            assert torch.isfinite(logits).all()


@pytest.mark.parametrize("freeze", [True, False], ids=["frozen", "trainable"])
@pytest.mark.parametrize("name", GLOVE_MODELS)
def test_save_and_load_keep_weights_logits_and_freezing(name, freeze, tmp_path):
    model = build_model(name, freeze_embeddings=freeze)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    torch.testing.assert_close(loaded.embeddings.weight, model.embeddings.weight, atol=0, rtol=0)
    input_ids, attention_mask = ids(LONGER, SENTENCE)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(input_ids, attention_mask=attention_mask).logits,
            model(input_ids, attention_mask=attention_mask).logits,
            atol=0,
            rtol=0,
        )
    assert loaded.embeddings.weight.requires_grad is not freeze


@pytest.mark.parametrize("name", GLOVE_MODELS)
def test_pipeline_on_saved_folder_returns_label_names(name, tmp_path):
    build_model(name).save_pretrained(tmp_path)
    build_tokenizer(WORDS, MAX_LENGTH).save_pretrained(tmp_path)
    classify = pipeline("text-classification", model=str(tmp_path))
    predictions = classify(["a good fun film", "the movie is awful and dull", "", "zzz unknown"])
    assert [prediction["label"] in LABELS for prediction in predictions] == [True] * 4


@pytest.mark.parametrize("name", GLOVE_MODELS)
def test_a_few_steps_lower_the_loss(name):
    model = build_model(name)
    input_ids, attention_mask = ids([2, 3, 4], [5, 6], [7, 8, 9, 10], [11], [12, 13, 2, 5], [6, 4, 3])
    labels = torch.tensor([1, 0, 1, 0, 1, 0])

    def loss() -> float:
        with torch.no_grad():
            return model.eval()(input_ids, attention_mask=attention_mask, labels=labels).loss.item()

    before = loss()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(15):
        optimizer.zero_grad()
        model(input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
        optimizer.step()
    assert loss() < 0.8 * before


@pytest.mark.parametrize("freeze", [True, False], ids=["frozen", "trainable"])
@pytest.mark.parametrize("name", GLOVE_MODELS)
def test_freeze_flag_decides_whether_word_vectors_train(name, freeze):
    model = build_model(name, freeze_embeddings=freeze)
    before = model.embeddings.weight.detach().clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    input_ids, attention_mask = ids(LONGER, SENTENCE)
    model.train()(input_ids, attention_mask=attention_mask, labels=torch.tensor([0, 1])).loss.backward()
    optimizer.step()
    changed = not torch.equal(model.embeddings.weight, before)
    assert model.embeddings.weight.requires_grad is not freeze
    assert changed is not freeze
    assert torch.equal(model.embeddings.weight[PAD], before[PAD])


@pytest.mark.parametrize("name", ["lstm", "bilstm"])
@pytest.mark.parametrize("num_layers", [1, 2])  # the fused one-layer path, and packed sequences
def test_lstm_representation_is_the_state_at_the_real_ends(name, num_layers):
    model = build_model(name, num_layers=num_layers)
    input_ids, attention_mask = ids(LONGER, SENTENCE)
    with torch.no_grad():
        sentence, _ = model.encode(model.embeddings(input_ids), attention_mask)  # (batch, repr)
        unpadded, _ = model.lstm(model.embeddings(torch.tensor([SENTENCE])))  # (1, seq_len, directions * hidden)
    hidden = model.config.hidden_size
    expected = unpadded[0, -1, :hidden]  # forward direction after the last real token
    if name == "bilstm":
        # The backward direction ends at the first token.
        expected = torch.cat([expected, unpadded[0, 0, hidden:]])
    torch.testing.assert_close(sentence[1], expected, atol=1e-6, rtol=1e-5)


def test_heads_that_do_not_divide_the_width_are_refused_clearly():
    with pytest.raises(ValueError, match=r"num_heads=3 does not divide .*embedding_dim=50.*\[1, 2, 5, 10, 25, 50\]"):
        GloveAttentionConfig(embedding_dim=50, num_heads=3)
    # `--config_overrides` sets fields after creation; building the model checks again.
    config = GLOVE_MODELS["multihead"].config(embedding_dim=50)
    config.update_from_string("num_heads=3")
    with pytest.raises(ValueError, match="num_heads=3 does not divide"):
        GloveAttentionForSequenceClassification(config)


def test_unknown_pooling_kind_is_refused_clearly():
    with pytest.raises(ValueError, match=r"pooling='max' is not a pooling kind; choose one of: mean, mean_max"):
        GlovePoolingConfig(pooling="max")
    config = GLOVE_MODELS["mean"].config()
    config.update_from_string("pooling=max")
    with pytest.raises(ValueError, match="pooling='max' is not a pooling kind"):
        GlovePoolingForSequenceClassification(config)


@pytest.mark.parametrize("name", ATTENTION_MODELS)
def test_position_table_has_max_length_rows(name):
    model = build_model(name)
    assert model.positions.num_embeddings == MAX_LENGTH
    with torch.no_grad():
        output = model(torch.randint(2, VOCAB_SIZE, (2, 10_000)), output_attentions=True)
    assert output.attentions[0].shape[-1] == MAX_LENGTH


@pytest.mark.parametrize("name", ["lstm", "bilstm"])
def test_one_layer_fast_path_equals_packed_sequences(name):
    """The unpacked run (outputs picked at the real ends, backward read reversed within length)
    gives what packing gives, also for texts of one token and empty texts."""
    model = build_model(name)
    rows = [LONGER, SENTENCE, [3], [4, 5], []]
    input_ids, attention_mask = ids(*[row or [PAD] for row in rows])
    attention_mask[-1] = 0
    embedded = model.embeddings(input_ids)
    with torch.no_grad():
        fast, _ = model.encode(embedded, attention_mask)
        packed = model.encode_packed(embedded, attention_mask.sum(dim=1).clamp(min=1))
    torch.testing.assert_close(fast, packed, atol=1e-6, rtol=1e-5)



@pytest.mark.parametrize("name", GLOVE_MODELS)
def test_config_json_holds_the_preset_fields_and_rebuilds_the_network(name, tmp_path):
    """Every field that shapes the network reaches config.json, so the family's defaults plus
    that file rebuild the same network, whatever the `--model` name was."""
    model = build_model(name)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    preset = GLOVE_MODELS[name]
    assert saved["model_type"] == preset.config_class.model_type
    assert {key: saved[key] for key in preset.config_fields} == preset.config_fields
    rebuilt = preset.model_class(preset.config_class(**{k: v for k, v in saved.items() if k != "preset"}))
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_attention_with_five_heads_is_the_multihead_network_and_config_json_says_so(tmp_path):
    overridden = build_model("attention")
    overridden.config.update_from_string("num_heads=5")
    overridden = type(overridden)(overridden.config)
    multihead = build_model("multihead")
    for folder, model in (("overridden", overridden), ("multihead", multihead)):
        model.save_pretrained(tmp_path / folder)
    configs = {
        folder: json.loads((tmp_path / folder / "config.json").read_text()) for folder in ("overridden", "multihead")
    }
    differing = {key for key in configs["multihead"] if configs["overridden"][key] != configs["multihead"][key]}
    # The same network (num_heads=5, one block, no final LayerNorm), recorded as started from another preset.
    assert differing == {"preset"}
    assert (configs["overridden"]["preset"], configs["overridden"]["num_heads"]) == ("attention", 5)
    assert isinstance(overridden.blocks[0].attention.output, torch.nn.Linear)  # several heads need mixing
    transformer = build_model("transformer", final_layer_norm=False)
    assert isinstance(transformer.final_norm, torch.nn.Identity)


@pytest.mark.parametrize(
    ("name", "overrides"), [*((name, None) for name in GLOVE_MODELS), ("attention", "num_heads=5")]
)
def test_the_training_flow_builds_each_preset_with_its_fields(name, overrides):
    """`train.py --model name [--config_overrides ...]` builds the preset's network, named in its config."""
    glove = GloveVectors(WORDS, torch.randn(len(WORDS), EMBEDDING_DIM).numpy(), source="test")
    tokenizer = build_tokenizer(WORDS, MAX_LENGTH)
    model = build_glove_model(name, glove, WORDS, tokenizer, LABELS, seed=0, config_overrides=overrides)
    preset = GLOVE_MODELS[name]
    assert type(model) is preset.model_class
    expected = {**preset.config_fields, **({"num_heads": 5} if overrides else {})}
    assert {key: getattr(model.config, key) for key in expected} == expected


# Each `model_type` before the three families -> the preset it was, and the fields its config.json lacked.
LEGACY_TYPES = {
    **{model_type: model_type.removeprefix("glove-") for model_type in LEGACY_MODELS},
    "glove-attention": "attention",
}
NEW_FIELDS = ("preset", "pooling", "bidirectional", "final_layer_norm")


@pytest.mark.parametrize("model_type", LEGACY_TYPES)
def test_folder_with_an_old_model_type_loads_with_the_same_logits(model_type, tmp_path):
    """A config.json written before the families (its own `model_type`, no architecture flags,
    the old class names in `auto_map`) loads as its preset's network, same weights, same logits."""
    name = LEGACY_TYPES[model_type]
    model = build_model(name)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    camel_case = {"meanmax": "MeanMax", "bilstm": "BiLstm", "multihead": "MultiHead"}
    old_class = "Glove" + camel_case.get(name, name.capitalize())
    modeling_file = GLOVE_MODELS[name].model_class.__module__.split(".")[-1]
    config = {key: value for key, value in config.items() if key not in NEW_FIELDS}
    config.update(
        model_type=model_type,
        architectures=[f"{old_class}ForSequenceClassification"],
        auto_map={
            "AutoConfig": f"configuration_glove.{old_class}Config",
            "AutoModelForSequenceClassification": f"{modeling_file}.{old_class}ForSequenceClassification",
        },
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    input_ids, attention_mask = ids(LONGER, SENTENCE)
    for trust_remote_code in (False, True):
        loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, trust_remote_code=trust_remote_code)
        loaded.eval()
        assert loaded.config.model_type == model_type
        assert isinstance(loaded, GLOVE_MODELS[name].model_class)
        assert {key: getattr(loaded.config, key) for key in GLOVE_MODELS[name].fields} == GLOVE_MODELS[name].fields
        with torch.no_grad():
            torch.testing.assert_close(
                loaded(input_ids, attention_mask=attention_mask).logits,
                model(input_ids, attention_mask=attention_mask).logits,
                atol=0,
                rtol=0,
            )


def test_trained_vectors_table_is_the_committed_study():
    """`TRAINED_VECTORS_GAIN_MR` holds the MR "frozen vs trained vectors" differences of the committed report."""
    rows = (REPO_ROOT / COMMITTED_STUDY).read_text().split("\n## semeval2017a")[0].splitlines()
    measured = {}
    for row in rows:
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        if cells and cells[0].startswith("frozen vs trained vectors: ") and cells[1] == "lab split":
            measured[cells[0].rsplit(" ", 1)[1]] = round(100 * float(cells[7]), 2)
    assert measured == TRAINED_VECTORS_GAIN_MR and list(measured) == list(GLOVE_MODELS)
    assert other_vectors_setting("meanmax", train_embeddings=False) == (
        "trainable vectors (--train_embeddings) measured +8.0 points for meanmax on MR (lab split, 5 seeds) "
        "in the committed study (results/report/report.md)"
    )
    assert other_vectors_setting("mean", train_embeddings=True).startswith("frozen vectors (the default) measured -9.2 points")
