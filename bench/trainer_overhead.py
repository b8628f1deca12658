"""Training: `Trainer` with the project's `bilstm` against a minimal hand-written PyTorch loop.

    HF_HUB_OFFLINE=1 python -m bench.trainer_overhead [--epochs 1] [--repeats 2] [--threads 1]

Both sides train the same thing, so the difference is the framework:

- the same model: `build_model` (the `train_glove` config, GloVe vectors, frozen), same seed;
- the same data: MR train (10,000 sentences) tokenized by `tokenize_dataset`, padded per batch by
  `DataCollatorWithPadding`, batch 64, in `LengthGroupedSampler` order (the project's
  `group_by_length` default) drawn from the same seed;
- the same update: AdamW (fused, as `Trainer` picks on torch >= 2.8), lr 1e-3, linear decay, the
  gradient norm clipped to 1.0 (`max_grad_norm`). The mean training loss of both is printed: when
  it matches, both did exactly the same arithmetic;
- fixed epochs and no evaluation, early stopping or checkpoints in either (the project trains with
  all three; saving this model's checkpoint takes a few hundredths of a second).

Time runs from `Trainer(...)` to the end of `train()`, and for the loop from measuring the
lengths for the sampler to the last step, so one-off set-up counts on both sides. It is split
into set-up (to the first step), steps (each one from the end of the previous, data loading
included) and end, marked by a `TrainerCallback` on one side and in the loop on the other.

The two cores are shared with other jobs, so: each run is a fresh forked process
(`common.in_child_process`) with one torch thread, whose CPU time is the work done and moves much
less than wall time when other jobs take the cores; runs alternate between the sides
`--repeats` times; and since every repeat does the same steps in the same order, each interval
keeps its smallest value over the repeats (`least_disturbed`). The raw wall time of every run is
printed too. Memory is the run's peak RSS (`common.PeakMemory`, Linux `VmHWM`) and its increase
over the RSS at the start, the smallest over the repeats.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from dataclasses import dataclass, field

from datasets import disable_progress_bars
import numpy as np
import torch
from transformers import (
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    get_linear_schedule_with_warmup,
)
from transformers.trainer_pt_utils import LengthGroupedSampler

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

# What each `Trainer` run changes on top of `GloveTrainingArguments` with evaluation and saving off.
TRAINER_VARIANTS = {
    "Trainer, project settings (eval and checkpoints off)": {},
    "Trainer, lean: `length` column, no progress bar, `gc.freeze()`": {
        "length_column": True,
        "disable_tqdm": True,
        "freeze_gc": True,
    },
}
HAND_LOOP = "hand-written PyTorch loop"


@dataclass
class TrainerOverheadArguments:
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "folder with MR/"})
    model: str = field(default="bilstm", metadata={"help": "a `train.py --model` name"})
    epochs: int = field(default=1, metadata={"help": "fixed number of epochs of every run"})
    batch_size: int = field(default=64, metadata={"help": "as `GloveTrainingArguments`"})
    repeats: int = field(default=3, metadata={"help": "runs of each side, alternating; see `least_disturbed`"})
    threads: int = field(default=1, metadata={"help": "torch threads of both sides (see `common.set_torch_threads`)"})
    max_samples: int | None = field(default=None, metadata={"help": "first N training sentences (default: all)"})
    seed: int = field(default=42, metadata={"help": "model init and batch order of both sides"})


def training_arguments(args: TrainerOverheadArguments, output_dir: str, **overrides) -> GloveTrainingArguments:
    return GloveTrainingArguments(
        output_dir=output_dir,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        report_to="none",
        seed=args.seed,
        **overrides,
    )


class Clock:
    """(wall, CPU) time marks: the start, the start of the first epoch, the end of every step, the end."""

    def __init__(self):
        self.marks: list[tuple[float, float]] = []

    def mark(self) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))


class ClockCallback(TrainerCallback):
    def __init__(self, clock: Clock):
        self.clock = clock

    def on_train_begin(self, args, state, control, **kwargs):
        self.clock.mark()

    def on_step_end(self, args, state, control, **kwargs):
        self.clock.mark()


def run_hand_loop(setup, args: TrainerOverheadArguments) -> dict:
    model = build_model(args.model, setup, setup.tokenizer.model_max_length, args.seed)
    reference = training_arguments(args, tempfile.gettempdir())  # only read for its hyperparameters
    clock = Clock()
    with PeakMemory() as memory:
        clock.mark()
        lengths = token_lengths(setup.train)
        torch.manual_seed(args.seed)  # what `Trainer.__init__` does with `set_seed`
        loader = torch.utils.data.DataLoader(
            setup.train,
            batch_size=args.batch_size,
            sampler=LengthGroupedSampler(args.batch_size, lengths=lengths),
            collate_fn=DataCollatorWithPadding(setup.tokenizer),
        )
        parameters = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            parameters, lr=reference.learning_rate, weight_decay=reference.weight_decay, fused=True
        )
        scheduler = get_linear_schedule_with_warmup(optimizer, 0, args.epochs * len(loader))
        model.train()
        losses = []
        clock.mark()
        for _ in range(args.epochs):
            for batch in loader:
                loss = model(**batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, reference.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(loss.detach())
                clock.mark()
        loss = torch.stack(losses).mean().item()
        clock.mark()
    return {"marks": clock.marks, "loss": loss, "peak_mb": memory.peak_mb, "increase_mb": memory.increase_mb}


def run_trainer(setup, args: TrainerOverheadArguments, overrides: dict) -> dict:
    overrides = dict(overrides)
    add_length_column = overrides.pop("length_column", False)
    freeze_gc = overrides.pop("freeze_gc", False)
    model = build_model(args.model, setup, setup.tokenizer.model_max_length, args.seed)
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="trainer-bench-") as output_dir, PeakMemory() as memory:
        clock.mark()
        train = setup.train
        if add_length_column:
            # Without it `LengthGroupedSampler` reads every row back to measure it, at each `train()`.
            train = train.add_column("length", token_lengths(train))
        trainer = Trainer(
            model=model,
            args=training_arguments(args, output_dir, **overrides),
            train_dataset=train,
            processing_class=setup.tokenizer,
            data_collator=DataCollatorWithPadding(setup.tokenizer),
            callbacks=[ClockCallback(clock)],
        )
        if freeze_gc:
            # `train()` starts with a full `gc.collect()` (accelerate's `free_memory`), which walks
            # every live Python object (GloVe words, vocabulary...); frozen ones are skipped.
            gc.freeze()
        output = trainer.train()
        clock.mark()
    loss = output.training_loss
    return {"marks": clock.marks, "loss": loss, "peak_mb": memory.peak_mb, "increase_mb": memory.increase_mb}


def least_disturbed(runs: list[dict]) -> dict:
    """Set-up, steps and end of training, each interval the smallest over the repeats.

    Every repeat trains on the same batches in the same order (same seed, same loss), so step i
    of one repeat is the same work as step i of another; what differs is how often other jobs
    took the core. The element-wise minimum keeps each interval's least disturbed measurement.
    """
    intervals = np.minimum.reduce([np.diff(np.asarray(run["marks"]), axis=0) for run in runs])  # (steps + 2, 2)
    setup, steps, end = intervals[0], intervals[1:-1].sum(axis=0), intervals[-1]
    total = setup + steps + end
    step_cpu = [np.diff(np.asarray(run["marks"])[:, 1])[1:-1].sum() for run in runs]
    return {
        "setup": setup[1],
        "steps": steps[1],
        "end": end[1],
        "cpu_seconds": total[1],
        "seconds": total[0],
        "raw_seconds": [run["marks"][-1][0] - run["marks"][0][0] for run in runs],
        "step_spread": (max(step_cpu) - min(step_cpu)) / min(step_cpu),  # how much repeats disagree
        "loss": runs[0]["loss"],
        "same_loss": all(abs(run["loss"] - runs[0]["loss"]) < 1e-6 for run in runs),
        "peak_mb": min(run["peak_mb"] for run in runs),
        "increase_mb": min(run["increase_mb"] for run in runs),
    }


TABLE_COLUMNS = [
    ("method", "method"),
    ("setup", "set-up CPU s"),
    ("steps", "steps CPU s"),
    ("end", "end CPU s"),
    ("cpu", "total CPU s"),
    ("cpu_overhead", "CPU vs loop"),
    ("step_overhead", "steps vs loop"),
    ("wall", "wall s"),
    ("wall_overhead", "wall vs loop"),
    ("raw", "raw wall s, each run"),
    ("samples_per_s", "samples/s (wall)"),
    ("peak_mb", "peak RSS MiB"),
    ("increase_mb", "RSS increase MiB"),
    ("loss", "mean train loss"),
]


def table_row(name: str, result: dict, baseline: dict, samples: int) -> dict:
    """One method's row; the overheads are against `baseline`, the hand-written loop."""

    def versus(key: str) -> str:
        return "baseline" if name == HAND_LOOP else f"{_overhead(result, baseline, key):+.1%}"

    return {
        "method": name,
        "setup": f"{result['setup']:.2f}",
        "steps": f"{result['steps']:.2f}",
        "end": f"{result['end']:.2f}",
        "cpu": f"{result['cpu_seconds']:.2f}",
        "cpu_overhead": versus("cpu_seconds"),
        "step_overhead": versus("steps"),
        "wall": f"{result['seconds']:.2f}",
        "wall_overhead": versus("seconds"),
        "raw": ", ".join(f"{seconds:.1f}" for seconds in result["raw_seconds"]),
        "samples_per_s": f"{samples / result['seconds']:.0f}",
        "peak_mb": f"{result['peak_mb']:.0f}",
        "increase_mb": f"{result['increase_mb']:.0f}",
        "loss": f"{result['loss']:.6f}",
    }


