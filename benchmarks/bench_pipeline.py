"""Benchmark: the input pipeline (issue 5), on CPU.

1. Throughput. The same model (Embedding 128 with mask_zero → unidirectional
   LSTM 128 → Dropout 0.5 → Dense, `build_lstm_classifier(pooling="last")`),
   the same data (Rotten Tomatoes train/test, `data/rotten_tomatoes`), batch 32,
   Adam 1e-3, fed by two pipelines:

   - reference (keras-io style): `keras.layers.TextVectorization(max_tokens=20000,
     output_sequence_length=200)` mapped over a shuffled, batched
     `tf.data.Dataset`: every batch padded to 200, no bucketing;
   - textrecipes: `Vocabulary` + `TextVectorizer(max_length=200)` +
     `make_dataset(bucket=True)`: each batch padded to its own longest text,
     texts of similar length batched together.

   One warm-up epoch, then training samples/s over 2 more epochs; then test
   accuracy after those 3 epochs.

2. Streaming memory. In a fresh process each: `build_vocabulary_streaming` and
   one epoch of `stream_dataset` with a tiny model (embedding 8, LSTM 8, batch
   512) on a generated TSV; peak RSS (`ru_maxrss`) against the file's size, and a
   floor: the same process that only builds and compiles the tiny model.

Usage:

    python benchmarks/bench_pipeline.py [--lines 1000000] [--small-lines 100000] [--out benchmarks/results/pipeline.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def read_tsv(path):
    labels, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            label, text = line.rstrip("\n").split("\t", 1)
            labels.append(label)
            texts.append(text)
    return labels, texts


class EpochTimer:
    def __init__(self):
        import keras

        class _T(keras.callbacks.Callback):
            def __init__(cb):
                super().__init__()
                cb.times = []

            def on_epoch_begin(cb, epoch, logs=None):
                cb.start = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):
                cb.times.append(time.perf_counter() - cb.start)

        self.callback = _T()


def throughput(which: str, epochs: int = 3, seed: int = 0) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from textrecipes.models.classifiers import build_lstm_classifier
    from textrecipes.text.pipeline import make_dataset
    from textrecipes.text.tokenization import TextVectorizer, Vocabulary, tokenize

    keras.utils.set_random_seed(seed)
    train_labels, train_texts = read_tsv(os.path.join(ROOT, "data/rotten_tomatoes/train.tsv"))
    test_labels, test_texts = read_tsv(os.path.join(ROOT, "data/rotten_tomatoes/test.tsv"))
    names = sorted(set(train_labels))
    y_train = np.array([[names.index(l)] for l in train_labels], dtype="float32")
    y_test = np.array([[names.index(l)] for l in test_labels], dtype="float32")
    if which == "reference":
        vectorize = keras.layers.TextVectorization(max_tokens=20000, output_sequence_length=200)
        vectorize.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))
        vocab_size = vectorize.vocabulary_size()

        def pipe(texts, y, shuffle):
            ds = tf.data.Dataset.from_tensor_slices((texts, y))
            if shuffle:
                ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
            return ds.batch(32).map(lambda x, t: (vectorize(x), t), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
                tf.data.AUTOTUNE)

        train_ds, test_ds = pipe(train_texts, y_train, True), pipe(test_texts, y_test, False)
    else:
        vocab = Vocabulary.build(tokenize(train_texts), max_tokens=20000)
        vectorizer = TextVectorizer(vocab.tokens, max_length=200)
        vocab_size = len(vocab)
        train_ds = make_dataset(train_texts, y_train, vectorizer, batch_size=32, shuffle=True, seed=seed, bucket=True)
        test_ds = make_dataset(test_texts, y_test, vectorizer, batch_size=32)
    widths = [int(x.shape[1]) for x, _ in train_ds]
    model = build_lstm_classifier(vocab_size, 2, embedding_dim=128, units=128, bidirectional=False, pooling="last",
                                  dropout=0.5, embedding_dropout=0.0, seed=seed)
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["binary_accuracy"])
    timer = EpochTimer()
    model.fit(train_ds, epochs=epochs, verbose=0, callbacks=[timer.callback])
    timed = timer.callback.times[1:]
    _, accuracy = model.evaluate(test_ds, verbose=0)
    return {"pipeline": which, "vocabulary": vocab_size, "epoch_seconds": [round(t, 2) for t in timer.callback.times],
            "samples_per_s": len(train_texts) * len(timed) / sum(timed), "test_accuracy": float(accuracy),
            "mean_batch_width": float(np.mean(widths)), "train": len(train_texts), "test": len(test_texts)}


# ---------------------------------------------------------------------------
# Streaming.


def generate_tsv(path: str, lines: int, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(50_000)])
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, lines, 10_000):
            n = min(10_000, lines - start)
            lengths = rng.integers(3, 30, size=n)
            tokens = rng.choice(words, size=int(lengths.sum()), p=p)
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            labels = rng.integers(0, 2, size=n)
            f.writelines(f"{'pos' if y else 'neg'}\t{'great' if y else 'awful'} {' '.join(tokens[a:b])}\n"
                         for y, a, b in zip(labels, offsets[:-1], offsets[1:]))


STREAM_CHILD = """
import json, os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, sys.argv[3])
import keras
from textrecipes.models.classifiers import build_lstm_classifier
mode, path = sys.argv[1], sys.argv[2]
out = {"mode": mode}
if mode == "floor":
    model = build_lstm_classifier(20000, 2, embedding_dim=8, units=8, bidirectional=False)
    model.compile("adam", "binary_crossentropy")
