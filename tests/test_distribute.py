"""Strategies, mixed precision and cuDNN checks; real MirroredStrategy and two-worker runs on CPU."""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, free_ports, rt_path, write_slice
from textrecipes.training import distribute
from textrecipes.training.distribute import cudnn_eligible, get_strategy, precision_policy, use_mixed_precision
from textrecipes.models.auto import single_model
from textrecipes.models.classifiers import build_lstm_classifier
from textrecipes.recipe.loading import RecipeError, load_recipe

TINY = {"embedding_dim": 8, "units": 8, "bidirectional": False}


def _gpus(n):
    return [SimpleNamespace(name=f"/device:GPU:{i}") for i in range(n)]


# ---------------------------------------------------------------------------
# Choosing the strategy.


def test_auto_picks_default_on_cpu_one_device_on_one_gpu_mirrored_on_several():
    assert get_strategy("auto", gpus=[]) is tf.distribute.get_strategy()
    one = get_strategy("auto", gpus=_gpus(1))
    assert isinstance(one, tf.distribute.OneDeviceStrategy)
    assert one.extended.worker_devices[0].endswith("GPU:0")
    many = get_strategy("auto", gpus=_gpus(2))
    assert isinstance(many, tf.distribute.MirroredStrategy) and many.num_replicas_in_sync == 2


def test_explicit_choices_and_their_errors(monkeypatch):
    assert get_strategy("cpu", gpus=_gpus(4)) is tf.distribute.get_strategy()
    assert isinstance(get_strategy("gpu", gpus=_gpus(3)), tf.distribute.OneDeviceStrategy)
    assert get_strategy("mirrored", gpus=_gpus(3)).num_replicas_in_sync == 3
    with pytest.raises(ValueError, match="no GPU is visible"):
        get_strategy("gpu", gpus=[])
    with pytest.raises(ValueError, match="must be one of"):
        get_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multi_worker")


def test_single_process_is_its_own_chief_and_writes_the_run_dir():
    strategy = get_strategy("cpu")
    assert not distribute.is_multi_worker(strategy) and distribute.is_chief(strategy)
    assert distribute.worker_run_dir("runs/x", strategy) == "runs/x"


def test_recipe_keys_for_strategy_and_mixed_precision():
    base = {"data": {"train": "x.tsv"}}
    cfg = load_recipe(base)
    assert cfg["train"]["strategy"] == "auto" and cfg["train"]["mixed_precision"] == "auto"
    for value in (True, False, "auto"):
        assert load_recipe(base, {"train": {"mixed_precision": value}})["train"]["mixed_precision"] == value
    assert load_recipe(base, ["train.mixed_precision=true", "train.strategy=mirrored"])["train"]["mixed_precision"] is True
    with pytest.raises(RecipeError) as e:
        load_recipe(base, {"train": {"mixed_precision": "yes", "strategy": "tpu"}})
    assert "train.mixed_precision" in str(e.value) and "train.strategy" in str(e.value)
    with pytest.raises(RecipeError, match="must be str or bool"):
        load_recipe(base, {"train": {"mixed_precision": 1.5}})


# ---------------------------------------------------------------------------
# Mixed precision.


@pytest.mark.parametrize("setting, capabilities, expected", [
    ("auto", [], False),            # CPU: never
    ("auto", [(7, 0)], True),       # V100
    ("auto", [(8, 0), (9, 0)], True),
    ("auto", [(6, 1)], False),      # Pascal: no tensor cores
    ("auto", [(8, 6), (6, 1)], False),
    (True, [], True),
    (False, [(9, 0)], False),
    ("false", [(9, 0)], False),
])
def test_mixed_precision_auto_needs_compute_capability_7(setting, capabilities, expected):
    assert use_mixed_precision(setting, capabilities=capabilities) is expected


def test_mixed_precision_rejects_other_values():
    with pytest.raises(ValueError, match="mixed_precision"):
        use_mixed_precision("yes", capabilities=[])


def test_precision_policy_is_restored_even_after_an_error():
    before = keras.mixed_precision.global_policy().name
    with pytest.raises(RuntimeError):
        with precision_policy(True):
            model = build_lstm_classifier(50, 2, **TINY)
            assert keras.mixed_precision.global_policy().name == "mixed_float16"
            raise RuntimeError("boom")
    assert keras.mixed_precision.global_policy().name == before
    assert model.get_layer("lstm").dtype_policy.name == "mixed_float16"
    assert model.get_layer("probabilities").dtype_policy.name == "float32"  # the output stays float32


