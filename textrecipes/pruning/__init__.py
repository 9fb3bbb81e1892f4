"""Pruning and compression on Keras 3 (issue 19): magnitude pruning with masks kept in the model, a polynomial
sparsity schedule, a callback that prunes during ``fit``, and structured pruning that makes the exported graph
genuinely smaller and faster.

In data-flow order: `schedule` (PruningSchedule) → `selection` (prune_low_magnitude: which weights, which
granularity; mask_unused_rows) → `masks` (the PruningMasks layer; update_masks, apply_masks) → `callback`
(MagnitudePruning, around ``model.fit``) → `strip` (strip_pruning: the plain model to export) → `structured` and
`compact` (compact_model: without the rows and units the masks removed) → `report` (sparsity_report, export_size,
predictions_per_second).
"""
