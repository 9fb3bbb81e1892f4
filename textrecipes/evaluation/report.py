"""Per-run report: ``report.md`` and ``report.html`` in the run folder.

Gathers what a run left behind into one page a notebook can show
(``IPython.display.HTML(open("runs/x/report.html").read())``): the test metrics,
per-class precision/recall/F1, the confusion matrix (``confusion_matrix.png``),
the learning curves and the learning-rate schedule (written by the runner), and
the most confidently wrong validation examples (ktrain's ``view_top_losses``).
The HTML embeds its images, so it stands alone; the Markdown links them.

Text-pair runs get the same page (each example shown as ``text_a ‖ text_b``);
sequence-labelling runs get token accuracy and macro-F1, entity precision,
recall and F1, token- and entity-level scores per entity type, and per-tag scores.
"""

from __future__ import annotations

import base64
import html
import json
import os

import numpy as np

from textrecipes.data.atomic import atomic_write
from textrecipes.evaluation.baseline import report_sentence
from textrecipes.evaluation.metrics import MATRIX_MAX_LABELS
from textrecipes.evaluation.plots import plot_confusion_matrix
from textrecipes.export.metadata import RunFolderError, read_json

TEXT_CHARS = 300  # longer texts are cut in the report's tables
PAIR_SEPARATOR = " ‖ "  # between text_a and text_b of a pair in the report's tables


def top_losses(texts, targets, probabilities, labels, task: str, k: int = 10, threshold: float = 0.5) -> list:
    """The k misclassified examples with the highest loss, the most confidently wrong first.

    Args:
        texts: the raw texts.
        targets: encoded labels (`encode_labels`): ids, ``(n, 1)`` floats for
            binary, or a 0/1 matrix for multi-label.
        probabilities: one column per label (`probabilities_per_label`).
        labels: the label names.
        task: "binary", "multiclass" or "multilabel".
        k: how many. Default 10.
        threshold: multi-label decision threshold. Default 0.5.

    Returns:
        Dicts with ``index``, ``text``, ``true``, ``predicted``, ``probability``
        (of the predicted label(s): the model's confidence) and ``loss``
        (cross-entropy of the true label), sorted by loss, highest first.

    Example:
        >>> rows = top_losses(["good", "bad", "ok"], np.array([1, 0, 1]),
        ...                   np.array([[.2, .8], [.1, .9], [.6, .4]]), ["neg", "pos"], "multiclass", k=5)
        >>> [(r["text"], r["predicted"], round(r["probability"], 2)) for r in rows]
        [('bad', 'pos', 0.9), ('ok', 'neg', 0.6)]
    """
    p = np.clip(np.asarray(probabilities, "float64"), 1e-7, 1 - 1e-7)
    if task == "multilabel":
        y = np.asarray(targets).astype(int)
        pred = (p >= threshold).astype(int)
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=1)
        wrong = np.flatnonzero((pred != y).any(axis=1))
        names = lambda row: ",".join(labels[j] for j in np.flatnonzero(row)) or "(none)"  # noqa: E731
        conf = lambda i: float(np.where(pred[i] == 1, p[i], 1 - p[i]).min())  # noqa: E731
        rows = [{"index": int(i), "text": texts[i], "true": names(y[i]), "predicted": names(pred[i]),
                 "probability": conf(i), "loss": float(loss[i])} for i in wrong]
    else:
        y = np.asarray(targets).reshape(-1).astype(int)
        pred = p.argmax(axis=1)
        loss = -np.log(p[np.arange(len(y)), y])
        wrong = np.flatnonzero(pred != y)
        rows = [{"index": int(i), "text": texts[i], "true": labels[y[i]], "predicted": labels[pred[i]],
                 "probability": float(p[i, pred[i]]), "loss": float(loss[i])} for i in wrong]
    rows.sort(key=lambda r: -r["loss"])
    return rows[:k]


def pair_texts(pairs) -> list:
    """How the report shows text pairs: ``text_a ‖ text_b``.

    Args:
        pairs: ``(text_a, text_b)`` tuples.

    Returns:
        One string per pair.

    Example:
        >>> pair_texts([("Headline", "Body.")])
        ['Headline ‖ Body.']
    """
    return [f"{a}{PAIR_SEPARATOR}{b}" for a, b in pairs]


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "…"


