"""Callbacks: they really stop, restore, lower and log, and the builder wires them."""

import os
import signal
import warnings

import keras
import numpy as np
import pytest

from textrecipes.recipe.loading import DEFAULTS
from textrecipes.recipe.validation import resolve
from textrecipes.training.callbacks import EarlyStopping, LossPlateauStop, TerminateOnNaNWithAdvice, build_callbacks
from textrecipes.training.monitors import metric_mode
from textrecipes.training.resume import InterruptBetweenBatches
from textrecipes.training.rates import LearningRateLogger
from textrecipes.training.rates import ReduceLROnPlateauScaled
from textrecipes.training.rates import get_schedule
from textrecipes.training.schedules import CosineAnnealing, ExponentialDecay
from textrecipes.training.schedule_wrappers import ScaledSchedule

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 4)).astype("float32")
Y = (X[:, 0] > 0).astype("int32")


def tiny_model(learning_rate=0.01, optimizer="adam"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(2, activation="softmax")]
    )
    opt = (
        keras.optimizers.Adam(learning_rate)
        if optimizer == "adam"
        else keras.optimizers.SGD(learning_rate)
    )
    model.compile(opt, "sparse_categorical_crossentropy")
    return model


def rate(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


class Inject(keras.callbacks.Callback):
    """Puts crafted metric values into the logs and snapshots the weights."""

    def __init__(self, key, sequence):
        super().__init__()
        self.key, self.sequence, self.weights = key, sequence, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.sequence[epoch]
        self.weights.append([w.copy() for w in self.model.get_weights()])


def test_metric_mode():
    assert metric_mode("val_loss") == "min"
    assert metric_mode("loss") == "min"
    assert metric_mode("val_mean_absolute_error") == "min"
    assert metric_mode("val_accuracy") == "max"
    assert metric_mode("val_macro_f1") == "max"


def test_early_stopping_stops_and_restores_best_epoch_weights():
    model = tiny_model()
    inject = Inject("val_fake_loss", [1.0, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2])
    stop = EarlyStopping(monitor="val_fake_loss", patience=2)
    history = model.fit(X, Y, epochs=8, batch_size=8, verbose=0,
                        callbacks=[inject, stop])
    assert len(history.epoch) == 4  # best at epoch 1, two bad epochs, stop
    assert stop.best_epoch == 1 and stop.mode == "min"
    for got, best in zip(model.get_weights(), inject.weights[1]):
        np.testing.assert_array_equal(got, best)
    assert not np.array_equal(model.get_weights()[0], inject.weights[-1][0])


def test_early_stopping_unknown_metric_is_maximised_without_error():
    model = tiny_model()
    inject = Inject("val_f1", [0.1, 0.6, 0.3, 0.2, 0.1])
    stop = EarlyStopping(monitor="val_f1", patience=2, start_from_epoch=0)
    model.fit(X, Y, epochs=5, batch_size=8, verbose=0, callbacks=[inject, stop])
    assert stop.mode == "max" and stop.best_epoch == 1
    np.testing.assert_array_equal(model.get_weights()[0], inject.weights[1][0])


def test_loss_plateau_stops_on_flat_loss():
    # A zero learning rate makes the epoch loss exactly flat.
    model = tiny_model(0.0, optimizer="sgd")
    stop = LossPlateauStop(min_delta=0.001, min_epochs=2)
    history = model.fit(X, Y, epochs=10, batch_size=8, shuffle=False, verbose=0,
                        callbacks=[stop])
    assert len(history.epoch) == 3 and stop.stopped_epoch == 2


def test_loss_plateau_keeps_going_while_loss_moves():
    model = tiny_model()
    losses = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4995]
    stop = LossPlateauStop(monitor="fake_loss", min_delta=0.001, min_epochs=5)
    history = model.fit(X, Y, epochs=7, batch_size=32, verbose=0,
                        callbacks=[Inject("fake_loss", losses), stop])
    assert len(history.epoch) == 7 and stop.stopped_epoch == 6


def test_keras_reduce_lr_on_plateau_raises_with_a_schedule():
    # The gap this package fills (keras/src/optimizers/base_optimizer.py).
    model = tiny_model(CosineAnnealing(0.01, 100))
    reducer = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0,
                                                min_delta=100.0)
    with pytest.raises(TypeError):
        model.fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[reducer])