else:
    from textrecipes.data.streaming import build_vocabulary_streaming, stream_dataset
    from textrecipes.text.tokenization import TextVectorizer
    t = time.perf_counter()
    vocab, stats = build_vocabulary_streaming(path, max_tokens=20000, labels=["neg", "pos"], max_counter_size=200_000)
    out["vocab_seconds"] = time.perf_counter() - t
    out["vocab_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["counter_peak"] = stats.max_counter_entries
    out["pruned"] = stats.pruned
    vectorizer = TextVectorizer(vocab.tokens, max_length=64)
    ds, s = stream_dataset(path, vectorizer, ["neg", "pos"], "binary", batch_size=512, shuffle_buffer=10_000)
    model = build_lstm_classifier(len(vocab), 2, embedding_dim=8, units=8, bidirectional=False)
    model.compile("adam", "binary_crossentropy", metrics=["binary_accuracy"])
    t = time.perf_counter()
    h = model.fit(ds, epochs=1, verbose=0)
    out["epoch_seconds"] = time.perf_counter() - t
    out["lines"] = int(s.lines)
    out["accuracy"] = h.history["binary_accuracy"][0]
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT", json.dumps(out))
"""


def stream_memory(path: str | None, mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", STREAM_CHILD, mode, path or "", ROOT], capture_output=True, text=True,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    if path:
        result["file_mb"] = os.path.getsize(path) / 2**20
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--small-lines", type=int, default=100_000)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks/results/pipeline.md"))
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    import keras
    import tensorflow as tf

    results = []
    if not args.skip_throughput:
        for which in ("reference", "textrecipes"):
            results.append(throughput(which))
            print(json.dumps(results[-1]), flush=True)
    streams = [stream_memory(None, "floor")]
    print(json.dumps(streams[-1]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for lines in (args.small_lines, args.lines):
            path = os.path.join(tmp, f"stream_{lines}.tsv")
            generate_tsv(path, lines)
            streams.append({"lines_in_file": lines, **stream_memory(path, "stream")})
            print(json.dumps(streams[-1]), flush=True)
            os.remove(path)

    cpu = "unknown"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    command = "python benchmarks/bench_pipeline.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    lines = [
        "# Input pipeline: throughput and streaming memory (issue 5)", "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} (started {started:%H:%M UTC})",
        f"- machine: {platform.machine()}, nproc={os.cpu_count()}, CPU: {cpu}; load average at start "
        f"{' '.join(f'{x:.2f}' for x in load_start)}, at end {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(shared CPU: wall times are noisy); no GPU",
        f"- Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}",
        f"- command: `{command.strip()}`", "",
    ]
    if results:
        ref, ours = results
        lines += [
            "## Throughput: keras-io-style pipeline against textrecipes' pipeline", "",
            f"Same model (Embedding 128, mask_zero → LSTM 128 → Dropout 0.5 → Dense), Rotten Tomatoes "
            f"{ref['train']} train / {ref['test']} test, batch 32, Adam 1e-3, 3 epochs; samples/s over "
            "epochs 2–3 (epoch 1 is the warm-up).", "",
            "| pipeline | padding | mean batch width (tokens) | epoch times (s) | train samples/s | test accuracy |",
            "|---|---|---|---|---|---|",
        ]
        for r, what in ((ref, "TextVectorization, output_sequence_length=200"),
                        (ours, "TextVectorizer, per-batch longest (max 200), bucket=True")):
            lines.append(f"| {r['pipeline']} | {what} | {r['mean_batch_width']:.1f} | "
                         f"{', '.join(str(t) for t in r['epoch_seconds'])} | {r['samples_per_s']:.0f} | "
                         f"{r['test_accuracy']:.4f} |")
        lines += ["", f"Ratio textrecipes / reference: **{ours['samples_per_s'] / ref['samples_per_s']:.2f}×** "
                      "training samples/s.", ""]
    floor = streams[0]
    lines += [
        "## Streaming: peak memory against file size", "",
        "Each row is a fresh process: `build_vocabulary_streaming` (max_tokens 20000, counter cap 200,000) then one "
        "epoch of `stream_dataset` (batch 512, shuffle buffer 10,000) with Embedding 8 → LSTM 8. Generated "
        "`label<TAB>text` lines, 3–29 Zipf-distributed tokens from 50,000 words. Peak RSS is "
        "`resource.getrusage(RUSAGE_SELF).ru_maxrss`.", "",
        "| lines | file (MB) | vocabulary pass (s) | RSS after vocabulary (MB) | counter peak | epoch (s) | "
        "train accuracy | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
        f"| no data: TensorFlow + tiny model only | – | – | – | – | – | – | {floor['peak_rss_mb']:.0f} |",
    ]
    for s in streams[1:]:
        lines.append(f"| {s['lines_in_file']:,} | {s['file_mb']:.0f} | {s['vocab_seconds']:.0f} | {s['vocab_rss_mb']:.0f} | "
                     f"{s['counter_peak']:,}{' (pruned)' if s['pruned'] else ''} | {s['epoch_seconds']:.0f} | "
                     f"{s['accuracy']:.3f} | {s['peak_rss_mb']:.0f} |")
    lines.append("")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
