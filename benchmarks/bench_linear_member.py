"""The auto model's linear member, lbfgs (C picked on validation) against the SGD fit it replaced, same run.

Both fits start from the same run preparation (tokens, vocabulary, idf) of the
default recipe on each suite dataset; only the member's weights differ. The
LSTM member is not trained (the blend's gain follows the member's; see
``bench_auto.py`` for whole runs).

    python benchmarks/bench_linear_member.py --datasets fortunes_topics,rotten_tomatoes
    python benchmarks/bench_linear_member.py --no-sgd        # lbfgs only (the SGD figures take minutes)
    python benchmarks/bench_linear_member.py --no-sgd --reference-grid   # and the plain grid, same run

``--reference-grid`` also times the grid as it was first written, in the same
run on the same rows: every C of ``LINEAR_CS``, one after another, over all the
feature columns (the member's fit skips unseen columns, runs a round's fits in
processes and stops after a round with no better C).

Rows go to ``benchmarks/results/linear_member.jsonl`` and the table to
``benchmarks/results/linear_member.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import baselines  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "benchmarks", "results", "linear_member")


def plain_grid(linear, task) -> dict:
    """Every C of LINEAR_CS in turn over all feature columns (the member's rows, its penalty): seconds and C picked."""
    from textrecipes.tasks.auto import (LINEAR_CS, _class_ids, _rank, _scores, _tfidf_rows, _unit_fits,
                                        _unit_probabilities, sklearn_c)

    started = time.perf_counter()
    train, validation = _tfidf_rows(linear, task, "train"), _tfidf_rows(linear, task, "validation")
    y = _class_ids(task, "train")  # the suite's sets are single-label, without class weights
    n, l2 = train[0].shape[0], linear.get_layer("probabilities").l2
    rows = []
    for c in LINEAR_CS:
        fits = _unit_fits(train, y, task.kind, [sklearn_c(c, l2, n)], None, 1)[0]
        rows.append({"c": c, **_scores(task, "validation", _unit_probabilities(fits, validation, task.kind,
                                                                                len(task.labels)))})
    return {"seconds": round(time.perf_counter() - started, 1), "c": max(rows, key=_rank)["c"], "grid": rows}


def member_scores(dataset: str, solver: str, seed: int = 0, naive_bayes: bool = False,
                  reference_grid: bool = False) -> dict:

    from textrecipes.models.auto import LINEAR_MEMBER
    from textrecipes.recipe.loading import load_recipe
    from textrecipes.tasks.auto import LINEAR_FIT, _ids, _scores, fit_linear_member
    from textrecipes.tasks.classification import ClassificationTask
    from textrecipes.evaluation.metrics import probabilities_per_label

    path = baselines.SUITE[dataset]
    cfg = load_recipe({"seed": seed, "data": {s: os.path.join(path, f"{s}.tsv") for s in ("train", "validation", "test")},
                       "model": {"name": "auto"}})
    task = ClassificationTask(cfg)
    task.prepare(task.read(cfg))
    model = task.build(initial=True)
    if naive_bayes:  # not a recipe key: the builder's own argument
        from textrecipes.models.classifiers import build_auto_classifier

        model = build_auto_classifier(len(task.vocab), len(task.labels), task=task.kind, seed=seed,
                                      linear_naive_bayes=True)
    started = time.perf_counter()
    record = fit_linear_member(model, task, fit=LINEAR_FIT if solver == "sgd" else None)
    seconds = time.perf_counter() - started
    linear = model.get_layer(LINEAR_MEMBER)
    out = {"dataset": dataset, "solver": record["solver"] + (" + naive Bayes" if naive_bayes else ""), "seed": seed,
           "seconds": round(seconds, 1),
           "fit": {k: v for k, v in record.items() if k != "seconds"}}
    if reference_grid and record["solver"] == "lbfgs":
        out["reference_grid"] = plain_grid(linear, task)
    for split in ("validation", "test"):
        p = probabilities_per_label(linear.predict(_ids(task, split), verbose=0), task.kind)
        out[split] = _scores(task, split, p)
    return out


def table(rows: list, command: str) -> str:
    tuned = {r["dataset"]: r for r in baselines.done_rows(os.path.join(ROOT, "benchmarks", "results",
                                                                      "suite_baselines.jsonl"))
             if r.get("method") == "tfidf_lr"}
    # The SGD member of the earlier auto runs (same recipe, seed 0; the fit this one replaced).
    sgd = {r["dataset"]: r for r in baselines.done_rows(os.path.join(ROOT, "benchmarks", "results", "auto.jsonl"))
           if r.get("seed") == 0 and r.get("linear_fit", {}).get("solver", "sgd") == "sgd"}
    lines = ["# The auto model's linear member: lbfgs (C on validation) vs SGD", "",
             f"- date: {datetime.date.today()}; machine: {baselines.machine()}", f"- command: `{command}`", "",
             "| dataset | solver | C | val acc | test acc | test macro-F1 | seconds | SGD member (auto.jsonl) test acc / F1 "
             "| tuned TF-IDF+LR test acc / F1 | plain 7-C grid, same run: s (C) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = tuned.get(r["dataset"], {})
        ref = f"{base['accuracy']:.4f} / {base['macro_f1']:.4f}" if base else ""
        old = sgd.get(r["dataset"], {}).get("linear_test")
        old = f"{old['accuracy']:.4f} / {old['macro_f1']:.4f}" if old else ""
        plain = r.get("reference_grid")
        plain = f"{plain['seconds']:.0f} ({plain['c']})" if plain else ""
        lines.append(f"| {r['dataset']} | {r['solver']} | {r['fit'].get('c', '')} | {r['validation']['accuracy']:.4f} "
                     f"| {r['test']['accuracy']:.4f} | {r['test']['macro_f1']:.4f} | {r['seconds']:.0f} | {old} | {ref} "
                     f"| {plain} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(baselines.SUITE))
    parser.add_argument("--no-sgd", action="store_true", help="lbfgs only")
    parser.add_argument("--report-only", action="store_true", help="rewrite the table from the .jsonl")
    parser.add_argument("--naive-bayes", action="store_true", help="naive-Bayes scaled features (binary sets)")
    parser.add_argument("--reference-grid", action="store_true", help="also time the plain 7-C grid, same run")
    args = parser.parse_args(argv)
    command = baselines.command_line()
    rows = baselines.done_rows(OUT + ".jsonl")
    for dataset in [] if args.report_only else args.datasets.split(","):
        for solver in ("lbfgs",) if args.no_sgd else ("lbfgs", "sgd"):
            row = {**member_scores(dataset, solver, naive_bayes=args.naive_bayes, reference_grid=args.reference_grid),
                   "date": str(datetime.date.today()), "machine": baselines.machine(), "command": command}
            print(json.dumps({k: row[k] for k in ("dataset", "solver", "seconds", "validation", "test")}
                             | {"reference_s": row.get("reference_grid", {}).get("seconds")}), flush=True)
            rows.append(row)
            with open(OUT + ".jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
    with open(OUT + ".md", "w", encoding="utf-8") as f:
        f.write(table(rows, rows[-1]["command"] if rows else command))


if __name__ == "__main__":
    main()
