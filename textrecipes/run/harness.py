"""The run harness: one skeleton for every task, from a resolved recipe to a finished run folder.

`run` holds the skeleton once, in the order the data meets it:

run folder → splits → what the training split teaches (vocabulary, labels) →
``tf.data`` batches → the model built and compiled under the distribution
strategy → fit with schedules, callbacks, backup and resume → evaluation →
exports, each checked by reloading it → artifacts, report and, last,
``metrics.json``.

What differs between tasks (their data, model, loss, metrics, evaluation and
exports) comes from the `textrecipes.tasks.base.Task` it is given; the harness
imports no task. `textrecipes.workflows.train.train` picks the task from
``data.format``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import sys
import time
from typing import Mapping

import keras
import numpy as np

from textrecipes.evaluation.plots import plot_learning_curves
from textrecipes.recipe.loading import RecipeError
from textrecipes.run.abandon import discard_if_unused, folder_before
from textrecipes.run.artifacts import finish_run, run_summary, write_json, write_model_card, write_run_files
from textrecipes.run.display import result_html, result_repr
from textrecipes.run.folder import FINISHED, prepare_run_dir
from textrecipes.training import TrainingError, distribute, schedules
from textrecipes.training.fit import fit_recipe, solved_history
from textrecipes.training.optimizers import build_optimizer, with_layer_rates

log = logging.getLogger("textrecipes")


@dataclasses.dataclass
class RunResult:
    """What a run returns: the run folder, the resolved recipe, metrics and the model.

    ``metrics`` is the test split's report (the validation split's when there is
    no test split); ``model`` takes raw inputs (strings; a dict of two for pairs).

    Args:
        run_dir: the run folder holding every artifact.
        recipe: the resolved recipe, every key filled in.
        metrics: the final metrics (`evaluate_predictions`), as above.
        validation_metrics: the validation split's metrics; empty without one.
        history: Keras' training history: metric → one value per epoch.
        labels: the label names in output order.
        task: "binary", "multiclass", "multilabel", "tagging" or "language_model".
        model: the end-to-end Keras model.

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

    def __repr__(self) -> str:  # the folder and the headline numbers, not the recipe and history
        return result_repr(self)

    def _repr_html_(self) -> str:  # notebooks: a metrics table, the learning curves and confusion matrix
        return result_html(self)


def keras_verbosity(verbose) -> int:
    """``verbose`` as Keras' ``fit`` reads it: 0 silent, 1 a progress bar, 2 a line per epoch.

    ``"auto"`` is 1 on a terminal or in a notebook and 2 otherwise (a log file, CI).

    Example:
        >>> keras_verbosity(0), keras_verbosity(2)
        (0, 2)
    """
    if verbose == "auto":
        interactive = sys.stdout.isatty() or "ipykernel" in sys.modules
        return 1 if interactive else 2
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto' (as for keras.Model.fit), got {verbose!r}")
    return int(verbose)


@contextlib.contextmanager
def messages(verbose: int):
    """Shows the ``textrecipes`` logger's messages on stdout while a run lasts, unless ``verbose`` is 0.

    A handler the user configured on the ``textrecipes`` logger is left alone;
    when it has none, the run adds a plain one (and keeps the messages from
    reaching the root logger's handlers twice), and removes it after. A level
    set on the logger is kept; otherwise INFO.

    Example:
        >>> with messages(0):
        ...     log.info("not shown")
    """
    if not verbose:
        previous = log.level
        log.setLevel(logging.WARNING)
        try:
            yield
        finally:
            log.setLevel(previous)
        return
    if log.handlers:
        yield
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    previous, propagate = log.level, log.propagate
    log.setLevel(previous or logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)
        log.propagate = propagate


def start_run(cfg: Mapping, run_dir: str | None, overwrite: bool, kind: str = "train"):
    """Creates the strategy (first: multi-worker needs that), the run folder, and seeds Keras.

    Args:
        cfg: the resolved recipe.
        run_dir: the requested run folder, or None (the recipe's, else ``runs/<name>``).
        overwrite: replace a finished run.
        kind: what the folder is for, kept in its marker. Default "train".

    Returns:
        ``(strategy, run_dir, chief_run_dir, lock)``: this worker's folder and the chief's
        (the same but on a non-chief worker of a multi-worker run), and the folder's
        held `textrecipes.run.folder.RunLock`.

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> strategy, run_dir, chief, lock = start_run(load_recipe(None), "runs/x", False)  # doctest: +SKIP
    """
    # The strategy comes first: MultiWorkerMirroredStrategy must exist before any other TF op.
    strategy = distribute.get_strategy(cfg["train"]["strategy"])
    run_dir = os.fspath(run_dir or cfg["run_dir"] or os.path.join("runs", cfg["name"]))
    chief_run_dir = run_dir  # only the chief writes here; other workers write to a private folder
    run_dir = distribute.worker_run_dir(run_dir, strategy)
    lock = prepare_run_dir(run_dir, overwrite, kind=kind, recipe=cfg)
    keras.utils.set_random_seed(cfg["seed"])
    return strategy, run_dir, chief_run_dir, lock


