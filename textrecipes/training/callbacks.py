"""Training callbacks: when to stop, and the builder for a recipe's `[callbacks]` table.

Keras' own callbacks are used wherever they do the job (early stopping,
checkpointing, backup-and-restore, TensorBoard). Ours fill the gaps:

- `EarlyStopping` sets `mode` from the metric's name, so an unknown metric
  never makes Keras' `mode="auto"` raise.
- `LossPlateauStop` is the seed-002 rule: stop once the epoch loss moves by
  less than `min_delta`.
- `TerminateOnNaNWithAdvice` says what to try when the loss blows up.
- in `textrecipes.training.rates`: `ReduceLROnPlateauScaled` also works when
  the optimizer holds a schedule (Keras' raises `TypeError` there), and
  `LearningRateLogger` records the rate a schedule actually gave;
- in `textrecipes.training.resume`: `EpochBackup` keeps the last two epochs'
  states, written atomically, and resumes every worker of a multi-worker run
  from the same epoch; `InterruptBetweenBatches` takes Ctrl-C at the next
  batch or epoch end, never in the middle of a TensorFlow call or a checkpoint write.

`build_callbacks` builds them all from the table.

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
import warnings

import keras
import numpy as np

from textrecipes.recipe.validation import resolve_table
from textrecipes.training.monitors import resolve_mode
from textrecipes.training.rates import LearningRateLogger, ReduceLROnPlateauScaled, _require_tensorboard, current_learning_rate
from textrecipes.training.resume import EpochBackup

__all__ = ["EarlyStopping", "LossPlateauStop", "TerminateOnNaNWithAdvice", "build_callbacks"]


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
            mode=resolve_mode(monitor, mode),
            baseline=baseline,
            restore_best_weights=restore_best_weights,
            start_from_epoch=start_from_epoch,
        )
        self.requested_mode = mode

    def backup_state(self) -> dict:
        """What `textrecipes.training.resume.EpochBackup` keeps with each epoch's weights, so a resumed
        run waits, stops and restores the same best epoch as an uninterrupted one."""
        state = {"wait": np.int64(self.wait), "stopped_epoch": np.int64(self.stopped_epoch),
                 "best_epoch": np.int64(self.best_epoch)}
        if self.best is not None:
            state["best"] = np.float64(self.best)
        for index, weight in enumerate(self.best_weights or []):
            state[f"best_weights.{index:04d}"] = np.asarray(weight)
        return state

    def restore_state(self, state: dict):
        """Puts back what `backup_state` returned (after Keras' ``on_train_begin`` reset it)."""
        self.wait, self.stopped_epoch = int(state["wait"]), int(state["stopped_epoch"])
        self.best_epoch = int(state["best_epoch"])
        self.best = float(state["best"]) if "best" in state else None
        weights = sorted(k for k in state if k.startswith("best_weights."))
        self.best_weights = [state[k] for k in weights] if weights else None

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
    if run_dir is not None and c["backup"]["enabled"]:  # after early stopping: it backs up its state too
        stateful = [cb for cb in callbacks if isinstance(cb, EarlyStopping)]
        callbacks.append(EpochBackup(os.path.join(run_dir, "backup"), stateful=stateful))
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
                mode=resolve_mode(monitor, c["checkpoint"]["mode"]),
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
