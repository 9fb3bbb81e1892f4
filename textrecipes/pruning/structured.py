"""Structured pruning, what is dead: all-zero embedding rows and units, and `RemappedEmbedding`, the compact
table that replaces an embedding whose rows were removed.

Unstructured sparsity shrinks a compressed export but not the work a
prediction does. `textrecipes.pruning.compact.compact_model` removes what is
exactly dead, so the graph itself is smaller and faster:

- embedding rows that are all zero (vocabulary ids, hashed n-gram buckets): the
  table keeps only the other rows, and a `RemappedEmbedding` maps each old id
  to its new row (removed ids to one zero row). The model still takes the same
  token ids: the hashed n-gram branch hashes those ids, so renumbering the
  vocabulary would move every bucket; the vectorizer is therefore unchanged.
- LSTM/GRU units whose incoming weights (every gate, input and recurrent) and
  biases are all zero: such a unit's state stays 0 from its zero start, so it
  and the rows that read it are removed; Dense units and Conv filters likewise
  when their activation maps 0 to 0.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers as klayers
from keras import ops

from textrecipes.pruning.masks import find_masks
from textrecipes.pruning.strip import strip_pruning

__all__ = ["RemappedEmbedding", "dead_parts"]

_FEATURE_PRESERVING = (klayers.Dropout, klayers.SpatialDropout1D, klayers.GaussianNoise, klayers.GaussianDropout,
                       klayers.Activation, klayers.ReLU, klayers.Identity, klayers.Masking,
                       klayers.GlobalMaxPooling1D, klayers.GlobalAveragePooling1D)


@keras.saving.register_keras_serializable(package="textrecipes")
class RemappedEmbedding(klayers.Layer):
    """An embedding over a compact table: each id is mapped to its row, removed ids to a zero row.

    What `compact_model` puts in place of an `Embedding` whose rows were pruned:
    the same ids in (the mask from ``mask_zero`` still comes from the ids), the
    table holding only the rows kept plus one zero row (row 0) for the rest.

    Args:
        input_dim: the ids accepted (the original vocabulary or bucket count).
        rows: rows of the compact table (the rows kept plus the zero row).
        output_dim: the embedding size.
        mask_zero: id 0 is padding and masked, as in `keras.layers.Embedding`. Default False.
        embeddings_initializer: initializer of the table (for a fresh layer). Default "uniform".
        **kwargs: passed on to `keras.layers.Layer` (``name``, ``dtype``).

    Example:
        >>> layer = RemappedEmbedding(5, 2, 3)
        >>> layer.build((None, None))
        >>> _ = layer.row_of.assign(np.array([0, 1, 0, 1, 0], "int32"))
        >>> _ = layer.embeddings.assign(np.array([[0, 0, 0], [1, 2, 3]], "float32"))
        >>> layer(np.array([[1, 2, 3]])).numpy()[0].tolist()
        [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]
    """

    def __init__(self, input_dim, rows, output_dim, mask_zero=False, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        for name, value in (("input_dim", input_dim), ("rows", rows), ("output_dim", output_dim)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.input_dim, self.rows, self.output_dim = int(input_dim), int(rows), int(output_dim)
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = self.mask_zero

    def build(self, input_shape=None):
        self.row_of = self.add_weight(shape=(self.input_dim,), dtype="int32", initializer="zeros", trainable=False,
                                      name="row_of")
        self.embeddings = self.add_weight(shape=(self.rows, self.output_dim), initializer=self.embeddings_initializer,
                                          name="embeddings")
        self.built = True

    def call(self, inputs):
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        rows = ops.take(self.row_of, inputs, axis=0)
        return ops.cast(ops.take(self.embeddings, rows, axis=0), self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0) if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "rows": self.rows, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer)}


def _maps_zero_to_zero(activation) -> bool:
    return float(ops.convert_to_numpy(activation(ops.zeros((1,))))[0]) == 0.0


def _table(layer):
    """(row_of, table) of an Embedding (identity map) or a RemappedEmbedding."""
    if isinstance(layer, RemappedEmbedding):
        return ops.convert_to_numpy(layer.row_of), ops.convert_to_numpy(layer.embeddings)
    table = ops.convert_to_numpy(layer.embeddings)
    return np.arange(table.shape[0], dtype="int32"), table


def _cell_gates(cell) -> int:
    return 4 if isinstance(cell, klayers.LSTMCell) else 3


def _dead_units_of_cell(cell) -> np.ndarray:
    """Boolean per unit: every incoming weight and bias entry of the unit is zero, and tanh-like activation(0) = 0."""
    units, gates = cell.units, _cell_gates(cell)
    if not _maps_zero_to_zero(cell.activation):
        return np.zeros(units, bool)
    dead = np.ones(units, bool)
    for variable in [cell.kernel, cell.recurrent_kernel] + ([cell.bias] if cell.use_bias else []):
        value = ops.convert_to_numpy(variable)
        view = value.reshape(*value.shape[:-1], gates, units)
        dead &= np.all(view == 0, axis=tuple(range(view.ndim - 1)))
    return dead


def _dead_units_of_layer(layer) -> np.ndarray:
    """Dense units / Conv filters whose kernel column and bias are zero and whose activation maps 0 to 0."""
    kernel = ops.convert_to_numpy(layer.kernel)
    dead = np.all(kernel.reshape(-1, kernel.shape[-1]) == 0, axis=0)
    if layer.use_bias:
        dead &= ops.convert_to_numpy(layer.bias) == 0
    if not _maps_zero_to_zero(layer.activation):
        dead[:] = False
    return dead


def dead_parts(model: keras.Model) -> dict:
    """What `compact_model` would remove: all-zero embedding rows and dead units, per layer.

    Args:
        model: a functional model (pruned or stripped).

    Returns:
        ``{layer name: {"rows": (removed, total)}}`` for embeddings and
        ``{layer name: {"units": {part: (removed, total)}}}`` for RNN, Dense and Conv
        layers (parts "forward"/"backward" for a Bidirectional layer), only where
        something is dead.

    Example:
        >>> from textrecipes.models.classifiers import build_fasttext_classifier
        >>> m = build_fasttext_classifier(10, 2, embedding_dim=4, ngram_buckets=0)
        >>> _ = m.get_layer("embedding").embeddings.assign(np.zeros((10, 4), "float32"))
        >>> dead_parts(m)
        {'embedding': {'rows': (10, 10)}}
    """
    if find_masks(model)[0] is not None:
        model = strip_pruning(model)
    out = {}
    heads = _output_layer_names(model)
    for layer in model.layers:
        if isinstance(layer, (klayers.Embedding, RemappedEmbedding)):
            _, table = _table(layer)
            zero = int(np.sum(np.all(table.reshape(table.shape[0], -1) == 0, axis=1)))
            if zero:
                out[layer.name] = {"rows": (zero, table.shape[0])}
        elif isinstance(layer, (klayers.Bidirectional, klayers.RNN)) and layer.name not in heads:
            parts = {}
            cells = ([("forward", layer.forward_layer.cell), ("backward", layer.backward_layer.cell)]
                     if isinstance(layer, klayers.Bidirectional) else [("cell", layer.cell)])
            for part, cell in cells:
                if isinstance(cell, (klayers.LSTMCell, klayers.GRUCell)):
                    dead = _dead_units_of_cell(cell)
                    if dead.any():
                        parts[part] = (int(dead.sum()), int(dead.size))
            if parts:
                out[layer.name] = {"units": parts}
        elif isinstance(layer, (klayers.Dense, klayers.Conv1D)) and layer.name not in heads:
            dead = _dead_units_of_layer(layer)
            if dead.any():
                out[layer.name] = {"units": {"units": (int(dead.sum()), int(dead.size))}}
    return out


def _output_layer_names(model) -> set:
    outputs = keras.tree.flatten(model.outputs)
    names = set()
    for layer in model.layers:
        try:
            if any(o is t for o in keras.tree.flatten(layer.output) for t in outputs):
                names.add(layer.name)
        except (AttributeError, ValueError):
            continue
    return names


def _keep(dead: np.ndarray) -> np.ndarray:
    keep = np.flatnonzero(~dead)
    return keep if keep.size else np.array([0])  # a layer keeps at least one unit, so the graph stays whole


def _from_config(layer, **changes):
    return type(layer).from_config({**layer.get_config(), **changes})
