"""`python -m pipelines.report.search`: a study's parameter importances and per-parameter scores, on toy studies built in code."""

import csv
import json

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from pipelines.cli import run_cli
from pipelines.report.search import main, parameter_rows

optuna.logging.set_verbosity(optuna.logging.WARNING)


def toy_study(journal, name="toy", trials=16, direction="maximize"):
    """`x` moves the score by up to 0.5, `heads` by 0.01, `noise` not at all: fANOVA must rank them so. A
    "minimize" study scores the negated value (a loss)."""
    study = optuna.create_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(journal))), direction=direction,
                                sampler=optuna.samplers.RandomSampler(seed=0))  # fmt: skip
    sign = 1 if direction == "maximize" else -1

    def objective(trial):
        x, heads = trial.suggest_float("x", 0.0, 1.0), trial.suggest_categorical("heads", [1, 2, 5])
        trial.suggest_int("noise", 1, 3)
        return sign * (0.5 * x + 0.01 * (heads == 5))

    study.optimize(objective, n_trials=trials)
    return study


def test_the_study_report_ranks_the_parameter_that_moves_the_score_first(tmp_path, capsys):
    journal = tmp_path / "optuna-journal.log"
    study = toy_study(journal)
    output = tmp_path / "search" / "toy.md"
    assert run_cli(main, [str(journal), "--output", str(output), "--forest_seeds", "3"]) == 0
    text = output.read_text()
    importance = text.split("## Parameter importance")[1].split("## Validation")[0]
    rows = [line.split("|")[1].strip() for line in importance.splitlines() if line.startswith("| ") and "parameter" not in line]
    assert rows[0] == "x" and set(rows) == {"x", "heads", "noise"}
    assert f"python -m pipelines.report.search {journal} --output {output}" in text
    assert f"Best trial: {study.best_trial.number}, validation {study.best_value:.4f}" in text
    assert f"as train.py or grid options: `--config_overrides heads={study.best_params['heads']},noise={study.best_params['noise']},x={study.best_params['x']}`" in text
    assert "16 trials (16 complete)" in text and "mean ± sd over 3 forests" in text
    assert "was interrupted" not in text  # said only when a trial is left running
    assert "`pruned`: none in this study." in text and "median pruner" not in text  # no trial pruned: the column is 0 and said so
    with open(output.with_suffix(".csv")) as file:
        table = list(csv.DictReader(file))
    assert len(table) == 16 and set(table[0]) == {"number", "state", "value", "params_x", "params_heads", "params_noise"}
    assert "wrote" in capsys.readouterr().out


def test_the_best_trial_becomes_config_overrides_and_training_options(tmp_path):
    from pipelines.report.search import best_options

    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(str(tmp_path / "j.log"))))
    study.enqueue_trial({"num_layers": 3, "dropout": 0.25, "learning_rate": 0.002})
    study.optimize(lambda t: t.suggest_int("num_layers", 1, 6) + t.suggest_float("dropout", 0, 1) + t.suggest_float("learning_rate", 1e-4, 1e-2), n_trials=1)
    assert best_options(study) == ["--config_overrides", "dropout=0.25,num_layers=3", "--learning_rate", "0.002"]


def test_a_fine_tuning_study_names_its_best_trial_as_finetune_options(tmp_path):
    """The fine-tuning space draws training options only (`search_spaces.finetune_space`): the page names them as
    finetune.py's, which has no `--config_overrides`; a GloVe study's (above) as train.py's or the grid's."""
    journal = tmp_path / "j.log"
    study = optuna.create_study(study_name="mr-minilm", storage=JournalStorage(JournalFileBackend(str(journal))), direction="maximize")
    study.optimize(lambda t: t.suggest_float("learning_rate", 1e-5, 1e-4, log=True) + t.suggest_categorical("per_device_train_batch_size", [8, 16]),
                   n_trials=3)  # fmt: skip
    output = tmp_path / "mr-minilm.md"
    assert run_cli(main, [str(journal), "--output", str(output), "--forest_seeds", "1"]) == 0
    best = study.best_params
    expected = f"as finetune.py options: `--learning_rate {best['learning_rate']} --per_device_train_batch_size {best['per_device_train_batch_size']}`"
    assert expected in output.read_text() and "train.py or grid" not in output.read_text()


