"""train.py --search optuna on tiny data: a shared, resumable study; the best trial as an ordinary run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

import train
from pipelines import fitting, search
from pipelines.cli import run_cli
from pipelines.search_spaces import SEARCH_SPACES, head_counts
from tests.conftest import REPO_ROOT


def study_in(journal) -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(journal)))
    (name,) = optuna.get_all_study_names(storage)  # one command, one study
    return optuna.load_study(study_name=name, storage=storage)


@pytest.mark.slow
def test_a_search_resumes_its_study_and_trains_the_best_trial_once_on_test(tmp_path, tiny_semeval, tiny_glove, monkeypatch):
    output_dir = tmp_path / "search"
    argv = [
        "--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
        "--output_dir", str(output_dir), "--num_train_epochs", "1", "--search", "optuna", "--n_trials", "2",
        "--report_to", "tensorboard",
    ]
    scored = []  # the folder of each run whose restored model predicted a split in order (the test set, then validation)
    predict_in_order = fitting.predict_in_order
    monkeypatch.setattr(
        fitting, "predict_in_order", lambda trainer, *splits: scored.extend([trainer.args.output_dir] * len(splits)) or predict_in_order(trainer, *splits)
    )
    pruners = []  # what each process's study was created with: the default is no pruner
    create_study = optuna.create_study
    monkeypatch.setattr(optuna, "create_study", lambda **kwargs: pruners.append(kwargs["pruner"]) or create_study(**kwargs))
    assert run_cli(train.main, argv) == 0
    assert [type(pruner) for pruner in pruners] == [optuna.pruners.NopPruner]
    journal = output_dir / "optuna-journal.log"
    assert len(study_in(journal).trials) == 2
    assert run_cli(train.main, argv) == 0  # the same command again: the same study, two trials more
    study = study_in(journal)
    assert len(study.trials) == 4 and study.study_name.startswith("semeval2017a-mean-")

    best_dir = output_dir / f"best-trial-{study.best_trial.number}"
    results = json.loads((best_dir / "results.json").read_text())
    assert results["search"]["params"] == study.best_params and results["search"]["trial"] == study.best_trial.number
    assert results["search"]["validation"] == study.best_value
    assert results["search"]["complete_trials"] in (2, 4)  # chosen after the first command's 2 trials, or after all 4
    config = json.loads((best_dir / "config.json").read_text())
    assert (config["hidden_size"], config["dropout"]) == (study.best_params["hidden_size"], study.best_params["dropout"])
    assert json.loads((best_dir / "training_args.json").read_text())["learning_rate"] == study.best_params["learning_rate"]
    # The test set is scored once per best run and never in a trial.
    best_runs = sorted(str(path.parent) for path in output_dir.glob("best-trial-*/results.json"))
    assert sorted(scored) == sorted(best_runs * 2)  # its test set, then its validation split
    trial_states = list((output_dir / "trials" / study.study_name).glob("trial-*/checkpoint-*/trainer_state.json"))
    assert trial_states and not any("test_loss" in path.read_text() for path in trial_states)
    assert [path.name for path in (output_dir / "trials").iterdir()] == [study.study_name]  # the study's trials have a folder of their own
    # Each trial is one tracked run, named after the study and the trial.
    tracked = {path.parent.name for path in (output_dir / "trials" / study.study_name / "runs").rglob("events.out.tfevents.*")}
    assert tracked == {f"trial-{trial.number}" for trial in study.trials}


@pytest.mark.slow
def test_two_processes_running_the_same_command_share_one_study(tmp_path, tiny_semeval, tiny_glove):
    output_dir = tmp_path / "search"
    command = [
        sys.executable, "train.py", "--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval),
        "--embeddings", str(tiny_glove), "--output_dir", str(output_dir), "--num_train_epochs", "1",
        "--search", "optuna", "--n_trials", "2",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    processes = [subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    study = study_in(output_dir / "optuna-journal.log")
    assert sorted(trial.number for trial in study.trials) == [0, 1, 2, 3]
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in study.trials)
    best_runs = list(output_dir.glob("best-trial-*"))
    assert best_runs and all((folder / "results.json").is_file() for folder in best_runs)


STOPPED_SEARCH = """
import sys, time, optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from pipelines.search import terminate_as_interrupt

study = optuna.create_study(study_name="stopped", storage=JournalStorage(JournalFileBackend(sys.argv[1])))

def objective(trial):
    trial.suggest_float("x", 0.0, 1.0)
    print("trial under way", flush=True)
    time.sleep(60)  # the parent's SIGTERM arrives here
    return 0.0

with terminate_as_interrupt():
    study.optimize(objective, n_trials=1)
