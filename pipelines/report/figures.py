"""The report's figures, drawn straight to files (no pyplot, no display backend): the scores of every
group per dataset, the learning curves of every group, each group's summed confusion counts, and the
cost/accuracy front (`report.front`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

from pipelines.report.collect import METRIC_NAMES, Group
from pipelines.statistics import confusion_counts

BAR_METRICS = ("accuracy", "f1_macro", "recall_macro")  # every dataset has these (F1-PN is SemEval's only)


def plot_learning_curves(group: Group, path: Path) -> Path | None:
    """Every run of the group: training loss solid, validation loss dashed, the restored epoch a dot."""
    fig = Figure(figsize=(6, 3.8))
    ax = fig.subplots()
    drawn = 0
    alpha = 0.9 if len(group.rows) == 1 else max(0.25, 1.0 / np.sqrt(len(group.rows)))
    for row in group.rows:
        if not row.trainer_state:
            continue
        state = json.loads(Path(row.trainer_state).read_text(encoding="utf-8"))
        history = state.get("log_history", [])
        train = [(entry["epoch"], entry["loss"]) for entry in history if "loss" in entry and "epoch" in entry]
        validation = [(entry["epoch"], entry["eval_loss"]) for entry in history if "eval_loss" in entry]
        if not train and not validation:
            continue
        first = drawn == 0
        if train:
            ax.plot(*zip(*train), color="C0", alpha=alpha, label="training loss" if first else None)
        if validation:
            ax.plot(*zip(*validation), color="C1", linestyle="--", alpha=alpha, label="validation loss" if first else None)
        best = [(e["epoch"], e["eval_loss"]) for e in history if "eval_loss" in e and e.get("step") == state.get("best_global_step")]
        if best:
            ax.plot(*best[0], "o", color="grey", markersize=4, label="epoch restored" if first else None)
        drawn += 1
    if not drawn:
        return None
    runs = f"{drawn} run" + ("s" if drawn > 1 else "")
    ax.set(xlabel="epoch", ylabel="cross-entropy loss", title=f"{group.dataset} · {group.name} · {group.protocol_label}  ({runs})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def group_confusion(group: Group) -> np.ndarray | None:
    """Confusion counts summed over the group's runs (from results, else from the predictions)."""
    total = None
    for row in group.rows:
        if row.confusion_matrix:
            counts = np.asarray(row.confusion_matrix)
        elif row.predictions and row.label_names:
            frame = pd.read_parquet(row.predictions, columns=["label", "prediction"])
            counts = confusion_counts(frame["label"], frame["prediction"], len(row.label_names))
        else:
            continue
        total = counts if total is None else total + counts
    return total


