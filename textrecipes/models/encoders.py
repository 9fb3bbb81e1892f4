"""The shared token encoder: Embedding(mask_zero) → (Bi)LSTM → pooling, and the output layer every head ends in.

`encode_tokens` is used by the classifiers, the pair model (once for both
texts) and the tagger (without pooling). The LSTM keeps to the cuDNN-eligible
configuration (tanh/sigmoid, no recurrent dropout, masks from right padding).
"""

from __future__ import annotations

import keras
from keras import layers

from textrecipes.models.layers import INITIALIZERS, AppendFeatures, AttentionPooling, MaskedPooling
from textrecipes.models.losses import TASKS

POOLINGS = ("last", "max", "mean_max", "attention")


def output_layer(task: str, num_labels: int, **kwargs) -> layers.Dense:
    """The classifier head: sigmoid for binary/multi-label, softmax for multi-class.

    Kept in float32 so mixed-precision training stays numerically safe.

    Args:
        task: "binary", "multiclass" or "multilabel".
        num_labels: the number of labels (a binary head has one unit whatever it is).
        **kwargs: passed on to `keras.layers.Dense`, e.g. ``kernel_regularizer``.

    Returns:
        A float32 `keras.layers.Dense` layer named "probabilities".

    Raises:
        ValueError: when ``task`` is not one of the three.

    Example:
        >>> head = output_layer("multiclass", 3)
        >>> head.units, head.activation.__name__
        (3, 'softmax')
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "binary":
        return layers.Dense(1, activation="sigmoid", dtype="float32", name="probabilities", **kwargs)
    activation = "softmax" if task == "multiclass" else "sigmoid"
    return layers.Dense(num_labels, activation=activation, dtype="float32", name="probabilities", **kwargs)


def kernel_initializer(name: str, seed: int):
    """A seeded kernel initializer by name.

    Args:
        name: a key of `INITIALIZERS` ("glorot_uniform", "he_normal", "orthogonal", ...).
        seed: the initializer's seed.

    Returns:
        A `keras.initializers.Initializer`.

    Raises:
        ValueError: for an unknown name.

    Example:
        >>> type(kernel_initializer("he_normal", 0)).__name__
        'HeNormal'
    """
    if name not in INITIALIZERS:
        raise ValueError(f"initializer must be one of {sorted(INITIALIZERS)}, got {name!r}")
    return INITIALIZERS[name](seed=seed)


def _embed(ids, vocabulary_size, embedding_dim, token_dropout, embedding_dropout, seed):
    """Embedding(mask_zero) → word dropout → spatial dropout (the shared front of every builder)."""
    x = layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="embedding",
                         embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=seed))(ids)
    if token_dropout:  # one draw per (example, token): the whole word vector is dropped
        x = layers.Dropout(token_dropout, noise_shape=(None, None, 1), seed=seed + 9, name="token_dropout")(x)
    if embedding_dropout:
        x = layers.SpatialDropout1D(embedding_dropout, seed=seed + 1, name="embedding_dropout")(x)
    return x


def encode_tokens(ids, vocabulary_size: int, *, embedding_dim: int = 128, units: int = 128, bidirectional: bool = True,
                  pooling: str | None = "mean_max", embedding_dropout: float = 0.2, token_dropout: float = 0.2,
                  regularizer=None, seed: int = 0, cell: str = "lstm", layers: int = 1,
                  initializer: str = "glorot_uniform", features=None):
    """The shared text encoder: Embedding(mask_zero) → word/spatial dropout → stacked (Bi)RNN → masked pooling.

    The encoder of the LSTM and GRU classifiers, with their layer names and
    seeds; also used by the pair model (`textrecipes.tasks.pairs`, one encoder for
    both texts) and the tagger (`textrecipes.tasks.tagging`, ``pooling=None``).

    Args:
        ids: a Keras tensor of right-padded int ids ``(batch, time)``; 0 pads.
        vocabulary_size: ids the embedding accepts.
        embedding_dim: embedding size. Default 128.
        units: RNN units per direction. Default 128.
        bidirectional: read both directions. Default True.
        pooling: "last", "max", "mean_max" (default), "attention", or None for
            every (masked) RNN state, ``(batch, time, features)``.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: word dropout on whole token vectors. Default 0.2.
        regularizer: kernel regularizer of the RNNs, or None (default).
        seed: seeds initializers and dropout. Default 0.
        cell: "lstm" (default) or "gru"; both keep their cuDNN-eligible defaults.
        layers: stacked RNN layers. Default 1.
        initializer: a key of `INITIALIZERS` for the kernels. Default "glorot_uniform".
        features: a Keras tensor ``(batch, time, k)`` of per-token features appended
            to the (dropped-out) embeddings before the RNN, the embeddings' mask kept
            (the pair model's exact-match flags), or None (default).

    Returns:
        The encoded Keras tensor.

    Example:
        >>> ids = keras.Input(shape=(None,), dtype="int32")
        >>> encode_tokens(ids, 100, embedding_dim=8, units=4, pooling=None).shape
        (None, None, 8)
    """
    if pooling is not None and pooling not in POOLINGS:
        raise ValueError(f"pooling must be None or one of {POOLINGS}, got {pooling!r}")
    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be a positive integer, got {layers!r}")
    rnn_class = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    x = _embed(ids, vocabulary_size, embedding_dim, token_dropout, embedding_dropout, seed)
    if features is not None:
        x = AppendFeatures(name="append_features")([x, features])
    for i in range(layers):
        k = 0 if i == 0 else 20 + 3 * i  # the first layer keeps the single-layer model's seeds
        suffix = "" if i == 0 else f"_{i + 1}"
        rnn = rnn_class(
            units, return_sequences=pooling != "last" or i < layers - 1,
            kernel_initializer=kernel_initializer(initializer, seed + 2 + k),
            recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 3 + k),
            kernel_regularizer=regularizer, seed=seed + 4 + k, name=cell + suffix,
        )
        x = keras.layers.Bidirectional(rnn, name=f"bi{cell}{suffix}")(x) if bidirectional else rnn(x)
    if pooling == "attention":
        x = AttentionPooling(units, initializer=initializer, seed=seed + 11, name="attention")(x)
    elif pooling not in (None, "last"):
        x = MaskedPooling(("max",) if pooling == "max" else ("mean", "max"), name="pooling")(x)
    return x
