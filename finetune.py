"""Fine-tune a pretrained transformer: `accelerate launch finetune.py --model minilm --dataset mr`."""

import sys

from pipelines.arguments import (
    FinetuneDataArguments,
    FinetuneModelArguments,
    FinetuneTrainingArguments,
    LossArguments,
    SetFitArguments,
    model_label,
    resolve_output_dir,
)
from pipelines.cli import limit_torch_threads, parse, quiet_progress_bars, run_cli


def main(argv: list[str]) -> None:
    quiet_progress_bars()
    argument_types = (FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingArguments, LossArguments, SetFitArguments)
    model_args, data_args, training_args, loss_args, setfit_args = parse(argument_types, argv)
    resolve_output_dir(training_args, data_args, model_label(model_args.model, setfit_args.setfit))
    from pipelines.finetuning import finetune  # after parsing: the flow's imports take seconds

    finetune(model_args, data_args, training_args, loss_args=loss_args, setfit_args=setfit_args)


if __name__ == "__main__":
    limit_torch_threads()
    sys.exit(run_cli(main))
