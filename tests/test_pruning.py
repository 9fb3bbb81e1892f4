"""Magnitude and structured pruning (issue 19): schedule, masks through training and saving, compaction."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, SMALL_MODEL, rt_path
from textrecipes.data.readers import read_classification
from textrecipes.export.predictors import Predictor
from textrecipes.export.saved_model import end_to_end_model, export_saved_model
from textrecipes.models.classifiers import build_lstm_classifier
from textrecipes.pruning.callback import MagnitudePruning
from textrecipes.pruning.compact import compact_model
from textrecipes.pruning.masks import PruningMasks, apply_masks, find_masks, mask_sparsity, update_masks
from textrecipes.pruning.report import sparsity_report
from textrecipes.pruning.schedule import PruningSchedule
from textrecipes.pruning.selection import mask_unused_rows, prune_low_magnitude
from textrecipes.pruning.strip import strip_pruning
from textrecipes.pruning.structured import RemappedEmbedding
from textrecipes.text.pipeline import encode_labels, make_dataset
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, tokenize


@pytest.fixture(scope="module")
def rt():
    """2,000 Rotten Tomatoes training reviews and the test split, vectorized (module-wide)."""
    train = read_classification(rt_path("train")).records[:2000]
    test = read_classification(rt_path("test")).records
    labels = sorted({r.label for r in train})
    vocab = Vocabulary.build(tokenize([r.text for r in train]), max_tokens=5000)
    vectorizer = TextVectorizer(vocab.tokens, max_length=256)
    texts = {"train": [r.text for r in train], "test": [r.text for r in test]}
    y = {k: encode_labels([r.label for r in rs], labels, "binary") for k, rs in (("train", train), ("test", test))}
    return {
        "labels": labels, "vectorizer": vectorizer, "vocab_size": len(vocab), "texts": texts, "y": y,
        "train_ds": make_dataset(texts["train"], y["train"], vectorizer, batch_size=32, shuffle=True, seed=0),
        "test_ds": make_dataset(texts["test"], y["test"], vectorizer, batch_size=256),
    }


def small_lstm(rt, seed=0):
    return build_lstm_classifier(rt["vocab_size"], 2, seed=seed, **SMALL_MODEL)


def compiled(model, learning_rate=1e-3):
    model.compile(keras.optimizers.Adam(learning_rate), "binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def trained(rt):
    """The shrunk default model trained 3 epochs on the 2,000 reviews (test accuracy about 0.70)."""
    keras.utils.set_random_seed(0)
    model = compiled(small_lstm(rt), 3e-3)
    model.fit(rt["train_ds"], epochs=3, verbose=0)
    return model


def copy_of(model):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def masked_weights(model):
    """(weight value, mask) of every pruned weight."""
    masks_layer, owner = find_masks(model)
    out = []
    for target, mask in zip(masks_layer.targets, masks_layer.masks):
        layer = owner.get_layer(target["layer"])
        obj = layer
        for attr in target["weight"].split("."):
            obj = getattr(obj, attr)
        out.append((np.array(obj), np.array(mask)))
    return out


def test_schedule_is_zhu_and_gupta_and_reaches_its_target_at_the_end_step():
    s = PruningSchedule(0.9, begin_step=100, end_step=300, frequency=50, initial_sparsity=0.1)
    assert s.sparsity(99) == 0.0 and s.sparsity(100) == pytest.approx(0.1)
    assert s.sparsity(200) == pytest.approx(0.9 + (0.1 - 0.9) * 0.5 ** 3)
    assert s.sparsity(300) == pytest.approx(0.9) and s.sparsity(10_000) == pytest.approx(0.9)
    values = [s.sparsity(t) for t in range(100, 301)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert [t for t in range(0, 400) if s.prune_now(t)] == [100, 150, 200, 250, 300]
    assert PruningSchedule.from_config(s.get_config()).get_config() == s.get_config()
    with pytest.raises(ValueError, match="end_step"):
        PruningSchedule(0.5, begin_step=10, end_step=5)
    with pytest.raises(ValueError, match="target_sparsity"):
        PruningSchedule(1.0)


def test_sparsity_reaches_target_at_end_step_and_stays_through_more_training(rt, trained):
    steps = 8  # an "epoch" of 8 batches here
    data = rt["train_ds"].take(steps)
    pruned = compiled(prune_low_magnitude(copy_of(trained), PruningSchedule(0.8, begin_step=0, end_step=steps,
                                                                            frequency=2)))
    history = pruned.fit(data, epochs=3, callbacks=[MagnitudePruning()], verbose=0)
    assert history.history["sparsity"][0] == pytest.approx(0.8, abs=1e-3)  # the end step is the last of epoch 1
    assert history.history["sparsity"][1:] == pytest.approx([0.8, 0.8], abs=1e-3)
    for value, mask in masked_weights(pruned):
        assert np.all(value[mask == 0] == 0.0)
        assert abs((mask == 0).mean() - 0.8) < 1e-2
    # The optimizer keeps moving the pruned weights; the masks put them back after every step.
    before = [v.copy() for v, _ in masked_weights(pruned)]
    pruned.fit(data, epochs=1, callbacks=[MagnitudePruning()], verbose=0)
    for (value, mask), old in zip(masked_weights(pruned), before):
        assert np.all(value[mask == 0] == 0.0) and np.all(np.signbit(value[mask == 0]) == 0)
        assert not np.array_equal(value[mask == 1], old[mask == 1])  # it did train
    report = sparsity_report(pruned)
    assert report["layers"]["bigram_embedding"]["sparsity"] >= 0.8 - 1e-3
    assert report["layers"]["probabilities"]["sparsity"] == 0.0  # the head is left dense
    assert report["params"] == trained.count_params()


def test_pruning_steps_are_not_missed_with_steps_per_execution():
    # Four optimizer steps per callback call: the scheduled steps between two calls still prune.
    inputs = keras.Input((16,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(32, name="hidden")(inputs)))
    pruned = prune_low_magnitude(model, PruningSchedule(0.7, end_step=10, frequency=3))
    pruned.compile("adam", "mse", steps_per_execution=4)
    x = np.random.default_rng(0).normal(size=(96, 16)).astype("float32")
    history = pruned.fit(x, x[:, :1], batch_size=8, epochs=2, callbacks=[MagnitudePruning()], verbose=0)
    assert history.history["sparsity"] == pytest.approx([0.7, 0.7], abs=1e-3)  # 12 steps an epoch, end at 10
    value, mask = masked_weights(pruned)[0]
    assert np.all(value[mask == 0] == 0.0)


class RestoreFirstEpoch(keras.callbacks.Callback):
    """What EarlyStopping(restore_best_weights=True) does when the first epoch was the best."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.first = self.model.get_weights()

    def on_train_end(self, logs=None):
        self.model.set_weights(self.first)


