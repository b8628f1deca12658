"""`finetune.py`'s CPU recipe against a plain HF `Trainer` baseline, lever by lever, in one run.

    HF_HUB_OFFLINE=1 python -m bench.finetune_recipe [--samples 320] [--models mpnet,minilm] [--quick]

Both arms are a real `transformers.Trainer` over the same MR training sentences (a random subset of
`--samples`, drawn with seed 0), the same model, learning rate (5e-5), batch size (32) and
schedule, each in a fresh forked process (its own peak memory), for one pass over the subset. The
first optimizer step is untimed (the optimizer allocates its state; `torch.compile` compiles);
samples/s is over the remaining steps, wall time from the end of step 1 to the end of the last.

- **baseline**: what a first attempt runs: every sentence padded to a fixed `max_length` of 128,
  random batches, the default optimizer (`adamw_torch`), fp32, 1 torch thread.
- **levers**, added one at a time in this order: `max_length` fitted to the data (the 99th
  percentile of the training texts' token counts, `finetune.py --max_length_quantile 0.99`),
  dynamic padding (each batch as wide as its longest sentence, `DataCollatorWithPadding`), batches
  grouped by length (`train_sampling_strategy="group_by_length"`, finetune.py's default), fused
  AdamW (`--optim adamw_torch_fused`): that is the recipe. Then, on top of the recipe: a second
  torch thread, and `torch.compile` (`--torch_compile`).
- **bf16 autocast** (`bf16=True` on the CPU: `torch.autocast("cpu", torch.bfloat16)` around each
  forward) is measured only where the CPU has native bf16 (`pipelines.training_arguments.native_cpu_bf16`:
  AVX512-BF16 or AMX, as torch detects them), alone and with 2 threads; elsewhere it is emulated and
  slower, and the table says it was skipped. finetune.py turns it on by itself where it is native
  (`--auto_mixed_precision`, the default).

The epoch estimate scales the measured rate to the 8,000 sentences a run trains on (MR's 10,000
less the 20% validation split). CPU seconds per step (process time of the training process) are
steadier than wall time on a shared machine: the last column compares them (baseline CPU s per
sample / the arm's; for 2 threads it counts both, so there it shows the extra CPU spent, not speed).
Accuracy is not measured here: it needs whole runs (the study's `runs/study/<dataset>-<model>`
records, `scripts/run_finetune_study.sh`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace

import torch
from datasets import Dataset
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers import logging as transformers_logging

from bench.common import DEFAULT_DATA_DIR, PeakMemory, in_child_process, machine_line, markdown_table, ratio
from pipelines.backbones import length_from_data, resolve_alias
from pipelines.cli import parse, run_cli
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.training_arguments import native_cpu_bf16

STATIC_LENGTH = 128  # a plain HF script's usual padding="max_length", max_length=128
RUN_SENTENCES = 8000  # MR train less the 20% validation split


@dataclass
class RecipeBenchArguments:
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "folder with MR/"})
    samples: int = field(default=320, metadata={"help": "MR training sentences per arm (one pass)"})
    batch_size: int = field(default=32, metadata={"help": "finetune.py's --per_device_train_batch_size"})
    models: str = field(default="mpnet,minilm", metadata={"help": "offline aliases, comma-separated"})
    quantile: float = field(default=0.99, metadata={"help": "of the token counts, for the fitted max_length"})
    quick: bool = field(default=False, metadata={"help": "smoke run: 64 sentences, batches of 8, MiniLM"})


@dataclass(frozen=True)
class Arm:
    name: str
    fitted_length: bool = False
    dynamic: bool = False
    grouped: bool = False
    fused: bool = False
    threads: int = 1
    compile: bool = False
    bf16: bool = False


BASELINE = Arm("baseline: static 128, random batches, adamw_torch, 1 thread")
RECIPE = Arm("recipe (= + fused AdamW)", fitted_length=True, dynamic=True, grouped=True, fused=True)


def arms(full: bool) -> list[Arm]:
    bf16 = [replace(RECIPE, name="recipe + bf16 autocast", bf16=True)] if native_cpu_bf16() else []
    if not full:
        return [BASELINE, RECIPE, *bf16]
    return [
        BASELINE,
        replace(BASELINE, name="+ max_length fitted (p99), static", fitted_length=True),
        replace(BASELINE, name="+ dynamic padding", fitted_length=True, dynamic=True),
        replace(BASELINE, name="+ batches grouped by length", fitted_length=True, dynamic=True, grouped=True),
        RECIPE,
        replace(RECIPE, name="recipe + 2 torch threads", threads=2),
        replace(RECIPE, name="recipe + torch.compile", compile=True),
        *bf16,
        *[replace(arm, name="recipe + bf16 autocast + 2 torch threads", threads=2) for arm in bf16],
    ]


class StepClock(TrainerCallback):
    """Wall and CPU time from the end of the first optimizer step to the end of the last."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 1:
            self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.steps = state.global_step - 1
        self.wall_end, self.cpu_end = time.perf_counter(), time.process_time()


