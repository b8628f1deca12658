"""Batched pipeline inference against one sentence a call, on the MR test set.

    HF_HUB_OFFLINE=1 python -m bench.inference_speed --model minilm --data-dir ../shared/datasets

The baseline is the seed lab's loop, `[classifier(text) for text in texts]`; the candidate is
`pipelines.pretrained.predict_probabilities` (length-sorted batches). Both run on the same
pipeline in the same process. The `minilm` alias has no sentiment head: a random two-label head is
added, which changes nothing about speed. Prints sentences/s for each and the ratio.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from pipelines.cli import parse, run_cli
from pipelines.data import load_sentiment_dataset
from pipelines.pretrained import load_classifier, predict_probabilities


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
    classifier = load_classifier(args.model, args.device)
    classifier(texts[:8], batch_size=8)  # warm-up: first calls pay for lazy initialisation

    started = time.perf_counter()
    one_at_a_time = [classifier(text, truncation=True) for text in texts]
    loop_seconds = time.perf_counter() - started

    started = time.perf_counter()
    batched = predict_probabilities(classifier, texts, args.batch_size)
    batched_seconds = time.perf_counter() - started

    label2id = {label: i for i, label in classifier.model.config.id2label.items()}
    agree = np.mean([label2id[out[0]["label"]] == row.argmax() for out, row in zip(one_at_a_time, batched)])
    threads = torch.get_num_threads()
    print(f"model {args.model}, {len(texts)} MR test sentences, device {args.device}, torch threads {threads}")
    print(f"one at a time : {loop_seconds:7.2f} s  {len(texts) / loop_seconds:7.1f} sentences/s")
    print(f"batched ({args.batch_size:>3})  : {batched_seconds:7.2f} s  {len(texts) / batched_seconds:7.1f} sentences/s")
    print(f"ratio         : {loop_seconds / batched_seconds:.1f}x faster batched (same predictions: {agree:.1%})")


if __name__ == "__main__":
    sys.exit(run_cli(main))
