"""Export any project checkpoint to ONNX, optionally quantized to int8, and check it on export.

    python -m pipelines.export RUN_DIR --output DIR [--quantize int8] [--dataset mr --data_dir ../shared/datasets]

The issue asked for `optimum` for the transformers; it cannot be used here: `optimum` 2.x exports
to ONNX only through `optimum-onnx`, which requires transformers < 4.58, and this project runs on
transformers 5. So every checkpoint, GloVe model and fine-tuned transformer alike, goes through
the same two maintained tools that optimum itself wraps:

- `torch.onnx.export` with dynamic batch and sequence axes (inputs `input_ids`, `attention_mask`,
  output `logits`, opset 17). torch 2.13's default exporter is the `torch.export`-based one
  (`dynamo=True`), which needs the `onnxscript` package; it is not in this environment, so the
  TorchScript exporter (`dynamo=False`, deprecated but still shipped) is used. It traces the
  one-layer LSTM's fused `torch.lstm` call into an ONNX `LSTM` node and the attention masks into
  `Where`/`Softmax` nodes. Tracing records the branch the example takes, so the example batch
  has padding (the mask path is traced, not skipped) and is shorter than the model's maximum
  length; the graph itself cuts longer inputs to that length (`LogitsOnly`), as the PyTorch GloVe
  models truncate them, so a caller that tokenizes without truncation gets the checkpoint's logits.
- `onnxruntime.quantization.quantize_dynamic` for `--quantize int8`: int8 weights (QInt8), int8
  activations quantized at run time, for every operator ONNX Runtime can quantize that way
  (MatMul/Gemm, LSTM, Attention, Gather of the embeddings).

The check on export: the fp32 ONNX logits must match PyTorch's within `LOGIT_TOLERANCE` (absolute)
on a batch of test-like sentences (`CHECK_SENTENCES`, plus the first 64 test sentences when a data
set is given), or the export stops as a bug, writing nothing. An int8 model cannot match that
closely; its largest logit difference and how many predictions change are reported, and with a
test set (`--dataset`/`--test_file`) its accuracy change against the PyTorch run, and whether its
accuracy lies inside the run's 95% interval over the test sentences (`pipelines.statistics.score_interval`,
one run: t over sentences, training variance not counted).

The output folder holds `model.onnx`, the tokenizer files, `config.json` (the model's config,
with `id2label`; without `auto_map`, as no modeling code travels) and `export.json` (what was
done and the checks). It is written to a temporary folder beside DIR and renamed into place, so
a failed export leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipelines.cli import parse, run_cli
from pipelines.arguments import DataSourceArguments
from pipelines.data import load_data
from pipelines.errors import DataError, OptionError, PathError
from pipelines.inference import EXPORT_RECORD, ONNX_FILE, OnnxSequenceClassifier, TorchSequenceClassifier
from pipelines.runs.io import write_json_atomic
from pipelines.runs.record import library_versions
from pipelines.statistics import score_interval

OPSET = 17
LOGIT_TOLERANCE = 1e-4  # fp32: the largest |ONNX logit − PyTorch logit| allowed on the check batch
TEST_CHECK_SENTENCES = 64
# Two texts of different lengths, so the traced example is padded and the masks are exercised.
TRACE_TEXTS = ["a gorgeous , witty , seductive movie .", "dull ."]
# Movie-review and tweet-like sentences of assorted lengths, an empty one and one past any maximum length.
CHECK_SENTENCES = [
    "the rock is destined to be the 21st century's new conan .",
    "simplistic , silly and tedious .",
    "it's so laddish and juvenile , only teenage boys could possibly find it funny .",
    "a gorgeous , witty , seductive movie .",
    "not good",
    "not bad at all",
    "a slow start, but a great ending",
    "the performances are uniformly excellent , though the script never quite finds its footing .",
    "@user can't wait for the new season tomorrow!! #excited",
    "Great, another Monday. Just what I needed.",
    "",
    "?",
    "an utterly , utterly , utterly " * 60 + "wonderful film",
]


class LogitsOnly(nn.Module):
    """The classifier as a graph of tensors: (input_ids, attention_mask) (batch, seq_len) -> logits
    (batch, num_labels). Inputs are cut to `max_length` tokens inside the graph: the GloVe models
    truncate in a Python branch that tracing drops, so without the cut an over-long input (a
    tokenizer called without truncation) gave other logits, or an out-of-range position error."""

    def __init__(self, model: nn.Module, max_length: int):
        super().__init__()
        self.model = model
        self.max_length = max_length

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        input_ids, attention_mask = input_ids[:, : self.max_length], attention_mask[:, : self.max_length]  # (batch, <= max_length)
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_onnx(classifier: TorchSequenceClassifier, path: Path, opset: int = OPSET) -> None:
    """Trace `classifier.model` into an ONNX file with dynamic batch and sequence axes."""
    example = classifier.encode(TRACE_TEXTS)
    inputs = (torch.from_numpy(example["input_ids"]), torch.from_numpy(example["attention_mask"]))
    axes = {"batch": 0, "sequence": 1}
    with warnings.catch_warnings():
        # The deprecation notice of the TorchScript exporter, and tracer notes on Python-level shape
        # checks (empty / over-long inputs), which `encode` keeps away from the graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LogitsOnly(classifier.model, classifier.max_length).eval(),
            inputs,
            str(path),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {axes["batch"]: "batch", axes["sequence"]: "sequence"},
                "attention_mask": {axes["batch"]: "batch", axes["sequence"]: "sequence"},
                "logits": {axes["batch"]: "batch"},
            },
            opset_version=opset,
        )


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization (int8 weights, activations quantized at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, target, weight_type=QuantType.QInt8)


def compare_logits(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """Largest absolute logit difference and the share of equal predictions, over (n, num_labels) arrays."""
    return {
        "sentences": len(reference),
        "max_abs_logit_difference": float(np.abs(reference - candidate).max()),
        "same_predictions": float(np.mean(reference.argmax(-1) == candidate.argmax(-1))),
    }


def test_set_change(reference: np.ndarray, candidate: np.ndarray, gold: np.ndarray, label_names: list[str]) -> dict:
    """Accuracy of the run (reference logits, (n, K)) and of the export (candidate) on a labelled test set,
    the run's with its 95% interval over test sentences (`statistics.score_interval`, one run)."""
    run_correct = reference.argmax(-1) == gold
    export_correct = candidate.argmax(-1) == gold
    interval = score_interval(gold, reference.argmax(-1), "accuracy", label_names)
    low, high = interval["ci_low"], interval["ci_high"]
    export_accuracy = float(export_correct.mean())
    return {
        "sentences": len(gold),
        "run_accuracy": float(run_correct.mean()),
        "run_accuracy_ci95": [low, high],
        "export_accuracy": export_accuracy,
        "accuracy_change": export_accuracy - float(run_correct.mean()),
        "changed_predictions": int(np.sum(reference.argmax(-1) != candidate.argmax(-1))),
        "inside_run_ci95": bool(low <= export_accuracy <= high),
        "ci_method": interval["method"],
    }


