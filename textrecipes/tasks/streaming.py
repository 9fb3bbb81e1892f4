"""Classification of files larger than memory (``data.streaming``): the classification task, streamed.

The same run as `textrecipes.tasks.classification.ClassificationTask` (run
folder, model, fit, backup and resume, metrics, report, exports), except for how
the data reaches the model: no record is held in Python. One counting pass
(`textrecipes.data.stream_splits.count_splits`) gives the line accounting, the
labels, the hash splits' sizes and label counts and the training split's token
counts; then every epoch streams the files again through ``tf.data``, with a
bounded shuffle buffer, length bucketing and `assert_cardinality` from the
count. Several workers each read only their share of the lines.

What needs the records in memory is refused before anything is written
(`check`): on-the-fly augmentation, multi-label files, jieba segmentation
(Python), pruning, a language model's vocabulary; ``model.name = "auto"`` trains its LSTM member alone.
The TF-IDF baseline is skipped, and the report's most confidently wrong
examples come from the first `REPORT_EXAMPLES` validation lines.
"""

from __future__ import annotations

import json
import logging
import math
import os
from typing import Mapping

import numpy as np
import tensorflow as tf

from textrecipes.data.records import DataError
from textrecipes.data.splits import format_label_counts
from textrecipes.data.stream_splits import count_splits, data_files, split_stream, use_streaming
from textrecipes.evaluation.metrics import evaluate_predictions, probabilities_per_label
from textrecipes.models.linear import adapt_model, tfidf_layers
from textrecipes.tasks.classification import MAX_LABELS, ClassificationTask, infer_task
from textrecipes.text.pipeline import bucket_batches
from textrecipes.text.tokenization import TextVectorizer, Vocabulary
from textrecipes.text.vectors import format_coverage, load_vectors

log = logging.getLogger("textrecipes")
REPORT_EXAMPLES = 20_000  # validation examples the report ranks for its most confidently wrong ones
SPLIT_NAMES = ("train", "validation", "test")


def worker_of(cfg: Mapping) -> tuple[int, int]:
    """``(workers, this worker's index)`` of a run: from ``TF_CONFIG`` under ``train.strategy = "multi_worker"``.

    Example:
        >>> worker_of({"train": {"strategy": "cpu"}})
        (1, 0)
    """
    if cfg["train"]["strategy"] != "multi_worker" or not os.environ.get("TF_CONFIG"):
        return 1, 0
    config = json.loads(os.environ["TF_CONFIG"])
    cluster, task = config.get("cluster", {}), config.get("task", {})
    order = [(kind, i) for kind in ("chief", "worker") for i in range(len(cluster.get(kind, [])))]
    return len(order), order.index((task.get("type", "worker"), int(task.get("index", 0))))


def split_files(data: Mapping) -> dict:
    """Split name → its files (`data_files` of ``data.train``, ``data.validation``, ``data.test``).

    Example:
        >>> split_files({"train": "data/samples/label_text.tsv", "validation": "", "test": []})["validation"]
        []
    """
    return {name: data_files(data[name], f"data.{name}") for name in SPLIT_NAMES}


def streams(cfg: Mapping) -> bool:
    """Whether a resolved classification recipe streams its data (``data.streaming``, `use_streaming`).

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> streams(load_recipe({"data": {"train": "data/samples/label_text.tsv"}}))
        False
    """
    try:
        splits = split_files(cfg["data"])
    except DataError:  # a glob matching nothing: the streaming task names it
        return cfg["data"]["streaming"] is not False
    return use_streaming(cfg["data"]["streaming"], splits)


class StreamSplits:
    """The splits of a streamed run: their counts and files, no records.

    Args:
        counts: the `textrecipes.data.stream_splits.StreamCounts`.
        files: split name → files (`split_files`).
        train_examples: training examples per epoch of each worker (``max_train_examples`` applied).
        workers: the workers sharing the training files. Default 1.
    """

    def __init__(self, counts, files: Mapping, train_examples: int, workers: int = 1):
        self.counts, self.files, self.train_examples, self.workers = counts, dict(files), train_examples, workers
        self.reports = counts.reports
        self.duplicates = {}  # finding duplicates needs every training input in memory: not counted

    def sizes(self) -> dict:
        """Examples of each split; train: those an epoch trains on, over every worker."""
        return {**self.counts.sizes(), "train": self.train_examples * self.workers}


