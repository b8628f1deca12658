"""finetune.py --search optuna on a tiny BERT: trials on validation only, the best one an ordinary run."""

from __future__ import annotations

import json

import finetune
from pipelines import fitting
from pipelines.cli import run_cli
from pipelines.search_spaces import FINETUNE_SPACE, SEARCH_SPACES
from tests.test_search import study_in
from tests.tiny_bert import build_tiny_bert, write_semeval

QUICK = ["--num_train_epochs", "1", "--report_to", "none", "--seed", "3"]
LIMITS = ["--max_train_samples", "24", "--max_eval_samples", "12", "--max_test_samples", "9"]


def test_a_finetuning_search_trains_the_best_trial_once_on_test(tmp_path, monkeypatch):
    data = write_semeval(tmp_path / "data")
    base = build_tiny_bert(tmp_path / "base", ["negative", "positive"])
    output_dir = tmp_path / "search"
    argv = [
        "--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(data), "--output_dir", str(output_dir),
        *QUICK, *LIMITS, "--search", "optuna", "--n_trials", "2",
    ]
    scored = []  # the folder of each run whose restored model predicted a split in order (the test set, then validation)
    predict_in_order = fitting.predict_in_order
    monkeypatch.setattr(
        fitting, "predict_in_order", lambda trainer, *splits: scored.extend([trainer.args.output_dir] * len(splits)) or predict_in_order(trainer, *splits)
    )
    assert run_cli(finetune.main, argv) == 0

    study = study_in(output_dir / "optuna-journal.log")
    assert len(study.trials) == 2 and study.study_name.startswith("semeval2017a-base-")
    assert set(study.best_params) == {"learning_rate", "per_device_train_batch_size", "weight_decay", "warmup_steps"}
    best_dir = output_dir / f"best-trial-{study.best_trial.number}"
    results = json.loads((best_dir / "results.json").read_text())
    assert results["search"] == {
        "study": study.study_name, "trial": study.best_trial.number, "validation": study.best_value, "params": study.best_params,
        "complete_trials": 2,
    }
    # The best run repeats its trial: the same validation loss after its epoch, to the bit, and the same best score.
    # (On this tiny run the warm-up leaves the first step's rate at 0, so it holds without the re-seeding too; the
    # re-seeding itself is tested by `test_a_loaded_backbone_leaves_the_random_state_of_its_seed`.)
    def eval_losses(folder):
        state = json.loads(next(folder.glob("checkpoint-*/trainer_state.json")).read_text())
        return [entry["eval_loss"] for entry in state["log_history"] if "eval_loss" in entry], state["best_metric"]

    trial_dir = output_dir / "trials" / study.study_name / f"trial-{study.best_trial.number}"
    assert eval_losses(best_dir) == eval_losses(trial_dir) and eval_losses(best_dir)[1] == study.best_value
    assert results["test_sentences"] == 9
    training_args = json.loads((best_dir / "training_args.json").read_text())
    for key, value in study.best_params.items():
        assert training_args[key] == value
    # The test set is scored once, for the chosen configuration, and never in a trial.
    assert scored == [str(best_dir)] * 2  # its test set, then its validation split
    trial_states = list((output_dir / "trials").glob("*/trial-*/checkpoint-*/trainer_state.json"))  # trials/<study>/trial-<n>
    assert trial_states and not any("test_loss" in path.read_text() for path in trial_states)


def test_the_finetuning_space_lives_beside_the_glove_spaces():
    import optuna

    trial = optuna.trial.FixedTrial({"learning_rate": 3e-5, "per_device_train_batch_size": 16, "weight_decay": 0.01, "warmup_steps": 0.1})
    assert SEARCH_SPACES[FINETUNE_SPACE](trial) == {
        "learning_rate": 3e-5, "per_device_train_batch_size": 16, "weight_decay": 0.01, "warmup_steps": 0.1,
    }


def test_search_and_setfit_together_give_one_line(tmp_path, capsys):
    assert run_cli(finetune.main, ["--model", str(tmp_path), "--search", "optuna", "--setfit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --search optuna searches the Trainer's options") and err.count("\n") == 1


def test_a_bad_storage_is_refused_before_the_data_is_read(tmp_path, capsys):
    base = build_tiny_bert(tmp_path / "base", ["negative", "positive"])
    (tmp_path / "folder").mkdir()
    argv = ["--model", str(base), "--dataset", "mr", "--data-dir", str(tmp_path / "no-data"), "--output_dir", str(tmp_path / "out"),
            "--search", "optuna", "--storage", str(tmp_path / "folder")]  # fmt: skip
    assert run_cli(finetune.main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --storage {tmp_path / 'folder'} is a folder") and err.count("\n") == 1  # not the missing data
    assert not (tmp_path / "out").exists()


def test_a_search_over_a_backbone_without_a_pad_token_pads_with_its_end_of_text_token(tmp_path):
    """The search tokenizes with its own tokenizer: without `pad_with_eos` there, every trial failed at its first batch
    (DataCollatorWithPadding: "Asking to pad but the tokenizer does not have a padding token") while each trial's model
    said it padded with its end-of-text token."""
    from tests.tiny_bert import build_tiny_gpt2

    data = write_semeval(tmp_path / "data")
    base = build_tiny_gpt2(tmp_path / "gpt2", ["negative", "positive"])
    output_dir = tmp_path / "search"
    argv = ["--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(data), "--output_dir", str(output_dir),
            *QUICK, *LIMITS, "--search", "optuna", "--n_trials", "1"]  # fmt: skip
    assert run_cli(finetune.main, argv) == 0
    study = study_in(output_dir / "optuna-journal.log")
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"]
    assert (output_dir / f"best-trial-{study.best_trial.number}" / "results.json").is_file()


def test_a_loaded_backbone_leaves_the_random_state_of_its_seed(tmp_path):
    """Drawing a new head consumes the random stream; `load_pretrained` sets the seed again after it, so a search
    trial (whose model `Trainer.train` loads after seeding) and the run that repeats it train from the same state."""
    import torch
    from transformers import set_seed

    from pipelines.finetuning import load_pretrained

    base = build_tiny_bert(tmp_path / "base", ["negative", "positive"])
    set_seed(5)
    expected = torch.rand(4)
    load_pretrained(str(base), ["negative", "neutral", "positive"], 5, {})  # a 3-class head drawn afresh
    assert torch.equal(torch.rand(4), expected)
