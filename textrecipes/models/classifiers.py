"""Model builders: integer ids → class probabilities.

Only Keras layers and ops (no `tf.*`), so the same model trains under the
TensorFlow backend here and can be timed under JAX on a GPU. The LSTM keeps to
the cuDNN-eligible configuration (tanh/sigmoid, no recurrent dropout, masks
from right padding).
"""

from __future__ import annotations

import keras
from keras import layers

TASKS = ("binary", "multiclass", "multilabel")
POOLINGS = ("last", "max", "mean_max", "attention")
NORMALIZATIONS = ("none", "batch", "layer")
INITIALIZERS = {
    "glorot_uniform": keras.initializers.GlorotUniform,
    "glorot_normal": keras.initializers.GlorotNormal,
    "he_uniform": keras.initializers.HeUniform,
    "he_normal": keras.initializers.HeNormal,
    "lecun_uniform": keras.initializers.LecunUniform,
    "lecun_normal": keras.initializers.LecunNormal,
    "orthogonal": keras.initializers.Orthogonal,
    "truncated_normal": keras.initializers.TruncatedNormal,
}


@keras.saving.register_keras_serializable(package="textrecipes")
class MaskedPooling(layers.Layer):
    """Concatenates masked max-, mean- and/or sqrt-n pooling over time.

    Why our own: Keras' `GlobalMaxPooling1D` ignores the mask, so padding
    positions (zeros after the LSTM) would win the max for negative features.

    Args:
        modes: tuple of "max", "mean" and/or "sqrtn" (the sum divided by the
            square root of the number of unmasked steps, TensorFlow's
            ``combiner="sqrtn"``: the scale of a bag of n random vectors does
            not shrink as n grows). Default ("mean", "max").

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1.0], [3.0], [0.0]]], "float32")
        >>> m = np.array([[True, True, False]])
        >>> MaskedPooling()(x, mask=m).numpy().tolist()
        [[2.0, 3.0]]
    """

    def __init__(self, modes=("mean", "max"), **kwargs):
        super().__init__(**kwargs)
        bad = [m for m in modes if m not in ("mean", "max", "sqrtn")]
        if bad or not modes:
            raise ValueError(f"modes must be a non-empty subset of ('mean', 'max', 'sqrtn'), got {modes!r}")
        self.modes = tuple(modes)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        ops = keras.ops
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        m = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        out = []
        for mode in self.modes:
            if mode in ("mean", "sqrtn"):
                count = ops.maximum(ops.sum(m, axis=1), 1.0)
                out.append(ops.sum(inputs * m, axis=1) / (count if mode == "mean" else ops.sqrt(count)))
            else:
                very_negative = ops.cast(-1e4, inputs.dtype)
                out.append(ops.max(ops.where(m > 0, inputs, very_negative), axis=1))
        return ops.concatenate(out, axis=-1) if len(out) > 1 else out[0]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] * len(self.modes))

    def get_config(self):
        return {**super().get_config(), "modes": list(self.modes)}