def build_and_compile(task, cfg: Mapping, strategy, steps_per_epoch: int):
    """The task's model, the recipe's schedule and optimizer, built and compiled under the strategy.

    Returns:
        ``(model, schedule, compile)``: ``compile(optimizer_step=None)`` compiles
        the model afresh (a new optimizer with the task's per-layer rates),
        continuing at ``optimizer_step`` when given (gradual unfreezing).
    """
    mixed = distribute.use_mixed_precision(cfg["train"]["mixed_precision"])
    with strategy.scope(), distribute.precision_policy(mixed):  # the global policy is restored after compile
        model = task.build(initial=True)
        schedule = schedules.build_schedule(cfg["schedule"], steps_per_epoch=steps_per_epoch,
                                            epochs=cfg["train"]["epochs"])
        rates = task.layer_rates(model)
        options = task.compile_options()

        def compile_model(optimizer_step=None):
            """Compiles `model` with a fresh optimizer (per-layer rates); continues a step count."""
            with strategy.scope():
                optimizer = with_layer_rates(build_optimizer(cfg["optimizer"], schedule), rates)
                if optimizer_step is not None:  # gradual unfreezing: the schedule goes on, not afresh
                    optimizer.iterations.assign(optimizer_step)
                model.compile(optimizer=optimizer, **options)

        compile_model()
    if mixed:
        log.info("mixed precision: mixed_float16 (float32 output layer, loss scaling by compile)")
    eligible, reasons = distribute.cudnn_eligible(model)
    if not eligible:
        log.info("note: the RNN leaves the cuDNN kernel (much slower on GPU): " + "; ".join(reasons))
    return model, schedule, compile_model


