"""On-the-fly augmentation inside ``tf.data``: a fresh EDA variant of each training example every epoch.

`augment_dataset` maps `Augmenter.augment_one` over a training pipeline;
`AugmentEpochCallback` tells it the epoch; `build_augmenter` makes both from a
recipe's ``[augment]`` table. Every variant depends only on
``(seed, epoch, example)``, in any order and with any parallelism.
"""

from __future__ import annotations

from typing import Mapping

import keras
import tensorflow as tf

from textrecipes.augment.eda import Augmenter


def augment_dataset(dataset, augmenter, epoch_variable, *, probability=1.0, num_parallel_calls=None):
    """Augments a `tf.data` training set on the fly, one new variant per epoch.

    Maps `augmenter.augment_one(text, epoch=e, index=i)` over a dataset of
    `(index, text, label)` elements, where `e` is read from `epoch_variable`
    each time an element is produced; `AugmentEpochCallback` sets it at the
    start of every epoch. Returns `(text, label)` elements. The same epoch
    gives the same texts, in any order and with any parallelism.

    Attach the index before shuffling (it identifies the example, not its
    position), augment before vectorizing and batching, and do not `repeat()`
    the dataset: Keras then starts a new iterator after `on_epoch_begin`, so
    no element is prefetched with the previous epoch's number. Apply it to the
    training set only; validation and test data must stay unaugmented.

    Args:
        dataset: a `tf.data.Dataset` of `(index, text, label)`: an int64
            scalar, a string scalar, and any label structure.
        augmenter: an `Augmenter`.
        epoch_variable: an int64 scalar `tf.Variable` holding the epoch.
        probability: chance that an element is replaced by its variant in a
            given epoch, drawn statelessly from `(augmenter.seed, epoch,
            index)`; the variant is only computed when it is used. Defaults
            to `1.0`.
        num_parallel_calls: passed to `Dataset.map`. Defaults to `None`:
            `tf.data.AUTOTUNE`.

    Returns:
        A `tf.data.Dataset` of `(text, label)`.

    Example:

    ```python
    import numpy as np
    import tensorflow as tf
    texts = ["a good film", "a dull plot"]
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    train = tf.data.Dataset.from_tensor_slices(
        (np.arange(len(texts)), texts, [1, 0])
    ).shuffle(2, seed=0)
    train = augment_dataset(train, Augmenter(seed=0), epoch).batch(2)
    # model.fit(train.map(vectorize), callbacks=[AugmentEpochCallback(epoch)])
    ```
    """

    def augment_numpy(index, text, epoch):
        return augmenter.augment_one(
            text.decode("utf-8"), epoch=int(epoch), index=int(index)
        ).encode("utf-8")

    def variant(index, text, epoch):
        new_text = tf.numpy_function(
            augment_numpy,
            [index, text, epoch],
            tf.string,
            stateful=False,
            name="augment_one",
        )
        return tf.ensure_shape(new_text, text.shape)

    def augment_element(index, text, label):
        epoch = tf.cast(epoch_variable, tf.int64)
        index = tf.cast(index, tf.int64)
        if probability >= 1.0:
            return variant(index, text, epoch), label
        key = tf.stack([tf.cast(augmenter.seed, tf.int64) * 1_000_003 + epoch, index])
        use = tf.random.stateless_uniform([], seed=key) < probability
        return tf.cond(use, lambda: variant(index, text, epoch), lambda: text), label

    if num_parallel_calls is None:
        num_parallel_calls = tf.data.AUTOTUNE
    return dataset.map(augment_element, num_parallel_calls=num_parallel_calls)



class AugmentEpochCallback(keras.callbacks.Callback):
    """Tells `augment_dataset` the current epoch, so each epoch gets new variants.

    Assigns the epoch number to `epoch_variable` in `on_epoch_begin`.

    Args:
        epoch_variable: the int64 scalar `tf.Variable` given to `augment_dataset`.

    Example:
        >>> epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        >>> callback = AugmentEpochCallback(epoch)
        >>> callback.on_epoch_begin(3)
        >>> int(epoch.numpy())
        3
    """

    def __init__(self, epoch_variable):
        super().__init__()
        self.epoch_variable = epoch_variable

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_variable.assign(epoch)


def build_augmenter(config: Mapping, seed: int):
    """The recipe's ``[augment]`` table → (Augmenter, epoch variable), or (None, None) when off.

    Args:
        config: the recipe's ``[augment]`` table.
        seed: the run's seed; a variant depends only on (seed, epoch, example).

    Returns:
        ``(augmenter, epoch)``: an `Augmenter` and a non-trainable int64
        `tf.Variable` for the current epoch; ``(None, None)`` when ``enabled``
        is false.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> build_augmenter(default_recipe()["augment"], seed=0)
        (None, None)
    """
    if not config["enabled"]:
        return None, None
    augmenter = Augmenter(config["source"], alpha_sr=config["alpha_sr"], alpha_ri=config["alpha_ri"],
                          alpha_rs=config["alpha_rs"], p_rd=config["p_rd"], num_aug=1, seed=seed,
                          tokenizer=config["tokenizer"])
    return augmenter, tf.Variable(0, dtype=tf.int64, trainable=False, name="augment_epoch")
