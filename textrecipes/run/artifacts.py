"""The run folder's artifacts: what a finished run leaves, each file written whole or not at all.

Order matters: ``labels.json``, ``vocabulary.json`` and ``recipe.toml`` first,
then the exports and ``model_card.json``, and ``metrics.json`` last, since its
presence is what says the run finished (`textrecipes.run.folder`). Every file
goes through `atomic_write`, so a kill at any moment leaves either the
previous file or the complete new one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Mapping

from textrecipes.data.atomic import atomic_write
from textrecipes.evaluation.metrics import card_metrics
from textrecipes.evaluation.plots import plot_learning_curves
from textrecipes.export.metadata import MODEL_CARD, model_card
from textrecipes.export.verify import export_digests
from textrecipes.recipe.loading import to_toml
from textrecipes.run.folder import FINISHED


def write_json(path: str, data) -> None:
    """Writes ``data`` as indented UTF-8 JSON, atomically.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "a.json")
        >>> write_json(path, {"ok": True}); open(path).read()
        '{\n  "ok": true\n}'
    """
    with atomic_write(path) as f:
        json.dump(data, f, indent=2, ensure_ascii=False)


def write_run_files(run_dir: str, cfg: Mapping, meta: Mapping, vocab, meta_file: str = "labels.json") -> None:
    """Writes labels.json (the metadata), vocabulary.json and recipe.toml (every key resolved).

    Args:
        run_dir: the run folder.
        cfg: the resolved recipe.
        meta: the JSON metadata (labels, task, tokenizer settings, ...).
        vocab: the `Vocabulary`, or None for a task without one.
        meta_file: the metadata's file name. Default "labels.json" (a language model's: "lm.json").

    Example:
        >>> write_run_files("runs/x", cfg, {"labels": ["a", "b"]}, vocab)  # doctest: +SKIP
    """
    write_json(os.path.join(run_dir, meta_file), dict(meta))
    if vocab is not None:
        with atomic_write(os.path.join(run_dir, "vocabulary.json")) as f:
            f.write(vocab.to_json())
    with atomic_write(os.path.join(run_dir, "recipe.toml")) as f:
        f.write(to_toml(cfg, run_dir))


def write_metrics(run_dir: str, reports: Mapping, splits, history: Mapping, started: float,
                  export_check, **extra) -> dict:
    """Plots the learning curves and writes metrics.json, the run's last file; returns what was written.

    Args:
        run_dir: the run folder.
        reports: split name → metrics dict ("test", "validation").
        splits: the `Splits` (their sizes and line accounting are recorded).
        history: the training history.
        started: ``time.time()`` when the run began.
        export_check: the export check's result, or None.
        **extra: more JSON-ready entries for metrics.json.

    Returns:
        The metrics.json content as a dict.

    Example:
        >>> summary = write_metrics("runs/x", {"test": {}}, splits, {"loss": [0.5]}, 0.0, None)  # doctest: +SKIP
    """
    plot_learning_curves(history, os.path.join(run_dir, "learning_curves.png"))
    summary = {**run_summary(reports, splits, history, started, export_check), **extra}
    write_json(os.path.join(run_dir, FINISHED), summary)
    return summary


def run_summary(reports: Mapping, splits, history: Mapping, started: float, export_check) -> dict:
    """The ``metrics.json`` of a run: reports per split, line accounting, epochs, time, export check.

    Args:
        reports: split name → `evaluate_predictions` report.
        splits: the run's `Splits`.
        history: metric → one value per epoch.
        started: the run's start, as from `time.time()`.
        export_check: `check_export`'s result, or None.

    Returns:
        A JSON-ready dict.

    Example:
        >>> from textrecipes.data.splits import Splits
        >>> s = run_summary({}, Splits([], [], [], []), {"loss": [0.7, 0.5]}, time.time(), None)
        >>> s["epochs_run"], s["splits"]
        (2, {'train': 0, 'validation': 0, 'test': 0})
    """
    return {
        "test": reports.get("test"), "validation": reports.get("validation"),
        "data": [r.to_dict() for r in splits.reports],
        "splits": splits.sizes(),
        "duplicates_of_train": dict(getattr(splits, "duplicates", {})),  # validation/test inputs also in train
        "epochs_run": len(history.get("loss", [])), "train_loss": [float(v) for v in history.get("loss", [])],
        "train_seconds": round(time.time() - started, 1),
        "export_check": export_check,
    }


def write_model_card(run_dir: str, cfg: Mapping, meta: Mapping, reports: Mapping, exports: Mapping) -> dict:
    """Writes model_card.json in the run folder and inside saved_model/assets.extra/ (a copied export carries it).

    Args:
        run_dir: the run folder.
        cfg: the resolved recipe.
        meta: the export metadata (labels, task, tokenizer settings).
        reports: split name → metrics dict.
        exports: export name → its check result (None: not written).

    Returns:
        The card as a dict.

    Example:
        >>> card = write_model_card("runs/x", cfg, meta, {"test": {}}, {"saved_model": None})  # doctest: +SKIP
    """
    card = model_card(meta, recipe=cfg, metrics={k: card_metrics(v) for k, v in reports.items() if v},
                      data_files=[cfg["data"].get(k) for k in ("train", "validation", "test")],
                      exports={k: v for k, v in exports.items() if v is not None})
    card["sha256"] = export_digests(run_dir)  # checked by predict --verify / Predictor(path, verify=True)
    card_paths = [os.path.join(run_dir, MODEL_CARD)]
    if os.path.isdir(os.path.join(run_dir, "saved_model")):  # a copied SavedModel carries its card
        card_paths.append(os.path.join(run_dir, "saved_model", "assets.extra", MODEL_CARD))
    for path in card_paths:
        write_json(path, card)
    return card


def finish_run(run_dir: str, chief_run_dir: str) -> str:
    """Removes a non-chief worker's private folder (its files were only needed while training).

    Args:
        run_dir: this worker's run folder.
        chief_run_dir: the chief's run folder (the same on the chief).

    Returns:
        The chief's run folder, the one to report.

    Example:
        >>> finish_run("runs/x", "runs/x")
        'runs/x'
    """
    if run_dir != chief_run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    return chief_run_dir
