"""English WordNet as a synonym source, read offline through NLTK (``make wordnet`` installs it).

`WordNetSynonyms` finds the WordNet data folder (``data/nltk_data``, the
``TEXTRECIPES_NLTK_DATA`` and ``NLTK_DATA`` variables, NLTK's own search path)
and says exactly which command installs it when none is found.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from pathlib import Path

from textrecipes.augment.synonyms import SynonymSource, _ordered_unique

# Where `make wordnet` puts the NLTK data folder: <repo>/data/nltk_data.
PROJECT_NLTK_DATA = Path(__file__).resolve().parents[2] / "data" / "nltk_data"


NLTK_DATA_ENV = "TEXTRECIPES_NLTK_DATA"


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
