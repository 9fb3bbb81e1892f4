"""The pruning masks: a `PruningMasks` layer that saves them with the model, and the functions that set them.

The TensorFlow Model Optimization toolkit prunes only legacy ``tf_keras``
models; this subpackage does the same on Keras 3 with public base classes only.
A pruned model (made by `textrecipes.pruning.selection.prune_low_magnitude`)
ends in a `PruningMasks` layer that passes its input through unchanged and
holds one non-trainable 0/1 mask per pruned weight, so the masks (and the
schedule) save and reload with the model (``.keras``, SavedModel).

Masks are per weight ("weight" granularity: the smallest magnitudes of each
kernel are zeroed; biases never), per embedding row ("row") or per unit of an
LSTM/GRU/Dense/Conv layer ("unit": the whole unit, its bias included), what
`textrecipes.pruning.compact.compact_model` then removes.
`update_masks` recomputes them from the weights' magnitudes for a step of the
schedule; `apply_masks` sets the masked weights to 0 (after every optimizer
step, by `textrecipes.pruning.callback.MagnitudePruning`).
"""

from __future__ import annotations

import weakref
from typing import Mapping

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from textrecipes.pruning.schedule import PruningSchedule, _as_schedule, _check_sparsity

__all__ = [
    "KINDS",
    "PruningMasks",
    "find_masks",
    "update_masks",
    "apply_masks",
    "mask_sparsity",
    "masks_behind",
    "overall_mask_sparsity",
]

# The layer kinds that can be pruned (`textrecipes.pruning.selection.prune_low_magnitude`'s ``layers``).
KINDS = ("embedding", "rnn", "conv", "dense")
GRANULARITIES = ("weight", "row", "unit")
MASKS_NAME = "pruning_masks"


@keras.saving.register_keras_serializable(package="textrecipes")
class PruningMasks(keras.layers.Layer):
    """Holds the pruning masks of a model's weights; passes its input through unchanged.

    Made by `prune_low_magnitude`, which puts it after the model's output so that
    the masks save and reload with the model. One non-trainable ``uint8`` 0/1
    mask per pruned weight; `MagnitudePruning` updates and applies them.

    Args:
        targets: one dict per pruned weight: ``layer`` (the layer's name in the
            model), ``weight`` (the attribute path from the layer, e.g. "kernel" or
            "forward_layer.cell.kernel"), ``shape``, ``sparsity`` (the final target),
            ``granularity`` ("weight", "row" or "unit") and ``owner`` (the attribute
            path of the object whose units a "unit" mask removes, e.g.
            "forward_layer.cell").
        schedule: the `PruningSchedule` (or its serialized config). Default None
            (`MagnitudePruning` must then be given one).
        **kwargs: passed on to `keras.layers.Layer` (``name``).

    Example:
        >>> masks = PruningMasks([{"layer": "dense", "weight": "kernel", "shape": [4, 2], "sparsity": 0.5,
        ...                        "granularity": "weight", "owner": ""}])
        >>> [tuple(m.shape) for m in masks.masks], masks.masks[0].dtype
        ([(4, 2)], 'uint8')
    """

    def __init__(self, targets, schedule=None, **kwargs):
        kwargs.setdefault("name", MASKS_NAME)
        kwargs.setdefault("dtype", "float32")  # an identity on the (float32) outputs, whatever the policy
        super().__init__(**kwargs)
        self.targets = [_check_target(t) for t in targets]
        self.schedule = None if schedule is None else _as_schedule(schedule)
        self.masks = [self.add_weight(shape=tuple(t["shape"]), dtype="uint8", initializer="ones", trainable=False,
                                      name=f"mask_{i}_{t['layer']}_{t['weight'].replace('.', '_')}")
                      for i, t in enumerate(self.targets)]
        self.supports_masking = True

    def build(self, input_shape):
        self.built = True  # the masks' shapes come from the targets, made in __init__

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "targets": [dict(t) for t in self.targets],
                "schedule": None if self.schedule is None else keras.saving.serialize_keras_object(self.schedule)}