def test_question_5s_searched_runs_are_the_committed_journals_best_trial():
    """The searched best of question 5 is read from the study's committed journal, never typed in code: every
    committed re-run under `results/records/q5` (scripts/run_q5.sh) is either the best trial's config and learning
    rate or the classic configuration (models/presets.py) at the committed default run's learning rate, and both are there."""
    from pathlib import Path

    from models.presets import CLASSIC_TRANSFORMER
    from pipelines.report.search import best_options, load_study
    from pipelines.runs.record import RunRecord
    from pipelines.runs.setting import Setting, config_text

    root = Path(__file__).resolve().parent.parent / "results"
    options = best_options(load_study(str(root / "search" / "transformer-mr-journal.log")))
    best = dict(zip(options[::2], options[1::2]))
    records = sorted((root / "records" / "q5").rglob("results.json"))
    seen = set()
    for path in records:
        record = RunRecord.from_dict(json.loads(path.read_text()))
        learning_rate = json.loads((path.parent / "training_args.json").read_text())["learning_rate"]
        config = Setting.of(record).config
        if config == config_text(CLASSIC_TRANSFORMER):
            seen.add("classic")
            default = json.loads((root / "records" / "study" / "mr-lab-trained" / "transformer" / "seed-0" / "training_args.json").read_text())
            assert learning_rate == default["learning_rate"], path  # the classic grid passes no --learning_rate
        else:
            seen.add("best")
            assert config == config_text(best["--config_overrides"]), path
            assert learning_rate == float(best["--learning_rate"]), path
    assert seen == {"best", "classic"}, f"results/records/q5 holds {sorted(seen)} of the searched best and the classic grid"

def test_a_parameter_is_shown_per_value_or_per_third_of_its_trials(tmp_path):
    from pipelines.report.search import finished

    done = finished(toy_study(tmp_path / "journal.log", trials=12))
    per_value = parameter_rows(done, "heads")
    assert sorted(row["value"] for row in per_value) == sorted({str(t.params["heads"]) for t in done})
    assert sum(row["trials"] for row in per_value) == 12
    thirds = parameter_rows(done, "x")
    assert [row["trials"] for row in thirds] == [4, 4, 4]
    assert float(thirds[0]["best"]) < float(thirds[2]["worst"])  # the score rises with x: the lowest third is below the highest
    xs = sorted(t.params["x"] for t in done)
    assert thirds[0]["value"] == f"{xs[0]:.3g} to {xs[3]:.3g}"


def test_a_study_that_minimizes_a_loss_shows_its_lowest_score_as_best(tmp_path):
    """`--metric_for_best_model eval_loss` makes the search minimize: "best" is then each value's lowest score."""
    from pipelines.report.search import finished, search_report

    study = toy_study(tmp_path / "journal.log", trials=12, direction="minimize")
    for row in parameter_rows(finished(study), "heads", maximize=False):
        scores = [t.value for t in finished(study) if str(t.params["heads"]) == row["value"]]
        assert (row["best"], row["worst"]) == (f"{min(scores):.4f}", f"{max(scores):.4f}")
    text = search_report(study, forest_seeds=2, command="test")
    assert "The study minimizes its score (a loss)" in text and f"validation {min(t.value for t in finished(study)):.4f}" in text
    heads = text.split("**heads**")[1].split("**")[0]
    (row,) = [line.split("|") for line in heads.splitlines() if line.startswith("| 5 ")]
    fives = [t.value for t in finished(study) if t.params["heads"] == 5]
    assert (row[5].strip(), row[6].strip()) == (f"{min(fives):.4f}", f"{max(fives):.4f}")