@keras.saving.register_keras_serializable(package="textrecipes")
class HashedBigrams(layers.Layer):
    """Token ids → hashed bigram ids (0 where either token is padding), Keras ops only.

    Why our own: Keras' `Hashing` layer works on strings before vectorization;
    computing bigrams from ids inside the model keeps one vectorizer for training
    and export, and runs on any backend.

    Args:
        buckets: number of bigram ids (ids run from 1 to ``buckets``). Default 131072.
        words: also hash each word into the same table (fastText's bag of words and
            bigrams in one table); the output then holds ``time`` word ids followed
            by ``time - 1`` bigram ids. Default False.

    Example:
        >>> import numpy as np
        >>> HashedBigrams(100)(np.array([[5, 7, 0]])).shape
        (1, 2)
        >>> HashedBigrams(100, words=True)(np.array([[5, 7, 0]])).shape
        (1, 5)
    """

    def __init__(self, buckets=131072, words=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(buckets, int) or not 1 <= buckets <= 2**20:
            raise ValueError(f"buckets must be an integer in [1, 2**20], got {buckets!r}")
        self.buckets = buckets
        self.words = bool(words)

    def call(self, ids):
        ops = keras.ops
        ids = ops.cast(ids, "int32")
        first, second = ids[:, :-1], ids[:, 1:]
        # Small multipliers keep every intermediate below 2**31 (int32 on every backend).
        hashed = ops.mod(ops.mod(first, 65521) * 10007 + ops.mod(second, 65521), self.buckets) + 1
        bigrams = ops.where(ops.logical_and(first > 0, second > 0), hashed, 0)
        if not self.words:
            return bigrams
        # A word hashes as a bigram with a second token (65521) that no real id reduces to.
        words = ops.where(ids > 0, ops.mod(ops.mod(ids, 65521) * 10007 + 65521, self.buckets) + 1, 0)
        return ops.concatenate([words, bigrams], axis=1)

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else max(input_shape[1] - 1, 0)
        if self.words and steps is not None:
            steps += input_shape[1]
        return (input_shape[0], steps)

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets, "words": self.words}


