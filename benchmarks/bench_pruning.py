"""Benchmark: magnitude and structured pruning (issue 19) of the default recipe, on CPU.

For each dataset the default recipe is trained once (`textrecipes.train`,
verbose 0; early stopping on val_accuracy with the best weights, as the default
recipe does). From that base model, for each sparsity:

- unstructured: `prune_low_magnitude` on every embedding and LSTM kernel (the
  head left dense), fine-tuned ``--epochs`` epochs with `MagnitudePruning`, the
  polynomial schedule ramping from 0 to the target over the first
  ``--ramp-epochs`` epochs; the best validation epoch at or after the target is
  kept; `strip_pruning`.
- structured: whole embedding rows (vocabulary ids, hashed n-gram buckets, the
  rows training never read first) and whole BiLSTM units by norm
  (``--structured``), fine-tuned the same way, then `compact_model`; its
  end-to-end model is checked against the masked model's on the test texts.

Each variant is exported as a SavedModel over raw strings (`export_saved_model`)
and as a dynamic-range int8 TFLite model; reported: test accuracy (from the
reloaded exports), parameters and nonzero parameters, sizes raw and gzip
(a SavedModel folder as a .tar.gz), predictions/s (SavedModel: batches of 256;
TFLite: one text a call, as `textrecipes.export.tflite` runs it). Timings are taken
round-robin over all variants of a dataset, the best of ``--rounds`` rounds each,
so that the load of a shared machine hits every variant alike; ratios are
against the base model of the same run.

Usage:

    python benchmarks/bench_pruning.py [--datasets rotten_tomatoes,fortunes_topics,news_outlets]
        [--sparsities 0,0.5,0.8,0.9,0.95] [--epochs 3] [--ramp-epochs 2] [--learning-rate 3e-4]
        [--structured embedding=0.8,bigram_embedding=0.9,bilstm=0.5] [--max-train 0] [--base-epochs 10]
        [--out benchmarks/results/pruning.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import shutil
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

DATASETS = {
    "rotten_tomatoes": os.path.join(ROOT, "data", "rotten_tomatoes"),
    "fortunes_topics": os.path.join(ROOT, "data", "bench", "fortunes_topics"),
    "news_outlets": os.path.join(ROOT, "data", "bench", "news_outlets"),
    "convention_party": os.path.join(ROOT, "data", "bench", "convention_party"),
}


def parse_targets(text: str) -> dict:
    out = {}
    for part in filter(None, text.split(",")):
        name, value = part.split("=")
        out[name.strip()] = float(value)
    return out


def clone(model):
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def fine_tune(model, data, args, *, sparsity=None, structured=None):
    """Prunes ``model`` (a copy of the base) while fine-tuning; returns (the pruned model, seconds, history)."""
    import keras

    from textrecipes.models.losses import loss_for
    from textrecipes.pruning.callback import MagnitudePruning
    from textrecipes.pruning.schedule import PruningSchedule
    from textrecipes.pruning.selection import mask_unused_rows, prune_low_magnitude
    from textrecipes.tasks.classification import accuracy_metrics

    spe = data["steps_per_epoch"]
    frequency = max(1, spe // 10)
    if structured is None:
        schedule = PruningSchedule(sparsity, begin_step=0, end_step=args.ramp_epochs * spe, frequency=frequency)
        pruned = prune_low_magnitude(model, schedule)
    else:
        schedule = PruningSchedule(max(structured.values()), begin_step=0, end_step=args.ramp_epochs * spe,
                                   frequency=frequency)
        pruned = prune_low_magnitude(model, schedule, structured=True, layers=list(structured), targets=structured)
        mask_unused_rows(pruned, data["train_ds"])
    keras.utils.set_random_seed(data["seed"])
    pruned.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=loss_for(data["task"]),
                   metrics=accuracy_metrics(data["task"]))
    # The best epoch once the target is reached (epochs count from 0 here; the ramp ends with epoch ramp-1).
    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=args.epochs,
                                         restore_best_weights=True, start_from_epoch=args.ramp_epochs - 1)
    started = time.time()
    history = pruned.fit(data["train_ds"], validation_data=data["val_ds"], epochs=args.epochs,
                         callbacks=[MagnitudePruning(), best], verbose=0)
    return pruned, time.time() - started, {k: [round(float(x), 4) for x in v] for k, v in history.history.items()}


def prepare(name: str, path: str, args, work: str) -> dict:
    """Trains the base model with the default recipe and rebuilds its datasets for fine-tuning."""
    from textrecipes.export.tflite import split_end_to_end
    from textrecipes.tasks.classification import ClassificationTask
    from textrecipes.text.pipeline import encode_labels, make_dataset
    from textrecipes.text.tokenization import presegment
    from textrecipes.workflows.train import train

    recipe = {
        "name": f"prune_{name}",
        "data": {s: os.path.join(path, f"{s}.tsv") for s in ("train", "validation", "test")},
        "callbacks": {"checkpoint": False, "backup": False},
        "export": {"saved_model": False, "keras": True},
    }
    if args.max_train:
        recipe["data"]["max_train_examples"] = args.max_train
    if args.base_epochs:
        recipe["train"] = {"epochs": args.base_epochs}
    run_dir = os.path.join(work, "base_run")
    if args.reuse_base and os.path.exists(os.path.join(run_dir, "metrics.json")):
        # A finished base run of an earlier call (for trying fine-tuning settings): its model and recipe.
        import keras

        from textrecipes.recipe.loading import load_recipe

        e2e = keras.saving.load_model(os.path.join(run_dir, "model.keras"), safe_mode=True)
        cfg = load_recipe(os.path.join(run_dir, "recipe.toml"))
        with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
            summary = json.load(f)
        base_seconds, base_epochs, base_metrics = summary["train_seconds"], summary["epochs_run"], summary["test"]
        base_validation = summary["validation"]["accuracy"]
        with open(os.path.join(run_dir, "labels.json"), encoding="utf-8") as f:
            task = json.load(f)["task"]
    else:
        started = time.time()
        result = train(recipe, run_dir=run_dir, overwrite=True, verbose=0)
        base_seconds, base_epochs, base_metrics = time.time() - started, len(result.history["loss"]), result.metrics
        base_validation = result.validation_metrics["accuracy"]
        e2e, cfg, task = result.model, result.recipe, result.task
    vectorizer, base = split_end_to_end(e2e)
    reader = ClassificationTask(cfg)
    splits = reader.read(cfg)
    labels = reader.labels
    split = cfg["tokenize"]["split"]
    texts = {s: presegment([r.text for r in getattr(splits, s)], split) for s in ("train", "validation", "test")}
    targets = {s: encode_labels([r.label for r in getattr(splits, s)], labels, task) for s in texts}
    batch = cfg["train"]["batch_size"]
    return {
        "name": name, "seed": cfg["seed"], "task": task, "labels": labels, "vectorizer": vectorizer,
        "base": base, "base_seconds": base_seconds, "base_epochs": base_epochs,
        "base_metrics": base_metrics, "base_validation": base_validation, "split": split, "texts": texts, "targets": targets,
        "meta": {k: cfg["tokenize"][k] for k in ("split", "lowercase", "max_length")},
        "raw_test": [r.text for r in splits.test],
        "train_ds": make_dataset(texts["train"], targets["train"], vectorizer, batch_size=batch, shuffle=True,
                                 seed=cfg["seed"], bucket=cfg["train"]["bucket"]),
        "val_ds": make_dataset(texts["validation"], targets["validation"], vectorizer, batch_size=256),
        "test_ds": make_dataset(texts["test"], targets["test"], vectorizer, batch_size=256),
        "steps_per_epoch": math.ceil(len(texts["train"]) / batch),
    }


def slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label)


def export_variant(data, label: str, classifier, work: str) -> dict:
    """SavedModel and int8 TFLite of one variant; sizes, parameters, accuracy from the reloaded exports."""
    from textrecipes.evaluation.metrics import evaluate_predictions
    from textrecipes.export.predictors import Predictor
    from textrecipes.export.saved_model import end_to_end_model, export_saved_model
    from textrecipes.export.tflite import TFLiteClassifier, convert_to_tflite
    from textrecipes.pruning.report import export_size, sparsity_report
    from textrecipes.text.tokenization import _encode

    folder = os.path.join(work, "variants", slug(label))
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    e2e = end_to_end_model(data["vectorizer"], classifier)
    saved = os.path.join(folder, "saved_model")
    export_saved_model(e2e, saved, labels=data["labels"], task=data["task"], meta={**data["meta"], "variant": label})
    probs = Predictor(saved).predict_proba(data["raw_test"])
    accuracy = evaluate_predictions(data["targets"]["test"], probs, data["labels"], data["task"])["accuracy"]
    tflite_path = os.path.join(folder, "model_int8.tflite")
    with open(tflite_path, "wb") as f:
        f.write(convert_to_tflite(classifier, "int8"))
    tfl_probs = TFLiteClassifier(tflite_path, data["vectorizer"], data["task"]).predict_proba(_encode(data["texts"]["test"]))
    tfl_accuracy = evaluate_predictions(data["targets"]["test"], tfl_probs, data["labels"], data["task"])["accuracy"]
    report = sparsity_report(classifier)
    return {"variant": label, "folder": os.path.relpath(folder, work), "accuracy": float(accuracy),
            "params": report["params"], "nonzero": report["nonzero"], "saved_model": export_size(saved),
            "tflite_int8": export_size(tflite_path), "tflite_accuracy": float(tfl_accuracy),
            "layers": report["layers"]}


def time_variants(rows: list, data: dict, work: str, rounds: int) -> None:
    """Predictions/s of every variant on disk, round-robin, the best round of each."""
    from textrecipes.export.predictors import Predictor
    from textrecipes.export.tflite import TFLiteClassifier
    from textrecipes.pruning.report import predictions_per_second
    from textrecipes.text.tokenization import _encode

    encoded = _encode(data["texts"]["test"])
    runners = []
    for row in rows:
        folder = os.path.join(work, row["folder"])
        runners.append((Predictor(os.path.join(folder, "saved_model")).predict_proba,
                        TFLiteClassifier(os.path.join(folder, "model_int8.tflite"), data["vectorizer"],
                                         data["task"]).predict_proba))
        row["per_s"], row["tflite_per_s"] = 0.0, 0.0
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        # A fresh order each round: measured in a fixed order, the first variant came out up to 1.5x
        # slower than an identical graph measured later (other jobs on the machine).
        for i in rng.permutation(len(rows)):
            row, (saved, tfl) = rows[i], runners[i]
            row["per_s"] = max(row["per_s"], predictions_per_second(saved, data["raw_test"], batch_size=256))
            row["tflite_per_s"] = max(row["tflite_per_s"], predictions_per_second(tfl, encoded, batch_size=256))


def load_results(work: str) -> dict:
    path = os.path.join(work, "results.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_results(work: str, results: dict) -> None:
    with open(os.path.join(work, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)


def order(label: str) -> tuple:
    if label.startswith("base"):
        return (0, 0.0)
    if label.startswith("structured"):
        return (2, 0.0)
    return (1, float(label.split("%")[0]))


def section(name: str, results: dict) -> str:
    rows = sorted(results["rows"].values(), key=lambda r: order(r["variant"]))
    base = results["rows"]["base (unpruned)"]
    info = results["info"]
    lines = [
        f"### {name}",
        "",
        f"Base: {info['train']} train / {info['validation']} validation / {info['test']} test texts; trained "
        f"{info['base_epochs']} epochs in {info['base_seconds']:.0f} s (runner's test accuracy "
        f"{info['base_accuracy']:.4f}). Timed: {info['timed']}.",
        "",
        "| variant | test acc | Δ pts | val acc | params | nonzero | SavedModel MB | gzip MB | gzip / base | preds/s "
        "| / base | int8 acc | int8 MB | int8 gzip MB | int8 preds/s | / base | fine-tune s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        sm, tl = row["saved_model"], row["tflite_int8"]
        # The validation accuracy of the epoch kept (the best one once at the target sparsity).
        val = info.get("base_validation") if row["history"] is None else \
            max(row["history"]["val_accuracy"][row.get("ramp_epochs", 2) - 1:])
        lines.append(
            f"| {row['variant']} | {row['accuracy']:.4f} | {100 * (row['accuracy'] - base['accuracy']):+.1f} "
            f"| {'' if val is None else f'{val:.4f}'} | {row['params']:,} | {row['nonzero']:,} | {sm['bytes'] / 1e6:.1f} | {sm['gzip_bytes'] / 1e6:.1f} "
            f"| {sm['gzip_bytes'] / base['saved_model']['gzip_bytes']:.2f} | {row['per_s']:.0f} "
            f"| {row['per_s'] / base['per_s']:.2f} | {row['tflite_accuracy']:.4f} | {tl['bytes'] / 1e6:.1f} "
            f"| {tl['gzip_bytes'] / 1e6:.1f} | {row['tflite_per_s']:.0f} | {row['tflite_per_s'] / base['tflite_per_s']:.2f} "
            f"| {row['seconds']} |")
    for row in rows:
        if "compact_vs_masked" in row:
            lines += ["", f"{row['variant']}: the compact model against the masked model it came from, through the "
                          f"raw-string model on the test texts: max |probability diff| {row['compact_vs_masked']:.1e}. "
                          "Parameters per layer: "
                      + "; ".join(f"{k} {v['params']:,}" for k, v in row["layers"].items()) + "."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="rotten_tomatoes,fortunes_topics,news_outlets")
    parser.add_argument("--sparsities", default="0,0.5,0.8,0.9,0.95")
    parser.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs per variant")
    parser.add_argument("--ramp-epochs", type=int, default=2, help="epochs over which the sparsity ramps up")
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="fine-tuning rate (Adam)")
    parser.add_argument("--structured", default="embedding=0.8,bigram_embedding=0.9,bilstm=0.5",
                        help="layer=fraction of rows/units removed, comma-separated; several variants separated "
                             "by ';'; empty: no structured variant")
    parser.add_argument("--max-train", type=int, default=0, help="data.max_train_examples of the base run (0: all)")
    parser.add_argument("--base-epochs", type=int, default=0, help="train.epochs of the base run (0: the default)")
    parser.add_argument("--reuse-base", action="store_true",
                        help="reuse the finished base run and the variants already in --work (add variants to them)")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (best kept)")
    parser.add_argument("--time-only", action="store_true",
                        help="only time again the variants already in --work (after training, on a quieter machine)")
    parser.add_argument("--work", default=os.path.join(ROOT, "runs", "bench_pruning"))
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "pruning.md"))
    args = parser.parse_args()
    if args.ramp_epochs < 1 or args.ramp_epochs > args.epochs:
        sys.exit("--ramp-epochs must be between 1 and --epochs")

    import keras
    import tensorflow as tf

    from textrecipes.export.saved_model import end_to_end_model
    from textrecipes.pruning.compact import compact_model
    from textrecipes.pruning.strip import strip_pruning

    sparsities = [float(s) for s in args.sparsities.split(",") if s.strip()]
    variants = [parse_targets(spec) for spec in args.structured.split(";") if spec.strip()]
    command = "nice -n 10 python benchmarks/bench_pruning.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    for name in args.datasets.split(","):
        path = DATASETS[name]
        if not os.path.exists(os.path.join(path, "train.tsv")):
            sys.exit(f"{path}/train.tsv missing: run `python benchmarks/datasets.py {name}`")
        work = os.path.join(args.work, name)
        os.makedirs(work, exist_ok=True)
        if args.time_only:
            args.reuse_base = True
        data = prepare(name, path, args, work)
        results = load_results(work) if args.reuse_base else {}
        results.setdefault("rows", {})
        results["info"] = {"train": len(data["texts"]["train"]), "validation": len(data["texts"]["validation"]),
                           "test": len(data["texts"]["test"]), "base_epochs": data["base_epochs"],
                           "base_seconds": data["base_seconds"], "base_accuracy": data["base_metrics"]["accuracy"],
                           "base_validation": data["base_validation"]}
        results.setdefault("commands", [])
        results["commands"].append(command)
        print(f"{name}: base trained in {data['base_seconds']:.0f} s ({data['base_epochs']} epochs), "
              f"test accuracy {data['base_metrics']['accuracy']:.4f}", flush=True)

        def add(row):
            row.setdefault("ramp_epochs", args.ramp_epochs)
            results["rows"][row["variant"]] = row
            save_results(work, results)
            print(name, row["variant"], {k: row.get(k) for k in ("accuracy", "params", "nonzero", "saved_model",
                                                                  "tflite_accuracy", "compact_vs_masked")}, flush=True)

        if args.time_only:
            sparsities_now, variants_now = [], []
        else:
            sparsities_now, variants_now = sparsities, variants
        if "base (unpruned)" not in results["rows"]:
            add({**export_variant(data, "base (unpruned)", data["base"], work), "seconds": round(data["base_seconds"]),
                 "history": None})
        for sparsity in sparsities_now:
            pruned, seconds, history = fine_tune(clone(data["base"]), data, args, sparsity=sparsity)
            label = f"{sparsity:.0%} weights"
            add({**export_variant(data, label, strip_pruning(pruned), work), "seconds": round(seconds),
                 "history": history})
        for structured in variants_now:
            pruned, seconds, history = fine_tune(clone(data["base"]), data, args, structured=structured)
            small = compact_model(pruned)
            texts = tf.constant(data["texts"]["test"])
            masked = end_to_end_model(data["vectorizer"], strip_pruning(pruned)).predict(texts, batch_size=256, verbose=0)
            compact = end_to_end_model(data["vectorizer"], small).predict(texts, batch_size=256, verbose=0)
            label = "structured " + ",".join(f"{k}={v:.0%}" for k, v in structured.items())
            add({**export_variant(data, label, small, work), "seconds": round(seconds), "history": history,
                 "compact_vs_masked": float(np.max(np.abs(masked - compact)))})
        rows = list(results["rows"].values())
        time_variants(rows, data, work, args.rounds)
        results["info"]["timed"] = (f"{datetime.date.today().isoformat()}, {len(rows)} variants round-robin, "
                                    f"best of {args.rounds}")
        save_results(work, results)
        keras.backend.clear_session()
        write_report(args, tf.__version__, keras.__version__)
        print(section(name, results), flush=True)


def write_report(args, tf_version: str, keras_version: str) -> None:
    """benchmarks/results/pruning.md from every dataset's results.json in --work."""
    sections, commands = [], []
    for name in DATASETS:
        results = load_results(os.path.join(args.work, name))
        if results.get("rows") and "base (unpruned)" in results["rows"] and "timed" in results.get("info", {}):
            sections.append(section(name, results))
            commands += [c for c in results["commands"] if c not in commands]
    text = "\n".join([
        "# Pruning: magnitude (unstructured) and structured, then int8 TFLite (issue 19)",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: {platform.machine()}, {os.cpu_count()} cores, shared "
        f"with other jobs, no GPU; TensorFlow {tf_version}, Keras {keras_version}.",
        "",
        "Commands (in this order; later ones add variants to the same base runs with --reuse-base):",
        "",
        *[f"    {c}" for c in commands],
        "",
        f"Fine-tuning from the base model: {args.epochs} epochs, Adam {args.learning_rate}, the sparsity ramped "
        f"(Zhu & Gupta, cubic) from 0 over the first {args.ramp_epochs} epoch(s), masks updated 10 times an epoch; "
        "the best validation epoch at the target kept. \"N% weights\": every embedding and BiLSTM kernel pruned to "
        "N% (not the head, not the biases), the exported model stripped. Structured: the rows of each embedding "
        "and the BiLSTM units named, removed by norm (rows training never read first) and the model compacted. "
        "SavedModel sizes: the folder, raw and as a .tar.gz (gzip level 6). preds/s: the SavedModel over raw "
        "strings, batches of 256; int8: dynamic-range TFLite, one text a call (the converted BiLSTM has a static "
        "batch of one), tokenization included; every variant of a dataset timed round-robin in one process.",
        "",
        *[s + "\n" for s in sections],
    ])
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
