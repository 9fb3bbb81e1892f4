"""Kill anywhere: SIGKILL a ``textrecipes train`` at seeded moments across its whole life, rerun, check the folder.

    nice -n 10 .venv/bin/python benchmarks/bench_kill_anywhere.py [--kills 22] [--seed 0]

One small recipe (300 generated lines, 3 epochs, backups on, SavedModel and
``.keras`` exports, the report) is trained into ``runs/kill`` of a scratch
working folder, always with the same command,
``textrecipes train recipe.toml --run-dir runs/kill --overwrite``. Each trial
kills that command with SIGKILL at one moment, then reruns it unchanged and
checks that the rerun finished a valid run folder (`check_finished`).

A moment is one of two kinds, both drawn from the seed:

- ``after LINE +Ds``: the command runs as a user runs it and is killed from
  outside D seconds (drawn) after it printed LINE (start, vocabulary, an
  epoch, evaluation, the export), so the kill lands wherever the process is;
- ``before|after OP PATH``: the process kills itself (SIGKILL, no clean-up
  runs) just before or after its n-th ``os.replace`` / ``os.remove`` /
  ``shutil.rmtree`` of a path (the marker, each backup, each export,
  ``model_card.json``, the report, ``metrics.json``, the emptying of the
  previous run): moments too short to hit from outside.

After the kill the folder is checked too: if it holds ``metrics.json`` it
must be a complete run. Results go to benchmarks/results/kill_anywhere.md.
`run_trials` is shared with tests/test_kill_anywhere.py (a few kills).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "benchmarks", "results", "kill_anywhere.md")
RUN = os.path.join("runs", "kill")
CHECKING = threading.Lock()  # the checks load Keras models: one at a time, whatever the workers
COMMAND = ["train", "recipe.toml", "--run-dir", RUN, "--overwrite"]

# Runs textrecipes' command line in this process after wrapping the file operations a run does: the
# KILL_AT-th call (1-based) whose path contains KILL_PATH SIGKILLs the process before or after it runs.
HOOK = r"""
import os, shutil, signal, sys
when, op, needle, nth = os.environ["KILL_AT"].split("|")
nth, seen = int(nth), [0]
def wrap(name, owner, fn):
    def call(*args, **kwargs):
        target = os.fspath(args[-1] if name == "replace" else args[0])
        hit = name == op and needle in target.replace(os.sep, "/")
        if hit:
            seen[0] += 1
        hit = hit and seen[0] == nth
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = fn(*args, **kwargs)
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    setattr(owner, name, call)
wrap("replace", os, os.replace); wrap("remove", os, os.remove); wrap("rmtree", shutil, shutil.rmtree)
from textrecipes.cli import main
sys.exit(main(sys.argv[1:]))
"""

RECIPE = """name = "kill"
seed = 0
[data]
train = "data/train.tsv"
validation = "data/validation.tsv"
test = "data/test.tsv"
[model]
embedding_dim = 8
units = 8
ngram_buckets = 256
ngram_dim = 4
[train]
epochs = {epochs}
batch_size = 16
[evaluate]
baseline = false
"""

WORDS = {"pos": "great fine lovely superb moving bright warm clever".split(),
         "neg": "dull poor boring awful flat weak tired messy".split(),
         "neu": "plot actor scene film story camera music cast".split()}
COMMON = "the a this that film movie was is very rather and but".split()
PROBE = ["a great and lovely film", "dull boring plot", "the camera and the cast", "warm but messy", ""]


def make_workspace(folder: str, lines: int = 300, epochs: int = 3, seed: int = 0) -> dict:
    """Writes the generated data, the recipe and some files of the user's; returns their sha256 sums."""
    rng = random.Random(seed)

    def line():
        label = rng.choice(sorted(WORDS))
        words = [rng.choice(COMMON) for _ in range(rng.randint(3, 8))] + \
                [rng.choice(WORDS[label]) for _ in range(rng.randint(1, 3))]
        rng.shuffle(words)
        return f"{label}\t{' '.join(words)}\n"

    os.makedirs(os.path.join(folder, "data"), exist_ok=True)
    for name, n in (("train", lines), ("validation", max(30, lines // 5)), ("test", max(30, lines // 5))):
        with open(os.path.join(folder, "data", f"{name}.tsv"), "w", encoding="utf-8") as f:
            f.writelines(line() for _ in range(n))
    with open(os.path.join(folder, "recipe.toml"), "w", encoding="utf-8") as f:
        f.write(RECIPE.format(epochs=epochs))
    # The user's own files beside the run folder: they must never change.
    os.makedirs(os.path.join(folder, "runs", "mine"), exist_ok=True)
    for path, text in (("notes.txt", "my notes\n"), ("runs/mine/thesis.txt", "years of work\n"),
                       ("runs/history.csv", "my own history\n"), ("runs/kill.tsv", "a file beside the run\n")):
        with open(os.path.join(folder, path), "w", encoding="utf-8") as f:
            f.write(text)
    return user_files(folder)


def user_files(folder: str) -> dict:
    """sha256 of every file in the working folder outside the run folder."""
    out = {}
    run = os.path.join(folder, RUN)
    for base, dirs, files in os.walk(folder):
        if os.path.abspath(base).startswith(os.path.abspath(run) + os.sep) or os.path.abspath(base) == os.path.abspath(run):
            continue
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def run_command(folder: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """The same command each time, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "textrecipes.cli", *COMMAND], cwd=folder, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def kill_run(folder: str, moment: dict, timeout: float = 900) -> dict:
    """Runs the command and SIGKILLs it at ``moment``; returns what happened (killed, last line, exit status)."""
    if moment["kind"] == "op":
        env = {**_env(), "KILL_AT": "|".join([moment["when"], moment["op"], moment["path"], str(moment["nth"])])}
        done = subprocess.run([sys.executable, "-c", HOOK, *COMMAND], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=timeout)
        lines = [x for x in done.stdout.splitlines() if x.strip()]
        return {"killed": done.returncode == -signal.SIGKILL, "returncode": done.returncode,
                "last": lines[-1] if lines else "", "stderr": done.stderr[-2000:]}
    proc = subprocess.Popen([sys.executable, "-m", "textrecipes.cli", *COMMAND], cwd=folder, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pattern = re.compile(moment["line"])
    deadline = time.time() + moment["delay"] if moment["line"] == "^" else None  # "^": from the launch
    os.set_blocking(proc.stdout.fileno(), False)
    buffer, rows = "", []
    while proc.poll() is None:
        if deadline is not None and time.time() >= deadline:
            proc.send_signal(signal.SIGKILL)
            break
        try:
            chunk = os.read(proc.stdout.fileno(), 65536)
        except BlockingIOError:
            chunk = b""
        buffer += chunk.decode("utf-8", "replace")
        *full, buffer = buffer.split("\n")
        for row in full:
            rows += [row] if row.strip() else []
            if deadline is None and pattern.search(row):
                deadline = time.time() + moment["delay"]
        time.sleep(0.005)
    proc.wait(timeout=timeout)
    rows += [buffer] if buffer.strip() else []
    last = rows[-1] if rows else ""
    return {"killed": proc.returncode == -signal.SIGKILL, "returncode": proc.returncode, "last": last, "stderr": ""}


def _stray(run_dir: str) -> list:
    """Temporary or partial files left in a run folder (none may outlive a run)."""
    out = []
    for base, dirs, files in os.walk(run_dir):
        for name in dirs + files:
            if name.endswith(".tmp") or ".partial" in name:
                out.append(os.path.relpath(os.path.join(base, name), run_dir))
    backup = os.path.join(run_dir, "backup")
    if os.path.isdir(backup) and os.listdir(backup):
        out.append("backup/ (not removed after training)")
    return out


def check_finished(folder: str, epochs: int) -> list:
    """Problems with a run folder that says it finished: every one of these must hold after a rerun."""
    from textrecipes.export.predictors import Predictor
    from textrecipes.run.folder import RunLock

    run_dir = os.path.join(folder, RUN)
    problems = []
    try:
        with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
            metrics = json.load(f)
    except (OSError, ValueError) as e:
        return [f"metrics.json unreadable: {e}"]
    if metrics.get("epochs_run") != epochs:
        problems.append(f"metrics.json: epochs_run {metrics.get('epochs_run')} != {epochs}")
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        rows = f.read().splitlines()
    if [r.split(",")[0] for r in rows[1:]] != [str(i) for i in range(epochs)] or \
            len({len(r.split(",")) for r in rows}) != 1:
        problems.append(f"history.csv: rows {rows[1:]}")
    check = metrics.get("export_check") or {}
    if not (isinstance(check.get("max_abs_diff"), float) and check["max_abs_diff"] <= 1e-4
            and check.get("label_agreement") == 1.0):
        problems.append(f"metrics.json export_check: {check}")
    for name in ("model.keras", "saved_model", "model_card.json", "report.md", "labels.json", "vocabulary.json"):
        if not os.path.exists(os.path.join(run_dir, name)):
            problems.append(f"{name} missing")
    problems += [f"left behind: {s}" for s in _stray(run_dir)]
    try:
        verified = Predictor(run_dir, verify=True)  # every export's sha256 as the card records it
        keras_p = Predictor(os.path.join(run_dir, "model.keras")).predict_proba(PROBE)
        saved_p = Predictor(os.path.join(run_dir, "saved_model")).predict_proba(PROBE)
        diff = float(abs(keras_p - saved_p).max())
        if not diff < 1e-4 or verified.predict_proba(PROBE).shape != keras_p.shape:
            problems.append(f"exports disagree: max |diff| {diff}")
    except Exception as e:  # any failure to load is a finding
        problems.append(f"exports do not load: {type(e).__name__}: {str(e)[:200]}")
    try:
        RunLock(run_dir).release()
    except Exception as e:
        problems.append(f"lock still held: {e}")
    return problems


def check_killed(folder: str, epochs: int) -> list:
    """Problems with the folder right after a kill: a metrics.json there must mean a complete run."""
    run_dir = os.path.join(folder, RUN)
    if os.path.exists(os.path.join(run_dir, "metrics.json")):
        problems = [p for p in check_finished(folder, epochs) if not p.startswith("left behind")]
        return [f"looks finished but: {p}" for p in problems]
    return []


# The moments drawn from: stdout lines (with the longest delay after them) and file operations.
LINES = [("^", 12.0, "start: import, reading, folder"), ("^vocabulary:", 1.0, "vocabulary built"),
         ("^Epoch 1/", 3.0, "epoch 1"), ("^Epoch 2/", 3.0, "epoch 2"), ("^Epoch 3/", 3.0, "epoch 3"),
         ("^Restoring|^test:", 2.0, "evaluation"), ("^label ", 3.0, "evaluation/export")]
OPS = [("replace", ".textrecipes-run.json", "folder creation (marker)"),
       ("remove", "runs/kill/", "emptying the previous run (--overwrite)"),
       ("rmtree", "runs/kill/", "emptying the previous run (--overwrite)"),
       ("replace", "vocabulary.json", "vocabulary written"),
       ("replace", "backup/epoch-0001", "backup of epoch 1"), ("replace", "backup/epoch-0002", "backup of epoch 2"),
       ("replace", "backup/epoch-0003", "backup of epoch 3"), ("remove", "backup/epoch-000", "backup rotation"),
       ("replace", "model.keras", "export: model.keras"), ("replace", "saved_model", "export: SavedModel"),
       ("replace", "model_card.json", "model card"), ("replace", "report.md", "report"),
       ("replace", "learning_curves.png", "plots"), ("replace", "metrics.json", "metrics.json")]


def draw_moments(kills: int, seed: int) -> list:
    """``kills`` moments: every file operation above and every stdout line at least once, then drawn at random."""
    rng = random.Random(seed)
    moments = []
    for op, path, stage in OPS:
        moments.append({"kind": "op", "op": op, "path": path, "when": rng.choice(["before", "after"]),
                        "nth": 1, "stage": stage})
    for line, most, stage in LINES:
        moments.append({"kind": "line", "line": line, "delay": round(rng.uniform(0, most), 2), "stage": stage})
    rng.shuffle(moments)
    while len(moments) < kills:
        if rng.random() < 0.5:
            op, path, stage = rng.choice(OPS)
            moments.append({"kind": "op", "op": op, "path": path, "when": rng.choice(["before", "after"]),
                            "nth": 1, "stage": stage})
        else:
            line, most, stage = rng.choice(LINES)
            moments.append({"kind": "line", "line": line, "delay": round(rng.uniform(0, most), 2), "stage": stage})
    return moments[:kills]


def describe(moment: dict) -> str:
    if moment["kind"] == "op":
        return f"{moment['when']} {moment['op']} {moment['path']}"
    return f"+{moment['delay']}s after {moment['line'] if moment['line'] != '^' else 'launch'}"


def run_trials(folder: str, moments: list, epochs: int = 3, lines: int = 300, first_run: bool = True,
               log=lambda row: print(json.dumps(row), flush=True)) -> list:
    """Kills the command at each moment, reruns it, checks; one row per moment.

    With ``first_run`` an uninterrupted run comes first, so that every trial
    starts from a finished folder (which ``--overwrite`` empties); without it
    the first trial starts in a new folder.
    """
    before = make_workspace(folder, lines=lines, epochs=epochs)
    if first_run:
        first = run_command(folder)
        with CHECKING:
            problems = check_finished(folder, epochs)
        if first.returncode != 0 or problems:
            raise RuntimeError(f"the uninterrupted run failed: {first.stderr[-2000:]} {problems}")
    rows = []
    for i, moment in enumerate(moments, start=1):
        started = time.time()
        killed = kill_run(folder, moment)
        with CHECKING:
            after_kill = check_killed(folder, epochs)
        rerun = run_command(folder)
        out = rerun.stdout
        how = ("resumed after epoch " + m.group(1)) if (m := re.search(r"resuming an interrupted run after epoch (\d+)",
                                                                       out)) else "started afresh"
        problems = after_kill + ([] if rerun.returncode == 0 else
                                 [f"rerun exit {rerun.returncode}: {rerun.stderr.strip().splitlines()[-1:]}"])
        with CHECKING:
            problems += check_finished(folder, epochs)
        if user_files(folder) != before:
            problems.append("files outside the run folder changed")
        accuracy = None
        try:
            with open(os.path.join(folder, RUN, "metrics.json"), encoding="utf-8") as f:
                accuracy = json.load(f)["test"]["accuracy"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        row = {"trial": i, "stage": moment["stage"], "moment": describe(moment), "killed": killed["killed"],
               "last_line": killed["last"][:70], "rerun": how if rerun.returncode == 0 else f"exit {rerun.returncode}",
               "accuracy": accuracy, "problems": problems, "seconds": round(time.time() - started, 1),
               "kill_stderr": killed["stderr"][-500:] if not killed["killed"] else ""}
        rows.append(row)
        log(row)
    return rows


def write_results(rows: list, args, seconds: float) -> str:
    try:
        cpu = next(x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    ok = sum(1 for r in rows if not r["problems"])
    out = [
        "# Kill anywhere: SIGKILL `textrecipes train` at seeded moments, rerun the same command, check the folder",
        "",
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {platform.node()}, {cpu}, {os.cpu_count()} CPUs visible (shared with other jobs), "
        f"Python {platform.python_version()}",
        f"- command: `nice -n 10 .venv/bin/python benchmarks/bench_kill_anywhere.py --kills {args.kills} "
        f"--seed {args.seed} --workers {args.workers}`; each trial kills `textrecipes {' '.join(COMMAND)}` and reruns it unchanged "
        f"(300 generated lines, 3 epochs, backups on, SavedModel + .keras, report)",
        f"- wall time: {seconds / 60:.1f} min for {len(rows)} kills ({args.workers} working folder(s) in parallel, "
        "each with its trials in turn; a folder's first trial starts in a new folder, the others in the "
        "finished run the trial before left)",
        "",
        "Checked after every rerun: exit 0; `metrics.json` readable, 3 epochs, export check agrees; `history.csv` "
        "rows 0-2 once each; model.keras, saved_model, card, report present; `Predictor(run_dir, verify=True)` "
        "passes and model.keras and saved_model agree (max |diff| < 1e-4); no `*.tmp`, `*.partial*` or backup left; "
        "the lock free; every file outside the run folder unchanged (sha256). Checked after every kill: a "
        "`metrics.json` present means all of the above.",
        "",
        f"**{ok} of {len(rows)} kills ended in a valid run folder.**",
        "",
        "| # | stage | kill moment | killed | last line printed | rerun | test acc | problems |",
        "|---:|---|---|---|---|---|---:|---|",
    ]
    for r in rows:
        acc = f"{r['accuracy']:.4f}" if isinstance(r["accuracy"], float) else "-"
        problems = "; ".join(r["problems"]).replace("|", "/") or "none"
        last = r["last_line"].replace("|", "/").replace("`", "'")
        out.append(f"| {r['trial']} | {r['stage']} | `{r['moment']}` | {'yes' if r['killed'] else 'no (ended first)'} "
                   f"| `{last}` | {r['rerun']} | {acc} | {problems} |")
    out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=22, help="kill moments (default 22: each stage once, then drawn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1,
                        help="working folders trained in parallel, the moments dealt out in turn (default 1)")
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()
    started = time.time()
    moments = draw_moments(args.kills, args.seed)
    # Each folder's first trial starts in a new folder: not one of the moments that empty a finished run.
    for w in range(args.workers):
        later = [i for i in range(w, len(moments), args.workers) if "emptying" not in moments[i]["stage"]]
        if later:
            moments[w], moments[later[0]] = moments[later[0]], moments[w]
    done = []

    def log(row):  # the table so far, after every trial: a long run that is stopped still leaves its rows
        done.append(row)
        print(json.dumps(row), flush=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(write_results(sorted(done, key=lambda r: r["trial"]), args, time.time() - started))

    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        jobs = [pool.submit(run_trials, os.path.join(tmp, f"w{w}"), moments[w::args.workers], first_run=False,
                            log=lambda row, w=w: log({**row, "trial": w + (row["trial"] - 1) * args.workers + 1}))
                for w in range(args.workers)]
        parts = [job.result() for job in jobs]
    rows = [None] * len(moments)
    for w, part in enumerate(parts):
        for j, row in enumerate(part):
            rows[w + j * args.workers] = {**row, "trial": w + j * args.workers + 1, "folder": w}
    text = write_results(rows, args, time.time() - started)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    return 0 if all(not r["problems"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
