"""Learning curves over training size: the official metric against labels per class, with the crossovers.

    python -m pipelines.report.curves results/curves/records --output results/curves

Reads every run record under the folders given (run folders or compact records) and puts each
model (a GloVe model with its vectors' setting, a fine-tuned model) on a curve: one point per
training size (`train_size_per_class`, `pipelines.train_sizes`; a run without one trained on the
whole split, drawn at the split's sentences per class and labelled `all`). Per dataset it writes
`curves-<dataset>.png` (mean over seeds, whiskers: the t interval over seeds, `statistics.summarize`)
and `curves-<dataset>.md`, whose table answers, for every pair of models and every size, "which
is better here?" with the report's comparison (`statistics.crossed_comparison`: runs × test
sentences, seeds paired where both curves have two or more in common, the Behrens–Fisher reference), Holm over the sizes of one pair (`answer_family`),
each difference's CI at the level Holm decided it at and its minimum detectable effect, then the
crossovers in words: where the verdict changes from one size to the next.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pipelines.benchmarks import BENCHMARKS, official_metric_for
from pipelines.cli import leading_positionals, parse
from pipelines.errors import DataError, OptionError
from pipelines.data.files import file_digests
from pipelines.report.collect import METRIC_NAMES, dataset_slug, group_rows, trained_row
from pipelines.report.compare import read_predictions
from pipelines.report.tables import fmt, fmt_p
from pipelines.runs.io import read_json
from pipelines.runs.layout import EVALUATION_FILE, RESULTS_FILE
from pipelines.runs.record import EvaluationRecord, RunRecord, is_run_record
from pipelines.runs.setting import Setting
from pipelines.statistics import UNIT_RANGE, answer_family, crossed_comparison, score_interval, summarize, verdict
from pipelines.train_sizes import ALL


@dataclass
class Curve:
    """One model's runs on one dataset: {size: {seed: predictions file}} (size None: the whole split)."""

    dataset: str
    name: str
    label_names: list[str]
    runs: dict = field(default_factory=lambda: defaultdict(dict))
    scores: dict = field(default_factory=lambda: defaultdict(dict))  # {size: {seed: official test score}}
    zero_label: bool = False  # a model used as it is (no training labels): one run, drawn as a line at every size
    test_sha256: str | None = None  # the SHA-256 of the user's test file (`data.files.file_digests`); None for a benchmark
    all_per_class: float | None = None  # the whole split's training sentences per class (validation included), from a record
    source: str | None = None  # where a zero-label line was read (its evaluation.json)
    trained_on: dict = field(default_factory=dict)  # {size: (training sentences, the run that recorded them)}


def curve_name(record: RunRecord) -> str:
    """The model and its setting but the training size (`Setting`): "bilstm (trained vectors)", "minilm (fine-tuned)";
    a class-weighted, distilled or reconfigured run is another curve ("bilstm (trained vectors, class-weighted)")."""
    return f"{record.model} ({Setting.of(record).without('training size').label})"


