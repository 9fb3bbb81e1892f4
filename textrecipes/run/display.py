"""How a `RunResult` shows itself: a one-line text repr, and an HTML table with the run's plots for notebooks."""

from __future__ import annotations

import base64
import html
import os

__all__ = ["result_repr", "result_html"]

_HEADLINE = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("perplexity", "perplexity"))
_PLOTS = (("learning curves", "learning_curves.png"), ("confusion matrix", "confusion_matrix.png"))


def _epochs(result) -> int:
    return max((len(v) for v in (result.history or {}).values()), default=0)


def _numbers(result) -> list[tuple[str, float]]:
    return [(shown, float(result.metrics[key])) for key, shown in _HEADLINE
            if isinstance(result.metrics.get(key), (int, float))]


def result_repr(result) -> str:
    """``RunResult('runs/x', binary, 2 labels, accuracy 0.7612, macro-F1 0.7608, 3 epochs)``, under 300 characters.

    Example:
        >>> class R:
        ...     run_dir, task, labels, history = "runs/x", "binary", ["neg", "pos"], {"loss": [1.0, 0.5]}
        ...     metrics, validation_metrics, recipe = {"accuracy": 0.75, "macro_f1": 0.74}, {}, {}
        >>> result_repr(R())
        "RunResult('runs/x', binary, 2 labels, accuracy 0.7500, macro-F1 0.7400, 2 epochs)"
    """
    folder = result.run_dir if len(result.run_dir) <= 120 else "..." + result.run_dir[-117:]
    parts = [repr(folder), str(result.task)[:20], f"{len(result.labels)} labels"]
    parts += [f"{name} {value:.4f}" for name, value in _numbers(result)]
    parts.append(f"{_epochs(result)} epochs")
    return f"RunResult({', '.join(parts)})"


def _image(path: str, title: str) -> str:
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return (f'<figure style="display:inline-block;margin:4px"><img src="data:image/png;base64,{data}" '
            f'alt="{title}" style="max-width:480px"/><figcaption>{title}</figcaption></figure>')


def result_html(result) -> str:
    """The run as HTML: folder, task and epochs, a table of its headline metrics per split, and its plots inline.

    Example:
        >>> class R:
        ...     run_dir, task, labels, history = "runs/none", "binary", ["neg", "pos"], {"loss": [1.0]}
        ...     metrics, validation_metrics, recipe = {"accuracy": 0.75, "macro_f1": 0.74}, {"accuracy": 0.7}, {}
        >>> "<table" in result_html(R())
        True
    """
    esc = html.escape
    rows = []
    splits = [("validation", result.validation_metrics or {})]
    if result.metrics and result.metrics is not result.validation_metrics:
        splits.append(("test", result.metrics))  # the test split's (the same object as validation's without one)
    for key, shown in _HEADLINE:
        values = [m.get(key) for _, m in splits]
        if any(isinstance(v, (int, float)) for v in values):
            cells = "".join(f"<td>{v:.4f}</td>" if isinstance(v, (int, float)) else "<td></td>" for v in values)
            rows.append(f"<tr><th style='text-align:left'>{esc(shown)}</th>{cells}</tr>")
    head = "".join(f"<th>{esc(name)}</th>" for name, _ in splits)
    table = f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>" if rows else ""
    labels = ", ".join(map(str, result.labels[:12])) + (" ..." if len(result.labels) > 12 else "")
    plots = "".join(_image(os.path.join(result.run_dir, file), title) for title, file in _PLOTS
                    if os.path.exists(os.path.join(result.run_dir, file)))
    return (f"<div><b>RunResult</b> <code>{esc(result.run_dir)}</code>: {esc(str(result.task))}, "
            f"{len(result.labels)} labels ({esc(labels)}), {_epochs(result)} epochs"
            f"{table}<div>{plots}</div></div>")
