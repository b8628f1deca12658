"""Issue 31's silent wrong numbers: labels matched by name, one live run per folder, resumes and
restarts checked against the run's definition, divergence, head order, torn checkpoints."""

import json
import os
import random
import re
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

import train
from pipelines.arguments import default_output_dir
from pipelines.benchmarks import get_benchmark
from pipelines.cli import run_cli
from pipelines.data.builtin import load_from_hub
from pipelines.data.files import load_user_dataset
from pipelines.errors import DataError
from pipelines.runs.io import hold_run_folder, last_complete_checkpoint, torn_file
from tests.conftest import polar_sentence, write_glove_text

REVIEWS = {"text": ["a good film", "a bad film", "great fun", "dull mess"], "sentiment": ["pos", "neg", "pos", "neg"]}


def class_label_parquet(path, names: list[str]):
    """REVIEWS as a Parquet file written by `datasets`, its `ClassLabel` listing `names` in that order."""
    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    ids = [names.index(label) for label in REVIEWS["sentiment"]]
    Dataset.from_dict({"text": REVIEWS["text"], "label": ids}, features=features).to_parquet(path)
    return str(path)


@pytest.mark.parametrize("train_format", ["csv", "parquet"])
def test_class_names_in_another_order_in_another_file_are_matched_by_name(tmp_path, train_format):
    if train_format == "csv":
        train = tmp_path / "train.csv"
        train.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(REVIEWS["text"], REVIEWS["sentiment"])))
        train = str(train)
    else:
        train = class_label_parquet(tmp_path / "train.parquet", ["neg", "pos"])
    test = class_label_parquet(tmp_path / "test.parquet", ["pos", "neg"])  # the other order
    dataset, _ = load_user_dataset({"train": train, "test": test})
    for split in ("train", "test"):
        labels = dataset[split].features["label"].int2str(dataset[split]["label"])
        assert labels == REVIEWS["sentiment"], split


@pytest.mark.parametrize("hub_names", [["pos", "neg"], ["neg", "pos"], ["Positive", "Negative"]])
def test_benchmark_hub_copy_is_matched_by_name(monkeypatch, hub_names):
    features = Features({"text": Value("string"), "label": ClassLabel(names=hub_names)})
    ids = [[name.lower()[:3] for name in hub_names].index(label) for label in REVIEWS["sentiment"]]
    split = Dataset.from_dict({"text": REVIEWS["text"], "label": ids}, features=features)
    fake = DatasetDict({"train": split, "validation": split, "test": split})
    monkeypatch.setattr("pipelines.data.hub_datasets.load_hub_or_cache", lambda *args: fake)
    dataset = load_from_hub(get_benchmark("mr"))
    expected = ["positive" if label == "pos" else "negative" for label in REVIEWS["sentiment"]]
    assert dataset["test"].features["label"].int2str(dataset["test"]["label"]) == expected


def test_benchmark_hub_copy_with_other_names_stops_naming_both_orders(monkeypatch):
    features = Features({"text": Value("string"), "label": ClassLabel(names=["bad", "good"])})
    split = Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}, features=features)
    monkeypatch.setattr("pipelines.data.hub_datasets.load_hub_or_cache", lambda *args: DatasetDict({"train": split, "validation": split, "test": split}))
    with pytest.raises(DataError, match="its classes bad, good .* do not match mr's negative, positive by name"):
        load_from_hub(get_benchmark("mr"))


# --- run folders: one live run, definitions, torn checkpoints, divergence, bad input -------------

