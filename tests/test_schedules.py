"""Schedules: agreement with Keras, warmup boundaries, presets, saving, config."""

import keras
import numpy as np
import pytest

from textrecipes.recipe.loading import DEFAULTS
from textrecipes.recipe.schema import schedule_kind
from textrecipes.recipe.validation import resolve, resolve_table
from textrecipes.training.schedules import Constant, CosineAnnealing, ExponentialDecay, StepDecay, build_schedule
from textrecipes.training.schedule_wrappers import ScaledSchedule, Warmup
from textrecipes.evaluation.plots import plot_schedule, schedule_values

KS = keras.optimizers.schedules
STEPS = np.arange(0, 260, 7)


def values(schedule, steps=STEPS):
    # One call per step, as the optimizer makes them (a scalar int step).
    return np.array(
        [float(keras.ops.convert_to_numpy(schedule(int(s)))) for s in steps]
    )


def test_cosine_without_warmup_matches_keras_cosine_decay():
    ours = CosineAnnealing(0.01, decay_steps=200, min_learning_rate=0.001)
    keras_ = KS.CosineDecay(0.01, decay_steps=200, alpha=0.1)
    np.testing.assert_allclose(values(ours), values(keras_), rtol=1e-6)
    assert values(ours, [0])[0] == pytest.approx(0.01)
    assert values(ours, [200, 500]) == pytest.approx([0.001, 0.001])


def test_cosine_restarts_matches_keras_cosine_decay_restarts():
    ours = CosineAnnealing(
        0.01, 50, min_learning_rate=0.002, restarts=True, t_mul=2.0, m_mul=0.5
    )
    keras_ = KS.CosineDecayRestarts(0.01, 50, t_mul=2.0, m_mul=0.5, alpha=0.2)
    np.testing.assert_allclose(values(ours), values(keras_), rtol=1e-6)
    # The second cycle restarts at min + (peak - min) * m_mul.
    assert values(ours, [50])[0] == pytest.approx(0.006, rel=1e-5)


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_matches_keras_exponential_decay(staircase):
    ours = ExponentialDecay(0.1, 30, 0.7, staircase=staircase)
    keras_ = KS.ExponentialDecay(0.1, 30, 0.7, staircase=staircase)
    np.testing.assert_allclose(values(ours), values(keras_), rtol=1e-6)


def test_exponential_floor():
    schedule = ExponentialDecay(0.1, 10, 0.5, min_learning_rate=0.01)
    assert values(schedule, [0, 10, 1000]) == pytest.approx([0.1, 0.05, 0.01])


def test_step_decay_drops_by_factor_at_each_boundary():
    schedule = StepDecay(0.1, step_size=50, factor=0.1)
    got = values(schedule, [0, 49, 50, 99, 100, 150])
    assert got == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 1e-4], rel=1e-5)
    assert np.all(np.diff(values(schedule)) <= 0)


def test_constant_is_constant_and_vectorizes():
    assert schedule_values(Constant(3e-4), 5) == pytest.approx([3e-4] * 5)


def test_linear_warmup_boundaries():
    inner = CosineAnnealing(0.01, decay_steps=90, min_learning_rate=0.001)
    schedule = Warmup(inner, warmup_steps=10, initial_learning_rate=0.001)
    step0, last, first_decay, later = values(schedule, [0, 9, 10, 40])
    assert step0 == pytest.approx(0.001)
    assert last == pytest.approx(0.001 + 0.009 * 9 / 10)
    assert first_decay == pytest.approx(0.01)  # the wrapped schedule's step 0
    assert later == pytest.approx(values(inner, [30])[0])
    ramp = values(schedule, range(11))
    assert np.all(np.diff(ramp) > 0)
    assert np.all(np.diff(values(schedule, range(10, 120))) <= 1e-9)


