"""Prediction from what a run leaves: a run folder, a SavedModel, a ``.keras`` or a ``.tflite`` file.

`Predictor` labels raw texts, `PairPredictor` pairs of texts and `Tagger`
tags sentences; each checks the metadata beside the model and says which file
is missing or broken.
"""

from __future__ import annotations

import os
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from textrecipes.export.batches import RowIndex, check_pairs, check_texts, stream_results, streamable, streamable_pairs
from textrecipes.export.metadata import META_FILE, MODEL_CARD, RunFolderError, check_meta, read_json
from textrecipes.export.tflite import TFLiteClassifier
from textrecipes.export.verify import verify_exports
from textrecipes.text.pipeline import sentence_ids, token_lookup
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, _encode, presegment


def as_texts(texts, what: str = "texts") -> tuple[list[str], bool]:
    """``(list of str, single)``: one text or a sequence of texts, checked before anything is predicted.

    A bare string is one text (not a sequence of characters); a list, tuple,
    NumPy array or pandas Series is many. A DataFrame, a mapping or a non-string
    element is refused with the reason, so that nothing is predicted for the
    wrong thing.

    Args:
        texts: a string, or a sequence of strings.
        what: the argument's name in messages. Default "texts".

    Example:
        >>> as_texts("a fine film")
        (['a fine film'], True)
        >>> as_texts(["a", "b"])
        (['a', 'b'], False)
    """
    if isinstance(texts, bytes):
        texts = texts.decode("utf-8")
    if isinstance(texts, str):
        return [texts], True
    if hasattr(texts, "columns") and hasattr(texts, "iloc"):  # a pandas DataFrame iterates its column names
        raise TypeError(f"{what}: got a DataFrame with columns {list(texts.columns)[:5]}; pass one column, "
                        f"e.g. predict(df[{str(list(texts.columns)[0])!r}])" if len(texts.columns) else
                        f"{what}: got an empty DataFrame; pass one column of texts")
    if isinstance(texts, dict):
        raise TypeError(f"{what}: got a dict; pass a list of texts (e.g. list(d.values()))")
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise TypeError(f"{what}: got an array of shape {texts.shape}; pass a 1-D sequence of texts")
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"{what}: expected a string or a sequence of strings, got {type(texts).__name__}") from None
    return check_texts(items, 0, what), False


