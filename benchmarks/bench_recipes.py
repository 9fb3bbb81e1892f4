"""Model recipes against TF-IDF + logistic regression, on sentiment and on a 15-class topic task.

For each dataset (Rotten Tomatoes; fortunes_topics, prepared by `benchmarks/datasets.py`), in one
run: TF-IDF (word 1-2 grams, sublinear tf) + LogisticRegression (scikit-learn), and each
textrecipes model recipe (`lstm`, `lstm` with attention pooling, `gru`, `cnn`, `fasttext`) at the
recipe defaults' sizes, trained with Adam 1e-3, batch 32, early stopping on validation accuracy
(patience 2, best weights restored; training seconds include the per-epoch validation pass). The fastText-style linear model is our `fasttext` recipe:
masked means of word and hashed-bigram embeddings straight into the softmax (no hidden layer).
Reports test accuracy, macro-F1 and training seconds.

The training part needs only keras, numpy and scikit-learn, so it runs under
KERAS_BACKEND=jax on a machine without TensorFlow:

    # here (TensorFlow): tokenize with textrecipes' rules and vocabulary, save .npz per dataset
    python benchmarks/bench_recipes.py --dump runs/bench_recipes_npz --max-train 3000
    # anywhere with keras + jax (no tensorflow import on this path)
    KERAS_BACKEND=jax python benchmarks/bench_recipes.py --from-npz runs/bench_recipes_npz --epochs 10
    # both at once (what the results file was made with)
    python benchmarks/bench_recipes.py --max-train 3000 --epochs 4 --out benchmarks/results/recipes.md

Batches are right-padded to a multiple of 32 tokens (few shapes, so few recompiles under jit);
texts are truncated to --max-length tokens.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

DATASETS = {
    "rotten_tomatoes": os.path.join(ROOT, "data", "rotten_tomatoes"),
    "fortunes_topics": os.path.join(ROOT, "data", "bench", "fortunes_topics"),
    "news_outlets": os.path.join(ROOT, "data", "bench", "news_outlets"),
    "convention_party": os.path.join(ROOT, "data", "bench", "convention_party"),
}
WIDTHS = ()  # --widths: pad each batch to the next of these (fewer shapes to compile under JAX)

# The recipes compared; every other builder argument is the builder's default
# (= the recipe defaults: embedding 128, units 128, dropout 0.5, word dropout 0.2, ...).
RECIPES = {
    "lstm": ("lstm", {}),
    "lstm_attention": ("lstm", {"pooling": "attention"}),
    "gru": ("gru", {}),
    "cnn": ("cnn", {"units": 128, "kernel_sizes": (3, 4, 5)}),
    "fasttext": ("fasttext", {}),
}


# ---------------------------------------------------------------------------
# --dump: TensorFlow side. Tokenize with textrecipes and save ids as .npz.


def dump(out_dir: str, names: list[str], max_train: int, max_tokens: int, max_length: int, seed: int) -> None:
    from textrecipes.data.readers import read_classification
    from textrecipes.text.tokenization import Vocabulary, tokenize

    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        splits = {s: read_classification(os.path.join(DATASETS[name], f"{s}.tsv")).records
                  for s in ("train", "validation", "test")}
        train = splits["train"]
        full = len(train)
        if max_train and len(train) > max_train:  # a seeded random subset, not the file's first lines
            keep = np.sort(np.random.default_rng(seed).permutation(len(train))[:max_train])
            train = [train[i] for i in keep]
            splits["train"] = train
        labels = sorted({r.label for r in train})
        index = {l: i for i, l in enumerate(labels)}
        tokens = {s: tokenize([r.text for r in recs]) for s, recs in splits.items()}
        vocab = Vocabulary.build(tokens["train"], max_tokens=max_tokens)
        arrays = {"labels": np.array(labels), "vocabulary_size": np.array(len(vocab)),
                  "full_train": np.array(full)}
        for s, recs in splits.items():
            ids = [vocab.ids(t)[:max_length] or [1] for t in tokens[s]]  # an empty text is one OOV id
            arrays[f"{s}_flat"] = np.array([i for row in ids for i in row], dtype="int32")
            arrays[f"{s}_offsets"] = np.cumsum([0] + [len(r) for r in ids]).astype("int64")
            arrays[f"{s}_y"] = np.array([index[r.label] for r in recs], dtype="int32")
            arrays[f"{s}_text"] = np.array([r.text for r in recs])
        np.savez_compressed(os.path.join(out_dir, f"{name}.npz"), **arrays)
        print(f"{name}: {len(splits['train'])}/{full} train, {len(splits['validation'])} validation, "
              f"{len(splits['test'])} test, {len(labels)} labels, vocabulary {len(vocab)} -> {out_dir}/{name}.npz", flush=True)


# ---------------------------------------------------------------------------
# --from-npz: keras + numpy + scikit-learn only (no TensorFlow import).


def load_npz(path: str) -> dict:
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    for s in ("train", "validation", "test"):
        flat, off = data.pop(f"{s}_flat"), data.pop(f"{s}_offsets")
        data[f"{s}_ids"] = [flat[off[i]:off[i + 1]] for i in range(len(off) - 1)]
    return data


def pad_batch(rows, multiple: int = 32) -> np.ndarray:
    longest = max(len(r) for r in rows)
    width = max(multiple, math.ceil(longest / multiple) * multiple)
    width = next((w for w in WIDTHS if w >= longest), width)
    out = np.zeros((len(rows), width), dtype="int32")
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def predict(model, ids, batch_size: int = 256) -> np.ndarray:
    order = np.argsort([len(r) for r in ids], kind="stable")  # similar lengths together: less padding
    out = [None] * len(ids)
    for start in range(0, len(ids), batch_size):
        idx = order[start:start + batch_size]
        probs = np.asarray(model.predict_on_batch(pad_batch([ids[j] for j in idx])))
        for j, p in zip(idx, probs):
            out[j] = p
    return np.stack(out)


def scores(truth, pred) -> dict:
    try:
        from sklearn.metrics import accuracy_score, f1_score
    except ImportError:  # the GPU machine has no scikit-learn: the same two figures in numpy
        truth, pred = np.asarray(truth), np.asarray(pred)
        f1s = []
        for c in np.union1d(truth, pred):
            tp = np.sum((pred == c) & (truth == c))
            denominator = np.sum(pred == c) + np.sum(truth == c)
            f1s.append(2 * tp / denominator if denominator else 0.0)
        return {"accuracy": float(np.mean(truth == pred)), "macro_f1": float(np.mean(f1s))}
    return {"accuracy": float(accuracy_score(truth, pred)), "macro_f1": float(f1_score(truth, pred, average="macro"))}


def tfidf_lr(data: dict) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform(list(data["train_text"]))
    model = LogisticRegression(C=10.0, max_iter=3000).fit(x, data["train_y"])
    seconds = time.perf_counter() - start
    return {**scores(data["test_y"], model.predict(vec.transform(list(data["test_text"])))), "seconds": seconds, "epochs": "-"}


def train_recipe(data: dict, builder: str, options: dict, epochs: int, seed: int, patience: int = 2) -> dict:
    """Trains one recipe with `train_on_batch` over shuffled, right-padded batches; early stopping by hand.

    Why not `fit` over a generator: with the TensorFlow backend `fit` fixes the batch shape it
    saw in its first batches, so batches of another width fail; `train_on_batch` compiles once
    per width (a multiple of 32) on every backend.
    """
    import keras

    from textrecipes.models.classifiers import BUILDERS
    from textrecipes.models.losses import loss_for

    keras.utils.set_random_seed(seed)
    num_labels = len(data["labels"])
    task = "binary" if num_labels == 2 else "multiclass"
    model = BUILDERS[builder](int(data["vocabulary_size"]), num_labels, task=task, seed=seed, **options)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss_for(task))
    ids, y = data["train_ids"], data["train_y"].astype("float32" if task == "binary" else "int32")

    def accuracy(split):
        probs = predict(model, data[f"{split}_ids"])
        pred = (probs[:, 0] > 0.5).astype(int) if task == "binary" else probs.argmax(-1)
        return pred, float(np.mean(pred == data[f"{split}_y"]))

    rng = np.random.default_rng(seed)
    best_weights, best, wait, run = None, -1.0, 0, 0
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(ids))
        for i in range(0, len(ids), 32):
            idx = order[i:i + 32]
            model.train_on_batch(pad_batch([ids[j] for j in idx]), y[idx])
        run += 1
        _, val = accuracy("validation")
        if val > best:
            best, best_weights, wait = val, model.get_weights(), 0
        else:
            wait += 1
            if wait >= patience:
                break
    model.set_weights(best_weights)
    seconds = time.perf_counter() - start
    pred, _ = accuracy("test")
    return {**scores(data["test_y"], pred), "seconds": seconds, "epochs": run, "val_accuracy": best}


def run_from_npz(npz_dir: str, names: list[str], recipes: list[str], epochs: int, seed: int) -> list[dict]:
    rows = []
    for name in names:
        data = load_npz(os.path.join(npz_dir, f"{name}.npz"))
        try:
            base = tfidf_lr(data)
        except ImportError:  # no scikit-learn here (the GPU machine): the baseline runs on the CPU machine
            base = {"accuracy": float("nan"), "macro_f1": float("nan"), "seconds": 0.0, "epochs": "-"}
        rows.append({"dataset": name, "model": "tfidf_lr", **base, "ratio": 1.0,
                     "train": len(data["train_ids"]), "full_train": int(data["full_train"])})
        print(json.dumps(rows[-1]), flush=True)
        for recipe in recipes:
            builder, options = RECIPES[recipe]
            result = train_recipe(data, builder, options, epochs, seed)
            rows.append({"dataset": name, "model": recipe, **result, "ratio": result["accuracy"] / base["accuracy"],
                         "train": len(data["train_ids"]), "full_train": int(data["full_train"])})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def write_markdown(rows: list[dict], path: str, command: str, args) -> None:
    import keras

    lines = [
        "# Model recipes against TF-IDF + logistic regression",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: {args.machine}. Keras {keras.__version__}, "
        f"backend {keras.backend.backend()}, Python {platform.python_version()}.",
        "",
        f"Command: `{command}`",
        "",
        "Training examples: " + ", ".join(f"{r['dataset']} {r['train']} of {r['full_train']}" for r in rows
                                          if r["model"] == "tfidf_lr")
        + f" (a seeded random subset, `--max-train {args.max_train}`), full validation and test splits; "
        f"up to {args.epochs} epochs, early stopping on validation accuracy (patience 2, best weights). "
        "Sizes are the recipe defaults (embedding 128, units 128, bigram buckets 131072); `cnn` uses 128 "
        "filters for each of the widths 3, 4, 5. `fasttext` is the fastText-style linear model (our builder, "
        "no hidden layer). One seed: differences of a point or two are within seed noise on these test sizes.",
        "",
        "`ratio` is test accuracy divided by TF-IDF + LR's on the same dataset in the same run.",
        "",
        "| dataset | model | test accuracy | macro-F1 | ratio to TF-IDF+LR | train seconds | epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['model']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['ratio']:.3f} | "
                     f"{r['seconds']:.1f} | {r['epochs']} |")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--max-train", type=int, default=3000, help="training examples per dataset (0: all)")
    parser.add_argument("--max-tokens", type=int, default=20000)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump", metavar="DIR", help="tokenize (needs TensorFlow) and save .npz files, then stop")
    parser.add_argument("--from-npz", metavar="DIR", help="train from saved .npz files (keras/numpy/sklearn only)")
    parser.add_argument("--out", default="", help="markdown results file")
    parser.add_argument("--machine", default="2-core AMD EPYC, shared")
    parser.add_argument("--widths", default="", help="pad batches to the next of these widths, e.g. 32,64,128,256")
    args = parser.parse_args(argv)
    global WIDTHS
    WIDTHS = tuple(int(w) for w in args.widths.split(",") if w)
    names = [n for n in args.datasets.split(",") if n]
    recipes = [r for r in args.recipes.split(",") if r]
    unknown = [r for r in recipes if r not in RECIPES] + [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset or recipe: {unknown}")
    command = "python benchmarks/bench_recipes.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.dump:
        dump(args.dump, names, args.max_train, args.max_tokens, args.max_length, args.seed)
        return
    npz_dir = args.from_npz
    if not npz_dir:
        npz_dir = tempfile.mkdtemp(prefix="bench_recipes_")
        dump(npz_dir, names, args.max_train, args.max_tokens, args.max_length, args.seed)
    rows = run_from_npz(npz_dir, names, recipes, args.epochs, args.seed)
    if args.out:
        write_markdown(rows, args.out, command, args)


if __name__ == "__main__":
    main()
