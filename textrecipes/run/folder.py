"""Run folders that are only run folders: a marker written first, and nothing of the user's ever removed.

A run folder is recognisably ours: the first file written into it is
``.textrecipes-run.json`` (the package version, a run id, when and what for).
`prepare_run_dir` creates or reuses a folder by these rules:

- a missing or empty folder becomes a new run folder (the marker is written);
- a marked folder with a finished run (``metrics.json``) is kept, or with
  ``overwrite`` emptied and started afresh; an interrupted one is resumed;
- a non-empty folder without the marker is refused, ``overwrite`` or not:
  it may hold the user's files. (A folder of only textrecipes artifact names,
  written before markers existed, counts as ours.)
- a folder that is or contains the working folder, the home folder or the
  filesystem root is refused outright.

The marker, like every artifact, is written atomically (`textrecipes.data.atomic`).
It also records the recipe the folder was started with: an interrupted run
resumes only under the same recipe (a changed one is refused, naming the keys
that changed, unless ``overwrite`` starts afresh). While a run writes into its
folder it holds ``.textrecipes-run.lock`` (an OS lock, released even when the
process is killed), so a second run into the same folder is refused at once.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import uuid
from typing import Mapping

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a second run is then not detected
    fcntl = None

from textrecipes.data.atomic import atomic_write
from textrecipes.export.metadata import RunFolderError

MARKER = ".textrecipes-run.json"
LOCK = ".textrecipes-run.lock"
# Keys that name where a run goes or what it writes afterwards, not what it learns: a resumed run may change them.
RESUMABLE_CHANGES = ("name", "run_dir", "export.", "report.")
FINISHED = "metrics.json"  # written last: its presence means the run finished
# Everything a run of an earlier version wrote; a folder holding only these (among them a
# recipe.toml, or a language model's lm.json) is taken for a run folder from before markers existed.
LEGACY_ARTIFACTS = frozenset({
    "recipe.toml", "labels.json", "vocabulary.json", "metrics.json", "history.csv", "model.keras", "saved_model",
    "model.tflite", "model_card.json", "report.md", "report.html", "learning_curves.png", "confusion_matrix.png",
    "schedule.png", "lr_curve.png", "backup", "checkpoints", "tensorboard", "members", "distilled", "data",
    "best_recipe.toml", "results.csv", "trials", "keras_tuner", "lm.keras", "lm.json", "top_losses.json", "predictions",
})


def check_name(value, key: str = "name") -> list[str]:
    """Problems with a run name: it becomes a folder under ``runs/``, so it must be one plain folder name.

    Args:
        value: the name.
        key: the recipe key named in messages. Default "name".

    Returns:
        One message per problem; empty when the name is usable.

    Example:
        >>> check_name("sentiment_lstm")
        []
        >>> check_name("../x")
        ["'name' = '../x' must be a plain folder name: not empty, not '.' or '..', no slash or backslash"]
    """
    if not isinstance(value, str):
        return []  # the type check reports it
    if not value.strip() or value in (".", "..") or "/" in value or "\\" in value or "\x00" in value:
        return [f"{key!r} = {value!r} must be a plain folder name: not empty, not '.' or '..', no slash or backslash"]
    return []


def _is_legacy_run(path: str, entries: list[str]) -> bool:
    return bool({"recipe.toml", "lm.json"} & set(entries)) and all(e in LEGACY_ARTIFACTS or e.startswith(".") and e.endswith(".tmp")
                                            for e in entries)


def _protected(path: str) -> str | None:
    """Why ``path`` may never be a run folder (it holds the working folder, home or root), or None."""
    real = os.path.realpath(path)
    for what, other in (("the working folder", os.getcwd()), ("the home folder", os.path.expanduser("~"))):
        other = os.path.realpath(other)
        if real == other or other.startswith(real.rstrip(os.sep) + os.sep):
            return f"it is or contains {what} ({other})"
    if real == os.path.realpath(os.sep):
        return "it is the filesystem root"
    return None


def is_run_folder(path: str) -> bool:
    """Whether ``path`` is a folder that textrecipes made (it carries the marker, or only our artifacts).

    Example:
        >>> import tempfile
        >>> is_run_folder(tempfile.mkdtemp())
        False
    """
    if not os.path.isdir(path):
        return False
    entries = os.listdir(path)
    return MARKER in entries or _is_legacy_run(path, entries)


def write_marker(run_dir: str, kind: str, recipe: Mapping | None = None) -> dict:
    """Writes the marker that makes ``run_dir`` a run folder; returns its content.

    Example:
        >>> import tempfile
        >>> write_marker(tempfile.mkdtemp(), "train")["kind"]
        'train'
    """
    import textrecipes

    marker = {"textrecipes": textrecipes.__version__, "run_id": uuid.uuid4().hex, "kind": kind,
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if recipe is not None:
        marker["recipe"] = flat_recipe(recipe)
    with atomic_write(os.path.join(run_dir, MARKER)) as f:
        json.dump(marker, f, indent=1)
    return marker


def prepare_run_dir(run_dir: str, overwrite: bool, kind: str = "train", finished: str = FINISHED,
                    recipe: Mapping | None = None) -> "RunLock":
    """Creates, resumes or (with ``overwrite``) empties a run folder; never touches a folder that is not ours.

    Args:
        run_dir: the run folder.
        overwrite: start afresh in a finished run's folder, or in an interrupted
            run's folder whose recipe changed (it must be a run folder).
        kind: what the folder is for ("train", "pretrain", "ensemble", ...), kept in the marker.
        finished: the file whose presence means the run finished. Default ``metrics.json``.
        recipe: the resolved recipe; recorded in the marker, and compared with the
            recorded one before an interrupted run is resumed. Default None (no check).

    Returns:
        The folder's `RunLock`, held: keep it for as long as the run writes into
        the folder, then ``release()`` it (or use it as a context manager).

    Raises:
        FileExistsError: ``run_dir`` holds a finished run and ``overwrite`` is False.
        RunFolderError: ``run_dir`` is a file, a non-empty folder that is not a
            run folder, a folder that holds the working folder, home or root, a
            folder another run is writing into, or an interrupted run of another recipe.

    Example:
        >>> import os, tempfile
        >>> run_dir = os.path.join(tempfile.mkdtemp(), "run")
        >>> with prepare_run_dir(run_dir, overwrite=False):
        ...     sorted(os.listdir(run_dir))
        ['.textrecipes-run.json', '.textrecipes-run.lock']
    """
    run_dir = os.fspath(run_dir)
    why = _protected(run_dir)
    if why:
        raise RunFolderError(f"{run_dir} cannot be a run folder: {why}; name a new folder of its own")
    if os.path.lexists(run_dir) and not os.path.isdir(run_dir):
        raise RunFolderError(f"{run_dir} is a file, not a folder; name a new folder for the run")
    entries = os.listdir(run_dir) if os.path.isdir(run_dir) else []
    if all(e == LOCK or e.startswith(f".{MARKER}.") and e.endswith(".tmp") for e in entries):
        entries = []  # a run killed before its marker was in place: the folder is new
    if entries and not (MARKER in entries or _is_legacy_run(run_dir, entries)):
        raise RunFolderError(
            f"{run_dir} is not empty and is not a textrecipes run folder (no {MARKER}); textrecipes never writes "
            "into or removes a folder it did not make: name a new or empty folder")
    os.makedirs(run_dir, exist_ok=True)
    lock = RunLock(run_dir)  # before anything is removed: another run may be writing here
    try:
        if finished in entries:
            if not overwrite:
                raise FileExistsError(f"{run_dir} already holds a finished run; pass overwrite=True (--overwrite) "
                                      "or another run_dir")
            _empty(run_dir)
            entries = []
        elif MARKER in entries and recipe is not None and _changed_since(run_dir, recipe, overwrite):
            _empty(run_dir)  # overwrite: the interrupted run of another recipe is given up
            entries = []
        if MARKER not in entries:
            write_marker(run_dir, kind, recipe)
        remove_leftovers(run_dir)  # an interrupted run's half-written files: the run that resumes writes them anew
    except BaseException:
        lock.release()
        raise
    return lock


def flat_recipe(recipe: Mapping, prefix: str = "") -> dict:
    """``{"section.key": value}`` for a nested recipe, values made JSON-plain (paths as strings).

    Example:
        >>> flat_recipe({"train": {"epochs": 3}, "seed": 0})
        {'train.epochs': 3, 'seed': 0}
    """
    out = {}
    for key, value in recipe.items():
        if isinstance(value, Mapping):
            out.update(flat_recipe(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.loads(json.dumps(value, default=str))
    return out


def _changed_since(run_dir: str, recipe: Mapping, overwrite: bool) -> bool:
    """Whether an interrupted run must be given up (``overwrite``) because its recipe changed; refuses without it."""
    try:
        with open(os.path.join(run_dir, MARKER), encoding="utf-8") as f:
            before = json.load(f).get("recipe")
    except (OSError, ValueError):
        before = None
    if before is None:
        return False  # a marker from before recipes were recorded: nothing to compare
    now = flat_recipe(recipe)
    changed = [k for k in sorted(set(before) | set(now))
               if before.get(k) != now.get(k) and not k.startswith(RESUMABLE_CHANGES)]
    if not changed:
        return False
    has_backup = os.path.isdir(os.path.join(run_dir, "backup")) and bool(os.listdir(os.path.join(run_dir, "backup")))
    if overwrite or not has_backup:
        return True  # nothing worth keeping (no epoch finished), or the user asked to start afresh
    shown = "; ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed[:8])
    more = f" (and {len(changed) - 8} more)" if len(changed) > 8 else ""
    raise RunFolderError(
        f"{run_dir} holds an interrupted run of another recipe ({shown}{more}); rerun the same recipe to resume it, "
        "or pass overwrite=True (--overwrite) to start afresh, or choose another run_dir")


class RunLock:
    """An exclusive OS lock on ``RUN_DIR/.textrecipes-run.lock``, released on `release` or when the process dies.

    Args:
        run_dir: the run folder.

    Raises:
        RunFolderError: another process holds the lock (a run is writing into the folder).

    Example:
        >>> import tempfile
        >>> with RunLock(tempfile.mkdtemp()) as lock:
        ...     lock.held
        True
    """

    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, LOCK)
        self._file = open(self.path, "a+", encoding="utf-8")
        if fcntl is not None:
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._file.seek(0)
                holder = self._file.read().strip() or "another process"
                self._file.close()
                raise RunFolderError(f"{run_dir}: another run is writing into this folder ({holder}); wait for it "
                                     "to finish or choose another run_dir") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()} since "
                         f"{datetime.datetime.now().isoformat(timespec='seconds')}")
        self._file.flush()

    @property
    def held(self) -> bool:
        return not self._file.closed

    def release(self) -> None:
        """Releases the lock (the lock file stays; an unlocked one means nothing)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def is_leftover(name: str) -> bool:
    """Whether ``name`` is a temporary file or folder our atomic writes use (left only by a killed run).

    Example:
        >>> is_leftover(".metrics.json.k2j4.tmp"), is_leftover("epoch-0002.partial.weights.h5"), is_leftover("a.tmp")
        (True, True, False)
    """
    return (name.startswith(".") and name.endswith((".tmp", ".partial", ".partial.keras"))
            or name.endswith(".partial.weights.h5") or name.endswith(".partial.state.npz"))


def remove_leftovers(run_dir: str) -> list[str]:
    """Removes what a killed run left half-written in its folder (`is_leftover` names); returns them, relative.

    Example:
        >>> import tempfile
        >>> remove_leftovers(tempfile.mkdtemp())
        []
    """
    removed = []
    for base, dirs, files in os.walk(run_dir):
        for name in [d for d in dirs if is_leftover(d)]:
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
            dirs.remove(name)
            removed.append(os.path.relpath(os.path.join(base, name), run_dir))
        for name in files:
            if is_leftover(name):
                os.remove(os.path.join(base, name))
                removed.append(os.path.relpath(os.path.join(base, name), run_dir))
    return removed


def _empty(run_dir: str) -> None:
    """Removes everything inside a run folder (checked as ours by the caller) but its marker and lock.

    ``metrics.json`` goes first and the marker stays (the caller rewrites it,
    atomically): a process killed halfway leaves a folder that is still ours
    and no longer looks finished, so the same command starts it again.
    """
    entries = sorted(os.listdir(run_dir), key=lambda e: e != FINISHED)
    for entry in entries:
        if entry in (LOCK, MARKER):
            continue  # the lock is held by this run; the marker is replaced, never removed
        path = os.path.join(run_dir, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


