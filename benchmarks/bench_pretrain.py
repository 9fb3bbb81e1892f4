"""Benchmark: LSTM language-model pretraining → classifier (ULMFiT-style) vs training from scratch (issue 6).

1. Pretrain `textrecipes.tasks.language_model` on the Rotten Tomatoes training texts without
   their labels, all but the labelled ones (the first ``--labelled`` lines).
2. On the ``--labelled`` labelled lines (500), train per seed, each LM arm
   against a scratch arm of the same shape:
   - the LSTM-only classifier (Embedding → unidirectional LSTM → masked
     mean/max pooling → Dense, no hashed-bigram branch, so that the LSTM is
     all there is): ``scratch``; ``lm`` (``model.init_from`` = the LM: its
     vocabulary, embedding and LSTM); ``lm_gradual`` (plus
     ``train.unfreeze = "gradual"``, ``train.layer_lr_decay = 2.6``: ULMFiT);
     ``scratch_lr0.01`` and ``lm_lr0.01_decay2.6`` (rate 0.01 as ULMFiT's
     classifier, the LM arm with discriminative rates 0.01 / 0.0038 / 0.0015);
   - the default recipe (BiLSTM + mean/max pooling + hashed bigrams), with
     ``model.embedding_dim`` set to the LM's: ``default_scratch``,
     ``default_lm`` (the LM's embedding and, in the forward direction, LSTM)
     and ``default_lm_embedding`` (``model.init_from_layers = "embedding"``:
     the LM's word vectors alone); ``lm_embedding`` is the same for the
     LSTM-only classifier.
3. A linear probe: logistic regression (standardised features) on the masked
   mean and max of the LM's LSTM states, fit on the labelled lines, scored on
   the test file; the same for a randomly initialised LM of the same shape.
   Every arm: Adam 1e-3 (unless named lr0.01), batch 32, up to ``--epochs`` epochs, early stopping on
   val_accuracy (patience 3, best weights restored). The validation file
   (data/rotten_tomatoes/validation.tsv, 1,276 lines) is used for early
   stopping in every arm alike; test accuracy is on data/rotten_tomatoes/test.tsv.

The model code is Keras layers and ops only, so the same script can run under
KERAS_BACKEND=jax on a GPU (the pipeline's vectorizer is TensorFlow's tf.data).

Usage:

    python benchmarks/bench_pretrain.py [--seeds 3] [--labelled 500] [--lm-epochs 10] [--epochs 15] [--lm-dir DIR] [--untied] [--quick] [--out PATH]

``--lm-dir`` caches the language model: a finished LM there, trained with the
same settings on the same corpus, is reused (its training time is read from
its metrics.json); otherwise the LM is trained there.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
RT = os.path.join(ROOT, "data", "rotten_tomatoes")
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "pretrain.md")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--labelled", type=int, default=500)
    parser.add_argument("--unlabelled", type=int, default=0, help="LM corpus lines (0: every training line not labelled)")
    parser.add_argument("--lm-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=10000)
    parser.add_argument("--untied", action="store_true",
                        help="the LM before tying: a separate output layer and no dropout (for the comparison)")
    parser.add_argument("--lm-dir", help="reuse the LM in this folder when its settings and corpus match; else train it there")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 seed, 2000-line corpus, 1 LM epoch, 2 epochs")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.unlabelled, args.lm_epochs, args.epochs = 1, 2000, 1, 2
    out_path = args.out or (os.path.join(tempfile.gettempdir(), "pretrain_quick.md") if args.quick else DEFAULT_OUT)

    from textrecipes.tasks.language_model import pretrain
    from textrecipes.workflows.train import train

    started = datetime.datetime.now(datetime.timezone.utc)
    tmp = tempfile.mkdtemp(prefix="bench_pretrain_")
    with open(os.path.join(RT, "train.tsv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    labelled, rest = lines[: args.labelled], lines[args.labelled:]
    if args.unlabelled:
        rest = rest[: args.unlabelled]
    labelled_path = os.path.join(tmp, "labelled.tsv")
    with open(labelled_path, "w", encoding="utf-8") as f:
        f.write("\n".join(labelled) + "\n")
    corpus_path = os.path.join(tmp, "corpus.txt")
    with open(corpus_path, "w", encoding="utf-8") as f:
        f.write("\n".join(line.split("\t", 1)[1] for line in rest) + "\n")

    settings = {"embedding_dim": args.embedding_dim, "units": args.units, "max_tokens": args.max_tokens,
                "epochs": args.lm_epochs, "batch_size": 64, "seq_len": 64, "seed": 0}
    if args.untied:
        settings.update(tie_weights=False, input_dropout=0.0, output_dropout=0.0)
    lm_dir = args.lm_dir or os.path.join(tmp, "lm")
    lm = cached_lm(lm_dir, settings, corpus_path)
    if lm is not None:
        print(f"reusing the language model in {lm_dir}", flush=True)
        lm_wall, lm_cpu = lm["train_seconds"], None
    else:
        t0, c0 = time.time(), time.process_time()
        lm = pretrain(corpus_path, run_dir=lm_dir, overwrite=True, verbose=1, **settings)
        lm_wall, lm_cpu = time.time() - t0, time.process_time() - c0

    probe = {"pretrained": linear_probe(lm_dir, None, labelled_path, os.path.join(RT, "test.tsv")),
             "random init": linear_probe(lm_dir, 0, labelled_path, os.path.join(RT, "test.tsv"))}
    print(json.dumps({"probe": probe}), flush=True)

    lstm_only = {"embedding_dim": args.embedding_dim, "units": args.units, "bidirectional": False, "ngram_buckets": 0}
    default = {"embedding_dim": args.embedding_dim}  # the default recipe otherwise: BiLSTM 128 + hashed bigrams
    lm_from = {"init_from": lm_dir, "init_from_layers": "embedding_lstm"}  # ULMFiT's transfer
    gradual = {"unfreeze": "gradual", "layer_lr_decay": 2.6}
    arms = {  # name: (model, train, learning rate)
        "scratch": (lstm_only, {}, 0.001),
        "lm": ({**lstm_only, **lm_from}, {}, 0.001),
        "lm_gradual": ({**lstm_only, **lm_from}, gradual, 0.001),
        "scratch_lr0.01": (lstm_only, {}, 0.01),
        "lm_lr0.01_decay2.6": ({**lstm_only, **lm_from}, {"layer_lr_decay": 2.6}, 0.01),
        "lm_embedding": ({**lstm_only, **lm_from, "init_from_layers": "embedding"}, {}, 0.001),
        "default_scratch": (default, {}, 0.001),
        "default_lm": ({**default, **lm_from}, {}, 0.001),
        "default_lm_embedding": ({**default, **lm_from, "init_from_layers": "embedding"}, {}, 0.001),
    }
    rows = []
    for seed in range(args.seeds):
        for arm, (model, train_extra, rate) in arms.items():
            recipe = {
                "name": f"{arm}_{seed}", "seed": seed,
                "data": {"train": labelled_path, "validation": os.path.join(RT, "validation.tsv"),
                         "test": os.path.join(RT, "test.tsv")},
                "model": model,
                "train": {"epochs": args.epochs, **train_extra},
                "schedule": {"learning_rate": rate},
                "callbacks": {"early_stopping": {"monitor": "val_accuracy", "patience": 3, "restore_best_weights": True},
                              "backup": False, "checkpoint": False},
                "export": {"saved_model": False, "keras": False},
            }
            t0, c0 = time.time(), time.process_time()
            result = train(recipe, run_dir=os.path.join(tmp, f"{arm}_{seed}"), verbose=0)
            row = {"arm": arm, "seed": seed, "test_accuracy": result.metrics["accuracy"],
                   "test_macro_f1": result.metrics["macro_f1"],
                   "val_accuracy": result.validation_metrics["accuracy"],
                   "epochs": len(result.history["loss"]), "wall_s": time.time() - t0, "cpu_s": time.process_time() - c0}
            rows.append(row)
            print(json.dumps(row), flush=True)

    write_report(out_path, args, argv, started, lm, lm_wall, lm_cpu, len(rest), rows, probe)
    print(f"wrote {out_path}")
    return 0


def cached_lm(lm_dir: str, settings: dict, corpus_path: str):
    """The metrics of a finished LM in ``lm_dir`` trained with ``settings`` on the same corpus text, else None."""
    try:
        with open(os.path.join(lm_dir, "lm.json"), encoding="utf-8") as f:
            meta = json.load(f)
        with open(os.path.join(lm_dir, "metrics.json"), encoding="utf-8") as f:
            metrics = json.load(f)
        with open(meta["corpus"], "rb") as f, open(corpus_path, "rb") as g:
            same_corpus = f.read() == g.read()
    except (OSError, KeyError, ValueError):
        return None
    import inspect

    from textrecipes.tasks.language_model import pretrain

    defaults = {k: v.default for k, v in inspect.signature(pretrain).parameters.items() if k in
                ("tie_weights", "input_dropout", "output_dropout", "learning_rate", "min_freq", "split", "lowercase")}
    wanted = {**defaults, **settings}
    if same_corpus and all(meta.get(k) == v for k, v in wanted.items()) and os.path.exists(os.path.join(lm_dir, "lm.keras")):
        return metrics
    return None


def linear_probe(lm_dir: str, random_seed, train_path: str, test_path: str) -> dict:
    """Test accuracy of logistic regression on the LM's pooled LSTM states (or a random LM's)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from textrecipes.tasks.language_model import build_language_model, load_language_model
    from textrecipes.text.tokenization import TextVectorizer

    lm, vocab, meta = load_language_model(lm_dir)
    if random_seed is not None:
        lm = build_language_model(len(vocab), embedding_dim=meta["embedding_dim"], units=meta["units"], seed=random_seed)
    vectorizer = TextVectorizer(vocab.tokens, split=meta["split"], lowercase=meta["lowercase"], max_length=128)
    encoder = __import__("keras").Model(lm.input, lm.get_layer("lstm").output)

    def features(path):
        with open(path, encoding="utf-8") as f:
            rows = [line.split("\t", 1) for line in f.read().splitlines()]
        out = []
        for start in range(0, len(rows), 256):
            ids = np.asarray(vectorizer(np.array([r[1] for r in rows[start:start + 256]], dtype=object)))
            states = np.asarray(encoder(ids, training=False))
            mask = (ids > 0)[..., None]
            mean = (states * mask).sum(1) / np.maximum(mask.sum(1), 1)
            out.append(np.concatenate([mean, np.where(mask, states, -1e4).max(1)], axis=1))
        return np.concatenate(out), np.array([r[0] for r in rows])

    x, y = features(train_path)
    xt, yt = features(test_path)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1)).fit(x, y)
    return {"train_accuracy": float(clf.score(x, y)), "test_accuracy": float(clf.score(xt, yt))}


