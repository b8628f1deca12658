"""Train a GloVe model on MR or SemEval-2017 4A: `accelerate launch train.py --model bilstm`."""

import sys

from pipelines.arguments import (
    DataArguments, DistillationArguments, GloveModelArguments, GloveTrainingOptions, SearchArguments, resolve_output_dir,
)
from pipelines.cli import parse, quiet_progress_bars, run_cli

# The project's options, which `--help` lists and `run_cli` checks before torch and transformers are imported.
OPTIONS = (GloveModelArguments, DataArguments, GloveTrainingOptions, DistillationArguments, SearchArguments)


def main(argv: list[str]) -> None:
    from pipelines.arguments import GloveTrainingArguments  # imports torch and transformers

    quiet_progress_bars()
    argument_types = (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments, SearchArguments)
    model_args, data_args, training_args, loss_args, search_args = parse(argument_types, argv)
    resolve_output_dir(training_args, data_args, model_args.model, model_args.folder_tag, search_args.search)
    if search_args.search:
        from pipelines.search import search_glove

        search_glove(model_args, data_args, training_args, loss_args, search_args)
        return
    from accelerate import PartialState

    from models.presets import other_vectors_setting
    from pipelines.training import train_glove  # after parsing: the flow's imports take seconds, --help needs none

    train_glove(model_args, data_args, training_args, loss_args=loss_args)
    if PartialState().is_main_process:
        print(other_vectors_setting(model_args.model, model_args.train_embeddings))


if __name__ == "__main__":
    sys.exit(run_cli(main, options=OPTIONS, limit_threads=True))
