"""Model recipes beside the LSTM (GRU, CNN, fastText, attention, stacking), regularization
options, label smoothing, class weights and pretrained vectors: real training on Rotten
Tomatoes slices, export agreement, padding invariance, clear errors for bad vector files."""

import json
import os

import numpy as np
import pytest

import keras
from conftest import SAMPLES, SMALL_MODEL, rt_path, write_slice
from textrecipes.data.records import DataError
from textrecipes.export.predictors import Predictor
from textrecipes.models.classifiers import (
    BUILDERS,
    INITIALIZERS,
    build_cnn_classifier,
    build_fasttext_classifier,
    build_gru_classifier,
    build_lstm_classifier,
)
from textrecipes.models.layers import AttentionPooling
from textrecipes.models.losses import SparseCategoricalCrossentropyWithSmoothing, loss_for
from textrecipes.recipe.loading import RecipeError, load_recipe
from textrecipes.recipe.schema import choices_of, lookup
from textrecipes.tasks.classification import balanced_class_weights
from textrecipes.workflows.train import train
from textrecipes.text.vectors import apply_vectors, load_vectors

VECTORS = os.path.join(SAMPLES, "rt_vectors.txt")  # 500 RT words, dim 32 (benchmarks/make_rt_vectors.py)

# Each recipe with a non-default option of its own, so every path is trained once.
RECIPES = {
    "lstm": {"pooling": "attention", "normalization": "layer"},
    "gru": {"layers": 2, "initializer": "orthogonal"},
    "cnn": {"kernel_sizes": [2, 3], "normalization": "batch", "hidden_units": 16},
    "fasttext": {"initializer": "he_normal", "l2": 1e-4},
}


