"""Sequence labelling (CoNLL ``token tag``): Embedding → BiLSTM → a softmax per token.

The data flow of a tagging run, top to bottom: `read_conll` → a token
`Vocabulary` over the training sentences and the tag set from the training
file → `tf.data` batches of right-padded ids, tag ids and a 0/1 weight per
position (padding never counts in the loss or the metrics) → the tagger
(`models.encode_tokens` with ``pooling=None``, then a per-token Dense softmax)
→ fit with the recipe's schedule and callbacks → token accuracy and macro-F1
(scikit-learn) and entity precision/recall/F1 over IOB2 spans, overall and per
entity type → a SavedModel over raw sentences → ``model_card.json``,
``metrics.json`` and ``report.md``/``report.html``, as for a classifier run.

The export's ``serving_default`` takes ``sentences``, a 1-D string tensor;
tokens are what `tf.strings.split` finds between whitespace (inside the serving
function, not in a Keras layer). It returns ``tags`` (``(batch, longest)``
strings, ``""`` past each sentence's end), ``lengths`` (tokens per sentence)
and ``probabilities`` (``(batch, longest, tags)``). ``tokenize.max_length`` (or
``model.rnn_length``, the smaller) only truncates training sentences; the export tags every token.
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
from textrecipes.models.classifiers import encode_tokens
from textrecipes.text.tokenization import OOV_ID, OOV_TOKEN, Vocabulary, _encode

EXPORT_TOLERANCE = 1e-5


# ---------------------------------------------------------------------------
# Entity spans and scores. Why our own: seqeval is not installed (and not a
# dependency); conlleval's IOB2 rules fit in a dozen lines.


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans ``(type, start, end)`` (end exclusive) in an IOB2/BIO tag sequence, conlleval rules.

    ``B-X`` starts an entity; ``I-X`` continues one of type X, and starts a new
    one after ``O``, after another type or at the start (an ``I-`` without a
    ``B-``); ``O`` ends it. A tag without a prefix (``X``) counts as ``I-X``.

    Args:
        tags: one tag per token.

    Returns:
        The spans in order.

    Example:
        >>> entity_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
        [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5)]
    """
    spans = []
    kind, start = None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, name = tag.partition("-") if tag[:2] in ("B-", "I-") else ("I", "-", tag)
        if tag == "O" or prefix == "B" or name != kind:
            if kind is not None:
                spans.append((kind, start, i))
            kind, start = (None, i) if tag == "O" else (name, i)
    return spans


def entity_scores(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
    """Entity-level precision, recall and F1 (exact span and type), overall (micro) and per type.

    Args:
        true_tags: the gold tag sequences.
        pred_tags: the predicted tag sequences, each as long as its gold one.

    Returns:
        ``{"precision", "recall", "f1", "true_entities", "predicted_entities",
        "per_type": {type: {"precision", "recall", "f1", "support"}}}``.

    Raises:
        ValueError: when a predicted sequence's length differs from its gold one.

    Example:
        >>> s = entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
        >>> s["precision"], s["recall"], s["f1"]
        (0.0, 0.0, 0.0)
    """
    true_set, pred_set = set(), set()
    for n, (t, p) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"sentence {n}: {len(t)} gold tags but {len(p)} predicted")
        true_set.update((n, *s) for s in entity_spans(t))
        pred_set.update((n, *s) for s in entity_spans(p))

    def prf(gold, pred):
        hit = len(gold & pred)
        precision = hit / len(pred) if pred else 0.0
        recall = hit / len(gold) if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    precision, recall, f1 = prf(true_set, pred_set)
    per_type = {}
    for kind in sorted({s[1] for s in true_set | pred_set}):
        gold = {s for s in true_set if s[1] == kind}
        p, r, f = prf(gold, {s for s in pred_set if s[1] == kind})
        per_type[kind] = {"precision": p, "recall": r, "f1": f, "support": len(gold)}
    return {"precision": precision, "recall": recall, "f1": f1, "true_entities": len(true_set),
            "predicted_entities": len(pred_set), "per_type": per_type}


