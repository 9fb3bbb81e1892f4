"""The baselines a user would write themselves, on every dataset of the benchmark suite.

Two baselines, each fitted on the training split, tuned on the validation split and
scored once on the test split (accuracy and macro-F1):

* `tfidf_lr`: scikit-learn TF-IDF (word 1-2 grams, sublinear tf, min_df=2) +
  LogisticRegression, C picked on validation accuracy from (0.1, 1, 10, 100). For
  Chinese (a dataset whose manifest says ``"language": "zh"``) the features are
  character 1-2 grams instead: Chinese has no spaces, so the word analyzer would
  take whole clauses as one token; characters are also what textrecipes' default
  tokenizer uses for CJK, so the baseline and the models see the same units, and
  jieba's dictionary is made for modern Chinese, not the classical texts of
  ``chinese_sources``.
* `fasttext_baseline`: fastText supervised (the PyPI binding ``fasttext-numpy2-wheel``;
  the plain ``fasttext`` wheel breaks with numpy 2) with word bigrams
  (``wordNgrams=2``), other settings fastText's defaults, lr x epoch picked on
  validation accuracy from (0.1, 0.3, 1.0) x (5, 20, 50); ``thread=1`` and ``seed=0`` so a
  rerun gives the same model. Texts are lowercased with punctuation split off
  (fastText's own example scripts do the same); Chinese is split into characters.

Neither is refitted on train + validation: textrecipes trains on the training split
only, and the comparison should hold the data fixed.

Both functions take the splits as ``(texts, labels)`` pairs, so other benchmarks can
call them on any data::

    from benchmarks.baselines import read_splits, tfidf_lr, fasttext_baseline
    splits = read_splits("data/bench/reuters8")
    print(tfidf_lr(splits["train"], splits["validation"], splits["test"]))

Usage (from the repository root; prepare the data first with
``python benchmarks/datasets.py all`` and ``textrecipes data fetch rotten-tomatoes``)::

    python benchmarks/baselines.py                       # every dataset of the suite
    python benchmarks/baselines.py --datasets reuters8,newsgroups20 --methods tfidf_lr

Rows are appended to ``benchmarks/results/suite_baselines.jsonl`` as they finish (a
row already there for the same dataset and method is not run again), and the table
of every row in that file is written to ``benchmarks/results/suite_baselines.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from textrecipes.data.readers import read_classification  # noqa: E402

#: The benchmark suite: name -> folder holding train/validation/test.tsv (label<TAB>text).
SUITE = {
    "rotten_tomatoes": os.path.join(ROOT, "data", "rotten_tomatoes"),
    "fortunes_topics": os.path.join(ROOT, "data", "bench", "fortunes_topics"),
    "news_outlets": os.path.join(ROOT, "data", "bench", "news_outlets"),
    "convention_party": os.path.join(ROOT, "data", "bench", "convention_party"),
    "newsgroups5_small": os.path.join(ROOT, "data", "bench", "newsgroups5_small"),
    "newsgroups20": os.path.join(ROOT, "data", "bench", "newsgroups20"),
    "reuters8": os.path.join(ROOT, "data", "bench", "reuters8"),
    "wordnet_supersenses": os.path.join(ROOT, "data", "bench", "wordnet_supersenses"),
    "chinese_sources": os.path.join(ROOT, "data", "bench", "chinese_sources"),
}

TFIDF_CS = (0.1, 1.0, 10.0, 100.0)
FASTTEXT_LRS = (0.1, 0.3, 1.0)
# 50: on small training sets (1,500 posts) fastText is still improving at 20 epochs
# (newsgroups5_small: 0.78 test accuracy with lr 1.0 x 20 epochs, the corner of a 5/20 grid).
FASTTEXT_EPOCHS = (5, 20, 50)


def machine() -> str:
    """One line naming the machine: architecture, cores, CPU model, GPU or not."""
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = "GPU" if os.path.exists("/dev/nvidia0") else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} cores ({cpu}), {gpu}, Python {platform.python_version()}"


def language(path: str) -> str:
    """The dataset's language from its manifest.json (``"language"``); "en" when it says none."""
    try:
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as f:
            return json.load(f).get("language", "en")
    except FileNotFoundError:
        return "en"


def read_splits(path: str) -> dict:
    """Reads ``train``, ``validation`` and ``test`` .tsv files (label<TAB>text) of a folder.

    Args:
        path: the folder.

    Returns:
        ``{"train": (texts, labels), "validation": ..., "test": ...}``.

    Example:
        >>> splits = read_splits("data/bench/reuters8")  # doctest: +SKIP
        >>> len(splits["train"][0])  # doctest: +SKIP
        4877
    """
    out = {}
    for name in ("train", "validation", "test"):
        file = os.path.join(path, f"{name}.tsv")
        if not os.path.exists(file):
            raise FileNotFoundError(f"{file} is missing: prepare it with `python benchmarks/datasets.py NAME` "
                                    "(or `textrecipes data fetch rotten-tomatoes`)")
        records = read_classification(file).records
        out[name] = ([r.text for r in records], [r.label for r in records])
    return out