class StreamingClassificationTask(ClassificationTask):
    """Text classification streamed from files (``data.streaming``); see the module docstring.

    Args:
        cfg: the resolved recipe.

    Example:
        >>> from textrecipes.recipe.loading import load_recipe
        >>> from textrecipes.run.harness import run
        >>> cfg = load_recipe({"data": {"train": "data/samples/label_text.tsv", "streaming": True}})
        >>> result = run(StreamingClassificationTask(cfg), cfg, run_dir="runs/doc", overwrite=True)  # doctest: +SKIP
    """
    has_baseline = False
    shards_input = True  # each worker reads its share of the training files itself (no DATA sharding)

    def __init__(self, cfg: Mapping):
        super().__init__(cfg)
        self.workers, self.worker = worker_of(cfg)
        self.counts = None

    def single_model_reasons(self, cfg: Mapping) -> list:
        # auto's linear member needs the training split in memory (its idf, its own fit)
        return super().single_model_reasons(cfg) + [("data.streaming", True, "a streamed training split")]

    def check(self, cfg: Mapping) -> list[str]:
        refused = [("augment.enabled", cfg["augment"]["enabled"], "on-the-fly augmentation"),
                   ("data.multi_label", cfg["data"]["multi_label"], "multi-label files"),
                   ("tokenize.split", cfg["tokenize"]["split"] == "jieba", "jieba segmentation (Python)"),
                   ("prune.enabled", cfg["prune"]["enabled"], "pruning"),
                   ("model.init_from", bool(cfg["model"]["init_from"]), "a language model's vocabulary")]
        return [f"{key}: {what} needs the records in memory; set data.streaming = false (or leave {key} unset)"
                for key, on, what in refused if on]

    def missing_inputs(self, cfg: Mapping) -> list[str]:
        problems = []
        for name in SPLIT_NAMES:
            try:
                files = data_files(cfg["data"][name], f"data.{name}")
            except DataError as e:
                problems.append(str(e))
                continue
            problems += [f"data.{name}: {path!r}: no such file" for path in files if not os.path.isfile(path)]
        return problems

    # 1. The counting pass.
    def read(self, cfg: Mapping):
        data, files = cfg["data"], split_files(cfg["data"])
        tok = cfg["tokenize"]
        log.info(f"streaming: one counting pass over {sum(map(len, files.values()))} file(s)")
        self.counts = count_splits(
            files["train"], validation_files=files["validation"], test_files=files["test"], seed=self.seed,
            validation=0.0 if files["validation"] else data["validation_split"],
            test=0.0 if files["test"] else data["test_split"], labels=data["labels"] or None,
            header=data["header"], text_first=data["text_first"], on_bad_lines=data["on_bad_lines"],
            tokenizer={"split": tok["split"], "lowercase": tok["lowercase"]}, workers=self.workers)
        self.labels = self.counts.labels
        if len(self.labels) > MAX_LABELS:
            raise DataError(f"{data['train']}: {len(self.labels):,} distinct labels; textrecipes classifies at most "
                            f"{MAX_LABELS:,} (tasks.classification.MAX_LABELS)")
        self.kind = infer_task(cfg["model"]["task"], self.labels, False, data["train"])
        # Every worker takes as many steps: each streams as many examples as the smallest share.
        examples = min(self.counts.worker_examples)
        if data["max_train_examples"]:
            examples = min(examples, -(-data["max_train_examples"] // self.workers))
        if self.workers > 1 and examples < self.counts.worker_examples[self.worker]:
            log.info(f"worker {self.worker}: {self.counts.worker_examples[self.worker] - examples} training examples "
                     f"of its share left out each epoch (every worker streams {examples}, the smallest share)")
        if not examples:
            raise DataError(f"{data['train']}: no training examples left")
        return StreamSplits(self.counts, files, examples, self.workers)

    # 2. What the training split teaches, from its counts.
    def prepare(self, splits) -> None:
        tok_cfg, model_cfg = self.cfg["tokenize"], self.cfg["model"]
        sizes = splits.sizes()
        log.info(f"task: {self.kind}; {sizes['train']} train / {sizes['validation']} validation / "
                 f"{sizes['test']} test (streamed; validation/test by a seeded hash of the line)")
        log.info(format_label_counts(self.counts.label_counts["train"]))
        if self.workers > 1:
            log.info(f"worker {self.worker} of {self.workers} reads {self.counts.worker_lines[self.worker]} lines "
                     f"({self.counts.sharding} sharding): {self.counts.worker_examples[self.worker]} training examples")
        self.vocab = Vocabulary.from_counts(self.counts.token_counts, max_tokens=tok_cfg["max_tokens"],
                                            min_freq=tok_cfg["min_freq"])
        self.vectorizer = TextVectorizer(self.vocab.tokens, split=tok_cfg["split"], lowercase=tok_cfg["lowercase"],
                                         max_length=tok_cfg["max_length"], name="vectorizer")
        log.info(f"vocabulary: {len(self.vocab)} ids, from {len(self.counts.token_counts)} distinct training tokens")
        self.texts, self.targets = {}, {}
        if model_cfg["vectors"]:
            self.vectors_matrix, self.vectors_report = load_vectors(
                model_cfg["vectors"], self.vocab, dim=model_cfg["embedding_dim"],
                counts=getattr(self.vocab, "counts_", None), seed=self.seed)
            self.vectors_report["frozen"] = model_cfg["freeze_vectors"]
            log.info(format_coverage(self.vectors_report))
        if self.cfg["train"]["class_weight"] == "balanced":  # n / (k * count), from the counted labels
            counts = self.counts.label_counts["train"]
            total = sum(counts.values())
            self.class_weight = {i: round(total / (len(counts) * counts[name]), 4) if counts[name] else 1.0
                                 for i, name in enumerate(self.labels)}
            log.info("class weights (balanced): " + ", ".join(f"{self.labels[i]}={w}"
                                                              for i, w in self.class_weight.items()))

    def examples(self, splits) -> int:
        return splits.train_examples * self.workers

    # 3. Batches.
    def stream(self, splits, name: str, **options) -> tf.data.Dataset:
        """``(text, label id)`` examples of split ``name``: this worker's share for train, all lines otherwise."""
        data, own = self.cfg["data"], bool(splits.files[name])
        files = splits.files[name] if own else splits.files["train"]
        sharing = {"workers": self.workers, "worker": self.worker} if name == "train" else {}
        ds = split_stream(files, name, self.labels, hashed=not own, seed=self.seed,
                          validation=0.0 if splits.files["validation"] else data["validation_split"],
                          test=0.0 if splits.files["test"] else data["test_split"], header=data["header"],
                          text_first=data["text_first"], **sharing, **options)
        return ds.take(splits.train_examples) if name == "train" else ds

    def targets_of(self, ids):
        return tf.cast(ids, tf.float32)[:, None] if self.kind == "binary" else tf.cast(ids, tf.int32)

    def datasets(self, splits, batch_size: int) -> tuple:
        self.batch_size = batch_size
        train = self.stream(splits, "train")
        buffer = self.cfg["data"]["shuffle_buffer"]
        if buffer:
            train = train.shuffle(buffer, seed=self.seed, reshuffle_each_iteration=True)
        examples = splits.train_examples
        # A worker's step takes batch_size / workers examples of its own stream (tf.distribute rebatches
        # each worker's elements into its replicas' parts of the global batch): its batches are that size,
        # so their number is the steps of an epoch.
        local = max(batch_size // self.workers, 1)
        if self.cfg["train"]["bucket"]:
            train = bucket_batches(train, local, examples, shuffle=True, seed=self.seed)
        else:
            train = train.batch(local).apply(tf.data.experimental.assert_cardinality(math.ceil(examples / local)))
        train = train.map(lambda x, y: (self.vectorizer(x), self.targets_of(y)),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
        if self.workers > 1:  # the files are sharded already: no auto-sharding on top
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
            train = train.with_options(options)
        eval_ds = {}
        for name in ("validation", "test"):
            size = splits.sizes()[name]
            if size:
                eval_ds[name] = self.eval_batches(self.stream(splits, name), size, max(batch_size, 256))
        return train, eval_ds

    def eval_batches(self, ds, size: int, batch_size: int) -> tf.data.Dataset:
        ds = ds.batch(batch_size).apply(tf.data.experimental.assert_cardinality(math.ceil(size / batch_size)))
        return ds.map(lambda x, y: (self.vectorizer(x), self.targets_of(y)), num_parallel_calls=tf.data.AUTOTUNE,
                      deterministic=True).prefetch(tf.data.AUTOTUNE)

    def adapt(self, model, splits) -> None:
        if not tfidf_layers(model):
            return
        ids = self.eval_batches(self.stream(splits, "train"), splits.train_examples, 256)
        fitted = adapt_model(model, ids)
        log.info(f"{', '.join(fitted)}: idf fitted on {splits.train_examples} streamed training texts")

    # 5. Evaluation, streamed: targets are collected batch by batch beside the predictions.
    def evaluate(self, model, eval_ds: Mapping, splits) -> tuple[dict, dict]:
        reports, probabilities = {}, {}
        for name, ds in eval_ds.items():
            probabilities[name] = probabilities_per_label(model.predict(ds, verbose=0), self.kind)
            self.targets[name] = np.concatenate([y.numpy() for _, y in ds])
            reports[name] = evaluate_predictions(self.targets[name], probabilities[name], self.labels, self.kind)
        if self.cfg["evaluate"]["baseline"]:
            log.info("linear baseline skipped: it fits on the training texts in memory (data.streaming)")
        predictions = {}
        if "validation" in probabilities:
            texts = [t.decode("utf-8") for t, _ in self.stream(splits, "validation").take(REPORT_EXAMPLES)
                     .as_numpy_iterator()]
            predictions["validation"] = (texts, self.targets["validation"][:len(texts)],
                                         probabilities["validation"][:len(texts)])
        return reports, predictions

    def export_sample(self, splits) -> list[str]:
        name = "test" if splits.sizes()["test"] else "validation" if splits.sizes()["validation"] else "train"
        return [t.decode("utf-8") for t, _ in self.stream(splits, name).take(512).as_numpy_iterator()]

    def summary(self) -> dict:
        counts = self.counts
        return {**super().summary(), "streaming": {
            "label_counts": {name: dict(c) for name, c in counts.label_counts.items()},
            "vocabulary_counts_pruned": counts.pruned,
            "workers": self.workers, "sharding": counts.sharding,
            "lines_read_per_worker": counts.worker_lines, "train_examples_per_worker": counts.worker_examples,
            "shuffle_buffer": self.cfg["data"]["shuffle_buffer"]}}