def reviews_csv(path: Path, rows: int = 120, seed: int = 0) -> str:
    rng = random.Random(seed)
    labels = ["negative", "positive"] * (rows // 2)
    path.write_text("text,label\n" + "".join(f"{polar_sentence(rng, label)},{label}\n" for label in labels))
    return str(path)


@pytest.fixture
def argv(tmp_path, tiny_glove):
    train_file = reviews_csv(tmp_path / "reviews.csv")

    def make(output_dir, *extra):
        return [
            "--model", "mean", "--train_file", train_file, "--embeddings", str(tiny_glove), "--output_dir", str(output_dir),
            "--num_train_epochs", "2", "--per_device_train_batch_size", "16", "--save_total_limit", "3", *extra,
        ]  # fmt: skip

    return make


def last_error(capsys) -> str:
    """The one `error:` line (progress bars of the stopped run may come after it)."""
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, errors
    return errors[0]


def test_a_live_run_holds_its_folder_and_a_second_run_stops_naming_it(tmp_path, argv, capsys):
    output_dir = tmp_path / "run"
    with hold_run_folder(output_dir):  # as a run started a moment earlier would
        assert run_cli(train.main, argv(output_dir)) == 2
        error = last_error(capsys)
    assert error.startswith(f"error: {output_dir} is in use by a live run (pid {os.getpid()} on ")
    assert "started" in error and "--overwrite_output_dir" not in error and "interrupted" not in error
    assert not (output_dir / "run_definition.json").exists()
    assert run_cli(train.main, argv(output_dir)) == 0  # released when the holder ends


def test_a_lock_left_by_a_dead_run_does_not_block(tmp_path, argv):
    output_dir = tmp_path / "run"
    output_dir.mkdir()
    (output_dir / ".run.lock").write_text("")
    (output_dir / ".run-owner.json").write_text(json.dumps({"pid": 999999, "host": "gone", "started": "yesterday"}))
    assert run_cli(train.main, argv(output_dir)) == 0


def test_resuming_another_runs_checkpoint_is_refused(tmp_path, argv, tiny_glove, capsys):
    other = tmp_path / "other"
    assert run_cli(train.main, argv(other, "--model", "lstm")) == 0
    checkpoint = last_complete_checkpoint(other)
    capsys.readouterr()
    assert run_cli(train.main, argv(tmp_path / "mine", "--resume_from_checkpoint", checkpoint)) == 2
    error = last_error(capsys)
    assert error.startswith(f"error: --resume_from_checkpoint {checkpoint} is a checkpoint of a run of another definition (")
    assert "run.model: lstm -> mean" in error and not (tmp_path / "mine" / "results.json").exists()
    (other / "run_definition.json").unlink()
    assert run_cli(train.main, argv(tmp_path / "mine", "--model", "lstm", "--resume_from_checkpoint", checkpoint)) == 2
    assert "no run_definition.json in" in last_error(capsys)


def test_resuming_a_checkpoint_of_this_run_from_another_folder_works(tmp_path, argv, capsys):
    first = tmp_path / "first"
    assert run_cli(train.main, argv(first)) == 0
    checkpoint = sorted(first.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))[0]
    assert run_cli(train.main, argv(tmp_path / "second", "--resume_from_checkpoint", str(checkpoint))) == 0
    (tmp_path / "second" / "results.json").unlink()  # killed before the end: the same command again says what to do
    capsys.readouterr()
    assert run_cli(train.main, argv(tmp_path / "second", "--resume_from_checkpoint", str(checkpoint))) == 2
    assert last_error(capsys).endswith("drop --resume_from_checkpoint to resume it from its own last checkpoint")
    assert run_cli(train.main, argv(tmp_path / "second")) == 0


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("torn", ["model.safetensors", "optimizer.pt"])
def test_a_torn_checkpoint_is_skipped_on_restart_and_refused_when_named(tmp_path, argv, capsys, torn):
    output_dir = tmp_path / "run"
    assert run_cli(train.main, argv(output_dir)) == 0
    (output_dir / "results.json").unlink()  # killed while saving the last checkpoint
    newest, previous = sorted(output_dir.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]), reverse=True)[:2]
    cut_short(newest / torn)
    assert torn_file(newest) == newest / torn and torn_file(previous) is None
    assert last_complete_checkpoint(output_dir) == str(previous)
    capsys.readouterr()
    assert run_cli(train.main, argv(output_dir, "--resume_from_checkpoint", str(newest))) == 2
    assert last_error(capsys) == (
        f"error: --resume_from_checkpoint {newest}: {newest / torn} is missing or cut short (killed while saving?); "
        f"resume from {previous} instead"
    )
    assert run_cli(train.main, argv(output_dir)) == 0
    assert f"resuming the interrupted run in {output_dir} from {previous}" in capsys.readouterr().out


def test_a_diverged_run_stops_with_one_line_and_reports_nothing(tmp_path, argv, capsys):
    output_dir = tmp_path / "run"
    assert run_cli(train.main, argv(output_dir, "--learning_rate", "1e38")) == 2
    error = last_error(capsys)
    assert "Traceback" not in error
    assert re.match(r"error: training diverged: the training loss is nan at epoch 1, step \d+; ", error), error
    assert "--learning_rate (now 1e+38)" in error
    assert not (output_dir / "results.json").exists() and not list(output_dir.glob("checkpoint-*"))


