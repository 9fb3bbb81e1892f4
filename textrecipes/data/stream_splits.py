"""Files larger than memory → splits: one counting pass in TensorFlow ops, then a stream per split.

The in-memory path (`textrecipes.data.readers` → `textrecipes.data.splits`) holds
every record in Python lists; measured here it holds about 15 times the file's
bytes by the time the training texts are tokenized. This module is the same
stage for files that do not fit:

- `data_files` turns ``data.train`` (a path, a glob or a list of both) into files;
- `count_splits` reads every line once with `tf.data.TextLineDataset`, in
  batches, and returns the line accounting of each file (a `ReadReport`, with
  the in-memory readers' reasons and ``file:line`` messages; in
  ``on_bad_lines="error"`` mode the same `DataError`), the label counts of each
  split, the training split's token counts for the vocabulary, and how many
  training examples and lines each worker will read;
- `split_ids` takes validation and test off the training file by a seeded
  keyed hash of the line (SipHash, `tf.strings.to_hash_bucket_strong`), so a
  line's split never depends on the order or the sharding of the files, and
  needs nothing in memory; identical lines land in the same split;
- `split_stream` streams one split's ``(text, label id)`` examples, a worker
  reading only its share: whole files when there are at least as many files
  as workers, else every N-th line, taken before anything is parsed.

Example:
    >>> files = data_files("data/samples/label_text.tsv")
    >>> counts = count_splits(files, seed=0, validation=0.1, test=0.1)
    >>> counts.reports[0].lines_read == counts.reports[0].kept + sum(counts.reports[0].skipped.values())
    True
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import os
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from textrecipes.data.readers import BAD_LINE_MODES, MAX_LINE_BYTES
from textrecipes.data.records import DataError, ReadReport
from textrecipes.text.tokenization import tokenize_tf

__all__ = ["STREAMING", "STREAMING_AUTO_BYTES", "SPLIT_IDS", "StreamCounts", "data_files", "use_streaming", "split_ids",
           "count_splits", "split_stream", "worker_share"]

# data.streaming = "auto" streams above this many bytes of data files. Measured (a 30.6 MB, 200k-line TSV):
# the in-memory path's records, texts and token lists add 473 MB of RSS, 15x the file, so 200 MB ≈ 3 GB.
STREAMING_AUTO_BYTES = 200_000_000
STREAMING = ("auto", True, False)  # data.streaming
SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}
HASH_BUCKETS = 1 << 24  # split fractions are resolved to 1/16,777,216
BATCH_LINES = 4096  # lines parsed per TensorFlow call
# The reasons of `textrecipes.data.readers`, by code; codes 1-2 carry no record by design, 3+ are bad lines.
REASONS = ("kept", "blank line", "header", "invalid UTF-8", "line too long", "wrong column count", "empty text",
           "empty label", "label not in the label set")
# Python's str.strip() whitespace (str.isspace), as an RE2 class: TensorFlow's strip is ASCII only.
_SPACE = "[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}" \
         "\\x{205f}\\x{3000}]"


def data_files(spec, key: str = "data.train") -> list[str]:
    """A data path, a glob, or a list of either → the files, each glob's matches sorted.

    Args:
        spec: ``"train.tsv"``, ``"shards/train-*.tsv"`` or a list of them.
        key: the recipe key, named in errors. Default "data.train".

    Returns:
        The file paths in order; empty for an empty ``spec``.

    Raises:
        DataError: for a glob that matches no file.

    Example:
        >>> data_files(["data/samples/label_text.tsv"])
        ['data/samples/label_text.tsv']
    """
    specs = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec or [])
    files = []
    for item in (os.fspath(s) for s in specs if s):
        if glob.has_magic(item):
            matches = sorted(p for p in glob.glob(item) if os.path.isfile(p))
            if not matches:
                raise DataError(f"{key} = {item!r}: no file matches this pattern")
            files += matches
        else:
            files.append(item)
    return files


def use_streaming(setting, splits: Mapping[str, Sequence[str]]) -> bool:
    """Resolves ``data.streaming``: True, False, or "auto" (a split given as several files, or more than `STREAMING_AUTO_BYTES`).

    A split of several files (a list or a glob) streams under "auto" because the
    in-memory reader reads one file a split; one training file with its own
    validation and test files does not.

    Args:
        setting: True, False or "auto".
        splits: split name → its files (training, validation, test).

    Example:
        >>> use_streaming("auto", {"train": ["data/samples/label_text.tsv"]}), use_streaming(True, {})
        (False, True)
    """
    if setting is True or setting is False:
        return setting
    if setting != "auto":
        raise ValueError(f"data.streaming must be 'auto', true or false, got {setting!r}")
    files = [f for group in splits.values() for f in group]
    return any(len(group) > 1 for group in splits.values()) or \
        sum(os.path.getsize(f) for f in files if os.path.isfile(f)) > STREAMING_AUTO_BYTES


def split_ids(lines: tf.Tensor, seed: int, validation: float, test: float) -> tf.Tensor:
    """The split of each line (0 train, 1 validation, 2 test) from a keyed hash of its bytes.

    Args:
        lines: a string tensor of lines (without their line break).
        seed: the hash key: another seed, other splits.
        validation: the fraction that goes to validation.
        test: the fraction that goes to test.

    Example:
        >>> split_ids(tf.constant(["a", "a", "b"]), 0, 0.5, 0.0).numpy().tolist()[:2]
        [1, 1]
    """
    buckets = tf.strings.to_hash_bucket_strong(lines, HASH_BUCKETS, key=[int(seed) % (1 << 63), 0x7e57])
    test_cut = round(test * HASH_BUCKETS)
    validation_cut = test_cut + round(validation * HASH_BUCKETS)
    return tf.where(buckets < test_cut, 2, tf.where(buckets < validation_cut, 1, 0))


def _strip(texts: tf.Tensor) -> tf.Tensor:
    return tf.strings.regex_replace(texts, f"^{_SPACE}+|{_SPACE}+$", "")


def _label_table(names: Sequence[str]) -> tf.lookup.StaticHashTable:
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(names)), tf.range(len(names), dtype=tf.int64)),
        default_value=-1)


def _parse(numbers, lines, *, header: bool, text_first: bool, max_line_bytes: int, table):
    """A batch of raw lines → (hashed line, text, label, label id, reason code, column count), as the readers judge."""
    too_long = tf.strings.length(lines) > max_line_bytes  # a BOM counts, as in the readers
    lines = tf.strings.regex_replace(lines, "^\ufeff", "")  # TextLineDataset already took "\r\n" off
    invalid = tf.not_equal(tf.strings.unicode_transcode(lines, "UTF-8", "UTF-8", errors="replace"), lines)
    parts = tf.strings.split(lines, "\t")
    columns = tf.cast(parts.row_lengths(), tf.int32)
    padded = parts.to_tensor("", shape=[None, 2])
    texts, labels = (padded[:, 0], padded[:, 1]) if text_first else (padded[:, 1], padded[:, 0])
    texts, labels = _strip(texts), _strip(labels)
    ids = table.lookup(labels) if table is not None else tf.zeros_like(numbers)
    checks = [(too_long, 4), (invalid, 3), (tf.logical_and(tf.constant(bool(header)), numbers == 1), 2),
              (tf.equal(tf.strings.length(_strip(lines)), 0), 1), (tf.not_equal(columns, 2), 5),
              (tf.equal(tf.strings.length(texts), 0), 6), (tf.equal(tf.strings.length(labels), 0), 7), (ids < 0, 8)]
    code = tf.zeros_like(columns)
    for failed, value in reversed(checks):  # the first failed check wins, in the readers' order
        code = tf.where(failed, value, code)
    return lines, texts, labels, ids, code, columns


def _message(path: str, number: int, code: int, columns: int, line: bytes, label: bytes, labels, max_line_bytes) -> str:
    """The reader's ``file:line: reason: detail`` message for a bad line."""
    detail = ""
    if code == 3:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            detail = f"invalid UTF-8 at byte {e.start}"
    elif code == 4:
        detail = f"longer than {max_line_bytes} bytes (max_line_bytes)"
    elif code == 5:
        detail = f"expected 2 tab-separated columns, found {columns}"
    elif code == 8:
        text = label.decode("utf-8", "replace")
        detail = f"{text if len(text) <= 60 else text[:60] + '…'!r} not in {sorted(labels)}"
    return f"{path}:{number}: {REASONS[code]}{': ' + detail if detail else ''}"