@keras.saving.register_keras_serializable(package="textrecipes")
class FirstTokens(layers.Layer):
    """Keeps the first ``length`` positions of right-padded ids (what the RNN reads).

    Other branches (the hashed n-grams) still see the whole text, so a long
    document costs the RNN at most ``length`` steps. A text with at least one
    token keeps it, so no row becomes fully masked.

    Args:
        length: positions kept. Must be at least 1.

    Example:
        >>> import numpy as np
        >>> FirstTokens(2)(np.array([[5, 7, 9, 0]])).numpy().tolist()
        [[5, 7]]
    """

    def __init__(self, length, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive integer, got {length!r}")
        self.length = length

    def call(self, ids):
        return ids[:, : self.length]

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else min(input_shape[1], self.length)
        return (input_shape[0], steps)

    def get_config(self):
        return {**super().get_config(), "length": self.length}


@keras.saving.register_keras_serializable(package="textrecipes")
class AppendFeatures(layers.Layer):
    """Concatenates per-token features to the token vectors, keeping the token vectors' mask.

    Why our own: Keras' `Concatenate` ORs the masks of its inputs, and an unmasked
    feature tensor would unmask every padding position.

    Args:
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> x, f = np.ones((1, 2, 3), "float32"), np.zeros((1, 2, 1), "float32")
        >>> AppendFeatures()([x, f]).shape
        (1, 2, 4)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        x, features = inputs
        return keras.ops.concatenate([x, keras.ops.cast(features, x.dtype)], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], input_shape[0][-1] + input_shape[1][-1])


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


@keras.saving.register_keras_serializable(package="textrecipes")
class AttentionPooling(layers.Layer):
    """Additive attention over time: a masked softmax of learned scores weights the states.

    ``score_t = v · tanh(W h_t + b)``; padded steps get no weight, so more right
    padding never changes the output (Bahdanau-style pooling as in Yang et al. 2016).

    Args:
        units: size of the attention's hidden layer. Default 64.
        initializer: initializer name for ``W`` and ``v`` (a key of `INITIALIZERS`).
            Default "glorot_uniform".
        seed: seeds the initializers. Default None.

    Example:
        >>> import numpy as np
        >>> x = np.ones((2, 5, 8), "float32")
        >>> m = np.array([[True] * 5, [True, True, False, False, False]])
        >>> tuple(AttentionPooling(4, seed=0)(x, mask=m).shape)
        (2, 8)
    """

    def __init__(self, units=64, initializer="glorot_uniform", seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        if initializer not in INITIALIZERS:
            raise ValueError(f"initializer must be one of {sorted(INITIALIZERS)}, got {initializer!r}")
        self.units, self.initializer, self.seed = units, initializer, seed
        self.supports_masking = True

    def build(self, input_shape):
        dim = input_shape[-1]
        offset = lambda k: None if self.seed is None else self.seed + k  # noqa: E731
        self.w = self.add_weight(shape=(dim, self.units), name="w", initializer=INITIALIZERS[self.initializer](seed=offset(0)))
        self.b = self.add_weight(shape=(self.units,), name="b", initializer="zeros")
        self.v = self.add_weight(shape=(self.units, 1), name="v", initializer=INITIALIZERS[self.initializer](seed=offset(1)))

    def call(self, inputs, mask=None):
        ops = keras.ops
        scores = ops.matmul(ops.tanh(ops.matmul(inputs, self.w) + self.b), self.v)  # (batch, time, 1)
        if mask is not None:
            very_negative = ops.cast(-1e4, scores.dtype)  # exp() underflows to 0, float16-safe
            scores = ops.where(ops.expand_dims(mask, -1), scores, very_negative)
        weights = ops.softmax(scores, axis=1)
        return ops.sum(weights * inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "units": self.units, "initializer": self.initializer, "seed": self.seed}


@keras.saving.register_keras_serializable(package="textrecipes")
class MaskedConv1D(layers.Conv1D):
    """`Conv1D` (``padding="same"``) that sees zeros at padded steps and passes the mask on.

    Why our own: Keras' `Conv1D` drops the mask, so the pooling after it could not
    tell padding from text, and padded steps would feed the learned padding
    embedding into the windows at the end of each text.

    Args:
        filters: number of filters.
        kernel_size: window width in tokens.
        **kwargs: passed on to `keras.layers.Conv1D` (``padding`` must be "same").

    Example:
        >>> import numpy as np
        >>> conv = MaskedConv1D(2, 3, kernel_initializer="ones")
        >>> x = np.ones((1, 4, 1), "float32")
        >>> conv(x, mask=np.array([[True, True, False, False]])).numpy()[0, :, 0].tolist()
        [2.0, 2.0, 1.0, 0.0]
    """

    def __init__(self, filters, kernel_size, **kwargs):
        if kwargs.setdefault("padding", "same") != "same":
            raise ValueError(f"MaskedConv1D needs padding='same' (one output per token), got {kwargs['padding']!r}")
        super().__init__(filters, kernel_size, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs * keras.ops.expand_dims(keras.ops.cast(mask, inputs.dtype), -1)
        return super().call(inputs)

    def compute_mask(self, inputs, mask=None):
        return mask


@keras.saving.register_keras_serializable(package="textrecipes")
class SparseCategoricalCrossentropyWithSmoothing(keras.losses.Loss):
    """Categorical cross-entropy with label smoothing on integer targets.

    Why our own: Keras' `SparseCategoricalCrossentropy` has no
    ``label_smoothing``; this one-hot encodes the targets inside the loss, so the
    pipeline and the accuracy metric keep their integer labels.

    Args:
        label_smoothing: in [0, 1): targets become ``(1 - s) * onehot + s / classes``. Default 0.1.
        name: loss name. Default "sparse_categorical_crossentropy_with_smoothing".
        **kwargs: passed on to `keras.losses.Loss` (``reduction``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> loss = SparseCategoricalCrossentropyWithSmoothing(0.1)
        >>> round(float(loss(np.array([0]), np.array([[0.9, 0.1]]))), 4)
        0.2152
    """

    def __init__(self, label_smoothing=0.1, name="sparse_categorical_crossentropy_with_smoothing", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        onehot = ops.one_hot(y_true, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(onehot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def loss_for(task: str, label_smoothing: float = 0.0):
    """The Keras loss that matches the head of `output_layer`, with optional label smoothing.

    Args:
        task: "binary", "multiclass" or "multilabel".
        label_smoothing: in [0, 1); 0 (default) gives the plain loss name.

    Returns:
        Without smoothing, "binary_crossentropy" for binary and multi-label and
        "sparse_categorical_crossentropy" for multi-class (integer targets, as
        `encode_labels` makes them). With smoothing, a `BinaryCrossentropy` or a
        `SparseCategoricalCrossentropyWithSmoothing` instance.

    Example:
        >>> loss_for("multiclass")
        'sparse_categorical_crossentropy'
        >>> type(loss_for("binary", 0.1)).__name__
        'BinaryCrossentropy'
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if label_smoothing:
        if task == "multiclass":
            return SparseCategoricalCrossentropyWithSmoothing(label_smoothing)
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
    return {"binary": "binary_crossentropy", "multiclass": "sparse_categorical_crossentropy",
            "multilabel": "binary_crossentropy"}[task]


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


def _check_common(dropout, embedding_dropout, token_dropout, l1, l2, initializer, normalization, hidden_units):
    for arg, value in (("dropout", dropout), ("embedding_dropout", embedding_dropout), ("token_dropout", token_dropout)):
        if not 0 <= value < 1:
            raise ValueError(f"{arg} must be in [0, 1), got {value}")
    if l1 < 0 or l2 < 0:
        raise ValueError(f"l1 and l2 must be non-negative, got l1={l1}, l2={l2}")
    if initializer not in INITIALIZERS:
        raise ValueError(f"initializer must be one of {sorted(INITIALIZERS)}, got {initializer!r}")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if hidden_units < 0:
        raise ValueError(f"hidden_units must be >= 0, got {hidden_units}")
    return keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None


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


NGRAM_POOLINGS = ("sqrtn", "mean")


def _check_ngram_pooling(ngram_pooling):
    if ngram_pooling not in NGRAM_POOLINGS:
        raise ValueError(f"ngram_pooling must be one of {NGRAM_POOLINGS}, got {ngram_pooling!r}")


def _bigram_branch(ids, ngram_buckets, ngram_dim, embedding_dropout, seed, words=False, pooling="sqrtn"):
    """The pooled hashed-bigram (and, with ``words``, word) embeddings (fastText-style), one vector per text.

    ``pooling="sqrtn"`` divides the sum by sqrt(n) rather than n: with a mean,
    the branch's output over a 1,000-token document is ~30 times smaller than over
    a sentence and the head hardly hears it (news_outlets: 0.75 → 0.88 accuracy).
    """
    bigrams = HashedBigrams(ngram_buckets, words=words, name="bigrams")(ids)
    b = layers.Embedding(ngram_buckets + 1, ngram_dim, mask_zero=True, name="bigram_embedding",
                         embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=seed + 7))(bigrams)
    if embedding_dropout:
        b = layers.SpatialDropout1D(embedding_dropout, seed=seed + 8, name="bigram_dropout")(b)
    return MaskedPooling((pooling,), name="bigram_mean")(b)


def _head(x, task, num_labels, *, normalization, hidden_units, dropout, initializer, regularizer, seed):
    """Normalization → hidden layer → dropout → output layer, each only when asked for."""
    if normalization == "batch":
        x = layers.BatchNormalization(name="batch_norm")(x)
    elif normalization == "layer":
        x = layers.LayerNormalization(name="layer_norm")(x)
    if hidden_units:
        x = layers.Dense(hidden_units, activation="relu", kernel_initializer=kernel_initializer(initializer, seed + 10),
                         kernel_regularizer=regularizer, name="hidden")(x)
    x = layers.Dropout(dropout, seed=seed + 5, name="dropout")(x)
    return output_layer(task, num_labels, kernel_initializer=kernel_initializer(initializer, seed + 6),
                        kernel_regularizer=regularizer)(x)


def _rnn_classifier(cell, vocabulary_size, num_labels, *, task, embedding_dim, units, layers, bidirectional, pooling,
                    dropout, embedding_dropout, token_dropout, l1, l2, ngram_buckets, ngram_dim, initializer,
                    normalization, hidden_units, seed, name, ngram_words=True, rnn_length=256,
                    ngram_pooling="sqrtn"):
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    regularizer = _check_common(dropout, embedding_dropout, token_dropout, l1, l2, initializer, normalization, hidden_units)
    _check_ngram_pooling(ngram_pooling)
    if not isinstance(rnn_length, int) or rnn_length < 0:
        raise ValueError(f"rnn_length must be a non-negative integer, got {rnn_length!r}")
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    rnn_ids = FirstTokens(rnn_length, name="first_tokens")(ids) if rnn_length else ids
    x = encode_tokens(rnn_ids, vocabulary_size, embedding_dim=embedding_dim, units=units, bidirectional=bidirectional,
                      pooling=pooling, embedding_dropout=embedding_dropout, token_dropout=token_dropout,
                      regularizer=regularizer, seed=seed, cell=cell, layers=layers, initializer=initializer)
    if ngram_buckets:
        x = keras.layers.Concatenate(name=f"{cell}_and_bigrams")(
            [x, _bigram_branch(ids, ngram_buckets, ngram_dim, embedding_dropout, seed, words=ngram_words,
                                   pooling=ngram_pooling)])
    outputs = _head(x, task, num_labels, normalization=normalization, hidden_units=hidden_units, dropout=dropout,
                    initializer=initializer, regularizer=regularizer, seed=seed)
    return keras.Model(ids, outputs, name=name)


def build_lstm_classifier(
    vocabulary_size: int,
    num_labels: int,
    *,
    task: str = "binary",
    embedding_dim: int = 128,
    units: int = 128,
    layers: int = 1,
    bidirectional: bool = True,
    pooling: str = "mean_max",
    dropout: float = 0.5,
    embedding_dropout: float = 0.2,
    token_dropout: float = 0.2,
    l1: float = 0.0,
    l2: float = 0.0,
    ngram_buckets: int = 131072,
    ngram_dim: int = 64,
    ngram_words: bool = True,
    ngram_pooling: str = "sqrtn",
    rnn_length: int = 256,
    initializer: str = "glorot_uniform",
    normalization: str = "none",
    hidden_units: int = 0,
    seed: int = 0,
    name: str = "lstm_classifier",
) -> keras.Model:
    """Builds Embedding(mask_zero) → LSTM → pooling → Dropout → Dense.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        num_labels: number of classes (2 for binary).
        task: "binary" (default, one sigmoid unit), "multiclass" (softmax) or
            "multilabel" (one sigmoid per label).
        embedding_dim: embedding size. Default 128.
        units: LSTM units (per direction). Default 128.
        layers: stacked LSTM layers. Default 1.
        bidirectional: read the text in both directions. Default True.
        pooling: what the head sees: "last" (the final state, the classic
            keras-io model), "max", "mean_max" (default; masked pooling over
            all states, which keeps long documents from being summarised by their
            last words only) or "attention" (`AttentionPooling` over the states).
        dropout: dropout before the head (seed 000: 0.5). Default 0.5.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: drops whole token vectors (word dropout) during training.
            Default 0.2 (+0.6 points on Rotten Tomatoes, +2.1 on the party task).
        l1: L1 penalty on the LSTM and head kernels. Default 0.
        l2: L2 penalty on the LSTM and head kernels. Default 0.
        ngram_buckets: when above 0, a fastText-style branch pools embeddings
            of hashed bigrams and feeds the head beside the LSTM. Default 131072
            (it added 2-3 points on topic and long-document data; 0 turns it off).
        ngram_dim: embedding size of that branch. Default 64.
        ngram_words: the branch hashes the words too (a bag of words and bigrams,
            as fastText). Default True.
        ngram_pooling: how the branch pools its bag: "sqrtn" (default; the sum over
            sqrt(n), so long documents are heard: +12.6 points on long news) or "mean".
        rnn_length: above 0, the RNN reads only the first ``rnn_length`` tokens
            while the n-gram branch sees the whole (vectorized) text; 0: the RNN
            reads everything. Default 256 (with the whole text in the branch and
            words in the bag: +1.2 points on long news, +3.2 on 15 topics, +1.1 on the
            party task; benchmarks/RESULTS.md).
        initializer: kernel initializer, a key of `INITIALIZERS`. Default "glorot_uniform".
        normalization: "none" (default), "batch" or "layer", after pooling.
        hidden_units: above 0, a ReLU layer of that size before the head. Default 0.
        seed: seeds every initializer and dropout. Default 0.
        name: model name. Default "lstm_classifier".

    Returns:
        An uncompiled `keras.Model` taking int ids ``(batch, time)``.

    Example:
        >>> model = build_lstm_classifier(1000, 2, embedding_dim=64, units=128)
        >>> model.output_shape
        (None, 1)
    """
    return _rnn_classifier("lstm", vocabulary_size, num_labels, task=task, embedding_dim=embedding_dim, units=units,
                           layers=layers, bidirectional=bidirectional, pooling=pooling, dropout=dropout,
                           embedding_dropout=embedding_dropout, token_dropout=token_dropout, l1=l1, l2=l2,
                           ngram_buckets=ngram_buckets, ngram_dim=ngram_dim, initializer=initializer,
                           normalization=normalization, hidden_units=hidden_units, seed=seed, name=name,
                           ngram_words=ngram_words, rnn_length=rnn_length, ngram_pooling=ngram_pooling)


def build_gru_classifier(
    vocabulary_size: int,
    num_labels: int,
    *,
    task: str = "binary",
    embedding_dim: int = 128,
    units: int = 128,
    layers: int = 1,
    bidirectional: bool = True,
    pooling: str = "mean_max",
    dropout: float = 0.5,
    embedding_dropout: float = 0.2,
    token_dropout: float = 0.2,
    l1: float = 0.0,
    l2: float = 0.0,
    ngram_buckets: int = 131072,
    ngram_dim: int = 64,
    ngram_words: bool = True,
    ngram_pooling: str = "sqrtn",
    rnn_length: int = 256,
    initializer: str = "glorot_uniform",
    normalization: str = "none",
    hidden_units: int = 0,
    seed: int = 0,
    name: str = "gru_classifier",
) -> keras.Model:
    """Builds Embedding(mask_zero) → GRU → pooling → Dropout → Dense; `build_lstm_classifier` with GRU cells.

    The GRU keeps Keras' defaults (tanh/sigmoid, ``reset_after=True``, no
    recurrent dropout), the cuDNN-eligible configuration.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        num_labels: number of classes (2 for binary).
        task: "binary" (default), "multiclass" or "multilabel".
        embedding_dim: embedding size. Default 128.
        units: GRU units (per direction). Default 128.
        layers: stacked GRU layers. Default 1.
        bidirectional: read the text in both directions. Default True.
        pooling: "last", "max", "mean_max" (default) or "attention".
        dropout: dropout before the head. Default 0.5.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: word dropout. Default 0.2.
        l1: L1 penalty on the GRU and head kernels. Default 0.
        l2: L2 penalty on the GRU and head kernels. Default 0.
        ngram_buckets: hashed-bigram branch size (0: off). Default 131072.
        ngram_dim: embedding size of that branch. Default 64.
        ngram_words: the branch hashes the words too (a bag of words and bigrams,
            as fastText). Default True.
        ngram_pooling: how the branch pools its bag: "sqrtn" (default; the sum over
            sqrt(n), so long documents are heard: +12.6 points on long news) or "mean".
        rnn_length: above 0, the RNN reads only the first ``rnn_length`` tokens
            while the n-gram branch sees the whole (vectorized) text; 0: the RNN
            reads everything. Default 256 (with the whole text in the branch and
            words in the bag: +1.2 points on long news, +3.2 on 15 topics, +1.1 on the
            party task; benchmarks/RESULTS.md).
        initializer: kernel initializer, a key of `INITIALIZERS`. Default "glorot_uniform".
        normalization: "none" (default), "batch" or "layer", after pooling.
        hidden_units: above 0, a ReLU layer of that size before the head. Default 0.
        seed: seeds every initializer and dropout. Default 0.
        name: model name. Default "gru_classifier".

    Returns:
        An uncompiled `keras.Model` taking int ids ``(batch, time)``.

    Example:
        >>> model = build_gru_classifier(1000, 3, task="multiclass", units=32, layers=2)
        >>> model.output_shape
        (None, 3)
    """
    return _rnn_classifier("gru", vocabulary_size, num_labels, task=task, embedding_dim=embedding_dim, units=units,
                           layers=layers, bidirectional=bidirectional, pooling=pooling, dropout=dropout,
                           embedding_dropout=embedding_dropout, token_dropout=token_dropout, l1=l1, l2=l2,
                           ngram_buckets=ngram_buckets, ngram_dim=ngram_dim, initializer=initializer,
                           normalization=normalization, hidden_units=hidden_units, seed=seed, name=name,
                           ngram_words=ngram_words, rnn_length=rnn_length, ngram_pooling=ngram_pooling)


def build_cnn_classifier(
    vocabulary_size: int,
    num_labels: int,
    *,
    task: str = "binary",
    embedding_dim: int = 128,
    units: int = 100,
    kernel_sizes=(3, 4, 5),
    dropout: float = 0.5,
    embedding_dropout: float = 0.2,
    token_dropout: float = 0.2,
    l1: float = 0.0,
    l2: float = 0.0,
    ngram_buckets: int = 0,
    ngram_dim: int = 64,
    ngram_pooling: str = "sqrtn",
    initializer: str = "glorot_uniform",
    normalization: str = "none",
    hidden_units: int = 0,
    seed: int = 0,
    name: str = "cnn_classifier",
) -> keras.Model:
    """Builds a Kim (2014) CNN: parallel ReLU convolutions, masked global max pooling, Dense.

    Padding never wins the max: `MaskedConv1D` zeroes padded inputs and the
    pooling skips padded steps, so more right padding leaves the output unchanged.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        num_labels: number of classes (2 for binary).
        task: "binary" (default), "multiclass" or "multilabel".
        embedding_dim: embedding size. Default 128.
        units: filters per kernel size. Default 100 (Kim 2014).
        kernel_sizes: window widths, one convolution each. Default (3, 4, 5).
        dropout: dropout before the head. Default 0.5.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: word dropout. Default 0.2.
        l1: L1 penalty on the convolution and head kernels. Default 0.
        l2: L2 penalty on the convolution and head kernels. Default 0.
        ngram_buckets: above 0, the hashed-bigram branch beside the convolutions. Default 0.
        ngram_dim: embedding size of that branch. Default 64.
        ngram_pooling: how that branch pools: "sqrtn" (default) or "mean".
        initializer: kernel initializer, a key of `INITIALIZERS`. Default "glorot_uniform".
        normalization: "none" (default), "batch" or "layer", after pooling.
        hidden_units: above 0, a ReLU layer of that size before the head. Default 0.
        seed: seeds every initializer and dropout. Default 0.
        name: model name. Default "cnn_classifier".

    Returns:
        An uncompiled `keras.Model` taking int ids ``(batch, time)``.

    Example:
        >>> model = build_cnn_classifier(1000, 2, units=16, kernel_sizes=(2, 3))
        >>> model.output_shape
        (None, 1)
    """
    kernel_sizes = tuple(kernel_sizes)
    if not kernel_sizes or any(not isinstance(k, int) or k < 1 for k in kernel_sizes):
        raise ValueError(f"kernel_sizes must be a non-empty list of positive integers, got {list(kernel_sizes)}")
    regularizer = _check_common(dropout, embedding_dropout, token_dropout, l1, l2, initializer, normalization, hidden_units)
    _check_ngram_pooling(ngram_pooling)
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = _embed(ids, vocabulary_size, embedding_dim, token_dropout, embedding_dropout, seed)
    convs = [MaskedConv1D(units, k, activation="relu", kernel_initializer=kernel_initializer(initializer, seed + 30 + i),
                          kernel_regularizer=regularizer, name=f"conv{k}")(x) for i, k in enumerate(kernel_sizes)]
    x = layers.Concatenate(name="convs")(convs) if len(convs) > 1 else convs[0]
    x = MaskedPooling(("max",), name="pooling")(x)
    if ngram_buckets:
        x = layers.Concatenate(name="cnn_and_bigrams")([x, _bigram_branch(ids, ngram_buckets, ngram_dim, embedding_dropout,
                                                                          seed, pooling=ngram_pooling)])
    outputs = _head(x, task, num_labels, normalization=normalization, hidden_units=hidden_units, dropout=dropout,
                    initializer=initializer, regularizer=regularizer, seed=seed)
    return keras.Model(ids, outputs, name=name)


def build_fasttext_classifier(
    vocabulary_size: int,
    num_labels: int,
    *,
    task: str = "binary",
    embedding_dim: int = 128,
    dropout: float = 0.5,
    embedding_dropout: float = 0.2,
    token_dropout: float = 0.2,
    l1: float = 0.0,
    l2: float = 0.0,
    ngram_buckets: int = 131072,
    ngram_dim: int = 64,
    ngram_pooling: str = "sqrtn",
    initializer: str = "glorot_uniform",
    normalization: str = "none",
    hidden_units: int = 0,
    seed: int = 0,
    name: str = "fasttext_classifier",
) -> keras.Model:
    """Builds a fastText-style bag of embeddings: pooled word and hashed-bigram embeddings → Dense.

    The pooled word bag and the pooled bigram bag are concatenated (fastText
    averages them into one vector of one size; two tables let the bigram size
    differ). With ``hidden_units=0``, no dropout and ``ngram_pooling="mean"`` it is
    the linear model over averaged embeddings of Joulin et al. (2016).

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        num_labels: number of classes (2 for binary).
        task: "binary" (default), "multiclass" or "multilabel".
        embedding_dim: word embedding size. Default 128.
        dropout: dropout before the head. Default 0.5.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: word dropout. Default 0.2.
        l1: L1 penalty on the head kernels. Default 0.
        l2: L2 penalty on the head kernels. Default 0.
        ngram_buckets: hashed-bigram table size (0: words only). Default 131072.
        ngram_dim: bigram embedding size. Default 64.
        ngram_pooling: how both bags (words, bigrams) are pooled: "sqrtn" (default;
            the sum over sqrt(n)) or "mean" (fastText's average).
        initializer: kernel initializer, a key of `INITIALIZERS`. Default "glorot_uniform".
        normalization: "none" (default), "batch" or "layer", after pooling.
        hidden_units: above 0, a ReLU layer of that size before the head. Default 0.
        seed: seeds every initializer and dropout. Default 0.
        name: model name. Default "fasttext_classifier".

    Returns:
        An uncompiled `keras.Model` taking int ids ``(batch, time)``.

    Example:
        >>> model = build_fasttext_classifier(1000, 4, task="multiclass", embedding_dim=16, ngram_buckets=512)
        >>> model.output_shape
        (None, 4)
    """
    regularizer = _check_common(dropout, embedding_dropout, token_dropout, l1, l2, initializer, normalization, hidden_units)
    _check_ngram_pooling(ngram_pooling)
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = _embed(ids, vocabulary_size, embedding_dim, token_dropout, embedding_dropout, seed)
    x = MaskedPooling((ngram_pooling,), name="pooling")(x)
    if ngram_buckets:
        x = layers.Concatenate(name="words_and_bigrams")([x, _bigram_branch(ids, ngram_buckets, ngram_dim, embedding_dropout,
                                                                            seed, pooling=ngram_pooling)])
    outputs = _head(x, task, num_labels, normalization=normalization, hidden_units=hidden_units, dropout=dropout,
                    initializer=initializer, regularizer=regularizer, seed=seed)
    return keras.Model(ids, outputs, name=name)


BUILDERS = {
    "lstm": build_lstm_classifier,
    "gru": build_gru_classifier,
    "cnn": build_cnn_classifier,
    "fasttext": build_fasttext_classifier,
}
