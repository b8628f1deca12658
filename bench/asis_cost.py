"""What scoring each as-is model costs, before a whole evaluation is started: CPU seconds per sentence on a
sample of test sentences, extrapolated to what `evaluate_pretrained.py` scores (the whole test set and the
validation split, `pipelines.pretrained.validation_split`).

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 python -m bench.asis_cost semeval2017a vader minilm mpnet --sentences 300

CPU time is the process's (`time.process_time`: every thread, user + system), so it stays meaningful on a
shared machine where wall time depends on the load; wall time is printed beside it. The sample is the
test set's first N after a seed-0 shuffle (as `--max_samples`); one warm-up batch of 8 is not counted.
"""

from __future__ import annotations

import argparse
import time

from pipelines.arguments import PretrainedArguments
from pipelines.cli import parse
from pipelines.data import load_data
from pipelines.pretrained import resolve_scorer, validation_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--data_dir", default="../shared/datasets")
    options = parser.parse_args()
    (args,) = parse((PretrainedArguments,), ["--dataset", options.dataset, "--data-dir", options.data_dir])
    data, _ = load_data(args)
    sample = data["test"].shuffle(seed=0).select(range(min(options.sentences, len(data["test"]))))
    texts, label_names = list(sample["text"]), sample.features["label"].names
    found, _ = validation_split(data, options.dataset)
    validation = found[0] if found else []  # no training data: the test set alone
    total = len(data["test"]) + len(validation)
    print(f"{options.dataset}: {len(texts)} test sentences timed; evaluate_pretrained.py scores {len(data['test'])} test "
          f"+ {len(validation)} validation = {total}")  # fmt: skip
    for model in options.models:
        classifier = resolve_scorer(model, label_names, options.dataset, "cpu", args.batch_size)
        classifier.probabilities(texts[:8])  # warm-up: lazy loading, first allocations
        cpu, wall = time.process_time(), time.perf_counter()
        classifier.probabilities(texts)
        cpu, wall = (time.process_time() - cpu) / len(texts), (time.perf_counter() - wall) / len(texts)
        print(f"{model}: {cpu * 1000:.1f} CPU-ms/sentence ({wall * 1000:.1f} wall-ms); test alone {cpu * len(data['test']) / 60:.1f} "
              f"CPU-min, test + validation {cpu * total / 60:.1f} CPU-min")  # fmt: skip


if __name__ == "__main__":
    main()
