"""Text pairs: ``text_a<TAB>text_b<TAB>label`` → a shared encoder → a classifier head.

The data flow of a pair run, top to bottom: `read_pairs` (the label last) →
one vocabulary over both columns → one `TextVectorizer` for both texts in
`tf.data` → one encoder (`models.encode_tokens`: Embedding(mask_zero) → BiLSTM
→ masked pooling) applied to each text, giving ``u`` and ``v`` → the
InferSent combination ``[u, v, |u − v|, u * v]`` → Dropout → output layer →
fit with the recipe's schedule and callbacks → evaluation → a SavedModel whose
``serving_default`` takes two raw-string inputs, ``text_a`` and ``text_b``, and
returns ``probabilities``, ``label`` and ``score`` → ``model_card.json``,
``metrics.json`` and ``report.md``/``report.html``, as for a classifier run.

With ``model.match_features`` (default "tokens") the model also sees word overlap:
each token's embedding gets a flag "this token occurs in the other text" (DrQA's
exact-match feature); "pooled" or "both" also give the head the share of each
text found in the other.
"""

from __future__ import annotations

import math
import os
import time
from typing import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from textrecipes.training import distribute, schedules
from textrecipes.evaluation.metrics import evaluate_predictions, format_metrics, probabilities_per_label
from textrecipes.export.saved_model import Predictor, label_outputs, write_export_meta
from textrecipes.models.classifiers import POOLINGS, encode_tokens, loss_for, output_layer
from textrecipes.text.pipeline import encode_labels
from textrecipes.recipe.loading import RecipeError
from textrecipes.evaluation.report import pair_texts, write_report
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, _encode, presegment, tokenize, tokenize_tf

EXPORT_TOLERANCE = 1e-5
INPUTS = ("text_a", "text_b")
# Lexical overlap signals (DrQA's exact-match feature, Chen et al. 2017): "tokens" appends to
# each token's embedding a 0/1 flag "this token occurs in the other text"; "pooled" adds to the
# head the fraction of each text's tokens found in the other, plain and weighted by a learned
# per-id weight (a learned IDF); "both" does both. Tokens are compared by `TokenKeys` (a hash
# of the token string), not by id: unknown words all share the OOV id, yet a name unseen in
# training that occurs in both texts is the strongest sign they belong together.
MATCH_FEATURES = ("none", "tokens", "pooled", "both")
KEY_BUCKETS = 2**30  # token keys are 1..2**30 (0 pads); a collision is a one-in-a-billion event


@keras.saving.register_keras_serializable(package="textrecipes")
class TokenKeys(keras.layers.Layer):
    """Raw strings → one int32 key per token (a hash of the token string), aligned with `TextVectorizer`'s ids.

    The same tokenization, lowercasing, truncation and padding as the
    vectorizer (0 pads; an empty text gives one 0), so key ``i`` belongs to
    id ``i``; two tokens get the same key exactly when they are the same
    string (up to hash collisions, one in 2**30), whether or not they are in
    the vocabulary. A preprocessing layer (TensorFlow string ops), used in
    `tf.data` and in front of the exported model, like the vectorizer.

    Args:
        split: as for `TextVectorizer`. Default "word".
        lowercase: Default True.
        max_length: longest sequence kept. Default 256.
        **kwargs: passed on to `keras.layers.Layer`.

    Example:
        >>> keys = TokenKeys()(tf.constant(["Paris is big", "big paris", ""])).numpy()
        >>> keys[0, 0] == keys[1, 1], keys[0, 2] == keys[1, 0], keys[2].tolist()
        (True, True, [0, 0, 0])
    """

    def __init__(self, split="word", lowercase=True, max_length=256, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        tokenize_tf(tf.constant([""]), split=split)  # checks split
        self.split, self.lowercase, self.max_length = split, lowercase, max_length
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True

    @classmethod
    def like(cls, vectorizer: TextVectorizer, **kwargs) -> "TokenKeys":
        """The keys layer that matches ``vectorizer`` (its split, lowercasing and max_length)."""
        return cls(vectorizer.split, vectorizer.lowercase, vectorizer.max_length, **kwargs)

    def build(self, input_shape):
        self.built = True

    def call(self, texts):
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        if texts.shape.rank == 2:
            texts = tf.squeeze(texts, axis=1)
        tokens = tokenize_tf(texts, split=self.split, lowercase=self.lowercase)[:, : self.max_length]
        keys = tf.ragged.map_flat_values(lambda t: tf.cast(tf.strings.to_hash_bucket_fast(t, KEY_BUCKETS) + 1, tf.int32),
                                         tokens)
        width = tf.cast(tf.maximum(tf.reduce_max(keys.row_lengths()), 1), tf.int32)  # as the vectorizer pads
        dense = keys.to_tensor(0)
        return tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], None), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "split": self.split, "lowercase": self.lowercase, "max_length": self.max_length}


