"""Pretrained word vectors (word2vec / GloVe text format) → an embedding matrix for a vocabulary.

Only the vocabulary's words are kept, so a large file costs one pass and little
memory. Words of the vocabulary that the file lacks get seeded random rows;
the coverage report says how many there were. numpy and keras only (no
TensorFlow), like `textrecipes.models.classifiers`.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from textrecipes.data.files import check_regular_file, fragment
from textrecipes.data.records import DataError

PAD_ID, OOV_ID = 0, 1


def _tokens_of(vocabulary) -> list[str]:
    tokens = getattr(vocabulary, "tokens", vocabulary)
    return list(tokens)


def read_word_vectors(path, *, dim: int | None = None, dim_source: str = "", word2vec: bool = False,
                      limit: int | None = None, encoding: str = "utf-8") -> tuple[list[str], np.ndarray]:
    """Reads a word-vectors text file: one ``word x1 ... xd`` line per word, after an optional ``count dim`` header.

    The one reader of word vectors (the classifiers' ``model.vectors`` and
    augmentation's ``vectors:PATH`` both read through it). Every problem is a
    `DataError` (a `ValueError`) naming ``file:line``.

    Args:
        path: the vectors file: GloVe (no header) or word2vec text (a ``count dim`` first line).
        dim: the expected dimension; None: the header's, else the first vector's.
        dim_source: where ``dim`` comes from, named in errors (e.g. "model.embedding_dim"). Default "".
        word2vec: the header is required and blank lines are errors (the strict word2vec
            format). Default False: GloVe or word2vec, blank lines skipped.
        limit: read only the first ``limit`` vectors (word2vec files are sorted by frequency). Default None (all).
        encoding: the file's encoding. Default "utf-8".

    Returns:
        ``(words, vectors)``: the words in file order and a float32 ``(len(words), dim)`` array.

    Raises:
        DataError: for a missing file, a bad header, a line with the wrong number of values,
            a value that is not a finite number, a count that disagrees with the header, or no vectors.

    Example:
        >>> words, vectors = read_word_vectors("data/samples/vectors.txt")
        >>> len(words) == len(vectors), vectors.dtype
        (True, dtype('float32'))
    """
    path = os.fspath(path)
    try:
        f = open(check_regular_file(path, "vectors file"), encoding=encoding)
    except FileNotFoundError:
        raise DataError(f"{path}: no such vectors file") from None
    words: list[str] = []
    rows: list[np.ndarray] = []
    header_count, number = None, 0
    given = dim_source or "the first vector"
    with f:
        for number, line in enumerate(f, start=1):
            if limit is not None and len(words) >= limit:
                break
            parts = line.rstrip("\r\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                header_count, header_dim = int(parts[0]), int(parts[1])
                if header_dim < 1:
                    raise DataError(f"{path}:1: word2vec header dimension must be positive, got {header_dim}")
                if dim is not None and header_dim != dim:
                    raise DataError(f"{path}:1: the vectors have dimension {header_dim} but {dim_source or 'dim'} = "
                                    f"{dim}; set {dim_source or 'dim'} = {header_dim}")
                dim, given = header_dim, "the word2vec header"
                continue
            if number == 1 and word2vec:
                raise DataError(f"{path}:1: expected a word2vec header 'count dim', got {fragment(line.strip())}")
            if not line.strip():
                if word2vec:
                    raise DataError(f"{path}:{number}: blank line")
                continue
            if header_count is not None and len(words) == header_count:
                raise DataError(f"{path}:{number}: more vectors than the header's count {header_count}")
            if len(parts) < 2:
                raise DataError(f"{path}:{number}: expected a word and numbers, got {fragment(line.strip())}")
            if dim is None:
                dim, given = len(parts) - 1, f"line {number}"
            elif len(parts) - 1 != dim:
                hint = f"; set {dim_source} to the file's dimension" if not words and dim_source else ""
                raise DataError(f"{path}:{number}: expected a word and {dim} numbers (from {given}), but word "
                                f"{parts[0]!r} has {len(parts) - 1}{hint}")
            try:
                vector = np.array(parts[1:], dtype=np.float32)
            except ValueError:
                bad = next(p for p in parts[1:] if not _is_number(p))
                raise DataError(f"{path}:{number}: {bad!r} is not a number (word {parts[0]!r})") from None
            if not np.all(np.isfinite(vector)):
                raise DataError(f"{path}:{number}: word {parts[0]!r} has a value that is not finite")
            words.append(parts[0])
            rows.append(vector)
    if word2vec and number == 0:
        raise DataError(f"{path}:1: expected a word2vec header 'count dim', got an empty file")
    if header_count is not None and limit is None and len(words) < header_count:
        raise DataError(f"{path}:{number + 1}: file ends after {len(words)} vectors but the header says {header_count}")
    if not words and limit != 0:
        raise DataError(f"{path}: no vectors in the file (empty, or a header only)")
    return words, (np.stack(rows) if rows else np.zeros((0, dim or 0), np.float32))


def load_vectors(path, vocabulary, dim: int | None = None, *, counts: Mapping[str, int] | None = None,
                 seed: int = 0, encoding: str = "utf-8") -> tuple[np.ndarray, dict]:
    """Reads word vectors (`read_word_vectors`) and returns an embedding matrix for ``vocabulary`` and a coverage report.

    A vocabulary word missing from the file is matched case-insensitively
    before it is given up (an exact match wins).

    Args:
        path: the vectors file (UTF-8 text, GloVe or word2vec).
        vocabulary: a `Vocabulary` or its token list (ids 2, 3, ... in order;
            0 is padding, 1 the unknown word).
        dim: the expected dimension (``model.embedding_dim``); None: the file's.
        counts: token → occurrences in the training texts (`Vocabulary.counts_`),
            for the share of training tokens covered. Default None.
        seed: seeds the random rows of words the file lacks. Default 0.
        encoding: the file's encoding. Default "utf-8".

    Returns:
        ``(matrix, report)``: a float32 array ``(len(tokens) + 2, dim)`` whose
        padding row is zero and whose other rows missing from the file are drawn
        from a normal distribution with the found vectors' standard deviation
        (0.05 when none was found); and a dict with ``path``, ``dim``,
        ``vectors_in_file``, ``vocabulary_words``, ``found``, ``coverage`` (share
        of vocabulary words found) and, with ``counts``, ``token_coverage`` (share
        of training-token occurrences whose word was found).

    Raises:
        DataError: ``file:line: what`` for a line with the wrong number of
            values, a value that is not a number, a bad header, or an empty file.

    Example:
        >>> matrix, report = load_vectors("data/samples/vectors.txt", ["good", "bad", "zebra"])
        >>> matrix.shape, report["found"], report["coverage"]
        ((5, 16), 2, 0.6667)
    """
    path = os.fspath(path)
    tokens = _tokens_of(vocabulary)
    words, vectors = read_word_vectors(path, dim=dim, dim_source="model.embedding_dim" if dim is not None else "",
                                       encoding=encoding)
    dim = vectors.shape[1]
    index = {t: i + 2 for i, t in enumerate(tokens)}
    lower_index: dict[str, list[int]] = {}
    for t, i in index.items():
        lower_index.setdefault(t.lower(), []).append(i)
    found: dict[int, np.ndarray] = {}
    exact: set[int] = set()
    for word, vector in zip(words, vectors):
        if word in index and index[word] not in exact:
            found[index[word]] = vector
            exact.add(index[word])
        for i in lower_index.get(word.lower(), ()):
            found.setdefault(i, vector)  # a case-insensitive match, unless an exact one comes
    rows = len(tokens) + 2
    rng = np.random.default_rng(seed)
    scale = float(np.std(np.stack(list(found.values())))) if found else 0.05
    matrix = rng.normal(0.0, scale or 0.05, size=(rows, dim)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    for i, vector in found.items():
        matrix[i] = vector
    report = {"path": path, "dim": dim, "vectors_in_file": len(words), "vocabulary_words": len(tokens),
              "found": len(found), "coverage": round(len(found) / len(tokens), 4) if tokens else 0.0}
    if counts is not None:
        total = sum(counts.get(t, 0) for t in tokens)
        covered = sum(counts.get(tokens[i - 2], 0) for i in found)
        report["token_coverage"] = round(covered / total, 4) if total else 0.0
    return matrix, report


def format_coverage(report: Mapping) -> str:
    """One log line for a `load_vectors` report.

    Args:
        report: the report dict from `load_vectors`.

    Returns:
        A line such as ``vectors: 2/3 vocabulary words found (66.7%) in vectors.txt (40 vectors, dim 16)``.

    Example:
        >>> format_coverage({"path": "v.txt", "dim": 16, "vectors_in_file": 40, "vocabulary_words": 3,
        ...                  "found": 2, "coverage": 0.6667})
        'vectors: 2/3 vocabulary words found (66.7%) in v.txt (40 vectors, dim 16)'
    """
    line = (f"vectors: {report['found']}/{report['vocabulary_words']} vocabulary words found "
            f"({report['coverage']:.1%}) in {report['path']} ({report['vectors_in_file']} vectors, dim {report['dim']})")
    if "token_coverage" in report:
        line += f"; {report['token_coverage']:.1%} of training tokens covered"
    return line


def apply_vectors(model, matrix: np.ndarray, freeze: bool = False, layer_name: str = "embedding") -> None:
    """Copies ``matrix`` into the model's word embedding, frozen or trainable.

    Call it before ``compile`` so that freezing takes effect.

    Args:
        model: a model from `textrecipes.models.classifiers` (its word embedding layer is "embedding").
        matrix: the embedding matrix, as from `load_vectors`.
        freeze: keep the vectors fixed while training. Default False.
        layer_name: the embedding layer's name. Default "embedding".

    Raises:
        ValueError: when the shapes differ.

    Example:
        >>> from textrecipes.models.classifiers import build_fasttext_classifier
        >>> matrix, _ = load_vectors("data/samples/vectors.txt", ["good", "bad"])
        >>> model = build_fasttext_classifier(4, 2, embedding_dim=16, ngram_buckets=0)
        >>> apply_vectors(model, matrix, freeze=True)
        >>> model.get_layer("embedding").trainable
        False
    """
    layer = model.get_layer(layer_name)
    shape = tuple(layer.embeddings.shape)
    if shape != tuple(matrix.shape):
        raise ValueError(f"the vectors matrix has shape {tuple(matrix.shape)}, the model's {layer_name!r} layer {shape}")
    layer.set_weights([matrix])
    layer.trainable = not freeze


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


__all__: Sequence[str] = ("read_word_vectors", "load_vectors", "format_coverage", "apply_vectors")
