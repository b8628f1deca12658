"""The results report: `python -m pipelines.report RUNS_DIR [--output DIR]`.

Gathers every `results.json` (written by `train.py` and `finetune.py`) and every
`evaluation.json` (written by `evaluate_pretrained.py`) under RUNS_DIR, and writes a folder
(default `RUNS_DIR/report`):

    report.md                     one table per study question, the figures below them
    report.json                   the rows behind the tables
    figures/curves-<run>.png      training and validation loss per epoch, best epoch marked
    figures/confusion-<run>.png   the test confusion matrix of each trained model
    figures/scores-<dataset>.png  accuracy, macro F1 and macro recall of every model

Learning curves come from the `trainer_state.json` that `fit_and_test` saves beside the model
(`Trainer.save_state`); for runs made before it did, from the newest
`checkpoint-*/trainer_state.json`. A run with neither is reported without a curve.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # figures drawn straight to files: no pyplot, no display backend
from matplotlib.ticker import MaxNLocator

from pipelines.reporting import markdown_table, read_results, write_json_atomic

EVALUATION_FILE = "evaluation.json"
STATE_FILE = "trainer_state.json"
METRIC_NAMES = {"accuracy": "accuracy", "f1_macro": "macro F1", "recall_macro": "macro recall", "f1_pn": "F1-PN"}
BAR_METRICS = ("accuracy", "f1_macro", "recall_macro")  # every dataset has these (F1-PN is SemEval's only)

# The GloVe models in the order a reader meets them.
GLOVE_ORDER = ["mean", "meanmax", "lstm", "bilstm", "attention", "multihead", "transformer"]

# (title, what it asks, which rows answer it). A model may sit in several tables, beside what it is compared with.
STUDY_QUESTIONS = [
    ("Pooling: mean vs mean‖max", "Does adding the maximum of the word vectors to their mean help?",
     lambda row: row["kind"] == "glove" and row["model"] in ("mean", "meanmax")),
    ("LSTM vs BiLSTM", "Does reading the sentence backwards too help the LSTM?",
     lambda row: row["kind"] == "glove" and row["model"] in ("lstm", "bilstm")),
    ("Self-attention", "A single self-attention head against the mean‖max pooling it refines.",
     lambda row: row["kind"] == "glove" and row["model"] in ("meanmax", "attention")),
    ("Multi-head attention", "Several heads in parallel against one head of the same width.",
     lambda row: row["kind"] == "glove" and row["model"] in ("attention", "multihead")),
    ("Transformer encoder", "A stack of blocks with a final LayerNorm against one multi-head block.",
     lambda row: row["kind"] == "glove" and row["model"] in ("multihead", "transformer")),
    ("Pretrained models as they are", "Sentiment models from the Hub, not trained on these data.",
     lambda row: row["kind"] == "pretrained"),
    ("Fine-tuned transformers", "Pretrained encoders fine-tuned on the training split.",
     lambda row: row["kind"] == "finetuned"),
    ("Other GloVe models", "GloVe models outside the questions above.",
     lambda row: row["kind"] == "glove" and row["model"] not in GLOVE_ORDER),
]  # fmt: skip


def slug(text: str) -> str:
    """A file-name-safe version of a run's folder."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


def find_trainer_state(run_dir: Path) -> Path | None:
    """The run's own `trainer_state.json`, else the newest checkpoint's."""
    if (run_dir / STATE_FILE).is_file():
        return run_dir / STATE_FILE
    checkpoints = [path for path in run_dir.glob("checkpoint-*/" + STATE_FILE) if path.parent.name.split("-")[-1].isdigit()]
    return max(checkpoints, key=lambda path: int(path.parent.name.split("-")[-1]), default=None)


def trained_row(results: dict, root: Path) -> dict:
    run_dir = Path(results["output_dir"])
    test = results.get("test", {})
    return {
        "kind": "glove" if str(results.get("model_type", "")).startswith("glove") else "finetuned",
        "model": str(results.get("model", run_dir.name)),
        "dataset": str(results.get("dataset", "?")),
        "run": run_dir.relative_to(root).as_posix() if run_dir != root else run_dir.name,
        **{key: test.get(key) for key in METRIC_NAMES},
        "epochs": results.get("epochs"),
        "train_seconds": results.get("train_seconds"),
        "label_names": results.get("label_names"),
        "confusion_matrix": results.get("confusion_matrix"),
        "trainer_state": str(state) if (state := find_trainer_state(run_dir)) else None,
    }


