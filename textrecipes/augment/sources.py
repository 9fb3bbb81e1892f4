"""A synonym source from the string a recipe or the command line gives: ``wordnet``, ``file:PATH``, ``vectors:PATH``."""

from __future__ import annotations

from textrecipes.augment.neighbours import EmbeddingNeighbours
from textrecipes.augment.synonyms import FileSynonyms
from textrecipes.augment.wordnet import WordNetSynonyms


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
