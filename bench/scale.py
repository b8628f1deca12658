"""Scale: training time per epoch and peak memory of `bilstm` and `transformer` as the input grows.

    HF_HUB_OFFLINE=1 python -m bench.scale [--multiples 1,2,4] [--lengths 32,64,128,256]

Two axes, each run a fresh forked process training with `Trainer` for `--epochs` fixed epochs
(batch 64, no evaluation or checkpoints, a `length` column for the `group_by_length` sampler):

- data: MR train (10,000 sentences, 21.7 tokens on average, at most 63) repeated 1x, 2x, 4x;
- length: `--length_samples` examples of exactly L real tokens each, cut from the stream of MR
  training tokens (padding alone would not do: the LSTMs pack sequences to their real lengths
  and attention masks padding, so only real tokens cost). Each model is built with
  `max_length=L`, so the transformer has L position embeddings.

Time per epoch (from the epoch's start to its end, by a `TrainerCallback`; the one-off set-up
of `Trainer` and `train()` is shown apart) is the process's CPU time, which other jobs on the
shared cores hardly change (one torch thread), with wall time beside it; the ratios use CPU time.
Memory (peak RSS of the run, and its increase over the RSS at the start, see
`common.PeakMemory`) are printed with their ratio to the first row of each axis. Linear cost in
the data means time ratios equal to the multiples; in the length, equal to L / L_first.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
from dataclasses import dataclass, field

from datasets import Dataset, concatenate_datasets, disable_progress_bars
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback

from bench.common import (
    DEFAULT_DATA_DIR,
    PeakMemory,
    build_model,
    in_child_process,
    machine_line,
    markdown_table,
    prepare_mr,
    set_torch_threads,
    token_lengths,
)
from pipelines.cli import parse, run_cli
from pipelines.training import GloveTrainingArguments

NATURAL_MAX_LENGTH = 128  # `train.py` default; no MR training sentence is longer


@dataclass
class ScaleArguments:
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "folder with MR/"})
    models: str = field(default="bilstm,transformer", metadata={"help": "comma-separated `train.py --model` names"})
    multiples: str = field(default="1,2,4", metadata={"help": "MR train repeated this many times"})
    lengths: str = field(default="32,64,128,256", metadata={"help": "tokens per example on the length axis"})
    length_samples: int = field(default=500, metadata={"help": "examples per epoch on the length axis"})
    epochs: int = field(default=1, metadata={"help": "fixed epochs of every run; time is per epoch"})
    batch_size: int = field(default=64, metadata={"help": "as `GloveTrainingArguments`"})
    threads: int = field(default=1, metadata={"help": "torch threads (see `common.set_torch_threads`)"})
    max_samples: int | None = field(default=None, metadata={"help": "first N training sentences (default: all)"})
    seed: int = field(default=42, metadata={"help": "model init and batch order"})


def with_lengths(dataset: Dataset) -> Dataset:
    return dataset.add_column("length", token_lengths(dataset))


def repeated(train: Dataset, multiple: int) -> Dataset:
    return with_lengths(concatenate_datasets([train] * multiple))


def fixed_length(train: Dataset, length: int, count: int) -> Dataset:
    """`count` examples of exactly `length` real tokens, cut from the token stream of `train`."""
    stream = itertools.cycle(itertools.chain.from_iterable(train["input_ids"]))
    ids = [list(itertools.islice(stream, length)) for _ in range(count)]
    return Dataset.from_dict(
        {
            "input_ids": ids,
            "attention_mask": [[1] * length] * count,
            "label": [i % 2 for i in range(count)],  # any labels: only the cost is measured
            "length": [length] * count,
        }
    )


class EpochTimer(TrainerCallback):
    """Wall time of each epoch alone, without the one-off set-up of `Trainer` and `train()`."""

    def __init__(self):
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.started, self.cpu_started = time.perf_counter(), time.process_time()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self.started)
        self.cpu_seconds.append(time.process_time() - self.cpu_started)


def train_epochs(setup, args: ScaleArguments, model_name: str, train: Dataset, max_length: int) -> dict:
    model = build_model(model_name, setup, max_length, args.seed)
    timer = EpochTimer()
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as output_dir, PeakMemory() as memory:
        started = time.perf_counter()
        trainer = Trainer(
            model=model,
            args=GloveTrainingArguments(
                output_dir=output_dir,
                num_train_epochs=args.epochs,
                per_device_train_batch_size=args.batch_size,
                eval_strategy="no",
                save_strategy="no",
                load_best_model_at_end=False,
                disable_tqdm=True,
                report_to="none",
                seed=args.seed,
            ),
            train_dataset=train,
            processing_class=setup.tokenizer,
            data_collator=DataCollatorWithPadding(setup.tokenizer),
            callbacks=[timer],
        )
        trainer.train()
        seconds = time.perf_counter() - started
    return {
        "epoch_s": sum(timer.cpu_seconds) / len(timer.cpu_seconds),
        "wall_epoch_s": sum(timer.seconds) / len(timer.seconds),
        "setup_s": seconds - sum(timer.seconds),
        "peak_mb": memory.peak_mb,
        "increase_mb": memory.increase_mb,
    }


def axis_rows(results: list[dict]) -> list[dict]:
    """Table rows with ratios to the first row (the smallest setting) of the same model and axis."""
    rows = []
    for result in results:
        first = next(r for r in results if r["model"] == result["model"])
        rows.append(
            {
                "model": result["model"],
                "setting": result["setting"],
                "examples": f"{result['examples']:,}",
                "tokens": f"{result['tokens']:,}",
                "epoch_s": f"{result['epoch_s']:.1f}",
                "wall_epoch_s": f"{result['wall_epoch_s']:.1f}",
                "setup_s": f"{result['setup_s']:.1f}",
                "time_ratio": f"{result['epoch_s'] / first['epoch_s']:.2f}x",
                "work_ratio": f"{result['tokens'] / first['tokens']:.2f}x",
                "peak_mb": f"{result['peak_mb']:.0f}",
                "increase_mb": f"{result['increase_mb']:.0f}",
                "memory_ratio": f"{result['increase_mb'] / max(first['increase_mb'], 1.0):.2f}x",
            }
        )
    return rows


COLUMNS = [
    ("model", "model"),
    ("setting", "setting"),
    ("examples", "examples"),
    ("tokens", "tokens/epoch"),
    ("epoch_s", "CPU s/epoch"),
    ("wall_epoch_s", "wall s/epoch"),
    ("setup_s", "set-up s"),
    ("time_ratio", "time ratio"),
    ("work_ratio", "token ratio"),
    ("peak_mb", "peak RSS MiB"),
    ("increase_mb", "RSS increase MiB"),
    ("memory_ratio", "increase ratio"),
]


def run(args: ScaleArguments) -> dict:
    disable_progress_bars()
    set_torch_threads(args.threads)
    setup = prepare_mr(args.data_dir, max_length=NATURAL_MAX_LENGTH, max_samples=args.max_samples)
    model_names = [name.strip() for name in args.models.split(",") if name.strip()]
    multiples = [int(value) for value in args.multiples.split(",")]
    lengths = [int(value) for value in args.lengths.split(",")]

    data_results, length_results = [], []
    for name in model_names:
        for multiple in multiples:
            train = repeated(setup.train, multiple)
            result = in_child_process(train_epochs, setup, args, name, train, NATURAL_MAX_LENGTH)
            tokens = sum(train["length"])
            data_results.append(
                {"model": name, "setting": f"MR x{multiple}", "examples": len(train), "tokens": tokens, **result}
            )
        for length in lengths:
            train = fixed_length(setup.train, length, args.length_samples)
            result = in_child_process(train_epochs, setup, args, name, train, length)
            tokens = length * len(train)
            length_results.append(
                {"model": name, "setting": f"L = {length}", "examples": len(train), "tokens": tokens, **result}
            )

    data_table = markdown_table(axis_rows(data_results), COLUMNS)
    length_table = markdown_table(axis_rows(length_results), COLUMNS)
    summaries = []
    for name in model_names:
        data = [r for r in data_results if r["model"] == name]
        by_length = [r for r in length_results if r["model"] == name]
        summaries.append(
            f"`{name}`: x{multiples[-1] // multiples[0]} data -> "
            f"{data[-1]['epoch_s'] / data[0]['epoch_s']:.2f}x time per epoch; "
            f"x{lengths[-1] // lengths[0]} length -> {by_length[-1]['epoch_s'] / by_length[0]['epoch_s']:.2f}x time, "
            f"{by_length[-1]['increase_mb'] / max(by_length[0]['increase_mb'], 1.0):.2f}x memory increase."
        )
    settings = f"{args.epochs} epoch(s) per run, batch {args.batch_size}, torch threads {args.threads}."
    summary = " ".join([settings, *summaries])
    return {
        "data_table": data_table,
        "length_table": length_table,
        "summary": summary,
        "data": data_results,
        "length": length_results,
    }


def main(argv: list[str]) -> None:
    (args,) = parse((ScaleArguments,), argv)
    result = run(args)
    print(machine_line())
    print("Data size (MR train repeated, natural lengths):")
    print(result["data_table"])
    print("Sequence length (every example exactly L real tokens):")
    print(result["length_table"])
    print(result["summary"])


if __name__ == "__main__":
    sys.exit(run_cli(main))
