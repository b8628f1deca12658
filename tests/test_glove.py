import gzip

import numpy as np
import pytest

from models.glove import GloveFormatError, load_glove, parse_glove_text
from pipelines.errors import DataError, PathError
from pipelines.tokenization import load_word_vectors
from tests.conftest import write_glove_text


def test_text_file_with_and_without_header_gives_same_vectors(tmp_path):
    plain = parse_glove_text(write_glove_text(tmp_path / "a.txt", ["the", "movie"], dim=4))
    headed = parse_glove_text(write_glove_text(tmp_path / "b.txt", ["the", "movie"], dim=4, header=True))
    assert plain.words == headed.words == ["the", "movie"]
    np.testing.assert_array_equal(plain.vectors, headed.vectors)
    assert plain.vectors.dtype == np.float32 and plain.dim == 4


def test_gzip_file(tmp_path):
    text = write_glove_text(tmp_path / "a.txt", ["good", "bad", "ok"], dim=3)
    gz = tmp_path / "a.txt.gz"
    gz.write_bytes(gzip.compress(text.read_bytes()))
    assert parse_glove_text(gz).words == ["good", "bad", "ok"]


def test_ragged_row_names_file_and_line(tmp_path):
    path = tmp_path / "ragged.txt"
    path.write_text("the 0.1 0.2 0.3\nmovie 0.1 0.2\n")
    with pytest.raises(GloveFormatError, match=r"ragged\.txt:2: row has 2 values, expected 3"):
        parse_glove_text(path)


def test_non_number_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("the 0.1 0.2\nmovie 0.1 zero\n")
    with pytest.raises(GloveFormatError, match=r"bad\.txt:2: .*not a number"):
        parse_glove_text(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="GloVe file not found"):
        load_glove(tmp_path / "none.txt")


def test_pipelines_see_glove_file_errors_as_user_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "ragged.txt"
    path.write_text("the 0.1 0.2 0.3\nmovie 0.1 0.2\n")
    with pytest.raises(DataError, match=r"ragged\.txt:2: row has 2 values, expected 3"):
        load_word_vectors(str(path))
    with pytest.raises(PathError, match="GloVe file not found"):
        load_word_vectors(str(tmp_path / "none.txt"))


def test_text_file_is_cached_as_npy_and_memory_mapped(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    path = write_glove_text(tmp_path / "a.txt", ["the", "movie", "good"], dim=5)
    first = load_glove(path)
    assert list((tmp_path / "cache").rglob("vectors.npy")) and not list((tmp_path / "cache").rglob("*.pkl"))
    second = load_glove(path)
    assert isinstance(second.vectors, np.memmap)
    assert second.words == first.words
    np.testing.assert_array_equal(second.vectors, first.vectors)


def test_package_vectors_are_memory_mapped_glove_6b_50d():
    glove = load_glove()
    assert len(glove) == 400_000 and glove.dim == 50
    assert isinstance(glove.vectors, np.memmap)
    assert glove.words[:3] == ["the", ",", "."]
    np.testing.assert_allclose(glove.vectors[0, :3], [0.418, 0.24968, -0.41242], rtol=1e-6)


def test_a_word_given_twice_keeps_its_first_vector_and_a_special_token_is_left_out_saying_so(tmp_path, monkeypatch):
    """Either gave the vocabulary fewer ids than vectors: a traceback (word vectors have shape (29, 8), the embedding
    expects (28, 8)) once the model was built. Now each word has one vector, its first (as gensim keeps the first of a
    duplicate word), the tokenizer's special tokens keep their own rows, and one warning names the lines."""
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "cache"))
    lines = ["3 2", "the 0.1 0.2", "movie 0.3 0.4", "good 0.5 0.6", "movie 9 9"]
    twice = tmp_path / "twice.txt"
    twice.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"twice\.txt: 1 line\(s\) left out, line 5: 'movie' again \(first at line 3, whose vector is kept\)$"):
        glove = load_word_vectors(str(twice))
    assert glove.words == ["the", "movie", "good"]
    np.testing.assert_allclose(glove.vectors[1], [0.3, 0.4])
    special = tmp_path / "special.txt"
    special.write_text("the 0.1 0.2\n[UNK] 1 1\ngood 0.5 0.6\n")
    with pytest.warns(UserWarning, match=r"special\.txt: 1 line\(s\) left out, line 2: '\[UNK\]', a special token of the tokenizer"):
        assert load_word_vectors(str(special)).words == ["the", "good"]
    first = tmp_path / "first.txt"
    first.write_text(special.read_text())
    assert "[UNK]" in load_glove(first).words  # a file read without the tokenizer's tokens reserved (scripts, bench) is cached as it is ...
    with pytest.warns(UserWarning, match=r"first\.txt: 1 line\(s\) left out"):  # ... and parsed again when read from there
        assert load_word_vectors(str(first)).words == ["the", "good"]
