"""Rebuild all-mpnet-base-v2 from the pieces in this folder: fp16 weights -> fp32 model.safetensors.

    python results/mpnet_restore.py [SOURCE_DIR] DEST_DIR   # SOURCE_DIR defaults to this script's folder

SOURCE_DIR holds part1, part2, ... (the fp16 safetensors file cut into pieces), manifest.json and
the tokenizer/config files. Every piece is checked against manifest.json (size, sha256) before
anything is written; DEST_DIR then gets an fp32 model.safetensors and the tokenizer/config files,
ready for `AutoModel.from_pretrained(DEST_DIR)`. Needs only torch and safetensors.
"""

import hashlib
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load, save_file


def main(argv):
    if len(argv) not in (1, 2):
        sys.exit(__doc__)
    source = Path(argv[0]) if len(argv) == 2 else Path(__file__).resolve().parent
    destination = Path(argv[-1])
    manifest = json.loads((source / "manifest.json").read_text())
    joined = bytearray()
    for piece in manifest["pieces"]:
        path = source / piece["name"]
        if not path.is_file():
            sys.exit(f"error: {path} is missing (copy all {len(manifest['pieces'])} pieces into {source})")
        data = path.read_bytes()
        if len(data) != piece["size"] or hashlib.sha256(data).hexdigest() != piece["sha256"]:
            sys.exit(f"error: {path} is damaged ({len(data)} bytes; expected {piece['size']} and sha256 {piece['sha256']})")
        joined += data
    if hashlib.sha256(joined).hexdigest() != manifest["fp16_sha256"]:
        sys.exit("error: the joined pieces do not match manifest.json's fp16_sha256")
    tensors = {
        name: tensor.to(torch.float32) if tensor.dtype == torch.float16 else tensor  # embeddings.position_ids stays int64
        for name, tensor in load(bytes(joined)).items()
    }
    destination.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(destination / "model.safetensors"), metadata={"format": "pt"})
    for name in manifest["files"]:
        shutil.copyfile(source / name, destination / name)
    print(f"{destination}: model.safetensors ({len(tensors)} fp32 tensors) + {', '.join(manifest['files'])}")


if __name__ == "__main__":
    main(sys.argv[1:])
