"""The notebook path: recipe functions, in-memory data, RunResult's reprs, reruns, load_predictor (issue 15)."""

import glob
import inspect
import json
import os
import tomllib

import numpy as np
import pytest

from conftest import ROOT
from textrecipes import recipes
from textrecipes.data.records import DataError
from textrecipes.recipe.loading import RecipeError, load_recipe
from textrecipes.run.numbered import numbered_run_dir
from textrecipes.workflows.train import train

# The fastText-style recipe, shrunk: one epoch takes about a second.
TINY = dict(model_embedding_dim=8, model_ngram_buckets=512, model_ngram_dim=8, train_epochs=1, train_batch_size=16,
            export_saved_model=False, evaluate_baseline=False, verbose=0)
WORDS = {"pos": "great fun moving superb lovely", "neg": "dull tedious boring awful flat"}


def examples(n=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = [("pos", "neg")[i % 2] for i in range(n)]
    texts = [" ".join(rng.choice(WORDS[label].split(), size=5)) for label in labels]
    return texts, labels


# 1. Recipe functions: the shipped TOML files are their one source.

def test_every_shipped_recipe_file_has_a_function_equal_to_it():
    stems = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(ROOT, "recipes", "*.toml"))}
    assert {recipes.SHIPPED[name][0] for name in recipes.available()} == stems
    assert recipes.available()[0] == "lstm"
    for name in recipes.available():
        made = getattr(recipes, name)()
        assert isinstance(made, recipes.Recipe)
        assert made == load_recipe(os.path.join(ROOT, "recipes", f"{recipes.SHIPPED[name][0]}.toml")), name


def test_signature_shows_the_files_defaults():
    lstm, cnn = inspect.signature(recipes.lstm).parameters, inspect.signature(recipes.cnn).parameters
    assert list(lstm)[:3] == ["train", "validation", "test"]
    assert lstm["epochs"].default == 10 and lstm["units"].default == 128 and lstm["name"].default == "sentiment_lstm"
    assert cnn["units"].default == 100 and cnn["kernel_sizes"].default == [3, 4, 5]  # the file's, not the schema's
    assert inspect.signature(recipes.fasttext).parameters["epochs"].default == 20
    assert "Default 10." in recipes.lstm.__doc__ and "model.units" in recipes.lstm.__doc__


def test_recipe_prints_as_the_toml_it_is():
    r = recipes.cnn(os.path.join(ROOT, "data", "samples", "label_text.tsv"), epochs=3, units=64)
    parsed = tomllib.loads(str(r))
    assert parsed["model"]["units"] == 64 and parsed["train"]["epochs"] == 3
    assert load_recipe(parsed) == r
    assert parsed == {k: v for k, v in json.loads(json.dumps(parsed)).items()}
    unset = [k for k, v in r["schedule"].items() if v is None]
    assert unset and all(k not in parsed["schedule"] for k in unset)  # TOML has no null
    assert all(parsed["schedule"][k] == v for k, v in r["schedule"].items() if v is not None)
    assert repr(r).startswith("# textrecipes recipe 'sentiment_cnn'\n")


def test_recipe_function_takes_the_users_file_and_any_key():
    mine = os.path.join(ROOT, "data", "samples", "label_text.tsv")
    r = recipes.lstm(mine, train_label_smoothing=0.1, **{"callbacks.early_stopping.patience": 1})
    assert r["data"]["train"] == mine and r["data"]["validation"] == "" and r["data"]["test"] == ""
    assert r["train"]["label_smoothing"] == 0.1 and r["callbacks"]["early_stopping"]["patience"] == 1
    with pytest.raises(RecipeError, match="did you mean 'train_label_smoothing'"):
        recipes.lstm(train_label_smothing=0.1)
    with pytest.raises(RecipeError, match="model.units"):
        recipes.lstm(units=-1)
    with pytest.raises(TypeError):
        recipes.lstm(mine, "v.tsv", "t.tsv", "extra.tsv")


# 2-3. train from memory; reruns.

