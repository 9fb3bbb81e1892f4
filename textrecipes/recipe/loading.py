"""Recipe files: TOML only, validated against the defaults before anything runs.

A recipe names the stages of the data flow with the same words as the Python
API: ``[data]`` → ``[tokenize]`` → ``[model]`` → ``[optimizer]``/``[schedule]`` →
``[train]``/``[callbacks]`` → ``[export]``. Every key has a default here; a recipe
file only states what differs. Nothing in a recipe is executed or imported.
"""

from __future__ import annotations

import copy
import difflib
import os
import tomllib
from typing import Any, Mapping

from textrecipes.run.folder import check_name

DEFAULTS: dict[str, Any] = {
    "name": "recipe",
    "seed": 0,
    "run_dir": "",  # empty: runs/<name>
    "data": {
        "format": "label_text",  # label_text | pairs (text_a<TAB>text_b<TAB>label) | conll (token tag) | corpus (LM)
        "train": "",
        "validation": "",  # empty: split from train with validation_split
        "test": "",  # empty: split from train with test_split
        "text_first": False,
        "header": False,
        "labels": [],  # the declared label set; empty: the labels found in train
        "multi_label": False,
        "label_sep": ",",
        "on_bad_lines": "error",
        "validation_split": 0.1,
        "test_split": 0.1,
        "max_train_examples": 0,  # above 0: train on the first N training examples only (a quick look)
    },
    # On-the-fly EDA augmentation of the training split (never validation/test):
    # each epoch, each example is replaced with probability `probability` by a
    # fresh variant that depends only on (seed, epoch, example).
    "augment": {
        "enabled": False,
        "source": "wordnet",  # wordnet | file:PATH | vectors:PATH | none
        "probability": 0.5,
        "alpha_sr": 0.1,
        "alpha_ri": 0.1,
        "alpha_rs": 0.1,
        "p_rd": 0.1,
        "tokenizer": "whitespace",  # whitespace | chars | jieba
    },
    "tokenize": {
        "split": "word",
        "lowercase": True,
        "max_tokens": 20000,
        "min_freq": 1,
        # Whole documents for the n-gram branch (texts are padded per batch, so short ones cost
        # nothing more); the RNN reads the first model.rnn_length tokens.
        "max_length": 2048,
    },
    "model": {
        "name": "lstm",  # lstm | gru | cnn | fasttext (see models.BUILDERS)
        "task": "auto",  # auto | binary | multiclass | multilabel
        "embedding_dim": 128,
        "units": 128,  # RNN units per direction; CNN filters per kernel size
        "layers": 1,  # stacked RNN layers (lstm, gru)
        "kernel_sizes": [3, 4, 5],  # cnn
        "bidirectional": True,
        "pooling": "mean_max",
        "dropout": 0.5,
        "embedding_dropout": 0.2,
        "token_dropout": 0.2,  # word dropout: the model overfits after 1-2 epochs without it
        "l1": 0.0,
        "l2": 0.0,
        "ngram_buckets": 131072,  # the hashed-bigram branch; 0 turns it off
        "ngram_dim": 64,
        "ngram_words": True,  # the branch hashes the words too: a bag of words and bigrams (lstm, gru)
        "ngram_pooling": "sqrtn",  # sqrtn | mean: the branch's bag is summed over sqrt(n) (long texts are heard)
        "rnn_length": 256,  # the RNN reads the first N tokens, the n-gram branch all max_length; 0: RNN reads all
        "hidden_units": 0,  # above 0: a ReLU layer before the head
        "initializer": "glorot_uniform",
        "normalization": "none",  # none | batch | layer (after pooling)
        "vectors": "",  # pretrained word vectors, word2vec/GloVe text; empty: none
        "freeze_vectors": False,
        "init_from": "",  # a `textrecipes pretrain` folder: its vocabulary, word vectors (and LSTM)
        "init_from_layers": "embedding",  # embedding | embedding_lstm: what init_from copies (measured: embedding)
        "match_features": "tokens",  # pairs only: none | tokens | pooled | both (word-overlap signals)
    },
    # The learning rate lives in [schedule] (its peak rate): one key, one place.
    "optimizer": {
        "name": "adam",
        "weight_decay": 0.0,
        "clipnorm": 0.0,
    },
    "train": {
        "batch_size": 32,
        "epochs": 10,
        "label_smoothing": 0.0,
        "class_weight": "none",  # none | balanced (from the training labels; binary/multiclass)
        "bucket": True,
        "strategy": "auto",  # auto | cpu | gpu | mirrored | multi_worker (TF_CONFIG)
        "mixed_precision": "auto",  # auto (mixed_float16 on GPUs of compute capability >= 7.0) | true | false
        "unfreeze": "none",  # none | gradual (one layer group per epoch, head first; ULMFiT)
        "layer_lr_decay": 1.0,  # each lower layer group's rate is divided by this (ULMFiT: 2.6); 1: one rate
    },
    "export": {
        "saved_model": True,
        "keras": True,
        "tflite": False,  # model.tflite over token ids (tokenized in front; see textrecipes.export.tflite)
        "tflite_quantize": "float16",  # none | float16 | int8 (dynamic range)
    },
    # Hyperparameter search (`textrecipes search`): every combination (grid) or a
    # seeded sample (random) of the values in `space`, one full run per trial.
    "search": {
        "method": "none",  # none | grid | random
        "space": {},  # dotted recipe key → list of values, e.g. {"train.batch_size" = [32, 64]}
        "max_trials": 0,  # 0: every grid point (random: the grid's size)
        "time_budget_s": 0.0,  # 0: none; no new trial starts after this many seconds
        "metric": "val_accuracy",  # val_accuracy | val_loss | val_macro_f1
    },
}

