"""A tiny random BERT with a WordPiece vocabulary made here (and a tiny GPT-2), and tiny data folders, for offline tests."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2ForSequenceClassification, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

POSITIVE = ["a wonderful , moving film", "great acting and a lovely story", "i loved every minute of it", "pure joy !"]
NEGATIVE = ["a dull , lifeless mess", "terrible acting and a boring plot", "i hated every minute of it", "what a waste ."]
NEUTRAL = ["the film opens on friday", "the director was born in ohio", "it runs two hours", "tickets cost ten dollars"]


def wordpiece_tokenizer(sentences: list[str]) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer whose vocabulary is made here, the same on every call: the special
    tokens, each character alone and as a `##` continuation, then every (lower-cased) word of `sentences`.
    Not trained: `tokenizers`' WordPieceTrainer gives other pieces and ids from call to call (its word
    counts are a hash map: huggingface/tokenizers#1794), so a tiny random BERT built on it predicted
    differently in every process, and a knife-edge test passed or failed by the draw."""
    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = sorted({word for sentence in sentences for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(sentence))})
    characters = sorted({character for word in words for character in word})
    pieces = [*SPECIAL_TOKENS, *characters, *(f"##{character}" for character in characters), *(word for word in words if len(word) > 1)]
    backend = Tokenizer(models.WordPiece({piece: i for i, piece in enumerate(pieces)}, unk_token="[UNK]"))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    backend.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=32,
    )


def build_tiny_bert(folder: Path, labels: list[str], seed: int = 0) -> Path:
    """A 1-layer BERT (hidden size 16) with random weights and these `id2label` names, saved to `folder`."""
    tokenizer = wordpiece_tokenizer(POSITIVE + NEGATIVE + NEUTRAL)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_gpt2(folder: Path, labels: list[str], eos: bool = True, seed: int = 0) -> Path:
    """A 1-layer GPT-2 (hidden size 16) with random weights, saved to `folder` with a word-level tokenizer that, as
    GPT-2's, has no pad token: only an end-of-text token `<|endoftext|>` (none with `eos=False`)."""
    words = sorted({word for sentence in POSITIVE + NEGATIVE + NEUTRAL for word in sentence.split()})
    specials = ["[UNK]", *(["<|endoftext|>"] if eos else [])]
    backend = Tokenizer(models.WordLevel({token: i for i, token in enumerate([*specials, *words])}, unk_token="[UNK]"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", eos_token="<|endoftext|>" if eos else None, model_max_length=32
    )
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id, pad_token_id=None,
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
    )  # fmt: skip
    torch.manual_seed(seed)
    GPT2ForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_semeval(root: Path, copies: int = 4) -> Path:
    """`root/Semeval2017A` laid out as released: train_dev/train/*.tsv and the gold test file."""
    folder = root / "Semeval2017A"
    (folder / "train_dev" / "train").mkdir(parents=True)
    (folder / "gold").mkdir(parents=True)
    rows = [
        (label, f"{text} #{i}")
        for i in range(copies)
        for label, texts in (("positive", POSITIVE), ("negative", NEGATIVE), ("neutral", NEUTRAL))
        for text in texts
    ]
    lines = [f"{1000 + i}\t{label}\t{text}" for i, (label, text) in enumerate(rows)]
    (folder / "train_dev" / "train" / "twitter-tiny-A.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    test = [f"{9000 + i}\t{label}\t{text}" for i, (label, text) in enumerate(rows[:12])]
    (folder / "gold" / "SemEval2017-task4-test.subtask-A.english.txt").write_text("\n".join(test) + "\n", encoding="utf-8")
    return root


def write_mr(root: Path, test_per_class: int = 6) -> Path:
    """`root/MR/rt-polarity.{pos,neg}`: the MR split needs 5,000 training sentences per class first."""
    folder = root / "MR"
    folder.mkdir(parents=True)
    for suffix, texts in (("pos", POSITIVE), ("neg", NEGATIVE)):
        lines = [f"{texts[i % len(texts)]} {i}" for i in range(5000 + test_per_class)]
        (folder / f"rt-polarity.{suffix}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def build_tiny_setfit(folder: Path, labels: list[str], seed: int = 0) -> Path:
    """A SetFit run as `finetune.py --setfit` saves one (`SetFitModel.save_pretrained`), untrained: the tiny
    BERT as a sentence-transformers body (mean pooling) and a `LogisticRegression` head fitted on its
    embeddings of the fixture sentences (integer classes, `labels` in config_setfit.json)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from setfit import SetFitModel
    from sklearn.linear_model import LogisticRegression

    bert = build_tiny_bert(folder.parent / f"{folder.name}-bert", labels, seed)
    transformer = Transformer(str(bert))
    body = SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension(), "mean")], device="cpu")
    texts = {"negative": NEGATIVE, "neutral": NEUTRAL, "positive": POSITIVE}
    sentences = [text for label in labels for text in texts[label]]
    classes = [k for k, label in enumerate(labels) for _ in texts[label]]
    head = LogisticRegression(max_iter=1000).fit(body.encode(sentences), classes)
    SetFitModel(model_body=body, model_head=head, labels=labels).save_pretrained(str(folder))
    return folder
