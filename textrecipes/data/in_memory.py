"""Training data held in memory (lists of texts and labels, or a pandas DataFrame) as ``label<TAB>text`` rows.

`train` writes them into the run folder (``data/train.tsv``, ...) and reads that
file like any other, so the run folder records what it learnt from and a rerun
or a fine-tune can use the same file. Each value is checked on the way, and
accounted for like a file's lines (a `ReadReport`):

- a text or label that is missing (None, NaN) or not a string is a bad row:
  with ``data.on_bad_lines = "error"`` (the default) a `DataError` names the row and
  column, with ``"skip"`` the row is left out and counted per reason;
- a label that is a whole number (``1``, ``1.0``, NumPy integers) is written as
  its digits: pandas stores an integer column with a gap as floats;
- a tab, newline or carriage return inside a text or label would break the file's
  rows: it is replaced by a space, and the replacements are counted.

pandas is optional: anything with ``columns`` and ``__getitem__`` is read as a DataFrame.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from typing import Sequence

from textrecipes.data.atomic import atomic_write
from textrecipes.data.records import DataError, ReadReport

__all__ = ["MemoryData", "from_memory", "REPLACED"]

#: the ``ReadReport`` problem line that counts replaced tabs and newlines.
REPLACED = "tab or newline replaced by a space"
_BREAKS = re.compile(r"[\t\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # whatever str.splitlines splits on, and tab


class MemoryData:
    """Rows of one split held in memory, checked: ``rows`` are ``(label, text)``; ``report`` accounts for each input row.

    Args:
        rows: the kept ``(label, text)`` rows.
        report: the `ReadReport` (``path`` names the source: ``"train (in memory)"``).
        replaced: how many values had a tab or newline replaced by a space.

    Example:
        >>> from_memory(["fun", "dull"], ["pos", "neg"]).report.summary()
        'train (in memory): 2 lines read, 2 kept'
    """

    def __init__(self, rows: list, report: ReadReport, replaced: int):
        self.rows, self.report, self.replaced = rows, report, replaced

    def write(self, path: str, label_sep: str = ",") -> str:
        """Writes the rows as ``label<TAB>text`` lines (atomically); returns ``path``."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_write(path) as f:
            for label, text in self.rows:
                label = label_sep.join(label) if isinstance(label, tuple) else label
                f.write(f"{label}\t{text}\n")
        return path


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return isinstance(value, numbers.Real) and math.isnan(value)
    except TypeError:
        return False


def _label(value) -> str | None:
    """A label as text: strings as they are, whole numbers as their digits; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return None


def _columns(data, text_column: str, label_column: str, what: str) -> tuple[Sequence, Sequence, Sequence]:
    """``(texts, labels, row names)`` of a DataFrame's two columns (row names: its index)."""
    missing = [c for c in (text_column, label_column) if c not in list(data.columns)]
    if missing:
        raise ValueError(f"{what}: the DataFrame has no column {missing[0]!r} (columns: {list(data.columns)[:10]}); "
                         "name them with text_column= and label_column=")
    index = list(data.index) if hasattr(data, "index") else list(range(len(data)))
    return list(data[text_column]), list(data[label_column]), index


def from_memory(texts=None, labels=None, *, data=None, text_column: str = "text", label_column: str = "label",
                on_bad_lines: str = "error", multi_label: bool = False, what: str = "train") -> MemoryData:
    """Checks in-memory examples and turns them into ``label<TAB>text`` rows.

    Args:
        texts: a sequence of texts (list, tuple, array, pandas Series), with ``labels``.
        labels: one label per text; a label is a string (or a whole number); with
            ``multi_label`` a list or tuple of them. Default None.
        data: instead of ``texts``/``labels``: a DataFrame holding both columns. Default None.
        text_column: the DataFrame's text column. Default "text".
        label_column: the DataFrame's label column. Default "label".
        on_bad_lines: "error" (default): a bad row raises `DataError`; "skip": it is
            left out and counted.
        multi_label: labels are lists of labels. Default False.
        what: the split's name in messages. Default "train".

    Returns:
        A `MemoryData`.

    Raises:
        DataError: for a bad row under ``on_bad_lines="error"``, naming it.
        ValueError: for texts and labels of different lengths, a missing column, or no data.

    Example:
        >>> m = from_memory(["good\\tfun", "dull"], ["pos", 0])
        >>> m.rows, m.replaced
        ([('pos', 'good fun'), ('0', 'dull')], 1)
    """
    if data is not None:
        if texts is not None or labels is not None:
            raise ValueError(f"{what}: give data= (a DataFrame) or texts= and labels=, not both")
        if isinstance(data, tuple) and len(data) == 2:  # (texts, labels)
            texts, labels = data
        elif hasattr(data, "columns"):
            texts, labels, index = _columns(data, text_column, label_column, what)
            return _check(texts, labels, index, f"{what} (DataFrame)", on_bad_lines, multi_label,
                          (text_column, label_column))
        else:
            raise TypeError(f"{what}: data= must be a pandas DataFrame or a (texts, labels) pair, "
                            f"got {type(data).__name__}")
    if texts is None or labels is None:
        raise ValueError(f"{what}: texts= and labels= go together (one label per text)")
    if isinstance(texts, str) or isinstance(labels, str):
        raise TypeError(f"{what}: texts and labels are sequences (one per example), not a single string")
    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels):
        raise ValueError(f"{what}: {len(texts)} texts but {len(labels)} labels; give one label per text")
    return _check(texts, labels, list(range(len(texts))), f"{what} (in memory)", on_bad_lines, multi_label,
                  ("texts", "labels"))


def _check(texts, labels, index, source: str, on_bad_lines: str, multi_label: bool, names) -> MemoryData:
    report = ReadReport(source)
    rows, replaced = [], 0
    text_name, label_name = names

    def bad(i, row, reason, detail):
        message = f"{source}: row {i}" + (f" (index {row!r})" if row != i else "") + f": {reason}: {detail}"
        if on_bad_lines == "error":
            raise DataError(message + "; fix or drop it (data.on_bad_lines = 'skip' leaves such rows out)")
        report.skipped[reason] += 1
        if len(report.problems) < 20:
            report.problems.append(message)

    for i, (text, label, row) in enumerate(zip(texts, labels, index)):
        report.lines_read += 1
        if _missing(text) or not isinstance(text, str):
            kind = "missing text" if _missing(text) else "text not a string"
            bad(i, row, kind, f"{text_name} is {text!r:.60}")
            continue
        parts = label if multi_label and isinstance(label, (list, tuple)) else [label]
        named = [None if _missing(p) else _label(p) for p in parts]
        if any(n is None for n in named) or not named:
            kind = "missing label" if any(_missing(p) for p in parts) or not parts else "label not a string"
            bad(i, row, kind, f"{label_name} is {label!r:.60}")
            continue
        clean = []
        for value in [text, *named]:
            fixed = _BREAKS.sub(" ", value)
            replaced += fixed != value
            clean.append(fixed.strip())
        text, named = clean[0], clean[1:]
        if not text or not all(named):
            bad(i, row, "empty text" if not text else "empty label", f"{text_name} {clean[0]!r:.60}")
            continue
        rows.append((tuple(named) if multi_label else named[0], text))
        report.kept += 1
    if replaced:
        report.problems.append(f"{source}: {replaced} value(s): {REPLACED}")
    if not rows:
        raise ValueError(f"{source}: no usable examples" + (f" ({report.summary()})" if report.lines_read else ""))
    report.check()
    return MemoryData(rows, report, replaced)
