"""An `evaluate` metric module: accuracy, macro F1 and macro recall, plus SemEval's F1-PN.

Loaded from this folder with `evaluate.load(<path>)`, so it works offline, where
`evaluate.load("accuracy")` would fetch a script from the Hub.
"""

import datasets
import evaluate

from pipelines.metrics import scores_of

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
        labels = label_names or [str(label) for label in range(max([*references, *predictions]) + 1)]
        return scores_of(references, predictions, list(labels))