def pretrained_rows(path: Path, root: Path) -> list[dict]:
    """One row per model scored by `evaluate_pretrained.py`; metrics sit at the top of each row there."""
    evaluation = json.loads(path.read_text(encoding="utf-8"))
    run = path.parent.relative_to(root).as_posix() if path.parent != root else path.parent.name
    return [
        {
            "kind": "pretrained",
            "model": str(scored.get("model", "?")),
            "dataset": str(evaluation.get("dataset", "?")),
            "run": run,
            **{key: scored.get(key) for key in METRIC_NAMES},
            "epochs": None,
            "train_seconds": None,
            "label_names": evaluation.get("label_names"),
            "confusion_matrix": scored.get("confusion_matrix"),
            "trainer_state": None,
        }
        for scored in evaluation.get("results", [])
    ]


def gather_rows(root: Path) -> list[dict]:
    """Every result under `root`: trained runs and pretrained evaluations."""
    rows = [trained_row(results, root) for results in read_results(root)]
    for path in sorted(root.rglob(EVALUATION_FILE)):
        rows += pretrained_rows(path, root)
    return sorted(rows, key=sort_key)


def sort_key(row: dict) -> tuple:
    kinds = ["glove", "finetuned", "pretrained"]
    order = GLOVE_ORDER.index(row["model"]) if row["model"] in GLOVE_ORDER else len(GLOVE_ORDER)
    return (row["dataset"], kinds.index(row["kind"]), order, row["model"], row["run"])


def label(row: dict, rows: list[dict]) -> str:
    """The model's name, its run folder when the same model ran more than once on this dataset,
    and how it was made unless it is a GloVe model."""
    same = [other for other in rows if other["model"] == row["model"] and other["dataset"] == row["dataset"]]
    name = row["model"] if len(same) == 1 else f"{row['model']} ({row['run']})"
    return name if row["kind"] == "glove" else f"{name} [{row['kind']}]"


def plot_learning_curve(row: dict, path: Path) -> Path | None:
    state = json.loads(Path(row["trainer_state"]).read_text(encoding="utf-8"))
    history = state.get("log_history", [])
    train = [(entry["epoch"], entry["loss"]) for entry in history if "loss" in entry and "epoch" in entry]
    validation = [(entry["epoch"], entry["eval_loss"]) for entry in history if "eval_loss" in entry]
    if not train and not validation:
        return None
    fig = Figure(figsize=(6, 3.8))
    ax = fig.subplots()
    if train:
        ax.plot(*zip(*train), marker="o", markersize=3, label="training loss")
    if validation:
        ax.plot(*zip(*validation), marker="s", markersize=3, label="validation loss")
    best_step = state.get("best_global_step")
    best = [entry["epoch"] for entry in history if "eval_loss" in entry and entry.get("step") == best_step]
    if best:
        ax.axvline(best[0], color="grey", linestyle=":", label=f"best epoch ({best[0]:g}), restored")
    ax.set(xlabel="epoch", ylabel="cross-entropy loss", title=f"{row['dataset']} · {row['model']}  ({row['run']})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_confusion_matrix(row: dict, path: Path) -> Path:
    counts = np.asarray(row["confusion_matrix"])
    names = row["label_names"] or [str(i) for i in range(len(counts))]
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)  # colour by share of the true class
    fig = Figure(figsize=(1.3 * len(names) + 2.2, 1.2 * len(names) + 1.6))
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if shares[i, j] > 0.6 else "black"
            ax.text(j, i, f"{counts[i, j]}\n{shares[i, j]:.0%}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    title = f"{row['dataset']} · {row['model']}  ({row['run']})\naccuracy {row['accuracy']:.3f}"
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_scores(dataset: str, rows: list[dict], path: Path) -> Path:
    """Horizontal bars, one group per model, the value printed at the end of each bar."""
    rows = [row for row in rows if row["accuracy"] is not None]
    names = [label(row, rows) for row in rows]
    height = 0.8 / len(BAR_METRICS)
    fig = Figure(figsize=(8, 1.0 + 0.75 * len(rows)))
    ax = fig.subplots()
    for k, key in enumerate(BAR_METRICS):
        values = [row[key] if row[key] is not None else 0.0 for row in rows]
        positions = np.arange(len(rows)) + (k - (len(BAR_METRICS) - 1) / 2) * height
        bars = ax.barh(positions, values, height=height, label=METRIC_NAMES[key])
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=7)
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()  # first model on top
    ax.set_xlim(0.0, 1.08)
    ax.set_xlabel("test score")
    ax.set_title(f"{dataset}: test scores of every model", pad=26)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(BAR_METRICS), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def question_table(rows: list[dict]) -> str:
    metrics = [key for key in METRIC_NAMES if any(row[key] is not None for row in rows)]
    columns = [("dataset", "dataset"), ("model", "model"), *((key, METRIC_NAMES[key]) for key in metrics)]
    if any(row["epochs"] is not None for row in rows):
        columns += [("epochs", "epochs"), ("train_seconds", "train s")]
    columns.append(("run", "run"))
    shown = [
        {
            **row,
            "epochs": None if row["epochs"] is None else f"{row['epochs']:g}",
            "train_seconds": None if row["train_seconds"] is None else f"{row['train_seconds']:.0f}",
        }
        for row in rows
    ]
    return markdown_table(shown, columns)


