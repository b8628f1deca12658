"""The Hub push of a finished output folder, its model card (`pipelines.model_card`) included.

A finished run folder holds the weights (safetensors), the tokenizer, `results.json`, a
`README.md` model card and, for GloVe models, the configuration and modeling code that
`register_for_auto_class` copies next to the weights.

The `Trainer` never pushes by itself here: it would push half-trained checkpoints with a pickled
`training_args.bin`, and its own `push_to_hub` overwrites `README.md` with a card that knows
nothing of the test set. `push_folder` uploads the finished folder once, card and code included;
`check_push` says before training what a push would lack (a reachable Hub, `pipelines.hub_access`,
and a token), and `python -m pipelines.hub push RUN_DIR --hub_model_id you/name` pushes a
finished folder later.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import huggingface_hub
from huggingface_hub import HfApi
from transformers import TrainingArguments

from pipelines import hub_access
from pipelines.cli import leading_positionals, parse
from pipelines.errors import OptionError, PathError, one_line
from pipelines.model_card import write_model_card
from pipelines.runs.layout import RESULTS_FILE
from pipelines.runs.record import RunRecord

# What a failed request to the Hub raises: `OSError` (huggingface_hub's `HfHubHTTPError` is one) and its HTTP client's
# transport errors (a refused connection, a timeout), httpx's under huggingface_hub 1.x and httpx2's under 2.x.
try:
    import httpx2

    HUB_REQUEST_ERRORS: tuple = (OSError, httpx.HTTPError, httpx2.HTTPError)
except ImportError:
    HUB_REQUEST_ERRORS = (OSError, httpx.HTTPError)

# What a run folder holds besides the shareable model: checkpoints (optimizer state in pickles),
# temporary files of an interrupted write, and Trainer logs.
PUSH_IGNORE_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "*.tmp", "_*", ".run*", "runs/**", "*.bin", "*.pt", "*.pth", ".calibrate-pending/**"]


def without_trainer_push(training_args: TrainingArguments) -> TrainingArguments:
    """A copy of the arguments for the `Trainer`, which then neither creates a repo nor pushes."""
    trainer_args = copy.copy(training_args)
    trainer_args.push_to_hub = False
    return trainer_args


def hub_repo_id(hub_model_id: str | None, output_dir: str | os.PathLike) -> str:
    """`--hub_model_id`, or the output folder's name as the `Trainer` would choose."""
    return hub_model_id or Path(output_dir).absolute().name


def push_command(folder: str | os.PathLike, repo_id: str) -> str:
    return f"python -m pipelines.hub push {folder} --hub_model_id {repo_id}"


def check_push(push_to_hub: bool, output_dir: str, hub_model_id: str | None, hub_token: str | None) -> None:
    """Before any training: `--push_to_hub` needs a reachable Hub and a token (`OptionError` if not).

    The arguments are the `TrainingArguments` of those names. The repo id is `--hub_model_id` or the
    folder's name (`hub_repo_id`); without a namespace it lands in the token owner's account.
    """
    if not push_to_hub:
        return
    later = f"train without --push_to_hub and push the folder later: {push_command(output_dir, hub_repo_id(hub_model_id, output_dir))}"
    if not hub_access.hub_reachable():
        raise OptionError(f"--push_to_hub: the Hugging Face Hub is unreachable ({hub_access.unreachable_reason()}); {later}")
    if not (hub_token or huggingface_hub.get_token()):
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


def push_run(output_dir: str, repo_id: str, token: str | None = None, private: bool | None = None, revision: str | None = None):
    """`push_folder` for a run that just finished; a failed push says the run is saved and how to retry."""
    try:
        return push_folder(output_dir, repo_id, token, private, revision)
    except HUB_REQUEST_ERRORS as err:  # the network or the Hub said no
        raise PathError(
            f"push to {repo_id} failed ({one_line(err)}); the run is saved in {output_dir}: "
            f"retry with {push_command(output_dir, repo_id)}"
        ) from err


@dataclass
class PushArguments:
    """`python -m pipelines.hub push RUN_DIR`: a finished run folder and where it goes on the Hub."""

    run_dir: str = field(metadata={"help": "a finished train.py / finetune.py output folder (it holds results.json; also the first argument)"})
    hub_model_id: str | None = field(default=None, metadata={"help": "you/name; default: the folder's name in the token owner's account"})
    hub_token: str | None = field(default=None, metadata={"help": "default: the saved login or HF_TOKEN"})
    private: bool = field(default=False, metadata={"help": "create the repo as private"})


def push_existing(args: PushArguments) -> None:
    """A finished run folder to the Hub, its model card rewritten to name the repo.

    Raises `PathError` for a folder that is not a finished run or a push the network or the Hub refused (a token
    without write access, a namespace not yours), `OptionError` when the Hub or a token is missing.
    """
    folder = Path(args.run_dir)
    if not (folder / RESULTS_FILE).is_file():
        if not folder.is_dir():
            raise PathError(f"{folder}: no such run folder")
        raise PathError(f"{folder} is not a finished run (no {RESULTS_FILE}); finish or rerun it first")
    repo_id = args.hub_model_id or folder.absolute().name
    if not hub_access.hub_reachable():
        raise OptionError(f"push: the Hugging Face Hub is unreachable ({hub_access.unreachable_reason()}); nothing was sent")
    if not (args.hub_token or huggingface_hub.get_token()):
        raise OptionError("push needs a Hub token: run `hf auth login`, set HF_TOKEN or give --hub_token")
    write_model_card(folder, RunRecord.read(folder), repo_id)
    try:
        push_folder(folder, repo_id, args.hub_token, args.private or None)
    except HUB_REQUEST_ERRORS as err:
        raise PathError(f"push of {folder} to {repo_id} failed ({one_line(err)})") from err
    print(f"pushed {folder} to {huggingface_hub.constants.ENDPOINT}/{repo_id}")


USAGE = "usage: python -m pipelines.hub push RUN_DIR [--hub_model_id you/name] [--hub_token T] [--private]"


def main(argv: list[str]) -> None:
    if argv and argv[0] in ("-h", "--help"):
        print(f"{USAGE}\n\nPush a finished run folder to the Hugging Face Hub; `python -m pipelines.hub push --help` lists the options.")
        return
    if not argv or argv[0] != "push":
        raise OptionError(USAGE)
    (args,) = parse((PushArguments,), leading_positionals(argv[1:], "--run_dir"))
    push_existing(args)


if __name__ == "__main__":
    from pipelines.cli import run_cli

    sys.exit(run_cli(main))
