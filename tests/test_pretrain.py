"""LSTM language-model pretraining on a plain corpus, then a classifier that starts from it."""

import json
import os

import numpy as np
import pytest

from conftest import rt_path, write_slice
from textrecipes.models.auto import single_model

LM = {"embedding_dim": 16, "units": 16}


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """A tiny LM pretrained through the CLI on 800 Rotten Tomatoes texts without their labels."""
    from textrecipes.cli import main

    tmp = tmp_path_factory.mktemp("pretrain")
    with open(rt_path("train"), encoding="utf-8") as f:
        texts = [line.split("\t", 1)[1] for line in f.read().splitlines()[400:1200]]
    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(texts) + "\n\n", encoding="utf-8")  # a blank line: skipped and counted
    run_dir = str(tmp / "lm")
    assert main(["pretrain", str(corpus), "--run-dir", run_dir, "--embedding-dim", "16", "--units", "16",
                 "--max-tokens", "3000", "--epochs", "2", "--seq-len", "32", "--quiet"]) == 0
    return run_dir


def test_pretrain_writes_a_language_model_and_its_perplexity(lm_dir):
    for name in ("lm.keras", "vocabulary.json", "lm.json", "metrics.json", "history.csv"):
        assert os.path.exists(os.path.join(lm_dir, name)), name
    with open(os.path.join(lm_dir, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    assert 1 < metrics["validation_perplexity"] < 3000  # below uniform over the vocabulary
    assert metrics["train_loss"][-1] < metrics["train_loss"][0]
    assert metrics["corpus"]["kept"] == 800 and metrics["corpus"]["lines_read"] == 801
    with open(os.path.join(lm_dir, "lm.json"), encoding="utf-8") as f:
        meta = json.load(f)
    assert (meta["embedding_dim"], meta["units"], meta["vocabulary_size"]) == (16, 16, 3000)
    assert (meta["tie_weights"], meta["input_dropout"], meta["output_dropout"]) == (True, 0.1, 0.2)  # the defaults


def test_classifier_starts_from_the_lm_weights(lm_dir):
    from textrecipes.models.classifiers import build_lstm_classifier
    from textrecipes.tasks.language_model import init_from_lm, load_language_model

    lm, vocab, _ = load_language_model(lm_dir)
    for bidirectional in (False, True):
        model = build_lstm_classifier(len(vocab), 2, bidirectional=bidirectional, ngram_buckets=0, **LM)
        lstm = model.get_layer("bilstm").forward_layer if bidirectional else model.get_layer("lstm")
        random_init = [w.copy() for w in model.get_layer("embedding").get_weights() + lstm.get_weights()]
        copied = init_from_lm(model, lm, layers="embedding_lstm")
        assert copied == ["embedding", "bilstm.forward" if bidirectional else "lstm"]
        now = model.get_layer("embedding").get_weights() + lstm.get_weights()
        lm_weights = lm.get_layer("embedding").get_weights() + lm.get_layer("lstm").get_weights()
        for got, want, before in zip(now, lm_weights, random_init):
            np.testing.assert_array_equal(got, want)
            assert not np.allclose(got, before)


def test_pretrain_then_finetune_end_to_end_with_gradual_unfreezing(lm_dir, tmp_path):
    from textrecipes.tasks.language_model import load_language_model
    from textrecipes.workflows.train import train

    recipe = {
        "data": {"train": write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 400),
                 "validation": write_slice(rt_path("validation"), str(tmp_path / "val.tsv"), 150),
                 "test": write_slice(rt_path("test"), str(tmp_path / "test.tsv"), 150)},
        "model": {**LM, "bidirectional": False, "ngram_buckets": 1024, "ngram_dim": 8, "init_from": lm_dir,
                  "init_from_layers": "embedding_lstm"},
        "train": {"epochs": 2, "unfreeze": "gradual", "layer_lr_decay": 2.6},
        "callbacks": {"early_stopping": False, "backup": False},
    }
    result = train(recipe, run_dir=str(tmp_path / "run"), verbose=0)
    with open(os.path.join(result.run_dir, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    assert metrics["export_check"]["max_abs_diff"] <= 1e-5 and metrics["epochs_run"] == 2
    with open(os.path.join(result.run_dir, "history.csv"), encoding="utf-8") as f:
        rows = f.read().splitlines()
    assert len(rows) == 3 and "learning_rate" in rows[0].split(",")  # both stages, every column
    with open(os.path.join(result.run_dir, "vocabulary.json"), encoding="utf-8") as f, \
            open(os.path.join(lm_dir, "vocabulary.json"), encoding="utf-8") as g:
        assert json.load(f)["tokens"] == json.load(g)["tokens"]  # the LM's ids
    lm, _, _ = load_language_model(lm_dir)
    classifier = single_model([layer for layer in result.model.layers if hasattr(layer, "get_layer")][0])  # auto: LSTM
    # Two epochs of gradual unfreezing: the head, then head + LSTM; the embedding is still the LM's.
    np.testing.assert_array_equal(classifier.get_layer("embedding").get_weights()[0], lm.get_layer("embedding").get_weights()[0])
    assert not np.allclose(classifier.get_layer("lstm").get_weights()[0], lm.get_layer("lstm").get_weights()[0])


def test_mismatched_sizes_and_missing_lm_are_clear_errors(lm_dir, tmp_path):
    from textrecipes.recipe.loading import RecipeError
    from textrecipes.workflows.train import train

    recipe = {"data": {"train": write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 100)},
              "model": {"embedding_dim": 16, "units": 32, "init_from": lm_dir}}
    with pytest.raises(RecipeError, match=r"model\.units.*set model\.units = 16"):
        train(recipe, run_dir=str(tmp_path / "a"), verbose=0)
    recipe["model"].update(units=16, init_from=str(tmp_path / "no_lm"))
    with pytest.raises(RecipeError, match=r"model\.init_from = .*no_lm.*: no such folder"):
        train(recipe, run_dir=str(tmp_path / "b"), verbose=0)  # before any run folder is made
    assert not (tmp_path / "b").exists()


def test_tied_language_model_scores_words_with_its_own_embedding_matrix():
    import keras

    from textrecipes.tasks.language_model import build_language_model

    lm = build_language_model(40, embedding_dim=8, units=6, seed=0)
    names = [layer.name for layer in lm.layers]
    assert "next_token" not in names and "projection" in names
    ids = np.array([[5, 7, 9, 0], [3, 0, 0, 0]], "int32")
    states = keras.Model(lm.input, lm.get_layer("projection").output)(ids, training=False)
    embedding = lm.get_layer("embedding").get_weights()
    assert len(embedding) == 1  # one matrix: no separate output layer
    want = np.asarray(states) @ embedding[0].T
    np.testing.assert_allclose(np.asarray(lm(ids, training=False)), want, rtol=1e-5, atol=1e-5)
    # Dropout only while training: inference is deterministic, training is not.
    np.testing.assert_array_equal(np.asarray(lm(ids, training=False)), np.asarray(lm(ids, training=False)))
    assert not np.allclose(np.asarray(lm(ids, training=True)), np.asarray(lm(ids, training=False)))
    untied = build_language_model(40, embedding_dim=8, units=6, tie_weights=False, input_dropout=0, output_dropout=0)
    assert "next_token" in [layer.name for layer in untied.layers]
    with pytest.raises(ValueError, match="output_dropout"):
        build_language_model(40, output_dropout=1.0)


def test_pretrain_command_line_passes_the_output_layer_and_dropout_options(monkeypatch):
    import textrecipes.tasks.language_model
    from textrecipes.cli import main

    seen = {}
    monkeypatch.setattr(textrecipes.tasks.language_model, "pretrain", lambda corpus, **kw: seen.update(kw, corpus=corpus))
    assert main(["pretrain", "c.txt", "--untied", "--input-dropout", "0", "--output-dropout", "0.3", "--quiet"]) == 0
    assert (seen["corpus"], seen["tie_weights"], seen["input_dropout"], seen["output_dropout"]) == ("c.txt", False, 0.0, 0.3)


def test_init_from_layers_embedding_copies_the_word_vectors_alone(lm_dir, tmp_path):
    from textrecipes.models.classifiers import build_lstm_classifier
    from textrecipes.tasks.language_model import init_from_lm, load_language_model
    from textrecipes.recipe.loading import RecipeError, load_recipe

    lm, vocab, _ = load_language_model(lm_dir)
    model = build_lstm_classifier(len(vocab), 2, ngram_buckets=0, **LM)
    lstm_before = [w.copy() for w in model.get_layer("bilstm").get_weights()]
    assert init_from_lm(model, lm, layers="embedding") == ["embedding"]
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], lm.get_layer("embedding").get_weights()[0])
    for got, before in zip(model.get_layer("bilstm").get_weights(), lstm_before):
        np.testing.assert_array_equal(got, before)  # the LSTM keeps its random start
    with pytest.raises(ValueError, match="layers"):
        init_from_lm(model, lm, layers="lstm")
    given = {"data": {"train": "t.tsv"}, "model": {"init_from_layers": "embedding"}}
    assert load_recipe(given)["model"]["init_from_layers"] == "embedding"
    with pytest.raises(RecipeError, match="init_from_layers"):
        load_recipe({"data": {"train": "t.tsv"}, "model": {"init_from_layers": "lstm"}})
