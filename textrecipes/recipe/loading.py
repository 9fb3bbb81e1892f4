"""Recipe files: TOML only, validated against the schema before anything runs.

A recipe names the stages of the data flow with the same words as the Python
API: ``[data]`` → ``[tokenize]`` → ``[model]`` → ``[optimizer]``/``[schedule]`` →
``[train]``/``[callbacks]`` → ``[export]``. Every key has a default
(`textrecipes.recipe.schema.SCHEMA`); a recipe file only states what differs.
Nothing in a recipe is executed or imported.

Paths: a relative data path written in a recipe file (``data.train``,
``data.validation``, ``data.test``, ``model.vectors``, ``model.init_from``,
``augment.source = "file:..."``) is relative to the recipe file's folder, so a
recipe and its data travel together; paths given on the command line
(``--set``) or in a dict are relative to the current directory. ``run_dir`` is
always relative to the current directory. When a later layer (``--set``, a
dict of overrides) names another ``data.train`` without naming
``data.validation``/``data.test``, the file's validation and test files (which
belong to its own training file) are dropped, and both are split off the new
training file.
"""

from __future__ import annotations

import copy
import glob
import logging
import os
import tomllib
from typing import Any, Mapping

import tomli_w

from textrecipes.data.files import check_regular_file
from textrecipes.data.records import DataError
from textrecipes.recipe.schema import Key, defaults, iter_keys
from textrecipes.recipe.validation import RecipeError, resolve

log = logging.getLogger("textrecipes")

# Path keys relative to the recipe file; run_dir stays relative to the working folder.
RELATIVE_TO_RECIPE = tuple(".".join(path) for path, entry in iter_keys()
                           if isinstance(entry, Key) and entry.type.startswith("path") and path != ("run_dir",))
PREFIXED_PATHS = {"augment.source": ("file:", "vectors:")}  # a path after a prefix

__all__ = ["DEFAULTS", "RecipeError", "default_recipe", "parse_override", "recipe_layers", "load_recipe", "to_toml"]


def default_recipe() -> dict:
    """A fresh copy of the fully resolved default recipe: every key of the schema, every default.

    Returns:
        A nested dict: section → key → default; ``callbacks`` holds each callback's
        options, ``enabled`` included; an unset key (``schedule.warmup_steps``) is None.

    Example:
        >>> r = default_recipe()
        >>> r["model"]["units"], r["schedule"]["name"], r["callbacks"]["backup"]
        (128, 'constant', {'enabled': True})
    """
    return defaults()


#: The defaults, for reading (`default_recipe` gives a copy to change).
DEFAULTS: dict[str, Any] = default_recipe()


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


