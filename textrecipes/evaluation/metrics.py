"""Evaluation report: scikit-learn metrics, a printed table, learning-curve plots."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from textrecipes.data.atomic import atomic_write

# Beyond this many labels a report holds no dense confusion matrix (labels² numbers: 10,000
# labels made a 700 MB printout) but the sparse "confusions" (one row per observed
# (true, predicted) pair, at most one per example), and the printed table shows the
# largest classes and the top confusions; the full tables go to files (`write_label_tables`).
MATRIX_MAX_LABELS = 50
TOP_CONFUSIONS = 20  # confusions printed (and kept in the model card) beyond MATRIX_MAX_LABELS


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
        **({"confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist()} if len(names) <= MATRIX_MAX_LABELS
           else {"confusions": sparse_confusions(y_true, y_pred, names)}),
        "labels": names,
    }


def sparse_confusions(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> list:
    """The confusion matrix's non-zero cells as ``[true, predicted, count]``, mistakes first, most frequent first.

    Its length is at most the number of examples, whatever the number of labels.

    Example:
        >>> sparse_confusions(np.array([0, 0, 1]), np.array([1, 1, 1]), ["a", "b"])
        [['a', 'b', 2], ['b', 'b', 1]]
    """
    k = len(names)
    cells, counts = np.unique(np.asarray(y_true, dtype=np.int64) * k + np.asarray(y_pred, dtype=np.int64),
                              return_counts=True)
    rows = [(int(c) // k, int(c) % k, int(n)) for c, n in zip(cells, counts)]
    rows.sort(key=lambda r: (r[0] == r[1], -r[2], r[0], r[1]))
    return [[names[t], names[p], n] for t, p, n in rows]


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
    lines = [f"{title}: {metrics['examples']} examples, accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}"]
    if len(names) > MATRIX_MAX_LABELS:  # the largest classes only: the whole table is in the run folder's files
        names = sorted(names, key=lambda n: (-metrics["per_class"][n]["support"], n))[:MATRIX_MAX_LABELS]
        lines.append(f"{len(metrics['labels'])} labels: the {len(names)} largest below; every label in "
                     "per_class.tsv and metrics.json")
    width = max([len(n) for n in names] + [9])
    lines.append(f"{'label':<{width}}  precision  recall  f1      support")
    for n in names:
        c = metrics["per_class"][n]
        lines.append(f"{n:<{width}}  {c['precision']:9.4f}  {c['recall']:6.4f}  {c['f1-score']:6.4f}  {int(c['support']):7d}")
    if "confusion_matrix" in metrics:
        lines.append("confusion matrix (rows: true, columns: predicted)")
        for n, row in zip(names, metrics["confusion_matrix"]):
            lines.append(f"{n:<{width}}  " + " ".join(f"{v:6d}" for v in row))
    elif "confusions" in metrics:
        mistakes = [c for c in metrics["confusions"] if c[0] != c[1]][:TOP_CONFUSIONS]
        lines.append(f"top {len(mistakes)} confusions (true -> predicted: count; all in confusions.tsv)")
        lines += [f"{t} -> {p}: {n}" for t, p, n in mistakes]
    return "\n".join(lines)


def card_metrics(report: dict) -> dict:
    """A report as the model card keeps it: beyond `MATRIX_MAX_LABELS` labels, headline figures and the top confusions.

    The per-class table and every confusion stay in ``metrics.json`` (named by
    ``"details"``), so the card does not grow with the label count.

    Example:
        >>> card_metrics({"accuracy": 1.0, "labels": ["a", "b"], "per_class": {}})["accuracy"]
        1.0
    """
    if not report or len(report.get("labels", ())) <= MATRIX_MAX_LABELS:
        return report
    slim = {k: v for k, v in report.items() if k not in ("per_class", "confusions", "confusion_matrix", "labels")}
    slim["top_confusions"] = [c for c in report.get("confusions", []) if c[0] != c[1]][:TOP_CONFUSIONS]
    slim["details"] = "metrics.json (per_class, confusions), per_class.tsv, confusions.tsv"
    return slim


def write_label_tables(run_dir: str, report: dict, split_name: str = "test") -> list:
    """Writes ``per_class.tsv`` and ``confusions.tsv`` (every non-zero cell) for a report beyond `MATRIX_MAX_LABELS`.

    Args:
        run_dir: the run folder.
        report: an `evaluate_predictions` report.
        split_name: the split it is of, the files' first column. Default "test".

    Returns:
        The paths written (none for a report with few labels).

    Example:
        >>> write_label_tables("runs/x", report)  # doctest: +SKIP
        ['runs/x/per_class.tsv', 'runs/x/confusions.tsv']
    """
    if not report or "confusions" not in report:
        return []
    per_class, confusions = os.path.join(run_dir, "per_class.tsv"), os.path.join(run_dir, "confusions.tsv")
    with atomic_write(per_class) as f:
        f.write("split\tlabel\tprecision\trecall\tf1\tsupport\n")
        for n in report["labels"]:
            c = report["per_class"][n]
            f.write(f"{split_name}\t{n}\t{c['precision']:.4f}\t{c['recall']:.4f}\t{c['f1-score']:.4f}\t{int(c['support'])}\n")
    with atomic_write(confusions) as f:
        f.write("split\ttrue\tpredicted\tcount\n")
        f.writelines(f"{split_name}\t{t}\t{p}\t{n}\n" for t, p, n in report["confusions"])
    return [per_class, confusions]


