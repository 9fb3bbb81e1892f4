"""Same recipe, same seed, same results: a fingerprint of three shipped recipes, before and after a change.

Trains, through the public API only (``textrecipes.train``), so that the same
script runs before and after a reorganisation of the package:

- the default recipe (``recipes/sentiment_lstm.toml``) on Rotten Tomatoes, seed 0;
- the pairs recipe (``recipes/pairs_lstm.toml``) on the derived news pairs;
- the tagging recipe (``recipes/conll_bilstm.toml``) on the derived fortune entities;

and writes, for each, the test metrics and the first 20 predicted probability
rows of the test split (tagging: the first 20 sentences' predicted tags), as
JSON. ``--compare A.json B.json`` says whether two fingerprints are identical.

Usage:

    python benchmarks/check_identical.py --out benchmarks/results/identity_before.json
    python benchmarks/check_identical.py --out /tmp/after.json
    python benchmarks/check_identical.py --compare benchmarks/results/identity_before.json /tmp/after.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = {"default": "recipes/sentiment_lstm.toml", "pairs": "recipes/pairs_lstm.toml", "tagging": "recipes/conll_bilstm.toml"}
DERIVED = {"pairs": ("news-pairs", "runs/data/news_pairs"), "tagging": ("fortune-ner", "runs/data/fortune_ner")}


def _derive(name: str, out: str) -> None:
    if not os.path.exists(os.path.join(out, "train.tsv" if name == "news-pairs" else "train.conll")):
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "textrecipes"), "data", "derive", name, "--out", out],
                       check=True, cwd=ROOT)


def _test_inputs(kind: str, recipe: dict) -> list:
    path = os.path.join(ROOT, recipe["data"]["test"])
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    if kind == "default":
        return [line.split("\t", 1)[1] for line in lines if line.strip()][:20]
    if kind == "pairs":
        return [tuple(line.split("\t")[:2]) for line in lines if line.strip()][:20]
    sentences, current = [], []
    for line in lines:
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
        else:
            current.append(line.split()[0])
    return (sentences + ([current] if current else []))[:20]


def fingerprint(kind: str, run_root: str) -> dict:
    import numpy as np

    import textrecipes

    started = time.time()
    result = textrecipes.train(os.path.join(ROOT, RECIPES[kind]), run_dir=os.path.join(run_root, kind), overwrite=True,
                               verbose=0)
    inputs = _test_inputs(kind, result.recipe)
    if kind == "default":
        probs = np.asarray(result.model.predict(np.array(inputs, dtype=object), verbose=0)).tolist()
    elif kind == "pairs":
        probs = np.asarray(result.model.predict({"text_a": np.array([a for a, _ in inputs], dtype=object),
                                                 "text_b": np.array([b for _, b in inputs], dtype=object)},
                                                verbose=0)).tolist()
    else:
        tagger = textrecipes.Tagger(result.run_dir)
        sentences = [" ".join(s) for s in inputs]
        probs = {"tags": [[tag for _, tag in tagged] for tagged in tagger.tag(sentences)],
                 "probabilities_first_5": [p.tolist() for p in tagger.predict_proba(sentences[:5])]}
    metrics = {k: result.metrics[k] for k in ("accuracy", "macro_f1") if k in result.metrics}
    if "entity" in result.metrics:
        metrics["entity_f1"] = result.metrics["entity"]["f1"]
    return {"recipe": RECIPES[kind], "metrics": metrics, "epochs_run": len(result.history.get("loss", [])),
            "first_20": probs, "seconds": round(time.time() - started, 1)}


def compare(a_path: str, b_path: str) -> int:
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    same = True
    for kind in RECIPES:
        if kind not in a["runs"] or kind not in b["runs"]:
            print(f"{kind:8s} not in both fingerprints")
            continue
        for key in ("metrics", "epochs_run", "first_20"):
            equal = a["runs"][kind][key] == b["runs"][kind][key]
            same &= equal
            print(f"{kind:8s} {key:10s} {'identical' if equal else 'DIFFERENT'}"
                  + ("" if equal or key == "first_20" else f": {a['runs'][kind][key]} vs {b['runs'][kind][key]}"))
    print("identical" if same else "DIFFERENT")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="where the JSON fingerprint goes")
    parser.add_argument("--runs", default="runs/identity", help="run folders (default runs/identity)")
    parser.add_argument("--only", nargs="+", choices=tuple(RECIPES), default=list(RECIPES))
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    os.chdir(ROOT)
    for kind in args.only:
        if kind in DERIVED:
            _derive(*DERIVED[kind])
    import platform

    out = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
           "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
           "runs": {}}
    runs = out["runs"]
    for kind in args.only:  # written after each run, so a crash keeps the runs before it
        runs[kind] = fingerprint(kind, args.runs)
        if args.out:
            with open(args.out, "w") as f:
                f.write(json.dumps(out, indent=1) + "\n")
    for kind, run in runs.items():
        print(kind, run["metrics"], f"{run['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
