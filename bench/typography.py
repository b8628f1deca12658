"""What folding typographic apostrophes, quotes and dashes does to a model on SemEval-2017 4A.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 5 python -m bench.typography --data_dir ../shared/datasets \
        --model mean --seeds 0,1,2,3,4 --runs_dir runs/typography --output bench/typography.md

3,380 SemEval training tweets and 305 test tweets contain `’`. Before the fold the tokenizer read
`don’t` as `don ’ t` and `isn’t` as `[UNK] ’ t`; now as `do n't` and `is n't`, the forms GloVe 6B
was built from (`pipelines.tokenization.TYPOGRAPHIC_FOLDS`).

Two arms of the grid's SemEval cell (`python -m pipelines.experiments`, trained vectors, the same
budget and selection rule), one run per seed in each:

- `after`: the tokenizer as it is;
- `before`: the normalizer without the folds and the pre-tokenizer without its `--` token, i.e.
  the tokenizer of the commit before the fix (NFKC + lowercase).

Both arms use the same seeds, so the seed's initialisation, validation split and batch order are
shared; what differs is how the text is cut into words (and so the vocabulary). The difference of
the official metric (macro recall), after − before, comes with the project's one comparison
(`pipelines.statistics.crossed_comparison`: runs × test sentences, the seeds paired), its 95% CI and p-value.
The cells train one after another in this process (one worker), because the `before` arm is a
patched tokenizer that worker processes would not see.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import pipelines.tokenization as tokenization
from bench.common import bench_parser, markdown_page
from pipelines import experiments
from pipelines.benchmarks import BENCHMARKS
from pipelines.runs.layout import PREDICTIONS_FILE, CellFolder
from pipelines.statistics import crossed_comparison

DATASET = "semeval2017a"
WORD_PATTERN_AFTER, FOLDS_AFTER = tokenization.WORD_PATTERN, tokenization.TYPOGRAPHIC_FOLDS
WORD_PATTERN_BEFORE = WORD_PATTERN_AFTER.replace("|-{2,}", "")


def use_tokenizer(arm: str) -> None:
    """Set the module-level pieces `pipelines.tokenization` builds every tokenizer from."""
    before = arm == "before"
    tokenization.TYPOGRAPHIC_FOLDS = () if before else FOLDS_AFTER
    tokenization.WORD_PATTERN = WORD_PATTERN_BEFORE if before else WORD_PATTERN_AFTER


def train_arm(arm: str, args: argparse.Namespace) -> Path:
    use_tokenizer(arm)
    runs_dir = Path(args.runs_dir) / arm
    argv = [
        "--data_dir", args.data_dir, "--datasets", DATASET, "--models", args.model, "--train_embeddings",
        "--seeds", args.seeds, "--workers", "1", "--runs_dir", str(runs_dir), "--results", str(runs_dir / "results"),
    ]  # fmt: skip
    experiments.main(argv)
    return runs_dir / CellFolder.grid_group(DATASET, "lab", "trained") / args.model


def read_arm(folder: Path, seeds: list[int]) -> dict[int, pd.DataFrame]:
    return {seed: pd.read_parquet(folder / f"seed-{seed}" / PREDICTIONS_FILE) for seed in seeds}


def markdown(args: argparse.Namespace, result: dict) -> str:
    rows = "\n".join(
        f"| {seed} | {before:.4f} | {after:.4f} | {after - before:+.4f} |"
        for seed, before, after in zip(result["a_seeds"], result["b_scores"], result["a_scores"])
    )
    return markdown_page(
        "Typographic folds on SemEval-2017 4A",
        f"HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 5 python -m bench.typography --data_dir {args.data_dir} "
        f"--model {args.model} --seeds {args.seeds} --runs_dir {args.runs_dir} --output {args.output}",
        f"`{args.model}`, trained GloVe vectors, the grid's SemEval budget; macro recall on the "
        f"{result['test_sentences']:,} gold tweets, one run per seed and arm.\n\n"
        "| seed | before (NFKC + lowercase) | after (typographic folds) | after − before |\n|---|---|---|---|\n"
        f"{rows}\n\n"
        f"Mean after − before: **{result['difference']:+.4f}**, 95% CI [{result['ci_low']:+.4f}, {result['ci_high']:+.4f}], "
        f"p {result['p_value']:.3f} (`pipelines.statistics.crossed_comparison`: runs × test sentences, the seeds "
        f"paired; minimum detectable effect {result['mde']:.4f}).\n"
    )


def main() -> None:
    parser = bench_parser("typography", __doc__)
    parser.add_argument("--model", default="mean")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--runs_dir", default="runs/typography")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    before, after = (read_arm(train_arm(arm, args), seeds) for arm in ("before", "after"))
    result = crossed_comparison(after, before, "recall_macro", BENCHMARKS[DATASET].label_names)
    text = markdown(args, result)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
