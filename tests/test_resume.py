"""Kill a training run with SIGKILL, start the same command again: it resumes and finishes."""

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import pytest

from conftest import ROOT, rt_path, write_slice
from textrecipes.training.distribute import get_strategy
from textrecipes.training.resume import agree_resume_epoch, backup_epochs, read_history, resume_epoch, trim_history

EPOCHS = 8

SCRIPT = textwrap.dedent(f"""
    import sys
    from textrecipes.workflows.train import train
    train({{"data": {{"train": sys.argv[1]}},
            "model": {{"embedding_dim": 8, "units": 8, "bidirectional": False}},
            "schedule": {{"name": "exponential", "learning_rate": 0.01, "decay_epochs": 1, "decay_rate": 0.5,
                          "staircase": True}},
            "callbacks": {{"early_stopping": False}},
            "train": {{"epochs": {EPOCHS}, "batch_size": 16}}, "export": {{"saved_model": False}}}},
          run_dir=sys.argv[2], verbose=1)
""")

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONFAULTHANDLER": "1", "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}


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
    (backup / "epoch-0003.partial.weights.h5").write_bytes(b"")  # killed mid-write: not a state
    assert resume_epoch(str(backup)) == 0
    (backup / "epoch-0002.weights.h5").write_bytes(b"")
    (backup / "epoch-0003.weights.h5").write_bytes(b"")
    assert resume_epoch(str(backup)) == 3
    assert backup_epochs(str(backup)) == [2, 3]
    assert agree_resume_epoch(str(backup), get_strategy("cpu"), 2) == 2  # states past train.epochs ignored


