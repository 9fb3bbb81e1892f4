"""Language-model pretraining on a plain corpus, and starting a classifier from it (ULMFiT-style).

`pretrain` trains Embedding(mask_zero) → LSTM → next-token logits (tied to the embedding) to predict
the next token of every line of a corpus, with the classifiers' own tokenizer
and `Vocabulary`, so its ids are the classifier's ids. A classifier recipe
starts from it with ``model.init_from = "runs/lm"``: the runner then uses the
LM's vocabulary and copies its word vectors, and its LSTM too with
``model.init_from_layers = "embedding_lstm"`` (see `init_from_lm`).
"""

from __future__ import annotations

import json
import math
import os
import time

import keras
import numpy as np

from textrecipes.training.callbacks import InterruptBetweenBatches
from textrecipes.data.readers import DataError, read_corpus
from textrecipes.text.tokenization import Vocabulary, presegment, tokenize

LM_FILE = "lm.keras"
META_FILE = "lm.json"


def build_language_model(vocabulary_size: int, *, embedding_dim: int = 128, units: int = 128, seed: int = 0,
                         tie_weights: bool = True, input_dropout: float = 0.1, output_dropout: float = 0.2) -> keras.Model:
    """Builds Embedding(mask_zero) → LSTM(return_sequences) → next-token logits.

    The layers are named like the classifier's (``embedding``, ``lstm``), so
    their weights copy over one to one.

    With ``tie_weights`` (the default) the output layer is the embedding matrix
    itself (Press & Wolf 2017; AWD-LSTM): the LSTM state goes through a linear
    ``projection`` to ``embedding_dim`` and its logits are the dot products with
    every word vector (``keras.layers.ReversibleEmbedding``). Every prediction
    then trains the word vectors, not only the inputs: on a small corpus this
    gives much better word vectors, and they are what a classifier takes.
    Dropout on whole input words and on the LSTM outputs (AWD-LSTM-like) keeps
    a small corpus from being memorised.

    Args:
        vocabulary_size: ids the embedding accepts (``len(Vocabulary)``).
        embedding_dim: embedding size. Default 128.
        units: LSTM units. Default 128.
        seed: seeds the initializers and dropout. Default 0.
        tie_weights: share the embedding with the output layer. Default True.
        input_dropout: dropout of whole input words while training. Default 0.1.
        output_dropout: dropout on the LSTM outputs while training. Default 0.2.

    Returns:
        An uncompiled `keras.Model`: ids ``(batch, time)`` → logits ``(batch, time, vocabulary_size)``.

    Example:
        >>> build_language_model(100, embedding_dim=8, units=8).output_shape
        (None, None, 100)
    """
    for name, value in (("input_dropout", input_dropout), ("output_dropout", output_dropout)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    init = keras.initializers.RandomUniform(-0.05, 0.05, seed=seed)
    if tie_weights:
        embedding = keras.layers.ReversibleEmbedding(vocabulary_size, embedding_dim, tie_weights=True, mask_zero=True,
                                                     embeddings_initializer=init, name="embedding")
    else:
        embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, embeddings_initializer=init,
                                           name="embedding")
    x = embedding(ids)
    if input_dropout:
        x = keras.layers.Dropout(input_dropout, noise_shape=(None, None, 1), seed=seed + 9, name="input_dropout")(x)
    x = keras.layers.LSTM(units, return_sequences=True, name="lstm",
                          kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2),
                          recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 3))(x)
    if output_dropout:
        x = keras.layers.Dropout(output_dropout, seed=seed + 5, name="output_dropout")(x)
    if tie_weights:
        x = keras.layers.Dense(embedding_dim, name="projection",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 6))(x)
        logits = embedding(x, reverse=True)
    else:
        logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="next_token",
                                    kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 6))(x)
    return keras.Model(ids, logits, name="lstm_language_model")


def lm_sequences(token_lists, vocab: Vocabulary, seq_len: int) -> list[np.ndarray]:
    """Token lists → id sequences of at most ``seq_len + 1`` ids (a longer text is cut into pieces).

    Pieces shorter than 2 ids (nothing to predict) are dropped.

    Args:
        token_lists: tokenized texts.
        vocab: the vocabulary.
        seq_len: tokens a training sequence predicts.

    Returns:
        A list of int32 arrays.

    Example:
        >>> v = Vocabulary(["a", "b"])
        >>> [s.tolist() for s in lm_sequences([["a", "b", "a", "b"]], v, 2)]
        [[2, 3, 2], [2, 3]]
    """
    out = []
    for tokens in token_lists:
        ids = np.asarray(vocab.ids(tokens), dtype="int32")
        for start in range(0, max(len(ids) - 1, 0), seq_len):
            piece = ids[start:start + seq_len + 1]
            if len(piece) >= 2:
                out.append(piece)
    return out