def write_report(run_dir: str, *, k: int = 10, predictions=None, metrics=None, examples_from: str = "validation") -> dict:
    """Writes ``report.md`` and ``report.html`` (and ``confusion_matrix.png``, ``top_losses.json``) for a run.

    Args:
        run_dir: a finished run folder (``metrics.json``, ``labels.json``).
        k: how many confidently wrong validation examples to list. Default 10.
        predictions: ``(texts, targets, probabilities)`` of the validation split,
            for the most confidently wrong examples; None: the report has none
            (`textrecipes.workflows.report.report_run` predicts them again from
            a finished run). Not used for sequence labelling (no top losses there).
        metrics: the run's ``metrics.json`` content when the caller has it (a
            run writes its report before ``metrics.json``, its last file); None
            reads ``metrics.json``.
        examples_from: what ``predictions`` are of, in the headings. Default
            "validation" (`textrecipes.evaluate` names the file it scored).

    Returns:
        ``{"markdown": path, "html": path, "confusion_matrix": path or None,
        "top_losses": [rows of `top_losses`]}``.

    Example:
        >>> paths = write_report("runs/demo")  # doctest: +SKIP
        >>> from IPython.display import HTML; HTML(open(paths["html"]).read())  # doctest: +SKIP
    """
    metrics = read_json(os.path.join(run_dir, "metrics.json")) if metrics is None else metrics
    meta = read_json(os.path.join(run_dir, "labels.json"))
    labels, task = meta["labels"], meta["task"]
    split_name = "test" if metrics.get("test") else "validation"
    final = metrics.get(split_name)
    if not final:
        raise RunFolderError(f"{os.path.join(run_dir, 'metrics.json')}: no test or validation metrics to report")
    if meta.get("format") == "conll":
        return _write_tagging_report(run_dir, meta, metrics, split_name)
    cm_path = None
    if "confusion_matrix" in final:
        cm_path = plot_confusion_matrix(final["confusion_matrix"], labels, os.path.join(run_dir, "confusion_matrix.png"))
    worst = top_losses(*predictions, labels, task, k=k) if predictions is not None and len(predictions[0]) else []
    with atomic_write(os.path.join(run_dir, "top_losses.json")) as f:
        json.dump(worst, f, indent=2, ensure_ascii=False)

    title = f"Run report: {meta.get('recipe', os.path.basename(os.path.abspath(run_dir)))}"
    summary = (f"{split_name}: {final['examples']} examples, accuracy {final['accuracy']:.4f}, "
               f"macro-F1 {final['macro_f1']:.4f}; task {task}; {metrics.get('epochs_run', '?')} epoch(s), "
               f"{metrics.get('train_seconds', '?')} s")
    summary += report_sentence(metrics, split_name)
    if meta.get("format") == "pairs":
        summary += f"; text pairs ({', '.join(meta.get('inputs', ['text_a', 'text_b']))})"
    per_class, left_out = _largest_classes(labels, final["per_class"])
    images = _images(run_dir)

    md = [f"# {title}", "", summary, "", f"## Per-class metrics ({split_name})", "",
          "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    md += [f"| {_md_cell(n)} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1-score']:.4f} | {int(c['support'])} |"
           for n, c in per_class]
    if left_out:
        md += ["", left_out]
    for name, file in images:
        md += ["", f"## {name}", "", f"![{name}]({file})"]
    md += ["", f"## Most confidently wrong {examples_from} examples (top {len(worst)})", ""]
    if worst:
        md += ["| # | true | predicted | probability | loss | text |", "|---|---|---|---|---|---|"]
        md += [f"| {r['index']} | {_md_cell(r['true'])} | {_md_cell(r['predicted'])} | {r['probability']:.4f} | "
               f"{r['loss']:.4f} | {_md_cell(_short(r['text']))} |" for r in worst]
    else:
        md.append("(none: no validation split, or no validation example was misclassified)")
    md_path = os.path.join(run_dir, "report.md")
    with atomic_write(md_path) as f:
        f.write("\n".join(md) + "\n")

    e = html.escape
    rows = "".join(f"<tr><td>{e(n)}</td><td>{c['precision']:.4f}</td><td>{c['recall']:.4f}</td>"
                   f"<td>{c['f1-score']:.4f}</td><td>{int(c['support'])}</td></tr>" for n, c in per_class)
    parts = [f"<h1>{e(title)}</h1>", f"<p>{e(summary)}</p>", f"<h2>Per-class metrics ({split_name})</h2>",
             "<table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>" + rows + "</table>"]
    if left_out:
        parts.append(f"<p>{e(left_out)}</p>")
    for name, file in images:
        with open(os.path.join(run_dir, file), "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        parts.append(f"<h2>{e(name)}</h2><img alt=\"{e(name)}\" src=\"data:image/png;base64,{data}\">")
    parts.append(f"<h2>Most confidently wrong {html.escape(examples_from)} examples (top {len(worst)})</h2>")
    if worst:
        parts.append("<table><tr><th>#</th><th>true</th><th>predicted</th><th>probability</th><th>loss</th><th>text</th></tr>"
                     + "".join(f"<tr><td>{r['index']}</td><td>{e(r['true'])}</td><td>{e(r['predicted'])}</td>"
                               f"<td>{r['probability']:.4f}</td><td>{r['loss']:.4f}</td><td>{e(_short(r['text']))}</td></tr>"
                               for r in worst) + "</table>")
    else:
        parts.append("<p>(none: no validation split, or no validation example was misclassified)</p>")
    html_path = _write_html(run_dir, title, parts)
    return {"markdown": md_path, "html": html_path, "confusion_matrix": cm_path, "top_losses": worst}