# Tables whose keys are free (not checked against a default): `search.space` names recipe keys.
FREE_TABLES = {"search.space"}

CHOICES = {
    ("data", "format"): ("label_text", "pairs", "conll", "corpus"),
    ("data", "on_bad_lines"): ("error", "skip"),
    ("tokenize", "split"): ("word", "char", "jieba"),
    ("augment", "tokenizer"): ("whitespace", "chars", "jieba"),
    ("model", "name"): ("lstm", "gru", "cnn", "fasttext"),
    ("model", "task"): ("auto", "binary", "multiclass", "multilabel"),
    ("model", "pooling"): ("last", "max", "mean_max", "attention"),
    ("model", "initializer"): ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                               "lecun_normal", "orthogonal", "truncated_normal"),
    ("model", "normalization"): ("none", "batch", "layer"),
    ("model", "match_features"): ("none", "tokens", "pooled", "both"),
    ("model", "ngram_pooling"): ("sqrtn", "mean"),
    ("train", "class_weight"): ("none", "balanced"),
    ("optimizer", "name"): ("adam", "adamw", "sgd", "rmsprop", "adagrad"),
    ("train", "strategy"): ("auto", "cpu", "gpu", "mirrored", "multi_worker"),
    ("train", "mixed_precision"): ("auto", True, False),
    ("export", "tflite_quantize"): ("none", "float16", "int8"),
    ("search", "method"): ("none", "grid", "random"),
    ("search", "metric"): ("val_accuracy", "val_loss", "val_macro_f1"),
    ("train", "unfreeze"): ("none", "gradual"),
    ("model", "init_from_layers"): ("embedding", "embedding_lstm"),
}

# Keys whose value may take more than the default's type.
FLEXIBLE_TYPES = {"train.mixed_precision": (str, bool)}

