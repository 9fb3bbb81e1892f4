"""Fine-tuning: a trained run folder plus new labelled data → a new run folder, through the run harness.

The vocabulary, label set, tokenizer settings and recipe travel inside the run
folder. New labels extend the output layer (old columns kept; a binary head
becomes a softmax head with the same probabilities), new words can extend the
vocabulary and embedding, and the layers can be frozen, unfrozen gradually and
given lower learning rates further from the head (ULMFiT's discriminative
rates). `FinetuneTask` is a classification task whose vocabulary and starting
weights come from the run, so a fine-tuning run has everything a training run
has: the distribution strategy, the schedule, callbacks, backup and resume,
exports and the report.
"""

from __future__ import annotations

import collections
import os
from typing import Mapping

import keras

from textrecipes.data.readers import read_classification, read_options
from textrecipes.data.records import DataError
from textrecipes.export.metadata import RunFolderError, check_meta, read_json
from textrecipes.models.auto import single_model
from textrecipes.models.classifiers import BUILDERS
from textrecipes.models.layers import FirstTokens, HashedBigrams, MaskedPooling
from textrecipes.pruning.structured import RemappedEmbedding
from textrecipes.recipe.loading import RecipeError, load_recipe
from textrecipes.run.harness import RunResult, run
from textrecipes.tasks.classification import ClassificationTask, builder_options, log
from textrecipes.text.tokenization import Vocabulary
from textrecipes.training import transfer


def saved_architecture(model: keras.Model, name: str) -> dict:
    """The ``[model]`` keys a trained classifier's layers fix, read from the layers themselves.

    A run folder's ``recipe.toml`` holds the keys that existed when it was
    trained; a key added since would take today's default, which may build a
    different model whose weights still fit (e.g. ``ngram_pooling``, ``rnn_length``).
    The layers are the record of what was trained.

    Args:
        model: the classifier on token ids (`load_run`'s fourth value).
        name: its ``model.name`` (``fasttext`` pools its word bag like its n-grams).

    Returns:
        A dict of ``[model]`` keys: ``rnn_length``, ``ngram_words`` and
        ``ngram_pooling`` where the model has the layers that fix them.

    Example:
        >>> from textrecipes.models.classifiers import build_lstm_classifier
        >>> saved_architecture(build_lstm_classifier(50, 2, ngram_pooling="mean", rnn_length=0), "lstm")
        {'rnn_length': 0, 'ngram_words': True, 'ngram_pooling': 'mean'}
    """
    layers = {layer.name: layer for layer in model.layers}
    keys = {}
    if name in ("lstm", "gru"):
        first = layers.get("first_tokens")
        keys["rnn_length"] = first.length if isinstance(first, FirstTokens) else 0
    if isinstance(layers.get("bigrams"), HashedBigrams):
        keys["ngram_words"] = layers["bigrams"].words
    bag = layers.get("pooling" if name == "fasttext" else "bigram_mean")
    if isinstance(bag, MaskedPooling):
        keys["ngram_pooling"] = bag.modes[0]
    return keys


#: Models whose layers fine-tuning does not know how to extend, and why. (``auto`` is fine-tuned through its
#: LSTM member; its linear member, fitted in seconds, is fitted again on the new data: see `finetune`.)
NOT_FINETUNABLE = {"linear": "its idf and n-gram weights are fitted once, on the first training split"}


