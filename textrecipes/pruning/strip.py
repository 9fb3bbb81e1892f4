"""After training: `strip_pruning` bakes the masks' zeros into a plain model, the one to export."""

from __future__ import annotations

import keras

from textrecipes.pruning.masks import apply_masks, find_masks

__all__ = ["strip_pruning"]

def strip_pruning(model: keras.Model) -> keras.Model:
    """The plain model with the masks applied and baked in: no `PruningMasks` layer, new weights.

    An end-to-end model around a pruned classifier comes back around the
    stripped classifier (its other layers, e.g. the vectorizer, are reused).
    A model without masks comes back unchanged.

    Args:
        model: a model from `prune_low_magnitude`, or one around it.

    Returns:
        A new `keras.Model` with the same inputs and outputs and the zeros in its weights.

    Example:
        >>> inputs = keras.Input((8,))
        >>> from textrecipes.pruning.masks import update_masks
        >>> from textrecipes.pruning.selection import prune_low_magnitude
        >>> pruned = prune_low_magnitude(keras.Model(inputs, keras.layers.Dense(4, name="h")(inputs)), 0.5, layers=["h"])
        >>> _ = update_masks(pruned)
        >>> stripped = strip_pruning(pruned)
        >>> find_masks(stripped)[0] is None, float((stripped.get_layer("h").kernel.numpy() == 0).mean())
        (True, 0.5)
    """
    masks_layer, owner = find_masks(model)
    if masks_layer is None:
        return model
    if owner is not model:  # a pruned classifier inside (an end-to-end model)
        return keras.models.clone_model(model, clone_function=lambda layer: strip_pruning(layer)
                                        if isinstance(layer, keras.Model) else layer)
    apply_masks(model)
    inner = keras.Model(model.input, masks_layer.input, name=model.name)
    plain = keras.models.clone_model(inner)
    plain.set_weights(inner.get_weights())
    return plain
