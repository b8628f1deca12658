"""Cut all-mpnet-base-v2 into fp16 pieces that fit a device call (64 MiB each, tree included).

    python results/mpnet_split.py .devwork-mpnet      # needs the mpnet extra; then see gpu_finetune.sh

Writes part1, part2, ... (the fp16 safetensors file cut every 58 MiB), manifest.json (each
piece's size and SHA-256, the whole file's SHA-256, the other files) and the tokenizer/config
files. `results/mpnet_restore.py` joins them on the other side into an fp32 model folder; fp16
rounds each weight by at most 2^-11 of its size. (The pieces used for the committed MPNet runs
were cut by an earlier version of this step: the same tensors, checked equal, in another header
order, so other bytes and hashes.)
"""

import hashlib
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.backbones import resolve_alias  # noqa: E402

PIECE_BYTES = 58 * 2**20
FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]


def main(destination: Path) -> None:
    source = Path(resolve_alias("mpnet"))
    weights = load_file(source / "model.safetensors")
    joined = save({name: t.half() if t.dtype == torch.float32 else t for name, t in weights.items()})
    destination.mkdir(parents=True, exist_ok=True)
    pieces = []
    for number, start in enumerate(range(0, len(joined), PIECE_BYTES), start=1):
        chunk = joined[start : start + PIECE_BYTES]
        (destination / f"part{number}").write_bytes(chunk)
        pieces.append({"name": f"part{number}", "size": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
    for name in FILES:
        shutil.copyfile(source / name, destination / name)
    manifest = {"pieces": pieces, "fp16_sha256": hashlib.sha256(joined).hexdigest(), "files": FILES}
    (destination / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(f"{destination}: {len(pieces)} pieces, fp16 sha256 {manifest['fp16_sha256']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
