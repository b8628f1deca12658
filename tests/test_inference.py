"""pipelines.inference: the classifier protocol over checkpoints and as-is scorers, and load_classifier."""

import numpy as np
import pytest
import torch
from scipy.special import softmax
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from pipelines.errors import OptionError, PathError
from pipelines.inference import AsIsClassifier, TorchSequenceClassifier, load_classifier
from pipelines.scorers import LexiconScorer
from tests.tiny_bert import build_tiny_bert
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
    with pytest.raises(PathError, match="is not a model folder"):
        load_classifier(tmp_path)
    with pytest.raises(OptionError, match="batch_size must be at least 1"):
        load_classifier(folders["glove"], batch_size=0)


def test_an_as_is_scorer_is_a_classifier_batch_by_batch():
    classifier = AsIsClassifier(LexiconScorer("afinn", three_class=False), batch_size=2)
    texts = ["a wonderful film", "a terrible mess", "the film opens on friday"]
    probabilities = classifier.probabilities(texts)
    np.testing.assert_array_equal(probabilities, [[0, 1], [1, 0], [0.5, 0.5]])
    np.testing.assert_allclose(softmax(classifier.logits(texts), axis=-1), probabilities)
    assert classifier.predict(texts).tolist() == [1, 0, 0]  # a tie goes to the first label
    assert classifier.family == "lexicon" and "AFINN" in classifier.rule
