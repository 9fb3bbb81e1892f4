"""Stage 5, fitting: optimizers, learning-rate schedules, callbacks, the ``tf.distribute`` strategy, resume from
backups, the LR finder and the transfer-learning pieces (layer groups, freezing, discriminative rates).
"""


class TrainingError(RuntimeError):
    """Training could not give a usable model (for example its loss became NaN); the message says what to try.

    Defined here, in a module that imports nothing, so the command line can catch it without starting TensorFlow.

    Example:
        >>> from textrecipes.training import TrainingError
        >>> str(TrainingError("training diverged: the loss became nan at epoch 2"))
        'training diverged: the loss became nan at epoch 2'
    """


class StrategyError(TrainingError, ValueError):
    """The distribution strategy asked for cannot be made here (``train.strategy = "gpu"`` without a GPU, a bad TF_CONFIG).

    A `ValueError` too, as the strategy's errors were before; the command line prints it on one line (exit 2).

    Example:
        >>> from textrecipes.training import StrategyError
        >>> isinstance(StrategyError("train.strategy = 'gpu' but no GPU is visible"), ValueError)
        True
    """
