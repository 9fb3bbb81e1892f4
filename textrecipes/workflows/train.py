"""`train`: a recipe → the task its data format names → the run harness.

The one place where ``data.format`` picks a task: ``label_text`` → text
classification, ``pairs`` → text pairs, ``conll`` → sequence labelling,
``corpus`` → language-model pretraining.
Everything after that is the same run (`textrecipes.run.harness.run`).
"""

from __future__ import annotations

from typing import Mapping

from textrecipes.recipe.loading import load_recipe
from textrecipes.run.harness import RunResult, run
from textrecipes.tasks.classification import ClassificationTask
from textrecipes.tasks.language_model import LanguageModelTask
from textrecipes.tasks.pairs import PairsTask
from textrecipes.tasks.tagging import TaggingTask

TASKS = {"label_text": ClassificationTask, "pairs": PairsTask, "conll": TaggingTask, "corpus": LanguageModelTask}


def task_for(cfg: Mapping):
    """The task that fits a resolved recipe's ``data.format``.

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> type(task_for(load_recipe({"data": {"train": "data/samples/label_text.tsv"}}))).__name__
        'ClassificationTask'
    """
    return TASKS[cfg["data"]["format"]](cfg)


def train(recipe=None, *, overrides=None, run_dir: str | None = None, overwrite: bool = False,
          verbose="auto") -> RunResult:
    """Trains, evaluates and exports a recipe.

    Args:
        recipe: a TOML path, a dict shaped like a recipe file, or None (defaults).
        overrides: ``["section.key=value", ...]`` or a nested dict. Default None.
        run_dir: where the artifacts go. Default: the recipe's ``run_dir``, else ``runs/<name>``.
        overwrite: replace a finished run in ``run_dir``. Default False.
        verbose: as Keras' ``fit``: 0 silent, 1 progress bars, 2 a line per epoch;
            "auto" (default): 1 on a terminal or in a notebook, else 2. The stage
            messages (the ``textrecipes`` logger) show unless it is 0.

    Returns:
        A `RunResult`.

    Example:
        >>> result = train("recipes/sentiment_lstm.toml", overrides=["train.epochs=1"])  # doctest: +SKIP
        >>> result.metrics["accuracy"] > 0.6  # doctest: +SKIP
        True
    """
    cfg = load_recipe(recipe, overrides)
    return run(task_for(cfg), cfg, run_dir=run_dir, overwrite=overwrite, verbose=verbose)
