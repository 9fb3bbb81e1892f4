"""The auto model's linear member, lbfgs (C picked on validation) against the SGD fit it replaced, same run.

Both fits start from the same run preparation (tokens, vocabulary, idf) of the
default recipe on each suite dataset; only the member's weights differ. The
LSTM member is not trained (the blend's gain follows the member's; see
``bench_auto.py`` for whole runs).

    python benchmarks/bench_linear_member.py --datasets fortunes_topics,rotten_tomatoes
    python benchmarks/bench_linear_member.py --no-sgd        # lbfgs only (the SGD figures take minutes)

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


def member_scores(dataset: str, solver: str, seed: int = 0, naive_bayes: bool = False) -> dict:

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
             "| tuned TF-IDF+LR test acc / F1 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = tuned.get(r["dataset"], {})
        ref = f"{base['accuracy']:.4f} / {base['macro_f1']:.4f}" if base else ""
        old = sgd.get(r["dataset"], {}).get("linear_test")
        old = f"{old['accuracy']:.4f} / {old['macro_f1']:.4f}" if old else ""
        lines.append(f"| {r['dataset']} | {r['solver']} | {r['fit'].get('c', '')} | {r['validation']['accuracy']:.4f} "
                     f"| {r['test']['accuracy']:.4f} | {r['test']['macro_f1']:.4f} | {r['seconds']:.0f} | {old} | {ref} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(baselines.SUITE))
    parser.add_argument("--no-sgd", action="store_true", help="lbfgs only")
    parser.add_argument("--report-only", action="store_true", help="rewrite the table from the .jsonl")
    parser.add_argument("--naive-bayes", action="store_true", help="naive-Bayes scaled features (binary sets)")
    args = parser.parse_args(argv)
    command = baselines.command_line()
    rows = baselines.done_rows(OUT + ".jsonl")
    for dataset in [] if args.report_only else args.datasets.split(","):
        for solver in ("lbfgs",) if args.no_sgd else ("lbfgs", "sgd"):
            row = {**member_scores(dataset, solver, naive_bayes=args.naive_bayes), "date": str(datetime.date.today()), "machine": baselines.machine(),
                   "command": command}
            print(json.dumps({k: row[k] for k in ("dataset", "solver", "seconds", "validation", "test")}), flush=True)
            rows.append(row)
            with open(OUT + ".jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
    with open(OUT + ".md", "w", encoding="utf-8") as f:
        f.write(table(rows, rows[-1]["command"] if rows else command))


if __name__ == "__main__":
    main()
