"""Where textrecipes stands on the whole benchmark suite, beside the baselines users would write.

For every dataset of the suite (`benchmarks/baselines.py` ``SUITE``; prepare them with
``python benchmarks/datasets.py all`` and ``textrecipes data fetch rotten-tomatoes``), in
one command:

* the two baselines of `benchmarks/baselines.py` (TF-IDF + logistic regression and
  fastText, each tuned on validation), rows in ``results/suite_baselines.jsonl``;
* textrecipes through its public API (``from textrecipes import train``), a recipe dict
  with only data.train/validation/test, the seed and the model name set: the default
  recipe (``lstm``, every other key its default: recipes/sentiment_lstm.toml's settings)
  and the ``cnn`` and ``fasttext`` model recipes (``model.name`` changed, nothing else),
  rows in ``results/suite.jsonl``. Checkpoints, epoch backups and the exports are
  switched off: they change no metric, and ``seconds`` is then the time of the
  ``train()`` call up to the test report (tokenization, fit with early stopping and the
  per-epoch validation pass, evaluation).

Every row is appended as soon as it is measured, and a row already in its .jsonl
(same dataset, model and seed) is not run again, so a killed run resumes where it
stopped. At the end ``results/suite.md`` gets one table per metric (test accuracy,
test macro-F1) with the gap of the default to the better baseline, and the seconds;
a section headed "### Where the default loses" written by hand below them is kept.

Usage (from the repository root; long: run it with ``nice -n 10``)::

    python benchmarks/bench_suite.py                         # everything, seed 0
    python benchmarks/bench_suite.py --datasets reuters8 --models lstm --seeds 0,1,2
    python benchmarks/bench_suite.py --report-only           # rewrite suite.md from the .jsonl files
    python benchmarks/bench_suite.py --max-train wordnet_supersenses=20000   # cap one dataset's training split
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import baselines  # noqa: E402

MODELS = ("lstm", "cnn", "fasttext")
COLUMNS = (("tfidf_lr", "TF-IDF+LR"), ("fasttext_bl", "fastText"), ("lstm", "lstm (default)"),
           ("cnn", "cnn"), ("fasttext", "fasttext recipe"))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
NOTES_HEADING = "### Where the default loses"


def textrecipes_run(dataset: str, model: str, seed: int = 0, max_train: int = 0) -> dict:
    """Trains one recipe on one suite dataset through the public API; returns its test figures.

    Args:
        dataset: a name of `baselines.SUITE`.
        model: ``model.name``: "lstm" (the default recipe), "cnn", "fasttext", ...
        seed: the recipe seed. Default 0.
        max_train: above 0, ``data.max_train_examples`` (the first N training examples). Default 0.

    Returns:
        A dict: test ``accuracy``, ``macro_f1``, validation ``val_accuracy``, ``seconds``,
        ``epochs`` run and ``best_epoch`` (by val_accuracy, the early-stopping monitor).
    """
    from textrecipes import train

    path = baselines.SUITE[dataset]
    recipe = {
        "name": f"suite_{dataset}_{model}",
        "seed": seed,
        "data": {s: os.path.join(path, f"{s}.tsv") for s in ("train", "validation", "test")},
        "model": {"name": model},
        "callbacks": {"checkpoint": False, "backup": False},
        "export": {"saved_model": False, "keras": False},
    }
    if max_train:
        recipe["data"]["max_train_examples"] = max_train
    start = time.perf_counter()
    result = train(recipe, run_dir=os.path.join(ROOT, "runs", "bench_suite", f"{dataset}_{model}"),
                   overwrite=True, verbose=0)
    seconds = time.perf_counter() - start
    val = result.history.get("val_accuracy", [])
    return {"accuracy": float(result.metrics["accuracy"]), "macro_f1": float(result.metrics["macro_f1"]),
            "val_accuracy": float(max(val)) if val else None, "seconds": round(seconds, 1),
            "epochs": len(result.history["loss"]), "best_epoch": int(val.index(max(val))) + 1 if val else None}


def _append(jsonl: str, row: dict) -> None:
    with open(jsonl, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def _cells(baseline_rows, model_rows, seed):
    """{(dataset, column): row}; the newest row wins when one was measured twice."""
    cells = {}
    for r in baseline_rows:
        cells[(r["dataset"], "fasttext_bl" if r["method"] == "fasttext" else r["method"])] = r
    for r in model_rows:
        if r["seed"] == seed:
            cells[(r["dataset"], r["model"])] = r
    return cells


def write_report(out: str, baseline_rows, model_rows, command: str, seed: int = 0) -> str:
    cells = _cells(baseline_rows, model_rows, seed)
    datasets = [d for d in baselines.SUITE if any((d, c) in cells for c, _ in COLUMNS)]
    rows = [r for r in list(baseline_rows) + list(model_rows) if r in cells.values()]
    commands = sorted({r["command"] for r in rows if "command" in r})
    loads = [r["load_avg"] for r in rows if "load_avg" in r]
    capped = sorted({(r["dataset"], r["max_train"]) for r in model_rows if r.get("max_train")})
    lines = [
        f"## Benchmark suite: textrecipes against the baselines ({datetime.date.today().isoformat()})",
        "",
        f"- machine: {baselines.machine()}; shared with other jobs, so seconds are noisy"
        + (f" (5-minute load average at the end of the runs: {min(loads):.1f}-{max(loads):.1f})" if loads else ""),
        "- commands that made the rows: " + "; ".join(f"`{c}`" for c in commands),
        f"- this report: `{command}`",
        "- an empty cell: not measured yet; the same command resumes and skips the rows already there",
        f"- textrecipes: seed {seed}, the default recipe (`lstm`) and `model.name` = `cnn` / `fasttext` with every "
        "other key at its default; early stopping on val_accuracy (patience 3, best weights), at most 10 epochs",
        "- baselines (`benchmarks/baselines.py`): TF-IDF word 1-2 grams (character 1-2 grams for Chinese), "
        "sublinear tf, min_df=2, + LogisticRegression, C in (0.1, 1, 10, 100) picked on validation; fastText "
        "wordNgrams=2, lr in (0.1, 0.3, 1.0) x epoch in (5, 20, 50) picked on validation, thread=1, seed=0",
        "- gap = lstm (default) - max(TF-IDF+LR, fastText), in points (x100)",
    ]
    if capped:
        lines.append("- capped training splits (data.max_train_examples): "
                     + ", ".join(f"{d} at {n:,}" for d, n in capped))
    for metric, title in (("accuracy", "Test accuracy"), ("macro_f1", "Test macro-F1")):
        lines += ["", f"### {title}", "",
                  "| dataset | " + " | ".join(name for _, name in COLUMNS) + " | gap of the default |",
                  "|---|" + "---|" * (len(COLUMNS) + 1)]
        for d in datasets:
            values = {c: cells[(d, c)][metric] if (d, c) in cells else None for c, _ in COLUMNS}
            best_bl = max((v for c, v in values.items() if c in ("tfidf_lr", "fasttext_bl") and v is not None),
                          default=None)
            gap = "" if best_bl is None or values["lstm"] is None else f"{100 * (values['lstm'] - best_bl):+.1f}"
            lines.append(f"| {d} | " + " | ".join("" if v is None else f"{v:.4f}" for v in values.values())
                         + f" | {gap} |")
    lines += ["", "### Seconds (baselines: every fit of the tuning grid; textrecipes: the train() call, "
                  "epochs run in brackets)", "",
              "| dataset | " + " | ".join(name for _, name in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for d in datasets:
        row = []
        for c, _ in COLUMNS:
            r = cells.get((d, c))
            row.append("" if r is None else f"{r['seconds']:.0f}" + (f" ({r['epochs']})" if "epochs" in r else ""))
        lines.append(f"| {d} | " + " | ".join(row) + " |")
    text = "\n".join(lines) + "\n"
    # a hand-written reading of the tables, under NOTES_HEADING, survives a rewrite
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            old = f.read()
        if NOTES_HEADING in old:
            text += "\n" + old[old.index(NOTES_HEADING):]
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(baselines.SUITE))
    parser.add_argument("--models", default=",".join(MODELS), help="textrecipes model.name values; '' for none")
    parser.add_argument("--baselines", default=",".join(baselines.METHODS), help="'' for none")
    parser.add_argument("--seeds", default="0", help="comma-separated textrecipes seeds")
    parser.add_argument("--max-train", default="", help="DATASET=N,...: data.max_train_examples for those datasets")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report from the .jsonl files")
    parser.add_argument("--jsonl", default=os.path.join(RESULTS, "suite.jsonl"))
    parser.add_argument("--baselines-jsonl", default=os.path.join(RESULTS, "suite_baselines.jsonl"))
    parser.add_argument("--out", default=os.path.join(RESULTS, "suite.md"))
    args = parser.parse_args(argv)
    datasets = args.datasets.split(",")
    unknown = [d for d in datasets if d not in baselines.SUITE]
    if unknown:
        sys.exit(f"unknown dataset(s) {unknown}; choose from {sorted(baselines.SUITE)}")
    caps = {k: int(v) for k, v in (item.split("=") for item in args.max_train.split(",") if item)}
    os.makedirs(RESULTS, exist_ok=True)
    command = baselines.command_line()
    if not args.report_only:
        for dataset in datasets:
            path = baselines.SUITE[dataset]
            done = {(r["dataset"], r["method"]) for r in baselines.done_rows(args.baselines_jsonl)}
            splits = None
            for method in [m for m in args.baselines.split(",") if m]:
                if (dataset, method) in done:
                    continue
                splits = splits or baselines.read_splits(path)
                result = baselines.METHODS[method](splits["train"], splits["validation"], splits["test"],
                                                   chinese=baselines.language(path) == "zh")
                _append(args.baselines_jsonl, {"dataset": dataset, "method": method, **result,
                                               "date": datetime.date.today().isoformat(),
                                               "machine": baselines.machine(), "command": command,
                                               "load_avg": round(os.getloadavg()[1], 1)})
                print(dataset, method, {k: v for k, v in result.items() if k != "grid"}, flush=True)
            done = {(r["dataset"], r["model"], r["seed"]) for r in baselines.done_rows(args.jsonl)}
            for model in [m for m in args.models.split(",") if m]:
                for seed in (int(s) for s in args.seeds.split(",")):
                    if (dataset, model, seed) in done:
                        continue
                    result = textrecipes_run(dataset, model, seed, caps.get(dataset, 0))
                    _append(args.jsonl, {"dataset": dataset, "model": model, "seed": seed,
                                         "max_train": caps.get(dataset, 0), **result,
                                         "date": datetime.date.today().isoformat(),
                                         "machine": baselines.machine(), "command": command,
                                         "load_avg": round(os.getloadavg()[1], 1)})
                    print(dataset, model, seed, result, flush=True)
    print(write_report(args.out, baselines.done_rows(args.baselines_jsonl), baselines.done_rows(args.jsonl), command,
                       seed=int(args.seeds.split(",")[0])))


if __name__ == "__main__":
    main()
