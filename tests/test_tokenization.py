import numpy as np
import pytest
from transformers import AutoTokenizer

from models.glove import GloveVectors
from pipelines.tokenization import build_tokenizer, build_vocabulary, embedding_matrix, split_words


@pytest.fixture
def glove():
    words = ["the", ",", ".", "movie", "do", "n't", "'s", "like", "it", "good", "bad", "rare"]
    vectors = np.arange(len(words) * 3, dtype=np.float32).reshape(len(words), 3)
    return GloveVectors(words=words, vectors=vectors, source="test")


def test_pre_tokenizer_splits_clitics_punctuation_and_keeps_urls():
    words = list(split_words(["I don't like the movie's end... #sad @bob http://t.co/x1 well-known!!"]))
    assert words == [
        "i", "do", "n't", "like", "the", "movie", "'s", "end", "...", "#", "sad", "@", "bob",
        "http://t.co/x1", "well-known", "!!",
    ]


def test_vocabulary_keeps_training_words_and_tops_up_by_frequency(glove):
    vocabulary = build_vocabulary(glove, ["rare movie"], max_vocab_size=6)
    # 2 special tokens + 'movie' and 'rare' from training + the two most frequent GloVe words.
    assert vocabulary == ["the", ",", "movie", "rare"]
    assert build_vocabulary(glove, ["rare"], max_vocab_size=None) == glove.words


def test_ids_pad_unk_and_matrix_rows_line_up(glove):
    vocabulary = build_vocabulary(glove, ["good movie"], max_vocab_size=None)
    tokenizer = build_tokenizer(vocabulary, max_length=8)
    assert tokenizer.pad_token_id == 0 and tokenizer.unk_token_id == 1
    matrix = embedding_matrix(glove, vocabulary)
    ids = tokenizer("Good zzz movie")["input_ids"]
    assert ids[1] == 1
    np.testing.assert_array_equal(matrix[ids[0]], glove.vectors[glove.words.index("good")])
    np.testing.assert_array_equal(matrix[ids[2]], glove.vectors[glove.words.index("movie")])
    np.testing.assert_array_equal(matrix[:2], 0)


def test_saved_tokenizer_reloads_with_same_ids_and_truncates(glove, tmp_path):
    tokenizer = build_tokenizer(build_vocabulary(glove, ["good"], max_vocab_size=None), max_length=4)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    texts = ["I don't like it, it's bad.", "", "the the the the the the"]
    assert reloaded(texts)["input_ids"] == tokenizer(texts)["input_ids"]
    assert reloaded.model_input_names == ["input_ids", "attention_mask"]
    assert len(reloaded(texts[2], truncation=True)["input_ids"]) == 4


@pytest.mark.parametrize(
    "typographic, ascii_text",
    [
        ("I don’t like it", "I don't like it"),  # U+2019, the usual one in tweets
        ("isn‘t it", "isn't it"),  # U+2018
        ("it´s bad", "it's bad"),  # U+00B4, an acute accent typed as an apostrophe
        ("the “movie”", 'the "movie"'),
        ("a slow start—but good", "a slow start -- but good"),
        ("a slow start – but good", "a slow start -- but good"),
        ("the end…", "the end..."),  # NFKC
    ],
)
def test_typographic_forms_tokenize_as_their_ascii_forms(typographic, ascii_text):
    assert list(split_words([typographic])) == list(split_words([ascii_text]))


def test_typographic_apostrophe_gives_the_same_ids(glove):
    tokenizer = build_tokenizer(build_vocabulary(glove, ["good"], max_vocab_size=None), max_length=16)
    assert tokenizer("I don’t like it’s")["input_ids"] == tokenizer("I don't like it's")["input_ids"]
    assert tokenizer.unk_token_id not in tokenizer("don’t")["input_ids"]


@pytest.mark.parametrize(
    "hidden",
    ["go\u00adod", "go\u200bod", "go\u200cod", "go\u200dod", "good\ufe0f", "good\ufe0e", "good\U0001f3fb", "good\U0001f3ff"],
)
def test_invisible_characters_are_removed_by_the_saved_tokenizer(glove, tmp_path, hidden):
    tokenizer = build_tokenizer(build_vocabulary(glove, ["good"], max_vocab_size=None), max_length=16)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    for loaded in (tokenizer, reloaded):
        assert loaded(f"not {hidden} movie")["input_ids"] == loaded("not good movie")["input_ids"]
        assert loaded.unk_token_id not in loaded(hidden)["input_ids"]
