"""The ``auto`` model: the default LSTM and the TF-IDF linear model in one Keras model, blended (``model.name = "auto"``).

``p = weight * p_lstm + (1 - weight) * p_linear``, the members' probabilities
averaged by `ProbabilityBlend`, whose ``weight`` is a non-trainable weight of the
model, so the trained copy, the ``.keras`` file and the SavedModel over raw strings
all carry the weight that was chosen. How the classification task trains it
(`textrecipes.tasks.auto`):

1. before the harness's ``fit`` (``Task.adapt``), the linear member's idf is
   fitted and its weights are scikit-learn's lbfgs logistic regression on its own
   TF-IDF rows, C picked on validation (SGD with its own recipe where lbfgs
   cannot go), then frozen;
2. the harness's ``fit`` trains the LSTM member with ``weight = 1``: the output is
   the LSTM's alone, so it learns exactly as the default recipe does;
3. after ``fit`` (``Task.after_fit``), ``weight`` is picked in 0, 0.1, ..., 1 on the
   validation split; 0 is the linear model alone, so on validation the blend never
   scores below the better member.

Post-hoc rather than trained jointly (wide & deep): the linear member needs its
own optimizer (the LSTM's Adam at 1e-3 for 10 epochs leaves it far from
scikit-learn's optimum), and a weight chosen on
validation can fall back to either member, which a joint sum of logits cannot.
"""

from __future__ import annotations

import keras
from keras import ops

LSTM_MEMBER = "lstm_classifier"
LINEAR_MEMBER = "linear_classifier"
BLEND = "probabilities"
WEIGHTS = tuple(i / 10 for i in range(11))  # the grid the task searches on validation


@keras.saving.register_keras_serializable(package="textrecipes")
class ProbabilityBlend(keras.layers.Layer):
    """``[p_a, p_b]`` → ``weight * p_a + (1 - weight) * p_b``, the weight a non-trainable weight of the layer.

    The weight is a variable, not only a config value, so that ``set_weights``
    (the harness's evaluation copy) and a saved model carry the value chosen after
    training; ``get_config`` holds the value it starts from.

    Args:
        weight: the share of the first input, in [0, 1]. Default 1.0 (the first alone).
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> blend = ProbabilityBlend(0.25)
        >>> blend([np.array([[1.0]]), np.array([[0.0]])]).numpy().tolist()
        [[0.25]]
    """

    def __init__(self, weight=1.0, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight!r}")
        self.initial_weight = float(weight)

    def build(self, input_shape):
        self.weight = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.initial_weight),
                                      trainable=False, name="weight")

    @property
    def value(self) -> float:
        """The weight now (the chosen one, once the task has set it)."""
        return float(ops.convert_to_numpy(self.weight))

    def call(self, inputs):
        a, b = inputs
        w = ops.cast(self.weight, a.dtype)
        return w * a + (1.0 - w) * ops.cast(b, a.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = {**super().get_config(), "weight": self.initial_weight}
        config.pop("trainable", None)  # always False
        return config


def blended_classifier(lstm_member: keras.Model, linear_member: keras.Model, *, weight: float = 1.0,
                       name: str = "auto_classifier") -> keras.Model:
    """One model over token ids: both members read the same ids, `ProbabilityBlend` averages their outputs.

    Args:
        lstm_member: a classifier over ids (`build_lstm_classifier`), named `LSTM_MEMBER`.
        linear_member: `build_linear_classifier`'s model, named `LINEAR_MEMBER`.
        weight: the LSTM's share. Default 1.0 (the LSTM alone, as it trains).
        name: model name. Default "auto_classifier".

    Returns:
        An uncompiled `keras.Model` taking int ids ``(batch, time)``.

    Example:
        >>> from textrecipes.models.classifiers import build_auto_classifier
        >>> build_auto_classifier(100, 3, task="multiclass", units=8, embedding_dim=8, ngram_buckets=64,
        ...                       linear_ngram_buckets=64).output_shape
        (None, 3)
    """
    for member, expected in ((lstm_member, LSTM_MEMBER), (linear_member, LINEAR_MEMBER)):
        if member.name != expected:
            raise ValueError(f"the auto model's members are found by name: expected {expected!r}, got {member.name!r}")
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    blend = ProbabilityBlend(weight, dtype="float32", name=BLEND)
    return keras.Model(ids, blend([lstm_member(ids), linear_member(ids)]), name=name)


def is_auto(model) -> bool:
    """Whether ``model`` is a `blended_classifier` (it holds both members and the blend).

    Example:
        >>> is_auto(keras.Sequential([keras.layers.Dense(1)]))
        False
    """
    names = {layer.name for layer in getattr(model, "layers", [])}
    return {LSTM_MEMBER, LINEAR_MEMBER, BLEND} <= names and isinstance(model.get_layer(BLEND), ProbabilityBlend)


def single_model(model: keras.Model) -> keras.Model:
    """The LSTM member of an `is_auto` model, else ``model``: where vectors, a language model's weights and freezing go.

    Example:
        >>> m = keras.Sequential([keras.layers.Dense(1)])
        >>> single_model(m) is m
        True
    """
    return model.get_layer(LSTM_MEMBER) if is_auto(model) else model
