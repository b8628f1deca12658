"""Score pretrained sentiment models as they are: `python evaluate_pretrained.py --dataset mr --models ID_OR_DIR ...`."""

import sys

from pipelines.cli import parse, run_cli
from pipelines.pretrained import PretrainedArguments, evaluate_pretrained


def main(argv: list[str]) -> None:
    (args,) = parse((PretrainedArguments,), argv)
    evaluate_pretrained(args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
