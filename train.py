"""Train a GloVe model on MR or SemEval-2017 4A: `accelerate launch train.py --model bilstm`."""

import sys

from pipelines.arguments import DataArguments, DistillationArguments, GloveModelArguments, GloveTrainingArguments, default_output_dir
from pipelines.cli import limit_torch_threads, parse, quiet_progress_bars, run_cli


def main(argv: list[str]) -> None:
    quiet_progress_bars()
    argument_types = (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments)
    model_args, data_args, training_args, loss_args = parse(argument_types, argv)
    if not training_args.output_dir_given:
        training_args.output_dir = default_output_dir(
            data_args.dataset_label, model_args.model, data_args.cv_folds, data_args.fold, training_args.seed, model_args.folder_tag
        )
    from pipelines.training import train_glove  # after parsing: the flow's imports take seconds, --help needs none

    train_glove(model_args, data_args, training_args, loss_args=loss_args)


if __name__ == "__main__":
    limit_torch_threads()
    sys.exit(run_cli(main))
