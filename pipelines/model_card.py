"""The model card (`README.md`) of a finished run folder, written from its `results.json`: the
metadata block the Hub reads (library, datasets, metrics, `model-index` with the test results),
then the test results, the confusion matrix, calibration, usage and training details."""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import EvalResult, ModelCardData

from pipelines.benchmarks import BENCHMARKS
from pipelines.metrics import METRICS, hub_args
from pipelines.runs.record import RunRecord

CARD_FILE = "README.md"


def dataset_reference(results: RunRecord) -> tuple[str | None, str | None, str]:
    """(Hub id or None, Hub config, a title for readers) of the data a run used.

    A built-in benchmark names its Hub copy, a Hub dataset itself; local files have no Hub id,
    so the card names the files (and the held-out test share) in its text instead.
    """
    dataset, data = results.dataset, results.get("data") or {}
    if data.get("source") == "hub":
        config = data.get("dataset_config")
        title = f"the Hub dataset {data['dataset_name']}" + (f" ({config})" if config else "")
        return data["dataset_name"], config, title
    if data.get("source") == "files":
        files = [(split, data.get(f"{split}_file")) for split in ("train", "validation", "test")]
        title = "local files: " + ", ".join(f"{split} `{Path(path).name}`" for split, path in files if path)
        if data.get("test_held_out"):
            title += (
                f"; test: {data.get('test_fraction', 0.2):.0%} of the training file, held out per class "
                f"with seed {results.seed}"
            )
        return None, None, title
    if dataset in BENCHMARKS:
        benchmark = BENCHMARKS[dataset]
        return benchmark.hub_id, benchmark.hub_config, benchmark.title
    return dataset, None, str(dataset)


def card_data(results: RunRecord, model_name: str) -> ModelCardData:
    """The metadata block: library (`setfit` for a SetFit run, as the setfit library's own cards say), task, datasets,
    metrics and `model-index` with the test results."""
    hub_id, hub_config, title = dataset_reference(results)
    test = results.test
    eval_results = [
        EvalResult(
            task_type="text-classification",
            task_name="Sentiment classification",
            dataset_type=hub_id or str(results.dataset),
            dataset_name=title,
            dataset_config=hub_config,
            dataset_split="test",
            metric_type=metric.hub_id,
            metric_name=metric.card_name,
            metric_args=hub_args(key, results.label_names),
            metric_value=round(float(test[key]), 4),
        )
        for key, metric in METRICS.items()
        if key in test
    ]
    is_glove = results.is_glove
    return ModelCardData(
        model_name=model_name,
        library_name="setfit" if results.is_setfit else "transformers",  # what the Hub's "Use this model" loads it with
        pipeline_tag="text-classification",
        language="en",
        tags=["sentibench", "sentiment-analysis", *(["glove", "custom_code"] if is_glove else []), *(["setfit"] if results.is_setfit else [])],
        datasets=[hub_id] if hub_id else None,
        metrics=sorted({metric.hub_id for key, metric in METRICS.items() if key in test}),
        base_model=results.get("base_model"),
        eval_results=eval_results or None,
    )


def calibration_lines(calibration: dict | None, setfit: bool = False) -> list[str]:
    """The card's "Calibration" section from `results.json`'s `calibration` (`pipelines.calibration`):
    the temperature, test ECE / Brier / NLL before and after scaling, and the abstention threshold (`abstain_lines`,
    also for a run whose validation sentences identified no temperature); a run without temperature scaling says how
    to add it. `setfit`: a SetFit model, whose logistic head holds T and the threshold as attributes
    (`pipelines.setfitting`; it has no config)."""
    if not calibration:
        return ["## Calibration", "", "No temperature scaling: the probabilities are the model's raw softmax "
                "(`python -m pipelines.calibrate RUN_DIR` adds it to a run that saved its validation predictions).", ""]  # fmt: skip
    if "skipped" in calibration:
        return ["## Calibration", "", f"No temperature scaling: {calibration['skipped']}. The probabilities are the model's raw softmax.", "",
                *abstain_lines(calibration, setfit)]  # fmt: skip
    before, after = calibration["test_before"], calibration["test_after"]
    lines = [
        "## Calibration", "",
        f"Temperature scaling (Guo et al. 2017): the {'logistic head' + chr(39) + 's ' if setfit else ''}logits are divided "
        f"by T = {calibration['temperature']:.3f}, fitted on "
        "the validation split by minimising the negative log-likelihood; the test set was not used. Predictions are unchanged.", "",
        "| test score | before scaling | after scaling |", "|---|---|---|",
        f"| expected calibration error (top-label, 15 equal-width bins, torchmetrics) | {before['ece']:.4f} | {after['ece']:.4f} |",
        f"| Brier score (sum over classes) | {before['brier']:.4f} | {after['brier']:.4f} |",
        f"| negative log-likelihood (nats) | {before['nll']:.4f} | {after['nll']:.4f} |", "",
    ]  # fmt: skip
    return lines + abstain_lines(calibration, setfit)


