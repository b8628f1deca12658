"""The results report: `python -m pipelines.report RUNS_DIR [--output DIR]`.

Gathers every `results.json` (written by `train.py` and `finetune.py`) and every
`evaluation.json` (written by `evaluate_pretrained.py`) under RUNS_DIR, and writes a folder
(default `RUNS_DIR/report`):

    report.md                         per dataset: scores over seeds, the study questions answered
                                      with a paired test, model selection; then figures and every run
    report.json                       the numbers behind the tables, and every run
    figures/scores-<dataset>.png      mean accuracy, macro F1 and macro recall of every group, ± std
    figures/curves-<group>.png        training and validation loss per epoch, every run of the group
    figures/confusion-<group>.png     the test confusion counts summed over the runs of a group

Runs are grouped by (dataset, model, setting, protocol): the setting is how the model was made
("trained vectors" / "frozen vectors" for GloVe models, "fine-tuned", or "as is" for pretrained
models scored by `evaluate_pretrained.py`), the protocol the fixed test split ("lab split") or
k-fold cross-validation. A group's runs differ by seed (and fold). Comparisons read each run's
`predictions.parquet`; the statistics live in `pipelines/statistics.py`.

Learning curves come from the `trainer_state.json` that `fit_and_test` saves beside the model
(`Trainer.save_state`); for runs made before it did, from the newest
`checkpoint-*/trainer_state.json`. A run with neither is reported without a curve.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # figures drawn straight to files: no pyplot, no display backend
from matplotlib.ticker import MaxNLocator

from pipelines.data import LABEL_NAMES
from pipelines.metrics import official_metric
from pipelines.reporting import RESULTS_FILE, markdown_table, write_json_atomic
from pipelines.statistics import (
    ALPHA,
    N_RESAMPLES,
    RESAMPLING_SEED,
    confusion_counts,
    holm,
    paired_comparison,
    paired_t,
    summarize,
    verdict,
)

EVALUATION_FILE = "evaluation.json"
STATE_FILE = "trainer_state.json"
METRIC_NAMES = {"accuracy": "accuracy", "f1_macro": "macro F1", "recall_macro": "macro recall", "f1_pn": "F1-PN"}
BAR_METRICS = ("accuracy", "f1_macro", "recall_macro")  # every dataset has these (F1-PN is SemEval's only)

# The GloVe models in the order a reader meets them.
GLOVE_ORDER = ["mean", "meanmax", "lstm", "bilstm", "attention", "multihead", "transformer"]
KINDS = ["glove", "finetuned", "pretrained"]
SETTINGS = ["trained vectors", "frozen vectors", "fine-tuned", "as is"]

# The study questions: (question, A, B); the difference reported is A − B, A the richer model.
STUDY_QUESTIONS = [
    ("mean vs mean‖max", "meanmax", "mean"),
    ("LSTM vs BiLSTM", "bilstm", "lstm"),
    ("self-attention vs mean‖max", "attention", "meanmax"),
    ("multi-head vs one head", "multihead", "attention"),
    ("Transformer vs one multi-head block", "transformer", "multihead"),
]


def slug(text: str) -> str:
    """A file-name-safe version of a run's folder."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


def find_trainer_state(run_dir: Path) -> Path | None:
    """The run's own `trainer_state.json`, else the newest checkpoint's."""
    if (run_dir / STATE_FILE).is_file():
        return run_dir / STATE_FILE
    checkpoints = [path for path in run_dir.glob("checkpoint-*/" + STATE_FILE) if path.parent.name.split("-")[-1].isdigit()]
    return max(checkpoints, key=lambda path: int(path.parent.name.split("-")[-1]), default=None)


def relative_name(folder: Path, root: Path) -> str:
    return folder.relative_to(root).as_posix() if folder != root else folder.name


def glove_vectors(results: dict) -> str:
    """"trained" or "frozen"; runs from before `vectors` was recorded tell it by their parameter counts."""
    if "vectors" in results:
        return str(results["vectors"])
    parameters = results.get("parameters") or {}
    if "trainable" in parameters and "total" in parameters:
        return "trained" if parameters["trainable"] == parameters["total"] else "frozen"
    return "frozen"  # train.py's default