"""


@pytest.mark.parametrize("handled", [True, False], ids=["terminate_as_interrupt", "plain"])
def test_a_search_stopped_by_sigterm_records_its_trial_as_failed(handled, tmp_path):
    journal = tmp_path / "journal.log"
    plain = STOPPED_SEARCH.replace("from pipelines.search import terminate_as_interrupt\n", "").replace("with terminate_as_interrupt():\n    ", "")
    script = STOPPED_SEARCH if handled else plain
    process = subprocess.Popen([sys.executable, "-c", script, str(journal)], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "trial under way\n"
    process.terminate()  # SIGTERM: kill's default, a Slurm time limit
    output = process.communicate(timeout=60)[1]  # stderr
    (trial,) = study_in(journal).trials
    if handled:  # Optuna's own handling of an interrupt: the trial is told failed, then the interrupt goes on
        assert trial.state == optuna.trial.TrialState.FAIL and "KeyboardInterrupt" in output and process.returncode != 0
    else:  # what the handler exists for: without it the trial stays running in the journal for good
        assert trial.state == optuna.trial.TrialState.RUNNING and process.returncode == -signal.SIGTERM


def test_terminate_as_interrupt_restores_the_previous_handler():
    previous = signal.getsignal(signal.SIGTERM)
    with search.terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is previous


def q5_study_name(pruner: str) -> str:
    """The study name of scripts/run_q5.sh's search command with `--pruner`: a hash of options, so no data is read."""
    from pipelines.arguments import DataArguments, DistillationArguments, GloveModelArguments, GloveTrainingArguments, SearchArguments, resolve_output_dir
    from pipelines.cli import parse

    argv = ["--model", "transformer", "--dataset", "mr", "--data_dir", "../shared/datasets", "--train_embeddings", "--search", "optuna",
            "--storage", "results/search/transformer-mr-journal.log", "--output_dir", "runs/q5/search-transformer-mr", "--pruner", pruner]  # fmt: skip
    model_args, data_args, training_args, loss_args, search_args = parse(
        (GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments, SearchArguments), argv
    )
    resolve_output_dir(training_args, data_args, model_args.model, model_args.folder_tag, search_args.search)
    return search.study_name(model_args, data_args, training_args, loss_args, search_args)


def test_the_pruner_names_its_own_study_and_the_median_keeps_question_5s_first_name():
    """A process with another pruner joins another study (which trials finish is the pruner's), and `--pruner median`
    still finds the study committed before the option existed, whose name hashed no pruner."""
    from pipelines.report.search import load_study

    folder = REPO_ROOT / "results" / "search"
    assert q5_study_name("median") == load_study(str(folder / "transformer-mr-median-pruner-journal.log")).study_name
    assert q5_study_name("none") == load_study(str(folder / "transformer-mr-journal.log")).study_name
    assert q5_study_name("none") != q5_study_name("median")


def test_the_pruner_option_reaches_optuna():
    from pipelines.arguments import SearchArguments

    assert isinstance(search.optuna_pruner(SearchArguments(search="optuna")), optuna.pruners.NopPruner)  # the default
    median = search.optuna_pruner(SearchArguments(search="optuna", pruner="median"))
    assert isinstance(median, optuna.pruners.MedianPruner)


def test_the_attention_space_holds_the_question_5_settings_and_heads_that_divide_the_width():
    trial = optuna.trial.FixedTrial({"num_layers": 6, "num_heads": 5, "ffn_dim": 2048, "dropout": 0.1, "learning_rate": 1e-3})
    assert SEARCH_SPACES["glove-attention"](trial, 50) == {
        "num_layers": 6, "num_heads": 5, "ffn_dim": 2048, "dropout": 0.1, "learning_rate": 1e-3,
    }
    assert head_counts(50) == [1, 2, 5, 10] and head_counts(8) == [1, 2, 4, 8]  # the classic 8 heads do not divide 50d GloVe


def test_the_classic_transformer_is_config_overrides_of_ours_that_build_over_50d_vectors():
    """Vaswani et al. 2017's base at our width: 6 layers, 10 heads (8 do not divide 50), d_ff 2048, dropout 0.1 on the
    residual branches and none on the attention weights; a point of the attention search space, learning rate aside."""
    from models.presets import CLASSIC_TRANSFORMER
    from transformers import AutoConfig

    from pipelines.training import glove_config, typed_overrides

    config = glove_config("transformer", 50, True, CLASSIC_TRANSFORMER, vocab_size=10, num_labels=2)
    assert (config.num_layers, config.num_heads, config.ffn_dim, config.dropout, config.attention_dropout) == (6, 10, 2048, 0.1, 0.0)
    assert config.embedding_dim == 50 and config.final_layer_norm  # the width stays the vectors'; our pre-LN blocks
    fields = typed_overrides(AutoConfig.for_model("glove-attention"), CLASSIC_TRANSFORMER)
    trial = optuna.trial.FixedTrial({**fields, "learning_rate": 1e-3})
    drawn = SEARCH_SPACES["glove-attention"](trial, 50)
    assert {k: drawn[k] for k in ("num_layers", "num_heads", "ffn_dim", "dropout")} == {"num_layers": 6, "num_heads": 10, "ffn_dim": 2048, "dropout": 0.1}


