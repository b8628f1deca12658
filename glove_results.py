"""Train all GloVe models on both datasets and write one table: `python glove_results.py --data_dir DIR`."""

import os
import shlex
import sys

from pipelines.cli import parse, run_cli
from pipelines.experiments import ExperimentArguments, run_experiments


def main(argv: list[str]) -> None:
    (args,) = parse((ExperimentArguments,), argv)
    environment = [f"{name}={os.environ[name]}" for name in ("HF_HUB_OFFLINE", "OMP_NUM_THREADS") if name in os.environ]
    run_experiments(args, command=shlex.join([*environment, "python", "glove_results.py", *argv]))


if __name__ == "__main__":
    sys.exit(run_cli(main))
