"""``model.name = "auto"`` (the LSTM and linear models blended on validation) against its members and the baselines.

One ``auto`` run of a suite dataset gives four figures in the same run: the blend,
its LSTM member (trained exactly as the default recipe: the blend's weight is 1
while it trains), its linear member (the TF-IDF model sharing the run's
vocabulary), and the in-run scikit-learn TF-IDF+LR baseline (``metrics.json``
"baseline"). Beside them: the default recipe's row of ``results/suite.jsonl``
(same dataset and seed, an earlier run) and, with ``--linear``, the ``linear``
recipe of ``benchmarks/bench_linear.py`` (its own 500k-word vocabulary).

The recipe is `bench_suite.textrecipes_run`'s (the data, the seed and ``model.name``;
checkpoints, backups and exports off). Rows are appended to ``results/auto.jsonl``
as they finish (a dataset already there is not run again); ``results/auto.md``
is rewritten from every row.

Usage (from the repository root; an auto run costs about what the default does)::

    nice -n 10 python benchmarks/bench_auto.py --datasets newsgroups5_small,reuters8 --seeds 0,1,2 --linear
    python benchmarks/bench_auto.py --report-only
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

RESULTS = os.path.join(ROOT, "benchmarks", "results")


def _recipe(dataset: str, model: str, seed: int) -> dict:
    path = baselines.SUITE[dataset]
    return {"name": f"auto_{dataset}_{model}", "seed": seed,
            "data": {s: os.path.join(path, f"{s}.tsv") for s in ("train", "validation", "test")},
            "model": {"name": model}, "callbacks": {"checkpoint": False, "backup": False},
            "export": {"saved_model": False, "keras": False}}


def _train(recipe: dict, dataset: str, model: str) -> tuple[dict, float]:
    from textrecipes import train

    start = time.perf_counter()
    result = train(recipe, run_dir=os.path.join(ROOT, "runs", "bench_auto", f"{dataset}_{model}"), overwrite=True,
                   verbose=0)
    seconds = time.perf_counter() - start
    with open(os.path.join(result.run_dir, "metrics.json"), encoding="utf-8") as f:
        return json.load(f), seconds


def auto_run(dataset: str, seed: int = 0) -> dict:
    """One ``auto`` run: the blend's, the members' and the in-run baseline's test figures, the weight, the seconds."""
    metrics, seconds = _train(_recipe(dataset, "auto", seed), dataset, "auto")
    auto, baseline = metrics["auto"], metrics.get("baseline") or {}
    row = {"weight": auto["weight"], "chosen_by": auto["chosen_by"], "linear_fit": auto["linear_fit"],
           "seconds": round(seconds, 1), "epochs": metrics["epochs_run"],
           # every weight's scores on validation and test: another choosing rule can be judged from the row
           "grid_by_split": {split: [{k: g[k] for k in ("weight", "accuracy", "macro_f1")} for g in grid]
                             for split, grid in auto.get("grid_by_split", {}).items()}}
    for name in ("auto", "lstm", "linear"):
        for split in ("validation", "test"):
            scores = auto["members"][name].get(split) or {}
            row[f"{name}_{split}"] = {k: scores.get(k) for k in ("accuracy", "macro_f1")}
    for split in ("validation", "test"):
        row[f"baseline_{split}"] = {k: (baseline.get(split) or {}).get(k) for k in ("accuracy", "macro_f1")}
    return row


def linear_run(dataset: str, seed: int = 0) -> dict:
    """The ``linear`` recipe (`bench_linear.RECIPE`) on one dataset: its test figures and seconds."""
    import bench_linear

    recipe = bench_linear.merge(_recipe(dataset, "linear", seed), bench_linear.RECIPE)
    metrics, seconds = _train(recipe, dataset, "linear")
    return {"linear_recipe_test": {k: metrics["test"][k] for k in ("accuracy", "macro_f1")},
            "linear_recipe_seconds": round(seconds, 1)}


def _rows(path: str) -> list:
    return baselines.done_rows(path) if os.path.exists(path) else []


def _tuned_baselines() -> dict:
    """dataset → {"tfidf_lr": row, "fasttext": row} from results/suite_baselines.jsonl (tuned on validation)."""
    out = {}
    for r in _rows(os.path.join(RESULTS, "suite_baselines.jsonl")):
        out.setdefault(r["dataset"], {})[r["method"]] = r
    return out


def _fit_cell(fit: dict) -> str:
    """The linear member's fit: lbfgs and its C, or SGD epochs (best); and its seconds where recorded."""
    how = f"lbfgs, C {fit['c']:g}" if fit.get("solver") == "lbfgs" else f"SGD {fit['epochs']} epochs ({fit['best_epoch']})"
    return how + (f", {fit['seconds']:.0f} s" if "seconds" in fit else "")


