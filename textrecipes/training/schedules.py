"""Per-step learning-rate schedules and their builder from a recipe's ``[schedule]`` table.

Every schedule here is a `keras.optimizers.schedules.LearningRateSchedule`
registered under the `"textrecipes"` package, so a model compiled with one saves
to `.keras` and reloads with `safe_mode=True`. `__call__` uses only `keras.ops`,
so the schedules run on any Keras backend.

Keras already ships exponential and cosine decay; we reuse them inside. What it
lacks is composition: `textrecipes.training.schedule_wrappers.Warmup` wraps any
schedule here, and `ScaledSchedule` gives one a settable multiplier.

A recipe's `[schedule]` table goes through `build_schedule`:

    [schedule]
    name = "cosine"
    learning_rate = 1e-3
    warmup_epochs = 1
    min_learning_rate = 1e-5
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

from textrecipes.recipe.schema import schedule_kind
from textrecipes.recipe.validation import resolve_table

from textrecipes.training.schedule_wrappers import Warmup

__all__ = ["Constant", "StepDecay", "ExponentialDecay", "CosineAnnealing", "SCHEDULE_NAMES", "build_schedule"]

_Schedule = keras.optimizers.schedules.LearningRateSchedule
_serialize = keras.optimizers.schedules.serialize
_deserialize = keras.optimizers.schedules.deserialize
_register = keras.saving.register_keras_serializable(package="textrecipes")


def _float_step(step):
    return ops.cast(step, "float32")


@_register
class Constant(_Schedule):
    """A `LearningRateSchedule` that returns the same rate at every step.

    It lets every run hold a schedule object, so the callbacks and the LR
    finder see one kind of optimizer whatever the recipe says.

    Args:
        learning_rate: Python float, the rate. Defaults to `1e-3`.
        name: String, name of the schedule. Defaults to `"Constant"`.

    Example:

    >>> schedule = Constant(1e-3)
    >>> round(float(schedule(100)), 6)
    0.001
    """

    def __init__(self, learning_rate=1e-3, name="Constant"):
        super().__init__()
        self.learning_rate = learning_rate
        self.name = name

    def __call__(self, step):
        # Multiplying by 0 * step keeps the output's shape equal to `step`'s,
        # so the schedule can be evaluated on a vector of steps.
        rate = ops.convert_to_tensor(self.learning_rate, dtype="float32")
        return rate + 0.0 * _float_step(step)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "name": self.name}


@_register
class ExponentialDecay(_Schedule):
    """A `LearningRateSchedule` that decays the rate exponentially, with a
    floor.

    `rate(step) = max(initial_learning_rate * decay_rate ** (step /
    decay_steps), min_learning_rate)`; with `min_learning_rate=0` it is
    exactly Keras' `ExponentialDecay`, which it uses inside.

    Args:
        initial_learning_rate: Python float, the rate at step 0.
        decay_steps: Python int > 0, steps over which the rate is multiplied
            by `decay_rate` once.
        decay_rate: Python float in (0, 1].
        staircase: Boolean, decay in whole steps of `decay_steps`. Defaults
            to `False`.
        min_learning_rate: Python float, the floor. Defaults to `0.0`.
        name: String. Defaults to `"ExponentialDecay"`.

    Example:

    >>> schedule = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
    >>> round(float(schedule(200)), 6)
    0.025
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        min_learning_rate=0.0,
        name="ExponentialDecay",
    ):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.min_learning_rate = min_learning_rate
        self.name = name
        self._inner = keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate, decay_steps, decay_rate, staircase=staircase
        )

    def __call__(self, step):
        return ops.maximum(
            self._inner(_float_step(step)),
            ops.cast(self.min_learning_rate, "float32"),
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "min_learning_rate": self.min_learning_rate,
            "name": self.name,
        }


