"""The recipe schema: every key a recipe accepts, with its default, type, allowed values and meaning.

`SCHEMA` is the one table that the validator (`textrecipes.recipe.validation`), the
README's key table and ``textrecipes recipe show`` are all derived from. Adding a
recipe key is one line here (and the code that reads it).

A key is declared with `key(default, description, ...)`; its type follows from the
default unless given: ``bool``, ``int``, ``float`` (an int is accepted and stored as a
float), ``int or float``, ``str``, ``path`` (a string, or a `pathlib.Path` in Python),
``list of str``, ``list of int``, ``str or bool`` or ``table``. ``range`` is an
interval such as ``"[0, 1)"`` or ``"(0, inf)"``. Choice lists live beside the code
that uses them and are named here as ``Ref("module:NAME")`` (a tuple's items or a
dict's keys), read when a recipe is validated, so importing this module imports no
TensorFlow. A `Table` groups keys; ``switch=True`` lets a table be written as
``true``/``false`` for its ``enabled`` key (the callbacks).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import math
from typing import Any, Iterator, Mapping

__all__ = ["Ref", "Key", "Table", "key", "SCHEMA", "SCHEDULE_PRESETS", "schedule_kind", "iter_keys",
           "choices_of", "bounds_of", "defaults", "lookup"]


@dataclasses.dataclass(frozen=True)
class Ref:
    """A list of allowed values that lives in another module: ``"module:NAME"`` (a tuple, or a dict's keys).

    Args:
        target: ``"textrecipes.models.classifiers:POOLINGS"``; read (and the module
            imported) only by `values`.

    Example:
        >>> Ref("textrecipes.text.tokenization:SPLITS").values()
        ('word', 'char', 'jieba')
    """

    target: str

    def values(self) -> tuple:
        """The allowed values, read from the module (imported now)."""
        module, name = self.target.split(":")
        found = getattr(importlib.import_module(module), name)
        return tuple(found)


@dataclasses.dataclass(frozen=True, eq=False)
class Key:
    """One recipe key. See the module docstring; build one with `key`.

    Args:
        default: the value when a recipe does not give one (None: unset).
        type: ``"int"``, ``"float"``, ``"int or float"``, ``"str"``, ``"path"``, ...
        doc: a one-line description.
        choices: the allowed values: literals and `Ref`s. Default () (any value of the type).
        range: an interval, e.g. ``"[0, 1)"``. Default "" (any).
        nullable: None (unset) is accepted; a TOML file leaves the key out. Default False.
        empty: an empty string is accepted. Default True.
        replaces: a sibling key this one replaces when given (``warmup_steps`` replaces
            ``warmup_epochs``; giving both at once is an error). Default "".
        used_by: the schedule names that read this key (empty: every one). Default ().
        presets: value → sibling values it stands for (``schedule.name = "seed003"``). Default None.

    Example:
        >>> key(0.5, "dropout before the head", range="[0, 1)").type
        'float'
    """

    default: Any
    type: str
    doc: str
    choices: tuple = ()
    range: str = ""
    nullable: bool = False
    empty: bool = True
    replaces: str = ""
    used_by: tuple = ()
    presets: Mapping | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class Table:
    """A table of keys (a recipe section, or a callback's options).

    Args:
        doc: a one-line description.
        keys: name → `Key` or `Table`.
        switch: the table may be written ``true``/``false``, meaning ``enabled``; a
            table given without ``enabled`` turns it on. Default False.

    Example:
        >>> Table("a callback", {"enabled": key(True, "on")}, switch=True).switch
        True
    """

    doc: str
    keys: Mapping
    switch: bool = False


def key(default: Any, doc: str, type: str | None = None, **options) -> Key:
    """Declares a recipe key; its type follows from ``default`` unless given.

    Args:
        default: the default value.
        doc: a one-line description.
        type: the type, when the default does not say it (None, [], a path). Default None.
        **options: ``choices``, ``range``, ``nullable``, ``empty``, ``replaces``,
            ``used_by``, ``presets`` (see `Key`).

    Returns:
        A `Key`.

    Example:
        >>> key(128, "embedding size", range="[1, inf)").type
        'int'
    """
    if type is None:
        inferred = {bool: "bool", int: "int", float: "float", str: "str", dict: "table"}
        type = inferred[default.__class__]
    return Key(default, type, doc, **options)


def _ref(module: str, name: str) -> Ref:
    return Ref(f"textrecipes.{module}:{name}")


# Named schedules: values that replace the defaults (the user's keys still win). ``name``
# is the schedule built. `seed003`: 5 warmup epochs, then cosine decay from 0.01 to 0.001
# over the remaining epochs (45 of 50 in the seed document).
SCHEDULE_PRESETS = {
    "seed003": {"name": "cosine", "learning_rate": 0.01, "min_learning_rate": 0.001, "warmup": "linear",
                "warmup_epochs": 5, "warmup_start_learning_rate": 0.0},
}
SCHEDULE_PRESETS["warmup_cosine"] = SCHEDULE_PRESETS["seed003"]
# Named models whose best values differ from the shared keys' defaults (the user's keys still win).
# `linear`: 2**18 n-gram buckets, as scikit-learn's bigrams need; with the LSTM branch's 131072 its test
# accuracy on Rotten Tomatoes was 0.7445 against 0.7563 (same run, lbfgs, C picked on validation).
MODEL_PRESETS = {"linear": {"ngram_buckets": 262144}}


def schedule_kind(name: str) -> str:
    """The schedule a ``schedule.name`` builds: a preset's underlying schedule, else the name.

    Args:
        name: ``schedule.name``.

    Returns:
        One of `textrecipes.training.schedules.SCHEDULE_NAMES` (for a valid name).

    Example:
        >>> schedule_kind("seed003"), schedule_kind("step")
        ('cosine', 'step')
    """
    return SCHEDULE_PRESETS.get(name, {}).get("name", name)


_DECAYS = ("step", "exponential", "cosine", "cosine_restarts")
_LENGTHS = ("exponential", "cosine", "cosine_restarts")
_COUNT = "[0, inf)"
_MODE = key("auto", "the metric's direction (`auto`: from its name)", choices=(_ref("training.monitors", "MODES"),))


def _switch(doc: str, enabled: bool, **options) -> Table:
    return Table(doc, {"enabled": key(enabled, "switch the callback on or off"), **options}, switch=True)


SCHEMA = Table("A recipe: the stages of the data flow, each a table", {
    "name": key("recipe", "run name; the run folder defaults to `runs/<name>`"),
    "seed": key(0, "seeds splits, shuffling, initialisation, dropout and augmentation"),
    "run_dir": key("", "run folder inside the working folder (empty: `runs/<name>`)", "path"),
    "data": Table("dataset files → records", {
        "format": key("label_text", "`label_text`: `label<TAB>text` lines; `pairs`: `text_a<TAB>text_b<TAB>label` (see "
                      "\"Text pairs\"); `conll`: `token tag` lines (see \"Sequence labelling\"); `corpus`: one "
                      "text a line, to pretrain a language model",
                      choices=(_ref("workflows.train", "TASKS"),)),
        "train": key("", "training file (required); streamed (`streaming`): also a glob or a list of files (shards)",
                     "path or list of path"),
        "validation": key("", "validation file (empty: split off `train`, stratified; streamed: by a seeded hash "
                          "of the line); streamed: also a glob or a list", "path or list of path"),
        "test": key("", "test file (empty: split off `train`, as `validation`); streamed: also a glob or a list",
                    "path or list of path"),
        "streaming": key("auto", "read the files as a stream (`tf.data`, one counting pass, no record in memory) "
                         "instead of into memory; `auto`: when a split is several files (a list or a glob) or more than 200 MB "
                         "(`data.stream_splits.STREAMING_AUTO_BYTES`); classification only", "str or bool",
                         choices=(_ref("data.stream_splits", "STREAMING"),)),
        "shuffle_buffer": key(100000, "streamed: training examples held for shuffling (bounded memory); 0 keeps "
                              "the file order", range=_COUNT),
        "text_first": key(False, "columns are `text<TAB>label`"),
        "header": key(False, "skip a header line"),
        "labels": key([], "the declared label set (empty: the labels found in `train`)", "list of str"),
        "multi_label": key(False, "several labels per line, separated by `label_sep`"),
        "label_sep": key(",", "separator of a multi-label line's labels", empty=False),
        "on_bad_lines": key("error", "a malformed line stops the run, or is skipped (counted per reason in `metrics.json`)",
                            choices=(_ref("data.readers", "BAD_LINE_MODES"),)),
        "validation_split": key(0.1, "fraction split off `train` when `validation` is empty", range="[0, 1)"),
        "test_split": key(0.1, "fraction split off `train` when `test` is empty", range="[0, 1)"),
        "max_train_examples": key(0, "above 0: train on the first N training examples only (a quick look)",
                                  range=_COUNT),
    }),
    "augment": Table("on-the-fly EDA augmentation of the training split (never validation or test)", {
        "enabled": key(False, "replace training examples by fresh variants, seeded by (seed, epoch, example)"),
        "source": key("wordnet", "synonyms: `wordnet`, `file:PATH` (`word<TAB>syn1,syn2`), `vectors:PATH` "
                      "(word2vec text), `none`"),
        "probability": key(0.5, "chance, per example and epoch, that the example is replaced", range="[0, 1]"),
        "alpha_sr": key(0.1, "share of words replaced by a synonym", range="[0, 1]"),
        "alpha_ri": key(0.1, "share of words inserted (synonyms of other words)", range="[0, 1]"),
        "alpha_rs": key(0.1, "share of words swapped", range="[0, 1]"),
        "p_rd": key(0.1, "chance that each word is deleted", range="[0, 1)"),
        "tokenizer": key("whitespace", "how the augmenter splits a text into words (`chars` or `jieba` for Chinese)",
                         choices=(_ref("augment.eda", "TOKENIZERS"),)),
    }),
    "tokenize": Table("tokenization and vocabulary", {
        "split": key("word", "`word`: Unicode words, punctuation tokens, CJK per character; `char`: characters; "
                     "`jieba`: Chinese words",
                     choices=(_ref("text.tokenization", "SPLITS"),)),
        "lowercase": key(True, "lowercase before splitting"),
        "max_tokens": key(20000, "vocabulary size, 2 reserved ids included", range="[3, inf)"),
        "min_freq": key(1, "drop rarer tokens", range="[1, inf)"),
        "max_length": key(2048, "truncate longer texts (batches are padded to their longest text); the RNN "
                          "reads `model.rnn_length` of them", range="[1, inf)"),
    }),
    "model": Table("the classifier (see \"Model recipes\")", {
        "name": key("auto", "the builder (see \"Model recipes\"); `auto`: the `lstm` and `linear` models "
                    "blended with a weight chosen on validation; `linear` lays `ngram_buckets = 262144` under "
                    "the recipe's keys",
                    choices=(_ref("models.classifiers", "BUILDERS"),), presets=MODEL_PRESETS),
        "task": key("auto", "`auto`: from the labels (`binary` for 2, `multiclass` for more, `multilabel` with "
                    "`data.multi_label`)",
                    choices=("auto", _ref("models.losses", "TASKS"))),
        "embedding_dim": key(128, "word embedding size", range="[1, inf)"),
        "units": key(128, "RNN units per direction; CNN filters per kernel width", range="[1, inf)"),
        "layers": key(1, "stacked RNN layers (`lstm`, `gru`)", range="[1, inf)"),
        "kernel_sizes": key([3, 4, 5], "`cnn` convolution widths, each at least 1", "list of int"),
        "bidirectional": key(True, "read the text both ways (`lstm`, `gru`)"),
        "pooling": key("mean_max", "how the RNN states are pooled: `max` and `mean_max` over all (masked) states, "
                       "`attention` (additive), `last` the final state",
                       choices=(_ref("models.encoders", "POOLINGS"),)),
        "dropout": key(0.5, "dropout before the head", range="[0, 1)"),
        "embedding_dropout": key(0.2, "spatial dropout on the embeddings", range="[0, 1)"),
        "token_dropout": key(0.2, "word dropout: drops whole token vectors while training (the model overfits "
                             "after 1-2 epochs without it)", range="[0, 1)"),
        "l1": key(0.0, "L1 kernel penalty", range=_COUNT),
        "l2": key(0.0, "L2 kernel penalty", range=_COUNT),
        "solver": key("lbfgs", "how `linear` learns its weights: `lbfgs`, scikit-learn's logistic regression on "
                      "its TF-IDF rows (the convex optimum, C picked on validation, no epochs; `model.fit` where "
                      "lbfgs cannot go, and the log says why); `fit`: `model.fit` with the `[optimizer]`, "
                      "`[schedule]` and `[train]` keys, as every other model",
                      choices=(_ref("tasks.auto", "SOLVERS"),)),
        "ngram_buckets": key(131072, "a fastText-style hashed-bigram branch beside the RNN (0: off)",
                             range="[0, 1048576]"),
        "ngram_dim": key(64, "embedding size of the hashed n-grams", range="[1, inf)"),
        "ngram_words": key(True, "the n-gram branch hashes the words too: a bag of words and bigrams (`lstm`, `gru`)"),
        "ngram_pooling": key("sqrtn", "how the n-gram branch (and `fasttext`'s word bag) pools: `sqrtn` (sum / √n, "
                             "so a long document's bag is not averaged into silence) or `mean`",
                             choices=(_ref("models.classifiers", "NGRAM_POOLINGS"),)),
        "rnn_length": key(256, "the RNN reads only the first N tokens while the n-gram branch sees all "
                          "`tokenize.max_length`; 0: the RNN reads everything", range=_COUNT),
        "hidden_units": key(0, "above 0: a ReLU layer of that size before the head", range=_COUNT),
        "initializer": key("glorot_uniform", "kernel initializer", choices=(_ref("models.layers", "INITIALIZERS"),)),
        "normalization": key("none", "normalization after pooling",
                             choices=(_ref("models.classifiers", "NORMALIZATIONS"),)),
        "vectors": key("", "word2vec/GloVe text vectors for the word embedding (`model.embedding_dim` must "
                       "match); empty: none", "path"),
        "freeze_vectors": key(False, "keep the pretrained vectors fixed"),
        "init_from": key("", "a `textrecipes pretrain` folder: its vocabulary and word vectors (see Pretraining)",
                         "path"),
        "init_from_layers": key("embedding", "what `init_from` copies: `embedding` (the word vectors) or "
                                "`embedding_lstm` (and the LSTM, as ULMFiT)", choices=(_ref("tasks.language_model", "INIT_FROM_LAYERS"),)),
        "match_features": key("tokens", "text pairs only: word-overlap signals (see \"Text pairs\")", choices=(_ref("models.pairs", "MATCH_FEATURES"),)),
    }),
    "optimizer": Table("the optimizer (its rate lives in [schedule])", {
        "name": key("adam", "the optimizer (`sgd` with momentum 0.9)",
                    choices=(_ref("training.optimizers", "OPTIMIZERS"),)),
        "weight_decay": key(0.0, "decoupled weight decay (0: none; `adamw` then uses 1e-4)", range=_COUNT),
        "clipnorm": key(0.0, "clip each gradient to this norm (0: no clipping)", range=_COUNT),
    }),
    "schedule": Table("the learning rate, per optimizer step", {
        "name": key("constant", "the schedule, or a preset: `seed003` (= `warmup_cosine`) is 5 warmup epochs, then "
                    "cosine from 0.01 to 0.001",
                    choices=(_ref("training.schedules", "SCHEDULE_NAMES"), *SCHEDULE_PRESETS),
                    presets=SCHEDULE_PRESETS),
        "learning_rate": key(1e-3, "the peak rate: at step 0, or at the end of warmup", range="(0, inf)"),
        "min_learning_rate": key(0.0, "floor of the decays; the end of each cosine cycle", range=_COUNT,
                                 used_by=_DECAYS),
        "warmup": key("linear", "the warmup ramp, for any schedule (`exponential`: straight on a log scale)",
                      choices=(_ref("training.schedule_wrappers", "WARMUP_MODES"),)),
        "warmup_epochs": key(0, "warmup length in epochs", "int or float", range=_COUNT, nullable=True),
        "warmup_steps": key(None, "warmup length in optimizer steps; replaces `warmup_epochs`", "int",
                            range=_COUNT, nullable=True, replaces="warmup_epochs"),
        "warmup_start_learning_rate": key(None, "the rate at step 0 of the warmup (unset: 0 for a linear warmup, "
                                          "`learning_rate` / 100 for an exponential one)", "float",
                                          range=_COUNT, nullable=True),
        "factor": key(0.1, "the multiplier at each drop", range="(0, 1]", used_by=("step",)),
        "step_size_epochs": key(5, "epochs between drops", "int or float", range="(0, inf)", nullable=True,
                                used_by=("step",)),
        "step_size_steps": key(None, "optimizer steps between drops; replaces `step_size_epochs`", "int",
                               range="(0, inf)", nullable=True, replaces="step_size_epochs", used_by=("step",)),
        "decay_epochs": key(None, "`exponential`: epochs per `decay_rate` (unset: 1); `cosine`: decay length "
                            "(unset: the rest of training); `cosine_restarts`: first cycle (unset: a third of it)",
                            "int or float", range="(0, inf)", nullable=True, used_by=_LENGTHS),
        "decay_steps": key(None, "`decay_epochs` in optimizer steps; replaces `decay_epochs`", "int",
                           range="(0, inf)", nullable=True, replaces="decay_epochs", used_by=_LENGTHS),
        "decay_rate": key(0.96, "multiplier per `decay_epochs`", range="(0, 1]", used_by=("exponential",)),
        "staircase": key(False, "decay in whole steps of `decay_epochs`", used_by=("exponential",)),
        "t_mul": key(2.0, "cycle length multiplier", range="[1, inf)", used_by=("cosine_restarts",)),
        "m_mul": key(1.0, "cycle peak multiplier", range="(0, 1]", used_by=("cosine_restarts",)),
    }),
    "train": Table("fitting", {
        "batch_size": key(32, "per-replica batch size", range="[1, inf)"),
        "epochs": key(10, "most epochs (early stopping may end sooner)", range="[1, inf)"),
        "label_smoothing": key(0.0, "binary, multi-class (one-hot inside the loss) and multi-label", range="[0, 1)"),
        "class_weight": key("none", "`balanced`: weights from the training labels (binary and multi-class)",
                            choices=(_ref("tasks.classification", "CLASS_WEIGHTS"),)),
        "bucket": key(True, "group texts of similar length into batches"),
        "strategy": key("auto", "`auto`: `MirroredStrategy` on several GPUs, `OneDeviceStrategy` on one, else the "
                        "default; `multi_worker`: `MultiWorkerMirroredStrategy` from `TF_CONFIG`",
                        choices=(_ref("training.distribute", "STRATEGIES"),)),
        "mixed_precision": key("auto", "`auto`: `mixed_float16` only on GPUs of compute capability ≥ 7.0, never "
                               "on CPU", "str or bool",
                               choices=(_ref("training.distribute", "MIXED_PRECISION"),)),
        "unfreeze": key("none", "`gradual`: train the head alone for an epoch, then one more layer group per "
                        "epoch (ULMFiT)", choices=(_ref("training.transfer", "UNFREEZE_MODES"),)),
        "layer_lr_decay": key(1.0, "discriminative rates: each lower layer group's rate is divided by this "
                              "(ULMFiT: 2.6); 1: one rate", range="(0, inf)"),
    }),
    "callbacks": Table("what watches the fit; each callback is `true`, `false` or a table of its options", {
        "early_stopping": _switch(
            "stop when the monitored metric stops improving", True,
            monitor=key("val_accuracy", "the metric watched (on small data val_loss bottoms out at epoch 1-2 "
                        "while accuracy still improves)", empty=False),
            patience=key(3, "epochs without improvement before stopping", range=_COUNT),
            min_delta=key(0.0, "the least change that counts as an improvement", range=_COUNT),
            start_from_epoch=key(0, "epochs before it starts watching", range=_COUNT),
            restore_best_weights=key(True, "end with the best epoch's weights"),
            mode=_MODE),
        "loss_plateau": _switch(
            "stop once the epoch loss moves by less than `min_delta` (seed 002)", False,
            monitor=key("loss", "the metric watched", empty=False),
            min_delta=key(0.001, "a smaller change is a plateau", range=_COUNT),
            min_epochs=key(5, "never stop before this many epochs", range=_COUNT)),
        "reduce_lr_on_plateau": _switch(
            "lower the rate when the metric stops improving (works with schedules)", False,
            monitor=key("val_loss", "the metric watched", empty=False),
            factor=key(0.5, "the rate's multiplier at each reduction", range="(0, 1)"),
            patience=key(2, "epochs without improvement before a reduction", range=_COUNT),
            min_delta=key(1e-4, "the least change that counts as an improvement", range=_COUNT),
            cooldown=key(0, "epochs to wait after a reduction", range=_COUNT),
            min_learning_rate=key(0.0, "the rate is never lowered below this", range=_COUNT),
            mode=_MODE),
        "checkpoint": _switch(
            "keep `checkpoints/best.keras`", True,
            monitor=key(None, "the metric (unset: early stopping's, or val_loss when it is off)", "str",
                        nullable=True, empty=False),
            mode=_MODE),
        "backup": _switch("keep `backup/`, so an interrupted run resumes at its last epoch", True),
        "terminate_on_nan": _switch(
            "stop on a NaN loss, with advice", True,
            raise_error=key(False, "raise an error instead of stopping")),
        "learning_rate_logger": _switch("log the rate the schedule gave (history.csv's `learning_rate`)", True),
        "tensorboard": _switch(
            "write `tensorboard/` (needs `pip install tensorboard`)", False,
            histogram_freq=key(0, "epochs between weight histograms (0: none)", range=_COUNT)),
    }),
    "prune": Table(
        "magnitude pruning while training (`textrecipes.pruning`): the smallest weights zeroed on a cubic ramp, "
        "the zeros baked into every export", {
            "enabled": key(False, "prune while training (and `textrecipes prune` after); single-text "
                           "classification runs only"),
            "target_sparsity": key(0.9, "the fraction of each pruned weight set to zero", range="[0, 1)"),
            "start_epoch": key(1, "the epoch (from 0) whose first step prunes first", range=_COUNT),
            "end_epoch": key(3, "the target is reached at the start of this epoch (from 0), at most `train.epochs`; "
                             "the epochs after it train at the target", range=_COUNT),
            "frequency": key(100, "optimizer steps between two mask updates", range="[1, inf)"),
            "layers": key(["embedding", "rnn", "conv", "dense"], "layer kinds (`embedding`, `rnn`, `conv`, `dense`: "
                          "the output layer left out) and/or layer names", "list of str"),
            "targets": key({}, "layer name → its own target sparsity, e.g. `{bilstm = 0.5}` (named layers are pruned "
                           "whatever `layers` says); the others take `target_sparsity`"),
            "structured": key(False, "prune whole embedding rows (first those training never reads: unseen words, "
                              "empty n-gram buckets) and whole RNN units, Conv filters and hidden Dense units by "
                              "their norm, and export the compact model without them: a smaller, faster graph, not "
                              "only zeros (classification runs)"),
        }, switch=True),
    "evaluate": Table("what the model is scored against", {
        "baseline": key(True, "classification: also fit scikit-learn's TF-IDF + logistic regression on the training split "
                        "and report it beside the model (`metrics.json`'s `baseline`, the log, the report)"),
        "baseline_max_examples": key(100000, "the baseline is fitted on a seeded sample of at most this many training "
                                     "texts", range="[1, inf)"),
    }),
    "export": Table("the exported models", {
        "saved_model": key(True, "write `saved_model/` (raw strings in, checked against the Keras model)"),
        "keras": key(True, "write `model.keras`"),
        "tflite": key(False, "also write `model.tflite` (token ids in; checked, recorded in `metrics.json`)"),
        "tflite_quantize": key("float16", "`none`: float32; `float16`: weights in float16; `int8`: dynamic range",
                               choices=(_ref("export.tflite", "QUANTIZE"),)),
    }),
    "search": Table("hyperparameter search (`textrecipes search`), one full run per trial", {
        "method": key("none", "`grid`: every combination; `random`: a seeded sample; `none`: no search",
                      choices=(_ref("workflows.search", "METHODS"),)),
        "space": key({}, "dotted recipe key → list of values, e.g. `{\"train.batch_size\" = [32, 64]}`"),
        "max_trials": key(0, "most trials (0: the grid's size)", range=_COUNT),
        "time_budget_s": key(0.0, "no new trial starts after this many seconds (0: no limit)", range=_COUNT),
        "metric": key("val_accuracy", "what picks the best trial",
                      choices=(_ref("workflows.search", "METRICS"),)),
    }),
})


def iter_keys(table: Table = SCHEMA, path: tuple = ()) -> Iterator[tuple[tuple, Key | Table]]:
    """Every key and table of the schema, depth first, as ``(path, Key or Table)``.

    Args:
        table: where to start. Default `SCHEMA`.
        path: the path of ``table`` (for recursion). Default ().

    Yields:
        ``(("model", "units"), Key(...))``, and ``(("callbacks", "backup"), Table(...))``
        before the table's own keys.

    Example:
        >>> [".".join(p) for p, _ in iter_keys()][:4]
        ['name', 'seed', 'run_dir', 'data']
    """
    for name, item in table.keys.items():
        yield path + (name,), item
        if isinstance(item, Table):
            yield from iter_keys(item, path + (name,))


def lookup(path: tuple) -> Key | Table:
    """The schema entry at a path, e.g. ``("schedule", "name")``.

    Args:
        path: the key's parts.

    Returns:
        The `Key` or `Table`.

    Raises:
        KeyError: for a path the schema does not know.

    Example:
        >>> lookup(("model", "units")).default
        128
    """
    item: Key | Table = SCHEMA
    for part in path:
        if not isinstance(item, Table):
            raise KeyError(".".join(path))
        item = item.keys[part]
    return item


def choices_of(entry: Key) -> tuple:
    """The values a key allows (empty: any value of its type), `Ref`s read.

    Args:
        entry: a `Key`.

    Returns:
        A tuple of values.

    Example:
        >>> choices_of(lookup(("model", "task")))
        ('auto', 'binary', 'multiclass', 'multilabel')
    """
    values: list = []
    for choice in entry.choices:
        values.extend(choice.values() if isinstance(choice, Ref) else [choice])
    return tuple(values)


def bounds_of(entry: Key) -> tuple | None:
    """A key's range as ``(low, high, low_inclusive, high_inclusive)``, or None.

    Args:
        entry: a `Key` whose ``range`` is an interval like ``"[0, 1)"`` (``inf``: no bound).

    Returns:
        The bounds (an infinite side as ``None``), or None when the key has no range.

    Example:
        >>> bounds_of(lookup(("model", "dropout")))
        (0.0, 1.0, True, False)
    """
    if not entry.range:
        return None
    text = entry.range.strip()
    low, high = (float(part) for part in text[1:-1].split(","))
    return (None if math.isinf(low) else low, None if math.isinf(high) else high, text[0] == "[", text[-1] == "]")


def defaults(table: Table = SCHEMA) -> dict:
    """Every default, as a nested dict shaped like a resolved recipe.

    Args:
        table: where to start. Default `SCHEMA` (the whole recipe).

    Returns:
        A fresh dict: section → key → default (a callback: its options, ``enabled`` included).

    Example:
        >>> defaults()["callbacks"]["loss_plateau"]["enabled"]
        False
    """
    return {name: defaults(item) if isinstance(item, Table) else copy.deepcopy(item.default)
            for name, item in table.keys.items()}
