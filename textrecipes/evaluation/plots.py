"""The run's figures: learning curves, the confusion matrix, the learning-rate schedule and the LR range test.

Matplotlib with the Agg backend (no display needed); every figure is written
to a PNG file in the run folder and embedded in ``report.html``.
"""

from __future__ import annotations

import numbers
import os
import sys

import numpy as np
from keras import ops

from textrecipes.data.atomic import atomic_write


def plot_learning_curves(history: dict, path: str) -> None:
    """Writes loss and every metric per epoch, training and validation, to a PNG.

    Args:
        history: Keras' ``History.history``: metric → one value per epoch. Each
            ``val_*`` curve is drawn with its training twin; ``lr`` and
            ``learning_rate`` are left out.
        path: the PNG file to write.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
        >>> plot_learning_curves({"loss": [0.7, 0.5], "val_loss": [0.69, 0.6]}, path)
        >>> os.path.exists(path)
        True
    """
    metrics = [k for k in history if not k.startswith("val_") and k not in ("learning_rate", "lr")]
    fig = new_figure(figsize=(4.5 * len(metrics), 3.5))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for ax, key in zip(axes[0], metrics):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], marker="o", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    save_figure(fig, path)


def new_figure(figsize=(6, 3.5)):
    """A matplotlib `Figure` outside pyplot: plotting never switches or touches the user's backend.

    (Selecting the Agg backend, as the plotting helpers once did, silently turned
    off inline plots in the notebook that called `train`.)

    Args:
        figsize: width and height in inches. Default (6, 3.5).

    Returns:
        A `matplotlib.figure.Figure`; add axes with ``fig.subplots(...)``.

    Example:
        >>> fig = new_figure((4, 3)); ax = fig.subplots()
        >>> fig.get_size_inches().tolist()
        [4.0, 3.0]
    """
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def save_figure(fig, path) -> str:
    """Writes a matplotlib figure to a PNG (creating its folder) and closes it if pyplot holds it.

    Args:
        fig: a `matplotlib.figure.Figure`.
        path: the PNG path.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> fig = new_figure(); _ = fig.subplots().plot([1, 2])
        >>> os.path.exists(save_figure(fig, os.path.join(tempfile.mkdtemp(), "a", "f.png")))
        True
    """
    fig.tight_layout()
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    # Through a temporary file: a run killed mid-write leaves the old plot or none, never half a PNG.
    with atomic_write(os.fspath(path), "wb") as f:
        fig.savefig(f, dpi=100, format=os.path.splitext(os.fspath(path))[1][1:] or "png")
    if "matplotlib.pyplot" in sys.modules:  # a figure made with pyplot: let pyplot forget it
        sys.modules["matplotlib.pyplot"].close(fig)
    return path


def plot_confusion_matrix(matrix, labels, path: str) -> str:
    """Writes a confusion matrix (rows: true, columns: predicted) with its counts to a PNG.

    Args:
        matrix: square counts, as in ``metrics["confusion_matrix"]``.
        labels: the label names.
        path: the PNG file.

    Returns:
        ``path``.

    Example:
        >>> import tempfile
        >>> path = plot_confusion_matrix([[5, 1], [2, 7]], ["neg", "pos"], os.path.join(tempfile.mkdtemp(), "cm.png"))
        >>> os.path.getsize(path) > 0
        True
    """
    from sklearn.metrics import ConfusionMatrixDisplay


    size = max(3.5, 0.5 * len(labels) + 2)
    fig = new_figure((size, size))
    ConfusionMatrixDisplay(np.asarray(matrix), display_labels=labels).plot(
        ax=fig.subplots(), cmap="Blues", xticks_rotation=45, colorbar=False)
    return save_figure(fig, path)


def schedule_values(schedule, steps):
    """Evaluates a schedule at the given steps.

    Args:
        schedule: A `LearningRateSchedule` (or any callable of a step).
        steps: Int (evaluates `range(steps)`) or a sequence of steps.

    Returns:
        A float64 NumPy array, one rate per step.

    Example:

    >>> schedule_values(Constant(0.1), 3)
    array([0.1, 0.1, 0.1])
    """
    if isinstance(steps, numbers.Integral):
        steps = np.arange(steps)
    steps = np.asarray(steps, dtype="float32")
    try:
        values = np.asarray(ops.convert_to_numpy(schedule(steps)), "float64")
        if values.shape == steps.shape:
            return values
    except Exception:  # noqa: BLE001 - some Keras schedules need scalar steps
        pass
    return np.array(
        [float(ops.convert_to_numpy(schedule(s))) for s in steps], "float64"
    )


def plot_schedule(schedule, total_steps, path, *, steps_per_epoch=None, title=None):
    """Plots a schedule's rate against the step and writes a PNG.

    Args:
        schedule: A `LearningRateSchedule`.
        total_steps: Int > 0, steps to plot (at most 2,000 points are
            evaluated, evenly spread).
        path: Where to write the PNG; folders are created.
        steps_per_epoch: Int or None; when given, dotted lines mark epochs
            (up to 100 of them). Defaults to `None`.
        title: String or None. Defaults to the schedule's class name.

    Returns:
        `path`.

    Example:

    >>> plot_schedule(build_schedule({"name": "seed003"}, steps_per_epoch=10,
    ...     epochs=50), 500, "runs/schedule.png")
    'runs/schedule.png'
    """
    total_steps = int(total_steps)
    if total_steps <= 0:
        raise ValueError(f"total_steps must be > 0, got {total_steps}")
    count = min(total_steps, 2000)
    steps = np.unique(np.linspace(0, total_steps - 1, count).round().astype(int))
    values = schedule_values(schedule, steps)

    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    ax.plot(steps, values)
    if steps_per_epoch and total_steps // steps_per_epoch <= 100:
        for boundary in range(steps_per_epoch, total_steps, steps_per_epoch):
            ax.axvline(boundary, color="0.85", linestyle=":", linewidth=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title or type(schedule).__name__)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))

    return save_figure(fig, path)


def plot_lr_finder(result, path):
    """Plots the smoothed loss against the rate (log x) and writes a PNG.

    Args:
        result: An `LRFinderResult`.
        path: Where to write the PNG; folders are created.

    Returns:
        `path`.

    Example:

    >>> plot_lr_finder(find_learning_rate(model, train_ds), "runs/lr.png")
    'runs/lr.png'
    """
    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    if len(result.lrs):
        ax.plot(result.lrs, result.losses, label="smoothed loss")
        ax.set_xscale("log")
    ax.axvline(
        result.suggestion,
        color="tab:red",
        linestyle="--",
        label=f"suggestion {result.suggestion:.2g}",
    )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title("Learning-rate range test")
    ax.legend()

    return save_figure(fig, path)
