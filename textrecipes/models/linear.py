"""A linear classifier over TF-IDF word and n-gram features, as Keras layers (``model.name = "linear"``).

The model is scikit-learn's ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)``
followed by ``LogisticRegression``, written as two Keras layers over the
right-padded token ids of `textrecipes.text.tokenization.TextVectorizer`, so it trains
with ``model.fit`` and exports over raw strings like every other recipe:

* `textrecipes.models.tfidf.TfidfFeatures`: ids → a sparse TF-IDF matrix
  ``(feature_ids, values)``, its idf (and naive-Bayes ratios) fitted from the
  training split;
* `SparseLinear`: ``(feature_ids, values)`` → ``activation(x @ kernel + bias)``, a
  gather of the kernel rows that a text holds, never a dense ``(batch, features)``
  tensor (a 2,048-token text holds at most 2 × 2,048 slots, out of ~150k features).

The hook for a training harness is `adapt_model` (the classification task's
``adapt``, which the run harness calls between compile and fit):

    model = build_linear_classifier(len(vocab), len(labels), task=task)
    adapt_model(model, ids_dataset)        # (ids, targets) batches of the training split, unaugmented
    model.compile(...); model.fit(...)

`adapt_model` does nothing (returns ``[]``) for a model without such layers, so a
harness may call it on every model.
"""

from __future__ import annotations

import keras
from keras import ops

from textrecipes.models.losses import TASKS
from textrecipes.models.tfidf import TfidfFeatures

