"""Inputs of any length, batch by batch: a list, a generator or a file's lines in, one batch of results at a time out.

`Predictor.predict(..., stream=True)` and the ``predict`` command read their
inputs through `batched`, so that at most one batch of inputs (and of
results) is held at a time, whatever the input's length.
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator


def batched(items: Iterable, batch_size: int) -> Iterator[list]:
    """Lists of at most ``batch_size`` items, taken from ``items`` only as each list is asked for.

    Args:
        items: any iterable (a list, a generator, an open file).
        batch_size: items per list, at least 1.

    Raises:
        ValueError: ``batch_size`` is not a positive integer.

    Example:
        >>> list(batched((n for n in range(5)), 2))
        [[0, 1], [2, 3], [4]]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return _chunks(iter(items), batch_size)  # a plain function: a bad batch_size fails here, not at the first next()


def _chunks(iterator: Iterator, size: int) -> Iterator[list]:
    while True:
        chunk = list(itertools.islice(iterator, size))
        if not chunk:
            return
        yield chunk


def check_texts(chunk: list, start: int, what: str = "texts") -> list[str]:
    """The ``chunk`` of a stream as strings (bytes decoded as UTF-8); a non-string is a `TypeError` naming its index."""
    out = []
    for i, item in enumerate(chunk, start):
        if isinstance(item, bytes):
            item = item.decode("utf-8")
        if not isinstance(item, str):
            raise TypeError(f"{what}[{i}]: expected a string, got {type(item).__name__} ({item!r:.60})")
        out.append(str(item))
    return out


def check_pairs(chunk: list, start: int, what: str = "pairs") -> list[tuple[str, str]]:
    """The ``chunk`` of a stream as ``(text_a, text_b)`` string pairs; anything else is a `TypeError` naming its index."""
    out = []
    for i, pair in enumerate(chunk, start):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{what}[{i}] must be a (text_a, text_b) pair, got {pair!r:.80}")
        a, b = check_texts(list(pair), 0, f"{what}[{i}]")
        out.append((a, b))
    return out


def stream_results(items: Iterable, batch_size: int, check: Callable, compute: Callable) -> Iterator:
    """``compute(checked batch, start)`` for each batch of ``items``, yielded one at a time (a generator).

    ``batch_size`` is checked at once (not at the first ``next``), so a bad value fails where it is given.

    Args:
        items: any iterable of inputs.
        batch_size: inputs per batch.
        check: ``check(chunk, start) -> list``: the inputs checked (`check_texts`, `check_pairs`).
        compute: ``compute(inputs, start) -> results`` for one batch; ``start`` is its first input's index.

    Example:
        >>> gen = stream_results(iter(["a", "bb", "ccc"]), 2, check_texts, lambda xs, start: [len(x) for x in xs])
        >>> list(gen)
        [[1, 2], [3]]
    """
    chunks = batched(items, batch_size)  # checks batch_size now; nothing is read before the first next()

    def results():
        start = 0
        for chunk in chunks:
            yield compute(check(chunk, start), start)
            start += len(chunk)

    return results()


def streamable(texts, plain_check: Callable, what: str = "texts"):
    """``texts`` ready for a stream: one string becomes a list of one; a DataFrame, dict or 2-D array is refused.

    Args:
        texts: what the caller gave.
        plain_check: the plain call's check (`as_texts`), run on an in-memory container
            so that a stream refuses it with the same message.
        what: the argument's name in messages. Default "texts".
    """
    if isinstance(texts, (str, bytes)):
        return [texts]
    if isinstance(texts, dict) or getattr(texts, "ndim", 1) != 1 or (hasattr(texts, "columns") and hasattr(texts, "iloc")):
        plain_check(texts, what)  # a dict, a 2-D array, a DataFrame: refused as a plain call refuses it
    if not hasattr(texts, "__iter__"):
        raise TypeError(f"{what}: expected a string or an iterable of strings, got {type(texts).__name__}")
    return texts


def streamable_pairs(pairs, plain_check: Callable):
    """``pairs`` ready for a stream: one ``(text_a, text_b)`` pair becomes a list of one; a string or DataFrame is refused."""
    if isinstance(pairs, (tuple, list)) and len(pairs) == 2 and all(isinstance(x, (str, bytes)) for x in pairs):
        return [pairs]
    if isinstance(pairs, (str, bytes)) or (hasattr(pairs, "columns") and hasattr(pairs, "iloc")):
        plain_check(pairs)  # as_pairs: the same refusal and message
    return streamable(pairs, lambda *_: None, "pairs")


class RowIndex:
    """A stream batch's row numbers, for `probability_frame` (which reads ``.index``): frames number rows across batches."""

    def __init__(self, start: int, length: int):
        self.index = range(start, start + length)
