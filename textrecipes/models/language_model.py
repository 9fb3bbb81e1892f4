"""The LSTM language model: Embedding(mask_zero) → LSTM → next-token logits, tied to the embedding.

Its layers are named like the classifier's (``embedding``, ``lstm``) so that a
classifier can start from its weights (`textrecipes.tasks.language_model.init_from_lm`).
"""

from __future__ import annotations

import math

import keras


def build_language_model(vocabulary_size: int, *, embedding_dim: int = 128, units: int = 128, seed: int = 0,
                         tie_weights: bool = True, input_dropout: float = 0.1, output_dropout: float = 0.2) -> keras.Model:
    """Builds Embedding(mask_zero) → LSTM(return_sequences) → next-token logits.

    The layers are named like the classifier's (``embedding``, ``lstm``), so
    their weights copy over one to one.

    With ``tie_weights`` (the default) the output layer is the embedding matrix
    itself (Press & Wolf 2017; AWD-LSTM): the LSTM state goes through a linear
    ``projection`` to ``embedding_dim`` and its logits are the dot products with
    every word vector (``keras.layers.ReversibleEmbedding``). Every prediction
    then trains the word vectors, not only the inputs: on a small corpus this
    gives much better word vectors, and they are what a classifier takes.
    Dropout on whole input words and on the LSTM outputs (AWD-LSTM-like) keeps
    a small corpus from being memorised.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        embedding_dim: embedding size. Default 128.
        units: LSTM units. Default 128.
        seed: seeds the initializers and dropout. Default 0.
        tie_weights: share the embedding with the output layer. Default True.
        input_dropout: dropout of whole input words while training. Default 0.1.
        output_dropout: dropout on the LSTM outputs while training. Default 0.2.

    Returns:
        An uncompiled `keras.Model`: ids ``(batch, time)`` → logits ``(batch, time, vocabulary_size)``.

    Example:
        >>> build_language_model(100, embedding_dim=8, units=8).output_shape
        (None, None, 100)
    """
    for name, value in (("input_dropout", input_dropout), ("output_dropout", output_dropout)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    init = keras.initializers.RandomUniform(-0.05, 0.05, seed=seed)
    if tie_weights:
        embedding = keras.layers.ReversibleEmbedding(vocabulary_size, embedding_dim, tie_weights=True, mask_zero=True,
                                                     embeddings_initializer=init, name="embedding")
    else:
        embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, embeddings_initializer=init,
                                           name="embedding")
    x = embedding(ids)
    if input_dropout:
        x = keras.layers.Dropout(input_dropout, noise_shape=(None, None, 1), seed=seed + 9, name="input_dropout")(x)
    x = keras.layers.LSTM(units, return_sequences=True, name="lstm",
                          kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2),
                          recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 3))(x)
    if output_dropout:
        x = keras.layers.Dropout(output_dropout, seed=seed + 5, name="output_dropout")(x)
    if tie_weights:
        x = keras.layers.Dense(embedding_dim, name="projection",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 6))(x)
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="next_token",
                                    kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 6))(x)
    return keras.Model(ids, logits, name="lstm_language_model")


def perplexity(model: keras.Model, dataset) -> float:
    """exp(mean cross-entropy) of the next-token model over every non-padding target.

    Args:
        model: a model from `build_language_model`.
        dataset: batches of ``(ids, next ids)``, right-padded with 0.

    Returns:
        The perplexity (the OOV id counts as a token to predict).

    Example:
        >>> perplexity(lm, validation_batches)  # doctest: +SKIP
        182.4
    """
    ops = keras.ops
    total = count = 0.0
    for x, y in dataset:
        logits = model(x, training=False)
        logp = ops.log_softmax(logits, axis=-1)
        picked = ops.take_along_axis(logp, ops.expand_dims(ops.cast(y, "int32"), -1), axis=-1)[..., 0]
        mask = ops.cast(ops.not_equal(y, 0), "float32")
        total += float(ops.sum(-picked * mask))
        count += float(ops.sum(mask))
    return math.exp(total / count) if count else float("nan")
