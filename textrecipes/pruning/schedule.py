"""The sparsity schedule of iterative magnitude pruning: Zhu & Gupta's (2017) polynomial ramp.

``s_t = s_f + (s_i - s_f)(1 - (t - t0) / (n Δt))^3`` from a begin step to an end
step, the masks recomputed every ``frequency`` steps; registered with Keras and
saved with the masks (`textrecipes.pruning.masks.PruningMasks`).
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["PruningSchedule"]


@keras.saving.register_keras_serializable(package="textrecipes")
class PruningSchedule:
    """Polynomial sparsity ramp (Zhu & Gupta 2017) from ``begin_step`` to ``end_step``.

    At step ``t`` the sparsity is ``s_f + (s_i - s_f) * (1 - p) ** power`` with
    ``p = (t - begin_step) / (end_step - begin_step)`` clipped to [0, 1]: fast
    pruning first, while the network is still redundant, and slow near the end.
    Masks are recomputed every ``frequency`` steps between the two steps and at
    ``end_step`` itself; after it the sparsity stays at the target. A layer's
    own target (`prune_low_magnitude`'s ``targets``) replaces ``s_f`` for it.

    Args:
        target_sparsity: ``s_f``, the fraction of each pruned weight set to zero
            at ``end_step``, in [0, 1). Default 0.9.
        begin_step: the optimizer step of the first pruning. Default 0.
        end_step: the step at which the target is reached (``begin_step``: prune
            to the target at once). Default 1000.
        frequency: ``Δt``, steps between two mask updates. Default 100.
        initial_sparsity: ``s_i``, the sparsity at ``begin_step``. Default 0.
        power: the exponent of the ramp. Default 3.

    Example:
        >>> schedule = PruningSchedule(0.8, begin_step=0, end_step=100, frequency=10)
        >>> [round(schedule.sparsity(t), 3) for t in (0, 50, 100, 500)]
        [0.0, 0.7, 0.8, 0.8]
        >>> schedule.prune_now(20), schedule.prune_now(25), schedule.prune_now(110)
        (True, False, False)
    """

    def __init__(self, target_sparsity=0.9, begin_step=0, end_step=1000, frequency=100, initial_sparsity=0.0, power=3):
        self.target_sparsity = target_sparsity
        self.begin_step = begin_step
        self.end_step = end_step
        self.frequency = frequency
        self.initial_sparsity = initial_sparsity
        self.power = power
        _check_sparsity("target_sparsity", target_sparsity)
        _check_sparsity("initial_sparsity", initial_sparsity)
        for name, value in (("begin_step", begin_step), ("end_step", end_step)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if end_step < begin_step:
            raise ValueError(f"end_step ({end_step}) must be >= begin_step ({begin_step})")
        if not isinstance(frequency, (int, np.integer)) or frequency < 1:
            raise ValueError(f"frequency must be a positive integer, got {frequency!r}")
        if not isinstance(power, (int, float)) or power <= 0:
            raise ValueError(f"power must be a positive number, got {power!r}")

    @classmethod
    def from_epochs(cls, target_sparsity, *, start_epoch, end_epoch, steps_per_epoch, frequency=100,
                    initial_sparsity=0.0, power=3):
        """The schedule of a recipe's epochs: pruning starts at ``start_epoch`` and ends after ``end_epoch``.

        Epochs count from 0: ``start_epoch=0, end_epoch=2`` ramps over the first two
        epochs and reaches the target at the end of the second.

        Args:
            target_sparsity: the final sparsity.
            start_epoch: the epoch whose first step prunes first.
            end_epoch: the epoch at whose start the target is reached.
            steps_per_epoch: optimizer steps per epoch.
            frequency: steps between two mask updates. Default 100.
            initial_sparsity: the sparsity at the first pruning step. Default 0.
            power: the ramp's exponent. Default 3.

        Example:
            >>> s = PruningSchedule.from_epochs(0.9, start_epoch=0, end_epoch=2, steps_per_epoch=50)
            >>> s.begin_step, s.end_step
            (0, 100)
        """
        if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive integer, got {steps_per_epoch!r}")
        if not isinstance(start_epoch, int) or not isinstance(end_epoch, int) or not 0 <= start_epoch <= end_epoch:
            raise ValueError(f"need integers 0 <= start_epoch <= end_epoch, got start_epoch={start_epoch!r}, "
                             f"end_epoch={end_epoch!r}")
        return cls(target_sparsity, begin_step=start_epoch * steps_per_epoch, end_step=end_epoch * steps_per_epoch,
                   frequency=frequency, initial_sparsity=initial_sparsity, power=power)

    def sparsity(self, step, target=None) -> float:
        """The sparsity at ``step``, for a final ``target`` (default: ``target_sparsity``); 0 before ``begin_step``.

        Example:
            >>> PruningSchedule(0.9, end_step=10).sparsity(10, target=0.5)
            0.5
        """
        final = self.target_sparsity if target is None else target
        if step < self.begin_step:
            return 0.0
        span = self.end_step - self.begin_step
        progress = 1.0 if span == 0 else min(max((step - self.begin_step) / span, 0.0), 1.0)
        initial = min(self.initial_sparsity, final)
        return float(final + (initial - final) * (1.0 - progress) ** self.power)

    def prune_now(self, step) -> bool:
        """Whether the masks are recomputed at ``step``: every ``frequency`` steps from ``begin_step``, and at ``end_step``.

        Example:
            >>> PruningSchedule(0.5, begin_step=10, end_step=25, frequency=10).prune_now(25)
            True
        """
        if not self.begin_step <= step <= self.end_step:
            return False
        return (step - self.begin_step) % self.frequency == 0 or step == self.end_step

    def get_config(self) -> dict:
        return {"target_sparsity": self.target_sparsity, "begin_step": int(self.begin_step),
                "end_step": int(self.end_step), "frequency": int(self.frequency),
                "initial_sparsity": self.initial_sparsity, "power": self.power}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"PruningSchedule({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def _check_sparsity(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


def _as_schedule(schedule):
    if isinstance(schedule, PruningSchedule):
        return schedule
    if isinstance(schedule, dict):
        return keras.saving.deserialize_keras_object(schedule)
    if isinstance(schedule, (int, float)) and not isinstance(schedule, bool):
        # One number: prune to it at once, at the first step (one-shot pruning).
        return PruningSchedule(float(schedule), begin_step=0, end_step=0, frequency=1)
    raise TypeError(f"schedule must be a PruningSchedule or a sparsity in [0, 1), got {schedule!r}")
