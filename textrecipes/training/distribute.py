"""Scale: the `tf.distribute` strategy, mixed precision, cuDNN checks and the worker supervisor.

TensorFlow's own strategies do the work; this module only chooses among them
and answers the questions the runner has to ask around them:

- `get_strategy`: ``auto`` | ``cpu`` | ``gpu`` | ``mirrored`` | ``multi_worker``.
- `use_mixed_precision` / `precision_policy`: ``mixed_float16`` on GPUs of
  compute capability 7.0 or more, the previous global policy restored afterwards.
- `cudnn_eligible`: whether every LSTM and GRU keeps to the cuDNN kernel, and why not.
- `is_chief` / `worker_run_dir`: in a multi-worker run only the chief writes
  the run folder; the other workers write to a private temporary folder.
- `supervise`: restarts a crashed training process (``train --restarts N``),
  which then resumes from its backup (`textrecipes.training.resume`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import tensorflow as tf

from textrecipes.training import StrategyError

STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multi_worker")
MIXED_PRECISION = ("auto", True, False)
MIN_MIXED_PRECISION_CAPABILITY = (7, 0)  # Volta and newer have float16 tensor cores


def get_strategy(name: str = "auto", *, gpus: list | None = None) -> tf.distribute.Strategy:
    """Picks a `tf.distribute.Strategy`.

    ``auto``: `MirroredStrategy` when more than one GPU is visible, a
    `OneDeviceStrategy` on one GPU, the default strategy on CPU. ``mirrored``
    mirrors over every visible GPU (or over the logical CPU devices when there is
    no GPU). ``multi_worker`` is `MultiWorkerMirroredStrategy` with the cluster
    read from ``TF_CONFIG``; it must be created before any other TensorFlow op of
    the process (the runner does so first thing in `train`). The global batch
    size is the recipe's ``batch_size`` times ``strategy.num_replicas_in_sync``.

    Args:
        name: one of "auto" (default), "cpu", "gpu", "mirrored", "multi_worker".
        gpus: the visible GPUs, objects with a ``.name`` (for tests); default:
            `tf.config.list_logical_devices("GPU")`.

    Returns:
        The strategy; build the model, optimizer and metrics under its ``scope()``.

    Raises:
        ValueError: an unknown name, or ``gpu`` without a visible GPU.
        RuntimeError: ``multi_worker`` asked for after TensorFlow already ran ops.

    Example:
        >>> get_strategy("cpu").num_replicas_in_sync
        1
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "multi_worker":
        return _multi_worker_strategy()
    if name == "cpu":
        return tf.distribute.get_strategy()
    if gpus is None:
        gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "gpu" if gpus else "cpu"
        if name == "cpu":
            return tf.distribute.get_strategy()
    if name == "gpu":
        if not gpus:
            raise StrategyError("train.strategy = 'gpu' asked for, but no GPU is visible to TensorFlow; use "
                                "'auto' (a GPU when there is one) or 'cpu'")
        return tf.distribute.OneDeviceStrategy(getattr(gpus[0], "name", "/gpu:0"))
    if not gpus:  # no GPU: mirror over the logical CPU devices if there are several (tests), else one CPU
        cpus = tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy(devices=[c.name for c in cpus] if len(cpus) > 1 else None)
    return tf.distribute.MirroredStrategy(devices=[g.name for g in gpus])


def _multi_worker_strategy() -> tf.distribute.Strategy:
    if not os.environ.get("TF_CONFIG"):
        raise StrategyError("strategy 'multi_worker' needs TF_CONFIG, e.g. "
                         '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}')
    check_tf_config(os.environ["TF_CONFIG"])
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (RuntimeError, ValueError) as e:
        raise RuntimeError(
            "MultiWorkerMirroredStrategy must be created before any other TensorFlow op in the process: "
            "run `textrecipes train` (or `train(...)`) in a fresh process, one per worker, with TF_CONFIG set "
            f"({e})") from e


