"""The recipe runner: a TSV file to a trained, evaluated, exported model.

`train` reads top to bottom in the order the data meets each stage:
dataset files → records → tokenization and vocabulary → `tf.data` batches →
model built under a distribution strategy → fit with schedules and callbacks →
evaluation report → export, with every artifact written to the run folder.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from typing import Mapping

import keras
import numpy as np

from textrecipes import callbacks as callbacks_lib
from textrecipes import distribute, schedules, transfer
from textrecipes.datasets import DataError, format_label_counts, label_counts, read_classification, split_records
from textrecipes.distribute import get_strategy
from textrecipes.evaluate import evaluate_predictions, format_metrics, plot_learning_curves, probabilities_per_label
from textrecipes.export import Predictor, end_to_end_model, export_saved_model
from textrecipes.models import BUILDERS, loss_for
from textrecipes.pipeline import encode_labels, make_dataset
from textrecipes.recipe import load_recipe, to_toml
from textrecipes.tokenization import TextVectorizer, Vocabulary, presegment, tokenize

EXPORT_TOLERANCE = 1e-5


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
        >>> from textrecipes.recipe import default_recipe
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
    seeded). Labels of validation/test must appear in the label set, reported
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
        >>> from textrecipes.recipe import default_recipe
        >>> data = {**default_recipe()["data"], "train": "data/samples/label_text.tsv"}
        >>> splits, labels = load_splits(data, seed=0)
        >>> labels
        ['neg', 'pos']
    """
    options = read_options(data)
    declared = list(data["labels"]) or None
    train = read_classification(data["train"], labels=declared, **options)
    labels = declared or sorted(label_counts(train.records))
    reports = [train.report]
    parts = {}
    for name in ("validation", "test"):
        if data[name]:
            ds = read_classification(data[name], labels=labels, **options)
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


