"""Transfer learning pieces shared by `finetune` and the runner's ``model.init_from``.

Layer groups (the head, the LSTM, the embeddings), freezing, discriminative
learning rates (a lower rate for each lower group, as in ULMFiT) and gradual
unfreezing as stages of ``model.fit``. Keras layers and ops only inside the
model; the optimizer subclasses work under every backend.
"""

from __future__ import annotations

import os
from typing import Sequence

import keras
import numpy as np

from textrecipes.export.metadata import RunFolderError
from textrecipes.models.auto import single_model

FREEZE_MODES = ("none", "embedding", "all_but_head", "gradual")
UNFREEZE_MODES = ("none", "gradual")  # train.unfreeze: one fit, or one more layer group per epoch (`fit_in_stages`)

# Head first, then down the network. The hashed-bigram embedding feeds the head
# directly (a shallow fastText branch), so it travels with the head.
LAYER_GROUPS = (("probabilities", "bigram_embedding"), ("lstm", "bilstm"), ("embedding",))


def layer_groups(model: keras.Model) -> list[list[keras.layers.Layer]]:
    """The classifier's layers with weights, grouped head first: head, LSTM, embeddings.

    Args:
        model: a classifier on token ids (`build_lstm_classifier`).

    Returns:
        Three lists of layers (a group may be empty, e.g. without the bigram branch).

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> m = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0)
        >>> [[layer.name for layer in g] for g in layer_groups(m)]
        [['probabilities'], ['bilstm'], ['embedding']]
    """
    names = {layer.name: layer for layer in single_model(model).layers}  # auto: its LSTM member's layers
    return [[names[n] for n in group if n in names] for group in LAYER_GROUPS]


def set_trainable_groups(model: keras.Model, top: int) -> None:
    """Makes the ``top`` highest layer groups trainable and freezes the rest.

    Args:
        model: a classifier on token ids.
        top: how many groups, counted from the head, train (0 freezes all).

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> m = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0)
        >>> set_trainable_groups(m, 1)
        >>> m.get_layer("probabilities").trainable, m.get_layer("bilstm").trainable
        (True, False)
    """
    for depth, group in enumerate(layer_groups(model)):
        for layer in group:
            layer.trainable = depth < top


def apply_freeze(model: keras.Model, freeze: str) -> None:
    """Freezes layers for a fine-tune: "none", "embedding", "all_but_head" or "gradual".

    "gradual" starts with only the head trainable; `fit_in_stages` unfreezes
    the rest one group per epoch.

    Args:
        model: a classifier on token ids.
        freeze: one of `FREEZE_MODES`.

    Raises:
        ValueError: for another value.

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> m = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0)
        >>> apply_freeze(m, "embedding")
        >>> m.get_layer("embedding").trainable, m.get_layer("bilstm").trainable
        (False, True)
    """
    if freeze not in FREEZE_MODES:
        raise ValueError(f"freeze must be one of {FREEZE_MODES}, got {freeze!r}")
    groups = len(LAYER_GROUPS)
    set_trainable_groups(model, {"none": groups, "embedding": groups, "all_but_head": 1, "gradual": 1}[freeze])
    if freeze == "embedding":
        core = single_model(model)  # auto: its LSTM member's embeddings
        for name in ("embedding", "bigram_embedding"):
            if name in {layer.name for layer in core.layers}:
                core.get_layer(name).trainable = False


def group_rates(model: keras.Model, decay: float) -> dict[str, float]:
    """Learning-rate multipliers per layer: 1 for the head, ``1/decay`` per group further down.

    Args:
        model: a classifier on token ids.
        decay: the factor between neighbouring groups (ULMFiT: 2.6; 1: one rate for all).

    Returns:
        ``{layer name: multiplier}`` for every layer with weights in a group.

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> m = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0)
        >>> group_rates(m, 2.0)
        {'probabilities': 1.0, 'bilstm': 0.5, 'embedding': 0.25}
    """
    return {layer.name: float(decay) ** -depth for depth, group in enumerate(layer_groups(model)) for layer in group}


def fit_in_stages(model: keras.Model, compile_model, train_ds, *, epochs: int, gradual: bool, validation_data=None,
                  callbacks: Sequence = (), stage_callbacks: Sequence = (), verbose: int = 0, class_weight=None) -> dict:
    """Fits with gradual unfreezing: one more layer group per epoch, head first, then the rest.

    Keras cannot change which variables an optimizer updates in the middle of
    ``fit``, so each unfreezing step is a short ``fit`` of one epoch after a
    fresh ``compile`` (a new optimizer: its slots cover the newly trainable
    variables); ``initial_epoch`` keeps the epoch count and logs continuous. The
    last stage, everything unfrozen, runs the remaining epochs with ``callbacks``.

    Args:
        model: a classifier on token ids, frozen as wanted for the first stage.
        compile_model: called with no argument before each stage to compile the
            model (with a new optimizer).
        train_ds: the training dataset.
        epochs: epochs in total, all stages included.
        gradual: False: one stage, the model as it is frozen.
        validation_data: passed to ``fit``. Default None.
        callbacks: every callback of the last stage, in order (early stopping,
            checkpoints, a CSVLogger...). Default ().
        stage_callbacks: the callbacks of the stages before it (e.g. the same
            CSVLogger, which is switched to appending after each stage). Default ().
        verbose: ``fit``'s verbosity. Default 0.
        class_weight: ``fit``'s ``class_weight``. Default None.

    Returns:
        The history: metric → one value per epoch, over all stages.

    Example:
        >>> history = fit_in_stages(model, lambda: model.compile("adam", "binary_crossentropy"),  # doctest: +SKIP
        ...                         train_ds, epochs=4, gradual=True)
    """
    history: dict[str, list[float]] = {}
    groups = len(LAYER_GROUPS)
    epoch = 0
    top = 1
    while epoch < epochs:
        last = not gradual or top >= groups or epoch == epochs - 1
        if gradual:
            set_trainable_groups(model, groups if top >= groups else top)
        compile_model()
        end = epochs if last else epoch + 1
        done = model.fit(train_ds, validation_data=validation_data, initial_epoch=epoch, epochs=end, shuffle=False,
                         callbacks=list(callbacks if last else stage_callbacks), verbose=verbose,
                         class_weight=class_weight)
        for key, values in done.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        for callback in list(stage_callbacks) + list(callbacks):  # a CSVLogger goes on writing the same file
            if isinstance(callback, keras.callbacks.CSVLogger):
                callback.append = True
        epoch = end
        top += 1
    return history


