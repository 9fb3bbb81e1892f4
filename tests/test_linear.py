"""The linear TF-IDF classifier (`textrecipes.models.linear`, `textrecipes.models.tfidf`): features equal scikit-learn's, padding is
invisible, naive-Bayes ratios follow Wang & Manning, and a trained model over raw strings
reloads from .keras (fresh process) and from the SavedModel with the same predictions."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras
from conftest import ROOT, rt_path, write_slice
from textrecipes.data.readers import read_classification
from textrecipes.export.predictors import Predictor
from textrecipes.models.classifiers import build_cnn_classifier
from textrecipes.models.linear import SparseLinear, adapt_model, build_linear_classifier
from textrecipes.models.tfidf import TfidfFeatures, to_scipy
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, tokenize


@pytest.fixture(scope="module")
def corpus():
    """200 real reviews, tokenized, with a vocabulary that covers them all."""
    records = read_classification(rt_path("validation")).records[:200]
    texts = [r.text for r in records]
    tokens = tokenize(texts)
    vocab = Vocabulary.build(tokens, max_tokens=None)
    ids = TextVectorizer(vocab.tokens, max_length=512)(np.array(texts, dtype=object)).numpy()
    labels = np.array([[1.0 if r.label == "fresh" else 0.0] for r in records], "float32")
    return {"texts": texts, "tokens": tokens, "vocab": vocab, "ids": ids, "labels": labels}


def _sklearn_tfidf(analyzer, docs):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, lowercase=False)
    return vec, vec.fit_transform(docs)


def test_unigram_tfidf_equals_scikit_learns(corpus):
    layer = TfidfFeatures(len(corpus["vocab"]), ngram_range=(1, 1)).adapt(corpus["ids"])
    ours = to_scipy(*layer(corpus["ids"]), layer.num_features)
    vec, theirs = _sklearn_tfidf(lambda tokens: tokens, corpus["tokens"])
    columns = corpus["vocab"].ids(list(vec.get_feature_names_out()))
    np.testing.assert_allclose(layer.idf.numpy()[columns], vec.idf_, atol=1e-5)
    np.testing.assert_allclose(ours[:, columns].toarray(), theirs.toarray(), atol=1e-5)
    assert ours.nnz == theirs.nnz  # nothing outside scikit-learn's features (no OOV, no padding)


def test_words_and_hashed_bigrams_equal_scikit_learns_when_no_bucket_collides(corpus):
    """The (1, 2) features are sklearn's ngram_range=(1, 2) TF-IDF, bigrams moved to their buckets."""
    layer = TfidfFeatures(len(corpus["vocab"]), ngram_buckets=2**24, ngram_range=(1, 2)).adapt(corpus["ids"])
    ours = to_scipy(*layer(corpus["ids"]), layer.num_features)
    vec, theirs = _sklearn_tfidf(lambda t: t + [f"{a} {b}" for a, b in zip(t, t[1:])], corpus["tokens"])
    tables, vocab = layer.hash_tables.numpy(), corpus["vocab"]

    def column(feature):
        words = feature.split(" ")
        if len(words) == 1:
            return vocab.ids(words)[0]
        a, b = vocab.ids(words)
        return len(vocab) + int(tables[0][a] ^ tables[1][b]) % layer.ngram_buckets

    columns = [column(f) for f in vec.get_feature_names_out()]
    assert len(set(columns)) == len(columns)  # no collision in this corpus, so the match must be exact
    np.testing.assert_allclose(ours[:, columns].toarray(), theirs.toarray(), atol=1e-5)
    assert ours.nnz == theirs.nnz


