"""The shipped recipes as Python functions: ``recipes.lstm("mine.tsv", epochs=3)`` is a validated recipe.

There is one function per shipped recipe file of the repository's ``recipes/``
folder (`available` lists them). Each is made from its TOML file when this
module is imported: the signature's defaults are the file's values (the schema's
default where the file says nothing), so ``help(recipes.lstm)`` and tab completion
show them, and the function with no arguments returns exactly
``load_recipe("recipes/<file>.toml")``. The files stay the one source.

Every function takes the data files first: ``train`` (and, optionally,
``validation`` and ``test``). Given a ``train`` file without ``validation`` or
``test``, those splits are split off ``train`` (``data.validation_split``,
``data.test_split``) rather than taken from the shipped recipe's own files.
After the most used keys (named in the signature), any other recipe key is a
keyword argument under its keyword name: the dotted key with ``_`` for each dot
(``train_label_smoothing=0.1``, ``callbacks_early_stopping_patience=5``; see
`textrecipes.recipe.keywords`).

Example:
    >>> from textrecipes import recipes
    >>> "lstm" in recipes.available()
    True
    >>> r = recipes.lstm("data/samples/label_text.tsv", epochs=2, train_label_smoothing=0.1)
    >>> r["train"]["epochs"], r["train"]["label_smoothing"], r["data"]["validation"]
    (2, 0.1, '')
    >>> print(str(r).splitlines()[0])
    name = "sentiment_lstm"
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable, Mapping

from textrecipes.recipe.keywords import keyword_overrides, merge
from textrecipes import resources
from textrecipes.recipe.loading import load_recipe, to_toml

__all__ = ["Recipe", "RECIPE_FOLDER", "SHIPPED", "available", "recipe_file"]

#: The shipped recipe files.
RECIPE_FOLDER = resources.folder("recipes")  # the checkout's recipes/, or the wheel's copy

# The keys most recipes are tuned by, as short keyword names.
_COMMON = {"epochs": "train.epochs", "batch_size": "train.batch_size", "learning_rate": "schedule.learning_rate",
           "embedding_dim": "model.embedding_dim", "units": "model.units", "dropout": "model.dropout",
           "max_length": "tokenize.max_length", "max_tokens": "tokenize.max_tokens"}
_EXTRA = {"kernel_sizes": "model.kernel_sizes", "match_features": "model.match_features",
          "lowercase": "tokenize.lowercase", "method": "search.method", "space": "search.space",
          "max_trials": "search.max_trials", "time_budget_s": "search.time_budget_s", "metric": "search.metric"}
_LAST = {"name": "name", "seed": "seed"}

#: function name → (recipe file stem, its short keyword names beyond the common ones).
SHIPPED: dict[str, tuple[str, tuple[str, ...]]] = {
    "lstm": ("sentiment_lstm", ()),
    "cnn": ("sentiment_cnn", ("kernel_sizes",)),
    "fasttext": ("sentiment_fasttext", ()),
    "pairs": ("pairs_lstm", ("match_features",)),
    "tagging": ("conll_bilstm", ("lowercase",)),
    "search": ("search_lr_batch", ("method", "space", "max_trials", "time_budget_s", "metric")),
}
_DEFAULT = "lstm"  # the default recipe (README: "the two commands")


class Recipe(dict):
    """A resolved, validated recipe (every key filled in) that shows itself as the TOML it is.

    It is a plain nested dict otherwise: `textrecipes.train` accepts it, and
    ``tomllib.loads(str(recipe))`` reads back the same keys (an unset key, None,
    is left out: TOML has no null).

    Example:
        >>> from textrecipes import recipes
        >>> r = recipes.cnn(epochs=1)
        >>> isinstance(r, dict), r["model"]["name"]
        (True, 'cnn')
    """

    def __str__(self) -> str:
        return to_toml(self)

    def __repr__(self) -> str:
        return f"# textrecipes recipe {self.get('name', '')!r}\n{to_toml(self)}"

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython: the TOML, not a dict dump
        printer.text(repr(self))


def recipe_file(function: str) -> str:
    """The shipped TOML file a recipe function is made from.

    Args:
        function: the recipe function's name, e.g. "cnn".

    Example:
        >>> os.path.basename(recipe_file("cnn"))
        'sentiment_cnn.toml'
    """
    stem, _ = SHIPPED[function]
    return os.path.join(RECIPE_FOLDER, f"{stem}.toml")


def available() -> list[str]:
    """The recipe functions of this module whose TOML file is present, the default recipe first.

    Example:
        >>> available()[0]
        'lstm'
    """
    names = [n for n in SHIPPED if os.path.exists(recipe_file(n))]
    return sorted(names, key=lambda n: (n != _DEFAULT, list(SHIPPED).index(n)))


def _summary(path: str) -> str:
    """The recipe file's leading comment, as one paragraph."""
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def _describe(dotted: str) -> str:
    from textrecipes.recipe.schema import lookup

    return lookup(tuple(dotted.split("."))).doc


