"""The scripts' command line: `--help` shows the project's options first, and parsing skips the flows' imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.arguments import DataArguments, DistillationArguments, GloveModelArguments, GloveTrainingArguments
from pipelines.cli import TRAINER_GROUP, leading_positionals, parse, to_argv

ROOT = Path(__file__).resolve().parent.parent


def test_help_lists_the_projects_options_before_the_trainers(capsys):
    types = (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments)
    with pytest.raises(SystemExit):
        parse(types, ["--help"])
    shown = capsys.readouterr().out
    trainer = shown.index(TRAINER_GROUP)
    for option in ("--model", "--train_file", "--class_weights", "--teacher", "--transfer_set_size"):
        assert shown.index(f"  {option} ") < trainer, option
    assert shown.index("  --learning_rate ") > trainer
    assert shown.splitlines()[1] == "", "the usage line names no option: the ~300 are described below it"


def test_dataclasses_come_back_in_the_order_given():
    data, model = parse((DataArguments, GloveModelArguments), ["--model", "bilstm", "--validation_fraction", "0.3"])
    assert (type(data), type(model)) == (DataArguments, GloveModelArguments)
    assert (data.validation_fraction, model.model) == (0.3, "bilstm")


def test_a_bad_option_is_reported_before_the_flows_are_imported():
    """Each script's `main` on a bad option, in a fresh interpreter: no flow, `datasets` or `evaluate` loaded."""
    program = textwrap.dedent(
        """
        import sys
        import evaluate_pretrained, finetune, train
        from pipelines.cli import run_cli
        for script in (train, finetune, evaluate_pretrained):
            assert run_cli(script.main, ["--dataset", "nope"]) == 2
        heavy = ("datasets", "evaluate", "sklearn", "pipelines.training", "pipelines.finetuning", "pipelines.pretrained")
        print(sorted(name for name in heavy if name in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert done.stderr.count("error: unknown --dataset 'nope'") == 3


def test_to_argv_writes_what_differs_from_the_defaults_and_parses_back():
    types = (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments)
    given = ["--model", "bilstm", "--train_embeddings", "--max_vocab_size", "0", "--cv_folds", "5", "--fold", "2",
             "--learning_rate", "0.0123", "--report_to", "tensorboard", "--eval_strategy", "steps", "--eval_steps", "7",
             "--save_strategy", "steps", "--save_steps", "7", "--lr_scheduler_kwargs", '{"power": 2.0}',
             "--class_weights", "1,0.5", "--seed", "3"]  # fmt: skip
    parsed = parse(types, given)
    argv = to_argv(*parsed)
    assert parse(types, argv) == parsed
    assert to_argv(*parse(types, [])) == []  # the defaults need no option
    assert argv[argv.index("--train_embeddings") + 1] == "true" and argv[argv.index("--eval_strategy") + 1] == "steps"
    assert argv[argv.index("--report_to") + 1] == "tensorboard" and "--dataset" not in argv  # mr is the default
    (model_args,) = parse((GloveModelArguments,), [])
    model_args.config_overrides, model_args.max_vocab_size = "dropout=0.3", None
    with pytest.raises(ValueError, match="max_vocab_size is None"):
        to_argv(model_args)


def test_leading_positionals_become_the_named_option():
    assert leading_positionals(["a", "b", "--x", "1"], "--run_dirs") == ["--run_dirs", "a", "b", "--x", "1"]
    assert leading_positionals(["--x", "1"], "--run_dirs") == ["--x", "1"]
