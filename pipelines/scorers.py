"""Sentiment scorers used as they are: texts in, probabilities over the scorer's own labels out
(`labels`, `predict_proba(texts, batch_size)`, and `family`, `rule` for the table).
`pipelines.inference.AsIsClassifier` makes each a `pipelines.inference.Classifier`, beside the
checkpoint and ONNX folders; `pipelines.pretrained` maps its labels onto a dataset's.

Families defined here:

- Lexicon and rule-based scorers, through their own packages: VADER (`vaderSentiment`; Hutto &
  Gilbert 2014, compound score in [-1, 1]), TextBlob (`textblob`'s `PatternAnalyzer`, the pattern
  library's adjective lexicon, polarity in [-1, 1]; needs no NLTK corpus) and AFINN (`afinn`;
  Nielsen 2011, the sum of word valences -5..+5). A score becomes a label by the tool's documented
  rule on three-class data (VADER: compound >= 0.05 positive, <= -0.05 negative, else neutral;
  TextBlob and AFINN document only the sign, so 0 is neutral) and by its sign on two-class data,
  where 0 (no lexicon word, or words that cancel) is a tie. Probabilities are one-hot of that
  label, and 0.5 / 0.5 for a tie, which `argmax` then predicts as the first label (negative).
  No squashing: a lexicon score is not a probability, and one-hot keeps the rule exact.
- Zero-shot with a sentence encoder (`sentence-transformers`: mean-pooled token embeddings, as
  all-MiniLM-L6-v2 and all-mpnet-base-v2 were trained to be used): a sentence gets the label whose
  description ("a positive review", ...) is nearest by cosine similarity. Probabilities are the
  softmax of the similarities divided by `temperature` (0.05, i.e. the scale 20 those encoders
  were trained with in sentence-transformers' `MultipleNegativesRankingLoss`); the argmax, and so
  every metric, does not depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

NEUTRAL = "neutral"


# --- lexicons ------------------------------------------------------------------------------------


def vader_compound() -> Callable[[str], float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda text: analyzer.polarity_scores(text)["compound"]


def textblob_polarity() -> Callable[[str], float]:
    from textblob.en.sentiments import PatternAnalyzer  # TextBlob's default analyzer, lexicon in the package

    analyzer = PatternAnalyzer()
    return lambda text: analyzer.analyze(text).polarity


def afinn_score() -> Callable[[str], float]:
    from afinn import Afinn

    analyzer = Afinn()  # English word list, emoticons off: the package's defaults
    return analyzer.score


# name -> (score function factory, what the score is, neutral band of its documented 3-class rule)
LEXICONS: dict[str, tuple[Callable[[], Callable[[str], float]], str, float]] = {
    "vader": (vader_compound, "VADER compound", 0.05),
    "textblob": (textblob_polarity, "TextBlob polarity", 0.0),
    "afinn": (afinn_score, "AFINN score", 0.0),
}


class LexiconScorer:
    """A lexicon's score per sentence turned into a label by a fixed rule (module docstring).

    `three_class`: negative / neutral / positive by the tool's rule; else negative / positive by
    the sign, 0 a tie (probability 0.5 each).
    """

    family = "lexicon"

    def __init__(self, name: str, three_class: bool):
        factory, self.score_name, self.band = LEXICONS[name]
        self.name, self.three_class = name, three_class
        self.score = factory()
        self.labels = ["negative", NEUTRAL, "positive"] if three_class else ["negative", "positive"]

    @property
    def rule(self) -> str:
        if not self.three_class:
            return f"{self.score_name} > 0 positive, < 0 negative, 0 a tie (0.5/0.5, predicted negative); one-hot"
        if self.band:
            return f"{self.score_name} >= {self.band:g} positive, <= -{self.band:g} negative, else neutral; one-hot"
        return f"{self.score_name} > 0 positive, < 0 negative, 0 neutral; one-hot"

    def scores(self, texts: list[str]) -> np.ndarray:
        return np.array([self.score(text) for text in texts], dtype=float)

    def predict_proba(self, texts: list[str], batch_size: int = 1) -> np.ndarray:
        """One-hot rows (n, len(labels)); a two-class tie is (0.5, 0.5). `batch_size` is unused."""
        scores = self.scores(texts)
        if self.three_class and self.band:  # VADER's band is closed: exactly 0.05 is positive
            positive, negative = scores >= self.band, scores <= -self.band
        else:
            positive, negative = scores > 0, scores < 0
        middle = ~(positive | negative)
        if self.three_class:
            return np.stack([negative, middle, positive], axis=1).astype(float)
        return np.stack([negative, positive], axis=1) + 0.5 * middle[:, None]


# --- zero-shot with a sentence encoder -----------------------------------------------------------

# The descriptions, fixed before any test score was seen (none was chosen on data): "a <label> <noun>",
# with the noun of the benchmark's texts (`Benchmark.text_noun`; "text" for other data).
TEMPERATURE = 0.05


def label_descriptions(label_names: list[str], dataset: str | None) -> dict[str, str]:
    """{"negative": "a negative review", ...} for a benchmark's (or a file's) label names; a label that names a
    sentiment in another spelling (`neg`, `Neutral`: `metrics.sentiments`) is described by the sentiment's word
    ({"neg": "a negative text"}), not by its spelling. `OptionError` for a label that names nothing in words (`0`,
    `LABEL_1`, `class 2`: integer labels read from a file, say), which would be described as "a 0 text"."""
    from pipelines.benchmarks import BENCHMARKS  # the benchmarks import the data readers; scorers stay light
    from pipelines.errors import OptionError
    from pipelines.label_mapping import class_names_hint
    from pipelines.metrics import sentiments

    noun = BENCHMARKS[dataset].text_noun if dataset in BENCHMARKS else "text"
    opaque = [str(label) for label, sentiment in zip(label_names, sentiments(label_names))
              if sentiment is None and (not re.search(r"[^\W\d_]", str(label)) or re.fullmatch(r"(label|class)[ _-]?\d+", str(label), re.IGNORECASE))]  # fmt: skip
    if opaque:
        how = class_names_hint(label_names) or "give the file's labels as words (negative, neutral, positive, or what they stand for)"
        raise OptionError(
            f"zero-shot scoring describes each label in words (\"a <label> {noun}\"), and the data's label(s) {', '.join(opaque)} "
            f"name nothing: {how}"
        )
    return {label: f"a {sentiment or label} {noun}" for label, sentiment in zip(label_names, sentiments(label_names))}


class ZeroShotScorer:
    """The label whose description is nearest in a sentence encoder's space (cosine similarity).

    `folder`: a sentence-transformers folder, or any `save_pretrained` encoder (then mean pooling).
    """

    family = "zero-shot"

    def __init__(self, name: str, folder: str, descriptions: dict[str, str], temperature: float = TEMPERATURE, device: str | None = None):
        from sentence_transformers import SentenceTransformer

        self.name, self.descriptions, self.temperature = name, dict(descriptions), temperature
        self.labels = list(descriptions)
        self.encoder = SentenceTransformer(str(folder), device=device)

    @property
    def rule(self) -> str:
        quoted = ", ".join(f'"{text}"' for text in self.descriptions.values())
        return f"nearest of {quoted} by cosine; softmax(cos / {self.temperature:g})"

    def similarities(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Cosine similarities (n, len(labels)) of each text to each description."""
        encode = dict(batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        anchors = self.encoder.encode(list(self.descriptions.values()), **encode)  # (labels, dim)
        sentences = self.encoder.encode(list(texts), show_progress_bar=len(texts) > 1000, **encode)  # (n, dim)
        return sentences @ anchors.T

    def predict_proba(self, texts: list[str], batch_size: int) -> np.ndarray:
        logits = self.similarities(texts, batch_size) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)