def check_tf_config(text: str) -> dict:
    """The ``TF_CONFIG`` environment variable parsed, or a `StrategyError` saying what is wrong with it.

    Example:
        >>> check_tf_config('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}')["task"]
        {'type': 'worker', 'index': 0}
    """
    try:
        config = json.loads(text)
    except ValueError as e:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({e.msg} at character {e.pos}); expected e.g. "
                            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                            '"task": {"type": "worker", "index": 0}}') from None
    if not isinstance(config, dict):
        raise StrategyError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task', got a {type(config).__name__}")
    for key in ("cluster", "task"):
        if key in config and not isinstance(config[key], dict):
            raise StrategyError(f"TF_CONFIG: {key!r} must be a JSON object, got a {type(config[key]).__name__}")
    task = config.get("task", {})
    if "index" in task and (isinstance(task["index"], bool) or not isinstance(task["index"], int) or task["index"] < 0):
        raise StrategyError(f"TF_CONFIG: task 'index' must be a non-negative integer, got {task['index']!r:.40}")
    return config


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """True for a strategy spanning several workers (processes or machines).

    Args:
        strategy: a `tf.distribute.Strategy`.

    Example:
        >>> is_multi_worker(get_strategy("cpu"))
        False
    """
    return bool(getattr(getattr(strategy, "extended", None), "_in_multi_worker_mode", lambda: False)())


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder (the Keras multi-worker rule).

    The chief is the ``chief`` task, or worker 0 when the cluster has no chief;
    a single-process run is always its own chief.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Example:
        >>> is_chief(get_strategy("cpu"))
        True
    """
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None or task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def worker_run_dir(run_dir: str, strategy: tf.distribute.Strategy) -> str:
    """The folder this process writes: ``run_dir`` on the chief, a private temporary one elsewhere.

    Every worker has to save (saving may involve collective ops), but only the
    chief's files are kept. A non-chief worker's folder is the same across
    restarts of that worker, so its ``backup/`` lets it resume with the chief;
    the runner deletes it at the end of a finished run.

    Args:
        run_dir: the run folder of the recipe.
        strategy: a `tf.distribute.Strategy`.

    Example:
        >>> worker_run_dir("runs/demo", get_strategy("cpu"))
        'runs/demo'
    """
    if is_chief(strategy):
        return run_dir
    resolver = strategy.cluster_resolver
    key = hashlib.sha1(os.path.abspath(run_dir).encode("utf-8")).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), "textrecipes-workers",
                        f"{os.path.basename(os.path.normpath(run_dir))}-{key}-{resolver.task_type}{resolver.task_id}")


def data_sharded(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The dataset with multi-worker auto-sharding set to DATA (each worker keeps its share of batches).

    Our datasets come from tensors, not files, so FILE sharding cannot apply;
    saying DATA outright avoids TensorFlow's fallback warning.

    Args:
        dataset: a `tf.data.Dataset`.

    Example:
        >>> ds = data_sharded(tf.data.Dataset.range(4))
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


# ---------------------------------------------------------------------------
# Mixed precision.


def gpu_compute_capabilities() -> list[tuple[int, int]]:
    """The compute capability ``(major, minor)`` of each visible physical GPU (empty on CPU).

    Example:
        >>> isinstance(gpu_compute_capabilities(), list)
        True
    """
    out = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        except (RuntimeError, ValueError):  # pragma: no cover - driver-dependent
            capability = None
        out.append(tuple(capability) if capability else (0, 0))
    return out


def use_mixed_precision(setting="auto", *, capabilities: list | None = None) -> bool:
    """Resolves ``train.mixed_precision``: ``"auto"``, ``True`` or ``False``.

    ``auto`` turns ``mixed_float16`` on only when every visible GPU has compute
    capability 7.0 or more (tensor cores), never on CPU. ``True`` forces it
    (it runs on CPU too, slowly); ``False`` keeps float32.

    Args:
        setting: "auto" (default), True or False.
        capabilities: ``[(major, minor), ...]`` of the visible GPUs (for tests);
            default: `gpu_compute_capabilities()`.

    Example:
        >>> use_mixed_precision("auto", capabilities=[]), use_mixed_precision("auto", capabilities=[(8, 0)])
        (False, True)
    """
    if isinstance(setting, str) and setting.lower() in ("true", "false"):
        setting = setting.lower() == "true"
    if setting not in MIXED_PRECISION or (not isinstance(setting, bool) and setting != "auto"):
        raise ValueError(f"mixed_precision must be 'auto', true or false, got {setting!r}")
    if setting != "auto":
        return setting
    if capabilities is None:
        capabilities = gpu_compute_capabilities()
    return bool(capabilities) and all(tuple(c) >= MIN_MIXED_PRECISION_CAPABILITY for c in capabilities)


@contextlib.contextmanager
def precision_policy(mixed: bool):
    """Sets the Keras global dtype policy for the models built inside, then restores the previous one.

    Layers keep the policy they were built with, and `Model.compile` wraps the
    optimizer in a `LossScaleOptimizer` under ``mixed_float16``, so the policy
    only has to be in force while the model is built and compiled. The output
    layer stays float32 (`textrecipes.models.encoders.output_layer`).

    Args:
        mixed: True for ``mixed_float16``, False for ``float32``.

    Example:
        >>> with precision_policy(True):
        ...     model = build_lstm_classifier(100, 2)  # doctest: +SKIP
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


