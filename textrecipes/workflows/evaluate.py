"""Scoring a finished run (or an export) on a new labelled file or DataFrame.

`evaluate` reads the file with the run's own reading settings (``data.text_first``,
``header``, ``multi_label``, ... from its ``recipe.toml``, else the model card),
predicts with the run's `Predictor` / `PairPredictor`, and computes the run's own
metrics (`textrecipes.evaluation.metrics`), per-class table, confusion matrix and
most confidently wrong examples (`textrecipes.evaluation.report`). It writes
nothing unless given ``report_dir``: a folder of its own, under the run-folder
rules (`textrecipes.run.folder`), never the run folder itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib

from textrecipes.data.atomic import atomic_write
from textrecipes.data.readers import read_classification, read_pairs
from textrecipes.data.records import DataError
from textrecipes.evaluation.metrics import evaluate_predictions, format_metrics
from textrecipes.evaluation.report import pair_texts, top_losses, write_report
from textrecipes.export.metadata import MODEL_CARD, RunFolderError, read_json
from textrecipes.export.predictors import PairPredictor, Predictor
from textrecipes.recipe.schema import defaults
from textrecipes.run.folder import MARKER, prepare_run_dir
from textrecipes.text.pipeline import encode_labels

__all__ = ["evaluate", "Evaluation", "reading_settings"]

FINISHED = "evaluation.json"  # an evaluation folder's last file


@dataclasses.dataclass
class Evaluation:
    """What `evaluate` found: metrics, per-class scores, confusion matrix and top losses.

    Args:
        metrics: `evaluate_predictions`' dict (``accuracy``, ``macro_f1``,
            ``per_class``, ``confusion_matrix``, ``labels``, ``examples``).
        top_losses: the most confidently wrong examples (`top_losses` rows).
        source: the file scored, or "<DataFrame>".
        model: the run folder or export that predicted.
        report: `write_report`'s paths when ``report_dir`` was given, else None.

    Example:
        >>> result = evaluate("runs/demo", "new.tsv")  # doctest: +SKIP
        >>> print(result)  # doctest: +SKIP
    """

    metrics: dict
    top_losses: list
    source: str
    model: str
    report: dict | None = None

    @property
    def accuracy(self) -> float:
        return self.metrics["accuracy"]

    @property
    def macro_f1(self) -> float:
        return self.metrics["macro_f1"]

    def __str__(self) -> str:
        lines = [format_metrics(self.metrics, title=f"{self.source} ({self.model})")]
        if self.top_losses:
            lines.append(f"most confidently wrong (top {len(self.top_losses)}): true -> predicted (probability) text")
            lines += [f"  {r['true']} -> {r['predicted']} ({r['probability']:.3f}) {r['text'][:100]!r}"
                      for r in self.top_losses]
        if self.report:
            lines.append(f"report: {self.report['html']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Evaluation({self.source!r}: {self.metrics['examples']} examples, accuracy {self.accuracy:.4f}, "
                f"macro-F1 {self.macro_f1:.4f})")


def _model_folder(path: str) -> str:
    return path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))


def reading_settings(model_path) -> dict:
    """The ``[data]`` keys a run read its files with: its recipe.toml, else its model card, else the defaults.

    Args:
        model_path: a run folder, SavedModel folder, ``.keras`` or ``.tflite`` file.

    Returns:
        The run's ``data`` table (``format``, ``text_first``, ``header``, ``multi_label``, ...).

    Example:
        >>> reading_settings("runs/demo")["text_first"]  # doctest: +SKIP
        False
    """
    folder = _model_folder(os.fspath(model_path))
    found = None
    recipe_file = os.path.join(folder, "recipe.toml")
    if os.path.isfile(recipe_file):
        try:
            with open(recipe_file, "rb") as f:
                found = tomllib.load(f).get("data")
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise RunFolderError(f"{recipe_file}: not readable TOML ({e})") from None
    if found is None:
        for card in (os.path.join(folder, MODEL_CARD), os.path.join(folder, "assets.extra", MODEL_CARD)):
            if os.path.isfile(card):
                found = (read_json(card).get("recipe") or {}).get("data")
                break
    return {**defaults()["data"], **(found or {})}


def _check_labels(labels, allowed, where) -> None:
    known = set(allowed)
    for i, label in enumerate(labels):
        for one in label if isinstance(label, tuple) else (label,):
            if one not in known:
                raise DataError(f"{where(i)}: label {one!r} is not one the model was trained on ({sorted(known)}); "
                                "score only the run's labels, or fine-tune with --extend-labels first")


def _from_file(path: str, data: dict, allowed) -> tuple[list, list]:
    """``(inputs, labels)`` of a labelled file read as the run read its own."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    if data["format"] == "pairs":
        ds = read_pairs(path, header=data["header"], labeled=True, on_bad_lines=data["on_bad_lines"])
        inputs = [(r.first, r.second) for r in ds.records]
    else:
        ds = read_classification(path, text_first=data["text_first"], header=data["header"],
                                 multi_label=data["multi_label"], label_sep=data["label_sep"],
                                 on_bad_lines=data["on_bad_lines"])
        inputs = [r.text for r in ds.records]
    if not ds.records:
        raise DataError(f"{path}: no labelled example to score ({ds.report.summary()})")
    labels = [r.label for r in ds.records]
    _check_labels(labels, allowed, lambda i: f"{path}:{ds.records[i].line}")
    return inputs, labels