@dataclass
class ExportArguments:
    run_dir: str = field(metadata={"help": "the model folder: a train.py / finetune.py output or any save_pretrained folder"})
    output: str = field(metadata={"help": "the folder to write (model.onnx, tokenizer, config.json, export.json)"})
    quantize: str | None = field(default=None, metadata={"help": "int8: dynamic int8 quantization (ONNX Runtime)"})
    dataset: str | None = field(default=None, metadata={"help": "score the export on this benchmark's test set (mr, semeval2017a)"})
    data_dir: str | None = field(default=None, metadata={"help": "folder with MR/ and Semeval2017A/ (or $SENTIBENCH_DATA_DIR)"})
    test_file: str | None = field(default=None, metadata={"help": "or your own labelled test file (.csv, .tsv, .jsonl, .parquet)"})
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass when scoring a test set"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing, non-empty --output folder"})

    def __post_init__(self):
        if self.quantize not in (None, "int8"):
            raise OptionError(f"--quantize {self.quantize!r} is not supported; choose int8 (or leave it out for fp32)")
        if self.batch_size < 1:
            raise OptionError(f"--batch_size must be at least 1, got {self.batch_size}")
        if self.dataset and self.test_file:
            raise OptionError("conflicting options --dataset and --test_file: give one test set")


def load_test_set(args: ExportArguments, labels: list[str]) -> tuple[list[str], np.ndarray] | None:
    """The test texts and gold ids in the model's label order, or None when no test set was given."""
    if not (args.dataset or args.test_file):
        return None
    source = DataSourceArguments(dataset=args.dataset or "mr", data_dir=args.data_dir, test_file=args.test_file)
    test = load_data(source)[0]["test"]
    names = test.features["label"].names
    if sorted(names) != sorted(labels):
        raise DataError(f"the test set's labels {names} are not the model's {labels}; give a test set with the model's labels")
    gold = np.array([labels.index(names[label]) for label in test["label"]])
    return list(test["text"]), gold


def check_output(output: Path, overwrite: bool) -> None:
    """`PathError` for an `output` that is a file (`--overwrite` replaces a folder, never a file), or a non-empty folder
    unless `overwrite`: checked before the model loads."""
    if output.exists() and not output.is_dir():
        raise PathError(f"--output {output} is a file; the export is a folder: choose another name")
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise PathError(f"--output {output} exists and is not empty; choose another folder or pass --overwrite")


