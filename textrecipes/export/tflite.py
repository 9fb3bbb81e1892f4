"""TFLite export (float32, float16 or dynamic-range int8) and prediction from it.

The TFLite model takes int token ids, not raw strings: the string ops of the
tokenizer need TensorFlow's Flex delegate, which the ``tf.lite.Interpreter`` of
the TensorFlow 2.21 pip wheel does not link ("Select TensorFlow op(s) ... not
supported by this interpreter"). Tokenization therefore runs in front of the
interpreter with the same `TextVectorizer` and vocabulary as training, read from
``vocabulary.json`` and ``model_card.json`` beside the ``.tflite`` file.

The masked (Bi)LSTM converts to TFLite builtins only with a static batch
dimension (the converter's tensor-list lowering needs a static element shape;
with ``batch=None`` it fails with "TensorListReserve ... requires element_shape to
be static"), so the model is exported for one text at a time, ``ids`` of shape
``(1, time)`` with the time dimension free. The hashed-bigram branch converts
as is (only Keras ops).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from textrecipes.text.tokenization import TextVectorizer

QUANTIZE = ("none", "float16", "int8")


def split_end_to_end(e2e: keras.Model) -> tuple:
    """The `TextVectorizer` and the classifier on ids inside an end-to-end model.

    Args:
        e2e: the model from `textrecipes.export.saved_model.end_to_end_model`.

    Returns:
        ``(vectorizer, classifier)``.

    Example:
        >>> vectorizer, classifier = split_end_to_end(result.model)  # doctest: +SKIP
    """
    vectorizers = [layer for layer in e2e.layers if isinstance(layer, TextVectorizer)]
    models = [layer for layer in e2e.layers if isinstance(layer, keras.Model)]
    if len(vectorizers) != 1 or len(models) != 1:
        raise ValueError(f"{e2e.name}: expected one TextVectorizer and one classifier model inside, "
                         f"found {len(vectorizers)} and {len(models)}")
    return vectorizers[0], models[0]


def convert_to_tflite(classifier: keras.Model, quantize: str = "float16") -> bytes:
    """Converts a classifier on int ids to a TFLite flatbuffer.

    Args:
        classifier: the model on ids (as from `build_lstm_classifier`).
        quantize: "none" (float32), "float16" (weights stored as float16) or
            "int8" (dynamic-range quantization: int8 weights, float activations).
            Default "float16".

    Returns:
        The ``.tflite`` bytes; signature ``serving_default``: ``ids`` (int32,
        shape ``(1, time)``) → ``probabilities`` (the model's raw outputs).

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> m = build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=16, ngram_dim=4)
        >>> len(convert_to_tflite(m, "int8")) > 1000
        True
    """
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE}, got {quantize!r}")

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32, name="ids")])
    def serve(ids):
        return {"probabilities": classifier(ids, training=False)}

    tmp = tempfile.mkdtemp(prefix="textrecipes_tflite_")
    try:
        # Through a SavedModel so the converter freezes the weights into the flatbuffer.
        archive = keras.export.ExportArchive()
        archive.track(classifier)
        archive.add_endpoint("serving_default", serve)
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export_tflite(e2e: keras.Model, path: str, *, quantize: str = "float16", overwrite: bool = False) -> int:
    """Writes the classifier of an end-to-end model as a ``.tflite`` file.

    The tokenizer stays outside (see the module docstring): keep
    ``vocabulary.json`` and ``model_card.json`` beside the file, as the runner does.

    Args:
        e2e: the end-to-end model (`textrecipes.export.saved_model.end_to_end_model`).
        path: the ``.tflite`` file to write.
        quantize: "none", "float16" (default) or "int8".
        overwrite: replace an existing file. Default False.

    Returns:
        The file size in bytes.

    Raises:
        FileExistsError: when ``path`` exists and ``overwrite`` is False.

    Example:
        >>> export_tflite(result.model, "runs/demo/model.tflite", quantize="int8")  # doctest: +SKIP
        9012345
    """
    if not str(path).endswith(".tflite"):
        raise ValueError(f"{path}: a TFLite export path must end in .tflite")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"export path {path} already exists; choose another path or pass overwrite=True")
    _, classifier = split_end_to_end(e2e)
    data = convert_to_tflite(classifier, quantize)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def verify_tflite(path: str) -> None:
    """Checks that a ``.tflite`` file is a whole TFLite flatbuffer before the interpreter maps it.

    Why our own: `tf.lite.Interpreter` builds from the file without the
    flatbuffer verifier, so a truncated file can crash the process (a
    segmentation fault seen in the test suite) instead of raising.

    Args:
        path: the ``.tflite`` file.

    Raises:
        ValueError: naming the file, when it is not a TFLite model or is cut short.

    Example:
        >>> verify_tflite("runs/demo/model.tflite")  # doctest: +SKIP
    """
    import struct

    from tensorflow.lite.python import schema_py_generated as schema

    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError(f"{path}: not a TFLite file (no TFL3 identifier)")
    try:
        model = schema.Model.GetRootAsModel(buf, 0)
        for i in range(model.BuffersLength()):
            b = model.Buffers(i)
            if b.Offset() and b.Offset() + b.Size() > len(buf):
                raise IndexError("a weight buffer lies past the end of the file")
            if b.DataLength():
                b.DataAsNumpy()  # a view over the file's bytes; raises when they are missing
        # Every table and string the interpreter reads, not only the weights: the flatbuffer is
        # built back to front, so the file's last bytes hold small objects (operator codes,
        # metadata and signature names); a cut of 100 bytes went unseen on the auto model.
        model.Description()
        for i in range(model.OperatorCodesLength()):
            code = model.OperatorCodes(i)
            code.BuiltinCode(), code.DeprecatedBuiltinCode(), code.CustomCode(), code.Version()
        for i in range(model.MetadataLength()):
            model.Metadata(i).Name(), model.Metadata(i).Buffer()
        for i in range(model.SignatureDefsLength()):
            sig = model.SignatureDefs(i)
            sig.SignatureKey(), sig.SubgraphIndex()
            for j in range(sig.InputsLength()):
                sig.Inputs(j).Name(), sig.Inputs(j).TensorIndex()
            for j in range(sig.OutputsLength()):
                sig.Outputs(j).Name(), sig.Outputs(j).TensorIndex()
        for g in range(model.SubgraphsLength()):
            graph = model.Subgraphs(g)
            graph.Name(), graph.InputsAsNumpy(), graph.OutputsAsNumpy()
            for t in range(graph.TensorsLength()):
                tensor = graph.Tensors(t)
                tensor.Name(), tensor.ShapeAsNumpy(), tensor.Type(), tensor.Buffer()
            for o in range(graph.OperatorsLength()):
                op = graph.Operators(o)
                op.InputsAsNumpy(), op.OutputsAsNumpy(), op.OpcodeIndex()
    except (struct.error, IndexError, ValueError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: truncated or corrupted TFLite file ({e})") from None


class TFLiteClassifier:
    """Runs a ``.tflite`` export on raw texts: tokenizes in front, one text per call.

    Args:
        path: the ``.tflite`` file.
        vectorizer: the `TextVectorizer` built from the run's vocabulary and
            tokenizer settings.
        task: "binary", "multiclass" or "multilabel".

    Example:
        >>> clf = TFLiteClassifier("runs/demo/model.tflite", vectorizer, "binary")  # doctest: +SKIP
        >>> clf.predict_proba(["a fine film"]).shape  # doctest: +SKIP
        (1, 2)
    """

    def __init__(self, path: str, vectorizer: TextVectorizer, task: str):
        import warnings

        verify_tflite(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            self._interpreter = tf.lite.Interpreter(model_path=path)
        self._runner = self._interpreter.get_signature_runner("serving_default")
        self.vectorizer = vectorizer
        self._vectorize = tf.function(vectorizer, input_signature=[tf.TensorSpec([None], tf.string)])
        self.task = task

    def predict_proba(self, texts: Sequence[bytes]) -> np.ndarray:
        """Probabilities, one column per label (two for binary).

        Args:
            texts: UTF-8 encoded texts (already segmented for jieba).

        Example:
            >>> clf.predict_proba([b"a fine film"])  # doctest: +SKIP
            array([[0.08, 0.92]], dtype=float32)
        """
        out = []
        for start in range(0, len(texts), 256):
            # Vectorize a chunk at once, then run each row without its right padding.
            ids = self._vectorize(tf.constant(list(texts[start:start + 256]), dtype=tf.string)).numpy().astype("int32")
            ids = np.pad(ids, [(0, 0), (0, max(0, 2 - ids.shape[1]))])
            for row in ids:
                # At least two columns: with one, the bigram branch pools over an empty
                # sequence, which TFLite and Keras resolve differently (seen on empty texts).
                length = max(int(np.count_nonzero(row)), 2)
                out.append(self._runner(ids=row[None, :length])["probabilities"][0])
        raw = np.asarray(out, dtype="float32").reshape(len(out), -1)
        return np.concatenate([1 - raw, raw], axis=1) if self.task == "binary" else raw
