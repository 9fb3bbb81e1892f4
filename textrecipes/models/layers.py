"""The Keras layers the models are made of: masked pooling, hashed n-grams, the first tokens, attention, a masked convolution.

Only Keras layers and ops (no `tf.*`), so the same models train under the
TensorFlow backend here and can be timed under JAX on a GPU. Each layer is
registered under the "textrecipes" package with ``get_config``, so a model
that holds it saves to ``.keras`` and reloads with ``safe_mode=True``.
"""

from __future__ import annotations

import keras
from keras import layers

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