def gather_curves(roots: list[Path], seeds: set[int] | None = None, names: set[str] | None = None) -> dict[str, dict[str, Curve]]:
    """{dataset: {curve name: Curve}} from the lab-split run records under `roots` (CV runs are left out:
    a curve compares runs on one fixed test set), of the models in `names` and the `seeds` when given.
    `DataError` when a (model, size, seed) ran twice, runs of one curve and size trained on different numbers of
    sentences (`--max_train_samples` is no training size), or the main report would refuse the runs together
    (`collect.check_comparable`: runs of one dataset trained or tested on different files, or naming its classes
    differently); `OptionError` for a model of `names` no record here ran (when any did)."""
    curves: dict[str, dict[str, Curve]] = defaultdict(dict)
    rows = []  # the runs as the main report reads them, for its rule on what one dataset's runs share
    drawn = set()  # the models found
    for root in roots:
        for path in sorted(Path(root).rglob(RESULTS_FILE)):
            payload = read_json(path)
            if not is_run_record(payload):
                continue
            record = RunRecord.from_dict(payload, path.parent)
            if record.protocol != "lab" or not record.predictions_file or (seeds is not None and record.seed not in seeds):
                continue
            if names is not None and record.model not in names:
                continue
            drawn.add(record.model)
            curve = curves[record.dataset].setdefault(curve_name(record), Curve(record.dataset, curve_name(record), record.label_names))
            size, official = record.train_size_per_class, official_metric_for(record.dataset, record.label_names)
            curve.test_sha256 = (file_digests(record.get("data")) or {}).get("test")
            if size is None and isinstance(record.get("train_sentences"), int) and isinstance(record.get("validation_sentences"), int):
                curve.all_per_class = (record.get("train_sentences") + record.get("validation_sentences")) / len(record.label_names)
            if record.seed in curve.runs[size]:
                raise DataError(f"{path.parent}: {curve.name} at {size or ALL} per class, seed {record.seed}, also in {Path(curve.runs[size][record.seed]).parent}")
            sentences, first = curve.trained_on.setdefault(size, (record.get("train_sentences"), path.parent))
            if None not in (sentences, record.get("train_sentences")) and sentences != record.get("train_sentences"):
                raise DataError(f"{path.parent}: {curve.name} at {size or ALL} per class trained on {record.get('train_sentences')} "
                                f"sentences, {first} on {sentences} (--max_train_samples?); give the curves runs of one training size")  # fmt: skip
            curve.runs[size][record.seed] = str(path.parent / record.predictions_file)
            curve.scores[size][record.seed] = record.test[official]
            rows.append(trained_row(record, path.parent, Path(root)))
    group_rows(rows)  # `check_comparable`
    missing = sorted((names or set()) - drawn)
    if missing and curves:  # a page that silently drew fewer models than asked
        raise OptionError(f"--models {','.join(missing)}: no lab-split run record of it with predictions under {', '.join(map(str, roots))}")
    return curves


def gather_zero_label(roots: list[Path], names: set[str] | None = None) -> dict[str, dict[str, Curve]]:
    """{dataset: {curve name: Curve}} of the as-is models (`evaluate_pretrained.py`'s `evaluation.json`, a
    folder or a compact record) under `roots` that saved their test predictions: each one run (seed 0,
    size None) that uses no training label, the curves' zero-label line; `names`: the models to keep."""
    curves: dict[str, dict[str, Curve]] = defaultdict(dict)
    for root in roots:
        for path in sorted(Path(root).rglob(EVALUATION_FILE)):
            evaluation = EvaluationRecord.from_dict(read_json(path), path)
            official = official_metric_for(evaluation.dataset, evaluation.label_names)
            for scored in evaluation.results:
                if not scored.predictions_file or (names is not None and scored.model not in names):
                    continue
                name = f"{scored.model} (as is, no labels)"
                if name in curves[evaluation.dataset]:
                    raise DataError(f"{path}: {scored.model} on {evaluation.dataset} is also scored in "
                                    f"{curves[evaluation.dataset][name].source}; give --as_is one evaluation of each model")  # fmt: skip
                curve = curves[evaluation.dataset].setdefault(name, Curve(
                    evaluation.dataset, name, evaluation.label_names, zero_label=True,
                    test_sha256=(file_digests(evaluation.data) or {}).get("test"), source=str(path),
                ))  # fmt: skip
                curve.runs[None][0] = str(path.parent / scored.predictions_file)
                curve.scores[None][0] = scored.test[official]
    return curves


def all_position(dataset: str, curves: list[Curve]) -> tuple[float, bool]:
    """Where `all` sits on the size axis, and whether that is the data's count: the benchmark's training split
    (validation included) over its classes, a mean per class (SemEval's classes are uneven: 49,570 / 3 ≈ 16,523,
    ticked "all (~16523)"), else the runs' own (their records' training and validation sentences per class), else
    twice the largest size (a place on the axis, not a count)."""
    if dataset in BENCHMARKS and BENCHMARKS[dataset].train_size:
        return BENCHMARKS[dataset].train_size / len(curves[0].label_names), True
    counted = [curve.all_per_class for curve in curves if curve.all_per_class]
    if counted:
        return max(counted), True
    return 2.0 * max(size for curve in curves for size in curve.runs if size is not None), False


