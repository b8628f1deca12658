"""Fine-tune a pretrained transformer: `accelerate launch finetune.py --model minilm --dataset mr`."""

import sys

from pipelines.arguments import (
    FinetuneDataArguments,
    FinetuneModelArguments,
    FinetuneTrainingArguments,
    LossArguments,
    SearchArguments,
    SetFitArguments,
)
from pipelines.cli import limit_torch_threads, parse, quiet_progress_bars, run_cli
from pipelines.errors import OptionError


def main(argv: list[str]) -> None:
    quiet_progress_bars()
    argument_types = (FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingArguments, LossArguments, SetFitArguments, SearchArguments)
    model_args, data_args, training_args, loss_args, setfit_args, search_args = parse(argument_types, argv)
    if search_args.search and setfit_args.setfit:
        raise OptionError("--search optuna searches the Trainer's options; SetFit trains without the Trainer: drop --setfit or --search")
    from pipelines.finetuning import default_output_dir, finetune  # after parsing: the flow's imports take seconds

    if not training_args.output_dir_given:
        training_args.output_dir = default_output_dir(
            data_args.dataset_label, model_args.model, data_args.cv_folds, data_args.fold, training_args.seed, setfit=setfit_args.setfit,
            train_size=data_args.train_size, search=search_args.search,
        )
    if search_args.search:
        from pipelines.finetune_search import search_finetune

        search_finetune(model_args, data_args, training_args, loss_args, search_args)
        return
    finetune(model_args, data_args, training_args, loss_args=loss_args, setfit_args=setfit_args)


if __name__ == "__main__":
    limit_torch_threads()
    sys.exit(run_cli(main))