def _found_in(keys, other_keys):
    """True where a token key of ``keys`` also occurs in ``other_keys``; padding (key 0) never matches."""
    ops = keras.ops
    a, b = ops.cast(keys, "int32"), ops.cast(other_keys, "int32")
    same = ops.logical_and(ops.equal(ops.expand_dims(a, 2), ops.expand_dims(b, 1)),
                           ops.expand_dims(b > 0, 1))  # (batch, time_a, time_b)
    return ops.logical_and(ops.any(same, axis=2), a > 0)


@keras.saving.register_keras_serializable(package="textrecipes")
class ExactMatch(layers.Layer):
    """Per token of the first text: 1.0 when it occurs in the second text, else 0.0 (DrQA's exact match).

    Compares `TokenKeys` (token strings after lowercasing and tokenization, in
    the vocabulary or not); the padding key 0 never matches.

    Args:
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> a, b = np.array([[5, 6, 9, 0]]), np.array([[6, 9, 0, 0]])
        >>> ExactMatch()([a, b]).numpy()[..., 0].tolist()
        [[0.0, 1.0, 1.0, 0.0]]
    """

    def call(self, inputs):
        keys, other_keys = inputs
        return keras.ops.expand_dims(keras.ops.cast(_found_in(keys, other_keys), self.compute_dtype), -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][1], 1)


@keras.saving.register_keras_serializable(package="textrecipes")
class MatchSummary(layers.Layer):
    """Pooled overlap of two texts: the fraction of each text's tokens found in the other, plain and weighted.

    Inputs ``[ids_a, ids_b, keys_a, keys_b]`` (token ids and their `TokenKeys`).
    Returns ``[found_a, found_b, weighted_a, weighted_b]`` per pair: ``found_a``
    is the share of text A's tokens (padding excluded) that occur in B; the
    weighted shares weight each token by ``softplus(w[id])``, ``w`` learned
    (initialised to 0, so they start equal to the plain shares) — a learned
    inverse document frequency, as TF-IDF cosine weights rare words up.

    Args:
        vocabulary_size: ids the weight table holds (``len(Vocabulary)``).
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> a, b = np.array([[5, 6, 7, 0]]), np.array([[6, 0, 0, 0]])
        >>> [round(x, 3) for x in MatchSummary(10)([a, b, a, b]).numpy()[0].tolist()]
        [0.333, 1.0, 0.333, 1.0]
    """

    def __init__(self, vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(vocabulary_size, int) or vocabulary_size < 1:
            raise ValueError(f"vocabulary_size must be a positive integer, got {vocabulary_size!r}")
        self.vocabulary_size = vocabulary_size

    def build(self, input_shape):
        self.token_weights = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="token_weights")

    def call(self, inputs):
        ops = keras.ops
        ids_a, ids_b, keys_a, keys_b = (ops.cast(x, "int32") for x in inputs)
        out = []
        for weighted in (False, True):
            for ids, keys, other in ((ids_a, keys_a, keys_b), (ids_b, keys_b, keys_a)):
                real = ops.cast(keys > 0, self.compute_dtype)
                found = ops.cast(_found_in(keys, other), self.compute_dtype)
                if weighted:
                    w = ops.softplus(ops.take(ops.cast(self.token_weights, self.compute_dtype),
                                              ops.clip(ids, 0, self.vocabulary_size - 1), axis=0))
                    found, real = found * w, real * w
                out.append(ops.sum(found, axis=1) / ops.maximum(ops.sum(real, axis=1), 1e-6))
        return ops.stack(out, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 4)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size}


