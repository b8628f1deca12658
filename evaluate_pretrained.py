"""Score sentiment models used as they are (lexicons, zero-shot sentence encoders, checkpoints, ONNX folders):
`python evaluate_pretrained.py --dataset mr [--models vader minilm ID_OR_DIR ...]`."""

import sys

from pipelines.arguments import PretrainedArguments
from pipelines.cli import parse, run_cli


def main(argv: list[str]) -> None:
    (args,) = parse((PretrainedArguments,), argv)
    from pipelines.pretrained import evaluate_pretrained  # after parsing: the flow's imports take seconds

    evaluate_pretrained(args)


if __name__ == "__main__":
    sys.exit(run_cli(main, options=(PretrainedArguments,)))