def check_finite(history: Mapping, model) -> None:
    """Stops a run whose loss or weights are no longer finite, before anything is evaluated or exported.

    Raises:
        TrainingError: with the epoch, and what to try.
    """
    losses = [float(v) for v in history.get("loss", [])]
    bad_epoch = next((i + 1 for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad_epoch is None and all(np.isfinite(w).all() for w in model.get_weights()):
        return
    where = f"the loss became {losses[bad_epoch - 1]} at epoch {bad_epoch}" if bad_epoch else "the weights are not finite"
    raise TrainingError(
        f"training diverged: {where}; nothing was evaluated or exported. Try a 10x lower learning rate "
        "(schedule.learning_rate, or textrecipes.training.lr_finder.find_learning_rate), gradient clipping "
        "(optimizer.clipnorm = 1.0), and check the data; rerun with --overwrite to start afresh")


def run(task, cfg: Mapping, *, run_dir: str | None = None, overwrite: bool = False, verbose="auto") -> RunResult:
    """Trains, evaluates and exports ``task`` as the resolved recipe ``cfg`` says; writes the run folder.

    Args:
        task: a `textrecipes.tasks.base.Task` made for ``cfg``.
        cfg: the resolved recipe (`textrecipes.recipe.loading.load_recipe`).
        run_dir: where the artifacts go. Default: the recipe's ``run_dir``, else ``runs/<name>``.
        overwrite: replace a finished run in ``run_dir``. Default False.
        verbose: as Keras' ``fit``: 0 silent, 1 progress bars, 2 a line per epoch,
            "auto" (default) 1 on a terminal or in a notebook, else 2; the
            stage messages (the ``textrecipes`` logger) show unless it is 0.

    Returns:
        A `RunResult`.

    Raises:
        RecipeError: for keys that do not apply to the task, before anything is written.
        DataError: for a bad data line (naming the file and line), or too few examples.
    """
    started = time.time()
    # Before the run folder exists, nothing is left behind; a folder or a FIFO as data is refused (os.stat only).
    problems = task.check(cfg) + task.missing_inputs(cfg)
    if problems:
        raise RecipeError(problems, cfg["name"])
    fit_verbose = keras_verbosity(verbose)
    requested = os.fspath(run_dir or cfg["run_dir"] or os.path.join("runs", cfg["name"]))
    before = folder_before(requested)
    with messages(fit_verbose):
        strategy, run_dir, chief_run_dir, lock = start_run(cfg, run_dir, overwrite, kind=task.name)
        try:
            return _run_in_folder(task, cfg, strategy, run_dir, chief_run_dir, fit_verbose, started)
        except Exception:
            if run_dir == requested:  # refused before writing anything (empty data, too many labels): no folder left
                discard_if_unused(run_dir, before, lock)
            raise
        finally:
            lock.release()


def _run_in_folder(task, cfg: Mapping, strategy, run_dir: str, chief_run_dir: str, fit_verbose, started: float):
    """The run, once its folder is ready and locked: splits, data, model, fit, evaluation, exports, artifacts."""
    # 1-2. Dataset files → records, every line accounted for; what the training split teaches.
    splits = task.read(cfg)
    for report in splits.reports:
        log.info(report.summary())
    task.prepare(splits)

    # 3. tf.data batches, vectorized in the pipeline. batch_size is per replica.
    batch_size = cfg["train"]["batch_size"] * strategy.num_replicas_in_sync
    log.info(f"strategy: {type(strategy).__name__}, {strategy.num_replicas_in_sync} replica(s); "
             f"global batch {batch_size}")
    train_ds, eval_ds = task.datasets(splits, batch_size)
    if distribute.is_multi_worker(strategy):
        if not getattr(task, "shards_input", False):  # a streamed task's workers read only their share
            train_ds = distribute.data_sharded(train_ds)
        eval_ds = {name: distribute.data_sharded(ds) for name, ds in eval_ds.items()}

    # 4. The model, its schedule and optimizer, under the strategy.
    steps_per_epoch = math.ceil(task.examples(splits) / batch_size)
    model, schedule, compile_model = build_and_compile(task, cfg, strategy, steps_per_epoch)

    # 5. Fit with the recipe's callbacks; history.csv is written as it goes. First the statistics
    # the model reads from the training split (the linear model's idf), as preprocessing layers adapt.
    with strategy.scope():  # auto's linear member compiles and fits here, on the strategy's variables
        task.adapt(model, splits)
    options = task.fit_options(model)
    if options.get("fitted"):  # the task's solver found the weights in adapt (the linear model's lbfgs)
        history = solved_history(model, train_ds, eval_ds.get("validation"), run_dir)
    else:
        history = fit_recipe(model, train_ds, eval_ds.get("validation"), cfg, run_dir=run_dir, schedule=schedule,
                             steps_per_epoch=steps_per_epoch, strategy=strategy, verbose=fit_verbose,
                             extra_callbacks=options.get("extra_callbacks", ()),
                             class_weight=options.get("class_weight"),
                             recompile=compile_model if options.get("gradual") else None)
    check_finite(history, model)
    # Evaluate and export the trained weights in a local, uncompiled copy: predict and export
    # need no collective ops then, and an exported .keras file holds the model alone (no
    # optimizer or schedule to resolve when it is loaded elsewhere).
    with distribute.precision_policy(distribute.use_mixed_precision(cfg["train"]["mixed_precision"])):
        trained = task.build(initial=False)  # the trained model's dtype policy: the same numbers
        trained.set_weights(task.after_fit(model).get_weights())
        model = task.final_model(trained)  # the copy itself, or another architecture (a compacted model)

    # 6. Evaluation.
    reports, predictions = task.evaluate(model, eval_ds, splits)
    final_name = "test" if reports.get("test") else "validation"
    final = reports.get(final_name) or {}
    if final:
        task.log_final(final, final_name)

    # 7. Exports, each reloaded and checked; then the artifacts, metrics.json last.
    meta = task.metadata()
    write_run_files(run_dir, cfg, meta, task.vocab, meta_file=task.meta_file)
    e2e, exports = task.export(model, run_dir, splits)
    write_model_card(run_dir, cfg, meta, reports, exports)
    summary = {**run_summary(reports, splits, history, started, exports.get("saved_model")), **task.summary()}
    plot_learning_curves(history, os.path.join(run_dir, "learning_curves.png"))
    if final:
        task.report(run_dir, predictions, summary)
    write_json(os.path.join(run_dir, FINISHED), summary)
    run_dir = finish_run(run_dir, chief_run_dir)
    log.info(f"run folder: {run_dir} ({summary['train_seconds']} s)")
    return RunResult(run_dir, dict(cfg), final, reports.get("validation") or {}, history, list(task.labels),
                     task.kind, e2e)
