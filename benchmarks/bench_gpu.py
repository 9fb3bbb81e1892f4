"""Benchmark: training throughput on a GPU, with and without mixed precision (issue 5).

The lent GPU machine has JAX but no TensorFlow (its wheels are too big to carry),
so this benchmark runs the backend-portable part of textrecipes, the model
(`textrecipes.models.classifiers`, Keras layers and ops only), under ``KERAS_BACKEND=jax`` on
texts tokenized beforehand on the CPU machine with textrecipes' own tokenizer.

Two steps:

    # on the CPU machine (TensorFlow): tokenize Rotten Tomatoes into ids
    python benchmarks/bench_gpu.py dump .gpubench/rt.npz
    # on the GPU machine (JAX, keras wheel carried): time the configurations
    KERAS_BACKEND=jax python3 benchmarks/bench_gpu.py run .gpubench/rt.npz --out $OUT/gpu.md

Configurations, all on the same ids, batch size and optimizer (Adam 1e-3),
one warm-up epoch (compiles) then timed epochs, then test accuracy:

- ``keras_io``: the keras-io model literally: Embedding without mask → LSTM 128 →
  Dropout → Dense, every text padded or cut to 200 (no mask: Keras' JAX backend
  takes its cuDNN kernel only without a mask);
- ``fixed200_masked``: textrecipes' unidirectional model (mask_zero, last state),
  padded to 200: the CPU benchmark's reference;
- ``bucketed_masked``: the same model fed textrecipes-style batches: texts of
  similar length together, each batch right-padded to its own longest text
  rounded up to 16, 32, 64, 128 or 200 (so that XLA compiles five shapes);
- ``default_bucketed``: the default recipe's model (BiLSTM, mean+max pooling,
  word dropout, hashed bigrams) on bucketed batches.

Each in float32 and ``mixed_float16``. The report says, per configuration,
whether Keras ran its cuDNN LSTM kernel or the generic scan.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
MAX_LENGTH = 200


def dump(path: str) -> None:
    """Tokenizes the Rotten Tomatoes splits with textrecipes (needs TensorFlow)."""
    import numpy as np

    from textrecipes.text.tokenization import Vocabulary, tokenize

    arrays = {}
    vocab = None
    for split in ("train", "test"):
        labels, texts = [], []
        with open(os.path.join(ROOT, "data/rotten_tomatoes", f"{split}.tsv"), encoding="utf-8") as f:
            for line in f:
                label, text = line.rstrip("\n").split("\t", 1)
                labels.append(label == "fresh")
                texts.append(text)
        tokens = tokenize(texts)
        if vocab is None:
            vocab = Vocabulary.build(tokens, max_tokens=20000)
        ids = [vocab.ids(t)[:MAX_LENGTH] or [1] for t in tokens]
        arrays[f"{split}_flat"] = np.concatenate([np.asarray(i, dtype="int32") for i in ids])
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(i) for i in ids]).astype("int64")
        arrays[f"{split}_labels"] = np.asarray(labels, dtype="float32")
    arrays["vocabulary_size"] = np.asarray(len(vocab))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path}: vocabulary {len(vocab)}, train {len(arrays['train_labels'])}, test {len(arrays['test_labels'])}")


def ragged(data, split):
    flat, offsets = data[f"{split}_flat"], data[f"{split}_offsets"]
    return [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])], data[f"{split}_labels"]


def pad(seqs, width):
    import numpy as np

    out = np.zeros((len(seqs), width), dtype="int32")
    for row, s in enumerate(seqs):
        out[row, :min(len(s), width)] = s[:width]
    return out


WIDTHS = (16, 32, 64, 128, MAX_LENGTH)  # bucket widths: XLA compiles one program per shape


def batches(seqs, labels, batch_size, mode, seed):
    """Batches as numpy arrays: ``fixed`` pads every text to 200, ``bucket`` sorts
    a shuffled window by length and pads each batch to its longest, rounded up to
    the next of `WIDTHS` (on TensorFlow textrecipes pads to the longest exactly)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(seqs))
    if mode == "bucket":  # sort within windows of 50 batches, then shuffle the batches
        window = batch_size * 50
        order = np.concatenate([sorted(order[i:i + window], key=lambda j: len(seqs[j]))
                                for i in range(0, len(order), window)])
    out = []
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        if mode == "fixed":
            width = MAX_LENGTH
        else:
            longest = max(len(seqs[j]) for j in idx)
            width = next(w for w in WIDTHS if w >= longest)
        out.append((pad([seqs[j] for j in idx], width), labels[idx][:, None]))
    if mode == "bucket":
        out = [out[k] for k in rng.permutation(len(out))]
    return out


def build(config: str, vocabulary_size: int, seed: int = 0):
    import keras

    from textrecipes.models.classifiers import build_lstm_classifier

    if config == "keras_io":
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocabulary_size, 128),
            keras.layers.LSTM(128),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1, activation="sigmoid", dtype="float32"),
        ])
    elif config == "default_bucketed":
        model = build_lstm_classifier(vocabulary_size, 2, seed=seed)
    else:
        model = build_lstm_classifier(vocabulary_size, 2, embedding_dim=128, units=128, bidirectional=False,
                                      pooling="last", dropout=0.5, embedding_dropout=0.0, token_dropout=0.0,
                                      ngram_buckets=0, seed=seed)
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    return model