def test_warmup_cosine_matches_keras_cosine_decay_with_warmup():
    ours = Warmup(
        CosineAnnealing(0.01, decay_steps=90, min_learning_rate=0.001),
        warmup_steps=10,
        initial_learning_rate=0.0,
    )
    keras_ = KS.CosineDecay(
        0.0, decay_steps=90, alpha=0.1, warmup_target=0.01, warmup_steps=10
    )
    steps = range(0, 130, 3)
    np.testing.assert_allclose(values(ours, steps), values(keras_, steps), atol=1e-8)


def test_exponential_warmup_is_geometric():
    schedule = Warmup(
        Constant(0.01), warmup_steps=10, initial_learning_rate=1e-4, mode="exponential"
    )
    start, middle, end = values(schedule, [0, 5, 10])
    assert start == pytest.approx(1e-4)
    assert middle == pytest.approx(1e-3, rel=1e-4)  # sqrt(1e-4 * 1e-2)
    assert end == pytest.approx(0.01)
    assert np.all(np.diff(np.log(values(schedule, range(11)))) > 0)
    default_start = Warmup(Constant(0.01), warmup_steps=10, mode="exponential")
    assert values(default_start, [0])[0] == pytest.approx(1e-4)


def test_warmup_wraps_step_decay_shifted():
    schedule = Warmup(StepDecay(0.1, step_size=20), warmup_steps=5)
    assert values(schedule, [0, 5, 24, 25]) == pytest.approx(
        [0.0, 0.1, 0.1, 0.01], rel=1e-5
    )


def test_seed003_preset_values():
    schedule = build_schedule({"name": "seed003"}, steps_per_epoch=10, epochs=50)
    # 5 warmup epochs (50 steps) from 0 to 0.01, then cosine to 0.001 over 45.
    got = values(schedule, [0, 25, 49, 50, 50 + 225, 499, 500, 800])
    expected = [0.0, 0.005, 0.0098, 0.01, 0.0055, None, 0.001, 0.001]
    for g, e in zip(got, expected):
        if e is not None:
            assert g == pytest.approx(e, rel=1e-4, abs=1e-9)
    assert got[5] == pytest.approx(0.001, rel=1e-3)
    alias = build_schedule({"name": "warmup_cosine"}, steps_per_epoch=10, epochs=50)
    np.testing.assert_allclose(values(alias), values(schedule))


def test_preset_keys_can_be_overridden():
    c = resolve_table("schedule", {"name": "seed003", "learning_rate": 0.02}, epochs=50)
    assert c["learning_rate"] == 0.02 and c["warmup_epochs"] == 5
    # The resolved table keeps the name given (so it reads back the same); it builds a cosine.
    assert c["name"] == "seed003" and schedule_kind(c["name"]) == "cosine"
    schedule = build_schedule(c, steps_per_epoch=10, epochs=50)
    assert isinstance(schedule, Warmup) and isinstance(schedule.schedule, CosineAnnealing)
    assert values(schedule, [50])[0] == pytest.approx(0.02)
    # A length in steps replaces the preset's length in epochs (issue 18, finding 7).
    c = resolve_table("schedule", {"name": "seed003", "warmup_steps": 7}, epochs=50)
    assert c["warmup_epochs"] is None and c["warmup_steps"] == 7
    assert build_schedule(c, steps_per_epoch=10, epochs=50).warmup_steps == 7


def test_default_is_constant_1e3():
    schedule = build_schedule({}, steps_per_epoch=5, epochs=2)
    assert isinstance(schedule, Constant)
    assert values(schedule, [0, 9]) == pytest.approx([1e-3, 1e-3])
    assert DEFAULTS["schedule"]["name"] == "constant"
    assert DEFAULTS["schedule"]["learning_rate"] == 1e-3


