"""Benchmark: per-step training time of the default LSTM model against the previous default, in one process.

- previous: ``tokenize.max_length = 256`` for everything, bigrams only
  (``model.rnn_length = 0``, ``model.ngram_words = false``);
- new: the defaults (the BiLSTM reads the first ``model.rnn_length = 256``
  tokens, the word+bigram bag the first ``tokenize.max_length = 2048``).

Batches of 32 texts whose lengths are drawn from each dataset's training split
(sorted, as bucketing groups them), random ids; the two models alternate batch
by batch, so load on the machine hits both alike. 2 warm-up batches, then
``--batches`` timed ``train_on_batch`` steps per model; the figure is the ratio.

Usage:

    python benchmarks/bench_step_time.py [--batches 10] [--out benchmarks/results/step_time.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from bench_foundation import machine  # noqa: E402
from textrecipes.data.readers import read_classification  # noqa: E402
from textrecipes.models.classifiers import build_lstm_classifier  # noqa: E402
from textrecipes.text.tokenization import tokenize  # noqa: E402

DATASETS = {"rotten_tomatoes": "data/rotten_tomatoes/train.tsv", "news_outlets": "data/bench/news_outlets/train.tsv"}
BATCH, WARMUP, VOCABULARY, LABELS = 32, 2, 20000, 9


def time_steps(path: str, batches: int, rng: np.random.Generator) -> dict[str, float]:
    """Seconds of training steps per model over ``batches`` timed batches of lengths drawn from ``path``."""
    lengths = np.array([max(1, len(t)) for t in tokenize([r.text for r in read_classification(path).records[:2000]])])
    lengths = np.sort(rng.choice(lengths, BATCH * (batches + WARMUP)))
    models = {"previous": (build_lstm_classifier(VOCABULARY, LABELS, task="multiclass", ngram_words=False, rnn_length=0), 256),
              "new": (build_lstm_classifier(VOCABULARY, LABELS, task="multiclass"), 2048)}
    for model, _ in models.values():
        model.compile("adam", "sparse_categorical_crossentropy")
    seconds = dict.fromkeys(models, 0.0)
    for i in range(batches + WARMUP):
        batch = lengths[i * BATCH:(i + 1) * BATCH]
        y = rng.integers(0, LABELS, BATCH)
        for name, (model, cap) in models.items():
            x = np.zeros((BATCH, min(cap, batch.max())), "int32")  # right-padded to the batch's longest text
            for row, n in enumerate(np.minimum(batch, cap)):
                x[row, :n] = rng.integers(2, VOCABULARY, n)
            start = time.perf_counter()
            model.train_on_batch(x, y)
            if i >= WARMUP:
                seconds[name] += time.perf_counter() - start
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "step_time.md"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for name, path in DATASETS.items():
        s = time_steps(os.path.join(ROOT, path), args.batches, rng)
        rows.append(f"| {name} | {s['previous']:.2f} | {s['new']:.2f} | {s['new'] / s['previous']:.2f}x |")
        print(rows[-1], flush=True)
    command = "python benchmarks/bench_step_time.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        f"## Step time, whole-text default vs previous default ({datetime.date.today()})", "",
        f"- machine: {machine()}", f"- command: `{command.strip()}`",
        f"- {args.batches} timed batches of {BATCH} per model and dataset, the two models alternating", "",
        "| dataset | previous s | new s | new / previous |", "|---|---|---|---|", *rows, ""])
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
