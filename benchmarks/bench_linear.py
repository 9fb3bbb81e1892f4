"""The linear recipe (``model.name = "linear"``) against scikit-learn's TF-IDF + LogisticRegression.

For every dataset (Rotten Tomatoes and each folder of ``data/bench`` with a
``manifest.json``):

* scikit-learn: ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)``
  (character 1-2 grams for a Chinese set) + ``LogisticRegression`` with C picked on
  validation accuracy from (0.1, 1, 10, 100), scored once on test: the suite's
  baseline (``benchmarks/baselines.py`` of the benchmark-suite branch), written out
  here so this file runs on its own. Seconds: vectorizing plus every fit of the grid,
  and the one fit at the chosen C.
* textrecipes: `textrecipes.train` with `RECIPE` (the recommended linear recipe),
  without and with naive-Bayes scaling (``linear`` / ``linear_nb``), so every run
  includes the idf fit, ``model.fit``, evaluation and the SavedModel export check.
  Seconds: the whole run (``train_seconds`` of metrics.json: reading, tokenizing,
  idf, fit, evaluation, export).
* memory: one training step of the linear model on the longest texts of the
  longest dataset, in a fresh process: the growth of its peak RSS, beside the size a
  dense ``(batch, features)`` float32 matrix would have.

Usage (from the repository root; data first: ``python benchmarks/datasets.py all``)::

    python benchmarks/bench_linear.py                          # every dataset found
    python benchmarks/bench_linear.py --datasets rotten_tomatoes,news_outlets --seeds 1

Rows are appended to ``benchmarks/results/linear.jsonl`` as they finish (a row already
there for the same dataset, method and seed is not run again: the run resumes), and
the table of every row is written to ``benchmarks/results/linear.md``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from textrecipes.data.readers import read_classification  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results")
TFIDF_CS = (0.1, 1.0, 10.0, 100.0)

#: The recommended recipe for ``model.name = "linear"`` (every other key: the defaults). Its weights come from
#: lbfgs (``model.solver``, the default); the optimizer keys serve where the run falls back on ``model.fit``
#: (naive-Bayes ratios beyond two labels).
RECIPE = {
    "tokenize": {"max_tokens": 500000},  # every training word is a feature, as scikit-learn's vocabulary
    "model": {"name": "linear", "ngram_buckets": 262144},
    "optimizer": {"name": "sgd"},  # momentum 0.9
    "schedule": {"learning_rate": 4.0},
    "train": {"batch_size": 256, "epochs": 80},
    "callbacks": {"early_stopping": {"monitor": "val_accuracy", "patience": 10}, "checkpoint": False, "backup": False},
}


def datasets() -> dict:
    """name → folder: Rotten Tomatoes, then every ``data/bench/<name>`` holding a manifest.json, sorted."""
    found = {"rotten_tomatoes": os.path.join(ROOT, "data", "rotten_tomatoes")}
    bench = os.path.join(ROOT, "data", "bench")
    for name in sorted(os.listdir(bench)) if os.path.isdir(bench) else []:
        if os.path.exists(os.path.join(bench, name, "manifest.json")):
            found[name] = os.path.join(bench, name)
    return found


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = "GPU" if os.path.exists("/dev/nvidia0") else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} cores ({cpu}), {gpu}, Python {platform.python_version()}"


def is_chinese(path: str) -> bool:
    try:
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as f:
            return json.load(f).get("language", "en") == "zh"
    except FileNotFoundError:
        return False


def read_splits(path: str) -> dict:
    out = {}
    for name in ("train", "validation", "test"):
        records = read_classification(os.path.join(path, f"{name}.tsv")).records
        out[name] = ([r.text for r in records], [r.label for r in records])
    return out


def scores(truth, pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(truth, pred)), "macro_f1": float(f1_score(truth, pred, average="macro"))}


def tfidf_lr(path: str, Cs=TFIDF_CS, min_df: int = 2) -> dict:
    """scikit-learn TF-IDF + LogisticRegression, C picked on validation accuracy (the smaller C on a tie)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train, validation, test = (read_splits(path)[k] for k in ("train", "validation", "test"))
    start = time.perf_counter()
    analyzer = "char" if is_chinese(path) else "word"
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
    x_train = vec.fit_transform(train[0])
    x_val, x_test = vec.transform(validation[0]), vec.transform(test[0])
    grid, best, fit_seconds = {}, None, {}
    for C in Cs:
        fit_start = time.perf_counter()
        model = LogisticRegression(C=C, max_iter=2000).fit(x_train, train[1])
        fit_seconds[C] = time.perf_counter() - fit_start
        grid[C] = scores(validation[1], model.predict(x_val))["accuracy"]
        if best is None or grid[C] > grid[best[0]]:
            best = (C, model)
    C, model = best
    return {**scores(test[1], model.predict(x_test)), "val_accuracy": grid[C], "C": C, "features": int(x_train.shape[1]),
            "seconds": round(time.perf_counter() - start, 1), "fit_seconds_at_C": round(fit_seconds[C], 1),
            "grid": {str(k): round(v, 4) for k, v in grid.items()}}


