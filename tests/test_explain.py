"""Word-level explanations: IG completeness, sub-words summed into words, attention, occlusion, pictures, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipelines.cli import run_cli
from pipelines.explain import PROBE_SETS, encode_words, explain, main, probe_figures
from pipelines.export import ExportArguments, export
from pipelines.inference import OnnxSequenceClassifier, TorchSequenceClassifier
from pipelines.report.build import probe_section
from tests.tiny_bert import build_tiny_bert
from tests.tiny_glove import build_tiny_glove

TEXT = "the film is n't good , but the story is fun"


def logit_difference(classifier: TorchSequenceClassifier, text: str) -> tuple[float, int]:
    """logit(text) − logit(baseline) of the predicted class, the baseline built here independently:
    every non-special token replaced by [PAD], the attention mask kept."""
    encoded = classifier.tokenizer([text], return_tensors="pt", return_special_tokens_mask=True)
    baseline = torch.where(encoded["special_tokens_mask"].bool(), encoded["input_ids"], classifier.tokenizer.pad_token_id)
    # the baseline at the input's own positions: MPNet numbers them from the ids (its own rule), where a pad id has none
    from transformers.models.mpnet.modeling_mpnet import create_position_ids_from_input_ids

    positions = create_position_ids_from_input_ids(encoded["input_ids"], padding_idx=1)  # MPNet's padding_idx is 1
    kept = {"position_ids": positions} if classifier.model.config.model_type == "mpnet" else {}
    with torch.no_grad():
        logits = classifier.model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).logits[0]
        base = classifier.model(input_ids=baseline, attention_mask=encoded["attention_mask"], **kept).logits[0]
    target = int(logits.argmax())
    return float(logits[target] - base[target]), target


def build_tiny_mpnet(folder, labels):
    """A 1-layer MPNet over the tiny BERT's WordPiece tokenizer, padding with id 1 as MPNet's own vocabulary does
    (`<pad>`; here `[UNK]`): MPNet numbers positions from the input ids and gives id 1 the padding position."""
    from transformers import AutoTokenizer, MPNetConfig, MPNetForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_bert(folder, labels))
    tokenizer.pad_token = tokenizer.convert_ids_to_tokens(1)
    tokenizer.save_pretrained(folder)
    config = MPNetConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id, id2label=dict(enumerate(labels)),
                         label2id={label: i for i, label in enumerate(labels)})  # fmt: skip
    torch.manual_seed(0)
    MPNetForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("name", ["bilstm", "transformer", "bert", "mpnet"])
def test_integrated_gradients_are_complete(tmp_path, name):
    """The attributions add up to the logit difference from the baseline, within Captum's convergence delta (MPNet:
    round 27's review, its [PAD] baseline was read at other positions than the path, so its delta stayed large)."""
    builders = {"bert": build_tiny_bert, "mpnet": build_tiny_mpnet}
    folder = builders[name](tmp_path / name, ["negative", "positive"]) if name in builders else build_tiny_glove(tmp_path / name, name)
    classifier = TorchSequenceClassifier.from_pretrained(folder)
    if name in builders:  # BERT's initialisation (std 0.02) leaves a random model's logits almost flat
        torch.manual_seed(0)
        for module in classifier.model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(module.weight, std=0.5)
    explanation = explain(classifier, TEXT, n_steps=200)
    difference, target = logit_difference(classifier, TEXT)
    assert explanation.label == classifier.label_names[target]
    assert abs(difference) > 1e-3  # the sentence moves the logit, so the check below has something to add up
    assert abs(sum(explanation.scores) - difference) <= abs(explanation.delta) + 1e-5
    assert abs(explanation.delta) < 0.01 * abs(difference)


def test_sub_word_pieces_are_summed_into_words(tmp_path):
    classifier = TorchSequenceClassifier.from_pretrained(build_tiny_bert(tmp_path / "bert", ["negative", "positive"]))
    text = "unforgettable, lifeless acting!"
    pieces = classifier.tokenizer.tokenize(text)
    assert len(pieces) > 5  # some word is split into several WordPiece tokens
    encoded = encode_words(classifier, text)
    assert encoded.words == ["unforgettable", ",", "lifeless", "acting", "!"]
    explanation = explain(classifier, text, n_steps=100)
    assert explanation.words == encoded.words and len(explanation.scores) == 5
    token_level = explain(classifier, text, n_steps=100)  # deterministic: same numbers again
    assert explanation.scores == token_level.scores