def _largest_classes(labels, per_class: dict) -> tuple[list, str]:
    """The per-class rows a report shows: every class up to `MATRIX_MAX_LABELS`, else the largest; and a note.

    The note (empty when nothing is left out) says how many classes are not
    shown and where the whole table is (per_class.tsv, metrics.json).
    """
    rows = [(n, per_class[n]) for n in labels]
    if len(rows) <= MATRIX_MAX_LABELS:
        return rows, ""
    rows = sorted(rows, key=lambda row: (-row[1]["support"], row[0]))[:MATRIX_MAX_LABELS]
    return rows, (f"The {MATRIX_MAX_LABELS} largest of {len(labels)} classes are shown; the other "
                  f"{len(labels) - MATRIX_MAX_LABELS} are in per_class.tsv (every class) and metrics.json.")


def _images(run_dir: str) -> list:
    """(title, file) of the run's plots that exist, in report order."""
    return [(name, file) for name, file in (("Confusion matrix", "confusion_matrix.png"),
                                            ("Learning curves", "learning_curves.png"),
                                            ("Learning-rate schedule", "schedule.png"))
            if os.path.exists(os.path.join(run_dir, file))]


def _write_html(run_dir: str, title: str, parts: list) -> str:
    html_path = os.path.join(run_dir, "report.html")
    with atomic_write(html_path) as f:
        f.write("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + html.escape(title) + "</title><style>"
                "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
                "</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    return html_path


def _write_tagging_report(run_dir: str, meta: dict, metrics: dict, split_name: str) -> dict:
    """report.md / report.html of a sequence-labelling run: token, entity, per-type and per-tag scores."""
    final = metrics[split_name]
    entity = final["entity"]
    title = f"Run report: {meta.get('recipe', os.path.basename(os.path.abspath(run_dir)))}"
    summary = (f"{split_name}: {final['sentences']} sentences, {final['tokens']} tokens; token accuracy "
               f"{final['accuracy']:.4f}, token macro-F1 {final['macro_f1']:.4f}; entities (exact span and type): "
               f"precision {entity['precision']:.4f}, recall {entity['recall']:.4f}, F1 {entity['f1']:.4f} "
               f"({entity['true_entities']} true, {entity['predicted_entities']} predicted); sequence labelling, "
               f"{metrics.get('epochs_run', '?')} epoch(s), {metrics.get('train_seconds', '?')} s")
    token_types = final.get("token_per_type", {})  # absent in runs written before it existed
    types = sorted(set(entity["per_type"]) | set(token_types))

    def score(table, kind, key):
        value = table.get(kind, {}).get(key)
        return "–" if value is None else f"{value:.4f}"

    tables = [
        (f"Per entity type ({split_name})",
         ["type", "token P", "token R", "token F1", "entity P", "entity R", "entity F1", "entities"],
         [[kind, score(token_types, kind, "precision"), score(token_types, kind, "recall"),
           score(token_types, kind, "f1-score"), score(entity["per_type"], kind, "precision"),
           score(entity["per_type"], kind, "recall"), score(entity["per_type"], kind, "f1"),
           str(entity["per_type"].get(kind, {}).get("support", 0))] for kind in types]),
        (f"Per tag, token level ({split_name})", ["tag", "precision", "recall", "F1", "support"],
         [[tag, f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1-score']:.4f}", str(int(c["support"]))]
          for tag, c in final["per_tag"].items()]),
    ]
    images = _images(run_dir)
    md = [f"# {title}", "", summary]
    e = html.escape
    parts = [f"<h1>{e(title)}</h1>", f"<p>{e(summary)}</p>"]
    for name, header, rows in tables:
        md += ["", f"## {name}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        md += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        parts.append(f"<h2>{e(name)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
                     + "</table>")
    for name, file in images:
        md += ["", f"## {name}", "", f"![{name}]({file})"]
        with open(os.path.join(run_dir, file), "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        parts.append(f"<h2>{e(name)}</h2><img alt=\"{e(name)}\" src=\"data:image/png;base64,{data}\">")
    md_path = os.path.join(run_dir, "report.md")
    with atomic_write(md_path) as f:
        f.write("\n".join(md) + "\n")
    return {"markdown": md_path, "html": _write_html(run_dir, title, parts), "confusion_matrix": None, "top_losses": []}