def _check_target(target) -> dict:
    keys = ("layer", "weight", "shape", "sparsity", "granularity", "owner")
    if not isinstance(target, Mapping) or any(k not in target for k in keys):
        raise ValueError(f"a pruning target needs the keys {keys}, got {target!r:.200}")
    _check_sparsity(f"sparsity of {target['layer']}.{target['weight']}", target["sparsity"])
    if target["granularity"] not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {target['granularity']!r}")
    return {"layer": str(target["layer"]), "weight": str(target["weight"]), "shape": [int(d) for d in target["shape"]],
            "sparsity": float(target["sparsity"]), "granularity": target["granularity"], "owner": str(target["owner"])}


def find_masks(model: keras.Model):
    """The `PruningMasks` layer of a model and the model that holds it, or ``(None, None)``.

    Looks inside nested models too (an end-to-end model around a pruned classifier).

    Args:
        model: a Keras model.

    Returns:
        ``(masks_layer, owner_model)``.

    Example:
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> find_masks(m)
        (None, None)
    """
    for layer in model.layers:
        if isinstance(layer, PruningMasks):
            return layer, model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found = find_masks(layer)
            if found[0] is not None:
                return found
    return None, None


def _require_masks(model):
    masks, owner = find_masks(model)
    if masks is None:
        raise ValueError(f"model {model.name!r} has no pruning masks; make it with prune_low_magnitude first")
    return masks, owner


def _resolve(owner_model, target):
    obj = owner_model.get_layer(target["layer"])
    for attr in target["weight"].split("."):
        obj = getattr(obj, attr)
    return obj


def _get_path(obj, path):
    for attr in filter(None, path.split(".")):
        obj = getattr(obj, attr)
    return obj


# ---------------------------------------------------------------------------
# Computing and applying masks.


def _weight_mask(values: np.ndarray, old: np.ndarray, sparsity: float) -> np.ndarray:
    """The smallest magnitudes zeroed; what was pruned before stays pruned."""
    flat_old = old.reshape(-1)
    k = max(int(round(sparsity * values.size)), int(np.count_nonzero(flat_old == 0)))
    mask = np.ones(values.size, "uint8")
    if k:
        scores = np.abs(values.reshape(-1)).astype("float64")
        scores[flat_old == 0] = -1.0
        mask[np.argpartition(scores, k - 1)[:k]] = 0
    return mask.reshape(values.shape)


def _pick_groups(scores: np.ndarray, already: np.ndarray, sparsity: float) -> np.ndarray:
    """Boolean: the groups (rows, units) to prune, the smallest scores first, monotone."""
    k = max(int(round(sparsity * scores.size)), int(already.sum()))
    k = min(k, scores.size - 1)  # one row or unit always stays, so the layer keeps an output
    pruned = np.zeros(scores.size, bool)
    if k > 0:
        s = scores.astype("float64").copy()
        s[already] = -1.0
        pruned[np.argpartition(s, k - 1)[:k]] = True
    return pruned


def _unit_view(owner, weight_name: str, array: np.ndarray):
    """The array reshaped so that its last axis is the unit axis (gates of an RNN cell split off)."""
    units = int(getattr(owner, "units", 0) or getattr(owner, "filters", 0))
    if isinstance(owner, (keras.layers.LSTMCell, keras.layers.GRUCell)):
        gates = array.shape[-1] // units
        return array.reshape(*array.shape[:-1], gates, units)
    return array


