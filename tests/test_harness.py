"""The run harness takes any Task: a new one plugs in without a line of the harness changing (issue 14)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import SAMPLES
from textrecipes.data.readers import read_classification
from textrecipes.data.splits import Splits, load_splits
from textrecipes.data.atomic import save_keras
from textrecipes.recipe.loading import RecipeError, load_recipe
from textrecipes.run.harness import keras_verbosity, run
from textrecipes.tasks.base import Task


def _long_texts(n, seed):
    rng = np.random.default_rng(seed)
    words = "the film a plot actor scene story good bad long short".split()
    rows = []
    for i in range(n):
        length = int(rng.integers(2, 30))
        rows.append(("long" if length > 15 else "short", " ".join(rng.choice(words, length))))
    return rows


class LengthTask(Task):
    """A task the harness has never heard of: is a text longer than 15 words? One feature, one Dense unit."""

    name = "length"

    def check(self, cfg):
        return ["'augment.enabled' does not apply to the length task"] if cfg["augment"]["enabled"] else []

    def read(self, cfg):
        splits, self.labels = load_splits(cfg["data"], cfg["seed"],
                                          lambda path, labels: read_classification(path, labels=labels),
                                          lambda records: sorted({r.label for r in records}))
        self.kind = "binary"
        return splits

    def prepare(self, splits):
        def xy(records):
            x = np.array([[len(r.text.split()) / 30.0] for r in records], "float32")
            return x, np.array([[float(r.label == "long")] for r in records], "float32")

        self.data = {name: xy(getattr(splits, name)) for name in ("train", "validation", "test")}

    def datasets(self, splits, batch_size):
        def ds(name):
            return tf.data.Dataset.from_tensor_slices(self.data[name]).batch(batch_size)

        return ds("train"), {name: ds(name) for name in ("validation", "test") if len(self.data[name][0])}

    def build(self, *, initial=True):
        x = keras.Input((1,))
        return keras.Model(x, keras.layers.Dense(1, activation="sigmoid",
                                                 kernel_initializer=keras.initializers.Constant(0.0))(x))

    def compile_options(self):
        return {"loss": "binary_crossentropy", "metrics": [keras.metrics.BinaryAccuracy(name="accuracy")]}

    def evaluate(self, model, eval_ds, splits):
        reports = {}
        for name, ds in eval_ds.items():
            predicted = model.predict(ds, verbose=0)[:, 0] >= 0.5
            reports[name] = {"accuracy": float(np.mean(predicted == (self.data[name][1][:, 0] == 1)))}
        return reports, {}

    def export(self, model, run_dir, splits):
        save_keras(model, os.path.join(run_dir, "model.keras"))
        return model, {"model.keras": {}}

    def metadata(self):
        return {"labels": self.labels, "task": self.kind, "kind": "length"}


def _recipe(tmp_path, epochs=40):
    path = tmp_path / "lengths.tsv"
    path.write_text("".join(f"{label}\t{text}\n" for label, text in _long_texts(400, 0)))
    return load_recipe({"name": "length", "data": {"train": str(path)},
                        "schedule": {"name": "constant", "learning_rate": 0.1},
                        "train": {"epochs": epochs, "batch_size": 32},
                        "callbacks": {"early_stopping": {"monitor": "val_loss", "patience": 40}}})


def test_a_new_task_trains_through_the_harness_unchanged(tmp_path):
    cfg = _recipe(tmp_path)
    result = run(LengthTask(cfg), cfg, run_dir=str(tmp_path / "run"), verbose=0)
    assert result.task == "binary" and result.labels == ["long", "short"]
    assert result.metrics["accuracy"] > 0.9, result.metrics  # the threshold is learnable from one feature
    history = result.history["loss"]
    assert history[-1] < history[0]
    files = set(os.listdir(result.run_dir))
    assert {"metrics.json", "labels.json", "recipe.toml", "history.csv", "model.keras", "model_card.json",
            "checkpoints", "learning_curves.png", ".textrecipes-run.json"} <= files
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["splits"] == {"train": 320, "validation": 40, "test": 40} and metrics["epochs_run"] == len(history)
    reloaded = keras.saving.load_model(os.path.join(result.run_dir, "model.keras"), safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(np.array([[0.1], [0.9]]), verbose=0),
                               result.model.predict(np.array([[0.1], [0.9]]), verbose=0), atol=1e-6)


def test_the_task_checks_the_recipe_before_anything_is_written(tmp_path):
    cfg = _recipe(tmp_path)
    cfg["augment"]["enabled"] = True
    with pytest.raises(RecipeError, match="does not apply to the length task"):
        run(LengthTask(cfg), cfg, run_dir=str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()


def test_a_task_without_a_validation_split_monitors_training_metrics(tmp_path):
    cfg = _recipe(tmp_path, epochs=3)
    cfg["data"]["validation_split"] = 0.0
    result = run(LengthTask(cfg), cfg, run_dir=str(tmp_path / "run"), verbose=0)
    assert result.validation_metrics == {} and "val_loss" not in result.history and len(result.history["loss"]) == 3


def test_verbose_follows_keras(monkeypatch):
    assert [keras_verbosity(v) for v in (0, 1, 2)] == [0, 1, 2]
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or 'auto'"):
        keras_verbosity(3)


def test_splits_sizes():
    splits = Splits([1, 2], [3], [], [])
    assert splits.sizes() == {"train": 2, "validation": 1, "test": 0}
    assert os.path.exists(os.path.join(SAMPLES, "label_text.tsv"))