def _get(recipe: Mapping, dotted: str):
    value: Any = recipe
    for part in dotted.split("."):
        value = value[part]
    return value


def _make(function: str) -> Callable:
    """Builds the recipe function for one shipped file: its signature's defaults are the file's values."""
    path = recipe_file(function)
    shipped = load_recipe(path)
    short = {**_COMMON, **{k: _EXTRA[k] for k in SHIPPED[function][1]}, **_LAST}
    P = inspect.Parameter
    params = [P(f, P.POSITIONAL_OR_KEYWORD, default=None) for f in ("train", "validation", "test")]
    params += [P(k, P.KEYWORD_ONLY, default=_get(shipped, dotted)) for k, dotted in short.items()]
    params.append(P("keys", P.VAR_KEYWORD))
    signature = inspect.Signature(params, return_annotation=Recipe)

    def recipe(*args, **kwargs) -> Recipe:
        bound = signature.bind(*args, **kwargs)
        given = dict(bound.arguments)
        extra = given.pop("keys", {})
        files = {f: os.fspath(given.pop(f)) for f in ("train", "validation", "test") if given.get(f) is not None}
        if "train" in files:  # the user's file: its splits, never the shipped recipe's own files
            files = {"validation": "", "test": "", **files}
        named = {short[k]: v for k, v in given.items()}
        overrides = merge({"data": files} if files else {}, keyword_overrides(named),
                          keyword_overrides(extra, f"{function}() keyword arguments"))
        return Recipe(load_recipe(path, overrides or None))

    recipe.__signature__ = signature
    recipe.__name__ = recipe.__qualname__ = function
    recipe.__module__ = __name__
    args = "\n".join(f"    {k}: {_describe(d)} (`{d}`). Default {_get(shipped, d)!r}." for k, d in short.items())
    recipe.__doc__ = (
        f"The shipped recipe ``recipes/{os.path.basename(path)}`` as a validated `Recipe`.\n\n{_summary(path)}\n\n"
        "Args:\n"
        "    train: the training file (default: the recipe's own). Given without ``validation``/``test``,\n"
        "        those are split off it.\n"
        "    validation: the validation file. Default None (as above).\n"
        "    test: the test file. Default None (as above).\n"
        f"{args}\n"
        "    **keys: any other recipe key by its keyword name, ``_`` for each dot\n"
        "        (``train_label_smoothing=0.1``); every key: ``textrecipes recipe keys``.\n\n"
        "Returns:\n    The resolved `Recipe`; `textrecipes.train` runs it.\n\n"
        f"Example:\n    >>> from textrecipes import recipes\n"
        f"    >>> recipes.{function}(epochs=1)[\"train\"][\"epochs\"]\n    1\n")
    return recipe


def __getattr__(name):
    if name in SHIPPED:
        raise AttributeError(f"textrecipes.recipes.{name}: its recipe file {recipe_file(name)} is missing "
                             "(the shipped recipes/ folder is not installed here)")
    raise AttributeError(f"module 'textrecipes.recipes' has no attribute {name!r}")


for _name in available():
    globals()[_name] = _make(_name)
    __all__.append(_name)
del _name
