"""Classification of texts: ``label<TAB>text`` → one label (binary, multiclass) or several (multi-label).

The classification task supplies the run harness with the data flow of a text
classifier: `read_classification` → the vocabulary of the training split (or
a pretrained language model's) → a `TextVectorizer` → ``tf.data`` batches
(optionally augmented on the fly) → a model of `textrecipes.models.classifiers`
(``model.name``: lstm, gru, cnn, fasttext, linear), its loss and accuracy → scikit-learn
metrics per split → ``model.keras``, a SavedModel over raw strings and
optionally TFLite, each checked against the Keras model → the report with the
most confidently wrong validation examples.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Mapping

import keras
import numpy as np

from textrecipes.augment.on_the_fly import AugmentEpochCallback, build_augmenter
from textrecipes.data.atomic import save_keras
from textrecipes.data.readers import read_classification, read_options
from textrecipes.data.records import DataError
from textrecipes.data.splits import format_label_counts, label_counts, load_splits
from textrecipes.evaluation.baseline import fit_baseline, log_comparison
from textrecipes.evaluation.metrics import evaluate_predictions, format_metrics, probabilities_per_label, write_label_tables
from textrecipes.evaluation.report import write_report
from textrecipes.export.saved_model import TFLITE_TOLERANCE, check_export, end_to_end_model, export_saved_model
from textrecipes.export.tflite import export_tflite
from textrecipes.models.classifiers import BUILDERS
from textrecipes.models.auto import is_auto, single_model
from textrecipes.models.linear import adapt_model, tfidf_layers
from textrecipes.models.losses import loss_for
from textrecipes.pruning.callback import MagnitudePruning
from textrecipes.pruning.recipe import (
    compact_for_recipe,
    finish_pruning,
    prune_for_recipe,
    prune_unread_rows,
    pruning_record,
)
from textrecipes.recipe.loading import default_recipe
from textrecipes.tasks.auto import (LBFGS_MAX_NONZEROS, choose_weight, fit_linear_lbfgs, fit_linear_member,
                                    lbfgs_refusal, log_choice, lstm_alone, member_reports)
from textrecipes.tasks.base import Task
from textrecipes.tasks.language_model import check_lm_compatible, init_from_lm, load_language_model
from textrecipes.text.pipeline import encode_labels, make_dataset
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, presegment, tokenize
from textrecipes.text.vectors import apply_vectors, format_coverage, load_vectors
from textrecipes.training import transfer

log = logging.getLogger("textrecipes")
SPLIT_NAMES = ("train", "validation", "test")
# Most distinct labels a classifier trains on: more is refused before training, naming the file
# (10,000 labels meant a 10,000-wide softmax over a few examples each, and reports that did not fit).
MAX_LABELS = 5000
CLASS_WEIGHTS = ("none", "balanced")  # train.class_weight: none, or scikit-learn's "balanced" (`balanced_class_weights`)
# [model] keys the runner handles itself rather than passing to a builder.
RUNNER_MODEL_KEYS = ("name", "task", "vectors", "freeze_vectors", "init_from", "init_from_layers", "solver")


class ClassificationTask(Task):
    """Text classification for the run harness (``data.format = "label_text"``).

    Args:
        cfg: the resolved recipe.

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> from textrecipes.run.harness import run
        >>> cfg = load_recipe({"data": {"train": "data/samples/label_text.tsv"}})
        >>> result = run(ClassificationTask(cfg), cfg, run_dir="runs/doc", overwrite=True)  # doctest: +SKIP
    """
    name = "classification"
    has_baseline = True  # evaluate.baseline applies (single texts)

    def __init__(self, cfg: Mapping):
        super().__init__(cfg)
        self.seed = cfg["seed"]
        self.lm = None
        self.vectors_matrix = self.vectors_report = None
        self.class_weight = None
        self.augmenter = self.epoch_variable = None
        self.tflite_check = None
        self.batch_size = self.pruning = self.compaction = None
        self.baseline = None
        self.auto = None  # model.name = "auto": its members' fits and the blend's weight (textrecipes.tasks.auto)
        self.linear_fit = None  # model.name = "linear": how its weights were found (`solve_linear`)
        self.lstm_alone = lstm_alone(cfg, self.single_model_reasons(cfg))

    def single_model_reasons(self, cfg: Mapping) -> list:
        """What, in this recipe, needs one model rather than ``auto``'s blend (`lstm_alone`)."""
        return [("prune.enabled", cfg["prune"]["enabled"], "pruning"),
                # The linear member's own fit fails on a multi-worker strategy's per-replica batches.
                ("train.strategy", cfg["train"]["strategy"] == "multi_worker", "multi-worker training")]

    # 1. Records.
    def read(self, cfg: Mapping):
        data = cfg["data"]

        def read(path, labels):
            return read_classification(path, labels=labels, **read_options(data))

        splits, self.labels = load_splits(data, self.seed, read, lambda records: sorted(label_counts(records)))
        if len(self.labels) > MAX_LABELS:
            source = "data.labels" if data["labels"] else data["train"]
            raise DataError(f"{source}: {len(self.labels):,} distinct labels; textrecipes classifies at most "
                            f"{MAX_LABELS:,} (tasks.classification.MAX_LABELS): merge rare labels or filter the file")
        self.kind = infer_task(cfg["model"]["task"], self.labels, data["multi_label"], data["train"])
        return splits

    # 2. What the training split teaches: vocabulary, vectorizer, targets, class weights, vectors.
    def prepare(self, splits) -> None:
        tok_cfg, model_cfg = self.cfg["tokenize"], self.cfg["model"]
        log.info(f"task: {self.kind}; {len(splits.train)} train / {len(splits.validation)} validation / "
                 f"{len(splits.test)} test")
        log.info(format_label_counts(label_counts(splits.train)))
        self.texts = {name: presegment([r.text for r in getattr(splits, name)], tok_cfg["split"]) for name in SPLIT_NAMES}
        train_tokens = tokenize(self.texts["train"], split="word" if tok_cfg["split"] == "jieba" else tok_cfg["split"],
                                lowercase=tok_cfg["lowercase"])
        self.vocab = self.vocabulary(train_tokens)
        self.vectorizer = TextVectorizer(self.vocab.tokens, split=tok_cfg["split"], lowercase=tok_cfg["lowercase"],
                                         max_length=tok_cfg["max_length"], name="vectorizer")
        lengths = np.array([len(t) for t in train_tokens])
        log.info(f"vocabulary: {len(self.vocab)} ids; train texts: median {np.median(lengths):.0f} tokens, "
                 f"{(lengths > tok_cfg['max_length']).mean():.1%} longer than max_length={tok_cfg['max_length']}")
        self.targets = {name: encode_labels([r.label for r in getattr(splits, name)], self.labels, self.kind)
                        for name in SPLIT_NAMES}
        if model_cfg["vectors"]:
            self.vectors_matrix, self.vectors_report = load_vectors(
                model_cfg["vectors"], self.vocab, dim=model_cfg["embedding_dim"],
                counts=getattr(self.vocab, "counts_", None), seed=self.seed)
            self.vectors_report["frozen"] = model_cfg["freeze_vectors"]
            log.info(format_coverage(self.vectors_report)
                     + ("; frozen" if model_cfg["freeze_vectors"] else "; fine-tuned"))
        self.prepare_class_weights()

    def prepare_class_weights(self) -> None:
        """``train.class_weight = "balanced"``: weights from the training targets, logged."""
        if self.cfg["train"]["class_weight"] != "balanced":
            return
        if self.kind == "multilabel":
            raise DataError(f"{self.cfg['data']['train']}: train.class_weight = 'balanced' is for binary and "
                            "multiclass tasks, not multilabel")
        self.class_weight = balanced_class_weights(self.targets["train"], len(self.labels))
        log.info("class weights (balanced): " + ", ".join(f"{self.labels[i]}={w}" for i, w in self.class_weight.items()))

    def vocabulary(self, train_tokens) -> Vocabulary:
        """The training split's vocabulary, or the pretrained language model's (``model.init_from``)."""
        model_cfg, tok_cfg = self.cfg["model"], self.cfg["tokenize"]
        if not model_cfg["init_from"]:
            return Vocabulary.build(train_tokens, max_tokens=tok_cfg["max_tokens"], min_freq=tok_cfg["min_freq"])

        self.lm, vocab, lm_meta = load_language_model(model_cfg["init_from"])
        check_lm_compatible(lm_meta, self.cfg, model_cfg["init_from"])
        log.info(f"vocabulary from the language model in {model_cfg['init_from']} "
                 f"(OOV rate of the training split: {vocab.oov_rate(train_tokens):.1%})")
        return vocab

    # 3. Batches.
    def datasets(self, splits, batch_size: int) -> tuple:
        augment, self.batch_size = self.cfg["augment"], batch_size
        self.augmenter, self.epoch_variable = build_augmenter(augment, self.seed)
        train_ds = make_dataset(self.texts["train"], self.targets["train"], self.vectorizer, batch_size=batch_size,
                                shuffle=True, seed=self.seed, bucket=self.cfg["train"]["bucket"],
                                augmenter=self.augmenter, epoch_variable=self.epoch_variable,
                                augment_probability=augment["probability"])
        if self.augmenter is not None:
            log.info(f"augmentation on the fly: {self.augmenter.operations} from {augment['source']}, "
                     f"probability {augment['probability']} per example and epoch")
        eval_ds = {name: make_dataset(self.texts[name], self.targets[name], self.vectorizer,
                                      batch_size=max(batch_size, 256))
                   for name in ("validation", "test") if len(self.texts[name])}
        return train_ds, eval_ds

    # 4. The model.
    def build(self, *, initial: bool = True) -> keras.Model:
        model_cfg = self.cfg["model"]
        options = builder_options(model_cfg["name"], model_cfg)
        model = BUILDERS[model_cfg["name"]](len(self.vocab), len(self.labels), task=self.kind, seed=self.seed, **options)
        core = single_model(model)  # auto: its LSTM member takes the vectors and the language model's weights
        if not initial:  # a copy that receives trained weights: only which layers train matters
            if self.vectors_matrix is not None:
                core.get_layer("embedding").trainable = not model_cfg["freeze_vectors"]
            return model
        defaults = default_recipe()["model"]
        unused = [f"model.{k}" for k, v in model_cfg.items()
                  if k not in options and k not in RUNNER_MODEL_KEYS and k in defaults and v != defaults[k]]
        if unused:
            log.info(f"note: the {model_cfg['name']} recipe does not use {', '.join(unused)}")
        if self.vectors_matrix is not None:
            apply_vectors(core, self.vectors_matrix, freeze=model_cfg["freeze_vectors"])
        if self.lm is not None:

            copied = init_from_lm(core, self.lm, layers=model_cfg["init_from_layers"])
            log.info(f"weights from the language model: {', '.join(copied)}")
        if self.cfg["train"]["unfreeze"] == "gradual":
            transfer.apply_freeze(model, "gradual")
        return self.with_pruning(model)

    def with_pruning(self, model) -> keras.Model:
        """``[prune]`` enabled: the model with its pruning masks (they train with it; `after_fit` takes them off)."""
        if not self.cfg["prune"]["enabled"]:
            return model
        return prune_for_recipe(model, self.cfg["prune"], -(-len(self.texts["train"]) // self.batch_size))

    def compile_options(self) -> dict:
        return {"loss": loss_for(self.kind, self.cfg["train"]["label_smoothing"]),
                "metrics": accuracy_metrics(self.kind)}

    def layer_rates(self, model) -> dict:
        return transfer.group_rates(model, self.cfg["train"]["layer_lr_decay"])

    def structured(self) -> bool:
        """``prune.structured``: whole rows and units pruned, the compact model evaluated and exported."""
        return bool(self.cfg["prune"]["enabled"] and self.cfg["prune"]["structured"])

    def adapt(self, model, splits) -> None:
        if self.structured():  # the rows no training text reads go first (as they are, unaugmented)
            prune_unread_rows(model, make_dataset(self.texts["train"], self.targets["train"], self.vectorizer,
                                                  batch_size=256))
        if is_auto(model):  # the linear member trains first, with its own optimizer, then is frozen
            self.auto = {"linear_fit": fit_linear_member(model, self)}
            return
        if not tfidf_layers(model):  # only the linear model holds statistics of the training split
            return
        # The unaugmented training ids: the idf is scikit-learn's, counted on the training texts as they are.
        train_ids = make_dataset(self.texts["train"], self.targets["train"], self.vectorizer, batch_size=256)
        fitted = adapt_model(model, train_ids)
        log.info(f"{', '.join(fitted)}: idf fitted on {len(self.texts['train'])} training texts")
        self.linear_fit = self.solve_linear(model)

    def solve_linear(self, model) -> dict | None:
        """``model.solver = "lbfgs"``: the linear model's weights by `fit_linear_lbfgs` (then no ``fit``), else None.

        Why: ``model.fit`` stops short of the convex optimum (Rotten Tomatoes: a tuned
        SGD recipe 0.7531, lbfgs 0.7563; see `fit_linear_lbfgs`). lbfgs is refused
        where the weights must come from ``fit``: what the log line names.
        """
        if self.cfg["model"]["name"] != "linear" or self.cfg["model"]["solver"] != "lbfgs":
            return None
        # What needs one model for auto (pruning, multi-worker) needs fit here too, as do augmented texts.
        reasons = [*self.single_model_reasons(self.cfg),
                   ("augment.enabled", self.augmenter is not None, "augmented texts arrive epoch by epoch")]
        refused = [f"{key} ({what})" for key, holds, what in reasons if holds]
        refused += [refusal] if (refusal := lbfgs_refusal(model, self)) else []
        record = None if refused else fit_linear_lbfgs(model, self, max_nonzeros=LBFGS_MAX_NONZEROS,
                                                       who="linear model")
        if record is None:
            why = ", ".join(refused) or f"over {LBFGS_MAX_NONZEROS:,} TF-IDF entries"
            log.info(f"model.solver lbfgs: {why}; the linear model trains with model.fit instead")
            return {"solver": "fit", "why_not_lbfgs": why}
        return record

    def fit_options(self, model) -> dict:
        extra = []
        if self.augmenter is not None:

            extra.append(AugmentEpochCallback(self.epoch_variable))
        if self.cfg["prune"]["enabled"]:
            extra.append(MagnitudePruning())
        return {"extra_callbacks": extra, "class_weight": self.class_weight,
                "gradual": self.cfg["train"]["unfreeze"] == "gradual",
                # The weights are the solver's optimum already: the harness evaluates them, no epochs.
                "fitted": bool(self.linear_fit and self.linear_fit["solver"] == "lbfgs")}

    def after_fit(self, model) -> keras.Model:
        if self.auto is not None:  # the blend's weight, chosen on validation once the LSTM member is trained
            self.auto.update(choose_weight(model, self))
        return finish_pruning(model)  # without masks: unchanged

    def final_model(self, model) -> keras.Model:
        if not self.structured():
            return model
        texts = next(self.texts[name] for name in ("test", "validation", "train") if len(self.texts[name]))
        compact, self.compaction = compact_for_recipe(model, texts[:512], self.end_to_end)
        return compact

    # 5. Evaluation.
    def evaluate(self, model, eval_ds: Mapping, splits) -> tuple[dict, dict]:
        reports, probabilities = {}, {}
        for name, ds in eval_ds.items():
            probabilities[name] = probabilities_per_label(model.predict(ds, verbose=0), self.kind)
            reports[name] = evaluate_predictions(self.targets[name], probabilities[name], self.labels, self.kind)
        if self.auto is not None:
            members = member_reports(model, self, eval_ds)
            self.auto["grid_by_split"] = members.pop("grid_by_split")
            self.auto["members"] = members
            log_choice(self.auto)
        self.baseline = self.fit_baseline()
        predictions = {}
        if "validation" in probabilities:  # the report's most confidently wrong examples
            predictions["validation"] = (self.shown(splits.validation), self.targets["validation"],
                                         probabilities["validation"])
        return reports, predictions

    def fit_baseline(self) -> dict | None:
        """``evaluate.baseline``: scikit-learn's TF-IDF + LR on the same training split and tokens (`fit_baseline`)."""
        evaluate = self.cfg["evaluate"]
        if not (evaluate["baseline"] and self.has_baseline):
            return None
        tok = self.cfg["tokenize"]

        def tokenizer(texts):  # the run's tokens: jieba texts are already segmented by spaces
            return tokenize(texts, split="word" if tok["split"] == "jieba" else tok["split"], lowercase=tok["lowercase"])

        baseline = fit_baseline(self.texts, self.targets, self.labels, self.kind, tokenizer=tokenizer, seed=self.seed,
                                max_examples=evaluate["baseline_max_examples"])
        if baseline.get("sampled"):
            log.info(f"linear baseline: fitted on a seeded sample of {baseline['train_examples']} of the "
                     f"{baseline['train_total']} training texts (evaluate.baseline_max_examples)")
        elif "skipped" in baseline:
            log.info(f"linear baseline skipped: {baseline['skipped']}")
        return baseline

    def shown(self, records) -> list[str]:
        """How the report shows records: their texts."""
        return [r.text for r in records]

    def log_final(self, report: Mapping, split_name: str) -> None:
        log.info(format_metrics(report, split_name))
        log_comparison(report, self.baseline, split_name, self.cfg["model"]["name"])

    # 6. Exports.
    def end_to_end(self, model) -> keras.Model:
        """The model behind its vectorizer: raw strings in, probabilities out."""
        return end_to_end_model(self.vectorizer, model)

    def export(self, model, run_dir: str, splits) -> tuple:
        export_cfg, split = self.cfg["export"], self.cfg["tokenize"]["split"]
        e2e = self.end_to_end(model)
        sample = self.export_sample(splits)
        exports = {"saved_model": None, "model.tflite": None, "model.keras": None}
        if export_cfg["keras"]:
            save_keras(e2e, os.path.join(run_dir, "model.keras"))
            exports["model.keras"] = {}
        if export_cfg["saved_model"]:
            path = os.path.join(run_dir, "saved_model")
            export_saved_model(e2e, path, labels=self.labels, task=self.kind, meta=self.metadata(), overwrite=True)
            exports["saved_model"] = check_export(e2e, path, sample, self.kind, split)
            log.info(f"exported {path}; reloaded export agrees with the Keras model "
                     f"(max |diff| {exports['saved_model']['max_abs_diff']:.2e} on "
                     f"{exports['saved_model']['texts']} texts)")
        if export_cfg["tflite"]:
            exports["model.tflite"] = self.tflite_check = self.export_tflite(e2e, run_dir, sample)
        if self.cfg["prune"]["enabled"]:
            saved = os.path.join(run_dir, "saved_model") if export_cfg["saved_model"] else None
            exports["pruning"] = self.pruning = pruning_record(model, self.cfg["prune"], saved, self.compaction)
        return e2e, exports

    def export_sample(self, splits) -> list[str]:
        """The texts every export is checked on: the test split's, else validation's, else train's."""
        return [r.text for r in (splits.test or splits.validation or splits.train)]

    def export_tflite(self, e2e, run_dir: str, sample: list) -> dict:
        """``model.tflite`` (token ids in; `textrecipes.export.tflite`), checked against the Keras model."""

        path = os.path.join(run_dir, "model.tflite")
        quantize = self.cfg["export"]["tflite_quantize"]
        size = export_tflite(e2e, path, quantize=quantize, overwrite=True)
        # The check gets the labels and tokenizer settings directly: model_card.json is
        # written once, when the checks it records are known.
        check = {"quantize": quantize, "bytes": size,
                 **check_export(e2e, path, sample, self.kind, self.cfg["tokenize"]["split"], limit=256,
                                tolerance=TFLITE_TOLERANCE[quantize], meta=self.metadata())}
        log.info(f"exported {path} ({quantize}, {size:,} bytes); labels agree with the Keras model "
                 f"(max |diff| {check['max_abs_diff']:.2e} on {check['texts']} texts)")
        return check

    def metadata(self) -> dict:
        meta = export_meta(self.cfg, self.labels, self.kind, self.vocab)
        return {**meta, "auto": self.auto} if self.auto is not None else meta

    def summary(self) -> dict:
        labels = self.labels
        return {"tflite_check": self.tflite_check, "model": self.cfg["model"]["name"],
                **({"model_note": self.lstm_alone} if self.lstm_alone else {}),
                "label_smoothing": self.cfg["train"]["label_smoothing"],
                "class_weight": None if self.class_weight is None
                else {labels[i]: w for i, w in self.class_weight.items()},
                "vectors": self.vectors_report, "pruning": self.pruning,
                **({"baseline": self.baseline} if self.baseline else {}),
                **({"auto": self.auto} if self.auto is not None else {}),
                **({"linear_fit": self.linear_fit} if self.linear_fit is not None else {})}

    def report(self, run_dir: str, predictions: Mapping, metrics: Mapping) -> None:
        for split_name in ("test", "validation"):  # many labels: the full tables as files, not in the card or log
            if write_label_tables(run_dir, metrics.get(split_name) or {}, split_name):
                break
        write_report(run_dir, predictions=predictions.get("validation"), metrics=metrics)


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
