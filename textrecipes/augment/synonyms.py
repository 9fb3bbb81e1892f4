"""Synonym sources for text augmentation: WordNet, a user file, embedding neighbours.

Every source answers one question, `source.synonyms(word) -> tuple[str, ...]`:
the synonyms of `word`, best first, without `word` itself, always in the same
order (so seeded augmentation is reproducible across processes). Look-ups are
cached, so a word is resolved once per source.

- `textrecipes.augment.wordnet.WordNetSynonyms`: English WordNet through NLTK,
  readable offline (`make wordnet`, see `textrecipes.augment.wordnet_data`).
- `FileSynonyms`: a `word<TAB>syn1,syn2,...` file, for any language.
- `textrecipes.augment.neighbours.EmbeddingNeighbours`: nearest neighbours by
  cosine similarity in an embedding matrix (a trained model's, or word2vec text vectors).
- `MappingSynonyms`: a Python dict, for tests and small hand-made lists.

`textrecipes.augment.sources.source_from_spec("wordnet" | "file:PATH" |
"vectors:PATH")` builds one from the string the command line takes.
"""

from __future__ import annotations

import abc

from textrecipes.data.files import check_regular_file, fragment
from textrecipes.data.records import DataError

__all__ = ["SynonymSource", "MappingSynonyms", "FileSynonyms"]


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
    raises `DataError` (a `ValueError`) with `file:line: what is wrong`, as do a
    line that is not valid UTF-8 and a folder or FIFO given as the file.

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
        with open(check_regular_file(path, "synonyms file"), "rb") as lines:
            for number, raw in enumerate(lines, start=1):
                try:
                    line = raw.decode(encoding).rstrip("\r\n")
                except UnicodeDecodeError as e:
                    raise DataError(f"{self.path}:{number}: not valid {encoding} (byte {e.start}); "
                                    f"a synonyms file is {encoding} text") from None
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
            raise DataError(
                f"{where}: no tab; expected 'word<TAB>syn1,syn2,...', got {fragment(line)}"
            )
        word, rest = line.split("\t", 1)
        word = word.strip()
        if not word:
            raise DataError(f"{where}: empty word before the tab")
        if "\t" in rest:
            raise DataError(
                f"{where}: more than one tab; separate synonyms with ',' not tabs"
            )
        for separator in self.SEPARATORS[1:]:
            rest = rest.replace(separator, ",")
        synonyms = [synonym.strip() for synonym in rest.split(",")]
        if not any(synonyms):
            raise DataError(f"{where}: no synonyms after the tab for {fragment(word)}")
        if not all(synonyms):
            raise DataError(
                f"{where}: empty synonym in {fragment(rest)} (a doubled or trailing comma)"
            )
        return word, synonyms