def test_resuming_into_a_folder_that_holds_another_run_is_refused_and_leaves_it_as_it_was(tmp_path, argv, capsys):
    """The trainer restores the best model from `<output_dir>/checkpoint-<best step>`: resumed into a folder that holds
    another run's checkpoint of that step, it reported the other run's model (the trial of round 25)."""
    source, other = tmp_path / "source", tmp_path / "other"
    assert run_cli(train.main, argv(source)) == 0
    assert run_cli(train.main, argv(other, "--seed", "7")) == 0
    before = {path.relative_to(other): path.read_bytes() for path in other.rglob("*") if path.is_file()}
    checkpoint = last_complete_checkpoint(source)
    capsys.readouterr()
    assert run_cli(train.main, argv(other, "--resume_from_checkpoint", checkpoint)) == 2
    error = last_error(capsys)
    assert error.startswith(f"error: --resume_from_checkpoint {checkpoint}: --output_dir {other} holds another run (results.json, checkpoint-")
    assert f"resume in the checkpoint's own folder ({source})" in error
    assert {path.relative_to(other): path.read_bytes() for path in other.rglob("*") if path.is_file()} == before


def test_a_refused_resume_writes_nothing_and_a_run_folder_is_not_a_checkpoint(tmp_path, argv, capsys):
    target = tmp_path / "out" / "x"
    assert run_cli(train.main, argv(target, "--resume_from_checkpoint", str(tmp_path / "nowhere" / "checkpoint-3"))) == 2
    assert "no such folder" in last_error(capsys) and not (tmp_path / "out").exists()
    first = tmp_path / "first"
    assert run_cli(train.main, argv(first)) == 0
    capsys.readouterr()
    assert run_cli(train.main, argv(target, "--resume_from_checkpoint", str(first))) == 2
    assert last_error(capsys) == (
        f"error: --resume_from_checkpoint {first} is a run folder, not one of its checkpoint-<step> folders; name one "
        f"(its last whole one is {last_complete_checkpoint(first)}), or give the run folder as --output_dir to resume it"
    )
    assert not (tmp_path / "out").exists()


def interrupt(output_dir: Path) -> None:
    """Make a finished run an interrupted one: its record gone, its checkpoints kept."""
    (output_dir / "results.json").unlink()


@pytest.mark.parametrize(
    "changed, difference",
    [
        (["--label_smoothing_factor", "0.3"], "training.label_smoothing_factor: 0.0 -> 0.3"),
        (["--max_grad_norm", "0.5"], "training.max_grad_norm: 1.0 -> 0.5"),
        (["--early_stopping_patience", "3"], "training.early_stopping_patience: 5 -> 3"),
    ],
)
def test_an_interrupted_run_is_not_resumed_with_another_defining_option(tmp_path, argv, capsys, changed, difference):
    """Options that change what is trained are part of the run's definition: resuming with another value would mix
    two trainings in one record (and the patience restored from the checkpoint would be recorded as the new one)."""
    output_dir = tmp_path / "run"
    assert run_cli(train.main, argv(output_dir)) == 0
    interrupt(output_dir)
    capsys.readouterr()
    assert run_cli(train.main, argv(output_dir, *changed)) == 2
    error = last_error(capsys)
    assert error.startswith(f"error: {output_dir} holds an interrupted run of another definition (") and difference in error, error


def test_a_definition_written_before_the_later_fields_still_resumes(tmp_path, argv, capsys):
    """A run started before round 25 recorded none of `LATER_DEFINING_FIELDS` (the fp32 MPNet SemEval seed 2 run of
    the study is one): it still resumes with today's defaults."""
    from pipelines.fitting import LATER_DEFINING_FIELDS

    output_dir = tmp_path / "run"
    assert run_cli(train.main, argv(output_dir)) == 0
    interrupt(output_dir)
    definition = json.loads((output_dir / "run_definition.json").read_text())
    for name in LATER_DEFINING_FIELDS:
        del definition["training"][name]
    (output_dir / "run_definition.json").write_text(json.dumps(definition))
    capsys.readouterr()
    assert run_cli(train.main, argv(output_dir)) == 0
    assert "resuming the interrupted run in" in capsys.readouterr().out


ADVICE = "to start afresh there add --overwrite_output_dir (or delete the folder), or give another --output_dir"


def test_an_interrupted_run_that_recorded_no_definition_is_not_resumed(tmp_path, argv, capsys):
    """Checkpoints without a run_definition.json (a folder of an older version, another script's Trainer checkpoints)
    were resumed by a run of any definition, here another --seed (exit 0); a finished run was already refused."""
    output_dir = tmp_path / "run"
    assert run_cli(train.main, argv(output_dir)) == 0
    interrupt(output_dir)
    (output_dir / "run_definition.json").unlink()
    capsys.readouterr()
    assert run_cli(train.main, argv(output_dir, "--seed", "7")) == 2
    assert last_error(capsys) == (
        f"error: {output_dir} holds an interrupted run that recorded no run_definition.json, so it may be another run; {ADVICE}"
    )
    assert not (output_dir / "results.json").exists() and not (output_dir / "run_definition.json").exists()
    assert run_cli(train.main, argv(output_dir, "--seed", "7", "--overwrite_output_dir")) == 0
    assert "resuming" not in capsys.readouterr().out


