"""Tokenization, vocabulary and padding edge cases."""

import json

import numpy as np
import pytest
import tensorflow as tf

from textrecipes.text.tokenization import OOV_ID, PAD_ID, TextVectorizer, Vocabulary, tokenize


def test_word_tokens_keep_digits_apostrophes_and_non_ascii():
    assert tokenize(["Don't stop: 2019's café — naïve!"]) == [["don't", "stop", ":", "2019's", "café", "—", "naïve", "!"]]
    assert tokenize(["ABC"], lowercase=False) == [["ABC"]]


def test_chinese_and_japanese_split_per_character_in_word_mode():
    assert tokenize(["北京欢迎你 ok"]) == [["北", "京", "欢", "迎", "你", "ok"]]
    assert tokenize(["東京タワー"])[0][:2] == ["東", "京"]


def test_char_and_jieba_modes():
    assert tokenize(["a b"], split="char") == [["a", "b"]]
    assert tokenize(["北京欢迎你"], split="jieba") == [["北京", "欢迎", "你"]]
    with pytest.raises(ValueError, match="split must be one of"):
        tokenize(["x"], split="bpe")


def test_empty_and_whitespace_texts_give_no_tokens():
    assert tokenize(["", "   \t ", "\u3000"]) == [[], [], []]


def test_vocabulary_build_limits_and_order():
    vocab = Vocabulary.build([["b", "a", "a", "c"], ["b", "a", "d"]], max_tokens=5, min_freq=1)
    assert vocab.tokens == ["a", "b", "c"]  # by count, ties alphabetical, 2 ids reserved
    assert len(vocab) == 5
    assert vocab.ids(["a", "zzz"]) == [2, OOV_ID]
    assert Vocabulary.build([["x", "y", "y"]], min_freq=2).tokens == ["y"]
    with pytest.raises(ValueError, match="max_tokens"):
        Vocabulary.build([["x"]], max_tokens=2)


def test_vocabulary_save_load_is_json(tmp_path):
    vocab = Vocabulary.build([["北", "京", "ok"]])
    vocab.save(tmp_path / "v.json")
    data = json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))
    assert data["tokens"] == vocab.tokens and data["pad_id"] == PAD_ID
    assert Vocabulary.load(tmp_path / "v.json").tokens == vocab.tokens
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a textrecipes vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")


def test_vectorizer_right_pads_truncates_and_never_emits_an_all_padding_row():
    v = TextVectorizer(["good", "film", "北"], max_length=3)
    out = v(tf.constant(["good film", "", "good good good good", "unknown 北"])).numpy()
    assert out.tolist() == [[2, 3, 0], [OOV_ID, 0, 0], [2, 2, 2], [OOV_ID, 4, 0]]
    assert (out[:, 0] != PAD_ID).all()
    # right padding: once a row hits padding, it stays padding
    assert all(np.all(np.diff((row == PAD_ID).astype(int)) >= 0) for row in out)
    assert v(tf.constant(["", ""])).numpy().tolist() == [[OOV_ID], [OOV_ID]]


def test_vectorizer_fixed_length_and_config_roundtrip():
    v = TextVectorizer(["a"], max_length=4, pad_to="max_length")
    assert v(tf.constant(["a a"])).numpy().tolist() == [[2, 2, 0, 0]]
    clone = TextVectorizer.from_config(v.get_config())
    assert clone(tf.constant(["a a"])).numpy().tolist() == [[2, 2, 0, 0]]
    with pytest.raises(ValueError, match="pad_to"):
        TextVectorizer(["a"], pad_to="pre")


def test_vectorizer_runs_inside_tf_data():
    v = TextVectorizer(["good"])
    ds = tf.data.Dataset.from_tensor_slices(["good", "", "good x"]).batch(3).map(v)
    assert next(iter(ds)).numpy().tolist() == [[2, 0], [OOV_ID, 0], [2, OOV_ID]]
