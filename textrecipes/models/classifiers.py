"""Classifier builders: integer ids → class probabilities (``model.name``: lstm, gru, cnn, fasttext).

Only Keras layers and ops (no `tf.*`), so the same model trains under the
TensorFlow backend here and can be timed under JAX on a GPU. The RNNs keep to
the cuDNN-eligible configuration (`textrecipes.models.encoders`); beside them,
a hashed bag of the whole text's words and bigrams feeds the head.
"""

from __future__ import annotations

import inspect

import keras
from keras import layers

from textrecipes.models.auto import LINEAR_MEMBER, LSTM_MEMBER, blended_classifier
from textrecipes.models.encoders import POOLINGS, _embed, encode_tokens, kernel_initializer, output_layer
from textrecipes.models.layers import INITIALIZERS, FirstTokens, HashedBigrams, MaskedConv1D, MaskedPooling
from textrecipes.models.linear import build_linear_classifier


NORMALIZATIONS = ("none", "batch", "layer")


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
    return _rnn_classifier("lstm", **locals())  # every argument above, by name


def build_gru_classifier(vocabulary_size: int, num_labels: int, **options) -> keras.Model:
    """Builds Embedding(mask_zero) → GRU → pooling → Dropout → Dense; `build_lstm_classifier` with GRU cells.

    The GRU keeps Keras' defaults (tanh/sigmoid, ``reset_after=True``, no
    recurrent dropout), the cuDNN-eligible configuration.

    Args:
        vocabulary_size, num_labels, task, embedding_dim, units, layers, bidirectional,
        pooling, dropout, embedding_dropout, token_dropout, l1, l2, ngram_buckets,
        ngram_dim, ngram_words, ngram_pooling, rnn_length, initializer, normalization,
        hidden_units, seed: as for `build_lstm_classifier` (with GRU units and layers),
            with the same defaults.
        name: model name. Default "gru_classifier".

    Returns:
        An uncompiled `keras.Model` taking int ids ``(batch, time)``.

    Example:
        >>> model = build_gru_classifier(1000, 3, task="multiclass", units=32, layers=2)
        >>> model.output_shape
        (None, 3)
    """
    arguments = build_gru_classifier.__signature__.bind(vocabulary_size, num_labels, **options)
    arguments.apply_defaults()  # an unknown or misspelt option is a TypeError, as for any call
    return _rnn_classifier("gru", **arguments.arguments)


# The GRU builder takes exactly the LSTM builder's arguments and defaults (but its name): one list, not two.
build_gru_classifier.__signature__ = inspect.signature(build_lstm_classifier).replace(parameters=[
    p.replace(default="gru_classifier") if p.name == "name" else p
    for p in inspect.signature(build_lstm_classifier).parameters.values()])


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


def build_auto_classifier(vocabulary_size: int, num_labels: int, **options) -> keras.Model:
    """Builds the default LSTM and the TF-IDF linear model side by side, their probabilities blended (`blended_classifier`).

    The LSTM member takes every argument of `build_lstm_classifier` (the recipe's
    ``[model]`` keys, same defaults); the linear member is `build_linear_classifier`
    with ``linear_ngram_buckets``, ``linear_c`` and ``linear_naive_bayes``. The
    classification task trains the linear member first, then the LSTM, then picks
    ``weight`` on validation (`textrecipes.tasks.auto`).

    Args:
        vocabulary_size, num_labels, task, embedding_dim, units, layers, bidirectional,
        pooling, dropout, embedding_dropout, token_dropout, l1, l2, ngram_buckets,
        ngram_dim, ngram_words, ngram_pooling, rnn_length, initializer, normalization,
        hidden_units, seed: as for `build_lstm_classifier`, with the same defaults.
        linear_ngram_buckets: the linear member's hashed n-gram features. Default 262144.
        linear_c: its scikit-learn C without a validation split (with one, C is picked on it:
            `textrecipes.tasks.auto.LINEAR_CS`). Default 100.0.
        linear_naive_bayes: its naive-Bayes scaling. Default False.
        weight: the LSTM's share of the blend. Default 1.0 (the LSTM alone, as it trains).
        name: model name. Default "auto_classifier".

    Returns:
        An uncompiled `keras.Model` taking int ids ``(batch, time)``.

    Example:
        >>> model = build_auto_classifier(1000, 2, units=16, embedding_dim=16, ngram_buckets=256, linear_ngram_buckets=256)
        >>> [layer.name for layer in model.layers[1:]]
        ['lstm_classifier', 'linear_classifier', 'probabilities']
    """
    arguments = build_auto_classifier.__signature__.bind(vocabulary_size, num_labels, **options)
    arguments.apply_defaults()
    lstm_args = dict(arguments.arguments)
    linear = {key: lstm_args.pop(f"linear_{key}") for key in ("ngram_buckets", "c", "naive_bayes")}
    weight, name = lstm_args.pop("weight"), lstm_args.pop("name")
    lstm = _rnn_classifier("lstm", **{**lstm_args, "name": LSTM_MEMBER})
    linear_member = build_linear_classifier(vocabulary_size, num_labels, task=lstm_args["task"], name=LINEAR_MEMBER,
                                            **linear)
    return blended_classifier(lstm, linear_member, weight=weight, name=name)


# The auto builder takes the LSTM builder's arguments and defaults, and the linear member's and the blend's.
build_auto_classifier.__signature__ = inspect.signature(build_lstm_classifier).replace(parameters=[
    p.replace(default="auto_classifier") if p.name == "name" else p
    for p in inspect.signature(build_lstm_classifier).parameters.values()] + [
    inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default)
    for key, default in (("linear_ngram_buckets", 2**18), ("linear_c", 100.0), ("linear_naive_bayes", False),
                         ("weight", 1.0))])


BUILDERS = {
    "lstm": build_lstm_classifier,
    "gru": build_gru_classifier,
    "cnn": build_cnn_classifier,
    "fasttext": build_fasttext_classifier,
    "linear": build_linear_classifier,  # TF-IDF words + hashed n-grams, textrecipes.models.linear (issue 17)
    "auto": build_auto_classifier,  # the lstm and linear models blended on validation (textrecipes.models.auto)
}
