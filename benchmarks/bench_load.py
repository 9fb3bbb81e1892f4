"""Benchmark: load time and predictions/s of each export kind, each measured in a fresh process (issue 15).

A user who ships a model pays for loading it in every new process: importing
TensorFlow, reading the export and tracing the first call. `bench_exports.py`
measures the formats inside one warm process; this one starts a new Python
interpreter for every measurement, the way a script, a notebook kernel or the
command line meets the model.

One small run of the default recipe (its default model sizes) is trained on the
first ``--train-lines`` lines of Rotten Tomatoes train with every export on
(SavedModel, ``model.keras``, TFLite float16); the int8 TFLite file is exported
from the same model beside it. Then, for each kind, a child process times:

- import + load: from just before ``import textrecipes`` to the loaded model
  (TensorFlow's own import included, it is the larger part);
- first prediction: one text, right after loading (tracing included);
- predictions/s: the ``--texts`` texts (Rotten Tomatoes test, repeated to reach
  the count) in batches of 256, second pass (the first pass warms every batch shape);
- the process start-up (interpreter launch to the script's first line) and peak RSS.

The kinds: the SavedModel through `Predictor`; ``model.keras`` through `Predictor`
and through plain ``keras.saving.load_model`` after ``import textrecipes`` (called
with ``model.predict``); TFLite float16 and int8 through `Predictor`; and the command
line, ``textrecipes predict RUN``, timed from outside: the wall time of one
``--text`` call (start-up, import, load, first prediction and exit), and
predictions/s as ``(texts - 1) / (wall(file of texts) - wall(one text))``.
Each kind is measured ``--repeats`` times, the kinds interleaved; the table gives
medians, and ratios to the SavedModel row measured in the same run.

Usage:

    python benchmarks/bench_load.py [--train-lines 2000] [--epochs 2] [--texts 2000] [--repeats 3] [--run DIR] [--out benchmarks/results/load.md]
"""

from __future__ import annotations

import time

_STARTED = time.time()  # the child's first line: start-up = this - the parent's launch time

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RT = os.path.join(ROOT, "data", "rotten_tomatoes")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}


def child(mode: str, path: str, texts_file: str, launched: float) -> None:
    """One measurement in this fresh process; prints one JSON line."""
    with open(texts_file, encoding="utf-8") as f:
        texts = f.read().split("\n")
    t0 = time.perf_counter()
    importlib.import_module("textrecipes")  # registers the Keras classes: plain Keras needs it

    if mode == "keras":
        import keras
        import numpy as np

        model = keras.saving.load_model(path, safe_mode=True)
        t1 = time.perf_counter()
        first = np.asarray(model(np.array(texts[:1], dtype=object), training=False))
        t2 = time.perf_counter()

        def proba(batch):
            raw = model.predict(np.array(batch, dtype=object), batch_size=256, verbose=0)
            return np.concatenate([1 - raw, raw], axis=1) if raw.shape[1] == 1 else raw
    else:
        from textrecipes import load_predictor

        predictor = load_predictor(path)
        t1 = time.perf_counter()
        first = predictor.predict_proba(texts[0])
        t2 = time.perf_counter()

        def proba(batch):
            return predictor.predict_proba(batch, batch_size=256)
    assert first is not None
    t_warm = time.perf_counter()
    proba(texts)  # warm-up pass: every batch shape traced
    t3 = time.perf_counter()
    labels = proba(texts).argmax(1)
    t4 = time.perf_counter()
    # VmHWM, not getrusage's ru_maxrss: Linux carries the parent's peak into a forked child's maxrss.
    with open("/proc/self/status", encoding="ascii") as f:
        peak_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"startup_s": _STARTED - launched, "load_s": t1 - t0, "first_s": t2 - t1,
                      "per_s": len(texts) / (t4 - t3),
                      "first_pass_per_s": len(texts) / (t3 - t_warm), "rss_mb": peak_kb / 1024, "labels": labels.tolist()}))


def run_child(mode: str, path: str, texts_file: str) -> dict:
    launched = time.time()
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode, path, texts_file, repr(launched)],
                         capture_output=True, text=True, env=ENV, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} {path}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cli(run_dir: str, texts_file: str, n: int, batch_size: int = 256) -> dict:
    """The command line from outside: one --text call (wall time), then the file, its output read as it comes."""
    with open(texts_file, encoding="utf-8") as f:
        first_text = f.readline().rstrip("\n")
    command = [sys.executable, "-m", "textrecipes.cli", "predict", run_dir]
    options = ["--batch-size", str(batch_size)]
    started = time.perf_counter()
    out = subprocess.run([*command, *options, "--text", first_text], capture_output=True, text=True, env=ENV, timeout=900)
    wall_one = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"predict --text: {out.stderr[-3000:]}")
    # Unbuffered, each batch's lines arrive when it is predicted: the batches after the first give the rate.
    started = time.perf_counter()
    proc = subprocess.Popen([*command, texts_file, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**ENV, "PYTHONUNBUFFERED": "1"})
    outputs, first_at = [], None
    for line in proc.stdout:
        first_at = first_at or time.perf_counter()
        outputs.append(line.rstrip("\n"))
    last_at = time.perf_counter()
    if proc.wait(timeout=900) != 0:
        raise RuntimeError(f"predict {texts_file}: {proc.stderr.read()[-3000:]}")
    assert len(outputs) == n, (len(outputs), n)
    return {"wall_one_s": wall_one, "first_batch_s": first_at - started,
            "per_s": (n - batch_size) / max(last_at - first_at, 1e-9),
            "labels_text": [line.split("\t")[0] for line in outputs]}


