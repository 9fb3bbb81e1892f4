"""Synonym sources for text augmentation: WordNet, a user file, embedding neighbours.

Every source answers one question, `source.synonyms(word) -> tuple[str, ...]`:
the synonyms of `word`, best first, without `word` itself, always in the same
order (so seeded augmentation is reproducible across processes). Look-ups are
cached, so a word is resolved once per source.

- `WordNetSynonyms`: English WordNet through NLTK, readable offline
  (`make wordnet`, see `textrecipes.augment.wordnet_data`).
- `FileSynonyms`: a `word<TAB>syn1,syn2,...` file, for any language.
- `EmbeddingNeighbours`: nearest neighbours by cosine similarity in an
  embedding matrix (a trained model's, or word2vec text vectors).
- `MappingSynonyms`: a Python dict, for tests and small hand-made lists.

`source_from_spec("wordnet" | "file:PATH" | "vectors:PATH")` builds one from the
string the command line takes.
"""

from __future__ import annotations

import abc
import os
import re
import threading
import warnings
from pathlib import Path

import numpy as np

__all__ = [
    "SynonymSource",
    "MappingSynonyms",
    "FileSynonyms",
    "WordNetSynonyms",
    "WordNetNotFoundError",
    "EmbeddingNeighbours",
    "source_from_spec",
    "wordnet_search_dirs",
]

# Where `make wordnet` puts the NLTK data folder: <repo>/data/nltk_data.
PROJECT_NLTK_DATA = Path(__file__).resolve().parents[2] / "data" / "nltk_data"
NLTK_DATA_ENV = "TEXTRECIPES_NLTK_DATA"


def _ordered_unique(words, exclude):
    """Drops duplicates (keeping the first) and any case-variant of `exclude`."""
    excluded = exclude.casefold()
    seen = {}
    for word in words:
        if word and word.casefold() != excluded and word not in seen:
            seen[word] = None
    return tuple(seen)


class SynonymSource(abc.ABC):
    """Base class of synonym sources: `synonyms(word)` returns a tuple of strings.

    Subclasses implement `synonyms`, which must return the same tuple, in the
    same order, every time it is called with the same word (augmentation picks
    from it by position), never containing the word itself; an empty tuple
    means "no synonyms". Any object with such a method works where a source is
    expected.

    Example:

    ```python
    class Upper(SynonymSource):
        def synonyms(self, word):
            return (word.upper(),) if word.islower() else ()

    Upper().synonyms("film")  # ('FILM',)
    ```
    """

    @abc.abstractmethod
    def synonyms(self, word):
        """Returns the synonyms of `word` as a tuple of strings, best first."""

    def __call__(self, word):
        return self.synonyms(word)


class MappingSynonyms(SynonymSource):
    """Synonyms from a dict mapping each word to its synonyms.

    A word is looked up as given, then lower-cased.

    Args:
        mapping: dict from word to an iterable of synonyms.
        symmetric: if `True`, every synonym also gets the head word and the
            other synonyms of its entry as synonyms. Defaults to `False`.

    Example:

    ```python
    source = MappingSynonyms({"film": ["movie", "picture"]}, symmetric=True)
    source.synonyms("film")   # ('movie', 'picture')
    source.synonyms("movie")  # ('film', 'picture')
    ```
    """

    def __init__(self, mapping, *, symmetric=False):
        self.symmetric = symmetric
        table = {}
        for word, synonyms in mapping.items():
            if isinstance(synonyms, str):
                raise TypeError(
                    f"Synonyms of {word!r} must be a list of strings, got the "
                    f"string {synonyms!r}"
                )
            table.setdefault(word, []).extend(synonyms)
            if symmetric:
                group = [word, *synonyms]
                for synonym in synonyms:
                    table.setdefault(synonym, []).extend(group)
        self._table = {
            word: _ordered_unique(synonyms, word) for word, synonyms in table.items()
        }

    def __len__(self):
        return len(self._table)

    def synonyms(self, word):
        found = self._table.get(word)
        if found is None:
            found = self._table.get(word.lower(), ())
        return found