def test_reduce_lr_on_plateau_scaled_lowers_a_schedule(tmp_path):
    schedule = ExponentialDecay(0.01, 10, 0.9)
    model = tiny_model(schedule)
    reducer = ReduceLROnPlateauScaled(monitor="loss", factor=0.5, patience=1,
                                      min_delta=100.0)  # never "improves"
    model.fit(X, Y, epochs=3, batch_size=8, verbose=0, callbacks=[reducer])
    held = get_schedule(model.optimizer)
    assert isinstance(held, ScaledSchedule) and held.schedule is schedule
    assert len(reducer.reductions) == 2  # epochs 2 and 3
    step = int(model.optimizer.iterations)
    expected = 0.25 * float(keras.ops.convert_to_numpy(schedule(step)))
    assert rate(model) == pytest.approx(expected, rel=1e-5)
    # A second fit keeps the same wrapper (no double wrapping) and the scale.
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[reducer])
    assert get_schedule(model.optimizer) is held
    # The lowered scale survives saving.
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert rate(loaded) == pytest.approx(rate(model), rel=1e-6)


def test_reduce_lr_on_plateau_scaled_affects_training_after_retrace():
    # The model was trained before, so its train function was traced with the
    # bare schedule; the wrapper must still take effect.
    schedule = ExponentialDecay(0.01, 10, 0.9)
    model = tiny_model(schedule, optimizer="sgd")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    reducer = ReduceLROnPlateauScaled(monitor="loss", patience=0, min_delta=100.0,
                                      factor=0.1)
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[reducer])
    # Reduced at the end of the second epoch (the first sets the best): now a
    # step with SGD moves the weights by 0.1 of what the bare schedule would.
    assert len(reducer.reductions) == 1
    before = [w.copy() for w in model.get_weights()]
    step = int(model.optimizer.iterations)
    model.fit(X[:8], Y[:8], epochs=1, batch_size=8, verbose=0, shuffle=False)
    moved = np.abs(model.get_weights()[0] - before[0]).sum()
    model.set_weights(before)
    model.optimizer.iterations.assign(step)
    get_schedule(model.optimizer).scale.assign(1.0)
    model.fit(X[:8], Y[:8], epochs=1, batch_size=8, verbose=0, shuffle=False)
    moved_full = np.abs(model.get_weights()[0] - before[0]).sum()
    assert moved == pytest.approx(0.1 * moved_full, rel=1e-3)


def test_reduce_lr_on_plateau_scaled_lowers_a_float_rate():
    model = tiny_model(0.01)
    reducer = ReduceLROnPlateauScaled(monitor="loss", factor=0.5, patience=1,
                                      min_delta=100.0, min_learning_rate=0.004)
    model.fit(X, Y, epochs=4, batch_size=8, verbose=0, callbacks=[reducer])
    assert rate(model) == pytest.approx(0.004)
    assert get_schedule(model.optimizer) is None


def test_learning_rate_logger_puts_rate_in_history():
    schedule = ExponentialDecay(0.01, 4, 0.5)
    model = tiny_model(schedule)
    history = model.fit(X, Y, epochs=3, batch_size=8, verbose=0,
                        callbacks=[LearningRateLogger()])
    got = history.history["learning_rate"]
    # 4 steps an epoch; the last step of epoch e is 4e + 3.
    expected = [float(keras.ops.convert_to_numpy(schedule(s))) for s in (3, 7, 11)]
    assert got == pytest.approx(expected, rel=1e-6)


def _has_tensorboard():
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def test_learning_rate_logger_float_rate():
    model = tiny_model(0.02)
    history = model.fit(X, Y, epochs=2, batch_size=16, verbose=0,
                        callbacks=[LearningRateLogger()])
    assert history.history["learning_rate"] == pytest.approx([0.02, 0.02])


@pytest.mark.skipif(_has_tensorboard(), reason="tensorboard is installed")
def test_tensorboard_missing_gives_a_clear_error(tmp_path):
    with pytest.raises(ImportError, match="pip install tensorboard"):
        LearningRateLogger(log_dir=str(tmp_path))
    with pytest.raises(ImportError, match="tensorboard = false"):
        build_callbacks({"tensorboard": True}, run_dir=str(tmp_path))