def test_restored_best_weights_are_pruned_again_to_the_schedule(rt, trained):
    # The first epoch's weights and masks (sparsity 0.79 at its end) come back at the end of
    # training; the callback prunes them to the scheduled target (0.9) again.
    pruned = compiled(prune_low_magnitude(copy_of(trained), PruningSchedule(0.9, end_step=12, frequency=2)))
    with pytest.warns(UserWarning, match="below the scheduled sparsity"):
        pruned.fit(rt["train_ds"].take(6), epochs=3, callbacks=[RestoreFirstEpoch(), MagnitudePruning()], verbose=0)
    assert all(v == pytest.approx(0.9, abs=1e-3) for v in mask_sparsity(pruned).values())


def test_masks_and_schedule_reload_from_keras_in_a_fresh_process_and_stay_applied(rt, trained, tmp_path):
    pruned = compiled(prune_low_magnitude(copy_of(trained), PruningSchedule(0.9, end_step=6, frequency=2)))
    pruned.fit(rt["train_ds"].take(8), epochs=1, callbacks=[MagnitudePruning()], verbose=0)
    ids = next(iter(rt["test_ds"]))[0].numpy()
    np.save(tmp_path / "ids.npy", ids)
    np.save(tmp_path / "expected.npy", np.asarray(pruned(ids, training=False)))
    pruned.save(tmp_path / "pruned.keras")
    script = textwrap.dedent(f"""
        import json, numpy as np, keras
        import textrecipes  # registers every textrecipes Keras object (textrecipes.keras_objects)
        model = keras.saving.load_model({str(tmp_path / "pruned.keras")!r}, safe_mode=True)
        from textrecipes.pruning.callback import MagnitudePruning
        from textrecipes.pruning.masks import find_masks, mask_sparsity
        ids = np.load({str(tmp_path / "ids.npy")!r})
        diff = float(np.abs(np.asarray(model(ids, training=False)) - np.load({str(tmp_path / "expected.npy")!r})).max())
        masks, owner = find_masks(model)
        def zeros_ok():
            ok = True
            for t, m in zip(masks.targets, masks.masks):
                obj = owner.get_layer(t["layer"])
                for a in t["weight"].split("."):
                    obj = getattr(obj, a)
                ok &= bool(np.all(np.array(obj)[np.array(m) == 0] == 0))
            return ok
        before = zeros_ok()
        y = (ids[:, 0] % 2).astype("float32")
        model.fit(ids[:64], y[:64], batch_size=32, epochs=1, callbacks=[MagnitudePruning()], verbose=0)
        print(json.dumps({{"diff": diff, "schedule": masks.schedule.get_config(), "sparsity": mask_sparsity(model),
                          "zeros_before": before, "zeros_after": zeros_ok()}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["diff"] < 1e-6
    assert out["schedule"]["target_sparsity"] == 0.9 and out["schedule"]["end_step"] == 6
    assert all(abs(v - 0.9) < 1e-3 for v in out["sparsity"].values())
    assert out["zeros_before"] and out["zeros_after"]


def test_saved_model_export_keeps_the_zeros_and_matches_the_keras_model(rt, trained, tmp_path):
    # The model with its masks layer (what a run would hold mid-pruning); the stripped one is
    # exported in the structured test below.
    pruned = prune_low_magnitude(copy_of(trained), 0.9)
    update_masks(pruned)
    e2e = end_to_end_model(rt["vectorizer"], pruned)
    path = str(tmp_path / "masked")
    export_saved_model(e2e, path, labels=rt["labels"], task="binary",
                       meta={"split": "word", "lowercase": True, "max_length": 256})
    texts = rt["texts"]["test"][:300]
    expected = e2e.predict(tf.constant(texts), verbose=0)[:, 0]
    got = Predictor(path).predict_proba(texts)[:, 1]
    assert np.max(np.abs(expected - got)) < 1e-5
    shape = (SMALL_MODEL["ngram_buckets"] + 1, SMALL_MODEL["ngram_dim"])
    table = [v for v in tf.saved_model.load(path).variables if v.dtype == tf.float32 and v.shape == shape]
    assert len(table) == 1 and (table[0].numpy() == 0).mean() == pytest.approx(0.9, abs=1e-3)
    assert find_masks(strip_pruning(pruned))[0] is None
    assert find_masks(strip_pruning(end_to_end_model(rt["vectorizer"], pruned)))[0] is None


def test_structured_model_equals_the_masked_model_through_the_raw_string_export(rt, trained, tmp_path):
    steps = 6
    pruned = compiled(prune_low_magnitude(copy_of(trained), PruningSchedule(0.6, end_step=steps, frequency=2),
                                          structured=True, targets={"bigram_embedding": 0.8}))
    unused = mask_unused_rows(pruned, rt["train_ds"])
    assert unused["bigram_embedding"] > 0
    pruned.fit(rt["train_ds"].take(steps + 2), epochs=1, callbacks=[MagnitudePruning()], verbose=0)
    small = compact_model(pruned)
    lstm = small.get_layer("bilstm")
    assert (lstm.forward_layer.units, lstm.backward_layer.units) == (13, 13)  # 40% of 32 units kept
    assert isinstance(small.get_layer("bigram_embedding"), RemappedEmbedding)
    assert small.get_layer("bigram_embedding").rows == round(0.2 * (SMALL_MODEL["ngram_buckets"] + 1)) + 1
    assert small.count_params() < 0.45 * trained.count_params()

    texts = rt["texts"]["test"] + ["", "zzzz qqqq unknown words"]
    masked = end_to_end_model(rt["vectorizer"], strip_pruning(pruned)).predict(tf.constant(texts), verbose=0)
    path = str(tmp_path / "compact")
    export_saved_model(end_to_end_model(rt["vectorizer"], small), path, labels=rt["labels"], task="binary",
                       meta={"split": "word", "lowercase": True, "max_length": 256})
    got = Predictor(path).predict_proba(texts)[:, 1]
    assert np.max(np.abs(masked[:, 0] - got)) < 1e-5
    small.save(tmp_path / "small.keras")
    again = keras.saving.load_model(tmp_path / "small.keras", safe_mode=True)
    ids = next(iter(rt["test_ds"]))[0]
    assert np.max(np.abs(again.predict(ids, verbose=0) - small.predict(ids, verbose=0))) < 1e-6


def test_real_training_pruned_to_90_percent_stays_well_above_chance(rt, trained):
    dense = trained.evaluate(rt["test_ds"], verbose=0, return_dict=True)["accuracy"]
    # One epoch of fine-tuning: the sparsity ramps to 90% over 40 of its 63 steps.
    pruned = compiled(prune_low_magnitude(copy_of(trained), PruningSchedule(0.9, end_step=40, frequency=4)), 3e-4)
    pruned.fit(rt["train_ds"], epochs=1, callbacks=[MagnitudePruning()], verbose=0)
    plain = compiled(strip_pruning(pruned))
    accuracy = plain.evaluate(rt["test_ds"], verbose=0, return_dict=True)["accuracy"]
    majority = max(rt["y"]["test"].mean(), 1 - rt["y"]["test"].mean())
    report = sparsity_report(plain)
    assert report["layers"]["bigram_embedding"]["sparsity"] >= 0.9 - 1e-3
    assert report["nonzero"] < 0.15 * report["params"]
    assert accuracy > majority + 0.06, (accuracy, dense, majority)
    assert accuracy > dense - 0.05, (accuracy, dense)


def test_bad_requests_say_what_is_wrong(rt):
    model = small_lstm(rt)
    with pytest.raises(ValueError, match="nosuch"):
        prune_low_magnitude(model, 0.5, layers=["nosuch"])
    with pytest.raises(ValueError, match=r"targets\['bilstm'\]"):
        prune_low_magnitude(model, 0.5, targets={"bilstm": 1.5})
    pruned = prune_low_magnitude(model, 0.5, layers=["probabilities"])
    assert [t["layer"] for t in find_masks(pruned)[0].targets] == ["probabilities"]  # named: the head too
    with pytest.raises(ValueError, match="already pruned"):
        prune_low_magnitude(pruned, 0.5)
    with pytest.raises(ValueError, match="no pruning masks"):
        apply_masks(model)
    e2e = end_to_end_model(rt["vectorizer"], model)
    with pytest.raises(ValueError, match="inside"):
        prune_low_magnitude(e2e, 0.5, layers=["bilstm"])
    assert isinstance(PruningMasks.from_config(find_masks(pruned)[0].get_config()), PruningMasks)
