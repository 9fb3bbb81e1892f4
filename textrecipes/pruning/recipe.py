"""The recipe's ``[prune]`` table in a run: masks on the task's model, the callback, the model to export, and
what pruning gained (recorded in ``metrics.json`` and the model card).

A task that reads ``[prune]`` (the classification task) wraps the model it
builds with `prune_for_recipe`, adds `MagnitudePruning` to the fit, hands the
harness `finish_pruning`'s model to evaluate and export (the same layers,
without the masks layer, at the target sparsity), and records `pruning_record`.
With ``prune.structured``, the embedding rows the training split never reads
are pruned before the fit (`prune_unread_rows`), and the model evaluated and
exported is `compact_for_recipe`'s: the trained model without its pruned rows
and units, checked to give its predictions.
"""

from __future__ import annotations

import logging
from typing import Mapping

import keras
import numpy as np
from keras import ops

from textrecipes.export.saved_model import EXPORT_TOLERANCE, compare_outputs
from textrecipes.pruning.compact import compact_model, compaction_summary
from textrecipes.pruning.masks import apply_masks, find_masks, mask_sparsity, masks_behind, update_masks
from textrecipes.pruning.report import export_size, sparsity_report
from textrecipes.pruning.schedule import PruningSchedule
from textrecipes.pruning.selection import mask_unused_rows, prune_low_magnitude

log = logging.getLogger("textrecipes")

__all__ = ["prune_for_recipe", "prune_unread_rows", "finish_pruning", "compact_for_recipe", "pruning_record"]


