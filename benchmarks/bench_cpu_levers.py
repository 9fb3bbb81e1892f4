"""Benchmark: CPU speed levers for training (issue 16), each as a ratio against today's default, same run.

Levers, each in a fresh child process (TensorFlow's threads and Keras' dtype
policy are fixed at start-up), on the same ``--train`` Rotten Tomatoes reviews,
the recipe's own pipeline (tokenize, bucketed per-batch padding, ``tf.data``)
and model, ``model.fit`` for two epochs; the figure is training samples/s of
the second epoch (the first one traces every batch shape):

- ``default``: what a run does today (TensorFlow's thread pools sized to the
  CPUs, ``tf.data`` autotuned, Keras' ``jit_compile = "auto"``, which is off for
  these models on a CPU, float32);
- ``threads_1`` / ``threads_2``: intra- and inter-op pools of 1 / 2 threads;
- ``data_1_thread``: the input pipeline on a private pool of 1 thread;
- ``jit``: ``model.compile(jit_compile=True)`` (XLA; each new batch width compiles);
- ``bfloat16``: the ``mixed_bfloat16`` policy (pays only where the CPU has
  bfloat16 instructions: AVX512_BF16 or AMX; the flags are in the table's header).

Variants alternate round by round (``--repeats``), so load on a shared machine
hits them alike; each row is the median of its rounds, the ratio against
``default`` of the same model.

Usage:

    nice -n 10 python benchmarks/bench_cpu_levers.py [--models lstm,cnn,fasttext] [--train 3000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
VARIANTS = ("default", "threads_1", "threads_2", "data_1_thread", "jit", "bfloat16")

CHILD = r"""
import json, os, sys, time
variant, model_name, train_lines, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import tensorflow as tf
if variant.startswith("threads_"):
    n = int(variant.split("_")[1])
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)
import keras
if variant == "bfloat16":
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
from textrecipes.recipe.loading import load_recipe
from textrecipes.tasks.classification import ClassificationTask
head = os.path.join(os.environ["BENCH_TMP"], "train.tsv")
with open("data/rotten_tomatoes/train.tsv", encoding="utf-8") as src, open(head, "w", encoding="utf-8") as out:
    out.writelines(line for _, line in zip(range(train_lines), src))
cfg = load_recipe({"seed": 0, "data": {"train": head, "validation_split": 0.0, "test_split": 0.0},
                   "model": {"name": model_name}, "train": {"batch_size": batch}, "evaluate": {"baseline": False}})
task = ClassificationTask(cfg)
splits = task.read(cfg)
task.prepare(splits)
train_ds, _ = task.datasets(splits, batch)
if variant == "data_1_thread":
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    train_ds = train_ds.with_options(options)
model = task.build(initial=True)
model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=variant == "jit", **task.compile_options())
times = []
class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.start)
history = model.fit(train_ds, epochs=2, verbose=0, callbacks=[Clock()])
n = len(task.texts["train"])
print("RESULT " + json.dumps({"samples_per_s": n / times[1], "first_epoch_s": times[0], "second_epoch_s": times[1],
                              "loss": [float(v) for v in history.history["loss"]], "examples": n}))
"""


def cpu_flags() -> str:
    """The CPU's model name and its vector/bfloat16 flags (what decides whether bfloat16 can pay)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = sorted(f for f in flags if f.startswith(("avx", "amx")) or "bf16" in f or "vnni" in f)
    return f"{name}; {os.cpu_count()} CPUs; flags {' '.join(wanted) or 'none'}"


def run_child(variant: str, model: str, train: int, batch: int, tmp: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT, "BENCH_TMP": tmp, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", CHILD, variant, model, str(train), str(batch)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1][:300] if (done.stderr or done.stdout)
                else f"exit {done.returncode}"}
    return json.loads(lines[-1][len("RESULT "):])


def table(rows: list, header: list) -> str:
    lines = header + ["", "| model | variant | samples/s (median) | ratio to default | first epoch s | rounds | losses |",
                      "|---|---|---|---|---|---|---|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        base = statistics.median([r["samples_per_s"] for r in mine if r["variant"] == "default" and "error" not in r]
                                 or [float("nan")])
        for variant in dict.fromkeys(r["variant"] for r in mine):
            runs = [r for r in mine if r["variant"] == variant]
            ok = [r for r in runs if "error" not in r]
            if not ok:
                lines.append(f"| {model} | {variant} | failed: {runs[0]['error']} | | | {len(runs)} | |")
                continue
            rate = statistics.median(r["samples_per_s"] for r in ok)
            losses = "; ".join(" → ".join(f"{v:.3f}" for v in r["loss"]) for r in ok[:1])
            lines.append(f"| {model} | {variant} | {rate:.0f} | {rate / base:.2f} | "
                         f"{statistics.median(r['first_epoch_s'] for r in ok):.1f} | {len(ok)} | {losses} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lstm,cnn,fasttext")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--train", type=int, default=3000, help="training reviews (lines of RT train)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(RESULTS, "cpu_levers.md"))
    args = parser.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeats):
            for model in args.models.split(","):
                for variant in args.variants.split(","):
                    row = {"model": model, "variant": variant, "round": round_,
                           **run_child(variant, model, args.train, args.batch_size, tmp)}
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    load = os.getloadavg()
    header = [f"# CPU speed levers for training (issue 16), {datetime.date.today()}", "",
              f"- machine: {cpu_flags()}; load average at the end {load[0]:.1f}", f"- command: `{command}`",
              f"- {args.train} RT training reviews, batch {args.batch_size}, the recipe's pipeline and model, Adam 1e-3; "
              "samples/s of the second of two epochs, each variant a fresh process, variants alternating round by round"]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(table(rows, header))
    with open(os.path.splitext(args.out)[0] + ".jsonl", "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps({**row, "date": str(datetime.date.today()), "command": command}) + "\n")
    print(table(rows, header))


if __name__ == "__main__":
    main()
