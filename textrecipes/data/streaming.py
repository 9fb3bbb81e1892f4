"""Training files larger than memory: a streaming vocabulary pass and a streaming `tf.data` pipeline.

`textrecipes.data.readers.read_classification` reads a whole file into records,
validates every line up front and reports ``file:line`` errors. That is the
right default, and it needs the file in memory. For a TSV that does not fit,
this module reads ``label<TAB>text`` lines with `tf.data.TextLineDataset`:

- `build_vocabulary_streaming` makes one pass over the file, tokenizing in
  batches with the same tokenizer as the model (`tokenize_tf`), and counts
  tokens in a counter whose size is capped: when it grows past
  ``max_counter_size``, the rarest entries are pruned. The counts of frequent
  tokens (those that end up in a vocabulary of a few tens of thousands) are
  exact or very nearly so; rare tokens may be undercounted or dropped, so the
  tail of the vocabulary and ``min_freq`` are approximate when pruning happened
  (`StreamStats.pruned` says whether it did).
- `stream_dataset` parses, validates, vectorizes and batches lines in
  TensorFlow ops, with a bounded shuffle buffer.

The recipe runner streams through `textrecipes.data.stream_splits` instead
(``data.streaming``: an eager counting pass with the readers' accounting, hash
splits, worker shares); this module is the lower-level, lazily validated pipeline.

Validation is lazy: a bad line (wrong column count, empty label or text, a label
outside the label set) is found when the stream reaches it, not before training
starts. It is skipped and counted (``StreamStats.bad_lines``, read after an
epoch), or, with ``on_bad_lines="error"``, stops the epoch with an error naming
the line number.

Example:
    >>> vocab, stats = build_vocabulary_streaming("big.tsv", max_tokens=20000)  # doctest: +SKIP
    >>> vectorizer = TextVectorizer(vocab.tokens, max_length=256)  # doctest: +SKIP
    >>> ds, stats = stream_dataset("big.tsv", vectorizer, ["neg", "pos"], "binary")  # doctest: +SKIP
    >>> model.fit(ds, epochs=1)  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from textrecipes.text.tokenization import TextVectorizer, Vocabulary, tokenize_tf

__all__ = ["StreamStats", "build_vocabulary_streaming", "stream_dataset"]


@dataclasses.dataclass
class StreamStats:
    """What a streaming pass saw.

    ``lines`` and ``bad_lines`` are plain ints after `build_vocabulary_streaming`;
    for `stream_dataset` they are `tf.Variable` counters that grow as the
    dataset is iterated (``int(stats.bad_lines)`` after an epoch; they count
    every epoch iterated so far).

    Args:
        lines: lines read. Default 0.
        bad_lines: bad lines skipped. Default 0.
        pruned: whether the token counter was pruned (rare tokens' counts are
            then approximate). Default False.
        max_counter_entries: the peak number of entries in the token counter.
            Default 0.

    Example:
        >>> StreamStats(lines=3, bad_lines=1).good_lines
        2
    """
    lines: object = 0
    bad_lines: object = 0
    pruned: bool = False
    max_counter_entries: int = 0

    @property
    def good_lines(self) -> int:
        return int(self.lines) - int(self.bad_lines)


def _lines(path, header: bool) -> tf.data.Dataset:
    data = tf.data.TextLineDataset(str(path)).enumerate(start=1)  # (line number, line)
    return data.skip(1) if header else data


def _label_table(names: Sequence[str]) -> tf.lookup.StaticHashTable:
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(names)), tf.range(len(names), dtype=tf.int64)),
        default_value=-1)


def _parse(lines: tf.Tensor, label_table: tf.lookup.StaticHashTable | None, text_first: bool):
    """A batch of raw lines → (texts, label ids or -1, good mask)."""
    lines = tf.strings.regex_replace(lines, "\r$", "")
    lines = tf.strings.regex_replace(lines, "^\ufeff", "")  # a BOM (RE2 matches UTF-8 text, so the character, not its bytes)
    parts = tf.strings.split(lines, "\t")
    columns = parts.row_lengths()
    padded = parts.to_tensor("", shape=[None, 2])  # rows with one column get an empty second
    labels, texts = (padded[:, 1], padded[:, 0]) if text_first else (padded[:, 0], padded[:, 1])
    labels = tf.strings.strip(labels)
    good = tf.logical_and(tf.equal(columns, 2), tf.strings.length(labels) > 0)
    good = tf.logical_and(good, tf.strings.length(tf.strings.strip(texts)) > 0)
    if label_table is None:
        ids = tf.zeros_like(columns, dtype=tf.int64)
    else:
        ids = label_table.lookup(labels)
        good = tf.logical_and(good, ids >= 0)
    return texts, ids, good


def build_vocabulary_streaming(
    path,
    *,
    split: str = "word",
    lowercase: bool = True,
    max_tokens: int | None = 20000,
    min_freq: int = 1,
    labels: Sequence[str] | None = None,
    text_first: bool = False,
    header: bool = False,
    batch_size: int = 4096,
    max_counter_size: int = 1_000_000,
) -> tuple[Vocabulary, StreamStats]:
    """Builds a `Vocabulary` from a ``label<TAB>text`` file in one streaming pass.

    Memory is bounded by the batch and by the counter: it never holds more than
    ``max_counter_size`` distinct tokens plus those of one batch; whenever it
    holds more than ``max_counter_size``, entries are dropped from the rarest up
    until it holds at most half (``stats.max_counter_entries`` is the peak). Frequent tokens keep
    exact or nearly exact counts; the counts of rare tokens, and so the tail of
    the vocabulary and ``min_freq``, are approximate once pruning happened.
    Without pruning the result equals `Vocabulary.build` over the same texts.
    Bad lines (see `stream_dataset`) are skipped and counted.

    Args:
        path: the TSV file.
        split: "word" (default) or "char" (the same rules as `tokenize_tf`;
            "jieba" expects space-segmented text).
        lowercase: Default True.
        max_tokens: vocabulary size with the 2 reserved ids. Default 20000.
        min_freq: drop rarer tokens. Default 1.
        labels: the label set; lines with another label are bad lines and not
            counted. Default None (any non-empty label).
        text_first: the columns are ``text<TAB>label``. Default False.
        header: skip the first line. Default False.
        batch_size: lines tokenized per TensorFlow call. Default 4096.
        max_counter_size: most distinct tokens held while counting. Default 1,000,000.

    Returns:
        ``(vocabulary, stats)``; ``vocabulary.counts_`` holds the counts kept.

    Example:
        >>> vocab, stats = build_vocabulary_streaming("data/samples/label_text.tsv", max_tokens=50)  # doctest: +SKIP
    """
    if max_counter_size < 2:
        raise ValueError(f"max_counter_size must be at least 2, got {max_counter_size}")

    table = _label_table(labels) if labels else None

    @tf.function
    def count(lines):
        texts, _, good = _parse(lines, table, text_first)
        tokens = tokenize_tf(tf.boolean_mask(texts, good), split=split, lowercase=lowercase).flat_values
        unique, _, counts = tf.unique_with_counts(tokens)
        return unique, counts, tf.size(lines), tf.reduce_sum(tf.cast(tf.logical_not(good), tf.int32))

    counts: collections.Counter = collections.Counter()
    stats = StreamStats()
    floor = 0  # counts at or below this were pruned at least once
    data = _lines(path, header).map(lambda n, line: line).batch(batch_size).prefetch(2)
    for lines in data:
        unique, freq, n, bad = count(lines)
        stats.lines += int(n)
        stats.bad_lines += int(bad)
        counts.update(dict(zip((t.decode("utf-8", "replace") for t in unique.numpy()), freq.numpy().tolist())))
        stats.max_counter_entries = max(stats.max_counter_entries, len(counts))
        if len(counts) > max_counter_size:
            stats.pruned = True
            values = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))
            # The smallest threshold that leaves at most half the cap.
            threshold = max(floor + 1, int(np.sort(values)[::-1][max_counter_size // 2]))
            for token in [t for t, c in counts.items() if c <= threshold]:
                del counts[token]
            floor = threshold
    return Vocabulary.from_counts(counts, max_tokens=max_tokens, min_freq=min_freq), stats


def stream_dataset(
    path,
    vectorizer: TextVectorizer,
    label_names: Sequence[str],
    task: str = "binary",
    *,
    batch_size: int = 32,
    shuffle_buffer: int = 10_000,
    seed: int = 0,
    text_first: bool = False,
    header: bool = False,
    on_bad_lines: str = "skip",
) -> tuple[tf.data.Dataset, StreamStats]:
    """Streams ``label<TAB>text`` lines from a file as ``(ids, targets)`` batches for `fit`.

    Lines are shuffled in a buffer of ``shuffle_buffer`` lines (reshuffled each
    epoch, seeded), batched, then parsed, validated and vectorized in TensorFlow
    ops, so memory does not grow with the file. A batch holding bad lines comes
    out smaller; a batch of nothing but bad lines is dropped. Targets match
    `textrecipes.text.pipeline.encode_labels` (binary: float ``(batch, 1)``;
    multiclass: int ``(batch,)``). The number of steps per epoch is unknown
    in advance; Keras learns it during the first epoch.

    Args:
        path: the TSV file.
        vectorizer: the `TextVectorizer` (its vocabulary from
            `build_vocabulary_streaming`).
        label_names: the label set; a line with another label is a bad line.
        task: "binary" (default) or "multiclass".
        batch_size: lines per batch before bad ones are dropped. Default 32.
        shuffle_buffer: lines held for shuffling; 0 keeps the file order. Default 10,000.
        seed: shuffle seed. Default 0.
        text_first: the columns are ``text<TAB>label``. Default False.
        header: skip the first line. Default False.
        on_bad_lines: "skip" (default) counts them in ``stats.bad_lines``;
            "error" raises `tf.errors.InvalidArgumentError` naming the first bad
            line of the batch, when the stream reaches it.

    Returns:
        ``(dataset, stats)``; ``stats.lines`` and ``stats.bad_lines`` are
        `tf.Variable` counters updated as the dataset is iterated.

    Example:
        >>> ds, stats = stream_dataset("data/samples/label_text.tsv", vectorizer, ["neg", "pos"])  # doctest: +SKIP
    """
    if task not in ("binary", "multiclass"):
        raise ValueError(f"stream_dataset supports the binary and multiclass tasks, got {task!r}")
    if task == "binary" and len(label_names) != 2:
        raise ValueError(f"task 'binary' needs exactly 2 labels, got {list(label_names)}")
    if on_bad_lines not in ("skip", "error"):
        raise ValueError(f"on_bad_lines must be 'skip' or 'error', got {on_bad_lines!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    table = _label_table(label_names)
    stats = StreamStats(lines=tf.Variable(0, dtype=tf.int64, trainable=False),
                        bad_lines=tf.Variable(0, dtype=tf.int64, trainable=False))
    source = str(path)

    def parse(numbers, lines):
        texts, ids, good = _parse(lines, table, text_first)
        bad = tf.reduce_sum(tf.cast(tf.logical_not(good), tf.int64))
        counted = [stats.lines.assign_add(tf.size(lines, out_type=tf.int64)), stats.bad_lines.assign_add(bad)]
        if on_bad_lines == "error":
            first = tf.reduce_min(tf.concat([tf.boolean_mask(numbers, tf.logical_not(good)), [tf.int64.max]], 0))
            counted.append(tf.debugging.Assert(tf.equal(bad, 0), [
                f"{source}: bad line (wrong column count, empty label or text, or unknown label) at line", first]))
        with tf.control_dependencies(counted):
            texts = tf.boolean_mask(texts, good)
            ids = tf.boolean_mask(ids, good)
        targets = tf.cast(ids, tf.float32)[:, None] if task == "binary" else tf.cast(ids, tf.int32)
        return vectorizer(texts), targets

    data = _lines(path, header)
    if shuffle_buffer:
        data = data.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    data = data.filter(lambda x, y: tf.shape(y)[0] > 0)
    return data.prefetch(tf.data.AUTOTUNE), stats