@pytest.mark.skipif(not _has_tensorboard(), reason="needs tensorboard")
def test_learning_rate_logger_tensorboard(tmp_path):
    model = tiny_model(0.02)
    history = model.fit(X, Y, epochs=2, batch_size=16, verbose=0,
                        callbacks=[LearningRateLogger(log_dir=str(tmp_path / "tb"))])
    assert history.history["learning_rate"] == pytest.approx([0.02, 0.02])
    assert any(name.startswith("events.out") for name in os.listdir(tmp_path / "tb"))


def test_terminate_on_nan_stops_with_advice():
    model = tiny_model()
    x = X.copy()
    x[9, 0] = np.nan  # in the second batch
    guard = TerminateOnNaNWithAdvice()
    with pytest.warns(RuntimeWarning, match="clipnorm"):
        history = model.fit(x, Y, epochs=3, batch_size=8, shuffle=False,
                            verbose=0, callbacks=[guard])
    assert len(history.epoch) == 1
    assert "epoch 1, batch 1" in guard.message
    assert "learning_rate" in guard.message and "labels" in guard.message
    with pytest.raises(RuntimeError, match="epoch 1, batch 1"):
        tiny_model().fit(x, Y, epochs=1, batch_size=8, shuffle=False, verbose=0,
                         callbacks=[TerminateOnNaNWithAdvice(raise_error=True)])


class SignalAt(keras.callbacks.Callback):
    """Sends this process SIGINT ``times`` times at the start of one batch and records the batches that ended."""

    def __init__(self, batch, times=1):
        super().__init__()
        self.batch, self.times, self.ended = batch, times, []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.batch:
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)

    def on_train_batch_end(self, batch, logs=None):
        self.ended.append(batch)


def test_ctrl_c_is_taken_at_the_end_of_the_batch_and_the_handler_restored():
    model = tiny_model()
    sender = SignalAt(batch=2)
    with pytest.raises(KeyboardInterrupt):
        with InterruptBetweenBatches() as interrupt:
            assert signal.getsignal(signal.SIGINT) == interrupt._on_signal
            model.fit(X, Y, epochs=3, batch_size=4, shuffle=False, verbose=0, callbacks=[sender, interrupt])
    # The signal came before batch 2 ran: the batch finished, then training stopped.
    assert sender.ended == [0, 1, 2] and interrupt.pending
    assert int(model.optimizer.iterations.numpy()) == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_interrupts_at_once():
    sender = SignalAt(batch=1, times=2)
    with pytest.raises(KeyboardInterrupt):
        with InterruptBetweenBatches() as interrupt:
            tiny_model().fit(X, Y, epochs=1, batch_size=4, shuffle=False, verbose=0, callbacks=[sender, interrupt])
    assert sender.ended == [0]  # batch 1 never ran
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_build_callbacks_defaults_and_order(tmp_path):
    callbacks = build_callbacks({}, run_dir=str(tmp_path))
    names = [type(c).__name__ for c in callbacks]
    assert names == [
        "TerminateOnNaNWithAdvice",
        "LearningRateLogger",
        "EarlyStopping",
        "EpochBackup",  # after early stopping, whose state it backs up (fit_recipe moves it last anyway)
        "ModelCheckpoint",
    ]
    early = callbacks[2]
    assert (early.monitor, early.patience, early.restore_best_weights) == (
        "val_accuracy", 3, True)
    assert callbacks[3].stateful == [early]
    assert [type(c).__name__ for c in build_callbacks(None, run_dir=None)] == [
        "TerminateOnNaNWithAdvice", "LearningRateLogger", "EarlyStopping"]


