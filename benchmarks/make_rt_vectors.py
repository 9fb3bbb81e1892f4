"""Makes data/samples/rt_vectors.txt: small GloVe-format word vectors from Rotten Tomatoes.

PPMI over a ±4-token window on the training split, reduced by SVD to 32
dimensions, for the 500 most frequent words. A sample for tests and the README,
not vectors to win with. Deterministic (no randomness).

    python benchmarks/make_rt_vectors.py   # writes data/samples/rt_vectors.txt
"""

import collections
import os

import numpy as np

from textrecipes.text.tokenization import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS, DIM, WINDOW = 500, 32, 4


def main():
    with open(os.path.join(ROOT, "data", "rotten_tomatoes", "train.tsv"), encoding="utf-8") as f:
        texts = [line.rstrip("\n").split("\t", 1)[1] for line in f if "\t" in line]
    docs = tokenize(texts, split="word", lowercase=True)
    counts = collections.Counter(t for d in docs for t in d)
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:WORDS]]
    index = {w: i for i, w in enumerate(words)}
    co = np.zeros((WORDS, WORDS))
    for d in docs:
        ids = [index.get(t, -1) for t in d]
        for i, a in enumerate(ids):
            if a < 0:
                continue
            for b in ids[max(0, i - WINDOW): i] + ids[i + 1: i + 1 + WINDOW]:
                if b >= 0:
                    co[a, b] += 1
    total = co.sum()
    pmi = np.log(np.maximum(co * total, 1e-12) / np.outer(co.sum(1), co.sum(0)).clip(1e-12))
    ppmi = np.maximum(pmi, 0)
    u, s, _ = np.linalg.svd(ppmi, full_matrices=False)
    vectors = u[:, :DIM] * np.sqrt(s[:DIM])
    vectors /= np.abs(vectors).max()
    vectors *= np.sign(vectors[0])  # a fixed sign per column, whatever the SVD chose
    out = os.path.join(ROOT, "data", "samples", "rt_vectors.txt")
    with open(out, "w", encoding="utf-8") as f:
        for w, v in zip(words, vectors):
            f.write(w + " " + " ".join(f"{x:.4f}" for x in v) + "\n")
    print(f"wrote {out}: {len(words)} words, dim {DIM}")


if __name__ == "__main__":
    main()