def recipe_layers(source: str | os.PathLike | Mapping | None = None,
                  overrides: list[str] | Mapping | None = None) -> tuple[str, list[Mapping]]:
    """Reads a recipe's layers: the file (or dict), then each override.

    Args:
        source: a TOML file, a dict with the same structure, or None for defaults.
        overrides: ``["section.key=value", ...]`` (as from ``--set``; one layer each, a
            later one winning) or a nested dict. Default None.

    Returns:
        ``(label, layers)``: what to call the recipe in messages (its file name, or
        "recipe") and the nested dicts to lay over the defaults, in order.

    Raises:
        RecipeError: for a file that is missing, not ``.toml``, not UTF-8 or not valid
            TOML, and for an override without "=".

    Example:
        >>> recipe_layers(None, ["model.units=32"])
        ('recipe', [{}, {'model': {'units': 32}}])
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
        except UnicodeDecodeError as e:
            raise RecipeError([f"not UTF-8 text (byte {e.start}): save the recipe as UTF-8"], label) from None
        except OSError as e:
            raise RecipeError([f"cannot read the recipe file: {e.strerror or e}"], label) from None
        given = relative_to(given, os.path.dirname(label))
    layers = [given]
    if isinstance(overrides, Mapping):
        layers.append(overrides)
    else:
        for item in overrides or []:
            keys, value = parse_override(item)
            nested: Any = value
            for k in reversed(keys):
                nested = {k: nested}
            layers.append(nested)
    return label, _new_train_drops_old_splits(label, layers)


def relative_to(layer: Mapping, folder: str) -> dict:
    """A copy of ``layer`` with its relative data paths joined to ``folder`` (a recipe file's folder).

    Example:
        >>> relative_to({"data": {"train": "../data/x.tsv", "test": "/abs/y.tsv"}}, "recipes")["data"]
        {'train': 'data/x.tsv', 'test': '/abs/y.tsv'}
    """
    return _map_relative_paths(layer, lambda path: os.path.normpath(os.path.join(folder, path)) if folder else path)


def _map_relative_paths(recipe: Mapping, fn) -> dict:
    """A copy of ``recipe`` with ``fn`` applied to each relative data path (after a ``file:`` prefix, if any)."""
    out = copy.deepcopy(dict(recipe))
    for dotted in RELATIVE_TO_RECIPE + tuple(PREFIXED_PATHS):
        section, _, name = dotted.rpartition(".")
        table = out.get(section) if section else out
        if isinstance(table, dict) and isinstance(table.get(name), list):  # a list of files (data.train)
            table[name] = [item if not isinstance(item, str) or os.path.isabs(os.path.expanduser(item)) else fn(item)
                           for item in table[name]]
            continue
        if not isinstance(table, dict) or not isinstance(table.get(name), str) or not table[name]:
            continue
        value, prefix = table[name], ""
        for candidate in PREFIXED_PATHS.get(dotted, ()):
            if value.startswith(candidate):
                prefix, value = candidate, value[len(candidate):]
        if dotted in PREFIXED_PATHS and not prefix:
            continue  # e.g. augment.source = "wordnet": not a path
        if not os.path.isabs(os.path.expanduser(value)):
            table[name] = prefix + fn(value)
    return out


def _new_train_drops_old_splits(label: str, layers: list[Mapping]) -> list[Mapping]:
    """Layers where an earlier layer's validation/test files are dropped when a later one names another train file."""
    out = [layer for layer in layers]
    for i, layer in enumerate(layers[1:], 1):
        data = layer.get("data") if isinstance(layer, Mapping) else None
        if not isinstance(data, Mapping) or "train" not in data:
            continue
        for j in range(i):
            earlier = out[j].get("data") if isinstance(out[j], Mapping) else None
            if not isinstance(earlier, Mapping) or earlier.get("train") == data["train"]:
                continue
            dropped = [k for k in ("validation", "test") if earlier.get(k) and k not in data]
            if dropped:
                out[j] = {**out[j], "data": {k: v for k, v in earlier.items() if k not in dropped}}
                log.warning(f"data.train = {data['train']!r} replaces {earlier.get('train')!r} of {label}: its "
                            f"{' and '.join('data.' + k for k in dropped)} ({', '.join(repr(earlier[k]) for k in dropped)}) "
                            "belonged to that file and are split off the new one instead (set them to keep them)")
    return out


def missing_files(recipe: Mapping) -> list[str]:
    """One message per data path in a resolved recipe that does not name an existing file (or folder, for init_from).

    Example:
        >>> missing_files({"data": {"train": "no/such.tsv"}})
        ["data.train = 'no/such.tsv': no such file (a relative path in a recipe file is relative to the recipe's folder)"]
    """
    problems = []
    for dotted in RELATIVE_TO_RECIPE + tuple(PREFIXED_PATHS):
        section, _, name = dotted.rpartition(".")
        table = recipe.get(section, {}) if section else recipe
        value = table.get(name) if isinstance(table, Mapping) else None
        if isinstance(value, list) or isinstance(value, str) and glob.has_magic(value):
            problems.append(f"{dotted} = {value!r}: a list or a glob of files is read only by the streamed "
                            "classification path (data.format = 'label_text', data.streaming = true or 'auto')")
            continue
        if not isinstance(value, str) or not value:
            continue
        path = value
        for prefix in PREFIXED_PATHS.get(dotted, ()):
            if value.startswith(prefix):
                path = value[len(prefix):]
        if dotted in PREFIXED_PATHS and path == value:
            continue
        where = "(a relative path in a recipe file is relative to the recipe's folder)"
        if dotted == "model.init_from":
            if not os.path.isdir(path):
                problems.append(f"{dotted} = {value!r}: no such folder {where}")
            continue
        try:
            check_regular_file(path, dotted)  # os.stat only: a FIFO is refused, never opened
        except FileNotFoundError:
            problems.append(f"{dotted} = {value!r}: no such file {where}")
        except DataError as e:
            problems.append(f"{dotted} = {value!r}: {str(e).split(': ', 1)[-1]}")
    return problems


def load_recipe(source: str | os.PathLike | Mapping | None = None, overrides: list[str] | Mapping | None = None) -> dict:
    """Loads, merges and validates a recipe; raises `RecipeError` listing every problem.

    Args:
        source: a TOML file, a dict with the same structure, or None for defaults.
        overrides: ``["section.key=value", ...]`` (as from ``--set``; a later one wins) or
            a nested dict, applied after the file. Default None.

    Returns:
        The full recipe: every key, defaults filled in (a plain nested dict). Relative
        data paths in a file are resolved against the file's folder; those in
        ``overrides`` or a dict against the current directory (see the module docs).

    Raises:
        RecipeError: listing every problem: unknown keys (with a "did you mean"), wrong
            types, values out of range or not among the choices, keys that contradict
            each other.

    Example:
        >>> r = load_recipe({"data": {"train": "data/samples/label_text.tsv"}}, ["model.units=32"])
        >>> r["model"]["units"], r["model"]["embedding_dim"]
        (32, 128)
    """
    label, layers = recipe_layers(source, overrides)
    recipe, problems = resolve(layers)
    if problems:
        raise RecipeError(problems, label)
    return recipe


def _without_unset(table: Mapping) -> dict:
    return {k: _without_unset(v) if isinstance(v, Mapping) else v for k, v in table.items() if v is not None}


def to_toml(recipe: Mapping, folder: str | None = None) -> str:
    """Writes a recipe as TOML text (with `tomli_w`); `load_recipe` reads it back to the same recipe.

    Args:
        recipe: a recipe (as from `load_recipe`). TOML has no null: an unset key (None)
            is left out, and reads back as unset.
        folder: the folder the TOML file will live in: relative data paths (relative
            to the current directory in ``recipe``) are rewritten relative to it, so
            that loading the file finds the same files. Default None (as they are).

    Returns:
        The TOML text.

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
    if folder is not None:
        recipe = _relative_paths(recipe, folder)
    return tomli_w.dumps(_without_unset(recipe))


def _relative_paths(recipe: Mapping, folder: str) -> dict:
    """The inverse of `relative_to`: relative data paths rewritten from the current directory to ``folder``."""
    return _map_relative_paths(recipe, lambda path: os.path.relpath(path, folder))
