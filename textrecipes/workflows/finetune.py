"""Fine-tuning: a trained run folder plus new labelled data → a new run folder.

The vocabulary, label set, tokenizer settings and recipe travel inside the run
folder. New labels extend the output layer (old columns kept; a binary head
becomes a softmax head with the same probabilities), new words can extend the
vocabulary and embedding, and the layers can be frozen, unfrozen gradually and
given lower learning rates further from the head (ULMFiT's discriminative
rates). The new run folder has the layout `textrecipes.run.harness.train` writes.
"""

from __future__ import annotations

import collections
import os
import time

import keras

from textrecipes.training import transfer
from textrecipes.data.readers import DataError, read_classification
from textrecipes.export.saved_model import RunFolderError, _check_meta, _read_json
from textrecipes.models.classifiers import BUILDERS, FirstTokens, HashedBigrams, MaskedPooling, loss_for
from textrecipes.text.pipeline import encode_labels, make_dataset
from textrecipes.recipe.loading import RecipeError, load_recipe
from textrecipes.run.harness import (
    RunResult, _log, accuracy_metrics, build_optimizer, evaluate_and_export, export_meta, load_splits, model_options,
    prepare_run_dir, read_options, write_metrics, write_model_card,
)
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, presegment, tokenize


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


def load_run(run_dir: str) -> tuple[dict, dict, Vocabulary, keras.Model]:
    """Reads a finished run folder for fine-tuning: recipe, label metadata, vocabulary, classifier.

    Args:
        run_dir: a run folder written by `train` or `finetune`.

    Returns:
        ``(recipe, meta, vocabulary, classifier)``: the classifier is the model
        on token ids inside ``model.keras`` (the vectorizer is rebuilt from the
        vocabulary).

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
    meta = _check_meta(_read_json(labels_path), labels_path)
    recipe_path = transfer.check_file(os.path.join(run_dir, "recipe.toml"), "the run's recipe")
    try:
        recipe = load_recipe(recipe_path)
    except RecipeError as e:
        raise RunFolderError(f"{recipe_path}: the run's recipe cannot be used ({e})") from None
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
    inner = [layer for layer in e2e.layers if isinstance(layer, keras.Model)]
    if len(inner) != 1 or "embedding" not in {layer.name for layer in inner[0].layers}:
        raise RunFolderError(f"{model_path}: not a textrecipes classifier (no model with an 'embedding' layer inside)")
    model = inner[0]
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


def finetune(run_dir: str, train_tsv: str, *, out_dir: str, validation: str | None = None, test: str | None = None,
             overrides=None, extend_labels: bool = False, extend_vocabulary: bool = False, freeze: str = "none",
             learning_rate: float | None = None, layer_lr_decay: float = 1.0, epochs: int = 3, seed: int | None = None,
             overwrite: bool = False, verbose: int = 1) -> RunResult:
    """Continues training a finished run on new labelled data and writes a new run folder.

    The run's tokenizer, vocabulary and labels are kept. Labels the run has not
    seen are an error unless ``extend_labels``: then the output layer gets one
    column per new label, the old columns copied (a binary sigmoid unit ``w``
    becomes the softmax columns ``[0, w]``, which gives the same probabilities,
    so the task becomes "multiclass"). The OOV rate of the new training data is
    reported; with ``extend_vocabulary`` its unknown words (at least
    ``tokenize.min_freq`` times) get new ids after the old ones, with embedding
    rows initialised to the mean of the old rows plus small seeded noise.

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
        verbose: 0 silent, 1 a line per stage and epoch (default), 2 progress bars.

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
    started = time.time()
    if freeze not in transfer.FREEZE_MODES:
        raise ValueError(f"freeze must be one of {transfer.FREEZE_MODES}, got {freeze!r}")
    if os.path.abspath(out_dir) == os.path.abspath(run_dir):
        raise FileExistsError(f"out_dir must differ from run_dir ({run_dir}): fine-tuning writes a new run folder")
    base_cfg, meta, vocab, old_model = load_run(run_dir)
    old_labels, old_task = list(meta["labels"]), meta["task"]
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
    cfg["model"].update(saved_architecture(old_model, cfg["model"]["name"]))
    seed, data_cfg, tok_cfg, train_cfg = cfg["seed"], cfg["data"], cfg["tokenize"], cfg["train"]
    prepare_run_dir(out_dir, overwrite)
    keras.utils.set_random_seed(seed)

    # 1. The new data, its labels checked against the run's.
    new_train = read_classification(data_cfg["train"], **read_options(data_cfg))
    new_labels, line, first = _first_unknown_label(new_train.records, set(old_labels))
    if new_labels and not extend_labels:
        raise DataError(f"{data_cfg['train']}:{line}: label {first!r} is not one of the run's labels {old_labels} "
                        f"({len(new_labels)} new label(s): {sorted(new_labels)}); pass extend_labels=True "
                        "(--extend-labels) to add output columns for them")
    labels = old_labels + sorted(new_labels)
    splits, _ = load_splits({**data_cfg, "labels": labels}, seed)
    for report in splits.reports:
        _log(verbose, report.summary())

    # 2. The run's tokenizer and vocabulary; the new data's OOV rate, and perhaps new words.
    texts = {name: presegment([r.text for r in getattr(splits, name)], tok_cfg["split"])
             for name in ("train", "validation", "test")}
    tok_split = "word" if tok_cfg["split"] == "jieba" else tok_cfg["split"]
    train_tokens = tokenize(texts["train"], split=tok_split, lowercase=tok_cfg["lowercase"])
    oov_before = vocab.oov_rate(train_tokens)
    added_words: list[str] = []
    if extend_vocabulary:
        counts = collections.Counter(t for tokens in train_tokens for t in tokens if t not in vocab._index)
        added_words = Vocabulary.from_counts(counts, max_tokens=None, min_freq=tok_cfg["min_freq"]).tokens
        vocab = Vocabulary(vocab.tokens + added_words)
    oov_after = vocab.oov_rate(train_tokens)
    _log(verbose, f"OOV rate of the new training data: {oov_before:.1%}"
                  + (f"; {len(added_words)} word(s) added, OOV now {oov_after:.1%}" if extend_vocabulary else ""))
    if new_labels:
        _log(verbose, f"new label(s) {sorted(new_labels)}: output layer {len(old_labels)} → {len(labels)} labels")
    vectorizer = TextVectorizer(vocab.tokens, split=tok_cfg["split"], lowercase=tok_cfg["lowercase"],
                                max_length=tok_cfg["max_length"], name="vectorizer")

    # 3. The classifier, rebuilt to the new sizes with every old weight copied.
    kernel, bias = old_model.get_layer("probabilities").get_weights()
    kernel, bias, task = transfer.extend_head(kernel, bias, old_task, len(new_labels), seed)
    cfg["model"]["task"] = task
    cfg["data"]["labels"] = labels
    model = BUILDERS[cfg["model"]["name"]](len(vocab), len(labels), task=task, seed=seed, **model_options(cfg["model"]))
    transfer.copy_matching_weights(old_model, model, skip=("embedding", "probabilities"))
    embedding = old_model.get_layer("embedding").get_weights()[0]
    model.get_layer("embedding").set_weights([transfer.extend_rows(embedding, len(added_words), seed)])
    model.get_layer("probabilities").set_weights([kernel, bias])

    # 4. Batches, freezing, and the fit (stages of fit for gradual unfreezing).
    batch_size = train_cfg["batch_size"]
    targets = {name: encode_labels([r.label for r in getattr(splits, name)], labels, task)
               for name in ("train", "validation", "test")}
    train_ds = make_dataset(texts["train"], targets["train"], vectorizer, batch_size=batch_size, shuffle=True,
                            seed=seed, bucket=train_cfg["bucket"])
    eval_ds = {name: make_dataset(texts[name], targets[name], vectorizer, batch_size=max(batch_size, 256))
               for name in ("validation", "test") if len(texts[name])}
    transfer.apply_freeze(model, freeze)
    rates = transfer.group_rates(model, layer_lr_decay)

    def compile_model():
        optimizer = transfer.with_layer_rates(build_optimizer(cfg["optimizer"], rate), rates)
        model.compile(optimizer=optimizer, loss=loss_for(task), metrics=accuracy_metrics(task))

    before = {}
    if "validation" in eval_ds:
        compile_model()
        before = model.evaluate(eval_ds["validation"], verbose=0, return_dict=True)
        _log(verbose, f"before fine-tuning: validation accuracy {before.get('accuracy', float('nan')):.4f}")
    csv = keras.callbacks.CSVLogger(os.path.join(out_dir, "history.csv"))
    history = transfer.fit_in_stages(model, compile_model, train_ds, epochs=epochs, gradual=freeze == "gradual",
                                     validation_data=eval_ds.get("validation"), stage_callbacks=[csv], callbacks=[csv],
                                     verbose={0: 0, 1: 2}.get(verbose, 1))

    # 5-6. Evaluation and export, as `train` writes them.
    raw = [r.text for r in (splits.test or splits.validation or splits.train)]
    e2e, reports, export_check = evaluate_and_export(out_dir, cfg, model, vectorizer, vocab, labels, task, eval_ds,
                                                     targets, raw, verbose)
    write_model_card(out_dir, cfg, export_meta(cfg, labels, task, vocab), reports,
                     {"saved_model": export_check, "model.keras": {} if cfg["export"]["keras"] else None})
    final = reports.get("test") or reports.get("validation") or {}
    finetune_report = {
        "from": os.fspath(run_dir), "oov_rate": oov_before, "oov_rate_after": oov_after,
        "words_added": len(added_words), "labels_added": sorted(new_labels), "old_task": old_task, "task": task,
        "freeze": freeze, "learning_rate": rate, "layer_lr_decay": layer_lr_decay,
        "validation_before": {k: float(v) for k, v in before.items()},
    }
    summary = write_metrics(out_dir, reports, splits, history, started, export_check, finetune=finetune_report)
    _log(verbose, f"run folder: {out_dir} ({summary['train_seconds']} s)")
    return RunResult(out_dir, cfg, final, reports.get("validation") or {}, history, labels, task, e2e)


def _deep_merge(base: dict, update: dict) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in update.items():
        out[k] = _deep_merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