# (section, key): (low, high, low_inclusive, high_inclusive)
RANGES = {
    ("data", "validation_split"): (0, 1, True, False),
    ("data", "test_split"): (0, 1, True, False),
    ("data", "max_train_examples"): (0, None, True, True),
    ("augment", "probability"): (0, 1, True, True),
    ("augment", "alpha_sr"): (0, 1, True, True),
    ("augment", "alpha_ri"): (0, 1, True, True),
    ("augment", "alpha_rs"): (0, 1, True, True),
    ("augment", "p_rd"): (0, 1, True, False),
    ("tokenize", "max_tokens"): (3, None, True, True),
    ("tokenize", "min_freq"): (1, None, True, True),
    ("tokenize", "max_length"): (1, None, True, True),
    ("model", "embedding_dim"): (1, None, True, True),
    ("model", "units"): (1, None, True, True),
    ("model", "layers"): (1, None, True, True),
    ("model", "hidden_units"): (0, None, True, True),
    ("model", "dropout"): (0, 1, True, False),
    ("model", "embedding_dropout"): (0, 1, True, False),
    ("model", "token_dropout"): (0, 1, True, False),
    ("model", "l1"): (0, None, True, True),
    ("model", "l2"): (0, None, True, True),
    ("model", "ngram_buckets"): (0, 2**20, True, True),
    ("model", "ngram_dim"): (1, None, True, True),
    ("model", "rnn_length"): (0, None, True, True),
    ("optimizer", "weight_decay"): (0, None, True, True),
    ("optimizer", "clipnorm"): (0, None, True, True),
    ("train", "batch_size"): (1, None, True, True),
    ("train", "epochs"): (1, None, True, True),
    ("train", "label_smoothing"): (0, 1, True, False),
    ("search", "max_trials"): (0, None, True, True),
    ("search", "time_budget_s"): (0, None, True, True),
    ("train", "layer_lr_decay"): (0, None, False, True),
}


class RecipeError(ValueError):
    """A recipe has problems; the message lists every one of them.

    Args:
        problems: one message per problem; kept as ``.problems``.
        source: what holds the problems: a file name, "command line". Default "recipe".

    Example:
        >>> try:
        ...     load_recipe({"model": {"unitz": 64}})
        ... except RecipeError as e:
        ...     print(e.problems[0])
        unknown key 'model.unitz' (did you mean 'units'?)
    """

    def __init__(self, problems: list[str], source: str = "recipe"):
        self.problems = problems
        super().__init__(f"{source} has {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))


def _extra_sections() -> dict[str, tuple[Any, Any]]:
    """Sections owned by other modules: name → (validator(config, recipe), resolver(config)).

    ``[schedule]`` and ``[callbacks]`` are validated and filled in by
    `textrecipes.training.schedules` and `textrecipes.training.callbacks`, which know their presets
    and their ``true``/``false`` shorthands.
    """
    from textrecipes.training import callbacks, schedules

    return {
        "schedule": (lambda c, r: schedules.validate_schedule(c, r["train"]["epochs"]), schedules.resolve_schedule_config),
        "callbacks": (lambda c, r: callbacks.validate_callbacks(c), callbacks.resolve_callbacks_config),
    }


def default_recipe() -> dict:
    """A deep copy of every default, extra sections included (as given: empty).

    Returns:
        A fresh dict: `DEFAULTS`, plus an empty table for each section that
        another module fills in (``schedule``, ``callbacks``).

    Example:
        >>> r = default_recipe()
        >>> r["model"]["units"], r["schedule"]
        (128, {})
    """
    recipe = copy.deepcopy(DEFAULTS)
    for name in _extra_sections():
        recipe[name] = {}
    return recipe


def _suggest(key: str, options) -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(options))})"


def _type_ok(default, value) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(default))


def merge(base: dict, update: Mapping, problems: list[str], path: str = "") -> dict:
    """Merges ``update`` into ``base`` (defaults), recording unknown keys and wrong types.

    Args:
        base: the defaults, or the recipe so far; updated in place.
        update: the given values, nested like ``base``.
        problems: a list that a message per unknown key or wrong type is appended to.
        path: the dotted prefix of ``base`` inside the recipe, for messages. Default "".

    Returns:
        ``base``, updated with every value that passed.

    Example:
        >>> problems = []
        >>> r = merge(default_recipe(), {"model": {"units": 64, "dropout": "high"}}, problems)
        >>> r["model"]["units"], problems
        (64, ["'model.dropout' must be float, got str 'high'"])
    """
    for key, value in update.items():
        where = f"{path}{key}"
        if key not in base:
            problems.append(f"unknown key {where!r}{_suggest(key, base)}")
            continue
        default = base[key]
        if where in FREE_TABLES:
            if not isinstance(value, Mapping):
                problems.append(f"{where!r} must be a table, got {type(value).__name__}")
            else:
                base[key] = copy.deepcopy(dict(value))
        elif isinstance(default, dict):
            if not isinstance(value, Mapping):
                problems.append(f"{where!r} must be a table, got {type(value).__name__}")
            elif not path and key in _extra_sections():
                # Checked key by key by the owning module's validator, then resolved.
                base[key] = {**default, **value}
            else:
                merge(default, value, problems, where + ".")
        elif where in FLEXIBLE_TYPES and not isinstance(value, FLEXIBLE_TYPES[where]):
            problems.append(f"{where!r} must be {' or '.join(t.__name__ for t in FLEXIBLE_TYPES[where])}, "
                            f"got {type(value).__name__} {value!r}")
        elif where not in FLEXIBLE_TYPES and isinstance(default, (bool, int, float, str, list)) and not _type_ok(default, value):
            problems.append(f"{where!r} must be {type(default).__name__}, got {type(value).__name__} {value!r}")
        else:
            base[key] = value
    return base


