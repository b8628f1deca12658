"""Score sentiment models used as they are (lexicons, zero-shot sentence encoders, checkpoints, ONNX folders):
`python evaluate_pretrained.py --dataset mr [--models vader minilm ID_OR_DIR ...]`."""

import sys

from pipelines.cli import parse, run_cli
from pipelines.pretrained import PretrainedArguments, evaluate_pretrained


def main(argv: list[str]) -> None:
    (args,) = parse((PretrainedArguments,), argv)
    evaluate_pretrained(args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