def sizes_of(curves: list[Curve]) -> list[int | None]:
    """The training sizes of the trained curves, smallest first, `all` (None) last."""
    found = {size for curve in curves if not curve.zero_label for size in curve.runs}
    return sorted(found - {None}) + ([None] if None in found else [])


def size_text(size: int | None) -> str:
    return ALL if size is None else str(size)


def compare_pair(a: Curve, b: Curve, official: str) -> list[dict]:
    """A against B at every size both have, Holm over those sizes; each row carries its size. A zero-label
    curve (B) is the same one run at every size of A."""
    sizes = [size for size in sizes_of([a, b]) if size in a.runs and (b.zero_label or size in b.runs)]
    frames = {
        curve.name: {size: {seed: read_predictions(path) for seed, path in curve.runs[None if curve.zero_label else size].items()} for size in sizes}
        for curve in (a, b)
    }  # fmt: skip

    def question(size):
        return lambda level: crossed_comparison(frames[a.name][size], frames[b.name][size], official, a.label_names, alpha=level)

    try:
        answers = answer_family([question(size) for size in sizes])
    except DataError as err:  # e.g. predictions of other test sentences: say which two curves, and a file of each
        files = [next(iter(curve.runs[None if curve.zero_label else sizes[0]].values())) for curve in (a, b)]
        raise DataError(f"{a.name} ({files[0]}) against {b.name} ({files[1]}): {err}") from None
    return [{"size": size, **answer} for size, answer in zip(sizes, answers)]


def crossover_text(a: Curve, b: Curve, rows: list[dict]) -> str:
    """The verdicts over sizes in words, consecutive sizes with one verdict joined: "bilstm better at 16–64; ..."."""
    spans: list[list] = []
    for row in rows:
        said = verdict(row["difference"], row["holm_p"], a=a.name, b=b.name)  # the row's verdict, with the models' names
        if spans and spans[-1][0] == said:
            spans[-1][2] = row["size"]
        else:
            spans.append([said, row["size"], row["size"]])
    parts = [f"{said} at {size_text(first)}" + (f"–{size_text(last)}" if last != first else "") + " per class" for said, first, last in spans]
    detected = [said for said, _, _ in spans if "better" in said]  # a size with no detectable difference between two
    changes = sum(1 for one, two in zip(detected, detected[1:]) if one != two)  # opposite verdicts still crosses
    crossing = "the curves cross" if changes else "no crossover between two detected differences"
    return f"{'; '.join(parts)} ({crossing})."