def abstain_lines(calibration: dict, setfit: bool = False) -> list[str]:
    """The card's abstention paragraph from `calibration.abstain` (none without it): the threshold, the probabilities
    it was chosen on (scaled, or raw where no temperature was identifiable), and its test coverage and accuracy."""
    abstain = calibration.get("abstain")
    if not abstain:
        return []
    test = abstain["test"]
    accuracy = f"{test['accuracy']:.4f}" if test["accuracy"] is not None else "none answered"
    probabilities = "raw" if abstain.get("probabilities") == "unscaled" else "scaled"
    return [
        f"Abstaining: `{'model.model_head' if setfit else 'config'}.abstain_threshold` = {abstain['threshold']:.4f}, "
        f"chosen on the validation sentences' {probabilities} probabilities to answer "
        f"{abstain['validation_coverage']:.0%} of its sentences; answer only when the top score is at least it. On test it "
        f"answers {test['coverage']:.1%} of sentences with accuracy {accuracy}.", "",
    ]  # fmt: skip


def usage_lines(results: RunRecord, model_name: str) -> list[str]:
    """The card's "Usage" section: code that loads the model by `model_name` and classifies a sentence.
    A transformers model (GloVe ones with their code, `trust_remote_code`) goes through `pipeline()`; a SetFit
    model is not a `PreTrainedModel` and loads with `setfit.SetFitModel.from_pretrained` (`pipelines.setfitting`),
    its probabilities from `predict_proba` (a fitted temperature is folded into its head) and its abstention
    threshold from the head's attribute."""
    example = "a gorgeous, witty, seductive movie"
    if not results.is_setfit:
        remote = ", trust_remote_code=True" if results.is_glove else ""
        return [
            "## Usage", "", "```python", "from transformers import pipeline", "",
            *(["# The modeling code travels with the weights (configuration_glove.py, modeling_*.py)."] if results.is_glove else []),
            f'classifier = pipeline("text-classification", model="{model_name}"{remote})',
            f'classifier("{example}")', "```", "",
        ]  # fmt: skip
    calibration = results.calibration or {}
    scaled = "temperature" in calibration  # a skipped step records {"skipped": why} only
    lines = [
        "## Usage", "",
        "A SetFit model (a sentence-transformers body and a scikit-learn logistic head) is not a transformers model: "
        "load it with the `setfit` library, not `pipeline()`.", "",
        "```python", "from setfit import SetFitModel", "",
        f'model = SetFitModel.from_pretrained("{model_name}")',
        f'texts = ["{example}"]',
        "labels = model.predict(texts)  # one label name per text",
        "# (texts, classes): the columns follow model.model_head.classes_, which index model.labels",
        *(["# T is folded into the head, so these are the temperature-scaled probabilities"] if scaled else []),
        "probabilities = model.predict_proba(texts, as_numpy=True)",
    ]  # fmt: skip
    if calibration.get("abstain"):
        lines += ["answered = probabilities.max(axis=1) >= model.model_head.abstain_threshold  # False: abstain"]
    return lines + ["```", ""]


def card_text(results: RunRecord, model_name: str) -> str:
    """The whole `README.md`: the YAML metadata block, then what a reader wants to know."""
    is_glove, test = results.is_glove, results.test
    lines = [
        f"# {model_name}",
        "",
        f"`{results.model}` sentiment classifier trained with sentibench on "
        f"{dataset_reference(results)[2]}.",
        "",
        "## Test results",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {metric.card_name} | {test[key]:.4f} |" for key, metric in METRICS.items() if key in test),
        "",
    ]
    confusion, label_names = results.confusion_matrix, results.label_names
    if confusion and label_names:
        lines += [
            "Confusion matrix on the test set (rows: true label, columns: predicted label):",
            "",
            "| | " + " | ".join(label_names) + " |",
            "|---" * (len(label_names) + 1) + "|",
            *(f"| **{name}** | " + " | ".join(str(n) for n in row) + " |" for name, row in zip(label_names, confusion)),
            "",
        ]
    lines += calibration_lines(results.calibration, setfit=results.is_setfit)
    lines += usage_lines(results, model_name)
    details = {
        "model type": results.model_type,
        "base model": results.get("base_model"),
        "word vectors": results.get("embeddings"),
        "vocabulary size": results.get("vocab_size"),
        "epochs": results.epochs,
        "training seconds": results.train_seconds,
        "parameters (trainable / total)": (
            f"{results.parameters['trainable']:,} / {results.parameters['total']:,}" if results.parameters else None
        ),
        "seed": results.seed,
        "library versions": ", ".join(f"{k} {v}" for k, v in (results.versions or {}).items()) or None,
    }
    lines += ["## Training", ""]
    lines += [f"- {name}: {value}" for name, value in details.items() if value is not None]
    if is_glove:
        lines += [
            "",
            "The word vectors are GloVe 6B (Pennington et al. 2014). The vocabulary keeps every GloVe word "
            "seen in training plus the most frequent GloVe words up to its size; other words map to `[UNK]`.",
        ]
    return f"---\n{card_data(results, model_name).to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"


def write_model_card(output_dir: str | os.PathLike, results: RunRecord, model_name: str | None = None) -> Path:
    """`README.md` in `output_dir`; the model is named by its Hub id when it has one, else by its folder."""
    model_name = model_name or Path(output_dir).absolute().name
    path = Path(output_dir) / CARD_FILE
    path.write_text(card_text(results, model_name), encoding="utf-8")
    return path
