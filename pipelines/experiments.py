"""Train every GloVe model on every dataset with the `train_glove` flow and gather one table.

    python -m pipelines.experiments --data_dir ../shared/datasets [--train_embeddings] [--datasets mr]

The architectures keep their config defaults (dropout, widths, heads); what changes per dataset
is the training budget: SemEval-2017 train is about 40k tweets, four times MR, so its runs take
larger batches and stop after a few epochs, which keeps the whole grid within tens of minutes on
two CPU cores.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import models
from pipelines.cli import parse, run_cli
from pipelines.data import DATASET_NAMES
from pipelines.reporting import library_versions, markdown_table, write_json_atomic
from pipelines.training import DataArguments, GloveModelArguments, GloveTrainingArguments, train_glove

# Training budget per dataset, on top of `GloveTrainingArguments` (lr 1e-3, early stopping on the
# validation loss with patience 5). MR: up to 50 epochs, early stopping ends it. SemEval: at most
# 4 epochs of batch 128, where the validation loss has mostly flattened for these models.
DATASET_TRAINING = {
    "mr": {"num_train_epochs": 50, "per_device_train_batch_size": 64},
    "semeval2017a": {"num_train_epochs": 4, "per_device_train_batch_size": 128},
}

COLUMNS = [
    ("dataset", "dataset"),
    ("model", "model"),
    ("accuracy", "accuracy"),
    ("f1_macro", "macro F1"),
    ("recall_macro", "macro recall"),
    ("f1_pn", "F1-PN"),
    ("epochs", "epochs"),
    ("train_seconds", "train s"),
    ("trainable_parameters", "trainable params"),
    ("total_parameters", "total params"),
]


@dataclass
class ExperimentArguments:
    models: str = field(default=",".join(models.GLOVE_MODELS), metadata={"help": "comma-separated --model names"})
    datasets: str = field(default=",".join(DATASET_NAMES), metadata={"help": "comma-separated dataset names"})
    data_dir: str | None = field(default=None, metadata={"help": "folder with MR/ and Semeval2017A/ as released"})
    embeddings: str | None = field(default=None, metadata={"help": "GloVe text file; default: the GloVe package"})
    train_embeddings: bool = field(default=False, metadata={"help": "fine-tune the word vectors too"})
    runs_dir: str = field(default="runs/glove", metadata={"help": "checkpoints go to <runs_dir>/<dataset>-<model>"})
    results: str = field(default="results/glove_models", metadata={"help": "writes <results>.md and <results>.json"})
    seed: int = field(default=42, metadata={"help": "seed of every run (validation split and initialization)"})

    def __post_init__(self):
        self.model_names = [name.strip() for name in self.models.split(",") if name.strip()]
        self.dataset_names = [name.strip() for name in self.datasets.split(",") if name.strip()]
        for name in self.model_names:
            models.model_type_for(name)
        for name in self.dataset_names:
            DataArguments(dataset=name)


def table_row(results: dict) -> dict:
    return {
        "dataset": results["dataset"],
        "model": results["model"],
        **results["test"],
        "epochs": int(results["epochs"]) if float(results["epochs"]).is_integer() else round(results["epochs"], 2),
        "train_seconds": round(results["train_seconds"]),
        "trainable_parameters": results["parameters"]["trainable"],
        "total_parameters": results["parameters"]["total"],
        "output_dir": results["output_dir"],
    }


def write_tables(args: ExperimentArguments, rows: list[dict], command: str, started: float) -> None:
    """Rewritten after every run, so an interrupted grid still leaves the finished rows."""
    setting = {
        "command": command,
        "seed": args.seed,
        "train_embeddings": args.train_embeddings,
        "dataset_training": {name: DATASET_TRAINING[name] for name in args.dataset_names},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}",
        "total_seconds": round(time.perf_counter() - started, 1),
        "versions": library_versions(),
    }
    write_json_atomic(f"{args.results}.json", {**setting, "rows": rows})
    columns = [column for column in COLUMNS if any(column[0] in row for row in rows)]
    markdown = (
        "# GloVe models: test results\n\n"
        f"Made by:\n\n```\n{command}\n```\n\n"
        f"Seed {args.seed}; {'trainable' if args.train_embeddings else 'frozen'} GloVe vectors; "
        f"{setting['machine']}; {setting['total_seconds']} s in all. "
        "Test metrics of the checkpoint with the best validation loss; training budget per dataset: "
        + "; ".join(f"{name} {budget}" for name, budget in setting["dataset_training"].items())
        + ".\n\n"
        + markdown_table(rows, columns)
    )
    Path(f"{args.results}.md").write_text(markdown, encoding="utf-8")


def run_experiments(args: ExperimentArguments, command: str) -> list[dict]:
    started = time.perf_counter()
    rows = []
    for dataset in args.dataset_names:
        for model in args.model_names:
            output_dir = str(Path(args.runs_dir) / f"{dataset}-{model}")
            print(f"== {dataset} {model} -> {output_dir}", flush=True)
            results = train_glove(
                GloveModelArguments(model=model, embeddings=args.embeddings, train_embeddings=args.train_embeddings),
                DataArguments(dataset=dataset, data_dir=args.data_dir),
                GloveTrainingArguments(
                    output_dir=output_dir,
                    seed=args.seed,
                    report_to="none",
                    disable_tqdm=True,
                    **DATASET_TRAINING[dataset],
                ),
            )
            rows.append(table_row({**results, "output_dir": output_dir}))
            write_tables(args, rows, command, started)
    return rows


def main(argv: list[str]) -> None:
    (args,) = parse((ExperimentArguments,), argv)
    environment = [f"{name}={os.environ[name]}" for name in ("HF_HUB_OFFLINE", "OMP_NUM_THREADS") if name in os.environ]
    run_experiments(args, command=shlex.join([*environment, "python", "-m", "pipelines.experiments", *argv]))


if __name__ == "__main__":
    sys.exit(run_cli(main))
