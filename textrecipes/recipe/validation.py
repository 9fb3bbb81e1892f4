"""The one recipe validator, driven by `textrecipes.recipe.schema.SCHEMA`.

A recipe comes in layers (a file, then ``--set`` overrides, ...). Each layer is
checked key by key against the schema (unknown keys with a "did you mean", types,
lossless number conversion), then the layers are laid over the defaults (and over a
schedule preset), and the result is checked as a whole: choices, ranges, finite
numbers, and the rules that tie keys together. Every problem is collected; nothing
stops at the first.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
import os
from typing import Any, Callable, Mapping, Sequence

from textrecipes.recipe.schema import SCHEMA, Key, Table, bounds_of, choices_of, defaults, iter_keys, schedule_kind
from textrecipes.run.folder import check_name

__all__ = ["RecipeError", "resolve", "resolve_table"]


class RecipeError(ValueError):
    """A recipe has problems; the message lists every one of them.

    Args:
        problems: one message per problem; kept as ``.problems``.
        source: what holds the problems: a file name, "command line". Default "recipe".

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> try:
        ...     load_recipe({"model": {"unitz": 64}})
        ... except RecipeError as e:
        ...     print(e.problems[0])
        unknown key 'model.unitz' (did you mean 'units'?)
    """

    def __init__(self, problems: list[str], source: str = "recipe"):
        self.problems = problems
        super().__init__(f"{source} has {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))


def _suggest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(options)})"


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _coerce_one(kind: str, value) -> tuple[bool, Any]:
    """``(ok, value)`` for one value of a scalar type; numbers are converted where no value is lost."""
    if kind in ("bool", "str"):
        return isinstance(value, bool if kind == "bool" else str), value
    if kind == "str or bool":
        return isinstance(value, (str, bool)), value
    if kind == "path":
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        return isinstance(value, str), value
    if not _is_number(value):
        return False, value
    if kind == "int":
        if isinstance(value, numbers.Integral):
            return True, int(value)
        integral = math.isfinite(value) and float(value).is_integer()  # 10.0 is 10; 10.5 is not an int
        return integral, int(value) if integral else value
    return True, float(value) if kind == "float" else value


def coerce(where: str, entry: Key, value) -> tuple[Any, str | None]:
    """Checks a given value's type against its key, converting lossless numbers and paths.

    Args:
        where: the dotted key, for the message.
        entry: the schema's `Key`.
        value: the given value.

    Returns:
        ``(value, None)`` with the value to store, or ``(value, problem)``.

    Example:
        >>> coerce("train.epochs", SCHEMA.keys["train"].keys["epochs"], 10.0)
        (10, None)
    """
    if value is None and entry.nullable:
        return None, None
    kind = entry.type
    if kind == "table":
        ok = isinstance(value, Mapping)
        value = copy.deepcopy(dict(value)) if ok else value
    elif kind == "path or list of path":  # a file, a glob, or a list of them (data.train shards)
        items = [_coerce_one("path", item) for item in value] if isinstance(value, (list, tuple)) else None
        ok = all(good for good, _ in items) if items is not None else _coerce_one("path", value)[0]
        value = [item for _, item in items] if items is not None and ok else os.fspath(value) if ok else value
    elif kind.startswith("list of "):
        ok = isinstance(value, (list, tuple))
        if ok:
            items = [_coerce_one(kind[len("list of "):], item) for item in value]
            ok = all(good for good, _ in items)
            value = [item for _, item in items] if ok else list(value)
    else:
        ok, value = _coerce_one(kind, value)
    if not ok:
        return value, f"{where!r} must be {kind}, got {type(value).__name__} {value!r}"
    if _is_number(value) and not math.isfinite(value):
        return value, f"{where!r} = {value!r} is not a finite number"
    return value, None


def _check_layer(table: Table, given: Mapping, path: str, problems: list[str], bad: set) -> dict:
    """One layer, checked key by key: unknown keys and wrong types reported, the rest returned converted."""
    out: dict = {}
    for name, value in given.items():
        where = f"{path}{name}"
        entry = table.keys.get(name)
        if entry is None:
            problems.append(f"unknown key {where!r}{_suggest(name, list(table.keys))}")
        elif isinstance(entry, Table):
            if entry.switch and isinstance(value, bool):
                out[name] = {"enabled": value}
            elif isinstance(value, Mapping):
                out[name] = _check_layer(entry, value, where + ".", problems, bad)
                if entry.switch:  # a callback given as a table is on unless it says otherwise
                    out[name].setdefault("enabled", True)
            else:
                kind = "bool or table" if entry.switch else "table"
                problems.append(f"{where!r} must be {kind}, got {type(value).__name__} {value!r}")
                bad.add(where)
        else:
            value, problem = coerce(where, entry, value)
            if problem:
                problems.append(problem)
                bad.add(where)
            else:
                out[name] = value
    return out


def _lay(recipe: dict, table: Table, layer: Mapping, path: str, problems: list[str], bad: set) -> None:
    """Lays one checked layer over the recipe; a key given in steps replaces its epochs twin."""
    for name, value in layer.items():
        entry = table.keys[name]
        if isinstance(entry, Table):
            _lay(recipe[name], entry, value, f"{path}{name}.", problems, bad)
        else:
            recipe[name] = value
    for name, entry in table.keys.items():
        if not isinstance(entry, Key) or not entry.replaces:
            continue
        twin = entry.replaces
        mine, theirs = layer.get(name) is not None, layer.get(twin) is not None
        if mine and theirs:
            problems.append(f"give '{path}{twin}' or '{path}{name}', not both")
            bad.update({f"{path}{twin}", f"{path}{name}"})
        elif mine:
            recipe[twin] = None
        elif theirs:
            recipe[name] = None


def _lay_presets(recipe: dict, layers: list[dict], problems: list[str], bad: set) -> None:
    """Lays a preset's values (``schedule.name = "seed003"``) under the given layers."""
    for path, entry in iter_keys():
        if not isinstance(entry, Key) or not entry.presets:
            continue
        value = entry.default
        for layer in layers:
            node = layer
            for part in path[:-1]:
                node = node.get(part, {})
            value = node.get(path[-1], value)
        if value in entry.presets:
            section = recipe
            table = SCHEMA
            for part in path[:-1]:
                section, table = section[part], table.keys[part]
            preset = {k: v for k, v in entry.presets[value].items() if k != path[-1]}
            _lay(section, table, preset, ".".join(path[:-1]) + ".", problems, bad)