def _mean_std(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def write_report(path, args, argv, started, lm, lm_wall, lm_cpu, corpus_lines, rows, probe) -> None:
    import keras
    import tensorflow as tf

    arms = list(dict.fromkeys(r["arm"] for r in rows))
    by_arm = {a: [r for r in rows if r["arm"] == a] for a in arms}
    scratch = {a: _mean_std([r["test_accuracy"] for r in by_arm["default_scratch" if a.startswith("default") else "scratch"]])[0]
               for a in arms}
    command = "python benchmarks/bench_pretrain.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    out = [
        "# Pretraining benchmark: LSTM language model → classifier vs from scratch",
        "",
        f"- Date (UTC): {started:%Y-%m-%d %H:%M} to {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        f"- Machine: 2-core AMD EPYC, shared ({platform.machine()}, nproc {os.cpu_count()}; load average at the end "
        f"{os.getloadavg()[0]:.1f}: other jobs ran at the same time, so wall times are noisy)",
        f"- Software: Python {platform.python_version()}, tensorflow {tf.__version__}, keras {keras.__version__}, "
        f"backend {keras.backend.backend()}",
        f"- Command: `{command.strip()}`",
        "",
        "## Setup",
        "",
        f"- Labelled set: the first {args.labelled} lines of data/rotten_tomatoes/train.tsv. Validation (early stopping, "
        "every arm alike): data/rotten_tomatoes/validation.tsv (1,276). Test: data/rotten_tomatoes/test.tsv (1,276).",
        f"- Language model: {corpus_lines} training texts without their labels (the lines after the labelled ones"
        + (f"; a subset, --unlabelled {args.unlabelled}" if args.unlabelled else "; all of them") + "), "
        f"embedding {args.embedding_dim}, LSTM {args.units}, vocabulary {args.max_tokens} ids, "
        f"{args.lm_epochs} epochs, seq_len 64, batch 64, Adam 2e-3, "
        + ("a separate output layer and no dropout (`--untied`)" if args.untied else
           "output layer tied to the embedding, dropout 0.1 on input words and 0.2 on the LSTM outputs (the `pretrain` defaults)")
        + ", seed 0 (one LM for every seed).",
        f"- LSTM-only classifier (the first six arms): Embedding {args.embedding_dim} → LSTM {args.units} "
        "(unidirectional, so the LM's LSTM fits it whole) → masked mean+max pooling → dropout 0.5 → Dense; word "
        "dropout 0.2, spatial dropout 0.2, no hashed-bigram branch.",
        f"- Default classifier (`default_*` arms): the default recipe (BiLSTM {args.units} per direction → masked "
        "mean+max pooling, plus the hashed-bigram branch) with `model.embedding_dim` "
        f"{args.embedding_dim} to match the LM; the LM's LSTM goes to the forward direction.",
        f"- Every arm: Adam 1e-3 (0.01 in the lr0.01 arms), batch 32, up to {args.epochs} epochs, early stopping on "
        "val_accuracy (patience 3, best weights restored).",
        "- Arms: `scratch` (random init, vocabulary from the labelled lines); `lm` (`model.init_from`: the LM's "
        "vocabulary, embedding and LSTM); `lm_gradual` (the same with `train.unfreeze = \"gradual\"` and "
        "`train.layer_lr_decay = 2.6`); `scratch_lr0.01`; `lm_lr0.01_decay2.6` (`init_from`, rate 0.01 for the head, "
        "`train.layer_lr_decay = 2.6` below it); `lm_embedding` (`model.init_from_layers = \"embedding\"`: the LM's "
        "vocabulary and word vectors, a random LSTM); `default_scratch`, `default_lm`, `default_lm_embedding`. "
        "The ratio column divides by "
        "`default_scratch` for the `default_*` arms and by `scratch` for the others.",
        "",
        "## Language model",
        "",
        "| validation perplexity | train sequences | train tokens | held-out OOV rate | wall s | CPU s |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {lm['validation_perplexity']:.1f} | {lm['train_sequences']:,} | {lm['train_tokens']:,} | "
        f"{lm['validation_oov_rate']:.1%} | {lm_wall:.0f} | {'n/a (cached)' if lm_cpu is None else f'{lm_cpu:.0f}'} |",
        "",
        f"Training loss per epoch: {', '.join(f'{v:.3f}' for v in lm['train_loss'])}; validation loss: "
        f"{', '.join(f'{v:.3f}' for v in lm['validation_loss'])}.",
        "",
        "Linear probe (logistic regression, C 0.1, standardised masked mean+max of the LSTM states; fit on the "
        f"{args.labelled} labelled lines, scored on the test file):",
        "",
        "| LSTM weights | train accuracy | test accuracy | ratio to random init |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {p['train_accuracy']:.4f} | {p['test_accuracy']:.4f} | "
          f"{p['test_accuracy'] / probe['random init']['test_accuracy']:.3f} |" for name, p in probe.items()],
        "",
        f"## Classifier on {args.labelled} labelled examples ({args.seeds} seeds)",
        "",
        "| arm | test accuracy, mean ± std | ratio to scratch | test macro-F1, mean ± std | val accuracy, mean | epochs run, mean | wall s per run, mean |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in arms:
        acc = _mean_std([r["test_accuracy"] for r in by_arm[arm]])
        f1 = _mean_std([r["test_macro_f1"] for r in by_arm[arm]])
        out.append(f"| {arm} | {acc[0]:.4f} ± {acc[1]:.4f} | {acc[0] / scratch[arm]:.3f} | {f1[0]:.4f} ± {f1[1]:.4f} | "
                   f"{statistics.mean(r['val_accuracy'] for r in by_arm[arm]):.4f} | "
                   f"{statistics.mean(r['epochs'] for r in by_arm[arm]):.1f} | "
                   f"{statistics.mean(r['wall_s'] for r in by_arm[arm]):.0f} |")
    out += ["", "Every run:", "", "| arm | seed | test accuracy | test macro-F1 | val accuracy | epochs | wall s | CPU s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['arm']} | {r['seed']} | {r['test_accuracy']:.4f} | {r['test_macro_f1']:.4f} | "
                   f"{r['val_accuracy']:.4f} | {r['epochs']} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} |")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