def _lm_dataset(sequences, batch_size: int, shuffle: bool, seed: int):
    import tensorflow as tf

    order = np.random.default_rng(seed).permutation(len(sequences)) if shuffle else np.arange(len(sequences))
    ragged = tf.ragged.constant([sequences[i].tolist() for i in order], dtype=tf.int32)
    ds = tf.data.Dataset.from_tensor_slices(ragged)
    if shuffle:
        ds = ds.shuffle(min(len(sequences), 10000), seed=seed, reshuffle_each_iteration=True)
    # Right padding with 0: masked inputs, and targets the loss ignores.
    ds = ds.ragged_batch(batch_size).map(lambda r: (r[:, :-1].to_tensor(0), r[:, 1:].to_tensor(0)))
    return ds.prefetch(tf.data.AUTOTUNE)


def perplexity(model: keras.Model, dataset) -> float:
    """exp(mean cross-entropy) of the next-token model over every non-padding target.

    Args:
        model: a model from `build_language_model`.
        dataset: batches of ``(ids, next ids)``, right-padded with 0.

    Returns:
        The perplexity (the OOV id counts as a token to predict).

    Example:
        >>> perplexity(lm, validation_batches)  # doctest: +SKIP
        182.4
    """
    ops = keras.ops
    total = count = 0.0
    for x, y in dataset:
        logits = model(x, training=False)
        logp = ops.log_softmax(logits, axis=-1)
        picked = ops.take_along_axis(logp, ops.expand_dims(ops.cast(y, "int32"), -1), axis=-1)[..., 0]
        mask = ops.cast(ops.not_equal(y, 0), "float32")
        total += float(ops.sum(-picked * mask))
        count += float(ops.sum(mask))
    return math.exp(total / count) if count else float("nan")