def register_variants() -> None:
    """Adds ``linear_nb`` (naive-Bayes scaling on) as a model name, in this process only.

    The recipe has no key for the builder's ``naive_bayes``; a second builder name
    lets `textrecipes.workflows.train.train` run it unchanged (the schema reads
    ``model.name``'s choices from `BUILDERS`).
    """
    from textrecipes.models.classifiers import BUILDERS
    from textrecipes.models.linear import build_linear_classifier

    BUILDERS["linear_nb"] = functools.partial(build_linear_classifier, naive_bayes=True)


def merge(a: dict, b: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in a.items()}
    for k, v in b.items():
        out[k] = merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def linear_run(name: str, path: str, method: str, seed: int, recipe: dict) -> dict:
    from textrecipes.workflows.train import train

    cfg = merge(recipe, {"name": f"linear_{name}", "seed": seed, "model": {"name": method},
                         "data": {s: os.path.join(path, f"{s}.tsv") for s in ("train", "validation", "test")},
                         "export": {"keras": False}, "evaluate": {"baseline": False}})  # tfidf_lr is the baseline here
    if is_chinese(path):
        cfg = merge(cfg, {"tokenize": {"split": "word"}})  # CJK characters are tokens of their own (the default)
    result = train(cfg, run_dir=os.path.join(ROOT, "runs", "bench_linear", f"{name}_{method}"), overwrite=True, verbose=0)
    with open(os.path.join(result.run_dir, "metrics.json"), encoding="utf-8") as f:
        summary = json.load(f)
    history = result.history
    return {"accuracy": result.metrics["accuracy"], "macro_f1": result.metrics["macro_f1"],
            "val_accuracy": result.validation_metrics.get("accuracy"), "seconds": summary["train_seconds"],
            "epochs": len(history["loss"]), "best_epoch": int(np.argmax(history["val_accuracy"])) + 1,
            "export_max_abs_diff": summary["export_check"]["max_abs_diff"],
            "solver": summary.get("linear_fit", {}).get("solver", "fit"), "c": summary.get("linear_fit", {}).get("c")}


MEMORY_PROBE = r"""
import json, os, resource, sys, time
import numpy as np, tensorflow as tf, keras
from textrecipes.data.readers import read_classification
from textrecipes.models.linear import adapt_model, build_linear_classifier
from textrecipes.text.pipeline import encode_labels, make_dataset
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, tokenize
path, batch, buckets, nb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
records = read_classification(os.path.join(path, "train.tsv")).records
labels = sorted({r.label for r in records})
task = "binary" if len(labels) == 2 else "multiclass"
texts = [r.text for r in records]
vocab = Vocabulary.build(tokenize(texts), max_tokens=500000)
vec = TextVectorizer(vocab.tokens, max_length=2048)
y = encode_labels([r.label for r in records], labels, task)
model = build_linear_classifier(len(vocab), len(labels), task=task, ngram_buckets=buckets, naive_bayes=nb, c=100.0)
adapt_model(model, make_dataset(texts, y, vec, batch_size=256))
model.compile(keras.optimizers.SGD(4.0, momentum=0.9),
              "binary_crossentropy" if task == "binary" else "sparse_categorical_crossentropy")
order = np.argsort([-len(t) for t in texts])[:batch]
ids = vec(tf.constant([texts[i] for i in order])).numpy()
small = vec(tf.constant([texts[i] for i in order[-2:]])).numpy()
model.train_on_batch(small, y[order[-2:]])  # builds the optimizer and traces once, on two texts
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
model.train_on_batch(ids, y[order])
step = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
features = model.get_layer("tfidf").num_features
print("MEMORY", json.dumps({"batch": batch, "tokens": int(ids.shape[1]), "features": features,
                            "units": int(model.output_shape[-1]), "peak_rss_growth_mb": round((after - before) / 1024, 1),
                            "peak_rss_mb": round(after / 1024, 1), "first_step_seconds": round(step, 2),
                            "dense_matrix_mb": round(batch * features * 4 / 2**20, 1)}))
"""


def memory_probe(path: str, batch: int = 256, nb: bool = True) -> dict:
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, path, str(batch), str(RECIPE["model"]["ngram_buckets"]),
                           "1" if nb else "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.split("MEMORY ", 1)[1])


METHODS = ("tfidf_lr", "linear", "linear_nb")
LABELS = {"tfidf_lr": "TF-IDF+LR (sklearn)", "linear": "linear", "linear_nb": "linear + NB"}


