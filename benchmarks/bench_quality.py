"""Quality against what users would pick instead, on several real datasets.

For each dataset (Rotten Tomatoes plus those prepared by `benchmarks/datasets.py`):
TF-IDF (word 1-2 grams, sublinear tf) + logistic regression, and textrecipes model
configurations trained by the recipe runner with the default recipe's settings
(early stopping on val_loss, best weights). Reports test accuracy, macro-F1 and
training time, averaged over seeds. This is how the default model was chosen.

Usage:
    python benchmarks/datasets.py all            # once: fetch the extra datasets
    python benchmarks/bench_quality.py [--datasets rotten_tomatoes,fortunes_topics,...] [--seeds 2]
        [--configs default,keras_io,...] [--first-seed 0] [--out benchmarks/results/quality.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from textrecipes.data.readers import read_classification  # noqa: E402

DATASETS = {
    "rotten_tomatoes": os.path.join(ROOT, "data", "rotten_tomatoes"),
    "fortunes_topics": os.path.join(ROOT, "data", "bench", "fortunes_topics"),
    "news_outlets": os.path.join(ROOT, "data", "bench", "news_outlets"),
    "convention_party": os.path.join(ROOT, "data", "bench", "convention_party"),
}

# Model settings compared; every other key is the default recipe's.
CONFIGS = {
    "keras_io": {"model": {"bidirectional": False, "pooling": "last", "embedding_dropout": 0.0}},
    "default": {},
    "bigrams": {"model": {"ngram_buckets": 131072}},
    "len512": {"tokenize": {"max_length": 512}},
    "lr5e-4": {"schedule": {"learning_rate": 5e-4}},
    "minfreq2": {"tokenize": {"min_freq": 2}},
    "uni_meanmax": {"model": {"bidirectional": False}},
    "nobigrams": {"model": {"ngram_buckets": 0}},
    "tokdrop0.2": {"model": {"token_dropout": 0.2}},
    # The default before the whole-text n-gram branch (2026-11-26): 256 tokens for both, bigrams only.
    "previous": {"tokenize": {"max_length": 256}, "model": {"rnn_length": 0, "ngram_words": False}},
    # issue: long documents. The RNN reads the first 256 tokens; the n-gram branch the whole text.
    "whole_bigrams": {"tokenize": {"max_length": 2048}, "model": {"rnn_length": 256}},
    "words": {"model": {"ngram_words": True}},
    "whole_words": {"tokenize": {"max_length": 2048}, "model": {"rnn_length": 256, "ngram_words": True}},
    "whole_words_ep30": {"tokenize": {"max_length": 2048}, "model": {"rnn_length": 256, "ngram_words": True},
                         "train": {"epochs": 30}},
    # 2026-11-26: the n-gram branch pooled with sum / sqrt(n) (now the default) against the mean before it.
    "mean_pool": {"model": {"ngram_pooling": "mean"}},
    "ep30": {"train": {"epochs": 30}},
    "bigrams_only": {"model": {"ngram_words": False}},  # recipes/sentiment_lstm.toml's branch
    "fasttext": {"model": {"name": "fasttext"}},
    "fasttext_mean": {"model": {"name": "fasttext", "ngram_pooling": "mean"}},
}


def merge(a: dict, b: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in a.items()}
    for k, v in b.items():
        out[k] = {**out.get(k, {}), **v} if isinstance(v, dict) else v
    return out


def tfidf_lr(path: str, C: float = 10.0) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    split = {s: read_classification(os.path.join(path, f"{s}.tsv")).records for s in ("train", "test")}
    start = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform([r.text for r in split["train"]])
    model = LogisticRegression(C=C, max_iter=3000).fit(x, [r.label for r in split["train"]])
    seconds = time.perf_counter() - start
    pred = model.predict(vec.transform([r.text for r in split["test"]]))
    truth = [r.label for r in split["test"]]
    return {"accuracy": accuracy_score(truth, pred), "macro_f1": f1_score(truth, pred, average="macro"), "seconds": seconds}


def textrecipes_run(name: str, path: str, config: dict, seed: int) -> dict:
    from textrecipes.workflows.train import train

    recipe = merge({
        "name": f"q_{name}",
        "seed": seed,
        "data": {s: os.path.join(path, f"{s}.tsv") for s in ("train", "validation", "test")},
        "callbacks": {"checkpoint": False, "backup": False},
    }, config)
    start = time.perf_counter()
    result = train(recipe, run_dir=os.path.join(ROOT, "runs", "bench_quality", name), overwrite=True, verbose=0)
    monitored = result.history.get("val_accuracy", result.history["loss"])
    return {"accuracy": result.metrics["accuracy"], "macro_f1": result.metrics["macro_f1"],
            "seconds": time.perf_counter() - start, "epochs": len(result.history["loss"]),
            "best_epoch": int(np.argmax(monitored)) + 1 if "val_accuracy" in result.history else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--configs", default="keras_io,default,bigrams")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run: first-seed .. first-seed + seeds - 1")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "quality.md"))
    parser.add_argument("--jsonl", default=os.path.join(ROOT, "benchmarks", "results", "quality.jsonl"))
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    rows = []
    for dataset in args.datasets.split(","):
        path = DATASETS[dataset]
        if not os.path.exists(os.path.join(path, "train.tsv")):
            sys.exit(f"{path}/train.tsv missing: run `python benchmarks/datasets.py all` (or `make data`)")
        runs = {"tfidf_lr (C=10)": [tfidf_lr(path)]}
        for config in args.configs.split(","):
            runs[config] = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                r = textrecipes_run(dataset, path, CONFIGS[config], seed)
                runs[config].append(r)
                with open(args.jsonl, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"dataset": dataset, "config": config, "seed": seed, **r}) + "\n")
                print(dataset, config, seed, json.dumps(r), flush=True)
        for config, results in runs.items():
            acc = np.array([r["accuracy"] for r in results])
            f1 = np.array([r["macro_f1"] for r in results])
            secs = np.mean([r["seconds"] for r in results])
            rows.append(f"| {dataset} | {config} | {acc.mean():.4f} ± {acc.std():.4f} | {f1.mean():.4f} ± {f1.std():.4f} "
                        f"| {secs:.0f} | {len(results)} |")
    text = "\n".join([
        f"## Quality benchmark ({datetime.date.today().isoformat()})",
        "",
        f"- command: `{' '.join([os.path.relpath(sys.executable, ROOT)] + sys.argv)}`",
        "- test split of each dataset; textrecipes runs use the default recipe's settings plus the named change",
        "",
        "| dataset | model | test accuracy | macro-F1 | train s | seeds |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    print(text)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