class CudnnProbe:
    """Counts how Keras' LSTM layer ran: the backend's cuDNN kernel or the generic loop."""

    def __init__(self):
        from keras.src import backend

        self.backend, self.original = backend, backend.lstm
        self.cudnn = self.fallback = 0

        def probe(*args, **kwargs):
            try:
                out = self.original(*args, **kwargs)
            except NotImplementedError:
                self.fallback += 1
                raise
            self.cudnn += 1
            return out

        backend.lstm = probe

    def reset(self):
        self.cudnn = self.fallback = 0

    def verdict(self):
        if self.cudnn and not self.fallback:
            return "cuDNN"
        if self.fallback and not self.cudnn:
            return "scan (no cuDNN)"
        return f"mixed ({self.cudnn} cuDNN / {self.fallback} scan traces)"


def run(path: str, out: str, epochs: int, batch_size: int, configs: list, policies: list) -> None:
    import jax
    import keras
    import numpy as np

    data = np.load(path)
    vocabulary_size = int(data["vocabulary_size"])
    train_seqs, train_y = ragged(data, "train")
    test_seqs, test_y = ragged(data, "test")
    probe = CudnnProbe()
    device = jax.devices()[0]
    rows = []
    for config in configs:
        for policy in policies:
            keras.config.set_dtype_policy(policy)
            keras.utils.set_random_seed(0)
            mode = "fixed" if config in ("keras_io", "fixed200_masked") else "bucket"
            epoch_batches = [batches(train_seqs, train_y, batch_size, mode, seed=e) for e in range(epochs)]
            test_batches = batches(test_seqs, test_y, 256, mode, seed=0)
            probe.reset()
            try:
                row = time_one(config, policy, vocabulary_size, epoch_batches, test_batches, len(test_seqs), probe)
            except Exception as e:  # noqa: BLE001 - a configuration the backend cannot run is a result too
                row = {"policy": policy, "config": config, "kernel": probe.verdict(), "error": f"{type(e).__name__}: "
                       + str(e).splitlines()[0][:150]}
            rows.append(row)
            print(row, flush=True)
    keras.config.set_dtype_policy("float32")
    report(rows, path, out, epochs, batch_size, len(train_seqs), len(test_seqs), vocabulary_size, device)


def time_one(config, policy, vocabulary_size, epoch_batches, test_batches, n_test, probe):
    import jax
    import numpy as np

    model = build(config, vocabulary_size)
    times, losses = [], []
    for epoch in epoch_batches:
        start = time.perf_counter()
        for x, y in epoch:
            logs = model.train_on_batch(x, y, return_dict=True)
        jax.block_until_ready(model.trainable_variables[0].value)
        times.append(time.perf_counter() - start)
        losses.append(float(logs["loss"]))
    correct = 0
    for x, y in test_batches:
        correct += int(((np.asarray(model.predict_on_batch(x)) > 0.5) == (y > 0.5)).sum())
    timed = times[1:]
    n_train = sum(len(x) for x, _ in epoch_batches[0])
    widths = [x.shape[1] for x, _ in epoch_batches[0]]
    return {"policy": policy, "config": config, "kernel": probe.verdict(),
            "samples_per_s": n_train * len(timed) / sum(timed), "epoch_s": [round(t, 2) for t in times],
            "test_accuracy": correct / n_test, "mean_width": float(np.mean(widths)), "shapes": len(set(widths)),
            "last_loss": losses[-1]}


def report(rows, path, out, epochs, batch_size, n_train, n_test, vocabulary_size, device):
    import jax
    import keras

    lines = [f"# GPU throughput (issue 5): {datetime.date.today()}", "",
             f"- machine: {device.device_kind} ({jax.default_backend()}), jax {jax.__version__}, keras {keras.__version__}, "
             f"python {platform.python_version()}",
             f"- command: `KERAS_BACKEND=jax python3 benchmarks/bench_gpu.py run {path} --epochs {epochs} "
             f"--batch-size {batch_size}`",
             f"- data: Rotten Tomatoes, {n_train} train / {n_test} test, ids from textrecipes' tokenizer "
             f"(vocabulary {vocabulary_size}, cut at {MAX_LENGTH}); batch {batch_size}, Adam 1e-3; epoch 1 is warm-up "
             f"(XLA compiles), samples/s over epochs 2-{epochs}; test accuracy after {epochs} epochs.", "",
             "| policy | configuration | LSTM kernel | samples/s | vs keras_io (same policy) | mean batch width | shapes "
             "| epoch seconds | test accuracy |",
             "|---|---|---|---:|---:|---:|---:|---|---:|"]
    base = {r["policy"]: r["samples_per_s"] for r in rows if r["config"] == "keras_io" and "error" not in r}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['policy']} | {r['config']} | {r['kernel']} | failed: {r['error']} | | | | | |")
            continue
        ratio = f"{r['samples_per_s'] / base[r['policy']]:.2f}x" if r["policy"] in base else "-"
        lines.append(f"| {r['policy']} | {r['config']} | {r['kernel']} | {r['samples_per_s']:,.0f} | {ratio} | "
                     f"{r['mean_width']:.1f} | {r['shapes']} | {r['epoch_s']} | {r['test_accuracy']:.4f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("path")
    r = sub.add_parser("run")
    r.add_argument("path")
    r.add_argument("--out", default="")
    r.add_argument("--epochs", type=int, default=3)
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--configs", default="keras_io,fixed200_masked,bucketed_masked,default_bucketed")
    r.add_argument("--policies", default="float32,mixed_float16")
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.path)
    else:
        run(args.path, args.out, args.epochs, args.batch_size, args.configs.split(","), args.policies.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
