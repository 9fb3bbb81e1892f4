"""A labelled TSV diagnosed before training: column order, header, labels, script, lengths, warnings.

`diagnose` reads a ``label<TAB>text`` (or ``text<TAB>label``) file the way a new
user hands it over and says how to read it; `suggest_recipe` turns the diagnosis
into recipe values, each with the reason it was chosen. ``textrecipes init``
writes those values as a recipe and ``textrecipes data summary`` prints the
diagnosis (like ``spacy debug data``). Nothing here imports TensorFlow: token
lengths are counted by a pure-Python copy of the tokenizer's rule
(`textrecipes.text.tokenization`), close enough for percentiles.

How the file is read:

* **Column order**: of the two columns, the label column is the one with fewer
  distinct values (ties: the shorter one). A header naming its columns
  (``text<TAB>label``) decides instead.
* **Header**: line 1 is a header when its label field is a column name
  (`HEADER_WORDS`: "label", "category", "text", "sentence", ...) in either
  column, or when that field occurs nowhere else while every other label occurs
  at least twice.
* **Script**: the share of CJK characters among the letters; Chinese (Han) text
  → ``tokenize.split = "jieba"`` when jieba is installed, else ``"char"``;
  Japanese (kana) → ``"char"``; anything else ``"word"``.
* **Multi-label**: the label column looks like tags joined by a separator
  (`TAG_SEPARATORS`) when at least `MULTI_LABEL_SHARE` of the examples have a
  joined label and at least two tags recombine (each occurs in two or more
  distinct combinations: ``a``, ``b``, ``a,b``). Read one label per line, each
  combination would be a class of its own; the package reads tags with
  ``data.multi_label = true`` and ``data.label_sep``, which ``init`` then writes
  (for a space, only as a commented suggestion, and only when a label holds
  three words or more or the same words come in two orders: class names such
  as "very good" hold spaces too).
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import math
import os
import re

from textrecipes.data.readers import MAX_LINE_BYTES, _lines, read_classification
from textrecipes.data.records import DataError, ReadReport

__all__ = ["Diagnosis", "diagnose", "suggest_recipe", "Suggestion", "HEADER_WORDS", "MIN_CLASS_EXAMPLES",
           "TAG_SEPARATORS", "sniff_multi_label"]

LABEL_WORDS = frozenset({"label", "labels", "class", "classes", "category", "categories", "target", "y", "tag",
                         "sentiment", "polarity", "intent", "topic", "gold", "annotation", "标签", "类别"})
TEXT_WORDS = frozenset({"text", "texts", "sentence", "sentences", "review", "content", "document", "doc", "comment",
                        "tweet", "utterance", "query", "question", "body", "message", "title", "x", "文本", "句子"})
HEADER_WORDS = LABEL_WORDS | TEXT_WORDS
MIN_CLASS_EXAMPLES = 5  # fewer in a class: a stratified 80/10/10 split leaves it out of validation or test
SNIFF_LINES = 10_000  # lines that decide the column order and the header
LENGTH_SAMPLE = 20_000  # texts whose token lengths give the percentiles (the first ones: deterministic)
CJK_SHARE = 0.3  # at least this share of the letters CJK: the text is CJK
TAG_SEPARATORS = (",", "|", ";", " ")  # how multi-label files join tags, most telling first
MULTI_LABEL_SHARE = 0.1  # at least this share of the examples with joined tags (many lines carry a single tag)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
# The word rule of tokenize_tf: runs of letters, marks, digits and apostrophes; every other
# non-space character a token; each Han/kana character a token.
_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK_CHARS}]|(?:[^\W_{_CJK_CHARS}]|')+|[^\w\s']|_")


@dataclasses.dataclass
class Diagnosis:
    """What `diagnose` found in a labelled TSV file.

    Args:
        path: the file.
        text_first: the columns are ``text<TAB>label``.
        header: line 1 is a header (skipped).
        header_line: line 1 as read when it is a header, else None.
        labels: label → examples, most frequent first.
        examples: examples kept (the reader's ``kept``).
        script: "chinese", "japanese", "korean" or "other".
        cjk_share: share of CJK characters among the letters of the texts.
        split: the ``tokenize.split`` that suits the script.
        lengths: token-length percentiles ``{"p50", "p90", "p95", "p99", "max"}`` under ``split``.
        duplicates: texts that repeat an earlier text (extra copies).
        conflicting: distinct texts that occur with more than one label.
        bytes: the file's size.
        report: the reader's `ReadReport` (bad lines counted, skipped).
        warnings: one sentence per suspicious thing, empty when nothing is.
        decided_by: how the column order and the header were decided, in words.
        multi_label: what `sniff_multi_label` found when the labels look like joined
            tags, else None. Default None.

    Example:
        >>> d = diagnose("data/samples/label_text.tsv")
        >>> d.text_first, d.header, sorted(d.labels)
        (False, False, ['neg', 'pos'])
    """

    path: str
    text_first: bool
    header: bool
    header_line: str | None
    labels: dict
    examples: int
    script: str
    cjk_share: float
    split: str
    lengths: dict
    duplicates: int
    conflicting: int
    bytes: int
    report: ReadReport
    warnings: list
    decided_by: str = ""
    multi_label: dict | None = None

    def classes(self, sep: str | None = None) -> set:
        """The labels as written, or with ``sep`` the tags they hold (split as ``data.multi_label`` reads them).

        Args:
            sep: the tags' separator (``data.label_sep``); None (default): the labels as written.

        Example:
            >>> diagnose("data/samples/label_text.tsv").classes() == {"pos", "neg"}
            True
        """
        return set(self.labels) if sep is None else {tag for label in self.labels for tag in _tags(label, sep)}

    def summary(self) -> str:
        """The diagnosis as the lines ``textrecipes data summary`` and ``init`` print."""
        order = "text<TAB>label" if self.text_first else "label<TAB>text"
        lines = [f"{self.path}: {self.examples:,} examples, {len(self.labels)} labels, {self.bytes:,} bytes",
                 f"  {self.report.summary()}",
                 f"  columns: {order} ({self.decided_by}); header: "
                 + (f"yes, line 1 {self.header_line!r:.80}" if self.header else "no"),
                 f"  script: {self.script} (CJK {self.cjk_share:.0%} of letters) -> tokenize.split = {self.split!r}",
                 "  text length in tokens: " + ", ".join(f"{k} {v:,}" for k, v in self.lengths.items()),
                 f"  duplicate texts: {self.duplicates:,} extra copies, {self.conflicting:,} with conflicting labels"]
        total = max(1, self.examples)
        width = max([len(label) for label in self.labels] + [5])
        lines.append("  labels:")
        for label, n in list(self.labels.items())[:30]:
            lines.append(f"    {label:<{width}} {n:>8,}  {n / total:6.1%}")
        if len(self.labels) > 30:
            lines.append(f"    ... and {len(self.labels) - 30:,} more")
        if self.multi_label:
            m = self.multi_label
            lines.append(f"  tags (the labels split at {m['sep']!r}; examples carrying each): "
                         f"{len(m['tags']):,} tags in {m['combinations']:,} combinations")
            for tag, n in list(m["tags"].items())[:30]:
                lines.append(f"    {tag:<{width}} {n:>8,}  {n / total:6.1%}")
        lines += [f"  warning: {w}" for w in self.warnings] or ["  no warnings"]
        return "\n".join(lines)


def _fields(path, limit: int) -> list[tuple[int, list[str]]]:
    """``(line number, [field, field])`` of the first ``limit`` two-column lines."""
    rows = []
    for number, line, error in _lines(path, MAX_LINE_BYTES):
        if error or line is None or not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) == 2 and all(fields):
            rows.append((number, fields))
            if len(rows) >= limit:
                break
    return rows


def _sniff_layout(rows) -> tuple[bool, bool, str]:
    """``(text_first, header, how)`` from the first two-column lines (`_fields`)."""
    if not rows:
        return False, False, "no two-column line: the default order"
    first_number, first = rows[0]
    words = [f.lower() for f in first]
    if first_number == 1 and words[0] in LABEL_WORDS and words[1] in TEXT_WORDS | {"text"}:
        return False, True, f"the header names the columns ({first[0]!r}, {first[1]!r})"
    if first_number == 1 and words[1] in LABEL_WORDS and words[0] in TEXT_WORDS:
        return True, True, f"the header names the columns ({first[0]!r}, {first[1]!r})"
    body = rows[1:] if len(rows) > 1 else rows
    distinct = [len({r[1][i] for r in body}) for i in (0, 1)]
    mean_len = [sum(len(r[1][i]) for r in body) / len(body) for i in (0, 1)]
    if distinct[0] != distinct[1]:
        text_first = distinct[1] < distinct[0]
        how = f"the label column has fewer distinct values ({min(distinct):,} vs {max(distinct):,})"
    else:
        text_first = mean_len[1] < mean_len[0]
        how = f"both columns have {distinct[0]:,} distinct values; the label column is the shorter"
    label_col = 1 if text_first else 0
    header = False
    if first_number == 1 and len(rows) > 1:
        label = first[label_col]
        counts = collections.Counter(r[1][label_col] for r in body)
        if label.lower() in HEADER_WORDS or first[1 - label_col].lower() in HEADER_WORDS:
            header = label not in counts
        elif label not in counts and len(body) >= 20 and min(counts.values()) >= 2:
            header = True  # the only label seen once, in line 1, while every other label repeats
    return text_first, header, how


def _script(texts) -> tuple[str, float]:
    han = kana = hangul = letters = 0
    for text in texts:
        letters += sum(1 for c in text if c.isalpha())
        han += len(_HAN.findall(text))
        kana += len(_KANA.findall(text))
        hangul += len(_HANGUL.findall(text))
    cjk = han + kana + hangul
    share = cjk / letters if letters else 0.0
    if share < CJK_SHARE:
        return "other", share
    if hangul >= max(han, kana):
        return "korean", share
    return ("japanese" if kana > 0.1 * cjk else "chinese"), share


def split_for(script: str) -> str:
    """The ``tokenize.split`` for a script: Chinese → "jieba" if installed else "char"; Japanese → "char".

    Example:
        >>> split_for("other"), split_for("japanese")
        ('word', 'char')
    """
    if script == "chinese":
        return "jieba" if importlib.util.find_spec("jieba") is not None else "char"
    return "char" if script == "japanese" else "word"


def _token_count(text: str, split: str, jieba=None) -> int:
    if split == "char":
        return sum(1 for c in text if not c.isspace())
    if split == "jieba":
        return sum(1 for w in jieba.lcut(text) if w.strip())
    return len(_WORD.findall(text.lower()))


def _percentiles(values: list[int]) -> dict:
    if not values:
        return {"p50": 0, "p90": 0, "p95": 0, "p99": 0, "max": 0}
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]  # noqa: E731
    return {"p50": at(0.5), "p90": at(0.9), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}


def sniff_multi_label(labels: dict) -> dict | None:
    """Whether labels look like tags joined by a separator, and by which.

    Args:
        labels: label as written → examples (`Diagnosis.labels`).

    Returns:
        None, or ``{"sep", "share", "combinations", "tags", "example", "applied"}``:
        the separator (the first of `TAG_SEPARATORS` that passes, by share), the
        share of the examples with joined tags, the number of distinct labels as
        written, tag → examples carrying it (most frequent first), one joined
        label, and whether ``init`` sets ``data.multi_label`` for it (not for a space).

    Example:
        >>> sniff_multi_label({"sports": 5, "politics": 4, "sports,politics": 3})["tags"]
        {'sports': 8, 'politics': 7}
        >>> sniff_multi_label({"very good": 5, "good": 5, "bad": 5}) is None
        True
    """
    total = sum(labels.values())
    best = None
    for sep in TAG_SEPARATORS:
        joined = {label: n for label, n in labels.items() if len(_tags(label, sep)) > 1}
        share = sum(joined.values()) / total if total else 0.0
        if share < MULTI_LABEL_SHARE or sum(joined.values()) < 2 or (best and share <= best["share"]):
            continue
        tags, seen_in = collections.Counter(), collections.defaultdict(set)
        for label, n in labels.items():
            for tag in _tags(label, sep):
                tags[tag] += n
                seen_in[tag].add(label)
        if sum(1 for combos in seen_in.values() if len(combos) > 1) < 2:
            continue  # e.g. one class "Arts, Culture": its parts never recombine
        if sep == " " and not _tag_like(joined):
            continue  # "very good", "good", "very bad": class names with spaces, not tags
        best = {"sep": sep, "share": share, "combinations": len(labels), "tags": dict(tags.most_common()),
                "example": max(joined, key=joined.get), "applied": sep != " "}
    return best


def _tags(label: str, sep: str) -> tuple[str, ...]:
    """A label's tags as `textrecipes.data.readers.read_classification` splits them (multi_label = true)."""
    return tuple(dict.fromkeys(p.strip() for p in label.split(sep) if p.strip()))


def _tag_like(joined: dict) -> bool:
    """Space-joined labels that only tags explain: one of three words or more, or the same words in two orders."""
    sets = collections.Counter(frozenset(_tags(label, " ")) for label in joined)
    return any(len(_tags(label, " ")) > 2 for label in joined) or any(n > 1 for n in sets.values())


def _multi_label_warning(m: dict) -> str:
    how = (f"textrecipes reads them with data.multi_label = true and data.label_sep = {m['sep']!r} (one sigmoid "
           "output per tag; init writes both)" if m["applied"] else
           f"if these are tags, read them with data.multi_label = true and data.label_sep = {m['sep']!r} (one sigmoid "
           "output per tag; init writes both commented out, since class names hold spaces too)")
    return (f"the labels look multi-label: {m['share']:.0%} of the examples have tags joined by {m['sep']!r} "
            f"(e.g. {m['example']!r:.60}); {m['combinations']:,} distinct combinations of {len(m['tags']):,} distinct "
            "tags. textrecipes classifies one label per line, so read as written each combination would become its "
            f"own class; {how}")


def _warnings(d: Diagnosis, path: str) -> list[str]:
    out = [_multi_label_warning(d.multi_label)] if d.multi_label else []
    # What the recipe will train on: tags when init reads them as tags, else the labels as written.
    classes = d.multi_label["tags"] if d.multi_label and d.multi_label["applied"] else d.labels
    small = [(label, n) for label, n in classes.items() if n < MIN_CLASS_EXAMPLES]
    if small:
        shown = ", ".join(f"{label!r} ({n})" for label, n in small[:5]) + (" ..." if len(small) > 5 else "")
        out.append(f"{len(small)} label(s) with fewer than {MIN_CLASS_EXAMPLES} examples: {shown}; a class that small "
                   "cannot be learnt or measured (the stratified validation/test split may leave it out): add "
                   "examples, merge it, or remove it")
    if d.examples >= 10 and len(classes) >= 0.5 * d.examples:
        out.append(f"{len(d.labels):,} labels for {d.examples:,} examples: nearly one label per line; is the column "
                   "order right (data.text_first), and is this a classification file at all?")
    if len(classes) == 1:
        out.append(f"only one label ({next(iter(classes))!r}): a classifier needs at least two")
    if d.header:
        out.append(f"line 1 looks like a header ({d.header_line!r:.80}), not an example: read with data.header = true")
    if d.duplicates:
        out.append(f"{d.duplicates:,} duplicate text(s) (extra copies of an earlier line), {d.conflicting:,} of them "
                   "with conflicting labels: duplicates can sit in both train and test and inflate the scores")
    bad = sum(n for reason, n in d.report.skipped.items() if reason not in ("blank line", "header"))
    if bad:
        first = d.report.problems[0] if d.report.problems else path
        out.append(f"{bad:,} malformed line(s), e.g. {first}")
    return out


def diagnose(path, *, text_first: bool | None = None, header: bool | None = None) -> Diagnosis:
    """Reads a labelled TSV file and says how it is laid out and what looks wrong in it.

    Args:
        path: a ``label<TAB>text`` or ``text<TAB>label`` file, with or without a header.
        text_first: the column order if known; None (default) sniffs it.
        header: whether line 1 is a header if known; None (default) sniffs it.

    Returns:
        A `Diagnosis`; malformed lines are counted in its ``report``, not raised.

    Raises:
        FileNotFoundError: no such file.
        DataError: the file holds no two-column line at all.

    Example:
        >>> d = diagnose("data/samples/label_text.tsv")
        >>> d.examples, d.split, d.labels
        (6, 'word', {'pos': 3, 'neg': 3})
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    rows = _fields(path, SNIFF_LINES)
    if not rows:
        raise DataError(f"{path}: no line with two tab-separated columns; a classification file has "
                        "label<TAB>text (or text<TAB>label) lines")
    sniffed_first, sniffed_header, how = _sniff_layout(rows)
    text_first = sniffed_first if text_first is None else bool(text_first)
    header = (sniffed_header if header is None else bool(header)) and rows[0][0] == 1
    how = how if text_first == sniffed_first else "as given"
    ds = read_classification(path, text_first=text_first, header=header, on_bad_lines="skip")
    counts = collections.Counter(r.label for r in ds.records)
    texts = [r.text for r in ds.records]
    script, share = _script(texts[:LENGTH_SAMPLE])
    split = split_for(script)
    jieba = None
    if split == "jieba":
        import jieba

        jieba.setLogLevel(60)
    lengths = _percentiles([_token_count(t, split, jieba) for t in texts[:LENGTH_SAMPLE]])
    labels_of = collections.defaultdict(set)
    for r in ds.records:
        labels_of[r.text].add(r.label)
    d = Diagnosis(path=path, text_first=text_first, header=header,
                  header_line="\t".join(rows[0][1]) if header else None,
                  labels=dict(counts.most_common()), examples=len(ds.records), script=script, cjk_share=share,
                  split=split, lengths=lengths, duplicates=len(texts) - len(labels_of),
                  conflicting=sum(1 for ls in labels_of.values() if len(ls) > 1), bytes=os.path.getsize(path),
                  report=ds.report, warnings=[], decided_by=how, multi_label=sniff_multi_label(dict(counts.most_common())))
    d.warnings = _warnings(d, path)
    return d


# ---------------------------------------------------------------------------
# From a diagnosis to recipe values: the one rule, with the figures behind it.

LONG_TEXT_TOKENS = 150  # median tokens at or above this: long documents
SMALL_TRAINING_SET = 2_000  # fewer training examples than this: a small training set
MAX_LENGTH_CAP = 2048  # tokenize.max_length's default, the length the benchmarks were run at
IMBALANCE = 10  # largest class / smallest class at or above this: imbalanced


@dataclasses.dataclass
class Suggestion:
    """Recipe values suggested for a diagnosed file, each with its reason.

    Args:
        values: dotted recipe key → value (``{"model.name": "auto", ...}``).
        why: dotted recipe key → the reason, one sentence.
        notes: advice that is not a value (a commented-out key in ``init``'s recipe).

    Example:
        >>> s = suggest_recipe(diagnose("data/samples/label_text.tsv"))
        >>> s.values["model.name"]
        'auto'
    """

    values: dict
    why: dict
    notes: list


def suggest_recipe(diagnosis: Diagnosis) -> Suggestion:
    """The model recipe, tokenization and reading keys that suit a diagnosed file.

    The model is ``"auto"`` (the default: the BiLSTM and the TF-IDF linear model
    blended with a weight chosen on validation) on every kind of file: on the five
    suite datasets measured (``benchmarks/results/auto.md``) its test accuracy is
    at or above both its members', the BiLSTM (+0.5 to +6.4 points) and the
    linear model, which the rule used to choose between by text length and
    training-set size. The reason given names the kind of data (median ≥
    `LONG_TEXT_TOKENS` tokens: long documents; under `SMALL_TRAINING_SET`
    examples: a small training set).

    ``tokenize.max_length`` is the 99th percentile of the token lengths rounded up
    to a power of two (at least 16, at most `MAX_LENGTH_CAP`): it cuts only the
    longest 1% of texts, so one outlier cannot make a batch 2,048 tokens wide.

    Args:
        diagnosis: from `diagnose`.

    Returns:
        A `Suggestion`.

    Example:
        >>> s = suggest_recipe(diagnose("data/samples/label_text.tsv"))
        >>> s.values["tokenize.split"], s.values["tokenize.max_length"]
        ('word', 16)
    """
    d = diagnosis
    n, median = d.examples, d.lengths["p50"]
    values = {"data.text_first": d.text_first, "data.header": d.header, "tokenize.split": d.split}
    why = {"data.text_first": f"columns are {'text<TAB>label' if d.text_first else 'label<TAB>text'}: {d.decided_by}",
           "data.header": f"line 1 is a header: {d.header_line!r:.60}" if d.header else "line 1 is an example",
           "tokenize.split": {"word": "words and punctuation (each CJK ideograph a token)",
                              "char": f"{d.script} text ({d.cjk_share:.0%} CJK letters): one token per character",
                              "jieba": f"Chinese text ({d.cjk_share:.0%} CJK letters): jieba words"}[d.split]}
    values["model.name"] = "auto"  # the default: the blend picks, on validation, the member the data favours
    if median >= LONG_TEXT_TOKENS and n < SMALL_TRAINING_SET:
        why["model.name"] = (f"long documents (median {median} tokens) and a small training set ({n:,} examples): "
                             "auto's linear member carries such data (newsgroups5_small: auto 0.9395, its LSTM "
                             "member 0.8753; benchmarks/results/auto.md)")
    elif median >= LONG_TEXT_TOKENS:
        why["model.name"] = (f"long documents (median {median} tokens): auto leans on its linear member where the "
                             "words decide (news_outlets: auto 0.9005, its LSTM member 0.8602; benchmarks/results/auto.md)")
    else:
        why["model.name"] = (f"short texts (median {median} tokens): auto blends the BiLSTM with the linear model "
                             "(rotten_tomatoes: 0.7672 against 0.7618 and 0.7610; benchmarks/results/auto.md)")
    p99 = max(1, d.lengths["p99"])
    values["tokenize.max_length"] = min(MAX_LENGTH_CAP, max(16, 2 ** math.ceil(math.log2(p99))))
    why["tokenize.max_length"] = (f"99% of the texts have at most {p99:,} tokens (max {d.lengths['max']:,}); "
                                  f"longer ones are cut (at most {MAX_LENGTH_CAP}, the benchmarked default)")
    if d.report.skipped and any(r not in ("blank line", "header") for r in d.report.skipped):
        values["data.on_bad_lines"] = "skip"
        why["data.on_bad_lines"] = "the file has malformed lines (see the warnings); they are skipped and counted"
    notes = []
    m = d.multi_label
    if m:
        found = (f"{m['share']:.0%} of the labels are tags joined by {m['sep']!r} ({len(m['tags']):,} tags in "
                 f"{m['combinations']:,} combinations)")
        if m["applied"]:
            values["data.multi_label"], values["data.label_sep"] = True, m["sep"]
            why["data.multi_label"] = f"{found}: one output per tag, not one class per combination"
            why["data.label_sep"] = "the separator of the tags"
        else:
            notes.append(("data.multi_label", True, f"{found}, if they are tags and not class names holding spaces"))
            notes.append(("data.label_sep", m["sep"], "the separator of the tags, with data.multi_label"))
    counts = list(d.labels.values())
    # train.class_weight is for binary and multiclass tasks, not multilabel.
    if not (m and m["applied"]) and len(counts) > 1 and counts[0] >= IMBALANCE * counts[-1]:
        notes.append(("train.class_weight", "balanced",
                      f"the largest class has {counts[0] // max(1, counts[-1])}x the examples of the smallest; "
                      "on imbalanced data the default's macro-F1 trails TF-IDF+LR by 2.2 points (reuters8, "
                      "benchmarks/results/suite.md); weighting is not benchmarked, so it is left to you"))
    return Suggestion(values, why, notes)

