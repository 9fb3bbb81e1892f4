"""The metadata that travels with a model: labels and tokenizer settings as JSON, and the model card.

Never pickle: ``labels.json`` in the run folder, ``textrecipes.json`` in a
SavedModel's ``assets.extra/``, and ``model_card.json`` (what a model is, what
data it saw, how it scored, which versions made it) beside every export.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
from typing import Sequence

META_FILE = "textrecipes.json"
MODEL_CARD = "model_card.json"
TASKS = ("binary", "multiclass", "multilabel")


class RunFolderError(ValueError):
    """A run folder, export or model file is missing, incomplete, not ours, or inconsistent.

    Example:
        >>> raise RunFolderError("runs/x: not a textrecipes run folder")  # doctest: +SKIP
    """


def write_export_meta(path: str, meta: dict) -> None:
    """Writes the JSON metadata of a SavedModel to ``assets.extra/textrecipes.json``.

    Args:
        path: the SavedModel folder.
        meta: JSON-ready metadata.

    Example:
        >>> write_export_meta("exports/demo", {"labels": ["neg", "pos"]})  # doctest: +SKIP
    """
    os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
    with open(os.path.join(path, "assets.extra", META_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)


def data_fingerprint(paths: Sequence[str]) -> list:
    """SHA-256 and line count of each data file, to tell later which data a model saw.

    Args:
        paths: data files; empty or None entries are skipped.

    Returns:
        ``[{"path", "sha256", "lines", "bytes"}, ...]``.

    Example:
        >>> data_fingerprint(["data/samples/label_text.tsv"])[0]["lines"] > 0
        True
    """
    out = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
            continue
        digest, lines, size = hashlib.sha256(), 0, 0
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
                lines += block.count(b"\n")
                size += len(block)
        out.append({"path": path, "sha256": digest.hexdigest(), "lines": lines, "bytes": size})
    return out


def package_versions() -> dict:
    """Versions of textrecipes, TensorFlow, Keras, NumPy and Python.

    Example:
        >>> sorted(package_versions())
        ['keras', 'numpy', 'python', 'tensorflow', 'textrecipes']
    """
    import keras
    import numpy as np
    import tensorflow as tf

    import textrecipes

    return {"textrecipes": textrecipes.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def model_card(meta: dict, *, recipe: dict, metrics: dict, data_files: Sequence[str], exports: dict) -> dict:
    """The ``model_card.json`` content: what a model is, what it saw, how it scored.

    Args:
        meta: the label and tokenizer metadata (``labels``, ``task``, ``split``,
            ``lowercase``, ``max_length``, ``vocabulary_size``; a tagger's
            ``tokens``), kept at the top level; the tokenizer keys it has are
            gathered again under ``tokenizer``.
        recipe: the resolved recipe, as a dict.
        metrics: evaluation reports by split name, e.g. ``{"test": {...}}``.
        data_files: the data files read (fingerprinted by `data_fingerprint`).
        exports: export file name → its check against the Keras model.

    Returns:
        A JSON-serialisable dict.

    Example:
        >>> card = model_card({"labels": ["a", "b"], "task": "binary"}, recipe={}, metrics={}, data_files=[], exports={})
        >>> card["labels"], "tensorflow" in card["versions"]
        (['a', 'b'], True)
    """
    return {
        **meta,
        "tokenizer": {k: meta[k] for k in ("split", "lowercase", "max_length", "tokens") if k in meta},
        "recipe": recipe,
        "metrics": metrics,
        "data": data_fingerprint(data_files),
        "versions": package_versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "exports": exports,
    }


def check_meta(meta: dict, path: str) -> dict:
    """The label metadata with its types checked: a clear error naming ``path``, never a surprise later.

    Example:
        >>> check_meta({"labels": ["neg", "pos"], "task": "binary", "split": "word"}, "labels.json")["task"]
        'binary'
    """
    from textrecipes.text.tokenization import SPLITS  # late: it starts TensorFlow

    for key in ("labels", "task", "split"):
        if key not in meta:
            raise RunFolderError(f"{path}: metadata lacks {key!r}")
    labels = meta["labels"]
    if (not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels)
            or len(set(labels)) != len(labels)):
        raise RunFolderError(f"{path}: 'labels' must be a list of distinct non-empty strings, got {labels!r:.200}")
    if meta["task"] not in TASKS:
        raise RunFolderError(f"{path}: 'task' must be one of {TASKS}, got {meta['task']!r:.100}")
    if meta["split"] not in SPLITS:
        raise RunFolderError(f"{path}: 'split' must be one of {SPLITS}, got {meta['split']!r:.100}")
    if meta["task"] == "binary" and len(labels) != 2:
        raise RunFolderError(f"{path}: a binary model needs 2 labels, got {len(labels)}")
    return meta


def read_json(path: str) -> dict:
    """A JSON object from ``path``; a missing, invalid or non-object file is a `RunFolderError` naming it.

    Example:
        >>> read_json("no/such/labels.json")
        Traceback (most recent call last):
        ...
        textrecipes.export.metadata.RunFolderError: no/such/labels.json is missing; the run folder or export is incomplete
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing; the run folder or export is incomplete") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path}: expected a JSON object")
    return data
