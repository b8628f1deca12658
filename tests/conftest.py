"""Tiny data built in code, and the path of the real releases for the few real-data tests."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
POSITIVE_WORDS = ["good", "great", "fun", "wonderful", "best", "moving"]
NEGATIVE_WORDS = ["bad", "awful", "boring", "worst", "dull", "mess"]
NEUTRAL_WORDS = ["film", "movie", "the", "a", "story", "it", "is", "was"]
SANDBOX_VARIABLES = ("SENTIBENCH_CACHE", "HF_HOME", "HF_DATASETS_CACHE")


def pytest_configure(config):
    """Every cache the suite fills goes to one temporary folder, removed at the end: the parsed GloVe
    vectors and extracted backbones (`$SENTIBENCH_CACHE`), `datasets`' Arrow files, and what
    `evaluate` and `huggingface_hub` keep under `$HF_HOME`. Runs before any test module is imported,
    as `datasets.config` and `huggingface_hub.constants` read these variables once, on import; child
    processes inherit them. Offline, nothing is taken from the Hub cache it hides (the MiniLM/MPNet
    backbones come from pip packages, extracted under `$SENTIBENCH_CACHE/backbones`)."""
    root = Path(tempfile.mkdtemp(prefix="sentibench-tests-"))
    config.sandbox_root = root
    for name, folder in zip(SANDBOX_VARIABLES, ("sentibench", "huggingface", "huggingface/datasets")):
        os.environ[name] = str(root / folder)


def pytest_unconfigure(config):
    root = getattr(config, "sandbox_root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """`$SENTIBENCH_DATA_DIR`, else `../shared/datasets` beside the repo; missing data fails loudly."""
    path = Path(os.environ.get("SENTIBENCH_DATA_DIR", REPO_ROOT.parent / "shared" / "datasets"))
    if not (path / "MR").is_dir():
        pytest.fail(f"real-data tests need the releases at {path} (set SENTIBENCH_DATA_DIR)")
    return path


def report_row(**fields):
    """A report row (`pipelines.report.collect.ReportRow`) of a GloVe run on MR's lab split; `fields` set the rest."""
    from pipelines.report.collect import ReportRow
    from pipelines.runs.setting import Setting

    defaults = {"kind": "glove", "model": "bilstm", "dataset": "mr", "setting": Setting("trained vectors"), "protocol": "lab", "run": "run"}
    return ReportRow(**defaults | fields)


def write_evaluation(folder: Path, entries: list[dict], dataset: str = "mr", label_names=("negative", "positive"), **fields) -> Path:
    """`folder/evaluation.json` written through `EvaluationRecord` (`evaluate_pretrained.py`'s record): each of `entries`
    a `ScoredModel`'s fields and its metrics at the top ({"model": "vader", "accuracy": 0.66, ...}), the fields a test does
    not care about filled with neutral values; `fields` set the record's own."""
    from pipelines.runs.record import EvaluationRecord, ScoredModel
    from pipelines.runs.layout import EVALUATION_FILE

    scored = {"family": "checkpoint", "ci": {}, "seconds": 1.0, "sentences_per_second": 1.0, "load_seconds": 0.0, "labels": "",
              "rule": "", "ties": 0, "predicted_counts": [], "confusion_matrix": []}  # fmt: skip
    record = {"dataset": dataset, "data": {}, "test_sentences": 0, "label_names": list(label_names), "batch_size": 64,
              "neutral_threshold": 0.0, "device": "cpu", "ci_method": ""}  # fmt: skip
    record = EvaluationRecord(**record | fields, results=[ScoredModel.from_dict(scored | entry) for entry in entries])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / EVALUATION_FILE
    path.write_text(json.dumps(record.to_dict()), encoding="utf-8")
    return path


def polar_sentence(rng: random.Random, label: str) -> str:
    polar = {"positive": POSITIVE_WORDS, "negative": NEGATIVE_WORDS, "neutral": NEUTRAL_WORDS}[label]
    words = rng.choices(NEUTRAL_WORDS, k=rng.randint(1, 6)) + rng.choices(polar, k=rng.randint(1, 3))
    rng.shuffle(words)
    return " ".join(words)


def write_mr(folder: Path, per_class: int, encoding: str = "utf-8", extra_line: str | None = None) -> Path:
    """An MR-layout folder; `extra_line` goes at the start of the positive file."""
    rng = random.Random(0)
    mr = folder / "MR"
    mr.mkdir(parents=True, exist_ok=True)
    for suffix, label in (("pos", "positive"), ("neg", "negative")):
        lines = [polar_sentence(rng, label) for _ in range(per_class)]
        if extra_line is not None and suffix == "pos":
            lines[0] = extra_line
        (mr / f"rt-polarity.{suffix}").write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return folder


def write_semeval(folder: Path, train_rows: int = 300, test_rows: int = 90) -> Path:
    rng = random.Random(1)
    labels = ["negative", "neutral", "positive"]
    root = folder / "Semeval2017A"
    (root / "train_dev" / "train").mkdir(parents=True, exist_ok=True)
    (root / "train_dev" / "dev").mkdir(parents=True, exist_ok=True)
    (root / "gold").mkdir(parents=True, exist_ok=True)

    def rows(count, start):
        return [f"{start + i}\t{labels[i % 3]}\t{polar_sentence(rng, labels[i % 3])}" for i in range(count)]

    (root / "train_dev" / "train" / "twitter-a-A.tsv").write_text("\n".join(rows(train_rows // 2, 0)) + "\n")
    (root / "train_dev" / "dev" / "twitter-b-A.tsv").write_text("\n".join(rows(train_rows - train_rows // 2, 10_000)))
    (root / "gold" / "SemEval2017-task4-test.subtask-A.english.txt").write_text("\n".join(rows(test_rows, 20_000)) + "\n")
    return folder


@pytest.fixture
def tiny_mr(tmp_path) -> Path:
    """MR layout with 5,040 sentences a class, so the lab split leaves 40 + 40 for test."""
    return write_mr(tmp_path / "data", per_class=5040)


@pytest.fixture
def tiny_semeval(tmp_path) -> Path:
    return write_semeval(tmp_path / "data")


def write_glove_text(path: Path, words: list[str], dim: int = 8, header: bool = False, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = [f"{len(words)} {dim}"] if header else []
    for word in words:
        lines.append(word + " " + " ".join(f"{value:.5f}" for value in rng.normal(size=dim)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def tiny_glove(tmp_path, monkeypatch) -> Path:
    """A GloVe text file over the fixture words, with a private cache folder."""
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    words = NEUTRAL_WORDS + POSITIVE_WORDS + NEGATIVE_WORDS + [",", ".", "n't", "'s", "do", "not"]
    return write_glove_text(tmp_path / "tiny-glove.txt", words)
