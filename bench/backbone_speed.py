"""Training speed on CPU of the offline backbones: MiniLM (22.7M) against MPNet-base (110M), and
what makes the 110M model practical on 2 cores.

    HF_HUB_OFFLINE=1 python -m bench.backbone_speed [--steps 4] [--batch_size 16] [--quick]

Each setting runs in a fresh forked process (its own peak memory): a new AdamW, `--warmup` steps
untimed (the optimizer allocates its state), then `--steps` timed optimizer steps of forward,
backward and update, the loop `Trainer` runs (`bench/trainer_overhead.py` found Trainer adds ~5%).
The sentences are MR train, tokenized once per backbone; the settings differ only in how batches
are cut and padded, the torch threads, and gradient accumulation:

- padding: static to 128 (every batch 128 wide), static to the 99th percentile of MR's token
  lengths (`length_from_data`), or dynamic (each batch as wide as its longest sentence, capped at
  that length);
- batches: random, or grouped by length (`transformers`' `LengthGroupedSampler`, what
  `group_by_length=True` gives `Trainer`);
- 1 or 2 torch threads; batches of 16, or 8 with 2 accumulation steps (the same 16 per update);
  AdamW's default per-tensor loop, or its fused kernel (one pass over all 110M parameters).

The timed batches are the setting's own batches at evenly spaced quantiles of their padded
width, so their mean width is close to the epoch's. `tokens/sample` is that epoch mean, over all
10,000 sentences. Speed is samples per second of wall time. On this shared machine the CPU
seconds per step (process time) are steadier: with 1 thread they are the work done whatever the
load (`bench/README.md`), so the last column compares them (baseline CPU s / setting CPU s; for
2 threads it counts both, so there it shows the extra CPU spent, not speed). The baseline is MPNet as a first attempt would run it: static padding to 128, random
batches, 1 thread.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers import logging as transformers_logging
from transformers.trainer_pt_utils import LengthGroupedSampler

from bench.common import DEFAULT_DATA_DIR, PeakMemory, in_child_process, machine_line, markdown_table, ratio
from pipelines.backbones import length_from_data, resolve_alias
from pipelines.cli import parse, run_cli
from pipelines.data.builtin import load_sentiment_dataset

STATIC_LENGTH = 128  # `finetune.py --max_length` default


@dataclass
class BackboneSpeedArguments:
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "folder with MR/"})
    steps: int = field(default=4, metadata={"help": "timed optimizer steps per setting"})
    warmup: int = field(default=1, metadata={"help": "untimed optimizer steps before them"})
    batch_size: int = field(default=16, metadata={"help": "samples per optimizer step"})
    quantile: float = field(default=0.99, metadata={"help": "of MR's token lengths, for the data-driven max_length"})
    max_samples: int | None = field(default=None, metadata={"help": "first N training sentences (default: all)"})
    quick: bool = field(default=False, metadata={"help": "smoke run: 2,000 sentences, batches of 4, 1 step"})


@dataclass(frozen=True)
class Setting:
    name: str
    model: str  # alias
    padding: str  # "static" or "dynamic"
    max_length: int
    grouped: bool = False
    threads: int = 1
    accumulation: int = 1
    fused: bool = False  # AdamW's fused kernel, `TrainingArguments(optim="adamw_torch_fused")`


def settings(data_length: int) -> list[Setting]:
    return [
        Setting("baseline: static 128, random batches", "mpnet", "static", STATIC_LENGTH),
        Setting(f"static to the data's p99 ({data_length})", "mpnet", "static", data_length),
        Setting("dynamic padding, random batches", "mpnet", "dynamic", STATIC_LENGTH),
        Setting(f"dynamic, grouped by length, max {data_length}", "mpnet", "dynamic", data_length, grouped=True),
        Setting("  + 2 torch threads", "mpnet", "dynamic", data_length, grouped=True, threads=2),
        Setting("  + batches of 8 x 2 accumulation steps", "mpnet", "dynamic", data_length, grouped=True, accumulation=2),
        Setting("  + fused AdamW", "mpnet", "dynamic", data_length, grouped=True, fused=True),
        Setting("MiniLM: static 128, random batches", "minilm", "static", STATIC_LENGTH),
        Setting(f"MiniLM: dynamic, grouped, max {data_length}", "minilm", "dynamic", data_length, grouped=True),
    ]


def batches_for(setting: Setting, lengths: list[int], batch_size: int, seed: int = 0) -> list[list[int]]:
    """An epoch's batches of indices, in the order the setting's sampler gives."""
    generator = torch.Generator().manual_seed(seed)
    if setting.grouped:
        order = list(LengthGroupedSampler(batch_size, lengths=lengths, generator=generator))
    else:
        order = torch.randperm(len(lengths), generator=generator).tolist()
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def width(setting: Setting, lengths: list[int], batch: list[int]) -> int:
    longest = max(lengths[index] for index in batch)
    return setting.max_length if setting.padding == "static" else min(longest, setting.max_length)


def timed_batches(setting: Setting, lengths: list[int], batches: list[list[int]], count: int) -> list[list[int]]:
    """`count` full batches at evenly spaced quantiles of their padded width."""
    full = sorted((batch for batch in batches if len(batch) == len(batches[0])), key=lambda b: width(setting, lengths, b))
    return [full[int((i + 0.5) * len(full) / count)] for i in range(count)]


def collate(ids: list[list[int]], labels: list[int], batch: list[int], length: int, pad_id: int) -> dict:
    input_ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), length), dtype=torch.long)
    for row, index in enumerate(batch):
        tokens = ids[index][:length]  # truncation keeps the final [SEP] out; for timing it does not matter
        input_ids[row, : len(tokens)] = torch.tensor(tokens)
        attention_mask[row, : len(tokens)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": torch.tensor([labels[i] for i in batch])}


def train_steps(model, setting: Setting, data: dict, batches: list[list[int]], warmup: int) -> dict:
    """Optimizer steps over `batches` (each split into `accumulation` micro-batches); times all but the warm-up."""
    torch.set_num_threads(setting.threads)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, fused=setting.fused or None)
    model.train()
    wall, cpu = [], []
    with PeakMemory() as memory:
        for step, batch in enumerate(batches):
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            micro = len(batch) // setting.accumulation
            for start in range(0, len(batch), micro):
                part = batch[start : start + micro]
                inputs = collate(data["ids"], data["labels"], part, width(setting, data["lengths"], part), data["pad_id"])
                (model(**inputs).loss / setting.accumulation).backward()
            optimizer.step()
            optimizer.zero_grad()
            if step >= warmup:
                wall.append(time.perf_counter() - started_wall)
                cpu.append(time.process_time() - started_cpu)
    return {"wall": sum(wall), "cpu": sum(cpu), "steps": len(wall), "peak_mb": memory.peak_mb}


def prepare_backbones(texts: list[str], labels: list[int], quantile: float) -> tuple[dict, dict]:
    """Per alias: the tokenized sentences (ids, lengths, pad id, p`quantile` length) and the model."""
    data, models = {}, {}
    for alias in ("minilm", "mpnet"):
        folder = resolve_alias(alias)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        ids = tokenizer(texts, truncation=True, max_length=tokenizer.model_max_length)["input_ids"]
        data[alias] = {"ids": ids, "labels": labels, "lengths": [len(row) for row in ids], "pad_id": tokenizer.pad_token_id}
        data[alias]["p99"] = length_from_data(tokenizer, texts, quantile)
        models[alias] = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    return data, models


def measure(setting: Setting, model, data: dict, args: BackboneSpeedArguments) -> dict:
    """One setting's timed steps in a fresh child process, and its tokens per sample over an epoch."""
    lengths = data["lengths"]
    epoch = batches_for(setting, lengths, args.batch_size)
    widest = max(epoch, key=lambda batch: (len(batch), width(setting, lengths, batch)))
    chosen = [widest] * args.warmup + timed_batches(setting, lengths, epoch, args.steps)
    result = in_child_process(train_steps, model, setting, data, chosen, args.warmup)
    result["tokens_per_sample"] = sum(width(setting, lengths, batch) * len(batch) for batch in epoch) / len(lengths)
    result["samples_per_s"] = result["steps"] * args.batch_size / result["wall"]
    return result


