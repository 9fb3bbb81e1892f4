"""Paths in a recipe file are relative to the recipe's folder; a missing file is one line and leaves no folder (issue 15, findings 3 and 6)."""

import os

import pytest

from conftest import ROOT, SAMPLES
from textrecipes.cli import main
from textrecipes.recipe.loading import RecipeError, load_recipe, missing_files, to_toml

SAMPLE = os.path.join(SAMPLES, "label_text.tsv")


def _project(tmp_path):
    """A user's project: configs/r.toml naming ../data/mine.tsv, and another folder to run from."""
    (tmp_path / "data").mkdir()
    (tmp_path / "configs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "data" / "mine.tsv").write_text(open(SAMPLE, encoding="utf-8").read() * 4, encoding="utf-8")
    recipe = tmp_path / "configs" / "r.toml"
    recipe.write_text('name = "mine"\n[data]\ntrain = "../data/mine.tsv"\n[model]\nembedding_dim = 8\nunits = 8\n'
                      'ngram_buckets = 0\n[train]\nepochs = 1\nbatch_size = 8\n[export]\nsaved_model = false\n',
                      encoding="utf-8")
    return recipe


def test_relative_paths_in_a_recipe_file_are_relative_to_its_folder(tmp_path, monkeypatch):
    recipe = _project(tmp_path)
    monkeypatch.chdir(tmp_path / "elsewhere")
    cfg = load_recipe(os.path.relpath(recipe))
    assert os.path.samefile(cfg["data"]["train"], tmp_path / "data" / "mine.tsv")
    assert missing_files(cfg) == []
    # --set paths are relative to the working folder, as any command-line path
    (tmp_path / "elsewhere" / "here.tsv").write_text("a\tb\n", encoding="utf-8")
    assert load_recipe(str(recipe), ["data.train='here.tsv'"])["data"]["train"] == "here.tsv"


def test_a_recipe_trains_from_another_folder_and_its_run_recipe_reloads_the_same_files(tmp_path, monkeypatch):
    recipe = _project(tmp_path)
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["train", os.path.relpath(recipe), "--quiet"]) == 0
    saved = load_recipe(os.path.join("runs", "mine", "recipe.toml"))  # relative to the run folder now
    assert os.path.samefile(saved["data"]["train"], tmp_path / "data" / "mine.tsv")


def test_a_missing_data_file_is_one_line_naming_key_and_path_and_leaves_no_run_folder(tmp_path, monkeypatch, capsys):
    recipe = _project(tmp_path)
    (tmp_path / "data" / "mine.tsv").unlink()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["train", os.path.relpath(recipe)]) == 2
    err = capsys.readouterr().err.strip()
    assert "data.train = '../data/mine.tsv': no such file" in err and "relative to the recipe's folder" in err, err
    assert len(err.splitlines()) <= 2 and "Traceback" not in err
    assert not os.path.exists("runs")
    with pytest.raises(RecipeError, match="is a folder, not a file"):
        from textrecipes.workflows.train import train

        train({"data": {"train": str(tmp_path)}})


def test_pointing_a_shipped_recipe_at_ones_own_file_drops_its_validation_and_test(tmp_path, caplog):
    mine = tmp_path / "mine.tsv"
    mine.write_text("pos\tgood\nneg\tbad\n", encoding="utf-8")
    shipped = os.path.join(ROOT, "recipes", "sentiment_lstm.toml")
    with caplog.at_level("WARNING", logger="textrecipes"):
        cfg = load_recipe(shipped, [f"data.train='{mine}'"])
    assert cfg["data"]["train"] == str(mine) and not cfg["data"]["validation"] and not cfg["data"]["test"]
    assert "data.validation and data.test" in caplog.text and "split off the new one" in caplog.text
    kept = load_recipe(shipped, [f"data.train='{mine}'", f"data.test='{mine}'"])  # named again: kept
    assert kept["data"]["test"] == str(mine) and not kept["data"]["validation"]
    assert load_recipe(shipped)["data"]["validation"] == os.path.join("data", "rotten_tomatoes", "validation.tsv") \
        or os.path.isabs(load_recipe(shipped)["data"]["validation"])


def test_to_toml_writes_paths_relative_to_the_folder_it_goes_to(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "t.tsv").write_text("a\tb\n", encoding="utf-8")
    cfg = load_recipe({"data": {"train": "d/t.tsv"}, "augment": {"source": "file:d/t.tsv"}})
    out = tmp_path / "runs" / "x"
    out.mkdir(parents=True)
    (out / "recipe.toml").write_text(to_toml(cfg, str(out)), encoding="utf-8")
    again = load_recipe(str(out / "recipe.toml"))
    assert os.path.samefile(again["data"]["train"], "d/t.tsv")
    assert again["augment"]["source"].startswith("file:") and os.path.samefile(again["augment"]["source"][5:], "d/t.tsv")
