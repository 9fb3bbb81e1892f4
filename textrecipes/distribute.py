"""The distribution strategy the model is built under (TensorFlow's own strategies)."""

from __future__ import annotations

import tensorflow as tf

STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multi_worker")


def get_strategy(name: str = "auto", *, gpus: list | None = None) -> tf.distribute.Strategy:
    """Picks a `tf.distribute.Strategy`.

    ``auto``: `MirroredStrategy` when more than one GPU is visible, a
    `OneDeviceStrategy` on one GPU, the default strategy on CPU. ``multi_worker``
    reads the cluster from ``TF_CONFIG``. The global batch size is the recipe's
    ``batch_size`` times ``strategy.num_replicas_in_sync``.

    Args:
        name: one of "auto" (default), "cpu", "gpu", "mirrored", "multi_worker".
        gpus: the visible GPUs (for tests); default: `tf.config.list_logical_devices("GPU")`.

    Example:
        >>> get_strategy("cpu").num_replicas_in_sync
        1
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if gpus is None:
        gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "gpu" if gpus else "cpu"
    if name == "cpu":
        return tf.distribute.get_strategy()
    if name == "gpu":
        if not gpus:
            raise ValueError("strategy 'gpu' asked for, but no GPU is visible to TensorFlow")
        return tf.distribute.OneDeviceStrategy(getattr(gpus[0], "name", "/gpu:0"))
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()