def test_padding_never_changes_the_features_or_the_prediction(corpus):
    model = build_linear_classifier(len(corpus["vocab"]), 3, task="multiclass", ngram_buckets=1024,
                                    ngram_range=(1, 3), naive_bayes=True)
    ids = corpus["ids"][:50]
    adapt_model(model, ids, np.arange(50) % 3)
    model.get_layer("probabilities").kernel.assign(np.random.default_rng(0).normal(size=(model.get_layer("tfidf").num_features, 3)))
    padded = np.pad(ids, ((0, 0), (0, 37)))
    layer = model.get_layer("tfidf")
    for unit in range(3):
        a = to_scipy(layer(ids)[0], layer(ids)[1][..., unit], layer.num_features)
        b = to_scipy(layer(padded)[0], layer(padded)[1][..., unit], layer.num_features)
        assert abs(a - b).max() < 1e-6
    np.testing.assert_allclose(model(ids), model(padded), atol=1e-6)
    one = model(ids[:1, : int((ids[0] > 0).sum())])  # a batch of one, unpadded
    np.testing.assert_allclose(one, model(ids[:1]), atol=1e-6)


def test_naive_bayes_ratios_follow_wang_and_manning(corpus):
    ids, y = corpus["ids"], corpus["labels"]
    layer = TfidfFeatures(len(corpus["vocab"]), ngram_range=(1, 1), nb_units=1, nb_alpha=1.0).adapt(ids, y)
    present = (to_scipy(*TfidfFeatures(len(corpus["vocab"]), ngram_range=(1, 1))(ids), layer.num_features) > 0)
    present = present.toarray().astype(float)
    p = 1.0 + present[y[:, 0] == 1].sum(axis=0)  # binarized counts, alpha = 1
    q = 1.0 + present[y[:, 0] == 0].sum(axis=0)
    expected = np.log(p / p.sum()) - np.log(q / q.sum())
    np.testing.assert_allclose(layer.nb_ratios.numpy()[:, 0], expected, atol=1e-5)
    # The values are the TF-IDF row times the ratio of each feature, L2-normalised again.
    plain = TfidfFeatures(len(corpus["vocab"]), ngram_range=(1, 1)).adapt(ids)
    ids_nb, values_nb = layer(ids[:5])
    ids_plain, values_plain = plain(ids[:5])
    scaled = values_plain.numpy() * expected[ids_nb.numpy()]
    scaled /= np.linalg.norm(scaled, axis=1, keepdims=True)
    np.testing.assert_allclose(values_nb.numpy()[..., 0], scaled, atol=1e-5)
    # One-vs-rest for three classes: class 0's ratio is the binary ratio of "class 0 vs the rest".
    classes = np.arange(len(ids)) % 3
    multi = TfidfFeatures(len(corpus["vocab"]), ngram_range=(1, 1), nb_units=3).adapt(ids, classes)
    binary = TfidfFeatures(len(corpus["vocab"]), ngram_range=(1, 1), nb_units=1).adapt(ids, (classes == 0)[:, None])
    np.testing.assert_allclose(multi.nb_ratios.numpy()[:, 0], binary.nb_ratios.numpy()[:, 0], atol=1e-5)


def test_trained_to_convergence_it_is_scikit_learns_logistic_regression(corpus):
    """Same features, same objective (c = C): the probabilities agree with LogisticRegression(C)."""
    import tensorflow as tf
    from sklearn.linear_model import LogisticRegression

    ids, y = corpus["ids"], corpus["labels"]
    model = build_linear_classifier(len(corpus["vocab"]), 2, ngram_range=(1, 1), c=1.0)
    assert adapt_model(model, ids, y) == ["tfidf"]
    head = model.get_layer("probabilities")
    assert head.num_texts == len(ids) and head.penalty_strength() == pytest.approx(1 / (2 * len(ids)))
    x = to_scipy(*model.get_layer("tfidf")(ids), model.get_layer("tfidf").num_features)
    reference = LogisticRegression(C=1.0, tol=1e-8, max_iter=5000).fit(x, y[:, 0]).predict_proba(x)[:, 1]
    # Full-batch steps with a decaying rate: a strongly convex problem, so the optimum is reached.
    rate = keras.optimizers.schedules.ExponentialDecay(1.0, 100, 0.5)
    model.compile(keras.optimizers.SGD(rate, momentum=0.9), "binary_crossentropy")
    model.fit(tf.data.Dataset.from_tensors((ids, y)).repeat(1500), epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.predict(ids, verbose=0)[:, 0], reference, atol=2e-3)
    assert reference.std() > 0.05  # not a trivial, constant solution


