"""Ensembles: exported probabilities are the members' mean; vote mode; distillation end to end."""

import json
import os

import numpy as np
import pytest

from conftest import SMALL_MODEL, rt_path, write_slice

TINY = {**SMALL_MODEL, "embedding_dim": 16, "units": 16, "ngram_buckets": 0}
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


def test_distill_reports_accuracy_kept_and_size_saved(ensemble):
    from textrecipes.workflows.ensemble import distill
    from textrecipes.export.predictors import Predictor

    out = distill(ensemble["run_dir"], temperature=2.0, alpha=0.5, verbose=0)
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


def test_cli_predict_reads_the_ensemble_folder(ensemble, tmp_path, capsys):
    from textrecipes.cli import main

    path = tmp_path / "texts.txt"
    path.write_text("A moving, beautifully acted film.\nDull and far too long.\n", encoding="utf-8")
    assert main(["predict", ensemble["run_dir"], str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.split("\t")[0] in ensemble["labels"] for line in lines)
