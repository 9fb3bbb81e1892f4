"""Benchmark: prediction at scale, in one process: short reviews and long articles, before and after sorting by length.

One run folder (e.g. the default recipe, ``model.name = "auto"``) predicts:

- ``--lines`` short reviews (the Rotten Tomatoes training texts repeated), and
- ``--articles`` news articles of ``data/bench/news_outlets`` (a seeded sample; all mixed, then by length bucket),

each through the in-memory predictor (``Predictor.predict`` on a list) and the
``predict`` command's loop (`textrecipes.export.predict_stream.write_predictions`,
written to a sink that keeps nothing), before and after the change that sorts a
round of texts by length so that batches pad less. "Before" is today's code path
with the sort left out: batches of 256 in input order (``_batch_probabilities``
on the whole list; the command loop with ``window=1``, one batch a round). The
variants alternate, so load on the machine hits each alike, and both give the
same label on every line (checked). Start-up (loading the model, the first call)
is outside the timings.

Usage:

    python benchmarks/bench_predict_scale.py RUN_FOLDER [--lines 200000] [--articles 1000] [--repeats 1]
        [--out benchmarks/results/predict_stream.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

BUCKETS = [(0, 1_000), (1_000, 2_000), (2_000, 4_000), (4_000, 8_000), (8_000, 10**9)]  # characters


def column(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t", 1)[1] for line in f if "\t" in line]


class Null:
    """An output that keeps nothing (the command loop's formatting and writing are still done)."""

    def write(self, text):
        return len(text)


def variants(predictor):
    from textrecipes.export.predict_stream import write_predictions

    def sink(texts, window):
        write_predictions(predictor, "label_text", texts, Null(), batch_size=256, window=window)

    return {
        "in-memory, input order (before)": lambda t: predictor._decide(predictor._batch_probabilities(t, 256), 0.5),
        "in-memory, sorted (after)": lambda t: predictor.predict(t),
        "command loop, 1 batch a round (before)": lambda t: sink(t, 1),
        "command loop, 8 batches a round sorted (after)": lambda t: sink(t, 8),
    }


def rates(runs, texts: list[str], repeats: int) -> dict:
    print(f"{len(texts):,} texts ...", flush=True)
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():  # alternating
            start = time.perf_counter()
            fn(texts)
            best[name] = min(best[name], time.perf_counter() - start)
            print(f"  {name}: {len(texts) / best[name]:,.0f} texts/s", flush=True)
    return {name: len(texts) / s for name, s in best.items()}


def same_labels(predictor, texts) -> bool:
    before = predictor._decide(predictor._batch_probabilities(texts, 256), 0.5)
    return [label for label, _ in before] == [label for label, _ in predictor.predict(texts)]


def table(title: str, measured: dict) -> list[str]:
    names = list(next(iter(measured.values()))[2])
    lines = [f"### {title}", "", "| input | texts | mean chars | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for label, (n, chars, r) in measured.items():
        lines.append(f"| {label} | {n:,} | {chars:,.0f} | " + " | ".join(f"{r[name]:,.0f}" for name in names) + " |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--articles", type=int, default=1000, help="news articles sampled (seed 0) of the 3,712")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "predict_stream.md"))
    args = parser.parse_args()
    from textrecipes.export.predictors import Predictor

    predictor = Predictor(args.run)
    reviews = column(os.path.join(ROOT, "data", "rotten_tomatoes", "train.tsv"))
    short = [reviews[i % len(reviews)] for i in range(args.lines)]
    articles = sum((column(os.path.join(ROOT, "data", "bench", "news_outlets", f"{s}.tsv"))
                    for s in ("train", "validation", "test")), [])
    articles = random.Random(0).sample(articles, min(args.articles, len(articles)))
    predictor.predict(short[:300] + articles[:300])  # warm-up: the first call's tracing stays out of the timings
    runs = variants(predictor)
    measured = {"short reviews": (len(short), sum(map(len, short)) / len(short), rates(runs, short, args.repeats)),
                "news articles, all mixed": (len(articles), sum(map(len, articles)) / len(articles),
                                             rates(runs, articles, args.repeats))}
    for low, high in BUCKETS:
        bucket = [t for t in articles if low <= len(t) < high]
        if bucket:
            label = f"articles {low:,}-{high:,} chars" if high < 10**9 else f"articles {low:,}+ chars"
            measured[label] = (len(bucket), sum(map(len, bucket)) / len(bucket), rates(runs, bucket, args.repeats))
    agree = same_labels(predictor, short[:20_000]) and same_labels(predictor, articles)
    shown = os.path.join("runs", os.path.basename(os.path.normpath(args.run)))
    lines = [
        f"## Prediction at scale, sorted by length ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, no GPU, Python {platform.python_version()}; "
        f"load average at the end {os.getloadavg()[0]:.1f} (a shared machine: ratios hold better than rates).",
        f"Command: `python benchmarks/bench_predict_scale.py {shown} --lines {args.lines} --articles {args.articles} "
        f"--repeats {args.repeats}`",
        f"Run: {shown} (task {predictor.task}); texts/s, best of {args.repeats}, start-up outside.",
        "",
        *table("Texts/s", measured),
    ]
    for label, (_, _, r) in measured.items():
        names = list(r)
        lines.append(f"- {label}: in-memory after/before {r[names[1]] / r[names[0]]:.2f}x; "
                     f"command loop after/before {r[names[3]] / r[names[2]]:.2f}x.")
    lines += ["", f"Same label on every line, before and after: {agree}.", ""]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "a", encoding="utf-8") as f:
        f.write("\n" + text)


if __name__ == "__main__":
    main()
