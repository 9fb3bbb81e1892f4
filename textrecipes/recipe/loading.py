"""Recipe files: TOML only, validated against the schema before anything runs.

A recipe names the stages of the data flow with the same words as the Python
API: ``[data]`` → ``[tokenize]`` → ``[model]`` → ``[optimizer]``/``[schedule]`` →
``[train]``/``[callbacks]`` → ``[export]``. Every key has a default
(`textrecipes.recipe.schema.SCHEMA`); a recipe file only states what differs.
Nothing in a recipe is executed or imported.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any, Mapping

import tomli_w

from textrecipes.recipe.schema import defaults
from textrecipes.recipe.validation import RecipeError, resolve

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
    return label, layers


def load_recipe(source: str | os.PathLike | Mapping | None = None, overrides: list[str] | Mapping | None = None) -> dict:
    """Loads, merges and validates a recipe; raises `RecipeError` listing every problem.

    Args:
        source: a TOML file, a dict with the same structure, or None for defaults.
        overrides: ``["section.key=value", ...]`` (as from ``--set``; a later one wins) or
            a nested dict, applied after the file. Default None.

    Returns:
        The full recipe: every key, defaults filled in (a plain nested dict). Relative
        data paths in a file are resolved against the current directory, as on the
        command line.

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


def to_toml(recipe: Mapping) -> str:
    """Writes a recipe as TOML text (with `tomli_w`); `load_recipe` reads it back to the same recipe.

    Args:
        recipe: a recipe (as from `load_recipe`). TOML has no null: an unset key (None)
            is left out, and reads back as unset.

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
    return tomli_w.dumps(_without_unset(recipe))