def test_attention_weights_only_for_attention_models(tmp_path):
    attention = TorchSequenceClassifier.from_pretrained(build_tiny_glove(tmp_path / "multihead", "multihead"))
    recurrent = TorchSequenceClassifier.from_pretrained(build_tiny_glove(tmp_path / "lstm", "lstm"))
    with_attention = explain(attention, TEXT, n_steps=20)
    assert len(with_attention.attention) == len(with_attention.words) == len(TEXT.split())
    # Each query's weights over the real keys add up to 1, so their mean over queries does too.
    assert sum(with_attention.attention) == pytest.approx(1.0, abs=1e-5)
    assert explain(recurrent, TEXT, n_steps=20).attention is None


def test_occlusion_of_an_onnx_export_is_the_logit_drop(tmp_path):
    source = build_tiny_glove(tmp_path / "meanmax", "meanmax")
    export(ExportArguments(run_dir=str(source), output=str(tmp_path / "onnx")))
    classifier = OnnxSequenceClassifier.from_folder(tmp_path / "onnx")
    explanation = explain(classifier, "good but dull")
    assert explanation.method == "occlusion" and explanation.words == ["good", "but", "dull"]
    encoded = classifier.encode(["good but dull"])
    target = classifier.label_names.index(explanation.label)
    full = classifier.logits_for_ids(encoded["input_ids"], encoded["attention_mask"])[0, target]
    for position in range(3):
        ablated = encoded["input_ids"].copy()
        ablated[0, position] = classifier.tokenizer.pad_token_id
        drop = full - classifier.logits_for_ids(ablated, encoded["attention_mask"])[0, target]
        assert explanation.scores[position] == pytest.approx(float(drop), abs=1e-5)


@pytest.mark.slow
def test_probe_figures_one_per_set(tmp_path):
    folders = [build_tiny_glove(tmp_path / "mean", "mean"), build_tiny_glove(tmp_path / "attention", "attention")]
    paths = probe_figures(folders, tmp_path / "figures", n_steps=4)
    assert [path.name for path in paths] == ["probes-negation.png", "probes-contrast.png", "probes-intensifiers.png", "probes-sarcasmlike.png"]
    assert len(paths) == len(PROBE_SETS)
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in paths)


def test_cli_draws_the_probe_figures_the_report_shows(tmp_path, capsys):
    folder = build_tiny_glove(tmp_path / "mean", "mean")
    figures = tmp_path / "report" / "figures"
    assert run_cli(main, [str(folder), "--probes_dir", str(figures), "--n_steps", "4"]) == 0
    assert sorted(path.name for path in figures.glob("probes-*.png")) == sorted(
        ["probes-negation.png", "probes-contrast.png", "probes-intensifiers.png", "probes-sarcasmlike.png"]
    )
    section = probe_section(figures)
    assert section[0] == "## Probe sentences" and "![probes-negation](figures/probes-negation.png)" in section
    assert probe_section(tmp_path) == []  # no probe figures, no section
    assert run_cli(main, [str(folder)]) == 2  # neither --text nor --probes_dir
    assert "--probes_dir" in capsys.readouterr().err


def test_cli_prints_each_model_and_writes_the_picture(tmp_path, capsys):
    folders = [build_tiny_glove(tmp_path / "bilstm", "bilstm"), build_tiny_glove(tmp_path / "attention", "attention")]
    picture = tmp_path / "why.png"
    assert run_cli(main, [*map(str, folders), "--text", "not good", "--output", str(picture), "--n_steps", "10"]) == 0
    out = capsys.readouterr().out
    assert out.count("integrated gradients") == 2 and "attention" in out
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_cli_names_a_folder_that_is_not_a_model(tmp_path, capsys):
    assert run_cli(main, [str(tmp_path), "--text", "not good", "--output", str(tmp_path / "x.png")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and str(tmp_path) in error and "\n" not in error
    assert not (tmp_path / "x.png").exists()
    np.testing.assert_equal(sorted(p.name for p in tmp_path.iterdir()), [])


def test_cli_refuses_a_probes_dir_under_a_file_before_explaining(tmp_path, capsys):
    """The review: `--probes_dir afile/sub` explained every probe, then stopped on a NotADirectoryError traceback."""
    folder = build_tiny_glove(tmp_path / "mean", "mean")
    (tmp_path / "afile").write_text("mine")
    capsys.readouterr()
    assert run_cli(main, [str(folder), "--probes_dir", str(tmp_path / "afile" / "sub"), "--n_steps", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: output folder not writable: {tmp_path / 'afile' / 'sub'} ({tmp_path / 'afile'} is not a folder)"
    )