def storage_files(folder) -> dict:
    """What a bad `--storage` names: a folder, a text file and an SQLite database (given without `sqlite:///`)."""
    import sqlite3

    (folder / "folder").mkdir()
    (folder / "notes.md").write_text("# notes\nnot a journal\n")
    with contextlib.closing(sqlite3.connect(folder / "study.db")) as db:  # its first page holds no newline: Optuna would read it as an empty journal
        db.execute("create table t (x)")
        db.commit()
    return {name: (folder / name).read_bytes() for name in ("notes.md", "study.db")}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--search", "grid"], "--search must be one of optuna"),
        (["--search", "optuna", "--n_trials", "0"], "--n_trials must be at least 1"),
        (["--storage", "sqlite:///x.db"], "--storage needs --search optuna"),
        (["--n_trials", "3"], "--n_trials needs --search optuna"),  # was a plain run, exit 0
        (["--pruner", "median"], "--pruner needs --search optuna"),
        (["--search", "optuna", "--pruner", "hyperband"], "--pruner must be one of none, median, got 'hyperband'"),
        (["--search", "optuna", "--storage", "{tmp}/folder"], "--storage {tmp}/folder is a folder"),
        (["--search", "optuna", "--storage", "{tmp}/notes.md"], "--storage {tmp}/notes.md is not an Optuna journal file"),
        (["--search", "optuna", "--storage", "{tmp}/study.db"], "(sqlite:///{tmp}/study.db for an SQLite file)"),
        (["--search", "optuna", "--storage", "nosuchdb://host/db"], "--storage nosuchdb://host/db: Optuna cannot open it"),
    ],
)
def test_bad_search_options_give_one_line_and_write_nothing(argv, message, tmp_path, capsys):
    """A bad --storage too, before the data is read (there is none here: the default MR folder is missing)."""
    files = storage_files(tmp_path)
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    assert run_cli(train.main, ["--model", "mean", "--output_dir", str(tmp_path / "out"), *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message.replace("{tmp}", str(tmp_path)) in error and "\n" not in error
    assert not (tmp_path / "out").exists()
    assert {name: (tmp_path / name).read_bytes() for name in files} == files  # nothing appended to a file that is not a journal


@pytest.mark.slow
def test_a_second_study_is_refused_the_folder_of_another(tmp_path, tiny_semeval, tiny_glove, capsys):
    """Every study numbers its trials from 0: a search with another --pruner into the same folder would find the first
    study's best-trial-0 and return its run as its own. It is refused before it trains, naming the folder and the study."""
    output_dir = tmp_path / "search"
    argv = [
        "--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
        "--output_dir", str(output_dir), "--num_train_epochs", "1", "--search", "optuna", "--n_trials", "1", "--report_to", "none",
    ]
    assert run_cli(train.main, argv) == 0
    first = study_in(output_dir / "optuna-journal.log").study_name
    assert "(fp32): 1 trial(s) more" in capsys.readouterr().out  # the study's name and precision, as the search starts
    assert run_cli(train.main, [*argv, "--pruner", "median"]) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]  # progress bars aside, one line
    assert error.startswith(f"error: {output_dir / 'best-trial-0'} holds trial 0 of study {first}, not of this command's study")
    assert len(study_in(output_dir / "optuna-journal.log").trials) == 1  # refused before any trial: the journal holds one study


class Stopped(Exception):
    """Raised in place of the trials: the test needs the study's name only."""


def searched_study_name(monkeypatch, argv: list[str]) -> str:
    """The study name train.py --search gives its trials (the data prepared as for a search; no trial run)."""
    names = []

    def stop(trainer, hp_space, search_args, output_dir, name):
        names.append(name)
        raise Stopped

    monkeypatch.setattr(search, "run_study", stop)
    with pytest.raises(Stopped):
        run_cli(train.main, argv)
    return names[0]


def test_an_edited_data_file_names_another_study_and_a_benchmark_keeps_its_name(tmp_path, tiny_semeval, tiny_glove, monkeypatch):
    import random

    from tests.conftest import polar_sentence

    rng = random.Random(0)
    data = tmp_path / "reviews.csv"
    lines = ["text,label"] + [f"{polar_sentence(rng, label)},{label}" for label in ("positive", "negative") * 30]
    data.write_text("\n".join(lines) + "\n")
    argv = ["--model", "mean", "--train_file", str(data), "--embeddings", str(tiny_glove), "--output_dir", str(tmp_path / "out"),
            "--search", "optuna"]  # fmt: skip
    first = searched_study_name(monkeypatch, argv)
    assert searched_study_name(monkeypatch, argv) == first  # the same command, the same data: the same study
    data.write_text("\n".join(lines[:-1]) + "\n")  # a row dropped: the options are the same, the data is not
    edited = searched_study_name(monkeypatch, argv)
    assert edited.startswith("reviews-mean-") and edited != first

    from pipelines.arguments import DataArguments, DistillationArguments, GloveModelArguments, GloveTrainingArguments, SearchArguments
    from pipelines.cli import parse

    benchmark = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
                 "--output_dir", str(tmp_path / "bench"), "--search", "optuna"]  # fmt: skip
    parsed = parse((GloveModelArguments, DataArguments, GloveTrainingArguments, DistillationArguments, SearchArguments), benchmark)
    assert searched_study_name(monkeypatch, benchmark) == search.study_name(*parsed)  # no data digest: the committed studies keep their names


