"""Optimizers: the recipe's ``[optimizer]`` table → a Keras optimizer, with per-layer learning rates.

`build_optimizer` picks Adam (default), AdamW, SGD, RMSprop or Adagrad;
`with_layer_rates` gives any of them a multiplier per layer (ULMFiT's
discriminative rates, `LayerRates`), returning the optimizer unchanged when
every multiplier is 1.
"""

from __future__ import annotations

from typing import Mapping

import keras

# optimizer.name → the Keras optimizer (SGD with momentum 0.9; AdamW's decay 1e-4 unless given).
OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "sgd": keras.optimizers.SGD,
              "rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad}


def build_optimizer(config: Mapping, learning_rate) -> keras.optimizers.Optimizer:
    """Adam (default), AdamW, SGD (momentum 0.9), RMSprop or Adagrad from ``[optimizer]``.

    Args:
        config: the recipe's ``[optimizer]`` table: ``name``, ``weight_decay``
            (0: none; AdamW then uses 1e-4) and ``clipnorm`` (0: none).
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`.

    Returns:
        The Keras optimizer.

    Example:
        >>> opt = build_optimizer({"name": "sgd", "weight_decay": 0.0, "clipnorm": 1.0}, 0.01)
        >>> type(opt).__name__, opt.clipnorm
        ('SGD', 1.0)
    """
    kwargs = {"learning_rate": learning_rate}
    if config["clipnorm"]:
        kwargs["clipnorm"] = config["clipnorm"]
    name = config["name"]
    if name == "adamw":
        return keras.optimizers.AdamW(weight_decay=config["weight_decay"] or 1e-4, **kwargs)
    if config["weight_decay"]:
        kwargs["weight_decay"] = config["weight_decay"]
    if name == "sgd":
        return keras.optimizers.SGD(momentum=0.9, **kwargs)
    return OPTIMIZERS[name](**kwargs)


class LayerRates:
    """Mixin for a Keras optimizer: each variable's rate is scaled by its layer's multiplier.

    Why our own: Keras optimizers take one learning rate for every variable, and
    scaling gradients does not scale Adam's steps. The multiplier is applied in
    ``update_step``, which every backend calls once per variable. A variable is
    matched by the components of its path (``bilstm/forward_lstm/...`` → ``bilstm``);
    unmatched variables keep the full rate.

    Args:
        layer_rates: ``{layer name: multiplier}`` (`group_rates`). Default None (all 1).
        **kwargs: the optimizer's own arguments.

    Example:
        >>> opt = LayerRateAdam(layer_rates={"embedding": 0.5}, learning_rate=0.01)
        >>> opt.get_config()["layer_rates"]
        {'embedding': 0.5}
    """

    def __init__(self, layer_rates: Mapping[str, float] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.layer_rates = {str(k): float(v) for k, v in (layer_rates or {}).items()}
        self._multipliers = []

    def build(self, variables):
        super().build(variables)
        self._multipliers = [self._rate_of(v) for v in variables]

    def _rate_of(self, variable) -> float:
        for part in getattr(variable, "path", variable.name).split("/"):
            if part in self.layer_rates:
                return self.layer_rates[part]
        return 1.0

    def update_step(self, gradient, variable, learning_rate):
        scale = self._multipliers[self._get_variable_index(variable)]
        if scale != 1.0:
            learning_rate = keras.ops.multiply(learning_rate, scale)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "layer_rates": dict(self.layer_rates)}


def _with_layer_rates_class(base: type) -> type:
    """``LayerRate<Base>``: the Keras optimizer ``base`` with a learning-rate multiplier per layer, registered."""
    doc = f"""{base.__name__} with a learning-rate multiplier per layer (see `LayerRates`).

    Args:
        layer_rates: ``{{layer name: multiplier}}``. Default None.
        **kwargs: `keras.optimizers.{base.__name__}` arguments.
    """
    cls = type(f"LayerRate{base.__name__}", (LayerRates, base), {"__doc__": doc, "__module__": __name__})
    return keras.saving.register_keras_serializable(package="textrecipes")(cls)


# One class each: a saved model names its optimizer's class, so each must be importable by name.
LayerRateAdam = _with_layer_rates_class(keras.optimizers.Adam)
LayerRateAdamW = _with_layer_rates_class(keras.optimizers.AdamW)
LayerRateSGD = _with_layer_rates_class(keras.optimizers.SGD)
LayerRateRMSprop = _with_layer_rates_class(keras.optimizers.RMSprop)
LayerRateAdagrad = _with_layer_rates_class(keras.optimizers.Adagrad)
LAYER_RATE_OPTIMIZERS = {cls.__name__[len("LayerRate"):]: cls for cls in
                         (LayerRateAdam, LayerRateAdamW, LayerRateSGD, LayerRateRMSprop, LayerRateAdagrad)}


def with_layer_rates(optimizer: keras.optimizers.Optimizer, layer_rates: Mapping[str, float]) -> keras.optimizers.Optimizer:
    """The same optimizer (same config) with a learning-rate multiplier per layer.

    Args:
        optimizer: an unbuilt Adam, AdamW, SGD, RMSprop or Adagrad (as from
            `textrecipes.training.optimizers.build_optimizer`).
        layer_rates: ``{layer name: multiplier}`` (`group_rates`); when every
            multiplier is 1, ``optimizer`` is returned unchanged.

    Returns:
        A `LayerRates` optimizer.

    Example:
        >>> opt = with_layer_rates(keras.optimizers.SGD(0.1, momentum=0.9), {"embedding": 0.5})
        >>> type(opt).__name__, opt.get_config()["momentum"]
        ('LayerRateSGD', 0.9)
    """
    if all(v == 1.0 for v in layer_rates.values()):
        return optimizer
    cls = LAYER_RATE_OPTIMIZERS[type(optimizer).__name__]
    config = optimizer.get_config()
    rate = optimizer._learning_rate
    if not isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = float(keras.ops.convert_to_numpy(rate))
    config["learning_rate"] = rate  # a schedule stays a schedule object
    return cls(layer_rates=layer_rates, **{k: v for k, v in config.items() if k != "name"})