def pretrain(corpus_path: str, *, run_dir: str = "runs/lm", embedding_dim: int = 128, units: int = 128,
             max_tokens: int = 20000, min_freq: int = 1, split: str = "word", lowercase: bool = True,
             epochs: int = 3, batch_size: int = 64, seq_len: int = 64, learning_rate: float = 0.002,
             validation_fraction: float = 0.05, tie_weights: bool = True, input_dropout: float = 0.1,
             output_dropout: float = 0.2, seed: int = 0, overwrite: bool = False, verbose: int = 1) -> dict:
    """Trains an LSTM next-token language model on a plain corpus and saves its run folder.

    The folder holds ``lm.keras`` (the model, logits out), ``vocabulary.json``,
    ``lm.json`` (the settings a classifier must match), ``metrics.json``
    (validation perplexity, line and token counts) and ``history.csv``.

    Args:
        corpus_path: a plain corpus, one text a line (`read_corpus`).
        run_dir: the run folder. Default "runs/lm".
        embedding_dim: embedding size; a classifier's ``model.embedding_dim`` must match. Default 128.
        units: LSTM units; a classifier's ``model.units`` must match. Default 128.
        max_tokens: vocabulary size, 2 reserved ids included. Default 20000.
        min_freq: drop rarer tokens. Default 1.
        split: the tokenizer: "word" (default), "char" or "jieba".
        lowercase: Default True.
        epochs: Default 3.
        batch_size: Default 64.
        seq_len: tokens per training sequence; longer lines are cut into pieces. Default 64.
        learning_rate: Adam's rate. Default 0.002.
        validation_fraction: lines held out for the perplexity. Default 0.05.
        tie_weights: the output layer is the embedding matrix (see `build_language_model`). Default True.
        input_dropout: dropout of whole input words while training. Default 0.1.
        output_dropout: dropout on the LSTM outputs while training. Default 0.2.
        seed: seeds the held-out lines, shuffling and initialisation. Default 0.
        overwrite: replace a finished LM run in ``run_dir``. Default False.
        verbose: 0 silent, 1 a line per stage and epoch (default).

    Returns:
        The metrics written to ``metrics.json``.

    Raises:
        DataError: for a bad corpus line or a corpus too small to hold out lines from.
        FileExistsError: when ``run_dir`` holds a finished LM and ``overwrite`` is False.

    Example:
        >>> metrics = pretrain("data/samples/corpus.txt", run_dir="runs/lm_demo", embedding_dim=16,  # doctest: +SKIP
        ...                    units=16, epochs=1, overwrite=True, verbose=0)
        >>> metrics["validation_perplexity"] > 1  # doctest: +SKIP
        True
    """
    from textrecipes.run.harness import prepare_run_dir

    started = time.time()
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    prepare_run_dir(run_dir, overwrite)
    keras.utils.set_random_seed(seed)
    corpus = read_corpus(corpus_path)
    texts = presegment([r.text for r in corpus.records], split)
    if len(texts) < 2:
        raise DataError(f"{corpus_path}: {len(texts)} text line(s); pretraining needs at least 2 (one held out)")
    order = np.random.default_rng(seed).permutation(len(texts))
    held = max(1, int(round(len(texts) * validation_fraction)))
    tok_split = "word" if split == "jieba" else split
    train_tokens = tokenize([texts[i] for i in order[held:]], split=tok_split, lowercase=lowercase)
    val_tokens = tokenize([texts[i] for i in order[:held]], split=tok_split, lowercase=lowercase)
    vocab = Vocabulary.build(train_tokens, max_tokens=max_tokens, min_freq=min_freq)
    train_seq, val_seq = lm_sequences(train_tokens, vocab, seq_len), lm_sequences(val_tokens, vocab, seq_len)
    if not train_seq or not val_seq:
        raise DataError(f"{corpus_path}: too few lines of 2 or more tokens to train and validate a language model")
    n_tokens = int(sum(len(s) - 1 for s in train_seq))
    if verbose:
        print(corpus.report.summary(), flush=True)
        print(f"language model: {len(vocab)} ids, {len(train_seq)} training sequences ({n_tokens} tokens), "
              f"{len(val_seq)} held out", flush=True)

    model = build_language_model(len(vocab), embedding_dim=embedding_dim, units=units, seed=seed, tie_weights=tie_weights,
                                 input_dropout=input_dropout, output_dropout=output_dropout)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))
    train_ds = _lm_dataset(train_seq, batch_size, shuffle=True, seed=seed)
    val_ds = _lm_dataset(val_seq, max(batch_size, 128), shuffle=False, seed=seed)
    with InterruptBetweenBatches() as interrupt:  # Ctrl-C stops between batches, never mid-call
        history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=2 if verbose else 0, shuffle=False,
                            callbacks=[keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv")), interrupt])
    ppl = perplexity(model, val_ds)
    if verbose:
        print(f"validation perplexity: {ppl:.1f}", flush=True)

    model.save(os.path.join(run_dir, LM_FILE))
    vocab.save(os.path.join(run_dir, "vocabulary.json"))
    meta = {"kind": "lstm_language_model", "embedding_dim": embedding_dim, "units": units, "split": split,
            "lowercase": lowercase, "vocabulary_size": len(vocab), "max_tokens": max_tokens, "min_freq": min_freq,
            "seq_len": seq_len, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
            "tie_weights": tie_weights, "input_dropout": input_dropout, "output_dropout": output_dropout, "seed": seed,
            "corpus": os.fspath(corpus_path)}
    with open(os.path.join(run_dir, META_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
    metrics = {"validation_perplexity": ppl, "train_loss": [float(v) for v in history.history["loss"]],
               "validation_loss": [float(v) for v in history.history.get("val_loss", [])],
               "corpus": corpus.report.to_dict(), "train_sequences": len(train_seq), "train_tokens": n_tokens,
               "validation_lines": held, "validation_oov_rate": vocab.oov_rate(val_tokens),
               "train_seconds": round(time.time() - started, 1)}
    with open(os.path.join(run_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, ensure_ascii=False)
    if verbose:
        print(f"run folder: {run_dir} ({metrics['train_seconds']} s)", flush=True)
    return metrics


def load_language_model(lm_dir: str) -> tuple[keras.Model, Vocabulary, dict]:
    """Loads a `pretrain` run folder: the model, its vocabulary and its settings.

    Args:
        lm_dir: the LM run folder.

    Returns:
        ``(model, vocabulary, meta)``.

    Raises:
        RunFolderError: when a file is missing or cannot be read, naming it.

    Example:
        >>> lm, vocab, meta = load_language_model("runs/lm")  # doctest: +SKIP
        >>> meta["units"]  # doctest: +SKIP
        128
    """
    from textrecipes.export.saved_model import RunFolderError, _read_json
    from textrecipes.training.transfer import check_file

    if not os.path.isdir(lm_dir):
        raise RunFolderError(f"{lm_dir}: no such language-model run folder (made by `textrecipes pretrain`)")
    meta_path = check_file(os.path.join(lm_dir, META_FILE), "the language model's settings")
    meta = _read_json(meta_path)
    for key in ("embedding_dim", "units", "split", "lowercase", "vocabulary_size"):
        if key not in meta:
            raise RunFolderError(f"{meta_path}: lacks {key!r}")
    vocab_path = check_file(os.path.join(lm_dir, "vocabulary.json"), "the language model's vocabulary")
    try:
        vocab = Vocabulary.load(vocab_path)
    except (ValueError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{vocab_path}: cannot be read ({e})") from None
    lm_path = check_file(os.path.join(lm_dir, LM_FILE), "the language model")
    try:
        model = keras.saving.load_model(lm_path, safe_mode=True, compile=False)
    except Exception as e:  # Keras raises many kinds here; say which file is broken
        raise RunFolderError(f"{lm_path}: the model could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
    if len(vocab) != meta["vocabulary_size"] or model.get_layer("embedding").input_dim != len(vocab):
        raise RunFolderError(f"{lm_dir}: vocabulary.json has {len(vocab)} ids but the model and lm.json expect "
                             f"{model.get_layer('embedding').input_dim} and {meta['vocabulary_size']}")
    return model, vocab, meta


def check_lm_compatible(meta: dict, recipe: dict, lm_dir: str) -> None:
    """Checks that a recipe's classifier can take the LM's weights; a `RecipeError` names the keys to change.

    Args:
        meta: the LM's ``lm.json`` settings.
        recipe: the resolved classifier recipe.
        lm_dir: the LM folder, for messages.

    Raises:
        RecipeError: listing every mismatch.

    Example:
        >>> meta = {"embedding_dim": 128, "units": 128, "split": "word", "lowercase": True}
        >>> from textrecipes.recipe.loading import default_recipe
        >>> check_lm_compatible(meta, default_recipe(), "runs/lm")
    """
    from textrecipes.recipe.loading import RecipeError

    problems = []
    for section, key in (("model", "embedding_dim"), ("model", "units"), ("tokenize", "split"), ("tokenize", "lowercase")):
        if recipe[section][key] != meta[key]:
            problems.append(f"'{section}.{key}' = {recipe[section][key]!r} but the language model in {lm_dir} "
                            f"has {key} = {meta[key]!r}; set {section}.{key} = {json.dumps(meta[key])}")
    if problems:
        raise RecipeError(problems, f"model.init_from = {lm_dir!r}")


def init_from_lm(classifier: keras.Model, lm: keras.Model, layers: str = "embedding") -> list[str]:
    """Copies the LM's word vectors (and, if asked, its LSTM) into a classifier built on the LM's vocabulary.

    ``layers = "embedding"`` (the default) copies the word vectors alone: on
    500 labelled reviews both the default classifier and an LSTM-only one did
    better from the LM's embedding alone than from its embedding and LSTM, and
    the default one better than from scratch (benchmarks/results/pretrain.md).
    With ``"embedding_lstm"`` (ULMFiT's transfer) a unidirectional classifier
    LSTM takes the LM's LSTM as it is; a bidirectional one takes it in its
    forward direction (the backward direction keeps its random
    initialisation: the LM only read left to right).

    Args:
        classifier: from `build_lstm_classifier` with the LM's vocabulary size,
            ``embedding_dim`` and ``units``.
        lm: from `build_language_model` (or `load_language_model`).
        layers: "embedding" (default) or "embedding_lstm" (``model.init_from_layers``).

    Returns:
        The weights copied, e.g. ``["embedding", "bilstm.forward"]``.

    Raises:
        ValueError: when the shapes differ, or for another ``layers``.

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> lm = build_language_model(50, embedding_dim=8, units=4)
        >>> init_from_lm(build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0), lm)
        ['embedding']
        >>> init_from_lm(build_lstm_classifier(50, 2, embedding_dim=8, units=4, ngram_buckets=0), lm, "embedding_lstm")
        ['embedding', 'bilstm.forward']
    """
    if layers not in ("embedding_lstm", "embedding"):
        raise ValueError(f"layers must be 'embedding_lstm' or 'embedding', got {layers!r}")
    pairs = [(classifier.get_layer("embedding"), lm.get_layer("embedding"), "embedding")]
    names = {layer.name for layer in classifier.layers}
    if layers == "embedding_lstm" and "bilstm" in names:
        pairs.append((classifier.get_layer("bilstm").forward_layer, lm.get_layer("lstm"), "bilstm.forward"))
    elif layers == "embedding_lstm":
        pairs.append((classifier.get_layer("lstm"), lm.get_layer("lstm"), "lstm"))
    for target, source, name in pairs:
        weights = source.get_weights()
        shapes = [tuple(w.shape) for w in target.weights]
        if [w.shape for w in weights] != shapes:
            raise ValueError(f"{name}: the language model's weights have shapes {[w.shape for w in weights]}, "
                             f"the classifier's {shapes}")
        target.set_weights(weights)
    return [name for _, _, name in pairs]