def test_epoch_backup_keeps_two_states_and_restores_the_one_asked_for(tmp_path):
    import keras

    from textrecipes.training.resume import EpochBackup

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    backup = str(tmp_path / "backup")
    with pytest.raises(ValueError, match="keep must be at least 1"):
        EpochBackup(backup, keep=0)
    saved = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved[epoch + 1] = [w.copy() for w in self.model.get_weights()]

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model().fit(x, y, epochs=6, verbose=0, callbacks=[Snapshot(), EpochBackup(backup), Stop()])
    assert backup_epochs(backup) == [3, 4]  # the last two, no partial files
    assert sorted(os.listdir(backup)) == ["epoch-0003.weights.h5", "epoch-0004.weights.h5"]
    # A peer one epoch behind: resume from epoch 3, drop the newer state, run epochs 4-6.
    m = model()
    m.build((None, 4))
    probe = EpochBackup(backup, resume_from=3)
    seen = []

    class First(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append([w.copy() for w in self.model.get_weights()])

    history = m.fit(x, y, epochs=6, verbose=0, callbacks=[probe, First()])
    assert probe.resumed_epoch == 3 and len(history.history["loss"]) == 3
    for got, want in zip(seen[0], saved[3]):
        np.testing.assert_array_equal(got, want)
    assert not os.path.exists(backup)  # removed once training finished


def test_a_resumed_run_restores_the_best_epoch_early_stopping_saw_before_the_kill(tmp_path):
    """Early stopping's best value, patience count and best weights are backed up with each epoch: a run
    interrupted after its best epoch ends with that epoch's weights, as an uninterrupted one does."""
    import keras

    from textrecipes.training.callbacks import EarlyStopping
    from textrecipes.training.resume import EpochBackup

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    scores = [0.5, 0.9, 0.6, 0.7, 0.65, 0.6]  # the best epoch is the second, before the kill

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    class Score(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = scores[epoch]

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 3:
                raise KeyboardInterrupt

    saved = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved[epoch] = [w.copy() for w in self.model.get_weights()]

    def callbacks(backup, *extra):
        stop = EarlyStopping(monitor="score", mode="max", patience=10)
        return [Score(), Snapshot(), stop, EpochBackup(backup, stateful=[stop]), *extra]

    options = {"epochs": 6, "batch_size": 64, "shuffle": False, "verbose": 0}
    uninterrupted = model()
    uninterrupted.fit(x, y, callbacks=callbacks(str(tmp_path / "a")), **options)
    for got, want in zip(uninterrupted.get_weights(), saved[1]):
        np.testing.assert_array_equal(got, want)
    backup = str(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        model().fit(x, y, callbacks=callbacks(backup, Stop()), **options)
    assert sorted(os.listdir(backup)) == ["epoch-0003.state.npz", "epoch-0003.weights.h5",
                                          "epoch-0004.state.npz", "epoch-0004.weights.h5"]
    resumed = model()
    resumed.build((None, 4))
    history = resumed.fit(x, y, callbacks=callbacks(backup), **options)
    assert len(history.history["loss"]) == 2  # epochs 5 and 6 only
    for got, want in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


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


MULTI_WORKER_RECIPE = """
name = "mw"
[data]
train = "{train}"
[model]
embedding_dim = 8
units = 8
bidirectional = false
[callbacks]
early_stopping = false
[train]
epochs = {epochs}
batch_size = 16
strategy = "multi_worker"
[export]
saved_model = false
"""


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def test_supervise_restarts_a_crashed_command_and_stops_on_user_errors(tmp_path):
    from textrecipes.training.distribute import supervise

    marker = tmp_path / "crashed-once"
    crash_once = f"import os, sys; p = {str(marker)!r}\nif not os.path.exists(p): open(p, 'w').close(); os._exit(1)"
    lines = []
    assert supervise([sys.executable, "-c", crash_once], restarts=2, delay=0, log=lines.append) == 0
    assert len([line for line in lines if "training in process" in line]) == 2
    assert "exited with status 1; restarting" in lines[1]
    lines.clear()  # a user error (exit 2) is final: no restart
    assert supervise([sys.executable, "-c", "import sys; sys.exit(2)"], restarts=3, delay=0, log=lines.append) == 2
    assert len(lines) == 1
    lines.clear()  # restarts spent: the last status comes back
    assert supervise([sys.executable, "-c", "import os; os._exit(3)"], restarts=1, delay=0, log=lines.append) == 3
    assert "gave up after 2 start(s)" in lines[-1]


def test_multi_worker_run_survives_a_worker_killed_and_restarted(tmp_path):
    """Two workers under `textrecipes train --restarts`; worker 1's training process is SIGKILLed mid-run.

    Its supervisor starts it again; TensorFlow then aborts worker 0's collective ops
    (the peer "has likely restarted"), whose supervisor restarts it too, and both
    resume from the last epoch they backed up together and finish the configured epochs.
    """
    import socket

    epochs = 6
    data = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 1200)
    recipe = tmp_path / "mw.toml"
    recipe.write_text(MULTI_WORKER_RECIPE.format(train=data, epochs=epochs))
    socks = [socket.socket() for _ in range(2)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]}
    for s in socks:
        s.close()
    run_dir = str(tmp_path / "run")
    supervisors, logs = [], []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        logs.append(open(tmp_path / f"worker{index}.log", "w+"))
        supervisors.append(subprocess.Popen(
            [sys.executable, "-m", "textrecipes.cli", "train", str(recipe), "--run-dir", run_dir, "--restarts", "3"],
            cwd=ROOT, env={**ENV, "TF_CONFIG": tf_config}, stdout=logs[-1], stderr=subprocess.STDOUT))
    try:
        # Kill worker 1 once both workers hold the same two epochs, then drop its newest state while
        # it is down (its supervisor waits 2 s): as if the kill had come between the chief's backup
        # and its own. Each worker resumes from its own folder, so they must agree on the epoch.
        key = hashlib.sha1(os.path.abspath(run_dir).encode()).hexdigest()[:12]
        worker1_backup = os.path.join(tempfile.gettempdir(), "textrecipes-workers", f"run-{key}-worker1", "backup")
        chief_backup = os.path.join(run_dir, "backup")
        deadline = time.time() + 400
        while not (len(backup_epochs(worker1_backup)) == 2 and backup_epochs(worker1_backup)[-1] >= 2
                   and backup_epochs(worker1_backup) == backup_epochs(chief_backup)):
            assert all(p.poll() is None for p in supervisors), "a worker ended before the kill"
            assert time.time() < deadline, "no epoch backed up in time"
            time.sleep(0.02)
        victim = _children(supervisors[1].pid)
        assert len(victim) == 1
        os.kill(victim[0], signal.SIGKILL)
        while os.path.exists(f"/proc/{victim[0]}") and "Z" not in _state(victim[0]):
            time.sleep(0.01)
        held = backup_epochs(worker1_backup)
        os.remove(os.path.join(worker1_backup, f"epoch-{held[-1]:04d}.weights.h5"))
        resume_at = held[-2]
        codes = [p.wait(timeout=600) for p in supervisors]
    finally:
        for p in supervisors:
            for child in _children(p.pid):
                os.kill(child, signal.SIGKILL)
            p.kill()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
    assert codes == [0, 0], "\n=====\n".join(o[-3000:] for o in outputs)
    assert f"exited with status {-signal.SIGKILL}; restarting" in outputs[1]
    assert 1 <= resume_at < epochs - 1
    for out in outputs:  # both workers resume from the epoch they share, the chief one epoch back
        assert f"resuming an interrupted run after epoch {resume_at} of {epochs}" in out
    rows = list(csv.DictReader(open(os.path.join(run_dir, "history.csv"))))
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    assert json.load(open(os.path.join(run_dir, "metrics.json")))["epochs_run"] == epochs
    assert os.path.exists(os.path.join(run_dir, "model.keras"))


STREAMED_RECIPE = """
name = "mw-streamed"
[data]
train = "{train}"
streaming = true
on_bad_lines = "skip"
validation_split = 0.2
test_split = 0.0
shuffle_buffer = 200
[model]
name = "fasttext"
embedding_dim = 8
ngram_buckets = 512
ngram_dim = 4
[callbacks]
early_stopping = false
[train]
epochs = {epochs}
batch_size = 32
strategy = "multi_worker"
"""


def test_a_streamed_multi_worker_run_survives_a_worker_killed_and_restarted(tmp_path):
    """The test above on the streamed path (data.streaming = true): worker 1 SIGKILLed after its second backup.

    Both supervisors restart their worker; each counts the file again, reads every other line of it,
    resumes from the epoch they share and trains only the missing epochs, each a whole pass over its share.
    """
    from conftest import free_ports
    from textrecipes.export.predictors import Predictor
    import keras

    epochs, lines = 3, 400
    data = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), lines)
    with open(data, "a", encoding="utf-8") as f:  # two bad lines, skipped and counted
        f.write("a line without a tab\n" "fresh\t   \n")
    recipe = tmp_path / "mw.toml"
    recipe.write_text(STREAMED_RECIPE.format(train=data, epochs=epochs))
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    run_dir = str(tmp_path / "run")
    supervisors, logs = [], []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        logs.append(open(tmp_path / f"worker{index}.log", "w+"))
        supervisors.append(subprocess.Popen(
            [sys.executable, "-m", "textrecipes.cli", "train", str(recipe), "--run-dir", run_dir, "--restarts", "3"],
            cwd=ROOT, env={**ENV, "TF_CONFIG": tf_config}, stdout=logs[-1], stderr=subprocess.STDOUT))
    try:
        key = hashlib.sha1(os.path.abspath(run_dir).encode()).hexdigest()[:12]
        worker1_backup = os.path.join(tempfile.gettempdir(), "textrecipes-workers", f"run-{key}-worker1", "backup")
        chief_backup = os.path.join(run_dir, "backup")
        deadline = time.time() + 400
        while not (len(backup_epochs(worker1_backup)) == 2 and backup_epochs(worker1_backup)[-1] >= 2
                   and backup_epochs(worker1_backup) == backup_epochs(chief_backup)):
            assert all(p.poll() is None for p in supervisors), "a worker ended before the kill"
            assert time.time() < deadline, "no epoch backed up in time"
            time.sleep(0.02)
        victim = _children(supervisors[1].pid)
        assert len(victim) == 1
        os.kill(victim[0], signal.SIGKILL)
        resume_at = backup_epochs(worker1_backup)[-1]
        codes = [p.wait(timeout=600) for p in supervisors]
    finally:
        for p in supervisors:
            for child in _children(p.pid):
                os.kill(child, signal.SIGKILL)
            p.kill()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
    assert codes == [0, 0], "\n=====\n".join(o[-3000:] for o in outputs)
    assert f"exited with status {-signal.SIGKILL}; restarting" in outputs[1]
    for out in outputs:
        assert f"resuming an interrupted run after epoch {resume_at} of {epochs}" in out
    # Each epoch trained once, whole: history holds every epoch once, and the metrics were written once.
    rows = list(csv.DictReader(open(os.path.join(run_dir, "history.csv"))))
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    assert metrics["epochs_run"] == epochs
    report = metrics["data"][0]
    assert report["lines_read"] == lines + 2 and report["kept"] == lines
    assert report["skipped"] == {"wrong column count": 1, "empty text": 1}
    streamed = metrics["streaming"]
    assert sum(sum(c.values()) for c in streamed["label_counts"].values()) == lines
    assert sum(streamed["train_examples_per_worker"]) == sum(streamed["label_counts"]["train"].values())
    assert streamed["sharding"] == "line" and streamed["workers"] == 2
    assert streamed["lines_read_per_worker"] == [(lines + 2) // 2] * 2
    # The restarted epochs were whole passes over each worker's share: as many steps as the first ones.
    local_steps = -(-min(streamed["train_examples_per_worker"]) // 32)  # batch_size examples a worker a step
    for out in outputs:
        assert set(re.findall(r"^(\d+)/(\d+) - ", out, re.M)) == {(str(local_steps), str(local_steps))}
        resumed = out.split("resuming an interrupted run")[-1]
        assert len(re.findall(r"^\d+/\d+ - ", resumed, re.M)) == epochs - resume_at
    assert metrics["export_check"]["max_abs_diff"] < 1e-5
    texts = ["a moving, funny film", "dull and far too long", ""]
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    expected = keras.ops.convert_to_numpy(model(keras.ops.convert_to_tensor(texts)))[:, 0]
    np.testing.assert_allclose(Predictor(os.path.join(run_dir, "saved_model")).predict_proba(texts)[:, -1],
                               expected, atol=1e-5)
