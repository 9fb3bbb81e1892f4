"""The learning rate during a fit: what the optimizer's schedule gives, a plateau reducer that works with schedules, a logger.

Keras' `ReduceLROnPlateau` raises `TypeError` on an optimizer built with a
schedule; `ReduceLROnPlateauScaled` lowers the multiplier of a
`ScaledSchedule` instead (or the float rate). `LearningRateLogger` records the
rate a schedule actually gave, per epoch, in the history.
"""

from __future__ import annotations

import os
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from textrecipes.training.monitors import MODES, resolve_mode
from textrecipes.training.schedule_wrappers import ScaledSchedule


def _base_optimizer(optimizer):
    # A mixed-precision LossScaleOptimizer delegates to `inner_optimizer`.
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer


def get_schedule(optimizer):
    """Returns the `LearningRateSchedule` an optimizer holds, or None.

    Keras 3 has no public getter: `optimizer.learning_rate` evaluates the
    schedule at `optimizer.iterations` and returns a tensor, so this reads
    the attribute the optimizer keeps it in.

    Args:
        optimizer: A `keras.optimizers.Optimizer` (a `LossScaleOptimizer`
            is unwrapped).

    Returns:
        The schedule, or None when the optimizer holds a float rate.

    Example:

    >>> opt = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(
    ...     1e-3, 100, 0.9))
    >>> type(get_schedule(opt)).__name__
    'ExponentialDecay'
    """
    rate = getattr(_base_optimizer(optimizer), "_learning_rate", None)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return rate
    return None


def current_learning_rate(optimizer, *, last_step=False):
    """The optimizer's learning rate as a Python float.

    Args:
        optimizer: A `keras.optimizers.Optimizer`.
        last_step: Boolean. If True and the optimizer holds a schedule,
            evaluate it at `iterations - 1` (the step just taken) instead of
            at `iterations` (the next step). Defaults to `False`.

    Returns:
        Python float.

    Example:

    >>> current_learning_rate(keras.optimizers.SGD(0.01))
    0.009999999776482582
    """
    schedule = get_schedule(optimizer)
    if schedule is not None and last_step:
        step = ops.maximum(ops.convert_to_tensor(optimizer.iterations) - 1, 0)
        return float(ops.convert_to_numpy(schedule(step)))
    return float(ops.convert_to_numpy(optimizer.learning_rate))


def _retrace(model):
    # A train function traced in an earlier `fit` baked in the old rate
    # object; dropping it makes the next steps trace with the new one.
    make = getattr(model, "make_train_function", None)
    if make is not None and getattr(model, "train_function", None) is not None:
        make(force=True)