def test_the_number_of_processes_is_part_of_a_runs_definition(tmp_path, argv, capsys):
    """A run interrupted under `accelerate launch --num_processes 2` resumed on one process: another global batch,
    other steps per epoch. A definition written before `world_size` was recorded still resumes."""
    output_dir = tmp_path / "run"
    assert run_cli(train.main, argv(output_dir)) == 0
    interrupt(output_dir)
    definition = json.loads((output_dir / "run_definition.json").read_text())
    assert definition["training"]["world_size"] == 1
    definition["training"]["world_size"] = 2  # as the two processes wrote it
    (output_dir / "run_definition.json").write_text(json.dumps(definition))
    capsys.readouterr()
    assert run_cli(train.main, argv(output_dir)) == 2
    error = last_error(capsys)
    assert error == f"error: {output_dir} holds an interrupted run of another definition (training.world_size: 2 -> 1); {ADVICE}"
    del definition["training"]["world_size"]
    (output_dir / "run_definition.json").write_text(json.dumps(definition))
    assert run_cli(train.main, argv(output_dir)) == 0
    assert "resuming the interrupted run in" in capsys.readouterr().out


def test_a_resumed_glove_run_notices_that_its_vectors_changed(tmp_path, argv, tiny_glove, capsys):
    """The definition held the vectors' path, width and words: the same file rewritten with other values resumed (exit 0)."""
    from pipelines.fitting import definition_differences

    output_dir = tmp_path / "run"
    assert run_cli(train.main, argv(output_dir)) == 0
    interrupt(output_dir)
    recorded = json.loads((output_dir / "run_definition.json").read_text())
    words = [line.split(" ")[0] for line in tiny_glove.read_text().splitlines()]
    write_glove_text(tiny_glove, words, seed=1)  # same path, same words, other values
    capsys.readouterr()
    assert run_cli(train.main, argv(output_dir)) == 2
    error = last_error(capsys)
    assert error.startswith(f"error: {output_dir} holds an interrupted run of another definition (run.embeddings_sha256: ") and ADVICE in error
    assert not (output_dir / "results.json").exists()
    write_glove_text(tiny_glove, words, seed=0)  # the vectors it started from: it resumes
    assert run_cli(train.main, argv(output_dir)) == 0
    assert "resuming the interrupted run in" in capsys.readouterr().out
    older = {**recorded, "run": {key: value for key, value in recorded["run"].items() if key != "embeddings_sha256"}}
    assert definition_differences(older, recorded) == []  # a definition written before the digest still resumes


def test_a_resumed_run_says_why_it_stopped_and_records_the_patience_it_used(tmp_path, argv, capsys):
    """On resume the trainer replaces the early-stopping callback by one rebuilt from the checkpoint; the summary read
    the discarded one and said "stopped: at step 16 of 32" where the uninterrupted run said why."""
    stalled = ["--learning_rate", "0", "--early_stopping_patience", "1", "--num_train_epochs", "4"]
    output_dir = tmp_path / "run"
    capsys.readouterr()
    assert run_cli(train.main, argv(output_dir, *stalled)) == 0
    summary = [line for line in capsys.readouterr().out.splitlines() if "; stopped: " in line]
    assert len(summary) == 1 and summary[0].endswith("stopped: no better validation accuracy in 1 evaluation"), summary
    interrupt(output_dir)
    assert run_cli(train.main, argv(output_dir, *stalled)) == 0
    resumed = capsys.readouterr().out
    assert "resuming the interrupted run in" in resumed and summary[0] in resumed.splitlines()
    assert json.loads((output_dir / "results.json").read_text())["early_stopping_patience"] == 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--per_device_train_batch_size", "0"], "error: --per_device_train_batch_size must be at least 1, got 0"),
        (["--model", "multihead", "--config_overrides", "num_heads=3"], "num_heads=3 does not divide the model width embedding_dim=8"),
    ],
    ids=["batch size 0", "num_heads over the vectors"],
)
def test_bad_options_stop_before_anything_is_read_or_written(tmp_path, argv, capsys, extra, message):
    output_dir = tmp_path / "run"
    arguments = argv(output_dir, *extra)
    arguments[arguments.index("--train_file") + 1] = str(tmp_path / "no-such-file.csv")  # read only after the check
    assert run_cli(train.main, arguments) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith("error: ") and message in error, error
    assert not output_dir.exists()