def load_run(run_dir: str) -> tuple[dict, dict, Vocabulary, keras.Model]:
    """Reads a finished run folder for fine-tuning: recipe, label metadata, vocabulary, classifier.

    Args:
        run_dir: a run folder written by `train` or `finetune`.

    Returns:
        ``(recipe, meta, vocabulary, classifier)``: the classifier is the model
        on token ids inside ``model.keras`` (the vectorizer is rebuilt from the
        vocabulary); for an ``auto`` run, its LSTM member.

    Raises:
        RunFolderError: when a file is missing, unreadable or inconsistent with
            the others, naming the file.

    Example:
        >>> recipe, meta, vocab, model = load_run("runs/demo")  # doctest: +SKIP
        >>> meta["labels"]  # doctest: +SKIP
        ['fresh', 'rotten']
    """
    if not os.path.isdir(run_dir):
        raise RunFolderError(f"{run_dir}: no such run folder")
    labels_path = transfer.check_file(os.path.join(run_dir, "labels.json"), "the label set")
    meta = check_meta(read_json(labels_path), labels_path)
    recipe_path = transfer.check_file(os.path.join(run_dir, "recipe.toml"), "the run's recipe")
    try:
        recipe = load_recipe(recipe_path)
    except RecipeError as e:
        raise RunFolderError(f"{recipe_path}: the run's recipe cannot be used ({e})") from None
    if recipe["model"]["name"] in NOT_FINETUNABLE:
        raise RunFolderError(f"{recipe_path}: model.name = {recipe['model']['name']!r} runs cannot be fine-tuned yet "
                             f"({NOT_FINETUNABLE[recipe['model']['name']]}); train a new run on the old and new "
                             f"data together instead (textrecipes train)")
    vocab_path = transfer.check_file(os.path.join(run_dir, "vocabulary.json"), "the vocabulary")
    try:
        vocab = Vocabulary.load(vocab_path)
    except (ValueError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{vocab_path}: cannot be read ({e})") from None
    model_path = transfer.check_file(os.path.join(run_dir, "model.keras"), "the trained model")
    try:
        e2e = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    except Exception as e:  # Keras raises many kinds here; say which file is broken
        raise RunFolderError(f"{model_path}: the model could not be loaded ({type(e).__name__}: {str(e)[:300]})") from None
    inner = [single_model(layer) for layer in e2e.layers if isinstance(layer, keras.Model)]
    if len(inner) != 1 or "embedding" not in {layer.name for layer in inner[0].layers}:
        raise RunFolderError(f"{model_path}: not a textrecipes classifier (no model with an 'embedding' layer inside)")
    model = inner[0]
    if any(isinstance(layer, RemappedEmbedding) for layer in model.layers):  # its layers no longer fit the builders
        raise RunFolderError(f"{model_path}: a compact model (prune.structured): its layers are smaller than the "
                             "recipe's, so it cannot be fine-tuned or pruned again; start from the run it was "
                             "pruned from")
    width = model.output_shape[-1]
    expected = 1 if meta["task"] == "binary" else len(meta["labels"])
    if width != expected:
        raise RunFolderError(f"{labels_path}: {len(meta['labels'])} labels ({meta['task']}) but {model_path} has {width} outputs")
    if model.get_layer("embedding").input_dim != len(vocab):
        raise RunFolderError(f"{vocab_path}: {len(vocab)} ids but {model_path}'s embedding takes "
                             f"{model.get_layer('embedding').input_dim}")
    return recipe, meta, vocab, model


def _first_unknown_label(records, known) -> tuple[dict, int, str]:
    """New labels in order of appearance → count, plus the line and label of the first one."""
    found = collections.Counter()
    first = (0, "")
    for r in records:
        for label in (r.label if isinstance(r.label, tuple) else (r.label,)):
            if label not in known:
                if not found:
                    first = (r.line, label)
                found[label] += 1
    return found, first[0], first[1]


class FinetuneTask(ClassificationTask):
    """A classification task that starts from a finished run: its vocabulary, labels and weights.

    Args:
        cfg: the fine-tuning recipe (the run's, with the new files, rate and overrides).
        source: the run folder fine-tuned (`load_run`'s values: meta, vocabulary, classifier).
        extend_labels: allow labels the run has not seen.
        extend_vocabulary: add the new data's unknown words to the vocabulary.
        freeze: "none", "embedding", "all_but_head" or "gradual".
    """
    name = "finetune"

    def __init__(self, cfg: Mapping, source: tuple, *, run_dir: str, extend_labels: bool, extend_vocabulary: bool,
                 freeze: str):
        super().__init__(cfg)
        self.meta, self.old_vocab, self.old_model = source
        self.source_dir = os.fspath(run_dir)
        self.extend_labels, self.extend_vocabulary, self.freeze = extend_labels, extend_vocabulary, freeze
        self.before = {}

    def read(self, cfg: Mapping):
        data, old_labels = cfg["data"], list(self.meta["labels"])
        new_train = read_classification(data["train"], **read_options(data))
        new_labels, line, first = _first_unknown_label(new_train.records, set(old_labels))
        if new_labels and not self.extend_labels:
            raise DataError(f"{data['train']}:{line}: label {first!r} is not one of the run's labels {old_labels} "
                            f"({len(new_labels)} new label(s): {sorted(new_labels)}); pass extend_labels=True "
                            "(--extend-labels) to add output columns for them")
        self.new_labels = sorted(new_labels)
        kernel, bias = self.old_model.get_layer("probabilities").get_weights()
        self.head = transfer.extend_head(kernel, bias, self.meta["task"], len(self.new_labels), self.seed)
        labels = old_labels + self.new_labels
        # The recipe written to the new run folder says what the new model is.
        cfg["model"]["task"], cfg["data"]["labels"] = self.head[2], labels
        splits = super().read(cfg)
        if self.new_labels:
            log.info(f"new label(s) {self.new_labels}: output layer {len(old_labels)} → {len(labels)} labels")
        return splits

    def vocabulary(self, train_tokens) -> Vocabulary:
        vocab = self.old_vocab
        self.oov_before = vocab.oov_rate(train_tokens)
        self.added_words: list[str] = []
        if self.extend_vocabulary:
            counts = collections.Counter(t for tokens in train_tokens for t in tokens if t not in vocab._index)
            self.added_words = Vocabulary.from_counts(counts, max_tokens=None,
                                                      min_freq=self.cfg["tokenize"]["min_freq"]).tokens
            vocab = Vocabulary(vocab.tokens + self.added_words)
        self.oov_after = vocab.oov_rate(train_tokens)
        log.info(f"OOV rate of the new training data: {self.oov_before:.1%}"
                 + (f"; {len(self.added_words)} word(s) added, OOV now {self.oov_after:.1%}"
                    if self.extend_vocabulary else ""))
        return vocab

    def datasets(self, splits, batch_size: int) -> tuple:
        train_ds, self.eval_ds = super().datasets(splits, batch_size)
        return train_ds, self.eval_ds

    def build(self, *, initial: bool = True) -> keras.Model:
        """The classifier rebuilt to the new sizes, every old weight copied, frozen as asked."""
        model_cfg = self.cfg["model"]
        model = BUILDERS[model_cfg["name"]](len(self.vocab), len(self.labels), task=self.kind, seed=self.seed,
                                            **builder_options(model_cfg["name"], model_cfg))
        transfer.apply_freeze(model, self.freeze)
        if not initial:
            return model
        # auto: the old LSTM member's weights go to the new one; the linear member is fitted in `adapt`
        core = single_model(model)
        transfer.copy_matching_weights(self.old_model, core, skip=("embedding", "probabilities"))
        embedding = self.old_model.get_layer("embedding").get_weights()[0]
        core.get_layer("embedding").set_weights([transfer.extend_rows(embedding, len(self.added_words), self.seed)])
        core.get_layer("probabilities").set_weights(list(self.head[:2]))
        return self.with_pruning(model)

    def fit_options(self, model) -> dict:
        if "validation" in self.eval_ds:  # the model is compiled: how good is it before fine-tuning?
            self.before = model.evaluate(self.eval_ds["validation"], verbose=0, return_dict=True)
            log.info(f"before fine-tuning: validation accuracy {self.before.get('accuracy', float('nan')):.4f}")
        return super().fit_options(model)

    def summary(self) -> dict:
        train_cfg = self.cfg["train"]
        return {**super().summary(), "finetune": {
            "from": self.source_dir, "oov_rate": self.oov_before, "oov_rate_after": self.oov_after,
            "words_added": len(self.added_words), "labels_added": self.new_labels, "old_task": self.meta["task"],
            "task": self.kind, "freeze": self.freeze, "learning_rate": self.cfg["schedule"]["learning_rate"],
            "layer_lr_decay": train_cfg["layer_lr_decay"],
            "validation_before": {k: float(v) for k, v in self.before.items()}}}


def finetune(run_dir: str, train_tsv: str, *, out_dir: str, validation: str | None = None, test: str | None = None,
             overrides=None, extend_labels: bool = False, extend_vocabulary: bool = False, freeze: str = "none",
             learning_rate: float | None = None, layer_lr_decay: float = 1.0, epochs: int = 3, seed: int | None = None,
             overwrite: bool = False, verbose="auto") -> RunResult:
    """Continues training a finished run on new labelled data and writes a new run folder.

    The run's tokenizer, vocabulary and labels are kept. Labels the run has not
    seen are an error unless ``extend_labels``: then the output layer gets one
    column per new label, the old columns copied (a binary sigmoid unit ``w``
    becomes the softmax columns ``[0, w]``, which gives the same probabilities,
    so the task becomes "multiclass"). The OOV rate of the new training data is
    reported; with ``extend_vocabulary`` its unknown words (at least
    ``tokenize.min_freq`` times) get new ids after the old ones, with embedding
    rows initialised to the mean of the old rows plus small seeded noise. The
    fit is the run harness's: the run's callbacks (early stopping, checkpoints,
    backup and resume), its distribution strategy, exports and report.

    An ``auto`` run (the default model) is fine-tuned through its LSTM member,
    which takes everything above; its linear member is fitted again on the new
    training split (a convex model fitted in seconds, whose idf belongs to the
    data it counts), and the blend's weight is chosen again on the new
    validation split, so it leans on whichever member the new data favours.

    Args:
        run_dir: a run folder from `train` (or `finetune`).
        train_tsv: the new training file, in the run's format (``data.*`` of its recipe).
        out_dir: the new run folder.
        validation: a validation TSV. Default None: split off ``train_tsv`` (``data.validation_split``).
        test: a test TSV. Default None: split off ``train_tsv`` (``data.test_split``).
        overrides: recipe overrides on the run's recipe, ``["section.key=value", ...]``
            or a nested dict (e.g. ``train.batch_size``, ``data.text_first``). Default None.
        extend_labels: allow labels the run has not seen. Default False.
        extend_vocabulary: add the new data's unknown words to the vocabulary. Default False.
        freeze: "none" (default), "embedding" (embeddings fixed), "all_but_head"
            (only the output layer and the bigram embeddings train) or "gradual"
            (one more layer group per epoch, head first: see `transfer.fit_in_stages`).
        learning_rate: Default None: a tenth of the run's ``schedule.learning_rate``,
            held constant.
        layer_lr_decay: each lower layer group's rate is divided by this
            (ULMFiT: 2.6). Default 1.0 (one rate).
        epochs: Default 3.
        seed: Default None: the run's seed.
        overwrite: replace a finished run in ``out_dir``. Default False.
        verbose: as for `textrecipes.workflows.train.train`. Default "auto".

    Returns:
        A `RunResult` for the new run folder; its ``metrics.json`` also holds a
        ``"finetune"`` table (OOV rates, words and labels added, freezing, rate).

    Raises:
        DataError: for a bad line, or a new label without ``extend_labels``
            (naming the file, the line and the flag to pass).
        RunFolderError: for a missing or corrupted run folder.

    Example:
        >>> result = finetune("runs/demo", "new.tsv", out_dir="runs/demo_ft", extend_labels=True)  # doctest: +SKIP
        >>> result.labels  # doctest: +SKIP
        ['fresh', 'rotten', 'mixed']
    """
    if freeze not in transfer.FREEZE_MODES:
        raise ValueError(f"freeze must be one of {transfer.FREEZE_MODES}, got {freeze!r}")
    if os.path.abspath(out_dir) == os.path.abspath(run_dir):
        raise FileExistsError(f"out_dir must differ from run_dir ({run_dir}): fine-tuning writes a new run folder")
    base_cfg, meta, vocab, old_model = load_run(run_dir)
    rate = learning_rate if learning_rate is not None else base_cfg["schedule"]["learning_rate"] / 10
    # The fine-tune recipe: the run's, with the new files, the new rate and the overrides.
    given = {"data": {"train": os.fspath(train_tsv), "validation": os.fspath(validation or ""),
                      "test": os.fspath(test or ""), "labels": [], "max_train_examples": 0},
             "schedule": {"name": "constant", "learning_rate": rate, "warmup_epochs": 0},
             "train": {"epochs": epochs, "unfreeze": "gradual" if freeze == "gradual" else "none",
                       "layer_lr_decay": layer_lr_decay},
             "model": {"init_from": ""}, "run_dir": ""}
    if seed is not None:
        given["seed"] = seed
    base = {k: v for k, v in base_cfg.items() if k not in ("schedule",)}
    cfg = load_recipe(_deep_merge(base, given), overrides)
    # The saved model, not today's defaults, says how the run's model was built (keys added since).
    cfg["model"].update(saved_architecture(old_model, "lstm" if cfg["model"]["name"] == "auto" else cfg["model"]["name"]))
    task = FinetuneTask(cfg, (meta, vocab, old_model), run_dir=run_dir, extend_labels=extend_labels,
                        extend_vocabulary=extend_vocabulary, freeze=freeze)
    return run(task, cfg, run_dir=out_dir, overwrite=overwrite, verbose=verbose)


def _deep_merge(base: dict, update: dict) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in update.items():
        out[k] = _deep_merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
