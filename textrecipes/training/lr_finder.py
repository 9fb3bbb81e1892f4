"""The learning-rate range test (Smith 2015; fastai's `lr_find`, ktrain's
`lr_find`).

`find_learning_rate` trains a compiled model for a few hundred steps while a
callback raises the rate exponentially from `min_lr` to `max_lr`, records the
smoothed loss, stops once the loss explodes, suggests the rate where the loss
fell fastest, and then puts the model's weights and optimizer state back
exactly as they were, so the real `fit` starts from the same point.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os

import keras
import numpy as np
import tensorflow as tf

from textrecipes.evaluation.plots import plot_lr_finder
from textrecipes.training.rates import get_schedule
from textrecipes.training.schedules import Constant
from textrecipes.training.schedule_wrappers import ScaledSchedule

__all__ = ["LRFinderResult", "find_learning_rate"]


@dataclasses.dataclass(frozen=True)
class LRFinderResult:
    """What the range test found.

    Args:
        lrs: NumPy array, the rate used at each step of the sweep.
        losses: NumPy array, the smoothed (bias-corrected moving average)
            training loss after each step.
        suggestion: Python float, the suggested rate: where the smoothed loss
            fell fastest (per log-rate) before its minimum, or the rate at
            the minimum divided by 10 when the curve is too short to tell.
        raw_losses: NumPy array, the unsmoothed loss of each step. Defaults
            to `None`.
        plot_path: String or None, where the plot was written. Defaults to
            `None`.

    Example:

    >>> result = find_learning_rate(model, train_ds, steps=100)
    >>> result.suggestion
    0.0031622776
    """
    lrs: np.ndarray
    losses: np.ndarray
    suggestion: float
    raw_losses: np.ndarray | None = None
    plot_path: str | None = None


class _RangeTest(keras.callbacks.Callback):
    """Sets the rate before each step and records the loss after it."""

    def __init__(self, rates, set_rate, smoothing, explode_factor=4.0):
        super().__init__()
        self.rates = rates
        self.set_rate = set_rate
        self.smoothing = smoothing
        self.explode_factor = explode_factor
        self.step = 0
        self.average = 0.0
        self.best = math.inf
        self.lrs, self.losses, self.raw_losses = [], [], []

    def on_train_batch_begin(self, batch, logs=None):
        if self.step < len(self.rates):
            self.set_rate(self.rates[self.step])

    def on_train_batch_end(self, batch, logs=None):
        loss = float(np.asarray((logs or {})["loss"]))
        self.step += 1
        if not math.isfinite(loss):
            self.model.stop_training = True
            return
        self.average = self.smoothing * self.average + (1 - self.smoothing) * loss
        smoothed = self.average / (1 - self.smoothing**self.step)
        self.lrs.append(float(self.rates[self.step - 1]))
        self.losses.append(smoothed)
        self.raw_losses.append(loss)
        self.best = min(self.best, smoothed)
        if smoothed > self.explode_factor * self.best or self.step >= len(self.rates):
            self.model.stop_training = True


def _suggest(lrs, losses, min_lr, max_lr):
    if len(losses) == 0:
        return float(min_lr)
    lowest = int(np.argmin(losses))
    if lowest < 2:
        suggestion = lrs[lowest] / 10
    else:
        # Steepest descent before the minimum, per unit of log-rate; the
        # first tenth is skipped because the moving average is still noisy.
        skip = min(len(lrs) // 10, lowest - 2)
        region = slice(skip, lowest + 1)
        slopes = np.gradient(np.asarray(losses[region]), np.log(lrs[region]))
        suggestion = lrs[skip + int(np.argmin(slopes))]
    return float(np.clip(suggestion, min_lr, max_lr))


def _as_dataset(data, batch_size, seed):
    if isinstance(data, tf.data.Dataset):
        return data.repeat()
    if isinstance(data, (tuple, list)):
        data = tuple(data)
        count = len(data[0])
        return (
            tf.data.Dataset.from_tensor_slices(data)
            .shuffle(count, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .repeat()
        )
    raise TypeError(
        "find_learning_rate needs a batched tf.data.Dataset of (x, y) or a "
        f"tuple (x, y) of arrays. Received: {type(data).__name__}"
    )


def _ensure_built(model, dataset, optimizer):
    if not model.built or not model.weights:
        x = next(iter(dataset))
        x = x[0] if isinstance(x, (tuple, list)) else x
        model(x, training=False)
    if not optimizer.built:
        strategy = getattr(model, "distribute_strategy", None)
        if strategy is not None:
            with strategy.scope():
                optimizer.build(model.trainable_variables)
        else:
            optimizer.build(model.trainable_variables)


def _check_range_test(optimizer, min_lr, max_lr, steps, smoothing):
    if optimizer is None:
        raise ValueError("find_learning_rate needs a compiled model: call model.compile() first.")
    if not 0 < min_lr < max_lr:
        raise ValueError(f"Need 0 < min_lr < max_lr. Received: min_lr={min_lr}, max_lr={max_lr}")
    if steps < 2:
        raise ValueError(f"steps must be >= 2. Received: steps={steps}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1). Received: {smoothing}")


@contextlib.contextmanager
def _restored(model, optimizer):
    """Puts back the model's and the optimizer's variables (and ``model.history``) after the block."""
    saved_model = [np.array(v.numpy(), copy=True) for v in model.variables]
    saved_optimizer = [np.array(v.numpy(), copy=True) for v in optimizer.variables]
    saved_history = getattr(model, "history", None)
    try:
        yield
    finally:
        model.make_train_function(force=True)
        for variable, value in zip(model.variables, saved_model):
            variable.assign(value)
        if len(optimizer.variables) != len(saved_optimizer):
            raise RuntimeError("The optimizer's variables changed during the range test; its state could not be restored.")
        for variable, value in zip(optimizer.variables, saved_optimizer):
            variable.assign(value)
        if saved_history is not None:
            model.history = saved_history


@contextlib.contextmanager
def _settable_rate(optimizer, first_rate):
    """Yields ``set_rate(value)``; a schedule (or a callable rate) gives way to a float-rate stand-in meanwhile."""
    inner = optimizer
    while hasattr(inner, "inner_optimizer"):
        inner = inner.inner_optimizer
    original = getattr(inner, "_learning_rate", None)
    swapped = get_schedule(inner) is not None or (callable(original) and not isinstance(original, keras.Variable))
    if not swapped:
        yield lambda value: setattr(inner, "learning_rate", float(value))
        return
    rate = keras.Variable(float(first_rate), dtype="float32", trainable=False, name="lr_finder_rate")
    inner.learning_rate = ScaledSchedule(Constant(1.0), rate)
    try:
        yield rate.assign
    finally:
        inner.learning_rate = original


def find_learning_rate(
    model,
    dataset,
    *,
    min_lr=1e-6,
    max_lr=1.0,
    steps=200,
    seed=0,
    smoothing=0.98,
    plot_path=None,
    batch_size=32,
):
    """Runs the learning-rate range test on a compiled model.

    The model must already be compiled (its optimizer and loss are the ones
    tested). For `steps` steps the rate rises exponentially from `min_lr` to
    `max_lr`, set by a callback before each step; the sweep stops early when
    the smoothed loss exceeds 4 times its best or is not finite. The model's
    variables (weights, non-trainable state, seed states) and the optimizer's
    variables (iterations, moments, float rate) are restored exactly
    afterwards. If the optimizer holds a schedule, a float-rate stand-in
    replaces it during the sweep and the schedule is put back. `model.history`
    is kept too.

    Each step runs as its own one-step epoch, because Keras reports a
    running mean of the loss over an epoch and the test needs each step's
    own loss.

    Args:
        model: A compiled `keras.Model`.
        dataset: A batched `tf.data.Dataset` of `(x, y)` (it is repeated as
            needed), or a tuple `(x, y)` of arrays (shuffled with `seed` and
            batched by `batch_size`).
        min_lr: Float > 0, the first rate. Defaults to `1e-6`.
        max_lr: Float > min_lr, the last rate. Defaults to `1.0`.
        steps: Int >= 2, the most steps to run. Defaults to `200`.
        seed: Int, shuffling seed for array input. Defaults to `0`.
        smoothing: Float in [0, 1), the loss moving-average weight.
            Defaults to `0.98`.
        plot_path: String or None; when given, a PNG of loss against rate
            (log x) is written there. Defaults to `None`.
        batch_size: Int, batch size for array input. Defaults to `32`.

    Returns:
        An `LRFinderResult(lrs, losses, suggestion, ...)`; the suggestion is
        within `[min_lr, max_lr]`.

    Example:

    >>> model.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy")
    >>> result = find_learning_rate(model, train_ds, steps=100,
    ...                             plot_path="runs/lr_find.png")
    >>> model.optimizer.learning_rate.assign(result.suggestion)
    """
    optimizer = getattr(model, "optimizer", None)
    _check_range_test(optimizer, min_lr, max_lr, steps, smoothing)
    data = _as_dataset(dataset, batch_size, seed)
    _ensure_built(model, data, optimizer)
    rates = min_lr * (max_lr / min_lr) ** (np.arange(steps) / (steps - 1))
    with _restored(model, optimizer), _settable_rate(optimizer, min_lr) as set_rate:
        sweep = _RangeTest(rates, set_rate, smoothing)
        # A train function traced before would keep the old rate object.
        model.make_train_function(force=True)
        model.fit(data, epochs=steps, steps_per_epoch=1, callbacks=[sweep], shuffle=False, verbose=0)
    lrs = np.asarray(sweep.lrs, dtype="float64")
    losses = np.asarray(sweep.losses, dtype="float64")
    result = LRFinderResult(
        lrs=lrs,
        losses=losses,
        suggestion=_suggest(lrs, losses, min_lr, max_lr),
        raw_losses=np.asarray(sweep.raw_losses, dtype="float64"),
        plot_path=None,
    )
    if plot_path is not None:
        plot_lr_finder(result, plot_path)
        result = dataclasses.replace(result, plot_path=os.fspath(plot_path))
    return result