@dataclasses.dataclass
class StreamCounts:
    """What the counting pass found: line accounting, label counts per split, training tokens, worker shares.

    Args:
        reports: one `ReadReport` per file (training files first).
        labels: the label names (declared, else those of the training files, sorted).
        label_counts: split name → `collections.Counter` of label → examples.
        token_counts: the training split's token counts (empty unless a tokenizer was given).
        worker_examples: training examples each worker streams (one entry without workers).
        worker_lines: lines each worker reads of the training files.
        sharding: "none", "file" or "line".
        pruned: the token counter was pruned (the vocabulary's tail counts are then approximate).

    Example:
        >>> counts = count_splits(["data/samples/label_text.tsv"], seed=0, validation=0.1, test=0.1)
        >>> sum(counts.sizes().values()) == counts.reports[0].kept
        True
    """
    reports: list
    labels: list
    label_counts: dict
    token_counts: collections.Counter
    worker_examples: list
    worker_lines: list
    sharding: str = "none"
    pruned: bool = False

    def sizes(self) -> dict:
        """``{"train": n, "validation": n, "test": n}``: examples of each split."""
        return {name: sum(self.label_counts.get(name, {}).values()) for name in SPLIT_IDS}


def worker_share(files: Sequence[str], workers: int) -> str:
    """How ``workers`` split the training files: "none" (one worker), "file" (whole files each) or "line".

    Example:
        >>> worker_share(["a", "b", "c"], 2), worker_share(["a"], 2), worker_share(["a"], 1)
        ('file', 'line', 'none')
    """
    if workers <= 1:
        return "none"
    return "file" if len(files) >= workers else "line"


