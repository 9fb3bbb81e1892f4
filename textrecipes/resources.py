"""The files textrecipes ships beside its code: the recipe files and the small sample datasets.

In a source checkout they are the repository's ``recipes/`` and ``data/samples/``;
in an installed wheel, copies inside the package (``textrecipes/_shipped/``, put
there by setup.py). `path` finds them in either.
"""

from __future__ import annotations

import os

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_PLACES = {"recipes": ("recipes",), "samples": ("data", "samples")}


def folder(kind: str) -> str:
    """The folder holding the shipped ``kind`` ("recipes" or "samples").

    Args:
        kind: "recipes" (the recipe files) or "samples" (the small sample datasets).

    Raises:
        FileNotFoundError: neither an installed copy nor a source checkout holds it.

    Example:
        >>> os.path.basename(folder("recipes"))
        'recipes'
    """
    if kind not in _PLACES:
        raise ValueError(f"kind must be one of {sorted(_PLACES)}, got {kind!r}")
    for candidate in (os.path.join(_PACKAGE, "_shipped", kind), os.path.join(os.path.dirname(_PACKAGE), *_PLACES[kind])):
        if os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(f"the shipped {kind} are missing from this installation ({_PACKAGE}); reinstall textrecipes")


def path(kind: str, name: str) -> str:
    """The path of one shipped file, e.g. ``path("samples", "label_text.tsv")``.

    Args:
        kind: "recipes" or "samples".
        name: the file's name in that folder.

    Example:
        >>> os.path.exists(path("samples", "label_text.tsv"))
        True
    """
    found = os.path.join(folder(kind), name)
    if not os.path.exists(found):
        available = ", ".join(sorted(os.listdir(folder(kind))))
        raise FileNotFoundError(f"no shipped {kind[:-1]} {name!r}; there are: {available}")
    return found


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra that brings it.

    Example:
        >>> str(MissingExtra("hyperparameter search needs keras_tuner: pip install 'textrecipes[search]'"))[:31]
        'hyperparameter search needs ker'
    """


def optional_import(module: str, extra: str, what: str):
    """Imports an optional dependency, or raises `MissingExtra` saying which extra to install.

    Args:
        module: the module to import.
        extra: the ``pip install 'textrecipes[EXTRA]'`` that brings it.
        what: what needs it, for the message.

    Example:
        >>> optional_import("json", "none", "this example").__name__
        'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module.split(".")[0]:
            raise
        raise MissingExtra(f"{what} needs {module}: pip install 'textrecipes[{extra}]'") from None