def plot_confusion_matrix(group: Group, counts: np.ndarray, path: Path) -> Path:
    names = group.rows[0].label_names or [str(i) for i in range(len(counts))]
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
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    runs = f"summed over {len(group.rows)} runs" if len(group.rows) > 1 else group.rows[0].run
    ax.set(xlabel="predicted", ylabel="true", title=f"{group.dataset} · {group.name}\n{runs}; accuracy {accuracy:.3f}")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_scores(dataset: str, groups: list[Group], summaries: dict, path: Path) -> Path:
    """Horizontal bars, one group of bars per model: the mean over seeds, ± std whiskers, the value printed."""
    groups = [g for g in groups if summaries[g.key]["accuracy"]["mean"] is not None]
    names = [f"{g.name}, {g.protocol_label}" for g in groups]
    height = 0.8 / len(BAR_METRICS)
    fig = Figure(figsize=(8, 1.0 + 0.75 * len(groups)))
    ax = fig.subplots()
    for k, key in enumerate(BAR_METRICS):
        values = [summaries[g.key][key]["mean"] or 0.0 for g in groups]
        errors = [summaries[g.key][key]["std"] or 0.0 for g in groups]
        positions = np.arange(len(groups)) + (k - (len(BAR_METRICS) - 1) / 2) * height
        bars = ax.barh(positions, values, height=height, xerr=errors, capsize=2, label=METRIC_NAMES[key])
        ax.bar_label(bars, fmt="%.3f", padding=8, fontsize=7)
    ax.set_yticks(range(len(groups)), names)
    ax.invert_yaxis()  # first model on top
    ax.set_xlim(0.0, 1.12)
    ax.set_xlabel("test score, mean over seeds (whiskers: ± std)")
    ax.set_title(f"{dataset}: test scores of every model", pad=26)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(BAR_METRICS), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_front(dataset: str, rows: list[dict], path: Path) -> Path:
    """The front's rows (`report.front.front_rows`): the official score with its 95% CI against test sentences per second (log axis),
    each point numbered as in the table (its `key`), the Pareto front (rows with `front` "yes") drawn as a step line."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for row in rows:
        ax.errorbar(
            row["sentences_per_second"], row["score"], yerr=[[row["score"] - row["ci_low"]], [row["ci_high"] - row["score"]]],
            fmt="o", color="C3" if row["front"] else "C0", capsize=3,
        )
        # Numbers, not names: GloVe models cluster at one speed; the table's # column names them.
        label = ax.annotate(str(row["key"]), (row["sentences_per_second"], row["score"]), fontsize=8, xytext=(4, 3), textcoords="offset points")
        label.set_in_layout(False)
    front = sorted((row["sentences_per_second"], row["score"]) for row in rows if row["front"])
    ax.step(*zip(*front), where="post", color="C3", linestyle="--", label="Pareto front")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on a short log axis
    ax.margins(x=0.2)  # room for the names beside the points
    ax.set_xlabel("test sentences per second, CPU, batch 64 (log)")
    ax.set_ylabel(f"test {METRIC_NAMES[rows[0]['metric']]} (95% CI)")
    ax.set_title(f"{dataset}: accuracy against throughput")
    ax.legend(loc="lower left")
    fig.savefig(path, dpi=120)
    return path


KIND_TITLES = {"glove": "GloVe models", "finetuned": "fine-tuned transformers", "pretrained": "as-is models"}


def calibration_panels(by_kind: dict[str, list], title: str) -> tuple[Figure, list]:
    kinds = [kind for kind in KIND_TITLES if by_kind.get(kind)]
    fig = Figure(figsize=(max(4.6 * len(kinds), 7.0), 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(kinds), sharey=True))
    fig.suptitle(title)
    return fig, list(zip(kinds, axes))


def plot_reliability(dataset: str, by_kind: dict[str, list], path: Path) -> Path:
    """Top-label reliability diagram, one panel per kind of model: for each group (its runs pooled), the accuracy
    against the mean confidence in 15 equal-width confidence bins (scikit-learn's `calibration_curve` on
    correct/incorrect against the top probability); the diagonal is perfect calibration.
    by_kind: {kind: [(name, [(probabilities (n, K), labels (n,)) per run])]}."""
    from sklearn.calibration import calibration_curve

    fig, panels = calibration_panels(by_kind, f"{dataset}: reliability (top-label, 15 equal-width bins, runs pooled)")
    for kind, ax in panels:
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
        for k, (name, runs) in enumerate(by_kind[kind]):
            confidence = np.concatenate([p.max(axis=1) for p, _ in runs])
            correct = np.concatenate([(p.argmax(axis=1) == y).astype(int) for p, y in runs])
            accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=15, strategy="uniform")
            style = "-" if ", " not in name else "--"  # variants (distilled, class-weighted) dashed
            ax.plot(mean_confidence, accuracy, style, marker="o", markersize=3, color=f"C{k % 10}", label=name)
        ax.set(title=KIND_TITLES[kind], xlabel="confidence (top probability)", xlim=(0, 1.01), ylim=(0, 1.01))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper left")
    panels[0][1].set_ylabel("accuracy")
    fig.savefig(path, dpi=110)
    return path


def plot_risk_coverage(dataset: str, by_kind: dict[str, list], path: Path) -> Path:
    """Risk–coverage curves (`pipelines.calibration.risk_coverage`), one panel per kind of model: the error rate on
    the most confident share of test sentences, each group's runs averaged at coverages 1%..100%."""
    from pipelines.calibration import risk_coverage

    grid = np.linspace(0.01, 1.0, 100)
    fig, panels = calibration_panels(by_kind, f"{dataset}: risk against coverage (answer the most confident first)")
    for kind, ax in panels:
        for k, (name, runs) in enumerate(by_kind[kind]):
            risks = []
            for probabilities, labels in runs:
                coverage, risk = risk_coverage(probabilities, labels)
                risks.append(risk[np.minimum(np.searchsorted(coverage, grid - 1e-12), len(risk) - 1)])  # first point covering it
            style = "-" if ", " not in name else "--"
            ax.plot(grid, np.mean(risks, axis=0), style, color=f"C{k % 10}", label=name)
        ax.set(title=KIND_TITLES[kind], xlabel="coverage (share answered)", xlim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper left")
    panels[0][1].set_ylabel("risk (error rate on the answered)")
    fig.savefig(path, dpi=110)
    return path