def read_options(data: Mapping) -> dict:
    """The `read_classification` keyword arguments of a recipe's ``[data]`` table.

    Args:
        data: the recipe's ``[data]`` table.

    Returns:
        ``text_first``, ``header``, ``multi_label``, ``label_sep`` and ``on_bad_lines``.

    Example:
        >>> from textrecipes.recipe import default_recipe
        >>> read_options(default_recipe()["data"])["on_bad_lines"]
        'error'
    """
    return dict(text_first=data["text_first"], header=data["header"], multi_label=data["multi_label"],
                label_sep=data["label_sep"], on_bad_lines=data["on_bad_lines"])


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
        >>> from textrecipes.recipe import default_recipe
        >>> build_augmenter(default_recipe()["augment"], seed=0)
        (None, None)
    """
    if not config["enabled"]:
        return None, None
    import tensorflow as tf

    from textrecipes.augment import Augmenter

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


def model_options(model_cfg: Mapping) -> dict:
    """The ``[model]`` keys the model builder takes (all but ``name``, ``task`` and ``init_from``).

    Args:
        model_cfg: the recipe's ``[model]`` table.

    Returns:
        A new dict of builder keyword arguments.

    Example:
        >>> from textrecipes.recipe import default_recipe
        >>> "init_from" in model_options(default_recipe()["model"])
        False
    """
    return {k: v for k, v in model_cfg.items() if k not in ("name", "task", "init_from")}


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


def prepare_run_dir(run_dir: str, overwrite: bool) -> None:
    """A finished run is kept unless ``overwrite``; an interrupted one is resumed.

    A run is finished when its ``metrics.json`` exists. The folder is created
    when missing.

    Args:
        run_dir: the run folder.
        overwrite: remove a finished run's folder and start afresh.

    Raises:
        FileExistsError: when ``run_dir`` holds a finished run and ``overwrite``
            is False.

    Example:
        >>> import os, tempfile
        >>> run_dir = os.path.join(tempfile.mkdtemp(), "run")
        >>> prepare_run_dir(run_dir, overwrite=False)
        >>> os.path.isdir(run_dir)
        True
    """
    if os.path.exists(os.path.join(run_dir, "metrics.json")):
        if not overwrite:
            raise FileExistsError(f"{run_dir} already holds a finished run; pass overwrite=True (--overwrite) or another run_dir")
        shutil.rmtree(run_dir)
    os.makedirs(run_dir, exist_ok=True)


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
    # The strategy comes first: MultiWorkerMirroredStrategy must exist before any other TF op.
    strategy = get_strategy(cfg["train"]["strategy"])
    run_dir = run_dir or cfg["run_dir"] or os.path.join("runs", cfg["name"])
    chief_run_dir = run_dir  # only the chief writes here; other workers write to a private folder
    run_dir = distribute.worker_run_dir(run_dir, strategy)
    prepare_run_dir(run_dir, overwrite)
    seed = cfg["seed"]
    keras.utils.set_random_seed(seed)
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
        from textrecipes.pretrain import check_lm_compatible, init_from_lm, load_language_model

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
    steps_per_epoch = math.ceil(len(texts["train"]) / batch_size)
    mixed = distribute.use_mixed_precision(train_cfg["mixed_precision"])
    with strategy.scope(), distribute.precision_policy(mixed):  # the global policy is restored after compile
        build = BUILDERS[model_cfg["name"]]
        options = model_options(model_cfg)
        model = build(len(vocab), len(labels), task=task, seed=seed, **options)
        if lm is not None:
            copied = init_from_lm(model, lm)
            _log(verbose, f"weights from the language model: {', '.join(copied)}")
        schedule = schedules.build_schedule(cfg["schedule"], steps_per_epoch=steps_per_epoch, epochs=train_cfg["epochs"])
        rates = transfer.group_rates(model, train_cfg["layer_lr_decay"])
        gradual = train_cfg["unfreeze"] == "gradual"
        if gradual:
            transfer.apply_freeze(model, "gradual")
        model.compile(optimizer=transfer.with_layer_rates(build_optimizer(cfg["optimizer"], schedule), rates),
                      loss=loss_for(task), metrics=accuracy_metrics(task))
    if mixed:
        _log(verbose, "mixed precision: mixed_float16 (float32 output layer, loss scaling by compile)")
    eligible, reasons = distribute.cudnn_eligible(model)
    if not eligible:
        _log(verbose, "note: the LSTM leaves the cuDNN kernel (much slower on GPU): " + "; ".join(reasons))

    # 5. Fit with the recipe's callbacks; history.csv is written as it goes.
    has_validation = "validation" in eval_ds
    callback_cfg = cfg["callbacks"]
    if not has_validation:
        callback_cfg = without_validation(callback_cfg)
        _log(verbose, "no validation data: callbacks monitor the training metrics instead of val_*")
    fit_callbacks = callbacks_lib.build_callbacks(callback_cfg, run_dir=run_dir, verbose=1 if verbose else 0)
    # Resuming an interrupted run: history.csv keeps the epochs the backup holds and is appended to.
    resumed = distribute.resume_epoch(os.path.join(run_dir, "backup")) if callback_cfg["backup"]["enabled"] else 0
    if resumed:
        distribute.trim_history(os.path.join(run_dir, "history.csv"), resumed)
        _log(verbose, f"resuming an interrupted run after epoch {resumed} of {train_cfg['epochs']}")
    fit_callbacks.append(keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=bool(resumed)))
    # The backup goes last: an epoch is declared done only after its history row is
    # written, so a kill between the two never leaves a hole in history.csv.
    backups = [c for c in fit_callbacks if isinstance(c, keras.callbacks.BackupAndRestore)]
    fit_callbacks = [c for c in fit_callbacks if c not in backups] + backups
    if augmenter is not None:
        from textrecipes.augment import AugmentEpochCallback

        fit_callbacks.insert(0, AugmentEpochCallback(epoch_variable))
    schedules.plot_schedule(schedule, steps_per_epoch * train_cfg["epochs"], os.path.join(run_dir, "schedule.png"))
    distribute.prepare_distributed_fit(model, train_ds, strategy)  # keras-team/keras#20585
    if gradual and not resumed:
        # One more layer group per epoch (head first), each step a short fit after a recompile.
        _log(verbose, f"gradual unfreezing: {' → '.join('+'.join(layer.name for layer in g) for g in transfer.layer_groups(model) if g)}, "
                      "one group per epoch")
        optimizers = [model.optimizer]

        def recompile():
            with strategy.scope():
                optimizer = transfer.with_layer_rates(build_optimizer(cfg["optimizer"], schedule), rates)
                optimizer.iterations.assign(optimizers[-1].iterations)  # the schedule goes on, not afresh
                model.compile(optimizer=optimizer, loss=loss_for(task), metrics=accuracy_metrics(task))
            optimizers.append(optimizer)
            distribute.prepare_distributed_fit(model, train_ds, strategy)

        # The history, rate logger and augmentation epoch follow every stage; early stopping,
        # checkpoints, plateau reduction and the backup only the last one, when every group trains.
        every = [c for c in fit_callbacks if isinstance(c, (keras.callbacks.CSVLogger, callbacks_lib.LearningRateLogger))
                 or type(c).__name__ in ("AugmentEpochCallback", "TerminateOnNaNWithAdvice")]
        history = transfer.fit_in_stages(model, recompile, train_ds, epochs=train_cfg["epochs"], gradual=True,
                                         validation_data=eval_ds.get("validation"), stage_callbacks=every,
                                         callbacks=fit_callbacks,
                                         verbose={0: 0, 1: 2}.get(verbose, 1))
    else:
        if gradual:  # resuming: the backup was taken with every group trainable
            transfer.set_trainable_groups(model, len(transfer.LAYER_GROUPS))
            with strategy.scope():
                model.compile(optimizer=transfer.with_layer_rates(build_optimizer(cfg["optimizer"], schedule), rates),
                              loss=loss_for(task), metrics=accuracy_metrics(task))
            distribute.prepare_distributed_fit(model, train_ds, strategy)
        history = model.fit(train_ds, validation_data=eval_ds.get("validation"), epochs=train_cfg["epochs"],
                            callbacks=fit_callbacks, shuffle=False,  # the dataset shuffles itself, seeded
                            verbose={0: 0, 1: 2}.get(verbose, 1))
        history = {k: [float(x) for x in v] for k, v in history.history.items()}
    if resumed:  # the epochs before the interruption come from history.csv
        history = distribute.read_history(os.path.join(run_dir, "history.csv")) or history
    if distribute.is_multi_worker(strategy):
        # Evaluate and export a local copy: predict/export need no collective ops then.
        local = build(len(vocab), len(labels), task=task, seed=seed, **options)
        local.set_weights(model.get_weights())
        model = local

    # 6-7. Evaluation report and export.
    raw = [r.text for r in (splits.test or splits.validation or splits.train)]
    e2e, reports, export_check = evaluate_and_export(run_dir, cfg, model, vectorizer, vocab, labels, task, eval_ds,
                                                     targets, raw, history, verbose)
    final = reports.get("test") or reports.get("validation") or {}
    summary = run_summary(reports, splits, history, started, export_check)
    with open(os.path.join(run_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    if run_dir != chief_run_dir:  # a non-chief worker: its files were only needed while training
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir = chief_run_dir
    _log(verbose, f"run folder: {run_dir} ({summary['train_seconds']} s)")
    return RunResult(run_dir, cfg, final, reports.get("validation") or {}, history, labels, task, e2e)


def evaluate_and_export(run_dir: str, cfg: Mapping, model: keras.Model, vectorizer: TextVectorizer, vocab: Vocabulary,
                        labels: list, task: str, eval_ds: Mapping, targets: Mapping, sample_texts: list, history: dict,
                        verbose: int = 0) -> tuple[keras.Model, dict, dict | None]:
    """Evaluates a trained classifier and writes the run folder's model, export and metadata.

    Writes ``labels.json``, ``vocabulary.json``, ``recipe.toml``, ``model.keras``
    and ``saved_model/`` (as ``cfg["export"]`` asks; the export is reloaded and
    checked against the Keras model) and ``learning_curves.png``; ``metrics.json``
    is left to the caller.

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
        history: metric → one value per epoch (for the learning curves).
        verbose: 0 silent, else a line for the metrics and the export.

    Returns:
        ``(e2e, reports, export_check)``: the end-to-end model, split name →
        `evaluate_predictions` report, and `check_export`'s result (None without
        a SavedModel).

    Example:
        >>> e2e, reports, check = evaluate_and_export("runs/x", cfg, model, vectorizer, vocab,  # doctest: +SKIP
        ...                                           ["neg", "pos"], "binary", eval_ds, targets, texts, history)
    """
    tok_cfg = cfg["tokenize"]
    # 6. Evaluation report.
    e2e = end_to_end_model(vectorizer, model)
    reports = {}
    for name, ds in eval_ds.items():
        probs = probabilities_per_label(model.predict(ds, verbose=0), task)
        reports[name] = evaluate_predictions(targets[name], probs, labels, task)
    final = reports.get("test") or reports.get("validation") or {}
    if final:
        _log(verbose, format_metrics(final, "test" if "test" in reports else "validation"))

    # 7. Export: the Keras model, the SavedModel over raw strings, and the metadata.
    meta = {"labels": labels, "task": task, "split": tok_cfg["split"], "lowercase": tok_cfg["lowercase"],
            "max_length": tok_cfg["max_length"], "vocabulary_size": len(vocab), "recipe": cfg["name"]}
    with open(os.path.join(run_dir, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
    vocab.save(os.path.join(run_dir, "vocabulary.json"))
    with open(os.path.join(run_dir, "recipe.toml"), "w", encoding="utf-8") as f:
        f.write(to_toml(cfg))
    if cfg["export"]["keras"]:
        e2e.save(os.path.join(run_dir, "model.keras"))
    export_check = None
    if cfg["export"]["saved_model"]:
        export_path = os.path.join(run_dir, "saved_model")
        export_saved_model(e2e, export_path, labels=labels, task=task, meta=meta)
        export_check = check_export(e2e, export_path, sample_texts, task, tok_cfg["split"])
        _log(verbose, f"exported {export_path}; reloaded export agrees with the Keras model "
                      f"(max |diff| {export_check['max_abs_diff']:.2e} on {export_check['texts']} texts)")
    plot_learning_curves(history, os.path.join(run_dir, "learning_curves.png"))
    return e2e, reports, export_check


def check_export(e2e: keras.Model, export_path: str, texts: list, task: str, split: str = "word", limit: int = 512) -> dict:
    """Reloads the SavedModel and compares its probabilities with the Keras model's on raw texts.

    Args:
        e2e: the end-to-end Keras model (`end_to_end_model`).
        export_path: the SavedModel folder written by `export_saved_model`.
        texts: sample texts; the first ``limit`` are used, plus an empty text
            and one of unknown words.
        task: "binary", "multiclass" or "multilabel".
        split: the tokenizer's split mode; with "jieba" the texts are segmented
            before the Keras model sees them. Default "word".
        limit: the most texts taken from ``texts``. Default 512.

    Returns:
        ``{"texts": number of texts compared, "max_abs_diff": largest difference}``.

    Raises:
        AssertionError: when any probability differs by more than 1e-5.

    Example:
        >>> check_export(result.model, "runs/demo/saved_model", ["a fine film"], "binary")  # doctest: +SKIP
        {'texts': 3, 'max_abs_diff': 0.0}
    """
    sample = list(texts[:limit]) + ["", "zzzz qqqq unknown words"]
    segmented = np.array(presegment(sample, split), dtype=object)
    expected = probabilities_per_label(np.asarray(e2e.predict(segmented, verbose=0, batch_size=256)), task)
    got = Predictor(export_path).predict_proba(sample)
    diff = float(np.max(np.abs(expected - got)))
    if diff > EXPORT_TOLERANCE:
        raise AssertionError(f"{export_path}: the reloaded export differs from the Keras model by {diff:.2e} (> {EXPORT_TOLERANCE})")
    return {"texts": len(sample), "max_abs_diff": diff}
