"""`train`: a recipe → the task its data format names → the run harness.

The one place where ``data.format`` picks a task: ``label_text`` → text
classification, ``pairs`` → text pairs, ``conll`` → sequence labelling,
``corpus`` → language-model pretraining.
Everything after that is the same run (`textrecipes.run.harness.run`).
"""

from __future__ import annotations

import logging
import os
from typing import Mapping

from textrecipes.recipe.keywords import keyword_overrides, merge
from textrecipes.recipe.loading import RecipeError, load_recipe, parse_override
from textrecipes.run.harness import RunResult, keras_verbosity, messages, run
from textrecipes.run.numbered import numbered_run_dir
from textrecipes.tasks.classification import ClassificationTask
from textrecipes.tasks.language_model import LanguageModelTask
from textrecipes.tasks.pairs import PairsTask
from textrecipes.tasks.streaming import StreamingClassificationTask, streams
from textrecipes.tasks.tagging import TaggingTask
from textrecipes.workflows.memory import memory_splits

log = logging.getLogger("textrecipes")

TASKS = {"label_text": ClassificationTask, "pairs": PairsTask, "conll": TaggingTask, "corpus": LanguageModelTask}


def task_for(cfg: Mapping, *, records: bool = False):
    """The task that fits a resolved recipe's ``data.format`` (streamed classification as ``data.streaming`` says).

    Args:
        cfg: the resolved recipe.
        records: the caller needs the splits' records in memory (an ensemble's shared
            splits, a report's validation examples): never the streamed task. Default False.

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> type(task_for(load_recipe({"data": {"train": "data/samples/label_text.tsv"}}))).__name__
        'ClassificationTask'
    """
    if cfg["data"]["format"] == "label_text" and not records and streams(cfg):
        return StreamingClassificationTask(cfg)
    if cfg["data"]["streaming"] is True and not records:
        raise RecipeError([f"data.streaming = true: only data.format = 'label_text' streams, not "
                           f"{cfg['data']['format']!r}; set data.streaming = 'auto' or false"], cfg["name"])
    return TASKS[cfg["data"]["format"]](cfg)


def train(recipe=None, *, overrides=None, run_dir: str | None = None, overwrite: bool | str = "auto",
          verbose="auto", texts=None, labels=None, data=None, text_column: str = "text", label_column: str = "label",
          validation_data=None, test_data=None, **keys) -> RunResult:
    """Trains, evaluates and exports a recipe, from its data files or from data held in memory.

    Recipe keys: every key, its default and its meaning are listed by
    ``textrecipes recipe keys`` (and ``textrecipes recipe show`` for a recipe),
    the README's "Recipe keys" table, and `textrecipes.recipe.schema.SCHEMA`;
    the shipped recipes are the functions of `textrecipes.recipes`.

    Args:
        recipe: a TOML path, a dict shaped like a recipe file (a `textrecipes.recipes`
            recipe), or None (defaults).
        overrides: ``["section.key=value", ...]`` or a nested dict. Default None.
        run_dir: where the artifacts go. Default: the recipe's ``run_dir``, else ``runs/<name>``.
        overwrite: what happens when ``run_dir`` is taken. ``"auto"`` (default): a
            finished run there is kept and this run goes to ``<run_dir>-2`` (``-3``, ...);
            so does a run beside a folder that is not a run folder, or beside an
            interrupted run of another recipe; an interrupted run of the same recipe
            resumes. Nothing is ever removed (`textrecipes.run.numbered`). ``True``:
            replace a finished run there. ``False``: refuse it with `FileExistsError`
            (the command line's default).
        verbose: as Keras' ``fit``: 0 silent, 1 progress bars, 2 a line per epoch;
            "auto" (default): 1 on a terminal or in a notebook, else 2. The stage
            messages (the ``textrecipes`` logger) show unless it is 0.
        texts: training texts held in memory (a list, tuple, array or pandas Series),
            with ``labels``. They are written to ``<run folder>/data/train.tsv`` and read
            from there (bad values are reported like a file's bad lines:
            `textrecipes.data.in_memory`); the recipe's ``data`` files are then not used,
            and validation/test are split off unless given below. Default None.
        labels: one label per text (strings, or whole numbers). Default None.
        data: instead of ``texts``/``labels``: a pandas DataFrame with a text and a
            label column. Default None.
        text_column: the DataFrames' text column. Default "text".
        label_column: the DataFrames' label column. Default "label".
        validation_data: with in-memory training data: the validation split, a
            DataFrame or a ``(texts, labels)`` pair. Default None (split off).
        test_data: the same for the test split. Default None (split off).
        **keys: recipe keys, laid over the recipe and ``overrides``: each dot written
            as ``_`` (``train_epochs=1``, ``model_units=64``), or dotted through a dict
            (``**{"train.epochs": 1}``); see `textrecipes.recipe.keywords`.

    Returns:
        A `RunResult`; in a notebook it shows its metrics and plots.

    Example:
        >>> result = train("recipes/sentiment_lstm.toml", train_epochs=1)  # doctest: +SKIP
        >>> result.metrics["accuracy"] > 0.6  # doctest: +SKIP
        True
        >>> train(recipes.fasttext(epochs=1), texts=["fun", "dull"] * 50, labels=["pos", "neg"] * 50)  # doctest: +SKIP
    """
    if overwrite not in (True, False, "auto"):
        raise ValueError(f"overwrite must be True, False or 'auto', got {overwrite!r}")
    extra = keyword_overrides(keys, "train() keyword arguments") if keys else {}
    memory = memory_splits(texts, labels, data, validation_data, test_data, text_column, label_column)
    if not extra and memory is None and overwrite != "auto":
        cfg = load_recipe(recipe, overrides)
        return run(task_for(cfg), cfg, run_dir=run_dir, overwrite=overwrite, verbose=verbose)
    layer = merge(_nested(overrides), extra)

    def recipe_for(folder: str | None) -> dict:
        if memory is None and not extra:
            return load_recipe(recipe, overrides)  # the overrides as given: one layer each
        return load_recipe(recipe, merge(layer, memory.data_keys(folder)) if memory is not None else layer)

    cfg = recipe_for(None)
    if memory is not None:
        memory.check(cfg)
    requested = os.fspath(run_dir or cfg["run_dir"] or os.path.join("runs", cfg["name"]))
    folder = numbered_run_dir(requested, recipe_for) if overwrite == "auto" else requested
    cfg = recipe_for(folder)
    task = task_for(cfg)
    with messages(keras_verbosity(verbose)):
        if folder != requested:
            log.info(f"{requested} is taken (a finished run, or not this recipe's): this run goes to {folder} "
                     "(overwrite=True replaces a finished run instead)")
        if memory is not None:
            task = memory.task(task)
        return run(task, cfg, run_dir=folder, overwrite=bool(overwrite is True), verbose=verbose)


def _nested(overrides) -> dict:
    """``overrides`` (a list of ``section.key=value`` or a nested dict) as one nested dict, a later item winning."""
    if overrides is None or isinstance(overrides, Mapping):
        return merge(overrides or {})
    if isinstance(overrides, str):
        raise TypeError(f"overrides must be a list of 'section.key=value' strings or a dict, got the string {overrides!r}")
    layers = []
    for item in overrides:
        path, value = parse_override(item)
        for part in reversed(path):
            value = {part: value}
        layers.append(value)
    return merge(*layers)
