"""What to prune: `prune_low_magnitude` chooses the weights (by layer kind or name, with per-layer targets) and
wraps the model with their masks; `mask_unused_rows` prunes the embedding rows training never reads.

Typical use, around `model.fit`:

    schedule = PruningSchedule(0.9, begin_step=0, end_step=2 * steps_per_epoch, frequency=50)
    pruned = prune_low_magnitude(model, schedule)   # under the strategy scope
    pruned.compile(...)
    pruned.fit(train_ds, epochs=3, callbacks=[MagnitudePruning()])
    model = strip_pruning(pruned)                    # then export as usual
"""

from __future__ import annotations

from typing import Mapping, Sequence

import keras
import numpy as np
from keras import ops

from textrecipes.pruning.masks import KINDS, PruningMasks, _get_path, _require_masks, apply_masks, find_masks
from textrecipes.pruning.schedule import _as_schedule, _check_sparsity

DEFAULT_LAYERS = KINDS

__all__ = ["DEFAULT_LAYERS", "prune_low_magnitude", "mask_unused_rows", "embedding_row_counts"]


def _kind(layer) -> str | None:
    if isinstance(layer, keras.layers.Embedding):
        return "embedding"
    if isinstance(layer, (keras.layers.Bidirectional, keras.layers.RNN)):
        return "rnn"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        return "conv"
    return None


