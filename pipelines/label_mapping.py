"""A model's labels mapped onto a dataset's: by name, or from `CHECKPOINT_LABELS` for checkpoints
whose names say nothing (`LABEL_0`...), or from a `--label_map` option.

Names are compared case-insensitively, first with the dataset's own labels (a run trained on a file
labelled `bad`/`good` maps onto that file's labels as they are), then with the sentiment names
(`neg`, `negative`, ... in `SENTIMENT_NAMES`), which count for the dataset label of that sentiment in
either spelling (a `neg`/`pos` file takes a model's `NEGATIVE`/`POSITIVE`). A
tie between dataset labels goes to the one the model lists first (a lexicon's 0.5 / 0.5 on two-class
data: negative), whatever order the dataset gives its labels in.

Probabilities of model labels that map to the same dataset label are added (star ratings 1 and 2
both count as negative). A label the dataset does not have is left out: a three-class model on MR
predicts whichever of negative/positive scores higher. A two-label model on a three-class dataset
predicts `neutral` when its top probability is below `neutral_threshold` (the confidence band
around 0.5). Anything else is refused with an `OptionError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.cli import parse_pairs
from pipelines.errors import OptionError
from pipelines.metrics import sentiments
from pipelines.scorers import NEUTRAL

# Label names that say what they are, whatever the checkpoint (compared lowercased).
SENTIMENT_NAMES = {
    "negative": "negative",
    "neg": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
}

STAR_RATINGS = {
    "1 star": "negative",
    "2 stars": "negative",
    "3 stars": "neutral",
    "4 stars": "positive",
    "5 stars": "positive",
}

# Checkpoints whose `id2label` is opaque or a scale: model label -> dataset label.
CHECKPOINT_LABELS = {
    # The model card: "Labels: 0 -> Negative; 1 -> Neutral; 2 -> Positive".
    "cardiffnlp/twitter-roberta-base-sentiment": {"LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"},
    "nlptown/bert-base-multilingual-uncased-sentiment": STAR_RATINGS,
}

# The sentiment names a file's integer labels usually stand for, by class count (the benchmarks' order).
SENTIMENT_ORDER = {2: ("negative", "positive"), 3: ("negative", "neutral", "positive")}


def class_names_hint(label_names) -> str:
    """How to name a file's integer labels 0..k-1 (two or three of them): `--class_names` names them in id order
    (`data.rows`); "" for any other labels, which `--class_names` cannot rename."""
    names = [str(name) for name in label_names]
    if names != [str(i) for i in range(len(names))] or len(names) not in SENTIMENT_ORDER:
        return ""
    return f"name them in id order with --class_names, e.g. --class_names {','.join(SENTIMENT_ORDER[len(names)])}"


def unmatched_label_map_keys(extra: dict[str, str], model_labels: list[str]) -> list[str]:
    """The `--label_map` keys that name none of `model_labels` (every scored model's labels), case aside."""
    known = {str(label).strip().lower() for label in model_labels}
    return [key for key in extra if key.strip().lower() not in known]


def parse_label_map(text: str | None) -> dict[str, str]:
    """`'LABEL_0=negative,LABEL_1=positive'` -> {'LABEL_0': 'negative', 'LABEL_1': 'positive'} (the dataset label as
    given; matched case-insensitively by `label_mapping`); `OptionError` (`pipelines.cli.parse_pairs`) for an entry
    that is not MODEL_LABEL=dataset_label."""
    return dict(parse_pairs(text, "--label_map", "MODEL_LABEL=dataset_label"))


@dataclass(frozen=True)
class LabelMapping:
    """How one model's scores become predictions over the dataset's labels."""

    label_names: list[str]  # the dataset's
    targets: list[str | None]  # per model label id: the dataset label it counts for, None if left out
    model_labels: list[str]
    neutral_threshold: float | None = None  # set for a two-label model on a three-class dataset

    def dataset_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """Model probabilities (n, num_model_labels) -> (n, num_dataset_labels): mapped labels
        added up, left-out ones dropped, each row renormalised."""
        combined = np.zeros((len(probabilities), len(self.label_names)))  # (n, num_dataset_labels)
        for model_id, target in enumerate(self.targets):
            if target is not None:
                combined[:, self.label_names.index(target)] += probabilities[:, model_id]
        return combined / np.maximum(combined.sum(axis=-1, keepdims=True), 1e-12)

    def predict(self, probabilities: np.ndarray) -> np.ndarray:
        """Dataset label ids from model probabilities (n, num_model_labels); a tie goes to the dataset label of the
        model's first label among the tied ones (`tie_order`), so the dataset's label order changes no prediction."""
        combined = self.dataset_probabilities(probabilities)
        order = self.tie_order()
        predicted = np.asarray(order)[combined[:, order].argmax(axis=-1)]
        if self.neutral_threshold is not None:
            predicted[combined.max(axis=-1) < self.neutral_threshold] = self.neutral_id()
        return predicted

    def tie_order(self) -> list[int]:
        """The dataset's label ids in the order of the model's labels that count for them (the first one of each);
        labels nothing counts for come last."""
        first = {}
        for model_id, target in enumerate(self.targets):
            if target is not None:
                first.setdefault(self.label_names.index(target), model_id)
        return sorted(range(len(self.label_names)), key=lambda label_id: first.get(label_id, len(self.targets)))

    def neutral_id(self) -> int:
        """The dataset's neutral label (`neutral` or `neu`, any case)."""
        return sentiments(self.label_names).index(NEUTRAL)

    def ties(self, probabilities: np.ndarray) -> int:
        """Sentences whose two highest dataset probabilities are equal, decided by the model's label order
        (`tie_order`; the neutral band decides a two-label model's ties on SemEval)."""
        combined = self.dataset_probabilities(probabilities)
        top = np.sort(combined, axis=-1)
        tied = top[:, -1] - top[:, -2] <= 1e-9
        if self.neutral_threshold is not None:
            tied &= top[:, -1] >= self.neutral_threshold
        return int(tied.sum())

    def describe(self) -> str:
        groups: dict[str, list[str]] = {}
        for model_label, target in zip(self.model_labels, self.targets):
            groups.setdefault(target or "(left out)", []).append(model_label)
        text = "; ".join(f"{'+'.join(labels)}->{target}" for target, labels in groups.items())
        if self.neutral_threshold is not None:
            text += f"; neutral if top probability < {self.neutral_threshold:g}"
        return text


def label_mapping(
    model_name: str,
    id2label: dict[int, str],
    label_names: list[str],
    extra: dict[str, str] | None = None,
    neutral_threshold: float = 0.8,
) -> LabelMapping:
    """Map a model's labels onto the dataset's, or raise `OptionError` saying why not: a label of the model that
    `extra` (`--label_map`) or `CHECKPOINT_LABELS` maps, else one named as a dataset label or a sentiment name
    (`SENTIMENT_NAMES`), every name matched case-insensitively (`NEU` by a `--label_map` key `neu`); a sentiment
    the dataset lacks is left out."""
    table = {str(key).strip().lower(): value for key, value in {**CHECKPOINT_LABELS.get(model_name, {}), **(extra or {})}.items()}
    model_labels = [str(id2label[i]) for i in sorted(id2label)]
    dataset_by_name = {str(name).strip().lower(): name for name in label_names}
    # the dataset label each sentiment is spelled as (a file labelled neg/pos takes a model's NEGATIVE/POSITIVE)
    dataset_by_sentiment = {SENTIMENT_NAMES[key]: name for key, name in dataset_by_name.items() if key in SENTIMENT_NAMES}
    targets: list[str | None] = []
    unknown = []
    for model_label in model_labels:
        named = table.get(model_label.strip().lower())
        target = named if named is not None else model_label
        key = target.strip().lower()
        if key in dataset_by_name:
            targets.append(dataset_by_name[key])
        elif key in SENTIMENT_NAMES:
            targets.append(dataset_by_sentiment.get(SENTIMENT_NAMES[key]))  # None: a sentiment this dataset does not have
        elif named is not None:
            raise OptionError(
                f"label {model_label!r} maps to {named!r}, which is neither a label of the dataset ({', '.join(map(str, label_names))}) "
                "nor one of negative, neutral, positive"
            )
        else:
            unknown.append(model_label)
            targets.append(None)

    def refuse(why: str) -> OptionError:
        hint = class_names_hint(label_names)  # integer labels read from a file: the data's names are the gap
        return OptionError(
            f"labels {model_labels} cannot be mapped to {label_names} ({why}); "
            + (f"the data's labels name no sentiment: {hint}, or " if hint else "")
            + "pass --label_map 'MODEL_LABEL=dataset_label,...' or add the checkpoint to CHECKPOINT_LABELS "
            "in pipelines/label_mapping.py"
        )

    if unknown:
        raise refuse(f"unknown label {', '.join(map(repr, unknown))}")
    covered = set(filter(None, targets))
    missing = [name for name in label_names if name not in covered]
    if not missing:
        return LabelMapping(label_names, targets, model_labels)
    sentiment_of = dict(zip(label_names, sentiments(label_names)))
    if [sentiment_of[name] for name in missing] == [NEUTRAL] and {"negative", "positive"} <= {sentiment_of[name] for name in covered}:
        if not 0.5 <= neutral_threshold <= 1.0:
            raise OptionError(f"--neutral_threshold must be between 0.5 and 1, got {neutral_threshold}")
        return LabelMapping(label_names, targets, model_labels, neutral_threshold)
    raise refuse(f"nothing predicts {', '.join(map(str, missing))}: a label of the data that no label of the model names")
