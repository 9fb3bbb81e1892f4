"""Tests for textrecipes.augment.synonyms and textrecipes.augment.wordnet_data."""

import os
from pathlib import Path

import numpy as np
import pytest

from textrecipes.augment import wordnet_data
from textrecipes.augment.synonyms import FileSynonyms, MappingSynonyms, SynonymSource
from textrecipes.augment.sources import source_from_spec
from textrecipes.augment.neighbours import EmbeddingNeighbours
from textrecipes.augment.wordnet import WordNetNotFoundError, WordNetSynonyms, wordnet_search_dirs

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
ZH_FILE = SAMPLES / "synonyms_zh.tsv"
VECTORS = SAMPLES / "vectors.txt"


# -- WordNet -------------------------------------------------------------------


@pytest.fixture(scope="module")
def wordnet():
    # Real WordNet, offline: `make wordnet` builds data/nltk_data from Debian's
    # wordnet-base; a missing one fails here with the command that fixes it.
    return WordNetSynonyms().load()


def test_wordnet_real_synonyms(wordnet):
    movie = wordnet.synonyms("movie")
    assert {"film", "picture", "motion picture", "flick"} <= set(movie)
    good = wordnet.synonyms("good")
    assert {"beneficial", "estimable", "respectable", "full"} <= set(good)
    for synonyms in (movie, good):
        assert isinstance(synonyms, tuple)
        assert len(synonyms) == len(set(synonyms))
    assert "movie" not in movie and "good" not in good
    assert wordnet.synonyms("Movie") == movie  # WordNet is case-insensitive
    assert wordnet.synonyms("xqzzyv") == ()


def test_wordnet_lookups_are_cached(wordnet):
    calls = []
    original = wordnet._names

    def counting(reader, word):
        calls.append(word)
        return original(reader, word)

    wordnet._names = counting
    try:
        first = wordnet.synonyms("cinema")
        second = wordnet.synonyms("cinema")
    finally:
        del wordnet._names
    assert first is second
    assert calls == ["cinema"]


def test_wordnet_table_gives_exactly_what_nltk_synsets_gives(wordnet):
    """The one-pass lemma table (fast path) against NLTK's own synsets(), inflections included."""
    from conftest import rt_path

    reader = wordnet.load()._reader
    with open(rt_path("train"), encoding="utf-8") as f:
        words = sorted({w.strip(".,!?;:\"'()").lower() for line in f.readlines()[:1500]
                        for w in line.split("\t", 1)[1].split()} - {""})
    words += ["movies", "running", "better", "geese", "New_York", "galore", "ran"]
    assert len(words) > 3000
    for word in words:
        expected = [n.replace("_", " ") for s in reader.synsets(word) for n in s.lemma_names()]
        assert wordnet._names(reader, word) == expected, word


def test_wordnet_options(wordnet):
    single = WordNetSynonyms(multiword=False, pos="n")
    synonyms = single.synonyms("movie")
    assert "film" in synonyms and all(" " not in s for s in synonyms)
    with pytest.raises(ValueError, match="pos must be one of"):
        WordNetSynonyms(pos="x")


def test_missing_wordnet_names_the_fix(tmp_path):
    with pytest.raises(WordNetNotFoundError) as info:
        WordNetSynonyms(data_dirs=[tmp_path])
    message = str(info.value)
    assert str(tmp_path) in message
    assert "make wordnet" in message
    assert "python -m textrecipes.augment.wordnet_data DIR" in message
    assert "apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index" in message
    assert "python -m nltk.downloader wordnet" in message
    assert isinstance(info.value, LookupError)


def test_search_order(monkeypatch, tmp_path):
    import nltk

    monkeypatch.setenv("TEXTRECIPES_NLTK_DATA", str(tmp_path))
    dirs = wordnet_search_dirs()
    nltk_dirs = [str(p) for p in nltk.data.path]
    assert dirs[: len(nltk_dirs)] == nltk_dirs
    assert dirs[len(nltk_dirs)] == str(tmp_path)
    assert dirs[-1].endswith(os.path.join("data", "nltk_data"))