def copy_matching_weights(source: keras.Model, target: keras.Model, skip: Sequence[str] = ()) -> list[str]:
    """Copies every layer's weights from ``source`` to the same-named layer of ``target`` when shapes agree.

    Args:
        source: the trained model.
        target: a model of the same architecture, perhaps with other sizes.
        skip: layer names left alone (handled by the caller). Default ().

    Returns:
        The names of the layers copied.

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> a = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0, seed=1)
        >>> b = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0, seed=2)
        >>> copy_matching_weights(a, b)
        ['embedding', 'bilstm', 'probabilities']
    """
    copied = []
    names = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        old = names.get(layer.name)
        if old is None or layer.name in skip or not layer.weights:
            continue
        weights = old.get_weights()
        if [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(weights)
            copied.append(layer.name)
    return copied


def extend_rows(matrix: np.ndarray, new_rows: int, seed: int, noise: float = 0.01) -> np.ndarray:
    """Appends embedding rows: the mean of the existing token rows plus small seeded noise.

    Rows 0 (padding) and 1 (OOV) are not part of the mean.

    Args:
        matrix: the ``(ids, dim)`` embedding matrix.
        new_rows: how many rows to append.
        seed: seeds the noise.
        noise: the noise's standard deviation. Default 0.01.

    Returns:
        The ``(ids + new_rows, dim)`` matrix; the old rows are unchanged.

    Example:
        >>> extend_rows(np.ones((4, 2), "float32"), 1, seed=0, noise=0.0).tolist()[-1]
        [1.0, 1.0]
    """
    rows = matrix[2:] if len(matrix) > 2 else matrix
    mean = rows.mean(axis=0, keepdims=True)
    extra = mean + np.random.default_rng(seed).normal(0.0, noise, (new_rows, matrix.shape[1]))
    return np.concatenate([matrix, extra.astype(matrix.dtype)], axis=0)


def extend_head(kernel: np.ndarray, bias: np.ndarray, task: str, new_labels: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Output-layer weights with ``new_labels`` more columns; the old ones are kept.

    A binary head (one sigmoid unit ``w, b``) becomes a softmax head whose first
    two columns are ``[0, w]`` and ``[0, b]``: ``softmax([0, z])[1] = sigmoid(z)``,
    so the old probabilities are kept exactly before the new columns come in.
    New columns get small seeded weights and the lowest old bias, so a new label
    starts less likely than every old one.

    Args:
        kernel: the ``(features, units)`` kernel.
        bias: the ``(units,)`` bias.
        task: the old task: "binary", "multiclass" or "multilabel".
        new_labels: how many columns to add (0: unchanged).
        seed: seeds the new columns.

    Returns:
        ``(kernel, bias, task)``; task becomes "multiclass" for a binary head.

    Example:
        >>> k, b, task = extend_head(np.ones((3, 1), "float32"), np.zeros(1, "float32"), "binary", 1, seed=0)
        >>> k.shape, task
        ((3, 3), 'multiclass')
    """
    if not new_labels:
        return kernel, bias, task
    if task == "binary":
        kernel = np.concatenate([np.zeros_like(kernel), kernel], axis=1)
        bias = np.concatenate([np.zeros_like(bias), bias])
        task = "multiclass"
    rng = np.random.default_rng(seed)
    extra_k = rng.normal(0.0, 0.01, (kernel.shape[0], new_labels)).astype(kernel.dtype)
    extra_b = np.full(new_labels, bias.min(), dtype=bias.dtype)
    return np.concatenate([kernel, extra_k], axis=1), np.concatenate([bias, extra_b]), task


def check_file(path: str, what: str) -> str:
    """``path`` if it exists, else a `RunFolderError` naming it and what it should be.

    Args:
        path: a file inside a run folder.
        what: a few words on what the file is.

    Returns:
        ``path``.

    Example:
        >>> check_file("README.md", "the README")
        'README.md'
    """
    if not os.path.exists(path):
        raise RunFolderError(f"{path} is missing ({what}); is {os.path.dirname(path) or '.'} a finished run folder?")
    return path