def probability_frame(probs: np.ndarray, labels: Sequence[str], given=None):
    """Probabilities as a pandas DataFrame, a column per label; a pandas Series given keeps its index.

    Raises:
        ImportError: pandas is not installed (it is optional: ``pip install pandas``).

    Example:
        >>> probability_frame(np.array([[0.9, 0.1]]), ["pos", "neg"]).columns.tolist()
        ['pos', 'neg']
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("as_frame=True needs pandas (pip install pandas); without it, predict_proba returns "
                          "an array whose columns are Predictor.labels") from None
    index = given.index if hasattr(given, "index") and not callable(given.index) else None
    return pd.DataFrame(np.asarray(probs).reshape(-1, len(labels)), columns=list(labels), index=index)


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
        verify: check every exported file against the sha256 sums in the run's
            ``model_card.json`` before loading anything (`textrecipes.export.verify`);
            a `RunFolderError` names a file that differs. Default False.

    Example:
        >>> p = Predictor("runs/demo")  # doctest: +SKIP
        >>> p.predict(["a moving, beautifully acted film"])  # doctest: +SKIP
        [('fresh', 0.93)]
    """

    def __init__(self, path: str, meta: dict | None = None, verify: bool = False):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise RunFolderError(f"{path}: no such run folder, SavedModel, .keras or .tflite file")
        if verify:  # before anything is loaded: a SavedModel's graph is code
            verify_exports(path)
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
            run_meta = check_meta(read_json(os.path.join(path, "labels.json")), os.path.join(path, "labels.json"))
            if os.path.isdir(os.path.join(path, "saved_model")):
                if not os.path.exists(os.path.join(path, "saved_model", "saved_model.pb")):
                    raise RunFolderError(f"{os.path.join(path, 'saved_model')}: saved_model.pb is missing; "
                                         "the export is incomplete")
                path = os.path.join(path, "saved_model")
        self.path = path
        if os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb")):
            self.meta = read_json(os.path.join(path, "assets.extra", META_FILE))
            try:
                self._serve = tf.saved_model.load(path).signatures["serving_default"]
            except Exception as e:  # TensorFlow raises many kinds here; say which file is broken
                raise RunFolderError(f"{path}: the SavedModel could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
            self._model = None
        else:
            keras_file = path if path.endswith(".keras") else os.path.join(path, "model.keras")
            if not os.path.exists(keras_file):
                raise RunFolderError(f"{path}: neither saved_model/ nor model.keras found; is this a textrecipes run folder?")
            self.meta = read_json(os.path.join(os.path.dirname(keras_file), "labels.json"))

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
        self.meta = check_meta(self.meta, source)
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

        folder = os.path.dirname(os.path.abspath(path))
        card_path = os.path.join(folder, MODEL_CARD) if meta is None else f"the metadata given for {path}"
        self.meta = check_meta(dict(meta) if meta is not None else read_json(card_path), card_path)
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

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256, as_frame: bool = False, stream: bool = False):
        """Probabilities, one column per label in ``self.labels`` order.

        Args:
            texts: raw texts (one string: one row of probabilities): a list, tuple,
                array, pandas Series or any iterable, a generator included.
            batch_size: texts per call (a .tflite export runs one at a time). Default 256.
            as_frame: return a pandas DataFrame, a column per label (a pandas Series of
                texts keeps its index). Default False: a NumPy array.
            stream: return a generator of one array (or DataFrame) per ``batch_size``
                texts, reading ``texts`` only as each batch is asked for, so that millions
                of texts run in bounded memory. Default False.

        Example:
            >>> Predictor("runs/demo").predict_proba(["a fine film"])  # doctest: +SKIP
            array([[0.93, 0.07]], dtype=float32)
            >>> Predictor("runs/demo").predict_proba(["a fine film"], as_frame=True)  # doctest: +SKIP
                 fresh  rotten
            0     0.93    0.07
            >>> for probs in Predictor("runs/demo").predict_proba(open("texts.txt"), stream=True):  # doctest: +SKIP
            ...     print(probs.shape)
            (256, 2)
        """
        if stream:
            def compute(chunk, start):
                probs = self._probabilities(presegment(chunk, self.meta["split"]), batch_size)
                return probability_frame(probs, self.labels, RowIndex(start, len(chunk))) if as_frame else probs
            return stream_results(streamable(texts, as_texts), batch_size, check_texts, compute)
        given = texts
        texts, single = as_texts(texts)
        probs = self._probabilities(presegment(texts, self.meta["split"]), batch_size)
        if as_frame:
            return probability_frame(probs, self.labels, given)
        return probs[0] if single else probs

    def _probabilities(self, texts: list[str], batch_size: int) -> np.ndarray:
        if self._tflite is not None:
            return self._tflite.predict_proba(_encode(texts))
        # A batch is padded to its longest text: batches of texts of like length (sorted by
        # characters, then put back in input order) do less padded work. Measured on a model
        # reading up to 2,048 tokens: benchmarks/results/predict_stream.md.
        order = np.argsort(np.fromiter(map(len, texts), np.int64, len(texts)), kind="stable") \
            if len(texts) > batch_size else None
        ordered = texts if order is None else [texts[i] for i in order]
        probs = self._batch_probabilities(ordered, batch_size)
        if order is None:
            return probs
        out = np.empty_like(probs)
        out[order] = probs
        return out

    def _batch_probabilities(self, texts: list[str], batch_size: int) -> np.ndarray:
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

    def predict(self, texts, threshold: float = 0.5, batch_size: int = 256, stream: bool = False):
        """``(label, probability)`` per text; for multi-label, a tuple of labels above ``threshold``.

        Args:
            texts: one raw text (then one result, not a list) or a sequence of them
                (a list, tuple, array, pandas Series or any iterable, a generator included;
                a DataFrame is refused: pass a column).
            threshold: multi-label decision threshold. Default 0.5.
            batch_size: texts per model call. Default 256.
            stream: return a generator of one list of results per ``batch_size`` texts,
                reading ``texts`` only as each batch is asked for (bounded memory). Default False.

        Example:
            >>> Predictor("runs/demo").predict(["a fine film"])  # doctest: +SKIP
            [('fresh', 0.93)]
            >>> Predictor("runs/demo").predict("a fine film")  # doctest: +SKIP
            ('fresh', 0.93)
            >>> batches = Predictor("runs/demo").predict((line.rstrip("\\n") for line in open("texts.txt")), stream=True)  # doctest: +SKIP
            >>> next(batches)[:1]  # doctest: +SKIP
            [('fresh', 0.93)]
        """
        if stream:
            def compute(chunk, start):
                return self._decide(self._probabilities(presegment(chunk, self.meta["split"]), batch_size), threshold)
            return stream_results(streamable(texts, as_texts), batch_size, check_texts, compute)
        texts, single = as_texts(texts)
        results = self._decide(self.predict_proba(texts, batch_size=batch_size), threshold)
        return results[0] if single else results

    def _decide(self, probs: np.ndarray, threshold: float) -> list:
        if self.task == "multilabel":
            return [(tuple(self.labels[i] for i in np.flatnonzero(p >= threshold)), [float(x) for x in p]) for p in probs]
        return [(self.labels[int(p.argmax())], float(p.max())) for p in probs]


