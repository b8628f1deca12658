"""The cost/accuracy front of one dataset: each lab-split group's official test score against its speed.

The groups are the report's own (`collect.group_rows`, keyed by dataset, model, `Setting` and
protocol); each score is the mean over the group's runs with its calibrated 95% interval
(`statistics.score_interval`: runs × sentences, Behrens–Fisher; one run: sentences only), from the
same predictions the study questions read. The speeds come from a `bench.speeds` file, measured
once on one machine: throughput at batch 64, single-sentence latency, parameters, size on disk.
Cross-validation groups are left out (their folds test other sentences than the lab split).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.errors import DataError, PathError
from pipelines.report.collect import METRIC_NAMES, Group, slug
from pipelines.report.compare import Predictions
from pipelines.report.figures import plot_front
from pipelines.report.tables import front_table
from pipelines.statistics import score_interval

SPEED_FIELDS = ("sentences_per_second", "latency_p50_ms", "latency_p95_ms", "parameters", "disk_mb", "timed_on")


def read_speeds(path: str | Path) -> dict:
    """A `bench.speeds` file: {command, note, machine, threads, datasets: {dataset: [{model, setting, *SPEED_FIELDS}]},
    not_measured}. Raises `PathError` when it is missing or unreadable, `DataError` when a row lacks a field."""
    path = Path(path)
    try:
        speeds = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PathError(f"--speeds {path}: cannot read it ({err.__class__.__name__}); give the speeds.json bench.speeds wrote") from None
    for dataset, rows in speeds.get("datasets", {}).items():
        for row in rows:
            missing = [key for key in ("model", "setting", *SPEED_FIELDS) if key not in row]
            if missing:
                raise DataError(f"--speeds {path}: a {dataset} row ({row.get('model', '?')}) lacks {', '.join(missing)}")
    return speeds


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (speed, score) points: True where no other point is at least as fast and as good, and better in one."""
    return [
        not any(s2 >= s and q2 >= q and (s2 > s or q2 > q) for j, (s2, q2) in enumerate(points) if j != i)
        for i, (s, q) in enumerate(points)
    ]


def group_score(group: Group, runs: dict, official: str, label_names: list[str]) -> dict:
    """The group's official score over its runs ({seed: predictions frame}) with its `score_interval`."""
    frames = [frame.sort_values("index") for frame in runs.values()]
    gold = frames[0]["label"].to_numpy()
    if any(len(frame) != len(gold) or not np.array_equal(frame["label"].to_numpy(), gold) for frame in frames):
        raise DataError(f"{group.name}: its runs were tested on different sentences")
    return score_interval(gold, np.stack([frame["prediction"].to_numpy() for frame in frames]), official, label_names)


def front_rows(groups: list[Group], speeds: list[dict], predictions: Predictions, official: str,
               label_names: list[str]) -> tuple[list[dict], list[str]]:  # fmt: skip
    """The front's rows (fastest first, numbered, the front marked) of the lab-split groups that have a speed,
    and what could not be shown (a speed of no group here, a group without predictions)."""
    measured = {(row["model"], row["setting"]): row for row in speeds}
    rows, skipped = [], []
    for group in (g for g in groups if g.protocol == "lab"):
        speed = measured.pop((group.model, group.setting.label), None)
        if speed is None:
            continue
        runs = predictions.of(group)
        if isinstance(runs, str):
            skipped.append(f"{group.name}: {runs}")
            continue
        found = group_score(group, runs, official, label_names)
        rows.append({
            "model": group.name, "runs": found["runs"], "metric": official, "score": found["mean"],
            "ci_low": found["ci_low"], "ci_high": found["ci_high"],
            "interval_of": "seeds and sentences" if found["runs"] > 1 else "sentences (1 run)",
            **{key: speed[key] for key in SPEED_FIELDS},
        })  # fmt: skip
    skipped += [f"{model} ({setting}): timed, but no lab-split runs in this report" for model, setting in measured]
    for row, on_front in zip(rows, pareto_front([(row["sentences_per_second"], row["score"]) for row in rows])):
        row["front"] = "yes" if on_front else ""
    rows.sort(key=lambda row: -row["sentences_per_second"])
    for key, row in enumerate(rows, start=1):
        row["key"] = key  # the point's number in the figure
    return rows, skipped


def front_section(dataset: str, rows: list[dict], skipped: list[str], speeds: dict, figures: Path) -> list[str]:
    """The front of one dataset: its figure, drawn into `figures`, and its table."""
    if not rows:
        return []
    path = plot_front(dataset, rows, figures / f"pareto-{slug(dataset)}.png")
    return [
        f"### {dataset}: cost against accuracy", "",
        f"Test {METRIC_NAMES[rows[0]['metric']]}: mean over the runs with its 95% interval (runs × sentences, Behrens–Fisher: "
        "t on S − 1 df for the seeds, normal for the sentences; "
        f"one run: sentences only). Speed: throughput on CPU at batch 64, single-sentence latency, "
        f"parameters and size on disk, all timed in one run of `bench.speeds` ({speeds['machine']}, torch threads "
        f"{speeds['threads']}). front: on the Pareto front, no other model both faster and better. {speeds.get('note', '')}".rstrip(), "",
        f"Speeds made by: `{speeds['command']}`", "",
        front_table(rows),
        *[f"Not measured: {line}\n" for line in [*speeds.get("not_measured", {}).get(dataset, []), *skipped]],
        f"![{dataset} cost against accuracy](figures/{path.name})", "",
    ]  # fmt: skip
