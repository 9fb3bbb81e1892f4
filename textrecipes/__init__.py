"""textrecipes: Keras 3 / TensorFlow recipes for text classification."""

__version__ = "0.1.0"

# The public API at a glance, in the order the data meets it. Imported lazily so
# that `import textrecipes` (and the CLI's --help) does not start TensorFlow.
_EXPORTS = {
    "read_classification": "textrecipes.data.readers",
    "read_pairs": "textrecipes.data.readers",
    "read_corpus": "textrecipes.data.readers",
    "read_conll": "textrecipes.data.readers",
    "split_records": "textrecipes.data.splits",
    "label_counts": "textrecipes.data.splits",
    "fetch": "textrecipes.data.download",
    "diagnose": "textrecipes.data.sniff",
    "Augmenter": "textrecipes.augment.eda",
    "tokenize": "textrecipes.text.tokenization",
    "Vocabulary": "textrecipes.text.tokenization",
    "TextVectorizer": "textrecipes.text.tokenization",
    "make_dataset": "textrecipes.text.pipeline",
    "build_vocabulary_streaming": "textrecipes.data.streaming",
    "stream_dataset": "textrecipes.data.streaming",
    "get_strategy": "textrecipes.training.distribute",
    "build_lstm_classifier": "textrecipes.models.classifiers",
    "build_gru_classifier": "textrecipes.models.classifiers",
    "build_cnn_classifier": "textrecipes.models.classifiers",
    "build_fasttext_classifier": "textrecipes.models.classifiers",
    "load_vectors": "textrecipes.text.vectors",
    "build_pair_classifier": "textrecipes.models.pairs",
    "build_tagger": "textrecipes.models.tagger",
    "entity_scores": "textrecipes.evaluation.tagging",
    "build_schedule": "textrecipes.training.schedules",
    "build_callbacks": "textrecipes.training.callbacks",
    "find_learning_rate": "textrecipes.training.lr_finder",
    "load_recipe": "textrecipes.recipe.loading",
    "train": "textrecipes.workflows.train",
    "finetune": "textrecipes.workflows.finetune",
    "RunResult": "textrecipes.run.harness",
    "Predictor": "textrecipes.export.predictors",
    "PairPredictor": "textrecipes.export.predictors",
    "Tagger": "textrecipes.export.predictors",
    "load_predictor": "textrecipes.export.predictors",
    "run_search": "textrecipes.workflows.search",
    "train_ensemble": "textrecipes.workflows.ensemble",
    "distill": "textrecipes.workflows.ensemble",
    "evaluate": "textrecipes.workflows.evaluate",
    "write_report": "textrecipes.evaluation.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'textrecipes' has no attribute {name!r}")


def _install_keras_objects():
    """Keras learns textrecipes' layers and schedules on its first import (a ``.keras`` file then loads anywhere)."""
    from textrecipes.keras_objects import install_hook

    install_hook()


_install_keras_objects()
