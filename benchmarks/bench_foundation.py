"""Foundation benchmark: textrecipes vs a keras-io-style reference on Rotten Tomatoes.

Same data, same machine, same run. The reference follows the keras-io examples:
`TextVectorization` with a fixed ``output_sequence_length``, a `Sequential`
Embedding(mask_zero)-LSTM-Dropout-Dense model and a plain `fit`. textrecipes is
timed twice: with the *same model* (unidirectional LSTM, last state) so that
only the input pipeline differs (per-batch padding, length bucketing), and with
its default recipe model (BiLSTM with masked mean/max pooling and the hashed-bigram branch).

Training throughput is samples/s over epochs 2..N (epoch 1 includes tracing).
Accuracy is on the test split after the last epoch (no early stopping for
either, so both get the same budget) and, for the default recipe, after the
runner's own early stopping as a user would get it.

Usage:
    python benchmarks/bench_foundation.py [--epochs 3] [--repeats 1] [--out benchmarks/results/foundation.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from textrecipes.data.readers import read_classification  # noqa: E402
from textrecipes.models.classifiers import build_lstm_classifier  # noqa: E402
from textrecipes.text.pipeline import encode_labels, make_dataset  # noqa: E402
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, tokenize  # noqa: E402

DATA = os.path.join(ROOT, "data", "rotten_tomatoes")
MAX_TOKENS, EMBED, UNITS, BATCH, SEQ_LEN = 20000, 128, 128, 32, 200


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def load():
    splits = {s: read_classification(os.path.join(DATA, f"{s}.tsv")).records for s in ("train", "validation", "test")}
    labels = sorted({r.label for r in splits["train"]})
    texts = {s: [r.text for r in rs] for s, rs in splits.items()}
    y = {s: encode_labels([r.label for r in rs], labels, "binary") for s, rs in splits.items()}
    return texts, y


def run_reference(texts, y, epochs, seed):
    """keras-io style: TextVectorization(output_sequence_length=200) in tf.data, Sequential model."""
    keras.utils.set_random_seed(seed)
    vectorize = keras.layers.TextVectorization(max_tokens=MAX_TOKENS, output_mode="int", output_sequence_length=SEQ_LEN)
    vectorize.adapt(tf.data.Dataset.from_tensor_slices(texts["train"]).batch(256))

    def ds(split, shuffle=False):
        d = tf.data.Dataset.from_tensor_slices((texts[split], y[split]))
        if shuffle:
            d = d.shuffle(len(texts[split]), seed=seed)
        return d.batch(BATCH).map(lambda x, t: (vectorize(x), t), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    model = keras.Sequential([
        keras.Input(shape=(SEQ_LEN,), dtype="int64"),
        keras.layers.Embedding(MAX_TOKENS, EMBED, mask_zero=True),
        keras.layers.LSTM(UNITS),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(ds("train", True), validation_data=ds("validation"), epochs=epochs, verbose=0, callbacks=[timer])
    probs = model.predict(ds("test"), verbose=0)[:, 0]
    return timer.times, float(((probs > 0.5) == (y["test"][:, 0] > 0.5)).mean())


def run_textrecipes(texts, y, epochs, seed, **model_options):
    """textrecipes' pipeline (per-batch padding, bucketing) and builder."""
    keras.utils.set_random_seed(seed)
    vocab = Vocabulary.build(tokenize(texts["train"]), max_tokens=MAX_TOKENS)
    vectorizer = TextVectorizer(vocab.tokens, max_length=256)
    train_ds = make_dataset(texts["train"], y["train"], vectorizer, batch_size=BATCH, shuffle=True, seed=seed, bucket=True)
    val_ds = make_dataset(texts["validation"], y["validation"], vectorizer, batch_size=256)
    test_ds = make_dataset(texts["test"], y["test"], vectorizer, batch_size=256)
    model = build_lstm_classifier(len(vocab), 2, embedding_dim=EMBED, units=UNITS, seed=seed, **model_options)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, callbacks=[timer], shuffle=False)
    probs = model.predict(test_ds, verbose=0)[:, 0]
    return timer.times, float(((probs > 0.5) == (y["test"][:, 0] > 0.5)).mean())


