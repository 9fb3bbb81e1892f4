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
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import uuid

from textrecipes.data.atomic import atomic_write
from textrecipes.export.metadata import RunFolderError

MARKER = ".textrecipes-run.json"
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
        >>>         >>> is_run_folder(tempfile.mkdtemp())
        False
    """
    if not os.path.isdir(path):
        return False
    entries = os.listdir(path)
    return MARKER in entries or _is_legacy_run(path, entries)


def write_marker(run_dir: str, kind: str) -> dict:
    """Writes the marker that makes ``run_dir`` a run folder; returns its content.

    Example:
        >>>         >>> write_marker(tempfile.mkdtemp(), "train")["kind"]
        'train'
    """
    import textrecipes

    marker = {"textrecipes": textrecipes.__version__, "run_id": uuid.uuid4().hex, "kind": kind,
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with atomic_write(os.path.join(run_dir, MARKER)) as f:
        json.dump(marker, f, indent=1)
    return marker


def prepare_run_dir(run_dir: str, overwrite: bool, kind: str = "train", finished: str = FINISHED) -> None:
    """Creates, resumes or (with ``overwrite``) empties a run folder; never touches a folder that is not ours.

    Args:
        run_dir: the run folder.
        overwrite: start afresh in a finished run's folder (it must be a run folder).
        kind: what the folder is for ("train", "pretrain", "ensemble", ...), kept in the marker.
        finished: the file whose presence means the run finished. Default ``metrics.json``.

    Raises:
        FileExistsError: ``run_dir`` holds a finished run and ``overwrite`` is False.
        RunFolderError: ``run_dir`` is a file, a non-empty folder that is not a
            run folder, or a folder that holds the working folder, home or root.

    Example:
        >>> import os, tempfile
        >>> run_dir = os.path.join(tempfile.mkdtemp(), "run")
        >>> prepare_run_dir(run_dir, overwrite=False)
        >>> sorted(os.listdir(run_dir))
        ['.textrecipes-run.json']
    """
    run_dir = os.fspath(run_dir)
    why = _protected(run_dir)
    if why:
        raise RunFolderError(f"{run_dir} cannot be a run folder: {why}; name a new folder of its own")
    if os.path.lexists(run_dir) and not os.path.isdir(run_dir):
        raise RunFolderError(f"{run_dir} is a file, not a folder; name a new folder for the run")
    entries = os.listdir(run_dir) if os.path.isdir(run_dir) else []
    if entries and not (MARKER in entries or _is_legacy_run(run_dir, entries)):
        raise RunFolderError(
            f"{run_dir} is not empty and is not a textrecipes run folder (no {MARKER}); textrecipes never writes "
            "into or removes a folder it did not make: name a new or empty folder")
    if finished in entries:
        if not overwrite:
            raise FileExistsError(f"{run_dir} already holds a finished run; pass overwrite=True (--overwrite) "
                                  "or another run_dir")
        _empty(run_dir)
        entries = []
    os.makedirs(run_dir, exist_ok=True)
    if MARKER not in entries:
        write_marker(run_dir, kind)


def _empty(run_dir: str) -> None:
    """Removes everything inside a run folder (checked as ours by the caller), keeping the folder."""
    for entry in os.listdir(run_dir):
        path = os.path.join(run_dir, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


