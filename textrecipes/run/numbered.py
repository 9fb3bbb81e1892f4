"""Where a rerun goes: ``overwrite="auto"`` keeps every finished run and numbers the next one.

The rule (`train`'s default, made for notebooks, where a cell is run again):

- the requested folder (``run_dir``, else the recipe's, else ``runs/<name>``) is
  used when it is missing or empty, or holds an interrupted run of the same recipe
  (which then resumes);
- otherwise the run goes to the first of ``<folder>-2``, ``<folder>-3``, ... that
  is so: a finished run is never replaced, a folder that is not a run folder is
  never written into, and an interrupted run of another recipe is left as it is.

Nothing is removed. ``overwrite=True`` replaces a finished run (of ours) in the
requested folder; ``overwrite=False`` refuses one (``FileExistsError``, as on the
command line).
"""

from __future__ import annotations

import json
import os
from typing import Callable, Mapping

from textrecipes.run.folder import FINISHED, MARKER, RESUMABLE_CHANGES, flat_recipe

__all__ = ["numbered_run_dir", "usable_as_is"]

MAX_NUMBER = 10000


def usable_as_is(run_dir: str, recipe: Mapping) -> bool:
    """Whether a run of ``recipe`` may go into ``run_dir`` without replacing or refusing anything.

    Example:
        >>> import tempfile
        >>> usable_as_is(os.path.join(tempfile.mkdtemp(), "new"), {"seed": 0})
        True
    """
    if not os.path.lexists(run_dir):
        return True
    if not os.path.isdir(run_dir):
        return False
    entries = [e for e in os.listdir(run_dir) if e != ".textrecipes-run.lock"]
    if not entries:
        return True
    if MARKER not in entries or FINISHED in entries:
        return False
    try:
        with open(os.path.join(run_dir, MARKER), encoding="utf-8") as f:
            before = json.load(f).get("recipe")
    except (OSError, ValueError):
        return False
    if before is None:
        return False
    now = flat_recipe(recipe)
    return all(before.get(k) == now.get(k) for k in set(before) | set(now) if not k.startswith(RESUMABLE_CHANGES))


def numbered_run_dir(run_dir: str, recipe_for: Callable[[str], Mapping]) -> str:
    """The folder a run goes to under ``overwrite="auto"``: ``run_dir``, else the first usable ``run_dir-N``.

    Args:
        run_dir: the requested run folder.
        recipe_for: the resolved recipe of a run into a given folder (in-memory data
            lives inside the folder, so the recipe depends on it).

    Returns:
        The folder (``run_dir`` itself, or ``run_dir-2``, ``run_dir-3``, ...).

    Example:
        >>> import tempfile
        >>> base = os.path.join(tempfile.mkdtemp(), "run")
        >>> os.makedirs(base); open(os.path.join(base, "notes.txt"), "w").close()
        >>> os.path.basename(numbered_run_dir(base, lambda d: {"seed": 0}))
        'run-2'
    """
    run_dir = os.fspath(run_dir).rstrip("/\\") or os.fspath(run_dir)
    for number in range(1, MAX_NUMBER + 1):
        candidate = run_dir if number == 1 else f"{run_dir}-{number}"
        if usable_as_is(candidate, recipe_for(candidate)):
            return candidate
    raise FileExistsError(f"{run_dir}: {MAX_NUMBER} numbered run folders exist already; choose another run_dir")
