"""The command line of the report: `python -m pipelines.report RUNS_DIR [--output DIR] [--front PARETO_JSON]`."""

from __future__ import annotations

import argparse

from pipelines.errors import OptionError
from pipelines.report.build import ASO_ITERATIONS, write_report
from pipelines.statistics import RESAMPLING_SEED


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.report", description="The results report of run folders or run records.")
    parser.add_argument("runs_dir", help="folder searched for run records (results.json) and evaluation.json files")
    parser.add_argument("--output", help="report folder (default: RUNS_DIR/report)")
    parser.add_argument("--seed", type=int, default=RESAMPLING_SEED, help=f"seed of the ASO bootstrap (default {RESAMPLING_SEED})")
    parser.add_argument("--aso_iterations", type=int, default=ASO_ITERATIONS, help=f"deepsig.aso bootstrap iterations (default {ASO_ITERATIONS})")
    parser.add_argument("--front", help="a bench.pareto pareto.json measured on these records: each dataset gains its cost/accuracy figure and table")
    parser.add_argument("--disable_tqdm", action="store_true", help="no progress bars (reading runs, comparisons, figures)")
    args = parser.parse_args(argv)
    if args.aso_iterations < 2:
        raise OptionError(f"--aso_iterations {args.aso_iterations}: give at least 2")
    print(f"wrote {write_report(args.runs_dir, args.output, args.seed, args.aso_iterations, args.front, progress=not args.disable_tqdm)}")

