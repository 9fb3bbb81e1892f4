"""``textrecipes recipe show|keys``: the fully resolved recipe, and every recipe key.

``show`` is like ``spacy init fill-config``: it prints a recipe (or the defaults) with
every key filled in, as TOML that ``textrecipes train`` reads back, each key under a
comment saying what it means and what it accepts. ``keys`` lists the schema.
"""

from __future__ import annotations

import argparse

from textrecipes.recipe.docs import annotated_toml, key_rows, key_table
from textrecipes.recipe.loading import recipe_layers
from textrecipes.recipe.validation import RecipeError, resolve

__all__ = ["add_cli"]


def _cmd_show(args) -> int:
    label, layers = recipe_layers(args.recipe, args.set)
    # A recipe to look at need not name its training file yet; everything else must hold.
    recipe, problems = resolve(layers, context={"require_data": False})
    if problems:
        raise RecipeError(problems, label)
    print(annotated_toml(recipe), end="")
    return 0


def _cmd_keys(args) -> int:
    if args.markdown:
        print(key_table(), end="")
        return 0
    for name, default, accepted, meaning in key_rows():
        print(f"{name} = {default}  [{accepted.replace('`', '')}]\n    {meaning}")
    return 0


def add_cli(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``recipe`` command (``show``, ``keys``) to the ``textrecipes`` parser.

    Args:
        sub: the sub-parsers of the ``textrecipes`` parser.

    Returns:
        The ``recipe`` parser.

    Example:
        >>> from textrecipes.cli import build_parser
        >>> build_parser().parse_args(["recipe", "show", "r.toml", "--set", "model.units=8"]).set
        ['model.units=8']
    """
    p = sub.add_parser("recipe", help="show a recipe with every default filled in, or list the recipe keys")
    commands = p.add_subparsers(dest="recipe_command", required=True)
    show = commands.add_parser("show", help="print the fully resolved recipe as TOML: every key, its value, "
                                            "its meaning and what it accepts")
    show.add_argument("recipe", nargs="?", help="recipe file (.toml); default: the defaults alone")
    show.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                      help="override a recipe key (repeatable)")
    show.set_defaults(func=_cmd_show)
    keys = commands.add_parser("keys", help="list every recipe key: default, accepted values, meaning")
    keys.add_argument("--markdown", action="store_true", help="as the README's Markdown table")
    keys.set_defaults(func=_cmd_keys)
    return p
