"""Nearest neighbours in word vectors as a synonym source: a trained model's embedding or word2vec text."""

from __future__ import annotations

import numpy as np

from textrecipes.augment.synonyms import SynonymSource, _ordered_unique
from textrecipes.text.vectors import read_word_vectors


class EmbeddingNeighbours(SynonymSource):
    """Nearest neighbours by cosine similarity in an embedding matrix.

    A word's "synonyms" are the `top_k` other words whose vectors are most
    similar to its own, among those with similarity at least `min_similarity`,
    most similar first (ties by vocabulary order). Similarities are computed
    with numpy, in batches of rows by `precompute`, or one row at a time on
    demand; results are cached. Words are looked up as given, then
    lower-cased; unknown words have no neighbours.

    Args:
        vectors: float array of shape `(vocabulary size, dim)`.
        vocabulary: list of words, one per row of `vectors`.
        top_k: at most this many neighbours per word. Defaults to `5`.
        min_similarity: smallest cosine similarity kept. Defaults to `0.5`.
        batch_size: rows per matrix product in `precompute`. Defaults to `1024`.
        skip: tokens never returned as neighbours (padding, out-of-vocabulary).
            Defaults to `("", "[UNK]")`, the reserved entries of a Keras
            `TextVectorization` vocabulary.

    Example:

    ```python
    source = EmbeddingNeighbours.from_word2vec("data/samples/vectors.txt")
    source.synonyms("movie")  # ('film', 'picture', 'cinema')
    ```
    """

    def __init__(
        self,
        vectors,
        vocabulary,
        *,
        top_k=5,
        min_similarity=0.5,
        batch_size=1024,
        skip=("", "[UNK]"),
    ):
        vectors = np.asarray(vectors, dtype=np.float32)
        vocabulary = [str(word) for word in vocabulary]
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D (words, dim), got shape {vectors.shape}")
        if vectors.shape[0] != len(vocabulary):
            raise ValueError(
                f"vectors has {vectors.shape[0]} rows but vocabulary has "
                f"{len(vocabulary)} words; they must match"
            )
        if int(top_k) < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        if not -1.0 <= float(min_similarity) <= 1.0:
            raise ValueError(f"min_similarity must be in [-1, 1], got {min_similarity!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.top_k = int(top_k)
        self.min_similarity = float(min_similarity)
        self.batch_size = int(batch_size)
        self.skip = tuple(skip)
        self.vocabulary = vocabulary
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        # Zero rows (e.g. padding) stay zero: similarity 0 to everything.
        self._unit = vectors / np.where(norms == 0, 1.0, norms)
        self._index = {}
        for row, word in enumerate(vocabulary):
            self._index.setdefault(word, row)
        skipped = set(self.skip)
        self._excluded = np.array([word in skipped for word in vocabulary], dtype=bool)
        self._cache = {}

    @classmethod
    def from_word2vec(cls, path, *, limit=None, encoding="utf-8", **kwargs):
        """Reads word vectors in word2vec text format.

        The first line is `count dim`; each following line is a word and `dim`
        numbers separated by spaces (`textrecipes.text.vectors.read_word_vectors`,
        strict word2vec). A malformed line raises a `DataError` (a `ValueError`)
        with `file:line: what is wrong`.

        Args:
            path: the vectors file.
            limit: read only the first `limit` vectors (word2vec files are
                sorted by frequency). Defaults to `None` (all).
            encoding: file encoding. Defaults to `"utf-8"`.
            **kwargs: passed to `EmbeddingNeighbours` (`top_k`,
                `min_similarity`, ...).

        Returns:
            An `EmbeddingNeighbours`.

        Example:

        ```python
        source = EmbeddingNeighbours.from_word2vec(
            "data/samples/vectors.txt", top_k=2, min_similarity=0.8
        )
        ```
        """
        words, vectors = read_word_vectors(path, word2vec=True, limit=limit, encoding=encoding)
        return cls(vectors, words, **kwargs)

    @classmethod
    def from_embedding(cls, embedding, vocabulary, **kwargs):
        """Uses a trained model's own embedding matrix.

        Args:
            embedding: a Keras model (its first `Embedding` layer is used), an
                `Embedding` layer, or a numpy array of shape `(rows, dim)`.
            vocabulary: the words of rows `0, 1, ...`, e.g.
                `TextVectorization.get_vocabulary()`. Rows beyond the
                vocabulary (if the layer has more) are ignored.
            **kwargs: passed to `EmbeddingNeighbours`.

        Returns:
            An `EmbeddingNeighbours`.

        Example:

        ```python
        import keras
        layer = keras.layers.Embedding(4, 8)
        layer.build((None,))
        source = EmbeddingNeighbours.from_embedding(
            layer, ["", "[UNK]", "film", "movie"], min_similarity=-1.0
        )
        ```
        """
        if hasattr(embedding, "layers"):
            layers = [
                layer for layer in embedding.layers if type(layer).__name__ == "Embedding"
            ]
            if not layers:
                raise ValueError(f"Model {embedding.name!r} has no Embedding layer")
            embedding = layers[0]
        if hasattr(embedding, "embeddings"):
            embedding = embedding.embeddings
        matrix = np.asarray(embedding)
        vocabulary = list(vocabulary)
        if matrix.ndim != 2 or matrix.shape[0] < len(vocabulary):
            raise ValueError(
                f"Embedding matrix of shape {matrix.shape} cannot hold a vocabulary "
                f"of {len(vocabulary)} words"
            )
        return cls(matrix[: len(vocabulary)], vocabulary, **kwargs)

    def _neighbours(self, rows, similarities):
        """Top-k neighbours for each row of a (batch, vocabulary) block."""
        similarities[:, self._excluded] = -np.inf
        similarities[np.arange(len(rows)), rows] = -np.inf
        k = min(self.top_k, similarities.shape[1])
        results = []
        for row, sims in zip(rows, similarities):
            if k < sims.shape[0]:
                candidates = np.argpartition(-sims, k - 1)[:k]
            else:
                candidates = np.arange(sims.shape[0])
            # Most similar first; ties in vocabulary order.
            order = candidates[np.lexsort((candidates, -sims[candidates]))]
            word = self.vocabulary[row]
            results.append(
                _ordered_unique(
                    (
                        self.vocabulary[i]
                        for i in order
                        if sims[i] >= self.min_similarity
                    ),
                    word,
                )
            )
        return results

    def precompute(self, words=None):
        """Fills the cache for many words at once, in batched matrix products.

        Args:
            words: the words to resolve. Defaults to `None` (the whole
                vocabulary).

        Returns:
            `self`.

        Example:

        ```python
        source = EmbeddingNeighbours.from_word2vec("data/samples/vectors.txt")
        source.precompute(["good", "movie"])
        ```
        """
        if words is None:
            words = self.vocabulary
        pending = []
        for word in words:
            if word in self._cache:
                continue
            row = self._row(word)
            if row is None:
                self._cache[word] = ()
            else:
                pending.append((word, row))
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            rows = np.array([row for _, row in batch])
            block = self._unit[rows] @ self._unit.T
            for (word, _), found in zip(batch, self._neighbours(rows, block)):
                self._cache[word] = found
        return self

    def _row(self, word):
        row = self._index.get(word)
        if row is None:
            row = self._index.get(word.lower())
        return row

    def synonyms(self, word):
        found = self._cache.get(word)
        if found is None:
            row = self._row(word)
            if row is None:
                found = ()
            else:
                block = (self._unit @ self._unit[row])[None, :]
                found = self._neighbours(np.array([row]), block)[0]
            self._cache[word] = found
        return found
