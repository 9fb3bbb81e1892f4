"""Files written whole or not at all: a temporary file (or folder) beside the target, renamed into place on success.

A kill or an error at any moment leaves the previous file, or none, never a
half-written one. Used for every artifact of a run, every export and every
file a command writes for the user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
    """Writes ``path`` through a temporary file beside it, renamed into place only if the block succeeds.

    A crash or an error inside the block leaves the previous file (or none) and no partial one.

    Args:
        path: the file to write.
        mode: "w" (text, default) or "wb".
        encoding: text encoding. Default "utf-8" (ignored for "wb").
        newline: as for `open`. Default None.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> with atomic_write(path) as f:
        ...     _ = f.write("done")
        >>> open(path).read()
        'done'
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        binary = "b" in mode
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding, "newline": newline})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_folder(path: str, overwrite: bool = False):
    """Yields a temporary folder beside ``path`` to fill; it replaces ``path`` only if the block succeeds.

    Leftovers of an earlier attempt that was killed (``.NAME.*.partial``) are removed first.

    Args:
        path: the folder to write (a SavedModel, say).
        overwrite: replace an existing ``path``. Default False.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "export")
        >>> with atomic_folder(target) as tmp:
        ...     open(os.path.join(tmp, "a.txt"), "w").close()
        >>> os.listdir(target)
        ['a.txt']
    """
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"export path {path} already exists; choose another path or pass overwrite=True")
    parent, name = os.path.split(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    for entry in os.listdir(parent):
        if entry.startswith(f".{name}.") and entry.endswith(".partial"):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent)
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private (0700); the export is an ordinary folder
    try:
        yield tmp
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_keras(model, path: str) -> None:
    """``model.save(path)`` (a ``.keras`` file) through a temporary file, renamed into place when complete.

    Example:
        >>> save_keras(model, "runs/demo/model.keras")  # doctest: +SKIP
    """
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name[:-len('.keras')]}.partial.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