class _LinearPenalty(keras.regularizers.Regularizer):
    """``strength * sum(kernel ** 2)``, the strength read from the layer when the loss is built (after `adapt_model`)."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, kernel):
        return self.layer.penalty_strength() * ops.sum(ops.square(kernel))

    def get_config(self):  # rebuilt by SparseLinear from its own config, never saved on its own
        return {}


@keras.saving.register_keras_serializable(package="textrecipes")
class SparseLinear(keras.layers.Layer):
    """``(feature_ids, values)`` of a sparse row → ``activation(row @ kernel + bias)``, gathering only the rows held.

    Why our own: `keras.layers.Dense` needs the dense ``(batch, features)`` matrix
    (or a backend `SparseTensor`); here each text gathers the kernel rows of its own
    features, so memory follows the text's length, not the number of features,
    and the kernel's gradient is sparse. Values of shape ``(batch, slots, units)``
    (naive-Bayes scaled, one scale per unit) are taken unit by unit.

    The kernel's L2 penalty is ``(l2 + 1 / (2 * c * num_texts)) * sum(kernel ** 2)``
    added to the mean loss: ``c`` is scikit-learn's ``C`` (``0.5 |w|^2 + C * sum of
    losses``, divided by ``C * num_texts``), so one ``c`` means the same on any
    training-set size. The bias is not penalised (as scikit-learn's intercept).

    Args:
        num_features: the kernel's rows (`TfidfFeatures.num_features`).
        units: outputs. Default 1.
        activation: a Keras activation name. Default None (logits).
        l2: a fixed penalty per squared weight (Keras' ``L2(l2)``). Default 0.
        c: scikit-learn's inverse regularization strength; 0 (default) for none.
        num_texts: the training-set size that ``c`` is scaled by; `adapt_model`
            sets it from the texts it counted. Default 0 (``c`` not applied yet).
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> layer = SparseLinear(5, units=2, c=10.0, num_texts=1000)
        >>> tuple(layer([np.array([[1, 3]]), np.array([[0.6, 0.8]], "float32")]).shape)
        (1, 2)
        >>> layer.penalty_strength()
        5e-05
    """

    def __init__(self, num_features, units=1, activation=None, l2=0.0, c=0.0, num_texts=0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        if l2 < 0 or c < 0 or num_texts < 0:
            raise ValueError(f"l2, c and num_texts must be non-negative, got l2={l2!r}, c={c!r}, num_texts={num_texts!r}")
        self.num_features, self.units = num_features, units
        self.l2, self.c, self.num_texts = float(l2), float(c), int(num_texts)
        self.activation = keras.activations.get(activation)

    def penalty_strength(self) -> float:
        """The coefficient of ``sum(kernel ** 2)`` in the loss: ``l2 + 1 / (2 c num_texts)``."""
        scaled = 1.0 / (2.0 * self.c * self.num_texts) if self.c and self.num_texts else 0.0
        return self.l2 + scaled

    def build(self, input_shape):
        # Zeros, as scikit-learn's solvers start: the objective is convex, and no seed is needed.
        self.kernel = self.add_weight(shape=(self.num_features, self.units), initializer="zeros", name="kernel",
                                      regularizer=_LinearPenalty(self) if (self.l2 or self.c) else None)
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        feature_ids, values = inputs
        rows = ops.take(self.kernel, ops.cast(feature_ids, "int32"), axis=0)  # (batch, slots, units)
        values = ops.cast(values, rows.dtype)
        if len(values.shape) == 2:
            values = ops.expand_dims(values, -1)
        return self.activation(ops.sum(rows * values, axis=1) + self.bias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        return {**super().get_config(), "num_features": self.num_features, "units": self.units,
                "activation": keras.activations.serialize(self.activation), "l2": self.l2, "c": self.c,
                "num_texts": self.num_texts}


def tfidf_layers(model: keras.Model) -> list:
    """The `TfidfFeatures` layers of a model, nested models included.

    Args:
        model: any Keras model.

    Returns:
        A list of `TfidfFeatures` layers (empty for a model without any).

    Example:
        >>> tfidf_layers(build_linear_classifier(100, 2, ngram_buckets=64))[0].name
        'tfidf'
    """
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True) if isinstance(layer, TfidfFeatures)]


def adapt_model(model: keras.Model, data, targets=None, *, steps=None) -> list:
    """Fits every `TfidfFeatures` layer of a model over token ids on the training split; the hook to call before ``fit``.

    A model without such layers is left alone, so a harness may call this on any
    model: ``adapt_model(model, ids_dataset)`` just before ``model.fit`` (before the
    first ``fit`` traces the loss: the `SparseLinear` heads' ``num_texts``, which
    scales their ``c``, is set here to the number of texts counted).

    Args:
        model: a model whose input is the token ids (as `build_linear_classifier` makes).
        data: the training split's ``(ids, targets)`` batches (a `tf.data.Dataset`,
            e.g. `textrecipes.text.pipeline.make_dataset` without augmentation), or ids
            with ``targets``; see `TfidfFeatures.adapt`.
        targets: the encoded training targets when ``data`` holds ids only. Default None.
        steps: read at most this many batches. Default None (all).

    Returns:
        The names of the layers fitted (``[]`` when there are none).

    Raises:
        ValueError: when such a layer does not read the model's input (adapt it directly).

    Example:
        >>> import numpy as np
        >>> model = build_linear_classifier(10, 2, ngram_buckets=64)
        >>> adapt_model(model, np.array([[2, 3, 0], [4, 2, 5]]), np.array([[1.0], [0.0]]))
        ['tfidf']
    """
    found = tfidf_layers(model)
    inputs = [id(t) for t in model.inputs]
    for layer in found:
        if id(layer.input) not in inputs:
            raise ValueError(f"layer {layer.name!r} does not read the input of model {model.name!r}; "
                             "call its adapt() with the ids it reads")
        layer.adapt(data, targets, steps=steps)
    if found:  # the heads' c is scaled by the training-set size the idf was counted on
        texts = int(float(ops.convert_to_numpy(found[0].documents)))
        for head in model._flatten_layers(include_self=False, recursive=True):
            if isinstance(head, SparseLinear):
                head.num_texts = texts
    return [layer.name for layer in found]


def build_linear_classifier(
    vocabulary_size: int,
    num_labels: int,
    *,
    task: str = "binary",
    seed: int = 0,
    ngram_buckets: int = 2**18,
    ngram_range=(1, 2),
    sublinear_tf: bool = True,
    min_df: int = 2,
    naive_bayes: bool = False,
    nb_alpha: float = 1.0,
    c: float = 100.0,
    l2: float = 0.0,
    name: str = "linear_classifier",
) -> keras.Model:
    """Builds TfidfFeatures → SparseLinear: logistic (or softmax) regression over TF-IDF words and hashed n-grams.

    The `BUILDERS` signature: ``BUILDERS["linear"](len(vocab), len(labels), task=task, seed=seed, ...)``.
    Fit the idf (and ratios) with `adapt_model` before ``fit``.

    Args:
        vocabulary_size: ids the vocabulary gives (``len(Vocabulary)``).
        num_labels: number of labels (2 for binary).
        task: "binary" (default, one sigmoid unit), "multiclass" (softmax) or
            "multilabel" (one sigmoid per label).
        seed: unused: the kernel starts at zero and the hash is fixed; kept for the
            builders' signature. Default 0.
        ngram_buckets: hashed n-gram features. Default 262144 (2**18).
        ngram_range: ``(min_n, max_n)`` words; (1, 2) (default) is words and bigrams,
            scikit-learn's ``ngram_range=(1, 2)``.
        sublinear_tf: ``1 + log(tf)``. Default True.
        min_df: features in fewer training texts carry no weight. Default 2 (as
            the suite's scikit-learn baseline; against 1, validation accuracy +0.2 on
            fortunes_topics and +0.6 on convention_party, and fewer epochs).
        naive_bayes: scale each feature by its naive-Bayes log-count ratio (NBSVM,
            Wang & Manning 2012; one-vs-rest ratios per label beyond binary). Default False.
        nb_alpha: the ratios' smoothing count. Default 1.0.
        c: scikit-learn's C: the kernel's L2 penalty is ``1 / (2 c n)`` per squared
            weight on ``n`` training texts (`adapt_model` counts them), the
            objective of ``LogisticRegression(C=c)``; 0 for none. Default 100 (the C
            that scikit-learn's validation picked on 4 of the suite's first 5 sets).
        l2: a further fixed L2 penalty per squared weight (the recipe's ``model.l2``).
            Default 0.
        name: model name. Default "linear_classifier".

    Returns:
        An uncompiled `keras.Model` taking int ids ``(batch, time)``.

    Example:
        >>> model = build_linear_classifier(1000, 3, task="multiclass", ngram_buckets=1024)
        >>> model.output_shape
        (None, 3)
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if not isinstance(num_labels, int) or num_labels < 2:
        raise ValueError(f"num_labels must be an integer of at least 2, got {num_labels!r}")
    del seed  # nothing random: zero-initialised kernel, fixed hash tables
    units = 1 if task == "binary" else num_labels
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    features = TfidfFeatures(vocabulary_size, ngram_buckets=ngram_buckets, ngram_range=ngram_range,
                             sublinear_tf=sublinear_tf, min_df=min_df, nb_units=units if naive_bayes else 0, nb_alpha=nb_alpha,
                             name="tfidf")
    head = SparseLinear(features.num_features, units, activation="softmax" if task == "multiclass" else "sigmoid",
                        l2=l2, c=c, dtype="float32", name="probabilities")
    return keras.Model(ids, head(features(ids)), name=name)
