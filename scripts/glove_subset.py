"""A bit-identical subset of the packaged glove.6B 50d vectors, small enough to carry to a lent GPU.

`build_vocabulary` keeps the GloVe words seen in training and tops up with the most frequent
GloVe words (a prefix of the file), up to 50,000. So the first 50,000 words plus every GloVe word
in any split of the built-in benchmarks give any cell on MR or SemEval exactly the vocabulary and
vectors the package gives it. Values are written as the shortest decimal that reads back as the
same float32 (numpy's `format_float_positional(unique=True)`), and the file is checked by reading
it back. About 67,000 words, 11 MB gzip-compressed.

    python -m scripts.glove_subset .devglove/glove-study.50d.txt.gz [--data_dir ../shared/datasets]
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

from models.glove import load_glove, parse_glove_text
from pipelines.benchmarks import BENCHMARKS
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.tokenization import split_words

TOP_WORDS = 50_000  # the default --max_vocab_size: the top-up never reaches past this prefix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--data_dir", default="../shared/datasets")
    args = parser.parse_args()
    glove = load_glove()
    words: set[str] = set()
    for name in BENCHMARKS:
        for split in load_sentiment_dataset(name, args.data_dir).values():
            words |= set(split_words(split["text"]))
    keep = [i for i, word in enumerate(glove.words) if i < TOP_WORDS or word in words]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.output, "wt", encoding="utf-8", compresslevel=9) as out:
        for i in keep:
            values = " ".join(np.format_float_positional(x, unique=True, trim="-") for x in glove.vectors[i])
            out.write(f"{glove.words[i]} {values}\n")
    subset = parse_glove_text(args.output)
    if subset.words != [glove.words[i] for i in keep] or not np.array_equal(subset.vectors, np.asarray(glove.vectors[keep])):
        raise SystemExit(f"{args.output}: does not read back bit-identical")
    print(f"{args.output}: {len(keep)} of {len(glove)} words, bit-identical to {glove.source}")


if __name__ == "__main__":
    main()