def prepare_output(output: Path) -> Path:
    """A fresh temporary folder beside `output` (checked by `check_output`)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the export is an ordinary folder
        return staging
    except OSError as err:
        raise PathError(f"--output {output}: cannot write there ({err.strerror or err})") from None


def write_folder(classifier: TorchSequenceClassifier, folder: Path, quantize: str | None, check_texts: list[str], reference: np.ndarray) -> float:
    """model.onnx (fp32 or int8), the tokenizer and config.json into `folder`; returns the seconds the export and the
    quantization took. The fp32 graph is checked against PyTorch's logits of `check_texts` (`reference`, (n, num_labels))
    before it is quantized, so a tracing error is never written as an int8 model's quantization loss: `RuntimeError`
    when a logit differs by more than `LOGIT_TOLERANCE`."""
    classifier.tokenizer.save_pretrained(folder)
    config = classifier.model.config.to_dict()
    config.pop("auto_map", None)  # the modeling code does not travel with an ONNX graph
    write_json_atomic(folder / "config.json", config)
    started = time.perf_counter()
    export_onnx(classifier, folder / ONNX_FILE)
    seconds = time.perf_counter() - started
    check = compare_logits(reference, OnnxSequenceClassifier.from_folder(folder).logits(check_texts))
    if check["max_abs_logit_difference"] > LOGIT_TOLERANCE:
        raise RuntimeError(f"ONNX logits differ from PyTorch's by {check['max_abs_logit_difference']:.2e} (> {LOGIT_TOLERANCE:g})")
    if quantize:
        started = time.perf_counter()
        fp32 = folder / "model-fp32.onnx"
        os.replace(folder / ONNX_FILE, fp32)
        quantize_int8(fp32, folder / ONNX_FILE)
        fp32.unlink()
        seconds += time.perf_counter() - started
    return seconds


def export(args: ExportArguments) -> dict:
    """Export, check and record; returns the `export.json` record."""
    output = Path(args.output).expanduser()
    if not Path(args.run_dir).expanduser().is_dir():
        raise PathError(f"model folder not found: {args.run_dir}")
    source = Path(args.run_dir).expanduser().resolve()
    if output.resolve() == source or source.is_relative_to(output.resolve()):  # --overwrite would delete the model exported
        raise PathError(f"--output {args.output} is the model folder {args.run_dir} or holds it; give the export a folder of its own")
    check_output(output, args.overwrite)
    classifier = TorchSequenceClassifier.from_pretrained(args.run_dir)
    test_set = load_test_set(args, classifier.label_names)  # bad data stops here, before anything is written
    check_texts = CHECK_SENTENCES + (test_set[0][:TEST_CHECK_SENTENCES] if test_set else [])
    staging = prepare_output(output)
    try:
        reference = classifier.logits(check_texts)
        seconds = write_folder(classifier, staging, args.quantize, check_texts, reference)  # the fp32 graph checked
        exported = OnnxSequenceClassifier.from_folder(staging)
        check = compare_logits(reference, exported.logits(check_texts))
        record = {
            "source": str(Path(args.run_dir).resolve()),
            "exporter": f"torch.onnx.export (TorchScript, dynamo=False), opset {OPSET}",
            "quantization": args.quantize,
            "max_length": classifier.max_length,
            "export_seconds": round(seconds, 2),
            "size_bytes": (staging / ONNX_FILE).stat().st_size,
            "check": {**check, "tolerance": LOGIT_TOLERANCE if args.quantize is None else None},
            "versions": {**library_versions(), **_onnx_versions()},
        }
        if test_set:
            texts, gold = test_set
            record["test"] = test_set_change(classifier.logits(texts, args.batch_size), exported.logits(texts, args.batch_size), gold, classifier.label_names)
        write_json_atomic(staging / EXPORT_RECORD, record)
        if output.exists():
            shutil.rmtree(output)
        os.replace(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return record


def _onnx_versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def summary(record: dict, output: str) -> str:
    """What was written and checked, in a few lines."""
    check = record["check"]
    kind = record["quantization"] or "fp32"
    lines = [
        f"wrote {output}/{ONNX_FILE} ({kind}, {record['size_bytes'] / 2**20:.1f} MiB) in {record['export_seconds']:.1f} s",
        f"check on {check['sentences']} sentences: max |logit difference| vs PyTorch {check['max_abs_logit_difference']:.2e}"
        + (f" (tolerance {check['tolerance']:g})" if check["tolerance"] else "")
        + f", same predictions {check['same_predictions']:.1%}",
    ]
    if "test" in record:
        test = record["test"]
        low, high = test["run_accuracy_ci95"]
        lines.append(
            f"test set ({test['sentences']} sentences): run accuracy {test['run_accuracy']:.4f} [95% CI {low:.4f}, {high:.4f}], "
            f"{kind} accuracy {test['export_accuracy']:.4f} ({test['accuracy_change']:+.4f}, "
            f"{test['changed_predictions']} predictions changed): {'inside' if test['inside_run_ci95'] else 'OUTSIDE'} the run's 95% CI"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv and not argv[0].startswith("-"):  # RUN_DIR first, as the usage line shows
        argv = ["--run_dir", *argv]
    (args,) = parse((ExportArguments,), argv)
    record = export(args)
    print(summary(record, args.output))


if __name__ == "__main__":
    sys.exit(run_cli(main))