def trained_row(results: dict, run_dir: Path, root: Path) -> dict:
    test = results.get("test", {})
    glove = str(results.get("model_type", "")).startswith("glove")
    predictions = run_dir / results["predictions_file"] if results.get("predictions_file") else None
    return {
        "kind": "glove" if glove else "finetuned",
        "model": str(results.get("model", run_dir.name)),
        "dataset": str(results.get("dataset", "?")),
        "setting": f"{glove_vectors(results)} vectors" if glove else "fine-tuned",
        "protocol": str(results.get("protocol", "lab")),
        "seed": results.get("seed"),
        "fold": results.get("fold"),
        "cv_folds": results.get("cv_folds"),
        "run": relative_name(run_dir, root),
        **{key: test.get(key) for key in METRIC_NAMES},
        "epochs": results.get("epochs"),
        "train_seconds": results.get("train_seconds"),
        "label_names": results.get("label_names"),
        "confusion_matrix": results.get("confusion_matrix"),
        "selection": results.get("selection") or None,
        "predictions": str(predictions) if predictions and predictions.is_file() else None,
        "trainer_state": str(state) if (state := find_trainer_state(run_dir)) else None,
    }


def pretrained_rows(path: Path, root: Path) -> list[dict]:
    """One row per model scored by `evaluate_pretrained.py`; metrics sit at the top of each row there."""
    evaluation = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for scored in evaluation.get("results", []):
        predictions = path.parent / scored["predictions_file"] if scored.get("predictions_file") else None
        rows.append({
            "kind": "pretrained",
            "model": str(scored.get("model", "?")),
            "dataset": str(evaluation.get("dataset", "?")),
            "setting": "as is",
            "protocol": "lab",
            "seed": None,
            "fold": None,
            "cv_folds": None,
            "run": relative_name(path.parent, root),
            **{key: scored.get(key) for key in METRIC_NAMES},
            "epochs": None,
            "train_seconds": None,
            "label_names": evaluation.get("label_names"),
            "confusion_matrix": scored.get("confusion_matrix"),
            "selection": None,
            "predictions": str(predictions) if predictions and predictions.is_file() else None,
            "trainer_state": None,
        })  # fmt: skip
    return rows


def gather_rows(root: Path) -> list[dict]:
    """Every result under `root`: trained runs and pretrained evaluations."""
    rows = [
        trained_row(json.loads(path.read_text(encoding="utf-8")), path.parent, root)
        for path in sorted(root.rglob(RESULTS_FILE))
    ]
    for path in sorted(root.rglob(EVALUATION_FILE)):
        rows += pretrained_rows(path, root)
    return sorted(rows, key=sort_key)


def model_order(kind: str, model: str) -> tuple:
    return (KINDS.index(kind), GLOVE_ORDER.index(model) if model in GLOVE_ORDER else len(GLOVE_ORDER), model)


def sort_key(row: dict) -> tuple:
    seed = row["seed"] if isinstance(row["seed"], int) else -1
    fold = row["fold"] if isinstance(row["fold"], int) else -1
    protocol = 0 if row["protocol"] == "lab" else 1
    setting = SETTINGS.index(row["setting"]) if row["setting"] in SETTINGS else len(SETTINGS)
    return (row["dataset"], *model_order(row["kind"], row["model"]), setting, protocol, seed, fold, row["run"])


@dataclass
class Group:
    """The runs of one (dataset, model, setting, protocol); they differ by seed (and fold)."""

    dataset: str
    model: str
    setting: str
    protocol: str
    kind: str
    rows: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.model} ({self.setting})"

    @property
    def protocol_label(self) -> str:
        if self.protocol == "lab":
            return "lab split"
        folds = {row["cv_folds"] for row in self.rows if row["cv_folds"]}
        return f"{folds.pop()}-fold CV" if len(folds) == 1 else "CV"

    @property
    def slug(self) -> str:
        return slug(f"{self.dataset}-{self.model}-{self.setting}-{self.protocol}")

    @property
    def seeds(self) -> list:
        return sorted({row["seed"] for row in self.rows if isinstance(row["seed"], int)})

    def size(self) -> str:
        """How many runs, in words: "5 seeds", "10 folds × 3 seeds", "1 run"."""
        if self.kind == "pretrained":
            return "1 run" if len(self.rows) == 1 else f"{len(self.rows)} runs"
        seeds = len(self.seeds) or len(self.rows)
        if self.protocol == "cv":
            folds = len({row["fold"] for row in self.rows})
            return f"{folds} folds" + (f" × {seeds} seeds" if seeds > 1 else "")
        return f"{seeds} seed" + ("s" if seeds != 1 else "")