def prune_for_recipe(model: keras.Model, prune_cfg: Mapping, steps_per_epoch: int) -> keras.Model:
    """The model with its pruning masks and the recipe's schedule (`prune_low_magnitude`), to compile and fit.

    Args:
        model: the task's functional model on token ids, built under the strategy scope.
        prune_cfg: the recipe's ``[prune]`` table (``target_sparsity``,
            ``start_epoch``, ``end_epoch``, ``frequency``, ``layers``, and optionally
            ``targets`` and ``structured``: whole rows and units by norm).
        steps_per_epoch: optimizer steps per epoch (the epochs become steps).

    Returns:
        The model to compile and fit with `textrecipes.pruning.callback.MagnitudePruning`.

    Raises:
        ValueError: naming ``prune.layers`` and ``prune.targets`` for a layer the model does not have.

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
    targets, structured = dict(prune_cfg.get("targets") or {}), bool(prune_cfg.get("structured", False))
    try:
        pruned = prune_low_magnitude(model, schedule, layers=list(prune_cfg["layers"]), targets=targets,
                                     structured=structured)
    except ValueError as error:
        raise ValueError(f"prune.layers = {list(prune_cfg['layers'])}, prune.targets = {targets}: {error}") from None
    chosen = {t["layer"]: t["sparsity"] for t in find_masks(pruned)[0].targets}
    kind = " (structured: whole rows and units by norm)" if structured else ""
    log.info(f"pruning{kind}: {', '.join(f'{name} to {value:g}' for name, value in sorted(chosen.items()))}, ramped "
             f"from epoch {prune_cfg['start_epoch']} to {prune_cfg['end_epoch']} (steps {schedule.begin_step}-"
             f"{schedule.end_step}, every {schedule.frequency})")
    return pruned


def prune_unread_rows(model: keras.Model, train_ids) -> dict:
    """``prune.structured``: the embedding rows no training input reads are pruned before the fit (`mask_unused_rows`).

    They keep their random initial values otherwise, and only add noise (words
    of the vocabulary that truncation hides, hashed n-gram buckets no bigram
    falls into); pruned, they count towards each layer's target and the compact
    model leaves them out.

    Args:
        model: from `prune_for_recipe` (its masks layer at the top level).
        train_ids: the training split's ``(ids, targets)`` batches, unaugmented.

    Returns:
        ``{embedding layer: rows pruned}``.

    Example:
        >>> from textrecipes.models.classifiers import build_fasttext_classifier
        >>> cfg = {"target_sparsity": 0.5, "start_epoch": 0, "end_epoch": 1, "frequency": 10, "layers": ["embedding"],
        ...        "structured": True}
        >>> pruned = prune_for_recipe(build_fasttext_classifier(10, 2, embedding_dim=4, ngram_buckets=0), cfg, 20)
        >>> prune_unread_rows(pruned, np.array([[2, 3, 3, 0]]))
        {'embedding': 8}
    """
    unread = mask_unused_rows(model, train_ids)
    sizes = {t["layer"]: t["shape"][0] for t in find_masks(model)[0].targets}
    if unread:
        log.info("pruning: rows the training split never reads, pruned first: "
                 + ", ".join(f"{name} {n:,} of {sizes[name]:,}" for name, n in unread.items()))
    return unread


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


def compact_for_recipe(model: keras.Model, texts, end_to_end) -> tuple[keras.Model, dict]:
    """``prune.structured``: the compact model of the trained one (`compact_model`), checked to predict as it does.

    Args:
        model: the trained classifier on token ids, its pruned rows and units zero
            (the evaluation copy that received `finish_pruning`'s weights).
        texts: raw texts both models predict, over ``end_to_end``.
        end_to_end: model → the raw-string model around it (the task's vectorizer in front).

    Returns:
        ``(compact model, record)``: the record is `compaction_summary`'s with
        ``max_abs_diff``, the largest probability difference on ``texts``.

    Raises:
        ExportError: when the compact model's predictions differ by more than
            ``EXPORT_TOLERANCE`` (1e-5).

    Example:
        >>> small, record = compact_for_recipe(copy, texts, task.end_to_end)  # doctest: +SKIP
        >>> record["params_after"] < record["params_before"], record["max_abs_diff"] < 1e-5  # doctest: +SKIP
        (True, True)
    """
    small = compact_model(model)
    batch = np.array(list(texts), dtype=object)
    expected = end_to_end(model).predict(batch, batch_size=256, verbose=0)
    got = end_to_end(small).predict(batch, batch_size=256, verbose=0)
    diff = compare_outputs(expected, got, "the compact model", EXPORT_TOLERANCE)
    record = {**compaction_summary(model, small), "max_abs_diff": diff, "texts": len(batch)}
    log.info(f"pruning: compact model {record['params_after']:,} of {record['params_before']:,} parameters ("
             + ", ".join(f"{name} {a:,} → {b:,}" for name, (a, b) in record["layers"].items())
             + f"); agrees with the pruned model (max |diff| {diff:.2e} on {len(batch)} texts)")
    return small, record


def pruning_record(model: keras.Model, prune_cfg: Mapping, saved_model: str | None = None,
                   compaction: Mapping | None = None) -> dict:
    """What pruning did, for ``metrics.json`` and the model card: sparsity per layer, parameters, export sizes.

    Args:
        model: the exported (stripped) model, or one around it (the end-to-end model).
        prune_cfg: the recipe's ``[prune]`` table.
        saved_model: the exported SavedModel folder, sized raw and gzip-compressed. Default None.
        compaction: `compact_for_recipe`'s record when ``model`` is the compact model
            (``prune.structured``). Default None.

    Returns:
        ``{"target_sparsity", "sparsity", "params_before", "params_after", "layers":
        {name: sparsity}, "saved_model": {"bytes", "gzip_bytes"} or None, "structured"}``;
        ``params_after`` counts the nonzero parameters; with ``compaction``,
        ``params_before`` is the model's before compaction and ``compacted`` the record.

    Example:
        >>> inputs = keras.Input((8,))
        >>> model = keras.Model(inputs, keras.layers.Dense(4, name="h")(inputs))
        >>> pruning_record(model, {"target_sparsity": 0.5})["params_before"]
        36
    """
    report = sparsity_report(model)
    record = {"target_sparsity": prune_cfg["target_sparsity"], "sparsity": report["sparsity"],
              "params_before": report["params"], "params_after": report["nonzero"],
              "layers": {name: v["sparsity"] for name, v in report["layers"].items()},
              "saved_model": None if saved_model is None else export_size(saved_model),
              "structured": bool(prune_cfg.get("structured", False))}
    if prune_cfg.get("targets"):
        record["targets"] = dict(prune_cfg["targets"])
    if compaction is not None:
        record["params_before"], record["compacted"] = compaction["params_before"], dict(compaction)
    return record
