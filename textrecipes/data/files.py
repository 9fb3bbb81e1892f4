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
