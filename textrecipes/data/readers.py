"""Dataset files → records: readers for the five formats, with every bad line named or counted.

Every reader works line by line on bytes, so that a problem is reported as
``file:line: what is wrong`` and never silently dropped. With
``on_bad_lines="skip"`` the problem lines are counted per kind in the returned
``ReadReport``; the identity ``lines_read == kept + sum(skipped.values())``
always holds.

Formats (seed ``002``):

* ``label_text``   ``label<TAB>text`` (``text<TAB>label`` with ``text_first``)
* ``title_content`` ``title<TAB>content[<TAB>label]``
* ``question_answer`` ``question<TAB>answer[<TAB>label]``
* ``corpus``       one text a line
* ``conll``        ``token tag`` lines, a blank line between sentences

Lines and fields, the same in every reader: a line is what lies between two
``\\n`` bytes; one ``\\r`` before the ``\\n`` (CRLF) is dropped, while a lone
``\\r`` is not a line break and stays in the line (then stripped with the
surrounding whitespace of a field, like every Unicode space). A UTF-8 BOM
starting a line is dropped (line 1, or a file concatenated from several); past
line 1 a warning names the first such line and the count. Elsewhere U+FEFF is text.
A folder, FIFO or device is refused before it is opened (a FIFO would block). Columns are split on every
tab: there is no quoting, so ``"a<TAB>b"`` in quotes is two columns (a wrong
column count in a two-column file), and quotes are kept as text. A line longer
than ``max_line_bytes`` (default 1,000,000) is a bad line ("line too long").
Every kept field is exactly the line's column with surrounding whitespace
(``str.strip``) removed.
"""

from __future__ import annotations

import logging
import os
from typing import Iterable, Iterator, Mapping, Sequence

from textrecipes.data.files import check_regular_file
from textrecipes.data.records import DataError, Dataset, LabeledText, ReadReport, TaggedSentence, Text, TextPair

log = logging.getLogger("textrecipes")

BAD_LINE_MODES = ("error", "skip")
FORMATS = ("label_text", "title_content", "question_answer", "pairs", "corpus", "conll")
MAX_LINE_BYTES = 1_000_000  # default limit on one line's bytes; longer lines are bad lines


# ---------------------------------------------------------------------------
# Line reading shared by every format.


def _lines(path: str | os.PathLike, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str | None, tuple[str, str] | None]]:
    """Yields ``(line_number, text, error)`` for each line, decoding strict UTF-8.

    A line is what lies between two ``b"\\n"`` bytes (``bytes.split(b"\\n")``,
    less the empty piece after a final newline). One ``\\r`` ending a line
    (CRLF, or a last line cut after its ``\\r``) is dropped; a lone ``\\r``
    anywhere else is not a line break and stays in the text. A UTF-8 BOM is
    dropped at the start of any line (past line 1 a warning names the first
    and the count: files joined with ``cat``); elsewhere U+FEFF is an ordinary character.
    ``error`` is ``(reason, detail)`` for a line that is not valid UTF-8 or is
    longer than ``max_line_bytes`` (its terminator not counted, a BOM counted); such a line is
    never held in memory whole.
    """
    limit = max_line_bytes + 2  # room for a CRLF terminator
    boms = []  # lines past the first that started with a BOM
    with open(check_regular_file(path), "rb") as f:
        number = 0
        while True:
            raw = f.readline(limit)
            if not raw:
                if boms:  # a BOM inside a file: files joined with cat; the label would start with U+FEFF
                    log.warning(f"warning: {os.fspath(path)}:{boms[0]}: a byte-order mark (U+FEFF) started the line "
                                f"and was removed ({len(boms)} line(s) past line 1; were files concatenated?)")
                return
            number += 1
            if not raw.endswith(b"\n") and len(raw) == limit:
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = f.readline(1 << 16)
                yield number, None, ("line too long", f"longer than {max_line_bytes} bytes (max_line_bytes)")
                continue
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > max_line_bytes:
                yield number, None, ("line too long", f"longer than {max_line_bytes} bytes (max_line_bytes)")
                continue
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
                if number > 1:
                    boms.append(number)
            try:
                yield number, raw.decode("utf-8"), None
            except UnicodeDecodeError as e:
                yield number, None, ("invalid UTF-8", f"invalid UTF-8 at byte {e.start}")


