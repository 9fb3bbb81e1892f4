"""Recipe files: defaults, validation listing every problem, overrides, TOML round trip."""

import os
import tomllib

import pytest

from conftest import ROOT
from textrecipes.recipe.loading import RecipeError, load_recipe, to_toml


def test_default_recipe_file_loads_and_fills_defaults():
    recipe = load_recipe(os.path.join(ROOT, "recipes", "sentiment_lstm.toml"))
    assert recipe["data"]["train"].endswith("train.tsv")
    assert recipe["model"]["dropout"] == 0.5 and recipe["train"]["batch_size"] == 32
    assert recipe["schedule"]["name"] and recipe["callbacks"]["early_stopping"]["patience"] >= 1


def test_every_problem_is_listed_at_once():
    with pytest.raises(RecipeError) as e:
        load_recipe({"data": {"train": "t.tsv"}, "model": {"dropout": -0.1, "unitz": 3, "units": "many"},
                     "train": {"batch_size": 0}, "optimiser": {}})
    msg = str(e.value)
    assert "unknown key 'model.unitz' (did you mean 'units'?)" in msg
    assert "'model.units' must be int, got str" in msg
    assert "unknown key 'optimiser' (did you mean 'optimizer'?)" in msg
    with pytest.raises(RecipeError) as e:
        load_recipe({"data": {"train": "t.tsv"}, "model": {"dropout": -0.1}, "train": {"batch_size": 0}})
    assert "'model.dropout' = -0.1 is out of range" in str(e.value)
    assert "'train.batch_size' = 0 is out of range" in str(e.value)


def test_schedule_and_callback_problems_are_reported_too():
    with pytest.raises(RecipeError) as e:
        load_recipe({"data": {"train": "t.tsv"}, "schedule": {"name": "cosine", "warmup_epochs": 50},
                     "callbacks": {"early_stoping": True}})
    msg = str(e.value)
    assert "warmup" in msg and "early_stoping" in msg


def test_overrides_are_typed_and_checked():
    recipe = load_recipe({"data": {"train": "t.tsv"}}, ["model.units=12", "model.bidirectional=false", "name=x"])
    assert recipe["model"]["units"] == 12 and recipe["model"]["bidirectional"] is False and recipe["name"] == "x"
    with pytest.raises(RecipeError, match="section.key=value"):
        load_recipe({"data": {"train": "t.tsv"}}, ["model.units"])
    with pytest.raises(RecipeError, match="data.train"):
        load_recipe({})


def test_only_toml_and_clear_parse_errors(tmp_path):
    with pytest.raises(RecipeError, match="TOML"):
        load_recipe(tmp_path / "r.yaml")
    bad = tmp_path / "r.toml"
    bad.write_text("[data\ntrain=", encoding="utf-8")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(bad)


def test_resolved_recipe_round_trips_through_toml(tmp_path):
    recipe = load_recipe({"data": {"train": "t.tsv", "labels": ["a", "b"]}})
    text = to_toml(recipe)
    again = load_recipe(tomllib.loads(text))
    assert again == recipe


@pytest.mark.parametrize("run_dir", ["/etc", "../outside", "runs/../../x"])
def test_recipe_run_dir_cannot_escape_the_working_folder(run_dir):
    with pytest.raises(RecipeError, match="relative path inside the working folder"):
        load_recipe({"data": {"train": "t.tsv"}, "run_dir": run_dir})
    assert load_recipe({"data": {"train": "t.tsv"}, "run_dir": "runs/mine"})["run_dir"] == "runs/mine"


# ---------------------------------------------------------------------------
# One schema: every key declared once, one validator (issue 14).

import math
import pathlib
import subprocess
import sys

from textrecipes.recipe import schema
from textrecipes.recipe.docs import annotated_toml, key_table
from textrecipes.recipe.loading import DEFAULTS, default_recipe
from textrecipes.recipe.validation import resolve

TRAIN = {"data": {"train": "t.tsv"}}


def problems_of(*layers):
    return resolve([TRAIN, *layers])[1]


