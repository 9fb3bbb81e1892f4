"""Sequence labelling (CoNLL ``token tag``): Embedding → BiLSTM → a softmax per token.

The tagging task gives the run harness the data flow of a tagger: `read_conll`
→ a token `Vocabulary` over the training sentences and the tag set of the
training file → ``tf.data`` batches of right-padded ids, tag ids and a 0/1
weight per position (padding never counts in the loss or the metrics) → the
tagger (`textrecipes.models.tagger`) → token accuracy and macro-F1 and entity
precision/recall/F1 over IOB2 spans (`textrecipes.evaluation.tagging`) → a
SavedModel over raw sentences → the report.

The export's ``serving_default`` takes ``sentences``, a 1-D string tensor;
tokens are what `tf.strings.split` finds between whitespace (inside the serving
function, not in a Keras layer). It returns ``tags`` (``(batch, longest)``
strings, ``""`` past each sentence's end), ``lengths`` (tokens per sentence)
and ``probabilities`` (``(batch, longest, tags)``). ``tokenize.max_length`` (or
``model.rnn_length``, the smaller) only truncates training sentences; the export tags every token.
"""

from __future__ import annotations

import logging
import os
from typing import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from textrecipes.data.atomic import save_keras
from textrecipes.data.readers import read_conll
from textrecipes.data.splits import load_splits
from textrecipes.evaluation.report import write_report
from textrecipes.evaluation.tagging import evaluate_tagging
from textrecipes.export.saved_model import check_tagger_export, export_tagger
from textrecipes.models.tagger import build_tagger
from textrecipes.tasks.base import Task
from textrecipes.text.pipeline import make_tagging_dataset, token_lookup
from textrecipes.text.tokenization import Vocabulary

log = logging.getLogger("textrecipes")
SPLIT_NAMES = ("train", "validation", "test")


def predict_tags(model: keras.Model, ds: tf.data.Dataset, tag_names: Sequence[str]) -> list[list[str]]:
    """Predicted tag names per sentence of a `make_tagging_dataset` dataset (padding dropped).

    Args:
        model: the tagger.
        ds: batches of ``(ids, tags, weights)``, unshuffled.
        tag_names: the tag names.

    Returns:
        One list of tag names per sentence.

    Example:
        >>> predict_tags(model, eval_ds, ["O", "B-PER"])  # doctest: +SKIP
    """
    out = []
    for ids, _, weights in ds:
        best = np.asarray(model(ids, training=False)).argmax(-1)  # eager: batch widths differ, no retracing
        for row, n in zip(best, weights.numpy().sum(axis=1).astype(int)):
            out.append([tag_names[i] for i in row[:n]])
    return out