def _check_max_line_bytes(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_line_bytes must be a positive integer, got {value!r}")
    return value


class _Collector:
    """Applies ``on_bad_lines`` and keeps the accounting for one file."""

    def __init__(self, path, on_bad_lines: str):
        if on_bad_lines not in BAD_LINE_MODES:
            raise ValueError(f"on_bad_lines must be one of {BAD_LINE_MODES}, got {on_bad_lines!r}")
        self.path = os.fspath(path)
        self.mode = on_bad_lines
        self.report = ReadReport(self.path)
        self.records: list = []

    def read(self, number: int) -> None:
        self.report.lines_read = number

    def keep(self, record, lines: int = 1) -> None:
        self.records.append(record)
        self.report.kept += lines

    def ignore(self, reason: str, lines: int = 1) -> None:
        """A line that carries no record by design (blank lines, headers)."""
        self.report.skipped[reason] += lines

    def bad(self, number: int, reason: str, detail: str = "", lines: int = 1) -> None:
        message = f"{self.path}:{number}: {reason}{': ' + detail if detail else ''}"
        if self.mode == "error":
            raise DataError(message)
        self.report.skipped[reason] += lines
        if len(self.report.problems) < 1000:
            self.report.problems.append(message)

    def rows(self, max_line_bytes, header: bool = False):
        """``(number, line)`` for each line that may carry a record: bad lines (undecodable, too long)
        go to `bad`, the header and blank lines to `ignore`, and every line is counted as read."""
        for number, line, error in _lines(self.path, _check_max_line_bytes(max_line_bytes)):
            self.read(number)
            if error:
                self.bad(number, *error)
            elif header and number == 1:
                self.ignore("header")
            elif not line.strip():
                self.ignore("blank line")
            else:
                yield number, line

    def done(self) -> Dataset:
        self.report.check()
        return Dataset(self.records, self.report)


def _clip(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[:width] + "…")


# ---------------------------------------------------------------------------
# Readers, one a format.


def read_classification(
    path,
    *,
    text_first: bool = False,
    header: bool = False,
    labels: Sequence[str] | None = None,
    multi_label: bool = False,
    label_sep: str = ",",
    on_bad_lines: str = "error",
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Dataset:
    """Reads a ``label<TAB>text`` classification file.

    Args:
        path: the TSV file.
        text_first: the columns are ``text<TAB>label`` instead. Default False.
        header: the first line is a header and is skipped (and counted). Default False.
        labels: the declared label set; a label outside it is a bad line. Default None
            (any label).
        multi_label: the label column holds several labels joined by ``label_sep``;
            records then carry a tuple of labels. Default False.
        label_sep: separator of labels in multi-label files. Default ",".
        on_bad_lines: "error" (default) raises `DataError` naming ``file:line``;
            "skip" skips the line and counts it in the report.
        max_line_bytes: longest line accepted, in bytes without its terminator;
            a longer line is a bad line ("line too long"). Default 1,000,000.

    Returns:
        A `Dataset` of `LabeledText` records and a `ReadReport`.

    Example:
        >>> ds = read_classification("data/samples/label_text.tsv")
        >>> ds.records[0].label
        'pos'
    """
    if isinstance(labels, str):
        raise ValueError(f"labels must be a list of label names, not the string {_clip(labels)}")
    if multi_label and not label_sep:
        raise ValueError("label_sep must be a non-empty string")
    allowed = set(labels) if labels is not None else None
    out = _Collector(path, on_bad_lines)
    for number, line in out.rows(max_line_bytes, header):
        fields = line.split("\t")
        if len(fields) != 2:
            out.bad(number, "wrong column count", f"expected 2 tab-separated columns, found {len(fields)}")
            continue
        text, label = (fields[0], fields[1]) if text_first else (fields[1], fields[0])
        text, label = text.strip(), label.strip()
        if not text:
            out.bad(number, "empty text")
            continue
        if not label:
            out.bad(number, "empty label")
            continue
        if multi_label:
            parts = tuple(dict.fromkeys(p.strip() for p in label.split(label_sep) if p.strip()))
            if not parts:
                out.bad(number, "empty label")
                continue
            unknown = [p for p in parts if allowed is not None and p not in allowed]
            if unknown:
                out.bad(number, "label not in the label set", f"{_clip(unknown[0])} not in {sorted(allowed)}")
                continue
            out.keep(LabeledText(text, parts, number))
        else:
            if allowed is not None and label not in allowed:
                out.bad(number, "label not in the label set", f"{_clip(label)} not in {sorted(allowed)}")
                continue
            out.keep(LabeledText(text, label, number))
    return out.done()


def read_pairs(
    path, *, header: bool = False, labeled: bool | None = None, labels: Sequence[str] | None = None,
    on_bad_lines: str = "error", max_line_bytes: int = MAX_LINE_BYTES,
) -> Dataset:
    """Reads a ``title<TAB>content`` or ``question<TAB>answer`` file, the label (if any) last.

    The label is the third column, ``text_a<TAB>text_b<TAB>label``, as in
    ``data/samples/question_answer.tsv`` (the recipe format "pairs").

    Args:
        path: the TSV file.
        header: the first line is a header. Default False.
        labeled: a third column holds a label. Default None: decided by the first
            data line with 2 or 3 columns, then required of every line.
        on_bad_lines: "error" (default) or "skip".
        max_line_bytes: longest line accepted, in bytes. Default 1,000,000.

    Returns:
        A `Dataset` of `TextPair` records.

    Example:
        >>> ds = read_pairs("data/samples/question_answer.tsv")
        >>> ds.records[0].first
        'What is the capital of France?'
    """
    allowed = set(labels) if labels is not None else None
    if allowed is not None:
        labeled = True
    out = _Collector(path, on_bad_lines)
    for number, line in out.rows(max_line_bytes, header):
        fields = [f.strip() for f in line.split("\t")]
        if labeled is None and len(fields) in (2, 3):
            labeled = len(fields) == 3
        expected = 3 if labeled else 2
        if len(fields) != expected:
            out.bad(number, "wrong column count", f"expected {expected} tab-separated columns, found {len(fields)}")
            continue
        if not fields[0] or not fields[1]:
            out.bad(number, "empty text", "first column is empty" if not fields[0] else "second column is empty")
            continue
        if labeled and not fields[2]:
            out.bad(number, "empty label")
            continue
        if allowed is not None and fields[2] not in allowed:
            out.bad(number, "label not in the label set", f"{_clip(fields[2])} not in {sorted(allowed)}")
            continue
        out.keep(TextPair(fields[0], fields[1], fields[2] if labeled else None, number))
    return out.done()


def read_corpus(path, *, on_bad_lines: str = "error", max_line_bytes: int = MAX_LINE_BYTES) -> Dataset:
    """Reads a plain corpus, one text a line; blank lines are skipped and counted.

    Args:
        path: the text file.
        on_bad_lines: "error" (default) or "skip" (only invalid UTF-8 and lines
            longer than ``max_line_bytes`` can be bad).
        max_line_bytes: longest line accepted, in bytes. Default 1,000,000.

    Returns:
        A `Dataset` of `Text` records.

    Example:
        >>> len(read_corpus("data/samples/corpus.txt").records) > 0
        True
    """
    out = _Collector(path, on_bad_lines)
    for number, line in out.rows(max_line_bytes):
        out.keep(Text(line.strip(), number))
    return out.done()


def read_conll(
    path, *, tags: Sequence[str] | None = None, on_bad_lines: str = "error", max_line_bytes: int = MAX_LINE_BYTES,
) -> Dataset:
    """Reads CoNLL-style ``token tag`` lines with a blank line between sentences.

    A bad line makes its whole sentence bad; with ``on_bad_lines="skip"`` every
    line of that sentence is counted as skipped under the line's reason.

    Args:
        path: the file.
        tags: the declared tag set. Default None (any tag).
        on_bad_lines: "error" (default) or "skip".
        max_line_bytes: longest line accepted, in bytes. Default 1,000,000.

    Returns:
        A `Dataset` of `TaggedSentence` records.

    Example:
        >>> read_conll("data/samples/conll.txt").records[0].tags[0]
        'B-LOC'
    """
    allowed = set(tags) if tags is not None else None
    out = _Collector(path, on_bad_lines)
    tokens: list[str] = []
    tag_list: list[str] = []
    start = lines_in_sentence = 0
    problem: tuple[int, str, str] | None = None

    def flush():
        nonlocal tokens, tag_list, problem, lines_in_sentence
        if problem:
            out.bad(*problem, lines=lines_in_sentence)
        elif tokens:
            out.keep(TaggedSentence(tuple(tokens), tuple(tag_list), start), lines=lines_in_sentence)
        tokens, tag_list, problem, lines_in_sentence = [], [], None, 0

    for number, line, error in _lines(path, _check_max_line_bytes(max_line_bytes)):
        out.read(number)
        if error is None and not line.strip():
            flush()
            out.ignore("sentence break")
            continue
        if lines_in_sentence == 0:
            start = number
        lines_in_sentence += 1
        if problem is not None:
            continue
        if error:
            problem = (number, *error)
            continue
        fields = line.split()
        if len(fields) != 2:
            problem = (number, "wrong column count", f"expected 'token tag', found {len(fields)} fields")
        elif allowed is not None and fields[1] not in allowed:
            problem = (number, "tag not in the tag set", f"{_clip(fields[1])} not in {sorted(allowed)}")
        else:
            tokens.append(fields[0])
            tag_list.append(fields[1])
    flush()
    return out.done()


READERS = {
    "label_text": read_classification,
    "title_content": read_pairs,
    "question_answer": read_pairs,
    "pairs": read_pairs,
    "corpus": read_corpus,
    "conll": read_conll,
}


def write_classification(path, records: Iterable[LabeledText]) -> int:
    """Writes records as ``label<TAB>text`` lines; returns the number written.

    Tabs and newlines inside texts are replaced by spaces so every record stays
    one line.

    Args:
        path: the output file; overwritten if it exists.
        records: `LabeledText` records; multi-label tuples are joined with ",".

    Returns:
        The number of lines written.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "train.tsv")
        >>> write_classification(path, [LabeledText("a fine film", "pos", 1)])
        1
        >>> read_classification(path).records
        [LabeledText(text='a fine film', label='pos', line=1)]
    """
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            label = ",".join(r.label) if isinstance(r.label, tuple) else r.label
            f.write(f"{label}\t{' '.join(r.text.split())}\n")
            n += 1
    return n


def read_options(data: Mapping) -> dict:
    """The `read_classification` keyword arguments of a recipe's ``[data]`` table.

    Args:
        data: the recipe's ``[data]`` table.

    Returns:
        ``text_first``, ``header``, ``multi_label``, ``label_sep`` and ``on_bad_lines``.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> read_options(default_recipe()["data"])["on_bad_lines"]
        'error'
    """
    return dict(text_first=data["text_first"], header=data["header"], multi_label=data["multi_label"],
                label_sep=data["label_sep"], on_bad_lines=data["on_bad_lines"])