TABLE_COLUMNS = [
    ("setting", "setting"),
    ("model", "model"),
    ("tokens", "tokens/sample (epoch)"),
    ("step", "s/step (wall)"),
    ("cpu", "CPU s/step"),
    ("speed", "samples/s"),
    ("epoch", "epoch (min, est.)"),
    ("peak", "peak RSS (MiB)"),
    ("ratio", "speed vs baseline"),
    ("cpu_ratio", "CPU time vs baseline"),
]


def table_row(setting: Setting, result: dict, baseline: dict, sentences: int) -> dict:
    """One setting's row; the ratios are against `baseline`, the first setting's result."""
    cpu_per_step, baseline_cpu = result["cpu"] / result["steps"], baseline["cpu"] / baseline["steps"]
    return {
        "setting": setting.name,
        "model": setting.model,
        "tokens": f"{result['tokens_per_sample']:.1f}",
        "step": f"{result['wall'] / result['steps']:.2f}",
        "cpu": f"{cpu_per_step:.2f}",
        "speed": f"{result['samples_per_s']:.2f}",
        "epoch": f"{sentences / result['samples_per_s'] / 60:.0f}",
        "peak": f"{result['peak_mb']:,.0f}",
        "ratio": f"{ratio(result['samples_per_s'], baseline['samples_per_s']):.2f}x",
        "cpu_ratio": f"{ratio(baseline_cpu, cpu_per_step):.2f}x",
    }


