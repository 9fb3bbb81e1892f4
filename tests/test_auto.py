"""``model.name = "auto"`` (`textrecipes.models.auto`, `textrecipes.tasks.auto`): the LSTM and linear members in one
model, the blend's weight picked on validation, recorded, and carried by the exports."""

import json
import os

import numpy as np
import pytest

import keras
from conftest import folder_hashes
from textrecipes.export.predictors import Predictor
from textrecipes.models.auto import WEIGHTS, ProbabilityBlend
from textrecipes.models.classifiers import BUILDERS
from textrecipes.tasks.auto import LINEAR_CS

TOPICS = ("alpha", "beta", "gamma")


def _write_toy(path: str, n: int, seed: int, topics=TOPICS) -> str:
    """Three topics, each text holding its topic's keyword among random filler words: linear in the words."""
    rng = np.random.default_rng(seed)
    filler = [f"w{i}" for i in range(300)]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            label = topics[i % len(topics)]
            words = list(rng.choice(filler, size=12))
            words.insert(int(rng.integers(0, 12)), label)
            f.write(f"{label}\t{' '.join(words)}\n")
    return path


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    """An auto run whose LSTM member cannot learn (a learning rate of 1e-7): the linear member is the better one."""
    from textrecipes.workflows.train import train

    tmp = tmp_path_factory.mktemp("auto_run")
    recipe = {
        "name": "auto_toy",
        "data": {"train": _write_toy(str(tmp / "train.tsv"), 240, 0),
                 "validation": _write_toy(str(tmp / "validation.tsv"), 90, 1),
                 "test": _write_toy(str(tmp / "test.tsv"), 90, 2)},
        "model": {"name": "auto", "embedding_dim": 8, "units": 8, "ngram_buckets": 512, "ngram_dim": 8},
        "schedule": {"learning_rate": 1e-7},
        "train": {"epochs": 1},
        "evaluate": {"baseline": False},
        "callbacks": {"checkpoint": False, "backup": False},
    }
    return train(recipe, run_dir=str(tmp / "run"), verbose=0)


def _metrics(run):
    with open(os.path.join(run.run_dir, "metrics.json"), encoding="utf-8") as f:
        return json.load(f)


def test_the_weight_moves_to_the_better_linear_member_and_is_recorded(auto_run):
    auto = _metrics(auto_run)["auto"]
    members = auto["members"]
    lstm, linear, blend = (members[name]["validation"]["accuracy"] for name in ("lstm", "linear", "auto"))
    assert linear >= 0.9 and lstm < 0.6, (linear, lstm)  # the toy forces the linear member ahead
    assert auto["weight"] in WEIGHTS and auto["weight"] <= 0.3, auto["weight"]
    assert blend >= max(lstm, linear)  # on validation the blend never loses to either member
    assert [row["weight"] for row in auto["grid"]] == list(WEIGHTS)
    assert auto["linear_fit"]["solver"] == "lbfgs" and auto["linear_fit"]["c"] in LINEAR_CS
    # The evaluated model is the blend with that weight: its test report is the blend's.
    assert auto_run.metrics["accuracy"] == pytest.approx(members["auto"]["test"]["accuracy"], abs=1e-4)
    with open(os.path.join(auto_run.run_dir, "model_card.json"), encoding="utf-8") as f:
        assert json.load(f)["auto"]["weight"] == auto["weight"]


def test_the_exports_carry_the_chosen_weight_and_predict_as_the_trained_model(auto_run):
    texts = ["w1 alpha w2 w3", "beta w7 w8", "w9 w10 gamma", "", "w4 w5 w6"]
    expected = auto_run.model.predict(np.array(texts, dtype=object), verbose=0)
    metrics = _metrics(auto_run)
    assert metrics["export_check"]["max_abs_diff"] <= 1e-5
    exported = Predictor(os.path.join(auto_run.run_dir, "saved_model")).predict_proba(texts)
    np.testing.assert_allclose(exported, expected, atol=1e-5)
    reloaded = keras.saving.load_model(os.path.join(auto_run.run_dir, "model.keras"), safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(np.array(texts, dtype=object), verbose=0), expected, atol=1e-5)
    blends = [layer for layer in reloaded._flatten_layers() if isinstance(layer, ProbabilityBlend)]
    assert len(blends) == 1 and blends[0].value == pytest.approx(metrics["auto"]["weight"])
    assert np.argmax(expected[:3], axis=1).tolist() == [0, 1, 2]  # the keywords decide, as the linear member learnt