def test_every_problem_at_every_level_is_listed_at_once():
    problems = problems_of({
        "nmae": "x",
        "data": {"validation_split": 1.5, "on_bad_lines": "skp"},
        "model": {"units": 64.5, "kernel_sizes": [3, 0]},
        "schedule": {"learnig_rate": 0.1, "warmup_steps": "ten", "name": "cosine", "decay_rate": 0.5},
        "callbacks": {"early_stoping": True, "reduce_lr_on_plateau": {"factr": 0.3}, "backup": 3},
        "train": {"epochs": True},
    })
    assert problems == [
        "unknown key 'nmae' (did you mean 'name'?)",
        "'model.units' must be int, got float 64.5",
        "unknown key 'schedule.learnig_rate' (did you mean 'learning_rate'?)",
        "'schedule.warmup_steps' must be int, got str 'ten'",
        "unknown key 'callbacks.early_stoping' (did you mean 'early_stopping'?)",
        "unknown key 'callbacks.reduce_lr_on_plateau.factr' (did you mean 'factor'?)",
        "'callbacks.backup' must be bool or table, got int 3",
        "'train.epochs' must be int, got bool True",
        "'data.on_bad_lines' must be one of ['error', 'skip'], got 'skp' (did you mean 'skip'?)",
        "'data.validation_split' = 1.5 is out of range (must be >= 0 and < 1)",
        "'model.kernel_sizes' must be a non-empty list of positive integers, got [3, 0]",
        "'schedule.decay_rate' = 0.5 is ignored by the 'cosine' schedule (used by: exponential)",
    ]


def test_unknown_key_without_a_close_match_lists_the_known_ones():
    assert problems_of({"optimizer": {"zzz": 1}}) == [
        "unknown key 'optimizer.zzz' (known keys: name, weight_decay, clipnorm)"]


NUMBER_KEYS = [p for p, e in schema.iter_keys() if isinstance(e, schema.Key) and e.type in ("int", "float", "int or float")]


def nested(path, value):
    for part in reversed(path):
        value = {part: value}
    return value


@pytest.mark.parametrize("path", NUMBER_KEYS, ids=".".join)
def test_non_finite_numbers_are_refused_for_every_number_key(path):
    # issue 18, finding 3: schedule.learning_rate = inf passed and exported a NaN model.
    where = ".".join(path)
    for value in (math.inf, -math.inf, math.nan):
        problems = problems_of(nested(path, value))
        assert any(p.startswith(f"{where!r}") and ("finite" in p or "must be int" in p) for p in problems), problems


def test_lossless_numbers_and_paths_are_accepted(tmp_path):
    recipe = load_recipe({"data": {"train": tmp_path / "t.tsv", "validation_split": 0}, "model": {"vectors": pathlib.Path("v.txt")},
                          "train": {"epochs": 3.0, "layer_lr_decay": 2}, "schedule": {"warmup_epochs": 0.5}})
    assert recipe["data"]["train"] == str(tmp_path / "t.tsv") and recipe["model"]["vectors"] == "v.txt"
    assert recipe["train"]["epochs"] == 3 and type(recipe["train"]["epochs"]) is int
    assert recipe["train"]["layer_lr_decay"] == 2.0 and type(recipe["train"]["layer_lr_decay"]) is float
    assert recipe["data"]["validation_split"] == 0.0 and type(recipe["data"]["validation_split"]) is float
    assert recipe["schedule"]["warmup_epochs"] == 0.5  # "int or float": kept as given
    assert problems_of({"train": {"epochs": 3.5}}) == ["'train.epochs' must be int, got float 3.5"]


def test_choice_lists_are_the_ones_beside_the_code():
    from textrecipes.data.readers import BAD_LINE_MODES
    from textrecipes.export.tflite import QUANTIZE
    from textrecipes.models.classifiers import BUILDERS, NGRAM_POOLINGS, NORMALIZATIONS
    from textrecipes.models.encoders import POOLINGS
    from textrecipes.models.layers import INITIALIZERS
    from textrecipes.models.pairs import MATCH_FEATURES
    from textrecipes.tasks.classification import CLASS_WEIGHTS
    from textrecipes.text.tokenization import SPLITS
    from textrecipes.training.distribute import MIXED_PRECISION, STRATEGIES
    from textrecipes.training.optimizers import OPTIMIZERS
    from textrecipes.training.schedules import SCHEDULE_NAMES
    from textrecipes.training.transfer import UNFREEZE_MODES
    from textrecipes.workflows.search import METRICS
    from textrecipes.workflows.train import TASKS

    expected = {("model", "name"): tuple(BUILDERS), ("model", "initializer"): tuple(INITIALIZERS),
                ("model", "pooling"): POOLINGS, ("model", "normalization"): NORMALIZATIONS,
                ("model", "ngram_pooling"): NGRAM_POOLINGS, ("model", "match_features"): MATCH_FEATURES,
                ("tokenize", "split"): SPLITS, ("data", "on_bad_lines"): BAD_LINE_MODES,
                ("train", "strategy"): STRATEGIES, ("train", "mixed_precision"): MIXED_PRECISION,
                ("export", "tflite_quantize"): QUANTIZE, ("search", "metric"): tuple(METRICS),
                ("schedule", "name"): SCHEDULE_NAMES + tuple(schema.SCHEDULE_PRESETS),
                ("data", "format"): tuple(TASKS), ("optimizer", "name"): tuple(OPTIMIZERS),
                ("train", "class_weight"): CLASS_WEIGHTS, ("train", "unfreeze"): UNFREEZE_MODES}
    for path, values in expected.items():
        assert schema.choices_of(schema.lookup(path)) == values, path
    for path, entry in schema.iter_keys():  # every reference resolves, every default is allowed
        if isinstance(entry, schema.Key) and entry.choices:
            assert entry.default in schema.choices_of(entry), path
    assert resolve([{}], context={"require_data": False})[1] == []


