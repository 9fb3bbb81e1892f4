"""Pruning a finished run: its model fine-tuned on its own data with the ``[prune]`` masks, into a new run folder.

`prune_run` is `textrecipes.workflows.finetune.finetune` on the run's own
training, validation and test files, with ``[prune]`` enabled: the sparsity
ramps from 0 over all epochs but the last, the last trains at the target, and
early stopping keeps only epochs at the target. The new folder is a full run
folder (exports checked, ``metrics.json`` with the ``pruning`` record, the
model card); the original is only read. ``structured=True`` prunes whole
embedding rows and units instead (``prune.structured``), and the new run's
exports are the compact model: fewer parameters, faster predictions.
"""

from __future__ import annotations

import json
import os

from textrecipes.export.metadata import RunFolderError
from textrecipes.recipe.loading import RecipeError, load_recipe
from textrecipes.run.harness import RunResult
from textrecipes.workflows.finetune import finetune

__all__ = ["prune_run"]


def prune_run(run_dir: str, *, out_dir: str, sparsity: float = 0.9, epochs: int = 3, layers=None,
              structured: bool = False, targets=None, learning_rate: float | None = None, overrides=None,
              overwrite: bool = False, verbose="auto") -> RunResult:
    """Prunes a finished run's model to ``sparsity`` while fine-tuning it on the run's data; writes a new run folder.

    Args:
        run_dir: a finished run folder (from `train` or `finetune`), only read.
        out_dir: the new run folder (never ``run_dir``; a folder that is not a
            textrecipes run is refused, as by every run).
        sparsity: the target fraction of zeros in each pruned weight. Default 0.9.
        epochs: fine-tuning epochs, at least 2: the sparsity ramps up over all
            but the last. Default 3.
        layers: what to prune (``prune.layers``: kinds and/or layer names).
            Default None (the recipe's: every embedding, RNN, Conv and hidden Dense).
        structured: whole embedding rows (first those training never reads) and
            whole RNN units, Conv filters and hidden Dense units by norm, the
            exports the compact model (``prune.structured``). Default False.
        targets: layer name → its own sparsity (``prune.targets``), e.g.
            ``{"bilstm": 0.5}``. Default None (``sparsity`` for every layer).
        learning_rate: Default None: a tenth of the run's rate, held constant (as `finetune`).
        overrides: more recipe overrides, ``["section.key=value", ...]``; they win
            over the pruning settings above (e.g. ``prune.frequency=20``). Default None.
        overwrite: replace a finished run in ``out_dir``. Default False.
        verbose: as for `textrecipes.workflows.train.train`. Default "auto".

    Returns:
        The new run's `RunResult`; its ``metrics.json`` holds ``pruning`` and ``finetune``.

    Raises:
        RunFolderError: for a missing or unusable run folder.
        RecipeError: for fewer than 2 epochs, a sparsity out of [0, 1) or other bad overrides.

    Example:
        >>> result = prune_run("runs/demo", out_dir="runs/demo_pruned", sparsity=0.9)  # doctest: +SKIP
        >>> result.metrics["accuracy"]  # doctest: +SKIP
        0.76
    """
    if not isinstance(epochs, int) or epochs < 2:
        raise RecipeError([f"epochs must be an integer >= 2 (the ramp, then an epoch at the target), got {epochs!r}"],
                          "textrecipes prune")
    recipe_path = os.path.join(run_dir, "recipe.toml")
    if not os.path.isfile(recipe_path):
        raise RunFolderError(f"{run_dir}: not a finished run folder (no recipe.toml)")
    try:
        data = load_recipe(recipe_path)["data"]
    except RecipeError as e:
        raise RunFolderError(f"{recipe_path}: the run's recipe cannot be used ({e})") from None
    if data["format"] != "label_text":  # a tagger, a language model, a pair run: refused before anything is read
        raise RecipeError([f"'prune.enabled' does not apply to data.format = {data['format']!r} ({recipe_path}): "
                           "pruning is wired into the single-text classifier only so far"], "textrecipes prune")
    end = epochs - 1  # the target is reached as epoch end-1 ends (epochs count from 0)
    prune = {"enabled": True, "target_sparsity": sparsity, "start_epoch": 0, "end_epoch": end, "structured": structured}
    if layers is not None:
        prune["layers"] = list(layers)
    given = [f"prune.{k}={_toml(v)}" for k, v in prune.items()]
    if targets:  # one inline table: one override a layer would each replace the table
        given.append("prune.targets={" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in targets.items()) + "}")
    given += [f"callbacks.early_stopping.start_from_epoch={end - 1}",  # best epochs only at the target
              f"data.max_train_examples={data['max_train_examples']}"]
    return finetune(run_dir, data["train"], out_dir=out_dir, validation=data["validation"] or None,
                    test=data["test"] or None, overrides=given + list(overrides or []), learning_rate=learning_rate,
                    epochs=epochs, overwrite=overwrite, verbose=verbose)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return repr(value)