def _range_problem(where: str, entry: Key, value) -> str | None:
    bounds = bounds_of(entry)
    if bounds is None or not _is_number(value):
        return None
    low, high, low_in, high_in = bounds
    too_low = low is not None and (value < low if low_in else value <= low)
    too_high = high is not None and (value > high if high_in else value >= high)
    if not (too_low or too_high):
        return None
    lo = "" if low is None else f"{'>=' if low_in else '>'} {low:g}"
    hi = "" if high is None else f"{'<=' if high_in else '<'} {high:g}"
    return f"{where!r} = {value!r} is out of range (must be {' and '.join(p for p in (lo, hi) if p)})"


def _choice_problem(where: str, entry: Key, value) -> str | None:
    options = choices_of(entry)
    if not options or any(value == o and type(value) is type(o) for o in options):
        return None
    words = [o for o in options if isinstance(o, str)]
    close = difflib.get_close_matches(value, words, n=1, cutoff=0.5) if isinstance(value, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{where!r} must be one of {list(options)}, got {value!r}{hint}"


def _check_values(recipe: dict, problems: list[str], bad: set) -> None:
    """Choices, ranges and empty strings, on every key of the laid-out recipe."""
    for path, entry in iter_keys():
        if not isinstance(entry, Key):
            continue
        where = ".".join(path)
        value = recipe
        for part in path:
            value = value[part]
        if value is None or where in bad:
            continue
        problem = (_choice_problem(where, entry, value) or _range_problem(where, entry, value)
                   or (f"{where!r} must not be empty" if value == "" and not entry.empty else None))
        if problem:
            problems.append(problem)
            bad.add(where)


# ---------------------------------------------------------------------------
# Rules that tie keys together: (the keys each reads, the rule). A rule is skipped
# when one of its keys already has a problem, so one slip is reported once.


def _augment_source(r: dict, _) -> list[str]:
    source = r["augment"]["source"]
    if source in ("wordnet", "none") or source.startswith(("file:", "vectors:")):
        return []
    return [f"'augment.source' must be 'wordnet', 'none', 'file:PATH' or 'vectors:PATH', got {source!r}"]


def _run_dir(r: dict, _) -> list[str]:
    run_dir = r["run_dir"]
    if run_dir and (os.path.isabs(run_dir) or ".." in run_dir.replace("\\", "/").split("/")
                    or os.path.normpath(run_dir) == "."):
        # A finished run folder is replaced on --overwrite: a recipe from elsewhere must not
        # point that at a folder outside the working directory. --run-dir can, explicitly.
        return [f"'run_dir' = {run_dir!r} must be a relative path inside the working folder "
                "(no '..', not absolute, not '.'); pass --run-dir (run_dir= in Python) to write elsewhere"]
    return []


def _splits(r: dict, context: Mapping) -> list[str]:
    data = r["data"]
    problems = []
    if not data["train"] and context.get("require_data", True):
        problems.append("'data.train' is required: the path of the training TSV")
    if not data["test"] and not data["validation"] and data["validation_split"] + data["test_split"] >= 1:
        problems.append("'data.validation_split' + 'data.test_split' must be below 1")
    return problems


def _multi_label(r: dict, _) -> list[str]:
    multi, task = r["data"]["multi_label"], r["model"]["task"]
    problems = []
    if (task == "multilabel") != multi and not (multi and task == "auto"):
        problems.append("'data.multi_label = true' and 'model.task = \"multilabel\"' go together")
    if r["train"]["class_weight"] == "balanced" and (multi or task == "multilabel"):
        problems.append("'train.class_weight = \"balanced\"' is for binary and multiclass tasks: multi-label "
                        "examples carry several labels, so one weight per example cannot balance them")
    return problems


def _kernel_sizes(r: dict, _) -> list[str]:
    sizes = r["model"]["kernel_sizes"]
    if sizes and all(k >= 1 for k in sizes):
        return []
    return [f"'model.kernel_sizes' must be a non-empty list of positive integers, got {sizes!r}"]


def _schedule_rates(r: dict, _) -> list[str]:
    s = r["schedule"]
    lr, floor, start = s["learning_rate"], s["min_learning_rate"], s["warmup_start_learning_rate"]
    problems = []
    if floor > lr:
        problems.append(f"'schedule.min_learning_rate' = {floor!r} must not exceed 'schedule.learning_rate' = {lr!r}")
    elif floor == lr and schedule_kind(s["name"]) in ("cosine", "cosine_restarts"):
        problems.append("'schedule.min_learning_rate' equals 'schedule.learning_rate': the cosine would be flat")
    if start is not None and (start > lr or (start == 0 and s["warmup"] == "exponential")):
        low = "(0" if s["warmup"] == "exponential" else "[0"
        problems.append(f"'schedule.warmup_start_learning_rate' = {start!r} must be in {low}, learning_rate] "
                        f"for a {s['warmup']} warmup (learning_rate = {lr!r})")
    return problems


def _warmup_length(r: dict, context: Mapping) -> list[str]:
    """A warmup longer than training (in epochs; in steps once the steps per epoch are known)."""
    s, epochs = r["schedule"], r["train"]["epochs"]
    steps_per_epoch = context.get("steps_per_epoch")
    if s["warmup_steps"] is not None:
        if not steps_per_epoch:
            return []  # checked again when the schedule is built
        warm, total, unit, where = s["warmup_steps"], epochs * steps_per_epoch, "steps", "schedule.warmup_steps"
    else:
        warm, total, unit, where = s["warmup_epochs"] or 0, epochs, "epochs", "schedule.warmup_epochs"
    kind = schedule_kind(s["name"])
    if warm > total:
        return [f"{where!r} = {warm!r} is longer than training ({total} {unit})"]
    if kind in ("cosine", "cosine_restarts") and warm == total:
        return [f"{where!r} = {warm!r} is as long as training ({total} {unit}): no room left for the {kind} decay"]
    return []


def _schedule_keys(r: dict, context: Mapping) -> list[str]:
    """A step schedule needs a step size; a non-default value the chosen schedule ignores is most likely a slip."""
    s = r["schedule"]
    kind = schedule_kind(s["name"])
    problems = []
    if kind == "step" and s["step_size_epochs"] is None and s["step_size_steps"] is None:
        problems.append("the 'step' schedule needs 'schedule.step_size_epochs' or 'schedule.step_size_steps'")
    for name, entry in SCHEMA.keys["schedule"].keys.items():
        value = s[name]
        where = f"schedule.{name}"
        if (entry.used_by and kind not in entry.used_by and where in context.get("given", ())
                and where not in context.get("bad", ()) and value is not None and value != entry.default):
            problems.append(f"{where!r} = {value!r} is ignored by the {kind!r} schedule "
                            f"(used by: {', '.join(entry.used_by)})")
    return problems


def _prune_epochs(r: dict, _) -> list[str]:
    p, epochs = r["prune"], r["train"]["epochs"]
    if not p["enabled"]:
        return []
    if p["start_epoch"] > p["end_epoch"]:
        return [f"'prune.start_epoch' = {p['start_epoch']} must not exceed 'prune.end_epoch' = {p['end_epoch']}"]
    if p["end_epoch"] > epochs:
        return [f"'prune.end_epoch' = {p['end_epoch']} is after training ('train.epochs' = {epochs}; epochs count "
                "from 0 and the target is reached at the start of 'prune.end_epoch')"]
    if not p["layers"]:
        return ["'prune.layers' is empty: name layer kinds or layers to prune"]
    return [f"'prune.targets.{name}' = {value!r} must be a number in [0, 1)" for name, value in p["targets"].items()
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1]


#: Models whose layers structured pruning cannot compact, and why.
#: (``auto`` prunes its LSTM member alone: `textrecipes.tasks.auto.lstm_alone`.)
NOT_COMPACTABLE = {"linear": "the compact model is built from embedding rows and RNN/Conv units, and the "
                             "TF-IDF model has none of them"}


def _prune_structured(r: dict, _) -> list[str]:
    """Refused before training: `compact_model` would only fail on these models after the whole fit."""
    p, name = r["prune"], r["model"]["name"]
    if p["enabled"] and p["structured"] and name in NOT_COMPACTABLE:
        return [f"'prune.structured' = true does not apply to model.name = {name!r} ({NOT_COMPACTABLE[name]}); "
                "set prune.structured = false, or use another model.name (e.g. 'lstm')"]
    return []


RULES: list[tuple[tuple[str, ...], Callable[[dict, Mapping], list[str]]]] = [
    (("augment.source",), _augment_source),
    (("name",), lambda r, _: check_name(r["name"])),
    (("run_dir",), _run_dir),
    (("data.train", "data.validation", "data.test", "data.validation_split", "data.test_split"), _splits),
    (("data.multi_label", "model.task", "train.class_weight"), _multi_label),
    (("model.kernel_sizes",), _kernel_sizes),
    (("schedule.learning_rate", "schedule.min_learning_rate", "schedule.warmup_start_learning_rate",
      "schedule.warmup", "schedule.name"), _schedule_rates),
    (("schedule.warmup_epochs", "schedule.warmup_steps", "schedule.name", "train.epochs"), _warmup_length),
    (("schedule.name", "schedule.step_size_epochs", "schedule.step_size_steps"), _schedule_keys),
    (("prune.enabled", "prune.start_epoch", "prune.end_epoch", "prune.layers", "prune.targets", "train.epochs"),
     _prune_epochs),
    (("prune.enabled", "prune.structured", "model.name"), _prune_structured),
]


def _given_keys(layer: Mapping, path: str = "") -> set:
    out = set()
    for name, value in layer.items():
        out.add(path + name)
        if isinstance(value, dict):
            out |= _given_keys(value, f"{path}{name}.")
    return out


def resolve(layers: Sequence[Mapping], *, context: Mapping | None = None) -> tuple[dict, list[str]]:
    """Lays recipe layers over the defaults and checks the result; returns it with every problem.

    Args:
        layers: nested dicts shaped like a recipe, the later ones winning (a file, then
            overrides).
        context: what else the rules may know: ``require_data`` (False: ``data.train`` may
            be empty, for one table or ``recipe show``), ``steps_per_epoch`` (to check
            lengths given in steps). Default None.

    Returns:
        ``(recipe, problems)``: the resolved recipe (every key; values that failed their
        check keep the default) and one message per problem (empty when it is usable).

    Example:
        >>> recipe, problems = resolve([{"data": {"train": "t.tsv"}, "schedule": {"warmup_steps": 10}}])
        >>> recipe["schedule"]["warmup_epochs"], problems
        (None, [])
    """
    problems: list[str] = []
    bad: set = set()
    checked = [_check_layer(SCHEMA, layer, "", problems, bad) for layer in layers]
    recipe = defaults()
    _lay_presets(recipe, checked, problems, bad)
    for layer in checked:
        _lay(recipe, SCHEMA, layer, "", problems, bad)
    _check_values(recipe, problems, bad)
    context = {**(context or {}), "given": set().union(*(_given_keys(layer) for layer in checked)), "bad": bad}
    for keys, rule in RULES:
        if not any(b == k or b.startswith(k + ".") for b in bad for k in keys):
            problems.extend(rule(recipe, context))
    return recipe, problems


def resolve_table(section: str, table: Mapping | None, *, epochs: int | None = None,
                  steps_per_epoch: int | None = None) -> dict:
    """One section (``schedule``, ``callbacks``, ...) resolved and checked on its own.

    Args:
        section: the recipe section.
        table: the section as given (None or {}: its defaults), or already resolved.
        epochs: ``train.epochs``, for rules that compare lengths with training. Default None (the default).
        steps_per_epoch: to check lengths given in steps. Default None.

    Returns:
        The resolved section: every key filled in.

    Raises:
        RecipeError: listing every problem.

    Example:
        >>> resolve_table("callbacks", {"loss_plateau": True})["loss_plateau"]
        {'enabled': True, 'monitor': 'loss', 'min_delta': 0.001, 'min_epochs': 5}
    """
    layer: dict = {section: dict(table or {})}
    if epochs is not None:
        layer.setdefault("train", {})["epochs"] = epochs
    recipe, problems = resolve([layer], context={"require_data": False, "steps_per_epoch": steps_per_epoch})
    if problems:
        raise RecipeError(problems, f"[{section}] table")
    return recipe[section]
