"""The losses of the classifier heads: binary, multiclass (with label smoothing on sparse ids) and multi-label."""

from __future__ import annotations

import keras

TASKS = ("binary", "multiclass", "multilabel")


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
