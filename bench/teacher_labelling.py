"""What labelling a distillation pool costs with an MPNet teacher, against MiniLM, in CPU seconds, in one run.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 nice -n 19 python -m bench.teacher_labelling \
        --teacher runs/study/mr-mpnet/seed-0 --baseline minilm --data_dir ../shared/datasets

For each benchmark, the pool a distilled student's teacher labels (`pipelines.distillation.teacher_inputs`: the
training sentences, then the transfer set, `--transfer_set_size` as `scripts/run_distillation_study.sh` gives it:
MR 100,000, SemEval 60,000) is built as the students build it; `--sample` sentences of it are drawn (seed 0), the
same positions for both teachers (each pool carries its own teacher's mask token, drawn by the same generator);
each teacher labels them as `cached_teacher_logits` does (`TorchSequenceClassifier`, batches of
`TEACHER_BATCH_SIZE`, longest first) after a warm-up batch that is not counted. The cost is the process's CPU
time (`time.process_time`: user + system of every thread of this process), not the wall clock: a process that
waits for a core on a shared machine is not charged for the wait, so the number holds while other jobs run (the
memory bandwidth and caches they share can still slow it a little). With one torch thread, CPU seconds are the
wall seconds the labelling takes on a free core.

The extrapolation to the whole pool is CPU seconds per sentence times the pool's size; the mean tokens per sentence
of the sample and of the whole pool are printed beside it (the cost grows with them). It is an upper estimate: in a
pool of 110,000 sorted by length, a batch's sentences are nearer in length than in a sample of 300, so less padding
is computed; `--padding_only` prints the padded tokens per sentence of both (tokenizers only, seconds), whose
ratio scales the estimate. Each repeat is printed: their spread is the measurement's.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 nice -n 19 python -m bench.teacher_labelling \
        --teacher runs/study/mr-mpnet/seed-0 --baseline minilm --data_dir ../shared/datasets --padding_only

The baseline is any model of the baseline's architecture: `minilm` (the offline backbone alias, an untrained
2-label head: the same computation as a fine-tuned MiniLM teacher, whose weights are not kept on this machine).
The SemEval pool is labelled by the same MR teachers: the cost is the architecture's, whatever its labels.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench.common import portable_argv

BENCHMARK_TRANSFER = {"mr": 100_000, "semeval2017a": 60_000}  # scripts/run_distillation_study.sh's TRANSFER


def pools(teacher: str, data_dir: str) -> dict[str, list[str]]:
    """For each benchmark, what `teacher` labels for its students (seed 0's data: the lab splits are fixed)."""
    from pipelines.arguments import DataArguments, DistillationArguments
    from pipelines.distillation import teacher_inputs
    from pipelines.splits import load_train_test

    found = {}
    for dataset, size in BENCHMARK_TRANSFER.items():
        data, _ = load_train_test(DataArguments(dataset=dataset, data_dir=data_dir), seed=0)
        found[dataset], _, _ = teacher_inputs(list(data["train"]["text"]), DistillationArguments(teacher=teacher, transfer_set_size=size))
    return found


def cpu_seconds(classifier, texts: list[str]) -> float:
    start = time.process_time()
    classifier.logits(texts)
    return time.process_time() - start


def mean_tokens(classifier, texts: list[str]) -> float:
    encoded = classifier.tokenizer(texts, truncation=True, max_length=classifier.max_length)["input_ids"]
    return float(np.mean([len(ids) for ids in encoded]))


def padded_tokens(tokenizer, max_length: int, texts: list[str], batch_size: int) -> float:
    """Tokens per sentence the model computes, padding included: batches of `batch_size` in `inference.length_order`
    (by characters, as the teacher batches them), each padded to its longest sentence in tokens."""
    from pipelines.inference import length_order

    lengths = np.array([len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]])[length_order(texts)]
    return float(sum(lengths[start : start + batch_size].max() * len(lengths[start : start + batch_size]) for start in range(0, len(texts), batch_size)) / len(texts))


