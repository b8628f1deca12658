"""The built-in benchmarks, one `Benchmark` entry each, and the readers of their releases.

An entry holds everything the flows need to know about a benchmark: how to read its release
from `<data_dir>/<folder>`, its label names, its Hub copy, its title, whether its test set is
fixed, its official metric, the models scored and fine-tuned by default, and its grid budget.
Adding a benchmark is one `register_benchmark(Benchmark(...))` call; `--dataset <name>` then
works in every script.

The releases, as read from `--data-dir` (or `$SENTIBENCH_DATA_DIR`):

    <data_dir>/MR/rt-polarity.pos, rt-polarity.neg              one sentence a line
    <data_dir>/Semeval2017A/train_dev/**/*.tsv                   id<TAB>label<TAB>text
    <data_dir>/Semeval2017A/gold/SemEval2017-task4-test.subtask-A.english.txt
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.errors import DataError, OptionError, PathError
from pipelines.metrics import METRICS, official_metric, sentiments

# A reader turns the benchmark's folder into {split: [(text, label name), ...]} for `train` and `test`.
Reader = Callable[[Path], dict[str, list[tuple[str, str]]]]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark. `name` is its `--dataset` value; `folder` is its folder under `--data-dir`."""

    name: str
    title: str  # one line for model cards and reports
    label_names: tuple[str, ...]  # in id order
    reader: Reader
    folder: str
    layout: str  # what `folder` holds, for messages
    hub_id: str | None = None  # the Hub copy used when there is no local folder
    hub_config: str | None = None
    hub_splits: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"train": ("train", "validation"), "test": ("test",)})
    fixed_test_set: bool = True  # the release's own test set; False: cross-validation is also a protocol for it
    official_metric: str = "accuracy"  # a key of `pipelines.metrics.METRICS`
    pretrained_models: tuple[str, ...] = ()  # evaluate_pretrained.py without --models (after the offline ones)
    finetune_models: tuple[str, ...] = ()  # the documented choices of finetune.py --model
    grid_training: dict[str, float] = field(default_factory=dict)  # `TrainingArguments` of each grid cell
    train_size: int = 0  # training examples, roughly: the grid starts the larger benchmark's cells first
    text_noun: str = "text"  # what one example is ("review", "tweet"): zero-shot label descriptions
    other_benchmark: str | None = None  # the benchmark whose trained models it scores as they are


