"""The cost/accuracy front of one dataset: each lab-split group's official test score against its speed.

The groups are the report's own (`collect.group_rows`, keyed by dataset, model, `Setting` and
protocol); each score is the mean over the group's runs with its calibrated 95% interval
(`statistics.score_interval`: runs × sentences, Behrens–Fisher; one run: sentences only), from the
same predictions the study questions read. The speeds come from a `bench.speeds` file, measured
once on one machine: throughput at batch 64, single-sentence latency, parameters, size on disk.
Rows added to it later (`bench.speeds --update`) carry `timed_by`: their "timed on" says "added"
with the date, and the section names the command, the machine and the reference row timed again
beside them, with its throughput ratio now/then (the rows are not rescaled by it).
Cross-validation groups are left out (their folds test other sentences than the lab split).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.errors import DataError, PathError
from pipelines.report.collect import METRIC_NAMES, Group, dataset_slug
from pipelines.report.compare import Predictions
from pipelines.report.figures import plot_front
from pipelines.report.tables import front_table
from pipelines.statistics import score_interval

SPEED_FIELDS = ("sentences_per_second", "latency_p50_ms", "latency_p95_ms", "parameters", "disk_mb", "timed_on")
TIMED_BY_FIELDS = ("command", "machine", "date", "reference")  # a row added by `bench.speeds --update`
REFERENCE_FIELDS = ("group", "timed_on", "sentences_per_second_then", "sentences_per_second_now", "ratio_now_to_then")


def read_speeds(path: str | Path) -> dict:
    """A `bench.speeds` file: {command, note, machine, threads, datasets: {dataset: [{model, setting, *SPEED_FIELDS,
    and for a row added later timed_by: {*TIMED_BY_FIELDS, reference: {*REFERENCE_FIELDS}}}]}, not_measured}.
    Raises `PathError` when it is missing or unreadable, `DataError` when a row lacks a field."""
    path = Path(path)
    try:
        speeds = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PathError(f"--speeds {path}: cannot read it ({err.__class__.__name__}); give the speeds.json bench.speeds wrote") from None
    for dataset, rows in speeds.get("datasets", {}).items():
        for row in rows:
            missing = [key for key in ("model", "setting", *SPEED_FIELDS) if key not in row]
            if "timed_by" in row:  # added by `bench.speeds --update`
                missing += [f"timed_by.{key}" for key in TIMED_BY_FIELDS if key not in row["timed_by"]]
                missing += [f"timed_by.reference.{key}" for key in REFERENCE_FIELDS if key not in row["timed_by"].get("reference", {})]
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
            **({"timed_on": f"{speed['timed_on']}, added {speed['timed_by']['date']}"} if "timed_by" in speed else {}),
        })  # fmt: skip
    skipped += [f"{model} ({setting}): timed, but no lab-split runs in this report" for model, setting in measured]
    for row, on_front in zip(rows, pareto_front([(row["sentences_per_second"], row["score"]) for row in rows])):
        row["front"] = "yes" if on_front else ""
    rows.sort(key=lambda row: -row["sentences_per_second"])
    for key, row in enumerate(rows, start=1):
        row["key"] = key  # the point's number in the figure
    return rows, skipped


def timing_tool(speeds: dict) -> str:
    """The module that timed a speeds file, read from its command (`python -m bench.speeds ...`; files made before the
    front moved into the report name `bench.pareto`)."""
    words = str(speeds.get("command", "")).split()
    return words[words.index("-m") + 1] if "-m" in words[:-1] else "bench.speeds"


def added_lines(speed_rows: list[dict]) -> list[str]:
    """One paragraph per later `bench.speeds --update` run that added rows to a dataset's speeds (their `timed_by`):
    which rows, when, where, by what command, and its reference row timed then and now."""
    runs: dict[str, tuple[dict, list[str]]] = {}
    for row in speed_rows:
        if "timed_by" in row:
            runs.setdefault(json.dumps(row["timed_by"], sort_keys=True), (row["timed_by"], []))[1].append(f"{row['model']} ({row['setting']})")
    lines = []
    for timed_by, names in runs.values():
        reference = timed_by["reference"]
        lines += [
            f"Added later ({', '.join(names)}; \"added\" in \"timed on\"): timed {timed_by['date']} ({timed_by['machine']}) by "
            f"`{timed_by['command']}`, which timed the file's {reference['group']} row again on {reference['timed_on']}: "
            f"{reference['sentences_per_second_then']:,.1f} sentences/s then, {reference['sentences_per_second_now']:,.1f} now, "
            f"ratio now/then {reference['ratio_now_to_then']:.3f} (above 1: the machine was faster for the added rows). "
            "The added rows are not rescaled by it.", "",
        ]  # fmt: skip
    return lines


def front_section(dataset: str, rows: list[dict], skipped: list[str], speeds: dict, figures: Path) -> list[str]:
    """The front of one dataset: its figure, drawn into `figures`, and its table."""
    if not rows:
        return []
    path = plot_front(dataset, rows, figures / f"pareto-{dataset_slug(dataset)}.png")
    added = added_lines(speeds.get("datasets", {}).get(dataset, []))
    return [
        f"### {dataset}: cost against accuracy", "",
        f"Test {METRIC_NAMES[rows[0]['metric']]}: mean over the runs with its 95% interval (runs × sentences, Behrens–Fisher: "
        "t on S − 1 df for the seeds, normal for the sentences; "
        f"one run: sentences only). Speed: throughput on CPU at batch 64, single-sentence latency, "
        f"parameters and size on disk, {'all but the rows added later (below)' if added else 'all'} timed in one run of `{timing_tool(speeds)}` ({speeds['machine']}, torch threads "
        f"{speeds['threads']}). front: on the Pareto front, no other model both faster and better. {speeds.get('note', '')}".rstrip(), "",
        f"Speeds made by: `{speeds['command']}`", "",
        *added,
        front_table(rows),
        *[f"Not measured: {line}\n" for line in [*speeds.get("not_measured", {}).get(dataset, []), *skipped]],
        f"![{dataset} cost against accuracy](figures/{path.name})", "",
    ]  # fmt: skip
