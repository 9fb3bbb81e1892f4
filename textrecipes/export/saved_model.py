"""Export over raw strings, and prediction from a run folder or a SavedModel.

The exported SavedModel holds the `TextVectorizer` in front of the trained
model, so serving needs nothing but raw strings. Its ``serving_default``
signature takes a 1-D string tensor ``texts`` and returns ``probabilities``
(one column per label), ``label`` (the most probable label's name) and
``score`` (its probability). Metadata travels as JSON (``textrecipes.json`` in
the SavedModel's ``assets.extra``), never as pickle.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shutil
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from textrecipes.run.folder import RunFolderError  # noqa: F401  (raised here, defined with the run folder)
from textrecipes.text.tokenization import SPLITS, TextVectorizer, Vocabulary, _encode, presegment

META_FILE = "textrecipes.json"
MODEL_CARD = "model_card.json"
TASKS = ("binary", "multiclass", "multilabel")


def end_to_end_model(vectorizer: TextVectorizer, model: keras.Model) -> keras.Model:
    """Puts the vectorizer in front of the model: raw strings in, probabilities out.

    Args:
        vectorizer: the `TextVectorizer` that turns strings into token ids.
        model: the classifier on token ids (as from `build_lstm_classifier`).

    Returns:
        A `keras.Model` named "text_classifier" with one string input, ``texts``.

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> v = TextVectorizer(["good", "film"], max_length=4)
        >>> m = build_lstm_classifier(4, 2, embedding_dim=8, units=4, ngram_buckets=0)
        >>> end_to_end_model(v, m).predict(np.array(["good film"], dtype=object), verbose=0).shape
        (1, 1)
    """
    texts = keras.Input(shape=(), dtype="string", name="texts")
    return keras.Model(texts, model(vectorizer(texts)), name="text_classifier")


def export_saved_model(e2e: keras.Model, path: str, *, labels: Sequence[str], task: str, meta: dict,
                       overwrite: bool = False) -> None:
    """Writes a SavedModel whose ``serving_default`` maps raw strings to labels.

    Args:
        e2e: the end-to-end model (`end_to_end_model`).
        path: the SavedModel folder; must not exist yet.
        labels: label names in output order.
        task: "binary", "multiclass" or "multilabel".
        meta: JSON metadata written to ``assets.extra/textrecipes.json``.
        overwrite: replace an existing folder. Default False.

    Raises:
        FileExistsError: when ``path`` already exists and ``overwrite`` is False.

    Example:
        >>> export_saved_model(e2e, "exports/demo", labels=["neg", "pos"], task="binary", meta={})  # doctest: +SKIP
        >>> Predictor("exports/demo").predict(["a fine film"])  # doctest: +SKIP
        [('pos', 0.91)]
    """
    if os.path.exists(path):
        if not overwrite:
            raise FileExistsError(f"export path {path} already exists; choose another path or pass overwrite=True")
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    label_table = tf.constant(list(labels))
    archive = keras.export.ExportArchive()
    archive.track(e2e)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(texts):
        return label_outputs(e2e(texts, training=False), task, label_table)

    archive.add_endpoint("serving_default", serve)
    archive.write_out(path, verbose=False)
    write_export_meta(path, {**meta, "labels": list(labels), "task": task})


def label_outputs(raw, task: str, label_table) -> dict:
    """The serving outputs from a model's raw outputs: ``probabilities``, ``label`` and ``score``.

    Args:
        raw: the model's output tensor (one sigmoid column for binary).
        task: "binary", "multiclass" or "multilabel".
        label_table: a string tensor of the label names.

    Returns:
        A dict of tensors: probabilities (one column per label), the best label's
        name and its probability.

    Example:
        >>> out = label_outputs(tf.constant([[0.25]]), "binary", tf.constant(["neg", "pos"]))
        >>> out["label"].numpy().tolist()
        [b'neg']
    """
    probs = tf.concat([1.0 - raw, raw], axis=1) if task == "binary" else raw
    best = tf.argmax(probs, axis=1)
    return {"probabilities": probs, "label": tf.gather(label_table, best), "score": tf.reduce_max(probs, axis=1)}


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


class Predictor:
    """Predicts labels for raw texts from a run folder, a SavedModel, a ``.keras`` or a ``.tflite`` file.

    Args:
        path: a run folder (uses its ``saved_model/``, else ``model.keras``, else
            ``model.tflite``), a
            SavedModel folder, a ``.keras`` file inside a run folder, or a
            ``.tflite`` file with ``model_card.json`` (labels, task, tokenizer
            settings) and ``vocabulary.json`` beside it, as the runner writes them.
        meta: for a ``.tflite`` file only: its labels, task and tokenizer settings
            given directly instead of read from ``model_card.json`` (the runner's
            export check, before the card exists). Default None.

    Example:
        >>> p = Predictor("runs/demo")  # doctest: +SKIP
        >>> p.predict(["a moving, beautifully acted film"])  # doctest: +SKIP
        [('fresh', 0.93)]
    """

    def __init__(self, path: str, meta: dict | None = None):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise RunFolderError(f"{path}: no such run folder, SavedModel, .keras or .tflite file")
        self._tflite = None
        if meta is not None and not path.endswith(".tflite"):
            raise ValueError(f"{path}: meta is for a .tflite file only; other exports carry their own metadata")
        if path.endswith(".tflite"):
            self._load_tflite(path, meta)
            return
        if (os.path.isdir(path) and os.path.exists(os.path.join(path, "model.tflite"))
                and not os.path.exists(os.path.join(path, "saved_model.pb"))
                and not os.path.isdir(os.path.join(path, "saved_model"))
                and not os.path.exists(os.path.join(path, "model.keras"))):
            self._load_tflite(os.path.join(path, "model.tflite"))  # a run folder that kept only its TFLite export
            return
        run_meta = None
        if os.path.isdir(path) and (os.path.isdir(os.path.join(path, "saved_model"))
                                    or os.path.exists(os.path.join(path, "model.keras"))):
            # A run folder: labels.json must be there and agree with what is loaded.
            run_meta = _check_meta(_read_json(os.path.join(path, "labels.json")), os.path.join(path, "labels.json"))
            if os.path.isdir(os.path.join(path, "saved_model")):
                if not os.path.exists(os.path.join(path, "saved_model", "saved_model.pb")):
                    raise RunFolderError(f"{os.path.join(path, 'saved_model')}: saved_model.pb is missing; "
                                         "the export is incomplete")
                path = os.path.join(path, "saved_model")
        self.path = path
        if os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb")):
            self.meta = _read_json(os.path.join(path, "assets.extra", META_FILE))
            try:
                self._serve = tf.saved_model.load(path).signatures["serving_default"]
            except Exception as e:  # TensorFlow raises many kinds here; say which file is broken
                raise RunFolderError(f"{path}: the SavedModel could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
            self._model = None
        else:
            keras_file = path if path.endswith(".keras") else os.path.join(path, "model.keras")
            if not os.path.exists(keras_file):
                raise RunFolderError(f"{path}: neither saved_model/ nor model.keras found; is this a textrecipes run folder?")
            self.meta = _read_json(os.path.join(os.path.dirname(keras_file), "labels.json"))
            from textrecipes.models import classifiers as models  # noqa: F401  registers the custom layers

            try:
                self._model = keras.saving.load_model(keras_file, safe_mode=True)
            except Exception as e:
                raise RunFolderError(f"{keras_file}: the model could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
            self._serve = None
            # Traced once: eager calls run the LSTM step by step (measured 143 ms for one text
            # against 1.7 ms through the SavedModel; benchmarks/results/exports.md).
            model = self._model
            self._keras_call = tf.function(lambda t: model(t, training=False), reduce_retracing=True,
                                           input_signature=[tf.TensorSpec([None], tf.string)])
        source = os.path.join(path, "assets.extra", META_FILE) if self._serve is not None else \
            os.path.join(os.path.dirname(keras_file), "labels.json")
        self.meta = _check_meta(self.meta, source)
        if run_meta is not None and run_meta["labels"] != self.meta["labels"]:
            raise RunFolderError(f"{self.path}: labels.json lists {run_meta['labels']} but the model was exported "
                                 f"with {self.meta['labels']}")
        self.labels = list(self.meta["labels"])
        self.task = self.meta["task"]
        outputs = self._output_width()
        if outputs is not None and outputs != len(self.labels):
            raise RunFolderError(f"{source}: {len(self.labels)} labels but the model has {outputs} "
                                 f"output{'s' if outputs != 1 else ''} (task {self.task!r})")

    def _load_tflite(self, path: str, meta: dict | None = None) -> None:
        """The .tflite route: labels and tokenizer from model_card.json (or ``meta``), ids from vocabulary.json beside it."""
        from textrecipes.export.tflite import TFLiteClassifier

        folder = os.path.dirname(os.path.abspath(path))
        card_path = os.path.join(folder, MODEL_CARD) if meta is None else f"the metadata given for {path}"
        self.meta = _check_meta(dict(meta) if meta is not None else _read_json(card_path), card_path)
        for key, kind in (("lowercase", bool), ("max_length", int)):
            if not isinstance(self.meta.get(key), kind):
                raise RunFolderError(f"{card_path}: {key!r} must be {kind.__name__}, got {self.meta.get(key)!r:.100}")
        vocab_path = os.path.join(folder, "vocabulary.json")
        if not os.path.exists(vocab_path):
            raise RunFolderError(f"{vocab_path} is missing; a .tflite export needs the run's vocabulary.json beside it")
        try:
            vocab = Vocabulary.load(vocab_path)
        except (ValueError, UnicodeDecodeError) as e:
            raise RunFolderError(f"{vocab_path}: {e}") from None
        if self.meta.get("vocabulary_size") not in (None, len(vocab)):
            raise RunFolderError(f"{vocab_path}: {len(vocab)} ids but {card_path} says vocabulary_size "
                                 f"{self.meta['vocabulary_size']}")
        vectorizer = TextVectorizer(vocab.tokens, split=self.meta["split"], lowercase=self.meta["lowercase"],
                                    max_length=self.meta["max_length"])
        try:
            self._tflite = TFLiteClassifier(path, vectorizer, self.meta["task"])
        except (ValueError, RuntimeError) as e:
            raise RunFolderError(f"{path}: not a loadable TFLite model ({type(e).__name__}: {str(e)[:300]})") from None
        self.path, self._serve, self._model = path, None, None
        self.labels = list(self.meta["labels"])
        self.task = self.meta["task"]
        width = int(self._tflite._runner.get_output_details()["probabilities"]["shape"][-1])
        width = 2 if self.task == "binary" and width == 1 else width
        if width != len(self.labels):
            raise RunFolderError(f"{card_path}: {len(self.labels)} labels but {path} has {width} outputs")

    def _output_width(self):
        """Number of probability columns the loaded model gives, None if not known statically."""
        if self._serve is not None:
            spec = self._serve.structured_outputs.get("probabilities")
            width = spec.shape[-1] if spec is not None and spec.shape.rank == 2 else None
            return int(width) if width is not None else None
        width = self._model.output_shape[-1]
        return None if width is None else (2 if self.task == "binary" and width == 1 else int(width))

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Probabilities, one column per label in ``self.labels`` order.

        Args:
            texts: raw texts.
            batch_size: texts per call (a .tflite export runs one at a time). Default 256.

        Example:
            >>> Predictor("runs/demo").predict_proba(["a fine film"])  # doctest: +SKIP
            array([[0.93, 0.07]], dtype=float32)
        """
        texts = presegment(texts, self.meta["split"])
        if self._tflite is not None:
            return self._tflite.predict_proba(_encode(texts))
        out = []
        for start in range(0, len(texts), batch_size):
            batch = tf.constant(_encode(texts[start:start + batch_size]), dtype=tf.string)
            if self._serve is not None:
                out.append(self._serve(texts=batch)["probabilities"].numpy())
            else:
                raw = self._keras_call(batch)
                raw = np.asarray(raw)
                out.append(np.concatenate([1 - raw, raw], axis=1) if self.task == "binary" else raw)
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), "float32")

    def predict(self, texts: Sequence[str], threshold: float = 0.5) -> list:
        """``(label, probability)`` per text; for multi-label, a tuple of labels above ``threshold``.

        Args:
            texts: raw texts.
            threshold: multi-label decision threshold. Default 0.5.

        Example:
            >>> Predictor("runs/demo").predict(["a fine film"])  # doctest: +SKIP
            [('fresh', 0.93)]
        """
        probs = self.predict_proba(texts)
        if self.task == "multilabel":
            return [(tuple(self.labels[i] for i in np.flatnonzero(p >= threshold)), [float(x) for x in p]) for p in probs]
        return [(self.labels[int(p.argmax())], float(p.max())) for p in probs]


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


def _check_meta(meta: dict, path: str) -> dict:
    """The label metadata with its types checked: a clear error, never a surprise later."""
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


def _read_json(path: str) -> dict:
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