def as_pairs(pairs) -> tuple[list[tuple[str, str]], bool]:
    """``(list of (text_a, text_b), single)``: one pair of strings, or a sequence of pairs, checked.

    Example:
        >>> as_pairs(("a", "b"))
        ([('a', 'b')], True)
        >>> as_pairs([("a", "b"), ["c", "d"]])
        ([('a', 'b'), ('c', 'd')], False)
    """
    if isinstance(pairs, (str, bytes)):
        raise TypeError("pairs: got one string; pass a (text_a, text_b) pair or a list of them")
    if isinstance(pairs, (tuple, list)) and len(pairs) == 2 and all(isinstance(x, (str, bytes)) for x in pairs):
        (a, b), _ = as_texts(list(pairs), "pair")
        return [(a, b)], True
    if hasattr(pairs, "columns") and hasattr(pairs, "iloc"):
        raise TypeError("pairs: got a DataFrame; pass list(zip(df['text_a'], df['text_b']))")
    return check_pairs(list(pairs), 0), False


class PairPredictor(Predictor):
    """Predicts labels for ``(text_a, text_b)`` pairs from a pairs run folder, SavedModel or ``.keras`` file.

    Args:
        path: as for `Predictor`.
        meta: as for `Predictor` (a ``.tflite`` file only). Default None.
        verify: check every exported file against the sha256 sums in the run's
            ``model_card.json`` before loading anything, as for `Predictor`. Default False.

    Example:
        >>> p = PairPredictor("runs/pairs_lstm", verify=True)  # doctest: +SKIP
        >>> p.predict([("What is the capital of France?", "Paris is.")])  # doctest: +SKIP
        [('yes', 0.81)]
    """

    def predict_proba(self, pairs: Sequence[tuple[str, str]], batch_size: int = 256, as_frame: bool = False,
                      stream: bool = False):
        """Probabilities, one column per label, for one ``(text_a, text_b)`` pair or a list of them (``as_frame``: a DataFrame).

        ``stream=True``: a generator of one array (or DataFrame) per ``batch_size`` pairs of any iterable, as for `Predictor`.
        """
        if stream:
            def compute(chunk, start):
                probs = self._pair_probabilities(chunk, batch_size)
                return probability_frame(probs, self.labels, RowIndex(start, len(chunk))) if as_frame else probs
            return stream_results(streamable_pairs(pairs, as_pairs), batch_size, check_pairs, compute)
        pairs, single = as_pairs(pairs)
        probs = self._pair_probabilities(pairs, batch_size)
        if as_frame:
            return probability_frame(probs, self.labels, pairs)
        return probs[0] if single else probs

    def predict(self, pairs, threshold: float = 0.5, batch_size: int = 256, stream: bool = False):
        """``(label, probability)`` for one ``(text_a, text_b)`` pair, or a list of them for a list of pairs.

        ``stream=True``: a generator of one list of results per ``batch_size`` pairs of any iterable.

        Example:
            >>> PairPredictor("runs/pairs_lstm").predict(("Is it?", "It is."))  # doctest: +SKIP
            ('yes', 0.81)
        """
        if stream:
            return stream_results(streamable_pairs(pairs, as_pairs), batch_size, check_pairs,
                                  lambda chunk, start: self._decide(self._pair_probabilities(chunk, batch_size), threshold))
        pairs, single = as_pairs(pairs)
        results = self._decide(self._pair_probabilities(pairs, batch_size), threshold)
        return results[0] if single else results

    def _pair_probabilities(self, pairs: list, batch_size: int) -> np.ndarray:
        out = []
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            a, b = ([presegment([p[k] for p in chunk], self.meta["split"])] for k in (0, 1))
            a = tf.constant(_encode(a[0]), tf.string)
            b = tf.constant(_encode(b[0]), tf.string)
            if self._serve is not None:
                out.append(self._serve(text_a=a, text_b=b)["probabilities"].numpy())
            else:
                raw = np.asarray(self._model({"text_a": a, "text_b": b}, training=False))
                out.append(np.concatenate([1 - raw, raw], axis=1) if self.task == "binary" else raw)
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), "float32")