@pytest.fixture(scope="module")
def rt_slices(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rt_slices")
    return {split: write_slice(rt_path(split), str(tmp / f"{split}.tsv"), n)
            for split, n in (("train", 400), ("validation", 150), ("test", 150))}


def small_recipe(name, slices, **model):
    return {"name": f"recipe_{name}", "data": dict(slices),
            "model": {**SMALL_MODEL, "name": name, **model},
            "train": {"epochs": 2, "batch_size": 32},
            "callbacks": {"checkpoint": False, "backup": False}}


def test_every_builder_is_a_recipe_choice():
    assert set(BUILDERS) == set(choices_of(lookup(("model", "name"))))
    assert set(INITIALIZERS) == set(choices_of(lookup(("model", "initializer"))))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_trains_exports_and_the_export_agrees(name, rt_slices, tmp_path):
    result = train(small_recipe(name, rt_slices, **RECIPES[name]), run_dir=str(tmp_path / "run"), verbose=0)
    with open(os.path.join(result.run_dir, "metrics.json")) as f:
        summary = json.load(f)
    assert summary["model"] == name
    assert summary["export_check"]["max_abs_diff"] <= 1e-5 and summary["export_check"]["texts"] > 100
    assert np.isfinite(result.history["loss"]).all()
    texts = ["a warm , funny and moving film", "dull , tedious and far too long", ""]
    keras_probs = result.model.predict(np.array(texts, dtype=object), verbose=0).reshape(-1)
    exported = Predictor(result.run_dir).predict_proba(texts)[:, 1]
    np.testing.assert_allclose(exported, keras_probs, atol=1e-5)
    reloaded = keras.models.load_model(os.path.join(result.run_dir, "model.keras"), safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(np.array(texts, dtype=object), verbose=0).reshape(-1), keras_probs, atol=1e-5)


@pytest.mark.parametrize("build,kwargs", [
    (build_lstm_classifier, {"pooling": "attention"}),
    (build_gru_classifier, {"pooling": "attention", "layers": 2}),
    (build_cnn_classifier, {"kernel_sizes": (2, 5)}),
    (build_fasttext_classifier, {}),
])
def test_more_right_padding_never_changes_the_output(build, kwargs):
    model = build(60, 3, task="multiclass", embedding_dim=8, ngram_buckets=64, ngram_dim=4, seed=3, **kwargs)
    ids = np.array([[5, 6, 7, 8, 0], [9, 0, 0, 0, 0]])  # the second text is shorter than every kernel
    padded = np.pad(ids, ((0, 0), (0, 7)))
    np.testing.assert_allclose(model(ids, training=False), model(padded, training=False), atol=1e-6)


def test_attention_pooling_gives_padding_no_weight_and_reloads(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype("float32")
    mask = np.array([[True] * 6, [True, True, False, False, False, False]])
    x_changed = x.copy()
    x_changed[1, 2:] = 100.0  # huge values under the mask must not leak through
    layer = AttentionPooling(8, seed=1)
    np.testing.assert_allclose(layer(x, mask=mask), layer(x_changed, mask=mask), atol=1e-6)
    np.testing.assert_allclose(layer(x[1:, :2]), layer(x[1:], mask=mask[1:]), atol=1e-6)
    model = build_lstm_classifier(30, 2, embedding_dim=4, units=4, pooling="attention", ngram_buckets=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.models.load_model(path, safe_mode=True)
    ids = np.array([[3, 4, 5, 0]])
    np.testing.assert_allclose(model(ids), again(ids), atol=1e-6)


def test_cnn_max_pooling_never_picks_padding():
    model = build_cnn_classifier(20, 2, embedding_dim=4, units=3, kernel_sizes=(3,), dropout=0.0,
                                 embedding_dropout=0.0, token_dropout=0.0, seed=0)
    conv = model.get_layer("conv3")
    conv.set_weights([np.zeros_like(conv.kernel), -np.ones(3, "float32")])  # every real position: relu(-1) = 0
    pooled = keras.Model(model.input, model.get_layer("pooling").output)
    out = pooled(np.array([[4, 0, 0, 0]]), training=False).numpy()
    assert np.all(out == 0.0)  # the -1e4 fill of padded steps never wins, and nothing comes from padding
    conv.set_weights([np.zeros_like(conv.kernel), np.ones(3, "float32")])
    assert np.all(pooled(np.array([[4, 5, 0]]), training=False).numpy() == 1.0)


def test_stacked_rnns_and_gru_keep_cudnn_settings():
    model = build_gru_classifier(40, 2, embedding_dim=8, units=4, layers=3, ngram_buckets=0)
    grus = [model.get_layer(n).forward_layer for n in ("bigru", "bigru_2", "bigru_3")]
    assert all(g.reset_after and g.recurrent_dropout == 0 and g.activation.__name__ == "tanh" for g in grus)
    lstm = build_lstm_classifier(40, 2, embedding_dim=8, units=4, layers=2, bidirectional=False, pooling="last")
    assert lstm.get_layer("lstm").return_sequences and not lstm.get_layer("lstm_2").return_sequences


def test_options_reach_the_layers():
    model = build_fasttext_classifier(40, 3, task="multiclass", embedding_dim=8, normalization="batch",
                                      hidden_units=5, initializer="he_uniform", l1=1e-3)
    assert type(model.get_layer("hidden").kernel_initializer).__name__ == "HeUniform"
    assert model.get_layer("batch_norm") and model.get_layer("hidden").units == 5
    assert model.get_layer("probabilities").kernel_regularizer.l1 == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="initializer"):
        build_cnn_classifier(10, 2, initializer="zeros_please")
    with pytest.raises(ValueError, match="normalization"):
        build_gru_classifier(10, 2, normalization="group")
    with pytest.raises(RecipeError, match="model.normalization"):
        load_recipe({"data": {"train": "x.tsv"}, "model": {"normalization": "group"}})
    with pytest.raises(RecipeError, match="kernel_sizes"):
        load_recipe({"data": {"train": "x.tsv"}, "model": {"kernel_sizes": [3, 0]}})
    with pytest.raises(RecipeError, match="class_weight"):
        load_recipe({"data": {"train": "x.tsv", "multi_label": True}, "train": {"class_weight": "balanced"}})


def test_sparse_label_smoothing_equals_one_hot_categorical():
    y = np.array([0, 2, 1])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], "float32")
    ours = SparseCategoricalCrossentropyWithSmoothing(0.2)(y, p)
    reference = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(np.eye(3)[y], p)
    np.testing.assert_allclose(ours, reference, rtol=1e-6)
    assert loss_for("multiclass") == "sparse_categorical_crossentropy"
    assert loss_for("multilabel", 0.1).label_smoothing == 0.1


def test_label_smoothing_and_class_weights_change_training_and_are_recorded(rt_slices, tmp_path):
    base = small_recipe("fasttext", rt_slices)
    plain = train(base, run_dir=str(tmp_path / "plain"), verbose=0)
    tuned = train({**base, "train": {**base["train"], "label_smoothing": 0.1, "class_weight": "balanced"}},
                  run_dir=str(tmp_path / "tuned"), verbose=0)
    assert tuned.history["loss"] != plain.history["loss"]
    with open(os.path.join(tuned.run_dir, "metrics.json")) as f:
        summary = json.load(f)
    assert summary["label_smoothing"] == 0.1
    assert set(summary["class_weight"]) == {"fresh", "rotten"}
    assert tuned.metrics["accuracy"] > 0.5
    assert balanced_class_weights(np.array([0, 0, 0, 1]), 3) == {0: 0.6667, 1: 2.0, 2: 1.0}


def test_adamw_and_clipnorm_train(rt_slices, tmp_path):
    recipe = small_recipe("cnn", rt_slices)
    recipe["optimizer"] = {"name": "adamw", "weight_decay": 0.01, "clipnorm": 1.0}
    result = train(recipe, run_dir=str(tmp_path / "run"), verbose=0, overrides=["train.epochs=3"])
    assert result.history["loss"][-1] < result.history["loss"][0]


# ---------------------------------------------------------------------------
# Pretrained vectors.