def test_epochs_and_steps_keys_agree():
    by_epochs = build_schedule(
        {"name": "cosine", "learning_rate": 1e-3, "warmup_epochs": 1,
         "min_learning_rate": 1e-5},
        steps_per_epoch=10,
        epochs=5,
    )
    by_steps = build_schedule(
        {"name": "cosine", "learning_rate": 1e-3, "warmup_steps": 10,
         "decay_steps": 40, "min_learning_rate": 1e-5},
        steps_per_epoch=10,
        epochs=5,
    )
    np.testing.assert_allclose(values(by_epochs), values(by_steps))
    assert values(by_epochs, [10, 50])[0] == pytest.approx(1e-3)
    assert values(by_epochs, [50])[0] == pytest.approx(1e-5)


@pytest.mark.parametrize(
    "name", ["constant", "step", "exponential", "cosine", "cosine_restarts", "seed003"]
)
def test_every_name_builds_and_is_finite_and_positive(name):
    schedule = build_schedule(
        {"name": name, "warmup_epochs": 1, "warmup": "exponential"}
        if name != "seed003" else {"name": name},
        steps_per_epoch=4,
        epochs=8,
    )
    got = schedule_values(schedule, 8 * 4)  # the whole training
    assert np.all(np.isfinite(got)) and np.all(got[1:] > 0) and got[0] >= 0


def test_scaled_schedule_multiplies_and_serializes():
    schedule = ScaledSchedule(Constant(0.01), 1.0)
    schedule.scale.assign(0.25)
    assert values(schedule, [3])[0] == pytest.approx(0.0025)
    copy = KS.deserialize(KS.serialize(schedule))
    assert isinstance(copy, ScaledSchedule)
    assert values(copy, [3])[0] == pytest.approx(0.0025)


def _tiny_model(learning_rate):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(
        keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy"
    )
    return model


SAVED_SCHEDULES = {
    "constant": lambda: Constant(0.003),
    "step": lambda: StepDecay(0.01, step_size=3, factor=0.5),
    "exponential": lambda: ExponentialDecay(0.01, 4, 0.9, min_learning_rate=1e-4),
    "cosine": lambda: CosineAnnealing(0.01, 20, min_learning_rate=1e-4),
    "cosine_restarts": lambda: CosineAnnealing(0.01, 4, restarts=True, m_mul=0.8),
    "warmup": lambda: Warmup(
        CosineAnnealing(0.01, 20), 4, initial_learning_rate=1e-4, mode="exponential"
    ),
    "scaled": lambda: ScaledSchedule(Warmup(StepDecay(0.01, 5), 3), 0.5),
    "seed003": lambda: build_schedule(
        {"name": "seed003"}, steps_per_epoch=1, epochs=10
    ),
}


@pytest.mark.parametrize("name", list(SAVED_SCHEDULES))
def test_model_with_schedule_saves_and_reloads(name, tmp_path):
    model = _tiny_model(SAVED_SCHEDULES[name]())
    x = np.random.default_rng(0).normal(size=(24, 4)).astype("float32")
    y = np.arange(24) % 3
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # 6 steps
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 6
    before = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    after = float(keras.ops.convert_to_numpy(loaded.optimizer.learning_rate))
    assert after == pytest.approx(before, rel=1e-6)
    assert type(loaded.optimizer._learning_rate) is type(model.optimizer._learning_rate)


def validate_schedule(schedule, epochs):
    """The problems the recipe validator finds in a [schedule] table, training `epochs` long."""
    return resolve([{"schedule": schedule, "train": {"epochs": epochs}}], context={"require_data": False})[1]


def test_validate_reports_unknown_key_with_suggestion():
    problems = validate_schedule({"name": "cosine", "learnig_rate": 0.1}, epochs=10)
    assert problems == ["unknown key 'schedule.learnig_rate' (did you mean 'learning_rate'?)"]
    problems = validate_schedule({"name": "cosin"}, epochs=10)
    assert "did you mean 'cosine'" in problems[0]


