"""Tokenization: the project's fast tokenizer against Python split-and-lookup, on MR train.

    HF_HUB_OFFLINE=1 python -m bench.tokenization_speed [--data_dir ../shared/datasets] [--repeats 3]

All sides turn the 10,000 MR training sentences into vocabulary ids, with the vocabulary and
tokenizer `train_glove` builds (`build_vocabulary`, `build_tokenizer`). Timed in one process:

- baseline, naive: `[vocab.get(word, unk) for word in text.lower().split()]`. Less work than the
  tokenizer and different tokens (`film,` stays one unknown word), the usual quick loop;
- baseline, same tokens: NFKC + lowercase (`unicodedata`), whitespace split, the tokenizer's own
  `WORD_PATTERN` with `re.findall`, dict lookup. Its ids are checked against the tokenizer's;
- the project's tokenizer called on batches of 1,000 texts with truncation, the call
  `tokenize_dataset` makes inside `datasets.map`, with the Rust thread pool on (default, both
  cores) and off (`TOKENIZERS_PARALLELISM=false`, one core like the Python loops);
- `tokenize_dataset` end to end: the same plus `datasets.map` writing Arrow batches;
- diagnostics, to see where the fast tokenizer's time goes: its Rust backend alone
  (`Tokenizer.encode_batch`, no `transformers` wrapper), that backend with the NFKC step
  dropped from the normalizer (lowercase only), and with the regex pre-tokenizer replaced by a
  plain whitespace split (other tokens, like the naive baseline).

Ratios are baseline time / project time; the headline compares output-identical methods.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field

from datasets import Dataset, DatasetDict, disable_progress_bars
from tokenizers import normalizers, pre_tokenizers

from bench.common import DEFAULT_DATA_DIR, best_of, machine_line, markdown_table, ratio
from models.glove import load_glove
from pipelines.cli import parse, run_cli
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.tokenization import WORD_PATTERN, build_tokenizer, build_vocabulary, tokenize_dataset

MAP_BATCH_SIZE = 1000  # `datasets.map(batched=True)` default, what `tokenize_dataset` gets


@dataclass
class TokenizationArguments:
    data_dir: str = field(default=DEFAULT_DATA_DIR, metadata={"help": "folder with MR/"})
    max_length: int = field(default=128, metadata={"help": "truncation length, as `train.py --max_length`"})
    repeats: int = field(default=3, metadata={"help": "timed repeats of each side; the fastest is kept"})
    max_samples: int | None = field(default=None, metadata={"help": "first N training sentences (default: all)"})


def naive_ids(texts: list[str], vocab: dict[str, int], unk: int) -> list[list[int]]:
    return [[vocab.get(word, unk) for word in text.lower().split()] for text in texts]


def python_ids(texts: list[str], vocab: dict[str, int], unk: int, max_length: int) -> list[list[int]]:
    """The tokenizer's normalizer and pre-tokenizer rewritten with the standard library."""
    find_words = re.compile(WORD_PATTERN).findall
    ids = []
    for text in texts:
        words = [piece for chunk in unicodedata.normalize("NFKC", text).lower().split() for piece in find_words(chunk)]
        ids.append([vocab.get(word, unk) for word in words[:max_length]])
    return ids


