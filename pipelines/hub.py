"""Hub-ready output folders: a model card written from `results.json`, and the push.

A finished run folder holds the weights (safetensors), the tokenizer, `results.json`, a
`README.md` model card whose metadata block the Hub reads (library, datasets, metrics,
`model-index` with the test results) and, for GloVe models, the configuration and modeling code
that `register_for_auto_class` copies next to the weights.

The `Trainer` never pushes by itself here: it would push half-trained checkpoints with a pickled
`training_args.bin`, and its own `push_to_hub` overwrites `README.md` with a card that knows
nothing of the test set. `push_folder` uploads the finished folder once, card and code included;
`check_push` says before training what a push would lack, and
`python -m pipelines.hub push RUN_DIR --hub_model_id you/name` pushes a finished folder later.

Offline, every Hub download retries for about a minute before it fails. `hub_reachable` asks
once, with a short timeout (or not at all when `HF_HUB_OFFLINE` is set), and
`model_load_kwargs` / `require_hub` (and, for Hub datasets, `pipelines.data.load_hub_or_cache`)
turn an unreachable Hub into a load from the local cache, or into one line that names the model or
data and the local alternative, in seconds.
"""

from __future__ import annotations

import copy
import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import huggingface_hub
from huggingface_hub import EvalResult, HfApi, ModelCardData
from huggingface_hub.utils import get_session
from transformers import TrainingArguments

from pipelines.benchmarks import BENCHMARKS
from pipelines.cli import leading_positionals, parse
from pipelines.errors import OptionError, PathError
from pipelines.metrics import METRICS
from pipelines.run_files import RESULTS_FILE, RunRecord

CARD_FILE = "README.md"

# Seconds the one reachability probe waits: a DNS failure answers at once, a silent firewall not.
PROBE_TIMEOUT_S = 3.0

# What a run folder holds besides the shareable model: checkpoints (optimizer state in pickles),
# temporary files of an interrupted write, and Trainer logs.
PUSH_IGNORE_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "*.tmp", "_*", ".run*", "runs/**", "*.bin", "*.pt", "*.pth"]



class HubUnreachable(PathError):
    """The Hub cannot be reached (offline, `HF_HUB_OFFLINE`, no route) and nothing cached stands in."""


@functools.cache
def hub_reachable() -> bool:
    """Whether the Hub answers, asked once per process with a `PROBE_TIMEOUT_S` timeout.

    `HF_HUB_OFFLINE=1` answers no without asking. Any HTTP answer counts as reachable (the
    downloads themselves report a missing repo or a refused token).
    """
    if huggingface_hub.is_offline_mode():
        return False
    try:
        get_session().head(huggingface_hub.constants.ENDPOINT, timeout=PROBE_TIMEOUT_S)
    except Exception:  # any transport failure (DNS, refused, timeout, proxy) means: not reachable now
        return False
    return True


def unreachable_reason() -> str:
    if huggingface_hub.is_offline_mode():
        return "HF_HUB_OFFLINE is set"
    return f"{huggingface_hub.constants.ENDPOINT} did not answer within {PROBE_TIMEOUT_S:g} s"


def require_hub(what: str, alternative: str) -> None:
    """Raise `HubUnreachable` naming `what` needed the Hub and the `alternative` that does not.

    For the data flows: `require_hub("the Hub dataset rotten_tomatoes", "give --data_dir or --train_file")`.
    """
    if not hub_reachable():
        raise unreachable_error(what, alternative)


def unreachable_error(what: str, alternative: str) -> HubUnreachable:
    """`HubUnreachable`: `what` (e.g. "model 'x' is not in the local cache and") needs the Hub, why it is unreachable, the `alternative`."""
    return HubUnreachable(f"{what} needs the Hugging Face Hub, which is unreachable ({unreachable_reason()}); {alternative}")


