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