def evaluate_tagging(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], tag_names: Sequence[str]) -> dict:
    """Token accuracy and macro-F1 (scikit-learn, real tokens only) and the entity scores.

    Args:
        true_tags: gold tag sequences.
        pred_tags: predicted tag sequences.
        tag_names: the tag set (the columns of the per-tag report).

    Returns:
        A JSON-ready dict: ``accuracy``, ``macro_f1``, ``per_tag``, ``token_per_type``
        (token-level precision/recall/F1 of each entity type, ``B-``/``I-`` merged),
        ``entity`` (`entity_scores`), ``sentences`` and ``tokens``.

    Example:
        >>> m = evaluate_tagging([["B-PER", "O"]], [["B-PER", "O"]], ["B-PER", "O"])
        >>> m["accuracy"], m["entity"]["f1"], m["token_per_type"]["PER"]["f1-score"]
        (1.0, 1.0, 1.0)
    """
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    flat_true = [t for seq in true_tags for t in seq]
    flat_pred = [t for seq in pred_tags for t in seq]
    names = list(tag_names)
    report = classification_report(flat_true, flat_pred, labels=names, output_dict=True, zero_division=0)
    kind = lambda tag: tag[2:] if tag[:2] in ("B-", "I-") else tag  # noqa: E731
    types = sorted({kind(t) for t in names} - {"O"})
    by_type = classification_report([kind(t) for t in flat_true], [kind(t) for t in flat_pred], labels=types,
                                    output_dict=True, zero_division=0) if types else {}
    return {
        "sentences": len(true_tags), "tokens": len(flat_true),
        "accuracy": float(accuracy_score(flat_true, flat_pred)),
        "macro_f1": float(f1_score(flat_true, flat_pred, labels=names, average="macro", zero_division=0)),
        "per_tag": {n: {k: float(report[n][k]) for k in ("precision", "recall", "f1-score", "support")} for n in names},
        "token_per_type": {n: {k: float(by_type[n][k]) for k in ("precision", "recall", "f1-score", "support")}
                           for n in types},
        "entity": entity_scores(true_tags, pred_tags),
        "labels": names,
    }


# ---------------------------------------------------------------------------
# Tokens → ids, the same TensorFlow ops in tf.data and in the export.


def token_lookup(vocabulary: Sequence[str]) -> keras.layers.StringLookup:
    """The token → id table: 0 pads (the empty string), 1 is OOV, vocabulary ids from 2.

    Args:
        vocabulary: the `Vocabulary` tokens.

    Returns:
        A `keras.layers.StringLookup`.

    Example:
        >>> token_lookup(["a"])(tf.constant(["a", "b", ""])).numpy().tolist()
        [2, 1, 0]
    """
    return keras.layers.StringLookup(vocabulary=list(vocabulary), mask_token="", oov_token=OOV_TOKEN,
                                     num_oov_indices=1, output_mode="int")


def sentence_ids(tokens: tf.RaggedTensor, lookup, lowercase: bool) -> tf.Tensor:
    """Ragged token strings → right-padded int32 ids; an empty sentence gets one OOV id (never fully masked).

    Args:
        tokens: ``(batch, None)`` token strings.
        lookup: the `token_lookup` table.
        lowercase: lowercase (Unicode) before the lookup.

    Returns:
        An int32 tensor ``(batch, max(longest, 1))``.

    Example:
        >>> sentence_ids(tf.ragged.constant([["A", "b"], []]), token_lookup(["a"]), True).numpy().tolist()
        [[2, 1], [1, 0]]
    """
    if lowercase:
        tokens = tf.ragged.map_flat_values(tf.strings.lower, tokens, encoding="utf-8")
    ids = tf.cast(tf.ragged.map_flat_values(lookup, tokens), tf.int32)
    dense = ids.to_tensor(0)
    dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])
    first = tf.where(ids.row_lengths()[:, None] > 0, dense[:, :1], OOV_ID)
    return tf.concat([first, dense[:, 1:]], axis=1)