def model_load_kwargs(model: str, alternative: str) -> dict:
    """Extra `from_pretrained` arguments for `model` (a Hub id or a local folder).

    A local folder, or a reachable Hub: none. An unreachable Hub with the model in the local
    cache: `local_files_only=True`, which loads it without a minute of retries. Otherwise
    `HubUnreachable`, naming the model and `alternative` (e.g. "use --models <run folder>").
    """
    if Path(model).expanduser().is_dir() or hub_reachable():
        return {}
    try:
        cached = huggingface_hub.try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a valid repo id either: nothing can stand in
        cached = None
    if isinstance(cached, str):
        return {"local_files_only": True}
    raise unreachable_error(f"model {model!r} is not in the local cache and", alternative)


def without_trainer_push(training_args: TrainingArguments) -> TrainingArguments:
    """A copy of the arguments for the `Trainer`, which then neither creates a repo nor pushes."""
    trainer_args = copy.copy(training_args)
    trainer_args.push_to_hub = False
    return trainer_args


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
    """The metadata block: library, task, datasets, metrics and `model-index` with the test results."""
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
            metric_args=metric.hub_args,
            metric_value=round(float(test[key]), 4),
        )
        for key, metric in METRICS.items()
        if key in test
    ]
    is_glove = results.is_glove
    return ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag="text-classification",
        language="en",
        tags=["sentibench", "sentiment-analysis", *(["glove", "custom_code"] if is_glove else [])],
        datasets=[hub_id] if hub_id else None,
        metrics=sorted({metric.hub_id for key, metric in METRICS.items() if key in test}),
        base_model=results.get("base_model"),
        eval_results=eval_results or None,
    )


def calibration_lines(calibration: dict | None) -> list[str]:
    """The card's "Calibration" section from `results.json`'s `calibration` (`pipelines.calibration`):
    the temperature, test ECE / Brier / NLL before and after scaling, and the abstention threshold;
    a run without temperature scaling says how to add it."""
    if not calibration:
        return ["## Calibration", "", "No temperature scaling: the probabilities are the model's raw softmax "
                "(`python -m pipelines.calibrate RUN_DIR` adds it to a run that saved its validation predictions).", ""]  # fmt: skip
    before, after = calibration["test_before"], calibration["test_after"]
    lines = [
        "## Calibration", "",
        f"Temperature scaling (Guo et al. 2017): the logits are divided by T = {calibration['temperature']:.3f}, fitted on "
        "the validation split by minimising the negative log-likelihood; the test set was not used. Predictions are unchanged.", "",
        "| test score | before scaling | after scaling |", "|---|---|---|",
        f"| expected calibration error (top-label, 15 equal-width bins) | {before['ece']:.4f} | {after['ece']:.4f} |",
        f"| Brier score (sum over classes) | {before['brier']:.4f} | {after['brier']:.4f} |",
        f"| negative log-likelihood (nats) | {before['nll']:.4f} | {after['nll']:.4f} |", "",
    ]  # fmt: skip
    abstain = calibration.get("abstain")
    if abstain:
        test = abstain["test"]
        accuracy = f"{test['accuracy']:.4f}" if test["accuracy"] is not None else "none answered"
        lines += [
            f"Abstaining: `config.abstain_threshold` = {abstain['threshold']:.4f}, chosen on validation to answer "
            f"{abstain['validation_coverage']:.0%} of its sentences; answer only when the top score is at least it. On test it "
            f"answers {test['coverage']:.1%} of sentences with accuracy {accuracy}.", "",
        ]  # fmt: skip
    return lines


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
    lines += calibration_lines(results.calibration)
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


def hub_repo_id(training_args: TrainingArguments) -> str:
    """`--hub_model_id`, or the output folder's name as the `Trainer` would choose."""
    return training_args.hub_model_id or Path(training_args.output_dir).absolute().name


def push_command(folder: str | os.PathLike, repo_id: str) -> str:
    return f"python -m pipelines.hub push {folder} --hub_model_id {repo_id}"


