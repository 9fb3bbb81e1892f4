"""The linear baseline inside a classification run (`textrecipes.evaluation.baseline`, issue 17): it is scikit-learn's
TF-IDF + logistic regression on the run's tokens, well above chance on real reviews, seeded and capped, written
to metrics.json, the log and the report, switchable off, and it changes nothing in the model's own numbers."""

import json
import os

import numpy as np
import pytest

from conftest import rt_path, write_slice
from textrecipes.data.readers import read_classification
from textrecipes.evaluation.baseline import CS, FIXED_C, comparison, fit_baseline
from textrecipes.text.pipeline import encode_labels
from textrecipes.text.tokenization import tokenize

LABELS = ["fresh", "rotten"]


def _split(name, n):
    records = read_classification(rt_path(name)).records[:n]
    return [r.text for r in records], encode_labels([r.label for r in records], LABELS, "binary")


@pytest.fixture(scope="module")
def reviews():
    """2,000 training, 500 validation and 600 test Rotten Tomatoes reviews, with their binary targets."""
    parts = {"train": _split("train", 2000), "validation": _split("validation", 500), "test": _split("test", 600)}
    return {k: v[0] for k, v in parts.items()}, {k: v[1] for k, v in parts.items()}


def test_baseline_is_scikit_learns_tfidf_lr_and_well_above_chance(reviews):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, targets = reviews
    state = np.random.get_state()
    baseline = fit_baseline(texts, targets, LABELS, "binary", tokenizer=tokenize, seed=0)
    assert _same_state(state, np.random.get_state())  # the global generator is never drawn from
    assert set(baseline["grid"]) == {f"{c:g}" for c in CS}
    assert baseline["C"] == max(CS, key=lambda c: (baseline["grid"][f"{c:g}"], -c))  # best, smaller C on a tie
    assert baseline["train_examples"] == baseline["train_total"] == 2000 and not baseline["sampled"]
    majority = max(targets["test"].mean(), 1 - targets["test"].mean())
    assert baseline["test"]["accuracy"] > majority + 0.08, (baseline["test"], majority)  # about 0.70 vs 0.54

    # Written out directly: the same tokens, word 1-2 grams, sublinear tf, min_df=2, LogisticRegression(C).
    def grams(tokens):
        return tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]

    vec = TfidfVectorizer(analyzer=grams, lowercase=False, sublinear_tf=True, min_df=2)
    model = LogisticRegression(C=baseline["C"], max_iter=1000).fit(vec.fit_transform(tokenize(texts["train"])),
                                                                    targets["train"].ravel())
    for split in ("validation", "test"):
        predicted = model.predict(vec.transform(tokenize(texts[split])))
        assert abs(baseline[split]["accuracy"] - (predicted == targets[split].ravel()).mean()) < 1e-9
    assert baseline["features"] == len(vec.vocabulary_)


def _same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def test_a_large_training_split_is_sampled_with_the_seed_and_without_validation_c_is_fixed(reviews):
    texts, targets = reviews
    no_validation = {k: v for k, v in texts.items() if k != "validation"}
    a = fit_baseline(no_validation, targets, LABELS, "binary", tokenizer=tokenize, seed=3, max_examples=600)
    b = fit_baseline(no_validation, targets, LABELS, "binary", tokenizer=tokenize, seed=3, max_examples=600)
    c = fit_baseline(no_validation, targets, LABELS, "binary", tokenizer=tokenize, seed=4, max_examples=600)
    assert a["sampled"] and a["train_examples"] == 600 and a["train_total"] == 2000 and a["min_df"] == 1
    assert a["C"] == FIXED_C and a["grid"] == {} and "validation" not in a
    assert a["test"] == b["test"] and a["features"] == b["features"]  # same seed, same sample
    assert a["features"] != c["features"]  # another seed, another sample
    assert a["test"]["accuracy"] > 0.6


def test_multiclass_and_multilabel_targets_and_the_comparison_wording():
    words = {"sport": "goal match team", "tech": "code chip cloud", "food": "bread soup salt"}
    rng = np.random.RandomState(0)
    labels = sorted(words)

    def texts(n):
        ids = rng.randint(0, 3, size=n)
        return [" ".join(rng.permutation(words[labels[i]].split())) + " the" for i in ids], ids

    (train, y_train), (test, y_test) = texts(60), texts(30)
    multi = fit_baseline({"train": train, "test": test}, {"train": y_train, "test": y_test}, labels, "multiclass",
                         tokenizer=tokenize)
    assert multi["test"]["accuracy"] == 1.0 and multi["test"]["macro_f1"] == 1.0
    hot = lambda y: np.eye(3, dtype="float32")[y]  # noqa: E731
    multilabel = fit_baseline({"train": train, "test": test}, {"train": hot(y_train), "test": hot(y_test)}, labels,
                              "multilabel", tokenizer=tokenize)
    assert "one-vs-rest" in multilabel["method"] and multilabel["test"]["accuracy"] > 0.9
    single = fit_baseline({"train": train[:3]}, {"train": np.zeros(3, int)}, labels, "multiclass", tokenizer=tokenize)
    assert "skipped" in single
    text, beats = comparison({"accuracy": 0.75, "macro_f1": 0.7}, {"test": {"accuracy": 0.8, "macro_f1": 0.8}}, "test")
    assert not beats and "-5.0 points" in text


def _recipe(tmp, name, baseline):
    return {
        "name": name,
        "data": {"train": write_slice(rt_path("train"), str(tmp / "train.tsv"), 1200),
                 "validation": write_slice(rt_path("validation"), str(tmp / "validation.tsv"), 300),
                 "test": write_slice(rt_path("test"), str(tmp / "test.tsv"), 400)},
        "model": {"name": "fasttext", "embedding_dim": 16, "ngram_buckets": 4096, "ngram_dim": 8},
        "train": {"epochs": 2, "batch_size": 64},
        "evaluate": {"baseline": baseline},
        "export": {"keras": False},
        "callbacks": {"checkpoint": False, "backup": False},
    }


def test_a_run_reports_the_baseline_and_switching_it_off_changes_nothing_else(tmp_path, capsys):
    from textrecipes.workflows.train import train

    on = train(_recipe(tmp_path, "baseline_on", True), run_dir=str(tmp_path / "on"), verbose=2)
    shown = capsys.readouterr().out
    off = train(_recipe(tmp_path, "baseline_off", False), run_dir=str(tmp_path / "off"), verbose=0)
    with open(os.path.join(on.run_dir, "metrics.json")) as f:
        metrics_on = json.load(f)
    with open(os.path.join(off.run_dir, "metrics.json")) as f:
        metrics_off = json.load(f)
    baseline = metrics_on["baseline"]
    assert baseline["train_examples"] == 1200 and set(baseline) >= {"validation", "test", "C", "seconds"}
    assert baseline["test"]["accuracy"] > 0.6
    assert "baseline" not in metrics_off
    # The model's own numbers are the same with and without the baseline.
    assert metrics_on["test"] == metrics_off["test"] and on.history == off.history
    expected, _ = comparison(metrics_on["test"], baseline, "test")
    assert expected in shown  # "test accuracy 0.6xx, the linear baseline 0.6xx: ±x.x points ..."
    with open(os.path.join(on.run_dir, "report.html"), encoding="utf-8") as f:
        assert "linear baseline" in f.read()
    with open(os.path.join(off.run_dir, "report.html"), encoding="utf-8") as f:
        assert "linear baseline" not in f.read()
