"""The tf.data pipeline: labels, bucketing, seeded shuffling, on-the-fly augmentation."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from textrecipes.augment.eda import Augmenter
from textrecipes.text.pipeline import encode_labels, make_dataset
from textrecipes.text.tokenization import PAD_ID, TextVectorizer

WORDS = [f"w{i}" for i in range(50)]


def corpus(n=300, seed=0):
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(0, 30))) for _ in range(n)]
    return texts, np.arange(n, dtype="int32")  # the target is the example's id


def test_encode_labels():
    assert encode_labels(["b", "a"], ["a", "b"], "binary").tolist() == [[1.0], [0.0]]
    assert encode_labels([("a", "c")], ["a", "b", "c"], "multilabel").tolist() == [[1, 0, 1]]
    with pytest.raises(ValueError, match="not in the model's label set"):
        encode_labels(["z"], ["a", "b"], "multiclass")


@pytest.mark.parametrize("bucket", [False, True])
def test_every_example_once_per_epoch_and_no_all_padding_row(bucket):
    texts, ids = corpus()
    ds = make_dataset(texts, ids, TextVectorizer(WORDS), batch_size=16, shuffle=True, seed=1, bucket=bucket)
    for _ in range(2):
        seen = []
        for x, y in ds:
            x = x.numpy()
            assert (x[:, 0] != PAD_ID).all()  # right-padded and never fully masked
            seen.extend(y.numpy().tolist())
        assert sorted(seen) == list(range(len(texts)))


def test_bucketing_reduces_padding():
    texts, ids = corpus(1600)
    def padding(bucket):
        ds = make_dataset(texts, ids, TextVectorizer(WORDS), batch_size=16, shuffle=True, seed=0, bucket=bucket)
        return sum(int((x.numpy() == PAD_ID).sum()) for x, _ in ds)
    assert padding(True) < 0.5 * padding(False)


def test_shuffle_is_seeded():
    texts, ids = corpus()
    order = lambda seed: [y.numpy().tolist() for _, y in make_dataset(texts, ids, TextVectorizer(WORDS), shuffle=True, seed=seed)]
    assert order(3) == order(3) != order(4)


def test_on_the_fly_augmentation_changes_each_epoch_and_replays_exactly():
    texts, ids = corpus(200)
    epoch = tf.Variable(0, dtype=tf.int64)
    aug = Augmenter(None, alpha_rs=0.3, p_rd=0.3, seed=0)  # swap and deletion need no synonym source
    ds = make_dataset(texts, ids, TextVectorizer(WORDS), batch_size=200, seed=0, augmenter=aug, epoch_variable=epoch,
                      augment_probability=1.0)
    def rows():
        x, y = next(iter(ds))
        return {int(i): tuple(r[r != PAD_ID]) for i, r in zip(y.numpy(), x.numpy())}
    first, again = rows(), rows()
    epoch.assign(1)
    second = rows()
    assert first == again
    changed = sum(first[i] != second[i] for i in first)
    assert changed > 100
    # swap and deletion only reorder or drop tokens of the original
    original = {i: collections.Counter(TextVectorizer(WORDS)(tf.constant([t])).numpy()[0].tolist()) for i, t in enumerate(texts)}
    assert all(not (collections.Counter(r) - original[i]) for i, r in second.items())


def test_augmentation_probability_keeps_some_originals():
    texts, ids = corpus(400)
    epoch = tf.Variable(2, dtype=tf.int64)
    aug = Augmenter(None, alpha_rs=0.5, p_rd=0.5, seed=0)
    plain = make_dataset(texts, ids, TextVectorizer(WORDS), batch_size=400)
    mixed = make_dataset(texts, ids, TextVectorizer(WORDS), batch_size=400, augmenter=aug, epoch_variable=epoch,
                         augment_probability=0.5)
    (x0, _), (x1, _) = next(iter(plain)), next(iter(mixed))
    long_rows = np.array([len(t.split()) >= 5 for t in texts])
    same = np.array([np.array_equal(a, b) for a, b in zip(x0.numpy(), x1.numpy())])
    assert 0.3 < same[long_rows].mean() < 0.7
