"""Training callbacks and the builder for a recipe's `[callbacks]` table.

Keras' own callbacks are used wherever they do the job (early stopping,
checkpointing, backup-and-restore, TensorBoard). Ours fill five gaps:

- `EarlyStopping` sets `mode` from the metric's name, so an unknown metric
  never makes Keras' `mode="auto"` raise.
- `LossPlateauStop` is the seed-002 rule: stop once the epoch loss moves by
  less than `min_delta`.
- `ReduceLROnPlateauScaled` also works when the optimizer holds a schedule
  (Keras' `ReduceLROnPlateau` raises `TypeError` there).
- `EpochBackup` keeps the last two epochs' states, written atomically, and
  resumes every worker of a multi-worker run from the same epoch.
- `LearningRateLogger` records the rate a schedule actually gave;
  `TerminateOnNaNWithAdvice` says what to try when the loss blows up.
- `InterruptBetweenBatches` takes Ctrl-C at the next batch or epoch end,
  never in the middle of a TensorFlow call or a checkpoint write.

A recipe's table, e.g.:

    [callbacks]
    checkpoint = true
    loss_plateau = false
    [callbacks.early_stopping]
    monitor = "val_loss"
    patience = 3
"""

from __future__ import annotations

import math
import os
import signal
import threading
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from textrecipes.recipe.validation import resolve_table
from textrecipes.training import resume
from textrecipes.training.schedules import ScaledSchedule

__all__ = [
    "metric_mode",
    "get_schedule",
    "current_learning_rate",
    "EarlyStopping",
    "LossPlateauStop",
    "ReduceLROnPlateauScaled",
    "LearningRateLogger",
    "TerminateOnNaNWithAdvice",
    "EpochBackup",
    "InterruptBetweenBatches",
    "MODES",
    "build_callbacks",
]

#: The directions a monitored metric may be given: `"auto"` follows `metric_mode`.
MODES = ("auto", "min", "max")

_LOWER_IS_BETTER = (
    "loss",
    "error",
    "crossentropy",
    "mse",
    "mae",
    "mape",
    "msle",
    "hinge",
    "kl_divergence",
    "kld",
    "poisson",
    "logcosh",
    "perplexity",
)


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


def metric_mode(monitor):
    """Says whether a monitored metric should go down (`"min"`) or up (`"max"`).

    Names containing a loss-like word (`loss`, `error`, `crossentropy`, `mse`,
    `mae`, ...) are `"min"`; everything else (accuracy, AUC, F1, ...) is
    `"max"`. A `val_` prefix is ignored.

    Args:
        monitor: String, a metric name as it appears in `logs`.

    Returns:
        `"min"` or `"max"`.

    Example:

    >>> metric_mode("val_loss"), metric_mode("val_sparse_categorical_accuracy")
    ('min', 'max')
    """
    name = monitor.lower()
    if name.startswith("val_"):
        name = name[4:]
    return "min" if any(word in name for word in _LOWER_IS_BETTER) else "max"


