"""pipelines.inference: the classifier protocol over checkpoints, SetFit runs and as-is scorers, and load_classifier."""

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import softmax
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from pipelines.errors import ConfigError, OptionError, PathError
from pipelines.inference import AsIsClassifier, SetFitClassifier, TorchSequenceClassifier, load_classifier
from pipelines.scorers import LexiconScorer
from tests.tiny_bert import build_tiny_bert, build_tiny_gpt2, build_tiny_setfit
from tests.tiny_glove import build_tiny_glove

# Lengths in no order, so length sorting moves every row.
TEXTS = ["good", "the movie is n't good , but it is not bad", "", "a dull film", "great fun , the best story , moving"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("inference")
    return {"glove": build_tiny_glove(root / "lstm", "lstm"), "bert": build_tiny_bert(root / "bert", ["negative", "positive"])}


def direct_logits(folder, texts: list[str], max_length: int) -> np.ndarray:
    """The model called by hand, one text at a time (no padding, no sorting)."""
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = []
    for text in texts:
        encoded = tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")
        if encoded["input_ids"].shape[1] == 0:  # the GloVe tokenizer gives no token for an empty text
            encoded = {"input_ids": torch.zeros((1, 1), dtype=torch.long), "attention_mask": torch.zeros((1, 1), dtype=torch.long)}
        with torch.no_grad():
            rows.append(model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).logits[0].numpy())
    return np.stack(rows)


@pytest.mark.parametrize("kind", ["glove", "bert"])
def test_batched_sorted_logits_are_the_direct_model_call_in_input_order(folders, kind):
    classifier = TorchSequenceClassifier.from_pretrained(folders[kind], batch_size=2)
    logits = classifier.logits(TEXTS)
    assert logits.shape == (len(TEXTS), 2) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, direct_logits(folders[kind], TEXTS, classifier.max_length), atol=1e-5)
    reversed_logits = classifier.logits(TEXTS[::-1])
    np.testing.assert_allclose(reversed_logits, logits[::-1], atol=1e-5)
    np.testing.assert_allclose(classifier.probabilities(TEXTS), softmax(logits.astype(np.float64), axis=-1), atol=1e-6)
    assert classifier.predict(TEXTS).tolist() == logits.argmax(axis=-1).tolist()


def test_long_texts_are_truncated_at_the_model_limit(folders):
    classifier = TorchSequenceClassifier.from_pretrained(folders["bert"])
    assert classifier.max_length == 32  # the tokenizer's model_max_length; the model has 64 positions
    long = " ".join(["wonderful acting"] * 100)
    assert classifier.encode([long, "dull"])["input_ids"].shape == (2, 32)
    np.testing.assert_allclose(classifier.logits([long]), direct_logits(folders["bert"], [long], 32), atol=1e-5)
    capped = TorchSequenceClassifier.from_pretrained(folders["bert"], max_length=8)
    assert capped.max_length == 8 and capped.encode([long])["input_ids"].shape == (1, 8)


def test_load_classifier_picks_the_kind_and_refuses_bad_input(folders, tmp_path):
    assert isinstance(load_classifier(folders["glove"]), TorchSequenceClassifier)
    vader = load_classifier("vader")
    assert isinstance(vader, AsIsClassifier) and vader.label_names == ["negative", "neutral", "positive"]
    assert load_classifier("afinn", ["negative", "positive"]).label_names == ["negative", "positive"]
    # round 27's review: a user's `Negative/Neutral/Positive` or `neg/neu/pos` file made VADER a two-class lexicon
    for spelled in (["Negative", "Neutral", "Positive"], ["neg", "neu", "pos"]):
        assert load_classifier("vader", spelled).label_names == ["negative", "neutral", "positive"]
    with pytest.raises(PathError, match="is not a model folder"):
        load_classifier(tmp_path)
    with pytest.raises(OptionError, match="batch_size must be at least 1"):
        load_classifier(folders["glove"], batch_size=0)