class _Scan:
    """The state of the counting pass across files and batches (see `count_splits`)."""

    def __init__(self, files, *, seed, validation, test, header, text_first, on_bad_lines, max_line_bytes, tokenizer,
                 workers, max_counter_size):
        if on_bad_lines not in BAD_LINE_MODES:
            raise ValueError(f"on_bad_lines must be one of {BAD_LINE_MODES}, got {on_bad_lines!r}")
        self.options = dict(header=header, text_first=text_first, max_line_bytes=max_line_bytes)
        self.seed, self.validation, self.test = seed, validation, test
        self.mode, self.tokenizer, self.workers = on_bad_lines, tokenizer, max(int(workers), 1)
        self.max_counter_size, self.floor, self.pruned = max_counter_size, 0, False
        self.reports, self.label_counts = [], {name: collections.Counter() for name in SPLIT_IDS}
        self.tokens: collections.Counter = collections.Counter()
        self.worker_examples = [0] * self.workers
        self.worker_lines = [0] * self.workers
        self.by_file = worker_share(files, self.workers) == "file"
        self.steps = {}  # one traced function per (split, label set): shards of one split share it

    def step_fn(self, split: str | None, labels):
        """The batch function of a file: ``split`` None hashes lines into splits (the training files)."""
        cache = (split, tuple(labels or ()), self.tokenizer is None)
        if cache in self.steps:
            return self.steps[cache]
        workers, table = self.workers, _label_table(labels) if labels else None

        @tf.function(reduce_retracing=True)  # the last batch of each file is shorter
        def step(numbers, lines, offset):
            hashed, texts, labels, _, code, columns = _parse(numbers, lines, table=table, **self.options)
            if split is None:
                where = tf.cast(split_ids(hashed, self.seed, self.validation, self.test), tf.int32)
            else:
                where = tf.fill(tf.shape(code), SPLIT_IDS[split])
            kept = tf.equal(code, 0)
            keys, _, key_counts = tf.unique_with_counts(
                tf.boolean_mask(tf.strings.join([tf.strings.as_string(where), labels], "\t"), kept))
            train = tf.logical_and(kept, tf.equal(where, 0))
            position = offset + numbers - 1  # the line's place in the concatenated training files
            owner = tf.cast(position % workers, tf.int32)
            per_worker = (tf.math.bincount(tf.boolean_mask(owner, train), minlength=workers, maxlength=workers),
                          tf.math.bincount(owner, minlength=workers, maxlength=workers))
            bad = code >= 3
            problems = tuple(tf.boolean_mask(t, bad) for t in (numbers, code, columns, hashed, labels))
            if self.tokenizer is None:
                unique, counts = tf.constant([], tf.string), tf.constant([], tf.int32)
            else:
                tokens = tokenize_tf(tf.boolean_mask(texts, train), **self.tokenizer).flat_values
                unique, _, counts = tf.unique_with_counts(tokens)
            reasons = tf.math.bincount(code, minlength=len(REASONS), maxlength=len(REASONS))
            return reasons, keys, key_counts, per_worker, problems, unique, counts

        self.steps[cache] = step
        return step

    def file(self, path: str, split: str | None, labels, *, offset: int = 0, file_index: int = 0,
             batch_lines: int = BATCH_LINES) -> int:
        """Counts one file; returns its lines read."""
        report = ReadReport(path)
        step = self.step_fn(split, labels)
        data = tf.data.TextLineDataset(path).enumerate(start=1).batch(batch_lines).prefetch(2)
        for numbers, lines in data:
            reasons, keys, key_counts, per_worker, problems, unique, counts = step(
                numbers, lines, tf.constant(offset, tf.int64))
            reasons = reasons.numpy().tolist()
            report.lines_read += int(numbers.shape[0])
            report.kept += reasons[0]
            for code, n in enumerate(reasons[1:], 1):
                if n:
                    report.skipped[REASONS[code]] += n
            self.bad_lines(report, problems, labels)
            for key, n in zip(keys.numpy(), key_counts.numpy().tolist()):
                where, label = key.decode("utf-8").split("\t", 1)
                self.label_counts[list(SPLIT_IDS)[int(where)]][label] += n
            if split is None:
                self.share(per_worker, file_index)
            self.count_tokens(unique, counts)
        report.check()
        self.reports.append(report)
        return report.lines_read

    def bad_lines(self, report: ReadReport, problems, labels) -> None:
        """Names the batch's bad lines: the first raises in "error" mode; up to 1,000 messages are kept."""
        numbers, codes, columns, lines, bad_labels = (t.numpy() for t in problems)
        room = 1 if self.mode == "error" else 1000 - len(report.problems)
        for i in range(min(len(numbers), max(room, 0))):
            message = _message(report.path, int(numbers[i]), int(codes[i]), int(columns[i]), lines[i],
                               bad_labels[i], labels or [], self.options["max_line_bytes"])
            if self.mode == "error":
                raise DataError(message)
            report.problems.append(message)

    def share(self, per_worker, file_index: int) -> None:
        examples, lines = (t.numpy() for t in per_worker)
        if self.by_file:
            owner = file_index % self.workers
            self.worker_examples[owner] += int(examples.sum())
            self.worker_lines[owner] += int(lines.sum())
        else:
            self.worker_examples = [a + int(b) for a, b in zip(self.worker_examples, examples)]
            self.worker_lines = [a + int(b) for a, b in zip(self.worker_lines, lines)]

    def count_tokens(self, unique, counts) -> None:
        """Adds a batch's token counts; past ``max_counter_size`` entries the rarest are pruned to half of it."""
        if not len(unique):
            return
        self.tokens.update(dict(zip((t.decode("utf-8", "replace") for t in unique.numpy()), counts.numpy().tolist())))
        if len(self.tokens) > self.max_counter_size:
            values = np.fromiter(self.tokens.values(), dtype=np.int64, count=len(self.tokens))
            threshold = max(self.floor + 1, int(np.sort(values)[::-1][self.max_counter_size // 2]))
            for token in [t for t, c in self.tokens.items() if c <= threshold]:
                del self.tokens[token]
            self.floor, self.pruned = threshold, True


def count_splits(
    train_files: Sequence[str],
    *,
    validation_files: Sequence[str] = (),
    test_files: Sequence[str] = (),
    seed: int = 0,
    validation: float = 0.1,
    test: float = 0.1,
    labels: Sequence[str] | None = None,
    header: bool = False,
    text_first: bool = False,
    on_bad_lines: str = "error",
    max_line_bytes: int = MAX_LINE_BYTES,
    tokenizer: dict | None = None,
    workers: int = 1,
    max_counter_size: int = 1_000_000,
    batch_lines: int = BATCH_LINES,
) -> StreamCounts:
    """Reads every line of a classification run's files once, in TensorFlow ops, and counts what a run needs.

    The training files are hashed into train/validation/test (`split_ids`; give
    ``validation=0`` / ``test=0`` when those come from their own files). Each
    line is judged as `textrecipes.data.readers.read_classification` judges it,
    with the same reasons and ``file:line`` messages; U+FEFF starting a line is
    dropped, "\\r\\n" and "\\n" end lines (`tf.data.TextLineDataset`).

    Args:
        train_files: the training files.
        validation_files: validation files, their labels checked against the training ones. Default ().
        test_files: test files, likewise. Default ().
        seed: the split hash's key. Default 0.
        validation: fraction of the training lines hashed to validation. Default 0.1.
        test: fraction hashed to test. Default 0.1.
        labels: the declared label set. Default None (the training files' labels).
        header: each file's first line is a header. Default False.
        text_first: the columns are ``text<TAB>label``. Default False.
        on_bad_lines: "error" (default) raises `DataError` at the first bad line; "skip" counts them.
        max_line_bytes: longest line accepted, in bytes. Default 1,000,000.
        tokenizer: ``{"split": ..., "lowercase": ...}`` for `tokenize_tf` to count the training
            split's tokens; None (default) counts none.
        workers: how many workers will share the training files (`worker_share`). Default 1.
        max_counter_size: most distinct tokens held; past it the rarest are pruned (their counts,
            and so the vocabulary's tail, become approximate). Default 1,000,000.
        batch_lines: lines per TensorFlow call. Default 4096.

    Returns:
        A `StreamCounts`.

    Raises:
        DataError: for a bad line in "error" mode, or labels outside the label set.

    Example:
        >>> counts = count_splits(["data/samples/label_text.tsv"], tokenizer={"split": "word", "lowercase": True})
        >>> counts.labels
        ['neg', 'pos']
    """
    scan = _Scan(train_files, seed=seed, validation=validation, test=test, header=header, text_first=text_first,
                 on_bad_lines=on_bad_lines, max_line_bytes=max_line_bytes, tokenizer=tokenizer, workers=workers,
                 max_counter_size=max_counter_size)
    offset = 0
    declared = list(labels) if labels else None
    for index, path in enumerate(train_files):
        offset += scan.file(path, None, declared, offset=offset, file_index=index, batch_lines=batch_lines)
    found = sorted({label for counter in scan.label_counts.values() for label in counter})
    names = declared or found
    scan.tokenizer = None  # only the training split teaches the vocabulary
    for split, files in (("validation", validation_files), ("test", test_files)):
        for path in files:
            scan.file(path, split, names, batch_lines=batch_lines)
    return StreamCounts(scan.reports, names, {k: v for k, v in scan.label_counts.items()}, scan.tokens,
                        scan.worker_examples, scan.worker_lines, worker_share(train_files, workers), scan.pruned)


def split_stream(
    files: Sequence[str],
    split: str,
    labels: Sequence[str],
    *,
    hashed: bool = True,
    seed: int = 0,
    validation: float = 0.1,
    test: float = 0.1,
    header: bool = False,
    text_first: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
    workers: int = 1,
    worker: int = 0,
    batch_lines: int = BATCH_LINES,
) -> tf.data.Dataset:
    """Streams the good lines of one split as ``(text, label id)`` examples, in file order.

    With several workers a worker reads only its share (`worker_share`): every
    N-th file, or, with fewer files than workers, every N-th line of the files
    taken before any parsing; `count_splits` with the same ``workers`` counts
    each share.

    Args:
        files: the files to read.
        split: "train", "validation" or "test".
        labels: the label names; a line with another label is left out.
        hashed: the files are the training files and ``split`` is picked by `split_ids`
            (False: every good line of ``files`` belongs to ``split``). Default True.
        seed: the split hash's key, as for `count_splits`. Default 0.
        validation: the fraction hashed to validation. Default 0.1.
        test: the fraction hashed to test. Default 0.1.
        header: each file's first line is a header. Default False.
        text_first: the columns are ``text<TAB>label``. Default False.
        max_line_bytes: longest line accepted. Default 1,000,000.
        workers: the workers sharing the files. Default 1.
        worker: this worker's index. Default 0.
        batch_lines: lines parsed per TensorFlow call. Default 4096.

    Returns:
        An unbatched `tf.data.Dataset` of ``(string, int64)`` scalars.

    Example:
        >>> ds = split_stream(["data/samples/label_text.tsv"], "train", ["neg", "pos"])
        >>> text, label = next(iter(ds))
    """
    share = worker_share(files, workers)
    paths = tf.data.Dataset.from_tensor_slices(tf.constant(list(files), tf.string))
    if share == "file":
        paths = paths.shard(workers, worker)
    lines = paths.flat_map(lambda path: tf.data.TextLineDataset(path).enumerate(start=1))
    if share == "line":  # before parsing: a worker tokenizes only its own lines
        lines = lines.shard(workers, worker)
    table = _label_table(labels)
    wanted = SPLIT_IDS[split]
    options = dict(header=header, text_first=text_first, max_line_bytes=max_line_bytes)

    def parse(numbers, batch):
        hashed_lines, texts, _, ids, code, _ = _parse(numbers, batch, table=table, **options)
        keep = tf.equal(code, 0)
        if hashed:
            keep = tf.logical_and(keep, tf.equal(split_ids(hashed_lines, seed, validation, test), wanted))
        return tf.boolean_mask(texts, keep), tf.boolean_mask(ids, keep)

    data = lines.batch(batch_lines).map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.unbatch()
