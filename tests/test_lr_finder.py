"""LR range test: it restores the model exactly, and its answer is usable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from textrecipes.training.rates import get_schedule
from textrecipes.training.lr_finder import LRFinderResult, find_learning_rate
from textrecipes.training.schedules import CosineAnnealing

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 6)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int32")


def tiny_model(learning_rate=1e-3, dropout=True):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((6,)), keras.layers.Dense(8, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(0.2))
    layers.append(keras.layers.Dense(2, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(
        keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy"
    )
    return model


def snapshot(model):
    return (
        [v.numpy().copy() for v in model.variables],
        [v.numpy().copy() for v in model.optimizer.variables],
    )


def assert_same(before, model):
    weights, optimizer = before
    assert len(weights) == len(model.variables)
    for saved, variable in zip(weights, model.variables):
        assert np.array_equal(saved, variable.numpy())
    assert len(optimizer) == len(model.optimizer.variables)
    for saved, variable in zip(optimizer, model.optimizer.variables):
        assert np.array_equal(saved, variable.numpy())


def test_restores_weights_and_optimizer_state_exactly(tmp_path):
    model = tiny_model()
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)  # non-zero Adam moments
    history = model.history
    before = snapshot(model)
    result = find_learning_rate(model, (X, Y), min_lr=1e-5, max_lr=1.0, steps=25,
                                batch_size=16, plot_path=tmp_path / "lr.png")
    assert_same(before, model)
    assert model.history is history
    assert isinstance(result, LRFinderResult)
    assert 1e-5 <= result.suggestion <= 1.0
    assert 2 <= len(result.lrs) <= 25 and len(result.lrs) == len(result.losses)
    assert np.all(np.diff(result.lrs) > 0)
    assert result.lrs[0] == pytest.approx(1e-5)
    with open(tmp_path / "lr.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert result.plot_path == str(tmp_path / "lr.png")
    # The model still trains normally afterwards, at its own rate.
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)


def test_schedule_is_swapped_out_and_back():
    schedule = CosineAnnealing(1e-2, 100)
    model = tiny_model(schedule)
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    before = snapshot(model)
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(16)
    result = find_learning_rate(model, dataset, min_lr=1e-4, max_lr=10.0, steps=20,
                                smoothing=0.5)
    assert_same(before, model)
    assert get_schedule(model.optimizer) is schedule
    step = int(model.optimizer.iterations)
    expected = float(keras.ops.convert_to_numpy(schedule(step)))
    assert float(model.optimizer.learning_rate) == pytest.approx(expected)
    assert 1e-4 <= result.suggestion <= 10.0
    # The sweep really used its own rates: the loss at 10 is not the loss at 1e-4.
    assert result.lrs[-1] > 1.0 or len(result.lrs) < 20


def test_unbuilt_optimizer_is_left_as_freshly_built():
    model = tiny_model(dropout=False)  # compiled, never fitted
    find_learning_rate(model, (X, Y), steps=10, batch_size=32)
    assert int(model.optimizer.iterations) == 0
    for variable in model.optimizer.variables[2:]:  # Adam moments are zeros
        assert not np.any(variable.numpy())
    reference = tiny_model(dropout=False)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        assert np.array_equal(got, want)


def test_stops_early_when_the_loss_explodes():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    y = (X @ np.arange(1, 7)).astype("float32") * 10
    result = find_learning_rate(model, (X, y), min_lr=1e-4, max_lr=100.0, steps=60,
                                smoothing=0.0)
    assert len(result.lrs) < 60
    assert result.losses[-1] > 4 * result.losses.min() or not np.isfinite(
        result.raw_losses[-1:]).all()
    assert 1e-4 <= result.suggestion < result.lrs[-1]


def test_needs_a_compiled_model_and_sane_bounds():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="compile"):
        find_learning_rate(model, (X, Y))
    with pytest.raises(ValueError, match="min_lr"):
        find_learning_rate(tiny_model(), (X, Y), min_lr=1.0, max_lr=0.1)