class FileSynonyms(MappingSynonyms):
    """Synonyms from a user file with one `word<TAB>syn1,syn2,...` line per word.

    Works for any language (UTF-8). Synonyms are separated by `,` (or the
    full-width `，` and `、` common in Chinese text); a synonym may contain
    spaces. Blank lines and lines starting with `#` are skipped; a word that
    appears on several lines gets the synonyms of all of them. A malformed line
    raises `ValueError` with `file:line: what is wrong`.

    Args:
        path: the synonym file.
        symmetric: if `True`, each synonym also maps back to its head word and
            the other synonyms of its line. Defaults to `False`.
        encoding: file encoding. Defaults to `"utf-8"` (a BOM is skipped).

    Example:

    ```python
    source = FileSynonyms("data/samples/synonyms_zh.tsv")
    source.synonyms("电影")  # ('影片', '片子')
    ```
    """

    SEPARATORS = (",", "，", "、")

    def __init__(self, path, *, symmetric=False, encoding="utf-8"):
        self.path = str(path)
        self.encoding = encoding
        mapping = {}
        with open(path, encoding=encoding, newline="") as lines:
            for number, line in enumerate(lines, start=1):
                line = line.rstrip("\r\n")
                if number == 1:
                    line = line.lstrip("\ufeff")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                word, synonyms = self._parse(line, number)
                mapping.setdefault(word, []).extend(synonyms)
        super().__init__(mapping, symmetric=symmetric)

    def _parse(self, line, number):
        where = f"{self.path}:{number}"
        if "\t" not in line:
            raise ValueError(
                f"{where}: no tab; expected 'word<TAB>syn1,syn2,...', got {line!r}"
            )
        word, rest = line.split("\t", 1)
        word = word.strip()
        if not word:
            raise ValueError(f"{where}: empty word before the tab")
        if "\t" in rest:
            raise ValueError(
                f"{where}: more than one tab; separate synonyms with ',' not tabs"
            )
        for separator in self.SEPARATORS[1:]:
            rest = rest.replace(separator, ",")
        synonyms = [synonym.strip() for synonym in rest.split(",")]
        if not any(synonyms):
            raise ValueError(f"{where}: no synonyms after the tab for {word!r}")
        if not all(synonyms):
            raise ValueError(
                f"{where}: empty synonym in {rest!r} (a doubled or trailing comma)"
            )
        return word, synonyms


class WordNetNotFoundError(LookupError):
    """Raised when no NLTK WordNet data folder is found; says how to get one.

    Example:
        >>> try:
        ...     raise WordNetNotFoundError("no WordNet found; run python -m textrecipes.augment.wordnet_data DIR")
        ... except LookupError as e:
        ...     print(type(e).__name__)
        WordNetNotFoundError
    """


def wordnet_search_dirs():
    """Returns the NLTK data folders `WordNetSynonyms` searches, in order.

    First NLTK's own `nltk.data.path` (which includes `$NLTK_DATA` and
    `~/nltk_data`), then `$TEXTRECIPES_NLTK_DATA` (several folders separated
    by `os.pathsep`), then the repository's `data/nltk_data` (what
    `make wordnet` builds).

    Example:

    ```python
    for folder in wordnet_search_dirs():
        print(folder)
    ```
    """
    import nltk

    dirs = [str(path) for path in nltk.data.path]
    dirs += [d for d in os.environ.get(NLTK_DATA_ENV, "").split(os.pathsep) if d]
    dirs.append(str(PROJECT_NLTK_DATA))
    return dirs


def _fix_message(searched):
    return (
        "WordNet data not found; looked for corpora/wordnet in: "
        + (", ".join(searched) or "(no folders)")
        + ".\nFix it with one of:\n"
        "  make wordnet\n"
        "      (in the textrecipes repository: installs Debian's wordnet-base and "
        "wordnet-sense-index, then builds data/nltk_data)\n"
        "  sudo apt-get install -y --no-install-recommends wordnet-base "
        "wordnet-sense-index && python -m textrecipes.augment.wordnet_data DIR\n"
        f"      (then set {NLTK_DATA_ENV}=DIR or NLTK_DATA=DIR)\n"
        "  python -m nltk.downloader wordnet\n"
        "      (needs internet access)"
    )


def _find_wordnet(data_dirs):
    """Returns (corpus root, data folder it was found in)."""
    import nltk

    for data_dir in data_dirs:
        folder = Path(data_dir).expanduser()
        if (folder / "corpora" / "wordnet" / "lexnames").is_file():
            return str(folder / "corpora" / "wordnet"), str(folder)
        if (folder / "corpora" / "wordnet.zip").is_file():
            # What `nltk.downloader wordnet` leaves; NLTK reads inside the zip.
            try:
                return nltk.data.find("corpora/wordnet.zip/wordnet/", [str(folder)]), str(
                    folder
                )
            except LookupError:
                continue
    raise WordNetNotFoundError(_fix_message([str(d) for d in data_dirs]))


