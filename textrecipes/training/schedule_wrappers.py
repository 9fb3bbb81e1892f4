"""Schedules that wrap a schedule: a warmup before any schedule, and a settable multiplier on any schedule.

What Keras lacks is composition: only `CosineDecay` can warm up, and a plateau
reducer cannot touch an optimizer built with a schedule. `Warmup` wraps any
schedule; `ScaledSchedule` gives one a multiplier that
`textrecipes.training.rates.ReduceLROnPlateauScaled` can lower. Both are
registered under "textrecipes" and serialize the schedule they wrap.
"""

from __future__ import annotations

import keras
from keras import ops

_Schedule = keras.optimizers.schedules.LearningRateSchedule
_serialize = keras.optimizers.schedules.serialize
_deserialize = keras.optimizers.schedules.deserialize
_register = keras.saving.register_keras_serializable(package="textrecipes")


#: The ramps `Warmup` makes.
WARMUP_MODES = ("linear", "exponential")


def _float_step(step):
    return ops.cast(step, "float32")


@_register
class Warmup(_Schedule):
    """A `LearningRateSchedule` that ramps up to any wrapped schedule.

    For `step < warmup_steps` the rate climbs from `initial_learning_rate` to
    `schedule(0)`, linearly or exponentially (a straight line on a log
    scale); from then on it is `schedule(step - warmup_steps)`. So the first
    step after warmup gets exactly the wrapped schedule's first rate, and the
    wrapped schedule's own lengths count from the end of warmup (as Keras'
    `CosineDecay` with `warmup_steps` does).

    Args:
        schedule: The `LearningRateSchedule` to warm up to.
        warmup_steps: Python int >= 0, length of the ramp in steps.
        initial_learning_rate: Python float, the rate at step 0. Defaults to
            `None`: `0.0` for a linear ramp, 1% of `schedule(0)` for an
            exponential one (which needs a start above 0).
        mode: `"linear"` or `"exponential"`. Defaults to `"linear"`.
        name: String. Defaults to `"Warmup"`.

    Example:

    >>> schedule = Warmup(Constant(0.01), warmup_steps=10)
    >>> [round(float(schedule(s)), 6) for s in (0, 5, 10, 11)]
    [0.0, 0.005, 0.01, 0.01]
    """

    def __init__(
        self,
        schedule,
        warmup_steps,
        initial_learning_rate=None,
        mode="linear",
        name="Warmup",
    ):
        super().__init__()
        if isinstance(schedule, dict):
            schedule = _deserialize(schedule)
        if mode not in WARMUP_MODES:
            raise ValueError(
                "Warmup mode must be 'linear' or 'exponential'. "
                f"Received: mode={mode!r}"
            )
        if warmup_steps < 0:
            raise ValueError(
                f"Warmup needs warmup_steps >= 0. Received: {warmup_steps}"
            )
        if (
            mode == "exponential"
            and initial_learning_rate is not None
            and initial_learning_rate <= 0
        ):
            raise ValueError(
                "An exponential warmup needs initial_learning_rate > 0. "
                f"Received: initial_learning_rate={initial_learning_rate}"
            )
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self.initial_learning_rate = initial_learning_rate
        self.mode = mode
        self.name = name

    def __call__(self, step):
        step = _float_step(step)
        if not self.warmup_steps:
            return self.schedule(step)
        n = ops.cast(self.warmup_steps, "float32")
        target = ops.cast(self.schedule(ops.zeros_like(step)), "float32")
        fraction = ops.minimum(step / n, 1.0)
        if self.mode == "linear":
            start = self.initial_learning_rate or 0.0
            ramp = start + (target - start) * fraction
        else:
            if self.initial_learning_rate is None:
                start = 0.01 * target
            else:
                start = ops.cast(self.initial_learning_rate, "float32")
            ramp = start * ops.power(target / start, fraction)
        # Both branches are computed (ops.where); the clamp keeps the wrapped
        # schedule away from negative steps during warmup.
        after = ops.cast(self.schedule(ops.maximum(step - n, 0.0)), "float32")
        return ops.where(step < n, ramp, after)

    def get_config(self):
        return {
            "schedule": _serialize(self.schedule),
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "mode": self.mode,
            "name": self.name,
        }


@_register
class ScaledSchedule(_Schedule):
    """A `LearningRateSchedule` that multiplies another by a settable scalar.

    The scale lives in a non-trainable `keras.Variable`, so assigning it
    changes the rate inside an already compiled train function. This is what
    `textrecipes.training.rates.ReduceLROnPlateauScaled` lowers when the optimizer
    holds a schedule (Keras' `ReduceLROnPlateau` raises `TypeError` there).
    `get_config` stores the scale's current value, so a saved model keeps
    any reduction.

    Args:
        schedule: The `LearningRateSchedule` to scale.
        scale: Python float or scalar `keras.Variable`. A float is put in a
            new variable. Defaults to `1.0`.
        name: String. Defaults to `"ScaledSchedule"`.

    Example:

    >>> schedule = ScaledSchedule(Constant(0.01))
    >>> _ = schedule.scale.assign(0.5)
    >>> round(float(schedule(0)), 6)
    0.005
    """

    def __init__(self, schedule, scale=1.0, name="ScaledSchedule"):
        super().__init__()
        if isinstance(schedule, dict):
            schedule = _deserialize(schedule)
        if not isinstance(scale, keras.Variable):
            scale = keras.Variable(
                float(scale),
                dtype="float32",
                trainable=False,
                name="learning_rate_scale",
            )
        self.schedule = schedule
        self.scale = scale
        self.name = name

    def __call__(self, step):
        rate = ops.cast(self.schedule(step), "float32")
        return rate * ops.cast(self.scale, "float32")

    def get_config(self):
        return {
            "schedule": _serialize(self.schedule),
            "scale": float(ops.convert_to_numpy(self.scale)),
            "name": self.name,
        }