def make_tagging_dataset(sentences: Sequence[Sequence[str]], tag_ids, lookup, *, lowercase: bool, batch_size: int = 32,
                         shuffle: bool = False, seed: int = 0, max_length: int | None = None) -> tf.data.Dataset:
    """Batches of ``(ids, tag ids, weights)``: right-padded, weight 1 on real tokens and 0 on padding.

    Args:
        sentences: token lists.
        tag_ids: one list of tag ids per sentence.
        lookup: the `token_lookup` table.
        lowercase: lowercase tokens before the lookup.
        batch_size: Default 32.
        shuffle: reshuffle every epoch, seeded. Default False.
        seed: shuffle seed. Default 0.
        max_length: truncate longer sentences (training). Default None.

    Returns:
        A prefetched `tf.data.Dataset`.

    Example:
        >>> ds = make_tagging_dataset([["a", "b"], ["a"]], [[0, 1], [1]], token_lookup(["a"]), lowercase=True)
        >>> [w.numpy().tolist() for x, y, w in ds]
        [[[1.0, 1.0], [1.0, 0.0]]]
    """
    cut = slice(0, max_length)
    tokens = tf.ragged.constant([list(s)[cut] for s in sentences], dtype=tf.string, row_splits_dtype=tf.int64)
    tags = tf.ragged.constant([list(t)[cut] for t in tag_ids], dtype=tf.int32, row_splits_dtype=tf.int64)
    data = tf.data.Dataset.from_tensor_slices((tokens, tags))
    if shuffle:
        data = data.shuffle(len(sentences), seed=seed, reshuffle_each_iteration=True)
    data = data.ragged_batch(batch_size)

    def encode(tok, tg):
        ids = sentence_ids(tok, lookup, lowercase)
        y = tg.to_tensor(0, shape=tf.shape(ids, out_type=tf.int64))
        weights = tf.cast(tf.sequence_mask(tok.row_lengths(), tf.shape(ids)[1]), tf.float32)
        return ids, y, weights

    return data.map(encode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------
# The model.


def build_tagger(vocabulary_size: int, num_tags: int, *, embedding_dim: int = 128, units: int = 128,
                 bidirectional: bool = True, dropout: float = 0.5, embedding_dropout: float = 0.2,
                 token_dropout: float = 0.2, l1: float = 0.0, l2: float = 0.0, seed: int = 0,
                 name: str = "tagger", **ignored) -> keras.Model:
    """Builds Embedding(mask_zero) → (Bi)LSTM(return_sequences) → Dropout → a softmax over tags per token.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        num_tags: the tag set's size.
        embedding_dim: Default 128.
        units: LSTM units per direction. Default 128.
        bidirectional: Default True.
        dropout: dropout before the per-token head. Default 0.5.
        embedding_dropout: spatial dropout on the embeddings. Default 0.2.
        token_dropout: word dropout. Default 0.2.
        l1: L1 penalty on the LSTM and head kernels. Default 0.
        l2: L2 penalty on the LSTM and head kernels. Default 0.
        seed: seeds initializers and dropout. Default 0.
        name: Default "tagger".
        **ignored: ``[model]`` keys of the classifier that do not apply (pooling, n-grams, task).

    Returns:
        An uncompiled `keras.Model`: ids ``(batch, time)`` → ``(batch, time, num_tags)``.

    Example:
        >>> build_tagger(100, 5, embedding_dim=8, units=4).output_shape
        (None, None, 5)
    """
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = encode_tokens(ids, vocabulary_size, embedding_dim=embedding_dim, units=units, bidirectional=bidirectional,
                      pooling=None, embedding_dropout=embedding_dropout, token_dropout=token_dropout,
                      regularizer=regularizer, seed=seed)
    x = layers.Dropout(dropout, seed=seed + 5, name="dropout")(x)
    outputs = layers.Dense(num_tags, activation="softmax", dtype="float32", name="tag_probabilities",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 6),
                           kernel_regularizer=regularizer)(x)
    return keras.Model(ids, outputs, name=name)


# ---------------------------------------------------------------------------
# Export and prediction.


