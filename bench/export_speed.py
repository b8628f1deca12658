"""ONNX fp32 and int8 against PyTorch, on MR's test set, for a GloVe model and a transformer.

    HF_HUB_OFFLINE=1 python -m bench.export_speed --glove RUN_DIR --transformer RUN_DIR --markdown bench/export_speed.md

Each model folder is exported twice by `pipelines.export` (fp32, and int8 with the test-set
check), then the three versions run the 662 test sentences in the same process, alternating, with
one thread each (`torch.set_num_threads(1)`, ONNX Runtime `intra_op_num_threads=1`; see
bench/README.md for why). Measured:

- throughput: sentences/s over the whole test set in batches of `--batch_size` (64), sorted by
  length as `probabilities` does; the fastest of `--repeats` passes (other jobs only add time);
- latency: one sentence a call, the first `--latency_sentences` test sentences, each sentence's
  fastest call over the repeats, then the 50th and 95th percentiles in milliseconds;
- size on disk: the weights file(s) for PyTorch, `model.onnx` for the exports (tokenizer files,
  the same for all three, left out);
- accuracy on the test set and its change against the PyTorch run, from the export's check, with
  whether it lies inside the run's 95% interval over the test sentences (`pipelines.statistics.score_interval`).
Ratios are against PyTorch measured in the same run.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run from anywhere, like the top-level scripts

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pipelines.cli import parse, run_cli  # noqa: E402
from pipelines.data.builtin import load_sentiment_dataset  # noqa: E402
from pipelines.export import ExportArguments, export  # noqa: E402
from pipelines.backbones import WEIGHTS_FILES  # noqa: E402
from pipelines.inference import ONNX_FILE, OnnxSequenceClassifier, TorchSequenceClassifier  # noqa: E402
from pipelines.formatting import markdown_table  # noqa: E402

DEFAULT_DATA_DIR = str(REPO_ROOT.parent / "shared" / "datasets")


@dataclass
class ExportBenchArguments:
    glove: str = field(metadata={"help": "a GloVe run folder (train.py output) trained on MR"})
    transformer: str = field(metadata={"help": "a fine-tuned transformer folder (finetune.py output) trained on MR"})
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "folder with MR/"})
    output_dir: str = field(default="runs/export-bench", metadata={"help": "where the exports are written"})
    batch_size: int = field(default=64, metadata={"help": "sentences per call in the throughput pass"})
    latency_sentences: int = field(default=100, metadata={"help": "test sentences timed one at a time"})
    repeats: int = field(default=3, metadata={"help": "passes per version; the fastest is kept"})
    markdown: str | None = field(default=None, metadata={"help": "also write the table and the command to this file"})


def size_on_disk(folder: Path) -> int:
    """Bytes of the model's weights: model.onnx for an export, the weights file(s) otherwise."""
    names = (ONNX_FILE,) if (folder / ONNX_FILE).is_file() else WEIGHTS_FILES
    return sum((folder / name).stat().st_size for name in names if (folder / name).is_file())


