"""Which way a monitored metric should go: ``loss`` down, ``accuracy`` up, whatever its name.

Keras' ``mode="auto"`` raises for a metric whose direction it cannot infer;
`metric_mode` decides from the name (lower is better for losses and errors,
higher for everything else), so a callback never fails on an unknown metric.
"""

from __future__ import annotations


#: The directions a monitored metric may be given: `"auto"` follows `metric_mode`.
MODES = ("auto", "min", "max")


_LOWER_IS_BETTER = (
    "loss",
    "error",
    "crossentropy",
    "mse",
    "mae",
    "mape",
    "msle",
    "hinge",
    "kl_divergence",
    "kld",
    "poisson",
    "logcosh",
    "perplexity",
)


def metric_mode(monitor):
    """Says whether a monitored metric should go down (`"min"`) or up (`"max"`).

    Names containing a loss-like word (`loss`, `error`, `crossentropy`, `mse`,
    `mae`, ...) are `"min"`; everything else (accuracy, AUC, F1, ...) is
    `"max"`. A `val_` prefix is ignored.

    Args:
        monitor: String, a metric name as it appears in `logs`.

    Returns:
        `"min"` or `"max"`.

    Example:

    >>> metric_mode("val_loss"), metric_mode("val_sparse_categorical_accuracy")
    ('min', 'max')
    """
    name = monitor.lower()
    if name.startswith("val_"):
        name = name[4:]
    return "min" if any(word in name for word in _LOWER_IS_BETTER) else "max"


def resolve_mode(monitor, mode):
    return metric_mode(monitor) if mode in (None, "auto") else mode
