"""What the readers give: one record type per dataset format, the line accounting of a file, and `DataError`.

A `ReadReport` counts every line of a file: ``lines_read == kept + sum(skipped.values())``
always holds, so nothing is ever dropped without a number next to it.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import NamedTuple


class DataError(ValueError):
    """A dataset file holds a line that cannot be used; the message is ``file:line: what``.

    Example:
        >>> try:
        ...     raise DataError("train.tsv:3: no tab between label and text")
        ... except ValueError as e:
        ...     print(e)
        train.tsv:3: no tab between label and text
    """


class LabeledText(NamedTuple):
    """One classification example. ``label`` is a tuple for multi-label data.

    Args:
        text: the text.
        label: the label, or a tuple of labels for multi-label data.
        line: the line number (1-based) of the example in its file.

    Example:
        >>> r = LabeledText("a moving film", "pos", 1)
        >>> r.label, r.line
        ('pos', 1)
    """
    text: str
    label: str | tuple[str, ...]
    line: int


class TextPair(NamedTuple):
    """One ``title<TAB>content`` or ``question<TAB>answer`` example, label optional.

    Args:
        first: the first column (title or question).
        second: the second column (content or answer).
        label: the third column, or None for unlabeled pairs.
        line: the line number (1-based) of the pair in its file.

    Example:
        >>> read_pairs("data/samples/question_answer.tsv").records[0].first
        'What is the capital of France?'
    """
    first: str
    second: str
    label: str | None
    line: int


class Text(NamedTuple):
    """One line of a plain corpus.

    Args:
        text: the line's text.
        line: the line number (1-based) in the file.

    Example:
        >>> Text("a plain sentence", 1).text
        'a plain sentence'
    """
    text: str
    line: int


class TaggedSentence(NamedTuple):
    """One CoNLL-style sentence; ``line`` is the line of its first token.

    Args:
        tokens: the sentence's tokens.
        tags: one tag per token.
        line: the line number (1-based) of the first token in the file.

    Example:
        >>> read_conll("data/samples/conll.txt").records[0].tags[0]
        'B-LOC'
    """
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    line: int


@dataclasses.dataclass
class ReadReport:
    """What a reader saw: ``lines_read == kept + sum(skipped.values())``.

    ``skipped`` counts lines per reason (``"blank line"`` included: blank lines
    carry no example in any format but CoNLL, where they separate sentences and
    count as ``"sentence break"``). ``problems`` keeps the first messages.

    Args:
        path: the file read.
        lines_read: every line read, headers and bad lines included. Default 0.
        kept: lines that went into records. Default 0.
        skipped: a `collections.Counter` of skipped lines per reason. Default empty.
        problems: the first bad-line messages, ``file:line: what``. Default empty.

    Example:
        >>> report = ReadReport("train.tsv", lines_read=3, kept=2)
        >>> report.skipped["blank line"] += 1
        >>> report.summary()
        'train.tsv: 3 lines read, 2 kept, 1 skipped (blank line)'
    """
    path: str
    lines_read: int = 0
    kept: int = 0
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    problems: list = dataclasses.field(default_factory=list)

    def check(self) -> None:
        accounted = self.kept + sum(self.skipped.values())
        if accounted != self.lines_read:  # pragma: no cover - an internal bug guard
            raise AssertionError(f"{self.path}: {self.lines_read} lines read but {accounted} accounted for")

    def summary(self) -> str:
        parts = [f"{self.path}: {self.lines_read} lines read, {self.kept} kept"]
        for reason, count in sorted(self.skipped.items()):
            parts.append(f"{count} skipped ({reason})")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "lines_read": self.lines_read,
            "kept": self.kept,
            "skipped": dict(self.skipped),
            "problems": self.problems[:20],
        }


class Dataset(NamedTuple):
    """Records read from one file plus the accounting of every line.

    Args:
        records: the records: `LabeledText`, `TextPair`, `Text` or `TaggedSentence`.
        report: the file's `ReadReport`.

    Example:
        >>> ds = read_classification("data/samples/label_text.tsv")
        >>> len(ds.records) == ds.report.kept
        True
    """
    records: list
    report: ReadReport
