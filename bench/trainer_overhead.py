"""Training: `Trainer` with the project's `bilstm` against a minimal hand-written PyTorch loop.

    HF_HUB_OFFLINE=1 python bench/trainer_overhead.py [--epochs 1] [--repeats 2] [--threads 1]

Both sides train the same thing, so the difference is the framework:

- the same model: `build_model` (the `train_glove` config, GloVe vectors, frozen), same seed;
- the same data: MR train (10,000 sentences) tokenized by `tokenize_dataset`, padded per batch by
  `DataCollatorWithPadding`, batch 64, in `LengthGroupedSampler` order (the project's
  `group_by_length` default) drawn from the same seed;
- the same update: AdamW (fused, as `Trainer` picks on torch >= 2.8), lr 1e-3, linear decay, the
  gradient norm clipped to 1.0 (`max_grad_norm`). The mean training loss of both is printed: when
  it matches, both did exactly the same arithmetic;
- fixed epochs and no evaluation, early stopping or checkpoints in either (the project trains with
  all three; the checkpoint variant shows what saving adds).

Time runs from `Trainer(...)` to the end of `train()`, and from building the optimizer and
`DataLoader` to the last step for the loop, so one-off set-up counts on both sides. Every run is a
fresh forked process (`common.in_child_process`). With one torch thread, the CPU time of that
process is the work done and hardly changes when other jobs share the cores, where wall time can
double: the CPU time is the headline, wall time is shown beside it. Memory is that process's peak RSS during the
run (`common.PeakMemory`, Linux `VmHWM`) and its increase over the RSS at the start. Runs
alternate between the sides, `--repeats` times, and the one with least CPU time is kept.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from common import (  # noqa: E402
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
from datasets import disable_progress_bars  # noqa: E402
from transformers import DataCollatorWithPadding, Trainer, get_linear_schedule_with_warmup  # noqa: E402
from transformers.trainer_pt_utils import LengthGroupedSampler  # noqa: E402

from pipelines.cli import parse, run_cli  # noqa: E402
from pipelines.training import GloveTrainingArguments  # noqa: E402

# What each `Trainer` run changes on top of `GloveTrainingArguments` with evaluation and saving off.
TRAINER_VARIANTS = {
    "Trainer, project settings (eval and checkpoints off)": {},
    "Trainer + checkpoint each epoch (project default)": {"save_strategy": "epoch"},
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
    repeats: int = field(default=2, metadata={"help": "runs of each side, alternating; the fastest is kept"})
    threads: int = field(default=1, metadata={"help": "torch threads of both sides (see `common.set_torch_threads`)"})
    max_samples: int | None = field(default=None, metadata={"help": "first N training sentences (default: all)"})
    seed: int = field(default=42, metadata={"help": "model init and batch order of both sides"})


def training_arguments(args: TrainerOverheadArguments, output_dir: str, **overrides) -> GloveTrainingArguments:
    return GloveTrainingArguments(
        output_dir=output_dir,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        eval_strategy="no",
        save_strategy=overrides.pop("save_strategy", "no"),
        load_best_model_at_end=False,
        report_to="none",
        seed=args.seed,
        **overrides,
    )


def run_hand_loop(setup, args: TrainerOverheadArguments) -> dict:
    model = build_model(args.model, setup, setup.tokenizer.model_max_length, args.seed)
    reference = training_arguments(args, tempfile.gettempdir())  # only read for its hyperparameters
    with PeakMemory() as memory:
        started, cpu_started = time.perf_counter(), time.process_time()
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
        for _ in range(args.epochs):
            for batch in loader:
                loss = model(**batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, reference.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(loss.detach())
        loss = torch.stack(losses).mean().item()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "loss": loss, "peak_mb": memory.peak_mb, "increase_mb": memory.increase_mb}


def run_trainer(setup, args: TrainerOverheadArguments, overrides: dict) -> dict:
    overrides = dict(overrides)
    add_length_column = overrides.pop("length_column", False)
    freeze_gc = overrides.pop("freeze_gc", False)
    model = build_model(args.model, setup, setup.tokenizer.model_max_length, args.seed)
    with tempfile.TemporaryDirectory(prefix="trainer-bench-") as output_dir, PeakMemory() as memory:
        started, cpu_started = time.perf_counter(), time.process_time()
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
        )
        if freeze_gc:
            # `train()` starts with a full `gc.collect()` (accelerate's `free_memory`), which walks
            # every live Python object (GloVe words, vocabulary...); frozen ones are skipped.
            gc.freeze()
        output = trainer.train()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "loss": output.training_loss, "peak_mb": memory.peak_mb, "increase_mb": memory.increase_mb}


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

    best = {name: _best(results) for name, results in runs.items()}
    baseline = best[HAND_LOOP]
    rows = []
    for name, result in best.items():
        rows.append(
            {
                "method": name,
                "cpu": f"{result['cpu_seconds']:.2f}",
                "wall": f"{result['seconds']:.2f}",
                "all": ", ".join(f"{run['cpu_seconds']:.1f}/{run['seconds']:.1f}" for run in runs[name]),
                "samples_per_s": f"{samples / result['cpu_seconds']:.0f} / {samples / result['seconds']:.0f}",
                "cpu_overhead": "baseline" if name == HAND_LOOP else f"{_overhead(result, baseline, 'cpu_seconds'):+.1%}",
                "wall_overhead": "baseline" if name == HAND_LOOP else f"{_overhead(result, baseline, 'seconds'):+.1%}",
                "peak_mb": f"{result['peak_mb']:.0f}",
                "increase_mb": f"{result['increase_mb']:.0f}",
                "loss": f"{result['loss']:.6f}",
            }
        )
    table = markdown_table(
        rows,
        [
            ("method", "method"),
            ("cpu", "CPU s (best)"),
            ("wall", "wall s (best)"),
            ("all", "every run, CPU/wall s"),
            ("samples_per_s", "samples/s, CPU / wall"),
            ("cpu_overhead", "CPU time vs loop"),
            ("wall_overhead", "wall time vs loop"),
            ("peak_mb", "peak RSS MiB"),
            ("increase_mb", "RSS increase MiB"),
            ("loss", "mean train loss"),
        ],
    )
    default = best[next(iter(TRAINER_VARIANTS))]
    overhead = _overhead(default, baseline, "cpu_seconds")
    same_loss = all(abs(result["loss"] - baseline["loss"]) < 1e-6 for result in best.values())
    summary = (
        f"`{args.model}`, {len(setup.train):,} MR sentences x {args.epochs} epoch(s), batch {args.batch_size}, "
        f"torch threads {args.threads}. Trainer overhead with the project's settings: {overhead:+.1%} in CPU time, "
        f"{_overhead(default, baseline, 'seconds'):+.1%} in wall time ({'under' if overhead < 0.10 else 'OVER'} the 10% "
        f"target by CPU time). Every run has the same mean training loss: {'yes' if same_loss else 'NO'}."
    )
    return {"table": table, "summary": summary, "overhead": overhead, "runs": runs}


def _best(results: list[dict]) -> dict:
    """The run with the least CPU time; with one torch thread it is the least disturbed by other jobs."""
    return min(results, key=lambda result: result["cpu_seconds"])


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