def validate(recipe: dict) -> list[str]:
    """Range and choice checks on a merged recipe; returns the problems found.

    Args:
        recipe: a merged recipe with every key (as `merge` makes from `default_recipe`).

    Returns:
        One message per problem; empty when the recipe is usable.

    Example:
        >>> r = default_recipe()
        >>> r["data"]["train"] = "data/samples/label_text.tsv"
        >>> validate(r)
        []
        >>> r["model"]["dropout"] = 1.5
        >>> validate(r)
        ["'model.dropout' = 1.5 is out of range (must be >= 0 and < 1)"]
    """
    problems = []
    for (section, key), options in CHOICES.items():
        value = recipe[section][key]
        if value not in options:
            problems.append(f"'{section}.{key}' must be one of {list(options)}, got {value!r}")
    for (section, key), (low, high, low_in, high_in) in RANGES.items():
        value = recipe[section][key]
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        too_low = low is not None and (value < low if low_in else value <= low)
        too_high = high is not None and (value > high if high_in else value >= high)
        if too_low or too_high:
            lo = "" if low is None else f"{'>=' if low_in else '>'} {low}"
            hi = "" if high is None else f"{'<=' if high_in else '<'} {high}"
            problems.append(f"'{section}.{key}' = {value!r} is out of range (must be {' and '.join(p for p in (lo, hi) if p)})")
    source = recipe["augment"]["source"]
    if not (source in ("wordnet", "none") or source.startswith(("file:", "vectors:"))):
        problems.append(f"'augment.source' must be 'wordnet', 'none', 'file:PATH' or 'vectors:PATH', got {source!r}")
    problems.extend(check_name(recipe["name"]))
    run_dir = recipe["run_dir"]
    if run_dir and (os.path.isabs(run_dir) or ".." in run_dir.replace("\\", "/").split("/")
                    or os.path.normpath(run_dir) == "."):
        # A finished run folder is replaced on --overwrite: a recipe from elsewhere must not
        # point that at a folder outside the working directory. --run-dir can, explicitly.
        problems.append(f"'run_dir' = {run_dir!r} must be a relative path inside the working folder "
                        "(no '..', not absolute, not '.'); pass --run-dir (run_dir= in Python) to write elsewhere")
    data = recipe["data"]
    if not data["train"]:
        problems.append("'data.train' is required: the path of the training TSV")
    if not data["test"] and not data["validation"] and data["validation_split"] + data["test_split"] >= 1:
        problems.append("'data.validation_split' + 'data.test_split' must be below 1")
    if recipe["model"]["task"] == "multilabel" and not data["multi_label"] or (
            data["multi_label"] and recipe["model"]["task"] not in ("auto", "multilabel")):
        problems.append("'data.multi_label = true' and 'model.task = \"multilabel\"' go together")
    sizes = recipe["model"]["kernel_sizes"]
    if not sizes or any(not isinstance(k, int) or isinstance(k, bool) or k < 1 for k in sizes):
        problems.append(f"'model.kernel_sizes' must be a non-empty list of positive integers, got {sizes!r}")
    if recipe["train"]["class_weight"] == "balanced" and (data["multi_label"] or recipe["model"]["task"] == "multilabel"):
        problems.append("'train.class_weight = \"balanced\"' is for binary and multiclass tasks: multi-label "
                        "examples carry several labels, so one weight per example cannot balance them")
    for name, (validator, _) in _extra_sections().items():
        problems.extend(validator(recipe[name], recipe))
    return problems


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"model.units=64"`` → (["model", "units"], 64); the value is read as TOML, else as a string.

    Args:
        item: a ``--set`` argument, ``section.key=value``.

    Returns:
        ``(keys, value)``: the dotted key split into its parts, and the value.

    Raises:
        RecipeError: when ``item`` has no "=".

    Example:
        >>> parse_override("model.units=64")
        (['model', 'units'], 64)
        >>> parse_override("data.train=data/train.tsv")
        (['data', 'train'], 'data/train.tsv')
    """
    if "=" not in item:
        raise RecipeError([f"--set {item!r} must look like section.key=value"], "command line")
    key, raw = item.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return [k.strip() for k in key.strip().split(".")], value


def load_recipe(source: str | os.PathLike | Mapping | None = None, overrides: list[str] | Mapping | None = None) -> dict:
    """Loads, merges and validates a recipe; raises `RecipeError` listing every problem.

    Args:
        source: a TOML file, a dict with the same structure, or None for defaults.
        overrides: ``["section.key=value", ...]`` (as from ``--set``) or a nested dict,
            applied after the file. Default None.

    Returns:
        The full recipe: every key, defaults filled in. Relative data paths in a
        file are resolved against the current directory, as on the command line.

    Example:
        >>> r = load_recipe({"data": {"train": "data/samples/label_text.tsv"}}, ["model.units=32"])
        >>> r["model"]["units"], r["model"]["embedding_dim"]
        (32, 128)
    """
    label = "recipe"
    if source is None:
        given: Mapping = {}
    elif isinstance(source, Mapping):
        given = source
    else:
        label = os.fspath(source)
        if not str(label).endswith(".toml"):
            raise RecipeError([f"recipe files are TOML and end in .toml, got {label!r}"], label)
        try:
            with open(source, "rb") as f:
                given = tomllib.load(f)
        except FileNotFoundError:
            raise RecipeError([f"no such recipe file: {label}"], label) from None
        except tomllib.TOMLDecodeError as e:
            raise RecipeError([f"not valid TOML: {e}"], label) from None
    problems: list[str] = []
    recipe = merge(default_recipe(), given, problems)
    if isinstance(overrides, Mapping):
        merge(recipe, overrides, problems)
    else:
        for item in overrides or []:
            keys, value = parse_override(item)
            nested: Any = value
            for k in reversed(keys):
                nested = {k: nested}
            merge(recipe, nested, problems)
    if problems:
        raise RecipeError(problems, label)
    problems = validate(recipe)
    if problems:
        raise RecipeError(problems, label)
    for name, (_, resolve) in _extra_sections().items():
        recipe[name] = resolve(recipe[name])
    return recipe


def to_toml(recipe: Mapping) -> str:
    """Writes a recipe (plain values and tables only) as TOML text.

    Args:
        recipe: a recipe, tables one level deep (as from `load_recipe`); a None
            value is written as a ``# key = (unset)`` comment.

    Returns:
        The TOML text; `load_recipe` reads it back.

    Raises:
        TypeError: for a value TOML cannot hold.

    Example:
        >>> print(to_toml({"name": "demo", "model": {"units": 64, "bidirectional": True}}))
        name = "demo"
        <BLANKLINE>
        [model]
        units = 64
        bidirectional = true
        <BLANKLINE>
    """

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, Mapping):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items() if x is not None) + "}"
        raise TypeError(f"cannot write {type(v).__name__} to TOML")

    def line(k, v):  # TOML has no null: an unset key is written as a comment
        return f"# {k} = (unset)" if v is None else f"{k} = {value(v)}"

    lines = [line(k, v) for k, v in recipe.items() if not isinstance(v, Mapping)]
    for k, v in recipe.items():
        if isinstance(v, Mapping):
            lines.append(f"\n[{k}]")
            lines.extend(line(kk, vv) for kk, vv in v.items())
    return "\n".join(lines) + "\n"
