"""Ensembles: exported probabilities are the members' mean; vote mode; distillation end to end."""

import json
import os

import numpy as np
import pytest

from conftest import SMALL_MODEL, folder_hashes, rt_path, write_slice

TINY = {**SMALL_MODEL, "name": "lstm", "embedding_dim": 16, "units": 16, "ngram_buckets": 0}
TEXTS = ["A moving, beautifully acted film.", "Dull and far too long.", "", "zzzz unknown words",
         "the plot is thin but the cast is wonderful", "not good"]


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    from textrecipes.workflows.ensemble import train_ensemble

    tmp = tmp_path_factory.mktemp("ens")
    recipe = {"name": "ens", "data": {"train": write_slice(rt_path("train"), str(tmp / "train.tsv"), 400),
                                      "validation": write_slice(rt_path("validation"), str(tmp / "val.tsv"), 150),
                                      "test": write_slice(rt_path("test"), str(tmp / "test.tsv"), 150)},
              "tokenize": {"max_length": 48}, "model": TINY, "train": {"epochs": 2},
              "callbacks": {"backup": False}}
    return train_ensemble(recipe, seeds=[0, 1, 2], run_dir=str(tmp / "ensemble"), verbose=0)


def test_exported_probabilities_are_the_mean_of_the_members(ensemble):
    from textrecipes.export.predictors import Predictor

    members = [Predictor(m["run_dir"]).predict_proba(TEXTS) for m in ensemble["members"]]
    exported = Predictor(ensemble["run_dir"])  # the run-folder layout: saved_model/ + labels.json
    assert exported.path.endswith("saved_model")
    got = exported.predict_proba(TEXTS)
    np.testing.assert_allclose(got, np.mean(members, axis=0), atol=1e-5)
    assert not np.allclose(members[0], members[1], atol=1e-3)  # the seeds made different members
    with open(os.path.join(ensemble["run_dir"], "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    assert len(metrics["members"]) == 3 and metrics["test"]["accuracy"] > 0.5
    assert metrics["params"] == sum(m["params"] for m in metrics["members"])
    for where in ("", "saved_model/assets.extra"):  # the card travels with the export
        with open(os.path.join(ensemble["run_dir"], where, "model_card.json"), encoding="utf-8") as f:
            card = json.load(f)
        assert card["metrics"]["test"]["accuracy"] == metrics["test"]["accuracy"] and card["ensemble"] == "mean"
        assert card["labels"] == ["fresh", "rotten"] and card["exports"]["saved_model"]["max_abs_diff"] <= 1e-5


def test_vote_is_the_majority_and_ties_fall_back_to_the_mean():
    from textrecipes.workflows.ensemble import EnsembleCombine

    a, b, c = np.array([[0.9], [0.4]]), np.array([[0.6], [0.3]]), np.array([[0.2], [0.8]])
    np.testing.assert_allclose(np.asarray(EnsembleCombine("vote")([a, b, c])), [[2 / 3], [1 / 3]], atol=1e-6)
    np.testing.assert_allclose(np.asarray(EnsembleCombine("vote")([a, c])), [[0.55], [0.6]], atol=1e-6)  # ties
    p = [np.array([[0.7, 0.2, 0.1]]), np.array([[0.1, 0.8, 0.1]]), np.array([[0.5, 0.4, 0.1]])]
    np.testing.assert_allclose(np.asarray(EnsembleCombine("vote", "multiclass")(p)), [[2 / 3, 1 / 3, 0]], atol=1e-6)
    tie = np.asarray(EnsembleCombine("vote", "multiclass")(p[:2]))
    np.testing.assert_allclose(tie, [[0.4, 0.5, 0.1]], atol=1e-6)


def test_vote_ensemble_reloads_from_keras_file_with_safe_mode(ensemble, tmp_path):
    import keras

    from textrecipes.workflows.ensemble import EnsembleCombine

    model = keras.saving.load_model(os.path.join(ensemble["run_dir"], "model.keras"), safe_mode=True)
    assert isinstance(model.layers[-1], EnsembleCombine)
    x = np.array(TEXTS, dtype=object)
    np.testing.assert_allclose(model.predict(x, verbose=0), ensemble["model"].predict(x, verbose=0), atol=1e-6)


@pytest.fixture(scope="module")
def distilled(ensemble):
    """The ensemble distilled into ENSEMBLE/distilled (a student of 8 units; a few seconds)."""
    from textrecipes.workflows.ensemble import distill

    return distill(ensemble["run_dir"], temperature=2.0, alpha=0.5, verbose=0)


def test_distill_reports_accuracy_kept_and_size_saved(ensemble, distilled):
    from textrecipes.export.predictors import Predictor

    out = distilled
    acc = out["accuracy"]
    assert 0.5 < acc["student"] <= 1 and acc["ensemble"] == ensemble["metrics"]["accuracy"]
    assert out["accuracy_kept"] == pytest.approx(acc["student"] / acc["ensemble"])
    assert 0 <= acc["no_distillation"] <= 1
    assert out["params"]["student"] < out["params"]["ensemble"] / 3
    assert 0 < out["size_saved"]["params"] < 1 and out["saved_model_bytes"]["student"] < out["saved_model_bytes"]["ensemble"]
    with open(os.path.join(ensemble["run_dir"], "distilled", "saved_model", "assets.extra", "model_card.json"),
              encoding="utf-8") as f:
        card = json.load(f)
    assert card["metrics"]["test"]["accuracy"] == acc["student"] and card["distilled_from"]
    student = Predictor(os.path.join(ensemble["run_dir"], "distilled"))
    assert student.predict_proba(TEXTS).shape == (len(TEXTS), 2)


def test_a_distilled_student_is_a_run_folder_that_prune_takes(ensemble, distilled, tmp_path):
    import keras
    import tensorflow as tf

    from textrecipes.export.predictors import Predictor
    from textrecipes.recipe.loading import load_recipe
    from textrecipes.text.tokenization import Vocabulary
    from textrecipes.workflows.prune import prune_run

    student_dir = os.path.join(ensemble["run_dir"], "distilled")
    # The recipe describes the student as built; the vocabulary is the one its embedding reads.
    recipe = load_recipe(os.path.join(student_dir, "recipe.toml"))
    model_cfg = recipe["model"]
    assert (model_cfg["name"], model_cfg["units"], model_cfg["embedding_dim"]) == (
        "lstm", distilled["student"]["units"], distilled["student"]["embedding_dim"])
    assert model_cfg["bidirectional"] is False and model_cfg["ngram_buckets"] == 0
    assert recipe["tokenize"]["max_length"] == 48 and recipe["data"]["labels"] == ensemble["labels"]
    assert recipe["data"]["train"] == os.path.join(ensemble["run_dir"], "data", "train.tsv")
    vocab = Vocabulary.load(os.path.join(student_dir, "vocabulary.json"))
    e2e = keras.saving.load_model(os.path.join(student_dir, "model.keras"), safe_mode=True)
    inner = next(layer for layer in e2e.layers if isinstance(layer, keras.Model))
    assert inner.get_layer("embedding").input_dim == len(vocab)
    assert inner.count_params() == distilled["params"]["student"]

    before = folder_hashes(student_dir)
    out = str(tmp_path / "pruned_student")
    result = prune_run(student_dir, out_dir=out, sparsity=0.8, epochs=2, overrides=["prune.frequency=4"], verbose=0)
    assert folder_hashes(student_dir) == before  # only read
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    layers = metrics["pruning"]["layers"]
    assert layers["embedding"] >= 0.8 - 2e-3, layers
    assert metrics["finetune"]["from"] == student_dir and metrics["export_check"]["max_abs_diff"] < 1e-5
    # The SavedModel holds the zeros and reloads to the Keras model's predictions.
    saved = os.path.join(out, "saved_model")
    tables = [v.numpy() for v in tf.saved_model.load(saved).variables
              if v.dtype == tf.float32 and v.shape == (len(vocab), model_cfg["embedding_dim"])]
    assert len(tables) == 1 and (tables[0] == 0).mean() == pytest.approx(0.8, abs=2e-3)
    pruned = keras.saving.load_model(os.path.join(out, "model.keras"), safe_mode=True)
    keras_probs = np.asarray(pruned.predict(np.array(TEXTS, dtype=object), verbose=0))[:, 0]
    assert np.ptp(keras_probs) > 1e-4  # the texts get different probabilities: the comparison below can fail
    assert np.max(np.abs(keras_probs - Predictor(saved).predict_proba(TEXTS)[:, 1])) < 1e-5
    assert result.run_dir == out


def test_cli_predict_reads_the_ensemble_folder(ensemble, tmp_path, capsys):
    from textrecipes.cli import main

    path = tmp_path / "texts.txt"
    path.write_text("A moving, beautifully acted film.\nDull and far too long.\n", encoding="utf-8")
    assert main(["predict", ensemble["run_dir"], str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.split("\t")[0] in ensemble["labels"] for line in lines)
