"""Export over raw strings: the vectorizer in front of the model, a SavedModel, and its round-trip check.

The exported SavedModel holds the `TextVectorizer` in front of the trained
model, so serving needs nothing but raw strings. Its ``serving_default``
signature takes a 1-D string tensor ``texts`` and returns ``probabilities``
(one column per label), ``label`` (the most probable label's name) and
``score`` (its probability). Metadata travels as JSON (``textrecipes.json`` in
the SavedModel's ``assets.extra``), never as pickle. `check_export` reloads an
export and compares it with the Keras model before a run calls it done.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from textrecipes.data.atomic import atomic_folder
from textrecipes.evaluation.metrics import probabilities_per_label
from textrecipes.export.metadata import write_export_meta
from textrecipes.export.predictors import PairPredictor, Predictor, Tagger
from textrecipes.models.pairs import PAIR_INPUTS
from textrecipes.text.pipeline import sentence_ids, token_lookup
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, _encode, presegment

EXPORT_TOLERANCE = 1e-5
# TFLite: on the default model (benchmarks/results/exports.md) float16 weights moved test
# probabilities by at most 1.2e-4 and dynamic-range int8 by 2.4e-3; the limits leave ~8-20x room.
TFLITE_TOLERANCE = {"none": 1e-5, "float16": 1e-3, "int8": 0.05}


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


def write_saved_model(path: str, model: keras.Model, serve, input_signature: list, meta: dict,
                      overwrite: bool = False, track: Sequence = ()) -> None:
    """Writes ``model`` as a SavedModel whose ``serving_default`` is ``serve``, with its JSON metadata, atomically.

    The folder is written beside ``path`` and renamed into place when complete,
    so a kill mid-export never leaves a half-written SavedModel under ``path``.

    Args:
        path: the SavedModel folder.
        model: the Keras model the endpoint calls (tracked, so its variables are saved).
        serve: the endpoint: tensors in (as ``input_signature``), a dict of output tensors out.
        input_signature: `tf.TensorSpec` of each input, named.
        meta: JSON metadata written to ``assets.extra/textrecipes.json``.
        overwrite: replace an existing folder. Default False.
        track: more layers the endpoint uses (a lookup table, say). Default none.

    Raises:
        FileExistsError: when ``path`` already exists and ``overwrite`` is False.

    Example:
        >>> write_saved_model("exports/x", e2e, lambda t: {"p": e2e(t)}, [tf.TensorSpec([None], tf.string)], {})  # doctest: +SKIP
    """
    archive = keras.export.ExportArchive()
    for tracked in (model, *track):
        archive.track(tracked)
    archive.add_endpoint("serving_default", tf.function(serve, input_signature=input_signature))
    with atomic_folder(path, overwrite=overwrite) as folder:
        archive.write_out(folder, verbose=False)
        write_export_meta(folder, meta)


def export_saved_model(e2e: keras.Model, path: str, *, labels: Sequence[str], task: str, meta: dict,
                       overwrite: bool = False) -> None:
    """Writes a SavedModel whose ``serving_default`` maps raw strings to labels.

    Args:
        e2e: the end-to-end model (`end_to_end_model`).
        path: the SavedModel folder.
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
    label_table = tf.constant(list(labels))

    def serve(texts):
        return label_outputs(e2e(texts, training=False), task, label_table)

    write_saved_model(path, e2e, serve, [tf.TensorSpec([None], tf.string, name="texts")],
                      {**meta, "labels": list(labels), "task": task}, overwrite=overwrite)


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


def compare_outputs(expected, got, export_path: str, tolerance: float = EXPORT_TOLERANCE) -> float:
    """The largest difference between the Keras model's outputs and the reloaded export's; raises beyond ``tolerance``.

    A non-finite value on either side fails the check: a NaN model is never called agreeing.

    Args:
        expected: the Keras model's outputs (an array, or a list of arrays of any shapes).
        got: the export's, alike.
        export_path: the export, named in the error.
        tolerance: the largest difference allowed. Default 1e-5.

    Returns:
        The largest absolute difference.

    Raises:
        AssertionError: for a difference above ``tolerance`` or a non-finite output.

    Example:
        >>> compare_outputs(np.array([[0.2, 0.8]]), np.array([[0.2, 0.8]]), "x")
        0.0
    """
    pairs = list(zip(expected, got)) if isinstance(expected, list) else [(expected, got)]
    diff = 0.0
    for a, b in pairs:
        a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
        if a.shape != b.shape:
            raise AssertionError(f"{export_path}: the reloaded export gives outputs of shape {b.shape}, "
                                 f"the Keras model {a.shape}")
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise AssertionError(f"{export_path}: the model gives non-finite outputs (NaN or inf); "
                                 "nothing trustworthy can be exported")
        if a.size:
            diff = max(diff, float(np.max(np.abs(a - b))))
    if diff > tolerance:
        raise AssertionError(f"{export_path}: the reloaded export differs from the Keras model by {diff:.2e} "
                             f"(> {tolerance})")
    return diff


