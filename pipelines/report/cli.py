"""The command line of the report: `python -m pipelines.report RUNS_DIR [--output DIR] [--speeds SPEEDS_JSON] [--teachers DIR]`."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.cli import leading_positionals, parse
from pipelines.errors import OptionError
from pipelines.report.build import ASO_ITERATIONS, write_report
from pipelines.statistics import RESAMPLING_SEED


@dataclass
class ReportArguments:
    """The results report of run folders or run records (`pipelines.report`)."""

    runs_dir: str = field(metadata={"help": "folder searched for run records (results.json) and evaluation.json files (also the first argument)"})
    output: str | None = field(default=None, metadata={"help": "report folder (default: RUNS_DIR/report)"})
    seed: int = field(default=RESAMPLING_SEED, metadata={"help": "seed of the ASO bootstrap"})
    aso_iterations: int = field(default=ASO_ITERATIONS, metadata={"help": "deepsig.aso bootstrap iterations"})
    speeds: str | None = field(
        default=None,
        metadata={"help": "a bench.speeds speeds.json: each dataset gains its cost/accuracy front (figure and table)"},
    )
    teachers: str | None = field(
        default=None,
        metadata={"help": "folder of the runs distilled models learnt from (e.g. results/teachers), kept out of RUNS_DIR: "
                          "each student is then compared with its teacher"},
    )
    disable_tqdm: bool = field(default=False, metadata={"help": "no progress bars (reading runs, comparisons, figures)"})

    def __post_init__(self):
        if self.aso_iterations < 2:
            raise OptionError(f"--aso_iterations {self.aso_iterations}: give at least 2")


def main(argv: list[str]) -> None:
    (args,) = parse((ReportArguments,), leading_positionals(argv, "--runs_dir"))
    print(f"wrote {write_report(args.runs_dir, args.output, args.seed, args.aso_iterations, args.speeds, args.teachers, progress=not args.disable_tqdm)}")
