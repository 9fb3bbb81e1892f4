"""Records → train/validation/test splits, and the label counts of each.

`load_splits` reads a recipe's ``[data]`` files with the reader a task gives it
and takes the missing validation/test splits off the training file
(stratified, seeded, scikit-learn's `train_test_split`).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
from typing import Callable, Iterable, Mapping, Sequence

from textrecipes.data.records import DataError, LabeledText

log = logging.getLogger("textrecipes")
INPUT_ONLY = ("label", "line", "tags")  # fields that are not the model's input: two records alike but these are duplicates


@dataclasses.dataclass
class Splits:
    """Records of each split and the read accounting of every file.

    Args:
        train: the training records.
        validation: the validation records (may be empty).
        test: the test records (may be empty).
        reports: the `ReadReport` of every file read, the training file's first.
        duplicates: split name → how many of its records have an input that is also
            in the training split (`count_duplicates`); recorded in ``metrics.json``.

    Example:
        >>> from textrecipes.data.readers import read_classification
        >>> data = {"train": "data/samples/label_text.tsv", "validation": "", "test": "", "labels": [],
        ...         "validation_split": 0.1, "test_split": 0.1, "max_train_examples": 0}
        >>> splits, labels = load_splits(data, 0, lambda path, labels: read_classification(path, labels=labels),
        ...                              lambda records: sorted(label_counts(records)))
        >>> len(splits.train) + len(splits.validation) + len(splits.test) == splits.reports[0].kept
        True
    """
    train: list
    validation: list
    test: list
    reports: list
    duplicates: dict = dataclasses.field(default_factory=dict)

    def sizes(self) -> dict:
        """``{"train": n, "validation": n, "test": n}``."""
        return {name: len(getattr(self, name)) for name in ("train", "validation", "test")}


def load_splits(data: Mapping, seed: int, read: Callable, label_set: Callable) -> tuple[Splits, list[str]]:
    """Reads the train/validation/test files of a recipe's ``[data]`` table with a task's reader.

    Missing validation/test files are split off the training file (stratified,
    seeded). Labels of validation/test must appear in the label set (the reader
    reports ``file:line`` otherwise).

    Args:
        data: the recipe's ``[data]`` table, every key present (as from `load_recipe`).
        seed: the seed of the splits taken off the training file.
        read: ``read(path, labels) -> Dataset``: the task's reader; ``labels``
            is the label set to check against (None for the training file
            without declared labels).
        label_set: ``label_set(records) -> list``: the label names found in the training records.

    Returns:
        The splits and the label names (declared, else ``label_set`` of train).

    Raises:
        DataError: for a bad line (with ``on_bad_lines = "error"``), a label
            outside the label set, or no training examples left.
    """
    declared = list(data["labels"]) or None
    train = read(data["train"], declared)
    labels = declared or label_set(train.records)
    reports = [train.report]
    parts = {}
    for name in ("validation", "test"):
        if data[name]:
            ds = read(data[name], labels)
            parts[name] = ds.records
            reports.append(ds.report)
    records = train.records
    if "test" not in parts or "validation" not in parts:
        test_frac = 0.0 if "test" in parts else data["test_split"]
        val_frac = 0.0 if "validation" in parts else data["validation_split"]
        try:
            records, val, test = split_records(records, validation=val_frac, test=test_frac, seed=seed)
        except ValueError as e:  # scikit-learn's "n_samples=1 ... the resulting train set will be empty"
            raise DataError(f"{data['train']}: {len(records)} example(s) are too few to split off "
                            f"validation_split={val_frac} and test_split={test_frac}; add examples, or give "
                            f"data.validation/data.test files or set the fractions to 0 ({e})") from None
        parts.setdefault("validation", val)
        parts.setdefault("test", test)
    if data["max_train_examples"]:
        records = records[: data["max_train_examples"]]
    if not records:
        raise DataError(f"{data['train']}: no training examples left")
    splits = Splits(records, parts["validation"], parts["test"], reports)
    splits.duplicates = count_duplicates(splits)
    for name, n in splits.duplicates.items():
        if n:
            log.warning(f"warning: {n} of the {len(getattr(splits, name))} {name} examples also appear in the "
                        f"training split (the same input); their {name} scores overstate the model (dedupe "
                        f"{data['train']} to avoid it)")
    return splits, labels


def count_duplicates(splits: Splits) -> dict:
    """How many validation and test records have an input that is also a training record's.

    A record's input is every field but its label, tags and line number (the text;
    both texts of a pair; a sentence's tokens).

    Args:
        splits: the `Splits`.

    Returns:
        ``{"validation": n, "test": n}``.

    Example:
        >>> s = Splits([LabeledText("a", "x", 1)], [LabeledText("a", "y", 2)], [LabeledText("b", "x", 3)], [])
        >>> count_duplicates(s)
        {'validation': 1, 'test': 0}
    """
    def key(record):
        fields = record._asdict() if hasattr(record, "_asdict") else {"record": record}
        return tuple(v for k, v in fields.items() if k not in INPUT_ONLY)

    seen = {key(r) for r in splits.train}
    return {name: sum(key(r) in seen for r in getattr(splits, name)) for name in ("validation", "test")}


def label_counts(records: Iterable[LabeledText]) -> collections.Counter:
    """Counts examples per class (a multi-label example counts once per label).

    Args:
        records: records with a ``label`` (a string, or a tuple for multi-label).

    Returns:
        A `collections.Counter` of label → examples.

    Example:
        >>> label_counts([LabeledText("a", "x", 1), LabeledText("b", "x", 2)])
        Counter({'x': 2})
    """
    counts: collections.Counter = collections.Counter()
    for r in records:
        counts.update(r.label if isinstance(r.label, tuple) else (r.label,))
    return counts


def format_label_counts(counts: collections.Counter) -> str:
    """A small table of the label-set summary, largest class first.

    Args:
        counts: label → number of examples, as from `label_counts`.

    Returns:
        The table as text: a header, then label, count and share per row.

    Example:
        >>> print(format_label_counts(collections.Counter({"pos": 3, "neg": 1})))
        label    count  share
        pos          3   75.0%
        neg          1   25.0%
    """
    total = sum(counts.values()) or 1
    width = max([len(str(k)) for k in counts] + [5])
    rows = [f"{'label':<{width}}  {'count':>7}  share"]
    for label, n in counts.most_common():
        rows.append(f"{label:<{width}}  {n:>7}  {n / total:6.1%}")
    return "\n".join(rows)


def split_records(records: Sequence, *, validation: float = 0.1, test: float = 0.1, seed: int = 0):
    """Stratified train/validation/test split with scikit-learn.

    Multi-label records are stratified on their first label. Classes with too few
    examples to stratify fall back to a plain seeded split, with a warning naming the rarest class.

    Args:
        records: the records to split (``LabeledText`` or anything with ``.label``;
            records without one, such as `TaggedSentence`, are split unstratified).
        validation: fraction for validation. Default 0.1.
        test: fraction for test. Default 0.1.
        seed: the random seed. Default 0.

    Returns:
        ``(train, validation, test)`` lists.

    Example:
        >>> recs = [LabeledText(str(i), "ab"[i % 2], i) for i in range(100)]
        >>> [len(p) for p in split_records(recs)]
        [80, 10, 10]
    """
    from sklearn.model_selection import train_test_split

    if not 0 <= validation < 1 or not 0 <= test < 1 or validation + test >= 1:
        raise ValueError(f"validation={validation} and test={test} must be fractions in [0, 1) summing below 1")
    records = list(records)

    def strat(rs, fraction):
        if not rs or not hasattr(rs[0], "label"):  # e.g. tagged sentences: a plain seeded split
            return None
        keys = [r.label[0] if isinstance(r.label, tuple) else r.label for r in rs]
        counts = collections.Counter(keys)
        held_out = math.ceil(fraction * len(rs))
        rarest, fewest = min(counts.items(), key=lambda item: (item[1], str(item[0])))
        if fewest < 2:
            log.warning(f"warning: the split is not stratified: class {rarest!r} has {fewest} example "
                        f"({sum(n < 2 for n in counts.values())} class(es) with 1); class shares may differ between splits")
            return None
        if min(held_out, len(rs) - held_out) < len(counts):
            log.warning(f"warning: the split is not stratified: {len(counts)} classes do not fit in {held_out} "
                        f"held-out example(s); class shares may differ between splits")
            return None
        return keys

    rest, test_part = (records, []) if test == 0 else train_test_split(
        records, test_size=test, random_state=seed, stratify=strat(records, test)
    )
    if validation == 0:
        return list(rest), [], list(test_part)
    fraction = validation / (1 - test)
    train_part, val_part = train_test_split(rest, test_size=fraction, random_state=seed, stratify=strat(rest, fraction))
    return list(train_part), list(val_part), list(test_part)