def check_export(e2e: keras.Model, export_path: str, texts: list, task: str, split: str = "word", limit: int = 512,
                 tolerance: float = EXPORT_TOLERANCE, meta: Mapping | None = None) -> dict:
    """Reloads an export (SavedModel or .tflite) and compares it with the Keras model on raw texts.

    Args:
        e2e: the end-to-end Keras model (`end_to_end_model`).
        export_path: the SavedModel folder written by `export_saved_model`.
        texts: sample texts; the first ``limit`` are used, plus an empty text
            and one of unknown words.
        task: "binary", "multiclass" or "multilabel".
        split: the tokenizer's split mode; with "jieba" the texts are segmented
            before the Keras model sees them. Default "word".
        limit: the most texts taken from ``texts``. Default 512.
        tolerance: the largest probability difference allowed. Default 1e-5.
        meta: for a ``.tflite`` export: its labels, task and tokenizer settings
            (`export_meta`), so that no ``model_card.json`` need exist yet. Default None.

    Returns:
        ``{"texts": number of texts compared, "max_abs_diff": largest difference,
        "label_agreement": fraction of texts given the same label}``.

    Raises:
        AssertionError: when any probability differs by more than ``tolerance``.

    Example:
        >>> check_export(result.model, "runs/demo/saved_model", ["a fine film"], "binary")  # doctest: +SKIP
        {'texts': 3, 'max_abs_diff': 0.0, 'label_agreement': 1.0}
    """
    sample = list(texts[:limit]) + ["", "zzzz qqqq unknown words"]
    segmented = np.array(presegment(sample, split), dtype=object)
    expected = probabilities_per_label(np.asarray(e2e.predict(segmented, verbose=0, batch_size=256)), task)

    got = Predictor(export_path, meta=None if meta is None else dict(meta)).predict_proba(sample)
    diff = compare_outputs(expected, got, export_path, tolerance)
    # Labels are compared and recorded; with every probability within ``tolerance`` a label can
    # only change on a near tie (top-two margin below 2 x tolerance; int8 flipped 1 of 1,276
    # test texts in benchmarks/results/exports.md).
    if task == "multilabel":
        same = ((expected >= 0.5) == (got >= 0.5)).all(axis=1)
    else:
        same = expected.argmax(axis=1) == got.argmax(axis=1)
    return {"texts": len(sample), "max_abs_diff": diff, "label_agreement": float(same.mean())}


def export_pair_model(e2e: keras.Model, path: str, *, labels: Sequence[str], task: str, meta: dict,
                      overwrite: bool = False) -> None:
    """Writes a SavedModel whose ``serving_default`` takes ``text_a`` and ``text_b`` (1-D strings).

    Outputs ``probabilities`` (one column per label), ``label`` and ``score``.

    Args:
        e2e: the end-to-end pair model (`end_to_end_pair_model`).
        path: the SavedModel folder; must not exist.
        labels: label names in output order.
        task: "binary" or "multiclass".
        meta: JSON metadata for ``assets.extra/textrecipes.json``.
        overwrite: replace an existing folder. Default False.

    Raises:
        FileExistsError: when ``path`` exists and ``overwrite`` is False.

    Example:
        >>> export_pair_model(e2e, "exports/pairs", labels=["no", "yes"], task="binary", meta={})  # doctest: +SKIP
    """
    label_table = tf.constant(list(labels))

    def serve(text_a, text_b):
        return label_outputs(e2e({"text_a": text_a, "text_b": text_b}, training=False), task, label_table)

    write_saved_model(path, e2e, serve, [tf.TensorSpec([None], tf.string, name=name) for name in PAIR_INPUTS],
                      {**meta, "labels": list(labels), "task": task}, overwrite=overwrite)


def check_pair_export(e2e: keras.Model, export_path: str, pairs: Sequence[tuple[str, str]], task: str,
                      limit: int = 512) -> dict:
    """Reloads the pair SavedModel and compares it with the Keras model on raw pairs (≤ 1e-5).

    Args:
        e2e: the end-to-end pair model.
        export_path: the SavedModel folder.
        pairs: sample pairs; the first ``limit`` are used, plus an empty and an unknown-word pair.
        task: "binary" or "multiclass".
        limit: Default 512.

    Returns:
        ``{"pairs": number compared, "max_abs_diff": largest difference}``.

    Raises:
        AssertionError: when a probability differs by more than 1e-5.

    Example:
        >>> check_pair_export(e2e, "runs/pairs/saved_model", [("a", "b")], "binary")  # doctest: +SKIP
        {'pairs': 3, 'max_abs_diff': 0.0}
    """
    sample = [tuple(p) for p in pairs[:limit]] + [("", ""), ("zzzz qqqq", "unknown words")]
    inputs = {name: np.array([p[k] for p in sample], dtype=object) for k, name in enumerate(PAIR_INPUTS)}

    expected = probabilities_per_label(np.asarray(e2e.predict(inputs, verbose=0, batch_size=256)), task)
    diff = compare_outputs(expected, PairPredictor(export_path).predict_proba(sample), export_path)
    return {"pairs": len(sample), "max_abs_diff": diff}


