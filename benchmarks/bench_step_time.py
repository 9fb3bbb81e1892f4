"""Per-step training time of the default LSTM model against the previous default, interleaved in one process.

previous: max_length 256 for everything, bigrams only (model.rnn_length = 0, model.ngram_words = false);
new: the defaults (the LSTM reads the first 256 tokens, the word+bigram bag the first 2048).
Batches of 32 texts whose lengths are drawn from each dataset's training split (sorted, like
bucketing), random ids; 2 warm-up batches, then 10 timed train_on_batch steps per model.

Usage:
    python benchmarks/bench_step_time.py
"""
import os, time, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.chdir(ROOT)
from textrecipes.models import build_lstm_classifier
from textrecipes.datasets import read_classification
from textrecipes.tokenization import tokenize
rng = np.random.default_rng(0)
def lengths(path, n=32*12):
    recs = read_classification(path).records
    L = np.array([len(t) for t in tokenize([r.text for r in recs[:2000]])])
    return rng.choice(L, n)
for name, path in [("rotten_tomatoes", "data/rotten_tomatoes/train.tsv"), ("news_outlets", "data/bench/news_outlets/train.tsv")]:
    L = lengths(path)
    models = {"previous": (build_lstm_classifier(20000, 9, task="multiclass", ngram_words=False, rnn_length=0), 256),
              "new": (build_lstm_classifier(20000, 9, task="multiclass"), 2048)}
    for m, _ in models.values():
        m.compile("adam", "sparse_categorical_crossentropy")
    times = {k: [] for k in models}
    for i in range(12):
        # bucketed-like batches: similar lengths together
        batch = np.sort(L)[i * 32:(i + 1) * 32]
        for k, (m, cap) in models.items():
            width = min(cap, batch.max())
            x = np.zeros((32, width), "int32")
            for r, l in enumerate(batch):
                x[r, :min(l, cap)] = rng.integers(2, 20000, min(l, cap))
            y = rng.integers(0, 9, 32)
            t = time.perf_counter(); m.train_on_batch(x, y); dt = time.perf_counter() - t
            if i >= 2: times[k].append(dt)
    p, n = sum(times["previous"]), sum(times["new"])
    print(f"{name}: previous {p:.2f} s, new {n:.2f} s over 10 batches of 32; ratio new/previous {n / p:.2f}")
