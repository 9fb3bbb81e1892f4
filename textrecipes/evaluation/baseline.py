"""The linear baseline inside every classification run: scikit-learn TF-IDF + logistic regression.

A user who trains a model should know whether it beats what three lines of
scikit-learn give on the same data (issue 17). `fit_baseline` fits that
baseline on the run's own training split (unaugmented), tokenized as the run
tokenizes (jieba segmentation included), and scores it with the run's metrics
(`textrecipes.evaluation.metrics.evaluate_predictions`) on validation and test:

* features: ``TfidfVectorizer`` over the run's tokens and their bigrams
  (word 1-2 grams), ``sublinear_tf=True``, ``min_df=2`` (1 on a training split
  under 1,000 texts), L2-normalised rows;
* model: ``LogisticRegression`` (``OneVsRestClassifier`` of it for
  multi-label), ``C`` picked on validation accuracy from `CS` (the smaller on a
  tie), or `FIXED_C` when the run has no validation split;
* bounds: at most ``max_examples`` training texts (a sample drawn with its own
  ``numpy.random.RandomState(seed)``, so the model's random streams are never
  touched), said so in the log and in ``metrics.json``.

`comparison` words the result ("test accuracy 0.812, the linear baseline 0.795:
+1.7 points") for the log and the report.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Mapping, Sequence

import numpy as np

from textrecipes.evaluation.metrics import evaluate_predictions

log = logging.getLogger("textrecipes")

CS = (0.3, 1.0, 3.0, 10.0, 30.0)  # the grid of C searched on validation
FIXED_C = 10.0  # without a validation split: the C validation picked on Rotten Tomatoes
MAX_EXAMPLES = 100_000  # training texts the baseline is fitted on, at most
MAX_ITER = 1000  # lbfgs iterations per fit
SMALL_TRAIN = 1000  # below this many training texts, min_df = 1 (every training n-gram counts)
SCORES = ("accuracy", "macro_f1")


def word_ngrams(tokens: Sequence[str]) -> list[str]:
    """A text's tokens and its bigrams (``"a b"``): the baseline's features, as ``ngram_range=(1, 2)``.

    Args:
        tokens: one text's tokens.

    Returns:
        The unigrams, then the bigrams joined by a space.

    Example:
        >>> word_ngrams(["not", "good", "."])
        ['not', 'good', '.', 'not good', 'good .']
    """
    tokens = list(tokens)
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def baseline_vectorizer(train_size: int):
    """The baseline's `TfidfVectorizer` over token lists (word 1-2 grams, sublinear tf, min_df 2 or 1).

    Args:
        train_size: training texts it will be fitted on (``min_df`` is 1 under `SMALL_TRAIN`).

    Returns:
        An unfitted ``sklearn.feature_extraction.text.TfidfVectorizer`` taking lists of tokens.

    Example:
        >>> baseline_vectorizer(5000).min_df
        2
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=word_ngrams, lowercase=False, sublinear_tf=True,
                           min_df=1 if train_size < SMALL_TRAIN else 2)