def _from_frame(frame, data: dict, allowed, text_column: str, label_column: str) -> tuple[list, list]:
    """``(inputs, labels)`` from a pandas DataFrame's named columns."""
    columns = ["text_a", "text_b"] if data["format"] == "pairs" else [text_column]
    missing = [c for c in columns + [label_column] if c not in frame.columns]
    if missing:
        raise KeyError(f"the DataFrame has no column {missing[0]!r} (it has {list(frame.columns)[:10]}); "
                       f"name the columns with text_column= and label_column=")
    labels = [str(v) for v in frame[label_column].tolist()]
    if data["multi_label"]:
        labels = [tuple(p.strip() for p in v.split(data["label_sep"]) if p.strip()) for v in labels]
    _check_labels(labels, allowed, lambda i: f"DataFrame row {i} (index {frame.index[i]!r})")
    if data["format"] == "pairs":
        return list(zip(frame["text_a"].astype(str), frame["text_b"].astype(str))), labels
    return [str(t) for t in frame[text_column].tolist()], labels


def _predictor(model):
    """``(predictor, model path)`` from a path, a `RunResult` or a predictor."""
    if isinstance(model, Predictor):
        return model, model.path
    path = os.fspath(getattr(model, "run_dir", model))
    data = reading_settings(path) if os.path.exists(path) else {"format": "label_text"}
    if data["format"] == "conll":
        raise ValueError(f"{path}: a sequence-labelling run; evaluate scores classification and pair runs "
                         "(a tagging run's entity scores are in its metrics.json)")
    return (PairPredictor if data["format"] == "pairs" else Predictor)(path), path


def _report_folder(report_dir: str, model_path: str, overwrite: bool):
    """The report folder, prepared under the run-folder rules; never the run folder or another run's."""
    report_dir = os.fspath(report_dir)
    if os.path.isdir(model_path) and os.path.realpath(report_dir) == os.path.realpath(model_path):
        raise RunFolderError(f"{report_dir} is the run folder itself; the report goes into a folder of its own, "
                             f"e.g. {os.path.join(report_dir, 'evaluation')}")
    marker = os.path.join(report_dir, MARKER)
    if os.path.isfile(marker):
        kind = read_json(marker).get("kind")
        if kind != "evaluate":
            raise RunFolderError(f"{report_dir} holds a {kind!r} run, not an evaluation; name a new folder for the report")
    return prepare_run_dir(report_dir, overwrite, kind="evaluate", finished=FINISHED)