def _scores(truth, pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(truth, pred)), "macro_f1": float(f1_score(truth, pred, average="macro"))}


def tfidf_lr(train, validation, test, *, chinese: bool = False, Cs=TFIDF_CS, min_df: int = 2) -> dict:
    """TF-IDF + logistic regression with C tuned on validation, scored on test.

    Args:
        train: ``(texts, labels)`` to fit on.
        validation: ``(texts, labels)`` that picks C (accuracy; the smaller C on a tie).
        test: ``(texts, labels)`` scored once with the picked C.
        chinese: character 1-2 grams instead of word 1-2 grams. Default False.
        Cs: the inverse regularization strengths tried. Default (0.1, 1, 10, 100).
        min_df: features in fewer training texts are dropped (2: one-off n-grams,
            most of a bigram vocabulary, carry no weight a test text can use). Default 2.

    Returns:
        A dict: test ``accuracy`` and ``macro_f1``, ``val_accuracy``, the picked ``C``,
        ``features``, ``seconds`` (vectorizing and every fit), ``grid`` (C -> validation accuracy).

    Example:
        >>> texts = ["good film", "great film", "bad film", "awful film"] * 5
        >>> labels = ["pos", "pos", "neg", "neg"] * 5
        >>> r = tfidf_lr((texts, labels), (texts, labels), (texts, labels))
        >>> r["accuracy"]
        1.0
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    analyzer = dict(analyzer="char", ngram_range=(1, 2)) if chinese else dict(analyzer="word", ngram_range=(1, 2))
    vec = TfidfVectorizer(sublinear_tf=True, min_df=min_df, **analyzer)
    x_train = vec.fit_transform(train[0])
    x_val, x_test = vec.transform(validation[0]), vec.transform(test[0])
    grid, best = {}, None
    for C in Cs:
        model = LogisticRegression(C=C, max_iter=2000).fit(x_train, train[1])
        grid[C] = _scores(validation[1], model.predict(x_val))["accuracy"]
        if best is None or grid[C] > grid[best[0]]:
            best = (C, model)
    C, model = best
    seconds = time.perf_counter() - start
    return {**_scores(test[1], model.predict(x_test)), "val_accuracy": grid[C], "C": C,
            "features": int(x_train.shape[1]), "seconds": round(seconds, 1),
            "grid": {str(k): round(v, 4) for k, v in grid.items()}}


_PUNCT = re.compile(r"([^\w\s])")
_CJK = re.compile(r"([\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef])")


def fasttext_text(text: str, chinese: bool = False) -> str:
    """The text as fastText is usually fed: lowercased, punctuation split off, one line
    (and every CJK character a token of its own for Chinese)."""
    text = _PUNCT.sub(r" \1 ", text.lower())
    if chinese:
        text = _CJK.sub(r" \1 ", text)
    return " ".join(text.split())


def fasttext_baseline(train, validation, test, *, chinese: bool = False, lrs=FASTTEXT_LRS, epochs=FASTTEXT_EPOCHS,
                      word_ngrams: int = 2, seed: int = 0) -> dict:
    """fastText supervised with word bigrams, lr x epoch tuned on validation, scored on test.

    Args:
        train: ``(texts, labels)`` to fit on.
        validation: ``(texts, labels)`` that picks lr and epoch (accuracy; the first best in grid order).
        test: ``(texts, labels)`` scored once with the picked setting.
        chinese: split CJK text into characters. Default False.
        lrs: learning rates tried. Default (0.1, 0.3, 1.0).
        epochs: epoch counts tried. Default (5, 20, 50).
        word_ngrams: fastText's ``wordNgrams``. Default 2.
        seed: fastText's ``seed`` (with ``thread=1``, runs repeat exactly). Default 0.

    Returns:
        A dict: test ``accuracy`` and ``macro_f1``, ``val_accuracy``, the picked ``lr``
        and ``epoch``, ``seconds`` (every fit of the grid), ``grid``.

    Example:
        >>> texts = ["good film", "great film", "bad film", "awful film"] * 5
        >>> labels = ["pos", "pos", "neg", "neg"] * 5
        >>> r = fasttext_baseline((texts, labels), (texts, labels), (texts, labels), lrs=(1.0,), epochs=(20,))
        >>> r["accuracy"]
        1.0
    """
    import fasttext

    def prep(texts):
        return [fasttext_text(t, chinese) for t in texts]

    def predict(model, texts):
        labels, _ = model.predict(texts, k=1)
        return [lab[0][len("__label__"):] if lab else "" for lab in labels]

    val_texts, test_texts = prep(validation[0]), prep(test[0])
    start = time.perf_counter()
    grid, best = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.txt")
        with open(path, "w", encoding="utf-8") as f:
            for text, label in zip(prep(train[0]), train[1]):
                f.write(f"__label__{label.replace(' ', '_')} {text}\n")
        for lr in lrs:
            for epoch in epochs:
                model = fasttext.train_supervised(input=path, lr=lr, epoch=epoch, wordNgrams=word_ngrams,
                                                  thread=1, seed=seed, verbose=0)
                acc = _scores(validation[1], predict(model, val_texts))["accuracy"]
                grid[f"lr={lr},epoch={epoch}"] = round(acc, 4)
                if best is None or acc > best[0]:
                    best = (acc, lr, epoch, model)
    acc, lr, epoch, model = best
    seconds = time.perf_counter() - start
    return {**_scores(test[1], predict(model, test_texts)), "val_accuracy": acc, "lr": lr, "epoch": epoch,
            "seconds": round(seconds, 1), "grid": grid}


METHODS = {"tfidf_lr": tfidf_lr, "fasttext": fasttext_baseline}


def done_rows(jsonl: str) -> list[dict]:
    """The rows of a results .jsonl file (none when it does not exist)."""
    if not os.path.exists(jsonl):
        return []
    with open(jsonl, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def command_line() -> str:
    """The command that is running, as one would type it from the repository root (no machine paths)."""
    import shlex

    return shlex.join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else "python"]
                      + [os.path.relpath(sys.argv[0], ROOT) if os.path.isabs(sys.argv[0]) else sys.argv[0]]
                      + sys.argv[1:])


def write_table(rows: list[dict], out: str, command: str) -> str:
    lines = [
        f"## Suite baselines ({datetime.date.today().isoformat()})",
        "",
        f"- machine: {machine()}; shared with other jobs, so seconds are noisy",
        "- commands that made the rows: " + "; ".join(f"`{c}`" for c in sorted({r["command"] for r in rows})),
        f"- this table: `{command}`",
        "- each baseline fitted on train, tuned on validation (accuracy), scored once on test; "
        "TF-IDF+LR: word 1-2 grams (character 1-2 grams for Chinese), sublinear tf, min_df=2, "
        f"C in {TFIDF_CS}; fastText: wordNgrams=2, lr in {FASTTEXT_LRS} x epoch in {FASTTEXT_EPOCHS}, thread=1, seed=0",
        "",
        "| dataset | method | test accuracy | test macro-F1 | val accuracy | picked | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(SUITE)}
    for r in sorted(rows, key=lambda r: (order.get(r["dataset"], 99), r["method"])):
        picked = f"C={r['C']}" if "C" in r else f"lr={r.get('lr')}, epoch={r.get('epoch')}"
        lines.append(f"| {r['dataset']} | {r['method']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} "
                     f"| {r['val_accuracy']:.4f} | {picked} | {r['seconds']:.0f} |")
    text = "\n".join(lines) + "\n"
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(SUITE), help="comma-separated names from the suite")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated: tfidf_lr, fasttext")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "suite_baselines.md"))
    parser.add_argument("--jsonl", default=os.path.join(ROOT, "benchmarks", "results", "suite_baselines.jsonl"))
    args = parser.parse_args(argv)
    unknown = [d for d in args.datasets.split(",") if d not in SUITE] + \
              [m for m in args.methods.split(",") if m not in METHODS]
    if unknown:
        sys.exit(f"unknown dataset(s)/method(s) {unknown}; datasets: {sorted(SUITE)}, methods: {sorted(METHODS)}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    command = command_line()
    done = {(r["dataset"], r["method"]) for r in done_rows(args.jsonl)}
    for dataset in args.datasets.split(","):
        path = SUITE[dataset]
        splits = None
        for method in args.methods.split(","):
            if (dataset, method) in done:
                print(f"{dataset} {method}: already in {os.path.relpath(args.jsonl, ROOT)}, skipped", flush=True)
                continue
            splits = splits or read_splits(path)
            result = METHODS[method](splits["train"], splits["validation"], splits["test"],
                                     chinese=language(path) == "zh")
            row = {"dataset": dataset, "method": method, **result, "date": datetime.date.today().isoformat(),
                   "machine": machine(), "command": command}
            with open(args.jsonl, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            print(dataset, method, json.dumps({k: result[k] for k in result if k != "grid"}), flush=True)
    print(write_table(done_rows(args.jsonl), args.out, command))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
