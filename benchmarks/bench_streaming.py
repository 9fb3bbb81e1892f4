"""Benchmark: `textrecipes train` streaming its file (``data.streaming = true``) against the in-memory path.

A generated but realistic file: the Rotten Tomatoes training reviews, resampled
to ``--lines`` lines (each with one random word dropped, so lines rarely repeat),
with a bad line (no tab) every 10,000 lines. The same recipe (fastText, one
epoch, baseline off, bad lines skipped) runs as a child process twice per size,
in-memory then streamed, training on ``--max-train-examples`` of the training
split (the data path, not the model, is measured); peak RSS of each child comes from ``os.wait4`` and
seconds are wall-clock of the whole command (counting pass or reading included).
Start-up (importing TensorFlow) is the same in both.

``--data-only`` measures the data path alone (no model) and appends its table.

Usage:

    nice -n 10 python benchmarks/bench_streaming.py [--lines 200000 1000000] [--out benchmarks/results/streaming.md]
    nice -n 10 python benchmarks/bench_streaming.py --data-only --lines 200000 1000000
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = """
name = "bench_streaming"
[data]
train = "{train}"
on_bad_lines = "skip"
streaming = {streaming}
max_train_examples = {max_train}
[model]
name = "fasttext"
[train]
epochs = 1
batch_size = 64
[evaluate]
baseline = false
"""


def write_file(path: str, lines: int, seed: int = 0) -> int:
    """Writes ``lines`` resampled reviews plus a bad line every 10,000; returns the bad lines written."""
    with open(os.path.join(ROOT, "data", "rotten_tomatoes", "train.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 1) for line in f]
    rng, bad = random.Random(seed), 0
    with open(path, "w", encoding="utf-8") as f:
        for i in range(lines):
            label, text = rows[rng.randrange(len(rows))]
            words = text.split()
            if len(words) > 3:
                del words[rng.randrange(len(words))]
            f.write(f"{label}\t{' '.join(words)}\n")
            if i % 10_000 == 9_999:
                f.write("a bad line without a tab\n")
                bad += 1
    return bad


def timed(recipe: str, run_dir: str) -> tuple[float, int, dict]:
    """(seconds, peak RSS in MiB, metrics.json) of one ``textrecipes train`` child."""
    command = [sys.executable, "-m", "textrecipes.cli", "train", recipe, "--run-dir", run_dir, "--overwrite", "--quiet"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}
    start = time.time()
    child = subprocess.Popen(command, cwd=ROOT, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.time() - start
    if status:
        raise SystemExit(f"{shlex.join(command)} failed with status {status}")
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return seconds, usage.ru_maxrss // 1024, json.load(f)


DATA_ONLY = {  # the data path alone, no model: what grows with the file
    "false": "from textrecipes.data.readers import read_classification\n"
             "from textrecipes.data.splits import split_records\n"
             "from textrecipes.text.tokenization import Vocabulary, tokenize\n"
             "records = read_classification(PATH, on_bad_lines='skip').records\n"
             "train, val, test = split_records(records, seed=0)\n"
             "vocab = Vocabulary.build(tokenize([r.text for r in train]), max_tokens=20000)\n",
    "true": "import tensorflow as tf\n"
            "from textrecipes.data.stream_splits import count_splits, split_stream\n"
            "from textrecipes.text.tokenization import TextVectorizer, Vocabulary\n"
            "c = count_splits([PATH], on_bad_lines='skip', tokenizer={'split': 'word', 'lowercase': True})\n"
            "v = TextVectorizer(Vocabulary.from_counts(c.token_counts, max_tokens=20000).tokens, max_length=2048)\n"
            "ds = split_stream([PATH], 'train', c.labels).shuffle(100000, seed=0).batch(64).map(lambda x, y: v(x))\n"
            "n = sum(int(b.shape[0]) for b in ds)\n",
}


def data_only(path: str, streaming: str) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of reading, splitting and tokenizing ``path`` (streamed: and one epoch of batches)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}
    code = "import tensorflow\nPATH = " + repr(path) + "\n" + DATA_ONLY[streaming]  # both pay TF's import
    start = time.time()
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise SystemExit(f"the data-only {streaming} child failed with status {status}")
    return time.time() - start, usage.ru_maxrss // 1024


def main_data_only(args) -> None:
    rows = ["| lines | MB | in-memory s | streamed s | in-memory RSS MiB | streamed RSS MiB | RSS ratio |",
            "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for lines in args.lines:
            data = os.path.join(tmp, f"train-{lines}.tsv")
            write_file(data, lines)
            (ms, mr), (ss, sr) = data_only(data, "false"), data_only(data, "true")
            rows.append(f"| {lines:,} | {os.path.getsize(data) / 1e6:.0f} | {ms:.0f} | {ss:.0f} | {mr} | {sr} "
                        f"| {sr / mr:.2f} |")
            print(rows[-1], flush=True)
    text = "\n".join(["", "## The data path alone (no model)", "",
                      f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; load average "
                      f"at the end {os.getloadavg()[0]:.1f}",
                      f"- command: `nice -n 10 python benchmarks/bench_streaming.py --data-only --lines "
                      f"{' '.join(map(str, args.lines))}`",
                      "- in-memory: read, stratified split, tokenize the training texts, build the vocabulary; "
                      "streamed: the counting pass (vocabulary included), then one epoch of shuffled (100,000 "
                      "buffer), vectorized batches of 64. Both import TensorFlow first.", "", *rows, ""])
    with open(args.out, "a") as f:
        f.write(text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--max-train-examples", type=int, default=20_000,
                        help="examples the epoch trains on (0: all); both paths still read and count every line")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "streaming.md"))
    parser.add_argument("--data-only", action="store_true",
                        help="measure the data path alone (no model), appending to --out")
    args = parser.parse_args()
    if args.data_only:
        return main_data_only(args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for lines in args.lines:
            data = os.path.join(tmp, f"train-{lines}.tsv")
            bad = write_file(data, lines)
            result = {}
            for streaming in ("false", "true"):
                recipe = os.path.join(tmp, f"recipe-{streaming}.toml")
                with open(recipe, "w") as f:
                    f.write(RECIPE.format(train=data, streaming=streaming, max_train=args.max_train_examples))
                seconds, rss, metrics = timed(recipe, os.path.join(tmp, f"run-{lines}-{streaming}"))
                report = metrics["data"][0]
                assert report["lines_read"] == report["kept"] + sum(report["skipped"].values())
                result[streaming] = (seconds, rss, metrics)
                print(f"{lines} lines, streaming={streaming}: {seconds:.0f} s, peak RSS {rss} MiB, "
                      f"test accuracy {metrics['test']['accuracy']:.4f}, skipped {report['skipped']}", flush=True)
            rows.append((lines, os.path.getsize(data), bad, result))
    write_results(args, rows)


def write_results(args, rows) -> None:
    table = ["| lines | MB | in-memory s | streamed s | s ratio | in-memory RSS MiB | streamed RSS MiB | RSS ratio "
             "| accuracy in-memory / streamed | lines read = kept + skipped (streamed) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for lines, size, bad, r in rows:
        (ms, mr, mm), (ss, sr, sm) = r["false"], r["true"]
        rep = sm["data"][0]
        table.append(f"| {lines:,} | {size / 1e6:.0f} | {ms:.0f} | {ss:.0f} | {ss / ms:.2f} | {mr} | {sr} | {sr / mr:.2f} "
                     f"| {mm['test']['accuracy']:.4f} / {sm['test']['accuracy']:.4f} "
                     f"| {rep['lines_read']:,} = {rep['kept']:,} + {sum(rep['skipped'].values())} ({bad} bad written) |")
    command = (f"nice -n 10 python benchmarks/bench_streaming.py --lines {' '.join(map(str, args.lines))} "
               f"--max-train-examples {args.max_train_examples}")
    text = "\n".join([
        "# Streaming vs in-memory `textrecipes train` (issue 16)", "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}; "
        f"load average at the end {os.getloadavg()[0]:.1f} (a shared machine: seconds are noisy, RSS is not)",
        f"- command: `{command}`",
        f"- recipe: fastText, 1 epoch over `max_train_examples = {args.max_train_examples}` (both paths still read, "
        "count and split every line; validation and test are evaluated whole), batch 64, baseline off, "
        "`on_bad_lines = \"skip\"`; in-memory splits are stratified, streamed ones hashed (the same fractions)", "",
        *table, ""])
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