def test_default_folders_tell_seeds_and_vectors_apart():
    assert default_output_dir("mr", "meanmax") == "runs/mr-meanmax"  # README's quickstart folder
    names = {
        default_output_dir("mr", "meanmax", seed=seed, variant=variant)
        for seed in (42, 7) for variant in (None, "trained-vectors")
    }  # fmt: skip
    assert len(names) == 4 and "runs/mr-meanmax-trained-vectors-seed7" in names


# --- a fine-tuned head in another label order ------------------------------------------------------


@pytest.mark.parametrize("new_order", [["positive", "negative"], ["Negative", "Positive"], ["negative", "positive"]])
def test_a_head_trained_in_another_label_order_is_reordered_exactly(tmp_path, new_order):
    import torch

    from pipelines.finetuning import load_pretrained
    from tests.tiny_bert import POSITIVE, build_tiny_bert

    path = str(build_tiny_bert(tmp_path / "bert", ["negative", "positive"]))
    old, tokenizer, _ = load_pretrained(path, ["negative", "positive"], seed=0, load_kwargs={})
    new, _, config = load_pretrained(path, new_order, seed=1, load_kwargs={})
    batch = tokenizer(POSITIVE, return_tensors="pt", padding=True)
    with torch.no_grad():
        old_logits, new_logits = old.eval()(**batch).logits, new.eval()(**batch).logits
    order = [["negative", "positive"].index(name.lower()) for name in new_order]
    assert torch.equal(new_logits, old_logits[:, order]) and list(config.id2label.values()) == new_order


def test_an_evaluation_and_a_training_run_never_share_a_folder_and_a_new_evaluation_leaves_no_stale_predictions(tmp_path, argv, capsys):
    """Round 24's new-user trial: evaluate_pretrained.py wrote into a train.py run folder and train.py into an
    evaluation folder, both silently (the report then read both as one folder), and a second evaluation in a
    folder kept the first one's predictions of models it did not score."""
    import evaluate_pretrained

    test_file = reviews_csv(tmp_path / "test.csv", rows=20, seed=1)
    folder = tmp_path / "asis"
    evaluate = ["--test_file", test_file, "--output_dir", str(folder), "--temperature_scaling", "false", "--models"]
    assert run_cli(evaluate_pretrained.main, [*evaluate, "vader", "afinn"]) == 0
    assert sorted(path.name for path in (folder / "predictions").iterdir()) == ["afinn.parquet", "vader.parquet"]
    capsys.readouterr()
    assert run_cli(evaluate_pretrained.main, [*evaluate, "vader"]) == 2  # round 25's trial: it deleted afinn's scores
    assert last_error(capsys) == (
        f"error: --output_dir {folder} holds scores of afinn, which this evaluation does not score again (evaluation.json); "
        "to replace it add --overwrite_output_dir, or give another --output_dir"
    )
    assert sorted(path.name for path in (folder / "predictions").iterdir()) == ["afinn.parquet", "vader.parquet"]
    (tmp_path / "other").mkdir()
    other_data = reviews_csv(tmp_path / "other" / "test.csv", rows=20, seed=2)
    assert run_cli(evaluate_pretrained.main, [*evaluate[:1], other_data, *evaluate[2:], "vader", "afinn"]) == 2
    assert "holds an evaluation of other data (evaluation.json)" in last_error(capsys)
    assert run_cli(evaluate_pretrained.main, [*evaluate, "afinn", "vader", "textblob"]) == 0  # the same data, every model again
    assert run_cli(evaluate_pretrained.main, [*evaluate[:-1], "--overwrite_output_dir", "true", "--models", "vader"]) == 0
    assert sorted(path.name for path in (folder / "predictions").iterdir()) == ["vader.parquet"]
    capsys.readouterr()
    before = sorted(path.name for path in folder.rglob("*"))
    assert run_cli(train.main, argv(folder)) == 2
    assert last_error(capsys) == f"error: --output_dir {folder} holds an as-is evaluation (evaluation.json); give the run a folder of its own"
    assert sorted(path.name for path in folder.rglob("*")) == before  # no lock, no definition left behind
    run = tmp_path / "run"
    assert run_cli(train.main, argv(run)) == 0
    capsys.readouterr()
    assert run_cli(evaluate_pretrained.main, [*evaluate[:3], str(run), *evaluate[4:], "vader"]) == 2
    assert last_error(capsys) == f"error: --output_dir {run} holds a training run (results.json); give the evaluation a folder of its own"
    assert not (run / "evaluation.json").exists() and not (run / "predictions").exists()
