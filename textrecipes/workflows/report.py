"""Rebuilding a finished run's report: its validation split read again and predicted by its own export.

A run writes ``report.md``/``report.html`` as it finishes; `report_run` writes
them again later (``textrecipes report RUN_DIR``), with the most confidently
wrong validation examples predicted by the run's exported model.
"""

from __future__ import annotations

import os

from textrecipes.evaluation.report import pair_texts, write_report
from textrecipes.export.metadata import read_json
from textrecipes.export.predictors import PairPredictor, Predictor
from textrecipes.recipe.loading import load_recipe
from textrecipes.text.pipeline import encode_labels
from textrecipes.workflows.train import task_for


def validation_predictions(run_dir: str):
    """``(texts, targets, probabilities)`` of a finished run's validation split, from its own export.

    Args:
        run_dir: a finished classification or pairs run folder.

    Returns:
        The triple `write_report` takes; None for a sequence-labelling run or a run without validation data.

    Example:
        >>> texts, targets, probabilities = validation_predictions("runs/demo")  # doctest: +SKIP
    """
    cfg = load_recipe(os.path.join(run_dir, "recipe.toml"))
    fmt = cfg["data"]["format"]
    if fmt == "conll":
        return None
    predictor = (PairPredictor if fmt == "pairs" else Predictor)(run_dir)
    labelled = {**cfg, "data": {**cfg["data"], "labels": predictor.labels}}
    records = task_for(labelled, records=True).read(labelled).validation
    if not records:
        return None
    targets = encode_labels([r.label for r in records], predictor.labels, predictor.task)
    if fmt == "pairs":
        pairs = [(r.first, r.second) for r in records]
        return pair_texts(pairs), targets, predictor.predict_proba(pairs)
    texts = [r.text for r in records]
    return texts, targets, predictor.predict_proba(texts)


def report_run(run_dir: str, *, k: int = 10) -> dict:
    """Writes ``report.md`` and ``report.html`` of a finished run folder again.

    Args:
        run_dir: a finished run folder (``metrics.json``, ``labels.json``, ``recipe.toml``).
        k: how many confidently wrong validation examples to list. Default 10.

    Returns:
        What `write_report` returns: the paths written and the top losses.

    Example:
        >>> paths = report_run("runs/demo")  # doctest: +SKIP
    """
    metrics = read_json(os.path.join(run_dir, "metrics.json"))
    predictions = validation_predictions(run_dir) if metrics.get("validation") else None
    return write_report(run_dir, k=k, predictions=predictions, metrics=metrics)
