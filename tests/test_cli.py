"""The scripts' command line: `--help` shows the project's options first, and `--help` and a bad
project option are answered before torch and transformers are imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from transformers import TrainingArguments

import models
import train
from pipelines.arguments import (
    GLOVE_MODEL_NAMES, TRAINER_DEFAULT_SEED, DataArguments, DistillationArguments, GloveModelArguments, GloveTrainingArguments,
)
from pipelines.cli import FULL_HELP_FLAG, TRAINER_GROUP, check_options, leading_positionals, pairs_text, parse, parse_pairs, run_cli, to_argv
from pipelines.errors import OptionError

ROOT = Path(__file__).resolve().parent.parent


def test_full_help_lists_the_projects_options_before_the_trainers(capsys):
    types = (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments)
    with pytest.raises(SystemExit):
        parse(types, [FULL_HELP_FLAG])
    shown = capsys.readouterr().out
    trainer = shown.index(TRAINER_GROUP)
    for option in ("--model", "--train_file", "--class_weights", "--teacher", "--transfer_set_size"):
        assert shown.index(f"  {option} ") < trainer, option
    assert shown.index("  --learning_rate ") > trainer
    assert shown.splitlines()[1] == "", "the usage line names no option: the Trainer's 100-odd are described below it"


def test_dataclasses_come_back_in_the_order_given():
    data, model = parse((DataArguments, GloveModelArguments), ["--model", "bilstm", "--validation_fraction", "0.3"])
    assert (type(data), type(model)) == (DataArguments, GloveModelArguments)
    assert (data.validation_fraction, model.model) == (0.3, "bilstm")


def test_help_and_a_bad_option_import_neither_torch_nor_transformers():
    """Each script's `run_cli` on `--help` and on a bad option, in a fresh interpreter: nothing heavy loaded."""
    program = textwrap.dedent(
        """
        import sys
        import evaluate_pretrained, finetune, train
        from pipelines.cli import run_cli
        for script, options in ((train, train.OPTIONS), (finetune, finetune.OPTIONS), (evaluate_pretrained, (evaluate_pretrained.PretrainedArguments,))):
            assert run_cli(script.main, ["--dataset", "nope"], options=options) == 2
            try:
                run_cli(script.main, ["--help"], options=options)
            except SystemExit as stop:
                assert stop.code == 0
        heavy = ("torch", "transformers", "datasets", "evaluate", "sklearn", "pipelines.training", "pipelines.finetuning")
        print(sorted(name for name in heavy if name in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
    assert done.stderr.count("error: unknown --dataset 'nope'") == 3
    assert done.stdout.count(FULL_HELP_FLAG) == 2, "train.py's and finetune.py's --help say where the Trainer's other options are"


def test_quick_help_lists_the_projects_options_then_the_trainer_defaults_this_script_sets(capsys):
    with pytest.raises(SystemExit):
        check_options(train.OPTIONS, ["--help"])
    shown = capsys.readouterr().out
    trainer = shown.index(TRAINER_GROUP)
    for option in ("--model", "--train_file", "--class_weights", "--teacher", "--search"):
        assert shown.index(f"  {option} ") < trainer, option
    assert shown.index("  --learning_rate ") > trainer and "(default: 0.001)" in shown
    assert "  --lr_scheduler_type " not in shown, "the Trainer's other ~280 options are left to --help_all"


def test_the_quick_check_reads_options_as_the_full_parser_does():
    """Trainer options, dashes, bare and negated booleans mixed in: no false alarm, and the same values."""
    argv = ["--model", "bilstm", "--learning_rate", "0.01", "--train-embeddings", "--seed", "3",
            "--no_temperature_scaling", "--data-dir", "data", "--report_to", "none", "--max_vocab_size", "0"]  # fmt: skip
    check_options(train.OPTIONS, argv)
    model_args, _, training_args, _ = parse((GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments), argv)
    assert (model_args.model, model_args.train_embeddings, model_args.max_vocab_size) == ("bilstm", True, 0)
    assert (training_args.learning_rate, training_args.temperature_scaling) == (0.01, False)
    with pytest.raises(OptionError, match="--n_trials must be at least 1"):
        check_options(train.OPTIONS, ["--n_trials", "0", "--learning_rate", "0.01"])


def test_the_light_copies_agree_with_models_and_transformers():
    assert GLOVE_MODEL_NAMES == tuple(models.GLOVE_MODELS)
    assert TRAINER_DEFAULT_SEED == TrainingArguments.seed


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


def test_key_value_options_have_one_parser_and_its_text_parses_back():
    """`--config_overrides`, `--label_map` and `--stand_ins` are read by `parse_pairs`; `pairs_text` writes it back;
    a config's fields type the values as `PretrainedConfig.update_from_string` does, and the config is not changed."""
    from transformers import AutoConfig

    from pipelines.training import typed_overrides

    pairs = parse_pairs(" num_layers=6, dropout=0.10,,final_layer_norm=True", "--config_overrides")
    assert pairs == {"num_layers": "6", "dropout": "0.10", "final_layer_norm": "True"}
    assert parse_pairs(pairs_text(pairs), "--config_overrides") == pairs and parse_pairs(None, "--label_map") == {}
    typed = {"num_layers": 6, "dropout": 0.1, "final_layer_norm": True}
    assert pairs_text(typed) == "num_layers=6,dropout=0.1,final_layer_norm=true"
    config = AutoConfig.for_model("glove-attention")
    assert typed_overrides(config, pairs_text(typed)) == typed == typed_overrides(config, pairs_text(pairs))
    assert typed_overrides(config, "final_layer_norm=no,dropout=1") == {"final_layer_norm": False, "dropout": 1.0}
    assert config.to_dict() == AutoConfig.for_model("glove-attention").to_dict()


@pytest.mark.parametrize("item", ["no_equals_sign", "dropout=0.1=0.2", "=0.1", "dropout="])
def test_an_entry_that_is_not_key_value_is_one_error_line_naming_the_option(item, capsys):
    def main(argv):
        parse_pairs(argv[0], "--config_overrides", example="hidden_size=256,dropout=0.3")

    assert run_cli(main, [f"num_layers=2,{item}"]) == 2
    expected = f"error: --config_overrides entry {item!r} is not field=value (e.g. 'hidden_size=256,dropout=0.3')"
    assert capsys.readouterr().err.splitlines() == [expected]


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({"learning_rate": "abc"}, "learning_rate is 'abc', which is not a number"),
        ({"num_train_epochs": True}, "num_train_epochs is True, which is not a number"),
        ({"seed": 1.5}, "seed is 1.5, which is not a whole number"),
        ({"train_embeddings": "yes"}, "train_embeddings is 'yes', which is not true or false"),
        ({"class_weights": 3}, "class_weights is 3, which is not text"),
    ],
)
def test_a_json_arguments_file_is_typed_as_the_command_line_is_and_its_errors_name_the_file(tmp_path, capsys, config, said):
    """`HfArgumentParser.parse_dict` hands JSON values over unchecked: "abc" as the learning rate reached
    `TrainingArguments.__post_init__` as a TypeError traceback, after train.py had made the run folder."""
    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps({"model": "mean", "output_dir": str(tmp_path / "out"), **config}))
    assert run_cli(train.main, [str(config_file)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {config_file}: {said}") and "\n" not in error
    assert not (tmp_path / "out").exists()
    config_file.write_text("{'model': 'mean'}")
    assert run_cli(train.main, [str(config_file)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {config_file}: not a JSON arguments file (Expecting property name")


def test_typed_json_arguments_parse_as_the_same_options_given_on_the_command_line(tmp_path):
    config = {"model": "bilstm", "learning_rate": 1, "num_train_epochs": 2.5, "train_embeddings": True, "eval_strategy": "steps",
              "save_strategy": "steps", "eval_steps": 10, "save_steps": 10, "report_to": ["none"], "class_weights": "balanced", "train_file": None}  # fmt: skip
    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps(config))
    types = (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments)
    from_file = parse(types, [str(config_file)])
    from_argv = parse(types, ["--model", "bilstm", "--learning_rate", "1", "--num_train_epochs", "2.5", "--train_embeddings", "true",
                              "--eval_strategy", "steps", "--save_strategy", "steps", "--eval_steps", "10", "--save_steps", "10", "--report_to", "none", "--class_weights", "balanced"])  # fmt: skip
    assert [to_argv(item) for item in from_file] == [to_argv(item) for item in from_argv]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--learning_rate", "-0.01"], "--learning_rate must be 0 or more, got -0.01"),
        (["--learning_rate", "nan"], "--learning_rate must be 0 or more, got nan"),
        (["--num_train_epochs", "-1"], "--num_train_epochs must be above 0 (or give --max_steps), got -1.0"),
        (["--num_train_epochs", "0"], "--num_train_epochs must be above 0 (or give --max_steps), got 0.0"),
    ],
)
def test_a_learning_rate_or_budget_no_run_can_train_with_is_refused_before_the_run_folder_is_made(tmp_path, capsys, argv, said):
    """Round 24's new-user trial: --learning_rate -0.01 was a torch traceback after train.py had written its run folder, and
    --num_train_epochs -1 trained nothing and wrote an untrained model's results with exit 0."""
    assert run_cli(train.main, ["--model", "mean", "--output_dir", str(tmp_path / "out"), *argv]) == 2
    assert capsys.readouterr().err.strip() == f"error: {said}"
    assert not (tmp_path / "out").exists()
    assert parse((GloveTrainingArguments,), ["--num_train_epochs", "0", "--max_steps", "5"])[0].max_steps == 5


def test_a_fold_without_cross_validation_is_refused_not_ignored(tmp_path, capsys):
    """`--fold 3` without `--cv_folds` trained on the lab split as if no fold had been asked for (exit 0)."""
    assert run_cli(train.main, ["--model", "mean", "--fold", "3", "--output_dir", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == "error: --fold 3 needs --cv_folds (the number of folds it is one of)"
    assert not (tmp_path / "out").exists()
    assert parse((DataArguments,), ["--cv_folds", "5", "--fold", "3"])[0].fold == 3


def test_usage_lines_name_the_command_the_user_ran():
    """`python -m pipelines.calibrate --help` said "usage: calibrate.py" and the report "usage: __main__.py"."""
    for command, said in ((["-m", "pipelines.calibrate"], "python -m pipelines.calibrate"), (["-m", "pipelines.report"], "python -m pipelines.report"),
                          (["train.py"], "train.py")):  # fmt: skip
        shown = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        assert shown.startswith(f"usage: {said} [OPTIONS] | {said} ARGS.json"), shown[:80]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--lerning_rate", "1e-4"], "error: unknown option --lerning_rate (did you mean --learning_rate?); --help lists them"),
        (["--max_train_samples", "0"], "error: --max_train_samples must be at least 1 (leave it out to keep every sentence), got 0"),
        (["--early_stopping_patience", "0"], "error: --early_stopping_patience must be at least 1 (evaluations without a better score), got 0"),
    ],
)
def test_an_unknown_option_or_an_empty_subset_is_one_line_naming_it(tmp_path, capsys, argv, said):
    """Round 25's new-user trial: an unknown option got HfArgumentParser's "Some specified arguments are not used by the
    HfArgumentParser: ['--lerning_rate', '1e-4']", and --max_train_samples 0 a traceback from deep in the run."""
    import finetune

    assert run_cli(finetune.main, ["--model", "minilm", "--output_dir", str(tmp_path / "out"), *argv]) == 2
    assert capsys.readouterr().err.strip() == said
    assert not (tmp_path / "out").exists()


def test_an_unknown_key_in_a_json_arguments_file_names_the_file(tmp_path, capsys):
    arguments = tmp_path / "run.json"
    arguments.write_text(json.dumps({"model": "mean", "lerning_rate": 1e-4, "output_dir": str(tmp_path / "out")}))
    assert run_cli(train.main, [str(arguments)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {arguments}: unknown option 'lerning_rate' (did you mean 'learning_rate'?)"
    assert not (tmp_path / "out").exists()