def run_default_recipe(seed):
    """The default recipe exactly as `make demo` trains it (early stopping included)."""
    from textrecipes.workflows.train import train

    result = train(os.path.join(ROOT, "recipes", "sentiment_lstm.toml"), overrides=[f"seed={seed}"],
                   run_dir=os.path.join(ROOT, "runs", f"bench_default_{seed}"), overwrite=True, verbose=0)
    return result.metrics["accuracy"], result.metrics["macro_f1"], len(result.history["loss"])


def tfidf_baseline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, y = load()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    model = LogisticRegression(C=4, max_iter=2000).fit(vec.fit_transform(texts["train"]), y["train"][:, 0])
    return float((model.predict(vec.transform(texts["test"])) == y["test"][:, 0]).mean())


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores, {cpu}; TF {tf.__version__}, Keras {keras.__version__}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1, help="seeds per configuration")
    parser.add_argument("--default-seeds", type=int, default=3, help="seeds for the default recipe's accuracy")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "foundation.md"))
    args = parser.parse_args()
    texts, y = load()
    n = len(texts["train"])
    rows = []
    for seed in range(args.repeats):
        for name, fn in (
            ("keras-io reference (LSTM, fixed length 200)", lambda: run_reference(texts, y, args.epochs, seed)),
            ("textrecipes, same model (LSTM, last state)", lambda: run_textrecipes(
                texts, y, args.epochs, seed, bidirectional=False, pooling="last", embedding_dropout=0.0)),
            ("textrecipes default model (BiLSTM, mean+max pool, bigram branch)", lambda: run_textrecipes(texts, y, args.epochs, seed)),
        ):
            times, acc = fn()
            steady = times[1:] or times
            rows.append((name, seed, n * len(steady) / sum(steady), acc))
            print(f"{name} seed {seed}: {rows[-1][2]:.0f} samples/s, test accuracy {acc:.4f}", flush=True)
    ref = {s: r[2] for r in rows for s in [r[1]] if r[0].startswith("keras-io")}
    defaults = [run_default_recipe(seed) for seed in range(args.default_seeds)]
    tfidf = tfidf_baseline()

    lines = [
        f"## Foundation benchmark ({datetime.date.today().isoformat()})",
        "",
        f"- machine: {machine()}",
        f"- command: `{' '.join([os.path.relpath(sys.executable, ROOT)] + sys.argv)}`",
        f"- data: Rotten Tomatoes, {n} train / {len(texts['test'])} test reviews; batch {BATCH}, "
        f"embedding {EMBED}, LSTM {UNITS} units, {args.epochs} epochs, no early stopping",
        "",
        "| pipeline and model | seed | train samples/s | ratio to reference | test accuracy |",
        "|---|---|---|---|---|",
    ]
    for name, seed, sps, acc in rows:
        lines.append(f"| {name} | {seed} | {sps:.0f} | {sps / ref[seed]:.2f}x | {acc:.4f} |")
    accs = np.array([d[0] for d in defaults])
    f1s = np.array([d[1] for d in defaults])
    lines += [
        "",
        f"Default recipe as `make demo` runs it (early stopping on val_accuracy, best weights), {len(defaults)} seeds: "
        f"test accuracy {accs.mean():.4f} ± {accs.std():.4f} (per seed {', '.join(f'{a:.4f}' for a in accs)}), "
        f"macro-F1 {f1s.mean():.4f} ± {f1s.std():.4f}, epochs run {[d[2] for d in defaults]}.",
        f"TF-IDF (1-2 grams, sublinear tf) + logistic regression (C=4) on the same split: test accuracy {tfidf:.4f}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
