"""Streaming a TSV larger than memory: the one-pass vocabulary and the TextLineDataset pipeline."""

import numpy as np
import pytest
import tensorflow as tf

from textrecipes.models.classifiers import build_lstm_classifier
from textrecipes.data.streaming import build_vocabulary_streaming, stream_dataset
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, tokenize

LINES = 20_000
BAD = ["no tab on this line\n", "pos\t   \n", "\tan empty label\n", "maybe\tan unknown label\n", "pos\ttoo\tmany\n"]


@pytest.fixture(scope="module")
def big_tsv(tmp_path_factory):
    """20,000 labelled lines over a Zipf-distributed vocabulary of 5,000 words, plus 5 bad lines."""
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(5000)])
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()
    path = tmp_path_factory.mktemp("stream") / "big.tsv"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(LINES):
            label = "pos" if i % 2 else "neg"
            cue = "great" if label == "pos" else "awful"
            body = " ".join(rng.choice(words, size=int(rng.integers(3, 25)), p=p))
            f.write(f"{label}\t{cue} {body}, Really!\r\n" if i % 7 == 0 else f"{label}\t{body} {cue}.\n")
            if i % 4000 == 1:
                f.write(BAD[i // 4000])
    return str(path)


def _texts(path):
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\r\n").split("\t") for line in f]
    return [r[1] for r in rows if len(r) == 2 and r[0] in ("pos", "neg") and r[1].strip()]


def test_streaming_vocabulary_equals_the_in_memory_one_without_pruning(big_tsv):
    vocab, stats = build_vocabulary_streaming(big_tsv, max_tokens=3000, batch_size=1000, labels=["neg", "pos"])
    expected = Vocabulary.build(tokenize(_texts(big_tsv)), max_tokens=3000)
    assert vocab.tokens == expected.tokens and vocab.counts_ == expected.counts_
    assert stats.lines == LINES + len(BAD) and stats.bad_lines == len(BAD) and not stats.pruned
    assert "\r" not in "".join(vocab.tokens)


def test_streaming_vocabulary_memory_is_bounded_and_frequent_tokens_survive_pruning(big_tsv):
    cap = 400
    vocab, stats = build_vocabulary_streaming(big_tsv, max_tokens=102, batch_size=500, max_counter_size=cap,
                                               labels=["neg", "pos"])
    assert stats.pruned
    # At most the cap plus the distinct tokens of one 500-line batch, never the 5,000 of the file.
    assert stats.max_counter_entries <= cap + 500 * 25
    exact = Vocabulary.build(tokenize(_texts(big_tsv)), max_tokens=102)
    top = set(exact.tokens[:50])
    assert len(top & set(vocab.tokens)) >= 48
    for token in exact.tokens[:10]:  # the most frequent counts are close to exact
        assert abs(vocab.counts_[token] - exact.counts_[token]) <= 0.02 * exact.counts_[token]


def test_one_epoch_streams_the_file_and_counts_bad_lines(big_tsv):
    vocab, _ = build_vocabulary_streaming(big_tsv, max_tokens=2000)
    vectorizer = TextVectorizer(vocab.tokens, max_length=64)
    ds, stats = stream_dataset(big_tsv, vectorizer, ["neg", "pos"], "binary", batch_size=128, shuffle_buffer=2000)
    model = build_lstm_classifier(len(vocab), 2, embedding_dim=8, units=8, bidirectional=False, dropout=0.0,
                                  embedding_dropout=0.0)
    model.compile("adam", "binary_crossentropy", metrics=["binary_accuracy"])
    history = model.fit(ds, epochs=1, verbose=0)
    assert int(stats.lines) == LINES + len(BAD) and int(stats.bad_lines) == len(BAD)
    assert np.isfinite(history.history["loss"][0]) and history.history["binary_accuracy"][0] > 0.8


def test_stream_targets_match_encode_labels_and_shuffle_is_seeded(tmp_path):
    path = tmp_path / "three.tsv"
    path.write_text("b\tsecond text\na\tfirst\nc\tthird one here\n", encoding="utf-8")
    vectorizer = TextVectorizer(["first", "second", "third"])
    ds, _ = stream_dataset(str(path), vectorizer, ["a", "b", "c"], "multiclass", batch_size=8, shuffle_buffer=0)
    (x, y), = list(ds)
    assert y.dtype == tf.int32 and y.numpy().tolist() == [1, 0, 2]
    assert x.numpy()[:, 0].tolist() == [3, 2, 4]
    orders = []
    for _ in range(2):
        ds, _ = stream_dataset(str(path), vectorizer, ["a", "b", "c"], "multiclass", batch_size=1, seed=3)
        orders.append([int(y.numpy()[0]) for _, y in ds])
    assert orders[0] == orders[1] and sorted(orders[0]) == [0, 1, 2]


def test_on_bad_lines_error_names_the_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("pos\tfine\nneg\talso fine\nno tab here\npos\tok\n", encoding="utf-8")
    vectorizer = TextVectorizer(["fine"])
    ds, _ = stream_dataset(str(path), vectorizer, ["neg", "pos"], batch_size=8, shuffle_buffer=0, on_bad_lines="error")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"bad\.tsv: bad line.*\n?.*\b3\b"):
        list(ds)


def test_stream_dataset_rejects_what_it_cannot_do(tmp_path):
    vectorizer = TextVectorizer(["x"])
    with pytest.raises(ValueError, match="binary and multiclass"):
        stream_dataset("x.tsv", vectorizer, ["a", "b"], "multilabel")
    with pytest.raises(ValueError, match="exactly 2 labels"):
        stream_dataset("x.tsv", vectorizer, ["a", "b", "c"], "binary")


def test_a_bom_on_the_first_line_is_not_part_of_its_label(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes("\ufeffneg\tfirst text\npos\tsecond\n".encode("utf-8"))
    vectorizer = TextVectorizer(["first", "second"])
    ds, stats = stream_dataset(str(path), vectorizer, ["neg", "pos"], batch_size=8, shuffle_buffer=0,
                               on_bad_lines="error")
    (_, y), = list(ds)
    assert y.numpy().reshape(-1).tolist() == [0, 1] and int(stats.bad_lines) == 0
