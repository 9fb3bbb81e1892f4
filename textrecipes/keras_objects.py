"""Makes every textrecipes Keras object known to Keras, so a saved ``.keras`` file loads anywhere.

A ``.keras`` file names its custom layers, losses and schedules as
``textrecipes>Name``; Keras finds them only once the module that defines them
has run its ``register_keras_serializable`` decorator. `register()` imports
those modules. ``import textrecipes`` calls it at once when Keras is already
imported, and otherwise arranges for it to run right after Keras is first
imported (`install_hook`), so that ``import textrecipes`` stays light (no
TensorFlow) and ``keras.saving.load_model("runs/x/model.keras")`` still works
in a fresh process, whichever of the two was imported first.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys

# Every module that registers a Keras object; a test checks that none is missing.
MODULES = (
    "textrecipes.text.tokenization",
    "textrecipes.models.layers",
    "textrecipes.models.losses",
    "textrecipes.models.pairs",
    "textrecipes.models.tfidf",
    "textrecipes.models.linear",
    "textrecipes.models.auto",
    "textrecipes.training.optimizers",
    "textrecipes.training.schedules",
    "textrecipes.training.schedule_wrappers",
    "textrecipes.workflows.ensemble",
    "textrecipes.pruning.schedule",
    "textrecipes.pruning.masks",
    "textrecipes.pruning.structured",
)

_registered = False


def register() -> None:
    """Imports every module in `MODULES` (once), registering its Keras objects.

    Example:
        >>> from textrecipes.keras_objects import register
        >>> register()
        >>> import keras
        >>> keras.saving.get_registered_object("textrecipes>TextVectorizer").__name__
        'TextVectorizer'
    """
    global _registered
    if _registered:
        return
    _registered = True
    for name in MODULES:
        importlib.import_module(name)


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Runs `register` once Keras is imported and no textrecipes module is still being imported.

    Registering in the middle of one of our own imports could import a module
    that is half-initialized, so the finder counts our modules' imports in
    progress and registers when the count is back to zero.
    """

    def __init__(self):
        self.depth = 0

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith("textrecipes."):
            return None
        for finder in sys.meta_path:  # the normal finders do the finding
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            self.depth += 1
            try:
                exec_module(module)
            finally:
                self.depth -= 1
            if self.depth == 0 and "keras" in sys.modules and not _registered:
                if self in sys.meta_path:
                    sys.meta_path.remove(self)
                register()

        spec.loader.exec_module = exec_then_register
        return spec


def install_hook() -> None:
    """Registers now if Keras is imported, else as soon as it is and no textrecipes import is under way.

    Example:
        >>> from textrecipes.keras_objects import install_hook
        >>> install_hook()
    """
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(finder, _AfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())
