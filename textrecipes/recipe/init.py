"""``textrecipes init FILE.tsv``: a complete, commented recipe for a new labelled file.

The file is diagnosed (`textrecipes.data.sniff.diagnose`: column order, header,
labels, script, lengths, warnings), `suggest_recipe` picks the values, and the
recipe is written as TOML text whose comments say why each value was chosen. The
recipe is validated before it is written, so ``textrecipes train`` accepts it as
is; an existing file is never overwritten.

Data paths are written relative to the recipe's folder when that folder is the
current one (then both readings of a relative path agree), else absolute.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re

import tomli_w

from textrecipes.data.sniff import Diagnosis, Suggestion, diagnose, suggest_recipe
from textrecipes.recipe.loading import load_recipe

__all__ = ["init_recipe", "recipe_text", "add_cli"]


def _value(value) -> str:
    """One TOML value, formatted by tomli-w (strings escaped as TOML wants)."""
    return tomli_w.dumps({"v": value})[len("v = "):].strip()


def _run_name(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[^\w.-]+", "_", stem).strip("._") or "recipe"


def _data_path(path: str, out: str) -> str:
    """``path`` as the recipe at ``out`` must name it: relative to the recipe's folder (how recipe paths resolve)."""
    return os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(out)))


def recipe_text(diagnosis: Diagnosis, suggestion: Suggestion, *, train: str, validation: str = "",
                test: str = "", name: str = "recipe") -> str:
    """The commented TOML recipe for a diagnosed training file.

    Args:
        diagnosis: from `diagnose` (the training file).
        suggestion: from `suggest_recipe`.
        train: the ``data.train`` path as it is to be written.
        validation: ``data.validation`` (empty: split off ``train``). Default "".
        test: ``data.test`` (empty: split off ``train``). Default "".
        name: the run name (``runs/<name>``). Default "recipe".

    Returns:
        The recipe as TOML text.

    Example:
        >>> d = diagnose("data/samples/label_text.tsv")
        >>> text = recipe_text(d, suggest_recipe(d), train="data/samples/label_text.tsv")
        >>> 'name = "auto"' in text
        True
    """
    v, why = suggestion.values, suggestion.why

    def line(section: str, key: str) -> str:
        dotted = f"{section}.{key}"
        return f"{key} = {_value(v[dotted])}  # {why[dotted]}"

    d = diagnosis
    out = [f"# Written by `textrecipes init` on {datetime.date.today().isoformat()} for {os.path.basename(d.path)}: "
           f"{d.examples:,} examples, {len(d.labels)} labels.",
           "# Every key not written here takes its default (`textrecipes recipe keys` lists them all).",
           *[f"# warning: {w}" for w in d.warnings],
           f"name = {_value(name)}  # the run folder is runs/<name> unless --run-dir says otherwise",
           "seed = 0", "", "[data]", 'format = "label_text"',
           f"train = {_value(train)}",
           f"validation = {_value(validation)}" + ("" if validation else "  # empty: 10% of train, split off stratified"),
           f"test = {_value(test)}" + ("" if test else "  # empty: another 10% of train, split off stratified"),
           line("data", "text_first"), line("data", "header")]
    out += [line("data", key) for key in ("multi_label", "label_sep", "on_bad_lines") if f"data.{key}" in v]
    # A note is a commented-out key under its table; a table already written cannot be opened twice in TOML.
    notes = [(dotted.split(".", 1), value, reason) for dotted, value, reason in suggestion.notes]
    out += [f"# {key} = {_value(value)}  # {reason}" for (section, key), value, reason in notes if section == "data"]
    out += ["", "[tokenize]", line("tokenize", "split"), line("tokenize", "max_length"),
            "", "[model]", line("model", "name")]
    later = [(section, key, value, reason) for (section, key), value, reason in notes if section != "data"]
    if later:
        out.append("")
        for section, key, value, reason in later:
            out += [f"[{section}]", f"# {key} = {_value(value)}  # {reason}"]
    return "\n".join(out) + "\n"


def init_recipe(train, out: str = "recipe.toml", *, validation=None, test=None) -> tuple[str, Diagnosis, Suggestion]:
    """Diagnoses a labelled TSV file and writes a recipe that trains on it as is.

    Args:
        train: the training file (``label<TAB>text`` or ``text<TAB>label``, header or not).
        out: the recipe file to write; it must not exist. Default "recipe.toml".
        validation: a validation file, read like ``train``. Default None (split off ``train``).
        test: a test file, read like ``train``. Default None (split off ``train``).

    Returns:
        ``(path written, diagnosis of train, suggestion)``.

    Raises:
        FileExistsError: ``out`` exists (it is never overwritten).
        FileNotFoundError: a data file does not exist.
        DataError: the training file has no two-column line.

    Example:
        >>> path, d, s = init_recipe("data/samples/label_text.tsv", "new_recipe.toml")  # doctest: +SKIP
    """
    out = os.fspath(out)
    if os.path.lexists(out):
        raise FileExistsError(f"{out} already exists; init never overwrites a file: remove it or give --out NEW.toml")
    diagnosis = diagnose(train)
    suggestion = suggest_recipe(diagnosis)
    sep = suggestion.values.get("data.label_sep")  # multi-label: the files are compared by their tags
    for extra in (validation, test):
        if extra is not None:
            other = diagnose(extra, text_first=diagnosis.text_first)
            if other.header != diagnosis.header:  # one data.header reads every file
                diagnosis.warnings.append(f"{extra}: line 1 {'is' if other.header else 'is not'} a header, unlike the "
                                          f"training file's; data.header applies to every file: make them agree")
            unseen = sorted(other.classes(sep) - diagnosis.classes(sep))
            if unseen:
                diagnosis.warnings.append(f"{extra}: labels not in the training file: {unseen[:5]}")
    text = recipe_text(diagnosis, suggestion, train=_data_path(train, out),
                       validation=_data_path(validation, out) if validation else "",
                       test=_data_path(test, out) if test else "", name=_run_name(os.fspath(train)))
    import tomllib

    load_recipe(tomllib.loads(text))  # the recipe is valid before it exists (RecipeError otherwise)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "x", encoding="utf-8") as f:  # "x": a file made meanwhile is not overwritten either
        f.write(text)
    return out, diagnosis, suggestion


def _cmd_init(args) -> int:
    path, diagnosis, _ = init_recipe(args.file, args.out, validation=args.validation, test=args.test)
    print(diagnosis.summary())
    print(f"wrote {path}; train with: textrecipes train {path}")
    return 0


def add_cli(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``init`` sub-command to the ``textrecipes`` parser."""
    p = sub.add_parser("init", help="diagnose a labelled TSV file and write a commented recipe for it")
    p.add_argument("file", help="the training file: label<TAB>text or text<TAB>label, with or without a header")
    p.add_argument("--out", default="recipe.toml", help="the recipe to write; never overwritten (default recipe.toml)")
    p.add_argument("--validation", help="a validation file, read like FILE (default: 10%% of FILE)")
    p.add_argument("--test", help="a test file, read like FILE (default: 10%% of FILE)")
    p.set_defaults(func=_cmd_init)
    return p
