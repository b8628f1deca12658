"""The whole report: every dataset's tables, then the figures, the list of runs and report.json.

Everything is read and computed before the output folder is made, so bad input (no runs, an
unreadable file) leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tqdm.auto import tqdm

from pipelines.benchmarks import BENCHMARKS, official_metric_for
from pipelines.errors import DataError, PathError
from pipelines.report.collect import EVALUATION_FILE, METRIC_NAMES, Group, gather_rows, group_rows, slug
from pipelines.report.compare import Predictions, answer, selection_rows, study_questions
from pipelines.report.figures import group_confusion, plot_confusion_matrix, plot_front, plot_learning_curves, plot_scores
from pipelines.report.tables import front_table, questions_section, runs_table, scores_section, selection_section
from pipelines.run_files import write_json_atomic
from pipelines.statistics import ALPHA, RESAMPLING_SEED, summarize

ASO_ITERATIONS = 1000  # deepsig's default number of bootstrap iterations


def summarize_group(group: Group, metrics: list[str]) -> dict:
    """Mean, std and t interval of every metric over the group's runs: over seeds on the lab split,
    over folds (of every seed) in cross-validation, each fold scored on its own test fold."""
    return {key: summarize([row[key] for row in group.rows]) for key in metrics}


def dataset_report(dataset: str, groups: list[Group], predictions: Predictions, seed: int, aso_iterations: int,
                   progress: bool = False) -> tuple[list[str], dict, dict]:  # fmt: skip
    """The markdown of one dataset, the numbers behind it, and each group's summaries."""
    rows = [row for g in groups for row in g.rows]
    label_names = next((row["label_names"] for row in rows if row["label_names"]), None) or (
        list(BENCHMARKS[dataset].label_names) if dataset in BENCHMARKS else None
    )
    official = official_metric_for(dataset, label_names)
    metrics = [key for key in METRIC_NAMES if any(row[key] is not None for row in rows)]
    summaries = {g.slug: summarize_group(g, metrics) for g in groups}
    lines = [f"## {dataset}", "", f"Official metric: {METRIC_NAMES[official]}.", ""]
    lines += scores_section(groups, summaries, metrics, official)
    comparisons, skipped, notes = [], [], []
    for protocol in sorted({g.protocol for g in groups}, key=lambda p: p != "lab"):
        chosen = [g for g in groups if g.protocol == protocol]
        questions, found = study_questions(chosen, official, summaries)
        notes += [f"{note} ({chosen[0].protocol_label})" for note in found]
        answered, missing = answer(
            questions, chosen[0].protocol_label, official, label_names, predictions, seed, aso_iterations, progress
        )
        comparisons += answered
        skipped += missing
    lines += questions_section(dataset, comparisons, skipped, notes, groups, official)
    selection = selection_rows(groups, official)
    if selection:
        lines += selection_section(selection, official)
    numbers = {
        "official_metric": official, "label_names": label_names,
        "summaries": [
            {"model": g.model, "setting": g.setting, "protocol": g.protocol_label, "n": g.size(), "runs": [r["run"] for r in g.rows],
             "validation": g.validation(), "metrics": summaries[g.slug]}
            for g in groups
        ],
        "comparisons": comparisons, "best_models": notes, "not_answered": skipped, "model_selection": selection,
    }  # fmt: skip
    return lines, numbers, summaries


def scores_fingerprint(datasets: dict) -> str:
    """16 hex digits identifying a report's scores: every summary's dataset, model, setting, protocol, size and
    official-metric mean (`report.json`'s "datasets"). `bench.pareto` stores the fingerprint of the report it
    read, so a front measured on other scores is refused rather than shown beside these."""
    key = sorted(
        (dataset, s["model"], s["setting"], s["protocol"], s["n"], round(s["metrics"][section["official_metric"]]["mean"], 6))
        for dataset, section in datasets.items()
        for s in section["summaries"]
    )
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def read_front(path: str | Path, numbers: dict) -> dict:
    """`bench.pareto`'s `pareto.json`, checked against this report's scores.

    Raises `PathError` when the file is missing or unreadable and `DataError` when it was measured on
    another report's scores (its fingerprint differs: re-run `scripts/build_pareto.sh`)."""
    path = Path(path)
    try:
        front = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PathError(f"--front {path}: cannot read it ({err.__class__.__name__}); give the pareto.json bench.pareto wrote") from None
    expected = scores_fingerprint(numbers)
    if front.get("report_fingerprint") != expected:
        raise DataError(
            f"--front {path}: measured on other scores (its report fingerprint {front.get('report_fingerprint')}, this report "
            f"{expected}); re-run bench.pareto on this report (scripts/build_pareto.sh)"
        )
    return front


def front_section(dataset: str, front: dict, figures: Path) -> list[str]:
    """The cost/accuracy front of one dataset from `pareto.json`: its figure, drawn into `figures`, and its table."""
    rows = front["datasets"].get(dataset)
    if not rows:
        return []
    path = plot_front(dataset, rows, figures / f"pareto-{slug(dataset)}.png")
    return [
        f"### {dataset}: cost against accuracy", "",
        f"Test {METRIC_NAMES[rows[0]['metric']]} (mean over runs, 95% percentile-bootstrap interval over seeds and test sentences; "
        f"one run: sentences only) against throughput on CPU at batch 64, single-sentence latency, parameters and size on disk, "
        f"all timed in one run of `bench.pareto` ({front['machine']}, torch threads {front['threads']}). front: on the Pareto "
        f"front, no other model both faster and better. {front['note']}".rstrip(), "",
        f"Made by: `{front['command']}`", "",
        front_table(rows),
        *[f"Not measured: {line}\n" for line in front.get("not_measured", {}).get(dataset, [])],
        f"![{dataset} cost against accuracy](figures/{path.name})", "",
    ]  # fmt: skip