def padding(names: dict, args) -> None:
    """`--padding_only`: the padded tokens per sentence of the sample and of the whole pool (tokenizers only, no model
    run), whose ratio scales the sample's cost to the pool's batches (a transformer's cost at ~25 tokens grows about
    linearly with the tokens it computes)."""
    from transformers import AutoTokenizer

    from pipelines.backbones import resolve_model
    from pipelines.distillation import TEACHER_BATCH_SIZE, TEACHER_MAX_LENGTH

    print("| teacher | benchmark | padded tokens / sentence: sample, pool | pool / sample |")
    print("|---|---|---|---|")
    for given in names.values():
        folder = given if Path(given).is_dir() else resolve_model(given)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        max_length = min(TEACHER_MAX_LENGTH, tokenizer.model_max_length)
        for dataset, pool in pools(folder, args.data_dir).items():
            chosen = np.random.default_rng(0).choice(len(pool), size=min(args.sample, len(pool)), replace=False)
            sample = padded_tokens(tokenizer, max_length, [pool[i] for i in chosen], TEACHER_BATCH_SIZE)
            whole = padded_tokens(tokenizer, max_length, pool, TEACHER_BATCH_SIZE)
            print(f"| {portable_argv([given])[0]} | {dataset} | {sample:.1f}, {whole:.1f} | {whole / sample:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="the teacher folder measured (a fine-tuned MPNet)")
    parser.add_argument("--baseline", default="minilm", help="the teacher it is compared with: a folder or a backbone alias")
    parser.add_argument("--data_dir", default="../shared/datasets")
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--padding_only", action="store_true", help="print the padded tokens of the sample and the pool, run no model")
    args = parser.parse_args()
    if args.padding_only:
        return padding({"teacher": args.teacher, "baseline": args.baseline}, args)

    import torch

    from pipelines.backbones import resolve_model
    from pipelines.distillation import TEACHER_BATCH_SIZE, TEACHER_MAX_LENGTH
    from pipelines.inference import TorchSequenceClassifier

    given_as = {"teacher": args.teacher, "baseline": args.baseline}
    # printed as the committed commands give them: relative to the repository root, no machine's folders
    names = {role: portable_argv([given])[0] for role, given in given_as.items()}
    print(f"torch threads {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}), "
          f"batches of {TEACHER_BATCH_SIZE}, sample {args.sample} sentences, {args.repeats} repeats")  # fmt: skip
    rows = []
    for role, given in given_as.items():
        folder = given if Path(given).is_dir() else resolve_model(given)
        classifier = TorchSequenceClassifier.from_pretrained(folder, "cpu", TEACHER_BATCH_SIZE, max_length=TEACHER_MAX_LENGTH)
        for dataset, pool in pools(folder, args.data_dir).items():
            chosen = np.random.default_rng(0).choice(len(pool), size=min(args.sample, len(pool)), replace=False)
            sample = [pool[i] for i in chosen]
            cpu_seconds(classifier, sample[:TEACHER_BATCH_SIZE])  # warm-up, not counted
            times = [cpu_seconds(classifier, sample) for _ in range(args.repeats)]
            per_sentence = min(times) / len(sample)
            rows.append({"role": role, "dataset": dataset, "pool": len(pool), "times": times, "per_sentence": per_sentence,
                         "tokens": (mean_tokens(classifier, sample), mean_tokens(classifier, pool))})  # fmt: skip

    print("| teacher | benchmark | CPU s for the sample (each repeat) | CPU ms / sentence (fastest) | tokens / sentence: sample, pool "
          "| pool (training + transfer) | whole pool, CPU hours |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {names[row['role']]} | {row['dataset']} | {', '.join(f'{t:.1f}' for t in row['times'])} | {1000 * row['per_sentence']:.1f} "
              f"| {row['tokens'][0]:.1f}, {row['tokens'][1]:.1f} | {row['pool']:,} | {row['per_sentence'] * row['pool'] / 3600:.2f} |")  # fmt: skip
    for dataset in BENCHMARK_TRANSFER:
        teacher, baseline = (next(r for r in rows if (r["role"], r["dataset"]) == (role, dataset)) for role in names)
        print(f"{dataset}: {names['teacher']} / {names['baseline']} CPU per sentence = {teacher['per_sentence'] / baseline['per_sentence']:.1f}x")


if __name__ == "__main__":
    main()
