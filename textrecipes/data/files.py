"""Input files checked before they are opened: a regular file, or a one-line error naming it.

Opening a FIFO blocks until someone writes to it, and opening a folder fails
deep inside a reader; both are refused here first, with the path in the
message. `fragment` is how an error message quotes a file's content: a short,
escaped piece, never a whole line of a file that may not be ours to show
(a vectors file given as ``/etc/passwd``).
"""

from __future__ import annotations

import os
import stat

from textrecipes.data.records import DataError

FRAGMENT_CHARS = 24  # how much of a file's line an error message may quote


def check_regular_file(path, what: str = "data file") -> str:
    """``path`` as a string when it names a regular file; a `DataError` naming it otherwise.

    Never opens the file, so a FIFO cannot block: only ``os.stat`` is called.

    Args:
        path: the file to check.
        what: what the file is for, in the message. Default "data file".

    Returns:
        ``os.fspath(path)``.

    Raises:
        DataError: ``path`` is a folder, a FIFO, a device or a socket.
        FileNotFoundError: ``path`` does not exist.

    Example:
        >>> check_regular_file("data/samples/label_text.tsv")
        'data/samples/label_text.tsv'
        >>> check_regular_file("data/samples")
        Traceback (most recent call last):
        ...
        textrecipes.data.records.DataError: data/samples: is a folder, not a file (data file)
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file ({what})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({what}): {e.strerror}") from None
    if stat.S_ISREG(mode):
        return path
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    if not kind.startswith("not"):
        kind = f"is {kind}, not a file"
    raise DataError(f"{path}: {kind} ({what})")


def fragment(text, width: int = FRAGMENT_CHARS) -> str:
    """A clipped, escaped piece of ``text`` for an error message: at most ``width`` characters, then "…".

    Args:
        text: the line or value to quote.
        width: the most characters kept. Default 24 (`FRAGMENT_CHARS`).

    Returns:
        The piece as Python's ``repr`` writes it (control characters escaped).

    Example:
        >>> fragment("root:x:0:0:root:/root:/bin/bash")
        "'root:x:0:0:root:/root:/b…'"
    """
    text = str(text)
    return repr(text if len(text) <= width else text[:width] + "…")


def decode_lines(raw: bytes, source: str, on_bad_lines: str = "error") -> tuple[list, int]:
    """Bytes of one text a line → the lines, split on "\\n" only (a CRLF's "\\r" dropped), strict UTF-8.

    Args:
        raw: the input's bytes (a file's, or stdin's).
        source: its name in errors ("<stdin>", a path).
        on_bad_lines: "error" (default): a line that is not UTF-8 is a `DataError`
            naming ``source:line``; "skip": it becomes an empty line (skipped
            like a blank line) and is counted.

    Returns:
        ``(lines, undecodable)``: the lines, and how many were not UTF-8.

    Example:
        >>> decode_lines(b"good\\r\\n\\xff bad\\n", "<stdin>", "skip")
        (['good', ''], 1)
    """
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    out, bad = [], 0
    for number, line in enumerate(lines, 1):
        line = line[:-1] if line.endswith(b"\r") else line
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError as e:
            if on_bad_lines != "skip":
                raise DataError(f"{source}:{number}: invalid UTF-8 at byte {e.start} (near "
                                f"{fragment(line[max(0, e.start - 12):e.start + 12])}); fix the line, or pass "
                                "--on-bad-lines skip to leave it out") from None
            out.append("")
            bad += 1
    return out, bad
