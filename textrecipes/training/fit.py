"""Fit with the recipe's callbacks: early stopping, checkpoints, backup and resume, staged unfreezing.

`fit_recipe` is the one ``model.fit`` of every task: it builds the callbacks
of ``[callbacks]``, resumes from the run folder's ``backup/`` (every worker of
a multi-worker run from the newest epoch all of them backed up), writes
``history.csv`` and ``schedule.png``, takes Ctrl-C only between batches, and
fits in stages for gradual unfreezing (``train.unfreeze = "gradual"``).
`solved_history` stands in for it when a solver found the weights before
(``model.solver = "lbfgs"``): one row, no epochs.
"""

from __future__ import annotations

import csv
import logging
import os
from typing import Mapping

import keras

from textrecipes.evaluation.plots import plot_schedule
from textrecipes.training import callbacks as callbacks_lib, distribute, resume, transfer
from textrecipes.training.rates import LearningRateLogger
from textrecipes.training.resume import EpochBackup, InterruptBetweenBatches

log = logging.getLogger(__name__)


def without_validation(callback_cfg: Mapping) -> dict:
    """Callback settings with every ``val_*`` monitor moved to its training twin.

    Used when there is no validation split.

    Args:
        callback_cfg: the resolved ``[callbacks]`` table: callback name → options.

    Returns:
        A new dict; ``callback_cfg`` is left unchanged.

    Example:
        >>> without_validation({"early_stopping": {"monitor": "val_loss", "patience": 3}})
        {'early_stopping': {'monitor': 'loss', 'patience': 3}}
    """
    out = {}
    for name, options in callback_cfg.items():
        if isinstance(options, Mapping) and isinstance(options.get("monitor"), str) and options["monitor"].startswith("val_"):
            options = {**options, "monitor": options["monitor"][4:]}
        out[name] = options
    return out


