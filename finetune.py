"""Fine-tune a pretrained transformer: `accelerate launch finetune.py --model minilm --dataset mr`."""

import sys

from pipelines.arguments import (
    FinetuneDataArguments,
    FinetuneModelArguments,
    FinetuneTrainingArguments,
    LossArguments,
    SearchArguments,
    SetFitArguments,
    model_label,
    resolve_output_dir,
)
from pipelines.cli import limit_torch_threads, parse, quiet_progress_bars, run_cli
from pipelines.errors import OptionError


def main(argv: list[str]) -> None:
    quiet_progress_bars()
    argument_types = (FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingArguments, LossArguments, SetFitArguments, SearchArguments)
    model_args, data_args, training_args, loss_args, setfit_args, search_args = parse(argument_types, argv)
    if search_args.search and setfit_args.setfit:
        raise OptionError("--search optuna searches the Trainer's options; SetFit trains without the Trainer: drop --setfit or --search")
    resolve_output_dir(training_args, data_args, model_label(model_args.model, setfit_args.setfit), search=search_args.search)
    if search_args.search:
        from pipelines.finetune_search import search_finetune  # after parsing: the flow's imports take seconds

        search_finetune(model_args, data_args, training_args, loss_args, search_args)
        return
    from pipelines.finetuning import finetune

    finetune(model_args, data_args, training_args, loss_args=loss_args, setfit_args=setfit_args)


if __name__ == "__main__":
    limit_torch_threads()
    sys.exit(run_cli(main))