def _unit_masks(owner, group: list, values: list, olds: list, sparsity: float) -> list:
    """Masks that remove whole units of ``owner`` (incoming weights, bias, and recurrent rows of the unit)."""
    names = [t["weight"].split(".")[-1] for t in group]
    views = [_unit_view(owner, n, v) for n, v in zip(names, values)]
    old_views = [_unit_view(owner, n, o) for n, o in zip(names, olds)]
    units = views[0].shape[-1]
    scores = np.zeros(units)
    already = np.ones(units, bool)
    for view, old in zip(views, old_views):
        axes = tuple(range(view.ndim - 1))
        scores += np.sum(np.square(view.astype("float64")), axis=axes)
        already &= np.all(old == 0, axis=axes)
    pruned = _pick_groups(scores, already, sparsity)
    out = []
    for name, view, value in zip(names, views, values):
        mask = np.ones(view.shape, "uint8")
        mask[..., pruned] = 0
        if name == "recurrent_kernel":  # what the unit feeds the other units: its row
            mask[pruned, ...] = 0
        out.append(mask.reshape(value.shape))
    return out


def update_masks(model: keras.Model, step: int | None = None, schedule: PruningSchedule | None = None) -> dict:
    """Recomputes the masks from the weights' magnitudes for the sparsity at ``step``, and applies them.

    Args:
        model: a model from `prune_low_magnitude` (or one around it).
        step: the optimizer step whose scheduled sparsity to reach; None: the
            final targets (one-shot). Default None.
        schedule: overrides the schedule stored with the masks. Default None.

    Returns:
        ``{"layer.weight": sparsity of its mask}``.

    Example:
        >>> inputs = keras.Input((8,))
        >>> model = keras.Model(inputs, keras.layers.Dense(4, name="hidden")(inputs))
        >>> from textrecipes.pruning.selection import prune_low_magnitude
        >>> pruned = prune_low_magnitude(model, 0.75, layers=["hidden"])
        >>> update_masks(pruned)
        {'hidden.kernel': 0.75}
    """
    masks_layer, owner_model = _require_masks(model)
    schedule = schedule or masks_layer.schedule
    if schedule is None:
        raise ValueError("no PruningSchedule: give one to prune_low_magnitude or to update_masks")
    groups = {}
    for i, target in enumerate(masks_layer.targets):
        key = (target["layer"], target["owner"]) if target["granularity"] == "unit" else (i,)
        groups.setdefault(key, []).append(i)
    for key, indices in groups.items():
        group = [masks_layer.targets[i] for i in indices]
        final = group[0]["sparsity"]
        sparsity = final if step is None else schedule.sparsity(step, final)
        values = [ops.convert_to_numpy(_resolve(owner_model, t)) for t in group]
        olds = [ops.convert_to_numpy(masks_layer.masks[i]) for i in indices]
        granularity = group[0]["granularity"]
        if granularity == "weight":
            new = [_weight_mask(values[0], olds[0], sparsity)]
        elif granularity == "row":
            flat = values[0].reshape(values[0].shape[0], -1).astype("float64")
            already = np.all(olds[0].reshape(olds[0].shape[0], -1) == 0, axis=1)
            rows = _pick_groups(np.sqrt(np.sum(flat * flat, axis=1)), already, sparsity)
            mask = np.ones(values[0].shape, "uint8")
            mask[rows] = 0
            new = [mask]
        else:
            layer = owner_model.get_layer(group[0]["layer"])
            new = _unit_masks(_get_path(layer, group[0]["owner"]), group, values, olds, sparsity)
        for i, mask in zip(indices, new):
            masks_layer.masks[i].assign(mask)
    apply_masks(model)
    return mask_sparsity(model)


def mask_sparsity(model: keras.Model) -> dict:
    """``{"layer.weight": fraction of its mask that is 0}``.

    Args:
        model: a model from `prune_low_magnitude` (or one around it).

    Example:
        >>> inputs = keras.Input((8,))
        >>> from textrecipes.pruning.selection import prune_low_magnitude
        >>> pruned = prune_low_magnitude(keras.Model(inputs, keras.layers.Dense(4, name="h")(inputs)), 0.5, layers=["h"])
        >>> mask_sparsity(pruned)
        {'h.kernel': 0.0}
    """
    masks_layer, _ = _require_masks(model)
    out = {}
    for target, mask in zip(masks_layer.targets, masks_layer.masks):
        m = ops.convert_to_numpy(mask)
        out[f"{target['layer']}.{target['weight']}"] = round(float(1.0 - np.count_nonzero(m) / m.size), 6)
    return out


