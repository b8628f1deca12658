"""What the benchmarks share: timing, peak memory, the MR set-up, the model, the table.

Every benchmark measures its baseline in the same run as what it is compared with. The machine
is small (2 CPU cores) and shared, so each measurement is repeated and the fastest repeat is
kept: other processes only ever add time, so the minimum is the least disturbed number.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute
import torch
from datasets import DatasetDict

from models.glove import GloveVectors, load_glove
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.runs.record import cpu_model, library_versions
from pipelines.formatting import markdown_table
from pipelines.tokenization import build_tokenizer, build_vocabulary, tokenize_dataset
from pipelines.training import build_glove_model

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = str(REPO_ROOT.parent / "shared" / "datasets")


def set_torch_threads(threads: int) -> None:
    """On a shared 2-core machine, 2 intra-op threads that wait on each other under load are
    many times slower than 1 (OpenMP spin-waits for a core another process holds); 1 keeps the
    numbers stable. Both sides of every comparison run with the same setting."""
    torch.set_num_threads(threads)


def best_of(repeats: int, function: Callable[[], object]) -> tuple[float, object]:
    """Fastest wall time of `repeats` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


class PeakMemory:
    """Peak resident memory (RSS) of this process inside a `with` block, from Linux `/proc`.

    Entering resets the kernel's high-water mark (`VmHWM`, via `/proc/self/clear_refs`), so the
    peak belongs to the block alone; `increase_mb` is that peak minus the RSS at entry. RSS counts
    everything the process holds: tensors, Python objects, the allocator's free lists. Freed
    memory that the allocator keeps is reused without raising RSS, which is why each measured
    training run happens in its own fresh process (`in_child_process`).
    """

    def __enter__(self):
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        self.start_mb = _status_mb("VmRSS")
        return self

    def __exit__(self, *exc):
        self.peak_mb = _status_mb("VmHWM")
        self.increase_mb = self.peak_mb - self.start_mb
        return False


def _status_mb(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def in_child_process(function: Callable[..., dict], *args) -> dict:
    """Run `function(*args)` in a forked copy of this process and return its result dict.

    The child starts with the parent's data already loaded (copy-on-write) and a clean memory
    high-water mark, so its peak memory is its own and nothing freed by an earlier run hides it.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def target():
        try:
            send.send(function(*args))
        except BaseException as err:  # the parent re-raises it with the child's message
            send.send(err)
        finally:
            send.close()

    child = context.Process(target=target)
    child.start()
    send.close()
    result = receive.recv()
    child.join()
    if isinstance(result, BaseException):
        raise result
    return result


@dataclass
class MrSetup:
    """MR train tokenized the way `train_glove` does it, with what a model needs to be built."""

    glove: GloveVectors
    vocabulary: list[str]
    tokenizer: object
    texts: list[str]
    train: object  # datasets.Dataset with input_ids, attention_mask, label


def prepare_mr(data_dir: str, max_length: int = 128, max_samples: int | None = None) -> MrSetup:
    dataset = load_sentiment_dataset("mr", data_dir)
    if max_samples is not None:
        dataset["train"] = dataset["train"].shuffle(seed=0).select(range(min(max_samples, len(dataset["train"]))))
    glove = load_glove()
    vocabulary = build_vocabulary(glove, dataset["train"]["text"])
    tokenizer = build_tokenizer(vocabulary, max_length)
    texts = dataset["train"]["text"]
    train = tokenize_dataset(DatasetDict({"train": dataset["train"]}), tokenizer, max_length)["train"]
    return MrSetup(glove=glove, vocabulary=vocabulary, tokenizer=tokenizer, texts=texts, train=train)


def build_model(name: str, setup: MrSetup, max_length: int, seed: int):
    """The model `train_glove` builds for `--model name`, GloVe vectors loaded, frozen as default."""
    tokenizer = setup.tokenizer
    if tokenizer.model_max_length != max_length:
        tokenizer = build_tokenizer(setup.vocabulary, max_length)
    return build_glove_model(name, setup.glove, setup.vocabulary, tokenizer, ["negative", "positive"], seed=seed)


def token_lengths(dataset) -> list[int]:
    """Tokens per example straight from the Arrow column, without reading rows back into Python."""
    return pyarrow.compute.list_value_length(dataset.with_format("arrow")["input_ids"]).to_pylist()


def machine_line() -> str:
    cpu = cpu_model()
    versions = ", ".join(f"{name} {version}" for name, version in library_versions().items())
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()}, no GPU used, "
        f"load average {load} (1/5/15 min); {versions}"
    )


def portable_argv(argv: list[str]) -> list[str]:
    """`argv` with every absolute path written relative to the repository root, where the commands run
    (`/work/shared/datasets` -> `../shared/datasets`): a committed command names no machine's folders."""
    return [os.path.relpath(item, REPO_ROOT) if item.startswith("/") and Path(item).exists() else item for item in argv]


def made_by(command: str) -> str:
    """The head of a benchmark's Markdown: the command that made it (run from the repository root)
    and the machine it ran on (`machine_line`)."""
    return f"Made by (from the repository root; {machine_line()}):\n\n```\n{command}\n```\n\n"


def markdown_page(title: str, command: str, body: str) -> str:
    """A benchmark's Markdown file: `# title`, `made_by(command)`, then `body`."""
    return f"# {title}\n\n" + made_by(command) + body


def bench_parser(name: str, doc: str, data_dir: bool = True) -> argparse.ArgumentParser:
    """The options of `python -m bench.<name>` that every measuring script shares: `--output`
    (default `bench/<name>.md`) and, with `data_dir`, `--data_dir` (default `../shared/datasets`,
    as the committed commands print it). The caller adds its own."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc.splitlines()[0])
    if data_dir:
        parser.add_argument("--data_dir", default="../shared/datasets")
    parser.add_argument("--output", default=f"bench/{name}.md")
    return parser


def ratio(slow: float, fast: float) -> float:
    return slow / fast if fast > 0 else float("inf")


__all__ = [
    "DEFAULT_DATA_DIR",
    "MrSetup",
    "PeakMemory",
    "bench_parser",
    "best_of",
    "build_model",
    "in_child_process",
    "machine_line",
    "made_by",
    "markdown_page",
    "portable_argv",
    "markdown_table",
    "prepare_mr",
    "ratio",
    "set_torch_threads",
    "token_lengths",
]
