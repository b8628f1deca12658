"""The top of the study, one table per benchmark: every fine-tuned model, the best GloVe model, the best
distilled student and the best as-is model, with their scores, costs and verdicts.

Each row is a lab-split group of the report (`collect.group_rows`). The "best" groups are chosen as the
report's questions choose them (`compare.best_of`: on mean validation score, labelled "chosen on TEST"
when a group has none). The score is the group's official test metric with its calibrated 95% interval
(`statistics.score_interval`, as the cost/accuracy front); the verdict is the report's own answer to the
question that sets the model against the best GloVe model (its Holm-adjusted p), never a new test. The
costs: training wall minutes per seed as recorded (`RunRecord.train_seconds`, over every resume, on the
device the record names), and prediction throughput from the `bench.speeds` file when one is given.
"""

from __future__ import annotations

from statistics import mean

from pipelines.errors import DataError
from pipelines.report.collect import METRIC_NAMES, Group, ReportRow
from pipelines.report.compare import Predictions, best_of
from pipelines.report.front import group_score
from pipelines.report.tables import fmt_p
from pipelines.formatting import markdown_table

TOP_COLUMNS = [
    ("role", "role"), ("model", "model"), ("runs", "runs"), ("score", "score"), ("interval", "95% interval"),
    ("train", "train min/seed"), ("device", "trained on"), ("speed", "sentences/s"), ("verdict", "vs the best GloVe model"),
    ("holm_p", "Holm p"),
]  # fmt: skip


def device_of(row: ReportRow) -> str:
    """Where a run trained: its record's `train_device`, else what its torch build allows (a `+cpu` build
    ran on CPU; a CUDA build may have run on either), else "not recorded"."""
    if row.train_device:
        return row.train_device.split(",")[0]
    torch_version = (row.versions or {}).get("torch", "")
    if torch_version.endswith("+cpu"):
        return "cpu (threads not recorded)"
    return "GPU build of torch (device not recorded)" if "+cu" in torch_version else "not recorded"


def top_groups(groups: list[Group], official: str, summaries: dict) -> list[tuple[str, Group, str]]:
    """(role, group, how it was chosen) of the lab-split groups the table shows, in its order."""
    lab = [g for g in groups if g.protocol == "lab"]
    chosen = [("fine-tuned", g, "") for g in lab if g.kind == "finetuned" and g.plain]
    for role, candidates in (
        ("best GloVe model", [g for g in lab if g.kind == "glove" and g.plain]),
        ("best distilled student", [g for g in lab if g.setting.teacher]),
        ("best as-is model", [g for g in lab if g.kind == "pretrained" and g.setting.kind == "as is"]),
    ):
        best, how = best_of(candidates, official, summaries)
        if best:
            chosen.append((role, best, how))
    return chosen


def against_best_glove(group: Group, best_glove: Group | None, comparisons: list[dict]) -> dict | None:
    """The report's comparison of `group` with the best GloVe model on the lab split (either order), if it asked one."""
    if best_glove is None:
        return None
    names = {group.name, best_glove.name}
    return next((c for c in comparisons if c["protocol"] == "lab split" and {c["a"], c["b"]} == names and c["a"] != c["b"]), None)


def top_rows(groups: list[Group], summaries: dict, comparisons: list[dict], predictions: Predictions, official: str,
             label_names: list[str], speeds: list[dict] | None = None) -> tuple[list[dict], list[str]]:  # fmt: skip
    """The rows of one dataset's top table and what could not be shown (a group without predictions, or whose
    runs were tested on different sentences).
    `speeds`: that dataset's rows of a `bench.speeds` file (None: no speed column values)."""
    measured = {(row["model"], row["setting"]): row for row in speeds or []}
    chosen = top_groups(groups, official, summaries)
    best_glove = next((g for role, g, _ in chosen if role == "best GloVe model"), None)
    rows, skipped = [], []
    for role, group, how in chosen:
        runs = predictions.of(group)
        if isinstance(runs, str):
            skipped.append(f"{group.name}: {runs}")
            continue
        try:
            found = group_score(group, runs, official, label_names)
        except DataError as err:  # runs on different sentences: no one interval
            skipped.append(str(err))
            continue
        seconds = [row.train_seconds for row in group.rows if row.train_seconds]
        partial = any(row.train_seconds_from_step for row in group.rows)
        speed = measured.get((group.model, group.setting.label))
        answer = against_best_glove(group, best_glove, comparisons) if group is not best_glove else None
        rows.append({
            "role": role + (f" ({how})" if how else ""), "model": group.name, "runs": group.size(), "metric": official,
            "score": found["mean"], "ci_low": found["ci_low"], "ci_high": found["ci_high"],
            "train_minutes": mean(seconds) / 60 if seconds and group.kind != "pretrained" else None,
            "train_minutes_partial": partial, "device": "" if group.kind == "pretrained" else ", ".join(sorted({device_of(r) for r in group.rows})),
            "sentences_per_second": speed["sentences_per_second"] if speed else None,
            "speed_added": bool(speed and "timed_by" in speed),
            "verdict": "the reference" if group is best_glove else (answer["verdict"] if answer else "not asked"),
            "holm_p": answer["holm_p"] if answer else None,
        })  # fmt: skip
    return rows, skipped


def top_table(rows: list[dict]) -> str:
    """The markdown table of `top_rows`, each number at the precision it deserves."""
    shown = [
        {
            **row,
            "score": f"{row['score']:.3f}",
            "interval": f"{row['ci_low']:.3f} to {row['ci_high']:.3f}",
            "train": "" if row["train_minutes"] is None else f"{row['train_minutes']:.1f}" + (" (part)" if row["train_minutes_partial"] else ""),
            "speed": "" if row["sentences_per_second"] is None else f"{row['sentences_per_second']:,.0f}" + (" ‡" if row.get("speed_added") else ""),
            "holm_p": fmt_p(row["holm_p"]),
        }
        for row in rows
    ]
    return markdown_table(shown, TOP_COLUMNS)


def top_section(tables: dict[str, tuple[list[dict], list[str]]], speeds_file: str | None) -> list[str]:
    """"## The top of the study": one table per dataset (`tables`: dataset -> `top_rows`' result)."""
    if not any(rows for rows, _ in tables.values()):
        return []
    lines = [
        "## The top of the study", "",
        "Per benchmark: every fine-tuned model, the best GloVe model, the best distilled student and the best as-is model "
        "(lab split). Score: the official test metric, mean over the runs, with its 95% interval (runs × sentences, "
        "Behrens–Fisher: t on S − 1 df for the seeds, normal for the sentences; one run: sentences only). train min/seed: wall minutes of training per seed as recorded, evaluations "
        "included, on the device named (\"(part)\": a run resumed from a checkpoint older than the training clock, so "
        "its earlier steps are not counted). sentences/s: CPU throughput at batch 64"
        + (f" (`{speeds_file}`)" if speeds_file else " (no speeds file given)")
        + ("; ‡: added to it later by `bench.speeds --update`, beside a reference row timed again (the cost/accuracy "
           "front below gives when, where and the ratio)" if any(row.get("speed_added") for rows, _ in tables.values() for row in rows) else "")
        + ". The verdict and its Holm p are the report's own answer to the question against the best GloVe model "
        "(the questions tables below); \"not asked\" where the report has no such question.", "",
    ]  # fmt: skip
    for dataset, (rows, skipped) in tables.items():
        if rows:
            lines += [f"### {dataset} ({METRIC_NAMES[rows[0]['metric']]})", "", top_table(rows), ""]
            lines += [f"Not shown: {line}" for line in skipped] + ([""] if skipped else [])
    return lines
