"""textrecipes: Keras 3 / TensorFlow recipes for text classification."""

__version__ = "0.1.0"
