"""Hyperparameter search from a recipe's ``[search]`` table, run through KerasTuner.

Each trial is a full `textrecipes.workflows.train.train` run of the recipe with some keys
overridden (early stopping included, as the recipe sets it), in its own folder
under the search's run folder. KerasTuner's oracles choose the values (grid or
seeded random); our `RecipeTuner` only says how a trial runs. The search writes
``results.csv`` (one row per trial), prints a summary table and writes
``best_recipe.toml``, a complete recipe that ``textrecipes train`` runs.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import time
from typing import Mapping

from textrecipes.recipe.loading import RecipeError, load_recipe, missing_files, to_toml
from textrecipes.resources import optional_import
from textrecipes.run.folder import prepare_run_dir
from textrecipes.workflows.train import train

# metric → its direction
METRICS = {"val_accuracy": "max", "val_loss": "min", "val_macro_f1": "max"}
# "none": the recipe does not search (``textrecipes search`` refuses it); grid and random: KerasTuner oracles.
METHODS = ("none", "grid", "random")


def flatten_space(space: Mapping, prefix: str = "") -> dict:
    """``search.space`` as ``{"section.key": [values]}``, nested TOML tables flattened.

    In TOML, ``schedule.learning_rate = [...]`` under ``[search.space]`` is a
    nested table; a quoted ``"schedule.learning_rate"`` is a flat key. Both mean
    the same here.

    Args:
        space: the ``search.space`` table.
        prefix: the dotted prefix of ``space`` (for recursion). Default "".

    Returns:
        A flat dict, dotted key → list of values, in the order given.

    Example:
        >>> flatten_space({"schedule": {"learning_rate": [0.001, 0.003]}, "train.batch_size": [32, 64]})
        {'schedule.learning_rate': [0.001, 0.003], 'train.batch_size': [32, 64]}
    """
    flat = {}
    for key, value in space.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_space(value, name + "."))
        else:
            flat[name] = value
    return flat


def nested(key: str, value) -> dict:
    """``"model.units", 64`` → ``{"model": {"units": 64}}``.

    Args:
        key: a dotted recipe key.
        value: its value.

    Returns:
        The nested dict `load_recipe` takes as overrides.

    Example:
        >>> nested("schedule.learning_rate", 0.01)
        {'schedule': {'learning_rate': 0.01}}
    """
    out = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def trial_recipe(cfg: Mapping, overrides: Mapping) -> dict:
    """The recipe of one trial: ``cfg`` with ``overrides`` applied and the search switched off.

    Args:
        cfg: the resolved search recipe (as from `load_recipe`).
        overrides: dotted key → value.

    Returns:
        A complete, validated recipe dict.

    Raises:
        RecipeError: naming the key, when a key is unknown (with a did-you-mean)
            or a value is invalid for it.

    Example:
        >>> cfg = load_recipe({"data": {"train": "data/samples/label_text.tsv"}})
        >>> trial_recipe(cfg, {"model.units": 16})["model"]["units"]
        16
    """
    base = copy.deepcopy(dict(cfg))
    base["search"] = {**base["search"], "method": "none", "space": {}}
    problems = []
    merged = base
    for key, value in overrides.items():
        if key.split(".")[0] == "search":
            problems.append(f"'search.space' cannot search over {key!r}")
            continue
        try:
            merged = load_recipe(merged, nested(key, value))
        except RecipeError as e:
            problems.extend(f"search.space[{key!r}] = {value!r}: {p}" for p in e.problems)
    if problems:
        raise RecipeError(problems, "search.space")
    return load_recipe(merged)


def validate_space(cfg: Mapping) -> dict:
    """Checks ``search.space`` before anything runs: every key known, every value valid for it.

    Args:
        cfg: the resolved recipe.

    Returns:
        The flat space (`flatten_space`).

    Raises:
        RecipeError: listing every problem, e.g. an unknown key with a
            did-you-mean, an empty list, or a value out of range.

    Example:
        >>> cfg = load_recipe({"data": {"train": "data/samples/label_text.tsv"},
        ...                    "search": {"method": "grid", "space": {"train.batch_sise": [8]}}})
        >>> try:
        ...     validate_space(cfg)
        ... except RecipeError as e:
        ...     print(e.problems[0])
        search.space['train.batch_sise'] = 8: unknown key 'train.batch_sise' (did you mean 'batch_size'?)
    """
    space = flatten_space(cfg["search"]["space"])
    problems = []
    if cfg["search"]["method"] == "none":
        problems.append("'search.method' is \"none\": set it to \"grid\" or \"random\" to search")
    if not space:
        problems.append("'search.space' is empty: give at least one key = [values]")
    for key, values in space.items():
        reasons = set()
        if not isinstance(values, list) or not values:
            problems.append(f"search.space[{key!r}] must be a non-empty list of values, got {values!r}")
            continue
        for value in values:
            if isinstance(value, (list, dict)):
                problems.append(f"search.space[{key!r}]: each value must be a number, string or boolean, got {value!r}")
                continue
            try:
                trial_recipe(cfg, {key: value})
            except RecipeError as e:
                # An unknown key fails the same way for every value: say it once.
                problems.extend(p for p in e.problems if p.split(": ", 1)[-1] not in reasons)
                reasons.update(p.split(": ", 1)[-1] for p in e.problems)
    if problems:
        raise RecipeError(problems, "search.space")
    return space


def _best_metric(result, metric: str) -> float:
    history = result.history
    if metric == "val_macro_f1":
        return float(result.validation_metrics.get("macro_f1", float("nan")))
    values = history.get(metric) or history.get(metric[4:]) or [float("nan")]
    return float(max(values) if METRICS[metric] == "max" else min(values))


def _make_tuner_class():
    keras_tuner = optional_import("keras_tuner", "search", "hyperparameter search")

    class RecipeTuner(keras_tuner.Tuner):
        """A KerasTuner `Tuner` whose trial is a full `runner.train` run of an overridden recipe.

        Args:
            cfg: the resolved search recipe.
            space: the flat search space (`flatten_space`).
            run_dir: the search folder; trials go to ``run_dir/trials/<id>``.
            verbose: passed to `train` (0 silent).
            **kwargs: for `keras_tuner.Tuner` (``oracle``, ``directory``, ...).

        Example:
            >>> run_search("recipe.toml")  # doctest: +SKIP
        """

        def __init__(self, cfg, space, run_dir, verbose=0, time_budget_s=0.0, **kwargs):
            super().__init__(**kwargs)
            self.cfg, self.space, self.run_dir, self.train_verbose = cfg, space, run_dir, verbose
            self.time_budget_s = time_budget_s
            self.started = time.time()
            self.rows = []
            self.stopped_by_budget = False

        def pre_create_trial(self):
            """No new trial once the time budget is spent: the oracle is told it has had its trials."""
            if self.time_budget_s and self.rows and time.time() - self.started >= self.time_budget_s:
                self.stopped_by_budget = True
                self.oracle.max_trials = len(self.oracle.trials)

        def run_trial(self, trial, *args, **kwargs):
            """Trains the recipe with this trial's values; returns the objective."""

            overrides = {key: trial.hyperparameters.get(_hp_name(key)) for key in self.space}
            recipe = trial_recipe(self.cfg, overrides)
            trial_dir = os.path.join(self.run_dir, "trials", trial.trial_id)
            began = time.time()
            result = train(recipe, run_dir=trial_dir, overwrite=True, verbose=self.train_verbose)
            metric = self.cfg["search"]["metric"]
            score = _best_metric(result, metric)
            test = _read_metrics(trial_dir).get("test") or {}
            self.rows.append({"trial": trial.trial_id, **overrides, metric: score,
                              "test_accuracy": test.get("accuracy", ""), "test_macro_f1": test.get("macro_f1", ""),
                              "epochs": len(result.history.get("loss", [])),
                              "seconds": round(time.time() - began, 1), "run_dir": trial_dir})
            return {metric: score}

    return RecipeTuner


