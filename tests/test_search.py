"""Hyperparameter search: a 2×2 grid on tiny real data, the time budget, bad keys."""

import csv
import os

import pytest

from conftest import SMALL_MODEL, rt_path, write_slice
from textrecipes.recipe.loading import RecipeError, load_recipe

TINY = {**SMALL_MODEL, "embedding_dim": 16, "units": 8, "ngram_buckets": 0}


def _recipe(tmp_path, space, **search):
    return {
        "name": "tiny",
        "data": {"train": write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 300),
                 "validation": write_slice(rt_path("validation"), str(tmp_path / "val.tsv"), 100),
                 "test": write_slice(rt_path("test"), str(tmp_path / "test.tsv"), 100)},
        "tokenize": {"max_length": 48},
        "model": TINY,
        "train": {"epochs": 1},
        "callbacks": {"backup": False},
        "export": {"saved_model": False},
        "search": {"method": "grid", "space": space, **search},
    }


def test_grid_2x2_runs_four_trials_and_the_best_recipe_trains(tmp_path, capsys):
    from textrecipes.workflows.train import train
    from textrecipes.workflows.search import run_search

    space = {"schedule": {"learning_rate": [1e-3, 3e-3]}, "train.batch_size": [32, 64]}
    out = run_search(_recipe(tmp_path, space), run_dir=str(tmp_path / "search"), verbose=1)
    printed = capsys.readouterr().out
    assert "trial  schedule.learning_rate  train.batch_size  val_accuracy" in printed and "best: trial" in printed
    with open(out["results"], encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    combos = {(float(r["schedule.learning_rate"]), int(r["train.batch_size"])) for r in rows}
    assert combos == {(1e-3, 32), (1e-3, 64), (3e-3, 32), (3e-3, 64)}
    assert all(0 <= float(r["val_accuracy"]) <= 1 and r["epochs"] == "1" for r in rows)
    best = out["best"]
    assert best["val_accuracy"] == max(float(r["val_accuracy"]) for r in rows)
    cfg = load_recipe(out["best_recipe"])  # a complete recipe, the search switched off
    assert cfg["search"]["method"] == "none"
    assert cfg["schedule"]["learning_rate"] == best["schedule.learning_rate"]
    assert cfg["train"]["batch_size"] == best["train.batch_size"]
    result = train(out["best_recipe"], run_dir=str(tmp_path / "best"), verbose=0)
    assert os.path.exists(os.path.join(result.run_dir, "metrics.json"))


def test_time_budget_stops_the_search_early(tmp_path):
    from textrecipes.workflows.search import run_search

    space = {"train.batch_size": [16, 32, 64]}
    out = run_search(_recipe(tmp_path, space, time_budget_s=0.01), run_dir=str(tmp_path / "s"), verbose=0)
    assert len(out["rows"]) == 1 and out["stopped_by_budget"]
    assert os.path.exists(out["best_recipe"])


def test_max_trials_above_the_number_of_combinations_is_capped(tmp_path, capsys):
    from textrecipes.workflows.search import run_search

    # recipes/search_lr_batch.toml says max_trials = 4; cut to a 2-value space it must not promise 4 trials
    space = {"train.batch_size": [16, 32]}
    run_search(_recipe(tmp_path, space, max_trials=4, time_budget_s=0.01), run_dir=str(tmp_path / "s"), verbose=1)
    assert "(2 combinations, at most 2 trials" in capsys.readouterr().out


def test_a_bad_key_in_the_space_is_named_before_anything_runs(tmp_path):
    from textrecipes.workflows.search import run_search

    with pytest.raises(RecipeError) as e:
        run_search(_recipe(tmp_path, {"model.unitz": [8, 16], "train.batch_size": [0]}), run_dir=str(tmp_path / "s"))
    text = str(e.value)
    assert "model.unitz" in text and "did you mean 'units'" in text
    assert text.count("unknown key 'model.unitz'") == 1, "one line for the key, not one per value"
    assert "'train.batch_size' = 0 is out of range" in text
    assert not os.path.exists(tmp_path / "s")


def test_cli_search_reports_a_bad_key_and_exits_2(tmp_path, capsys):
    from textrecipes.cli import main
    from textrecipes.recipe.loading import to_toml

    path = tmp_path / "r.toml"
    path.write_text(to_toml(_recipe(tmp_path, {"train.epochz": [1, 2]})), encoding="utf-8")
    assert main(["search", str(path), "--run-dir", str(tmp_path / "s")]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err
