"""Text pairs: ``text_a<TAB>text_b<TAB>label`` → a shared encoder → a classifier head.

The pairs task gives the run harness the data flow of a pair run: `read_pairs`
(the label last) → one vocabulary over both columns → one `TextVectorizer`
for both texts in ``tf.data`` (with match features, their `TokenKeys` too) →
the pair model of `textrecipes.models.pairs` (one encoder for both texts, the
head on ``[u, v, |u − v|, u * v]``) → the classifier's loss, metrics and
evaluation → a SavedModel whose ``serving_default`` takes two raw-string
inputs, ``text_a`` and ``text_b`` → the report, each example shown as
``text_a ‖ text_b``.
"""

from __future__ import annotations

import os
from typing import Mapping

from textrecipes.data.atomic import save_keras
from textrecipes.data.readers import read_pairs
from textrecipes.data.splits import label_counts, load_splits
from textrecipes.evaluation.report import pair_texts
from textrecipes.export.saved_model import check_pair_export, export_pair_model
from textrecipes.models.pairs import PAIR_INPUTS, TokenKeys, build_pair_classifier, end_to_end_pair_model
from textrecipes.recipe.loading import default_recipe
from textrecipes.tasks.classification import SPLIT_NAMES, ClassificationTask, infer_task, log
from textrecipes.text.pipeline import encode_labels, make_pair_dataset
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, presegment, tokenize

# Recipe keys a pair run cannot honour, and why.
NOT_FOR_PAIRS = {
    ("data", "text_first"): "the label is always the last column",
    ("data", "multi_label"): "one label per pair",
    ("augment", "enabled"): "EDA on pairs is not supported yet",
    ("model", "vectors"): "pretrained vectors are for the single-text classifiers",
    ("model", "init_from"): "a language model starts the single-text classifiers only",
    ("train", "unfreeze"): "gradual unfreezing is for fine-tuning single-text classifiers",
    ("prune", "enabled"): "pruning is wired into the single-text classifier only so far",
}


class PairsTask(ClassificationTask):
    """Classification of text pairs for the run harness (``data.format = "pairs"``).

    Shares the classifier's loss, metrics, class weights and evaluation; reads
    pairs, builds one vocabulary over both texts and exports over two inputs.

    Args:
        cfg: the resolved recipe.

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> cfg = load_recipe({"data": {"format": "pairs", "train": "data/samples/question_answer.tsv",
        ...                             "text_first": True}})
        >>> PairsTask(cfg).check(cfg)
        ["'data.text_first' does not apply to data.format = 'pairs' (the label is always the last column)"]
    """
    name = "pairs"
    has_baseline = False  # the linear baseline reads single texts

    def check(self, cfg: Mapping) -> list[str]:
        defaults = default_recipe()
        return [f"'{section}.{key}' does not apply to data.format = 'pairs' ({why})"
                for (section, key), why in NOT_FOR_PAIRS.items()
                if cfg[section][key] != defaults[section][key] and cfg[section][key] not in ("", False, "none")]

    def read(self, cfg: Mapping):
        data = cfg["data"]

        def read(path, labels):
            return read_pairs(path, labels=labels, header=data["header"], labeled=True, on_bad_lines=data["on_bad_lines"])

        splits, self.labels = load_splits(data, self.seed, read, lambda records: sorted(label_counts(records)))
        self.kind = infer_task(cfg["model"]["task"], self.labels, False, data["train"])
        return splits

    def prepare(self, splits) -> None:
        tok_cfg = self.cfg["tokenize"]
        log.info(f"pairs, task: {self.kind}; {len(splits.train)} train / {len(splits.validation)} validation / "
                 f"{len(splits.test)} test")
        split = tok_cfg["split"]
        self.texts = {name: (presegment([r.first for r in getattr(splits, name)], split),
                             presegment([r.second for r in getattr(splits, name)], split))
                      for name in SPLIT_NAMES}
        tokens = tokenize(self.texts["train"][0] + self.texts["train"][1],
                          split="word" if split == "jieba" else split, lowercase=tok_cfg["lowercase"])
        self.vocab = Vocabulary.build(tokens, max_tokens=tok_cfg["max_tokens"], min_freq=tok_cfg["min_freq"])
        # The pair encoder is an RNN alone: it reads at most model.rnn_length tokens of each text.
        self.max_length = min(tok_cfg["max_length"], self.cfg["model"]["rnn_length"] or tok_cfg["max_length"])
        self.vectorizer = TextVectorizer(self.vocab.tokens, split=split, lowercase=tok_cfg["lowercase"],
                                         max_length=self.max_length, name="vectorizer")
        log.info(f"vocabulary: {len(self.vocab)} ids over both texts")
        self.targets = {name: encode_labels([r.label for r in getattr(splits, name)], self.labels, self.kind)
                        for name in SPLIT_NAMES}
        self.prepare_class_weights()

    def datasets(self, splits, batch_size: int) -> tuple:
        keys = (TokenKeys.like(self.vectorizer, name="token_keys")
                if self.cfg["model"]["match_features"] != "none" else None)
        train_ds = make_pair_dataset(*self.texts["train"], self.targets["train"], self.vectorizer,
                                     batch_size=batch_size, shuffle=True, seed=self.seed, keys=keys)
        eval_ds = {name: make_pair_dataset(*self.texts[name], self.targets[name], self.vectorizer,
                                           batch_size=max(batch_size, 256), keys=keys)
                   for name in ("validation", "test") if len(self.texts[name][0])}
        return train_ds, eval_ds

    def build(self, *, initial: bool = True):
        options = {k: v for k, v in self.cfg["model"].items() if k not in ("name", "task")}
        return build_pair_classifier(len(self.vocab), len(self.labels), task=self.kind, seed=self.seed, **options)

    def layer_rates(self, model) -> dict:
        return {}

    def fit_options(self, model) -> dict:
        return {"class_weight": self.class_weight}

    def shown(self, records) -> list[str]:
        return pair_texts([(r.first, r.second) for r in records])

    def export(self, model, run_dir: str, splits) -> tuple:
        e2e = end_to_end_pair_model(self.vectorizer, model)
        exports = {"saved_model": None, "model.keras": None}
        if self.cfg["export"]["keras"]:
            save_keras(e2e, os.path.join(run_dir, "model.keras"))
            exports["model.keras"] = {}
        if self.cfg["export"]["saved_model"]:
            path = os.path.join(run_dir, "saved_model")
            export_pair_model(e2e, path, labels=self.labels, task=self.kind, meta=self.metadata(), overwrite=True)
            sample = [(r.first, r.second) for r in (splits.test or splits.validation or splits.train)]
            exports["saved_model"] = check = check_pair_export(e2e, path, sample, self.kind)
            log.info(f"exported {path}; reloaded export agrees with the Keras model "
                     f"(max |diff| {check['max_abs_diff']:.2e} on {check['pairs']} pairs)")
        return e2e, exports

    def metadata(self) -> dict:
        tok_cfg = self.cfg["tokenize"]
        return {"format": "pairs", "labels": self.labels, "task": self.kind, "split": tok_cfg["split"],
                "lowercase": tok_cfg["lowercase"], "max_length": self.max_length, "vocabulary_size": len(self.vocab),
                "recipe": self.cfg["name"], "inputs": list(PAIR_INPUTS)}

    def summary(self) -> dict:
        return {"format": "pairs"}
