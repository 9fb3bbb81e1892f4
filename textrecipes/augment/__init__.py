"""Stage 2, augmentation (training data only): the EDA family of operations, seeded, offline or on the fly
inside ``tf.data``, and the synonym sources they draw on (WordNet read offline, a user file, embedding neighbours).
"""
