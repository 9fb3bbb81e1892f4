"""`compact_model`: a model without the embedding rows and units its weights zeroed (the same ids in, the same
probabilities out), and `structured_prune`, all of it at once without training.

Every layer after a removed unit loses the matching input rows (pooling,
concatenation, attention, the head).
`textrecipes.pruning.selection.prune_low_magnitude(..., structured=True)` trains
masks of exactly that shape (whole rows by norm, whole units by norm), so that
the compact model gives the masked model's predictions (to float rounding).

Example:

    pruned = prune_low_magnitude(model, schedule, structured=True, targets={"bilstm": 0.5})
    pruned.fit(train_ds, callbacks=[MagnitudePruning()], ...)
    small = compact_model(pruned)     # the same ids in, the same probabilities out
    e2e = end_to_end_model(vectorizer, small)
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers as klayers
from keras import ops

from textrecipes.models.layers import AttentionPooling, MaskedPooling
from textrecipes.pruning.masks import find_masks, update_masks
from textrecipes.pruning.report import sparsity_report
from textrecipes.pruning.selection import mask_unused_rows, prune_low_magnitude
from textrecipes.pruning.strip import strip_pruning
from textrecipes.pruning.structured import (
    _FEATURE_PRESERVING,
    RemappedEmbedding,
    _cell_gates,
    _dead_units_of_cell,
    _dead_units_of_layer,
    _from_config,
    _keep,
    _output_layer_names,
    _table,
)

__all__ = ["compact_model", "structured_prune", "compaction_summary"]

def compact_model(model: keras.Model, *, min_row_fraction: float = 0.0) -> keras.Model:
    """A new, smaller model without the all-zero embedding rows and the dead units of ``model``.

    The compact model takes the same token ids and gives the same outputs (to
    float rounding) as ``model`` with its masks applied. See the module
    docstring for what counts as dead.

    Args:
        model: a functional classifier on token ids, pruned (`prune_low_magnitude`,
            best with ``structured=True``) or stripped.
        min_row_fraction: compact an embedding only when at least this fraction
            of its rows is zero. Whatever this is, an embedding is compacted only
            when the rows removed outweigh the id → row map it then needs (one
            int32 per id). Default 0.

    Returns:
        A new `keras.Model` (uncompiled), named as ``model``.

    Raises:
        ValueError: when a layer that reads removed units cannot drop the matching
            inputs exactly (normalization layers, unknown layers, RNNs returning
            their states or merging directions other than by concatenation).

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> from textrecipes.pruning.masks import update_masks
        >>> from textrecipes.pruning.selection import prune_low_magnitude
        >>> m = build_lstm_classifier(100, 2, embedding_dim=8, units=8, ngram_buckets=64, ngram_dim=4)
        >>> pruned = prune_low_magnitude(m, 0.5, structured=True)
        >>> _ = update_masks(pruned)
        >>> small = compact_model(pruned)
        >>> small.get_layer("bilstm").forward_layer.units, small.count_params() < m.count_params()
        (4, True)
    """
    if find_masks(model)[0] is not None:
        model = strip_pruning(model)
    heads = _output_layer_names(model)
    info = {}  # id(new tensor) -> (kept original feature indices or None for all, original width)
    replaced = {}

    def features(tensor):
        return info.get(id(tensor), (None, None if tensor.shape is None or not tensor.shape else tensor.shape[-1]))

    def record(outputs, kept, width):
        for t in keras.tree.flatten(outputs):
            info[id(t)] = (kept, width)

    def first_input(args):
        return keras.tree.flatten(args[0])[0]

    def call_function(layer, *args, **kwargs):
        ins = [t for t in keras.tree.flatten((args, {k: v for k, v in kwargs.items() if k != "mask"}))
               if isinstance(t, keras.KerasTensor)]
        pruned_inputs = [t for t in ins if features(t)[0] is not None]
        if not isinstance(layer, klayers.Layer):  # a plain operation: the masks' not_equal, any, ...
            outputs = layer(*args, **kwargs)
            # Boolean outputs are masks (Keras builds a concatenation's mask from its inputs' shapes);
            # they are recomputed from the new tensors. Anything else mixing pruned features is refused.
            if pruned_inputs and any(t.dtype != "bool" for t in keras.tree.flatten(outputs)):
                raise ValueError(f"compact_model: operation {type(layer).__name__} reads features of a pruned "
                                 "layer; it cannot be compacted")
            return outputs
        if id(layer) in replaced:
            return replaced[id(layer)](*args, **kwargs)
        inputs = [features(t) for t in keras.tree.flatten(args[0])]
        rank = len(first_input(args).shape)
        new, kept, out_width, weights = _compact_layer(layer, inputs, rank, layer.name in heads, min_row_fraction)
        if new is None and pruned_inputs and kept is None:
            raise ValueError(f"compact_model: layer {layer.name!r} ({type(layer).__name__}) reads features of a "
                             "pruned layer and cannot drop them exactly; leave the layers before it unpruned")
        if new is None:  # no weights and nothing to change: a fresh copy
            new = _from_config(layer)
        replaced[id(layer)] = new
        outputs = new(*args, **kwargs)
        if isinstance(weights, dict):  # by attribute: Keras orders trainable weights before the others
            for name, value in weights.items():
                getattr(new, name).assign(value)
        elif weights is not None:
            new.set_weights(weights)
        elif layer.weights:
            new.set_weights(layer.get_weights())
        record(outputs, kept, out_width)
        return outputs

    small = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call_function)
    return keras.Model(small.input, small.output, name=model.name)


def _compact_layer(layer, inputs, rank, is_head, min_row_fraction):
    """(new layer or None, kept features of its output or None, original output width, weights or None).

    ``inputs``: (kept feature indices or None, original width) of each input tensor.
    """
    kin, width = inputs[0]
    take_rows = (lambda a: a) if kin is None else (lambda a: a[kin])
    if isinstance(layer, (klayers.Embedding, RemappedEmbedding)):
        row_of, table = _table(layer)
        zero = np.all(table.reshape(table.shape[0], -1) == 0, axis=1)
        keep = np.flatnonzero(~zero)
        removed = table.shape[0] - keep.size - 1
        worth = removed * table.shape[1] > row_of.size and zero.mean() >= min_row_fraction
        if not worth:
            return _copy(layer), None, table.shape[1], None
        position = np.zeros(table.shape[0], "int32")
        position[keep] = np.arange(1, keep.size + 1, dtype="int32")
        config = layer.get_config()
        new = RemappedEmbedding(row_of.size, keep.size + 1, table.shape[1], mask_zero=layer.mask_zero,
                                embeddings_initializer=config.get("embeddings_initializer", "uniform"),
                                name=layer.name, dtype=layer.dtype_policy)
        compact = np.concatenate([np.zeros((1, table.shape[1]), table.dtype), table[keep]])
        return new, None, table.shape[1], {"row_of": position[row_of], "embeddings": compact}
    if isinstance(layer, (klayers.Bidirectional, klayers.RNN)):
        return _compact_rnn(layer, kin, is_head)
    if isinstance(layer, klayers.Dense):
        kernel = ops.convert_to_numpy(layer.kernel)
        keep = np.arange(kernel.shape[-1]) if is_head else _keep(_dead_units_of_layer(layer))
        weights = [take_rows(kernel)[:, keep]] + ([ops.convert_to_numpy(layer.bias)[keep]] if layer.use_bias else [])
        kept = None if keep.size == kernel.shape[-1] else keep
        return _from_config(layer, units=int(keep.size)), kept, kernel.shape[-1], weights
    if isinstance(layer, klayers.Conv1D):
        if layer.groups != 1:
            raise ValueError(f"compact_model: grouped convolution {layer.name!r} is not supported")
        kernel = ops.convert_to_numpy(layer.kernel)
        keep = np.arange(kernel.shape[-1]) if is_head else _keep(_dead_units_of_layer(layer))
        kernel = kernel if kin is None else kernel[:, kin, :]
        weights = [kernel[..., keep]] + ([ops.convert_to_numpy(layer.bias)[keep]] if layer.use_bias else [])
        kept = None if keep.size == layer.filters else keep
        return _from_config(layer, filters=int(keep.size)), kept, layer.filters, weights
    if isinstance(layer, AttentionPooling):
        w, b, v = (ops.convert_to_numpy(x) for x in (layer.w, layer.b, layer.v))
        return _from_config(layer), kin, width, [take_rows(w), b, v]
    if isinstance(layer, MaskedPooling):
        if kin is None:
            return None, None, width * len(layer.modes), None
        kept = np.concatenate([m * width + kin for m in range(len(layer.modes))])
        return None, kept, width * len(layer.modes), None
    if isinstance(layer, klayers.Concatenate) or type(layer).__name__ == "AppendFeatures":
        axis = getattr(layer, "axis", -1)
        if axis not in (-1, rank - 1):
            if any(k is not None for k, _ in inputs):
                raise ValueError(f"compact_model: {layer.name!r} concatenates along axis {axis}, not the features")
            return None, None, None, None
        if all(k is None for k, _ in inputs):
            return None, None, sum(w for _, w in inputs), None
        parts, offset = [], 0
        for k, w in inputs:
            parts.append((np.arange(w) if k is None else k) + offset)
            offset += w
        return None, np.concatenate(parts), offset, None
    if isinstance(layer, _FEATURE_PRESERVING) or not layer.weights:
        if kin is not None and not isinstance(layer, _FEATURE_PRESERVING):
            return None, None, width, None  # the caller raises: an unknown layer reads pruned features
        return None, kin, width, None
    if kin is not None:
        raise ValueError(f"compact_model: layer {layer.name!r} ({type(layer).__name__}) reads features of a pruned "
                         "layer and cannot drop them exactly (normalization mixes or shifts every feature); "
                         "prune only the layers after it, or none before it")
    return _copy(layer), None, width, None


def _copy(layer):
    return _from_config(layer)


def _compact_rnn(layer, kin, is_head):
    """An RNN (or Bidirectional RNN) without its dead units, and the input rows of ``kin`` only."""
    if getattr(layer, "return_state", False) or getattr(getattr(layer, "forward_layer", None), "return_state", False):
        raise ValueError(f"compact_model: {layer.name!r} returns its states; not supported")
    bidirectional = isinstance(layer, klayers.Bidirectional)
    rnns = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
    for rnn in rnns:
        if not isinstance(rnn.cell, (klayers.LSTMCell, klayers.GRUCell)):
            raise ValueError(f"compact_model: {layer.name!r}: only LSTM and GRU cells are supported")
    keeps = [np.arange(rnn.cell.units) if is_head else _keep(_dead_units_of_cell(rnn.cell)) for rnn in rnns]
    if bidirectional and layer.merge_mode != "concat" and any(k.size != r.cell.units for k, r in zip(keeps, rnns)):
        raise ValueError(f"compact_model: {layer.name!r} merges its directions by {layer.merge_mode!r}; "
                         "units can be removed only with merge_mode='concat'")
    weights = []
    for rnn, keep in zip(rnns, keeps):
        cell, gates, units = rnn.cell, _cell_gates(rnn.cell), rnn.cell.units
        columns = np.concatenate([g * units + keep for g in range(gates)])
        kernel = ops.convert_to_numpy(cell.kernel)
        weights.append((kernel if kin is None else kernel[kin])[:, columns])
        weights.append(ops.convert_to_numpy(cell.recurrent_kernel)[keep][:, columns])
        if cell.use_bias:
            weights.append(ops.convert_to_numpy(cell.bias)[..., columns])
    if bidirectional:
        config = layer.get_config()
        for key, keep in (("layer", keeps[0]), ("backward_layer", keeps[1])):
            config[key]["config"]["units"] = int(keep.size)
            config[key].pop("build_config", None)  # it would build the kernel for the uncompacted input
        new = type(layer).from_config(config)
        width = sum(r.cell.units for r in rnns)
        kept = np.concatenate([keeps[0], rnns[0].cell.units + keeps[1]])
    else:
        new = _from_config(layer, units=int(keeps[0].size))
        width = layer.cell.units
        kept = keeps[0]
    if kept.size == width:
        kept = None
    return new, kept, width, weights


def structured_prune(model: keras.Model, sparsity: float = 0.5, *, targets=None, layers=("embedding", "rnn", "conv"),
                     data=None) -> keras.Model:
    """Prunes whole rows and units by norm at once (no training) and returns the compact model.

    ``model``'s own weights are pruned in place (the masks are applied to its
    layers); clone it first to keep it.

    Args:
        model: a functional classifier on token ids.
        sparsity: the fraction of rows/units removed from each chosen layer. Default 0.5.
        targets: layer name → its own fraction. Default None.
        layers: kinds or names, as in `textrecipes.pruning.selection.prune_low_magnitude`.
            Default embeddings, RNNs and convolutions (hidden Dense layers too
            when named or with "dense").
        data: training inputs (`tf.data.Dataset` of ``(ids, targets)``, or ids):
            embedding rows they never read are removed first. Default None.

    Returns:
        The compact `keras.Model` (uncompiled).

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> m = build_lstm_classifier(100, 2, embedding_dim=8, units=8, ngram_buckets=64, ngram_dim=4)
        >>> small = structured_prune(m, 0.5)
        >>> small.get_layer("bilstm").backward_layer.units
        4
    """
    pruned = prune_low_magnitude(model, float(sparsity), structured=True, targets=targets, layers=layers)
    if data is not None:
        mask_unused_rows(pruned, data)
    update_masks(pruned)
    return compact_model(pruned)


def compaction_summary(before: keras.Model, after: keras.Model) -> dict:
    """Parameters before and after compaction, and the layers that changed size.

    Args:
        before: the pruned (or stripped) model.
        after: its `compact_model`.

    Returns:
        ``{"params_before", "params_after", "layers": {name: [before, after]}}``.

    Example:
        >>> compaction_summary(pruned, compact_model(pruned))  # doctest: +SKIP
        {'params_before': 10789001, 'params_after': 1512345, 'layers': {...}}
    """
    a, b = sparsity_report(before), sparsity_report(after)
    changed = {name: [v["params"], b["layers"].get(name, {}).get("params", 0)] for name, v in a["layers"].items()
               if b["layers"].get(name, {}).get("params", 0) != v["params"]}
    return {"params_before": a["params"], "params_after": b["params"], "layers": changed}
