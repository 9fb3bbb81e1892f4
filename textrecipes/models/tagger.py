"""The sequence labeller: Embedding(mask_zero) → BiLSTM → a softmax per token."""

from __future__ import annotations

import keras
from keras import layers

from textrecipes.models.encoders import encode_tokens


def build_tagger(vocabulary_size: int, num_tags: int, *, embedding_dim: int = 128, units: int = 128,
                 bidirectional: bool = True, dropout: float = 0.5, embedding_dropout: float = 0.2,
                 token_dropout: float = 0.2, l1: float = 0.0, l2: float = 0.0, seed: int = 0,
                 name: str = "tagger", **ignored) -> keras.Model:
    """Builds Embedding(mask_zero) → (Bi)LSTM(return_sequences) → Dropout → a softmax over tags per token.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        num_tags: the tag set's size.
        embedding_dim: Default 128.
        units: LSTM units per direction. Default 128.
        bidirectional: Default True.
        dropout: dropout before the per-token head. Default 0.5.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: word dropout. Default 0.2.
        l1: L1 penalty on the LSTM and head kernels. Default 0.
        l2: L2 penalty on the LSTM and head kernels. Default 0.
        seed: seeds initializers and dropout. Default 0.
        name: Default "tagger".
        **ignored: ``[model]`` keys of the classifier that do not apply (pooling, n-grams, task).

    Returns:
        An uncompiled `keras.Model`: ids ``(batch, time)`` → ``(batch, time, num_tags)``.

    Example:
        >>> build_tagger(100, 5, embedding_dim=8, units=4).output_shape
        (None, None, 5)
    """
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = encode_tokens(ids, vocabulary_size, embedding_dim=embedding_dim, units=units, bidirectional=bidirectional,
                      pooling=None, embedding_dropout=embedding_dropout, token_dropout=token_dropout,
                      regularizer=regularizer, seed=seed)
    x = layers.Dropout(dropout, seed=seed + 5, name="dropout")(x)
    outputs = layers.Dense(num_tags, activation="softmax", dtype="float32", name="tag_probabilities",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 6),
                           kernel_regularizer=regularizer)(x)
    return keras.Model(ids, outputs, name=name)