def test_importing_the_schema_and_cli_help_load_no_tensorflow():
    code = ("import sys, textrecipes.recipe.schema, textrecipes.recipe.loading, textrecipes.cli; "
            "textrecipes.recipe.schema.defaults(); "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_defaults_are_the_schema_and_every_key_is_filled_in():
    recipe = load_recipe(TRAIN)
    assert recipe == {**default_recipe(), "data": {**DEFAULTS["data"], "train": "t.tsv"}}
    assert [p for p, e in schema.iter_keys() if isinstance(e, schema.Key)] == [
        p for p, _ in _leaves(recipe)]


def _leaves(table, path=()):
    tables = {p for p, e in schema.iter_keys() if isinstance(e, schema.Key) and e.type == "table"}  # search.space, ...
    for name, value in table.items():
        if isinstance(value, dict) and path + (name,) not in tables:
            yield from _leaves(value, path + (name,))
        else:
            yield path + (name,), value


# ---------------------------------------------------------------------------
# Writing recipes: tomli-w, and `textrecipes recipe show`.

TRICKY = ["two\nlines", 'say "hi"', "back\\slash", "tab\tbell\x07nul\x00esc\x1b del\x7f", "né 北京 🙂",
          "\r\n", "u+2028\u2028", "'single'", "]]", "= not a key"]


@pytest.mark.parametrize("text", TRICKY)
def test_strings_round_trip_through_toml(text):
    recipe = load_recipe({"data": {"train": text, "labels": [text, "b"]}, "name": "n",
                          "search": {"space": {"train.batch_size": [8, 16], text: [text]}}})
    written = to_toml(recipe)
    assert tomllib.loads(written)["data"]["train"] == text
    assert load_recipe(tomllib.loads(written)) == recipe
    shown = annotated_toml(recipe)
    assert load_recipe(tomllib.loads(shown)) == recipe


def test_a_written_recipe_loads_back_to_the_same_recipe(tmp_path):
    recipe = load_recipe({"data": {"train": str(tmp_path / "t.tsv")}, "schedule": {"name": "seed003", "warmup_steps": 3},
                          "callbacks": {"loss_plateau": {"min_epochs": 2}, "backup": False},
                          "train": {"mixed_precision": False, "epochs": 50}})
    path = tmp_path / "recipe.toml"
    path.write_text(to_toml(recipe), encoding="utf-8")
    assert load_recipe(path) == recipe
    assert "warmup_epochs" not in path.read_text(encoding="utf-8")  # unset: left out, reads back unset
    assert load_recipe(path)["schedule"]["warmup_epochs"] is None


def run_cli(capsys, *args):
    from textrecipes.cli import main

    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_recipe_show_prints_every_key_and_reads_back(capsys):
    sentiment = os.path.join(ROOT, "recipes", "sentiment_lstm.toml")
    overrides = ["schedule.warmup_steps=4", "callbacks.loss_plateau=true"]
    status, shown, err = run_cli(capsys, "recipe", "show", sentiment, *[f"--set={o}" for o in overrides])
    assert status == 0, err
    assert load_recipe(tomllib.loads(shown)) == load_recipe(sentiment, overrides)
    assert "# warmup_epochs = (unset)" in shown and "warmup_steps = 4" in shown
    assert "# vocabulary size, 2 reserved ids included  [int ≥ 3]\nmax_tokens = 20000" in shown
    assert "[callbacks.loss_plateau]" in shown
    status, shown, _ = run_cli(capsys, "recipe", "show")
    assert status == 0 and 'train = ""' in shown
    status, _, err = run_cli(capsys, "recipe", "show", "--set", "model.unitz=3")
    assert status == 2 and "unknown key 'model.unitz' (did you mean 'units'?)" in err


def test_recipe_keys_lists_the_schema(capsys):
    status, out, _ = run_cli(capsys, "recipe", "keys", "--markdown")
    assert status == 0 and out == key_table()
    status, out, _ = run_cli(capsys, "recipe", "keys")
    assert status == 0 and "schedule.warmup_steps = unset  [int ≥ 0, or unset]" in out


# ---------------------------------------------------------------------------
# Every documented [schedule] and [callbacks] key trains (issue 18, finding 7): each
# schedule name, and every key set to a value other than its default in some run.

SCHEDULE_RUNS = {
    "constant": ({"learning_rate": 0.002, "warmup": "exponential", "warmup_steps": 2, "warmup_start_learning_rate": 1e-4},
                 {"early_stopping": {"monitor": "val_loss", "patience": 1, "min_delta": 0.01, "start_from_epoch": 1,
                                     "restore_best_weights": False, "mode": "min"}}),
    "step": ({"factor": 0.5, "step_size_epochs": 0.5, "min_learning_rate": 1e-5, "warmup_epochs": 0.5},
             {"loss_plateau": {"monitor": "val_loss", "min_delta": 0.01, "min_epochs": 1}}),
    "step_in_steps": ({"name": "step", "step_size_steps": 1},
                      {"reduce_lr_on_plateau": {"monitor": "loss", "factor": 0.2, "patience": 1, "min_delta": 0.01,
                                                "cooldown": 1, "min_learning_rate": 1e-6, "mode": "min"}}),
    "exponential": ({"decay_steps": 2, "decay_rate": 0.5, "staircase": True, "min_learning_rate": 1e-5},
                    {"checkpoint": {"monitor": "val_accuracy", "mode": "max"}, "backup": False}),
    "cosine": ({"decay_epochs": 0.5, "warmup_steps": 1, "min_learning_rate": 1e-5},
               {"checkpoint": False, "early_stopping": False}),
    "cosine_restarts": ({"decay_steps": 1, "t_mul": 1.5, "m_mul": 0.8}, {"terminate_on_nan": False}),
    "seed003": ({"warmup_steps": 1}, {"terminate_on_nan": {"raise_error": True}, "learning_rate_logger": False}),
    "warmup_cosine": ({"warmup_steps": 1, "learning_rate": 0.005}, {}),
    "tensorboard": ({}, {"tensorboard": {"histogram_freq": 1}}),
}


def _run_recipe(case):
    schedule, callbacks = SCHEDULE_RUNS[case]
    schedule = {"name": case, **schedule} if case in _schedule_names() else schedule
    return {"schedule": schedule, "callbacks": callbacks}


def _schedule_names():
    return schema.choices_of(schema.lookup(("schedule", "name")))


def test_the_runs_cover_every_schedule_name_and_every_schedule_and_callbacks_key():
    resolved = [resolve([TRAIN, _run_recipe(case)])[0] for case in SCHEDULE_RUNS]
    assert {r["schedule"]["name"] for r in resolved} == set(_schedule_names())
    for path, entry in schema.iter_keys():
        if path[0] in ("schedule", "callbacks") and isinstance(entry, schema.Key):
            values = [r for r in resolved]
            for part in path:
                values = [v[part] for v in values]
            assert any(v != entry.default for v in values), f"no run sets {'.'.join(path)} to a non-default value"


def _has_tensorboard():
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


@pytest.mark.parametrize("case", sorted(SCHEDULE_RUNS))
def test_every_schedule_and_callbacks_key_trains(case, tmp_path):
    from textrecipes.workflows.train import train

    if case == "tensorboard" and not _has_tensorboard():
        pytest.skip("needs tensorboard (pip install tensorboard)")
    sample = os.path.join(ROOT, "data", "samples", "label_text.tsv")
    lines = open(sample, encoding="utf-8").read()
    (tmp_path / "train.tsv").write_text(lines * 8, encoding="utf-8")  # 48 lines
    recipe = {"name": case, "data": {"train": str(tmp_path / "train.tsv"), "validation": sample, "test": sample},
              "model": {"embedding_dim": 8, "units": 8, "ngram_buckets": 64, "ngram_dim": 4},
              "train": {"epochs": 1, "batch_size": 8}, "export": {"saved_model": False, "keras": False},
              **_run_recipe(case)}
    result = train(recipe, run_dir=str(tmp_path / "run"), verbose=0)
    assert math.isfinite(result.history["loss"][0]) and len(result.history["loss"]) == 1
    c = result.recipe["callbacks"]
    assert ("learning_rate" in result.history) == c["learning_rate_logger"]["enabled"]
    assert (tmp_path / "run" / "checkpoints" / "best.keras").exists() == c["checkpoint"]["enabled"]
    assert (tmp_path / "run" / "tensorboard").exists() == c["tensorboard"]["enabled"]
    # The run's recipe.toml holds every key, and reads back to the recipe that ran.
    assert load_recipe(tmp_path / "run" / "recipe.toml") == result.recipe == load_recipe(recipe)