def run(args: BackboneSpeedArguments) -> dict:
    if args.quick:
        args.max_samples, args.batch_size, args.steps = args.max_samples or 2000, 4, 1
    transformers_logging.set_verbosity_error()  # the new classification head's load report
    transformers_logging.disable_progress_bar()
    torch.set_num_threads(1)  # the parent never runs a parallel region, so forked children start clean
    train = load_sentiment_dataset("mr", args.data_dir)["train"].shuffle(seed=0)
    train = train.select(range(min(args.max_samples or len(train), len(train))))
    texts, labels = list(train["text"]), list(train["label"])
    data, models = prepare_backbones(texts, labels, args.quantile)
    data_length = data["mpnet"]["p99"]
    chosen = settings(data_length)
    results = {setting.name: measure(setting, models[setting.model], data[setting.model], args) for setting in chosen}
    baseline = results[chosen[0].name]
    rows = [table_row(setting, results[setting.name], baseline, len(texts)) for setting in chosen]
    best_mpnet = max(results[setting.name]["samples_per_s"] for setting in chosen if setting.model == "mpnet")
    minilm = results[chosen[-1].name]["samples_per_s"]
    summary = (
        f"{len(texts):,} MR training sentences, batches of {args.batch_size}, {args.steps} timed steps after "
        f"{args.warmup} warm-up per setting; data-driven max_length {data_length} (p{args.quantile * 100:g} of the "
        f"token lengths, rounded up to 8). MPNet: best setting {ratio(best_mpnet, baseline['samples_per_s']):.1f}x the "
        f"baseline. MiniLM is {ratio(minilm, results[chosen[3].name]['samples_per_s']):.1f}x faster than MPNet "
        f"with the same grouped dynamic batches."
    )
    return {"table": markdown_table(rows, TABLE_COLUMNS), "summary": summary, "results": results}


def main(argv: list[str]) -> None:
    (args,) = parse((BackboneSpeedArguments,), argv)
    result = run(args)
    print(machine_line())
    print(result["table"])
    print(result["summary"])


if __name__ == "__main__":
    sys.exit(run_cli(main))
