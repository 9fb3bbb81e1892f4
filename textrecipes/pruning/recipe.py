"""The recipe's ``[prune]`` table in a run: masks on the task's model, the callback, the model to export, and
what pruning gained (recorded in ``metrics.json`` and the model card).

A task that reads ``[prune]`` (the classification task) wraps the model it
builds with `prune_for_recipe`, adds `MagnitudePruning` to the fit, hands the
harness `finish_pruning`'s model to evaluate and export (the same layers,
without the masks layer, at the target sparsity), and records `pruning_record`.
"""

from __future__ import annotations

import logging
from typing import Mapping

import keras
from keras import ops

from textrecipes.pruning.masks import apply_masks, find_masks, mask_sparsity, masks_behind, update_masks
from textrecipes.pruning.report import export_size, sparsity_report
from textrecipes.pruning.schedule import PruningSchedule
from textrecipes.pruning.selection import prune_low_magnitude

log = logging.getLogger("textrecipes")

__all__ = ["prune_for_recipe", "finish_pruning", "pruning_record"]


def prune_for_recipe(model: keras.Model, prune_cfg: Mapping, steps_per_epoch: int) -> keras.Model:
    """The model with its pruning masks and the recipe's schedule (`prune_low_magnitude`), to compile and fit.

    Args:
        model: the task's functional model on token ids, built under the strategy scope.
        prune_cfg: the recipe's ``[prune]`` table (``target_sparsity``,
            ``start_epoch``, ``end_epoch``, ``frequency``, ``layers``).
        steps_per_epoch: optimizer steps per epoch (the epochs become steps).

    Returns:
        The model to compile and fit with `textrecipes.pruning.callback.MagnitudePruning`.

    Raises:
        ValueError: naming ``prune.layers`` for a layer the model does not have.

    Example:
        >>> inputs = keras.Input((8,))
        >>> model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(16, name="hidden")(inputs)))
        >>> cfg = {"target_sparsity": 0.5, "start_epoch": 0, "end_epoch": 1, "frequency": 10, "layers": ["dense"]}
        >>> find_masks(prune_for_recipe(model, cfg, steps_per_epoch=20))[0].schedule.end_step
        20
    """
    schedule = PruningSchedule.from_epochs(prune_cfg["target_sparsity"], start_epoch=prune_cfg["start_epoch"],
                                           end_epoch=prune_cfg["end_epoch"], steps_per_epoch=steps_per_epoch,
                                           frequency=prune_cfg["frequency"])
    try:
        pruned = prune_low_magnitude(model, schedule, layers=list(prune_cfg["layers"]))
    except ValueError as error:
        raise ValueError(f"prune.layers = {list(prune_cfg['layers'])}: {error}") from None
    log.info(f"pruning: {', '.join(sorted({t['layer'] for t in find_masks(pruned)[0].targets}))} to sparsity "
             f"{prune_cfg['target_sparsity']:g}, ramped from epoch {prune_cfg['start_epoch']} to "
             f"{prune_cfg['end_epoch']} (steps {schedule.begin_step}-{schedule.end_step}, every "
             f"{schedule.frequency})")
    return pruned


def finish_pruning(model: keras.Model) -> keras.Model:
    """The fitted model without its masks layer, every mask at its final target; a model without masks as it is.

    The run may end before the schedule's end step (early stopping), or with an
    earlier epoch's weights and masks (``restore_best_weights``): the masks are
    then brought to the final targets from the weights' magnitudes, and a
    message says so. The model returned shares the layers (no copy), so its
    weights are those to give the evaluation copy.

    Args:
        model: the model that was fitted (from `prune_for_recipe`), or any model.

    Returns:
        The model on the same layers without `PruningMasks`, zeros applied.

    Example:
        >>> inputs = keras.Input((8,))
        >>> model = keras.Model(inputs, keras.layers.Dense(4, name="h")(inputs))
        >>> cfg = {"target_sparsity": 0.5, "start_epoch": 0, "end_epoch": 1, "frequency": 10, "layers": ["h"]}
        >>> plain = finish_pruning(prune_for_recipe(model, cfg, steps_per_epoch=20))
        >>> find_masks(plain)[0] is None, float((plain.get_layer("h").kernel.numpy() == 0).mean())
        (True, 0.5)
    """
    masks_layer, owner = find_masks(model)
    if masks_layer is None:
        return model
    if owner is not model:
        raise ValueError(f"finish_pruning: the masks of {model.name!r} are inside a nested model")
    schedule = masks_layer.schedule
    if masks_behind(model, schedule.end_step):
        optimizer = getattr(model, "optimizer", None)
        step = None if optimizer is None else int(ops.convert_to_numpy(optimizer.iterations))
        log.info(f"pruning: training ended at step {step} with the masks below their target (early stopping, or "
                 f"restored best weights; the schedule ends at step {schedule.end_step}): pruned to the target now, "
                 "without further training")
        update_masks(model)
    else:
        apply_masks(model)
    log.info("pruning: masks at sparsity " + ", ".join(f"{k} {v:.3f}" for k, v in mask_sparsity(model).items()))
    return keras.Model(model.input, masks_layer.input, name=model.name)


def pruning_record(model: keras.Model, prune_cfg: Mapping, saved_model: str | None = None) -> dict:
    """What pruning did, for ``metrics.json`` and the model card: sparsity per layer, parameters, export sizes.

    Args:
        model: the exported (stripped) model, or one around it (the end-to-end model).
        prune_cfg: the recipe's ``[prune]`` table.
        saved_model: the exported SavedModel folder, sized raw and gzip-compressed. Default None.

    Returns:
        ``{"target_sparsity", "sparsity", "params_before", "params_after", "layers":
        {name: sparsity}, "saved_model": {"bytes", "gzip_bytes"} or None}``; ``params_after``
        counts the nonzero parameters.

    Example:
        >>> inputs = keras.Input((8,))
        >>> model = keras.Model(inputs, keras.layers.Dense(4, name="h")(inputs))
        >>> pruning_record(model, {"target_sparsity": 0.5})["params_before"]
        36
    """
    report = sparsity_report(model)
    return {"target_sparsity": prune_cfg["target_sparsity"], "sparsity": report["sparsity"],
            "params_before": report["params"], "params_after": report["nonzero"],
            "layers": {name: v["sparsity"] for name, v in report["layers"].items()},
            "saved_model": None if saved_model is None else export_size(saved_model)}
