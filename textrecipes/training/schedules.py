"""Per-step learning-rate schedules, the `seed003` preset, and their builder.

Every schedule here is a `keras.optimizers.schedules.LearningRateSchedule`
registered under the `"textrecipes"` package, so a model compiled with one saves
to `.keras` and reloads with `safe_mode=True`. `__call__` uses only `keras.ops`,
so the schedules run on any Keras backend.

Keras already ships exponential and cosine decay; we reuse them inside. What it
lacks is composition: only `CosineDecay` can warm up, and a plateau reducer
cannot touch an optimizer built with a schedule. `Warmup` wraps any schedule and
`ScaledSchedule` gives a schedule a settable multiplier for that reason.

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
import numpy as np
from keras import ops

from textrecipes.recipe.schema import schedule_kind
from textrecipes.recipe.validation import resolve_table

from textrecipes.evaluation.metrics import new_figure, save_figure

__all__ = [
    "Constant",
    "StepDecay",
    "ExponentialDecay",
    "CosineAnnealing",
    "Warmup",
    "ScaledSchedule",
    "SCHEDULE_NAMES",
    "WARMUP_MODES",
    "build_schedule",
    "schedule_values",
    "plot_schedule",
]

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
    `textrecipes.training.callbacks.ReduceLROnPlateauScaled` lowers when the optimizer
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


# ---------------------------------------------------------------------------
# The recipe's [schedule] table (its keys: textrecipes.recipe.schema).

#: The schedules `build_schedule` builds. A recipe may also name a preset
#: (`textrecipes.recipe.schema.SCHEDULE_PRESETS`: `seed003`, `warmup_cosine`).
SCHEDULE_NAMES = ("constant", "step", "exponential", "cosine", "cosine_restarts")
#: The ramps `Warmup` makes.
WARMUP_MODES = ("linear", "exponential")


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


def schedule_values(schedule, steps):
    """Evaluates a schedule at the given steps.

    Args:
        schedule: A `LearningRateSchedule` (or any callable of a step).
        steps: Int (evaluates `range(steps)`) or a sequence of steps.

    Returns:
        A float64 NumPy array, one rate per step.

    Example:

    >>> schedule_values(Constant(0.1), 3)
    array([0.1, 0.1, 0.1])
    """
    if isinstance(steps, numbers.Integral):
        steps = np.arange(steps)
    steps = np.asarray(steps, dtype="float32")
    try:
        values = np.asarray(ops.convert_to_numpy(schedule(steps)), "float64")
        if values.shape == steps.shape:
            return values
    except Exception:  # noqa: BLE001 - some Keras schedules need scalar steps
        pass
    return np.array(
        [float(ops.convert_to_numpy(schedule(s))) for s in steps], "float64"
    )


def plot_schedule(schedule, total_steps, path, *, steps_per_epoch=None, title=None):
    """Plots a schedule's rate against the step and writes a PNG.

    Args:
        schedule: A `LearningRateSchedule`.
        total_steps: Int > 0, steps to plot (at most 2,000 points are
            evaluated, evenly spread).
        path: Where to write the PNG; folders are created.
        steps_per_epoch: Int or None; when given, dotted lines mark epochs
            (up to 100 of them). Defaults to `None`.
        title: String or None. Defaults to the schedule's class name.

    Returns:
        `path`.

    Example:

    >>> plot_schedule(build_schedule({"name": "seed003"}, steps_per_epoch=10,
    ...     epochs=50), 500, "runs/schedule.png")
    'runs/schedule.png'
    """
    total_steps = int(total_steps)
    if total_steps <= 0:
        raise ValueError(f"total_steps must be > 0, got {total_steps}")
    count = min(total_steps, 2000)
    steps = np.unique(np.linspace(0, total_steps - 1, count).round().astype(int))
    values = schedule_values(schedule, steps)

    fig = new_figure((6, 3.5))
    ax = fig.subplots()
    ax.plot(steps, values)
    if steps_per_epoch and total_steps // steps_per_epoch <= 100:
        for boundary in range(steps_per_epoch, total_steps, steps_per_epoch):
            ax.axvline(boundary, color="0.85", linestyle=":", linewidth=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title or type(schedule).__name__)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))

    return save_figure(fig, path)