def test_bad_settings_and_missing_targets_are_named():
    with pytest.raises(ValueError, match="ngram_range"):
        TfidfFeatures(100, ngram_range=(2, 7))
    with pytest.raises(ValueError, match="vocabulary_size"):
        TfidfFeatures(2)
    with pytest.raises(ValueError, match="need the training targets"):
        TfidfFeatures(100, nb_units=1).adapt(np.array([[2, 3]]))
    with pytest.raises(ValueError, match="class ids"):
        TfidfFeatures(100, nb_units=3).adapt(np.array([[2, 3]]), np.array([5]))
    with pytest.raises(ValueError, match="task"):
        build_linear_classifier(100, 2, task="regression")
    assert adapt_model(build_cnn_classifier(50, 2, embedding_dim=4, units=2), np.array([[2, 3]])) == []


def test_layers_round_trip_their_config():
    layer = TfidfFeatures(100, ngram_buckets=512, ngram_range=(1, 3), sublinear_tf=False, count_oov=True, nb_units=4)
    again = TfidfFeatures.from_config(layer.get_config())
    assert again.get_config() == layer.get_config() and again.num_features == 612
    head = SparseLinear(612, units=4, activation="softmax", l2=1e-5)
    assert SparseLinear.from_config(head.get_config()).get_config() == head.get_config()


def small_linear_recipe(tmp, **model) -> dict:
    """The linear recipe on 2,000 Rotten Tomatoes reviews, validation 600, the whole test split."""
    return {
        "name": "linear_small",
        "data": {"train": write_slice(rt_path("train"), str(tmp / "train.tsv"), 2000),
                 "validation": write_slice(rt_path("validation"), str(tmp / "validation.tsv"), 600),
                 "test": rt_path("test")},
        "model": {"name": "linear", "ngram_buckets": 65536, **model},
        "callbacks": {"checkpoint": False, "backup": False},
    }


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    """The linear recipe trained by `textrecipes.train` (its default solver, lbfgs; a few seconds)."""
    from textrecipes.workflows.train import train

    tmp = tmp_path_factory.mktemp("linear_run")
    return train(small_linear_recipe(tmp), run_dir=str(tmp / "run"), verbose=0)


def test_the_linear_recipe_is_lbfgs_at_a_c_picked_on_validation_with_no_epochs(linear_run):
    from sklearn.linear_model import LogisticRegression

    from textrecipes.tasks.auto import LINEAR_CS

    with open(os.path.join(linear_run.run_dir, "metrics.json")) as f:
        fit = json.load(f)["linear_fit"]
    assert fit["solver"] == "lbfgs" and fit["c"] in LINEAR_CS and fit["texts"] == 2000
    assert max(fit["grid"], key=lambda row: (row["accuracy"] + row["macro_f1"], -row["log_loss"]))["c"] == fit["c"]
    assert {k: len(v) for k, v in linear_run.history.items()} == {"accuracy": 1, "loss": 1, "val_accuracy": 1,
                                                                  "val_loss": 1}  # the solver's scores, one row
    with open(os.path.join(linear_run.run_dir, "history.csv")) as f:
        rows = f.read().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(rows) == 2
    assert abs(float(rows[1].split(",")[3]) - fit["val_accuracy"]) < 1e-4  # the chosen C's validation accuracy
    # The Keras weights are scikit-learn's optimum on the model's own TF-IDF rows at that C.
    model = linear_run.model
    tfidf = [layer for layer in model._flatten_layers() if isinstance(layer, TfidfFeatures)][0]
    head = [layer for layer in model._flatten_layers() if isinstance(layer, SparseLinear)][0]
    records = read_classification(os.path.join(os.path.dirname(linear_run.recipe["data"]["train"]), "train.tsv")).records
    vectorizer = [layer for layer in model._flatten_layers() if isinstance(layer, TextVectorizer)][0]
    rows = to_scipy(*[keras.ops.convert_to_numpy(t) for t in tfidf(vectorizer(np.array([r.text for r in records],
                                                                                         dtype=object)))],
                    tfidf.num_features)
    y = np.array([r.label == linear_run.labels[1] for r in records], int)  # the sigmoid unit is the second label
    reference = LogisticRegression(C=fit["c"], max_iter=1000).fit(rows, y)
    ours = keras.ops.convert_to_numpy(head.kernel)[:, 0]
    assert np.corrcoef(ours, reference.coef_[0])[0, 1] > 0.999