def apply_masks(model: keras.Model) -> None:
    """Sets every masked weight to 0 (exactly +0.0: sign bits would make the zeros compress worse).

    Args:
        model: a model from `prune_low_magnitude` (or one around it).

    Example:
        >>> apply_masks(pruned)  # doctest: +SKIP
    """
    masks_layer, owner_model = _require_masks(model)
    key = (id(owner_model), len(masks_layer.masks))
    cached = _APPLY.get(masks_layer)
    if cached is None or cached[0] != key:
        cached = (key, _masking_function(masks_layer, owner_model))
        _APPLY[masks_layer] = cached
    cached[1]()


# Traced once per masks layer: eager ops took about twice as long on the default model's
# 11M masked weights (130-170 ms against 55-75 ms a call, 2 shared cores); kept outside the
# layer so that a SavedModel export does not try to save the function.
_APPLY = weakref.WeakKeyDictionary()


def _masking_function(masks_layer, owner_model):
    pairs = [(_resolve(owner_model, t), m) for t, m in zip(masks_layer.targets, masks_layer.masks)]

    def apply():
        for variable, mask in pairs:
            variable.assign(ops.where(ops.cast(mask, "bool"), variable, ops.zeros((), variable.dtype)))

    return tf.function(apply) if keras.backend.backend() == "tensorflow" else apply


def masks_behind(model: keras.Model, step: int, schedule: PruningSchedule | None = None) -> bool:
    """Whether any mask prunes fewer weights, rows or units than the schedule asks for at ``step``.

    Args:
        model: a model from `prune_low_magnitude` (or one around it).
        step: the optimizer step.
        schedule: overrides the schedule stored with the masks. Default None.

    Example:
        >>> inputs = keras.Input((8,))
        >>> from textrecipes.pruning.selection import prune_low_magnitude
        >>> pruned = prune_low_magnitude(keras.Model(inputs, keras.layers.Dense(4, name="h")(inputs)), 0.5, layers=["h"])
        >>> masks_behind(pruned, 0)
        True
        >>> _ = update_masks(pruned)
        >>> masks_behind(pruned, 0)
        False
    """
    masks_layer, owner_model = _require_masks(model)
    schedule = schedule or masks_layer.schedule
    for target, mask in zip(masks_layer.targets, masks_layer.masks):
        wanted = schedule.sparsity(step, target["sparsity"])
        m = ops.convert_to_numpy(mask)
        if target["granularity"] == "weight":
            have, need = m.size - np.count_nonzero(m), int(round(wanted * m.size))
        else:
            if target["granularity"] == "row":
                groups = np.all(m.reshape(m.shape[0], -1) == 0, axis=1)
            else:
                owner = _get_path(owner_model.get_layer(target["layer"]), target["owner"])
                view = _unit_view(owner, target["weight"].split(".")[-1], m)
                groups = np.all(view == 0, axis=tuple(range(view.ndim - 1)))
            have, need = int(groups.sum()), min(int(round(wanted * groups.size)), groups.size - 1)
        if have < need:
            return True
    return False


def overall_mask_sparsity(model: keras.Model) -> float:
    """The fraction of all masked entries that are 0.

    Args:
        model: a model from `prune_low_magnitude` (or one around it).

    Example:
        >>> overall_mask_sparsity(pruned)  # doctest: +SKIP
        0.9
    """
    masks_layer, _ = _require_masks(model)
    total = sum(int(np.prod(m.shape)) for m in masks_layer.masks)
    kept = sum(int(np.count_nonzero(ops.convert_to_numpy(m))) for m in masks_layer.masks)
    return round(1.0 - kept / total, 6) if total else 0.0