def export_tagger(model: keras.Model, path: str, *, vocabulary: Sequence[str], tags: Sequence[str], lowercase: bool,
                  meta: dict, overwrite: bool = False) -> None:
    """Writes a SavedModel whose ``serving_default`` tags raw whitespace-tokenized sentences.

    Input ``sentences`` (1-D strings); outputs ``tags`` (padded with ``""``),
    ``lengths`` and ``probabilities`` (see the module docstring).

    Args:
        model: the tagger on ids (`build_tagger`).
        path: the SavedModel folder; must not exist.
        vocabulary: the `Vocabulary` tokens.
        tags: tag names in output order.
        lowercase: lowercase tokens before the lookup (as in training).
        meta: JSON metadata for ``assets.extra/textrecipes.json``.
        overwrite: replace an existing folder. Default False.

    Raises:
        FileExistsError: when ``path`` exists and ``overwrite`` is False.

    Example:
        >>> export_tagger(model, "exports/tagger", vocabulary=vocab.tokens, tags=["O", "B-PER"],
        ...               lowercase=False, meta={})  # doctest: +SKIP
    """
    lookup = token_lookup(vocabulary)
    lookup(tf.constant([""]))  # builds the table; ExportArchive tracks built layers only
    tag_table = tf.constant(list(tags))

    def serve(sentences):
        tokens = tf.strings.split(sentences)  # whitespace, as in the CoNLL file
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        probs = model(sentence_ids(tokens, lookup, lowercase), training=False)
        valid = tf.sequence_mask(lengths, tf.shape(probs)[1])
        names = tf.where(valid, tf.gather(tag_table, tf.argmax(probs, axis=-1)), "")
        probs = probs * tf.cast(valid, probs.dtype)[:, :, None]
        return {"tags": names, "lengths": lengths, "probabilities": probs}

    write_saved_model(path, model, serve, [tf.TensorSpec([None], tf.string, name="sentences")],
                      {**meta, "labels": list(tags)}, overwrite=overwrite, track=(lookup,))


def check_tagger_export(model: keras.Model, export_path: str, sentences: Sequence[Sequence[str]], vocab: Vocabulary,
                        lowercase: bool, limit: int = 512) -> dict:
    """Compares the reloaded SavedModel with the Keras model on fixed sentences (probabilities within 1e-5).

    The reference ids are looked up in Python (`Vocabulary.ids`) one sentence at
    a time, so the check also covers the export's own tokenization, padding and
    masking.

    Args:
        model: the tagger on ids.
        export_path: the SavedModel folder.
        sentences: token lists; the first ``limit`` are used, plus one of unknown words.
        vocab: the `Vocabulary`.
        lowercase: as in training.
        limit: Default 512.

    Returns:
        ``{"sentences": compared, "max_abs_diff": largest difference, "tags_equal": True}``.

    Raises:
        AssertionError: when a probability differs by more than 1e-5 or a tag differs.

    Example:
        >>> check_tagger_export(model, "runs/tagger/saved_model", [["a", "b"]], vocab, False)  # doctest: +SKIP
        {'sentences': 2, 'max_abs_diff': 0.0, 'tags_equal': True}
    """
    sample = [list(s) for s in sentences[:limit]] + [["zzzz", "qqqq"]]
    got = Tagger(export_path).predict_proba([" ".join(s) for s in sample])
    expected = []
    for tokens, probs in zip(sample, got):
        norm = tf.strings.lower(tokens, encoding="utf-8").numpy() if lowercase else _encode(tokens)
        ids = np.array([vocab.ids([t.decode("utf-8") for t in norm])], "int32")
        expected.append(np.asarray(model(ids, training=False))[0])
        if expected[-1].shape != probs.shape or (expected[-1].argmax(-1) != probs.argmax(-1)).any():
            raise AssertionError(f"{export_path}: the export tags {' '.join(tokens)[:80]!r} differently from the Keras model")
    diff = compare_outputs(expected, got, export_path)
    return {"sentences": len(sample), "max_abs_diff": diff, "tags_equal": True}
