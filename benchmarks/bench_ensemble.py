"""Benchmark: 3 seeds vs their ensemble vs the ensemble distilled into one small LSTM (issue 7).

On Rotten Tomatoes, with a training subset so it fits in about 10 minutes on
2 shared cores: each member is ``recipes/sentiment_lstm.toml`` with
``data.max_train_examples=<train>``, ``train.epochs=<epochs>``, a reduced model
(``model.units=64``, ``model.embedding_dim=64``, ``model.ngram_buckets=32768``,
``model.ngram_dim=32``) and ``tokenize.max_length=64`` (RT reviews are short),
trained with seeds 0, 1, 2 on one shared split (the full validation and test
files). The ensemble is the mean of the members' probabilities
(`train_ensemble`); the student is a unidirectional LSTM, 16 units and a
16-dim embedding, no n-gram branch, up to 6 epochs at a constant 3e-3, trained
on the ensemble's probabilities at temperature 2 plus the hard labels (alpha
0.5), and, as the reference, the same student on the hard labels only (`distill`). Accuracy is on the full test split
(1,276 reviews); sizes are parameter counts and SavedModel bytes on disk.

Usage:

    python benchmarks/bench_ensemble.py [--train 3000] [--epochs 2] [--student-epochs 6] [--student-lr 3e-3] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
RECIPE = os.path.join(ROOT, "recipes", "sentiment_lstm.toml")
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "ensemble.md")
SEEDS = [0, 1, 2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000, help="training examples (default 3000)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per member and student (default 2)")
    parser.add_argument("--student-epochs", type=int, default=6, help="most epochs of each student (default 6; "
                        "early stopping on val_loss, patience 3)")
    parser.add_argument("--student-lr", type=float, default=3e-3, help="the students' learning rate (default 3e-3)")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from textrecipes.workflows.ensemble import distill, train_ensemble

    overrides = [f"data.max_train_examples={args.train}", f"train.epochs={args.epochs}", "model.units=64",
                 "model.embedding_dim=64", "model.ngram_buckets=32768", "model.ngram_dim=32", "tokenize.max_length=64",
                 "callbacks.backup=false"]
    work = tempfile.mkdtemp(prefix="bench_ensemble_")
    started = time.time()
    os.chdir(ROOT)
    ens = train_ensemble(RECIPE, seeds=SEEDS, overrides=overrides, run_dir=os.path.join(work, "ensemble"), verbose=1)
    ens_seconds = time.time() - started
    t = time.time()
    student_overrides = [f"train.epochs={args.student_epochs}", f"schedule.learning_rate={args.student_lr}"]
    out = distill(ens["run_dir"], temperature=2.0, alpha=0.5, units=16, embedding_dim=16, overrides=student_overrides,
                  verbose=1)
    distill_seconds = time.time() - t
    acc = out["accuracy"]
    members = ens["members"]
    mean_member = sum(m["test"]["accuracy"] for m in members) / len(members)
    lines = [
        "# Ensemble and distillation (issue 7)",
        "",
        f"Date: {datetime.date.today().isoformat()}. Machine: 2-core AMD EPYC, shared (other jobs running). "
        f"Python {sys.version.split()[0]}.",
        "",
        "Command:",
        "",
        "```sh",
        " ".join(["python benchmarks/bench_ensemble.py", shlex.join(argv if argv is not None else sys.argv[1:])]).rstrip(),
        "```",
        "",
        f"Rotten Tomatoes, **a subset**: the first {args.train} training reviews of the seed-0 split "
        f"(of 10,200), {args.epochs} epochs, the full validation and test files (1,276 each). Members: "
        "`recipes/sentiment_lstm.toml` with " + ", ".join(f"`{o}`" for o in overrides) + f", seeds {SEEDS}. "
        "Ensemble: mean of the members' probabilities, one SavedModel. Student: unidirectional LSTM, "
        f"16 units, 16-dim embedding, no n-gram branch, up to {args.student_epochs} epochs at learning rate {args.student_lr} "
        "(early stopping on val_loss, best weights restored); distilled at temperature 2.0, alpha 0.5 (hard-label weight); "
        "reference: the same student on the hard labels only (alpha 1.0). Epochs run: "
        f"{out['epochs_run']} (distilled student).",
        "",
        "| model | test accuracy | vs ensemble | parameters | SavedModel bytes |",
        "|---|---|---|---|---|",
    ]
    ens_acc = acc["ensemble"]
    for i, m in enumerate(members):
        lines.append(f"| member seed {m['seed']} | {m['test']['accuracy']:.4f} | {m['test']['accuracy'] / ens_acc:.3f} | "
                     f"{m['params']:,} | {m['saved_model_bytes']:,} |")
    lines += [
        f"| mean of the 3 members | {mean_member:.4f} | {mean_member / ens_acc:.3f} | | |",
        f"| **ensemble (mean)** | {ens_acc:.4f} | 1.000 | {out['params']['ensemble']:,} | {out['saved_model_bytes']['ensemble']:,} |",
        f"| distilled student | {acc['student']:.4f} | {out['accuracy_kept']:.3f} | {out['params']['student']:,} | "
        f"{out['saved_model_bytes']['student']:,} |",
        f"| same student, no distillation | {acc['no_distillation']:.4f} | {acc['no_distillation'] / ens_acc:.3f} | "
        f"{out['params']['student']:,} | (not exported; same architecture) |",
        "",
        f"Accuracy kept by the student: {out['accuracy_kept']:.1%} of the ensemble's; distillation vs no distillation: "
        f"{acc['student'] - acc['no_distillation']:+.4f}. Size saved: {out['size_saved']['params']:.1%} of the parameters, "
        f"{out['size_saved']['saved_model_bytes']:.1%} of the SavedModel bytes. Ensemble vs best member: "
        f"{ens_acc - max(m['test']['accuracy'] for m in members):+.4f}.",
        "",
        f"Wall time: ensemble (3 members, evaluation, export) {ens_seconds:.0f} s; distillation (two students, export) "
        f"{distill_seconds:.0f} s. Single run per configuration, one split: differences of about 1 point are within "
        "seed noise on 1,276 test reviews.",
    ]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