def table(rows: list, command: str) -> str:
    suite = {(r["dataset"], r["seed"]): r for r in _rows(os.path.join(RESULTS, "suite.jsonl")) if r["model"] == "lstm"}
    tuned = _tuned_baselines()

    def cell(d, metric):
        value = (d or {}).get(metric)
        return "" if value is None else f"{value:.4f}"

    lines = [f"## model.name = \"auto\" against its members and the baselines ({datetime.date.today().isoformat()})", "",
             f"- machine: {baselines.machine()}; shared with other jobs (seconds are noisy)",
             f"- command: `{command}`; this table: `python benchmarks/bench_auto.py --report-only`",
             "- one auto run gives the blend, its LSTM member (trained as the default recipe), its linear member "
             "(TF-IDF words + hashed bigrams over the run's 20k-word vocabulary; lbfgs with C picked on validation, or SGD at rate 4 in rows before 2026-12-02: see the fit column) and the in-run "
             "scikit-learn TF-IDF+LR baseline (metrics.json \"baseline\"); `default (suite)`: the default recipe's "
             "row of results/suite.jsonl (same seed, an earlier run); `linear recipe`: bench_linear.RECIPE "
             "(500k-word vocabulary)",
             "- w: the LSTM's share, p = w * p_lstm + (1 - w) * p_linear, picked on validation accuracy + macro-F1 "
             "(rows marked * were run under the earlier rule, validation accuracy alone, and re-chosen from the "
             "recorded validation grid; their test figures are those of the weight the new rule picks)",
             "- tuned TF-IDF+LR / fastText: results/suite_baselines.jsonl (each tuned on validation, scikit-learn's "
             "token pattern); the target is auto >= max(tuned TF-IDF+LR, fastText) - 0.5 points", ""]
    for metric, title in (("accuracy", "Test accuracy"), ("macro_f1", "Test macro-F1")):
        lines += [f"### {title}", "",
                  "| dataset | seed | w | auto | lstm member | linear member | in-run TF-IDF+LR | tuned TF-IDF+LR "
                  "| fastText | default (suite) | auto - max(lstm, tuned TF-IDF+LR, fastText) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            default = suite.get((r["dataset"], r["seed"]), {})
            base = tuned.get(r["dataset"], {})
            rivals = [r["lstm_test"][metric]] + [b.get(metric) for b in base.values()]
            best = max(v for v in rivals if v is not None)
            mark = "*" if r.get("rechosen") else ""
            lines.append(f"| {r['dataset']} | {r['seed']} | {r['weight']}{mark} | {cell(r['auto_test'], metric)} "
                         f"| {cell(r['lstm_test'], metric)} | {cell(r['linear_test'], metric)} "
                         f"| {cell(r['baseline_test'], metric)} | {cell(base.get('tfidf_lr'), metric)} "
                         f"| {cell(base.get('fasttext'), metric)} | {cell(default, metric)} "
                         f"| {100 * (r['auto_test'][metric] - best):+.1f} |")
        lines.append("")
    lines += ["### Validation accuracy (what w was picked on) and seconds", "",
              "| dataset | seed | auto | lstm member | linear member | in-run TF-IDF+LR | linear member fit "
              "| auto s (LSTM epochs) | default s (suite) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        default = suite.get((r["dataset"], r["seed"]), {})
        fit = r["linear_fit"]
        lines.append(f"| {r['dataset']} | {r['seed']} | {cell(r['auto_validation'], 'accuracy')} "
                     f"| {cell(r['lstm_validation'], 'accuracy')} | {cell(r['linear_validation'], 'accuracy')} "
                     f"| {cell(r['baseline_validation'], 'accuracy')} | {_fit_cell(fit)} "
                     f"| {r['seconds']:.0f} ({r['epochs']}) | {default.get('seconds', '')} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="newsgroups5_small,reuters8")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, each a row per dataset")
    parser.add_argument("--linear", action="store_true", help="also run the linear recipe (bench_linear.RECIPE)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--jsonl", default=os.path.join(RESULTS, "auto.jsonl"))
    parser.add_argument("--out", default=os.path.join(RESULTS, "auto.md"))
    args = parser.parse_args(argv)
    command = baselines.command_line()
    jobs = [(d, int(seed)) for seed in args.seeds.split(",") for d in args.datasets.split(",")]
    for dataset, seed in ([] if args.report_only else jobs):
        if dataset not in baselines.SUITE:
            sys.exit(f"unknown dataset {dataset!r}; choose from {sorted(baselines.SUITE)}")
        if any(r["dataset"] == dataset and r["seed"] == seed for r in _rows(args.jsonl)):
            continue
        row = {"dataset": dataset, "seed": seed, **(linear_run(dataset, seed) if args.linear else {}),
               **auto_run(dataset, seed), "date": datetime.date.today().isoformat(),
               "machine": baselines.machine(), "command": command, "load_avg": round(os.getloadavg()[1], 1)}
        with open(args.jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    text = table(_rows(args.jsonl), command)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