@_register
class StepDecay(ExponentialDecay):
    """A `LearningRateSchedule` that multiplies the rate by `factor` every
    `step_size` steps.

    `rate(step) = max(initial_learning_rate * factor ** floor(step /
    step_size), min_learning_rate)`. It is Keras' `ExponentialDecay` with
    `staircase=True`, which this class uses inside, plus a floor.

    Args:
        initial_learning_rate: Python float, the rate before the first drop.
        step_size: Python int > 0, steps between drops (with 100 steps per
            epoch, `step_size=500` gives `lr * 0.1` after epoch 5).
        factor: Python float in (0, 1], the multiplier at each drop.
            Defaults to `0.1`.
        min_learning_rate: Python float, the floor. Defaults to `0.0`.
        name: String. Defaults to `"StepDecay"`.

    Example:

    >>> schedule = StepDecay(0.1, step_size=500, factor=0.1)
    >>> [round(float(schedule(s)), 6) for s in (0, 499, 500, 1000)]
    [0.1, 0.1, 0.01, 0.001]
    """

    def __init__(
        self,
        initial_learning_rate,
        step_size,
        factor=0.1,
        min_learning_rate=0.0,
        name="StepDecay",
    ):
        super().__init__(initial_learning_rate, step_size, factor, staircase=True,
                         min_learning_rate=min_learning_rate, name=name)
        self.step_size = step_size
        self.factor = factor

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "step_size": self.step_size,
            "factor": self.factor,
            "min_learning_rate": self.min_learning_rate,
            "name": self.name,
        }


