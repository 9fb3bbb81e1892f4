"""Stage 5, fitting: optimizers, learning-rate schedules, callbacks, the ``tf.distribute`` strategy, resume from
backups, the LR finder and the transfer-learning pieces (layer groups, freezing, discriminative rates).
"""
