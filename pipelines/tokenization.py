"""Word-level HF fast tokenizers over a GloVe vocabulary, and dataset tokenization.

The pre-tokenizer follows the tokenization GloVe 6B was trained on (Stanford-style: clitics such
as `'s` and `n't` split off, punctuation separate) and keeps URLs whole, so it suits movie
reviews and tweets alike.

The normalizer first folds typography onto the ASCII forms GloVe 6B was mostly built from:
typographic apostrophes and single quotes become `'` (`don’t` -> `do n't`, as `don't`; GloVe
ranks `n't` 70th and `n’t` 9,039th), double quotes become `"`, and en/em dashes become the
Penn Treebank `--`. NFKC already turns `…` into `...` and full-width forms into ASCII.
Characters that print as nothing are removed (`INVISIBLE`: zero-width space, joiner and
non-joiner, word joiner, byte-order mark, soft hyphen, emoji variation selectors, skin-tone
modifiers), so `go\u00adod` and `good\ufe0f` tokenize as `good` does.

Saved tokenizers keep the normalizer they were built with, so older run folders tokenize as
they did when trained.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from datasets import DatasetDict
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from models.glove import GloveFormatError, GloveVectors, load_glove
from pipelines.errors import DataError, PathError

PAD_TOKEN, UNK_TOKEN = "[PAD]", "[UNK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN)  # ids 0 and 1

WORD_PATTERN = (
    r"https?://\S+|www\.\S+"  # a URL stays one token
    r"|\w+(?=n't\b)|n't\b"  # don't -> do n't
    r"|'(?:s|re|ve|ll|d|m)\b"  # clitics: 's 're 've 'll 'd 'm
    r"|\w+(?:[-.]\w+)*"  # words, hyphenated words, numbers such as 3.5
    r"|\.{2,}|[!?]{2,}|-{2,}"  # ... !!! ?! --
    r"|\S"  # any other single character
)


def pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated")]
    )


# Typographic characters and the ASCII form GloVe 6B's tokens use for them.
TYPOGRAPHIC_FOLDS = (
    ("[\u2018\u2019\u201b\u02bc\u2032\u00b4]", "'"),  # ‘ ’ ‛ ʼ ′ ´: apostrophes and single quotes
    ("[\u201c\u201d\u201e\u201f\u2033]", '"'),  # “ ” „ ‟ ″
    ("[\u2013\u2014\u2015]", " -- "),  # – — ―: a dash between words, never a hyphen joining them
)


# Characters that print as nothing but split a word into [UNK] pieces: soft hyphen, zero-width
# space / non-joiner / joiner, word joiner, byte-order mark, variation selectors 15 and 16 (text
# or emoji form), and the five skin-tone modifiers.
INVISIBLE = "[\u00ad\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]"


def normalizer() -> normalizers.Normalizer:
    """Invisible characters removed, typographic quotes and dashes folded to GloVe's ASCII forms,
    then NFKC, then lowercase.

    The folds come first because NFKC would turn `´` into a space and a combining accent.
    """
    folds = [normalizers.Replace(Regex(pattern), ascii_form) for pattern, ascii_form in TYPOGRAPHIC_FOLDS]
    invisible = normalizers.Replace(Regex(INVISIBLE), "")
    return normalizers.Sequence([invisible, *folds, normalizers.NFKC(), normalizers.Lowercase()])


def split_words(texts: Iterable[str]) -> Iterable[str]:
    """The words the tokenizer would see, for building a vocabulary."""
    norm, pre = normalizer(), pre_tokenizer()
    for text in texts:
        for word, _ in pre.pre_tokenize_str(norm.normalize_str(text)):
            yield word


def load_word_vectors(source: str | None = None) -> GloveVectors:
    """`models.glove.load_glove(source)` (the packaged GloVe 6B 50d when None), its errors as the
    user errors they are: `PathError` for a missing file, `DataError` for a file that is not
    GloVe/word2vec text (the message names the file and line). A word given twice keeps its first vector
    and a line holding one of `SPECIAL_TOKENS` is left out, each with a warning naming the lines."""
    try:
        return load_glove(source, reserved=SPECIAL_TOKENS)
    except GloveFormatError as err:
        raise DataError(str(err)) from err
    except FileNotFoundError as err:
        raise PathError(str(err)) from err


def build_vocabulary(glove: GloveVectors, train_texts: Iterable[str], max_vocab_size: int | None = 50_000) -> list[str]:
    """GloVe words seen in training, topped up with the most frequent GloVe words.

    GloVe files are sorted by frequency, so the top-up is a prefix of the file. The result keeps
    file order. With `max_vocab_size=None` the whole GloVe vocabulary is kept.
    """
    index = {word: i for i, word in enumerate(glove.words)}
    if max_vocab_size is None:
        return list(glove.words)
    seen = {index[word] for word in set(split_words(train_texts)) if word in index}
    room = max(0, max_vocab_size - len(SPECIAL_TOKENS) - len(seen))
    keep = seen.copy()
    for i in range(len(glove.words)):
        if room == 0:
            break
        if i not in keep:
            keep.add(i)
            room -= 1
    return [glove.words[i] for i in sorted(keep)]


def embedding_matrix(glove: GloveVectors, vocabulary: list[str]) -> np.ndarray:
    """Rows for `[PAD]` and `[UNK]` (zeros: unknown words add nothing), then one per word."""
    index = {word: i for i, word in enumerate(glove.words)}
    rows = np.fromiter((index[word] for word in vocabulary), dtype=np.int64, count=len(vocabulary))
    matrix = np.zeros((len(SPECIAL_TOKENS) + len(vocabulary), glove.dim), dtype=np.float32)
    matrix[len(SPECIAL_TOKENS) :] = glove.vectors[rows]
    return matrix


def build_tokenizer(vocabulary: list[str], max_length: int) -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for word in vocabulary:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK_TOKEN))
    backend.normalizer = normalizer()
    backend.pre_tokenizer = pre_tokenizer()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        model_max_length=max_length,
        model_input_names=["input_ids", "attention_mask"],
    )


def tokenize_dataset(dataset: DatasetDict, tokenizer, max_length: int | None = None) -> DatasetDict:
    """Token ids for every split, truncated to `max_length`; padding is left to the collator."""
    max_length = max_length or tokenizer.model_max_length

    def encode(batch):
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    return dataset.map(encode, batched=True, remove_columns=["text"], desc="Tokenizing")
