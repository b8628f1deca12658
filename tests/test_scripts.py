"""The GPU-carry tools in scripts/: all-mpnet-base-v2 cut into fp16 pieces and restored, on a tiny BERT."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from pipelines.cli import run_cli
from scripts import mpnet_restore, mpnet_split
from tests.tiny_bert import build_tiny_bert


@pytest.fixture
def pieces(tmp_path, monkeypatch):
    """A tiny BERT stands in for MPNet (through SENTIBENCH_MPNET_DIR), cut into pieces of 4 kB."""
    model = build_tiny_bert(tmp_path / "model", ["negative", "positive"])
    for name in mpnet_split.FILES:
        if not (model / name).exists():
            (model / name).write_text("{}")
    monkeypatch.setenv("SENTIBENCH_MPNET_DIR", str(model))
    monkeypatch.setattr(mpnet_split, "PIECE_BYTES", 4096)
    assert run_cli(mpnet_split.main, [str(tmp_path / "pieces")]) == 0
    return model, tmp_path / "pieces"


def test_split_then_restore_gives_the_weights_rounded_to_fp16(pieces, tmp_path):
    model, folder = pieces
    names = sorted(path.name for path in folder.glob("mpnet-fp16.safetensors.*"))
    assert len(names) >= 3 and names[0].endswith(".001")
    assert run_cli(mpnet_restore.main, [str(folder), str(tmp_path / "restored")]) == 0
    original, restored = load_file(model / "model.safetensors"), load_file(tmp_path / "restored" / "model.safetensors")
    assert restored.keys() == original.keys()
    for name, tensor in original.items():
        expected = tensor.half().float() if tensor.dtype == torch.float32 else tensor
        assert restored[name].dtype == tensor.dtype
        torch.testing.assert_close(restored[name], expected, atol=0, rtol=0)
    AutoModelForSequenceClassification.from_pretrained(tmp_path / "restored")


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_damaged_piece_is_named_and_nothing_is_written(pieces, tmp_path, capsys, damage):
    _, folder = pieces
    second = folder / "mpnet-fp16.safetensors.002"
    if damage == "missing":
        second.unlink()
    else:
        data = bytearray(second.read_bytes())
        data[100] ^= 0xFF
        second.write_bytes(bytes(data))
    assert run_cli(mpnet_restore.main, [str(folder), str(tmp_path / "restored")]) == 2
    message = capsys.readouterr().err.strip()
    expected = "is missing at" if damage == "missing" else "does not match the sha256"
    assert message.startswith("error: part mpnet-fp16.safetensors.002 ") and expected in message and "\n" not in message
    assert not (tmp_path / "restored").exists()
