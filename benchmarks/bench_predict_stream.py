"""Benchmark: `textrecipes predict` streaming its input (issue 16) against the in-memory command it replaced.

Both commands run as child processes on the same file of short reviews (the
Rotten Tomatoes training texts repeated to ``--lines`` lines), alternating, each
``--repeats`` times: this checkout's command, and the reference command from
another checkout (``--reference``: a folder whose ``textrecipes`` package is
today's, e.g. a ``git worktree`` of main before this change). Start-up (importing
TensorFlow, loading the model) is measured with a one-line input and taken off,
so texts/s is the prediction loop's own rate. Peak RSS of each child comes from
``os.wait4``. Outputs of both are compared line by line on the non-blank lines.

Usage:

    python benchmarks/bench_predict_stream.py MODEL --reference OTHER_CHECKOUT [--lines 20000] [--repeats 3]
        [--out benchmarks/results/predict_stream.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def reviews(n: int) -> list[str]:
    with open(os.path.join(ROOT, "data", "rotten_tomatoes", "train.tsv"), encoding="utf-8") as f:
        texts = [line.rstrip("\n").split("\t", 1)[1] for line in f]
    return [texts[i % len(texts)] for i in range(n)]


def timed(root: str, model: str, data: str, out: str) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of one ``predict`` child run with ``root`` first on PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    with open(out, "w", encoding="utf-8") as sink:
        child = subprocess.Popen([sys.executable, "-m", "textrecipes.cli", "predict", model, data], cwd=root,
                                 env=env, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"predict with {root} failed (status {status})")
    return seconds, usage.ru_maxrss // 1024


def _shown(path: str) -> str:
    """The model path as the results show it: relative to the checkout, or a run folder's name (no machine paths)."""
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    return rel if not rel.startswith("..") else os.path.join("runs", os.path.basename(os.path.normpath(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--reference", required=True, help="a checkout with today's (in-memory) predict")
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "predict_stream.md"))
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    data, one = os.path.join(tmp, "reviews.txt"), os.path.join(tmp, "one.txt")
    with open(data, "w", encoding="utf-8") as f:
        f.write("\n".join(reviews(args.lines)) + "\n")
    with open(one, "w", encoding="utf-8") as f:
        f.write("a fine film\n")
    sides = {"streaming (this checkout)": ROOT, "in-memory (reference)": os.path.abspath(args.reference)}
    times = {name: [] for name in sides}
    starts = {name: [] for name in sides}
    rss = {name: 0 for name in sides}
    for _ in range(args.repeats):
        for name, root in sides.items():  # alternating, so load on the machine hits both alike
            starts[name].append(timed(root, args.model, one, os.path.join(tmp, "one.out"))[0])
            seconds, peak = timed(root, args.model, data, os.path.join(tmp, f"{name[:4]}.out"))
            times[name].append(seconds)
            rss[name] = max(rss[name], peak)
    outputs = [open(os.path.join(tmp, f"{name[:4]}.out"), encoding="utf-8").read().split("\n") for name in sides]
    same = [a for a in outputs[0] if a.strip()] == [b for b in outputs[1] if b.strip()]
    rates = {name: args.lines / max(min(times[name]) - min(starts[name]), 1e-9) for name in sides}
    stream, ref = sides
    lines = [
        f"# `textrecipes predict`: streaming vs in-memory ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average at the end {os.getloadavg()[0]:.1f}.",
        f"Command: `python benchmarks/bench_predict_stream.py {shlex.quote(_shown(args.model))} --reference <main checkout> "
        f"--lines {args.lines} --repeats {args.repeats}`",
        f"Input: {args.lines:,} short reviews (Rotten Tomatoes train texts repeated); best of {args.repeats}; "
        "start-up (one-line input) taken off.",
        "",
        "| command | wall s (best) | start-up s (best) | texts/s | peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for name in sides:
        lines.append(f"| {name} | {min(times[name]):.2f} | {min(starts[name]):.2f} | {rates[name]:,.0f} | {rss[name]} |")
    lines += ["", f"Ratio streaming / in-memory: texts/s {rates[stream] / rates[ref]:.2f}x, "
                  f"peak RSS {rss[stream] / rss[ref]:.2f}x. Same labels on every line: {same}."]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