def throughput_seconds(classifier, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    classifier.logits(texts, batch_size)
    return time.perf_counter() - started


def latencies_ms(classifier, texts: list[str]) -> np.ndarray:
    """Milliseconds of one `logits([text])` call per text."""
    times = []
    for text in texts:
        started = time.perf_counter()
        classifier.logits([text], 1)
        times.append(time.perf_counter() - started)
    return np.array(times) * 1000


def measure(versions: dict, texts: list[str], args: ExportBenchArguments) -> dict[str, dict]:
    """Alternate between the versions `repeats` times; keep each one's fastest pass and calls."""
    for classifier in versions.values():  # warm-up: first calls pay for lazy initialisation
        classifier.logits(texts[: args.batch_size], args.batch_size)
    best = {name: {"seconds": float("inf"), "latency": None} for name in versions}
    for _ in range(args.repeats):
        for name, classifier in versions.items():
            best[name]["seconds"] = min(best[name]["seconds"], throughput_seconds(classifier, texts, args.batch_size))
            calls = latencies_ms(classifier, texts[: args.latency_sentences])
            previous = best[name]["latency"]
            best[name]["latency"] = calls if previous is None else np.minimum(previous, calls)
    return best


def bench_model(kind: str, folder: str, texts: list[str], args: ExportBenchArguments) -> list[dict]:
    """Export `folder` (fp32, int8), time the three versions, return one table row per version."""
    output = Path(args.output_dir)
    records = {}
    for quantize in (None, "int8"):
        target = output / f"{Path(folder).resolve().parent.name}-{Path(folder).name}-{quantize or 'fp32'}"
        records[quantize or "fp32"] = (target, export(ExportArguments(
            run_dir=folder, output=str(target), quantize=quantize, dataset="mr", data_dir=args.data_dir, overwrite=True,
        )))  # fmt: skip
    versions = {
        "PyTorch": TorchSequenceClassifier.from_pretrained(folder),
        "ONNX fp32": OnnxSequenceClassifier.from_folder(records["fp32"][0], threads=1),
        "ONNX int8": OnnxSequenceClassifier.from_folder(records["int8"][0], threads=1),
    }
    best = measure(versions, texts, args)
    sizes = {"PyTorch": size_on_disk(Path(folder)), "ONNX fp32": size_on_disk(records["fp32"][0]), "ONNX int8": size_on_disk(records["int8"][0])}
    base = best["PyTorch"]
    rows = []
    for name in versions:
        test = records["int8"][1]["test"] if name == "ONNX int8" else records["fp32"][1]["test"]
        accuracy = test["run_accuracy"] if name == "PyTorch" else test["export_accuracy"]
        p50, p95 = np.percentile(best[name]["latency"], [50, 95])
        rows.append({
            "model": kind, "version": name,
            "sentences/s": f"{len(texts) / best[name]['seconds']:.0f}",
            "× PyTorch": f"{base['seconds'] / best[name]['seconds']:.2f}",
            "p50 ms": f"{p50:.2f}", "p95 ms": f"{p95:.2f}",
            "p50 × faster": f"{np.percentile(base['latency'], 50) / p50:.2f}",
            "size MiB": f"{sizes[name] / 2**20:.1f}",
            "accuracy": f"{accuracy:.4f}",
            "Δ accuracy": "" if name == "PyTorch" else f"{test['accuracy_change']:+.4f} ({test['changed_predictions']} changed)",
            "inside run's 95% CI": (
                f"CI [{test['run_accuracy_ci95'][0]:.4f}, {test['run_accuracy_ci95'][1]:.4f}]" if name == "PyTorch"
                else ("yes" if test["inside_run_ci95"] else "no")
            ),
        })  # fmt: skip
    return rows


COLUMNS = ["model", "version", "sentences/s", "× PyTorch", "p50 ms", "p95 ms", "p50 × faster", "size MiB", "accuracy", "Δ accuracy", "inside run's 95% CI"]


def main(argv: list[str]) -> None:
    (args,) = parse((ExportBenchArguments,), argv)
    torch.set_num_threads(1)
    texts = list(load_sentiment_dataset("mr", args.data_dir)["test"]["text"])
    rows = bench_model(f"GloVe ({Path(args.glove).resolve().parent.name})", args.glove, texts, args)
    rows += bench_model(f"transformer ({Path(args.transformer).name})", args.transformer, texts, args)
    table = markdown_table(rows, [(column, column) for column in COLUMNS])
    print(table)
    if args.markdown:
        from bench.common import machine_line, portable_argv

        command = "HF_HUB_OFFLINE=1 python -m bench.export_speed " + " ".join(portable_argv(argv))
        Path(args.markdown).write_text(
            f"# ONNX export speed and size on MR's test set ({len(texts)} sentences)\n\n```bash\n{command}\n```\n\n"
            f"Machine: {machine_line()}.\n\n{table}\n"
        )


if __name__ == "__main__":
    sys.exit(run_cli(main))
