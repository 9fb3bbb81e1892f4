"""TF-IDF word and hashed n-gram features as a Keras layer (`TfidfFeatures`), for ``model.name = "linear"``.

`TfidfFeatures` turns the right-padded token ids of
`textrecipes.text.tokenization.TextVectorizer` into a sparse TF-IDF matrix, one
row per text, held as ``(feature_ids, values)`` of shape ``(batch, slots)``: word
unigrams (the vocabulary ids) and word n-grams hashed into ``ngram_buckets``
buckets; term counts per text, sublinear tf ``1 + log(tf)``, smooth idf
``log((1 + n) / (1 + df)) + 1`` learnt from the training split, L2 row
normalisation; optionally scaled by naive-Bayes log-count ratios (NBSVM, Wang &
Manning 2012), one column per output unit (one-vs-rest). These are
scikit-learn's ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`` features.

The idf and the naive-Bayes ratios are statistics of the training split, not
weights that gradient descent learns. They are non-trainable weights, saved with
the model (and copied by ``set_weights``), that `TfidfFeatures.adapt` fits in one
pass over the training ids before ``fit``, as Keras preprocessing layers do.
`textrecipes.models.linear` puts the linear head on top.

Hashing: an n-gram of ids ``(a, b, c)`` hashes by simple tabulation,
``T0[a] ^ T1[b] ^ T2[c]`` with fixed random 31-bit tables (3-independent, no
integer overflow on any backend), then ``mod ngram_buckets``. The tables are
drawn from a fixed seed and saved as non-trainable weights, so a reloaded model
hashes exactly as the trained one did.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import ops

MAX_NGRAM = 4
_HASH_SEED = 2012  # part of the model's definition: changing it changes every n-gram feature


def _hash_table_initializer(shape, dtype=None):
    """Fixed random 31-bit tables, one row per position in an n-gram (numpy's PCG64, seeded)."""
    rng = np.random.default_rng(_HASH_SEED)
    return rng.integers(0, 2**31 - 1, size=shape, dtype=np.int64).astype("int32")


@keras.saving.register_keras_serializable(package="textrecipes")
class TfidfFeatures(keras.layers.Layer):
    """Right-padded token ids → a sparse, L2-normalised TF-IDF row per text (word and hashed n-gram features).

    Features: ids ``2 .. vocabulary_size - 1`` are the word unigrams (0 pads; the
    OOV id 1 is dropped unless ``count_oov``), and n-grams of ``ngram_range[0]`` to
    ``ngram_range[1]`` words (two or more) are hashed into ``ngram_buckets`` more
    features. Per text: term counts, ``1 + log(count)`` when ``sublinear_tf``, times
    the idf, then divided by the row's L2 norm, as scikit-learn's
    ``TfidfVectorizer(sublinear_tf=True)``. With ``nb_units`` above 0, each value is
    then multiplied by the feature's naive-Bayes log-count ratio for each of
    ``nb_units`` output units, and each unit's row is L2-normalised again.

    The output is the sparse matrix as a pair ``(feature_ids, values)``: int32
    ``(batch, slots)`` and float32 ``(batch, slots)`` (``(batch, slots, nb_units)``
    with naive-Bayes ratios), one slot per distinct feature of a text and zeros
    elsewhere, so padding never changes a row. `to_scipy` turns it into a CSR matrix.

    Until `adapt` runs, the idf is 1 and the ratios are 1 (plain sublinear tf, L2).

    Args:
        vocabulary_size: ids the vocabulary gives (``len(Vocabulary)``), 0 and 1 included.
        ngram_buckets: hashed n-gram features. Default 262144 (2**18).
        ngram_range: ``(min_n, max_n)`` in words, as scikit-learn's; 1 is the word
            unigrams, 2 to 4 hashed n-grams. Default (1, 2).
        sublinear_tf: ``1 + log(count)`` rather than the count. Default True.
        min_df: after `adapt`, features in fewer training texts get idf 0 (no
            weight, no share of the norm), as scikit-learn's ``min_df``; with 1
            (default) only features the training split never had are dropped.
        count_oov: also count the OOV id 1 as a word feature (scikit-learn has no
            such feature). Default False.
        nb_units: 0 (default) for no naive-Bayes scaling; else the number of output
            units: 1 for a binary (sigmoid) head, the number of labels for a
            multi-class or multi-label head (one-vs-rest ratios).
        nb_alpha: the ratios' smoothing count (Wang & Manning's alpha). Default 1.0.
        **kwargs: passed on to `keras.layers.Layer` (``name``).

    Example:
        >>> import numpy as np
        >>> layer = TfidfFeatures(10, ngram_buckets=16)
        >>> ids, values = layer(np.array([[2, 3, 2, 0]]))
        >>> round(float((values.numpy() ** 2).sum()), 6)
        1.0
    """

    def __init__(self, vocabulary_size, ngram_buckets=2**18, ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                 count_oov=False, nb_units=0, nb_alpha=1.0, **kwargs):
        kwargs["trainable"] = False
        kwargs.setdefault("dtype", "float32")  # statistics in float32 under a mixed policy too
        super().__init__(**kwargs)
        if not isinstance(vocabulary_size, int) or vocabulary_size < 3:
            raise ValueError(f"vocabulary_size must be an integer of at least 3 (0 pads, 1 is OOV), got {vocabulary_size!r}")
        ngram_range = tuple(ngram_range)
        if (len(ngram_range) != 2 or not all(isinstance(n, int) for n in ngram_range)
                or not 1 <= ngram_range[0] <= ngram_range[1] <= MAX_NGRAM):
            raise ValueError(f"ngram_range must be (min_n, max_n) with 1 <= min_n <= max_n <= {MAX_NGRAM}, got {ngram_range!r}")
        uses_hashing = ngram_range[1] >= 2
        if not isinstance(ngram_buckets, int) or ngram_buckets < (1 if uses_hashing else 0) or ngram_buckets > 2**24:
            raise ValueError(f"ngram_buckets must be an integer in [1, 2**24] when ngram_range reaches 2 words, "
                             f"got {ngram_buckets!r}")
        if not isinstance(nb_units, int) or nb_units < 0:
            raise ValueError(f"nb_units must be a non-negative integer, got {nb_units!r}")
        if not isinstance(min_df, int) or min_df < 1:
            raise ValueError(f"min_df must be a positive integer, got {min_df!r}")
        if not nb_alpha > 0:
            raise ValueError(f"nb_alpha must be positive, got {nb_alpha!r}")
        self.vocabulary_size = vocabulary_size
        self.ngram_buckets = ngram_buckets if uses_hashing else 0
        self.ngram_range = ngram_range
        self.sublinear_tf = bool(sublinear_tf)
        self.min_df = min_df
        self.count_oov = bool(count_oov)
        self.nb_units = nb_units
        self.nb_alpha = float(nb_alpha)

    @property
    def num_features(self) -> int:
        """Word features (``vocabulary_size``, ids 0 and 1 never or rarely used) plus n-gram buckets."""
        return self.vocabulary_size + self.ngram_buckets

    def build(self, input_shape):
        self.idf = self.add_weight(shape=(self.num_features,), initializer="ones", trainable=False, name="idf")
        self.documents = self.add_weight(shape=(), initializer="zeros", trainable=False, name="documents")
        if self.ngram_range[1] >= 2:
            self.hash_tables = self.add_weight(shape=(self.ngram_range[1], self.vocabulary_size), dtype="int32",
                                               initializer=_hash_table_initializer, trainable=False, name="hash_tables")
        if self.nb_units:
            self.nb_ratios = self.add_weight(shape=(self.num_features, self.nb_units), initializer="ones",
                                             trainable=False, name="nb_ratios")

    @property
    def is_adapted(self) -> bool:
        """Whether `adapt` has counted documents (the idf is 1 everywhere before)."""
        return self.built and float(ops.convert_to_numpy(self.documents)) > 0

    def _slots(self, ids):
        """Sorted feature ids per row ``(batch, slots)`` (``num_features`` marks an empty slot), and the counts.

        Returns ``(keys, counts)``: ``counts`` is the number of times the slot's
        feature occurs in the row at the first slot of each distinct feature, 0 at
        every other slot.
        """
        ids = ops.cast(ids, "int32")
        empty = self.num_features
        low = 1 if self.count_oov else 2
        parts = []
        if self.ngram_range[0] == 1:
            parts.append(ops.where(ids >= low, ids, empty))
        if self.ngram_range[1] >= 2:
            safe = ops.minimum(ids, self.vocabulary_size - 1)  # an id past the vocabulary would read out of the table
            code, valid = ops.take(self.hash_tables[0], safe), ids > 0
            for n in range(2, self.ngram_range[1] + 1):
                # the n-gram starting at position i: ids[i .. i + n - 1]
                code = ops.bitwise_xor(code[:, :-1], ops.take(self.hash_tables[n - 1], safe[:, n - 1:]))
                valid = ops.logical_and(valid[:, :-1], ids[:, n - 1:] > 0)
                if n >= self.ngram_range[0]:
                    parts.append(ops.where(valid, self.vocabulary_size + ops.mod(code, self.ngram_buckets), empty))
        keys = ops.sort(ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0], axis=1)
        previous = ops.concatenate([ops.full_like(keys[:, :1], -1), keys[:, :-1]], axis=1)
        starts = ops.not_equal(keys, previous)
        # Runs of equal keys are the distinct features of a row; counting a run is a
        # segment sum over the flattened rows (every row starts a run, so none spans two).
        run = ops.cumsum(ops.reshape(ops.cast(starts, "int32"), (-1,))) - 1
        present = ops.reshape(ops.cast(keys < empty, "float32"), (-1,))
        totals = ops.segment_sum(present, run, sorted=True)
        counts = ops.reshape(ops.take(totals, run), ops.shape(keys))
        return keys, ops.where(ops.logical_and(starts, keys < empty), counts, 0.0)

    def call(self, ids):
        keys, counts = self._slots(ids)
        first = counts > 0
        feature_ids = ops.where(first, keys, 0)
        tf = ops.where(first, 1.0 + ops.log(ops.maximum(counts, 1.0)), 0.0) if self.sublinear_tf else counts
        values = tf * ops.take(self.idf, feature_ids)
        norm = ops.sqrt(ops.sum(ops.square(values), axis=1, keepdims=True))
        # An empty row stays 0 (scikit-learn's normalize). The floor is 1, not a tiny epsilon: a row
        # with a feature has norm >= 1 (tf >= 1, idf >= 1), and a float16 TFLite export turns a
        # 1e-12 constant into 0, so empty rows came out 0/0 = NaN there.
        values = values / ops.maximum(norm, 1.0)
        if self.nb_units:
            values = ops.expand_dims(values, -1) * ops.take(self.nb_ratios, feature_ids, axis=0)
            # Back to unit norm, per unit: the rows' scale (hence the loss's curvature, hence the
            # learning rate that suits) stays the same with and without the ratios.
            norm = ops.sqrt(ops.sum(ops.square(values), axis=1, keepdims=True))
            values = values / ops.maximum(norm, 1e-4)  # a floor float16 holds (its smallest normal: 6e-5)
        return feature_ids, values

    def compute_output_spec(self, ids):
        shape = (ids.shape[0], None)
        values = shape + ((self.nb_units,) if self.nb_units else ())
        return keras.KerasTensor(shape, dtype="int32"), keras.KerasTensor(values, dtype="float32")

    def adapt(self, data, targets=None, *, steps=None):
        """Fits the idf (and the naive-Bayes ratios) on the training split's token ids.

        Args:
            data: the training ids: a `tf.data.Dataset` of ``ids`` or ``(ids,
                targets, ...)`` batches (as `textrecipes.text.pipeline.make_dataset` gives;
                use one without augmentation), or an int array ``(texts, time)``.
            targets: the training targets when ``data`` holds ids only, as the
                loss takes them (`textrecipes.text.pipeline.encode_labels`): 0/1
                ``(n, 1)`` for binary, class ids ``(n,)`` for multi-class, multi-hot
                ``(n, labels)`` for multi-label. Needed only with ``nb_units``.
                Default None.
            steps: read at most this many batches. Default None (all).

        Returns:
            This layer.

        Raises:
            ValueError: with no texts, or naive-Bayes ratios to fit but no targets.

        Example:
            >>> import numpy as np
            >>> layer = TfidfFeatures(5, ngram_range=(1, 1))
            >>> _ = layer.adapt(np.array([[2, 3], [2, 0]]))
            >>> [round(float(v), 4) for v in layer.idf.numpy()[2:4]]  # log((1 + 2) / (1 + df)) + 1
            [1.0, 1.4055]
        """
        import scipy.sparse
        import tensorflow as tf

        if not self.built:
            self.build((None, None))
        slots = tf.function(self._slots, reduce_retracing=True)
        df = np.zeros(self.num_features, "float64")
        per_unit = np.zeros((self.num_features, self.nb_units), "float64") if self.nb_units else None
        batches = data if isinstance(data, tf.data.Dataset) else [np.asarray(data)]
        documents, offset, units_seen = 0, 0, np.zeros(self.nb_units)
        for step, batch in enumerate(batches):
            if steps is not None and step >= steps:
                break
            y = None
            if isinstance(batch, (tuple, list)):
                batch, y = batch[0], (batch[1] if len(batch) > 1 else None)
            if targets is not None:
                y = None  # explicit targets win; taken by position below
            keys, counts = (np.asarray(t) for t in slots(batch))
            rows, cols = np.nonzero(counts)
            x = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, keys[rows, cols])),
                                        shape=(keys.shape[0], self.num_features))
            df += np.asarray(x.sum(axis=0)).ravel()
            if self.nb_units:
                if targets is not None:
                    y = np.asarray(targets)[offset:offset + keys.shape[0]]
                if y is None:
                    raise ValueError(f"{self.name}: naive-Bayes ratios (nb_units={self.nb_units}) need the training "
                                     "targets: give (ids, targets) batches or targets=")
                y = self._unit_targets(np.asarray(y), keys.shape[0])
                per_unit += x.T @ y
                units_seen += y.sum(axis=0)
            documents += keys.shape[0]
            offset += keys.shape[0]
        if not documents:
            raise ValueError(f"{self.name}: adapt() got no texts")
        if targets is not None and len(targets) != documents:
            raise ValueError(f"{self.name}: {len(targets)} targets for {documents} texts")
        # A feature in fewer than min_df training texts (above all one the training split never
        # had: an unseen n-gram's bucket) gets idf 0, so it takes no share of a row's L2 norm, as
        # it has no column in scikit-learn's fitted vocabulary. Its max idf would otherwise shrink
        # every known feature of a text full of new bigrams.
        self.idf.assign(np.where(df >= self.min_df, np.log((1.0 + documents) / (1.0 + df)) + 1.0, 0.0))
        self.documents.assign(float(documents))
        if self.nb_units:
            a = self.nb_alpha
            p = a + per_unit  # feature counts in the texts of each unit's positive class
            q = a + (df[:, None] - per_unit)  # ... and in the others (one-vs-rest)
            self.nb_ratios.assign(np.log(p / p.sum(axis=0)) - np.log(q / q.sum(axis=0)))
        return self

    def _unit_targets(self, y, rows):
        """Targets → a 0/1 matrix (rows, nb_units): one-hot for class ids, as-is for binary/multi-hot."""
        if y.shape[0] != rows:
            raise ValueError(f"{self.name}: a batch of {rows} texts came with {y.shape[0]} targets")
        if self.nb_units == 1:
            return (y.reshape(rows, -1)[:, :1] > 0.5).astype("float64")
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            ids = y.reshape(-1).astype(int)
            if ids.min() < 0 or ids.max() >= self.nb_units:
                raise ValueError(f"{self.name}: class ids must be in [0, {self.nb_units}), got {ids.min()}..{ids.max()}")
            return np.eye(self.nb_units)[ids]
        if y.shape[1] != self.nb_units:
            raise ValueError(f"{self.name}: targets have {y.shape[1]} columns, nb_units is {self.nb_units}")
        return (y > 0.5).astype("float64")

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "ngram_buckets": self.ngram_buckets,
                "ngram_range": list(self.ngram_range), "sublinear_tf": self.sublinear_tf, "min_df": self.min_df,
                "count_oov": self.count_oov,
                "nb_units": self.nb_units, "nb_alpha": self.nb_alpha}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)  # always False
        return cls(**config)


def to_scipy(feature_ids, values, num_features: int):
    """The ``(feature_ids, values)`` pair of `TfidfFeatures` → a scipy CSR matrix ``(batch, num_features)``.

    Args:
        feature_ids: int ``(batch, slots)``.
        values: float ``(batch, slots)`` (for naive-Bayes values ``(batch, slots, units)``, pass one unit's slice).
        num_features: the matrix width (`TfidfFeatures.num_features`).

    Returns:
        A `scipy.sparse.csr_matrix`.

    Example:
        >>> layer = TfidfFeatures(10, ngram_range=(1, 1))
        >>> to_scipy(*layer(np.array([[2, 2, 0]])), layer.num_features).toarray()[0, :3].tolist()
        [0.0, 0.0, 1.0]
    """
    import scipy.sparse

    ids, vals = np.asarray(feature_ids), np.asarray(values, dtype="float64")
    rows, cols = np.nonzero(vals)
    return scipy.sparse.csr_matrix((vals[rows, cols], (rows, ids[rows, cols])), shape=(ids.shape[0], num_features))
