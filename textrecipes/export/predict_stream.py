"""The ``predict`` command's loop: input lines in, one output line per input line, one batch in memory at a time.

A blank input line (or, with ``--on-bad-lines skip``, a line that is not UTF-8)
gives an empty prediction line (its columns left empty, so a classifier's is a
lone tab), so that output line N always answers input line N, however long
the input.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterable, TextIO

from textrecipes.data.atomic import atomic_write
from textrecipes.data.records import DataError
from textrecipes.export.batches import batched

# Lines read a round, in batches: the predictor sorts a round's texts by length so that each batch
# pads less. Measured on 200k short reviews and on news articles: benchmarks/results/predict_stream.md.
SORT_WINDOW = 8


@contextlib.contextmanager
def output_target(output: str | None, input_path: str | None = None):
    """Yields where predictions go: stdout, or ``output`` written atomically (whole, or not at all).

    Args:
        output: the file to write, or None for stdout.
        input_path: the input file, which ``output`` must not be (it would be lost). Default None.

    Raises:
        DataError: ``output`` is the input file, or a folder.

    Example:
        >>> with output_target(None) as out:
        ...     _ = out.write("fresh 0.9000\\n")
        fresh 0.9000
    """
    if output is None:
        yield sys.stdout
        return
    if os.path.isdir(output):
        raise DataError(f"--output {output}: is a folder; give a file to write the predictions to")
    if input_path not in (None, "-") and os.path.exists(output) and os.path.exists(input_path) \
            and os.path.samefile(input_path, output):
        raise DataError(f"--output {output}: is the input file; write the predictions to another file")
    with atomic_write(output, newline="") as f:
        yield f


def write_predictions(predictor, fmt: str, lines: Iterable, out: TextIO, *, source: str = "<stdin>",
                      batch_size: int = 256, threshold: float = 0.5, with_text: bool = False,
                      probabilities: bool = False, progress: bool = False, window: int = SORT_WINDOW) -> dict:
    """Predicts each line of ``lines`` and writes one output line per input line to ``out``, batch by batch.

    Classifier and pairs lines are ``label<TAB>probability`` (multi-label: the labels
    joined by ","; the highest probability); ``probabilities`` writes a header of the
    label names, then every label's probability a line; a tagging run writes
    ``token/tag`` pairs. ``with_text`` adds the input line as a last column.

    Args:
        predictor: a `Predictor`, `PairPredictor` or `Tagger`.
        fmt: the run's format: "label_text" (any classifier), "pairs" (``text_a<TAB>text_b`` a line) or "conll".
        lines: the input lines, read only as each batch is needed: strings, or None for a
            line that could not be decoded (an empty prediction line, like a blank line).
        out: where to write.
        source: the input's name in errors ("<stdin>", a path). Default "<stdin>".
        batch_size: lines per model call. Default 256.
        threshold: multi-label decision threshold. Default 0.5.
        with_text: echo the input line as the last column. Default False.
        probabilities: all class probabilities instead of the label. Default False.
        progress: a tqdm progress bar on stderr. Default False.
        window: batches read a round (``window * batch_size`` lines in memory), sorted by
            length within the round so that batches pad less; outputs keep the input order.
            Default `SORT_WINDOW`.

    Returns:
        ``{"lines": lines written, "blank": blank input lines, "unreadable": undecodable lines}``.

    Raises:
        DataError: a pairs line without exactly one tab (named ``source:line``), or
            ``probabilities`` for a tagging run.

    Example:
        >>> from textrecipes.export.predictors import load_predictor
        >>> import io
        >>> out = io.StringIO()
        >>> write_predictions(load_predictor("runs/demo"), "label_text", ["fine", ""], out)  # doctest: +SKIP
        {'lines': 2, 'blank': 1, 'unreadable': 0}
    """
    if probabilities and fmt == "conll":
        raise DataError("--probabilities: a tagging run gives a tag per token, not class probabilities")
    labels = list(getattr(predictor, "labels", []))
    width = len(labels) if probabilities else (0 if fmt == "conll" else 2)
    empty = "\t" * (max(width, 1) - 1 + (with_text and fmt != "conll"))
    if probabilities:
        out.write("\t".join(labels + (["text"] if with_text else [])) + "\n")
    counts = {"lines": 0, "blank": 0, "unreadable": 0}
    bar = _progress_bar(progress)
    for chunk in batched(lines, batch_size * window):
        kept = [i for i, line in enumerate(chunk) if line is not None and line.strip()]
        texts = [chunk[i] for i in kept]
        rows = [empty] * len(chunk)
        for i, row in zip(kept, _predict_rows(predictor, fmt, texts, counts["lines"], kept, source, threshold,
                                              probabilities, batch_size) if texts else []):
            rows[i] = row + (f"\t{chunk[i]}" if with_text and fmt != "conll" else "")
        out.write("".join(row + "\n" for row in rows))
        counts["unreadable"] += sum(line is None for line in chunk)
        counts["blank"] += len(chunk) - len(kept) - sum(line is None for line in chunk)
        counts["lines"] += len(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return counts


def _progress_bar(show: bool):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(unit=" lines", file=sys.stderr, desc="predict", mininterval=0.5)


def _predict_rows(predictor, fmt, texts, first, kept, source, threshold, probabilities, batch_size) -> list[str]:
    """One formatted output line (without the echoed text) per non-blank input line of a batch."""
    if fmt == "conll":  # one sentence a line, tokens split on whitespace
        return [" ".join(f"{token}/{tag}" for token, tag in tagged) for tagged in predictor.tag(texts)]
    if fmt == "pairs":  # text_a<TAB>text_b a line
        for i, line in zip(kept, texts):
            if line.count("\t") != 1:
                raise DataError(f"{source}:{first + i + 1}: expected text_a<TAB>text_b (2 tab-separated columns), "
                                f"found {line.count(chr(9)) + 1}")
        texts = [tuple(line.split("\t")) for line in texts]
    if probabilities:
        return ["\t".join(f"{p:.6f}" for p in row) for row in predictor.predict_proba(texts, batch_size=batch_size)]
    rows = []
    for label, prob in predictor.predict(texts, threshold=threshold, batch_size=batch_size):
        if predictor.task == "multilabel":
            label, prob = ",".join(label), (max(prob) if prob else 0.0)
        rows.append(f"{label}\t{prob:.4f}")
    return rows