def test_validate_reports_types_and_ranges():
    assert validate_schedule({"learning_rate": "0.1"}, 10) == [
        "'schedule.learning_rate' must be float, got str '0.1'"]
    assert validate_schedule({"staircase": 1}, 10) == ["'schedule.staircase' must be bool, got int 1"]
    problems = validate_schedule(
        {"name": "step", "learning_rate": -1.0, "factor": 2.0}, epochs=10
    )
    assert "'schedule.learning_rate' = -1.0 is out of range (must be > 0)" in problems
    assert "'schedule.factor' = 2.0 is out of range (must be > 0 and <= 1)" in problems
    problems = validate_schedule({"name": "cosine", "min_learning_rate": 0.1,
                                  "learning_rate": 0.01}, epochs=10)
    assert any("min_learning_rate" in p for p in problems)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_validate_refuses_non_finite_numbers(value):
    # issue 18, finding 3: an infinite rate made the loss NaN and a NaN model was exported.
    problems = validate_schedule({"learning_rate": value, "t_mul": value}, epochs=10)
    assert f"'schedule.learning_rate' = {value!r} is not a finite number" in problems
    assert f"'schedule.t_mul' = {value!r} is not a finite number" in problems


def test_validate_accepts_lossless_numbers():
    c = resolve_table("schedule", {"name": "step", "learning_rate": 1, "step_size_steps": 4.0}, epochs=10)
    assert c["learning_rate"] == 1.0 and isinstance(c["learning_rate"], float)
    assert c["step_size_steps"] == 4 and isinstance(c["step_size_steps"], int)
    assert validate_schedule({"step_size_steps": 4.5}, 10) == [
        "'schedule.step_size_steps' must be int, got float 4.5"]


def test_steps_replace_epochs_but_not_both_at_once():
    # issue 18, finding 7: the epoch defaults were never unset, so any *_steps key failed.
    for twin, name in (("warmup", "constant"), ("step_size", "step"), ("decay", "exponential")):
        c = resolve_table("schedule", {"name": name, f"{twin}_steps": 3}, epochs=10)
        assert c[f"{twin}_steps"] == 3 and c[f"{twin}_epochs"] is None
        build_schedule(c, steps_per_epoch=5, epochs=10)
        assert validate_schedule({"name": name, f"{twin}_epochs": 1, f"{twin}_steps": 3}, 10) == [
            f"give 'schedule.{twin}_epochs' or 'schedule.{twin}_steps', not both"]
    # A later layer (an override) in epochs replaces a length in steps, and the other way round.
    recipe, problems = resolve([{"schedule": {"warmup_steps": 3}}, {"schedule": {"warmup_epochs": 2}}],
                               context={"require_data": False})
    assert problems == [] and recipe["schedule"]["warmup_epochs"] == 2 and recipe["schedule"]["warmup_steps"] is None


def test_validate_reports_warmup_longer_than_training():
    problems = validate_schedule({"name": "cosine", "warmup_epochs": 12}, epochs=10)
    assert problems == ["'schedule.warmup_epochs' = 12 is longer than training (10 epochs)"]
    assert validate_schedule({"name": "seed003"}, epochs=5)  # 5 warmup, 0 left
    assert validate_schedule({"name": "seed003"}, epochs=50) == []
    with pytest.raises(ValueError, match="longer than training"):
        build_schedule({"name": "constant", "warmup_steps": 100}, epochs=2, steps_per_epoch=10)


def test_validate_flags_ignored_non_default_key():
    problems = validate_schedule({"name": "cosine", "decay_rate": 0.5}, epochs=10)
    assert problems == ["'schedule.decay_rate' = 0.5 is ignored by the 'cosine' schedule (used by: exponential)"]


def test_build_schedule_raises_with_every_problem():
    with pytest.raises(ValueError, match="learnig_rate"):
        build_schedule({"learnig_rate": 1.0}, steps_per_epoch=2, epochs=2)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        build_schedule({}, steps_per_epoch=0, epochs=2)


def test_plot_schedule_writes_png(tmp_path):
    schedule = build_schedule({"name": "seed003"}, steps_per_epoch=3, epochs=10)
    path = plot_schedule(schedule, 30, tmp_path / "sub" / "schedule.png",
                         steps_per_epoch=3)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