BENCHMARKS: dict[str, Benchmark] = {}


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    """Make `--dataset benchmark.name` known to every script; a name already taken is replaced."""
    if benchmark.official_metric not in METRICS:
        raise ValueError(f"{benchmark.name}: official_metric {benchmark.official_metric!r} is not one of {', '.join(METRICS)}")
    if len(set(benchmark.label_names)) != len(benchmark.label_names) or len(benchmark.label_names) < 2:
        raise ValueError(f"{benchmark.name}: label_names must be two or more different names")
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def get_benchmark(name: str) -> Benchmark:
    """The entry of `--dataset name`; an unknown name raises `OptionError` listing the known ones."""
    if name not in BENCHMARKS:
        raise OptionError(f"unknown --dataset {name!r}; choose one of: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def closest_benchmark(label_names) -> Benchmark:
    """The benchmark sharing most labels with `label_names`, compared by meaning (`neg` is `negative`, in any spelling
    `metrics.sentiments` reads; other names case-insensitive), the first registered on a tie: whose default models
    suit data that is not a benchmark."""
    meanings = label_meanings(label_names)
    return max(BENCHMARKS.values(), key=lambda benchmark: len(meanings & label_meanings(benchmark.label_names)))


def label_meanings(label_names) -> set[str]:
    """Each label's sentiment (`metrics.sentiments`), or its lower-cased name for a label that names none."""
    return {sentiment or str(name).strip().lower() for name, sentiment in zip(label_names, sentiments(label_names))}


# --- reading the releases -----------------------------------------------------------------------


class DataFormatError(DataError):
    """A line that cannot be read; the message names the file and the line number."""


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file, or of a Latin-1 one (the original Cornell MR release), broken at line ends only (LF, CRLF or
    a lone CR): `str.splitlines` also breaks at characters a sentence may hold (Latin-1's byte 0x85,
    a form feed, U+2028), which would split one sentence in two and shift the lab split."""
    raw = path.read_bytes()
    if not raw.strip():
        raise DataFormatError(f"{path}: empty file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # CRLF and a lone CR (old Mac files) end lines too
    if not lines[-1]:  # the newline that ends the last line
        lines.pop()
    return lines


def require_file(path: Path, layout: str) -> None:
    if not path.is_file():
        raise PathError(f"missing data file: {path} (expected {layout})")


MR_LAYOUT = "<data_dir>/MR/rt-polarity.pos and <data_dir>/MR/rt-polarity.neg, one sentence a line"
MR_TRAIN_PER_CLASS = 5000  # the lab split: the first 5,000 sentences of each class train, the rest test


def read_mr(folder: Path) -> dict[str, list[tuple[str, str]]]:
    """The lab split of MR: the first 5,000 sentences of each file train, the rest test."""
    splits = {"train": [], "test": []}
    for label, suffix in (("negative", "neg"), ("positive", "pos")):
        path = folder / f"rt-polarity.{suffix}"
        require_file(path, MR_LAYOUT)
        sentences = []
        for line_number, line in enumerate(read_lines(path), start=1):
            sentence = line.strip()
            if not sentence:
                raise DataFormatError(f"{path}:{line_number}: empty line, expected one sentence")
            sentences.append(sentence)
        if len(sentences) <= MR_TRAIN_PER_CLASS:
            raise DataFormatError(
                f"{path}: {len(sentences)} sentences, the MR split needs more than {MR_TRAIN_PER_CLASS} "
                "(the first ones train, the rest test)"
            )
        splits["train"] += [(text, label) for text in sentences[:MR_TRAIN_PER_CLASS]]
        splits["test"] += [(text, label) for text in sentences[MR_TRAIN_PER_CLASS:]]
    return splits


SEMEVAL_LAYOUT = (
    "<data_dir>/Semeval2017A/train_dev/{train,dev}/*.tsv and "
    "<data_dir>/Semeval2017A/gold/SemEval2017-task4-test.subtask-A.english.txt, lines id<TAB>label<TAB>text"
)
SEMEVAL_TEST_FILE = "SemEval2017-task4-test.subtask-A.english.txt"
SEMEVAL_LABELS = ("negative", "neutral", "positive")
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def clean_tweet(text: str) -> str:
    """Undo the release's CSV quoting, `\\u2019`-style escapes and HTML entities; keep inner tabs."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        text = text[1:-1].replace('""', '"')
    text = _UNICODE_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
    text = text.replace('\\"', '"')
    for _ in range(3):  # some tweets were escaped twice or three times: `&amp;amp;amp;`
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    return text.strip()


def read_semeval_file(path: Path) -> list[tuple[str, str, str]]:
    """(id, label, text) rows; a line without label or text, or with an unknown label, stops."""
    rows = []
    for line_number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\t").split("\t")
        if len(fields) < 3 or not fields[1].strip():
            raise DataFormatError(f"{path}:{line_number}: expected id<TAB>label<TAB>text, got {line[:60]!r}")
        tweet_id, label = fields[0].strip(), fields[1].strip()
        if label not in SEMEVAL_LABELS:
            raise DataFormatError(
                f"{path}:{line_number}: unknown label {label!r}, expected one of {', '.join(SEMEVAL_LABELS)}"
            )
        text = clean_tweet("\t".join(fields[2:]))
        if not text:
            raise DataFormatError(f"{path}:{line_number}: empty text")
        rows.append((tweet_id, label, text))
    return rows


def read_semeval2017a(folder: Path) -> dict[str, list[tuple[str, str]]]:
    """Every train and dev file trains (a tweet id's first occurrence only); the gold file tests."""
    train_files = sorted((folder / "train_dev").rglob("*.tsv"))
    test_file = folder / "gold" / SEMEVAL_TEST_FILE
    if not train_files:
        raise PathError(f"no training files under {folder / 'train_dev'} (expected {SEMEVAL_LAYOUT})")
    require_file(test_file, SEMEVAL_LAYOUT)
    seen_ids: set[str] = set()
    train = []
    for path in train_files:
        for tweet_id, label, text in read_semeval_file(path):
            if tweet_id not in seen_ids:  # the releases overlap: keep a tweet's first occurrence
                seen_ids.add(tweet_id)
                train.append((text, label))
    return {"train": train, "test": [(text, label) for _, label, text in read_semeval_file(test_file)]}


# --- the entries --------------------------------------------------------------------------------

# The grid budget on top of `GloveTrainingArguments` (lr 1e-3, early stopping with patience 5).
# Both allow up to 50 epochs: early stopping ends every run long before, so no cap decides where
# a run stops. SemEval takes batches of 128 (four times MR's training data).
register_benchmark(
    Benchmark(
        name="mr",
        title="MR sentence polarity (Pang & Lee 2005), lab split: first 5,000 sentences of each class train, "
        "the other 331 + 331 test",
        label_names=("negative", "positive"),
        reader=read_mr,
        folder="MR",
        layout=MR_LAYOUT,
        hub_id="rotten_tomatoes",
        fixed_test_set=False,  # the lab split is a convention; the literature cross-validates
        official_metric="accuracy",
        pretrained_models=(
            "siebert/sentiment-roberta-large-english",  # RoBERTa-large tuned on 15 review/tweet sets
            "distilbert/distilbert-base-uncased-finetuned-sst-2-english",  # SST-2: movie-review phrases
            "nlptown/bert-base-multilingual-uncased-sentiment",  # product reviews, 1-5 stars
        ),
        finetune_models=("bert-base-uncased", "roberta-base", "distilbert/distilbert-base-uncased", "minilm", "mpnet"),
        grid_training={"num_train_epochs": 50, "per_device_train_batch_size": 64},
        train_size=10_000,
        text_noun="review",
        other_benchmark="semeval2017a",
    )
)
register_benchmark(
    Benchmark(
        name="semeval2017a",
        title="SemEval-2017 Task 4A (English tweets, 3 classes): train + dev files train, the gold file tests",
        label_names=SEMEVAL_LABELS,
        reader=read_semeval2017a,
        folder="Semeval2017A",
        layout=SEMEVAL_LAYOUT,
        hub_id="tweet_eval",
        hub_config="sentiment",
        fixed_test_set=True,  # the gold file
        official_metric="recall_macro",  # the task's official score, robust to its skewed classes
        pretrained_models=(
            "cardiffnlp/twitter-roberta-base-sentiment-latest",  # RoBERTa on 124M tweets, tuned on TweetEval
            "finiteautomata/bertweet-base-sentiment-analysis",  # BERTweet on SemEval-2017
            "cardiffnlp/twitter-roberta-base-sentiment",  # the older TweetEval model, labels LABEL_0..2
        ),
        finetune_models=("vinai/bertweet-base", "roberta-base", "cardiffnlp/twitter-roberta-base", "minilm", "mpnet"),
        grid_training={"num_train_epochs": 50, "per_device_train_batch_size": 128},
        train_size=49_570,
        text_noun="tweet",
        other_benchmark="mr",
    )
)


def official_metric_for(dataset: str | None, label_names) -> str:
    """A benchmark's official metric from its entry; for other data, inferred from its labels
    (`pipelines.metrics.official_metric`)."""
    return BENCHMARKS[dataset].official_metric if dataset in BENCHMARKS else official_metric(label_names)