class Tagger:
    """Tags raw sentences (tokens split on whitespace) from a tagging run folder or its SavedModel.

    A run folder uses its ``saved_model/``, or, without one, ``model.keras`` with
    ``vocabulary.json`` and ``labels.json``.

    Args:
        path: a run folder, its ``saved_model/`` or its ``model.keras``.
        verify: check every exported file against the sha256 sums in the run's
            ``model_card.json`` before loading anything (`textrecipes.export.verify`);
            a `RunFolderError` names a file that differs. Default False.

    Example:
        >>> Tagger("runs/conll_bilstm", verify=True).tag(["-- Dennis Ritchie"])  # doctest: +SKIP
        [[('--', 'O'), ('Dennis', 'B-PER'), ('Ritchie', 'I-PER')]]
    """

    def __init__(self, path: str, verify: bool = False):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise RunFolderError(f"{path}: no such run folder, SavedModel or .keras file")
        if verify:  # before anything is loaded: a SavedModel's graph is code
            verify_exports(path)
        if os.path.isdir(os.path.join(path, "saved_model")):
            path = os.path.join(path, "saved_model")
        self.path = path
        self._serve = self._model = None
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            self.meta = read_json(os.path.join(path, "assets.extra", META_FILE))
            try:
                self._serve = tf.saved_model.load(path).signatures["serving_default"]
            except Exception as e:
                raise RunFolderError(f"{path}: the SavedModel could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
        else:
            folder = path if os.path.isdir(path) else os.path.dirname(path)
            self.meta = read_json(os.path.join(folder, "labels.json"))
            try:
                self._model = keras.saving.load_model(os.path.join(folder, "model.keras"), safe_mode=True)
                self._vocab = Vocabulary.load(os.path.join(folder, "vocabulary.json"))
            except (OSError, ValueError) as e:
                raise RunFolderError(f"{folder}: the tagger could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
        if self.meta.get("format") != "conll" or not isinstance(self.meta.get("labels"), list):
            raise RunFolderError(f"{path}: not a sequence-labelling export (metadata format {self.meta.get('format')!r})")
        self.tags = list(self.meta["labels"])

    def predict_proba(self, sentences: Sequence[str]) -> list[np.ndarray]:
        """One ``(tokens, tags)`` probability array per sentence (one array for one sentence)."""
        sentences, single = as_texts(sentences, "sentences")
        probs = self._tag_probabilities(sentences)
        return probs[0] if single else probs

    def _tag_probabilities(self, sentences: list[str]) -> list[np.ndarray]:
        batch = tf.constant(_encode(sentences), tf.string)
        if self._serve is not None:
            out = self._serve(sentences=batch)
            probs, lengths = out["probabilities"].numpy(), out["lengths"].numpy()
        else:
            lowercase = self.meta["lowercase"]
            tokens = tf.strings.split(batch)
            lengths = tokens.row_lengths().numpy()
            ids = sentence_ids(tokens, token_lookup(self._vocab.tokens), lowercase)
            probs = np.asarray(self._model(ids, training=False))
        return [p[:n] for p, n in zip(probs, lengths)]

    def tag(self, sentences: Sequence[str]) -> list[list[tuple[str, str]]]:
        """``[(token, tag), ...]`` per sentence (one such list for one sentence); tokens split on whitespace as the export splits them."""
        sentences, single = as_texts(sentences, "sentences")
        if not sentences:
            return []
        tokens = tf.strings.split(tf.constant(_encode(sentences), tf.string)).to_list()
        tagged = [list(zip((t.decode("utf-8") for t in row), (self.tags[i] for i in p.argmax(-1))))
                  for row, p in zip(tokens, self._tag_probabilities(sentences))]
        return tagged[0] if single else tagged


def _export_format(path: str):
    """The ``format`` recorded beside an export (``pairs``, ``conll``; a classifier's may be absent), or None."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for meta in (os.path.join(folder, "labels.json"), os.path.join(folder, "saved_model", "assets.extra", META_FILE),
                 os.path.join(folder, "assets.extra", META_FILE), os.path.join(folder, MODEL_CARD)):
        if os.path.exists(meta):
            return read_json(meta).get("format")
    if os.path.exists(os.path.join(folder, "lm.json")):
        raise RunFolderError(f"{path}: a language-model folder (lm.json); it predicts no labels: use it as "
                             "model.init_from in a classification recipe")
    return None


def load_predictor(path, verify: bool = False):
    """The predictor for whatever ``path`` holds: a `Tagger`, a `PairPredictor` or a `Predictor`.

    It reads the metadata beside the model (``labels.json``, the SavedModel's
    ``assets.extra/textrecipes.json`` or ``model_card.json``): ``format = "conll"`` is a
    tagging run, ``"pairs"`` a text-pair run, anything else a text classifier.

    Args:
        path: a run folder, a SavedModel folder, a ``.keras`` file or a ``.tflite`` file.
        verify: check the exported files against the sha256 sums in the run's
            ``model_card.json`` before loading anything (`textrecipes.export.verify`). Default False.

    Returns:
        The loaded predictor.

    Raises:
        RunFolderError: ``path`` is missing, a language-model folder, or its files are broken
            (or, with ``verify``, differ from the card's sums).

    Example:
        >>> p = load_predictor("runs/sentiment_lstm")  # doctest: +SKIP
        >>> p.predict("A moving, beautifully acted film.")  # doctest: +SKIP
        ('fresh', 0.91)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise RunFolderError(f"{path}: no such run folder, SavedModel, .keras or .tflite file")
    fmt = _export_format(path)
    return {"conll": Tagger, "pairs": PairPredictor}.get(fmt, Predictor)(path, verify=verify)