def test_the_blend_layer_checks_its_weight_and_round_trips_its_config():
    blend = ProbabilityBlend(0.3, name="probabilities")
    out = blend([np.array([[0.2, 0.8]], "float32"), np.array([[1.0, 0.0]], "float32")])
    np.testing.assert_allclose(out.numpy(), [[0.76, 0.24]], atol=1e-6)
    assert ProbabilityBlend.from_config(blend.get_config()).get_config() == blend.get_config()
    with pytest.raises(ValueError, match="weight must be in"):
        ProbabilityBlend(1.5)
    model = BUILDERS["auto"](50, 2, embedding_dim=4, units=4, ngram_buckets=32, linear_ngram_buckets=32, weight=0.0)
    assert [layer.name for layer in model.layers[1:]] == ["lstm_classifier", "linear_classifier", "probabilities"]
    with pytest.raises(TypeError):
        BUILDERS["auto"](50, 2, no_such_option=1)


def test_auto_is_the_default_model():
    from textrecipes.recipe.loading import default_recipe

    assert default_recipe()["model"]["name"] == "auto"


def test_an_auto_run_fine_tunes_with_a_new_label_and_new_words(auto_run, tmp_path):
    """The LSTM member is fine-tuned, the linear member fitted again on the new data, the weight chosen again."""
    from textrecipes.workflows.finetune import finetune

    topics = TOPICS + ("delta",)  # "delta" is a new label and a new word
    before = folder_hashes(auto_run.run_dir)
    result = finetune(auto_run.run_dir, _write_toy(str(tmp_path / "new.tsv"), 240, 3, topics),
                      validation=_write_toy(str(tmp_path / "val.tsv"), 80, 4, topics),
                      test=_write_toy(str(tmp_path / "test.tsv"), 80, 5, topics), out_dir=str(tmp_path / "ft"),
                      extend_labels=True, extend_vocabulary=True, epochs=1, verbose=0)
    assert folder_hashes(auto_run.run_dir) == before  # the source run is only read
    metrics = _metrics(result)
    assert result.labels == list(TOPICS) + ["delta"] and metrics["finetune"]["labels_added"] == ["delta"]
    assert metrics["finetune"]["words_added"] >= 1
    auto = metrics["auto"]
    assert auto["linear_fit"]["solver"] == "lbfgs" and [row["weight"] for row in auto["grid"]] == list(WEIGHTS)
    # The refitted linear member knows the new word: the new label is learnt (the LSTM member, at 1e-8, is not).
    assert auto["members"]["linear"]["test"]["accuracy"] >= 0.9 and result.metrics["accuracy"] >= 0.9
    texts = ["w3 delta w5", "alpha w1", ""]
    exported = Predictor(os.path.join(result.run_dir, "saved_model")).predict_proba(texts)
    np.testing.assert_allclose(exported, result.model.predict(np.array(texts, dtype=object), verbose=0), atol=1e-5)
    assert int(np.argmax(exported[0])) == 3


def test_pruning_an_auto_run_prunes_its_lstm_member_and_says_so(auto_run, tmp_path):
    from textrecipes.workflows.prune import prune_run

    result = prune_run(auto_run.run_dir, out_dir=str(tmp_path / "pruned"), sparsity=0.5, epochs=2,
                      overrides=["prune.frequency=2"], verbose=0)
    metrics = _metrics(result)
    assert metrics["model"] == "lstm" and "LSTM member alone" in metrics["model_note"]
    assert metrics["pruning"]["layers"]["bigram_embedding"] == pytest.approx(0.5, abs=0.01)
    with open(os.path.join(result.run_dir, "recipe.toml"), encoding="utf-8") as f:
        assert 'name = "lstm"' in f.read()


def test_multi_worker_training_runs_auto_as_its_lstm_member_and_says_so():
    from conftest import SAMPLES
    from textrecipes.recipe.loading import load_recipe
    from textrecipes.tasks.classification import ClassificationTask

    cfg = load_recipe({"data": {"train": os.path.join(SAMPLES, "label_text.tsv")},
                       "train": {"strategy": "multi_worker"}})
    task = ClassificationTask(cfg)
    assert cfg["model"]["name"] == "lstm" and "train.strategy (multi-worker training)" in task.lstm_alone
    assert ClassificationTask(load_recipe({"data": {"train": os.path.join(SAMPLES, "label_text.tsv")}})).lstm_alone is None


