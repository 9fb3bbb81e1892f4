"""Language-model pretraining on a plain corpus, and starting a classifier from it (ULMFiT-style).

`LanguageModelTask` gives the run harness the data flow of pretraining: a
plain corpus (`read_corpus`, one text a line) → lines held out for the
perplexity → the classifiers' own tokenizer and `Vocabulary`, so its ids are
the classifier's ids → sequences of ``tokenize.max_length`` tokens → the LSTM
language model of `textrecipes.models.language_model` (next-token logits, tied
to the embedding) → validation perplexity → ``lm.keras``, ``vocabulary.json``
and ``lm.json`` (the settings a classifier must match). `pretrain` runs it
from keyword arguments, with the harness's schedule, callbacks, backup and
resume.

A classifier recipe starts from it with ``model.init_from = "runs/lm"``: the
classification task then uses the LM's vocabulary and copies its word vectors,
and its LSTM too with ``model.init_from_layers = "embedding_lstm"``
(`init_from_lm`).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Mapping

import keras
import numpy as np
import tensorflow as tf

from textrecipes.data.atomic import save_keras
from textrecipes.data.readers import read_corpus
from textrecipes.data.records import DataError
from textrecipes.data.splits import Splits
from textrecipes.export.metadata import RunFolderError, read_json
from textrecipes.models.language_model import build_language_model, perplexity
from textrecipes.recipe.loading import RecipeError, load_recipe
from textrecipes.run.harness import run
from textrecipes.tasks.base import Task
from textrecipes.text.tokenization import Vocabulary, presegment, tokenize
from textrecipes.training.transfer import check_file

log = logging.getLogger("textrecipes")
LM_FILE = "lm.keras"
INIT_FROM_LAYERS = ("embedding", "embedding_lstm")  # what `init_from_lm` copies (model.init_from_layers)
META_FILE = "lm.json"


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
    order = np.random.default_rng(seed).permutation(len(sequences)) if shuffle else np.arange(len(sequences))
    ragged = tf.ragged.constant([sequences[i].tolist() for i in order], dtype=tf.int32)
    ds = tf.data.Dataset.from_tensor_slices(ragged)
    if shuffle:
        ds = ds.shuffle(min(len(sequences), 10000), seed=seed, reshuffle_each_iteration=True)
    # Right padding with 0: masked inputs, and targets the loss ignores.
    ds = ds.ragged_batch(batch_size).map(lambda r: (r[:, :-1].to_tensor(0), r[:, 1:].to_tensor(0)))
    return ds.prefetch(tf.data.AUTOTUNE)


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
    if not os.path.isdir(lm_dir):
        raise RunFolderError(f"{lm_dir}: no such language-model run folder (made by `textrecipes pretrain`)")
    meta_path = check_file(os.path.join(lm_dir, META_FILE), "the language model's settings")
    meta = read_json(meta_path)
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
    if layers not in INIT_FROM_LAYERS:
        raise ValueError(f"layers must be one of {INIT_FROM_LAYERS}, got {layers!r}")
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


class LanguageModelTask(Task):
    """Next-token language modelling for the run harness (``data.format = "corpus"``).

    Args:
        cfg: the resolved recipe: ``data.train`` the corpus, ``data.validation_split``
            the share of lines held out, ``tokenize.*`` the classifier's tokenizer
            (``tokenize.max_length``: tokens per training sequence), ``model.embedding_dim``
            and ``model.units`` the sizes a classifier must match.
        tie_weights: the output layer is the embedding matrix. Default True.
        input_dropout: dropout of whole input words while training. Default 0.1.
        output_dropout: dropout on the LSTM outputs while training. Default 0.2.

    Example:
        >>> cfg = load_recipe({"data": {"format": "corpus", "train": "data/samples/corpus.txt"}})
        >>> LanguageModelTask(cfg).name
        'language_model'
    """
    name = "language_model"
    meta_file = META_FILE

    def __init__(self, cfg: Mapping, *, tie_weights: bool = True, input_dropout: float = 0.1,
                 output_dropout: float = 0.2):
        super().__init__(cfg)
        self.tie_weights, self.input_dropout, self.output_dropout = tie_weights, input_dropout, output_dropout
        self.kind = "language_model"

    def check(self, cfg: Mapping) -> list[str]:
        problems = []
        if cfg["augment"]["enabled"]:
            problems.append("'augment.enabled' does not apply to data.format = 'corpus' (language-model pretraining)")
        if cfg["prune"]["enabled"]:
            problems.append("'prune.enabled' does not apply to data.format = 'corpus' (language-model pretraining; "
                            "pruning is wired into the single-text classifier only so far)")
        if cfg["data"]["validation"] or not 0 < cfg["data"]["validation_split"] < 1:
            problems.append("a language model holds out 'data.validation_split' (between 0 and 1) of the corpus "
                            "lines for its perplexity; 'data.validation' does not apply")
        return problems

    def read(self, cfg: Mapping):
        data, seed = cfg["data"], cfg["seed"]
        corpus = read_corpus(data["train"], on_bad_lines=data["on_bad_lines"])
        records = corpus.records
        if len(records) < 2:
            raise DataError(f"{data['train']}: {len(records)} text line(s); pretraining needs at least 2 (one held out)")
        order = np.random.default_rng(seed).permutation(len(records))
        held = max(1, int(round(len(records) * data["validation_split"])))
        return Splits([records[i] for i in order[held:]], [records[i] for i in order[:held]], [], [corpus.report])

    def prepare(self, splits) -> None:
        tok_cfg = self.cfg["tokenize"]
        split = "word" if tok_cfg["split"] == "jieba" else tok_cfg["split"]
        tokens = {name: tokenize(presegment([r.text for r in getattr(splits, name)], tok_cfg["split"]), split=split,
                                 lowercase=tok_cfg["lowercase"]) for name in ("train", "validation")}
        self.vocab = Vocabulary.build(tokens["train"], max_tokens=tok_cfg["max_tokens"], min_freq=tok_cfg["min_freq"])
        seq_len = tok_cfg["max_length"]
        self.sequences = {name: lm_sequences(tokens[name], self.vocab, seq_len) for name in tokens}
        if not self.sequences["train"] or not self.sequences["validation"]:
            raise DataError(f"{self.cfg['data']['train']}: too few lines of 2 or more tokens to train and validate "
                            "a language model")
        self.train_tokens = int(sum(len(s) - 1 for s in self.sequences["train"]))
        self.validation_oov = self.vocab.oov_rate(tokens["validation"])
        self.validation_lines = len(splits.validation)
        self.corpus_report = splits.reports[0].to_dict()
        log.info(f"language model: {len(self.vocab)} ids, {len(self.sequences['train'])} training sequences "
                 f"({self.train_tokens} tokens), {len(self.sequences['validation'])} held out")

    def examples(self, splits) -> int:
        return len(self.sequences["train"])

    def datasets(self, splits, batch_size: int) -> tuple:
        seed = self.cfg["seed"]
        return (_lm_dataset(self.sequences["train"], batch_size, shuffle=True, seed=seed),
                {"validation": _lm_dataset(self.sequences["validation"], max(batch_size, 128), shuffle=False, seed=seed)})

    def build(self, *, initial: bool = True) -> keras.Model:
        model_cfg = self.cfg["model"]
        return build_language_model(len(self.vocab), embedding_dim=model_cfg["embedding_dim"], units=model_cfg["units"],
                                    seed=self.cfg["seed"], tie_weights=self.tie_weights,
                                    input_dropout=self.input_dropout, output_dropout=self.output_dropout)

    def compile_options(self) -> dict:
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)}

    def evaluate(self, model, eval_ds: Mapping, splits) -> tuple[dict, dict]:
        self.perplexity = perplexity(model, eval_ds["validation"])
        return {"validation": {"perplexity": self.perplexity, "sequences": len(self.sequences["validation"])}}, {}

    def log_final(self, report: Mapping, split_name: str) -> None:
        log.info(f"validation perplexity: {report['perplexity']:.1f}")

    def export(self, model, run_dir: str, splits) -> tuple:
        save_keras(model, os.path.join(run_dir, LM_FILE))
        return model, {LM_FILE: {}}

    def metadata(self) -> dict:
        cfg, tok_cfg, model_cfg = self.cfg, self.cfg["tokenize"], self.cfg["model"]
        return {"kind": "lstm_language_model", "embedding_dim": model_cfg["embedding_dim"], "units": model_cfg["units"],
                "split": tok_cfg["split"], "lowercase": tok_cfg["lowercase"], "vocabulary_size": len(self.vocab),
                "max_tokens": tok_cfg["max_tokens"], "min_freq": tok_cfg["min_freq"], "seq_len": tok_cfg["max_length"],
                "epochs": cfg["train"]["epochs"], "batch_size": cfg["train"]["batch_size"],
                "learning_rate": cfg["schedule"]["learning_rate"], "tie_weights": self.tie_weights,
                "input_dropout": self.input_dropout, "output_dropout": self.output_dropout, "seed": cfg["seed"],
                "corpus": os.fspath(cfg["data"]["train"])}

    def summary(self) -> dict:
        return {"validation_perplexity": self.perplexity, "train_sequences": len(self.sequences["train"]),
                "train_tokens": self.train_tokens, "validation_lines": self.validation_lines,
                "validation_oov_rate": self.validation_oov, "corpus": self.corpus_report}


def pretrain(corpus_path: str, *, run_dir: str = "runs/lm", embedding_dim: int = 128, units: int = 128,
             max_tokens: int = 20000, min_freq: int = 1, split: str = "word", lowercase: bool = True,
             epochs: int = 3, batch_size: int = 64, seq_len: int = 64, learning_rate: float = 0.002,
             validation_fraction: float = 0.05, tie_weights: bool = True, input_dropout: float = 0.1,
             output_dropout: float = 0.2, seed: int = 0, overrides=None, overwrite: bool = False,
             verbose="auto") -> dict:
    """Trains an LSTM next-token language model on a plain corpus and saves its run folder.

    A run of the harness (`LanguageModelTask`): the folder holds ``lm.keras``
    (the model, logits out), ``vocabulary.json``, ``lm.json`` (the settings a
    classifier must match), ``recipe.toml``, ``history.csv`` and, last,
    ``metrics.json`` (validation perplexity, line and token counts); an
    interrupted pretraining resumes from its backup. Adam with gradient
    clipping at norm 1 and a constant rate, early stopping on the validation
    loss with the best weights kept.

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
        overrides: more recipe keys, ``["section.key=value", ...]`` or a nested dict
            (e.g. ``train.strategy``, ``[schedule]``, ``[callbacks]``). Default None.
        overwrite: replace a finished LM run in ``run_dir``. Default False.
        verbose: as for `textrecipes.workflows.train.train`. Default "auto".

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
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    recipe = {
        "name": "lm", "seed": seed,
        "data": {"format": "corpus", "train": os.fspath(corpus_path), "validation_split": validation_fraction,
                 "test_split": 0.0},
        "tokenize": {"split": split, "lowercase": lowercase, "max_tokens": max_tokens, "min_freq": min_freq,
                     "max_length": seq_len},
        "model": {"embedding_dim": embedding_dim, "units": units},
        "optimizer": {"name": "adam", "clipnorm": 1.0},
        "schedule": {"name": "constant", "learning_rate": learning_rate},
        "train": {"epochs": epochs, "batch_size": batch_size, "bucket": False},
        "callbacks": {"early_stopping": {"monitor": "val_loss", "patience": 3, "restore_best_weights": True}},
    }
    cfg = load_recipe(recipe, overrides)
    task = LanguageModelTask(cfg, tie_weights=tie_weights, input_dropout=input_dropout, output_dropout=output_dropout)
    result = run(task, cfg, run_dir=run_dir, overwrite=overwrite, verbose=verbose)
    return read_json(os.path.join(result.run_dir, "metrics.json"))


