"""`MagnitudePruning`: the callback that prunes on the schedule's steps and keeps pruned weights at 0."""

from __future__ import annotations

import warnings

import keras
from keras import ops

from textrecipes.pruning.masks import _require_masks, apply_masks, masks_behind, overall_mask_sparsity, update_masks
from textrecipes.pruning.schedule import _as_schedule

__all__ = ["MagnitudePruning"]

class MagnitudePruning(keras.callbacks.Callback):
    """Prunes on the schedule's steps and keeps pruned weights at 0 after every optimizer step.

    On each scheduled step (counted by the optimizer's ``iterations``, so a
    resumed or continued fit picks up where it was) the masks are recomputed
    from the weights' magnitudes; after every batch they are applied again (the
    optimizer moves a masked weight; the mask puts it back to exactly 0). When
    training ends below the scheduled sparsity (``restore_best_weights`` brought
    back an earlier epoch's weights and masks) it prunes again to the schedule.
    The overall mask sparsity is added to the epoch logs as ``sparsity``.

    Args:
        schedule: a `PruningSchedule` that replaces the one stored with the
            masks. Default None (the stored one).
        verbose: 1 prints the sparsity at each epoch end. Default 0.

    Example:
        >>> from textrecipes.pruning.schedule import PruningSchedule
        >>> from textrecipes.pruning.selection import prune_low_magnitude
        >>> pruned = prune_low_magnitude(model, PruningSchedule(0.9, end_step=500, frequency=50))  # doctest: +SKIP
        >>> pruned.fit(train_ds, epochs=3, callbacks=[MagnitudePruning()])  # doctest: +SKIP
    """

    def __init__(self, schedule=None, verbose=0):
        super().__init__()
        self.schedule = None if schedule is None else _as_schedule(schedule)
        self.verbose = verbose
        self._last = -1

    def _schedule(self):
        masks_layer, _ = _require_masks(self.model)
        schedule = self.schedule or masks_layer.schedule
        if schedule is None:
            raise ValueError("MagnitudePruning: no PruningSchedule given and none stored with the masks")
        return schedule

    def _step(self) -> int:
        return int(ops.convert_to_numpy(self.model.optimizer.iterations))

    def _behind(self, step: int) -> bool:
        """Whether a mask prunes less than the schedule asks at ``step`` (resumed mid-ramp, or weights restored)."""
        return masks_behind(self.model, step, self._schedule())

    def on_train_begin(self, logs=None):
        step = self._last = self._step()
        if self._schedule().prune_now(step) or self._behind(step):
            update_masks(self.model, step, self._schedule())
        else:
            apply_masks(self.model)

    def on_train_batch_end(self, batch, logs=None):
        step, last = self._step(), self._last
        self._last = step
        # With steps_per_execution > 1 the optimizer moves several steps between two calls:
        # a pruning step among them is done now.
        schedule = self._schedule()
        if any(schedule.prune_now(t) for t in range(max(last + 1, schedule.begin_step), min(step, schedule.end_step) + 1)):
            update_masks(self.model, step, schedule)
        else:
            apply_masks(self.model)

    def on_epoch_end(self, epoch, logs=None):
        sparsity = overall_mask_sparsity(self.model)
        if logs is not None:
            logs["sparsity"] = sparsity
        if self.verbose:
            print(f"epoch {epoch + 1}: pruning masks at sparsity {sparsity:.4f}", flush=True)

    def on_train_end(self, logs=None):
        step = self._step()
        if self._behind(step):
            warnings.warn("MagnitudePruning: the masks were below the scheduled sparsity at the end of training "
                          "(weights restored from an earlier epoch?); pruned again to the schedule", stacklevel=2)
            update_masks(self.model, step, self._schedule())
        else:
            apply_masks(self.model)

    def get_config(self):
        return {"schedule": None if self.schedule is None else keras.saving.serialize_keras_object(self.schedule),
                "verbose": self.verbose}