def test_solver_fit_trains_the_linear_recipe_with_model_fit_and_lbfgs_refusals_say_why(tmp_path):
    from textrecipes.workflows.train import train

    recipe = small_linear_recipe(tmp_path, solver="fit")
    recipe.update({"optimizer": {"name": "sgd"}, "schedule": {"learning_rate": 4.0},
                   "train": {"epochs": 3, "batch_size": 64}})
    fitted = train(recipe, run_dir=str(tmp_path / "fit"), verbose=0)
    assert len(fitted.history["loss"]) == 3 and fitted.history["loss"][-1] < fitted.history["loss"][0]
    assert fitted.metrics["accuracy"] > 0.62  # majority 0.58
    with open(os.path.join(fitted.run_dir, "metrics.json")) as f:
        assert "linear_fit" not in json.load(f)
    augmented = small_linear_recipe(tmp_path, solver="lbfgs")
    augmented.update({"augment": {"enabled": True, "source": "none"}, "train": {"epochs": 1}})
    run = train(augmented, run_dir=str(tmp_path / "augmented"), verbose=0)
    with open(os.path.join(run.run_dir, "metrics.json")) as f:
        fit = json.load(f)["linear_fit"]
    assert fit["solver"] == "fit" and "augment.enabled" in fit["why_not_lbfgs"] and len(run.history["loss"]) == 1


def test_linear_recipe_learns_rotten_tomatoes_well_above_chance(linear_run):
    model = linear_run.model
    tfidf = [layer for layer in model._flatten_layers() if isinstance(layer, TfidfFeatures)][0]
    assert tfidf.is_adapted and float(tfidf.documents.numpy()) == 2000  # the task fitted the idf on train only,
    # and the evaluated (uncompiled) copy received it with the other weights
    counts = np.array(linear_run.metrics["confusion_matrix"]).sum(axis=1)  # test texts per true label
    majority = counts.max() / counts.sum()  # 0.58: "fresh"
    assert linear_run.metrics["accuracy"] > majority + 0.08, (linear_run.metrics["accuracy"], majority)  # 0.68 here
    with open(os.path.join(linear_run.run_dir, "metrics.json")) as f:
        assert json.load(f)["export_check"]["max_abs_diff"] <= 1e-5


RELOAD = """
import json, sys
import numpy as np
import keras
# 'import textrecipes' alone registers every Keras object (textrecipes.keras_objects), the linear layers included.
import textrecipes
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
texts = json.loads(sys.argv[2])
print("PROBS", json.dumps(model.predict(np.array(texts, dtype=object), verbose=0).tolist()))
"""


def test_end_to_end_model_reloads_in_a_fresh_process_and_from_the_saved_model(linear_run):
    texts = ["a warm , funny and moving film", "dull , tedious and far too long", "", "zzzz qqqq",
             " ".join(["a long , long review of a film that never ends"] * 150)]
    expected = linear_run.model.predict(np.array(texts, dtype=object), verbose=0)[:, 0]
    done = subprocess.run([sys.executable, "-c", RELOAD, os.path.join(linear_run.run_dir, "model.keras"), json.dumps(texts)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stderr[-3000:]
    reloaded = np.array(json.loads(done.stdout.split("PROBS ", 1)[1]))[:, 0]
    np.testing.assert_allclose(reloaded, expected, atol=1e-5)
    exported = Predictor(os.path.join(linear_run.run_dir, "saved_model")).predict_proba(texts)[:, 1]
    np.testing.assert_allclose(exported, expected, atol=1e-5)
    assert len(set(np.round(expected, 4))) >= 4  # the texts get different scores: a real check