def test_a_model_saved_without_its_tokenizer_or_a_hub_id_that_does_not_load_is_one_line(tmp_path, monkeypatch):
    """Round 27's review: a BERT folder without its tokenizer files loaded a tokenizer of 5 special tokens (every word
    `[UNK]`: predictions with exit 0), and a Hub id transformers cannot find escaped as an OSError traceback."""
    import shutil

    from pipelines import hub_access

    bare = Path(shutil.copytree(build_tiny_bert(tmp_path / "bert", ["negative", "positive"]), tmp_path / "bare"))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (bare / name).unlink()
    with pytest.raises(PathError, match="has no tokenizer"):
        load_classifier(bare)

    def no_such_repo(*args, **kwargs):
        raise OSError("someone/typo is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'")

    monkeypatch.setattr(hub_access, "model_load_kwargs", lambda *args: {})
    monkeypatch.setattr(AutoModelForSequenceClassification, "from_pretrained", no_such_repo)
    with pytest.raises(PathError, match="cannot load model someone/typo: someone/typo is not a local folder"):
        load_classifier("someone/typo")


def test_an_as_is_scorer_is_a_classifier_batch_by_batch():
    classifier = AsIsClassifier(LexiconScorer("afinn", three_class=False), batch_size=2)
    texts = ["a wonderful film", "a terrible mess", "the film opens on friday"]
    probabilities = classifier.probabilities(texts)
    np.testing.assert_array_equal(probabilities, [[0, 1], [1, 0], [0.5, 0.5]])
    np.testing.assert_allclose(softmax(classifier.logits(texts), axis=-1), probabilities)
    assert classifier.predict(texts).tolist() == [1, 0, 0]  # a tie goes to the first label
    assert classifier.family == "lexicon" and "AFINN" in classifier.rule


@pytest.fixture(scope="module")
def setfit_folders(tmp_path_factory):
    import shutil

    import joblib

    from pipelines.calibration import apply_temperature
    from pipelines.runs.layout import SETFIT_HEAD_FILE

    root = tmp_path_factory.mktemp("setfit")
    folders = {"binary": build_tiny_setfit(root / "binary", ["negative", "positive"]),
               "three": build_tiny_setfit(root / "three", ["negative", "neutral", "positive"])}  # fmt: skip
    folders["scaled"] = Path(shutil.copytree(folders["binary"], root / "scaled"))  # the binary run, T = 2.5 folded into its head
    head = joblib.load(folders["scaled"] / SETFIT_HEAD_FILE)
    apply_temperature(head, 2.5)
    joblib.dump(head, folders["scaled"] / SETFIT_HEAD_FILE)
    return folders


def library_scores(folder, texts):
    """What the setfit library itself gives: the head's decision function and `predict_proba` over `SetFitModel.encode`."""
    from setfit import SetFitModel

    model = SetFitModel.from_pretrained(str(folder), device="cpu")
    embeddings = model.encode(texts)
    return model.model_head.decision_function(embeddings), model.model_head.predict_proba(embeddings), model.model_head.predict(embeddings)


@pytest.mark.parametrize("kind", ["binary", "three"])
def test_a_setfit_run_is_a_classifier_giving_the_heads_own_scores(setfit_folders, kind):
    classifier = load_classifier(setfit_folders[kind], batch_size=2)
    assert isinstance(classifier, SetFitClassifier) and classifier.family == "setfit"
    assert classifier.label_names == (["negative", "positive"] if kind == "binary" else ["negative", "neutral", "positive"])
    decision, proba, predicted = library_scores(setfit_folders[kind], TEXTS)
    logits = classifier.logits(TEXTS)
    assert logits.shape == (len(TEXTS), len(classifier.label_names)) and logits.dtype == np.float64
    np.testing.assert_allclose(logits, decision if kind == "three" else np.stack([np.zeros_like(decision), decision], 1), atol=1e-6)
    np.testing.assert_allclose(classifier.probabilities(TEXTS), proba, rtol=0, atol=1e-6)
    np.testing.assert_allclose(classifier.probabilities(TEXTS), softmax(logits, axis=-1), rtol=0, atol=1e-15)
    assert classifier.predict(TEXTS).tolist() == predicted.tolist()
    np.testing.assert_allclose(classifier.logits(TEXTS[::-1]), logits[::-1], atol=1e-6)  # rows follow the input
    assert classifier.logits([]).shape == (0, len(classifier.label_names))