def dir_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def train_run(work: str, train_lines: int, epochs: int) -> str:
    """The small run with every export on, and the int8 TFLite file beside it in ``int8/``."""
    from textrecipes.export.tflite import export_tflite
    from textrecipes.workflows.train import train

    with open(os.path.join(RT, "train.tsv"), encoding="utf-8") as f:
        lines = f.readlines()[:train_lines]
    train_file = os.path.join(work, "train.tsv")
    with open(train_file, "w", encoding="utf-8") as f:
        f.writelines(lines)
    result = train({"name": "bench_load", "data": {"train": train_file, "test": os.path.join(RT, "test.tsv")},
                    "train": {"epochs": epochs},
                    "export": {"saved_model": True, "keras": True, "tflite": True, "tflite_quantize": "float16"}},
                   run_dir=os.path.join(work, "run"), verbose=0, overwrite=False)
    int8_dir = os.path.join(work, "int8")
    os.makedirs(int8_dir)
    for name in ("model_card.json", "vocabulary.json"):
        os.link(os.path.join(result.run_dir, name), os.path.join(int8_dir, name))
    export_tflite(result.model, os.path.join(int8_dir, "model.tflite"), quantize="int8")
    return result.run_dir


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def measure(run: str, int8: str, texts_file: str, n: int, repeats: int) -> list[dict]:
    kinds = [("SavedModel, `Predictor`", "predictor", os.path.join(run, "saved_model")),
             ("`model.keras`, `Predictor`", "predictor", os.path.join(run, "model.keras")),
             ("`model.keras`, `keras.saving.load_model` + `model.predict`", "keras", os.path.join(run, "model.keras")),
             ("TFLite float16, `Predictor`", "predictor", os.path.join(run, "model.tflite")),
             ("TFLite int8, `Predictor`", "predictor", os.path.join(int8, "model.tflite")),
             ("`textrecipes predict RUN` (SavedModel)", "cli", run)]
    got = {name: [] for name, _, _ in kinds}
    for repeat in range(repeats):
        for name, mode, path in kinds:
            got[name].append(run_cli(path, texts_file, n) if mode == "cli" else run_child(mode, path, texts_file))
            print(repeat, name, {k: v for k, v in got[name][-1].items() if not k.startswith("labels")}, flush=True)
    reference = got[kinds[0][0]][0]["labels"]
    labels = json.load(open(os.path.join(run, "labels.json"), encoding="utf-8"))["labels"]
    rows = []
    for name, mode, path in kinds:
        runs = got[name]
        row = {"kind": name, "bytes": dir_size(path if mode != "cli" else os.path.join(run, "saved_model")),
               "per_s": median([r["per_s"] for r in runs])}
        if mode == "cli":
            row["wall_one_s"] = median([r["wall_one_s"] for r in runs])
            row["first_pass_per_s"] = row["per_s"]  # one pass over the file: a first pass
            row["first_batch_s"] = median([r["first_batch_s"] for r in runs])
            row["agree"] = sum(labels[a] == b for a, b in zip(reference, runs[0]["labels_text"])) / n
        else:
            for key in ("startup_s", "load_s", "first_s", "rss_mb", "first_pass_per_s"):
                row[key] = median([r[key] for r in runs])
            row["wall_one_s"] = median([r["startup_s"] + r["load_s"] + r["first_s"] for r in runs])
            row["agree"] = sum(a == b for a, b in zip(reference, runs[0]["labels"])) / n
        row["spread_per_s"] = (min(r["per_s"] for r in runs), max(r["per_s"] for r in runs))
        rows.append(row)
    return rows