def test_a_study_name_hashes_a_later_defining_option_only_when_it_is_changed():
    """Round 25 added label smoothing, gradient clipping and Adam's settings to a run's definition; a study named before
    (the committed question-5 journals) keeps its name while they keep their defaults, and one that changes them gets its own."""
    from pipelines.arguments import GloveTrainingArguments
    from pipelines.cli import parse

    default = search.hashed_training_options(parse((GloveTrainingArguments,), [])[0])
    smoothed = search.hashed_training_options(parse((GloveTrainingArguments,), ["--label_smoothing_factor", "0.1"])[0])
    assert "label_smoothing_factor" not in default and smoothed["label_smoothing_factor"] == 0.1
    assert {key: value for key, value in smoothed.items() if key != "label_smoothing_factor"} == default


@pytest.mark.slow
def test_the_best_run_reproduces_the_trial_it_names(tmp_path, tiny_semeval, tiny_glove):
    """The best run is trained from the random state its trial was (the seed set again after the model is drawn, as
    `model_init` draws it inside `Trainer.train`), so its best validation score is the trial's objective, not another
    draw of dropout and batch order beside it."""
    output_dir = tmp_path / "search"
    argv = [
        "--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove),
        "--output_dir", str(output_dir), "--num_train_epochs", "3", "--search", "optuna", "--n_trials", "1", "--report_to", "none",
    ]
    assert run_cli(train.main, argv) == 0
    study = study_in(output_dir / "optuna-journal.log")
    state = json.loads(next((output_dir / "best-trial-0").glob("checkpoint-*/trainer_state.json")).read_text())
    trial_state = json.loads(next((output_dir / "trials").rglob("trial-0/checkpoint-*/trainer_state.json")).read_text())
    losses = lambda log: [entry["loss"] for entry in log["log_history"] if "loss" in entry]  # noqa: E731
    assert losses(state) == losses(trial_state) and len(losses(state)) >= 2
    assert state["best_metric"] == study.best_value


@pytest.mark.parametrize("flow", ["glove", "finetune"])
def test_a_search_under_several_processes_is_refused_before_anything_is_written(flow, tmp_path):
    """Under DDP `Trainer.hyperparameter_search` returns no best trial on the processes other than the first: refused
    in one line, before the output folder, the data or the storage is touched (the other arguments are never read)."""
    from types import SimpleNamespace

    from pipelines.errors import OptionError
    from pipelines.finetune_search import search_finetune

    training_args = SimpleNamespace(world_size=2, output_dir=str(tmp_path / "search"))
    run = search.search_glove if flow == "glove" else search_finetune
    with pytest.raises(OptionError, match=r"^--search optuna runs in one process, not 2 \(accelerate launch"):
        run(None, None, training_args, None, None)
    assert not (tmp_path / "search").exists()
    search.check_one_process(SimpleNamespace(world_size=1))  # one process: searched as before


def test_a_best_run_chosen_later_names_the_earlier_one_superseded(tmp_path, capsys):
    """Processes sharing a study that end at different times may each choose another best trial: the later best run
    says which earlier one it supersedes and from how many complete trials it was chosen (its record keeps the count)."""
    earlier = tmp_path / "best-trial-1"
    earlier.mkdir()
    (earlier / "results.json").write_text("{}")
    best = search.StudyBest("mr-mean-0123456789ab", 3, 0.71, {"dropout": 0.2}, 9)
    trained = search.once_per_study(tmp_path, best, lambda folder: f"trained {folder}")
    assert trained == f"trained {tmp_path / 'best-trial-3'}"
    assert capsys.readouterr().out.splitlines() == [
        f"{earlier} is superseded: trial 3 is the study's best of 9 complete trials; read {tmp_path / 'best-trial-3'}"
    ]
    assert best.record() == {"study": "mr-mean-0123456789ab", "trial": 3, "validation": 0.71, "params": {"dropout": 0.2}, "complete_trials": 9}
