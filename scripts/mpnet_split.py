"""Cut all-mpnet-base-v2 into fp16 pieces that fit a device call (64 MiB each, tree included).

    python -m scripts.mpnet_split .devwork-mpnet    # needs the mpnet extra or SENTIBENCH_MPNET_DIR; see gpu_finetune.sh

Writes mpnet-fp16.safetensors.001, .002, ... (the fp16 safetensors file cut every 58 MiB),
manifest.json (each piece's size and SHA-256, the other files) and the tokenizer/config files.
`scripts/mpnet_restore.py` joins them on the other side into an fp32 model folder; fp16 rounds
each weight by at most 2^-11 of its size. (The pieces used for the committed MPNet runs were cut
by an earlier version of this step, named part1 ... part4: the same tensors, checked equal, in
another header order, so other bytes and hashes.)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from pipelines.backbones import MODEL_FILES, file_sha256, resolve_alias
from pipelines.cli import run_cli

PIECE_BYTES = 58 * 2**20
PIECE_NAME = "mpnet-fp16.safetensors"
WEIGHTS = "model.safetensors"
FILES = [name for name in MODEL_FILES if name != WEIGHTS]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path)
    destination = parser.parse_args(argv).destination
    source = Path(resolve_alias("mpnet"))
    weights = load_file(source / WEIGHTS)
    joined = save({name: t.half() if t.dtype == torch.float32 else t for name, t in weights.items()})
    destination.mkdir(parents=True, exist_ok=True)
    pieces = []
    for number, start in enumerate(range(0, len(joined), PIECE_BYTES), start=1):
        path = destination / f"{PIECE_NAME}.{number:03d}"
        path.write_bytes(joined[start : start + PIECE_BYTES])
        pieces.append({"name": path.name, "size": path.stat().st_size, "sha256": file_sha256(path)})
    for name in FILES:
        shutil.copyfile(source / name, destination / name)
    manifest = {"pieces": pieces, "files": FILES}
    (destination / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(f"{destination}: {len(pieces)} pieces of at most {PIECE_BYTES:,} bytes, {', '.join(FILES)}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