def run(args: TrainerOverheadArguments) -> dict:
    disable_progress_bars()
    set_torch_threads(args.threads)
    setup = prepare_mr(args.data_dir, max_samples=args.max_samples)
    samples = len(setup.train) * args.epochs
    runs: dict[str, list[dict]] = {HAND_LOOP: [], **{name: [] for name in TRAINER_VARIANTS}}
    for _ in range(args.repeats):
        runs[HAND_LOOP].append(in_child_process(run_hand_loop, setup, args))
        for name, overrides in TRAINER_VARIANTS.items():
            runs[name].append(in_child_process(run_trainer, setup, args, overrides))

    best = {name: least_disturbed(results) for name, results in runs.items()}
    baseline = best[HAND_LOOP]
    rows = [table_row(name, result, baseline, samples) for name, result in best.items()]
    default = best[next(iter(TRAINER_VARIANTS))]
    overhead = _overhead(default, baseline, "cpu_seconds")
    spread = max(result["step_spread"] for result in best.values())
    same_loss = all(result["same_loss"] and abs(result["loss"] - baseline["loss"]) < 1e-6 for result in best.values())
    summary = (
        f"`{args.model}`, {len(setup.train):,} MR sentences x {args.epochs} epoch(s), batch {args.batch_size}, "
        f"torch threads {args.threads}, {args.repeats} runs of each. Trainer overhead with the project's settings: "
        f"{overhead:+.1%} in CPU time ({_overhead(default, baseline, 'steps'):+.1%} in the steps, "
        f"{default['setup'] - baseline['setup']:+.2f} s of set-up), {_overhead(default, baseline, 'seconds'):+.1%} in "
        f"wall time: {'under' if overhead < 0.10 else 'OVER'} the 10% target. Repeats of the same steps differ by up "
        f"to {spread:.0%} in CPU time, the noise of this machine now. Every run has the same mean training loss: "
        f"{'yes' if same_loss else 'NO'}."
    )
    table = markdown_table(rows, TABLE_COLUMNS)
    return {"table": table, "summary": summary, "overhead": overhead, "runs": runs, "best": best}


def _overhead(result: dict, baseline: dict, key: str) -> float:
    return result[key] / baseline[key] - 1


def main(argv: list[str]) -> None:
    (args,) = parse((TrainerOverheadArguments,), argv)
    result = run(args)
    print(machine_line())
    print(result["table"])
    print(result["summary"])


if __name__ == "__main__":
    sys.exit(run_cli(main))
