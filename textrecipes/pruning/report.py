"""What pruning gained: parameters and zeros per layer, export sizes raw and gzip-compressed, predictions/s."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
from typing import Callable, Sequence

import keras
import numpy as np
from keras import ops

from textrecipes.pruning.masks import PruningMasks

__all__ = ["sparsity_report", "export_size", "predictions_per_second"]

def sparsity_report(model: keras.Model) -> dict:
    """Parameters and zeros per layer and in all (the pruning masks themselves not counted).

    Args:
        model: any Keras model (pruned, stripped, compacted or not); nested models are looked into.

    Returns:
        ``{"layers": {name: {"params", "nonzero", "sparsity"}}, "params": total,
        "nonzero": total nonzero, "sparsity": fraction of zeros}``; ``params`` is the
        count before pruning (of this model's shapes), ``nonzero`` what is left.

    Example:
        >>> inputs = keras.Input((8,))
        >>> model = keras.Model(inputs, keras.layers.Dense(4, name="h")(inputs))
        >>> sparsity_report(model)["params"]
        36
    """
    layers = {}

    def visit(m):
        for layer in m.layers:
            if isinstance(layer, PruningMasks):
                continue
            if isinstance(layer, keras.Model):
                visit(layer)
                continue
            params = nonzero = 0
            for variable in layer.weights:
                if variable.dtype == "string":
                    continue
                value = ops.convert_to_numpy(variable)
                params += value.size
                nonzero += int(np.count_nonzero(value))
            if params:
                layers[layer.name] = {"params": params, "nonzero": nonzero, "sparsity": round(1 - nonzero / params, 6)}

    visit(model)
    params = sum(v["params"] for v in layers.values())
    nonzero = sum(v["nonzero"] for v in layers.values())
    return {"layers": layers, "params": params, "nonzero": nonzero,
            "sparsity": round(1 - nonzero / params, 6) if params else 0.0}


# ---------------------------------------------------------------------------
# Size and speed.


class _CountingSink(io.RawIOBase):
    def __init__(self):
        self.size = 0

    def writable(self):
        return True

    def write(self, data):
        self.size += len(data)
        return len(data)


def export_size(path: str, level: int = 6) -> dict:
    """The size of a file or folder (a SavedModel) raw and gzip-compressed (a folder as a .tar.gz).

    Args:
        path: a file or a folder.
        level: gzip compression level. Default 6 (gzip's own default).

    Returns:
        ``{"bytes": raw size, "gzip_bytes": compressed size}``.

    Example:
        >>> import tempfile
        >>> f = tempfile.NamedTemporaryFile(suffix=".bin", delete=False); _ = f.write(bytes(10000)); f.close()
        >>> s = export_size(f.name); s["bytes"], s["gzip_bytes"] < 100
        (10000, True)
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or folder")
    sink = _CountingSink()
    if os.path.isdir(path):
        raw = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=level, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w") as tar:
                tar.add(path, arcname=os.path.basename(os.path.normpath(path)))
    else:
        raw = os.path.getsize(path)
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=level, mtime=0) as gz, open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                gz.write(block)
    return {"bytes": raw, "gzip_bytes": sink.size}


def predictions_per_second(predict: Callable, texts: Sequence, *, batch_size: int = 256, repeats: int = 1,
                           warmup: int = 1) -> float:
    """Texts predicted per second by ``predict`` (called on batches of ``texts``), after a warm-up call.

    Args:
        predict: a function of a list of texts (e.g. `textrecipes.export.predictors.Predictor.predict_proba`).
        texts: the texts.
        batch_size: texts per call. Default 256.
        repeats: passes over ``texts``, the best one kept (less noise on a shared machine). Default 1.
        warmup: calls on the first batch before timing (tracing, caches). Default 1.

    Returns:
        Predictions per second, the best pass.

    Example:
        >>> predictions_per_second(lambda batch: [0] * len(batch), ["a"] * 1000) > 0
        True
    """
    texts = list(texts)
    if not texts:
        raise ValueError("predictions_per_second needs at least one text")
    for _ in range(warmup):
        predict(texts[:batch_size])
    best = 0.0
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        for i in range(0, len(texts), batch_size):
            predict(texts[i:i + batch_size])
        best = max(best, len(texts) / max(time.perf_counter() - start, 1e-9))
    return best