# ---------------------------------------------------------------------------
# cuDNN.


def cudnn_eligible(model) -> tuple[bool, list[str]]:
    """Whether every LSTM and GRU in ``model`` can run on the cuDNN kernel, with the reasons when not.

    The kernel needs tanh/sigmoid activations, no recurrent dropout,
    ``unroll=False``, ``use_bias=True``, ``use_cudnn`` not off and, for a GRU,
    ``reset_after=True`` (Keras LSTM and GRU docs); right-padded masks without fully masked rows are the pipeline's job
    (`TextVectorizer` guarantees both).

    Args:
        model: a Keras model (nested models and `Bidirectional` are searched).

    Returns:
        ``(eligible, reasons)``; reasons name the layer and the setting.

    Example:
        >>> cudnn_eligible(build_lstm_classifier(100, 2))  # doctest: +SKIP
        (True, [])
    """
    import keras

    reasons = []
    for layer in _walk_layers(model):
        if not isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
            continue
        cell = layer.cell
        where = f"{type(layer).__name__} {layer.name!r}"
        if isinstance(layer, keras.layers.GRU) and not cell.reset_after:
            reasons.append(f"{where}: reset_after=False (cuDNN needs True)")
        activation = getattr(cell.activation, "__name__", str(cell.activation))
        recurrent = getattr(cell.recurrent_activation, "__name__", str(cell.recurrent_activation))
        if activation != "tanh":
            reasons.append(f"{where}: activation={activation} (cuDNN needs tanh)")
        if recurrent != "sigmoid":
            reasons.append(f"{where}: recurrent_activation={recurrent} (cuDNN needs sigmoid)")
        if getattr(cell, "recurrent_dropout", 0):
            reasons.append(f"{where}: recurrent_dropout={cell.recurrent_dropout} (cuDNN needs 0)")
        if layer.unroll:
            reasons.append(f"{where}: unroll=True (cuDNN needs False)")
        if not cell.use_bias:
            reasons.append(f"{where}: use_bias=False (cuDNN needs True)")
        if getattr(layer, "use_cudnn", "auto") is False:
            reasons.append(f"{where}: use_cudnn=False")
    return not reasons, reasons


def _walk_layers(layer):
    seen = set()
    stack = [layer]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(getattr(current, "layers", []) or [])
        for attr in ("forward_layer", "backward_layer", "layer"):
            child = getattr(current, attr, None)
            if child is not None and hasattr(child, "name"):
                stack.append(child)


