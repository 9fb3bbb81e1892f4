"""An input of one text a line, read one line at a time: constant memory, whatever the file's length.

Lines end at "\\n" only (a CRLF's "\\r" is dropped), as the readers split them:
a text holding a form feed or a Unicode line separator stays one text, as it was
one line of the file.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

from textrecipes.data.files import check_regular_file, fragment
from textrecipes.data.records import DataError


class InputLines:
    """Iterates a file's (or stdin's) lines as strings, decoding each as strict UTF-8 while it is read.

    A line that is not UTF-8 is a `DataError` naming ``source:line``, or, with
    ``on_bad_lines="skip"``, comes out as None (so that a caller keeps its place)
    and is counted in ``bad``.

    Args:
        path: the file to read, or "-" for stdin. A folder or a FIFO is refused
            at once (`check_regular_file`), before anything waits on it.
        on_bad_lines: "error" (default) or "skip".

    Example:
        >>> lines = InputLines("data/samples/label_text.tsv")
        >>> next(iter(lines)).split("\\t")[0]
        'pos'
    """

    def __init__(self, path: str, on_bad_lines: str = "error"):
        self.path = path
        self.source = "<stdin>" if path == "-" else path
        if path != "-":
            check_regular_file(path, "predict input")
        self.on_bad_lines = on_bad_lines
        self.bad = 0  # lines that were not UTF-8 (skip mode)
        self.read = 0  # lines read so far

    def _open(self):
        if self.path == "-":  # stdin is not ours to close
            return contextlib.nullcontext(getattr(sys.stdin, "buffer", sys.stdin))
        return open(self.path, "rb")

    def __iter__(self) -> Iterator[str | None]:
        with self._open() as f:
            for number, line in enumerate(f, 1):  # a binary file splits on b"\n" only
                self.read = number
                if isinstance(line, str):  # a text stream given as stdin (tests): back to bytes
                    line = line.encode("utf-8", "surrogateescape")
                line = line[:-1] if line.endswith(b"\n") else line
                line = line[:-1] if line.endswith(b"\r") else line
                if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                try:
                    yield line.decode("utf-8")
                except UnicodeDecodeError as e:
                    if self.on_bad_lines != "skip":
                        raise DataError(f"{self.source}:{number}: invalid UTF-8 at byte {e.start} (near "
                                        f"{fragment(line[max(0, e.start - 12):e.start + 12])}); fix the line, or pass "
                                        "--on-bad-lines skip to leave it out") from None
                    self.bad += 1
                    yield None
