"""textrecipes: Keras 3 / TensorFlow recipes for text classification."""

__version__ = "0.1.0"

# The public API at a glance, in the order the data meets it. Imported lazily so
# that `import textrecipes` (and the CLI's --help) does not start TensorFlow.
_EXPORTS = {
    "read_classification": "textrecipes.datasets",
    "read_pairs": "textrecipes.datasets",
    "read_corpus": "textrecipes.datasets",
    "read_conll": "textrecipes.datasets",
    "split_records": "textrecipes.datasets",
    "label_counts": "textrecipes.datasets",
    "fetch": "textrecipes.download",
    "Augmenter": "textrecipes.augment",
    "tokenize": "textrecipes.tokenization",
    "Vocabulary": "textrecipes.tokenization",
    "TextVectorizer": "textrecipes.tokenization",
    "make_dataset": "textrecipes.pipeline",
    "build_vocabulary_streaming": "textrecipes.streaming",
    "stream_dataset": "textrecipes.streaming",
    "get_strategy": "textrecipes.distribute",
    "build_lstm_classifier": "textrecipes.models",
    "build_schedule": "textrecipes.schedules",
    "build_callbacks": "textrecipes.callbacks",
    "find_learning_rate": "textrecipes.lr_finder",
    "load_recipe": "textrecipes.recipe",
    "train": "textrecipes.runner",
    "Predictor": "textrecipes.export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'textrecipes' has no attribute {name!r}")