def group_rows(rows: list[dict]) -> list[Group]:
    groups: dict[tuple, Group] = {}
    for row in rows:
        key = (row["dataset"], row["model"], row["setting"], row["protocol"])
        groups.setdefault(key, Group(*key, kind=row["kind"])).rows.append(row)
    return sorted(
        groups.values(),
        key=lambda g: sort_key(g.rows[0])[:-3],  # rows sort by group first, then seed, fold, run
    )


def summarize_group(group: Group, metrics: list[str]) -> dict:
    """Mean, std and t interval of every metric over the group's runs: over seeds on the lab split,
    over folds (of every seed) in cross-validation, each fold scored on its own test fold."""
    return {key: summarize([row[key] for row in group.rows]) for key in metrics}


class Predictions:
    """Each group's test predictions as {seed: frame}, read once; CV folds of a seed are joined into
    one frame over every sentence of the dataset."""

    def __init__(self):
        self.cache: dict[str, dict | str] = {}

    def of(self, group: Group) -> dict | str:
        """{seed: frame}, or why there is none."""
        if group.slug not in self.cache:
            self.cache[group.slug] = self._read(group)
        return self.cache[group.slug]

    @staticmethod
    def _read(group: Group) -> dict | str:
        missing = [row["run"] for row in group.rows if not row["predictions"]]
        if missing:
            return f"no predictions.parquet in {', '.join(f'`{run}`' for run in missing[:3])}" + (" ..." if len(missing) > 3 else "")
        by_seed: dict = defaultdict(list)
        for row in group.rows:
            by_seed[row["seed"] if isinstance(row["seed"], int) else 0].append(row)
        runs = {}
        for seed, seed_rows in sorted(by_seed.items()):
            if group.protocol == "cv":
                folds = seed_rows[0]["cv_folds"]
                if sorted(row["fold"] for row in seed_rows) != list(range(folds or 0)):
                    return f"seed {seed} has folds {sorted(row['fold'] for row in seed_rows)} of {folds}: CV needs every fold once"
            elif len(seed_rows) > 1:
                return f"seed {seed} ran {len(seed_rows)} times ({', '.join(row['run'] for row in seed_rows)})"
            frames = [pd.read_parquet(row["predictions"], columns=["index", "label", "prediction"]) for row in seed_rows]
            runs[seed] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return runs


def compare(a: Group, b: Group, metric: str, label_names: list[str], predictions: Predictions, n_resamples: int, seed: int) -> dict | str:
    a_runs, b_runs = predictions.of(a), predictions.of(b)
    for group, runs in ((a, a_runs), (b, b_runs)):
        if isinstance(runs, str):
            return f"{group.name}: {runs}"
    try:
        return paired_comparison(a_runs, b_runs, metric, label_names, n_resamples=n_resamples, seed=seed)
    except ValueError as err:
        return f"{a.name} vs {b.name}: {err}"