def _resolve_mode(monitor, mode):
    return metric_mode(monitor) if mode in (None, "auto") else mode


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


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' `EarlyStopping` with the mode set from the metric's name.

    Keras' `mode="auto"` raises `ValueError` for a metric whose direction it
    cannot infer; here `"auto"` means `metric_mode(monitor)`: `"min"` for
    loss-like names, `"max"` otherwise. Everything else is Keras': with
    `restore_best_weights=True` the best epoch's weights are put back when
    training ends, whether patience ran out or not (Keras 3 behaviour).

    Args:
        monitor: String, the metric to watch. Defaults to `"val_loss"`.
        patience: Int, epochs without improvement before stopping.
            Defaults to `3`.
        min_delta: Float, smallest change that counts as improvement.
            Defaults to `0.0`.
        start_from_epoch: Int, epochs to wait before watching. Defaults
            to `0`.
        restore_best_weights: Boolean. Defaults to `True`.
        mode: `"auto"`, `"min"` or `"max"`. Defaults to `"auto"`.
        baseline: Float or None, a value to beat. Defaults to `None`.
        verbose: Int. Defaults to `0`.

    Example:

    >>> callback = EarlyStopping(monitor="val_f1", patience=5)
    >>> callback.mode
    'max'
    """

    def __init__(
        self,
        monitor="val_loss",
        patience=3,
        min_delta=0.0,
        start_from_epoch=0,
        restore_best_weights=True,
        mode="auto",
        baseline=None,
        verbose=0,
    ):
        super().__init__(
            monitor=monitor,
            min_delta=min_delta,
            patience=patience,
            verbose=verbose,
            mode=_resolve_mode(monitor, mode),
            baseline=baseline,
            restore_best_weights=restore_best_weights,
            start_from_epoch=start_from_epoch,
        )
        self.requested_mode = mode

    def get_config(self):
        return {
            "monitor": self.monitor,
            "patience": self.patience,
            "min_delta": abs(self.min_delta),
            "start_from_epoch": self.start_from_epoch,
            "restore_best_weights": self.restore_best_weights,
            "mode": self.requested_mode,
            "baseline": self.baseline,
            "verbose": self.verbose,
        }


class LossPlateauStop(keras.callbacks.Callback):
    """Stops training when the epoch loss changes by less than `min_delta`.

    The seed-002 rule: at the end of each epoch with (0-based) index
    `epoch >= min_epochs`, if `|loss - previous epoch's loss| < min_delta`,
    training stops. So the earliest stop is after epoch `min_epochs + 1`
    (1-based). Unlike `EarlyStopping` it watches the training loss and has
    no patience: one flat epoch is enough.

    Args:
        monitor: String, the metric to watch. Defaults to `"loss"`.
        min_delta: Float, the absolute change below which the loss counts
            as flat. Defaults to `0.001`.
        min_epochs: Int, epochs always trained before the rule applies.
            Defaults to `5`.
        verbose: Int; 1 prints a line when it stops. Defaults to `0`.

    Example:

    >>> model.fit(x, y, epochs=50, callbacks=[LossPlateauStop(min_delta=1e-3)])
    """

    def __init__(self, monitor="loss", min_delta=0.001, min_epochs=5, verbose=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = min_delta
        self.min_epochs = min_epochs
        self.verbose = verbose
        self.previous = None
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.previous = None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"LossPlateauStop watches {self.monitor!r}, which is not in "
                f"the logs (available: {', '.join(logs or {})}).",
                stacklevel=2,
            )
            return
        current = float(current)
        previous, self.previous = self.previous, current
        if previous is None or epoch < self.min_epochs:
            return
        if abs(current - previous) < self.min_delta:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} changed by "
                    f"{abs(current - previous):.3g} < {self.min_delta}; "
                    "stopping."
                )

    def get_config(self):
        return {
            "monitor": self.monitor,
            "min_delta": self.min_delta,
            "min_epochs": self.min_epochs,
            "verbose": self.verbose,
        }


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
        if _resolve_mode(self.monitor, self.mode) == "min":
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


class EpochBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that keeps the last ``keep`` epochs' states, written atomically, and
    resumes every worker of a multi-worker run from the same epoch.

    Keras' callback keeps one state per process, written in place: a worker
    killed between its peers' backup of an epoch and its own resumes an epoch
    behind them and the run hangs, and a kill mid-write leaves weights and epoch
    number out of step. Here each epoch's state goes to its own file
    (``epoch-0003.weights.h5``, written under a temporary name and renamed),
    the last ``keep`` are kept, and `textrecipes.training.resume.agree_resume_epoch`
    picks the newest epoch every worker holds. The folder is removed when
    training ends.

    Args:
        backup_dir: the folder for the states (one per process).
        keep: states kept, newest first. Defaults to 2 (enough for workers one epoch apart).
        resume_from: the epoch to resume from when the caller has agreed on it
            already (the runner does, to trim ``history.csv``); None agrees in
            `on_train_begin`. Defaults to None.

    Example:

    >>> model.fit(x, y, epochs=10, callbacks=[EpochBackup("runs/demo/backup")])
    """

    def __init__(self, backup_dir, keep=2, resume_from=None):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=True)
        if int(keep) < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.keep = int(keep)
        self.resume_from = resume_from
        self.resumed_epoch = 0

    def on_train_begin(self, logs=None):
        epoch = self.resume_from
        if epoch is None:
            epoch = resume.agree_resume_epoch(
                self.backup_dir, self.model.distribute_strategy, int(self.params.get("epochs") or 0)
            )
        self.resumed_epoch = int(epoch)
        # States newer than the agreed one belong to a future this run will redo.
        for stale in resume.backup_epochs(self.backup_dir):
            if stale > self.resumed_epoch:
                os.remove(resume.backup_path(self.backup_dir, stale))
        if not self.resumed_epoch:
            return
        if not self.model.built:
            raise ValueError("EpochBackup needs a built model before fit() to restore its state")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(resume.backup_path(self.backup_dir, self.resumed_epoch))
        self.model._initial_epoch = self.resumed_epoch  # what Keras' BackupAndRestore sets, read by fit

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        epoch = self._current_epoch
        final = resume.backup_path(self.backup_dir, epoch)
        partial = final[: -len(".weights.h5")] + ".partial.weights.h5"
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, final)  # atomic: a state is either complete or absent
        for old in resume.backup_epochs(self.backup_dir):
            if old <= epoch - self.keep or old > epoch:
                os.remove(resume.backup_path(self.backup_dir, old))

    def get_config(self):
        return {"backup_dir": self.backup_dir, "keep": self.keep, "resume_from": self.resume_from}