class ReduceLROnPlateauScaled(keras.callbacks.Callback):
    """Lowers the learning rate when a metric stops improving, schedule or not.

    Keras' `ReduceLROnPlateau` assigns `optimizer.learning_rate`, which
    raises `TypeError` when the optimizer was built with a schedule. This
    callback wraps such a schedule, at the start of training, in a
    `ScaledSchedule` and multiplies its scale by `factor` on a plateau, so
    the schedule's shape is kept and only its height drops. With a float
    rate it lowers the rate itself, as Keras does. The rate never goes below
    `min_learning_rate` (judged at the current step).

    Args:
        monitor: String, the metric to watch. Defaults to `"val_loss"`.
        factor: Float in (0, 1), the multiplier on a plateau. Defaults to
            `0.5`.
        patience: Int, epochs without improvement before lowering.
            Defaults to `2`.
        min_delta: Float, smallest change that counts as improvement.
            Defaults to `1e-4`.
        cooldown: Int, epochs to wait after a reduction. Defaults to `0`.
        min_learning_rate: Float, the lowest rate. Defaults to `0.0`.
        mode: `"auto"`, `"min"` or `"max"`; `"auto"` uses `metric_mode`.
            Defaults to `"auto"`.
        verbose: Int; 1 prints each reduction. Defaults to `0`.

    Example:

    >>> optimizer = keras.optimizers.Adam(CosineAnnealing(1e-3, 1000))
    >>> model.compile(optimizer, "sparse_categorical_crossentropy")
    >>> model.fit(x, y, validation_split=0.2, epochs=20,
    ...           callbacks=[ReduceLROnPlateauScaled(patience=2)])
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.5,
        patience=2,
        min_delta=1e-4,
        cooldown=0,
        min_learning_rate=0.0,
        mode="auto",
        verbose=0,
    ):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(
                f"ReduceLROnPlateauScaled needs 0 < factor < 1. Received: {factor}"
            )
        if mode not in MODES:
            raise ValueError(
                f"mode must be 'auto', 'min' or 'max'. Received: {mode!r}"
            )
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_learning_rate = min_learning_rate
        self.mode = mode
        self.verbose = verbose
        self.scaled_schedule = None
        self.reductions = []
        self._reset()

    def _reset(self):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, current):
        if self.best is None:
            return True
        if resolve_mode(self.monitor, self.mode) == "min":
            return current < self.best - abs(self.min_delta)
        return current > self.best + abs(self.min_delta)

    def on_train_begin(self, logs=None):
        self._reset()
        optimizer = _base_optimizer(self.model.optimizer)
        schedule = get_schedule(optimizer)
        if schedule is None or isinstance(schedule, ScaledSchedule):
            self.scaled_schedule = schedule
            return
        strategy = getattr(self.model, "distribute_strategy", None)
        if strategy is not None:
            with strategy.scope():
                scaled = ScaledSchedule(schedule, 1.0)
        else:
            scaled = ScaledSchedule(schedule, 1.0)
        optimizer.learning_rate = scaled
        self.scaled_schedule = scaled
        _retrace(self.model)

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"ReduceLROnPlateauScaled watches {self.monitor!r}, which is "
                f"not in the logs (available: {', '.join(logs or {})}).",
                stacklevel=2,
            )
            return
        current = float(current)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            self._reduce(epoch)
            self.cooldown_counter = self.cooldown
            self.wait = 0

    def _reduce(self, epoch):
        optimizer = _base_optimizer(self.model.optimizer)
        old = current_learning_rate(optimizer)
        if old <= np.float32(self.min_learning_rate):
            return
        new = max(old * self.factor, self.min_learning_rate)
        if self.scaled_schedule is not None:
            scale = float(ops.convert_to_numpy(self.scaled_schedule.scale))
            self.scaled_schedule.scale.assign(scale * new / old)
        else:
            optimizer.learning_rate = new
        self.reductions.append((epoch, old, new))
        if self.verbose:
            print(
                f"Epoch {epoch + 1}: learning rate lowered from {old:.3g} "
                f"to {new:.3g}."
            )

    def get_config(self):
        return {
            "monitor": self.monitor,
            "factor": self.factor,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "cooldown": self.cooldown,
            "min_learning_rate": self.min_learning_rate,
            "mode": self.mode,
            "verbose": self.verbose,
        }


class LearningRateLogger(keras.callbacks.Callback):
    """Writes the learning rate into each epoch's logs (and TensorBoard).

    With a schedule the logged value is the rate of the epoch's last step
    (the schedule evaluated at `optimizer.iterations - 1`); with a float
    rate, the rate itself. It lands in `logs["learning_rate"]`, hence in
    `History.history` and in a `CSVLogger` placed after this callback.
    Put it before callbacks that change the rate at epoch end
    (`ReduceLROnPlateauScaled`), so it records the rate that was used.

    Args:
        log_dir: String or None; when given, the rate is also written as the
            TensorBoard scalar `learning_rate` (step = epoch) there. Keras'
            own `TensorBoard` callback already logs the rate, so leave this
            None when you use it. Defaults to `None`.
        key: String, the logs key. Defaults to `"learning_rate"`.

    Example:

    >>> history = model.fit(x, y, epochs=3, callbacks=[LearningRateLogger()])
    >>> len(history.history["learning_rate"])
    3
    """

    def __init__(self, log_dir=None, key="learning_rate"):
        super().__init__()
        if log_dir:
            _require_tensorboard("LearningRateLogger(log_dir=...)")
        self.log_dir = log_dir
        self.key = key
        self._writer = None

    def on_train_begin(self, logs=None):
        if self.log_dir and self._writer is None:

            self._writer = tf.summary.create_file_writer(os.fspath(self.log_dir))

    def on_epoch_end(self, epoch, logs=None):
        rate = current_learning_rate(self.model.optimizer, last_step=True)
        if logs is not None:
            logs[self.key] = rate
        if self._writer is not None:

            with self._writer.as_default():
                tf.summary.scalar(self.key, rate, step=epoch)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def get_config(self):
        return {"log_dir": self.log_dir, "key": self.key}


def _require_tensorboard(what):
    # tensorflow-cpu does not pull in the `tensorboard` package, without which
    # tf.summary (and Keras' TensorBoard callback) fail at the first write.
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ImportError(
            f"{what} needs the `tensorboard` package: `pip install tensorboard`, "
            "or set `tensorboard = false` in the recipe's [callbacks] table."
        ) from None
