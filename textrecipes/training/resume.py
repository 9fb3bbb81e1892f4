"""Faults: each epoch backed up, a killed run resumed from it, and Ctrl-C taken only between batches.

`EpochBackup` writes the state after each epoch (atomically, the last two
kept); the functions here tell a restarted run where to go on from
(`agree_resume_epoch` makes every worker of a multi-worker run agree on one
epoch) and keep ``history.csv`` in step with it. `InterruptBetweenBatches`
turns Ctrl-C into a stop at the next batch or epoch end, after the backup.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import threading

import keras
import numpy as np
import tensorflow as tf

from textrecipes.data.atomic import atomic_write
from textrecipes.training.distribute import is_multi_worker

BACKUP_FILE = "epoch-{epoch:04d}.weights.h5"  # the state after that many epochs, written atomically


_BACKUP_PATTERN = re.compile(r"^epoch-(\d+)\.weights\.h5$")
STATE_FILE = "epoch-{epoch:04d}.state.npz"  # the stateful callbacks' state after that many epochs
_STATE_PATTERN = re.compile(r"^epoch-(\d+)\.state\.npz$")


def backup_path(backup_dir: str, epoch: int) -> str:
    """Where the training state after ``epoch`` epochs is kept in a ``backup/`` folder.

    Args:
        backup_dir: the run's ``backup/`` folder.
        epoch: the number of epochs finished.

    Example:
        >>> backup_path("runs/demo/backup", 3)
        'runs/demo/backup/epoch-0003.weights.h5'
    """
    return os.path.join(backup_dir, BACKUP_FILE.format(epoch=epoch))


def state_path(backup_dir: str, epoch: int) -> str:
    """Where `EpochBackup` keeps its stateful callbacks' state after ``epoch`` epochs.

    Example:
        >>> state_path("runs/demo/backup", 3)
        'runs/demo/backup/epoch-0003.state.npz'
    """
    return os.path.join(backup_dir, STATE_FILE.format(epoch=int(epoch)))


def backup_epochs(backup_dir: str) -> list[int]:
    """The epochs whose training state is complete in a ``backup/`` folder, oldest first.

    A state is written to a temporary name and renamed when complete, so a
    process killed mid-write never leaves a half-written state under this name.

    Args:
        backup_dir: the run's ``backup/`` folder.

    Example:
        >>> backup_epochs("no/such/folder")
        []
    """
    try:
        names = os.listdir(backup_dir)
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(_BACKUP_PATTERN.match, names) if m)


def resume_epoch(backup_dir: str) -> int:
    """The number of epochs an interrupted run finished, from its ``backup/`` folder (0: none).

    This is the newest state this process holds; in a multi-worker run the
    workers resume from `agree_resume_epoch` instead.

    Args:
        backup_dir: the run's ``backup/`` folder.

    Example:
        >>> resume_epoch("no/such/folder")
        0
    """
    return max(backup_epochs(backup_dir), default=0)


def agree_resume_epoch(backup_dir: str, strategy: tf.distribute.Strategy, max_epochs: int) -> int:
    """The newest epoch whose state every worker holds, so that all of them resume from the same one.

    Workers back up one after another, so a worker killed between its peers'
    backup of an epoch and its own is an epoch behind them; each worker keeps
    its last two states (`textrecipes.training.resume.EpochBackup`), and one
    all-reduce over "which epochs do I hold" finds the newest they share.
    Every worker reads its own ``backup/`` folder: no shared file system is
    needed. Every worker must call this at the same point (it is a collective
    op); a single-process strategy just gives `resume_epoch`.

    Args:
        backup_dir: this worker's ``backup/`` folder.
        strategy: the run's `tf.distribute.Strategy`.
        max_epochs: the run's ``train.epochs`` (states beyond it are ignored).

    Example:
        >>> agree_resume_epoch("no/such/folder", get_strategy("cpu"), 10)
        0
    """
    held = [e for e in backup_epochs(backup_dir) if 0 < e <= max_epochs]
    if not is_multi_worker(strategy):
        return max(held, default=0)
    flags = [0.0] * (max_epochs + 1)
    for e in [0, *held]:  # epoch 0 (a fresh start) is always shared
        flags[e] = 1.0

    @tf.function  # collective ops run eagerly are slow and warn about it
    def all_reduce():
        per_replica = strategy.run(lambda: tf.constant(flags, tf.float32))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    totals = all_reduce().numpy()
    replicas = strategy.num_replicas_in_sync
    return max(e for e, total in enumerate(totals) if total >= replicas - 0.5)


def trim_history(csv_path: str, epochs: int) -> int:
    """Keeps the header and the first ``epochs`` rows of ``history.csv``; returns the rows kept.

    A run killed between the backup and the CSV line of an epoch (or after the
    CSV line of an epoch not yet backed up) would otherwise repeat or skip a row
    when it resumes and appends.

    Args:
        csv_path: the run's ``history.csv``.
        epochs: rows to keep (`resume_epoch`).

    Example:
        >>> trim_history("no/such/history.csv", 2)
        0
    """
    if not os.path.exists(csv_path):
        return 0
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return 0
    kept = rows[: epochs + 1]
    with atomic_write(csv_path, newline="") as f:  # a kill here must not cut the epochs that are kept
        csv.writer(f).writerows(kept)
    return len(kept) - 1


def read_history(csv_path: str) -> dict[str, list[float]]:
    """``history.csv`` → ``{metric: [value per epoch]}`` (the ``epoch`` column left out).

    Args:
        csv_path: a `keras.callbacks.CSVLogger` file.

    Example:
        >>> read_history("no/such/history.csv")
        {}
    """
    if not os.path.exists(csv_path):
        return {}
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key == "epoch" or key is None:
                continue
            try:
                out.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                out.setdefault(key, []).append(float("nan"))
    return out


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

    The callbacks in ``stateful`` (early stopping: its best value, patience
    count and best weights) are backed up beside each epoch's weights
    (``epoch-0003.state.npz``) and restored with them, so a resumed run stops
    and restores the same best epoch as one never interrupted. Put this
    callback after them in the list: it then saves their state after they have
    seen the epoch, and restores it after their ``on_train_begin`` reset it.

    Args:
        backup_dir: the folder for the states (one per process).
        keep: states kept, newest first. Defaults to 2 (enough for workers one epoch apart).
        resume_from: the epoch to resume from when the caller has agreed on it
            already (the runner does, to trim ``history.csv``); None agrees in
            `on_train_begin`. Defaults to None.
        stateful: callbacks with ``backup_state()`` (a dict of numbers and
            numpy arrays) and ``restore_state(dict)``. Defaults to ().

    Example:

    >>> model.fit(x, y, epochs=10, callbacks=[EpochBackup("runs/demo/backup")])
    """

    def __init__(self, backup_dir, keep=2, resume_from=None, stateful=()):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=True)
        if int(keep) < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.keep = int(keep)
        self.resume_from = resume_from
        self.resumed_epoch = 0
        self.stateful = list(stateful)

    def on_train_begin(self, logs=None):
        epoch = self.resume_from
        if epoch is None:
            epoch = agree_resume_epoch(
                self.backup_dir, self.model.distribute_strategy, int(self.params.get("epochs") or 0)
            )
        self.resumed_epoch = int(epoch)
        # States newer than the agreed one belong to a future this run will redo.
        for stale in backup_epochs(self.backup_dir):
            if stale > self.resumed_epoch:
                os.remove(backup_path(self.backup_dir, stale))
        if not self.resumed_epoch:
            return
        if not self.model.built:
            raise ValueError("EpochBackup needs a built model before fit() to restore its state")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(backup_path(self.backup_dir, self.resumed_epoch))
        self.model._initial_epoch = self.resumed_epoch  # what Keras' BackupAndRestore sets, read by fit
        self._restore_callbacks(state_path(self.backup_dir, self.resumed_epoch))

    def _restore_callbacks(self, path: str):
        if not self.stateful or not os.path.exists(path):  # a backup from before states were kept
            return
        with np.load(path, allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in saved.files}
        for index, callback in enumerate(self.stateful):
            prefix = f"{index}."
            callback.restore_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})

    def _save_callbacks(self, epoch: int):
        if not self.stateful:
            return
        arrays = {f"{index}.{key}": value for index, callback in enumerate(self.stateful)
                  for key, value in callback.backup_state().items()}
        final = state_path(self.backup_dir, epoch)
        partial = final[: -len(".state.npz")] + ".partial.state.npz"
        with open(partial, "wb") as f:
            np.savez(f, **arrays)
        os.replace(partial, final)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        epoch = self._current_epoch
        final = backup_path(self.backup_dir, epoch)
        partial = final[: -len(".weights.h5")] + ".partial.weights.h5"
        self._save_callbacks(epoch)  # before the weights: an epoch's weights never go without its state
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, final)  # atomic: a state is either complete or absent
        for old in backup_epochs(self.backup_dir):
            if old <= epoch - self.keep or old > epoch:
                os.remove(backup_path(self.backup_dir, old))
        for name in os.listdir(self.backup_dir):  # states whose weights are gone (rotated, or a kill between)
            match = _STATE_PATTERN.match(name)
            if match and not os.path.exists(backup_path(self.backup_dir, int(match.group(1)))) \
                    and int(match.group(1)) != epoch:
                os.remove(os.path.join(self.backup_dir, name))

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