def test_lexnames_has_45_lines_in_manual_order():
    lines = wordnet_data.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[28] == "28\tnoun.time\t1"
    assert lines[43] == "43\tverb.weather\t2"
    assert lines[44] == "44\tadj.ppl\t3"


def test_build_nltk_wordnet_needs_the_debian_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install"):
        wordnet_data.build_nltk_wordnet(tmp_path / "out", source_dir=tmp_path)


def test_build_nltk_wordnet_copies_files(tmp_path):
    if not Path(wordnet_data.DEBIAN_WORDNET_DIR, "data.noun").is_file():
        pytest.skip("Debian wordnet-base is not installed (make wordnet)")
    root = wordnet_data.build_nltk_wordnet(tmp_path)
    assert root == tmp_path / "corpora" / "wordnet"
    for name in (*wordnet_data.WORDNET_FILES, "lexnames"):
        path = root / name
        assert path.is_file() and not path.is_symlink()
    # The built folder is found; WordNet is not loaded until a look-up.
    source = WordNetSynonyms(data_dirs=[tmp_path])
    assert Path(source.root) == root


# -- user files ----------------------------------------------------------------


def test_file_synonyms_chinese_sample():
    source = FileSynonyms(ZH_FILE)
    assert isinstance(source, SynonymSource)
    assert len(source) >= 12
    assert source.synonyms("电影") == ("影片", "片子")
    assert source.synonyms("高兴") == ("开心", "快乐", "愉快")
    assert source.synonyms("影片") == ()
    assert source.synonyms("不存在") == ()
    symmetric = FileSynonyms(ZH_FILE, symmetric=True)
    assert symmetric.synonyms("影片") == ("电影", "片子")


def test_file_synonyms_format(tmp_path):
    path = tmp_path / "syn.tsv"
    path.write_text(
        "\ufeff# comment\n\nfilm\tmovie, picture\nFilm\tflick\nfilm\tmovie,cinema\n"
        "好\t良好，不错、优秀\r\n",
        encoding="utf-8",
    )
    source = FileSynonyms(path)
    assert source.synonyms("film") == ("movie", "picture", "cinema")
    assert source.synonyms("Film") == ("flick",)
    assert source.synonyms("FILM") == ("movie", "picture", "cinema")  # lower-cased
    assert source.synonyms("好") == ("良好", "不错", "优秀")