def check_push(training_args: TrainingArguments) -> None:
    """Before any training: `--push_to_hub` needs a reachable Hub and a token (`OptionError` if not).

    The repo id is `--hub_model_id` or the folder's name; without a namespace it lands in the
    token owner's account.
    """
    if not training_args.push_to_hub:
        return
    later = f"train without --push_to_hub and push the folder later: {push_command(training_args.output_dir, hub_repo_id(training_args))}"
    if not hub_reachable():
        raise OptionError(f"--push_to_hub: the Hugging Face Hub is unreachable ({unreachable_reason()}); {later}")
    if not (training_args.hub_token or huggingface_hub.get_token()):
        raise OptionError(f"--push_to_hub needs a Hub token: run `hf auth login`, set HF_TOKEN or give --hub_token; or {later}")


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str = "sentibench: trained model and results",
):
    """Create the repo if needed and upload the finished folder: weights, tokenizer, code, card, results."""
    api = HfApi(token=token)
    repo = api.create_repo(repo_id, private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo.repo_id,
        folder_path=str(folder),
        commit_message=commit_message,
        revision=revision,
        ignore_patterns=PUSH_IGNORE_PATTERNS,
    )


def push_run(training_args: TrainingArguments):
    """`push_folder` for a run that just finished; a failed push says the run is saved and how to retry."""
    repo_id = hub_repo_id(training_args)
    try:
        return push_folder(
            training_args.output_dir, repo_id, training_args.hub_token, training_args.hub_private_repo, training_args.hub_revision
        )
    except (OSError, httpx.HTTPError) as err:  # the network or the Hub said no
        raise PathError(
            f"push to {repo_id} failed ({one_line(err)}); the run is saved in {training_args.output_dir}: "
            f"retry with {push_command(training_args.output_dir, repo_id)}"
        ) from err


def one_line(err: BaseException) -> str:
    """The first line of an error (Hub errors run to a paragraph)."""
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)[:300]


@dataclass
class PushArguments:
    """`python -m pipelines.hub push RUN_DIR`: a finished run folder and where it goes on the Hub."""

    run_dir: str = field(metadata={"help": "a finished train.py / finetune.py output folder (it holds results.json; also the first argument)"})
    hub_model_id: str | None = field(default=None, metadata={"help": "you/name; default: the folder's name in the token owner's account"})
    hub_token: str | None = field(default=None, metadata={"help": "default: the saved login or HF_TOKEN"})
    private: bool = field(default=False, metadata={"help": "create the repo as private"})


def push_existing(args: PushArguments) -> None:
    """A finished run folder to the Hub, its model card rewritten to name the repo.

    Raises `PathError` for a folder that is not a finished run, `OptionError` when the Hub or a token is missing.
    """
    folder = Path(args.run_dir)
    if not (folder / RESULTS_FILE).is_file():
        raise PathError(f"{folder} is not a finished run (no {RESULTS_FILE}); finish or rerun it first")
    repo_id = args.hub_model_id or folder.absolute().name
    if not hub_reachable():
        raise OptionError(f"push: the Hugging Face Hub is unreachable ({unreachable_reason()}); nothing was sent")
    if not (args.hub_token or huggingface_hub.get_token()):
        raise OptionError("push needs a Hub token: run `hf auth login`, set HF_TOKEN or give --hub_token")
    write_model_card(folder, RunRecord.read(folder), repo_id)
    push_folder(folder, repo_id, args.hub_token, args.private or None)
    print(f"pushed {folder} to {huggingface_hub.constants.ENDPOINT}/{repo_id}")


def main(argv: list[str]) -> None:
    if not argv or argv[0] != "push":
        raise OptionError("usage: python -m pipelines.hub push RUN_DIR [--hub_model_id you/name] [--hub_token T] [--private]")
    (args,) = parse((PushArguments,), leading_positionals(argv[1:], "--run_dir"))
    push_existing(args)


if __name__ == "__main__":
    from pipelines.cli import run_cli

    sys.exit(run_cli(main))