def study_pairs(groups: list[Group], means: dict[str, float]) -> list[tuple[str, Group | None, Group | None, str]]:
    """(question, A, B, why skipped) for one dataset and protocol; A, B are None when skipped."""
    glove = [g for g in groups if g.kind == "glove"]
    pairs = []
    for question, a_model, b_model in STUDY_QUESTIONS:
        a = {g.setting: g for g in glove if g.model == a_model}
        b = {g.setting: g for g in glove if g.model == b_model}
        setting = next((s for s in ("trained vectors", "frozen vectors") if s in a and s in b), None)
        if setting:
            pairs.append((question, a[setting], b[setting], ""))
        else:
            absent = [model for model, found in ((a_model, a), (b_model, b)) if not found]
            why = f"no {' or '.join(absent)} runs" if absent else f"{a_model} and {b_model} share no setting"
            pairs.append((question, None, None, why))
    for model in dict.fromkeys(g.model for g in glove):
        settings = {g.setting: g for g in glove if g.model == model}
        if "trained vectors" in settings and "frozen vectors" in settings:
            pairs.append((f"frozen vs trained vectors: {model}", settings["trained vectors"], settings["frozen vectors"], ""))
    best = max(glove, key=lambda g: means[g.slug], default=None)
    for tuned in (g for g in groups if g.kind == "finetuned"):
        question = f"fine-tuned {tuned.model} vs the best GloVe model"
        pairs.append((question, tuned, best, "" if best else "no GloVe runs"))
    return pairs


