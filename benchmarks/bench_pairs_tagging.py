"""Pairs and tagging benchmark: the two new recipes against simple references, same run, same splits.

1. Text pairs: recipes/pairs_lstm.toml on the derived news-pairs set (headline /
   body / yes|no from data/bench/news_outlets, `textrecipes data derive news-pairs`)
   against a TF-IDF reference: cosine similarity of the headline's and the body's
   TF-IDF vectors (fitted on the training pairs), the yes/no threshold chosen on
   the validation split. The pair recipe runs once per `model.match_features`
   variant (default: "none", the model before word-overlap signals, and "both")
   and seed. Test accuracy of each, and the ratios.
2. Sequence labelling: recipes/conll_bilstm.toml on the derived fortune-ner set
   (data/bench/fortunes_topics, `textrecipes data derive fortune-ner`) against the
   classic most-frequent-tag reference (each token gets its most frequent training
   tag, unknown tokens "O"). Token accuracy, macro-F1 and entity F1 of each, and
   the ratios.

Every figure comes from one run of this script; both recipes run unchanged
except for run_dir, seed, model.match_features (pairs) and (with --epochs) train.epochs.

Usage:
    python benchmarks/bench_pairs_tagging.py [--epochs N] [--seeds 0,1,2] [--variants none,both]
        [--out benchmarks/results/pairs_tagging.md]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.chdir(ROOT)

import numpy as np  # noqa: E402

from textrecipes.data.readers import read_conll, read_pairs  # noqa: E402
from textrecipes.data.derived import derive  # noqa: E402
from textrecipes.workflows.train import train  # noqa: E402
from textrecipes.evaluation.tagging import evaluate_tagging  # noqa: E402


def tfidf_pairs_reference(folder: str) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer

    data = {s: read_pairs(os.path.join(folder, f"{s}.tsv"), labeled=True).records for s in ("train", "validation", "test")}
    vec = TfidfVectorizer(sublinear_tf=True).fit([r.first for r in data["train"]] + [r.second for r in data["train"]])

    def cosine(records):
        a, b = vec.transform([r.first for r in records]), vec.transform([r.second for r in records])
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()  # rows are L2-normalised

    val_sim = cosine(data["validation"])
    val_y = np.array([r.label == "yes" for r in data["validation"]])
    threshold = max(np.unique(val_sim), key=lambda t: ((val_sim >= t) == val_y).mean())
    test_y = np.array([r.label == "yes" for r in data["test"]])
    return {"accuracy": float(((cosine(data["test"]) >= threshold) == test_y).mean()), "threshold": float(threshold)}


def most_frequent_tag_reference(folder: str, tags: list) -> dict:
    counts = collections.defaultdict(collections.Counter)
    for s in read_conll(os.path.join(folder, "train.conll")).records:
        for token, tag in zip(s.tokens, s.tags):
            counts[token][tag] += 1
    test = read_conll(os.path.join(folder, "test.conll")).records
    pred = [[counts[t].most_common(1)[0][0] if t in counts else "O" for t in s.tokens] for s in test]
    return evaluate_tagging([list(s.tags) for s in test], pred, tags)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=0, help="override train.epochs of both recipes (0: as written)")
    parser.add_argument("--seeds", default="0", help="seeds of the pair runs, comma-separated (default 0)")
    parser.add_argument("--variants", default="none,both", help="model.match_features values of the pair runs")
    parser.add_argument("--out", default="benchmarks/results/pairs_tagging.md")
    args = parser.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    variants = args.variants.split(",")
    command = "python benchmarks/bench_pairs_tagging.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    over = [f"train.epochs={args.epochs}"] if args.epochs else []

    derived = {name: derive(name, f"runs/data/{name.replace('-', '_')}") for name in ("news-pairs", "fortune-ner")}

    pair_runs = {}  # variant -> [(result, seconds), ...] one per seed
    for variant in variants:
        for seed in seeds:
            t0 = time.time()
            result = train("recipes/pairs_lstm.toml", overrides=over + [f"seed={seed}", f"model.match_features={variant}"],
                           run_dir=f"runs/bench_pairs_lstm_{variant}_{seed}", overwrite=True, verbose=0)
            pair_runs.setdefault(variant, []).append((result, time.time() - t0))
            print(f"pairs {variant} seed {seed}: test accuracy {result.metrics['accuracy']:.4f}", flush=True)
    pairs_ref = tfidf_pairs_reference("runs/data/news_pairs")
    described = {"none": "no match features (the model before)", "tokens": "exact-match flag per token (recipe default)",
                 "pooled": "pooled overlap shares in the head", "both": "flag per token + pooled shares"}
    pair_rows, means = [], {}
    for variant, runs in pair_runs.items():
        acc = np.array([r.metrics["accuracy"] for r, _ in runs])
        f1 = np.array([r.metrics["macro_f1"] for r, _ in runs])
        val = np.array([r.validation_metrics["accuracy"] for r, _ in runs])
        means[variant] = acc.mean()
        spread = f" ± {acc.std():.4f}" if len(acc) > 1 else ""
        pair_rows.append(f"| pairs_lstm, match_features = {variant}: {described.get(variant, variant)} | "
                         f"{acc.mean():.4f}{spread} ({', '.join(f'{a:.4f}' for a in acc)}) | {f1.mean():.4f} | "
                         f"{val.mean():.4f} | "
                         f"{np.mean([len(r.history['loss']) for r, _ in runs]):.0f} | "
                         f"{np.mean([t for _, t in runs]):.0f} |")
    pairs = pair_runs[variants[-1]][0][0]

    t0 = time.time()
    tagger = train("recipes/conll_bilstm.toml", overrides=over, run_dir="runs/bench_conll_bilstm", overwrite=True, verbose=0)
    tag_seconds = time.time() - t0
    tag_ref = most_frequent_tag_reference("runs/data/fortune_ner", tagger.labels)
    t, r = tagger.metrics, tag_ref

    lines = [
        "# Text pairs and sequence labelling (issue 6, part 3)",
        "",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        "Machine: x86_64, 2 cores AMD EPYC, shared (other jobs running; times are indicative only).",
        f"Command: `{command}`",
        "",
        f"Derived data (train/validation/test): news-pairs {derived['news-pairs']}, fortune-ner {derived['fortune-ner']}.",
        "Both sets are derived from real text by rule (see textrecipes/data/derived.py), not annotated by people.",
        "",
        "## Text pairs: recipes/pairs_lstm.toml (headline belongs to body?)",
        "",
        f"Shared BiLSTM encoder, head on [u, v, abs(u-v), u*v] (+ match features); seeds {seeds} "
        "(mean ± std over seeds, then each seed).",
        "",
        "| model | test accuracy | test macro-F1 | validation accuracy | epochs | seconds |",
        "|---|---|---|---|---|---|",
        *pair_rows,
        f"| reference: TF-IDF cosine, threshold {pairs_ref['threshold']:.3f} tuned on validation | "
        f"{pairs_ref['accuracy']:.4f} | | | | |",
        "",
        "Ratios to the reference (mean accuracy): "
        + ", ".join(f"{v} {m / pairs_ref['accuracy']:.3f}" for v, m in means.items()) + ".",
        "",
        "## Sequence labelling: recipes/conll_bilstm.toml (fortune-ner, IOB2 PER/NAME)",
        "",
        "| model | token accuracy | token macro-F1 | entity P | entity R | entity F1 | PER F1 | NAME F1 | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m, secs in (("conll_bilstm", t, f"{tag_seconds:.0f}"), ("reference: most frequent tag per token", r, "")):
        e = m["entity"]
        lines.append(f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {e['precision']:.4f} | {e['recall']:.4f} | "
                     f"{e['f1']:.4f} | {e['per_type'].get('PER', {}).get('f1', 0):.4f} | "
                     f"{e['per_type'].get('NAME', {}).get('f1', 0):.4f} | {secs} |")
    lines += [
        "",
        f"Ratios conll_bilstm / reference: token accuracy {t['accuracy'] / r['accuracy']:.3f}, "
        f"macro-F1 {t['macro_f1'] / r['macro_f1']:.3f}, entity F1 {t['entity']['f1'] / max(r['entity']['f1'], 1e-9):.3f}.",
        f"Export checks (SavedModel vs Keras): pairs ({variants[-1]}, seed {seeds[0]}) max |diff| "
        f"{pairs_export(pairs.run_dir)}, "
        f"tagger max |diff| {pairs_export(tagger.run_dir)}.",
        "",
    ]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def pairs_export(run_dir: str) -> str:
    import json

    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
        check = json.load(f)["export_check"]
    return f"{check['max_abs_diff']:.1e}"


if __name__ == "__main__":
    main()
