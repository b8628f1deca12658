"""Batched pipeline inference against one sentence a call, on the MR test set.

    HF_HUB_OFFLINE=1 python -m bench.inference_speed --model minilm --data-dir ../shared/datasets

The baseline is the seed lab's loop, one sentence a call; the candidate is
`pipelines.inference.TorchSequenceClassifier.probabilities` over all of them (length-sorted batches).
Both run on the same classifier in the same process. The `minilm` alias has no sentiment head: a random two-label head is
added, which changes nothing about speed. Prints sentences/s for each and the ratio.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from pipelines.cli import parse, run_cli
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.inference import TorchSequenceClassifier


@dataclass
class BenchArguments:
    model: str = field(default="minilm", metadata={"help": "Hub id, local folder or alias"})
    data_dir: str | None = field(default=None, metadata={"help": "folder with MR/ (or $SENTIBENCH_DATA_DIR)"})
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass in the batched run"})
    max_samples: int | None = field(default=None, metadata={"help": "first N test sentences (default: all 662)"})
    device: str = field(default="cpu", metadata={"help": "the issue's claim is about CPU"})


def main(argv: list[str]) -> None:
    (args,) = parse((BenchArguments,), argv)
    test = load_sentiment_dataset("mr", args.data_dir)["test"]
    texts = list(test["text"])[: args.max_samples]
    classifier = TorchSequenceClassifier.from_pretrained(args.model, args.device, args.batch_size)
    classifier.probabilities(texts[:8])  # warm-up: first calls pay for lazy initialisation

    started = time.perf_counter()
    one_at_a_time = np.concatenate([classifier.predict([text]) for text in texts])
    loop_seconds = time.perf_counter() - started

    started = time.perf_counter()
    batched = classifier.probabilities(texts)
    batched_seconds = time.perf_counter() - started

    agree = np.mean(one_at_a_time == batched.argmax(axis=-1))
    threads = torch.get_num_threads()
    print(f"model {args.model}, {len(texts)} MR test sentences, device {args.device}, torch threads {threads}")
    print(f"one at a time : {loop_seconds:7.2f} s  {len(texts) / loop_seconds:7.1f} sentences/s")
    print(f"batched ({args.batch_size:>3})  : {batched_seconds:7.2f} s  {len(texts) / batched_seconds:7.1f} sentences/s")
    print(f"ratio         : {loop_seconds / batched_seconds:.1f}x faster batched (same predictions: {agree:.1%})")


if __name__ == "__main__":
    sys.exit(run_cli(main))