# One NLTK reader per WordNet folder, shared by all WordNetSynonyms (loading
# takes seconds); NLTK's reader seeks shared file handles, so look-ups through
# it are serialized by one lock.
_WORDNET_READERS = {}
_WORDNET_LOCK = threading.RLock()


_MARKER = re.compile(r"\([^()]*\)$")  # a lemma's syntactic marker, e.g. "galore(ip)"
_SYNSET_NAMES = {}


def _synset_names(reader):
    """``{pos: {offset: lemma names}}`` for all of WordNet, read in one pass (about 1 s).

    Why our own: NLTK parses a whole synset (gloss, pointers) from a file seek on
    every new look-up, which made the first augmentation pass 10x slower than
    the next ones; synonyms only need the lemma names.
    """
    with _WORDNET_LOCK:
        table = _SYNSET_NAMES.get(id(reader))
        if table is None:
            table = {}
            for pos, suffix in (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv")):
                names = table[pos] = {}
                with reader.open(f"data.{suffix}") as f:
                    for line in f:
                        if line.startswith(" "):
                            continue  # the licence header
                        fields = line.split(" |", 1)[0].split()
                        count = int(fields[3], 16)
                        names[int(fields[0])] = tuple(_MARKER.sub("", n) for n in fields[4:4 + 2 * count:2])
            table["s"] = table["a"]
            _SYNSET_NAMES[id(reader)] = table
        return table


def _load_wordnet(root, data_dir):
    import nltk
    from nltk.corpus.reader import CorpusReader, WordNetCorpusReader
    from nltk.corpus.util import LazyCorpusLoader

    with _WORDNET_LOCK:
        reader = _WORDNET_READERS.get(root)
        if reader is None:
            # NLTK 3.10 refuses to read outside nltk.data.path; append (not
            # prepend) so the user's own folders keep priority.
            if data_dir not in nltk.data.path:
                nltk.data.path.append(data_dir)
            # The multilingual loader `nltk.corpus.wordnet` uses; lazy, so it
            # is only needed for lang != "eng".
            omw = LazyCorpusLoader(
                "omw-2.0", CorpusReader, r".*/wn-data-.*\.tab", encoding="utf8"
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reader = WordNetCorpusReader(root, omw)
            _WORDNET_READERS[root] = reader
        return reader


class WordNetSynonyms(SynonymSource):
    """English synonyms from WordNet 3.0 through NLTK, cached, usable offline.

    The synonyms of a word are the lemma names of all its synsets (underscores
    turned into spaces, e.g. `"motion picture"`), in WordNet's order (most
    frequent sense first), without duplicates or the word itself.

    The data folder is found at construction, so a missing WordNet fails early
    with `WordNetNotFoundError`, whose message names the command that fixes it
    (`make wordnet`). WordNet itself (about 3 s) loads on the first look-up,
    once per process for all instances. Look-ups are thread-safe (NLTK's
    reader seeks shared file handles, so they are serialized) and cached per
    instance.

    Args:
        data_dirs: NLTK data folders to search (each holds `corpora/wordnet`).
            Defaults to `None`: `wordnet_search_dirs()`, i.e. NLTK's own path,
            then `$TEXTRECIPES_NLTK_DATA`, then the repository's
            `data/nltk_data`.
        pos: restrict to one part of speech: `"n"`, `"v"`, `"a"` or `"r"`.
            Defaults to `None` (all).
        multiword: keep multi-word synonyms such as `"motion picture"`.
            Defaults to `True` (as EDA does).

    Example:

    ```python
    wordnet = WordNetSynonyms()
    wordnet.synonyms("movie")[:3]  # ('film', 'picture', 'moving picture')
    ```
    """

    POS = ("n", "v", "a", "r")

    def __init__(self, data_dirs=None, *, pos=None, multiword=True):
        if pos is not None and pos not in self.POS:
            raise ValueError(f"pos must be one of {self.POS} or None, got {pos!r}")
        self.data_dirs = data_dirs
        self.pos = pos
        self.multiword = multiword
        dirs = wordnet_search_dirs() if data_dirs is None else list(data_dirs)
        self.root, self._data_dir = _find_wordnet(dirs)
        self._reader = None
        self._cache = {}

    def _names(self, reader, word):
        """Lemma names of the word's synsets in NLTK's order (`reader.synsets(word)`):
        by part of speech, then each morphological base form, then sense order."""
        table = _synset_names(reader)
        index = getattr(reader, "_lemma_pos_offset_map", None)
        morphy = getattr(reader, "_morphy", None)
        with _WORDNET_LOCK:
            if index is None or morphy is None:  # another NLTK: its public (slower) route
                return [name.replace("_", " ") for synset in reader.synsets(word, pos=self.pos)
                        for name in synset.lemma_names()]
            lemma = word.lower()
            return [
                name.replace("_", " ")
                for pos in ((self.pos,) if self.pos else self.POS)
                for form in morphy(lemma, pos, True)
                for offset in index[form].get(pos, ())
                for name in table[pos][offset]
            ]

    def __getstate__(self):
        # NLTK's reader holds open files: reload it after unpickling.
        state = self.__dict__.copy()
        state["_reader"] = None
        return state

    def load(self):
        """Loads WordNet now instead of at the first look-up; returns `self`."""
        if self._reader is None:
            self._reader = _load_wordnet(self.root, self._data_dir)
            _synset_names(self._reader)
        return self

    def synonyms(self, word):
        found = self._cache.get(word)
        if found is not None:
            return found
        reader = self.load()._reader
        names = self._names(reader, word)
        if not self.multiword:
            names = [name for name in names if " " not in name]
        found = _ordered_unique(names, word)
        self._cache[word] = found
        return found


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
        numbers separated by spaces. A malformed line raises `ValueError` with
        `file:line: what is wrong`.

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
        words, rows = [], []
        with open(path, encoding=encoding) as lines:
            header = lines.readline()
            fields = header.split()
            if len(fields) != 2 or not all(f.isdigit() for f in fields):
                raise ValueError(
                    f"{path}:1: expected a word2vec header 'count dim', got {header.strip()!r}"
                )
            count, dim = int(fields[0]), int(fields[1])
            if dim < 1:
                raise ValueError(f"{path}:1: dimension must be positive, got {dim}")
            wanted = count if limit is None else min(count, int(limit))
            number = 1
            for number, line in enumerate(lines, start=2):
                if len(words) == wanted:
                    if limit is None and line.strip():
                        raise ValueError(
                            f"{path}:{number}: more vectors than the header's count {count}"
                        )
                    break
                if not line.strip():
                    raise ValueError(f"{path}:{number}: blank line")
                parts = line.rstrip().split(" ")
                if len(parts) != dim + 1:
                    raise ValueError(
                        f"{path}:{number}: expected a word and {dim} numbers, "
                        f"got {len(parts)} fields"
                    )
                try:
                    rows.append(np.array(parts[1:], dtype=np.float32))
                except ValueError:
                    bad = next(p for p in parts[1:] if not _is_float(p))
                    raise ValueError(
                        f"{path}:{number}: {bad!r} is not a number (word {parts[0]!r})"
                    ) from None
                words.append(parts[0])
            if len(words) < wanted:
                raise ValueError(
                    f"{path}:{number + 1}: file ends after {len(words)} vectors but "
                    f"the header says {count}"
                )
        vectors = np.stack(rows) if rows else np.zeros((0, dim), np.float32)
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


def _is_float(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def source_from_spec(spec):
    """Builds a synonym source from a command-line string.

    Args:
        spec: `"wordnet"`, `"file:PATH"` (a `FileSynonyms` file),
            `"vectors:PATH"` (word2vec text vectors), or `"none"`. A
            `SynonymSource` (or any object with a `synonyms` method) or `None`
            is returned unchanged.

    Returns:
        The source, or `None` for `"none"`.

    Example:

    ```python
    source = source_from_spec("file:data/samples/synonyms_zh.tsv")
    ```
    """
    if spec is None or hasattr(spec, "synonyms"):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"Expected a source spec string, got {spec!r}")
    if spec == "wordnet":
        return WordNetSynonyms()
    if spec == "none":
        return None
    kind, _, path = spec.partition(":")
    if kind == "file" and path:
        return FileSynonyms(path)
    if kind == "vectors" and path:
        return EmbeddingNeighbours.from_word2vec(path)
    raise ValueError(
        f"Unknown synonym source {spec!r}; expected 'wordnet', 'file:PATH', "
        "'vectors:PATH' or 'none'"
    )
