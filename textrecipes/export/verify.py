"""SHA-256 sums of a run's exported files, recorded in ``model_card.json`` and checked before loading.

A SavedModel runs whatever graph it holds: loading one from someone else is
running their code. ``.keras`` files load with ``safe_mode`` (no Lambda
layers), but their weights and config are still whatever the file says. The
run writes the SHA-256 of every exported file (``model.keras``,
``model.tflite``, each file under ``saved_model/``) into the model card's
``"sha256"``; `verify_exports` (``Predictor(path, verify=True)``,
``textrecipes predict --verify``) recomputes them and refuses a model whose
files differ, are missing or were added. It proves the files are the ones the
card names; trust the card itself only as far as you trust where it came from
(compare its own sum with one published by the model's author).
"""

from __future__ import annotations

import hashlib
import os

from textrecipes.export.metadata import MODEL_CARD, RunFolderError, read_json

EXPORTED = ("model.keras", "model.tflite")  # single-file exports in a run folder
SAVED_MODEL = "saved_model"
# The card copied into the SavedModel is written after the sums are taken: it cannot hold its own sum.
UNSUMMED = (f"{SAVED_MODEL}/assets.extra/{MODEL_CARD}",)


def file_sha256(path: str) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks.

    Example:
        >>> len(file_sha256("data/samples/label_text.tsv"))
        64
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _saved_model_files(folder: str, prefix: str = SAVED_MODEL) -> list:
    """Relative names ("saved_model/...", "/" separated) of every file under a SavedModel folder."""
    names = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
            names.append(f"{prefix}/{rel}")
    return [n for n in names if n not in UNSUMMED]


def export_digests(run_dir: str) -> dict:
    """``{relative file name: sha256}`` of every exported file in a run folder.

    Args:
        run_dir: the run folder (``model.keras``, ``model.tflite``, ``saved_model/``, those present).

    Returns:
        The sums, names relative to ``run_dir`` with "/" separators.

    Example:
        >>> sorted(export_digests("runs/demo"))[:2]  # doctest: +SKIP
        ['model.keras', 'saved_model/assets.extra/textrecipes.json']
    """
    names = [n for n in EXPORTED if os.path.isfile(os.path.join(run_dir, n))]
    if os.path.isdir(os.path.join(run_dir, SAVED_MODEL)):
        names += _saved_model_files(os.path.join(run_dir, SAVED_MODEL))
    return {n: file_sha256(os.path.join(run_dir, *n.split("/"))) for n in names}


def _what_to_check(path: str) -> tuple[str, str, list]:
    """``(card path, folder the names are relative to, names to check or None for all)`` for a model path."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "saved_model.pb")):  # a SavedModel alone
        return os.path.join(path, "assets.extra", MODEL_CARD), os.path.dirname(os.path.abspath(path)), [SAVED_MODEL]
    if os.path.isdir(path):  # a run folder
        return os.path.join(path, MODEL_CARD), path, None
    return os.path.join(os.path.dirname(path), MODEL_CARD), os.path.dirname(path), [os.path.basename(path)]


def verify_exports(path: str) -> dict:
    """Checks a model's files against the SHA-256 sums in its ``model_card.json``; refuses any difference.

    Args:
        path: a run folder, a SavedModel folder (its card in ``assets.extra/``),
            or a ``.keras`` / ``.tflite`` file with ``model_card.json`` beside it.

    Returns:
        ``{relative name: sha256}`` of the files checked.

    Raises:
        RunFolderError: no card, a card without sums, or a file that differs
            from its sum, is missing, or is not in the card (named in the message).

    Example:
        >>> verify_exports("runs/demo")  # doctest: +SKIP
        {'model.keras': '...', 'saved_model/saved_model.pb': '...'}
    """
    path = os.fspath(path).rstrip("/") or "/"
    card_path, base, only = _what_to_check(path)
    card = read_json(card_path)
    sums = card.get("sha256")
    if not isinstance(sums, dict) or not sums:
        raise RunFolderError(f"{card_path}: records no sha256 sums of the exported files (a card from before "
                             "textrecipes recorded them?); cannot verify")
    if only == [SAVED_MODEL]:  # the SavedModel may have been copied under another name
        folder = path
        wanted = {n: v for n, v in sums.items() if n.startswith(f"{SAVED_MODEL}/")}
        present = _saved_model_files(folder)
        locate = {n: os.path.join(folder, *n.split("/")[1:]) for n in set(wanted) | set(present)}
    else:
        wanted = sums if only is None else {n: v for n, v in sums.items() if n in only}
        present = export_digests(base) if only is None else [n for n in only if os.path.isfile(os.path.join(base, n))]
        locate = {n: os.path.join(base, *n.split("/")) for n in set(wanted) | set(present)}
    if not wanted:
        raise RunFolderError(f"{card_path}: has no sha256 sum for {path}; cannot verify")
    for name in sorted(set(present) - set(wanted)):
        raise RunFolderError(f"{locate[name]}: not listed in {card_path}; the export was changed after the run")
    for name, expected in sorted(wanted.items()):
        if not os.path.isfile(locate[name]):
            raise RunFolderError(f"{locate[name]}: listed in {card_path} but missing")
        if file_sha256(locate[name]) != expected:
            raise RunFolderError(f"{locate[name]}: sha256 differs from {card_path}; the file was changed after "
                                 "the run (refusing to load it)")
    return dict(wanted)
