"""Benchmark: `textrecipes train` streaming its file (``data.streaming = true``) against the in-memory path.

A generated but realistic file: the Rotten Tomatoes training reviews, resampled
to ``--lines`` lines (each with one random word dropped, so lines rarely repeat),
with a bad line (no tab) every 10,000 lines. The same recipe (fastText, one
epoch, baseline off, bad lines skipped) runs as a child process twice per size,
in-memory then streamed, training on ``--max-train-examples`` of the training
split (the data path, not the model, is measured); peak RSS of each child comes from ``os.wait4`` and
seconds are wall-clock of the whole command (counting pass or reading included).
Start-up (importing TensorFlow) is the same in both.

Usage:

    nice -n 10 python benchmarks/bench_streaming.py [--lines 200000 1000000] [--out benchmarks/results/streaming.md]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--max-train-examples", type=int, default=20_000,
                        help="examples the epoch trains on (0: all); both paths still read and count every line")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "streaming.md"))
    args = parser.parse_args()
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
