"""Evaluation report: scikit-learn metrics, a printed table, learning-curve plots."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def probabilities_per_label(raw: np.ndarray, task: str) -> np.ndarray:
    """Model outputs → one probability column per label ([1-p, p] for a binary sigmoid).

    Args:
        raw: the model's outputs: ``(n, 1)`` sigmoid outputs for binary,
            ``(n, labels)`` otherwise.
        task: "binary", "multiclass" or "multilabel".

    Returns:
        A float32 array, one column per label (``raw`` unchanged but for binary).

    Example:
        >>> probabilities_per_label(np.array([[0.25]]), "binary").tolist()
        [[0.75, 0.25]]
    """
    raw = np.asarray(raw, dtype="float32")
    if task == "binary":
        p = raw.reshape(-1, 1)
        return np.concatenate([1.0 - p, p], axis=1)
    return raw


def evaluate_predictions(targets: np.ndarray, probabilities: np.ndarray, label_names: Sequence[str], task: str,
                         threshold: float = 0.5) -> dict:
    """Computes accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.

    Args:
        targets: encoded labels (as from `encode_labels`).
        probabilities: one column per label (`probabilities_per_label`).
        label_names: the label names in column order.
        task: "binary", "multiclass" or "multilabel".
        threshold: decision threshold for multi-label. Default 0.5.

    Returns:
        A JSON-ready dict.

    Example:
        >>> m = evaluate_predictions(np.array([0, 1]), np.array([[.9, .1], [.2, .8]]), ["a", "b"], "multiclass")
        >>> m["accuracy"], m["confusion_matrix"]
        (1.0, [[1, 0], [0, 1]])
    """
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

    names = list(label_names)
    if task == "multilabel":
        y_true = np.asarray(targets).astype(int)
        y_pred = (probabilities >= threshold).astype(int)
        report = classification_report(y_true, y_pred, target_names=names, output_dict=True, zero_division=0)
        return {
            "examples": int(len(y_true)),
            "subset_accuracy": float(accuracy_score(y_true, y_pred)),
            "accuracy": float((y_true == y_pred).mean()),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
            "per_class": {n: {k: float(report[n][k]) for k in ("precision", "recall", "f1-score", "support")} for n in names},
            "labels": names,
        }
    y_true = np.asarray(targets).reshape(-1).astype(int)
    y_pred = probabilities.argmax(axis=1)
    ids = list(range(len(names)))
    report = classification_report(y_true, y_pred, labels=ids, target_names=names, output_dict=True, zero_division=0)
    return {
        "examples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "per_class": {n: {k: float(report[n][k]) for k in ("precision", "recall", "f1-score", "support")} for n in names},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        "labels": names,
    }


def format_metrics(metrics: dict, title: str = "test") -> str:
    """The metrics as a small plain-text table.

    Args:
        metrics: a dict from `evaluate_predictions`.
        title: the name the first line starts with. Default "test".

    Returns:
        The table: a summary line, precision/recall/F1/support per label and,
        for single-label tasks, the confusion matrix.

    Example:
        >>> m = evaluate_predictions(np.array([0, 1]), np.array([[.9, .1], [.2, .8]]), ["a", "b"], "multiclass")
        >>> print(format_metrics(m).splitlines()[0])
        test: 2 examples, accuracy 1.0000, macro-F1 1.0000
    """
    names = metrics["labels"]
    width = max([len(n) for n in names] + [9])
    lines = [f"{title}: {metrics['examples']} examples, accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}",
             f"{'label':<{width}}  precision  recall  f1      support"]
    for n in names:
        c = metrics["per_class"][n]
        lines.append(f"{n:<{width}}  {c['precision']:9.4f}  {c['recall']:6.4f}  {c['f1-score']:6.4f}  {int(c['support']):7d}")
    if "confusion_matrix" in metrics:
        lines.append("confusion matrix (rows: true, columns: predicted)")
        for n, row in zip(names, metrics["confusion_matrix"]):
            lines.append(f"{n:<{width}}  " + " ".join(f"{v:6d}" for v in row))
    return "\n".join(lines)


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
    import os
    import sys

    fig.tight_layout()
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=100)
    if "matplotlib.pyplot" in sys.modules:  # a figure made with pyplot: let pyplot forget it
        sys.modules["matplotlib.pyplot"].close(fig)
    return path