def _member_task(kind: str, labels, rows, class_weight=None):
    """The parts of a classification task that the linear member's fit reads, over ``rows`` of ``(labels, text)``."""
    from types import SimpleNamespace

    from textrecipes.text.pipeline import encode_labels
    from textrecipes.text.tokenization import TextVectorizer, Vocabulary, tokenize

    splits = {"train": rows[: len(rows) * 2 // 3], "validation": rows[len(rows) * 2 // 3:]}
    texts = {s: [t for _, t in r] for s, r in splits.items()}
    targets = {s: encode_labels([y for y, _ in r], list(labels), kind) for s, r in splits.items()}
    vocab = Vocabulary.build(tokenize(texts["train"]))
    return SimpleNamespace(kind=kind, labels=list(labels), texts=texts, targets=targets, seed=0,
                           vectorizer=TextVectorizer(vocab.tokens, max_length=64), class_weight=class_weight,
                           vocab=vocab)


def _member_rows(kind: str, n: int = 180):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        words = [f"w{j}" for j in rng.integers(0, 60, size=10)]
        if kind == "multilabel":
            label = tuple(t for t, flip in zip(TOPICS, rng.random(3) < 0.4) if flip) or ("alpha",)
        else:
            label = TOPICS[:2][i % 2] if kind == "binary" else TOPICS[int(rng.integers(0, 2)) if i % 7 else 2]
        words += [w for w in (label if kind == "multilabel" else (label,))] * int(rng.random() < 0.7)
        rng.shuffle(words)
        rows.append((label, " ".join(words)))
    return rows


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_the_linear_member_is_scikit_learns_logistic_regression_at_the_c_validation_picked(kind):
    """lbfgs on the member's own TF-IDF rows: its Keras probabilities are scikit-learn's at the chosen C."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from textrecipes.models.linear import adapt_model, build_linear_classifier
    from textrecipes.models.tfidf import to_scipy
    from textrecipes.tasks.auto import LBFGS_ROUND, LINEAR_CS, _ids, fit_linear_lbfgs

    labels = TOPICS[:2] if kind == "binary" else TOPICS
    weights = {0: 1.0, 1: 3.0} if kind == "binary" else None
    task = _member_task(kind, labels, _member_rows(kind), class_weight=weights)
    member = build_linear_classifier(len(task.vocab), len(labels), task=kind, ngram_buckets=4096, min_df=1)
    adapt_model(member, _ids(task, "train"))
    record = fit_linear_lbfgs(member, task)
    assert record["solver"] == "lbfgs" and record["c"] in LINEAR_CS
    tried = [row["c"] for row in record["grid"]]
    assert tried + record["skipped"] == list(LINEAR_CS) and len(tried) >= 2 * LBFGS_ROUND
    if record["skipped"]:  # stopped after a round with no better C: the best is in an earlier round
        assert record["c"] < tried[-LBFGS_ROUND if len(tried) % LBFGS_ROUND == 0 else -1]
    assert len({row["log_loss"] for row in record["grid"]}) == len(tried)  # each C its own fit
    assert record["val_accuracy"] == max(row["accuracy"] for row in record["grid"] if row["c"] == record["c"])

    features = member.get_layer("tfidf")
    x = {s: to_scipy(*(np.concatenate([keras.ops.convert_to_numpy(v) for v in features(ids)[i:i + 1]])
                       for i in range(2)), features.num_features)
         for s, ids in (("train", task.vectorizer(np.array(task.texts["train"], dtype=object))),
                        ("validation", task.vectorizer(np.array(task.texts["validation"], dtype=object))))}
    y = np.asarray(task.targets["train"])
    n = x["train"].shape[0]
    reference = LogisticRegression(C=record["c"], max_iter=1000, class_weight=weights)
    if kind == "multilabel":
        reference = OneVsRestClassifier(reference).fit(x["train"], y.astype(int))
        expected = reference.predict_proba(x["validation"])
    else:
        reference.fit(x["train"], y.reshape(n, -1)[:, 0].astype(int) if kind == "binary" else y.reshape(-1))
        expected = reference.predict_proba(x["validation"])
        expected = expected[:, 1:] if kind == "binary" else expected
    ours = member.predict(task.vectorizer(np.array(task.texts["validation"], dtype=object)), verbose=0)
    np.testing.assert_allclose(ours, expected, atol=1e-4)  # the same fit, carried into the Keras kernel
    assert member.get_layer("probabilities").c == record["c"]


def test_where_lbfgs_cannot_go_the_linear_member_trains_by_sgd_and_says_why():
    from textrecipes.models.auto import LINEAR_MEMBER
    from textrecipes.models.linear import adapt_model, build_linear_classifier
    from textrecipes.tasks.auto import _ids, fit_linear_lbfgs, fit_linear_member, lbfgs_refusal

    task = _member_task("multiclass", TOPICS, _member_rows("multiclass"))
    task.compile_options = lambda: {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}
    nb = build_linear_classifier(len(task.vocab), 3, task="multiclass", ngram_buckets=512, naive_bayes=True)
    assert "naive-Bayes" in lbfgs_refusal(nb, task)
    plain = build_linear_classifier(len(task.vocab), 3, task="multiclass", ngram_buckets=512, name=LINEAR_MEMBER)
    adapt_model(plain, _ids(task, "train"))
    assert lbfgs_refusal(plain, task) is None and fit_linear_lbfgs(plain, task, max_nonzeros=10) is None
    record = fit_linear_member(keras.Sequential([keras.Input((None,), dtype="int32"), plain]), task,  # found by name
                               fit={"epochs": 3, "patience": 3})
    assert record["solver"] == "sgd" and record["why_sgd"] == "SGD settings given" and record["epochs"] == 3
    majority = np.bincount(np.asarray(task.targets["validation"]).reshape(-1)).max() / len(task.texts["validation"])
    assert record["val_accuracy"] > majority and not plain.trainable


def test_the_lbfgs_grid_in_worker_processes_fits_what_it_fits_one_by_one():
    """Same record and kernel whether a round's fits run in two processes or in this one (the C is the machine's no more)."""
    from textrecipes.models.linear import adapt_model, build_linear_classifier
    from textrecipes.tasks.auto import _ids, fit_linear_lbfgs

    task = _member_task("multiclass", TOPICS, _member_rows("multiclass"))
    kernels, records = [], []
    for workers in (1, 2):
        member = build_linear_classifier(len(task.vocab), 3, task="multiclass", ngram_buckets=512, min_df=1)
        adapt_model(member, _ids(task, "train"))
        records.append(fit_linear_lbfgs(member, task, workers=workers))
        kernels.append(keras.ops.convert_to_numpy(member.get_layer("probabilities").kernel))
    assert records[0] == records[1]
    np.testing.assert_allclose(kernels[0], kernels[1], atol=1e-6)
    assert 0 < records[0]["features"] < member.get_layer("probabilities").num_features  # only the columns seen


def test_over_the_entry_bound_fit_linear_member_trains_by_sgd_and_says_so(monkeypatch):
    import textrecipes.tasks.auto as auto
    from textrecipes.models.auto import LINEAR_MEMBER
    from textrecipes.models.linear import build_linear_classifier

    task = _member_task("multiclass", TOPICS, _member_rows("multiclass"))
    task.compile_options = lambda: {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}
    monkeypatch.setattr(auto, "LBFGS_MAX_NONZEROS", 100)
    monkeypatch.setitem(auto.LINEAR_FIT, "epochs", 3)
    member = build_linear_classifier(len(task.vocab), 3, task="multiclass", ngram_buckets=512, name=LINEAR_MEMBER)
    record = auto.fit_linear_member(keras.Sequential([keras.Input((None,), dtype="int32"), member]), task)
    assert record["solver"] == "sgd" and record["why_sgd"] == "over 100 TF-IDF entries for lbfgs"
    assert record["epochs"] <= 3 and not member.trainable


def test_with_no_feature_seen_in_training_the_lbfgs_member_learns_the_class_balance():
    """Every word once, so min_df 2 keeps no feature: the fit is the bias alone, not scikit-learn's 0-feature error."""
    from textrecipes.models.linear import adapt_model, build_linear_classifier
    from textrecipes.tasks.auto import _ids, fit_linear_lbfgs

    rows = [(TOPICS[int(i % 3 == 0)], f"u{i}") for i in range(18)]  # one word each: no bigram either
    task = _member_task("binary", TOPICS[:2], rows)
    member = build_linear_classifier(len(task.vocab), 2, task="binary", ngram_buckets=64)
    adapt_model(member, _ids(task, "train"))
    record = fit_linear_lbfgs(member, task)
    assert record["solver"] == "lbfgs" and record["features"] == 1
    p = member.predict(_ids(task, "validation"), verbose=0)
    np.testing.assert_allclose(p, np.full_like(p, p[0, 0]), atol=1e-6)  # one probability for every text: the training balance
    assert 0.2 < float(p[0][0]) < 0.5  # a third of the training texts are the second label


def test_the_c_grid_stops_after_a_round_that_finds_no_better_c():
    """Six equal Cs: the second round's fits equal the first's, none is better, so the third round is skipped."""
    from textrecipes.models.linear import adapt_model, build_linear_classifier
    from textrecipes.tasks.auto import LBFGS_ROUND, _ids, fit_linear_lbfgs

    task = _member_task("binary", TOPICS[:2], _member_rows("binary"))
    member = build_linear_classifier(len(task.vocab), 2, task="binary", ngram_buckets=512, min_df=1)
    adapt_model(member, _ids(task, "train"))
    record = fit_linear_lbfgs(member, task, cs=[3.0] * (3 * LBFGS_ROUND))
    assert len(record["grid"]) == 2 * LBFGS_ROUND and record["skipped"] == [3.0] * LBFGS_ROUND
