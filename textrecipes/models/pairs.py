"""The pair model: one shared encoder reads both texts; the head sees ``[u, v, |u − v|, u * v]``.

With ``match_features`` the encoder also reads, per token, whether it occurs in
the other text (DrQA's exact-match feature), and/or the head the share of each
text found in the other (`MatchSummary`). Tokens are compared by `TokenKeys`, a
hash of the token string, so unknown words that occur in both texts still match.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from textrecipes.models.encoders import POOLINGS
from textrecipes.models.encoders import encode_tokens
from textrecipes.models.encoders import output_layer
from textrecipes.text.tokenization import TextVectorizer, tokenize_tf

PAIR_INPUTS = ("text_a", "text_b")  # the raw-string inputs of a pair model and its export


# Lexical overlap signals (DrQA's exact-match feature, Chen et al. 2017): "tokens" appends to
# each token's embedding a 0/1 flag "this token occurs in the other text"; "pooled" adds to the
# head the fraction of each text's tokens found in the other, plain and weighted by a learned
# per-id weight (a learned IDF); "both" does both. Tokens are compared by `TokenKeys` (a hash
# of the token string), not by id: unknown words all share the OOV id, yet a name unseen in
# training that occurs in both texts is the strongest sign they belong together.
MATCH_FEATURES = ("none", "tokens", "pooled", "both")


KEY_BUCKETS = 2**30  # token keys are 1..2**30 (0 pads); a collision is a one-in-a-billion event


@keras.saving.register_keras_serializable(package="textrecipes")
class TokenKeys(keras.layers.Layer):
    """Raw strings → one int32 key per token (a hash of the token string), aligned with `TextVectorizer`'s ids.

    The same tokenization, lowercasing, truncation and padding as the
    vectorizer (0 pads; an empty text gives one 0), so key ``i`` belongs to
    id ``i``; two tokens get the same key exactly when they are the same
    string (up to hash collisions, one in 2**30), whether or not they are in
    the vocabulary. A preprocessing layer (TensorFlow string ops), used in
    `tf.data` and in front of the exported model, like the vectorizer.

    Args:
        split: as for `TextVectorizer`. Default "word".
        lowercase: Default True.
        max_length: longest sequence kept. Default 256.
        **kwargs: passed on to `keras.layers.Layer`.

    Example:
        >>> keys = TokenKeys()(tf.constant(["Paris is big", "big paris", ""])).numpy()
        >>> keys[0, 0] == keys[1, 1], keys[0, 2] == keys[1, 0], keys[2].tolist()
        (True, True, [0, 0, 0])
    """

    def __init__(self, split="word", lowercase=True, max_length=256, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        tokenize_tf(tf.constant([""]), split=split)  # checks split
        self.split, self.lowercase, self.max_length = split, lowercase, max_length
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True

    @classmethod
    def like(cls, vectorizer: TextVectorizer, **kwargs) -> "TokenKeys":
        """The keys layer that matches ``vectorizer`` (its split, lowercasing and max_length)."""
        return cls(vectorizer.split, vectorizer.lowercase, vectorizer.max_length, **kwargs)

    def build(self, input_shape):
        self.built = True

    def call(self, texts):
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        if texts.shape.rank == 2:
            texts = tf.squeeze(texts, axis=1)
        tokens = tokenize_tf(texts, split=self.split, lowercase=self.lowercase)[:, : self.max_length]
        keys = tf.ragged.map_flat_values(lambda t: tf.cast(tf.strings.to_hash_bucket_fast(t, KEY_BUCKETS) + 1, tf.int32),
                                         tokens)
        width = tf.cast(tf.maximum(tf.reduce_max(keys.row_lengths()), 1), tf.int32)  # as the vectorizer pads
        dense = keys.to_tensor(0)
        return tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], None), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "split": self.split, "lowercase": self.lowercase, "max_length": self.max_length}


def _found_in(keys, other_keys):
    """True where a token key of ``keys`` also occurs in ``other_keys``; padding (key 0) never matches."""
    ops = keras.ops
    a, b = ops.cast(keys, "int32"), ops.cast(other_keys, "int32")
    same = ops.logical_and(ops.equal(ops.expand_dims(a, 2), ops.expand_dims(b, 1)),
                           ops.expand_dims(b > 0, 1))  # (batch, time_a, time_b)
    return ops.logical_and(ops.any(same, axis=2), a > 0)


@keras.saving.register_keras_serializable(package="textrecipes")
class ExactMatch(layers.Layer):
    """Per token of the first text: 1.0 when it occurs in the second text, else 0.0 (DrQA's exact match).

    Compares `TokenKeys` (token strings after lowercasing and tokenization, in
    the vocabulary or not); the padding key 0 never matches.

    Args:
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> a, b = np.array([[5, 6, 9, 0]]), np.array([[6, 9, 0, 0]])
        >>> ExactMatch()([a, b]).numpy()[..., 0].tolist()
        [[0.0, 1.0, 1.0, 0.0]]
    """

    def call(self, inputs):
        keys, other_keys = inputs
        return keras.ops.expand_dims(keras.ops.cast(_found_in(keys, other_keys), self.compute_dtype), -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][1], 1)


@keras.saving.register_keras_serializable(package="textrecipes")
class MatchSummary(layers.Layer):
    """Pooled overlap of two texts: the fraction of each text's tokens found in the other, plain and weighted.

    Inputs ``[ids_a, ids_b, keys_a, keys_b]`` (token ids and their `TokenKeys`).
    Returns ``[found_a, found_b, weighted_a, weighted_b]`` per pair: ``found_a``
    is the share of text A's tokens (padding excluded) that occur in B; the
    weighted shares weight each token by ``softplus(w[id])``, ``w`` learned
    (initialised to 0, so they start equal to the plain shares) — a learned
    inverse document frequency, as TF-IDF cosine weights rare words up.

    Args:
        vocabulary_size: ids the weight table holds (``len(Vocabulary)``).
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> a, b = np.array([[5, 6, 7, 0]]), np.array([[6, 0, 0, 0]])
        >>> [round(x, 3) for x in MatchSummary(10)([a, b, a, b]).numpy()[0].tolist()]
        [0.333, 1.0, 0.333, 1.0]
    """

    def __init__(self, vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(vocabulary_size, int) or vocabulary_size < 1:
            raise ValueError(f"vocabulary_size must be a positive integer, got {vocabulary_size!r}")
        self.vocabulary_size = vocabulary_size

    def build(self, input_shape):
        self.token_weights = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="token_weights")

    def call(self, inputs):
        ops = keras.ops
        ids_a, ids_b, keys_a, keys_b = (ops.cast(x, "int32") for x in inputs)
        out = []
        for weighted in (False, True):
            for ids, keys, other in ((ids_a, keys_a, keys_b), (ids_b, keys_b, keys_a)):
                real = ops.cast(keys > 0, self.compute_dtype)
                found = ops.cast(_found_in(keys, other), self.compute_dtype)
                if weighted:
                    w = ops.softplus(ops.take(ops.cast(self.token_weights, self.compute_dtype),
                                              ops.clip(ids, 0, self.vocabulary_size - 1), axis=0))
                    found, real = found * w, real * w
                out.append(ops.sum(found, axis=1) / ops.maximum(ops.sum(real, axis=1), 1e-6))
        return ops.stack(out, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 4)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size}


@keras.saving.register_keras_serializable(package="textrecipes")
class PairFeatures(layers.Layer):
    """Combines two sentence vectors as ``[u, v, |u − v|, u * v]`` (InferSent, Conneau et al. 2017).

    Args:
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>>         >>> u, v = np.array([[1.0, 2.0]], "float32"), np.array([[3.0, 1.0]], "float32")
        >>> PairFeatures()([u, v]).numpy().tolist()
        [[1.0, 2.0, 3.0, 1.0, 2.0, 1.0, 3.0, 2.0]]
    """

    def call(self, inputs):
        u, v = inputs
        ops = keras.ops
        return ops.concatenate([u, v, ops.abs(u - v), u * v], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][-1] * 4)


def build_pair_classifier(
    vocabulary_size: int,
    num_labels: int,
    *,
    task: str = "binary",
    embedding_dim: int = 128,
    units: int = 128,
    bidirectional: bool = True,
    pooling: str = "mean_max",
    dropout: float = 0.5,
    embedding_dropout: float = 0.2,
    token_dropout: float = 0.2,
    l1: float = 0.0,
    l2: float = 0.0,
    match_features: str = "tokens",
    seed: int = 0,
    name: str = "pair_classifier",
    **ignored,
) -> keras.Model:
    """Builds the pair model: one shared encoder for both texts, then ``[u, v, |u−v|, u*v]`` → Dropout → Dense.

    With ``match_features`` (on by default) the encoder also reads, for each
    token, whether it occurs in the other text (`ExactMatch`), and/or the head
    also sees how much of each text the other covers (`MatchSummary`): word
    overlap, which ``[u, v, |u−v|, u*v]`` alone cannot see exactly.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        num_labels: number of labels (2 for binary).
        task: "binary" (default) or "multiclass".
        embedding_dim: embedding size. Default 128.
        units: LSTM units per direction. Default 128.
        bidirectional: Default True.
        pooling: "last", "max" or "mean_max" (default): how a text becomes a vector.
        dropout: dropout before the head. Default 0.5.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: word dropout. Default 0.2.
        l1: L1 penalty on the LSTM and head kernels. Default 0.
        l2: L2 penalty on the LSTM and head kernels. Default 0.
        match_features: lexical overlap signals, one of `MATCH_FEATURES`: "none",
            "tokens" (exact-match flag per token into the encoder), "pooled"
            (overlap shares into the head) or "both". Default "tokens", the best of the four
            on validation in benchmarks/results/pairs_tagging.md.
        seed: seeds initializers and dropout. Default 0.
        name: model name. Default "pair_classifier".
        **ignored: other ``[model]`` keys (``ngram_buckets``, ``ngram_dim``) do not apply to pairs.

    Returns:
        An uncompiled `keras.Model` taking ``{"ids_a": ids, "ids_b": ids}``, and with
        match features also ``"keys_a"``, ``"keys_b"`` (`TokenKeys` of each text).

    Example:
        >>> model = build_pair_classifier(100, 2, embedding_dim=8, units=4)
        >>> model.output_shape
        (None, 1)
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if task not in ("binary", "multiclass"):
        raise ValueError(f"a pair model is 'binary' or 'multiclass', got task {task!r}")
    if match_features not in MATCH_FEATURES:
        raise ValueError(f"match_features must be one of {MATCH_FEATURES}, got {match_features!r}")
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    options = dict(embedding_dim=embedding_dim, units=units, bidirectional=bidirectional, pooling=pooling,
                   embedding_dropout=embedding_dropout, token_dropout=token_dropout, regularizer=regularizer, seed=seed)
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("ids_a", "ids_b") + (("keys_a", "keys_b") if match_features != "none" else ())}
    ids_a, ids_b = inputs["ids_a"], inputs["ids_b"]
    if match_features in ("tokens", "both"):  # the encoder reads a text and, for its flags, both texts' keys
        keys, other = (keras.Input(shape=(None,), dtype="int32", name=n) for n in ("keys", "other_keys"))
        flags = ExactMatch(name="exact_match")([keys, other])
        encoder = keras.Model([ids, keys, other], encode_tokens(ids, vocabulary_size, features=flags, **options),
                              name="encoder")
        u = encoder([ids_a, inputs["keys_a"], inputs["keys_b"]])
        v = encoder([ids_b, inputs["keys_b"], inputs["keys_a"]])
    else:
        encoder = keras.Model(ids, encode_tokens(ids, vocabulary_size, **options), name="encoder")
        u, v = encoder(ids_a), encoder(ids_b)
    x = PairFeatures(name="pair_features")([u, v])
    if match_features in ("pooled", "both"):
        summary = MatchSummary(vocabulary_size, name="match_summary")([ids_a, ids_b, inputs["keys_a"], inputs["keys_b"]])
        x = layers.Concatenate(name="with_match_summary")([x, summary])
    x = layers.Dropout(dropout, seed=seed + 5, name="dropout")(x)
    outputs = output_layer(task, num_labels, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 6),
                           kernel_regularizer=regularizer)(x)
    return keras.Model(inputs, outputs, name=name)


