"""Recipe keys as Python keyword arguments: ``train_label_smoothing=0.1`` is ``train.label_smoothing = 0.1``.

A dotted key cannot be a Python keyword, so `train` and the recipe functions of
`textrecipes.recipes` take every recipe key under its *keyword name*: the dotted
key with each dot written as an underscore (``model_units``, ``schedule_learning_rate``,
``callbacks_early_stopping_patience``; the top-level keys ``name``, ``seed`` and
``run_dir`` as they are). No two keys share a keyword name (`KEYWORDS` is checked
when this module is imported). The dotted form is accepted too, through a dict:
``train(recipe, **{"train.label_smoothing": 0.1})``.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from textrecipes.recipe.schema import Key, Table, iter_keys
from textrecipes.recipe.validation import RecipeError

__all__ = ["KEYWORDS", "keyword_overrides", "merge"]


def _keywords() -> dict[str, tuple]:
    """keyword name → key path, for every key of the schema (a switch table by its own name too)."""
    found: dict[str, tuple] = {}
    for path, entry in iter_keys():
        if isinstance(entry, Key) or (isinstance(entry, Table) and entry.switch):
            name = "_".join(path)
            if name in found and found[name] != path:  # pragma: no cover - a schema change would show here
                raise AssertionError(f"recipe keys {found[name]} and {path} share the keyword name {name!r}")
            found[name] = path
    return found


#: keyword name → key path, e.g. ``"train_epochs"`` → ``("train", "epochs")``.
KEYWORDS: dict[str, tuple] = _keywords()
_DOTTED = {".".join(path): path for path in KEYWORDS.values()}


def merge(*layers: Mapping) -> dict:
    """Lays nested dicts over each other, a later one winning key by key (a deep copy of dicts).

    Example:
        >>> merge({"model": {"units": 32, "dropout": 0.1}}, {"model": {"units": 64}})
        {'model': {'units': 64, 'dropout': 0.1}}
    """
    out: dict = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, Mapping) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            elif isinstance(value, Mapping):
                out[key] = merge(value)
            else:
                out[key] = value
    return out


def keyword_overrides(keys: Mapping[str, Any], where: str = "keyword arguments") -> dict:
    """Keyword arguments (keyword names or dotted keys) → a nested override dict.

    Args:
        keys: ``{"model_units": 64, "train.label_smoothing": 0.1, ...}``.
        where: what holds them, for the error message. Default "keyword arguments".

    Returns:
        The nested dict, e.g. ``{"model": {"units": 64}}``.

    Raises:
        RecipeError: naming every unknown keyword (with a "did you mean").

    Example:
        >>> keyword_overrides({"model_units": 64, "train.label_smoothing": 0.1})
        {'model': {'units': 64}, 'train': {'label_smoothing': 0.1}}
    """
    nested: dict = {}
    problems = []
    for name, value in keys.items():
        path = KEYWORDS.get(name) or _DOTTED.get(name)
        if path is None:
            close = difflib.get_close_matches(name, list(KEYWORDS) + list(_DOTTED), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else " (write a recipe key with _ for each dot: model_units)"
            problems.append(f"unknown recipe keyword {name!r}{hint}")
            continue
        table = nested
        for part in path[:-1]:
            table = table.setdefault(part, {})
        table[path[-1]] = value
    if problems:
        raise RecipeError(problems, where)
    return nested