def plot_curves(dataset: str, curves: list[Curve], official: str, path: Path) -> Path:
    """Mean official test score against training sentences per class (log scale), whiskers the 95% t interval over seeds."""
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    at_all, counted = all_position(dataset, curves)
    trained = [curve for curve in curves if not curve.zero_label]
    for curve in curves:
        if curve.zero_label:
            found = zero_label_interval(curve, official)
            line = ax.axhline(found["mean"], linestyle=":", label=f"{curve.name}: {found['mean']:.3f}")
            ax.axhspan(found["ci_low"], found["ci_high"], color=line.get_color(), alpha=0.12)
    for k, curve in enumerate(trained):
        sizes = [size for size in sizes_of([curve])]
        summaries = [summarize(list(curve.scores[size].values()), bounds=UNIT_RANGE) for size in sizes]
        x = np.array([at_all if size is None else size for size in sizes], dtype=float) * (1 + 0.03 * (k - (len(trained) - 1) / 2))
        y = np.array([s["mean"] for s in summaries])
        low = np.array([s["mean"] - s["ci_low"] if s["ci_low"] is not None else 0.0 for s in summaries])
        high = np.array([s["ci_high"] - s["mean"] if s["ci_high"] is not None else 0.0 for s in summaries])
        ax.errorbar(x, y, yerr=[low, high], marker="o", capsize=3, label=curve.name)
    ticks = sizes_of(curves)
    ax.set_xscale("log")
    ax.set_xticks([at_all if size is None else size for size in ticks], [(f"all\n(~{at_all:.0f})" if counted else "all") if size is None else str(size) for size in ticks])
    ax.minorticks_off()
    ax.set(xlabel="training sentences per class (validation drawn from them)", ylabel=f"test {METRIC_NAMES[official]}")
    ax.set_title(f"{dataset}: learning curves (mean over seeds, 95% t interval)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def zero_label_interval(curve: Curve, official: str) -> dict:
    """The zero-label model's official test score with its 95% interval over the test sentences (`statistics.score_interval`: one run)."""
    frame = read_predictions(curve.runs[None][0]).sort_values("index")
    return score_interval(frame["label"].to_numpy(), frame["prediction"].to_numpy()[None, :], official, curve.label_names)


def curves_markdown(dataset: str, curves: list[Curve], official: str, pairs: list[tuple], command: str) -> str:
    metric = METRIC_NAMES[official]
    lines = [f"# {dataset}: learning curves", "", "Made by:", "", f"```\n{command}\n```", ""]
    lines += [f"Test {metric} (the official metric) per training size: mean over seeds, 95% t interval over seeds "
              "(`statistics.summarize`); n is the number of seeds.", ""]
    for curve in (c for c in curves if c.zero_label):
        found = zero_label_interval(curve, official)
        lines.append(f"{curve.name}: {fmt(found['mean'])} [{fmt(found['ci_low'])}, {fmt(found['ci_high'])}] (one run; its 95% "
                         "interval over the test sentences, `statistics.score_interval`), the same at every size.\n")
    trained = [c for c in curves if not c.zero_label]
    lines += ["| per class | " + " | ".join(curve.name for curve in trained) + " |", "|---|" + "---|" * len(trained)]
    for size in sizes_of(curves):
        cells = []
        for curve in trained:
            s = summarize(list(curve.scores.get(size, {}).values()), bounds=UNIT_RANGE)
            ci = f" [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]" if s["ci_low"] is not None else f" ({s['note']})" if s["note"] else ""
            cells.append(f"{fmt(s['mean'])}{ci}, n={s['n']}" if s["n"] else "")
        lines.append(f"| {size_text(size)} | " + " | ".join(cells) + " |")
    for a, b, rows in pairs:
        lines += ["", f"## {a.name} − {b.name}", ""]
        lines += [f"Δ = mean {metric} of {a.name} − of {b.name}, the same test sentences; `crossed_comparison` (runs × "
                  "sentences variance, seeds paired where both curves have two or more in common, Behrens–Fisher reference: t on "
                  "S − 1 df for the seeds, on the Welch–Satterthwaite df of the two models' seed stages where unpaired); Holm over the "
                  f"{len(rows)} sizes, each CI at the level Holm decided it at (95% before the correction); MDE at 80% power.", ""]
        lines += ["| per class | seeds | Δ | CI | Holm p | MDE | verdict |", "|---|---|---|---|---|---|---|"]
        for row in rows:
            said = verdict(row["difference"], row["holm_p"], a=a.name, b=b.name)
            lines.append(
                f"| {size_text(row['size'])} | {len(row['a_seeds'])}/{len(row['b_seeds'])} | {fmt(row['difference'], sign=True)} | "
                f"[{fmt(row['ci_low'], sign=True)}, {fmt(row['ci_high'], sign=True)}] ({1 - row['ci_alpha']:.1%}) | "
                f"{fmt_p(row['holm_p'])} | {fmt(row['mde'])} | {said} |"
            )
        lines += ["", f"Crossovers: {crossover_text(a, b, rows)}"]
    return "\n".join(lines) + "\n"


def write_curves(roots: list[Path], output: Path, command: str, seeds: set[int] | None = None, names: set[str] | None = None,
                 as_is: list[Path] | None = None, as_is_names: set[str] | None = None) -> list[Path]:  # fmt: skip
    """The figure, table and `curves.json` of every dataset found under `roots`, in `output`; `as_is`: folders
    of as-is evaluations whose models (`as_is_names`, default all with predictions) are drawn as zero-label lines
    and compared with every curve at every size."""
    found = gather_curves(roots, seeds, names)
    if not found:
        raise DataError(f"no lab-split run records with predictions under {', '.join(map(str, roots))}")
    for dataset, lines in gather_zero_label(as_is or [], as_is_names).items():
        for line in lines.values():
            target = dataset if dataset in found else next(
                (name for name, curves in found.items() if line.test_sha256 and any(c.test_sha256 == line.test_sha256 for c in curves.values())), None
            )  # a user's data is named after its train file in a run, after its test file in an evaluation: the test file decides
            if target is None:
                print(f"note: {line.source}: {line.name} scored {dataset}, which no run here was tested on; not drawn", file=sys.stderr)
                continue
            found[target][line.name] = line
    compared = {}
    for dataset, by_name in sorted(found.items()):  # every comparison before anything is written: an error leaves no folder
        curves = list(by_name.values())
        official = official_metric_for(dataset, curves[0].label_names)
        curves = [c for c in curves if not c.zero_label] + [c for c in curves if c.zero_label]  # a zero-label line is B
        compared[dataset] = (curves, official, [(a, b, compare_pair(a, b, official)) for a, b in combinations(curves, 2) if not a.zero_label])
    output.mkdir(parents=True, exist_ok=True)
    written, summary = [], {"command": command, "datasets": {}}
    for dataset, (curves, official, pairs) in compared.items():
        written.append(plot_curves(dataset, curves, official, output / f"curves-{dataset_slug(dataset)}.png"))
        (output / f"curves-{dataset_slug(dataset)}.md").write_text(curves_markdown(dataset, curves, official, pairs, command), encoding="utf-8")
        written.append(output / f"curves-{dataset_slug(dataset)}.md")
        summary["datasets"][dataset] = {
            "official": official,
            "points": {c.name: {size_text(size): summarize(list(c.scores[size].values()), bounds=UNIT_RANGE) for size in sizes_of([c])} for c in curves if not c.zero_label},
            "zero_label": {c.name: zero_label_interval(c, official) for c in curves if c.zero_label},
            "comparisons": [
                {"a": a.name, "b": b.name, "crossovers": crossover_text(a, b, rows),
                 "rows": [{k: v for k, v in row.items() if k not in ("a_scores", "b_scores")} | {"size": size_text(row["size"])} for row in rows]}
                for a, b, rows in pairs
            ],
        }
    (output / "curves.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return written


@dataclass
class CurvesArguments:
    """Learning curves from run records (`write_curves`)."""

    runs_dirs: list[str] = field(metadata={"help": "folders searched for run records (results.json), e.g. results/curves/records (also the first arguments)"})
    output: str = field(metadata={"help": "folder for curves-<dataset>.png/.md and curves.json"})
    seeds: str | None = field(default=None, metadata={"help": "comma-separated seeds to keep (default: every seed found)"})
    models: str | None = field(default=None, metadata={"help": "comma-separated models (record's `model`) to draw (default: every model found)"})
    as_is: list[str] = field(default_factory=list, metadata={"help": "folders of as-is evaluations (evaluation.json), e.g. "
                                                             "results/records/asis-mr: their models are the zero-label lines"})
    as_is_models: str | None = field(default=None, metadata={"help": "comma-separated as-is models to draw (default: every one with saved predictions)"})


def main(argv: list[str]) -> None:
    (args,) = parse((CurvesArguments,), leading_positionals(argv, "--runs_dirs"))
    try:
        seeds = {int(seed) for seed in args.seeds.split(",") if seed.strip()} if args.seeds else None
    except ValueError:
        raise OptionError(f"--seeds takes comma-separated integers such as 0,1,2, got {args.seeds!r}") from None
    command = " ".join(["python -m pipelines.report.curves", *argv])
    names = {name.strip() for name in args.models.split(",") if name.strip()} if args.models else None
    as_is_names = {name.strip() for name in args.as_is_models.split(",") if name.strip()} if args.as_is_models else None
    as_is = [Path(root) for root in args.as_is]
    for path in write_curves([Path(root) for root in args.runs_dirs], Path(args.output), command, seeds, names, as_is, as_is_names):
        print(f"wrote {path}")


if __name__ == "__main__":
    from pipelines.cli import run_cli

    sys.exit(run_cli(main))