def load_rows(path: str) -> list:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def table(rows: list, command: str) -> str:
    by = {}
    for r in rows:
        by.setdefault(r["dataset"], {}).setdefault(r["method"], []).append(r)
    lines = [
        f"## The linear recipe against scikit-learn's TF-IDF + LogisticRegression ({datetime.date.today().isoformat()})",
        "",
        f"- machine: {machine()}; shared with other jobs (times are indicative; compare within a row)",
        f"- command: `{command}`",
        "- scikit-learn: TfidfVectorizer(word 1-2 grams (char for Chinese), sublinear_tf, min_df=2) + LogisticRegression, "
        f"C from {TFIDF_CS} picked on validation; seconds = vectorizing + the 4 fits (in brackets: the fit at the chosen C)",
        f"- textrecipes: `textrecipes.train` with `bench_linear.RECIPE` = `{json.dumps(RECIPE)}`; `linear_nb` adds "
        "naive-Bayes scaling; seconds = the whole run (tokenize, idf, fit, evaluate, export + check)",
        "- accuracy and macro-F1 on the test split; textrecipes: mean over seeds (n given); Δ = linear − sklearn, points",
        "",
        "| dataset | sklearn acc | sklearn F1 | C | sklearn s | linear acc | linear F1 | Δ acc | s | linear+NB acc "
        "| linear+NB F1 | Δ acc | s | epochs (best) | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    # Without a tfidf_lr row of its own (``--methods linear``), the suite's tuned baseline (results/suite_baselines.jsonl).
    suite = {}
    if os.path.exists(os.path.join(RESULTS, "suite_baselines.jsonl")):
        suite = {r["dataset"]: r for r in load_rows(os.path.join(RESULTS, "suite_baselines.jsonl"))
                 if r.get("method") == "tfidf_lr"}
    for dataset, methods in by.items():
        sk = methods.get("tfidf_lr", [suite.get(dataset)])[0]
        cells = [dataset]
        cells += ([f"{sk['accuracy']:.4f}", f"{sk['macro_f1']:.4f}", f"{sk['C']:g}",
                   f"{sk['seconds']:.0f}" + (f" ({sk['fit_seconds_at_C']:.0f})" if "fit_seconds_at_C" in sk else "")]
                  if sk else ["—"] * 4)
        epochs = []
        for method in ("linear", "linear_nb"):
            runs = methods.get(method)
            if not runs:
                cells += ["—"] * 4
                continue
            acc = np.mean([r["accuracy"] for r in runs])
            f1 = np.mean([r["macro_f1"] for r in runs])
            delta = f"{100 * (acc - sk['accuracy']):+.1f}" if sk else "—"
            cells += [f"{acc:.4f}", f"{f1:.4f}", delta, f"{np.mean([r['seconds'] for r in runs]):.0f}"]
            epochs.append(f"{runs[0]['epochs']} ({runs[0]['best_epoch']})")
            seeds = len(runs)
        cells += [" / ".join(epochs) or "—", str(seeds) if epochs else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    memory = [r for r in rows if r["method"] == "memory"]
    if memory:
        m = memory[-1]
        lines += ["", f"Memory, one training step of `linear_nb` on the {m['batch']} longest {m['dataset']} training texts "
                      f"({m['tokens']} tokens, {m['features']:,} features, {m['units']} units), fresh process: peak RSS grew "
                      f"by {m['peak_rss_growth_mb']} MB (to {m['peak_rss_mb']} MB; step {m['first_step_seconds']} s); a dense "
                      f"(batch, features) float32 matrix alone would take {m['dense_matrix_mb']} MB."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="", help="comma-separated names (default: every dataset found)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--jsonl", default=os.path.join(RESULTS, "linear.jsonl"))
    parser.add_argument("--out", default=os.path.join(RESULTS, "linear.md"))
    args = parser.parse_args()
    found = datasets()
    names = [n for n in args.datasets.split(",") if n] or list(found)
    missing = [n for n in names if n not in found or not os.path.exists(os.path.join(found[n], "train.tsv"))]
    if missing:
        sys.exit(f"missing datasets {missing}: prepare them with `python benchmarks/datasets.py NAME`")
    register_variants()
    command = " ".join(["python"] + [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    os.makedirs(RESULTS, exist_ok=True)
    done = {(r["dataset"], r["method"], r.get("seed")) for r in load_rows(args.jsonl)}

    def record(row):
        row = {**row, "date": datetime.date.today().isoformat(), "machine": machine(), "command": command}
        with open(args.jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    for name in names:
        for method in args.methods.split(","):
            for seed in ([None] if method == "tfidf_lr" else range(args.seeds)):
                if (name, method, seed) in done:
                    continue
                result = tfidf_lr(found[name]) if method == "tfidf_lr" else linear_run(name, found[name], method, seed, RECIPE)
                record({"dataset": name, "method": method, "seed": seed, **result})
    if not args.no_memory and ("memory_probe", "memory", None) not in done:
        longest = "news_outlets" if "news_outlets" in found else names[0]
        record({"dataset": longest, "method": "memory", "seed": None, **memory_probe(found[longest])})
    text = table(load_rows(args.jsonl), command)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
