"""A run refused for its data leaves no run folder behind: only what the run itself created is removed.

What can be refused without reading (a data file that is a folder, a FIFO or
missing) is refused before the run folder is made
(`textrecipes.recipe.loading.missing_files`). Problems found
only by reading (an empty file, one example, too many labels) surface after
the folder exists; `discard_if_unused` then removes the marker and lock the
run wrote, and the folder too when the run created it, but nothing else: a
folder holding any other file is left as it is.
"""

from __future__ import annotations

import os

from textrecipes.run.folder import LOCK, MARKER


def folder_before(run_dir: str) -> list | None:
    """What ``run_dir`` held before the run: its entries, or None when it did not exist.

    Example:
        >>> folder_before("no/such/run") is None
        True
    """
    return sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else None


def discard_if_unused(run_dir: str, before: list | None, lock) -> bool:
    """Removes what a run created in ``run_dir`` when it wrote nothing but its marker and lock.

    Args:
        run_dir: the run folder.
        before: `folder_before` of it, taken before the run started.
        lock: the run's held `textrecipes.run.folder.RunLock` (released here).

    Returns:
        True when something was removed.

    Example:
        >>> discard_if_unused("runs/x", None, lock)  # doctest: +SKIP
        True
    """
    try:
        entries = set(os.listdir(run_dir))
    except OSError:
        lock.release()
        return False
    if before is None or before == []:
        if entries - {MARKER, LOCK}:  # the run wrote more (or someone else did): keep everything
            lock.release()
            return False
        for name in (MARKER, LOCK):
            if name in entries:
                os.remove(os.path.join(run_dir, name))
        lock.release()
        if before is None:
            os.rmdir(run_dir)
        return True
    lock.release()
    return False