def export_tagger(model: keras.Model, path: str, *, vocabulary: Sequence[str], tags: Sequence[str], lowercase: bool,
                  meta: dict) -> None:
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

    Raises:
        FileExistsError: when ``path`` exists.

    Example:
        >>> export_tagger(model, "exports/tagger", vocabulary=vocab.tokens, tags=["O", "B-PER"],
        ...               lowercase=False, meta={})  # doctest: +SKIP
    """
    from textrecipes.export.saved_model import write_export_meta

    if os.path.exists(path):
        raise FileExistsError(f"export path {path} already exists; choose a new one or remove it")
    lookup = token_lookup(vocabulary)
    lookup(tf.constant([""]))  # builds the table; ExportArchive tracks built layers only
    tag_table = tf.constant(list(tags))
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(lookup)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def serve(sentences):
        tokens = tf.strings.split(sentences)  # whitespace, as in the CoNLL file
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        probs = model(sentence_ids(tokens, lookup, lowercase), training=False)
        valid = tf.sequence_mask(lengths, tf.shape(probs)[1])
        names = tf.where(valid, tf.gather(tag_table, tf.argmax(probs, axis=-1)), "")
        probs = probs * tf.cast(valid, probs.dtype)[:, :, None]
        return {"tags": names, "lengths": lengths, "probabilities": probs}

    archive.add_endpoint("serving_default", serve)
    archive.write_out(path, verbose=False)
    write_export_meta(path, {**meta, "labels": list(tags)})


class Tagger:
    """Tags raw sentences (tokens split on whitespace) from a tagging run folder or its SavedModel.

    A run folder uses its ``saved_model/``, or, without one, ``model.keras`` with
    ``vocabulary.json`` and ``labels.json``.

    Args:
        path: a run folder, its ``saved_model/`` or its ``model.keras``.

    Example:
        >>> Tagger("runs/conll_bilstm").tag(["-- Dennis Ritchie"])  # doctest: +SKIP
        [[('--', 'O'), ('Dennis', 'B-PER'), ('Ritchie', 'I-PER')]]
    """

    def __init__(self, path: str):
        from textrecipes.export.saved_model import META_FILE, RunFolderError, _read_json

        path = os.fspath(path)
        if not os.path.exists(path):
            raise RunFolderError(f"{path}: no such run folder, SavedModel or .keras file")
        if os.path.isdir(os.path.join(path, "saved_model")):
            path = os.path.join(path, "saved_model")
        self.path = path
        self._serve = self._model = None
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            self.meta = _read_json(os.path.join(path, "assets.extra", META_FILE))
            try:
                self._serve = tf.saved_model.load(path).signatures["serving_default"]
            except Exception as e:
                raise RunFolderError(f"{path}: the SavedModel could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
        else:
            folder = path if os.path.isdir(path) else os.path.dirname(path)
            self.meta = _read_json(os.path.join(folder, "labels.json"))
            try:
                self._model = keras.saving.load_model(os.path.join(folder, "model.keras"), safe_mode=True)
                self._vocab = Vocabulary.load(os.path.join(folder, "vocabulary.json"))
            except (OSError, ValueError) as e:
                raise RunFolderError(f"{folder}: the tagger could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
        if self.meta.get("format") != "conll" or not isinstance(self.meta.get("labels"), list):
            raise RunFolderError(f"{path}: not a sequence-labelling export (metadata format {self.meta.get('format')!r})")
        self.tags = list(self.meta["labels"])

    def predict_proba(self, sentences: Sequence[str]) -> list[np.ndarray]:
        """One ``(tokens, tags)`` probability array per sentence."""
        batch = tf.constant(_encode(list(sentences)), tf.string)
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
        """``[(token, tag), ...]`` per sentence; tokens are split on whitespace exactly as the export splits them."""
        if not len(sentences):
            return []
        tokens = tf.strings.split(tf.constant(_encode(list(sentences)), tf.string)).to_list()
        return [list(zip((t.decode("utf-8") for t in row), (self.tags[i] for i in p.argmax(-1))))
                for row, p in zip(tokens, self.predict_proba(sentences))]


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
    diff = 0.0
    for tokens, probs in zip(sample, got):
        norm = [t for t in (tf.strings.lower(tokens, encoding="utf-8").numpy() if lowercase else _encode(tokens))]
        ids = np.array([vocab.ids([t.decode("utf-8") for t in norm])], "int32")
        expected = np.asarray(model(ids, training=False))[0]
        if expected.shape != probs.shape or (expected.argmax(-1) != probs.argmax(-1)).any():
            raise AssertionError(f"{export_path}: the export tags {' '.join(tokens)[:80]!r} differently from the Keras model")
        diff = max(diff, float(np.max(np.abs(expected - probs))))
    if diff > EXPORT_TOLERANCE:
        raise AssertionError(f"{export_path}: the reloaded export differs from the Keras model by {diff:.2e} (> {EXPORT_TOLERANCE})")
    return {"sentences": len(sample), "max_abs_diff": diff, "tags_equal": True}


# ---------------------------------------------------------------------------
# The run.


def predict_tags(model: keras.Model, ds: tf.data.Dataset, tag_names: Sequence[str]) -> list[list[str]]:
    """Predicted tag names per sentence of a `make_tagging_dataset` dataset (padding dropped).

    Args:
        model: the tagger.
        ds: batches of ``(ids, tags, weights)``, unshuffled.
        tag_names: the tag names.

    Returns:
        One list of tag names per sentence.

    Example:
        >>> predict_tags(model, eval_ds, ["O", "B-PER"])  # doctest: +SKIP
    """
    out = []
    for ids, _, weights in ds:
        best = np.asarray(model(ids, training=False)).argmax(-1)  # eager: batch widths differ, no retracing
        for row, n in zip(best, weights.numpy().sum(axis=1).astype(int)):
            out.append([tag_names[i] for i in row[:n]])
    return out


def train_tagger(cfg: Mapping, *, run_dir: str | None = None, overwrite: bool = False, verbose: int = 1):
    """Trains, evaluates and exports a ``data.format = "conll"`` recipe (called by `runner.train`).

    Args:
        cfg: the resolved recipe (`load_recipe`).
        run_dir: the run folder. Default: the recipe's, else ``runs/<name>``.
        overwrite: replace a finished run. Default False.
        verbose: 0 silent, 1 a line per stage and epoch (default), 2 progress bars.

    Returns:
        A `runner.RunResult` with task "tagging" and the tagger on ids as ``model``.

    Example:
        >>> from textrecipes import train
        >>> result = train("recipes/conll_bilstm.toml", overrides=["train.epochs=1"])  # doctest: +SKIP
        >>> result.metrics["entity"]["f1"] > 0  # doctest: +SKIP
        True
    """
    from textrecipes.run import harness as runner

    started = time.time()
    data_cfg, tok_cfg, model_cfg, train_cfg = cfg["data"], cfg["tokenize"], cfg["model"], cfg["train"]
    problems = [f"'data.{key}' does not apply to data.format = 'conll' (token<space>tag lines)"
                for key in ("text_first", "header", "multi_label") if data_cfg[key]]
    if cfg["augment"]["enabled"]:
        problems.append("'augment.enabled' does not apply to data.format = 'conll' (EDA would break token/tag alignment)")
    if problems:
        from textrecipes.recipe.loading import RecipeError

        raise RecipeError(problems, cfg["name"])
    strategy, run_dir, chief_run_dir = runner.start_run(cfg, run_dir, overwrite)
    seed = cfg["seed"]

    # 1. Sentences; the tag set is the training file's (or data.labels).
    splits, tags = runner.load_splits(data_cfg, seed)
    for report in splits.reports:
        runner._log(verbose, report.summary())
    runner._log(verbose, f"tagging: {len(tags)} tags {tags}; {len(splits.train)} train / {len(splits.validation)} "
                         f"validation / {len(splits.test)} test sentences")

    # 2. The token vocabulary (whitespace tokens, as they will be split at serving time).
    lowercase = tok_cfg["lowercase"]
    sentences = {name: [list(r.tokens) for r in getattr(splits, name)] for name in ("train", "validation", "test")}
    train_tokens = sentences["train"]
    if lowercase:
        train_tokens = [[t.decode("utf-8") for t in tf.strings.lower(s, encoding="utf-8").numpy()] for s in train_tokens]
    vocab = Vocabulary.build(train_tokens, max_tokens=tok_cfg["max_tokens"], min_freq=tok_cfg["min_freq"])
    lookup = token_lookup(vocab.tokens)
    runner._log(verbose, f"vocabulary: {len(vocab)} ids")

    # 3. tf.data: ids, tag ids and weights (0 on padding).
    batch_size = train_cfg["batch_size"] * strategy.num_replicas_in_sync
    index = {t: i for i, t in enumerate(tags)}
    tag_ids = {name: [[index[t] for t in r.tags] for r in getattr(splits, name)] for name in sentences}
    train_ds = make_tagging_dataset(sentences["train"], tag_ids["train"], lookup, lowercase=lowercase,
                                    batch_size=batch_size, shuffle=True, seed=seed,
                                    # the tagger is an RNN alone: it trains on at most model.rnn_length tokens
                                    max_length=min(tok_cfg["max_length"], cfg["model"]["rnn_length"] or tok_cfg["max_length"]))
    eval_ds = {name: make_tagging_dataset(sentences[name], tag_ids[name], lookup, lowercase=lowercase,
                                          batch_size=max(batch_size, 256))
               for name in ("validation", "test") if sentences[name]}

    # 4. The model: padding never counts (weights), in the loss and in the accuracy.
    steps_per_epoch = math.ceil(len(splits.train) / batch_size)
    options = {k: v for k, v in model_cfg.items() if k not in ("name", "task")}
    with strategy.scope():
        model = build_tagger(len(vocab), len(tags), seed=seed, **options)
        schedule = schedules.build_schedule(cfg["schedule"], steps_per_epoch=steps_per_epoch, epochs=train_cfg["epochs"])
        model.compile(optimizer=runner.build_optimizer(cfg["optimizer"], schedule),
                      loss="sparse_categorical_crossentropy",
                      weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    # 5. Fit.
    history = runner.fit_recipe(model, train_ds, eval_ds.get("validation"), cfg, run_dir=run_dir, schedule=schedule,
                                steps_per_epoch=steps_per_epoch, strategy=strategy, verbose=verbose)
    if distribute.is_multi_worker(strategy):
        local = build_tagger(len(vocab), len(tags), seed=seed, **options)
        local.set_weights(model.get_weights())
        model = local

    # 6. Token- and entity-level reports.
    reports = {}
    for name, ds in eval_ds.items():
        gold = [list(r.tags) for r in getattr(splits, name)]
        reports[name] = evaluate_tagging(gold, predict_tags(model, ds, tags), tags)
    final = reports.get("test") or reports.get("validation") or {}
    if final:
        runner._log(verbose, f"{'test' if 'test' in reports else 'validation'}: token accuracy {final['accuracy']:.4f}, "
                             f"macro-F1 {final['macro_f1']:.4f}, entity F1 {final['entity']['f1']:.4f} "
                             f"(P {final['entity']['precision']:.4f}, R {final['entity']['recall']:.4f})")

    # 7. Export over raw sentences, checked against the Keras model.
    meta = {"format": "conll", "labels": tags, "task": "tagging", "lowercase": lowercase,
            "vocabulary_size": len(vocab), "recipe": cfg["name"], "tokens": "whitespace"}
    runner.write_run_files(run_dir, cfg, meta, vocab)
    if cfg["export"]["keras"]:
        model.save(os.path.join(run_dir, "model.keras"))
    export_check = None
    if cfg["export"]["saved_model"]:
        export_path = os.path.join(run_dir, "saved_model")
        export_tagger(model, export_path, vocabulary=vocab.tokens, tags=tags, lowercase=lowercase, meta=meta)
        export_check = check_tagger_export(model, export_path, sentences["test"] or sentences["validation"]
                                           or sentences["train"], vocab, lowercase, limit=128)
        runner._log(verbose, f"exported {export_path}; reloaded export agrees with the Keras model "
                             f"(max |diff| {export_check['max_abs_diff']:.2e} on {export_check['sentences']} sentences)")
    # 8. The model card beside the exports, metrics.json and the report (token and entity scores).
    runner.write_model_card(run_dir, cfg, meta, reports, {"saved_model": export_check,
                                                          "model.keras": {} if cfg["export"]["keras"] else None})
    runner.write_metrics(run_dir, reports, splits, history, started, export_check, format="conll")
    if final:
        from textrecipes.evaluation.report import write_report

        write_report(run_dir)
    run_dir = runner.finish_run(run_dir, chief_run_dir)
    return runner.RunResult(run_dir, dict(cfg), final, reports.get("validation") or {}, history, tags, "tagging", model)