def test_build_callbacks_full_run_writes_checkpoint(tmp_path):
    config = {
        "early_stopping": {"monitor": "val_loss", "patience": 2},
        "loss_plateau": {"min_epochs": 1},
        "reduce_lr_on_plateau": {"patience": 1},
        "tensorboard": _has_tensorboard(),
    }
    callbacks = build_callbacks(config, run_dir=str(tmp_path))
    names = [type(c).__name__ for c in callbacks]
    assert "ReduceLROnPlateauScaled" in names and "LossPlateauStop" in names
    if _has_tensorboard():
        assert names[-1] == "TensorBoard"
    model = tiny_model(CosineAnnealing(0.01, 100))
    history = model.fit(X, Y, validation_split=0.25, epochs=2, batch_size=8,
                        verbose=0, callbacks=callbacks)
    assert "learning_rate" in history.history
    assert (tmp_path / "checkpoints" / "best.keras").exists()
    if _has_tensorboard():
        assert (tmp_path / "tensorboard").exists()


def test_backup_resumes_an_interrupted_run(tmp_path):
    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated preemption")

    config = {"early_stopping": False, "checkpoint": False}
    model = tiny_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, epochs=4, batch_size=8, verbose=0,
                  callbacks=build_callbacks(config, run_dir=str(tmp_path)) + [Crash()])
    fresh = tiny_model()
    history = fresh.fit(X, Y, epochs=4, batch_size=8, verbose=0,
                        callbacks=build_callbacks(config, run_dir=str(tmp_path)))
    # The backup taken at the end of epoch 1 (0-based) is where it resumes.
    assert history.epoch == [2, 3]


def validate_callbacks(table):
    """The problems the recipe validator finds in a [callbacks] table."""
    return resolve([{"callbacks": table}], context={"require_data": False})[1]


def test_validate_callbacks_reports_unknown_names_with_suggestions():
    problems = validate_callbacks({"early_stoping": {"patience": 3}})
    assert problems == ["unknown key 'callbacks.early_stoping' (did you mean 'early_stopping'?)"]
    problems = validate_callbacks({"early_stopping": {"patiense": 3}})
    assert problems == ["unknown key 'callbacks.early_stopping.patiense' (did you mean 'patience'?)"]


def test_validate_callbacks_reports_types_and_ranges():
    problems = validate_callbacks({
        "early_stopping": {"patience": -1, "mode": "up"},
        "reduce_lr_on_plateau": {"factor": 1.5},
        "loss_plateau": {"min_delta": "small", "monitor": ""},
        "checkpoint": "yes",
    })
    assert sorted(problems) == sorted([
        "'callbacks.early_stopping.patience' = -1 is out of range (must be >= 0)",
        "'callbacks.early_stopping.mode' must be one of ['auto', 'min', 'max'], got 'up'",
        "'callbacks.reduce_lr_on_plateau.factor' = 1.5 is out of range (must be > 0 and < 1)",
        "'callbacks.loss_plateau.min_delta' must be float, got str 'small'",
        "'callbacks.loss_plateau.monitor' must not be empty",
        "'callbacks.checkpoint' must be bool or table, got str 'yes'",
    ])
    assert validate_callbacks(DEFAULTS["callbacks"]) == []
    with pytest.raises(ValueError, match="patience"):
        build_callbacks({"early_stopping": {"patience": -1}}, run_dir=None)


def test_a_callback_is_a_switch_or_a_table_of_options():
    recipe, problems = resolve([{"callbacks": {"loss_plateau": True, "backup": False,
                                               "reduce_lr_on_plateau": {"patience": 4}}}],
                               context={"require_data": False})
    c = recipe["callbacks"]
    assert problems == [] and c["loss_plateau"]["enabled"] and not c["backup"]["enabled"]
    assert c["reduce_lr_on_plateau"] == {**DEFAULTS["callbacks"]["reduce_lr_on_plateau"], "enabled": True, "patience": 4}
    # A table that says enabled = false keeps its options and stays off.
    recipe, _ = resolve([{"callbacks": {"loss_plateau": {"enabled": False, "min_epochs": 2}}}],
                        context={"require_data": False})
    assert recipe["callbacks"]["loss_plateau"]["enabled"] is False


def test_defaults_cover_every_section():
    assert set(DEFAULTS["callbacks"]) == {
        "early_stopping", "loss_plateau", "reduce_lr_on_plateau", "checkpoint",
        "backup", "terminate_on_nan", "learning_rate_logger", "tensorboard"}
    assert all("enabled" in options for options in DEFAULTS["callbacks"].values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EarlyStopping(monitor="val_whatever")  # never raises for the direction
