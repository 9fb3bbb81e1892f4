"""Resume after a fault: which epochs a run folder's ``backup/`` holds, and the history kept so far.

`textrecipes.training.callbacks.EpochBackup` writes the state after each
epoch (atomically, the last two kept); these functions tell a restarted run
where to go on from (`agree_resume_epoch` makes every worker of a multi-worker
run agree on one epoch) and keep ``history.csv`` in step with it.
"""

from __future__ import annotations

import csv
import os
import re

import tensorflow as tf

from textrecipes.training.distribute import is_multi_worker

BACKUP_FILE = "epoch-{epoch:04d}.weights.h5"  # the state after that many epochs, written atomically


_BACKUP_PATTERN = re.compile(r"^epoch-(\d+)\.weights\.h5$")


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
    its last two states (`textrecipes.training.callbacks.EpochBackup`), and one
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
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
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