def test_train_from_lists_records_the_data_and_a_rerun_goes_to_a_new_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    texts, labels = examples()
    texts[0] = "great\tfun\nmoving"  # would break the TSV's rows
    first = train(recipes.fasttext(), texts=texts, labels=labels, **TINY)
    assert first.run_dir == os.path.join("runs", "sentiment_fasttext")
    data_file = os.path.join(first.run_dir, "data", "train.tsv")
    with open(data_file, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert len(lines) == 120 and lines[0] == "pos\tgreat fun moving"
    assert first.recipe["data"]["train"] == os.path.abspath(data_file)
    metrics = json.load(open(os.path.join(first.run_dir, "metrics.json")))
    assert metrics["data"][0]["path"] == "train (in memory)" and metrics["data"][0]["kept"] == 120
    assert "1 value(s): tab or newline replaced by a space" in metrics["data"][0]["problems"][-1]
    marker = open(os.path.join(first.run_dir, ".textrecipes-run.json")).read()

    again = train(recipes.fasttext(), texts=texts, labels=labels, **TINY)  # the same notebook cell, run again
    assert again.run_dir == os.path.join("runs", "sentiment_fasttext-2")
    assert open(os.path.join(first.run_dir, ".textrecipes-run.json")).read() == marker  # the first run is kept
    assert os.path.exists(os.path.join(first.run_dir, "metrics.json"))
    assert again.recipe["data"]["train"] == os.path.abspath(os.path.join(again.run_dir, "data", "train.tsv"))
    # The run folder's recipe.toml reruns as it is, from the data recorded in it.
    rerun = load_recipe(os.path.join(again.run_dir, "recipe.toml"))
    assert rerun["data"]["train"] == again.recipe["data"]["train"]
    with pytest.raises(FileExistsError):
        train(recipes.fasttext(), texts=texts, labels=labels, overwrite=False, **TINY)


def test_train_from_a_dataframe_reports_bad_values(tmp_path):
    pd = pytest.importorskip("pandas")
    texts, labels = examples(160, seed=1)
    frame = pd.DataFrame({"review": texts, "stars": [1 if label == "pos" else 0 for label in labels]})
    frame.loc[5, "review"] = np.nan
    frame.loc[7, "stars"] = np.nan  # the label column becomes floats: 1.0, 0.0, NaN
    run_dir = tmp_path / "run"
    with pytest.raises(DataError, match=r"train \(DataFrame\): row 5: missing text: review is nan"):
        train(recipes.fasttext(), data=frame, text_column="review", label_column="stars", run_dir=run_dir, **TINY)
    assert not run_dir.exists()  # checked before the run folder is made
    valid = pd.DataFrame({"review": texts[:40], "stars": [1 if label == "pos" else 0 for label in labels[:40]]})
    result = train(recipes.fasttext(), data=frame, text_column="review", label_column="stars",
                   validation_data=valid, run_dir=run_dir, data_on_bad_lines="skip", **TINY)
    assert result.labels == ["0", "1"]
    report = json.load(open(run_dir / "metrics.json"))["data"]
    assert report[0]["path"] == "train (DataFrame)" and report[0]["lines_read"] == 160 and report[0]["kept"] == 158
    assert report[0]["skipped"] == {"missing text": 1, "missing label": 1}
    assert "row 7: missing label" in report[0]["problems"][1]
    assert (run_dir / "data" / "validation.tsv").exists() and not (run_dir / "data" / "test.tsv").exists()
    assert result.recipe["data"]["test"] == ""  # split off the training data
    with pytest.raises(ValueError, match="no column 'text'"):
        train(recipes.fasttext(), data=frame, run_dir=tmp_path / "other", **TINY)


def test_numbered_run_folders_never_touch_what_is_not_ours(tmp_path):
    base = tmp_path / "runs" / "x"
    base.mkdir(parents=True)
    (base / "notes.txt").write_text("mine")
    assert numbered_run_dir(str(base), lambda d: {"seed": 0}) == f"{base}-2"
    (tmp_path / "runs" / "x-2").mkdir()
    assert numbered_run_dir(str(base), lambda d: {"seed": 0}) == f"{base}-2"  # empty: usable
    (tmp_path / "runs" / "x-2" / "a.txt").write_text("also mine")
    assert numbered_run_dir(str(base), lambda d: {"seed": 0}) == f"{base}-3"
    assert (base / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="overwrite must be"):
        train(recipes.fasttext(), overwrite="yes")


def test_train_keywords_and_help():
    doc = train.__doc__
    assert "textrecipes recipe keys" in doc and "Recipe keys" in doc and "overwrite" in doc
    with pytest.raises(RecipeError, match="did you mean 'train_epochs'"):
        train(recipes.fasttext(), train_epoch=1)


# 4. Notebook manners and load_predictor, on the shared small run.

def test_run_result_reprs(small_run):
    text = repr(small_run)
    assert len(text) < 300 and small_run.run_dir in text and "accuracy 0." in text and "macro-F1" in text
    assert "2 labels" in text and f"{len(small_run.history['loss'])} epochs" in text
    page = small_run._repr_html_()
    assert "<table" in page and page.count("data:image/png;base64,") == 2
    assert "learning curves" in page and "confusion matrix" in page and "test" in page


def test_load_predictor_picks_the_class(small_run, tmp_path, monkeypatch):
    import textrecipes
    from textrecipes.export.predictors import Predictor, _export_format
    from textrecipes.export.metadata import RunFolderError

    texts = ["A moving, beautifully acted film.", "Dull and far too long."]
    expected = Predictor(small_run.run_dir).predict_proba(texts)
    for path in (small_run.run_dir, os.path.join(small_run.run_dir, "saved_model"),
                 os.path.join(small_run.run_dir, "model.keras")):
        predictor = textrecipes.load_predictor(path)
        assert type(predictor) is Predictor, path
        np.testing.assert_allclose(predictor.predict_proba(texts), expected, atol=1e-5)
    frame = textrecipes.load_predictor(small_run.run_dir).predict_proba(texts, as_frame=True)
    assert list(frame.columns) == small_run.labels and frame.shape == (2, 2)
    np.testing.assert_allclose(frame.to_numpy(), expected, atol=1e-5)
    pd = pytest.importorskip("pandas")
    series = pd.Series(texts, index=["a", "b"])
    assert list(textrecipes.load_predictor(small_run.run_dir).predict_proba(series, as_frame=True).index) == ["a", "b"]
    from textrecipes.export import predictors

    for fmt, name in (("pairs", "PairPredictor"), ("conll", "Tagger")):
        (tmp_path / fmt).mkdir()
        (tmp_path / fmt / "labels.json").write_text(json.dumps({"format": fmt, "labels": ["a", "b"]}))
        assert _export_format(str(tmp_path / fmt)) == fmt
        monkeypatch.setattr(predictors, name, lambda path, name=name, verify=False: (name, path))  # no model here
        assert textrecipes.load_predictor(tmp_path / fmt) == (name, str(tmp_path / fmt))
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "lm.json").write_text("{}")
    with pytest.raises(RunFolderError, match="language-model"):
        textrecipes.load_predictor(tmp_path / "lm")
    with pytest.raises(RunFolderError, match="no such run folder"):
        textrecipes.load_predictor(tmp_path / "nothing")