class InterruptBetweenBatches(keras.callbacks.Callback):
    """Takes Ctrl-C (SIGINT) at the next batch or epoch end instead of wherever it lands.

    Python raises `KeyboardInterrupt` at whatever line runs when the signal
    comes: inside TensorFlow's Python wrappers, h5py's file code or a
    half-written checkpoint. Unwinding from there can crash the process
    instead of stopping it (a CI run once ended in a segmentation fault). Used
    as a context manager around `fit`, this callback turns the first Ctrl-C
    into a flag and raises `KeyboardInterrupt` from its own batch or epoch
    hook, after the callbacks before it in the list (put it last, after the
    backup) have finished. A second Ctrl-C interrupts at once. Outside the
    main thread, where Python cannot set signal handlers, it does nothing.

    Example:

    >>> with InterruptBetweenBatches() as interrupt:
    ...     model.fit(x, y, epochs=10, callbacks=[EpochBackup("runs/demo/backup"), interrupt])
    """

    def __init__(self):
        super().__init__()
        self.pending = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._on_signal)
        return self

    def __exit__(self, *exc):
        self._restore()
        return False

    def _restore(self):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_signal(self, signum, frame):
        if self.pending:  # the second Ctrl-C: the user does not want to wait
            self._restore()
            raise KeyboardInterrupt
        self.pending = True

    def _raise_if_pending(self, *args, **kwargs):
        if self.pending:
            self._restore()
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _raise_if_pending

    def get_config(self):
        return {}


