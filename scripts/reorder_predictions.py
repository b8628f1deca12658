"""Put `predictions.parquet` rows of runs made before `predict_in_order` into test-set order.

    HF_HUB_OFFLINE=1 python -m scripts.reorder_predictions RUNS_DIR [--data_dir ../shared/datasets]

Until commit "predict_in_order", `fit_and_test` wrote the test predictions in the order
`Trainer.predict` returned them: with `group_by_length` training, transformers 5 batches the
test set by length too (`LengthGroupedSampler`, seeded by `--seed`). Scores were right; the rows'
`index` was not. That order is a function of the tokenized lengths, the eval batch size and the
seed, so it can be rebuilt with the same sampler. A file is rewritten only when the rebuilt
order puts every gold label on its own test sentence (otherwise it is left alone and reported);
a file whose labels already follow the test set is left as it is.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from transformers import AutoTokenizer
from transformers.trainer_pt_utils import LengthGroupedSampler

from pipelines.backbones import resolve_model
from pipelines.arguments import DataArguments
from pipelines.runs.io import write_predictions
from pipelines.runs.layout import ARGS_FILE, PREDICTIONS_FILE, RESULTS_FILE
from pipelines.runs.record import RunRecord
from pipelines.splits import load_train_test


def test_set(results: RunRecord, data_dir: str):
    data = DataArguments(dataset=results.dataset, data_dir=data_dir)
    return load_train_test(data, results.seed)[0]["test"]


def tokenizer_of(run: Path, results: RunRecord):
    if (run / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(run)
    return AutoTokenizer.from_pretrained(resolve_model(results.model))  # the backbone's own


def sampler_order(lengths: list[int], batch_size: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return list(LengthGroupedSampler(batch_size, lengths=lengths, generator=generator))


def reorder(run: Path, data_dir: str) -> str:
    results = RunRecord.read(run)
    if results.protocol != "lab":
        return "cross-validation run: made after the fix"
    table = pq.read_table(run / PREDICTIONS_FILE).to_pandas()
    test = test_set(results, data_dir)
    gold = np.asarray(test["label"])
    if (table["label"].to_numpy() == gold).all():
        return "already in test-set order"
    arguments = json.loads((run / ARGS_FILE).read_text(encoding="utf-8"))
    tokenizer = tokenizer_of(run, results)
    max_length = min(results.get("max_length") or 128, tokenizer.model_max_length)
    lengths = [len(ids) for ids in tokenizer(list(test["text"]), truncation=True, max_length=max_length)["input_ids"]]
    order = sampler_order(lengths, arguments["per_device_eval_batch_size"], arguments.get("data_seed") or results.seed)
    if not (gold[order] == table["label"].to_numpy()).all():
        return "NOT REORDERED: the rebuilt order does not match the gold labels"
    rows = np.empty(len(order), dtype=np.int64)
    rows[order] = np.arange(len(order))  # row of the file that holds test sentence i
    probabilities = np.stack(table["probabilities"].to_numpy())[rows]
    write_predictions(run / PREDICTIONS_FILE, range(len(gold)), gold, probabilities, table["prediction"].to_numpy()[rows])
    return "reordered"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir")
    parser.add_argument("--data_dir", default="../shared/datasets")
    args = parser.parse_args()
    for path in sorted(Path(args.runs_dir).rglob(PREDICTIONS_FILE)):
        if (path.parent / RESULTS_FILE).is_file():
            print(f"{path.parent}: {reorder(path.parent, args.data_dir)}", flush=True)


if __name__ == "__main__":
    main()
