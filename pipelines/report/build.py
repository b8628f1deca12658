"""The whole report: every dataset's tables, then the figures, the list of runs and report.json.

Everything is read and computed before the output folder is made, so bad input (no runs, an
unreadable file) leaves nothing behind.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from tqdm.auto import tqdm

from pipelines.benchmarks import BENCHMARKS, official_metric_for
from pipelines.errors import PathError
from pipelines.report import calibration
from pipelines.report.collect import EVALUATION_FILE, METRIC_NAMES, Group, ReportRow, dataset_slug, figure_slugs, gather_rows, group_rows
from pipelines.report.compare import Predictions, answer, protocol_questions, selection_rows, study_questions
from pipelines.report.figures import group_confusion, plot_confusion_matrix, plot_learning_curves, plot_scores
from pipelines.report.front import front_rows, front_section, read_speeds
from pipelines.report.top import top_rows, top_section
from pipelines.report.tables import code_section, questions_section, runs_table, scores_section, selection_section
from pipelines.runs.io import write_json_atomic
from pipelines.statistics import ALPHA, RESAMPLING_SEED, UNIT_RANGE, summarize

ASO_ITERATIONS = 1000  # deepsig's default number of bootstrap iterations


def summarize_group(group: Group, metrics: list[str]) -> dict:
    """Mean, std and t interval of every metric over the group's runs: over seeds on the lab split,
    over folds (of every seed) in cross-validation, each fold scored on its own test fold."""
    return {key: summarize([row.test[key] for row in group.rows], bounds=UNIT_RANGE) for key in metrics}


def dataset_report(dataset: str, groups: list[Group], predictions: Predictions, seed: int, aso_iterations: int,
                   teachers: list[ReportRow] | None = None, progress: bool = False) -> tuple[list[str], dict, dict]:  # fmt: skip
    """The markdown of one dataset, the numbers behind it, and each group's summaries; `teachers`: runs outside
    the records that distilled models learnt from; `progress`: bars over the comparisons."""
    rows = [row for g in groups for row in g.rows]
    label_names = next((row.label_names for row in rows if row.label_names), None) or (
        list(BENCHMARKS[dataset].label_names) if dataset in BENCHMARKS else None
    )
    official = official_metric_for(dataset, label_names)
    metrics = [key for key in METRIC_NAMES if any(row.test[key] is not None for row in rows)]
    summaries = {g.key: summarize_group(g, metrics) for g in groups}
    lines = [f"## {dataset}", "", f"Official metric: {METRIC_NAMES[official]}.", ""]
    lines += scores_section(groups, summaries, metrics, official)
    comparisons, skipped, notes = [], [], []
    for protocol in sorted({g.protocol for g in groups}, key=lambda p: p != "lab"):
        chosen = [g for g in groups if g.protocol == protocol]
        questions, found = study_questions(chosen, official, summaries, label_names, teachers)
        notes += [f"{note} ({chosen[0].protocol_label})" for note in found]
        answered, missing = answer(
            questions, chosen[0].protocol_label, official, label_names, predictions, seed, aso_iterations, progress
        )
        comparisons += answered
        skipped += missing
    across = protocol_questions(groups)
    if across:
        label = f"lab split vs {across[0].b.protocol_label}"
        answered, missing = answer(across, label, official, label_names, predictions, seed, aso_iterations, progress)
        comparisons += answered
        skipped += missing
    lines += questions_section(dataset, comparisons, skipped, notes, groups, official)
    selection = selection_rows(groups, official)
    if selection:
        lines += selection_section(selection, official)
    numbers = {
        "official_metric": official, "label_names": label_names,
        "summaries": [
            {"model": g.model, "setting": g.setting.label, "protocol": g.protocol_label, "n": g.size(), "runs": [r.run for r in g.rows],
             "validation": g.validation(), "metrics": summaries[g.key]}
            for g in groups
        ],
        "comparisons": comparisons, "best_models": notes, "not_answered": skipped, "model_selection": selection,
    }  # fmt: skip
    return lines, numbers, summaries


def figure_sections(groups: list[Group], figures: Path, progress: bool = False) -> list[str]:
    """Learning curves and confusion matrices of every group, drawn into `figures` (`progress`: a bar over the groups)."""
    lines = ["## Learning curves", "", "Training (solid) and validation (dashed) loss per epoch of every run of a group; "
             "the dot is the epoch restored.", ""]  # fmt: skip
    missing = []
    names = figure_slugs(groups)
    trained = [g for g in groups if g.kind != "pretrained"]
    for g in tqdm(trained, desc="learning curves", unit="figure", disable=not progress):
        path = plot_learning_curves(g, figures / f"curves-{names[g.key]}.png")
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
            path = plot_confusion_matrix(g, counts, figures / f"confusion-{names[g.key]}.png")
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


def report_command(root: Path, output: Path, seed: int, aso_iterations: int, speeds, teachers) -> str:
    """The `python -m pipelines.report` command that makes this report, each option that is not its default spelled
    out (`--teachers`, `--speeds` and `--aso_iterations` change the numbers: the student-teacher questions and so the
    Holm families, the fronts, every ASO ε)."""
    options = [("--output", output), ("--teachers", teachers), ("--speeds", speeds),
               ("--aso_iterations", None if aso_iterations == ASO_ITERATIONS else aso_iterations),
               ("--seed", None if seed == RESAMPLING_SEED else seed)]  # fmt: skip
    return shlex.join(["python", "-m", "pipelines.report", str(root), *(text for name, value in options if value is not None for text in (name, str(value)))])


def write_report(root: str | Path, output: str | Path | None = None, seed: int = RESAMPLING_SEED,
                 aso_iterations: int = ASO_ITERATIONS, speeds: str | Path | None = None,
                 teachers: str | Path | None = None, progress: bool = False) -> Path:  # fmt: skip
    """Tables and figures for every run (folder or record) under `root`; returns the path of `report.md`.

    `speeds`: a `bench.speeds` file; each dataset then gains its cost/accuracy front (`report.front`).
    `teachers`: a folder of the runs distilled models learnt from, kept out of `root` so they are not
    counted as runs of their model; each student is then compared with its teacher. `progress`: bars over
    the runs read, the comparisons and the figures (a rebuild of the committed report takes minutes).
    Raises `PathError` when `root` (or `teachers`) is no folder or `root` holds no run, and `read_speeds`'s errors."""
    root = Path(root)
    if not root.is_dir():
        raise PathError(f"runs folder not found: {root} (give the folder train.py/finetune.py wrote into, or a records folder)")
    output = Path(output) if output else root / "report"
    rows = gather_rows(root, progress)
    if not rows:
        raise PathError(f"no results.json of a run or {EVALUATION_FILE} under {root}")
    if teachers and not Path(teachers).is_dir():
        raise PathError(f"--teachers {teachers}: not a folder (give the folder of the teachers' run records, e.g. results/teachers)")
    teacher_rows = gather_rows(Path(teachers)) if teachers else []
    groups, datasets, predictions = group_rows(rows), sorted({row.dataset for row in rows}), Predictions()
    trained = sum(row.kind != "pretrained" for row in rows)
    lines = [f"# Results report: `{root}`", "", f"{trained} training runs and {len(rows) - trained} as-is scores on {', '.join(datasets)}, "
             f"in {len(groups)} groups (dataset, model, setting, protocol). Test-set scores. Made by "
             f"`{report_command(root, output, seed, aso_iterations, speeds, teachers)}`.", ""]  # fmt: skip
    sections, numbers, summaries = {}, {}, {}
    for dataset in datasets:
        chosen = [g for g in groups if g.dataset == dataset]
        sections[dataset], numbers[dataset], summaries[dataset] = dataset_report(dataset, chosen, predictions, seed, aso_iterations,
                                                                                 teacher_rows, progress)  # fmt: skip
    measured = read_speeds(speeds) if speeds else None
    fronts = {dataset: front_rows([g for g in groups if g.dataset == dataset], measured["datasets"].get(dataset, []), predictions,
                                  numbers[dataset]["official_metric"], numbers[dataset]["label_names"])
              for dataset in datasets} if measured else {}  # fmt: skip
    tops = {
        dataset: top_rows([g for g in groups if g.dataset == dataset], summaries[dataset], numbers[dataset]["comparisons"], predictions,
                          numbers[dataset]["official_metric"], numbers[dataset]["label_names"],
                          measured["datasets"].get(dataset, []) if measured else None)
        for dataset in datasets
    }  # fmt: skip
    how_sure = [calibration.how_sure(dataset, [g for g in groups if g.dataset == dataset]) for dataset in datasets]
    figures = output / "figures"
    figures.mkdir(parents=True, exist_ok=True)  # only now: every number is computed
    lines += top_section(tops, str(speeds) if speeds else None)
    for dataset in datasets:
        path = plot_scores(dataset, [g for g in groups if g.dataset == dataset], summaries[dataset], figures / f"scores-{dataset_slug(dataset)}.png")
        lines += sections[dataset] + [f"![{dataset}](figures/{path.name})", ""]
        lines += front_section(dataset, *fronts[dataset], measured, figures) if measured else []
    lines += calibration.how_sure_section(how_sure, figures)
    lines += figure_sections(groups, figures, progress) + code_section(rows) + ["## All runs", ""]
    for dataset in datasets:
        lines += [f"### {dataset}", "", runs_table([row for row in rows if row.dataset == dataset])]
    report = output / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    write_json_atomic(output / "report.json", {
        "statistics": {
            "comparison": "Behrens–Fisher reference (t on S − 1 df for the seed stage, normal for the sentence stage), "
                          "unbiased two-way random-effects (runs × sentences) variance; "
                          "Holm within each family of a (dataset, protocol) table, each CI and MDE at its Holm level",
            "summary": "mean, sample std and t interval over seeds (folds for cross-validation)",
            "aso_seed": seed, "alpha": ALPHA, "aso_iterations": aso_iterations,
        },
        "datasets": numbers,
        "front": {dataset: rows for dataset, (rows, _) in fronts.items()},
        "top": {dataset: rows for dataset, (rows, _) in tops.items()},
        "calibration": calibration.numbers(how_sure),
        "runs": [row.to_json() for row in rows],
    })  # fmt: skip
    return report
