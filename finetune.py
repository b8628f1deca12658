"""Fine-tune a pretrained transformer: `accelerate launch finetune.py --model minilm --dataset mr`."""

import sys

from pipelines.arguments import (
    FinetuneDataArguments,
    FinetuneModelArguments,
    FinetuneTrainingOptions,
    LossArguments,
    SetFitArguments,
)
from pipelines.cli import parse, quiet_progress_bars, run_cli

# The project's options, which `--help` lists and `run_cli` checks before torch and transformers are imported.
OPTIONS = (FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingOptions, LossArguments, SetFitArguments)


def main(argv: list[str]) -> None:
    from pipelines.arguments import FinetuneTrainingArguments  # imports torch and transformers

    quiet_progress_bars()
    argument_types = (FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingArguments, LossArguments, SetFitArguments)
    model_args, data_args, training_args, loss_args, setfit_args = parse(argument_types, argv)
    from pipelines.finetuning import default_output_dir, finetune  # after parsing: the flow's imports take seconds

    if not training_args.output_dir_given:
        training_args.output_dir = default_output_dir(
            data_args.dataset_label, model_args.model, data_args.cv_folds, data_args.fold, training_args.seed, setfit=setfit_args.setfit
        )
    finetune(model_args, data_args, training_args, loss_args=loss_args, setfit_args=setfit_args)


if __name__ == "__main__":
    sys.exit(run_cli(main, options=OPTIONS, limit_threads=True))