def _hp_name(key: str) -> str:
    return key  # KerasTuner names may hold dots; kept as the recipe key for readable trial files


def _read_metrics(run_dir: str) -> dict:
    import json

    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
        return json.load(f)


def _choice_values(values: list) -> list:
    # KerasTuner's Choice wants one type: ints mixed with floats become floats.
    if any(isinstance(v, float) for v in values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    return list(values)


def format_results(rows: list, metric: str) -> str:
    """The trials as a plain-text table, best first.

    Args:
        rows: one dict per trial (as in ``results.csv``).
        metric: the search metric (a column of ``rows``).

    Returns:
        The table.

    Example:
        >>> print(format_results([{"trial": "0", "model.units": 8, "val_accuracy": 0.7, "epochs": 1}], "val_accuracy"))
        trial  model.units  val_accuracy  epochs
        0      8            0.7000        1
    """
    if not rows:
        return "(no trials)"
    reverse = METRICS[metric] == "max"
    rows = sorted(rows, key=lambda r: (math.isnan(r[metric]), -r[metric] if reverse else r[metric]))
    columns = [c for c in rows[0] if c not in ("run_dir", "seconds", "test_macro_f1")]

    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) and not float(v).is_integer() else str(v)

    widths = {c: max(len(c), *(len(cell(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(f"{c:<{widths[c]}}" for c in columns).rstrip()]
    lines += ["  ".join(f"{cell(r.get(c, '')):<{widths[c]}}" for c in columns).rstrip() for r in rows]
    return "\n".join(lines)


def run_search(recipe=None, *, overrides=None, run_dir: str | None = None, overwrite: bool = False, verbose: int = 1) -> dict:
    """Runs the recipe's ``[search]``: one training run per trial, then the best recipe.

    Args:
        recipe: a TOML path, a dict shaped like a recipe file, or None.
        overrides: ``["section.key=value", ...]`` or a nested dict. Default None.
        run_dir: the search folder. Default: the recipe's ``run_dir``, else
            ``runs/<name>-search``.
        overwrite: replace an earlier search in ``run_dir``. Default False.
        verbose: 0 silent, 1 a line per trial and the summary (default), 2 also
            each trial's training log.

    Returns:
        ``{"rows": [...], "best": row, "best_recipe": path, "results": csv path,
        "run_dir": ..., "stopped_by_budget": bool}``.

    Raises:
        RecipeError: for a bad ``[search]`` table, before any trial runs.
        FileExistsError: when ``run_dir`` holds a finished search and not ``overwrite``.

    Example:
        >>> out = run_search("recipes/search_lr_batch.toml", overrides=["train.epochs=1"])  # doctest: +SKIP
        >>> len(out["rows"]), os.path.basename(out["best_recipe"])  # doctest: +SKIP
        (4, 'best_recipe.toml')
    """
    keras_tuner = optional_import("keras_tuner", "search", "hyperparameter search")

    cfg = load_recipe(recipe, overrides)
    if missing_files(cfg):
        raise RecipeError(missing_files(cfg), cfg["name"])
    space = validate_space(cfg)
    search = cfg["search"]
    run_dir = run_dir or cfg["run_dir"] or os.path.join("runs", f"{cfg['name']}-search")
    prepare_run_dir(run_dir, overwrite, kind="search", finished="results.csv")
    hp = keras_tuner.HyperParameters()
    for key, values in space.items():
        hp.Choice(_hp_name(key), _choice_values(values), ordered=False)
    grid_size = math.prod(len(v) for v in space.values())
    max_trials = min(search["max_trials"] or grid_size, grid_size)  # a grid has no more trials than combinations
    metric = search["metric"]
    objective = keras_tuner.Objective(metric, direction=METRICS[metric])
    if search["method"] == "grid":
        oracle = keras_tuner.oracles.GridSearchOracle(objective=objective, max_trials=max_trials, hyperparameters=hp,
                                                      seed=cfg["seed"])
    else:
        oracle = keras_tuner.oracles.RandomSearchOracle(objective=objective, max_trials=max_trials,
                                                        hyperparameters=hp, seed=cfg["seed"])
    tuner = _make_tuner_class()(cfg, space, run_dir, verbose=2 if verbose >= 2 else 0,
                                time_budget_s=search["time_budget_s"], oracle=oracle, directory=run_dir,
                                project_name="keras_tuner", overwrite=True)
    tuner.oracle.verbose = 0
    if verbose:
        print(f"search: {search['method']} over {', '.join(space)} ({grid_size} combinations, "
              f"at most {max_trials} trials{', ' + str(search['time_budget_s']) + ' s' if search['time_budget_s'] else ''})",
              flush=True)
    tuner.search()
    rows = tuner.rows
    if not rows:
        raise RuntimeError(f"{run_dir}: no trial finished; see {os.path.join(run_dir, 'keras_tuner')}")
    fields = list(rows[0])
    results = os.path.join(run_dir, "results.csv")
    with open(results, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    valid = [r for r in rows if not math.isnan(r[metric])] or rows
    best = (max if METRICS[metric] == "max" else min)(valid, key=lambda r: r[metric])
    best_cfg = trial_recipe(cfg, {k: best[k] for k in space})
    best_cfg["name"] = f"{cfg['name']}-best"
    best_cfg["run_dir"] = ""
    best_path = os.path.join(run_dir, "best_recipe.toml")
    with open(best_path, "w", encoding="utf-8") as f:
        f.write(f"# The best of {len(rows)} trial(s) of a {search['method']} search on {metric}: trial {best['trial']}, "
                f"{metric} = {best[metric]:.4f}\n# Overrides: " + ", ".join(f"{k} = {best[k]!r}" for k in space) + "\n")
        f.write(to_toml(best_cfg, run_dir))
    if verbose:
        print(format_results(rows, metric))
        if tuner.stopped_by_budget:
            print(f"time budget of {search['time_budget_s']} s reached after {len(rows)} trial(s)")
        print(f"best: trial {best['trial']} ({metric} {best[metric]:.4f}); {best_path}; table: {results}", flush=True)
    return {"rows": rows, "best": best, "best_recipe": best_path, "results": results, "run_dir": run_dir,
            "stopped_by_budget": tuner.stopped_by_budget}