def _write(report_dir: str, predictor, model_path: str, source: str, metrics: dict, predictions, k: int):
    name = predictor.meta.get("recipe") or os.path.basename(os.path.abspath(model_path))
    name = name.get("name", "run") if isinstance(name, dict) else name  # a SavedModel's card holds the whole recipe
    meta = {"labels": predictor.labels, "task": predictor.task, "format": predictor.meta.get("format", "label_text"),
            "recipe": f"{name} on {os.path.basename(source)}"}
    with atomic_write(os.path.join(report_dir, "labels.json")) as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
    paths = write_report(report_dir, k=k, predictions=predictions, metrics={"test": metrics},
                         examples_from=os.path.basename(source))
    record = {"model": os.path.abspath(model_path), "source": os.path.abspath(source) if source != "<DataFrame>"
              else source, "metrics": metrics, "top_losses": paths["top_losses"]}
    with atomic_write(os.path.join(report_dir, FINISHED)) as f:  # last: the evaluation finished
        json.dump(record, f, indent=2, ensure_ascii=False)
    return {key: paths[key] for key in ("markdown", "html", "confusion_matrix")} | {"evaluation": os.path.join(report_dir, FINISHED)}


def evaluate(run_or_export, file_or_dataframe, *, report_dir=None, overwrite: bool = False, k: int = 10,
             text_column: str = "text", label_column: str = "label", threshold: float = 0.5,
             batch_size: int = 256) -> Evaluation:
    """Scores a finished run, or an export, on a new labelled file or DataFrame.

    Args:
        run_or_export: a run folder, SavedModel folder, ``.keras`` or ``.tflite``
            file, a `RunResult` (its ``run_dir``), or a `Predictor`.
        file_or_dataframe: a labelled file in the run's format, read with the run's
            reading settings (`reading_settings`), or a pandas DataFrame with
            ``text_column`` and ``label_column`` (``text_a``/``text_b`` for pairs).
        report_dir: write ``report.md``, ``report.html``, ``confusion_matrix.png``
            and ``evaluation.json`` into this folder (a new or empty folder, or an
            earlier evaluation's with ``overwrite``). Default None: nothing is written.
        overwrite: replace an earlier evaluation in ``report_dir``. Default False.
        k: how many confidently wrong examples to keep. Default 10.
        text_column: the DataFrame's text column. Default "text".
        label_column: the DataFrame's label column. Default "label".
        threshold: multi-label decision threshold. Default 0.5.
        batch_size: texts per prediction call. Default 256.

    Returns:
        An `Evaluation` (``print`` it for the table; ``.metrics`` holds everything).

    Raises:
        DataError: a bad line, or a label the model was not trained on (naming
            ``file:line`` or the DataFrame row).
        RunFolderError: the model cannot be loaded, or ``report_dir`` is not a
            folder the report may be written into.

    Example:
        >>> result = evaluate("runs/demo", "data/new_reviews.tsv")  # doctest: +SKIP
        >>> result.accuracy, result.metrics["confusion_matrix"]  # doctest: +SKIP
    """
    predictor, model_path = _predictor(run_or_export)
    data = reading_settings(model_path)
    if hasattr(file_or_dataframe, "columns") and hasattr(file_or_dataframe, "iloc"):
        source = "<DataFrame>"
        inputs, labels = _from_frame(file_or_dataframe, data, predictor.labels, text_column, label_column)
    else:
        source = os.fspath(file_or_dataframe)
        inputs, labels = _from_file(source, data, predictor.labels)
    targets = encode_labels(labels, predictor.labels, predictor.task)
    probabilities = predictor.predict_proba(inputs, batch_size=batch_size)
    metrics = evaluate_predictions(targets, probabilities, predictor.labels, predictor.task, threshold=threshold)
    texts = pair_texts(inputs) if data["format"] == "pairs" else inputs
    worst = top_losses(texts, targets, probabilities, predictor.labels, predictor.task, k=k, threshold=threshold)
    result = Evaluation(metrics, worst, source, model_path)
    if report_dir is not None:
        lock = _report_folder(report_dir, model_path, overwrite)
        try:
            result.report = _write(os.fspath(report_dir), predictor, model_path, source, metrics,
                                   (texts, targets, probabilities), k)
        finally:
            lock.release()
    return result