@pytest.mark.parametrize(
    "line, problem",
    [
        ("film movie,picture", "no tab"),
        ("\tmovie", "empty word"),
        ("film\t", "no synonyms"),
        ("film\tmovie,,picture", "empty synonym"),
        ("film\tmovie,", "empty synonym"),
        ("film\tmovie\tpicture", "more than one tab"),
    ],
)
def test_file_synonyms_bad_lines(tmp_path, line, problem):
    path = tmp_path / "bad.tsv"
    path.write_text(f"# header\ngood\tfine\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        FileSynonyms(path)
    assert str(info.value).startswith(f"{path}:3: ")
    assert problem in str(info.value)


def test_mapping_synonyms():
    source = MappingSynonyms({"film": ["movie", "film", "movie", "Film"]})
    assert source.synonyms("film") == ("movie",)
    assert source("film") == ("movie",)
    with pytest.raises(TypeError, match="list of strings"):
        MappingSynonyms({"film": "movie"})


# -- embedding neighbours --------------------------------------------------------


def test_word2vec_sample_neighbours():
    source = EmbeddingNeighbours.from_word2vec(VECTORS)
    assert set(source.synonyms("movie")) == {"film", "picture", "cinema"}
    assert set(source.synonyms("good")) == {"great", "excellent", "fine", "wonderful"}
    assert source.synonyms("Movie") == source.synonyms("movie")
    assert source.synonyms("the") == ()  # an isolated word: nothing similar enough
    assert source.synonyms("unknown-word") == ()
    assert source.synonyms("movie") is source.synonyms("movie")  # cached


def test_neighbours_order_top_k_and_threshold():
    vectors = np.array(
        [[1.0, 0.0], [0.9, 0.1], [0.7, 0.7], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    )
    vocab = ["a", "b", "c", "d", "[UNK]", ""]
    source = EmbeddingNeighbours(vectors, vocab, top_k=2, min_similarity=0.5)
    assert source.synonyms("a") == ("b", "c")  # "[UNK]" is identical but skipped
    strict = EmbeddingNeighbours(vectors, vocab, top_k=5, min_similarity=0.9)
    assert strict.synonyms("a") == ("b",)
    assert strict.synonyms("d") == ()


def test_precompute_matches_on_demand():
    lazy = EmbeddingNeighbours.from_word2vec(VECTORS, top_k=3, min_similarity=0.0)
    batched = EmbeddingNeighbours.from_word2vec(
        VECTORS, top_k=3, min_similarity=0.0, batch_size=4
    ).precompute()
    for word in lazy.vocabulary:
        assert batched.synonyms(word) == lazy.synonyms(word)


def test_from_embedding_layer_and_model():
    import keras

    vocab = ["", "[UNK]", "film", "movie", "plot"]
    matrix = np.array([[0, 0], [1, 1], [1, 0], [0.95, 0.05], [0, 1]], dtype="float32")
    layer = keras.layers.Embedding(6, 2)  # one spare row beyond the vocabulary
    layer.build((None,))
    layer.set_weights([np.vstack([matrix, [[1, 0]]])])
    source = EmbeddingNeighbours.from_embedding(layer, vocab)
    assert source.synonyms("film") == ("movie",)
    model = keras.Sequential([keras.Input((3,)), layer])
    assert EmbeddingNeighbours.from_embedding(model, vocab).synonyms("movie") == ("film",)
    assert EmbeddingNeighbours.from_embedding(matrix, vocab).synonyms("plot") == ()
    with pytest.raises(ValueError, match="cannot hold a vocabulary"):
        EmbeddingNeighbours.from_embedding(matrix, vocab + ["x", "y"])


@pytest.mark.parametrize(
    "text, where, problem",
    [
        ("", ":1: ", "header"),
        ("2 three\n", ":1: ", "header"),
        ("2 2\na 1 2\nb 1\n", ":3: ", "expected a word and 2 numbers"),
        ("2 2\na 1 2\nb 1 x2\n", ":3: ", "'x2' is not a number"),
        ("3 2\na 1 2\nb 1 2\n", ":4: ", "file ends after 2 vectors"),
        ("1 2\na 1 2\nb 1 2\n", ":3: ", "more vectors than"),
        ("2 2\na 1 2\n\nb 1 2\n", ":3: ", "blank line"),
    ],
)
def test_word2vec_bad_lines(tmp_path, text, where, problem):
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        EmbeddingNeighbours.from_word2vec(path)
    assert str(info.value).startswith(f"{path}{where}")
    assert problem in str(info.value)


def test_word2vec_limit(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("3 2\na 1 0\nb 1 0.1\nc 0 1\n", encoding="utf-8")
    assert EmbeddingNeighbours.from_word2vec(path, limit=2).vocabulary == ["a", "b"]


def test_source_from_spec(tmp_path):
    assert isinstance(source_from_spec(f"file:{ZH_FILE}"), FileSynonyms)
    assert isinstance(source_from_spec(f"vectors:{VECTORS}"), EmbeddingNeighbours)
    assert source_from_spec("none") is None
    mapping = MappingSynonyms({})
    assert source_from_spec(mapping) is mapping
    with pytest.raises(ValueError, match="expected 'wordnet', 'file:PATH'"):
        source_from_spec("thesaurus")
    with pytest.raises(FileNotFoundError):
        source_from_spec(f"file:{tmp_path / 'missing.tsv'}")