def test_pruned_trials_are_counted_beside_the_value_they_drew(tmp_path):
    """The median pruner's trials have no score; each is counted in the row of its value, or of the third whose span
    (up to its top value) holds it, so a reader sees which values the finished trials' scores flatter."""
    from pipelines.report.search import finished, pruned

    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(str(tmp_path / "j.log"))), direction="maximize")
    for heads, x in [(1, 0.1), (1, 0.2), (2, 0.3), (2, 0.4), (5, 0.5), (5, 0.6), (5, 0.7), (1, 0.8), (2, 0.9)]:
        study.enqueue_trial({"heads": heads, "x": x})
    for x in [0.05, 0.65, 0.85]:  # stopped trials: below every finished x, between the second third's top and the third's first
        study.enqueue_trial({"heads": 5, "x": x})

    def objective(trial):
        x, heads = trial.suggest_float("x", 0.0, 1.0), trial.suggest_categorical("heads", [1, 2, 5])
        if x in (0.05, 0.65, 0.85):
            raise optuna.TrialPruned()
        return x

    study.optimize(objective, n_trials=12)
    done, stopped = finished(study), pruned(study)
    assert (len(done), len(stopped)) == (9, 3)
    assert {row["value"]: row["pruned"] for row in parameter_rows(done, "heads", stopped)} == {"1": 0, "2": 0, "5": 3}
    only_stopped = parameter_rows([t for t in done if t.params["heads"] != 5], "heads", stopped)  # 5: drawn by stopped trials only
    assert [(row["value"], row["trials"], row["pruned"], row["best"]) for row in only_stopped][-1] == ("5", 0, 3, "")
    thirds = parameter_rows(done, "x", stopped)  # x over 9 finished trials: 0.1-0.3, 0.4-0.6, 0.7-0.9
    assert [row["value"] for row in thirds] == ["0.1 to 0.3", "0.4 to 0.6", "0.7 to 0.9"]
    assert [row["pruned"] for row in thirds] == [1, 0, 2] and [row["trials"] for row in thirds] == [3, 3, 3]
    assert all(row["pruned"] == 0 for row in parameter_rows(done, "x"))  # no stopped trials given: none counted
    five = parameter_rows(done[:2], "x", stopped)  # 5 values drawn: a row each, those of stopped trials with no score
    assert [(row["value"], row["trials"], row["pruned"]) for row in five] == [("0.05", 0, 1), ("0.1", 1, 0), ("0.2", 1, 0), ("0.65", 0, 1), ("0.85", 0, 1)]
    many = parameter_rows(done[:2], "x", stopped + done[2:7])  # 10 values, 2 finished: too few for thirds, the rest pooled
    assert [(row["value"], row["trials"], row["pruned"]) for row in many] == [("0.1", 1, 0), ("0.2", 1, 0), ("other values", 0, 8)]


@pytest.mark.parametrize("case", ["missing", "two studies", "one trial", "no finished trial", "folder", "not a journal", "bad url"])
def test_bad_study_input_is_one_line_and_nothing_written(case, tmp_path, capsys):
    journal = tmp_path / "optuna-journal.log"
    if case == "two studies":
        toy_study(journal, "a", trials=3)
        toy_study(journal, "b", trials=3)
    elif case == "one trial":
        toy_study(journal, trials=1)
    elif case == "no finished trial":  # a search whose first trial is under way
        optuna.create_study(study_name="toy", storage=JournalStorage(JournalFileBackend(str(journal)))).ask()
    elif case == "folder":
        journal.mkdir()
    elif case == "not a journal":
        journal.write_text("# a study\n\nnotes, not a journal\n")
    elif case == "bad url":
        journal = "nosuchdb://host/db"
    output = tmp_path / "out" / "study.md"
    assert run_cli(main, [str(journal), "--output", str(output)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = {"missing": f"study journal not found: {journal}", "two studies": "--study_name must be one of a, b, got None",
                "one trial": "study toy: 1 finished trial(s); parameter importances need at least 2",
                "no finished trial": "study toy: no finished trial yet (1 trial(s), none complete)",
                "folder": f"--storage {journal} is a folder", "not a journal": f"--storage {journal} is not an Optuna journal file",
                "bad url": "--storage nosuchdb://host/db: Optuna cannot open it"}[case]  # fmt: skip
    assert len(err) == 1 and expected in err[0]
    assert not output.exists() and not output.with_suffix(".csv").exists()


def test_a_trial_left_running_by_a_stopped_process_is_said_so_and_left_out(tmp_path):
    from pipelines.report.search import search_report

    study = toy_study(tmp_path / "journal.log", trials=4)
    study.ask()  # a process stopped mid-trial leaves it running in the journal
    text = search_report(study, 1, "cmd")
    assert "5 trials (4 complete, 1 running)" in text and "was interrupted" in text
    assert "over the 4 finished trials" in text
    assert "Only 4 finished trials for 3 parameters" not in text  # 4 trials, 3 parameters: said only when n <= k
    two = search_report(toy_study(tmp_path / "two.log", trials=2), 1, "cmd")
    assert "**Only 2 finished trials for 3 parameters**" in two and "not evidence" in two
