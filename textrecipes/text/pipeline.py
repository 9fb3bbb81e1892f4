"""Records → `tf.data` batches: vectorization inside the input pipeline.

Texts are shuffled (seeded), batched, then vectorized by the same
`TextVectorizer` the export puts in front of the model, so the CPU prepares the
next batches while the accelerator trains. Each batch is padded to its own
longest text, not to the longest in the dataset. Optional length bucketing
groups texts of similar length so that batches carry little padding.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from textrecipes.text.tokenization import TextVectorizer


def encode_labels(labels: Sequence, label_names: Sequence[str], task: str) -> np.ndarray:
    """Label strings (or tuples for multi-label) → the targets the loss expects.

    Args:
        labels: one label per example; a tuple of labels per example for multi-label.
        label_names: the label names in output order.
        task: "binary", "multiclass" or "multilabel".

    Returns:
        float32 0/1 targets of shape ``(n, 1)`` for binary, int32 label ids of
        shape ``(n,)`` for multi-class, float32 multi-hot rows of shape
        ``(n, len(label_names))`` for multi-label.

    Raises:
        ValueError: when a label is not in ``label_names``.

    Example:
        >>> encode_labels(["b", "a"], ["a", "b"], "multiclass").tolist()
        [1, 0]
    """
    index = {name: i for i, name in enumerate(label_names)}
    missing = sorted({str(l) for ls in labels for l in (ls if isinstance(ls, tuple) else (ls,)) if l not in index})
    if missing:
        raise ValueError(f"labels {missing[:5]} are not in the model's label set {list(label_names)}")
    if task == "multilabel":
        y = np.zeros((len(labels), len(label_names)), dtype="float32")
        for row, ls in enumerate(labels):
            for l in ls if isinstance(ls, tuple) else (ls,):
                y[row, index[l]] = 1.0
        return y
    ids = np.array([index[l] for l in labels], dtype="int32")
    return ids.astype("float32")[:, None] if task == "binary" else ids


def make_dataset(
    texts: Sequence[str],
    targets: np.ndarray | None,
    vectorizer: TextVectorizer,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    bucket: bool = False,
    augmenter=None,
    epoch_variable: tf.Variable | None = None,
    augment_probability: float = 1.0,
) -> tf.data.Dataset:
    """Builds the batched, vectorized dataset for `fit`, `evaluate` or `predict`.

    Args:
        texts: raw texts (already pre-segmented for ``split="jieba"``).
        targets: encoded labels (`encode_labels`) or None for prediction.
        vectorizer: the `TextVectorizer` shared with the export.
        batch_size: examples per batch. Default 32.
        shuffle: reshuffle every epoch, deterministically from ``seed``. Default False.
        seed: shuffle seed. Default 0.
        bucket: group texts of similar length into the same batch (within a
            shuffled window of 50 batches) so batches carry less padding. Every
            example is still seen exactly once per epoch. Default False.
        augmenter: a `textrecipes.augment.eda.Augmenter` for on-the-fly augmentation
            of training data; None (default) for none. Needs ``epoch_variable``
            (set each epoch by `AugmentEpochCallback`).
        epoch_variable: int64 `tf.Variable` holding the current epoch.
        augment_probability: chance that an example is replaced by its variant
            in a given epoch, drawn from (seed, epoch, example). Default 1.0.

    Returns:
        A `tf.data.Dataset` of ``(ids, targets)`` batches (``ids`` alone when
        ``targets`` is None), prefetched.

    Example:
        >>> v = TextVectorizer(["good", "bad"])
        >>> ds = make_dataset(["good", "bad film"], np.array([1, 0]), v, batch_size=2)
        >>> [x.shape for x, y in ds]
        [TensorShape([2, 2])]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    texts = tf.constant(list(texts), dtype=tf.string)
    data = tf.data.Dataset.from_tensor_slices(texts if targets is None else (texts, targets))
    if augmenter is not None:
        if targets is None or epoch_variable is None:
            raise ValueError("augmentation is for training data: give targets and epoch_variable")
        data = data.enumerate()  # the example's identity, fixed before shuffling
    if shuffle:
        data = data.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    if augmenter is not None:
        data = _augment(data, augmenter, epoch_variable, augment_probability)
    if bucket:
        # Sort each window of 50 batches by length, cut it into batches, then
        # shuffle the batches: similar lengths together, order still random.
        window = batch_size * 50
        if targets is None:
            raise ValueError("bucket=True is for training data; prediction keeps the input order")

        def sort_window(ts, ys):
            lengths = tf.strings.length(ts, unit="UTF8_CHAR")  # a cheap proxy for token count
            order = tf.argsort(lengths, stable=True)
            return tf.data.Dataset.from_tensor_slices((tf.gather(ts, order), tf.gather(ys, order))).batch(batch_size)

        data = data.batch(window).flat_map(sort_window)
        full, rest = divmod(len(texts), window)
        batches = full * (window // batch_size) + -(-rest // batch_size)
        data = data.apply(tf.data.experimental.assert_cardinality(batches))  # lets Keras count steps
        if shuffle:
            data = data.shuffle(64, seed=seed + 1, reshuffle_each_iteration=True)
    else:
        data = data.batch(batch_size)
    if targets is None:
        data = data.map(vectorizer, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        data = data.map(lambda x, y: (vectorizer(x), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)


def _augment(data: tf.data.Dataset, augmenter, epoch_variable, probability: float) -> tf.data.Dataset:
    """(index, (text, target)) → (text or its variant, target), deterministic in (seed, epoch, index)."""
    from textrecipes.augment.eda import augment_dataset

    flat = data.map(lambda index, example: (index, example[0], example[1]))
    return augment_dataset(flat, augmenter, epoch_variable, probability=probability)
