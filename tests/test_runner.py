"""Real training end to end: accuracy above chance, artifacts, export round trip."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import SAMPLES
from textrecipes.data.records import DataError
from textrecipes.export.metadata import RunFolderError
from textrecipes.export.predictors import Predictor
from textrecipes.workflows.train import train


def test_small_run_learns_well_above_chance(small_run):
    # Majority class is 57.8% of the test split; 4,000 reviews and 3 epochs reach ~70%.
    assert small_run.metrics["examples"] == 1276
    assert small_run.metrics["accuracy"] > 0.65
    assert small_run.metrics["macro_f1"] > 0.6
    losses = small_run.history["loss"]
    assert losses[-1] < losses[0]


def test_run_folder_has_every_artifact(small_run):
    names = set(os.listdir(small_run.run_dir))
    assert {"model.keras", "saved_model", "metrics.json", "history.csv", "recipe.toml", "labels.json",
            "vocabulary.json", "learning_curves.png", "schedule.png"} <= names
    metrics = json.load(open(os.path.join(small_run.run_dir, "metrics.json")))
    assert set(metrics["test"]["per_class"]) == {"fresh", "rotten"}
    assert np.array(metrics["test"]["confusion_matrix"]).sum() == 1276
    assert metrics["data"][0]["lines_read"] == 4000 == metrics["data"][0]["kept"]
    rows = list(csv.DictReader(open(os.path.join(small_run.run_dir, "history.csv"))))
    assert len(rows) == metrics["epochs_run"] and "val_loss" in rows[0]


def test_saved_model_serves_raw_strings_like_the_keras_model(small_run):
    texts = ["A moving, beautifully acted film.", "Dull and far too long.", "", "北京 zzzz 🙂"]
    loaded = tf.saved_model.load(os.path.join(small_run.run_dir, "saved_model"))
    serve = loaded.signatures["serving_default"]
    assert serve.structured_input_signature[1]["texts"].dtype == tf.string
    out = serve(texts=tf.constant(texts))
    raw = small_run.model.predict(np.array(texts, dtype=object), verbose=0)
    expected = np.concatenate([1 - raw, raw], axis=1)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    assert [l.decode() for l in out["label"].numpy()] == [small_run.labels[i] for i in expected.argmax(1)]
    np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-6)


def test_keras_model_reloads_in_safe_mode_and_predictors_agree(small_run):
    texts = ["Great fun from start to finish.", "A tedious mess."]
    from_keras = Predictor(os.path.join(small_run.run_dir, "model.keras")).predict_proba(texts)
    from_saved = Predictor(small_run.run_dir).predict_proba(texts)
    np.testing.assert_allclose(from_keras, from_saved, atol=1e-5)


def test_finished_run_is_not_overwritten_silently(small_run):
    with pytest.raises(FileExistsError, match="overwrite"):
        train({"data": {"train": os.path.join(SAMPLES, "label_text.tsv")}}, run_dir=small_run.run_dir, overwrite=False,
              verbose=0)


def test_broken_run_folder_gives_a_clear_error(tmp_path):
    with pytest.raises(RunFolderError, match="no such run folder"):
        Predictor(tmp_path / "nothing")
    (tmp_path / "run").mkdir()
    with pytest.raises(RunFolderError, match="neither saved_model/ nor model.keras"):
        Predictor(tmp_path / "run")
    (tmp_path / "run" / "model.keras").write_bytes(b"not a zip")
    (tmp_path / "run" / "labels.json").write_text('{"labels": ["a", "b"], "task": "binary", "split": "word"}')
    with pytest.raises(RunFolderError, match="could not be loaded"):
        Predictor(tmp_path / "run")


def _write(path, lines):
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def test_multiclass_and_chinese_training(tmp_path):
    # A generated 3-topic task in Chinese: the tokenizer splits characters, the model must learn them.
    rng = np.random.default_rng(0)
    words = {"体育": "球赛跑步冠军", "科技": "电脑手机芯片", "美食": "米饭面条饺子"}
    lines = []
    for i in range(300):
        label = list(words)[i % 3]
        chars = "".join(rng.choice(list(words[label]), size=6)) + "".join(rng.choice(list("的了是在有"), size=3))
        lines.append(f"{label}\t{chars}\n")
    path = _write(tmp_path / "zh.tsv", lines)
    result = train({"data": {"train": path}, "model": {"embedding_dim": 16, "units": 16},
                    "train": {"epochs": 4, "batch_size": 16}, "schedule": {"learning_rate": 0.005}},
                   run_dir=str(tmp_path / "run"), verbose=0)
    assert result.task == "multiclass" and result.labels == sorted(words)
    assert result.metrics["accuracy"] > 0.8
    labels = [label for label, _ in Predictor(result.run_dir).predict(["冠军跑步球赛", "饺子米饭面条"])]
    assert labels == ["体育", "美食"]


def test_multilabel_training(tmp_path):
    rng = np.random.default_rng(1)
    lines = []
    for i in range(300):
        tags = [t for t, on in (("sport", i % 2), ("music", (i // 2) % 2)) if on] or ["other"]
        words = (["goal", "match"] if "sport" in tags else []) + (["song", "band"] if "music" in tags else []) + ["the", "day"]
        lines.append(f"{','.join(tags)}\t{' '.join(rng.permutation(words))}\n")
    path = _write(tmp_path / "ml.tsv", lines)
    result = train({"data": {"train": path, "multi_label": True}, "model": {"embedding_dim": 16, "units": 16},
                    "train": {"epochs": 4, "batch_size": 16}, "schedule": {"learning_rate": 0.005}},
                   run_dir=str(tmp_path / "run"), verbose=0)
    assert result.task == "multilabel" and result.labels == ["music", "other", "sport"]
    assert result.metrics["macro_f1"] > 0.8
    (labels, probs), = Predictor(result.run_dir).predict(["goal match song band"])
    assert labels == ("music", "sport")


def test_validation_label_outside_training_labels_names_file_and_line(tmp_path):
    train_path = _write(tmp_path / "train.tsv", ["a\tx y\n", "b\ty z\n"] * 10)
    val_path = _write(tmp_path / "val.tsv", ["a\tx\n", "c\tz\n"])
    with pytest.raises(DataError, match=r"val.tsv:2: label not in the label set"):
        train({"data": {"train": train_path, "validation": val_path}}, run_dir=str(tmp_path / "run"), verbose=0)
    one_label = _write(tmp_path / "one.tsv", ["a\tx\n"] * 10)
    with pytest.raises(DataError, match="at least 2"):
        train({"data": {"train": one_label}}, run_dir=str(tmp_path / "run2"), verbose=0)


def test_same_seed_same_metrics(tmp_path):
    path = os.path.join(SAMPLES, "label_text.tsv")
    rows = open(path, encoding="utf-8").read() * 20
    data = _write(tmp_path / "d.tsv", [rows])
    recipe = {"data": {"train": data}, "model": {"embedding_dim": 8, "units": 8}, "train": {"epochs": 2}}
    a = train(recipe, run_dir=str(tmp_path / "a"), verbose=0)
    b = train(recipe, run_dir=str(tmp_path / "b"), verbose=0)
    assert a.history["loss"] == b.history["loss"]


def test_training_with_on_the_fly_augmentation(tmp_path):
    from conftest import rt_path, write_slice

    train_file = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 600)
    result = train({"data": {"train": train_file}, "augment": {"enabled": True, "source": "wordnet"},
                    "model": {"embedding_dim": 16, "units": 16}, "train": {"epochs": 2}},
                   run_dir=str(tmp_path / "run"), verbose=0)
    assert len(result.history["loss"]) == 2 and result.recipe["augment"]["enabled"]
    assert "[augment]" in open(os.path.join(result.run_dir, "recipe.toml")).read()