def test_runner_trains_under_mixed_precision_and_restores_the_policy(tmp_path):
    from textrecipes.workflows.train import train

    from unittest import mock

    import textrecipes.run.harness as harness

    built = []
    build_and_compile = harness.build_and_compile

    def keeping(*args, **kwargs):
        out = build_and_compile(*args, **kwargs)
        built.append(out[0])
        return out

    data = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 300)
    with mock.patch.object(harness, "build_and_compile", keeping):
        result = train({"data": {"train": data}, "model": TINY, "train": {"epochs": 1, "mixed_precision": True},
                        "export": {"saved_model": False}}, run_dir=str(tmp_path / "run"), verbose=0)
    assert keras.mixed_precision.global_policy().name == "float32"
    exported = [layer for layer in result.model.layers if isinstance(layer, keras.Model)][0]
    for model in (built[0], exported):  # the model that trained, and the copy evaluated and exported
        assert single_model(model).get_layer("lstm").dtype_policy.name == "mixed_float16"  # auto: its LSTM member
    assert isinstance(built[0].optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(result.history["loss"][0])


# ---------------------------------------------------------------------------
# cuDNN.


def test_default_models_keep_to_the_cudnn_kernel():
    for bidirectional in (True, False):
        assert cudnn_eligible(build_lstm_classifier(50, 2, embedding_dim=8, units=8, bidirectional=bidirectional)) == (True, [])


def test_cudnn_eligible_names_each_setting_that_leaves_the_kernel():
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(50, 8, mask_zero=True)(ids)
    x = keras.layers.Bidirectional(keras.layers.LSTM(8, recurrent_dropout=0.2, name="slow"))(x)
    x = keras.layers.Reshape((1, 16))(x)
    x = keras.layers.LSTM(4, activation="relu", unroll=True, name="odd")(x)
    ok, reasons = cudnn_eligible(keras.Model(ids, x))
    assert not ok
    text = "\n".join(reasons)
    assert "recurrent_dropout=0.2" in text and "activation=relu" in text and "unroll=True" in text
    assert "'odd'" in text


# ---------------------------------------------------------------------------
# Real distributed runs, each in fresh processes (devices and collectives are
# configured before TensorFlow starts).

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}

MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from textrecipes.workflows.train import train
    r = train({"data": {"train": sys.argv[1]}, "model": {"embedding_dim": 8, "units": 8},
               "train": {"epochs": 1, "batch_size": 16, "strategy": "mirrored"}},
              run_dir=sys.argv[2], verbose=1)
    print("RESULT", json.dumps({"accuracy": r.metrics["accuracy"], "loss": r.history["loss"]}))
""")


def test_mirrored_strategy_over_two_logical_cpus_trains_and_exports(tmp_path):
    # 301 examples: the last batch and the 30-text validation set split unevenly over the two replicas.
    data = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 376)
    done = subprocess.run([sys.executable, "-c", MIRRORED, data, str(tmp_path / "run")], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "MirroredStrategy, 2 replica(s); global batch 32" in done.stdout
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert len(result["loss"]) == 1 and np.isfinite(result["loss"][0])
    metrics = json.load(open(tmp_path / "run" / "metrics.json"))
    assert metrics["export_check"]["max_abs_diff"] <= 1e-5


WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    from textrecipes.workflows.train import train
    data, run_dir, out = sys.argv[1:4]
    r = train({"data": {"train": data}, "model": {"embedding_dim": 8, "units": 8, "bidirectional": False},
               "train": {"epochs": 2, "batch_size": 16, "strategy": "multi_worker"},
               "export": {"saved_model": False}}, run_dir=run_dir, verbose=1)
    np.savez(out, *r.model.get_weights())
""")


def test_two_workers_on_localhost_finish_with_the_same_weights_and_only_the_chief_writes(tmp_path):
    data = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 400)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    run_dir = tmp_path / "run"
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, data, str(run_dir), str(tmp_path / f"w{index}.npz")], cwd=ROOT,
            env={**ENV, "TF_CONFIG": tf_config}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=600)[0])
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-4000:]
        assert "CollectiveAllReduceStrategy, 2 replica(s); global batch 32" in out
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(w0.files) == len(w1.files) > 0
    for key in w0.files:
        np.testing.assert_allclose(w0[key], w1[key], atol=1e-6)
    assert (run_dir / "metrics.json").exists() and (run_dir / "model.keras").exists()
    # Each worker ran 2 epochs of half of every global batch: 320 train texts / 32 = 10 steps.
    assert json.load(open(run_dir / "metrics.json"))["epochs_run"] == 2
    assert "10/10" in outputs[0] and "10/10" in outputs[1]
    # The non-chief worker's private folder is gone.
    key = hashlib.sha1(os.path.abspath(run_dir).encode()).hexdigest()[:12]
    assert not os.path.exists(os.path.join(tempfile.gettempdir(), "textrecipes-workers", f"run-{key}-worker1"))