def fmt(value: float | None, digits: int = 4, sign: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def fmt_p(p: float | None) -> str:
    return "" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def mean_std(summary: dict) -> str:
    if summary["mean"] is None:
        return ""
    return fmt(summary["mean"]) if summary["std"] is None else f"{fmt(summary['mean'])} ± {fmt(summary['std'])}"


def interval(summary: dict, kind: str = "glove") -> str:
    if summary["ci_low"] is None:
        return "single run" if kind == "pretrained" and summary["n"] == 1 else summary["note"]
    return f"[{fmt(summary['ci_low'])}, {fmt(summary['ci_high'])}]"


def scores_section(groups: list[Group], summaries: dict, metrics: list[str], official: str) -> list[str]:
    columns = [("model", "model"), ("setting", "setting"), ("protocol", "protocol"), ("n", "n")]
    columns += [(key, METRIC_NAMES[key]) for key in metrics] + [("ci", f"{METRIC_NAMES[official]} 95% CI")]
    table = [
        {
            "model": g.model, "setting": g.setting, "protocol": g.protocol_label, "n": g.size(),
            **{key: mean_std(summaries[g.slug][key]) for key in metrics}, "ci": interval(summaries[g.slug][official], g.kind),
        }
        for g in groups
    ]  # fmt: skip
    return [
        "### Scores",
        "",
        "Mean ± standard deviation over seeds (sample std); cross-validation rows over folds, each fold "
        "scored on its own held-out part, as published MR numbers are. The 95% CI is a t interval of the "
        f"mean (df = n − 1), for {METRIC_NAMES[official]} here and for every metric in report.json.",
        "",
        markdown_table(table, columns),
    ]


def questions_section(comparisons: list[dict], skipped: list[str], official: str, n_resamples: int, seed: int) -> list[str]:
    name = METRIC_NAMES[official]
    lines = ["### Study questions", ""]
    if not comparisons:
        lines += ["_No question has runs of both models yet._", ""]
        return lines + ["Not answered:", "", *(f"- {line}" for line in skipped), ""]
    lines += [
        f"Δ is A − B of {name}, computed per seed and averaged over seeds. p: paired permutation test over "
        "test sentences (A's and B's predictions of a sentence swapped, for all seeds at once); 95% CI: "
        "paired bootstrap over test sentences (percentile), the same resampled sentences for every seed of "
        "both models. The test sentence is the unit resampled because every seed of both models is tested "
        "on the same sentences: pairing on them takes sentence difficulty out of the comparison, and "
        f"averaging over seeds keeps the training noise in it. {n_resamples:,} resamples, resampling seed "
        f"{seed}; the verdict reads p at {ALPHA}; Holm p adjusts for the {len(comparisons)} questions of this table. "
        "Cross-validation rows pair on every sentence of the dataset, each predicted once per seed by the fold "
        "that held it out.",
        "",
    ]
    columns = [
        ("question", "question"), ("protocol", "protocol"), ("a", "A"), ("b", "B"), ("seeds", "seeds A/B"),
        ("a_mean", f"A {name}"), ("b_mean", f"B {name}"), ("difference", f"Δ {name}"), ("ci", "95% CI"),
        ("p", "p"), ("holm", "Holm p"), ("verdict", "verdict"),
    ]  # fmt: skip
    table = [
        {
            "question": c["question"], "protocol": c["protocol"], "a": c["a"], "b": c["b"],
            "seeds": f"{len(c['a_seeds'])}/{len(c['b_seeds'])}" + ("" if c["paired_seeds"] else " (unpaired)"),
            "a_mean": fmt(c["a_mean"]), "b_mean": fmt(c["b_mean"]), "difference": fmt(c["difference"], sign=True),
            "ci": f"[{fmt(c['ci_low'], sign=True)}, {fmt(c['ci_high'], sign=True)}]",
            "p": fmt_p(c["p_value"]), "holm": fmt_p(c["holm_p"]), "verdict": c["verdict"],
        }
        for c in comparisons
    ]  # fmt: skip
    lines += [markdown_table(table, columns)]
    if skipped:
        lines += ["Not answered:", "", *(f"- {line}" for line in skipped), ""]
    return lines


def selection_rows(groups: list[Group], official: str) -> list[dict]:
    """Per group: the official test metric of the checkpoint chosen by validation loss and by the
    official validation metric, paired over the runs that scored both."""
    by_metric = f"eval_{official}"
    found = []
    for g in groups:
        pairs = []
        for row in g.rows:
            chosen = (row["selection"] or {}).get("by_criterion", {})
            if "eval_loss" in chosen and by_metric in chosen and official in chosen[by_metric].get("test", {}):
                pairs.append((chosen["eval_loss"]["test"][official], chosen[by_metric]["test"][official]))
        if not pairs:
            continue
        loss, metric = map(list, zip(*pairs))
        test = paired_t(metric, loss)
        better = "no detectable difference"
        if test["p_value"] is not None:
            better = verdict(test["difference"], test["p_value"], a=f"validation {METRIC_NAMES[official]}", b="validation loss")
        found.append({
            "dataset": g.dataset, "model": g.model, "setting": g.setting, "protocol": g.protocol_label,
            "n": len(pairs), "by_loss": summarize(loss), "by_metric": summarize(metric), "difference": test, "better": better,
        })  # fmt: skip
    return found


def selection_section(rows: list[dict], official: str) -> list[str]:
    name = METRIC_NAMES[official]
    columns = [
        ("model", "model"), ("setting", "setting"), ("protocol", "protocol"), ("n", "runs"),
        ("loss", "by validation loss"), ("metric", f"by validation {name}"), ("difference", "Δ (metric − loss)"),
        ("ci", "95% CI"), ("p", "p"), ("better", "better"),
    ]  # fmt: skip
    table = [
        {
            "model": r["model"], "setting": r["setting"], "protocol": r["protocol"], "n": r["n"],
            "loss": mean_std(r["by_loss"]), "metric": mean_std(r["by_metric"]), "difference": fmt(r["difference"]["difference"], sign=True),
            "ci": (f"[{fmt(r['difference']['ci_low'], sign=True)}, {fmt(r['difference']['ci_high'], sign=True)}]"
                   if r["difference"]["ci_low"] is not None else r["difference"]["note"]),
            "p": fmt_p(r["difference"]["p_value"]), "better": r["better"],
        }
        for r in rows
    ]  # fmt: skip
    return [
        "### Model selection",
        "",
        f"Test {name} of the checkpoint each validation criterion picks within the same training run, mean ± std "
        "over runs. Δ and its 95% CI: paired t over runs (`scipy.stats.ttest_rel`); the run (seed, or fold) is the "
        "unit, because both checkpoints come from the same training run, so pairing removes the seed's luck.",
        "",
        markdown_table(table, columns),
    ]


def plot_learning_curves(group: Group, path: Path) -> Path | None:
    """Every run of the group: training loss solid, validation loss dashed, the restored epoch a dot."""
    fig = Figure(figsize=(6, 3.8))
    ax = fig.subplots()
    drawn = 0
    alpha = 0.9 if len(group.rows) == 1 else max(0.25, 1.0 / np.sqrt(len(group.rows)))
    for row in group.rows:
        if not row["trainer_state"]:
            continue
        state = json.loads(Path(row["trainer_state"]).read_text(encoding="utf-8"))
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
        if row["confusion_matrix"]:
            counts = np.asarray(row["confusion_matrix"])
        elif row["predictions"] and row["label_names"]:
            frame = pd.read_parquet(row["predictions"], columns=["label", "prediction"])
            counts = confusion_counts(frame["label"], frame["prediction"], len(row["label_names"]))
        else:
            continue
        total = counts if total is None else total + counts
    return total


def plot_confusion_matrix(group: Group, counts: np.ndarray, path: Path) -> Path:
    names = group.rows[0]["label_names"] or [str(i) for i in range(len(counts))]
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
    runs = f"summed over {len(group.rows)} runs" if len(group.rows) > 1 else group.rows[0]["run"]
    ax.set(xlabel="predicted", ylabel="true", title=f"{group.dataset} · {group.name}\n{runs}; accuracy {accuracy:.3f}")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_scores(dataset: str, groups: list[Group], summaries: dict, path: Path) -> Path:
    """Horizontal bars, one group of bars per model: the mean over seeds, ± std whiskers, the value printed."""
    groups = [g for g in groups if summaries[g.slug]["accuracy"]["mean"] is not None]
    names = [f"{g.name}, {g.protocol_label}" for g in groups]
    height = 0.8 / len(BAR_METRICS)
    fig = Figure(figsize=(8, 1.0 + 0.75 * len(groups)))
    ax = fig.subplots()
    for k, key in enumerate(BAR_METRICS):
        values = [summaries[g.slug][key]["mean"] or 0.0 for g in groups]
        errors = [summaries[g.slug][key]["std"] or 0.0 for g in groups]
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


def runs_table(rows: list[dict]) -> str:
    metrics = [key for key in METRIC_NAMES if any(row[key] is not None for row in rows)]
    columns = [("model", "model"), ("setting", "setting"), ("protocol", "protocol"), ("seed", "seed")]
    if any(row["fold"] is not None for row in rows):
        columns.append(("fold", "fold"))
    columns += [(key, METRIC_NAMES[key]) for key in metrics]
    if any(row["epochs"] is not None for row in rows):
        columns += [("epochs", "epochs"), ("train_seconds", "train s")]
    columns.append(("run", "run"))
    shown = [
        {
            **row,
            "protocol": "lab split" if row["protocol"] == "lab" else f"{row['cv_folds']}-fold CV",
            "epochs": None if row["epochs"] is None else f"{row['epochs']:g}",
            "train_seconds": None if row["train_seconds"] is None else f"{row['train_seconds']:.0f}",
        }
        for row in rows
    ]
    return markdown_table(shown, columns)


def dataset_report(
    dataset: str, groups: list[Group], predictions: Predictions, n_resamples: int, seed: int
) -> tuple[list[str], dict, dict]:
    """The markdown of one dataset, the numbers behind it, and each group's summaries."""
    rows = [row for g in groups for row in g.rows]
    label_names = next((row["label_names"] for row in rows if row["label_names"]), None)
    official = official_metric(label_names or LABEL_NAMES.get(dataset))
    metrics = [key for key in METRIC_NAMES if any(row[key] is not None for row in rows)]
    summaries = {g.slug: summarize_group(g, metrics) for g in groups}

    comparisons, skipped = [], []
    for protocol in sorted({g.protocol for g in groups}, key=lambda p: p != "lab"):
        chosen = [g for g in groups if g.protocol == protocol]
        means = {g.slug: summaries[g.slug][official]["mean"] or 0.0 for g in chosen}
        label = chosen[0].protocol_label
        for question, a, b, why in study_pairs(chosen, means):
            result = compare(a, b, official, label_names, predictions, n_resamples, seed) if a and b else why
            if isinstance(result, str):
                skipped.append(f"{question} ({label}): {result}")
                continue
            short = lambda g: g.setting.removesuffix(" vectors") if question.startswith("frozen vs trained") else g.model  # noqa: E731
            comparisons.append({
                "question": question, "protocol": label, "a": a.name, "b": b.name, **result,
                "verdict": verdict(result["difference"], result["p_value"], a=short(a), b=short(b)),
            })  # fmt: skip
    for comparison, adjusted in zip(comparisons, holm([c["p_value"] for c in comparisons])):
        comparison["holm_p"] = adjusted
    selection = selection_rows(groups, official)

    lines = [f"## {dataset}", "", f"Official metric: {METRIC_NAMES[official]}.", ""]
    lines += scores_section(groups, summaries, metrics, official)
    lines += questions_section(comparisons, skipped, official, n_resamples, seed)
    if selection:
        lines += selection_section(selection, official)
    numbers = {
        "official_metric": official,
        "label_names": label_names,
        "summaries": [
            {"model": g.model, "setting": g.setting, "protocol": g.protocol_label, "n": g.size(), "runs": [r["run"] for r in g.rows],
             "metrics": summaries[g.slug]}
            for g in groups
        ],  # fmt: skip
        "comparisons": comparisons,
        "not_answered": skipped,
        "model_selection": selection,
    }
    return lines, numbers, summaries


def write_report(
    root: str | Path, output: str | Path | None = None, n_resamples: int = N_RESAMPLES, seed: int = RESAMPLING_SEED
) -> Path:
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
    groups = group_rows(rows)
    datasets = sorted({row["dataset"] for row in rows})
    predictions = Predictions()

    trained = sum(row["kind"] != "pretrained" for row in rows)
    lines = [
        f"# Results report: `{root}`",
        "",
        f"{trained} training runs and {len(rows) - trained} pretrained scores on {', '.join(datasets)}, "
        f"in {len(groups)} groups (dataset, model, setting, protocol). Test-set scores.",
        "",
    ]
    numbers = {}
    for dataset in datasets:
        chosen = [g for g in groups if g.dataset == dataset]
        section, numbers[dataset], summaries = dataset_report(dataset, chosen, predictions, n_resamples, seed)
        path = plot_scores(dataset, chosen, summaries, figures / f"scores-{slug(dataset)}.png")
        lines += section + [f"![{dataset}](figures/{path.name})", ""]

    lines += ["## Learning curves", "", "Training (solid) and validation (dashed) loss per epoch of every run of a group; the dot is the epoch restored.", ""]
    missing = []
    for g in groups:
        if g.kind == "pretrained":
            continue
        path = plot_learning_curves(g, figures / f"curves-{g.slug}.png")
        if path:
            lines += [f"![{g.dataset} {g.name} {g.protocol_label}](figures/{path.name})", ""]
        else:
            missing.append(f"{g.dataset} {g.name} {g.protocol_label}")
    if missing:
        lines += ["No `trainer_state.json` in any run of: " + "; ".join(missing) + ".", ""]

    lines += ["## Confusion matrices", "", "Rows: true label; columns: predicted label; colour: share of the true class; counts summed over the runs of a group.", ""]
    for g in groups:
        counts = group_confusion(g)
        if counts is not None:
            path = plot_confusion_matrix(g, counts, figures / f"confusion-{g.slug}.png")
            lines += [f"![{g.dataset} {g.name} {g.protocol_label}](figures/{path.name})", ""]

    lines += ["## All runs", ""]
    for dataset in datasets:
        lines += [f"### {dataset}", "", runs_table([row for row in rows if row["dataset"] == dataset])]

    report = output / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    write_json_atomic(output / "report.json", {
        "statistics": {
            "comparison": "paired permutation test (p) and paired percentile bootstrap (95% CI) over test sentences",
            "summary": "mean, sample std and t interval over seeds (folds for cross-validation)",
            "n_resamples": n_resamples, "resampling_seed": seed, "alpha": ALPHA,
        },
        "datasets": numbers,
        "runs": [{k: v for k, v in row.items() if k != "trainer_state"} for row in rows],
    })  # fmt: skip
    return report


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.report", description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", help="folder searched for results.json and evaluation.json files")
    parser.add_argument("--output", help="report folder (default: RUNS_DIR/report)")
    parser.add_argument("--resamples", type=int, default=N_RESAMPLES, help=f"bootstrap and permutation resamples (default {N_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=RESAMPLING_SEED, help=f"seed of the resampling (default {RESAMPLING_SEED})")
    args = parser.parse_args(argv)
    print(f"wrote {write_report(args.runs_dir, args.output, args.resamples, args.seed)}")


if __name__ == "__main__":
    from pipelines.cli import run_cli

    sys.exit(run_cli(main))