def test_a_temperature_folded_into_the_setfit_head_scales_the_probabilities(setfit_folders):
    """The tiny run with T = 2.5 folded into its head (as `python -m pipelines.calibrate` saves it) against the same run unscaled."""
    scaled, plain = load_classifier(setfit_folders["scaled"]), load_classifier(setfit_folders["binary"])
    np.testing.assert_allclose(scaled.logits(TEXTS), plain.logits(TEXTS) / 2.5, atol=1e-6)
    np.testing.assert_allclose(scaled.probabilities(TEXTS), softmax(plain.logits(TEXTS) / 2.5, axis=-1), atol=1e-6)
    assert scaled.predict(TEXTS).tolist() == plain.predict(TEXTS).tolist()
    assert scaled.model.model_head.temperature_scaling["temperature"] == 2.5


def test_a_setfit_run_on_token_ids_gives_its_logits_and_is_explained_by_occlusion(setfit_folders):
    from pipelines.explain import explain

    classifier = load_classifier(setfit_folders["three"])
    arrays = classifier.tokenizer(TEXTS[:2], padding=True, truncation=True, max_length=classifier.max_length, return_tensors="np")
    np.testing.assert_allclose(classifier.logits_for_ids(arrays["input_ids"], arrays["attention_mask"]), classifier.logits(TEXTS[:2]), atol=1e-5)
    explanation = explain(classifier, "a dull film")
    assert explanation.method == "occlusion" and explanation.words == ["a", "dull", "film"] and len(explanation.scores) == 3
    target = int(classifier.predict(["a dull film"])[0])
    assert explanation.label == classifier.label_names[target]
    encoded = classifier.tokenizer(["a dull film"], return_tensors="np")
    ids, mask = encoded["input_ids"].astype(np.int64), encoded["attention_mask"].astype(np.int64)
    occluded = ids.copy()
    occluded[0, [i for i, word in enumerate(encoded.word_ids(0)) if word == 1]] = classifier.tokenizer.pad_token_id  # "dull"
    drop = classifier.logits_for_ids(ids, mask)[0, target] - classifier.logits_for_ids(occluded, mask)[0, target]
    assert explanation.scores[1] == pytest.approx(drop, abs=1e-5) and abs(drop) > 1e-4


def test_a_setfit_run_is_not_loaded_as_a_sequence_classifier_with_a_random_head(setfit_folders):
    with pytest.raises(PathError, match="is a SetFit run .*load_classifier"):
        TorchSequenceClassifier.from_pretrained(setfit_folders["binary"])
    assert isinstance(load_classifier(setfit_folders["binary"]), SetFitClassifier)


def test_a_gpt2_style_tokenizer_without_a_pad_token_pads_with_its_end_of_text_token(tmp_path):
    """The review: a stock GPT-2-style classifier (no pad token) stopped predict and evaluate_pretrained on
    `ValueError: Asking to pad but the tokenizer does not have a padding token`."""
    folder = build_tiny_gpt2(tmp_path / "gpt2", ["negative", "positive"])
    classifier = TorchSequenceClassifier.from_pretrained(folder, batch_size=2)
    texts = [text for text in TEXTS if text]  # an empty text has no token at all to score
    np.testing.assert_allclose(classifier.logits(texts), direct_logits(folder, texts, classifier.max_length), atol=1e-5)
    assert classifier.model.config.pad_token_id == classifier.tokenizer.eos_token_id  # the head pools the last real token
    with pytest.raises(ConfigError, match="has no pad token and no end-of-text token to pad with; save its tokenizer with pad_token set"):
        TorchSequenceClassifier.from_pretrained(build_tiny_gpt2(tmp_path / "no-eos", ["negative", "positive"], eos=False))