def train_arm(arm: Arm, alias: str, texts: list[str], labels: list[int], args: RecipeBenchArguments, output_dir: str) -> dict:
    """One arm's pass over the sentences in this (child) process: its rate, CPU time and peak memory."""
    torch.set_num_threads(arm.threads)
    folder = resolve_alias(alias)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    length = length_from_data(tokenizer, texts, args.quantile) if arm.fitted_length else STATIC_LENGTH
    padding = "do_not_pad" if arm.dynamic else "max_length"
    encoded = tokenizer(texts, truncation=True, max_length=length, padding=padding)
    train = Dataset.from_dict({**encoded, "label": labels})
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    training_args = TrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=args.batch_size, learning_rate=5e-5, num_train_epochs=1,
        warmup_steps=0.1, weight_decay=0.01, optim="adamw_torch_fused" if arm.fused else "adamw_torch",
        train_sampling_strategy="group_by_length" if arm.grouped else "random", torch_compile=arm.compile,
        bf16=arm.bf16, use_cpu=True, save_strategy="no", eval_strategy="no", logging_strategy="no",
        report_to="none", disable_tqdm=True, dataloader_pin_memory=False, seed=0,
    )
    clock = StepClock()
    trainer = Trainer(
        model=model, args=training_args, train_dataset=train, processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer), callbacks=[clock],
    )
    with PeakMemory() as memory:
        trainer.train()
    widths = [min(len(ids), length) for ids in encoded["input_ids"]]
    wall, cpu = clock.wall_end - clock.wall, clock.cpu_end - clock.cpu
    return {
        "max_length": length,
        "tokens_per_sample": sum(widths) / len(widths) if arm.dynamic else float(length),
        "samples_per_s": clock.steps * args.batch_size / wall,
        "cpu_per_step": cpu / clock.steps,
        "peak_mb": memory.peak_mb,
        "steps": clock.steps,
    }


COLUMNS = [
    ("model", "model"), ("arm", "arm"), ("length", "max_length"), ("speed", "samples/s"), ("cpu", "CPU s/step"),
    ("epoch", "epoch of 8,000 (min, est.)"), ("peak", "peak RSS (MiB)"), ("ratio", "samples/s vs baseline"),
    ("cpu_ratio", "CPU s/sample vs baseline"),
]


def run(args: RecipeBenchArguments, output_dir: str = "/tmp/finetune_recipe_bench") -> str:
    if args.quick:
        args.samples, args.batch_size, args.models = 64, 8, "minilm"
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    torch.set_num_threads(1)
    train = load_sentiment_dataset("mr", args.data_dir)["train"].shuffle(seed=0)
    train = train.select(range(min(args.samples, len(train))))
    texts, labels = list(train["text"]), list(train["label"])
    rows = []
    for alias in args.models.split(","):
        results = {arm: in_child_process(train_arm, arm, alias, texts, labels, args, output_dir) for arm in arms(alias == "mpnet")}
        baseline = results[BASELINE]["samples_per_s"]
        baseline_cpu = results[BASELINE]["cpu_per_step"]
        for arm, result in results.items():
            rows.append({
                "model": alias, "arm": arm.name, "length": result["max_length"],
                "speed": f"{result['samples_per_s']:.2f}", "cpu": f"{result['cpu_per_step']:.2f}",
                "epoch": f"{RUN_SENTENCES / result['samples_per_s'] / 60:.1f}", "peak": f"{result['peak_mb']:,.0f}",
                "ratio": f"{ratio(result['samples_per_s'], baseline):.2f}x",
                "cpu_ratio": f"{ratio(baseline_cpu, result['cpu_per_step']):.2f}x",
            })
    bf16 = "bf16 autocast measured (native on this CPU)" if native_cpu_bf16() else "bf16 autocast skipped: no native bf16 on this CPU (no avx512_bf16/amx_bf16 flag)"
    return (
        f"{markdown_table(rows, COLUMNS)}\n\n{len(texts)} MR training sentences per arm (seed 0), batches of "
        f"{args.batch_size}, {results[BASELINE]['steps']} timed optimizer steps after 1 untimed (per arm); {bf16}."
    )


def main(argv: list[str]) -> None:
    (args,) = parse((RecipeBenchArguments,), argv)
    table = run(args)
    print(machine_line())
    print(table)


if __name__ == "__main__":
    sys.exit(run_cli(main))
