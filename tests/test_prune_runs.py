"""Pruning in a run (issue 19): the recipe's [prune] table, and `textrecipes prune` on a finished run."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import SMALL_MODEL, folder_hashes, rt_path, write_slice
from textrecipes.export.predictors import Predictor
from textrecipes.pruning.masks import PruningMasks
from textrecipes.recipe.validation import resolve
from textrecipes.workflows.train import train

TABLE_SHAPE = (SMALL_MODEL["ngram_buckets"] + 1, SMALL_MODEL["ngram_dim"])
TEXTS = ["a moving, beautifully acted film", "dull, lifeless and far too long", "", "zzzz qqqq"]


@pytest.fixture(scope="module")
def pruned_run(tmp_path_factory):
    """1,200 Rotten Tomatoes reviews, 3 epochs, pruned to 80% over the first one (about 30 s)."""
    tmp = tmp_path_factory.mktemp("prune_run")
    recipe = {
        "name": "pruned",
        "data": {"train": write_slice(rt_path("train"), str(tmp / "train.tsv"), 1200),
                 "validation": write_slice(rt_path("validation"), str(tmp / "validation.tsv"), 300),
                 "test": write_slice(rt_path("test"), str(tmp / "test.tsv"), 300)},
        "model": SMALL_MODEL,
        "train": {"epochs": 3, "batch_size": 32},
        "prune": {"enabled": True, "target_sparsity": 0.8, "start_epoch": 0, "end_epoch": 1, "frequency": 8},
    }
    return train(recipe, run_dir=str(tmp / "run"), verbose=0)


def saved_table(path):
    tables = [v for v in tf.saved_model.load(path).variables if v.dtype == tf.float32 and v.shape == TABLE_SHAPE]
    assert len(tables) == 1
    return tables[0].numpy()


def test_a_run_with_prune_exports_its_target_sparsity_and_records_it(pruned_run):
    run_dir = pruned_run.run_dir
    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    record = metrics["pruning"]
    for name in ("embedding", "bigram_embedding"):
        assert record["layers"][name] >= 0.8 - 2e-3, (name, record["layers"])
    assert 0.78 < record["layers"]["bilstm"] < 0.8  # its kernels at 0.8, its biases never pruned
    assert record["layers"]["probabilities"] == 0.0  # the head is left dense
    assert record["params_after"] < 0.3 * record["params_before"]
    assert 0 < record["saved_model"]["gzip_bytes"] < record["saved_model"]["bytes"]
    # The SavedModel holds the zeros, and agrees with the Keras model as every export does.
    assert (saved_table(os.path.join(run_dir, "saved_model")) == 0).mean() == pytest.approx(0.8, abs=2e-3)
    assert metrics["export_check"]["max_abs_diff"] < 1e-5
    with open(os.path.join(run_dir, "model_card.json"), encoding="utf-8") as f:
        assert json.load(f)["exports"]["pruning"]["layers"] == record["layers"]
    # The exports are the plain model: no masks layer in model.keras, which loads and predicts as the SavedModel.
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), safe_mode=True)
    assert not any(isinstance(layer, PruningMasks) for m in [model, *model.layers] if isinstance(m, keras.Model)
                   for layer in m.layers)
    keras_probs = np.asarray(model.predict(np.array(TEXTS, dtype=object), verbose=0))[:, 0]
    assert np.max(np.abs(keras_probs - Predictor(os.path.join(run_dir, "saved_model")).predict_proba(TEXTS)[:, 1])) < 1e-5
    # Still a classifier: above the majority class on the test slice.
    assert pruned_run.metrics["accuracy"] > 0.55


def test_prune_keys_are_checked():
    _, problems = resolve([{"data": {"train": "t.tsv"}, "train": {"epochs": 2},
                            "prune": {"enabled": True, "start_epoch": 2, "end_epoch": 1}}])
    assert any("'prune.start_epoch' = 2" in p for p in problems), problems
    _, problems = resolve([{"data": {"train": "t.tsv"}, "train": {"epochs": 2}, "prune": {"enabled": True,
                                                                                         "end_epoch": 5}}])
    assert any("'prune.end_epoch' = 5 is after training" in p for p in problems), problems
    _, problems = resolve([{"data": {"train": "t.tsv"}, "prune": {"target_sparsity": 1.0}}])
    assert any("prune.target_sparsity" in p for p in problems), problems


def test_cli_prune_writes_a_new_run_folder_and_leaves_the_original_untouched(small_run, tmp_path, capsys):
    from textrecipes.cli import main

    before = folder_hashes(small_run.run_dir)
    out = str(tmp_path / "pruned")
    status = main(["prune", small_run.run_dir, "--out", out, "--sparsity", "0.5", "--epochs", "2",
                   "--set", "data.max_train_examples=1000", "--set", "prune.frequency=8", "--quiet"])
    assert status == 0
    assert folder_hashes(small_run.run_dir) == before  # only read
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    assert metrics["pruning"]["layers"]["bigram_embedding"] == pytest.approx(0.5, abs=2e-3)
    assert metrics["finetune"]["from"] == small_run.run_dir
    assert metrics["export_check"]["max_abs_diff"] < 1e-5
    assert os.path.exists(os.path.join(out, ".textrecipes-run.json"))
    table = saved_table(os.path.join(out, "saved_model"))
    assert (table == 0).mean() == pytest.approx(0.5, abs=2e-3)
    probs = Predictor(os.path.join(out, "saved_model")).predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # Never into the run itself, nor into a folder that is not a textrecipes run.
    capsys.readouterr()
    assert main(["prune", small_run.run_dir, "--out", small_run.run_dir, "--quiet"]) == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["prune", small_run.run_dir, "--out", str(foreign), "--quiet"]) == 2
    assert (foreign / "notes.txt").read_text() == "mine" and sorted(os.listdir(foreign)) == ["notes.txt"]
    assert "error" in capsys.readouterr().err
    assert folder_hashes(small_run.run_dir) == before


def test_tagging_and_language_model_runs_refuse_prune(tmp_path):
    from conftest import SAMPLES
    from textrecipes.recipe.validation import RecipeError
    from textrecipes.tasks.language_model import pretrain
    from textrecipes.workflows.prune import prune_run

    conll = {"data": {"format": "conll", "train": os.path.join(SAMPLES, "conll.txt")}, "prune": {"enabled": True}}
    with pytest.raises(RecipeError, match=r"'prune\.enabled' does not apply to data\.format = 'conll'"):
        train(conll, run_dir=str(tmp_path / "tagger"), verbose=0)
    with pytest.raises(RecipeError, match=r"'prune\.enabled' does not apply to data\.format = 'corpus'"):
        pretrain(os.path.join(SAMPLES, "corpus.txt"), run_dir=str(tmp_path / "lm"), epochs=3,
                 overrides=["prune.enabled=true"], verbose=0)
    assert sorted(os.listdir(tmp_path)) == []  # refused before any run folder was made
    # `textrecipes prune` on a tagger's run folder: refused from its recipe, before anything is read or written.
    run_dir = tmp_path / "tagger_run"
    run_dir.mkdir()
    (run_dir / "recipe.toml").write_text(f'[data]\nformat = "conll"\ntrain = "{os.path.join(SAMPLES, "conll.txt")}"\n')
    with pytest.raises(RecipeError, match=r"'prune\.enabled' does not apply to data\.format = 'conll'"):
        prune_run(str(run_dir), out_dir=str(tmp_path / "pruned"), verbose=0)
    assert not (tmp_path / "pruned").exists()


def saved_params(path):
    """Parameters of a SavedModel: its numeric variables (the vocabulary's strings not counted)."""
    return sum(v.shape.num_elements() for v in tf.saved_model.load(path).variables if v.dtype != tf.string)


def test_cli_structured_prune_exports_the_compact_model(small_run, tmp_path, monkeypatch):
    import textrecipes.tasks.classification as classification
    from textrecipes.cli import main

    masked = {}
    compact_for_recipe = classification.compact_for_recipe

    def keep_masked(model, texts, end_to_end):  # the trained model before compaction, over raw strings
        masked["e2e"] = end_to_end(model)
        return compact_for_recipe(model, texts, end_to_end)

    monkeypatch.setattr(classification, "compact_for_recipe", keep_masked)
    before = folder_hashes(small_run.run_dir)
    out = str(tmp_path / "structured")
    status = main(["prune", small_run.run_dir, "--out", out, "--structured", "--sparsity", "0.8", "--target",
                   "bilstm=0.5", "--epochs", "2", "--set", "data.max_train_examples=1000", "--set",
                   "prune.frequency=8", "--quiet"])
    assert status == 0
    assert folder_hashes(small_run.run_dir) == before  # only read
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    record = metrics["pruning"]
    assert record["structured"] and record["targets"] == {"bilstm": 0.5}
    assert record["compacted"]["max_abs_diff"] < 1e-5 and metrics["export_check"]["max_abs_diff"] < 1e-5
    assert record["params_after"] < 0.35 * record["params_before"]
    # The exported graph itself is smaller (not only zeros): a quarter of the original run's parameters or fewer.
    original, compact = saved_params(os.path.join(small_run.run_dir, "saved_model")), saved_params(
        os.path.join(out, "saved_model"))
    assert compact < 0.35 * original, (compact, original)
    model = keras.saving.load_model(os.path.join(out, "model.keras"), safe_mode=True)
    inner = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    assert inner.get_layer("bilstm").forward_layer.units == SMALL_MODEL["units"] // 2
    assert type(inner.get_layer("bigram_embedding")).__name__ == "RemappedEmbedding"
    # The SavedModel over raw strings predicts as the masked model it came from.
    with open(rt_path("test"), encoding="utf-8") as f:
        texts = TEXTS + [line.split("\t", 1)[1].strip() for line in f.readlines()[:200]]
    expected = np.asarray(masked["e2e"].predict(np.array(texts, dtype=object), verbose=0))[:, 0]
    got = Predictor(os.path.join(out, "saved_model")).predict_proba(texts)[:, 1]
    assert np.max(np.abs(expected - got)) < 1e-5
    assert metrics["test"]["accuracy"] > 0.55
    # A compact run is not pruned (or fine-tuned) again: refused before anything is written.
    assert main(["prune", out, "--out", str(tmp_path / "again"), "--quiet"]) == 2
    assert not (tmp_path / "again").exists()


@pytest.mark.parametrize("name", ["linear"])  # auto prunes its LSTM member alone (test_auto.py)
def test_structured_prune_of_a_linear_model_is_refused_up_front(name, tmp_path):
    from conftest import SAMPLES
    from textrecipes.recipe.validation import RecipeError

    recipe = {"data": {"train": os.path.join(SAMPLES, "label_text.tsv")}, "model": {"name": name},
              "train": {"epochs": 2}, "prune": {"enabled": True, "structured": True, "end_epoch": 1}}
    with pytest.raises(RecipeError, match=rf"'prune\.structured' = true does not apply to model\.name = '{name}'"):
        train(recipe, run_dir=str(tmp_path / "run"), verbose=0)
    assert sorted(os.listdir(tmp_path)) == []  # refused before any run folder was made
    # Magnitude pruning and a structured lstm are not refused by this rule.
    for model, structured in ((name, False), ("lstm", True)):
        _, problems = resolve([{**recipe, "model": {"name": model},
                                "prune": {**recipe["prune"], "structured": structured}}])
        assert not any("prune.structured" in p for p in problems), problems