def end_to_end_pair_model(vectorizer: TextVectorizer, model: keras.Model) -> keras.Model:
    """Puts the one vectorizer in front of both inputs: ``{"text_a", "text_b"}`` raw strings → probabilities.

    Args:
        vectorizer: the `TextVectorizer` shared by both texts.
        model: the pair model (`build_pair_classifier`).

    Returns:
        A `keras.Model` named "pair_classifier_e2e".

    Example:
        >>> import numpy as np
        >>> v = TextVectorizer(["good", "film"])
        >>> m = end_to_end_pair_model(v, build_pair_classifier(4, 2, embedding_dim=8, units=4))
        >>> m.predict({"text_a": np.array(["good"], object), "text_b": np.array(["film"], object)}, verbose=0).shape
        (1, 1)
    """
    a = keras.Input(shape=(), dtype="string", name="text_a")
    b = keras.Input(shape=(), dtype="string", name="text_b")
    features = {"ids_a": vectorizer(a), "ids_b": vectorizer(b)}
    if _needs_keys(model):
        keys = TokenKeys.like(vectorizer, name="token_keys")
        features.update(keys_a=keys(a), keys_b=keys(b))
    return keras.Model({"text_a": a, "text_b": b}, model(features), name="pair_classifier_e2e")


def _needs_keys(model: keras.Model) -> bool:
    """Whether a pair model takes `TokenKeys` inputs (it does with match features)."""
    return isinstance(model.input, dict) and "keys_a" in model.input
