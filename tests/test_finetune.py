"""Fine-tuning a trained run on a second TSV: new label, new words, freezing, clear errors."""

import json
import os
import random
import shutil

import keras
import numpy as np
import pytest

from conftest import ROOT, rt_path, write_slice

FORTUNES = os.path.join(ROOT, "data", "bench", "fortunes_topics")
TINY = {"embedding_dim": 16, "units": 16, "bidirectional": False, "ngram_buckets": 1024, "ngram_dim": 8}


def _lines(path, start, stop):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()[start:stop]


def _write(path, lines, seed=0):
    lines = list(lines)
    random.Random(seed).shuffle(lines)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return str(path)


def _fortunes(split, n):  # a third label from another domain: "fortune"
    return ["fortune\t" + line.split("\t", 1)[1] for line in _lines(os.path.join(FORTUNES, f"{split}.tsv"), 0, n)]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A fresh/rotten classifier on 400 Rotten Tomatoes lines, and the files to fine-tune it on."""
    from textrecipes.workflows.train import train

    tmp = tmp_path_factory.mktemp("finetune")
    recipe = {
        "name": "ft_base",
        "data": {"train": write_slice(rt_path("train"), str(tmp / "train.tsv"), 400),
                 "validation": write_slice(rt_path("validation"), str(tmp / "val.tsv"), 150),
                 "test": write_slice(rt_path("test"), str(tmp / "test.tsv"), 150)},
        "tokenize": {"max_length": 64},
        "model": TINY, "train": {"epochs": 2}, "callbacks": {"early_stopping": False, "backup": False},
    }
    result = train(recipe, run_dir=str(tmp / "run"), verbose=0)
    files = {
        "new_train": _write(tmp / "new_train.tsv", _lines(rt_path("train"), 400, 640) + _fortunes("train", 160)),
        "new_val": _write(tmp / "new_val.tsv", _lines(rt_path("validation"), 150, 250) + _fortunes("validation", 60)),
        "rt_train": write_slice(rt_path("train"), str(tmp / "rt_more.tsv"), 240),
    }
    return result, files, tmp


def test_finetune_adds_a_label_and_keeps_the_old_ones(base):
    from textrecipes.export.predictors import Predictor
    from textrecipes.workflows.finetune import finetune

    result, files, tmp = base
    out = finetune(result.run_dir, files["new_train"], out_dir=str(tmp / "ft"), validation=files["new_val"],
                   extend_labels=True, extend_vocabulary=True, learning_rate=0.02, epochs=4, verbose=0)
    assert out.labels == ["fresh", "rotten", "fortune"] and out.task == "multiclass"
    with open(os.path.join(out.run_dir, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    ft = metrics["finetune"]
    # Before: the model cannot say "fortune" (over a third of the lines); after, it does.
    assert metrics["validation"]["accuracy"] > ft["validation_before"]["accuracy"] + 0.1
    assert ft["oov_rate"] > 0.05 and ft["words_added"] > 100 and ft["oov_rate_after"] < 0.01
    assert ft["labels_added"] == ["fortune"] and ft["old_task"] == "binary"
    assert metrics["export_check"]["max_abs_diff"] <= 1e-5
    with open(os.path.join(out.run_dir, "saved_model", "assets.extra", "model_card.json"), encoding="utf-8") as f:
        card = json.load(f)  # the fine-tuned export carries its own card: new labels, new vocabulary, new metrics
    assert card["labels"] == out.labels and card["metrics"]["validation"] == metrics["validation"]
    assert card["vocabulary_size"] == len(json.load(open(os.path.join(out.run_dir, "vocabulary.json")))["tokens"]) + 2
    with open(os.path.join(out.run_dir, "vocabulary.json"), encoding="utf-8") as f:
        tokens = json.load(f)["tokens"]
    with open(os.path.join(result.run_dir, "vocabulary.json"), encoding="utf-8") as f:
        old_tokens = json.load(f)["tokens"]
    assert tokens[: len(old_tokens)] == old_tokens and len(tokens) == len(old_tokens) + ft["words_added"]

    predictor = Predictor(out.run_dir)  # the SavedModel
    fortunes = [line.split("\t", 1)[1] for line in _fortunes("test", 40)]
    reviews = [line.split("\t", 1)[1] for line in _lines(rt_path("test"), 0, 150)]
    said = [label for label, _ in predictor.predict(fortunes)]
    assert said.count("fortune") > 20
    said = {label for label, _ in predictor.predict(reviews)}
    assert {"fresh", "rotten"} <= said


def test_binary_head_becomes_softmax_with_the_same_probabilities():
    from textrecipes.training.transfer import extend_head

    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(6, 1)).astype("float32"), np.array([0.3], "float32")
    x = rng.normal(size=(5, 6)).astype("float32")
    k2, b2, task = extend_head(kernel, bias, "binary", 0, seed=0)
    assert task == "binary" and k2 is kernel
    k2, b2, task = extend_head(kernel, bias, "binary", 1, seed=0)
    assert task == "multiclass" and k2.shape == (6, 3)
    sigmoid = 1 / (1 + np.exp(-(x @ kernel + bias)))[:, 0]
    soft = np.asarray(keras.ops.softmax(x @ k2[:, :2] + b2[:2]))
    np.testing.assert_allclose(soft[:, 1], sigmoid, rtol=1e-5)


def test_frozen_embedding_and_gradual_unfreezing(base):
    from textrecipes.workflows.finetune import finetune, load_run

    result, files, tmp = base
    _, _, _, old = load_run(result.run_dir)
    old_embedding = old.get_layer("embedding").get_weights()[0]
    old_lstm = old.get_layer("lstm").get_weights()[0]
    frozen = finetune(result.run_dir, files["rt_train"], out_dir=str(tmp / "frozen"), freeze="embedding",
                      epochs=1, learning_rate=0.01, verbose=0)
    _, _, _, model = load_run(frozen.run_dir)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], old_embedding)
    assert not np.allclose(model.get_layer("lstm").get_weights()[0], old_lstm)
    # Gradual, 2 epochs: the head, then head + LSTM; the embedding never unfreezes.
    gradual = finetune(result.run_dir, files["rt_train"], out_dir=str(tmp / "gradual"), freeze="gradual",
                       layer_lr_decay=2.6, epochs=2, learning_rate=0.01, verbose=0)
    _, _, _, model = load_run(gradual.run_dir)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], old_embedding)
    assert not np.allclose(model.get_layer("lstm").get_weights()[0], old_lstm)
    assert len(gradual.history["loss"]) == 2
    with open(os.path.join(gradual.run_dir, "history.csv"), encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 3  # a header and one row per epoch, over both stages


def test_layer_rates_scale_each_layer_and_reload():
    from textrecipes.models.classifiers import build_lstm_classifier
    from textrecipes.training.transfer import group_rates
    from textrecipes.training.optimizers import LayerRateAdam, with_layer_rates

    model = build_lstm_classifier(60, 2, embedding_dim=8, units=4, ngram_buckets=0, bidirectional=False)
    assert group_rates(model, 2.6) == {"probabilities": 1.0, "lstm": 1 / 2.6, "embedding": 1 / 2.6**2}
    optimizer = with_layer_rates(keras.optimizers.Adam(0.01), {"embedding": 0.0, "lstm": 0.1})
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    x = np.random.default_rng(0).integers(2, 60, (64, 9))
    y = np.random.default_rng(1).integers(0, 2, (64, 1))
    before = [layer.get_weights()[0].copy() for layer in (model.get_layer(n) for n in ("embedding", "lstm", "probabilities"))]
    model.fit(x, y, epochs=2, verbose=0)
    after = [model.get_layer(n).get_weights()[0] for n in ("embedding", "lstm", "probabilities")]
    moved = [float(np.abs(a - b).max()) for a, b in zip(after, before)]
    assert moved[0] == 0.0 and 0 < moved[1] < moved[2]
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(again, LayerRateAdam) and again.layer_rates == {"embedding": 0.0, "lstm": 0.1}


def test_unknown_labels_without_permission_name_file_line_and_flag(base):
    from textrecipes.cli import main
    from textrecipes.data.records import DataError
    from textrecipes.workflows.finetune import finetune

    result, files, tmp = base
    with pytest.raises(DataError) as err:
        finetune(result.run_dir, files["new_train"], out_dir=str(tmp / "refused"), verbose=0)
    message = str(err.value)
    with open(files["new_train"], encoding="utf-8") as f:
        first = next(i for i, line in enumerate(f, 1) if line.startswith("fortune\t"))
    assert f"{files['new_train']}:{first}:" in message and "'fortune'" in message and "--extend-labels" in message
    assert main(["finetune", result.run_dir, files["new_train"], "--out", str(tmp / "refused_cli"), "--quiet"]) == 2


@pytest.mark.parametrize("damage", ["no_labels", "garbled_labels", "no_model", "garbled_model", "no_vocabulary"])
def test_corrupted_run_folder_is_a_clear_error(base, damage, tmp_path):
    from textrecipes.export.metadata import RunFolderError
    from textrecipes.workflows.finetune import finetune

    result, files, _ = base
    run = tmp_path / "run"
    shutil.copytree(result.run_dir, run, ignore=shutil.ignore_patterns("saved_model", "checkpoints"))
    name = {"no_labels": "labels.json", "garbled_labels": "labels.json", "no_model": "model.keras",
            "garbled_model": "model.keras", "no_vocabulary": "vocabulary.json"}[damage]
    if damage.startswith("no_"):
        os.remove(run / name)
    else:
        (run / name).write_text("{not json" if name.endswith(".json") else "not a zip file")
    with pytest.raises(RunFolderError, match=name.replace(".", r"\.")):
        finetune(str(run), files["rt_train"], out_dir=str(tmp_path / "out"), verbose=0)


def test_a_run_from_before_newer_model_keys_is_rebuilt_as_it_was_trained(tmp_path):
    """A run folder from before model.rnn_length, ngram_words and ngram_pooling existed has none of them in its
    recipe.toml, and its model differs from today's defaults in all three; fine-tuning must rebuild that model
    (at a rate of 1e-12 the fine-tuned model predicts what the old one did)."""
    from textrecipes.export.predictors import Predictor
    from textrecipes.workflows.finetune import finetune
    from textrecipes.workflows.train import train

    old_defaults = {"rnn_length": 0, "ngram_words": False, "ngram_pooling": "mean"}
    recipe = {"name": "old", "data": {"train": write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 300)},
              "tokenize": {"max_length": 64}, "model": {**TINY, **old_defaults, "name": "lstm"}, "train": {"epochs": 1},
              "callbacks": {"early_stopping": False, "backup": False}, "export": {"saved_model": False}}
    old = train(recipe, run_dir=str(tmp_path / "run"), verbose=0)
    path = os.path.join(old.run_dir, "recipe.toml")
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if line.split("=")[0].strip() not in old_defaults]
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)
    out = finetune(old.run_dir, write_slice(rt_path("validation"), str(tmp_path / "new.tsv"), 100),
                   out_dir=str(tmp_path / "ft"), learning_rate=1e-12, epochs=1, verbose=0)
    inner = keras.saving.load_model(os.path.join(out.run_dir, "model.keras")).get_layer("lstm_classifier")
    names = {layer.name for layer in inner.layers}
    assert "first_tokens" not in names and not inner.get_layer("bigrams").words
    assert inner.get_layer("bigram_mean").modes == ("mean",)
    texts = [line.split("\t", 1)[1] for line in _lines(rt_path("test"), 0, 20)]
    before = [p for _, p in Predictor(old.run_dir).predict(texts)]
    after = [p for _, p in Predictor(out.run_dir).predict(texts)]
    np.testing.assert_allclose(after, before, atol=1e-4)


@pytest.mark.parametrize("model_name", ["linear"])  # auto fine-tunes through its LSTM member (test_auto.py)
def test_linear_runs_are_refused_with_what_to_do_instead(base, model_name, tmp_path):
    from textrecipes.export.metadata import RunFolderError
    from textrecipes.recipe.loading import load_recipe, to_toml
    from textrecipes.workflows.finetune import finetune

    result, files, _ = base
    run = tmp_path / "run"
    shutil.copytree(result.run_dir, run, ignore=shutil.ignore_patterns("saved_model", "checkpoints"))
    recipe = load_recipe(str(run / "recipe.toml"))
    recipe["model"]["name"] = model_name
    (run / "recipe.toml").write_text(to_toml(recipe, str(run)), encoding="utf-8")
    with pytest.raises(RunFolderError, match=rf"model.name = '{model_name}' runs cannot be fine-tuned yet.*textrecipes train"):
        finetune(str(run), files["rt_train"], out_dir=str(tmp_path / "out"), verbose=0)
    assert not (tmp_path / "out").exists()