def fit_recipe(model: keras.Model, train_ds, validation_ds, cfg: Mapping, *, run_dir: str, schedule, steps_per_epoch: int,
               strategy, verbose: int = 2, extra_callbacks=(), class_weight=None, recompile=None) -> dict:
    """Fits a compiled model with the recipe's callbacks, resuming from ``backup/``; writes history.csv.

    Shared by the classifier, pair and tagging runs.

    Args:
        model: the compiled model.
        train_ds: the training `tf.data.Dataset`.
        validation_ds: the validation dataset, or None (callbacks then monitor
            the training metrics).
        cfg: the resolved recipe.
        run_dir: the run folder (history.csv, schedule.png, checkpoints, backup).
        schedule: the learning-rate schedule (plotted to schedule.png).
        steps_per_epoch: training steps per epoch.
        strategy: the `tf.distribute` strategy the model was built under.
        verbose: as Keras' ``fit``: 0 silent, 1 a progress bar, 2 a line per epoch (default).
        extra_callbacks: callbacks run before the recipe's. Default none.
        class_weight: ``{class index: weight}`` for `fit`, or None (default).
        recompile: for gradual unfreezing (``train.unfreeze = "gradual"``): a
            function ``recompile(optimizer_step)`` that compiles the model afresh
            continuing at that optimizer step. Default None (one `fit`).

    Returns:
        The history: metric → one float per epoch (from history.csv when resumed).

    Example:
        >>> history = fit_recipe(model, train_ds, None, cfg, run_dir="runs/x", schedule=0.001,
        ...                      steps_per_epoch=10, strategy=get_strategy("cpu"))  # doctest: +SKIP
    """
    train_cfg = cfg["train"]
    callback_cfg = cfg["callbacks"]
    if validation_ds is None:
        callback_cfg = without_validation(callback_cfg)
        log.info("no validation data: callbacks monitor the training metrics instead of val_*")
    fit_callbacks = callbacks_lib.build_callbacks(callback_cfg, run_dir=run_dir, verbose=1 if verbose else 0)
    # Resuming an interrupted run: history.csv keeps the epochs the backup holds and is appended to.
    # Every worker of a multi-worker run resumes from the newest epoch all of them backed up.
    backups = [c for c in fit_callbacks if isinstance(c, EpochBackup)]
    resumed = resume.agree_resume_epoch(backups[0].backup_dir, strategy, train_cfg["epochs"]) if backups else 0
    for backup in backups:
        backup.resume_from = resumed
    if resumed:
        resume.trim_history(os.path.join(run_dir, "history.csv"), resumed)
        log.info(f"resuming an interrupted run after epoch {resumed} of {train_cfg['epochs']}")
    fit_callbacks.append(keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=bool(resumed)))
    # The backup goes last: an epoch is declared done only after its history row is
    # written, so a kill between the two never leaves a hole in history.csv.
    # Ctrl-C is taken after the backup, at a batch or epoch end (see InterruptBetweenBatches).
    interrupt = InterruptBetweenBatches()
    fit_callbacks = list(extra_callbacks) + [c for c in fit_callbacks if c not in backups] + backups + [interrupt]
    plot_schedule(schedule, steps_per_epoch * train_cfg["epochs"], os.path.join(run_dir, "schedule.png"))
    if recompile is not None and not resumed:
        # One more layer group per epoch (head first), each step a short fit after a recompile.
        log.info("gradual unfreezing: " + " → ".join("+".join(layer.name for layer in g)
                                                     for g in transfer.layer_groups(model) if g) + ", one group per epoch")

        def stage():
            recompile(model.optimizer.iterations)
            distribute.prepare_distributed_fit(model, train_ds, strategy)

        # The history, rate logger and augmentation epoch follow every stage; early stopping,
        # checkpoints, plateau reduction and the backup only the last one, when every group trains.
        every = [c for c in fit_callbacks if isinstance(c, (keras.callbacks.CSVLogger, LearningRateLogger,
                                                            InterruptBetweenBatches))
                 or type(c).__name__ in ("AugmentEpochCallback", "TerminateOnNaNWithAdvice")]
        distribute.prepare_distributed_fit(model, train_ds, strategy)
        with interrupt:
            return transfer.fit_in_stages(model, stage, train_ds, epochs=train_cfg["epochs"], gradual=True,
                                          validation_data=validation_ds, stage_callbacks=every, callbacks=fit_callbacks,
                                          verbose=verbose, class_weight=class_weight)
    if recompile is not None:  # resuming a gradual run: the backup was taken with every group trainable
        transfer.set_trainable_groups(model, len(transfer.LAYER_GROUPS))
        recompile(None)
    distribute.prepare_distributed_fit(model, train_ds, strategy)  # keras-team/keras#20585
    with interrupt:
        history = model.fit(train_ds, validation_data=validation_ds, epochs=train_cfg["epochs"],
                            callbacks=fit_callbacks, class_weight=class_weight,
                            shuffle=False,  # the dataset shuffles itself, seeded
                            verbose=verbose)
    history = {k: [float(x) for x in v] for k, v in history.history.items()}
    if resumed:  # the epochs before the interruption come from history.csv
        history = resume.read_history(os.path.join(run_dir, "history.csv")) or history
    return history


def solved_history(model: keras.Model, train_ds, validation_ds, run_dir: str) -> dict:
    """The history of a model whose weights a solver found before ``fit`` (``model.solver = "lbfgs"``): one row.

    The compiled model's metrics on the training and validation batches, as a
    first epoch's row would hold them, go to history.csv (CSVLogger's columns),
    so the report, the learning curves and `RunResult.history` read as for ``fit``.

    Args:
        model: the compiled model, its weights final.
        train_ds: the training batches (finite).
        validation_ds: the validation batches, or None.
        run_dir: the run folder (history.csv).

    Returns:
        metric → a one-value list, as `fit_recipe`'s.
    """
    row = {k: float(v) for k, v in model.evaluate(train_ds, verbose=0, return_dict=True).items()}
    if validation_ds is not None:
        row.update({f"val_{k}": float(v) for k, v in model.evaluate(validation_ds, verbose=0, return_dict=True).items()})
    with open(os.path.join(run_dir, "history.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", *sorted(row)])
        writer.writeheader()
        writer.writerow({"epoch": 0, **row})
    log.info("weights from the solver: no epochs; history.csv holds their scores as one row")
    return {k: [v] for k, v in row.items()}
