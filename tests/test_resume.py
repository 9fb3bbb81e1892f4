"""Kill a training run with SIGKILL, start the same command again: it resumes and finishes."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from conftest import ROOT, rt_path, write_slice
from textrecipes.distribute import read_history, resume_epoch, trim_history

EPOCHS = 8

SCRIPT = textwrap.dedent(f"""
    import sys
    from textrecipes.runner import train
    train({{"data": {{"train": sys.argv[1]}},
            "model": {{"embedding_dim": 8, "units": 8, "bidirectional": False}},
            "schedule": {{"name": "exponential", "learning_rate": 0.01, "decay_epochs": 1, "decay_rate": 0.5,
                          "staircase": True}},
            "callbacks": {{"early_stopping": False}},
            "train": {{"epochs": {EPOCHS}, "batch_size": 16}}, "export": {{"saved_model": False}}}},
          run_dir=sys.argv[2], verbose=1)
""")

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}


def _backed_up_epochs(run_dir):
    return resume_epoch(os.path.join(run_dir, "backup"))


def test_killed_run_resumes_from_its_backup_and_stops_at_the_configured_epochs(tmp_path):
    data = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 1500)
    run_dir = str(tmp_path / "run")
    command = [sys.executable, "-c", SCRIPT, data, run_dir]
    first = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 400
    try:
        while _backed_up_epochs(run_dir) < 2:
            assert first.poll() is None, "the first run ended before it could be killed:\n" + first.stdout.read()[-3000:]
            assert time.time() < deadline, "no epoch backed up in time"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    assert not os.path.exists(os.path.join(run_dir, "metrics.json"))  # interrupted: the folder is resumed
    done_before = _backed_up_epochs(run_dir)
    assert 2 <= done_before < EPOCHS

    second = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    assert f"resuming an interrupted run after epoch {done_before} of {EPOCHS}" in second.stdout
    assert f"Epoch {done_before + 1}/{EPOCHS}" in second.stdout and "Epoch 1/" not in second.stdout

    rows = list(csv.DictReader(open(os.path.join(run_dir, "history.csv"))))
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["epochs_run"] == EPOCHS
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # removed once training finished
    # The optimizer's step counter was restored too: the rate keeps halving across the restart.
    rates = np.array([float(r["learning_rate"]) for r in rows])
    np.testing.assert_allclose(rates[1:] / rates[:-1], 0.5, rtol=1e-4)


def test_trim_history_and_resume_epoch(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,0.9\n1,0.8\n2,0.7\n")
    assert trim_history(str(path), 2) == 2
    assert read_history(str(path)) == {"loss": [0.9, 0.8]}
    backup = tmp_path / "backup"
    backup.mkdir()
    assert resume_epoch(str(backup)) == 0
    (backup / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    assert resume_epoch(str(backup)) == 0  # no weights, nothing to resume
    (backup / "latest.weights.h5").write_bytes(b"")
    assert resume_epoch(str(backup)) == 3
    (backup / "training_metadata.json").write_text("not json")
    assert resume_epoch(str(backup)) == 0


@pytest.mark.parametrize("kept", [0, 5])
def test_trim_history_keeps_the_header(tmp_path, kept):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,0.9\n")
    trim_history(str(path), kept)
    assert path.read_text().splitlines()[0] == "epoch,loss"


def test_ctrl_c_stops_cleanly_and_keeps_the_backup(tmp_path):
    data = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 1500)
    recipe = tmp_path / "r.toml"
    recipe.write_text(textwrap.dedent(f"""
        [data]
        train = "{data}"
        [model]
        embedding_dim = 8
        units = 8
        ngram_buckets = 0
        [callbacks]
        early_stopping = false
        [train]
        epochs = {EPOCHS}
        batch_size = 16
    """), encoding="utf-8")
    run_dir = str(tmp_path / "run")
    command = [sys.executable, "-m", "textrecipes.cli", "train", str(recipe), "--run-dir", run_dir]
    run = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 400
    try:
        while _backed_up_epochs(run_dir) < 1:
            assert run.poll() is None, "the run ended before Ctrl-C:\n" + run.stderr.read()[-3000:]
            assert time.time() < deadline, "no epoch backed up in time"
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 130, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err
    assert _backed_up_epochs(run_dir) >= 1 and not os.path.exists(os.path.join(run_dir, "metrics.json"))