def table(rows: list[dict]) -> list[str]:
    ref = rows[0]

    def cell(row, key, fmt):
        return fmt.format(row[key]) if key in row else "–"

    def ratio(row, key):
        return f"{row[key] / ref[key]:.2f}" if key in row else "–"

    out = ["| kind | file size (bytes) | / SM | import+load s | / SM | first prediction s | / SM | start → first "
           "result s | / SM | predictions/s, first pass | / SM | predictions/s (batch 256) | / SM | min-max "
           "predictions/s | peak RSS MB | labels = SM |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['kind']} | {r['bytes']:,} | {r['bytes'] / ref['bytes']:.2f} | {cell(r, 'load_s', '{:.2f}')} | "
                   f"{ratio(r, 'load_s')} | {cell(r, 'first_s', '{:.3f}')} | {ratio(r, 'first_s')} | "
                   f"{r['wall_one_s']:.2f} | {r['wall_one_s'] / ref['wall_one_s']:.2f} | {cell(r, 'first_pass_per_s', '{:.0f}')} | "
                   f"{ratio(r, 'first_pass_per_s')} | {r['per_s']:.0f} | "
                   f"{r['per_s'] / ref['per_s']:.2f} | {r['spread_per_s'][0]:.0f}-{r['spread_per_s'][1]:.0f} | "
                   f"{cell(r, 'rss_mb', '{:.0f}')} | {r['agree']:.4f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("MODE", "PATH", "TEXTS", "LAUNCHED"), help=argparse.SUPPRESS)
    parser.add_argument("--train-lines", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--run", help="a work folder: trained into if empty, reused if this script trained there "
                        "before; default: a new temporary folder")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "load.md"))
    args = parser.parse_args()
    if args.child:
        mode, path, texts_file, launched = args.child
        return child(mode, path, texts_file, float(launched))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, ROOT)
    import tempfile

    work = args.run or tempfile.mkdtemp(prefix="bench_load_")
    started = time.time()
    if not os.path.exists(os.path.join(work, "run", "labels.json")):
        os.makedirs(work, exist_ok=True)
        train_run(work, args.train_lines, args.epochs)
    train_s = time.time() - started
    trained = (f"{train_s:.0f} s for training, exports and the int8 file" if train_s >= 5 else
               "trained by an earlier run of this command into the same --run folder, its time not recorded")
    run, int8 = os.path.join(work, "run"), os.path.join(work, "int8")
    with open(os.path.join(RT, "test.tsv"), encoding="utf-8") as f:
        test = [line.rstrip("\n").split("\t", 1)[1] for line in f if line.strip()]
    texts = [test[i % len(test)] for i in range(args.texts)]
    texts_file = os.path.join(work, "texts.txt")
    with open(texts_file, "w", encoding="utf-8") as f:
        f.write("\n".join(texts))
    rows = measure(run, int8, texts_file, len(texts), args.repeats)

    import keras
    import tensorflow as tf

    load = os.getloadavg()
    out = [
        "# Load time and predictions/s of each export kind, from a fresh process (issue 15)",
        "",
        f"Date: {time.strftime('%Y-%m-%d', time.gmtime())}. Machine: {os.cpu_count()}-core x86_64 (AMD EPYC), no GPU, "
        f"shared with other jobs (load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end). "
        f"Python {sys.version.split()[0]}, TensorFlow {tf.__version__}, Keras {keras.__version__}, CPU only.",
        "",
        "Command:",
        "",
        "    " + " ".join(["python"] + [shlex.quote(a) for a in sys.argv]),
        "",
        f"Model: the default recipe (its default sizes), {args.epochs} epoch(s) on the first {args.train_lines} lines "
        f"of Rotten Tomatoes train, every export on ({trained}). Texts: "
        + (f"the {len(test)} Rotten Tomatoes test texts repeated in order to {len(texts)}" if len(texts) > len(test)
           else f"the first {len(texts)} Rotten Tomatoes test texts") + f". Every number is the median of {args.repeats} fresh processes, the kinds "
        "interleaved; / SM: the ratio to the SavedModel row of the same run (the machine is shared: compare ratios). "
        "import+load: from before `import textrecipes` to the loaded model, TensorFlow's import included. "
        "start → first result: from the parent's launch of the process to the first prediction (interpreter "
        "start-up + import+load + first prediction); for the command line, the wall time of "
        "`textrecipes predict RUN --text T`, exit included; its predictions/s: `textrecipes predict RUN FILE` run "
        "unbuffered, (texts − 256) / (time of its last output line − time of its first), i.e. the batches after "
        "the first, one pass, shown in both predictions/s columns. "
        "predictions/s, first pass: the first pass over the texts after the first prediction (new batch shapes "
        "traced or optimized on the way); predictions/s: the second pass; min-max: of the second pass over the repeats. labels = SM: the share of the texts "
        "given the SavedModel's label.",
        "",
        *table(rows),
        "",
        f"The command line's first 256 predictions (a file of {len(texts)} texts) came "
        f"{rows[-1]['first_batch_s']:.2f} s after its launch.",
        "",
        f"The `.tflite` files need `vocabulary.json` ({os.path.getsize(os.path.join(run, 'vocabulary.json')):,} bytes) "
        "and `model_card.json` beside them; the SavedModel and `model.keras` carry the vocabulary inside.",
        "",
    ]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print("\n".join(out))


if __name__ == "__main__":
    main()
