"""Stage 6, export and prediction: a SavedModel over raw strings (checked against the Keras model), TFLite,
the model card, and predictors that load any of them.
"""