@_register
class CosineAnnealing(_Schedule):
    """A `LearningRateSchedule` that anneals the rate along a cosine, with
    optional warm restarts (SGDR).

    Without restarts the rate goes from `initial_learning_rate` to
    `min_learning_rate` over `decay_steps` and stays there (Keras'
    `CosineDecay` inside). With `restarts=True` it jumps back up after each
    cycle; cycle `i` lasts `decay_steps * t_mul ** i` steps and starts at
    `min_learning_rate + (initial_learning_rate - min_learning_rate) *
    m_mul ** i` (Keras' `CosineDecayRestarts` inside). Warmup is left to
    `Warmup`, which wraps any schedule.

    Args:
        initial_learning_rate: Python float > 0, the rate at step 0.
        decay_steps: Python int > 0, length of the (first) cycle in steps.
        min_learning_rate: Python float, the rate at the end of a cycle.
            Defaults to `0.0`.
        restarts: Boolean, restart after each cycle. Defaults to `False`.
        t_mul: Python float >= 1, cycle length multiplier (restarts only).
            Defaults to `2.0`.
        m_mul: Python float, cycle peak multiplier (restarts only).
            Defaults to `1.0`.
        name: String. Defaults to `"CosineAnnealing"`.

    Example:

    >>> schedule = CosineAnnealing(0.01, decay_steps=100, min_learning_rate=0.001)
    >>> [round(float(schedule(s)), 6) for s in (0, 50, 100, 200)]
    [0.01, 0.0055, 0.001, 0.001]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        min_learning_rate=0.0,
        restarts=False,
        t_mul=2.0,
        m_mul=1.0,
        name="CosineAnnealing",
    ):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.min_learning_rate = min_learning_rate
        self.restarts = restarts
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.name = name
        if initial_learning_rate <= 0:
            raise ValueError(
                "CosineAnnealing needs initial_learning_rate > 0. "
                f"Received: initial_learning_rate={initial_learning_rate}"
            )
        # Keras expresses the floor as a fraction of the initial rate.
        alpha = min_learning_rate / initial_learning_rate
        schedules = keras.optimizers.schedules
        if restarts:
            self._inner = schedules.CosineDecayRestarts(
                initial_learning_rate,
                decay_steps,
                t_mul=t_mul,
                m_mul=m_mul,
                alpha=alpha,
            )
        else:
            self._inner = schedules.CosineDecay(
                initial_learning_rate, decay_steps, alpha=alpha
            )

    def __call__(self, step):
        return self._inner(_float_step(step))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "min_learning_rate": self.min_learning_rate,
            "restarts": self.restarts,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "name": self.name,
        }


# ---------------------------------------------------------------------------
# The recipe's [schedule] table (its keys: textrecipes.recipe.schema).

#: The schedules `build_schedule` builds. A recipe may also name a preset
#: (`textrecipes.recipe.schema.SCHEDULE_PRESETS`: `seed003`, `warmup_cosine`).
SCHEDULE_NAMES = ("constant", "step", "exponential", "cosine", "cosine_restarts")


def _to_steps(config, key, steps_per_epoch):
    """Steps from `<key>_steps` if set, else `<key>_epochs` (None if both are)."""
    steps = config.get(f"{key}_steps")
    if steps is not None:
        return int(steps)
    epochs = config.get(f"{key}_epochs")
    if epochs is None:
        return None
    return int(round(epochs * steps_per_epoch))


def build_schedule(config, *, steps_per_epoch, epochs):
    """Builds the per-step `LearningRateSchedule` a recipe's `[schedule]`
    table describes.

    Lengths may be given in epochs (`*_epochs` keys, converted with
    `steps_per_epoch`) or steps (`*_steps` keys). A warmup wraps the chosen
    schedule (`Warmup`), whose lengths then count from the end of warmup.
    See `textrecipes.recipe.schema.SCHEMA` for every key.

    Args:
        config: Dict, the `[schedule]` table, resolved (as in a recipe from
            `load_recipe`) or as given; `{}` or None gives the default
            `{"name": "constant", "learning_rate": 1e-3}`.
        steps_per_epoch: Int > 0, optimizer steps per epoch.
        epochs: Int > 0, training length in epochs.

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`.

    Raises:
        ValueError: listing every problem in the table (a
            `textrecipes.recipe.validation.RecipeError`), lengths in steps included.

    Example:

    >>> schedule = build_schedule(
    ...     {"name": "seed003"}, steps_per_epoch=10, epochs=50)
    >>> [round(float(schedule(s)), 5) for s in (0, 50, 500)]
    [0.0, 0.01, 0.001]
    """
    if not isinstance(steps_per_epoch, numbers.Integral) or steps_per_epoch <= 0:
        raise ValueError(
            f"steps_per_epoch must be a positive integer, got {steps_per_epoch!r}"
        )
    c = resolve_table("schedule", config, epochs=epochs, steps_per_epoch=steps_per_epoch)
    spe = steps_per_epoch
    lr = float(c["learning_rate"])
    floor = float(c["min_learning_rate"])
    warm = _to_steps(c, "warmup", spe) or 0
    rest = epochs * spe - warm
    kind = schedule_kind(c["name"])

    if kind == "constant":
        base = Constant(lr)
    elif kind == "step":
        size = max(1, _to_steps(c, "step_size", spe))
        base = StepDecay(lr, size, factor=c["factor"], min_learning_rate=floor)
    elif kind == "exponential":
        decay = _to_steps(c, "decay", spe) or spe
        base = ExponentialDecay(
            lr,
            max(1, decay),
            c["decay_rate"],
            staircase=c["staircase"],
            min_learning_rate=floor,
        )
    elif kind == "cosine":
        decay = _to_steps(c, "decay", spe) or rest
        base = CosineAnnealing(lr, max(1, decay), min_learning_rate=floor)
    else:  # cosine_restarts
        decay = _to_steps(c, "decay", spe) or rest // 3
        base = CosineAnnealing(
            lr,
            max(1, decay),
            min_learning_rate=floor,
            restarts=True,
            t_mul=c["t_mul"],
            m_mul=c["m_mul"],
        )
    if warm <= 0:
        return base
    return Warmup(
        base,
        warm,
        initial_learning_rate=c["warmup_start_learning_rate"],
        mode=c["warmup"],
    )


