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
