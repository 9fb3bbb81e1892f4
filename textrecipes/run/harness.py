"""The recipe runner: a TSV file to a trained, evaluated, exported model.

`train` reads top to bottom in the order the data meets each stage:
dataset files → records → tokenization and vocabulary → `tf.data` batches →
model built under a distribution strategy → fit with schedules and callbacks →
evaluation report → export, with every artifact written to the run folder.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import os
import shutil
import time
from typing import Mapping

import keras
import numpy as np

from textrecipes.training import callbacks as callbacks_lib
from textrecipes.training import distribute, schedules, transfer
from textrecipes.data.readers import (DataError, format_label_counts, label_counts, read_classification, read_conll, read_pairs,
                                  split_records)
from textrecipes.training.distribute import get_strategy
from textrecipes.evaluation.metrics import evaluate_predictions, format_metrics, plot_learning_curves, probabilities_per_label
from textrecipes.export.saved_model import MODEL_CARD, Predictor, end_to_end_model, export_saved_model, model_card
from textrecipes.models.classifiers import BUILDERS, loss_for
from textrecipes.text.pipeline import encode_labels, make_dataset
from textrecipes.recipe.loading import DEFAULTS as RECIPE_DEFAULTS
from textrecipes.recipe.loading import load_recipe, to_toml
from textrecipes.run.folder import prepare_run_dir
from textrecipes.evaluation.report import write_report
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, presegment, tokenize
from textrecipes.text.vectors import apply_vectors, format_coverage, load_vectors

EXPORT_TOLERANCE = 1e-5
# TFLite: on the default model (benchmarks/results/exports.md) float16 weights moved test
# probabilities by at most 1.2e-4 and dynamic-range int8 by 2.4e-3; the limits leave ~8-20x room.
TFLITE_TOLERANCE = {"none": 1e-5, "float16": 1e-3, "int8": 0.05}


@dataclasses.dataclass
class RunResult:
    """What `train` returns: the run folder, the resolved recipe, metrics and the model.

    ``metrics`` is the test split's report (the validation split's when there is
    no test split); ``model`` takes raw strings.

    Args:
        run_dir: the run folder holding every artifact.
        recipe: the resolved recipe, every key filled in.
        metrics: the final metrics (`evaluate_predictions`), as above.
        validation_metrics: the validation split's metrics; empty without one.
        history: Keras' training history: metric → one value per epoch.
        labels: the label names in output order.
        task: "binary", "multiclass" or "multilabel".
        model: the end-to-end Keras model: raw strings in, probabilities out.

    Example:
        >>> result = train("recipes/sentiment_lstm.toml", overrides=["train.epochs=1"])  # doctest: +SKIP
        >>> result.task, sorted(result.metrics)[:2]  # doctest: +SKIP
        ('binary', ['accuracy', 'confusion_matrix'])
    """

    run_dir: str
    recipe: dict
    metrics: dict
    validation_metrics: dict
    history: dict
    labels: list
    task: str
    model: keras.Model


@dataclasses.dataclass
class Splits:
    """Records of each split and the read accounting of every file.

    Args:
        train: the training records.
        validation: the validation records (may be empty).
        test: the test records (may be empty).
        reports: the `ReadReport` of every file read, the training file's first.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> data = {**default_recipe()["data"], "train": "data/samples/label_text.tsv"}
        >>> splits, labels = load_splits(data, seed=0)
        >>> len(splits.train) + len(splits.validation) + len(splits.test) == splits.reports[0].kept
        True
    """

    train: list
    validation: list
    test: list
    reports: list


def _log(verbose: int, *parts) -> None:
    if verbose:
        print(*parts, flush=True)


# ---------------------------------------------------------------------------
# Stage 1: dataset files → records.


def load_splits(data: Mapping, seed: int) -> tuple[Splits, list[str]]:
    """Reads the train/validation/test files of a recipe's ``[data]`` table.

    Missing validation/test files are split off the training file (stratified,
    seeded). ``data.format`` picks the reader: `read_classification`,
    `read_pairs` ("pairs", the label last) or `read_conll` ("conll", whose
    "labels" are the tags). Labels of validation/test must appear in the label set, reported
    as ``file:line`` otherwise.

    Args:
        data: the recipe's ``[data]`` table, every key present (as from `load_recipe`).
        seed: the seed of the splits taken off the training file.

    Returns:
        The splits and the label names (declared, else sorted from train).

    Raises:
        DataError: for a bad line (with ``on_bad_lines = "error"``), a label
            outside the label set, or no training examples left.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> data = {**default_recipe()["data"], "train": "data/samples/label_text.tsv"}
        >>> splits, labels = load_splits(data, seed=0)
        >>> labels
        ['neg', 'pos']
    """
    fmt = data.get("format", "label_text")
    if fmt == "conll":  # the label set is the tag set
        def read(path, labels):
            return read_conll(path, tags=labels, on_bad_lines=data["on_bad_lines"])

        def label_set(records):
            return sorted({tag for r in records for tag in r.tags})
    else:
        if fmt == "pairs":
            read = functools.partial(read_pairs, header=data["header"], labeled=True, on_bad_lines=data["on_bad_lines"])
        else:
            read = functools.partial(read_classification, **read_options(data))

        def label_set(records):
            return sorted(label_counts(records))
    declared = list(data["labels"]) or None
    train = read(data["train"], labels=declared)
    labels = declared or label_set(train.records)
    reports = [train.report]
    parts = {}
    for name in ("validation", "test"):
        if data[name]:
            ds = read(data[name], labels=labels)
            parts[name] = ds.records
            reports.append(ds.report)
    records = train.records
    if "test" not in parts or "validation" not in parts:
        test_frac = 0.0 if "test" in parts else data["test_split"]
        val_frac = 0.0 if "validation" in parts else data["validation_split"]
        records, val, test = split_records(records, validation=val_frac, test=test_frac, seed=seed)
        parts.setdefault("validation", val)
        parts.setdefault("test", test)
    if data["max_train_examples"]:
        records = records[: data["max_train_examples"]]
    if not records:
        raise DataError(f"{data['train']}: no training examples left")
    return Splits(records, parts["validation"], parts["test"], reports), labels


def infer_task(requested: str, labels: list, multi_label: bool, source: str) -> str:
    """binary for 2 labels, multiclass for more, multilabel when the data is multi-label.

    Args:
        requested: the recipe's ``model.task``: "auto", "binary", "multiclass"
            or "multilabel"; anything but "auto" is kept.
        labels: the label names.
        multi_label: whether the data is multi-label (``data.multi_label``).
        source: the training file, named in errors.

    Returns:
        The task.

    Raises:
        DataError: with fewer than 2 labels, or "binary" requested with other than 2.

    Example:
        >>> infer_task("auto", ["neg", "pos"], False, "train.tsv")
        'binary'
        >>> infer_task("auto", ["a", "b", "c"], False, "train.tsv")
        'multiclass'
    """
    if len(labels) < 2:
        raise DataError(f"{source}: found {len(labels)} label(s) {labels}; a classifier needs at least 2")
    if requested != "auto":
        if requested == "binary" and len(labels) != 2:
            raise DataError(f"{source}: task 'binary' needs exactly 2 labels, found {len(labels)}")
        return requested
    return "multilabel" if multi_label else "binary" if len(labels) == 2 else "multiclass"


# ---------------------------------------------------------------------------
# Stage 5: the optimizer that the schedule drives.


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
    return {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
            "adagrad": keras.optimizers.Adagrad}[name](**kwargs)


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
    import tensorflow as tf

    from textrecipes.augment.eda import Augmenter

    augmenter = Augmenter(config["source"], alpha_sr=config["alpha_sr"], alpha_ri=config["alpha_ri"],
                          alpha_rs=config["alpha_rs"], p_rd=config["p_rd"], num_aug=1, seed=seed,
                          tokenizer=config["tokenizer"])
    return augmenter, tf.Variable(0, dtype=tf.int64, trainable=False, name="augment_epoch")


def without_validation(callback_cfg: Mapping) -> dict:
    """Callback settings with every ``val_*`` monitor moved to its training twin.

    Used when there is no validation split.

    Args:
        callback_cfg: the resolved ``[callbacks]`` table: callback name → options.

    Returns:
        A new dict; ``callback_cfg`` is left unchanged.

    Example:
        >>> without_validation({"early_stopping": {"monitor": "val_loss", "patience": 3}})
        {'early_stopping': {'monitor': 'loss', 'patience': 3}}
    """
    out = {}
    for name, options in callback_cfg.items():
        if isinstance(options, Mapping) and isinstance(options.get("monitor"), str) and options["monitor"].startswith("val_"):
            options = {**options, "monitor": options["monitor"][4:]}
        out[name] = options
    return out


def read_options(data: Mapping) -> dict:
    """The `read_classification` keyword arguments of a recipe's ``[data]`` table.

    Args:
        data: the recipe's ``[data]`` table.

    Returns:
        ``text_first``, ``header``, ``multi_label``, ``label_sep`` and ``on_bad_lines``.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> read_options(default_recipe()["data"])["on_bad_lines"]
        'error'
    """
    return dict(text_first=data["text_first"], header=data["header"], multi_label=data["multi_label"],
                label_sep=data["label_sep"], on_bad_lines=data["on_bad_lines"])


def model_options(model_cfg: Mapping) -> dict:
    """The ``[model]`` keys the recipe's model builder takes (`builder_options` of ``model.name``).

    Args:
        model_cfg: the recipe's ``[model]`` table.

    Returns:
        A new dict of builder keyword arguments.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> "init_from" in model_options(default_recipe()["model"])
        False
    """
    return builder_options(model_cfg["name"], model_cfg)


def accuracy_metrics(task: str) -> list:
    """The compile metrics: one named "accuracy" for every task, so callbacks can monitor val_accuracy.

    Explicit classes because Keras' "accuracy" string is not per-label accuracy
    for multi-label heads.

    Args:
        task: "binary", "multiclass" or "multilabel".

    Returns:
        A one-element list of fresh Keras metrics.

    Example:
        >>> type(accuracy_metrics("multiclass")[0]).__name__
        'SparseCategoricalAccuracy'
    """
    return [keras.metrics.SparseCategoricalAccuracy(name="accuracy") if task == "multiclass"
            else keras.metrics.BinaryAccuracy(name="accuracy")]


def builder_options(name: str, model_cfg: Mapping) -> dict:
    """The ``[model]`` keys that builder ``name`` takes, as keyword arguments.

    Keys a builder has no use for (``bidirectional`` for "cnn", ``kernel_sizes``
    for "lstm") are left out, as are ``name``, ``task`` and the vectors keys,
    which the runner handles.

    Args:
        name: a key of `textrecipes.models.classifiers.BUILDERS`.
        model_cfg: the recipe's ``[model]`` table.

    Returns:
        A dict of keyword arguments for ``BUILDERS[name]``.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> sorted(builder_options("fasttext", default_recipe()["model"]))[:3]
        ['dropout', 'embedding_dim', 'embedding_dropout']
    """
    accepted = inspect.signature(BUILDERS[name]).parameters
    return {k: v for k, v in model_cfg.items() if k in accepted and k not in ("task", "name", "seed")}


def balanced_class_weights(targets: np.ndarray, num_labels: int) -> dict:
    """Class weights ``n / (k * count)`` from the training targets (scikit-learn's "balanced").

    Args:
        targets: integer class ids (multiclass) or 0/1 (binary), one per example.
        num_labels: number of classes; a class absent from ``targets`` gets 1.0.

    Returns:
        ``{class id: weight}`` for `keras.Model.fit`'s ``class_weight``.

    Example:
        >>> balanced_class_weights(np.array([0, 0, 0, 1]), 2)
        {0: 0.6667, 1: 2.0}
    """
    from sklearn.utils.class_weight import compute_class_weight

    y = np.asarray(targets).reshape(-1).astype(int)
    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    out = {i: 1.0 for i in range(max(num_labels, 2))}
    out.update({int(c): round(float(w), 4) for c, w in zip(present, weights)})
    return out


def start_run(cfg: Mapping, run_dir: str | None, overwrite: bool):
    """Creates the strategy (first: multi-worker needs that), the run folder, and seeds Keras.

    Args:
        cfg: the resolved recipe.
        run_dir: the requested run folder, or None (the recipe's, else ``runs/<name>``).
        overwrite: replace a finished run.

    Returns:
        ``(strategy, run_dir, chief_run_dir)``: this worker's folder and the chief's
        (the same but on a non-chief worker of a multi-worker run).

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> strategy, run_dir, chief = start_run(load_recipe(None), "runs/x", False)  # doctest: +SKIP
    """
    # The strategy comes first: MultiWorkerMirroredStrategy must exist before any other TF op.
    strategy = get_strategy(cfg["train"]["strategy"])
    run_dir = run_dir or cfg["run_dir"] or os.path.join("runs", cfg["name"])
    chief_run_dir = run_dir  # only the chief writes here; other workers write to a private folder
    run_dir = distribute.worker_run_dir(run_dir, strategy)
    prepare_run_dir(run_dir, overwrite)
    keras.utils.set_random_seed(cfg["seed"])
    return strategy, run_dir, chief_run_dir


def train(recipe=None, *, overrides=None, run_dir: str | None = None, overwrite: bool = False, verbose: int = 1) -> RunResult:
    """Trains, evaluates and exports a recipe.

    Args:
        recipe: a TOML path, a dict shaped like a recipe file, or None (defaults).
        overrides: ``["section.key=value", ...]`` or a nested dict. Default None.
        run_dir: where the artifacts go. Default: the recipe's ``run_dir``, else
            ``runs/<name>``.
        overwrite: replace a finished run in ``run_dir``. Default False.
        verbose: 0 silent, 1 a line per stage and epoch (default), 2 Keras' progress bars.

    Returns:
        A `RunResult`.

    Example:
        >>> result = train("recipes/sentiment_lstm.toml", overrides=["train.epochs=1"])  # doctest: +SKIP
        >>> result.metrics["accuracy"] > 0.6  # doctest: +SKIP
        True
    """
    started = time.time()
    cfg = load_recipe(recipe, overrides)
    if cfg["data"]["format"] != "label_text":  # text pairs and sequence labelling have their own trainers
        from textrecipes.tasks import pairs, tagging

        trainer = {"pairs": pairs.train_pairs, "conll": tagging.train_tagger}[cfg["data"]["format"]]
        return trainer(cfg, run_dir=run_dir, overwrite=overwrite, verbose=verbose)
    strategy, run_dir, chief_run_dir = start_run(cfg, run_dir, overwrite)
    seed = cfg["seed"]
    data_cfg, tok_cfg, model_cfg, train_cfg = cfg["data"], cfg["tokenize"], cfg["model"], cfg["train"]

    # 1. Dataset files → records, with every line accounted for.
    splits, labels = load_splits(data_cfg, seed)
    task = infer_task(model_cfg["task"], labels, data_cfg["multi_label"], data_cfg["train"])
    for report in splits.reports:
        _log(verbose, report.summary())
    _log(verbose, f"task: {task}; {len(splits.train)} train / {len(splits.validation)} validation / {len(splits.test)} test")
    _log(verbose, format_label_counts(label_counts(splits.train)))

    # 2. Tokenization and vocabulary (from the training split only).
    texts = {name: presegment([r.text for r in getattr(splits, name)], tok_cfg["split"])
             for name in ("train", "validation", "test")}
    train_tokens = tokenize(texts["train"], split="word" if tok_cfg["split"] == "jieba" else tok_cfg["split"],
                            lowercase=tok_cfg["lowercase"])
    lm = None
    if model_cfg["init_from"]:  # the LM's ids: its vocabulary, not one built from this training split
        from textrecipes.tasks.language_model import check_lm_compatible, init_from_lm, load_language_model

        lm, vocab, lm_meta = load_language_model(model_cfg["init_from"])
        check_lm_compatible(lm_meta, cfg, model_cfg["init_from"])
        _log(verbose, f"vocabulary from the language model in {model_cfg['init_from']} "
                      f"(OOV rate of the training split: {vocab.oov_rate(train_tokens):.1%})")
    else:
        vocab = Vocabulary.build(train_tokens, max_tokens=tok_cfg["max_tokens"], min_freq=tok_cfg["min_freq"])
    vectorizer = TextVectorizer(vocab.tokens, split=tok_cfg["split"], lowercase=tok_cfg["lowercase"],
                                max_length=tok_cfg["max_length"], name="vectorizer")
    lengths = np.array([len(t) for t in train_tokens])
    _log(verbose, f"vocabulary: {len(vocab)} ids; train texts: median {np.median(lengths):.0f} tokens, "
                  f"{(lengths > tok_cfg['max_length']).mean():.1%} longer than max_length={tok_cfg['max_length']}")

    # 3. tf.data batches, vectorized in the pipeline. batch_size is per replica.
    batch_size = train_cfg["batch_size"] * strategy.num_replicas_in_sync
    _log(verbose, f"strategy: {type(strategy).__name__}, {strategy.num_replicas_in_sync} replica(s); global batch {batch_size}")
    targets = {name: encode_labels([r.label for r in getattr(splits, name)], labels, task)
               for name in ("train", "validation", "test")}
    augmenter, epoch_variable = build_augmenter(cfg["augment"], seed)
    train_ds = make_dataset(texts["train"], targets["train"], vectorizer, batch_size=batch_size, shuffle=True,
                            seed=seed, bucket=train_cfg["bucket"], augmenter=augmenter, epoch_variable=epoch_variable,
                            augment_probability=cfg["augment"]["probability"])
    if augmenter is not None:
        _log(verbose, f"augmentation on the fly: {augmenter.operations} from {cfg['augment']['source']}, "
                      f"probability {cfg['augment']['probability']} per example and epoch")
    eval_ds = {name: make_dataset(texts[name], targets[name], vectorizer, batch_size=max(batch_size, 256))
               for name in ("validation", "test") if len(texts[name])}
    if distribute.is_multi_worker(strategy):
        train_ds = distribute.data_sharded(train_ds)
        eval_ds = {name: distribute.data_sharded(ds) for name, ds in eval_ds.items()}

    # 4. The model, its schedule and optimizer, built under the strategy.
    vectors_matrix, vectors_report = None, None
    if model_cfg["vectors"]:
        vectors_matrix, vectors_report = load_vectors(model_cfg["vectors"], vocab, dim=model_cfg["embedding_dim"],
                                                      counts=getattr(vocab, "counts_", None), seed=seed)
        vectors_report["frozen"] = model_cfg["freeze_vectors"]
        _log(verbose, format_coverage(vectors_report) + ("; frozen" if model_cfg["freeze_vectors"] else "; fine-tuned"))
    class_weight = None
    if train_cfg["class_weight"] == "balanced":
        if task == "multilabel":
            raise DataError(f"{data_cfg['train']}: train.class_weight = 'balanced' is for binary and multiclass "
                            "tasks, not multilabel")
        class_weight = balanced_class_weights(targets["train"], len(labels))
        _log(verbose, "class weights (balanced): " + ", ".join(f"{labels[i]}={w}" for i, w in class_weight.items()))
    steps_per_epoch = math.ceil(len(texts["train"]) / batch_size)
    mixed = distribute.use_mixed_precision(train_cfg["mixed_precision"])
    with strategy.scope(), distribute.precision_policy(mixed):  # the global policy is restored after compile
        build = BUILDERS[model_cfg["name"]]
        options = builder_options(model_cfg["name"], model_cfg)
        unused = [f"model.{k}" for k, v in model_cfg.items() if k not in options and k not in
                   ("name", "task", "vectors", "freeze_vectors", "init_from", "init_from_layers")
                   and v != RECIPE_DEFAULTS["model"][k]]
        if unused:
            _log(verbose, f"note: the {model_cfg['name']} recipe does not use {', '.join(unused)}")
        model = build(len(vocab), len(labels), task=task, seed=seed, **options)
        if vectors_matrix is not None:
            apply_vectors(model, vectors_matrix, freeze=model_cfg["freeze_vectors"])
        if lm is not None:
            copied = init_from_lm(model, lm, layers=model_cfg["init_from_layers"])
            _log(verbose, f"weights from the language model: {', '.join(copied)}")
        schedule = schedules.build_schedule(cfg["schedule"], steps_per_epoch=steps_per_epoch, epochs=train_cfg["epochs"])
        rates = transfer.group_rates(model, train_cfg["layer_lr_decay"])
        gradual = train_cfg["unfreeze"] == "gradual"
        if gradual:
            transfer.apply_freeze(model, "gradual")
        loss = loss_for(task, train_cfg["label_smoothing"])

        def compiled(optimizer_step=None):
            """Compiles `model` with a fresh optimizer (per-layer rates); continues a step count."""
            with strategy.scope():
                optimizer = transfer.with_layer_rates(build_optimizer(cfg["optimizer"], schedule), rates)
                if optimizer_step is not None:  # gradual unfreezing: the schedule goes on, not afresh
                    optimizer.iterations.assign(optimizer_step)
                model.compile(optimizer=optimizer, loss=loss, metrics=accuracy_metrics(task))

        compiled()
    if mixed:
        _log(verbose, "mixed precision: mixed_float16 (float32 output layer, loss scaling by compile)")
    eligible, reasons = distribute.cudnn_eligible(model)
    if not eligible:
        _log(verbose, "note: the RNN leaves the cuDNN kernel (much slower on GPU): " + "; ".join(reasons))

    # 5. Fit with the recipe's callbacks; history.csv is written as it goes.
    extra = []
    if augmenter is not None:
        from textrecipes.augment.eda import AugmentEpochCallback

        extra.append(AugmentEpochCallback(epoch_variable))
    history = fit_recipe(model, train_ds, eval_ds.get("validation"), cfg, run_dir=run_dir, schedule=schedule,
                         steps_per_epoch=steps_per_epoch, strategy=strategy, verbose=verbose, extra_callbacks=extra,
                         class_weight=class_weight, recompile=compiled if gradual else None)
    if distribute.is_multi_worker(strategy):
        # Evaluate and export a local copy: predict/export need no collective ops then.
        local = build(len(vocab), len(labels), task=task, seed=seed, **options)
        if vectors_matrix is not None:
            local.get_layer("embedding").trainable = not model_cfg["freeze_vectors"]
        local.set_weights(model.get_weights())
        model = local

    # 6-7. Evaluation report; export of the Keras model, the SavedModel over raw strings and the metadata.
    raw = [r.text for r in (splits.test or splits.validation or splits.train)]
    probabilities = {}
    e2e, reports, export_check = evaluate_and_export(run_dir, cfg, model, vectorizer, vocab, labels, task, eval_ds,
                                                     targets, raw, verbose, probabilities=probabilities)
    final = reports.get("test") or reports.get("validation") or {}
    meta = export_meta(cfg, labels, task, vocab)
    tflite_check = None
    if cfg["export"]["tflite"]:
        from textrecipes.export.tflite import export_tflite

        tflite_path = os.path.join(run_dir, "model.tflite")
        quantize = cfg["export"]["tflite_quantize"]
        size = export_tflite(e2e, tflite_path, quantize=quantize)
        # The check gets the labels and tokenizer settings directly: model_card.json is
        # written once, below, when the checks it records are known.
        tflite_check = {"quantize": quantize, "bytes": size,
                        **check_export(e2e, tflite_path, raw, task, tok_cfg["split"], limit=256,
                                       tolerance=TFLITE_TOLERANCE[quantize], meta=meta)}
        _log(verbose, f"exported {tflite_path} ({quantize}, {size:,} bytes); labels agree with the Keras model "
                      f"(max |diff| {tflite_check['max_abs_diff']:.2e} on {tflite_check['texts']} texts)")
    write_model_card(run_dir, cfg, meta, reports, {"saved_model": export_check, "model.tflite": tflite_check,
                                                   "model.keras": {} if cfg["export"]["keras"] else None})
    summary = write_metrics(
        run_dir, reports, splits, history, started, export_check, tflite_check=tflite_check,
        model=model_cfg["name"], label_smoothing=train_cfg["label_smoothing"],
        class_weight=None if class_weight is None else {labels[i]: w for i, w in class_weight.items()},
        vectors=vectors_report)
    if final:  # report.md / report.html: the validation predictions above give the top losses
        validation = ([r.text for r in splits.validation], targets["validation"], probabilities["validation"]) \
            if "validation" in probabilities else None
        write_report(run_dir, predictions=validation)
    run_dir = finish_run(run_dir, chief_run_dir)
    _log(verbose, f"run folder: {run_dir} ({summary['train_seconds']} s)")
    return RunResult(run_dir, cfg, final, reports.get("validation") or {}, history, labels, task, e2e)


def export_meta(cfg: Mapping, labels: list, task: str, vocab: Vocabulary) -> dict:
    """The metadata written as labels.json and beside each export: labels, task, tokenizer settings.

    Args:
        cfg: the resolved recipe.
        labels: the label names in output order.
        task: "binary", "multiclass" or "multilabel".
        vocab: the run's `Vocabulary`.

    Returns:
        A JSON-ready dict.

    Example:
        >>> from textrecipes.recipe.loading import default_recipe
        >>> export_meta(default_recipe(), ["neg", "pos"], "binary", Vocabulary(["good"]))["vocabulary_size"]
        3
    """
    tok_cfg = cfg["tokenize"]
    return {"labels": labels, "task": task, "split": tok_cfg["split"], "lowercase": tok_cfg["lowercase"],
            "max_length": tok_cfg["max_length"], "vocabulary_size": len(vocab), "recipe": cfg["name"]}


def evaluate_and_export(run_dir: str, cfg: Mapping, model: keras.Model, vectorizer: TextVectorizer, vocab: Vocabulary,
                        labels: list, task: str, eval_ds: Mapping, targets: Mapping, sample_texts: list,
                        verbose: int = 0, probabilities: dict | None = None) -> tuple[keras.Model, dict, dict | None]:
    """Evaluates a trained classifier and writes the run folder's model, export and metadata.

    Writes ``labels.json``, ``vocabulary.json``, ``recipe.toml``, ``model.keras``
    and ``saved_model/`` (as ``cfg["export"]`` asks; the export is reloaded and
    checked against the Keras model). Shared by `train` and `textrecipes.workflows.finetune`.

    Args:
        run_dir: the run folder.
        cfg: the resolved recipe, written as ``recipe.toml``.
        model: the trained classifier on token ids.
        vectorizer: the `TextVectorizer` of the run.
        vocab: the `Vocabulary` of the run.
        labels: the label names in output order.
        task: "binary", "multiclass" or "multilabel".
        eval_ds: split name → dataset of ``(ids, targets)`` to evaluate.
        targets: split name → encoded labels of that split.
        sample_texts: raw texts the export check runs on.
        verbose: 0 silent, else a line for the metrics and the export. Default 0.
        probabilities: a dict that receives split name → predicted probabilities.
            Default None.

    Returns:
        ``(e2e, reports, export_check)``: the end-to-end model, split name →
        `evaluate_predictions` report, and `check_export`'s result (None without
        a SavedModel).

    Example:
        >>> e2e, reports, check = evaluate_and_export("runs/x", cfg, model, vectorizer, vocab,  # doctest: +SKIP
        ...                                           ["neg", "pos"], "binary", eval_ds, targets, texts)
    """
    e2e = end_to_end_model(vectorizer, model)
    reports = {}
    for name, ds in eval_ds.items():
        probs = probabilities_per_label(model.predict(ds, verbose=0), task)
        if probabilities is not None:
            probabilities[name] = probs
        reports[name] = evaluate_predictions(targets[name], probs, labels, task)
    final = reports.get("test") or reports.get("validation") or {}
    if final:
        _log(verbose, format_metrics(final, "test" if "test" in reports else "validation"))
    meta = export_meta(cfg, labels, task, vocab)
    write_run_files(run_dir, cfg, meta, vocab)
    if cfg["export"]["keras"]:
        e2e.save(os.path.join(run_dir, "model.keras"))
    export_check = None
    if cfg["export"]["saved_model"]:
        export_path = os.path.join(run_dir, "saved_model")
        export_saved_model(e2e, export_path, labels=labels, task=task, meta=meta)
        export_check = check_export(e2e, export_path, sample_texts, task, cfg["tokenize"]["split"])
        _log(verbose, f"exported {export_path}; reloaded export agrees with the Keras model "
                      f"(max |diff| {export_check['max_abs_diff']:.2e} on {export_check['texts']} texts)")
    return e2e, reports, export_check


def fit_recipe(model: keras.Model, train_ds, validation_ds, cfg: Mapping, *, run_dir: str, schedule, steps_per_epoch: int,
               strategy, verbose: int = 1, extra_callbacks=(), class_weight=None, recompile=None) -> dict:
    """Fits a compiled model with the recipe's callbacks, resuming from ``backup/``; writes history.csv.

    Shared by the classifier, pair and tagging runs.

    Args:
        model: the compiled model.
        train_ds: the training `tf.data.Dataset`.
        validation_ds: the validation dataset, or None (callbacks then monitor
            the training metrics).
        cfg: the resolved recipe.
        run_dir: the run folder (history.csv, schedule.png, checkpoints, backup).
        schedule: the learning-rate schedule (plotted to schedule.png).
        steps_per_epoch: training steps per epoch.
        strategy: the `tf.distribute` strategy the model was built under.
        verbose: 0 silent, 1 a line per epoch, 2 progress bars. Default 1.
        extra_callbacks: callbacks run before the recipe's. Default none.
        class_weight: ``{class index: weight}`` for `fit`, or None (default).
        recompile: for gradual unfreezing (``train.unfreeze = "gradual"``): a
            function ``recompile(optimizer_step)`` that compiles the model afresh
            continuing at that optimizer step. Default None (one `fit`).

    Returns:
        The history: metric → one float per epoch (from history.csv when resumed).

    Example:
        >>> history = fit_recipe(model, train_ds, None, cfg, run_dir="runs/x", schedule=0.001,
        ...                      steps_per_epoch=10, strategy=get_strategy("cpu"))  # doctest: +SKIP
    """
    train_cfg = cfg["train"]
    callback_cfg = cfg["callbacks"]
    if validation_ds is None:
        callback_cfg = without_validation(callback_cfg)
        _log(verbose, "no validation data: callbacks monitor the training metrics instead of val_*")
    fit_callbacks = callbacks_lib.build_callbacks(callback_cfg, run_dir=run_dir, verbose=1 if verbose else 0)
    # Resuming an interrupted run: history.csv keeps the epochs the backup holds and is appended to.
    # Every worker of a multi-worker run resumes from the newest epoch all of them backed up.
    backups = [c for c in fit_callbacks if isinstance(c, callbacks_lib.EpochBackup)]
    resumed = distribute.agree_resume_epoch(backups[0].backup_dir, strategy, train_cfg["epochs"]) if backups else 0
    for backup in backups:
        backup.resume_from = resumed
    if resumed:
        distribute.trim_history(os.path.join(run_dir, "history.csv"), resumed)
        _log(verbose, f"resuming an interrupted run after epoch {resumed} of {train_cfg['epochs']}")
    fit_callbacks.append(keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=bool(resumed)))
    # The backup goes last: an epoch is declared done only after its history row is
    # written, so a kill between the two never leaves a hole in history.csv.
    # Ctrl-C is taken after the backup, at a batch or epoch end (see InterruptBetweenBatches).
    interrupt = callbacks_lib.InterruptBetweenBatches()
    fit_callbacks = list(extra_callbacks) + [c for c in fit_callbacks if c not in backups] + backups + [interrupt]
    schedules.plot_schedule(schedule, steps_per_epoch * train_cfg["epochs"], os.path.join(run_dir, "schedule.png"))
    if recompile is not None and not resumed:
        # One more layer group per epoch (head first), each step a short fit after a recompile.
        _log(verbose, "gradual unfreezing: " + " → ".join("+".join(layer.name for layer in g)
                                                          for g in transfer.layer_groups(model) if g) + ", one group per epoch")

        def stage():
            recompile(model.optimizer.iterations)
            distribute.prepare_distributed_fit(model, train_ds, strategy)

        # The history, rate logger and augmentation epoch follow every stage; early stopping,
        # checkpoints, plateau reduction and the backup only the last one, when every group trains.
        every = [c for c in fit_callbacks if isinstance(c, (keras.callbacks.CSVLogger, callbacks_lib.LearningRateLogger,
                                                            callbacks_lib.InterruptBetweenBatches))
                 or type(c).__name__ in ("AugmentEpochCallback", "TerminateOnNaNWithAdvice")]
        distribute.prepare_distributed_fit(model, train_ds, strategy)
        with interrupt:
            return transfer.fit_in_stages(model, stage, train_ds, epochs=train_cfg["epochs"], gradual=True,
                                          validation_data=validation_ds, stage_callbacks=every, callbacks=fit_callbacks,
                                          verbose={0: 0, 1: 2}.get(verbose, 1), class_weight=class_weight)
    if recompile is not None:  # resuming a gradual run: the backup was taken with every group trainable
        transfer.set_trainable_groups(model, len(transfer.LAYER_GROUPS))
        recompile(None)
    distribute.prepare_distributed_fit(model, train_ds, strategy)  # keras-team/keras#20585
    with interrupt:
        history = model.fit(train_ds, validation_data=validation_ds, epochs=train_cfg["epochs"],
                            callbacks=fit_callbacks, class_weight=class_weight,
                            shuffle=False,  # the dataset shuffles itself, seeded
                            verbose={0: 0, 1: 2}.get(verbose, 1))
    history = {k: [float(x) for x in v] for k, v in history.history.items()}
    if resumed:  # the epochs before the interruption come from history.csv
        history = distribute.read_history(os.path.join(run_dir, "history.csv")) or history
    return history


def write_run_files(run_dir: str, cfg: Mapping, meta: Mapping, vocab: Vocabulary) -> None:
    """Writes labels.json (the metadata), vocabulary.json and recipe.toml (every key resolved).

    Args:
        run_dir: the run folder.
        cfg: the resolved recipe.
        meta: the JSON metadata (labels, task, tokenizer settings, ...).
        vocab: the `Vocabulary`.

    Example:
        >>> write_run_files("runs/x", cfg, {"labels": ["a", "b"]}, vocab)  # doctest: +SKIP
    """
    with open(os.path.join(run_dir, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(dict(meta), f, indent=2, ensure_ascii=False)
    vocab.save(os.path.join(run_dir, "vocabulary.json"))
    with open(os.path.join(run_dir, "recipe.toml"), "w", encoding="utf-8") as f:
        f.write(to_toml(cfg))


def write_metrics(run_dir: str, reports: Mapping, splits: Splits, history: Mapping, started: float,
                  export_check, **extra) -> dict:
    """Plots the learning curves and writes metrics.json; returns what was written.

    Args:
        run_dir: the run folder.
        reports: split name → metrics dict ("test", "validation").
        splits: the `Splits` (their sizes and line accounting are recorded).
        history: the training history.
        started: ``time.time()`` when the run began.
        export_check: the export check's result, or None.
        **extra: more JSON-ready entries for metrics.json.

    Returns:
        The metrics.json content as a dict.

    Example:
        >>> summary = write_metrics("runs/x", {"test": {}}, splits, {"loss": [0.5]}, 0.0, None)  # doctest: +SKIP
    """
    plot_learning_curves(history, os.path.join(run_dir, "learning_curves.png"))
    summary = {**run_summary(reports, splits, history, started, export_check), **extra}
    with open(os.path.join(run_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    return summary


def run_summary(reports: Mapping, splits: Splits, history: Mapping, started: float, export_check) -> dict:
    """The ``metrics.json`` of a run: reports per split, line accounting, epochs, time, export check.

    Args:
        reports: split name → `evaluate_predictions` report.
        splits: the run's `Splits`.
        history: metric → one value per epoch.
        started: the run's start, as from `time.time()`.
        export_check: `check_export`'s result, or None.

    Returns:
        A JSON-ready dict.

    Example:
        >>> s = run_summary({}, Splits([], [], [], []), {"loss": [0.7, 0.5]}, time.time(), None)
        >>> s["epochs_run"], s["splits"]
        (2, {'train': 0, 'validation': 0, 'test': 0})
    """
    return {
        "test": reports.get("test"), "validation": reports.get("validation"),
        "data": [r.to_dict() for r in splits.reports],
        "splits": {name: len(getattr(splits, name)) for name in ("train", "validation", "test")},
        "epochs_run": len(history.get("loss", [])), "train_seconds": round(time.time() - started, 1),
        "export_check": export_check,
    }


def write_model_card(run_dir: str, cfg: Mapping, meta: Mapping, reports: Mapping, exports: Mapping) -> dict:
    """Writes model_card.json in the run folder and inside saved_model/assets.extra/ (a copied export carries it).

    Args:
        run_dir: the run folder.
        cfg: the resolved recipe.
        meta: the export metadata (labels, task, tokenizer settings).
        reports: split name → metrics dict.
        exports: export name → its check result (None: not written).

    Returns:
        The card as a dict.

    Example:
        >>> card = write_model_card("runs/x", cfg, meta, {"test": {}}, {"saved_model": None})  # doctest: +SKIP
    """
    card = model_card(meta, recipe=cfg, metrics={k: v for k, v in reports.items() if v},
                      data_files=[cfg["data"].get(k) for k in ("train", "validation", "test")],
                      exports={k: v for k, v in exports.items() if v is not None})
    card_paths = [os.path.join(run_dir, MODEL_CARD)]
    if os.path.isdir(os.path.join(run_dir, "saved_model")):  # a copied SavedModel carries its card
        card_paths.append(os.path.join(run_dir, "saved_model", "assets.extra", MODEL_CARD))
    for path in card_paths:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(card, f, indent=2, ensure_ascii=False)
    return card


def finish_run(run_dir: str, chief_run_dir: str) -> str:
    """Removes a non-chief worker's private folder (its files were only needed while training).

    Args:
        run_dir: this worker's run folder.
        chief_run_dir: the chief's run folder (the same on the chief).

    Returns:
        The chief's run folder, the one to report.

    Example:
        >>> finish_run("runs/x", "runs/x")
        'runs/x'
    """
    if run_dir != chief_run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    return chief_run_dir


def check_export(e2e: keras.Model, export_path: str, texts: list, task: str, split: str = "word", limit: int = 512,
                 tolerance: float = EXPORT_TOLERANCE, meta: Mapping | None = None) -> dict:
    """Reloads an export (SavedModel or .tflite) and compares it with the Keras model on raw texts.

    Args:
        e2e: the end-to-end Keras model (`end_to_end_model`).
        export_path: the SavedModel folder written by `export_saved_model`.
        texts: sample texts; the first ``limit`` are used, plus an empty text
            and one of unknown words.
        task: "binary", "multiclass" or "multilabel".
        split: the tokenizer's split mode; with "jieba" the texts are segmented
            before the Keras model sees them. Default "word".
        limit: the most texts taken from ``texts``. Default 512.
        tolerance: the largest probability difference allowed. Default 1e-5.
        meta: for a ``.tflite`` export: its labels, task and tokenizer settings
            (`export_meta`), so that no ``model_card.json`` need exist yet. Default None.

    Returns:
        ``{"texts": number of texts compared, "max_abs_diff": largest difference,
        "label_agreement": fraction of texts given the same label}``.

    Raises:
        AssertionError: when any probability differs by more than ``tolerance``.

    Example:
        >>> check_export(result.model, "runs/demo/saved_model", ["a fine film"], "binary")  # doctest: +SKIP
        {'texts': 3, 'max_abs_diff': 0.0, 'label_agreement': 1.0}
    """
    sample = list(texts[:limit]) + ["", "zzzz qqqq unknown words"]
    segmented = np.array(presegment(sample, split), dtype=object)
    expected = probabilities_per_label(np.asarray(e2e.predict(segmented, verbose=0, batch_size=256)), task)
    got = Predictor(export_path, meta=None if meta is None else dict(meta)).predict_proba(sample)
    diff = float(np.max(np.abs(expected - got)))
    if diff > tolerance:
        raise AssertionError(f"{export_path}: the reloaded export differs from the Keras model by {diff:.2e} (> {tolerance})")
    # Labels are compared and recorded; with every probability within ``tolerance`` a label can
    # only change on a near tie (top-two margin below 2 x tolerance; int8 flipped 1 of 1,276
    # test texts in benchmarks/results/exports.md).
    if task == "multilabel":
        same = ((expected >= 0.5) == (got >= 0.5)).all(axis=1)
    else:
        same = expected.argmax(axis=1) == got.argmax(axis=1)
    return {"texts": len(sample), "max_abs_diff": diff, "label_agreement": float(same.mean())}