def baseline_classifier(kind: str, c: float):
    """``LogisticRegression(C=c)``, in a ``OneVsRestClassifier`` for multi-label.

    Args:
        kind: "binary", "multiclass" or "multilabel".
        c: the inverse regularization strength.

    Returns:
        An unfitted scikit-learn estimator (lbfgs, deterministic: no seed needed).

    Example:
        >>> type(baseline_classifier("multilabel", 1.0)).__name__
        'OneVsRestClassifier'
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    model = LogisticRegression(C=c, max_iter=MAX_ITER)
    return OneVsRestClassifier(model) if kind == "multilabel" else model


def sklearn_targets(targets: np.ndarray, kind: str) -> np.ndarray:
    """The run's encoded targets (`encode_labels`) as scikit-learn takes them: ids, or a 0/1 matrix.

    Example:
        >>> sklearn_targets(np.array([[1.0], [0.0]], "float32"), "binary").tolist()
        [1, 0]
    """
    y = np.asarray(targets)
    return y.astype(int) if kind == "multilabel" else y.reshape(-1).astype(int)


def probabilities(model, x, kind: str, num_labels: int) -> np.ndarray:
    """One probability column per label (`probabilities_per_label`'s layout), labels unseen in training at 0.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> m = LogisticRegression().fit([[0.0], [1.0]], [0, 2])
        >>> probabilities(m, [[1.0]], "multiclass", 3).shape
        (1, 3)
    """
    p = model.predict_proba(x)
    if kind == "multilabel":
        return np.asarray(p, dtype="float32")
    out = np.zeros((p.shape[0], max(num_labels, 2)), dtype="float32")
    out[:, np.asarray(model.classes_, dtype=int)] = p
    return out


def training_sample(n: int, max_examples: int, seed: int) -> np.ndarray:
    """Row indices of the baseline's training texts: all, or a seeded sample of ``max_examples``, in order.

    Uses its own ``numpy.random.RandomState(seed)``: never the global generator,
    so fitting the baseline changes nothing in the model's run.

    Example:
        >>> training_sample(5, 10, 0).tolist(), len(training_sample(1000, 10, 0))
        ([0, 1, 2, 3, 4], 10)
    """
    if n <= max_examples:
        return np.arange(n)
    return np.sort(np.random.RandomState(seed).choice(n, size=max_examples, replace=False))


def fit_baseline(texts: Mapping[str, Sequence[str]], targets: Mapping[str, np.ndarray], labels: Sequence[str],
                 kind: str, *, tokenizer: Callable, seed: int = 0, max_examples: int = MAX_EXAMPLES,
                 cs: Sequence[float] = CS) -> dict:
    """Fits TF-IDF + logistic regression on ``texts["train"]`` and scores it on validation and test.

    Args:
        texts: split name → the run's texts (``"train"`` required; ``"validation"``,
            ``"test"`` scored when not empty), as the model's tokenizer reads them.
        targets: split name → the encoded targets (`textrecipes.text.pipeline.encode_labels`).
        labels: the label names in output order.
        kind: "binary", "multiclass" or "multilabel".
        tokenizer: texts → token lists, the run's tokenization
            (`textrecipes.text.tokenization.tokenize` with the recipe's split and lowercase).
        seed: seeds the training sample. Default 0.
        max_examples: fit on at most this many training texts. Default 100000.
        cs: the values of C tried on validation. Default `CS`.

    Returns:
        A JSON-ready dict: ``method``, ``C``, ``grid`` (C → validation accuracy),
        ``train_examples`` (fitted on) and ``train_total``, ``sampled``,
        ``features``, ``seconds``, and per scored split ``{"accuracy", "macro_f1"}``;
        or ``{"skipped": reason}`` when the training split has a single class.

    Example:
        >>> from textrecipes.text.tokenization import tokenize
        >>> texts = {"train": ["good film", "bad film", "good", "bad"], "test": ["good one"]}
        >>> targets = {"train": np.array([[1.0], [0.0], [1.0], [0.0]]), "test": np.array([[1.0]])}
        >>> fit_baseline(texts, targets, ["neg", "pos"], "binary", tokenizer=tokenize)["test"]["accuracy"]
        1.0
    """
    started = time.perf_counter()
    total = len(texts["train"])
    rows = training_sample(total, max_examples, seed)
    y_train = sklearn_targets(targets["train"], kind)[rows]
    if kind != "multilabel" and len(np.unique(y_train)) < 2:
        return {"skipped": "the training split has a single class"}
    vectorizer = baseline_vectorizer(len(rows))
    x_train = vectorizer.fit_transform(tokenizer([texts["train"][i] for i in rows]))
    scored = {name: vectorizer.transform(tokenizer(list(texts[name])))
              for name in ("validation", "test") if len(texts.get(name, ()))}

    def scores(model, name) -> dict:
        report = evaluate_predictions(targets[name], probabilities(model, scored[name], kind, len(labels)), labels, kind)
        return {k: report[k] for k in SCORES}

    grid, best = {}, None
    for c in (cs if "validation" in scored else (FIXED_C,)):
        model = baseline_classifier(kind, c).fit(x_train, y_train)
        if "validation" in scored:
            grid[c] = scores(model, "validation")["accuracy"]
        if best is None or grid.get(c, 0) > grid.get(best[0], 0):
            best = (c, model)
    c, model = best
    out = {"method": "scikit-learn TfidfVectorizer(word 1-2 grams, sublinear_tf) + LogisticRegression"
                     + (" (one-vs-rest)" if kind == "multilabel" else ""),
           "C": c, "grid": {f"{k:g}": round(v, 4) for k, v in grid.items()}, "train_examples": int(len(rows)),
           "train_total": int(total), "sampled": bool(len(rows) < total), "features": int(x_train.shape[1]),
           "min_df": vectorizer.min_df}
    out.update({name: scores(model, name) for name in scored})
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def comparison(final: Mapping, baseline: Mapping, split_name: str) -> tuple[str, bool]:
    """The model's score against the baseline's, in words, and whether the model beats it.

    Args:
        final: the model's metrics on ``split_name`` (``accuracy``, ``macro_f1``).
        baseline: `fit_baseline`'s result.
        split_name: "test" or "validation".

    Returns:
        ``(text, beats)``; ``beats`` is False when the model's accuracy is at or below the baseline's.

    Example:
        >>> comparison({"accuracy": 0.812, "macro_f1": 0.8}, {"test": {"accuracy": 0.795, "macro_f1": 0.79}}, "test")
        ('test accuracy 0.812, the linear baseline 0.795: +1.7 points (macro-F1 0.800 vs 0.790: +1.0)', True)
    """
    ours, theirs = final["accuracy"], baseline[split_name]["accuracy"]
    f1, their_f1 = final["macro_f1"], baseline[split_name]["macro_f1"]
    text = (f"{split_name} accuracy {ours:.3f}, the linear baseline {theirs:.3f}: {100 * (ours - theirs):+.1f} points "
            f"(macro-F1 {f1:.3f} vs {their_f1:.3f}: {100 * (f1 - their_f1):+.1f})")
    return text, ours > theirs


# What to try when a model does not beat the baseline, by model.name (the default: other models).
ADVICE = {"auto": "a larger validation split (the blend's weight is picked on it)",
          "linear": "more n-gram buckets (model.ngram_buckets) or words (tokenize.max_tokens), or model.name = "
                    "\"auto\" (the default) to blend in the LSTM",
          None: "model.name = \"auto\" (the default), which blends in the linear model, or more epochs"}


def log_comparison(final: Mapping, baseline: Mapping | None, split_name: str, model_name: str | None = None) -> None:
    """Logs `comparison` (a warning, with `ADVICE`, when the model does not beat the baseline), and how it was fitted.

    Example:
        >>> log_comparison({"accuracy": 0.8, "macro_f1": 0.8}, None, "test")  # no baseline: nothing
    """
    if not baseline or split_name not in baseline:
        return
    sample = (f"a seeded sample of {baseline['train_examples']} of the {baseline['train_total']} training texts"
              if baseline["sampled"] else f"the {baseline['train_total']} training texts")
    how = f"TF-IDF + logistic regression, C={baseline['C']:g}, on {sample}, {baseline['seconds']} s"
    text, beats = comparison(final, baseline, split_name)
    if beats:
        log.info(f"{text} ({how})")
    else:
        log.warning(f"warning: the model does not beat the linear baseline: {text} ({how}); try "
                    + ADVICE.get(model_name, ADVICE[None]))


def report_sentence(metrics: Mapping, split_name: str) -> str:
    """The report's sentence about the baseline ("" when the run has none).

    Example:
        >>> report_sentence({"test": {"accuracy": 0.7, "macro_f1": 0.7}}, "test")
        ''
    """
    baseline = metrics.get("baseline")
    if not baseline or split_name not in baseline or split_name not in metrics:
        return ""
    text, beats = comparison(metrics[split_name], baseline, split_name)
    verdict = "the model beats the linear baseline" if beats else "WARNING: the model does not beat the linear baseline"
    return f"; {verdict}: {text} (scikit-learn TF-IDF + logistic regression, C={baseline['C']:g})"