def figure_sections(groups: list[Group], figures: Path, progress: bool = False) -> list[str]:
    """Learning curves and confusion matrices of every group, drawn into `figures` (`progress`: a bar over the groups)."""
    lines = ["## Learning curves", "", "Training (solid) and validation (dashed) loss per epoch of every run of a group; "
             "the dot is the epoch restored.", ""]  # fmt: skip
    missing = []
    trained = [g for g in groups if g.kind != "pretrained"]
    for g in tqdm(trained, desc="learning curves", unit="figure", disable=not progress):
        path = plot_learning_curves(g, figures / f"curves-{g.slug}.png")
        if path:
            lines += [f"![{g.dataset} {g.name} {g.protocol_label}](figures/{path.name})", ""]
        else:
            missing.append(f"{g.dataset} {g.name} {g.protocol_label}")
    if missing:
        lines += ["No `trainer_state.json` in any run of: " + "; ".join(missing) + ".", ""]
    lines += ["## Confusion matrices", "", "Rows: true label; columns: predicted label; colour: share of the true class; "
              "counts summed over the runs of a group.", ""]  # fmt: skip
    for g in tqdm(groups, desc="confusion matrices", unit="figure", disable=not progress):
        counts = group_confusion(g)
        if counts is not None:
            path = plot_confusion_matrix(g, counts, figures / f"confusion-{g.slug}.png")
            lines += [f"![{g.dataset} {g.name} {g.protocol_label}](figures/{path.name})", ""]
    return lines + probe_section(figures)


def probe_section(figures: Path) -> list[str]:
    """The probe figures `python -m pipelines.explain RUN_DIR... --probes_dir <report>/figures` drew
    there (they need the models' weights, which run records do not keep), when there are any."""
    probes = sorted(figures.glob("probes-*.png"))
    if not probes:
        return []
    lines = ["## Probe sentences", "", "Each model on sentences fixed before any model was run on them "
             "(`pipelines.explain.PROBE_SETS`): words shaded by Integrated Gradients attribution of the predicted "
             "class (Captum), green towards positive, red towards negative; attention models also show the "
             "attention weights averaged over heads. One run per model.", ""]  # fmt: skip
    return lines + [line for path in probes for line in (f"![{path.stem}](figures/{path.name})", "")]


def write_report(root: str | Path, output: str | Path | None = None, seed: int = RESAMPLING_SEED,
                 aso_iterations: int = ASO_ITERATIONS, front: str | Path | None = None, progress: bool = False) -> Path:  # fmt: skip
    """Tables and figures for every run (folder or record) under `root`; returns the path of `report.md`.

    `front`: a `bench.pareto` `pareto.json` measured on these scores; each dataset then gains its
    cost/accuracy figure and table. `progress`: bars over the runs read, the comparisons and the figures
    (a rebuild of the committed report takes minutes). Raises `PathError` when `root` is no folder or holds no run, and
    `read_front`'s errors."""
    root = Path(root)
    if not root.is_dir():
        raise PathError(f"runs folder not found: {root} (give the folder train.py/finetune.py wrote into, or a records folder)")
    output = Path(output) if output else root / "report"
    rows = gather_rows(root, progress)
    if not rows:
        raise PathError(f"no results.json of a run or {EVALUATION_FILE} under {root}")
    groups, datasets, predictions = group_rows(rows), sorted({row["dataset"] for row in rows}), Predictions()
    trained = sum(row["kind"] != "pretrained" for row in rows)
    lines = [f"# Results report: `{root}`", "", f"{trained} training runs and {len(rows) - trained} as-is scores on {', '.join(datasets)}, "
             f"in {len(groups)} groups (dataset, model, setting, protocol). Test-set scores.", ""]  # fmt: skip
    sections, numbers, summaries = {}, {}, {}
    for dataset in datasets:
        chosen = [g for g in groups if g.dataset == dataset]
        sections[dataset], numbers[dataset], summaries[dataset] = dataset_report(dataset, chosen, predictions, seed, aso_iterations, progress)
    measured = read_front(front, numbers) if front else None
    figures = output / "figures"
    figures.mkdir(parents=True, exist_ok=True)  # only now: every number is computed
    for dataset in datasets:
        path = plot_scores(dataset, [g for g in groups if g.dataset == dataset], summaries[dataset], figures / f"scores-{slug(dataset)}.png")
        lines += sections[dataset] + [f"![{dataset}](figures/{path.name})", ""]
        lines += front_section(dataset, measured, figures) if measured else []
    lines += figure_sections(groups, figures, progress) + ["## All runs", ""]
    for dataset in datasets:
        lines += [f"### {dataset}", "", runs_table([row for row in rows if row["dataset"] == dataset])]
    report = output / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    write_json_atomic(output / "report.json", {
        "statistics": {
            "comparison": "t test on S − 1 df, unbiased two-way random-effects (runs × sentences) variance; "
                          "Holm within each (dataset, protocol) table, each CI and MDE at its Holm level",
            "summary": "mean, sample std and t interval over seeds (folds for cross-validation)",
            "aso_seed": seed, "alpha": ALPHA, "aso_iterations": aso_iterations,
        },
        "datasets": numbers,
        "scores_fingerprint": scores_fingerprint(numbers),
        "runs": [{k: v for k, v in row.items() if k != "trainer_state"} for row in rows],
    })  # fmt: skip
    return report