def _rnn_owners(layer):
    """(attribute path, cell) of each recurrent cell in an RNN or Bidirectional layer."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [("forward_layer.cell", layer.forward_layer.cell), ("backward_layer.cell", layer.backward_layer.cell)]
    return [("cell", layer.cell)]


def _layer_targets(layer, sparsity: float, structured: bool) -> list:
    """The pruning targets of one layer: which of its weights, at which granularity."""
    kind = _kind(layer)
    out = []

    def add(weight_path, owner, granularity):
        variable = _get_path(layer, weight_path)
        out.append({"layer": layer.name, "weight": weight_path, "shape": list(variable.shape), "sparsity": sparsity,
                    "granularity": granularity, "owner": owner})

    if kind == "embedding":
        add("embeddings", "", "row" if structured else "weight")
    elif kind == "rnn":
        for owner, cell in _rnn_owners(layer):
            names = ["kernel", "recurrent_kernel"] + (["bias"] if structured and getattr(cell, "use_bias", False) else [])
            for name in names:
                add(f"{owner}.{name}", owner, "unit" if structured else "weight")
    elif kind in ("dense", "conv"):
        names = ["kernel"] + (["bias"] if structured and getattr(layer, "use_bias", False) else [])
        for name in names:
            add(name, "", "unit" if structured else "weight")
    else:  # a layer named explicitly: its weights of rank >= 2 (never a bias)
        if structured:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}): structured pruning knows embeddings, "
                             f"RNNs, Dense and Conv layers only")
        attributes = {id(value): name for name, value in vars(layer).items() if isinstance(value, keras.Variable)}
        for variable in layer.trainable_weights:
            if len(variable.shape) >= 2:
                if id(variable) not in attributes:
                    raise ValueError(f"layer {layer.name!r}: no attribute of the layer holds {variable.path}")
                add(attributes[id(variable)], "", "weight")
    return out


def _output_layers(model) -> set:
    names = set()
    for layer in model.layers:
        try:
            outputs = keras.tree.flatten(layer.output)
        except (AttributeError, ValueError):  # a layer called more than once, or never
            continue
        if any(o is t for o in outputs for t in keras.tree.flatten(model.outputs)):
            names.add(layer.name)
    return names


def prune_low_magnitude(model: keras.Model, schedule=0.9, *, layers: Sequence[str] = DEFAULT_LAYERS,
                        targets: Mapping[str, float] | None = None, structured: bool = False) -> keras.Model:
    """A model to train with magnitude pruning: the same layers, followed by a `PruningMasks` layer.

    The new model shares its layers (and weights) with ``model``; its masks start
    all ones, and `MagnitudePruning` (or `update_masks`) sets them. Build it under
    the distribution strategy's scope, as the model itself, and compile it
    afterwards.

    Args:
        model: a functional model whose layers are at its top level (the
            classifier on token ids, not the end-to-end model over strings).
        schedule: a `PruningSchedule`, or a number: prune to that sparsity at the
            first step (one-shot). Default 0.9. Its ``target_sparsity`` is the
            target of every chosen layer that ``targets`` does not name.
        layers: what to prune: layer kinds ("embedding", "rnn" for LSTM/GRU
            kernels, "conv", "dense") and/or layer names. A kind leaves out the
            layer that gives the model's output (the classifier head: small, and
            every class needs it); name it to prune it. Default all four kinds.
        targets: layer name → its own final sparsity; the layers named are
            pruned whatever ``layers`` says. Default None.
        structured: prune whole embedding rows and whole units (LSTM/GRU units
            with their gates and bias, Dense units, Conv filters) by their L2 norm
            instead of single weights, so that
            `textrecipes.pruning.compact.compact_model` can remove them.
            Default False (single weights; biases never).

    Returns:
        The model to compile and fit with `MagnitudePruning`.

    Raises:
        ValueError: for a name that is neither a kind nor a layer of the model, a
            sparsity outside [0, 1), or a model that is already pruned.

    Example:
        >>> inputs = keras.Input((8,))
        >>> model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(16, name="hidden")(inputs)))
        >>> pruned = prune_low_magnitude(model, 0.5)
        >>> [t["layer"] + "." + t["weight"] for t in find_masks(pruned)[0].targets]
        ['hidden.kernel']
    """
    if find_masks(model)[0] is not None:
        raise ValueError(f"model {model.name!r} is already pruned; strip_pruning(model) first to prune it afresh")
    if not isinstance(model, keras.Model) or not hasattr(model, "inputs") or model.inputs is None:
        raise ValueError("prune_low_magnitude needs a functional keras.Model")
    schedule = _as_schedule(schedule)
    if isinstance(layers, str):
        layers = [layers]
    targets = dict(targets or {})
    names = {layer.name: layer for layer in model.layers}
    aliases = {"lstm": "rnn", "gru": "rnn", "embeddings": "embedding"}
    # A word of `layers` that is a kind means the kind (the default model's "embedding" layer is
    # also an embedding); any other word must be a layer's name.
    chosen_kinds = {aliases.get(n, n) for n in layers if aliases.get(n, n) in KINDS}
    chosen_names = {n for n in layers if aliases.get(n, n) not in KINDS} | set(targets)
    unknown = sorted(n for n in chosen_names if n not in names)
    if unknown:
        nested = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
        hint = (f"; the prunable layers are inside {nested}: prune that model (the classifier on token ids), "
                "then rebuild the end-to-end model") if nested else ""
        raise ValueError(f"unknown layer(s) or kind(s) to prune: {unknown}; kinds are {KINDS}, layers are "
                         f"{sorted(names)}{hint}")
    for name, value in targets.items():
        _check_sparsity(f"targets[{name!r}]", value)
    heads = _output_layers(model)
    specs = []
    for layer in model.layers:
        named = layer.name in chosen_names
        if isinstance(layer, keras.Model) and named:
            raise ValueError(f"layer {layer.name!r} is a nested model; prune it on its own")
        by_kind = _kind(layer) in chosen_kinds and layer.name not in heads
        if not (named or by_kind) or not layer.weights:
            continue
        specs += _layer_targets(layer, float(targets.get(layer.name, schedule.target_sparsity)), structured)
    if not specs:
        raise ValueError(f"nothing to prune in {model.name!r} with layers={list(layers)} and targets={targets}")
    masks = PruningMasks(specs, schedule)
    pruned = keras.Model(model.input, masks(model.output), name=model.name)
    return pruned


def mask_unused_rows(model: keras.Model, data, max_batches: int | None = None) -> dict:
    """Prunes the embedding rows that no input of ``data`` reads (rows training never touched).

    Rows never looked up keep their random initial values: at prediction time
    they only add noise for the words or n-gram buckets training never saw.
    Counted towards each layer's target sparsity; later updates keep them pruned.

    Args:
        model: a model from `prune_low_magnitude` with embedding targets.
        data: the training inputs: a `tf.data.Dataset` of ``(ids, targets)`` or of
            ids, or an array of ids.
        max_batches: read at most this many batches. Default None (all).

    Returns:
        ``{embedding layer name: rows pruned}``.

    Example:
        >>> mask_unused_rows(pruned, train_ds)  # doctest: +SKIP
        {'embedding': 1, 'bigram_embedding': 42211}
    """
    masks_layer, owner_model = _require_masks(model)
    counts = embedding_row_counts(owner_model, data, max_batches=max_batches,
                                  layers=[t["layer"] for t in masks_layer.targets
                                          if isinstance(owner_model.get_layer(t["layer"]), keras.layers.Embedding)])
    out = {}
    for target, mask in zip(masks_layer.targets, masks_layer.masks):
        if target["layer"] not in counts:
            continue
        unused = counts[target["layer"]] == 0
        m = ops.convert_to_numpy(mask).copy()
        m[unused] = 0
        mask.assign(m)
        out[target["layer"]] = int(unused.sum())
    apply_masks(model)
    return out


def embedding_row_counts(model: keras.Model, data, *, layers: Sequence[str] | None = None,
                         max_batches: int | None = None) -> dict:
    """How often each row of each embedding is looked up on ``data`` (padding ids 0 of ``mask_zero`` not counted).

    Args:
        model: a functional model whose embeddings are top-level layers.
        data: a `tf.data.Dataset` of ``(ids, targets)`` or of ids, or an array of ids.
        layers: the embedding layers' names. Default None (every Embedding).
        max_batches: read at most this many batches. Default None (all).

    Returns:
        ``{layer name: int64 array of counts, one per row}``.

    Example:
        >>> from textrecipes.models.classifiers import build_fasttext_classifier
        >>> m = build_fasttext_classifier(10, 2, embedding_dim=4, ngram_buckets=0)
        >>> embedding_row_counts(m, np.array([[2, 3, 3, 0]]))["embedding"].tolist()
        [0, 0, 1, 2, 0, 0, 0, 0, 0, 0]
    """
    chosen = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)
              and (layers is None or layer.name in layers)]
    if not chosen:
        return {}
    probe = keras.Model(model.input, [layer.input for layer in chosen])
    counts = {layer.name: np.zeros(layer.input_dim, "int64") for layer in chosen}
    batches = [data] if isinstance(data, np.ndarray) else data
    for n, batch in enumerate(batches):
        if max_batches is not None and n >= max_batches:
            break
        ids = batch[0] if isinstance(batch, (tuple, list)) else batch
        outs = probe(ids, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for layer, out in zip(chosen, outs):
            flat = ops.convert_to_numpy(out).reshape(-1).astype("int64")
            if layer.mask_zero:
                flat = flat[flat != 0]
            counts[layer.name] += np.bincount(flat, minlength=layer.input_dim)[: layer.input_dim]
    return counts
