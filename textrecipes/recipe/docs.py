"""What the schema says, written out: the recipe key table of docs/recipes.md and the annotated resolved recipe.

`key_table` is the Markdown table between the markers in docs/recipes.md;
`refresh_readme` rewrites it there, and a test fails when it is stale. `annotated_toml`
is what ``textrecipes recipe show`` prints: a resolved recipe as TOML, each key with its
meaning and allowed values as a comment above it.

Run ``python -m textrecipes.recipe.docs`` after changing `textrecipes.recipe.schema` to
refresh docs/recipes.md.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Iterator, Mapping

import tomli_w

from textrecipes.recipe.schema import SCHEMA, Key, Table, bounds_of, choices_of, iter_keys

__all__ = ["BEGIN", "END", "toml_value", "allowed", "key_rows", "key_table", "refresh_readme", "annotated_toml"]

BEGIN = "<!-- recipe keys: written by `python -m textrecipes.recipe.docs` from textrecipes/recipe/schema.py -->"
END = "<!-- end of recipe keys -->"


def toml_value(value: Any) -> str:
    """A value as inline TOML: strings and numbers as `tomli_w` writes them, lists and tables on one line.

    Args:
        value: a TOML value (not None).

    Returns:
        The TOML text.

    Example:
        >>> toml_value([3, 4, 5]), toml_value('say "hi"\\n'), toml_value({"train.epochs": [1, 2]})
        ('[3, 4, 5]', '"say \\\\"hi\\\\"\\\\n"', '{"train.epochs" = [1, 2]}')
    """
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return tomli_w.dumps({"v": value})[len("v = "):].rstrip("\n")


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else toml_value(name)


def allowed(entry: Key | Table) -> str:
    """What a key accepts, in words: ``int ≥ 1``, ``float in [0, 1)``, ``one of `a`, `b` ``.

    Args:
        entry: a schema `Key` or `Table`.

    Returns:
        The text (Markdown code spans for choices).

    Example:
        >>> from textrecipes.recipe.schema import lookup
        >>> allowed(lookup(("model", "dropout"))), allowed(lookup(("schedule", "warmup_steps")))
        ('float in [0, 1)', 'int ≥ 0, or unset')
    """
    if isinstance(entry, Table):
        return "bool or table" if entry.switch else "table"
    text = entry.type
    if entry.choices:
        names = (c if isinstance(c, str) else toml_value(c) for c in choices_of(entry))
        text = "one of " + ", ".join(f"`{n}`" for n in names)
    bounds = bounds_of(entry)
    if bounds:
        low, high, low_in, high_in = bounds
        if high is None:
            text += f" {'≥' if low_in else '>'} {low:g}"
        else:
            text += f" in {entry.range}"
    if not entry.empty:
        text += ", not empty"
    return text + (", or unset" if entry.nullable else "")


def key_rows() -> Iterator[tuple[str, str, str, str]]:
    """One row per key (and per callback): ``(dotted key, default, allowed, meaning)``.

    Yields:
        Tuples of text; the default is TOML (``unset`` for None, ``on``/``off`` for a callback).

    Example:
        >>> next(key_rows())
        ('name', '"recipe"', 'str', 'run name; the run folder defaults to `runs/<name>`')
    """
    for path, entry in iter_keys():
        if isinstance(entry, Table) and not entry.switch:
            continue
        if isinstance(entry, Table):
            default = "on" if entry.keys["enabled"].default else "off"
            yield ".".join(path), default, allowed(entry), entry.doc
            continue
        default = "unset" if entry.default is None else toml_value(entry.default)
        meaning = entry.doc + (f" (used by {', '.join(f'`{n}`' for n in entry.used_by)})" if entry.used_by else "")
        yield ".".join(path), default, allowed(entry), meaning


def key_table() -> str:
    """The README's recipe key table, in Markdown.

    Returns:
        The table (header included), one row per key, ending in a newline.

    Example:
        >>> key_table().splitlines()[0]
        '| key | default | allowed | meaning |'
    """
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for name, default, accepted, meaning in key_rows():
        cells = [f"`{name}`", default if default in ("unset", "on", "off") else f"`{default}`", accepted, meaning]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def refresh_readme(path: str = "docs/recipes.md", *, check: bool = False) -> bool:
    """Writes `key_table` between `BEGIN` and `END` in a README; says whether it was stale.

    Args:
        path: the page holding the table. Default "docs/recipes.md".
        check: only compare, never write. Default False.

    Returns:
        True when the block differed from `key_table` (and, unless ``check``, was rewritten).

    Raises:
        ValueError: when the README lacks the markers.

    Example:
        >>> refresh_readme("docs/recipes.md", check=True)
        False
    """
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path}: the recipe key markers are missing ({BEGIN} ... {END})")
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    new = f"\n{key_table()}"
    if old == new:
        return False
    if not check:
        with open(path, "w", encoding="utf-8") as f:
            f.write(head + BEGIN + new + END + tail)
    return True


def _comment(entry: Key | Table) -> str:
    accepted = "" if isinstance(entry, Table) and not entry.switch else f"  [{allowed(entry)}]"
    return f"# {entry.doc}{accepted}".replace("`", "")


def _annotated_table(values: Mapping, table: Table, path: tuple) -> list[str]:
    lines = []
    for name, entry in table.keys.items():
        if isinstance(entry, Key):
            value = values[name]
            lines += [_comment(entry), f"# {name} = (unset)" if value is None else f"{name} = {toml_value(value)}"]
    for name, entry in table.keys.items():
        if isinstance(entry, Table):
            header = ".".join(_toml_key(p) for p in path + (name,))
            lines += ["", _comment(entry), f"[{header}]"]
            lines += _annotated_table(values[name], entry, path + (name,))
    return lines


def annotated_toml(recipe: Mapping) -> str:
    """A resolved recipe as TOML with every key, each under a comment with its meaning and allowed values.

    Args:
        recipe: a resolved recipe (as from `load_recipe`): every key of the schema.

    Returns:
        The TOML text; an unset key is a ``# key = (unset)`` comment. `load_recipe`
        reads the text back to the same recipe.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> print(annotated_toml(default_recipe()).splitlines()[2])
        name = "recipe"
    """
    head = "# The fully resolved recipe: every key, with its default unless the recipe says otherwise."
    return "\n".join([head, *_annotated_table(recipe, SCHEMA, ())]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m textrecipes.recipe.docs [docs/recipes.md] [--check]``: refreshes (or checks) the key table.

    Args:
        argv: the arguments. Default None (``sys.argv[1:]``).

    Returns:
        0; with ``--check``, 1 when the table is stale.

    Example:
        >>> main(["docs/recipes.md", "--check"])
        0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"] or ["docs/recipes.md"]
    stale = refresh_readme(paths[0], check=check)
    print(f"{paths[0]}: the recipe key table {'is stale' if check and stale else 'was refreshed' if stale else 'is current'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
