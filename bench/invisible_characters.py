"""What removing invisible characters does to a trained GloVe model on SemEval-2017 4A's test set.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 10 python -m bench.invisible_characters --data_dir ../shared/datasets \
        --model meanmax --epochs 3 --seed 0 --run runs/invisible-characters --output bench/invisible_characters.md

The tokenizer's normalizer removes characters that print as nothing (`pipelines.tokenization.INVISIBLE`:
zero-width space and joiners, soft hyphen, emoji variation selectors, skin-tone modifiers); without
it `good\\ufe0f` is `[UNK]`. One model is trained with today's tokenizer (`train.py`, the given
model, epochs and seed; skipped when `--run` already holds a finished run) and scores the test
tweets twice: with the tokenizer it was saved with (`with`) and with the same tokenizer whose
normalizer lacks the removal (`without`). Only the tweets holding such a character can change.

The difference of the official metric (macro recall), with − without, comes with the project's one
comparison, `pipelines.statistics.crossed_comparison`: one run per arm, so it has no seed stage and
its interval is a t over the paired test tweets (n − 1 df); the number says nothing about other
seeds: a single-seed number.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd
from tokenizers import Regex, normalizers

import train
from bench.common import bench_parser, markdown_page
from pipelines.benchmarks import BENCHMARKS
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.inference import TorchSequenceClassifier
from pipelines.runs.layout import RESULTS_FILE
from pipelines.statistics import crossed_comparison
from pipelines.tokenization import INVISIBLE

DATASET = "semeval2017a"


def train_once(args: argparse.Namespace) -> None:
    if (Path(args.run) / RESULTS_FILE).is_file():
        return
    train.main([
        "--model", args.model, "--dataset", DATASET, "--data_dir", args.data_dir, "--num_train_epochs", str(args.epochs),
        "--seed", str(args.seed), "--output_dir", args.run, "--disable_tqdm", "true",
    ])  # fmt: skip


def without_removal(classifier: TorchSequenceClassifier) -> None:
    """Drop the `Replace(INVISIBLE, "")` step, the first of the saved tokenizer's normalizer, keeping the rest."""
    backend = classifier.tokenizer.backend_tokenizer
    steps = [backend.normalizer[i] for i in range(len(backend.normalizer))]
    if repr(steps[0]) != repr(normalizers.Replace(Regex(INVISIBLE), "")):
        raise SystemExit(f"error: {classifier.name}: the normalizer does not start with the invisible-character removal")
    backend.normalizer = normalizers.Sequence(steps[1:])


def predictions(classifier: TorchSequenceClassifier, texts: list[str], labels: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"index": np.arange(len(texts)), "label": labels, "prediction": classifier.predict(texts)})


def markdown(args: argparse.Namespace, result: dict, affected: int, changed: int) -> str:
    return markdown_page(
        "Invisible characters on SemEval-2017 4A",
        f"HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 10 python -m bench.invisible_characters --data_dir {args.data_dir} "
        f"--model {args.model} --epochs {args.epochs} --seed {args.seed} --run {args.run} --output {args.output}",
        f"One `{args.model}` model (frozen GloVe vectors, {args.epochs} epochs at most, seed {args.seed}: **a single-seed number**) "
        f"scores the {result['test_sentences']:,} test tweets with its saved tokenizer (invisible characters removed) "
        "and with the same tokenizer without the removal.\n\n"
        f"- tweets holding an invisible character: **{affected:,}**; of these, {changed:,} change their predicted label\n"
        f"- macro recall with removal {result['a_mean']:.4f}, without {result['b_mean']:.4f}\n"
        f"- with − without: **{result['difference']:+.4f}**, 95% CI [{result['ci_low']:+.4f}, {result['ci_high']:+.4f}], "
        f"p {result['p_value']:.3f} (`pipelines.statistics.crossed_comparison`: one run per arm, so no seed stage, a t "
        f"over the paired test tweets on {result['df']:,.0f} df; minimum detectable effect {result['mde']:.4f})\n"
    )


def main() -> None:
    parser = bench_parser("invisible_characters", __doc__)
    parser.add_argument("--model", default="meanmax")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", default="runs/invisible-characters")
    args = parser.parse_args()
    train_once(args)
    test = load_sentiment_dataset(DATASET, args.data_dir)["test"]
    texts, labels = list(test["text"]), np.asarray(test["label"])
    classifier = TorchSequenceClassifier.from_pretrained(args.run)
    with_removal = predictions(classifier, texts, labels)
    without_removal(classifier)
    without = predictions(classifier, texts, labels)
    affected = np.array([re.search(INVISIBLE, text) is not None for text in texts])
    differs = (with_removal["prediction"] != without["prediction"]).to_numpy()
    if (differs & ~affected).any():
        raise SystemExit("error: tweets without an invisible character changed their prediction: the arms differ elsewhere too")
    changed = int(differs.sum())
    benchmark = BENCHMARKS[DATASET]
    result = crossed_comparison([with_removal], [without], benchmark.official_metric, benchmark.label_names)
    text = markdown(args, result, int(affected.sum()), changed)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
