"""The accuracy half of issue 26 item 1: does finetune.py's CPU recipe keep the test score of the plain
HF `Trainer` baseline that `bench/finetune_recipe.py` times?

    python -m bench.recipe_accuracy --baseline results/recipe-baseline/baseline/mr-minilm \
        --recipe results/recipe-baseline/cpu-recipe/mr-minilm results/records/study/mr-minilm [--output bench/recipe_accuracy.md]

- **baseline**: whole `finetune.py` runs with the baseline's settings (`max_length` 128, random batches,
  `adamw_torch`, fp32: `baseline-<alias>` cells of `scripts/run_finetune_study.sh`), the same model, data,
  epochs, learning rate and batch size as the recipe's runs. Its records are copied under
  `results/recipe-baseline` (not `results/records`: the report would read them as a second group of the
  same model and setting). Padding is not an accuracy lever (the attention mask hides it), so the
  accuracy differences come from the batch order, the optimizer's kernel, the fitted `max_length`
  (it truncates the 1% longest training texts) and bf16.
- **recipe**: whole runs with the recipe on this CPU (`RUNS=runs/recipe-cpu CELLS=<alias>:<dataset>:<seed> bash
  scripts/run_finetune_study.sh`, records under `results/recipe-baseline/cpu-recipe`), and, as a second arm, the
  study's runs of the same model and dataset (`results/records/study/<dataset>-<alias>`; MiniLM's on MR were made by
  the same `scripts/run_finetune_study.sh` cells on this CPU, bf16, 2 threads: its seed 0 is the recipe's run again).
- "train s" is each run's training time as recorded, on a shared machine with other jobs beside it: not a speed
  comparison (that is `bench/finetune_recipe.py`'s, in one quiet run).
- The baseline's 95% interval of the official metric is `pipelines.statistics.score_interval` (with one run:
  the test sentences only, a t on n - 1 df; training variance not counted). Each recipe seed, and the
  recipe's mean, is **inside** when it lies within that interval: the issue's criterion.
- recipe - baseline: `pipelines.statistics.crossed_comparison`, the report's comparison (runs x sentences,
  Behrens-Fisher reference; seeds pair where both have them). With one baseline run its training variance
  is not counted: the interval is too narrow by that much, so a "better"/"worse" here is weaker than the
  report's verdicts between two seeded models.

`DataError` when a folder holds no finished run, or the two hold different datasets or models.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import bench_parser, markdown_page
from pipelines.benchmarks import official_metric_for
from pipelines.errors import DataError
from pipelines.formatting import markdown_table
from pipelines.report.compare import read_predictions
from pipelines.runs.record import RunRecord, finished_record
from pipelines.statistics import crossed_comparison, score_interval


def seed_runs(folder: str) -> dict[int, tuple[RunRecord, object]]:
    """{seed: (record, predictions frame)} of the finished runs in `folder`'s `seed-*` subfolders."""
    runs = {}
    for run_dir in sorted(Path(folder).glob("seed-*")):
        record = finished_record(run_dir)
        if record is not None:
            runs[record.seed] = (record, read_predictions(str(run_dir / (record.predictions_file or "predictions.parquet"))))
    if not runs:
        raise DataError(f"{folder}: no finished run (no seed-*/results.json)")
    return runs


def check(baseline_folder: str, recipe_folders: list[str]) -> tuple[list[dict], dict, list[dict]]:
    """The table rows (one per run, then each recipe arm's mean), the baseline's interval, and each recipe
    arm's comparison with the baseline (`crossed_comparison`, plus its `arm`)."""
    baseline = seed_runs(baseline_folder)
    first_b = next(iter(baseline.values()))[0]
    labels = first_b.label_names
    metric = official_metric_for(first_b.dataset, labels)
    frames = [frame for _, frame in baseline.values()]
    interval = score_interval(frames[0]["label"].to_numpy(), [f["prediction"].to_numpy() for f in frames], metric, labels)
    low, high = interval["ci_low"], interval["ci_high"]

    def row(arm: str, seed, score: float, record: RunRecord | None) -> dict:
        inside = "" if arm == baseline_folder else ("yes" if low <= score <= high else "**no**")
        seconds = f"{record.train_seconds:,.0f}" if record and record.train_seconds is not None else ""
        return {"arm": f"`{arm}`", "seed": seed, metric: f"{score:.4f}", "train s": seconds,
                "trained on": (record.train_device or "") if record else "", "inside": inside}  # fmt: skip

    rows = [row(baseline_folder, seed, record.test[metric], record) for seed, (record, _) in sorted(baseline.items())]
    comparisons = []
    for folder in recipe_folders:
        recipe = seed_runs(folder)
        first_r = next(iter(recipe.values()))[0]
        if (first_b.dataset, first_b.model) != (first_r.dataset, first_r.model):
            raise DataError(f"{baseline_folder} holds {first_b.model} on {first_b.dataset}, {folder} {first_r.model} on {first_r.dataset}")
        rows += [row(folder, seed, record.test[metric], record) for seed, (record, _) in sorted(recipe.items())]
        compared = crossed_comparison({s: f for s, (_, f) in recipe.items()}, {s: f for s, (_, f) in baseline.items()}, metric, labels)
        if len(recipe) > 1:
            rows.append(row(folder, f"mean of {len(recipe)}", compared["a_mean"], None))
        comparisons.append({"arm": folder, **compared})
    return rows, interval, comparisons


def main(argv: list[str] | None = None) -> str:
    """Print and write the check; returns the Markdown."""
    parser = bench_parser("recipe_accuracy", __doc__, data_dir=False)
    parser.add_argument("--baseline", default="results/recipe-baseline/baseline/mr-minilm", help="the baseline runs' seed-* folders")
    parser.add_argument("--recipe", nargs="+", default=["results/records/study/mr-minilm"],
                        help="one or more folders of the recipe's runs (seed-* folders), each an arm")  # fmt: skip
    args = parser.parse_args(argv)
    rows, interval, comparisons = check(args.baseline, args.recipe)
    metric = interval["metric"]
    lines = [markdown_table(rows, [(key, key) for key in rows[0]]), "",
             f"Baseline's 95% interval of {metric}: [{interval['ci_low']:.4f}, {interval['ci_high']:.4f}] ({interval['method']}).", ""]
    for compared in comparisons:
        lines.append(
            f"- `{compared['arm']}` - baseline: {compared['difference']:+.4f}, 95% CI [{compared['ci_low']:+.4f}, "
            f"{compared['ci_high']:+.4f}], p {compared['p_value']:.3f}: {compared['verdict']} (`crossed_comparison`, "
            f"{len(compared['a_seeds'])} recipe run(s), {len(compared['b_seeds'])} baseline run(s))."
        )
    text = "\n".join(lines)
    print(text)
    command = f"python -m bench.recipe_accuracy --baseline {args.baseline} --recipe {' '.join(args.recipe)} --output {args.output}"
    method = __doc__.split("\n", 4)[4].strip()
    title = "finetune.py's CPU recipe against the plain-Trainer baseline: test accuracy"
    Path(args.output).write_text(markdown_page(title, command, method + "\n\n" + text + "\n"), encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