def prepare_distributed_fit(model, dataset: tf.data.Dataset, strategy: tf.distribute.Strategy) -> None:
    """Works around Keras 3's `fit` under several replicas: builds the training state locally first.

    Keras 3.15's TensorFlow trainer has two faults under distribution:

    1. every `fit`/`evaluate`/`predict` starts with ``_maybe_symbolic_build``,
       which averages the first distributed batch across replicas. That raises
       when the replicas' shares differ in shape: under `MirroredStrategy` when
       the first batch does not split evenly (a last, partial batch; a
       validation set of 61 texts), under `MultiWorkerMirroredStrategy` always
       ("Attempt to convert a value (PerReplica...)", keras-team/keras#20585).
       It only needs the batch's shapes and dtypes, so the optimizer, loss and
       metrics are built here from one local batch under the strategy's scope
       and that step is skipped for this model.
    2. under `MultiWorkerMirroredStrategy` the logs of each train/test step
       (scalars) are averaged across workers with
       ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar. The steps
       here return each scalar as a 1-element vector, so that reduction gives the
       mean over replicas, as `MirroredStrategy` does on one machine.

    The model's weights, gradients and all-reductions stay TensorFlow's own.
    Does nothing for a single replica.

    Args:
        model: a compiled Keras model built under ``strategy.scope()``.
        dataset: the training dataset (one batch is read).
        strategy: the strategy the model was built under.

    Example:
        >>> prepare_distributed_fit(model, train_ds, strategy)  # doctest: +SKIP
    """
    multi_worker = is_multi_worker(strategy)
    if strategy.num_replicas_in_sync < 2 and not multi_worker:
        return
    batch = next(iter(dataset.take(1)))
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    if not multi_worker:
        return

    def as_vectors(step):
        def wrapped(data):
            logs = step(data)
            return {k: tf.reshape(v, [1]) if getattr(v, "shape", None) is not None and v.shape.rank == 0 else v
                    for k, v in logs.items()}
        return wrapped

    model.train_step = as_vectors(model.train_step)
    model.test_step = as_vectors(model.test_step)


# Exit statuses that a restart cannot fix: success, a user error (recipe, data, run
# folder; the CLI exits 2) and an interrupt (Ctrl-C; 130 or SIGINT).
FINAL_EXIT_CODES = (0, 2, 130, -signal.SIGINT)


def supervise(command: list[str], restarts: int, *, delay: float = 2.0, env: dict | None = None,
              log=None) -> int:
    """Runs a training command, restarting it when it crashes, until it succeeds or restarts run out.

    This is what a cluster manager (Kubernetes' ``restartPolicy: OnFailure``, a
    Slurm requeue) does for each worker; ``textrecipes train --restarts N``
    provides it on bare machines. It is how a multi-worker run survives losing
    a worker: when one worker dies, TensorFlow's `MultiWorkerMirroredStrategy`
    holds the others in their collective ops, and when the worker comes back
    they abort ("... has likely restarted. Restart your program"), so every
    worker's process restarts and `textrecipes.training.resume.EpochBackup` resumes
    all of them from the newest epoch every one of them backed up
    (`agree_resume_epoch`). A single-process run resumes the
    same way after any crash.

    Args:
        command: the program and its arguments, e.g.
            ``[sys.executable, "-m", "textrecipes.cli", "train", "recipe.toml"]``.
        restarts: how many times a crashed command is started again (0: run once).
        delay: seconds to wait before a restart. Default 2.
        env: environment of the command. Default None (this process's).
        log: called with one line per start and exit. Default None (stderr).

    Returns:
        The command's last exit status: 0 on success; a crash status once
        ``restarts`` are spent; 2 (a user error) or 130 (interrupted) at once,
        since a restart cannot fix those.

    Example:
        >>> import sys
        >>> supervise([sys.executable, "-c", "print('trained')"], restarts=1, log=lambda line: None)
        0
    """
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    for attempt in range(restarts + 1):
        proc = subprocess.Popen(command, env=env)
        log(f"textrecipes: training in process {proc.pid} (start {attempt + 1} of {restarts + 1})")
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            proc.wait()
            return 130
        if code in FINAL_EXIT_CODES:
            return 130 if code == -signal.SIGINT else code
        if attempt < restarts:
            log(f"textrecipes: process {proc.pid} exited with status {code}; restarting in {delay:g} s, "
                "resuming from the run folder's backup")
            time.sleep(delay)
    log(f"textrecipes: gave up after {restarts + 1} start(s); last exit status {code}")
    return code