@keras.saving.register_keras_serializable(package="textrecipes")
class PairFeatures(layers.Layer):
    """Combines two sentence vectors as ``[u, v, |u − v|, u * v]`` (InferSent, Conneau et al. 2017).

    Args:
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> u, v = np.array([[1.0, 2.0]], "float32"), np.array([[3.0, 1.0]], "float32")
        >>> PairFeatures()([u, v]).numpy().tolist()
        [[1.0, 2.0, 3.0, 1.0, 2.0, 1.0, 3.0, 2.0]]
    """

    def call(self, inputs):
        u, v = inputs
        ops = keras.ops
        return ops.concatenate([u, v, ops.abs(u - v), u * v], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][-1] * 4)


def build_pair_classifier(
    vocabulary_size: int,
    num_labels: int,
    *,
    task: str = "binary",
    embedding_dim: int = 128,
    units: int = 128,
    bidirectional: bool = True,
    pooling: str = "mean_max",
    dropout: float = 0.5,
    embedding_dropout: float = 0.2,
    token_dropout: float = 0.2,
    l1: float = 0.0,
    l2: float = 0.0,
    match_features: str = "tokens",
    seed: int = 0,
    name: str = "pair_classifier",
    **ignored,
) -> keras.Model:
    """Builds the pair model: one shared encoder for both texts, then ``[u, v, |u−v|, u*v]`` → Dropout → Dense.

    With ``match_features`` (on by default) the encoder also reads, for each
    token, whether it occurs in the other text (`ExactMatch`), and/or the head
    also sees how much of each text the other covers (`MatchSummary`): word
    overlap, which ``[u, v, |u−v|, u*v]`` alone cannot see exactly.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        num_labels: number of labels (2 for binary).
        task: "binary" (default) or "multiclass".
        embedding_dim: embedding size. Default 128.
        units: LSTM units per direction. Default 128.
        bidirectional: Default True.
        pooling: "last", "max" or "mean_max" (default): how a text becomes a vector.
        dropout: dropout before the head. Default 0.5.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: word dropout. Default 0.2.
        l1: L1 penalty on the LSTM and head kernels. Default 0.
        l2: L2 penalty on the LSTM and head kernels. Default 0.
        match_features: lexical overlap signals, one of `MATCH_FEATURES`: "none",
            "tokens" (exact-match flag per token into the encoder), "pooled"
            (overlap shares into the head) or "both". Default "tokens", the best of the four
            on validation in benchmarks/results/pairs_tagging.md.
        seed: seeds initializers and dropout. Default 0.
        name: model name. Default "pair_classifier".
        **ignored: other ``[model]`` keys (``ngram_buckets``, ``ngram_dim``) do not apply to pairs.

    Returns:
        An uncompiled `keras.Model` taking ``{"ids_a": ids, "ids_b": ids}``, and with
        match features also ``"keys_a"``, ``"keys_b"`` (`TokenKeys` of each text).

    Example:
        >>> model = build_pair_classifier(100, 2, embedding_dim=8, units=4)
        >>> model.output_shape
        (None, 1)
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if task not in ("binary", "multiclass"):
        raise ValueError(f"a pair model is 'binary' or 'multiclass', got task {task!r}")
    if match_features not in MATCH_FEATURES:
        raise ValueError(f"match_features must be one of {MATCH_FEATURES}, got {match_features!r}")
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    options = dict(embedding_dim=embedding_dim, units=units, bidirectional=bidirectional, pooling=pooling,
                   embedding_dropout=embedding_dropout, token_dropout=token_dropout, regularizer=regularizer, seed=seed)
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("ids_a", "ids_b") + (("keys_a", "keys_b") if match_features != "none" else ())}
    ids_a, ids_b = inputs["ids_a"], inputs["ids_b"]
    if match_features in ("tokens", "both"):  # the encoder reads a text and, for its flags, both texts' keys
        keys, other = (keras.Input(shape=(None,), dtype="int32", name=n) for n in ("keys", "other_keys"))
        flags = ExactMatch(name="exact_match")([keys, other])
        encoder = keras.Model([ids, keys, other], encode_tokens(ids, vocabulary_size, features=flags, **options),
                              name="encoder")
        u = encoder([ids_a, inputs["keys_a"], inputs["keys_b"]])
        v = encoder([ids_b, inputs["keys_b"], inputs["keys_a"]])
    else:
        encoder = keras.Model(ids, encode_tokens(ids, vocabulary_size, **options), name="encoder")
        u, v = encoder(ids_a), encoder(ids_b)
    x = PairFeatures(name="pair_features")([u, v])
    if match_features in ("pooled", "both"):
        summary = MatchSummary(vocabulary_size, name="match_summary")([ids_a, ids_b, inputs["keys_a"], inputs["keys_b"]])
        x = layers.Concatenate(name="with_match_summary")([x, summary])
    x = layers.Dropout(dropout, seed=seed + 5, name="dropout")(x)
    outputs = output_layer(task, num_labels, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 6),
                           kernel_regularizer=regularizer)(x)
    return keras.Model(inputs, outputs, name=name)


def end_to_end_pair_model(vectorizer: TextVectorizer, model: keras.Model) -> keras.Model:
    """Puts the one vectorizer in front of both inputs: ``{"text_a", "text_b"}`` raw strings → probabilities.

    Args:
        vectorizer: the `TextVectorizer` shared by both texts.
        model: the pair model (`build_pair_classifier`).

    Returns:
        A `keras.Model` named "pair_classifier_e2e".

    Example:
        >>> v = TextVectorizer(["good", "film"])
        >>> m = end_to_end_pair_model(v, build_pair_classifier(4, 2, embedding_dim=8, units=4))
        >>> m.predict({"text_a": np.array(["good"], object), "text_b": np.array(["film"], object)}, verbose=0).shape
        (1, 1)
    """
    a = keras.Input(shape=(), dtype="string", name="text_a")
    b = keras.Input(shape=(), dtype="string", name="text_b")
    features = {"ids_a": vectorizer(a), "ids_b": vectorizer(b)}
    if _needs_keys(model):
        keys = TokenKeys.like(vectorizer, name="token_keys")
        features.update(keys_a=keys(a), keys_b=keys(b))
    return keras.Model({"text_a": a, "text_b": b}, model(features), name="pair_classifier_e2e")


def _needs_keys(model: keras.Model) -> bool:
    """Whether a pair model takes `TokenKeys` inputs (it does with match features)."""
    return isinstance(model.input, dict) and "keys_a" in model.input


def make_pair_dataset(texts_a: Sequence[str], texts_b: Sequence[str], targets, vectorizer: TextVectorizer, *,
                      batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                      keys: TokenKeys | None = None) -> tf.data.Dataset:
    """Batches of ``({"ids_a", "ids_b"}, targets)``, both texts vectorized in the pipeline.

    Args:
        texts_a: first texts.
        texts_b: second texts, as many.
        targets: encoded labels, or None for prediction.
        vectorizer: the shared `TextVectorizer`.
        batch_size: Default 32.
        shuffle: reshuffle every epoch, seeded. Default False.
        seed: shuffle seed. Default 0.
        keys: a `TokenKeys` layer: the batches then also hold ``"keys_a"`` and
            ``"keys_b"`` (for a model with match features). Default None.

    Returns:
        A prefetched `tf.data.Dataset`.

    Example:
        >>> v = TextVectorizer(["good", "bad"])
        >>> ds = make_pair_dataset(["good"], ["bad film"], np.array([1]), v)
        >>> [x["ids_b"].shape for x, y in ds]
        [TensorShape([1, 2])]
    """
    if len(texts_a) != len(texts_b):
        raise ValueError(f"texts_a and texts_b differ in length: {len(texts_a)} vs {len(texts_b)}")
    texts = (tf.constant(list(texts_a), tf.string), tf.constant(list(texts_b), tf.string))
    data = tf.data.Dataset.from_tensor_slices((texts,) if targets is None else (texts, targets))
    if shuffle:
        data = data.shuffle(len(texts_a), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)

    def vectorize(pair, *y):
        ids = {"ids_a": vectorizer(pair[0]), "ids_b": vectorizer(pair[1])}
        if keys is not None:
            ids.update(keys_a=keys(pair[0]), keys_b=keys(pair[1]))
        return (ids, *y) if y else ids

    return data.map(vectorize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def export_pair_model(e2e: keras.Model, path: str, *, labels: Sequence[str], task: str, meta: dict) -> None:
    """Writes a SavedModel whose ``serving_default`` takes ``text_a`` and ``text_b`` (1-D strings).

    Outputs ``probabilities`` (one column per label), ``label`` and ``score``.

    Args:
        e2e: the end-to-end pair model (`end_to_end_pair_model`).
        path: the SavedModel folder; must not exist.
        labels: label names in output order.
        task: "binary" or "multiclass".
        meta: JSON metadata for ``assets.extra/textrecipes.json``.

    Raises:
        FileExistsError: when ``path`` exists.

    Example:
        >>> export_pair_model(e2e, "exports/pairs", labels=["no", "yes"], task="binary", meta={})  # doctest: +SKIP
    """
    if os.path.exists(path):
        raise FileExistsError(f"export path {path} already exists; choose a new one or remove it")
    label_table = tf.constant(list(labels))
    archive = keras.export.ExportArchive()
    archive.track(e2e)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_a"),
                                  tf.TensorSpec([None], tf.string, name="text_b")])
    def serve(text_a, text_b):
        return label_outputs(e2e({"text_a": text_a, "text_b": text_b}, training=False), task, label_table)

    archive.add_endpoint("serving_default", serve)
    archive.write_out(path, verbose=False)
    write_export_meta(path, {**meta, "labels": list(labels), "task": task})


class PairPredictor(Predictor):
    """Predicts labels for ``(text_a, text_b)`` pairs from a pairs run folder, SavedModel or ``.keras`` file.

    Args:
        path: as for `Predictor`.

    Example:
        >>> p = PairPredictor("runs/pairs_lstm")  # doctest: +SKIP
        >>> p.predict([("What is the capital of France?", "Paris is.")])  # doctest: +SKIP
        [('yes', 0.81)]
    """

    def predict_proba(self, pairs: Sequence[tuple[str, str]], batch_size: int = 256) -> np.ndarray:
        """Probabilities, one column per label, for a list of ``(text_a, text_b)`` pairs."""
        pairs = list(pairs)
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"pairs[{i}] must be a (text_a, text_b) pair, got {pair!r:.80}")
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
    inputs = {name: np.array([p[k] for p in sample], dtype=object) for k, name in enumerate(INPUTS)}
    expected = probabilities_per_label(np.asarray(e2e.predict(inputs, verbose=0, batch_size=256)), task)
    got = PairPredictor(export_path).predict_proba(sample)
    diff = float(np.max(np.abs(expected - got)))
    if diff > EXPORT_TOLERANCE:
        raise AssertionError(f"{export_path}: the reloaded export differs from the Keras model by {diff:.2e} (> {EXPORT_TOLERANCE})")
    return {"pairs": len(sample), "max_abs_diff": diff}


def train_pairs(cfg: Mapping, *, run_dir: str | None = None, overwrite: bool = False, verbose: int = 1):
    """Trains, evaluates and exports a ``data.format = "pairs"`` recipe (called by `runner.train`).

    Args:
        cfg: the resolved recipe (`load_recipe`).
        run_dir: the run folder. Default: the recipe's, else ``runs/<name>``.
        overwrite: replace a finished run. Default False.
        verbose: 0 silent, 1 a line per stage and epoch (default), 2 progress bars.

    Returns:
        A `runner.RunResult` whose ``model`` takes ``{"text_a", "text_b"}`` raw strings.

    Example:
        >>> from textrecipes import train
        >>> result = train("recipes/pairs_lstm.toml", overrides=["train.epochs=1"])  # doctest: +SKIP
        >>> result.metrics["accuracy"] > 0.5  # doctest: +SKIP
        True
    """
    from textrecipes.run import harness as runner

    started = time.time()
    data_cfg, tok_cfg, model_cfg, train_cfg = cfg["data"], cfg["tokenize"], cfg["model"], cfg["train"]
    problems = [f"'data.{key}' does not apply to data.format = 'pairs' ({why})" for key, why in
                (("text_first", "the label is always the last column"), ("multi_label", "one label per pair"))
                if data_cfg[key]]
    if cfg["augment"]["enabled"]:
        problems.append("'augment.enabled' is not supported with data.format = 'pairs' yet")
    if problems:
        raise RecipeError(problems, cfg["name"])
    strategy, run_dir, chief_run_dir = runner.start_run(cfg, run_dir, overwrite)
    seed = cfg["seed"]

    # 1. Records: text_a<TAB>text_b<TAB>label.
    splits, labels = runner.load_splits(data_cfg, seed)
    task = runner.infer_task(model_cfg["task"], labels, False, data_cfg["train"])
    for report in splits.reports:
        runner._log(verbose, report.summary())
    runner._log(verbose, f"pairs, task: {task}; {len(splits.train)} train / {len(splits.validation)} validation / "
                         f"{len(splits.test)} test")

    # 2. One vocabulary over both columns of the training split.
    split_mode = tok_cfg["split"]
    texts = {name: (presegment([r.first for r in getattr(splits, name)], split_mode),
                    presegment([r.second for r in getattr(splits, name)], split_mode))
             for name in ("train", "validation", "test")}
    tokens = tokenize(texts["train"][0] + texts["train"][1], split="word" if split_mode == "jieba" else split_mode,
                      lowercase=tok_cfg["lowercase"])
    vocab = Vocabulary.build(tokens, max_tokens=tok_cfg["max_tokens"], min_freq=tok_cfg["min_freq"])
    # The pair encoder is an RNN alone: it reads at most model.rnn_length tokens of each text.
    max_length = min(tok_cfg["max_length"], cfg["model"]["rnn_length"] or tok_cfg["max_length"])
    vectorizer = TextVectorizer(vocab.tokens, split=split_mode, lowercase=tok_cfg["lowercase"],
                                max_length=max_length, name="vectorizer")
    runner._log(verbose, f"vocabulary: {len(vocab)} ids over both texts")

    # 3. tf.data: both texts vectorized in the pipeline (with match features, their token keys too).
    batch_size = train_cfg["batch_size"] * strategy.num_replicas_in_sync
    targets = {name: encode_labels([r.label for r in getattr(splits, name)], labels, task)
               for name in ("train", "validation", "test")}
    keys = TokenKeys.like(vectorizer, name="token_keys") if model_cfg["match_features"] != "none" else None
    train_ds = make_pair_dataset(*texts["train"], targets["train"], vectorizer, batch_size=batch_size,
                                 shuffle=True, seed=seed, keys=keys)
    eval_ds = {name: make_pair_dataset(*texts[name], targets[name], vectorizer, batch_size=max(batch_size, 256),
                                       keys=keys)
               for name in ("validation", "test") if len(texts[name][0])}

    # 4. The model under the strategy.
    steps_per_epoch = math.ceil(len(splits.train) / batch_size)
    options = {k: v for k, v in model_cfg.items() if k not in ("name", "task")}
    with strategy.scope():
        model = build_pair_classifier(len(vocab), len(labels), task=task, seed=seed, **options)
        schedule = schedules.build_schedule(cfg["schedule"], steps_per_epoch=steps_per_epoch, epochs=train_cfg["epochs"])
        metric = (keras.metrics.SparseCategoricalAccuracy(name="accuracy") if task == "multiclass"
                  else keras.metrics.BinaryAccuracy(name="accuracy"))
        model.compile(optimizer=runner.build_optimizer(cfg["optimizer"], schedule), loss=loss_for(task), metrics=[metric])

    # 5. Fit.
    history = runner.fit_recipe(model, train_ds, eval_ds.get("validation"), cfg, run_dir=run_dir, schedule=schedule,
                                steps_per_epoch=steps_per_epoch, strategy=strategy, verbose=verbose)
    if distribute.is_multi_worker(strategy):
        local = build_pair_classifier(len(vocab), len(labels), task=task, seed=seed, **options)
        local.set_weights(model.get_weights())
        model = local

    # 6. Evaluation.
    reports, probabilities = {}, {}
    for name, ds in eval_ds.items():
        probabilities[name] = probabilities_per_label(model.predict(ds, verbose=0), task)
        reports[name] = evaluate_predictions(targets[name], probabilities[name], labels, task)
    final = reports.get("test") or reports.get("validation") or {}
    if final:
        runner._log(verbose, format_metrics(final, "test" if "test" in reports else "validation"))

    # 7. Export over two raw-string inputs, checked against the Keras model.
    e2e = end_to_end_pair_model(vectorizer, model)
    meta = {"format": "pairs", "labels": labels, "task": task, "split": split_mode, "lowercase": tok_cfg["lowercase"],
            "max_length": max_length, "vocabulary_size": len(vocab), "recipe": cfg["name"],
            "inputs": list(INPUTS)}
    runner.write_run_files(run_dir, cfg, meta, vocab)
    if cfg["export"]["keras"]:
        e2e.save(os.path.join(run_dir, "model.keras"))
    export_check = None
    if cfg["export"]["saved_model"]:
        export_path = os.path.join(run_dir, "saved_model")
        export_pair_model(e2e, export_path, labels=labels, task=task, meta=meta)
        sample = [(r.first, r.second) for r in (splits.test or splits.validation or splits.train)]
        export_check = check_pair_export(e2e, export_path, sample, task)
        runner._log(verbose, f"exported {export_path}; reloaded export agrees with the Keras model "
                             f"(max |diff| {export_check['max_abs_diff']:.2e} on {export_check['pairs']} pairs)")
    # 8. The model card beside the exports, metrics.json and the report (as for a classifier run).
    runner.write_model_card(run_dir, cfg, meta, reports, {"saved_model": export_check,
                                                          "model.keras": {} if cfg["export"]["keras"] else None})
    runner.write_metrics(run_dir, reports, splits, history, started, export_check, format="pairs")
    if final:
        validation = ((pair_texts([(r.first, r.second) for r in splits.validation]), targets["validation"], probabilities["validation"])
                      if "validation" in probabilities else None)
        write_report(run_dir, predictions=validation)
    run_dir = runner.finish_run(run_dir, chief_run_dir)
    return runner.RunResult(run_dir, dict(cfg), final, reports.get("validation") or {}, history, labels, task, e2e)
