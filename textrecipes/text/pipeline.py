"""Records → `tf.data` batches: vectorization inside the input pipeline.

Texts are shuffled (seeded), batched, then vectorized by the same
`TextVectorizer` the export puts in front of the model, so the CPU prepares the
next batches while the accelerator trains. Each batch is padded to its own
longest text, not to the longest in the dataset. Optional length bucketing
groups texts of similar length so that batches carry little padding.

One builder per kind of record: `make_dataset` (texts), `make_pair_dataset`
(text pairs, with their token keys for match features) and
`make_tagging_dataset` (token lists with a tag per token, and the token lookup
of whitespace-split sentences, `token_lookup` / `sentence_ids`).
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from textrecipes.augment.on_the_fly import augment_dataset
from textrecipes.text.tokenization import OOV_ID, OOV_TOKEN, TextVectorizer


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
        if targets is None:
            raise ValueError("bucket=True is for training data; prediction keeps the input order")
        data = bucket_batches(data, batch_size, len(texts), shuffle=shuffle, seed=seed)
    else:
        data = data.batch(batch_size)
    if targets is None:
        data = data.map(vectorizer, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        data = data.map(lambda x, y: (vectorizer(x), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)


def bucket_batches(data: tf.data.Dataset, batch_size: int, examples: int, *, shuffle: bool = False,
                   seed: int = 0) -> tf.data.Dataset:
    """``(text, target)`` examples → batches of texts of similar length, with their cardinality asserted.

    Each window of 50 batches is sorted by length and cut into batches; with
    ``shuffle`` the batches are then shuffled (64 at a time, seeded): similar
    lengths together, the order still random. Every example is seen once.

    Args:
        data: a dataset of ``(text, target)`` scalars.
        batch_size: examples per batch.
        examples: how many examples ``data`` holds (Keras then knows the steps).
        shuffle: shuffle the batches, reshuffled each epoch. Default False.
        seed: the batch shuffle's seed is ``seed + 1``. Default 0.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((["a b", "a", "a b c"], [0, 1, 0]))
        >>> [len(x) for x, y in bucket_batches(ds, 2, 3)]
        [2, 1]
    """
    window = batch_size * 50

    def sort_window(ts, ys):
        lengths = tf.strings.length(ts, unit="UTF8_CHAR")  # a cheap proxy for token count
        order = tf.argsort(lengths, stable=True)
        return tf.data.Dataset.from_tensor_slices((tf.gather(ts, order), tf.gather(ys, order))).batch(batch_size)

    data = data.batch(window).flat_map(sort_window)
    full, rest = divmod(examples, window)
    batches = full * (window // batch_size) + -(-rest // batch_size)
    data = data.apply(tf.data.experimental.assert_cardinality(batches))  # lets Keras count steps
    if shuffle:
        data = data.shuffle(64, seed=seed + 1, reshuffle_each_iteration=True)
    return data


def _augment(data: tf.data.Dataset, augmenter, epoch_variable, probability: float) -> tf.data.Dataset:
    """(index, (text, target)) → (text or its variant, target), deterministic in (seed, epoch, index)."""

    flat = data.map(lambda index, example: (index, example[0], example[1]))
    return augment_dataset(flat, augmenter, epoch_variable, probability=probability)


def make_pair_dataset(texts_a: Sequence[str], texts_b: Sequence[str], targets, vectorizer: TextVectorizer, *,
                      batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                      keys=None) -> tf.data.Dataset:
    """Batches of ``({"ids_a", "ids_b"}, targets)``, both texts vectorized in the pipeline.

    Args:
        texts_a: first texts.
        texts_b: second texts, as many.
        targets: encoded labels, or None for prediction.
        vectorizer: the shared `TextVectorizer`.
        batch_size: Default 32.
        shuffle: reshuffle every epoch, seeded. Default False.
        seed: shuffle seed. Default 0.
        keys: a `TokenKeys` layer: the batches then also hold ``"keys_a"`` and
            ``"keys_b"`` (for a model with match features). Default None.

    Returns:
        A prefetched `tf.data.Dataset`.

    Example:
        >>> v = TextVectorizer(["good", "bad"])
        >>> ds = make_pair_dataset(["good"], ["bad film"], np.array([1]), v)
        >>> [x["ids_b"].shape for x, y in ds]
        [TensorShape([1, 2])]
    """
    if len(texts_a) != len(texts_b):
        raise ValueError(f"texts_a and texts_b differ in length: {len(texts_a)} vs {len(texts_b)}")
    texts = (tf.constant(list(texts_a), tf.string), tf.constant(list(texts_b), tf.string))
    data = tf.data.Dataset.from_tensor_slices((texts,) if targets is None else (texts, targets))
    if shuffle:
        data = data.shuffle(len(texts_a), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)

    def vectorize(pair, *y):
        ids = {"ids_a": vectorizer(pair[0]), "ids_b": vectorizer(pair[1])}
        if keys is not None:
            ids.update(keys_a=keys(pair[0]), keys_b=keys(pair[1]))
        return (ids, *y) if y else ids

    return data.map(vectorize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def token_lookup(vocabulary: Sequence[str]) -> keras.layers.StringLookup:
    """The token → id table: 0 pads (the empty string), 1 is OOV, vocabulary ids from 2.

    Args:
        vocabulary: the `Vocabulary` tokens.

    Returns:
        A `keras.layers.StringLookup`.

    Example:
        >>> token_lookup(["a"])(tf.constant(["a", "b", ""])).numpy().tolist()
        [2, 1, 0]
    """
    return keras.layers.StringLookup(vocabulary=list(vocabulary), mask_token="", oov_token=OOV_TOKEN,
                                     num_oov_indices=1, output_mode="int")


def sentence_ids(tokens: tf.RaggedTensor, lookup, lowercase: bool) -> tf.Tensor:
    """Ragged token strings → right-padded int32 ids; an empty sentence gets one OOV id (never fully masked).

    Args:
        tokens: ``(batch, None)`` token strings.
        lookup: the `token_lookup` table.
        lowercase: lowercase (Unicode) before the lookup.

    Returns:
        An int32 tensor ``(batch, max(longest, 1))``.

    Example:
        >>> sentence_ids(tf.ragged.constant([["A", "b"], []]), token_lookup(["a"]), True).numpy().tolist()
        [[2, 1], [1, 0]]
    """
    if lowercase:
        tokens = tf.ragged.map_flat_values(tf.strings.lower, tokens, encoding="utf-8")
    ids = tf.cast(tf.ragged.map_flat_values(lookup, tokens), tf.int32)
    dense = ids.to_tensor(0)
    dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])
    first = tf.where(ids.row_lengths()[:, None] > 0, dense[:, :1], OOV_ID)
    return tf.concat([first, dense[:, 1:]], axis=1)


def make_tagging_dataset(sentences: Sequence[Sequence[str]], tag_ids, lookup, *, lowercase: bool, batch_size: int = 32,
                         shuffle: bool = False, seed: int = 0, max_length: int | None = None) -> tf.data.Dataset:
    """Batches of ``(ids, tag ids, weights)``: right-padded, weight 1 on real tokens and 0 on padding.

    Args:
        sentences: token lists.
        tag_ids: one list of tag ids per sentence.
        lookup: the `token_lookup` table.
        lowercase: lowercase tokens before the lookup.
        batch_size: Default 32.
        shuffle: reshuffle every epoch, seeded. Default False.
        seed: shuffle seed. Default 0.
        max_length: truncate longer sentences (training). Default None.

    Returns:
        A prefetched `tf.data.Dataset`.

    Example:
        >>> ds = make_tagging_dataset([["a", "b"], ["a"]], [[0, 1], [1]], token_lookup(["a"]), lowercase=True)
        >>> [w.numpy().tolist() for x, y, w in ds]
        [[[1.0, 1.0], [1.0, 0.0]]]
    """
    cut = slice(0, max_length)
    tokens = tf.ragged.constant([list(s)[cut] for s in sentences], dtype=tf.string, row_splits_dtype=tf.int64)
    tags = tf.ragged.constant([list(t)[cut] for t in tag_ids], dtype=tf.int32, row_splits_dtype=tf.int64)
    data = tf.data.Dataset.from_tensor_slices((tokens, tags))
    if shuffle:
        data = data.shuffle(len(sentences), seed=seed, reshuffle_each_iteration=True)
    data = data.ragged_batch(batch_size)

    def encode(tok, tg):
        ids = sentence_ids(tok, lookup, lowercase)
        y = tg.to_tensor(0, shape=tf.shape(ids, out_type=tf.int64))
        weights = tf.cast(tf.sequence_mask(tok.row_lengths(), tf.shape(ids)[1]), tf.float32)
        return ids, y, weights

    return data.map(encode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
