"""An `evaluate` metric module: accuracy, macro F1 and macro recall, plus SemEval's F1-PN.

Loaded from this folder with `evaluate.load(<path>)`, so it works offline, where
`evaluate.load("accuracy")` would fetch a script from the Hub.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, f1_score, recall_score

_DESCRIPTION = """
Accuracy, macro-averaged F1 and macro-averaged recall (the official SemEval-2017 Task 4A
metric). Given `label_names` containing `negative` and `positive` with three classes in all, also
F1-PN: the mean F1 of the positive and negative classes (SemEval's secondary metric). With
`label_names`, the macro averages run over every named class, including one the references lack
(its recall and F1 count as 0).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[int]`): predicted label ids.
    references (`list[int]`): gold label ids.
    label_names (`list[str]`, optional): names of the ids 0..n-1; enables F1-PN for 3 classes.
Returns:
    accuracy, f1_macro, recall_macro, and f1_pn when it applies.
Example:
    >>> metric = evaluate.load("pipelines/sentiment_metrics")
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0])["accuracy"]
    0.6666666666666666
"""

_CITATION = """
@inproceedings{rosenthal-etal-2017-semeval,
    title = "{S}em{E}val-2017 Task 4: Sentiment Analysis in {T}witter",
    author = "Rosenthal, Sara and Farra, Noura and Nakov, Preslav",
    booktitle = "Proceedings of SemEval-2017",
    year = "2017",
}
"""


def f1_pn_classes(label_names) -> list[int] | None:
    """The ids of `positive` and `negative` when F1-PN applies (three classes, those two among
    them, as in SemEval-2017 4A), else None: the one F1-PN rule of the project."""
    names = [str(name) for name in label_names or []]
    if len(names) == 3 and {"negative", "positive"} <= set(names):
        return [names.index("positive"), names.index("negative")]
    return None


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SentimentMetrics(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, label_names=None):
        labels = list(range(len(label_names))) if label_names else sorted(set(references) | set(predictions))
        scores = {
            "accuracy": float(accuracy_score(references, predictions)),
            "f1_macro": float(f1_score(references, predictions, labels=labels, average="macro", zero_division=0)),
            "recall_macro": float(recall_score(references, predictions, labels=labels, average="macro", zero_division=0)),
        }
        polar = f1_pn_classes(label_names)
        if polar:
            per_class = f1_score(references, predictions, labels=polar, average=None, zero_division=0)
            scores["f1_pn"] = float(per_class.mean())
        return scores
