"""Benchmark: the exports (issue 6) on CPU: Keras vs SavedModel vs TFLite float16 / int8.

A run of the default recipe (default model sizes: Embedding 128, BiLSTM 128,
hashed bigrams 131072 x 64) trained on a subset of Rotten Tomatoes (the sizes
matter here, not the accuracy), then on the 1,276 test texts, for each format:

- predictions/s in batches of 256 (TFLite runs one text a call inside the
  batch: the converted BiLSTM has a static batch of one; see textrecipes.export.tflite),
  tokenization included for every format;
- p50/p99 latency of single-text calls (after 20 warm-up calls); the Keras
  model also called eagerly, for comparison;
- file size, test accuracy, agreement of labels with the Keras model and the
  largest |probability difference|.

Reference = the Keras model (`model.keras` reloaded, called on string batches)
in the same process; ratios are format / Keras.

Usage:

    python benchmarks/bench_exports.py [--train-lines 2000] [--epochs 1] [--singles 300] [--out benchmarks/results/exports.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RT = os.path.join(ROOT, "data", "rotten_tomatoes")


def dir_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-lines", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "exports.md"))
    args = parser.parse_args()

    import keras

    from textrecipes.export.predictors import Predictor
    from textrecipes.workflows.train import train
    from textrecipes.export.tflite import export_tflite

    tmp = tempfile.mkdtemp(prefix="bench_exports_")
    with open(os.path.join(RT, "train.tsv"), encoding="utf-8") as f:
        lines = f.readlines()[: args.train_lines]
    train_file = os.path.join(tmp, "train.tsv")
    with open(train_file, "w", encoding="utf-8") as f:
        f.writelines(lines)
    started = time.time()
    result = train({"name": "bench_exports", "data": {"train": train_file, "test": os.path.join(RT, "test.tsv")},
                    "train": {"epochs": args.epochs}, "export": {"tflite": True, "tflite_quantize": "float16"}},
                   run_dir=os.path.join(tmp, "run"), verbose=0)
    train_s = time.time() - started
    run = result.run_dir
    int8_dir = os.path.join(tmp, "int8")
    os.makedirs(int8_dir)
    for name in ("model_card.json", "vocabulary.json"):
        os.link(os.path.join(run, name), os.path.join(int8_dir, name))
    export_tflite(result.model, os.path.join(int8_dir, "model.tflite"), quantize="int8")

    with open(os.path.join(RT, "test.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
    gold = np.array([result.labels.index(label) for label, _ in rows])
    texts = [text for _, text in rows]
    formats = {
        "Keras (.keras)": os.path.join(run, "model.keras"),
        "SavedModel": os.path.join(run, "saved_model"),
        "TFLite float16": os.path.join(run, "model.tflite"),
        "TFLite int8": os.path.join(int8_dir, "model.tflite"),
    }
    rng = np.random.default_rng(0)
    singles = [texts[i] for i in rng.choice(len(texts), args.singles + 20, replace=True)]
    rows_out, ref = [], None
    for name, path in formats.items():
        p = Predictor(path)
        p.predict_proba(texts[:256])  # warm-up (tracing)
        t = time.perf_counter()
        probs = p.predict_proba(texts, batch_size=256)
        per_s = len(texts) / (time.perf_counter() - t)
        lat = []
        for i, text in enumerate(singles):
            t = time.perf_counter()
            p.predict_proba([text])
            if i >= 20:
                lat.append(time.perf_counter() - t)
        lat_ms = np.array(lat) * 1000
        if ref is None:
            ref = probs
        rows_out.append({"format": name, "bytes": dir_size(path), "per_s": per_s,
                         "p50": float(np.percentile(lat_ms, 50)), "p99": float(np.percentile(lat_ms, 99)),
                         "accuracy": float((probs.argmax(1) == gold).mean()),
                         "agree": float((probs.argmax(1) == ref.argmax(1)).mean()),
                         "diff": float(np.abs(probs - ref).max())})
        print(rows_out[-1], flush=True)

    # The same Keras model called eagerly (what Predictor did before it traced the call), fewer singles.
    import tensorflow as tf

    eager = keras.saving.load_model(formats["Keras (.keras)"], safe_mode=True)
    t = time.perf_counter()
    for start in range(0, len(texts), 256):
        eager(tf.constant(texts[start:start + 256]), training=False)
    per_s = len(texts) / (time.perf_counter() - t)
    lat = []
    for text in singles[:60]:
        t = time.perf_counter()
        eager(tf.constant([text]), training=False)
        lat.append(time.perf_counter() - t)
    lat_ms = np.array(lat[10:]) * 1000
    eager_row = {"format": "Keras, eager `model(x)` (50 singles)", "bytes": rows_out[0]["bytes"], "per_s": per_s,
                 "p50": float(np.percentile(lat_ms, 50)), "p99": float(np.percentile(lat_ms, 99)),
                 "accuracy": rows_out[0]["accuracy"], "agree": 1.0, "diff": 0.0}
    print(eager_row, flush=True)
    rows_out.append(eager_row)

    k = rows_out[0]
    out = [
        "# Exports: Keras vs SavedModel vs TFLite (issue 6)",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: 2-core AMD EPYC, shared (other jobs running). "
        f"TensorFlow {__import__('tensorflow').__version__}, Keras {keras.__version__}, CPU only.",
        "",
        "Command:",
        "",
        "    " + " ".join(["python"] + [shlex.quote(a) for a in sys.argv]),
        "",
        f"Model: the default recipe's sizes (Embedding 128, BiLSTM 128, hashed bigrams 131072 x 64, mean+max pooling), "
        f"trained for {args.epochs} epoch(s) on the first {args.train_lines} lines of Rotten Tomatoes train "
        f"({train_s:.0f} s, export and checks included): a subset, because the sizes matter here, not the accuracy. "
        f"Measured on the {len(texts)} test texts; tokenization included for every format. Batch throughput: "
        f"batches of 256 (the TFLite model runs one text a call inside a batch: the converted masked BiLSTM has a "
        f"static batch of one). Latency: {args.singles} single-text calls after 20 warm-up calls. "
        "Reference: the Keras model reloaded from `model.keras` and called through `Predictor` (a traced "
        "`tf.function` over string batches), in the same process. The last row calls the same model eagerly; its "
        "accuracy/agreement columns are copied from the reference (same model, same numbers).",
        "",
        "| format | size (bytes) | size / Keras | predictions/s (batch 256) | / Keras | p50 ms (1 text) | p99 ms | p50 / Keras "
        "| test accuracy | labels = Keras | max abs prob diff vs Keras |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows_out:
        out.append(f"| {r['format']} | {r['bytes']:,} | {r['bytes'] / k['bytes']:.2f} | {r['per_s']:.0f} | "
                   f"{r['per_s'] / k['per_s']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['p50'] / k['p50']:.2f} | "
                   f"{r['accuracy']:.4f} | {r['agree']:.4f} | {r['diff']:.2e} |")
    out += ["", "Sizes: `model.keras` and `saved_model/` hold the vocabulary inside; the `.tflite` files do not "
            "(they need `vocabulary.json`, "
            f"{os.path.getsize(os.path.join(run, 'vocabulary.json')):,} bytes, beside them).", ""]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print("\n".join(out))


if __name__ == "__main__":
    main()
