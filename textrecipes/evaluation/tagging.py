"""Scores of a sequence labeller: token accuracy and macro-F1, and entity precision, recall and F1.

Entity scores follow conlleval's rules for IOB2 tags (an entity is a ``B-X``
followed by its ``I-X``; a stray ``I-X`` starts a new entity), computed by
`seqeval` in its default (conlleval-compatible) mode.
"""

from __future__ import annotations

from typing import Sequence

from seqeval.metrics import classification_report as entity_report
from seqeval.metrics.sequence_labeling import get_entities


def _with_prefixes(tags: Sequence[str]) -> list[str]:
    """Tags as seqeval reads them: a tag without a ``B-``/``I-`` prefix (``X``, not ``O``) is ``I-X``.

    seqeval would otherwise take the first letter of ``PER`` for a prefix (type ``ER``).
    """
    return [t if t == "O" or t[:2] in ("B-", "I-") else f"I-{t}" for t in tags]


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans ``(type, start, end)`` (end exclusive) in an IOB2/BIO tag sequence, conlleval rules.

    ``B-X`` starts an entity; ``I-X`` continues one of type X, and starts a new
    one after ``O``, after another type or at the start (an ``I-`` without a
    ``B-``); ``O`` ends it. A tag without a prefix (``X``) counts as ``I-X``.
    The spans are seqeval's (`seqeval.metrics.sequence_labeling.get_entities`).

    Args:
        tags: one tag per token.

    Returns:
        The spans in order.

    Example:
        >>> entity_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
        [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5)]
    """
    return [(kind, start, end + 1) for kind, start, end in get_entities(_with_prefixes(list(tags)))]


def entity_scores(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
    """Entity-level precision, recall and F1 (exact span and type), overall (micro) and per type, by seqeval.

    Args:
        true_tags: the gold tag sequences.
        pred_tags: the predicted tag sequences, each as long as its gold one.

    Returns:
        ``{"precision", "recall", "f1", "true_entities", "predicted_entities",
        "per_type": {type: {"precision", "recall", "f1", "support"}}}``.

    Raises:
        ValueError: when a predicted sequence's length differs from its gold one.

    Example:
        >>> s = entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
        >>> s["precision"], s["recall"], s["f1"]
        (0.0, 0.0, 0.0)
    """
    true_tags, pred_tags = list(true_tags), list(pred_tags)
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} gold sentences but {len(pred_tags)} predicted")
    for n, (t, p) in enumerate(zip(true_tags, pred_tags)):
        if len(t) != len(p):
            raise ValueError(f"sentence {n}: {len(t)} gold tags but {len(p)} predicted")
    y_true = [_with_prefixes(t) for t in true_tags]
    y_pred = [_with_prefixes(p) for p in pred_tags]
    counts = [sum(len(get_entities(s)) for s in y) for y in (y_true, y_pred)]
    if not any(counts):  # seqeval has nothing to report: no entity on either side
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "true_entities": 0, "predicted_entities": 0, "per_type": {}}
    report = entity_report(y_true, y_pred, output_dict=True, zero_division=0)
    per_type = {kind: {"precision": float(row["precision"]), "recall": float(row["recall"]),
                       "f1": float(row["f1-score"]), "support": int(row["support"])}
                for kind, row in sorted(report.items()) if not kind.endswith(" avg")}
    micro = report["micro avg"]
    return {"precision": float(micro["precision"]), "recall": float(micro["recall"]), "f1": float(micro["f1-score"]),
            "true_entities": counts[0], "predicted_entities": counts[1], "per_type": per_type}


def evaluate_tagging(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], tag_names: Sequence[str]) -> dict:
    """Token accuracy and macro-F1 (scikit-learn, real tokens only) and the entity scores.

    Args:
        true_tags: gold tag sequences.
        pred_tags: predicted tag sequences.
        tag_names: the tag set (the columns of the per-tag report).

    Returns:
        A JSON-ready dict: ``accuracy``, ``macro_f1``, ``per_tag``, ``token_per_type``
        (token-level precision/recall/F1 of each entity type, ``B-``/``I-`` merged),
        ``entity`` (`entity_scores`), ``sentences`` and ``tokens``.

    Example:
        >>> m = evaluate_tagging([["B-PER", "O"]], [["B-PER", "O"]], ["B-PER", "O"])
        >>> m["accuracy"], m["entity"]["f1"], m["token_per_type"]["PER"]["f1-score"]
        (1.0, 1.0, 1.0)
    """
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    flat_true = [t for seq in true_tags for t in seq]
    flat_pred = [t for seq in pred_tags for t in seq]
    names = list(tag_names)
    report = classification_report(flat_true, flat_pred, labels=names, output_dict=True, zero_division=0)
    kind = lambda tag: tag[2:] if tag[:2] in ("B-", "I-") else tag  # noqa: E731
    types = sorted({kind(t) for t in names} - {"O"})
    by_type = classification_report([kind(t) for t in flat_true], [kind(t) for t in flat_pred], labels=types,
                                    output_dict=True, zero_division=0) if types else {}
    return {
        "sentences": len(true_tags), "tokens": len(flat_true),
        "accuracy": float(accuracy_score(flat_true, flat_pred)),
        "macro_f1": float(f1_score(flat_true, flat_pred, labels=names, average="macro", zero_division=0)),
        "per_tag": {n: {k: float(report[n][k]) for k in ("precision", "recall", "f1-score", "support")} for n in names},
        "token_per_type": {n: {k: float(by_type[n][k]) for k in ("precision", "recall", "f1-score", "support")}
                           for n in types},
        "entity": entity_scores(true_tags, pred_tags),
        "labels": names,
    }