class TerminateOnNaNWithAdvice(keras.callbacks.Callback):
    """Stops training on a NaN or infinite loss and says what to try.

    Like Keras' `TerminateOnNaN`, but the message names the epoch, the
    batch and the learning rate, and lists the usual fixes. It is issued as
    a `RuntimeWarning` and kept in `self.message`.

    Args:
        raise_error: Boolean; True raises `RuntimeError` with the message
            instead of stopping gracefully. Defaults to `False`.

    Example:

    >>> model.fit(x, y, callbacks=[TerminateOnNaNWithAdvice()])
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error
        self.message = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(loss))
        if math.isfinite(loss):
            return
        try:
            rate = f"{current_learning_rate(self.model.optimizer):.3g}"
        except Exception:  # noqa: BLE001 - the advice matters more than the rate
            rate = "unknown"
        self.message = (
            f"Loss became {loss} at epoch {self._epoch + 1}, batch {batch}; "
            "training stopped. Things to try: lower learning_rate "
            f"(now {rate}; try 10x lower, or run "
            "textrecipes.training.lr_finder.find_learning_rate), add gradient "
            "clipping (clipnorm=1.0 on the optimizer), and check the labels "
            "(integers in [0, num_classes) for sparse losses, no NaN in the "
            "inputs)."
        )
        if self.raise_error:
            raise RuntimeError(self.message)
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)
        self.model.stop_training = True

    def get_config(self):
        return {"raise_error": self.raise_error}


# ---------------------------------------------------------------------------
# The recipe's [callbacks] table (its keys and defaults: textrecipes.recipe.schema).


def build_callbacks(config, *, run_dir, verbose=1):
    """Builds the callbacks a recipe's `[callbacks]` table describes.

    The order matters and is fixed: backup-and-restore, NaN guard, rate
    logger, plateau reducer, early stopping, loss-plateau stop, best-model
    checkpoint, TensorBoard. Append a `CSVLogger` after them so it sees the
    logged rate. Files go under `run_dir`: `checkpoints/best.keras`,
    `backup/`, `tensorboard/`; with `run_dir=None` those three are skipped.

    Args:
        config: Dict, the `[callbacks]` table; `{}` or None gives the
            defaults (early stopping on `val_accuracy` with patience 3 and best
            weights restored, checkpoint, backup, NaN guard, rate logger).
        run_dir: String or None, the run's folder.
        verbose: Int; 1 (default) lets early stopping and the plateau
            callbacks print a line when they act, 0 keeps them silent.

    Returns:
        A list of `keras.callbacks.Callback`.

    Raises:
        ValueError: listing every problem in the table (a
            `textrecipes.recipe.validation.RecipeError`).

    Example:

    >>> callbacks = build_callbacks({"loss_plateau": True}, run_dir="runs/demo")
    >>> model.fit(x, y, validation_split=0.2, epochs=20, callbacks=callbacks)
    """
    c = resolve_table("callbacks", config)
    callbacks = []
    if run_dir is not None and c["backup"]["enabled"]:
        callbacks.append(
            EpochBackup(os.path.join(run_dir, "backup"))
        )
    if c["terminate_on_nan"]["enabled"]:
        callbacks.append(
            TerminateOnNaNWithAdvice(raise_error=c["terminate_on_nan"]["raise_error"])
        )
    if c["learning_rate_logger"]["enabled"]:
        callbacks.append(LearningRateLogger())
    options = dict(c["reduce_lr_on_plateau"])
    if options.pop("enabled"):
        callbacks.append(ReduceLROnPlateauScaled(verbose=verbose, **options))
    options = dict(c["early_stopping"])
    if options.pop("enabled"):
        callbacks.append(EarlyStopping(verbose=verbose, **options))
    options = dict(c["loss_plateau"])
    if options.pop("enabled"):
        callbacks.append(LossPlateauStop(verbose=verbose, **options))
    if run_dir is not None and c["checkpoint"]["enabled"]:
        monitor = c["checkpoint"]["monitor"]
        if monitor is None:
            early = c["early_stopping"]
            monitor = early["monitor"] if early["enabled"] else "val_loss"
        folder = os.path.join(run_dir, "checkpoints")
        os.makedirs(folder, exist_ok=True)
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                os.path.join(folder, "best.keras"),
                monitor=monitor,
                mode=_resolve_mode(monitor, c["checkpoint"]["mode"]),
                save_best_only=True,
            )
        )
    if run_dir is not None and c["tensorboard"]["enabled"]:
        _require_tensorboard("[callbacks] tensorboard = true")
        callbacks.append(
            keras.callbacks.TensorBoard(
                os.path.join(run_dir, "tensorboard"),
                histogram_freq=c["tensorboard"]["histogram_freq"],
            )
        )
    return callbacks
