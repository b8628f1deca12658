"""SetFit's contrastive loss over a few optimizer steps in fp32 and inside one bf16 autocast region, with and without autocast's weight cast cache.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 10 python -m bench.autocast_cache --data_dir ../shared/datasets \
        --model mpnet --pairs 16 --steps 4 --output bench/autocast_cache.md

SetFit's contrastive phase is one call (`setfit.Trainer.train_embeddings`), so CPU bf16 autocast around it is one
region spanning every optimizer step. Autocast caches the bf16 copy of each weight it casts and empties that
cache only on leaving the outermost region (torch.amp, "autocast"), so with the cache (PyTorch's default) each
forward after the first multiplies by the first step's weights while the optimizer updates the fp32 ones.
`pipelines.setfitting.contrastive_autocast` turns the cache off. This script shows the effect on the loss:
the sentence encoder (`--model`, an alias or folder) and `CosineSimilarityLoss`, as setfit trains it, take
`--steps` AdamW steps (learning rate 2e-5, `finetune.py --setfit`'s default; gradient norm clipped at 1, as the HF Trainer
does) on one batch of `--pairs` pairs of MR training sentences (alternately same class, label 1, and other
class, label 0), from the same weights and dropout draws, in three arms:

- `fp32`: no autocast (the baseline);
- `bf16, cache on`: one `torch.autocast("cpu", torch.bfloat16)` region around all steps;
- `bf16, cache off`: one `contrastive_autocast(True)` region around all steps (what `finetune.py --setfit` does).

The loss on one repeated batch should fall step by step; an arm whose forwards never see the updates does not.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from bench.common import bench_parser, markdown_page, set_torch_threads
from pipelines.arguments import SetFitArguments
from pipelines.backbones import resolve_model
from pipelines.data import column
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.setfitting import contrastive_autocast

LEARNING_RATE = SetFitArguments.setfit_learning_rate  # what finetune.py --setfit trains the encoder with
ARMS = ("fp32", "bf16, cache on", "bf16, cache off")


def pairs_of(texts: list[str], labels: list[int], pairs: int) -> tuple[list[str], list[str], list[float]]:
    """`pairs` sentence pairs from the first sentences of each class: even pairs share a class (label 1.0),
    odd pairs do not (0.0), as setfit's `CosineSimilarityLoss` pairs are labelled."""
    by_class = {label: [text for text, gold in zip(texts, labels) if gold == label] for label in sorted(set(labels))}
    first, second = list(by_class)[:2]
    left, right, similar = [], [], []
    for i in range(pairs):
        left.append(by_class[first][i])
        right.append(by_class[first][pairs + i] if i % 2 == 0 else by_class[second][i])
        similar.append(1.0 if i % 2 == 0 else 0.0)
    return left, right, similar


def contrastive_losses(model_path: str, left: list[str], right: list[str], similar: list[float], steps: int, arm: str,
                       learning_rate: float = LEARNING_RATE) -> list[float]:
    """The loss at each of `steps` AdamW steps on the one batch, in `arm` (one of `ARMS`)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    torch.manual_seed(0)
    model = SentenceTransformer(model_path, device="cpu")
    model.train()
    loss_function = CosineSimilarityLoss(model)
    features = [model.preprocess(left), model.preprocess(right)]
    targets = torch.tensor(similar)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    region = {
        "fp32": contextlib.nullcontext(),
        "bf16, cache on": torch.autocast("cpu", dtype=torch.bfloat16),
        "bf16, cache off": contrastive_autocast(True),
    }[arm]
    losses = []
    with region:
        for step in range(steps):
            torch.manual_seed(step)  # the same dropout draws in every arm
            loss = loss_function(features, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    return losses


def markdown(command: str, model: str, pairs: int, losses: dict[str, list[float]]) -> str:
    steps = len(next(iter(losses.values())))
    header = "| step | " + " | ".join(ARMS) + " |\n|---|" + "---|" * len(ARMS) + "\n"
    rows = "".join(f"| {step + 1} | " + " | ".join(f"{losses[arm][step]:.4f}" for arm in ARMS) + " |\n" for step in range(steps))
    return markdown_page(
        "SetFit's contrastive loss inside one bf16 autocast region",
        command,
        f"`{model}`, one batch of {pairs} MR pairs, {steps} AdamW steps (learning rate {LEARNING_RATE:g}), the same "
        "weights and dropout draws in each arm; the loss before each step's update:\n\n" + header + rows
        + "\nWith the cache on, the forwards keep the first step's bf16 weights, so the loss does not fall; with it off "
        "(`pipelines.setfitting.contrastive_autocast`, what `finetune.py --setfit` uses), bf16 follows fp32.\n",
    )


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = bench_parser("autocast_cache", __doc__)
    parser.add_argument("--model", default="mpnet", help="a backbone alias, Hub id or folder of a sentence encoder")
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    set_torch_threads(args.threads)
    train = load_sentiment_dataset("mr", args.data_dir)["train"]
    left, right, similar = pairs_of(list(train["text"]), list(column(train, "label")), args.pairs)
    path = resolve_model(args.model)
    losses = {arm: contrastive_losses(path, left, right, similar, args.steps, arm) for arm in ARMS}
    command = (f"HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 10 python -m bench.autocast_cache --data_dir {args.data_dir} "
               f"--model {args.model} --pairs {args.pairs} --steps {args.steps} --output {args.output}")
    text = markdown(command, args.model, args.pairs, losses)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)
    return losses


if __name__ == "__main__":
    main()