def write_report(root: str | Path, output: str | Path | None = None) -> Path:
    """Tables and figures for every result under `root`; returns the path of `report.md`."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"runs folder not found: {root} (give the folder train.py/finetune.py wrote into)")
    output = Path(output) if output else root / "report"
    rows = gather_rows(root)
    if not rows:
        raise FileNotFoundError(f"no results.json or {EVALUATION_FILE} under {root}")
    figures = output / "figures"
    figures.mkdir(parents=True, exist_ok=True)

    lines = [f"# Results report: `{root}`", "", f"{len(rows)} results: test-set scores.", ""]
    for title, question, answers in STUDY_QUESTIONS:
        chosen = [row for row in rows if answers(row)]
        if not chosen and title == "Other GloVe models":
            continue
        lines += [f"## {title}", "", question, ""]
        lines += [question_table(chosen) if chosen else "_No runs yet._\n"]

    lines += ["## All models per dataset", ""]
    for dataset in sorted({row["dataset"] for row in rows}):
        path = plot_scores(dataset, [row for row in rows if row["dataset"] == dataset], figures / f"scores-{slug(dataset)}.png")
        lines += [f"![{dataset}](figures/{path.name})", ""]

    lines += ["## Learning curves", "", "Training and validation loss per epoch; the dotted line is the epoch restored.", ""]
    missing = []
    for row in rows:
        if row["kind"] == "pretrained":
            continue
        path = row["trainer_state"] and plot_learning_curve(row, figures / f"curves-{slug(row['run'])}.png")
        if path:
            lines += [f"![{row['run']}](figures/{path.name})", ""]
        else:
            missing.append(row["run"])
    if missing:
        lines += ["No `trainer_state.json` for: " + ", ".join(f"`{run}`" for run in missing) + ".", ""]

    lines += ["## Confusion matrices", "", "Rows: true label; columns: predicted label; colour: share of the true class.", ""]
    for row in rows:
        if row["confusion_matrix"]:
            path = plot_confusion_matrix(row, figures / f"confusion-{slug(row['run'])}-{slug(row['model'])}.png")
            lines += [f"![{row['run']}](figures/{path.name})", ""]

    report = output / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    write_json_atomic(output / "report.json", [{k: v for k, v in row.items() if k != "trainer_state"} for row in rows])
    return report


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.report", description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", help="folder searched for results.json and evaluation.json files")
    parser.add_argument("--output", help="report folder (default: RUNS_DIR/report)")
    args = parser.parse_args(argv)
    print(f"wrote {write_report(args.runs_dir, args.output)}")


if __name__ == "__main__":
    from pipelines.cli import run_cli

    sys.exit(run_cli(main))