class TaggingTask(Task):
    """Sequence labelling for the run harness (``data.format = "conll"``).

    Args:
        cfg: the resolved recipe.

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> cfg = load_recipe({"data": {"format": "conll", "train": "data/samples/conll.txt", "header": True}})
        >>> TaggingTask(cfg).check(cfg)
        ["'data.header' does not apply to data.format = 'conll' (token<space>tag lines)"]
    """
    name = "tagging"

    def check(self, cfg: Mapping) -> list[str]:
        data = cfg["data"]
        problems = [f"'data.{key}' does not apply to data.format = 'conll' (token<space>tag lines)"
                    for key in ("text_first", "header", "multi_label") if data[key]]
        if cfg["augment"]["enabled"]:
            problems.append("'augment.enabled' does not apply to data.format = 'conll' "
                            "(EDA would break token/tag alignment)")
        if cfg["prune"]["enabled"]:
            problems.append("'prune.enabled' does not apply to data.format = 'conll' (pruning is wired into the "
                            "single-text classifier only so far)")
        return problems

    def read(self, cfg: Mapping):
        data = cfg["data"]

        def read(path, labels):
            return read_conll(path, tags=labels, on_bad_lines=data["on_bad_lines"])

        splits, self.labels = load_splits(data, cfg["seed"], read,
                                          lambda records: sorted({tag for r in records for tag in r.tags}))
        self.kind = "tagging"
        return splits

    def prepare(self, splits) -> None:
        tok_cfg = self.cfg["tokenize"]
        log.info(f"tagging: {len(self.labels)} tags {self.labels}; {len(splits.train)} train / "
                 f"{len(splits.validation)} validation / {len(splits.test)} test sentences")
        # The token vocabulary: whitespace tokens, as they will be split at serving time.
        self.lowercase = tok_cfg["lowercase"]
        self.sentences = {name: [list(r.tokens) for r in getattr(splits, name)] for name in SPLIT_NAMES}
        train_tokens = self.sentences["train"]
        if self.lowercase:
            train_tokens = [[t.decode("utf-8") for t in tf.strings.lower(s, encoding="utf-8").numpy()]
                            for s in train_tokens]
        self.vocab = Vocabulary.build(train_tokens, max_tokens=tok_cfg["max_tokens"], min_freq=tok_cfg["min_freq"])
        self.lookup = token_lookup(self.vocab.tokens)
        log.info(f"vocabulary: {len(self.vocab)} ids")
        index = {t: i for i, t in enumerate(self.labels)}
        self.tag_ids = {name: [[index[t] for t in r.tags] for r in getattr(splits, name)] for name in SPLIT_NAMES}

    def datasets(self, splits, batch_size: int) -> tuple:
        tok_cfg = self.cfg["tokenize"]
        # The tagger is an RNN alone: it trains on at most model.rnn_length tokens.
        max_length = min(tok_cfg["max_length"], self.cfg["model"]["rnn_length"] or tok_cfg["max_length"])
        train_ds = make_tagging_dataset(self.sentences["train"], self.tag_ids["train"], self.lookup,
                                        lowercase=self.lowercase, batch_size=batch_size, shuffle=True,
                                        seed=self.cfg["seed"], max_length=max_length)
        eval_ds = {name: make_tagging_dataset(self.sentences[name], self.tag_ids[name], self.lookup,
                                              lowercase=self.lowercase, batch_size=max(batch_size, 256))
                   for name in ("validation", "test") if self.sentences[name]}
        return train_ds, eval_ds

    def build(self, *, initial: bool = True) -> keras.Model:
        options = {k: v for k, v in self.cfg["model"].items() if k not in ("name", "task")}
        return build_tagger(len(self.vocab), len(self.labels), seed=self.cfg["seed"], **options)

    def compile_options(self) -> dict:
        # Padding never counts: the datasets carry a 0/1 weight per position.
        return {"loss": "sparse_categorical_crossentropy",
                "weighted_metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}

    def evaluate(self, model, eval_ds: Mapping, splits) -> tuple[dict, dict]:
        reports = {}
        for name, ds in eval_ds.items():
            gold = [list(r.tags) for r in getattr(splits, name)]
            reports[name] = evaluate_tagging(gold, predict_tags(model, ds, self.labels), self.labels)
        return reports, {}

    def log_final(self, report: Mapping, split_name: str) -> None:
        entity = report["entity"]
        log.info(f"{split_name}: token accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}, "
                 f"entity F1 {entity['f1']:.4f} (P {entity['precision']:.4f}, R {entity['recall']:.4f})")

    def export(self, model, run_dir: str, splits) -> tuple:
        exports = {"saved_model": None, "model.keras": None}
        if self.cfg["export"]["keras"]:
            save_keras(model, os.path.join(run_dir, "model.keras"))
            exports["model.keras"] = {}
        if self.cfg["export"]["saved_model"]:
            path = os.path.join(run_dir, "saved_model")
            export_tagger(model, path, vocabulary=self.vocab.tokens, tags=self.labels, lowercase=self.lowercase,
                          meta=self.metadata(), overwrite=True)
            sample = self.sentences["test"] or self.sentences["validation"] or self.sentences["train"]
            exports["saved_model"] = check = check_tagger_export(model, path, sample, self.vocab, self.lowercase,
                                                                 limit=128)
            log.info(f"exported {path}; reloaded export agrees with the Keras model "
                     f"(max |diff| {check['max_abs_diff']:.2e} on {check['sentences']} sentences)")
        return model, exports

    def metadata(self) -> dict:
        return {"format": "conll", "labels": self.labels, "task": "tagging", "lowercase": self.lowercase,
                "vocabulary_size": len(self.vocab), "recipe": self.cfg["name"], "tokens": "whitespace"}

    def summary(self) -> dict:
        return {"format": "conll"}

    def report(self, run_dir: str, predictions: Mapping, metrics: Mapping) -> None:
        write_report(run_dir, metrics=metrics)