def test_vectors_load_with_coverage_and_seeded_random_rows():
    vocab = ["the", "film", "good", "zzzunknownzzz", "FILM"]
    matrix, report = load_vectors(VECTORS, vocab, dim=32, counts={"the": 10, "film": 5, "good": 3, "zzzunknownzzz": 2})
    assert matrix.shape == (7, 32) and np.all(matrix[0] == 0)
    assert report["found"] == 4 and report["coverage"] == pytest.approx(0.8)  # FILM matches case-insensitively
    assert report["token_coverage"] == pytest.approx(18 / 20)
    with open(VECTORS) as f:
        rows = {line.split(" ")[0]: np.array(line.split()[1:], "float32") for line in f}
    np.testing.assert_array_equal(matrix[3], rows["film"])
    np.testing.assert_array_equal(matrix[6], rows["film"])
    again, _ = load_vectors(VECTORS, vocab, seed=0)
    np.testing.assert_array_equal(matrix, again)  # same seed, same random rows
    assert not np.array_equal(load_vectors(VECTORS, vocab, seed=1)[0][5], matrix[5])


def test_word2vec_header_is_accepted(tmp_path):
    path = tmp_path / "w2v.txt"
    path.write_text("2 3\ngood 1 2 3\nbad -1 -2 -3\n")
    matrix, report = load_vectors(path, ["bad", "good"])
    assert report["dim"] == 3 and matrix[2].tolist() == [-1, -2, -3]


@pytest.mark.parametrize("content,dim,message", [
    ("good 1 2 3\nbad 1 2\n", None, r"w\.txt:2: expected a word and 3 numbers \(from line 1\), but word 'bad' has 2"),
    ("good 1 2 3\nbad 1 x 3\n", None, r"w\.txt:2: 'x' is not a number \(word 'bad'\)"),
    ("good 1 2 3\n", 4, r"w\.txt:1: expected a word and 4 numbers \(from model\.embedding_dim\).*set model\.embedding_dim"),
    ("2 4\ngood 1 2 3 4\n", 3, r"w\.txt:1: .*dimension 4 but model\.embedding_dim = 3"),
    ("", None, r"w\.txt: no vectors"),
    ("3 2\ngood 1 2\n", None, r"w\.txt:3: file ends after 1 vectors but the header says 3"),
    ("good 1 nan 3\n", None, r"w\.txt:1: .*not finite"),
])
def test_bad_vector_files_name_file_and_line(tmp_path, content, dim, message):
    path = tmp_path / "w.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_vectors(path, ["good", "bad"], dim=dim)


def test_frozen_vectors_stay_and_unfrozen_ones_move():
    matrix, _ = load_vectors(VECTORS, ["the", "film", "good", "bad"], dim=32)
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 6, (64, 8)), rng.integers(0, 2, 64)
    for freeze in (True, False):
        model = build_fasttext_classifier(6, 2, embedding_dim=32, ngram_buckets=0, seed=0)
        apply_vectors(model, matrix, freeze=freeze)
        model.compile("adam", "binary_crossentropy")
        model.fit(x, y, epochs=2, verbose=0)
        after = model.get_layer("embedding").get_weights()[0]
        assert np.array_equal(after, matrix) == freeze


def test_recipe_with_vectors_reports_coverage(rt_slices, tmp_path):
    recipe = small_recipe("fasttext", rt_slices, embedding_dim=32, vectors=VECTORS, freeze_vectors=True)
    result = train(recipe, run_dir=str(tmp_path / "run"), verbose=0, overrides=["train.epochs=1"])
    with open(os.path.join(result.run_dir, "metrics.json")) as f:
        report = json.load(f)["vectors"]
    assert report["frozen"] and report["dim"] == 32 and 0.05 < report["coverage"] < 1
    assert report["token_coverage"] > 0.5  # the 500 most frequent RT words cover most running text
    with pytest.raises(DataError, match="rt_vectors.txt:1: .*model.embedding_dim"):
        train({**recipe, "model": {**recipe["model"], "embedding_dim": 16}}, run_dir=str(tmp_path / "bad"), verbose=0)


def test_cudnn_check_covers_gru():
    from textrecipes.training.distribute import cudnn_eligible

    assert cudnn_eligible(build_gru_classifier(40, 2, embedding_dim=8, units=4, layers=2)) == (True, [])
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(40, 8, mask_zero=True)(ids)
    x = keras.layers.GRU(4, reset_after=False, name="old_gru")(x)
    ok, reasons = cudnn_eligible(keras.Model(ids, keras.layers.Dense(1)(x)))
    assert not ok and reasons == ["GRU 'old_gru': reset_after=False (cuDNN needs True)"]


def test_the_cnn_recipe_file_loads():
    recipe = load_recipe(os.path.join(os.path.dirname(SAMPLES), "..", "recipes", "sentiment_cnn.toml"))
    assert recipe["model"]["name"] == "cnn" and recipe["model"]["kernel_sizes"] == [3, 4, 5]