def fast_ids(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    ids = []
    for start in range(0, len(texts), MAP_BATCH_SIZE):
        ids += tokenizer(texts[start : start + MAP_BATCH_SIZE], truncation=True, max_length=max_length)["input_ids"]
    return ids


def backend_ids(backend, texts: list[str]) -> list[list[int]]:
    ids = []
    for start in range(0, len(texts), MAP_BATCH_SIZE):
        ids += [encoding.ids for encoding in backend.encode_batch(texts[start : start + MAP_BATCH_SIZE])]
    return ids


def with_parallelism(enabled: bool, function):
    def call():
        previous = os.environ.get("TOKENIZERS_PARALLELISM")
        os.environ["TOKENIZERS_PARALLELISM"] = "true" if enabled else "false"
        try:
            return function()
        finally:
            if previous is None:
                os.environ.pop("TOKENIZERS_PARALLELISM")
            else:
                os.environ["TOKENIZERS_PARALLELISM"] = previous

    return call


def backend_diagnostics(tokenizer, texts: list[str], args: TokenizationArguments) -> list[tuple[str, float, list]]:
    """Where the fast tokenizer's time goes: its Rust backend alone, without NFKC, with a plain
    whitespace pre-tokenizer. Rows of (method, best seconds, ids)."""
    backend = tokenizer.backend_tokenizer
    backend.enable_truncation(args.max_length)
    lowercase_only = copy.deepcopy(backend)
    lowercase_only.normalizer = normalizers.Lowercase()
    whitespace_only = copy.deepcopy(backend)
    whitespace_only.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    variants = [
        ("diagnostic: Rust backend `encode_batch` alone, thread pool", backend),
        ("diagnostic: backend without NFKC (lowercase only), thread pool", lowercase_only),
        ("diagnostic: backend with a whitespace pre-tokenizer (other tokens)", whitespace_only),
    ]
    rows = []
    for name, variant in variants:
        seconds, ids = best_of(args.repeats, with_parallelism(True, functools.partial(backend_ids, variant, texts)))
        rows.append((name, seconds, ids))
    return rows


TABLE_COLUMNS = [
    ("method", "method"),
    ("seconds", "seconds (best)"),
    ("sentences_per_s", "sentences/s"),
    ("tokens", "tokens"),
    ("vs_same", "speed vs same-token Python"),
]


def run(args: TokenizationArguments) -> dict:
    disable_progress_bars()
    train = load_sentiment_dataset("mr", args.data_dir)["train"]
    texts = list(train["text"])[: args.max_samples]
    vocabulary = build_vocabulary(load_glove(), texts)
    tokenizer = build_tokenizer(vocabulary, args.max_length)
    vocab, unk = tokenizer.get_vocab(), tokenizer.unk_token_id
    dataset = DatasetDict({"train": Dataset.from_dict({"text": texts})})

    naive_s, naive = best_of(args.repeats, lambda: naive_ids(texts, vocab, unk))
    python_s, python = best_of(args.repeats, lambda: python_ids(texts, vocab, unk, args.max_length))
    fast_call = functools.partial(fast_ids, tokenizer, texts, args.max_length)
    serial_s, serial = best_of(args.repeats, with_parallelism(False, fast_call))
    fast_s, fast = best_of(args.repeats, with_parallelism(True, fast_call))
    mapped_s, _ = best_of(args.repeats, lambda: tokenize_dataset(dataset, tokenizer, args.max_length))
    diagnostics = backend_diagnostics(tokenizer, texts, args)
    agreement = sum(a == b for a, b in zip(python, fast)) / len(texts)
    assert serial == fast, "the tokenizer's output should not depend on its thread pool"

    rows = [
        ("baseline, naive: lower + split + dict lookup (other tokens)", naive_s, naive),
        ("baseline, same tokens: NFKC + `re` + dict lookup (Python)", python_s, python),
        ("fast tokenizer, batches of 1,000, 1 thread", serial_s, fast),
        ("fast tokenizer, batches of 1,000, Rust thread pool (default)", fast_s, fast),
        ("`tokenize_dataset` (fast tokenizer + `datasets.map`)", mapped_s, fast),
        *diagnostics,
    ]
    table_rows = [
        {
            "method": name,
            "seconds": f"{seconds:.3f}",
            "sentences_per_s": f"{len(texts) / seconds:,.0f}",
            "tokens": f"{sum(len(ids) for ids in ids_list):,}",
            "vs_same": f"{ratio(python_s, seconds):.2f}x",
        }
        for name, seconds, ids_list in rows
    ]
    summary = (
        f"{len(texts):,} MR training sentences, {sum(len(ids) for ids in fast):,} tokens. Python with the same "
        f"tokens agrees with the fast tokenizer on {agreement:.1%} of sentences. Fast tokenizer vs same-token Python: "
        f"{ratio(python_s, fast_s):.1f}x (thread pool), {ratio(python_s, serial_s):.1f}x (1 thread), "
        f"{ratio(python_s, mapped_s):.1f}x through `tokenize_dataset`; "
        f"vs the naive split: {ratio(naive_s, fast_s):.2f}x."
    )
    table = markdown_table(table_rows, TABLE_COLUMNS)
    return {"table": table, "summary": summary, "ratio": ratio(python_s, fast_s), "agreement": agreement}


def main(argv: list[str]) -> None:
    (args,) = parse((TokenizationArguments,), argv)
    result = run(args)
    print(machine_line())
    print(result["table"])
    print(result["summary"])


if __name__ == "__main__":
    sys.exit(run_cli(main))
