"""Fine-tune a pretrained transformer: `accelerate launch finetune.py --model minilm --dataset mr`."""

import sys

from pipelines.arguments import (
    FinetuneDataArguments,
    FinetuneModelArguments,
    FinetuneTrainingOptions,
    LossArguments,
    SearchArguments,
    SetFitArguments,
    model_label,
    resolve_output_dir,
)
from pipelines.cli import parse, quiet_progress_bars, run_cli
from pipelines.errors import OptionError

# The project's options, which `--help` lists and `run_cli` checks before torch and transformers are imported.
OPTIONS = (FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingOptions, LossArguments, SetFitArguments, SearchArguments)


def main(argv: list[str]) -> None:
    from pipelines.arguments import FinetuneTrainingArguments  # imports torch and transformers

    quiet_progress_bars()
    argument_types = (FinetuneModelArguments, FinetuneDataArguments, FinetuneTrainingArguments, LossArguments, SetFitArguments, SearchArguments)
    model_args, data_args, training_args, loss_args, setfit_args, search_args = parse(argument_types, argv)
    if search_args.search and setfit_args.setfit:
        raise OptionError("--search optuna searches the Trainer's options; SetFit trains without the Trainer: drop --setfit or --search")
    if setfit_args.setfit and loss_args.class_weights is not None:
        raise OptionError(
            "--class_weights weighs the Trainer's cross-entropy; SetFit trains without it (a contrastive loss, then a "
            "scikit-learn logistic-regression head): drop --setfit or --class_weights"
        )
    if setfit_args.setfit and training_args.world_size > 1:
        raise OptionError("--setfit trains in one process (the setfit library's own loop): launch it without several processes")
    if setfit_args.setfit and training_args.resume_from_checkpoint:
        raise OptionError("--resume_from_checkpoint resumes a Trainer run; SetFit keeps no checkpoint (a killed SetFit run starts again): drop it")
    resolve_output_dir(training_args, data_args, model_label(model_args.model, setfit_args.setfit), search=search_args.search)
    if search_args.search:
        from pipelines.finetune_search import search_finetune  # after parsing: the flow's imports take seconds

        search_finetune(model_args, data_args, training_args, loss_args, search_args)
        return
    from pipelines.finetuning import finetune

    finetune(model_args, data_args, training_args, loss_args=loss_args, setfit_args=setfit_args)


if __name__ == "__main__":
    sys.exit(run_cli(main, options=OPTIONS, limit_threads=True))
