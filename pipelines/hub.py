"""Hub-ready output folders: a model card written from `results.json`, and the push.

A finished run folder holds the weights (safetensors), the tokenizer, `results.json`, a
`README.md` model card whose metadata block the Hub reads (library, datasets, metrics,
`model-index` with the test results) and, for GloVe models, the configuration and modeling code
that `register_for_auto_class` copies next to the weights.

The `Trainer` never pushes by itself here: it would push half-trained checkpoints with a pickled
`training_args.bin`, and its own `push_to_hub` overwrites `README.md` with a card that knows
nothing of the test set. `push_folder` uploads the finished folder once, card and code included.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from huggingface_hub import EvalResult, HfApi, ModelCardData
from transformers import TrainingArguments

from pipelines.data import HUB_IDS

CARD_FILE = "README.md"

# What a run folder holds besides the shareable model: checkpoints (optimizer state in pickles),
# temporary files of an interrupted write, and Trainer logs.
PUSH_IGNORE_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "*.tmp", "_*", "runs/**", "*.bin", "*.pt", "*.pth"]

DATASET_TITLES = {
    "mr": "MR sentence polarity (Pang & Lee 2005), lab split: first 5,000 sentences of each class train, "
    "the other 331 + 331 test",
    "semeval2017a": "SemEval-2017 Task 4A (English tweets, 3 classes): train + dev files train, the gold file tests",
}

# results.json key -> (Hub metric id, pretty name, metric args)
CARD_METRICS = {
    "accuracy": ("accuracy", "Accuracy", None),
    "f1_macro": ("f1", "Macro F1", {"average": "macro"}),
    "recall_macro": ("recall", "Macro recall", {"average": "macro"}),
    "f1_pn": ("f1", "F1-PN (mean F1 of positive and negative)", {"average": "macro", "labels": ["negative", "positive"]}),
}


def without_trainer_push(training_args: TrainingArguments) -> TrainingArguments:
    """A copy of the arguments for the `Trainer`, which then neither creates a repo nor pushes."""
    trainer_args = copy.copy(training_args)
    trainer_args.push_to_hub = False
    return trainer_args


def dataset_reference(results: dict) -> tuple[str | None, str | None, str]:
    """(Hub id or None, Hub config, a title for readers) of the data a run used.

    A built-in benchmark names its Hub copy, a Hub dataset itself; local files have no Hub id,
    so the card names the files (and the held-out test share) in its text instead.
    """
    dataset, data = results.get("dataset"), results.get("data") or {}
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
                f"with seed {results.get('seed')}"
            )
        return None, None, title
    hub_id, hub_config = HUB_IDS.get(dataset, (dataset, None))
    return hub_id, hub_config, DATASET_TITLES.get(dataset, str(dataset))


def card_data(results: dict, model_name: str) -> ModelCardData:
    """The metadata block: library, task, datasets, metrics and `model-index` with the test results."""
    hub_id, hub_config, title = dataset_reference(results)
    test = results.get("test", {})
    eval_results = [
        EvalResult(
            task_type="text-classification",
            task_name="Sentiment classification",
            dataset_type=hub_id or str(results.get("dataset")),
            dataset_name=title,
            dataset_config=hub_config,
            dataset_split="test",
            metric_type=metric_id,
            metric_name=pretty,
            metric_args=args,
            metric_value=round(float(test[key]), 4),
        )
        for key, (metric_id, pretty, args) in CARD_METRICS.items()
        if key in test
    ]
    is_glove = str(results.get("model_type", "")).startswith("glove")
    return ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag="text-classification",
        language="en",
        tags=["sentibench", "sentiment-analysis", *(["glove", "custom_code"] if is_glove else [])],
        datasets=[hub_id] if hub_id else None,
        metrics=sorted({metric_id for key, (metric_id, _, _) in CARD_METRICS.items() if key in test}),
        base_model=results.get("base_model"),
        eval_results=eval_results or None,
    )


def card_text(results: dict, model_name: str) -> str:
    """The whole `README.md`: the YAML metadata block, then what a reader wants to know."""
    is_glove = str(results.get("model_type", "")).startswith("glove")
    test = results.get("test", {})
    lines = [
        f"# {model_name}",
        "",
        f"`{results.get('model', '?')}` sentiment classifier trained with sentibench on "
        f"{dataset_reference(results)[2]}.",
        "",
        "## Test results",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {CARD_METRICS[key][1]} | {test[key]:.4f} |" for key in CARD_METRICS if key in test),
        "",
    ]
    confusion, label_names = results.get("confusion_matrix"), results.get("label_names")
    if confusion and label_names:
        lines += [
            "Confusion matrix on the test set (rows: true label, columns: predicted label):",
            "",
            "| | " + " | ".join(label_names) + " |",
            "|---" * (len(label_names) + 1) + "|",
            *(f"| **{name}** | " + " | ".join(str(n) for n in row) + " |" for name, row in zip(label_names, confusion)),
            "",
        ]
    lines += ["## Usage", "", "```python", "from transformers import pipeline", ""]
    if is_glove:
        lines += [
            "# The modeling code travels with the weights (configuration_glove.py, modeling_*.py).",
            f'classifier = pipeline("text-classification", model="{model_name}", trust_remote_code=True)',
        ]
    else:
        lines += [f'classifier = pipeline("text-classification", model="{model_name}")']
    lines += ['classifier("a gorgeous, witty, seductive movie")', "```", ""]
    details = {
        "model type": results.get("model_type"),
        "base model": results.get("base_model"),
        "word vectors": results.get("embeddings"),
        "vocabulary size": results.get("vocab_size"),
        "epochs": results.get("epochs"),
        "training seconds": results.get("train_seconds"),
        "parameters (trainable / total)": (
            f"{results['parameters']['trainable']:,} / {results['parameters']['total']:,}" if results.get("parameters") else None
        ),
        "seed": results.get("seed"),
        "library versions": ", ".join(f"{k} {v}" for k, v in results.get("versions", {}).items()) or None,
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


def write_model_card(output_dir: str | os.PathLike, results: dict, model_name: str | None = None) -> Path:
    """`README.md` in `output_dir`; the model is named by its Hub id when it has one, else by its folder."""
    model_name = model_name or Path(output_dir).absolute().name
    path = Path(output_dir) / CARD_FILE
    path.write_text(card_text(results, model_name), encoding="utf-8")
    return path


def hub_repo_id(training_args: TrainingArguments) -> str:
    """`--hub_model_id`, or the output folder's name as the `Trainer` would choose."""
    return training_args.hub_model_id or Path(training_args.output_dir).absolute().name


def push_folder(training_args: TrainingArguments, commit_message: str = "sentibench: trained model and results"):
    """Create the repo if needed and upload the finished folder: weights, tokenizer, code, card, results."""
    api = HfApi(token=training_args.hub_token)
    repo = api.create_repo(hub_repo_id(training_args), private=training_args.hub_private_repo, exist_ok=True)
    return api.upload_folder(
        repo_id=repo.repo_id,
        folder_path=training_args.output_dir,
        commit_message=commit_message,
        revision=training_args.hub_revision,
        ignore_patterns=PUSH_IGNORE_PATTERNS,
    )
