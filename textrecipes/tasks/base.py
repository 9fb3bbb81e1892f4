"""The Task interface: what the run harness asks of every kind of learning problem.

A task owns its data, its model and how both are judged (as KerasHub's tasks
own their preprocessor and model); the harness (`textrecipes.run.harness.run`)
owns everything that is the same for all of them: the run folder, the
distribution strategy, the schedule, the optimizer, the callbacks, backup and
resume, the artifacts and the report. The harness calls the hooks in the order
the data meets them:

1. `check`: recipe problems of this task, before anything is written;
2. `read`: dataset files → `Splits` (records and line accounting);
3. `prepare`: what is learnt from the training split (labels, vocabulary, vectorizer);
4. `datasets`: the ``tf.data`` batches for fit and evaluation;
5. `build`: the model, under the strategy's scope (called again for a local copy, which
   `after_fit` gives the trained weights and `final_model` may replace);
6. `compile_options`: its loss and metrics (the optimizer is the harness's);
7. `adapt`: statistics layers of the model fitted on the training split (the linear model's idf);
   `fit_options`: callbacks, class weights and staged unfreezing it needs;
8. `evaluate`: the reports of each evaluated split;
9. `export`: the Keras file and the SavedModel, each checked by its own round trip;
10. `metadata`, `summary`, `report`: what goes into ``labels.json``,
    ``metrics.json`` and ``report.md``/``report.html``.
"""

from __future__ import annotations

import logging
from typing import Mapping

from textrecipes.recipe.loading import missing_files

log = logging.getLogger("textrecipes")


class Task:
    """Base class of the tasks the run harness fits; subclasses fill in the hooks.

    Args:
        cfg: the resolved recipe (`textrecipes.recipe.loading.load_recipe`).

    Attributes:
        name: the task's name in messages and metadata ("classification", ...).
        labels: the label (or tag) names in output order, set by `read`.
        kind: "binary", "multiclass", "multilabel", "tagging" or "language_model", set by `read`.
        vocab: the `Vocabulary`, set by `prepare`.

    Example:
        >>> class Nothing(Task):
        ...     name = "nothing"
        >>> Nothing({"name": "x"}).check({"name": "x"})
        []
    """
    name = "task"
    meta_file = "labels.json"  # where the run folder keeps `metadata`

    def __init__(self, cfg: Mapping):
        self.cfg = cfg
        self.labels: list = []
        self.kind = ""
        self.vocab = None

    # 1-3: data.
    def check(self, cfg: Mapping) -> list[str]:
        """Problems of the recipe for this task (keys that do not apply); empty when usable."""
        return []

    def missing_inputs(self, cfg: Mapping) -> list[str]:
        """The recipe's data files that are missing or not regular files (checked before the run folder exists)."""
        return missing_files(cfg)

    def read(self, cfg: Mapping):
        """Reads the recipe's data files into a `textrecipes.data.splits.Splits`; sets `labels` and `kind`."""
        raise NotImplementedError

    def prepare(self, splits) -> None:
        """Learns what the training split gives (vocabulary, vectorizer, targets); logs what it found."""
        raise NotImplementedError

    def examples(self, splits) -> int:
        """Training examples per epoch (the optimizer steps are this over the batch size)."""
        return len(splits.train)

    def datasets(self, splits, batch_size: int) -> tuple:
        """``(train_ds, {"validation": ds, "test": ds})`` of ``tf.data`` batches; empty splits left out."""
        raise NotImplementedError

    # 4-5: model.
    def build(self, *, initial: bool = True):
        """An uncompiled model; ``initial`` False for the local copy that receives trained weights."""
        raise NotImplementedError

    def compile_options(self) -> dict:
        """``model.compile`` keyword arguments other than the optimizer (loss, metrics, ...)."""
        raise NotImplementedError

    def adapt(self, model, splits) -> None:
        """Fits what the model takes from the training split rather than from gradients (an idf), before fit."""

    def fit_options(self, model) -> dict:
        """``extra_callbacks``, ``class_weight`` and ``gradual`` (staged unfreezing) for the fit; ``fitted``: no fit,
        `adapt` found the weights (the harness records their scores, `textrecipes.training.fit.solved_history`)."""
        return {}

    def layer_rates(self, model) -> dict:
        """``{layer name: learning-rate multiplier}`` for the optimizer; empty: one rate."""
        return {}

    def after_fit(self, model):
        """The fitted model whose weights the evaluation copy receives (training-only layers taken off); default: it."""
        return model

    def final_model(self, model):
        """The model to evaluate and export, from the evaluation copy holding the trained weights; default: the copy.

        A task may return a model of another architecture that computes the same
        function, e.g. smaller (structured pruning's compact model).
        """
        return model

    # 6-8: evaluation, export, artifacts.
    def evaluate(self, model, eval_ds: Mapping, splits) -> tuple[dict, dict]:
        """``(reports, predictions)``: split name → metrics, and what the report needs of the predictions."""
        raise NotImplementedError

    def log_final(self, report: Mapping, split_name: str) -> None:
        """Logs the final split's headline metrics."""

    def export(self, model, run_dir: str, splits) -> tuple:
        """Writes the task's exports; returns ``(end-to-end model, {export name: its check or {}})``."""
        raise NotImplementedError

    def metadata(self) -> dict:
        """The JSON metadata of the run (``labels.json`` and each export's ``textrecipes.json``)."""
        raise NotImplementedError

    def summary(self) -> dict:
        """Task-specific entries of ``metrics.json``."""
        return {}

    def report(self, run_dir: str, predictions: Mapping, metrics: Mapping) -> None:
        """Writes ``report.md`` and ``report.html`` from ``evaluate``'s predictions and the run's metrics."""
