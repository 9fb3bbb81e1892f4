"""Ensembles of trained runs, exported as one SavedModel, and their distillation into one small LSTM.

`train_ensemble` trains k members (k seeds of a recipe, or k recipes) with
`textrecipes.workflows.train.train` on the same train/validation/test files, puts each
member's end-to-end model (its own vectorizer and classifier) side by side in
one Keras model over raw strings, combined by `EnsembleCombine` (mean of the
probabilities, or a majority vote), and exports it with the same serving
signature as a single run, so `Predictor` and ``textrecipes predict`` read it.

`distill` trains a single small LSTM on the ensemble's temperature-softened
probabilities plus the hard labels (`DistillationLoss`), and reports the
accuracy kept and the size saved against the ensemble and against the same
small LSTM trained on the hard labels only. The student's folder is a run
folder (its ``recipe.toml`` and ``vocabulary.json`` beside the exports), so
`finetune` and ``textrecipes prune`` take it like any trained run.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import time

import keras
import numpy as np
from keras import ops

from textrecipes.data.atomic import save_keras
from textrecipes.evaluation.metrics import evaluate_predictions, format_metrics, probabilities_per_label
from textrecipes.evaluation.plots import plot_learning_curves
from textrecipes.export.metadata import RunFolderError, read_json
from textrecipes.export.predictors import Predictor
from textrecipes.export.saved_model import check_export, end_to_end_model, export_saved_model
from textrecipes.models.classifiers import build_lstm_classifier
from textrecipes.recipe.loading import RecipeError, load_recipe, missing_files, to_toml
from textrecipes.run.artifacts import write_json, write_model_card, write_run_files
from textrecipes.run.folder import prepare_run_dir
from textrecipes.tasks.classification import builder_options
from textrecipes.text.pipeline import encode_labels, make_dataset
from textrecipes.text.tokenization import TextVectorizer, Vocabulary, presegment, tokenize
from textrecipes.training.optimizers import build_optimizer
from textrecipes.workflows.train import task_for, train


@keras.saving.register_keras_serializable(package="textrecipes")
class EnsembleCombine(keras.layers.Layer):
    """Combines the probabilities of k members: their mean, or a majority vote.

    ``"vote"``: for one sigmoid unit (binary) or multi-label, each member votes
    per column by thresholding at 0.5 and the output is the share of members
    voting yes; for softmax outputs each member votes for its argmax and the
    output is the share of votes per class. A tie (a binary/multi-label share of
    exactly 0.5, or several classes sharing the most votes) falls back to the
    mean probabilities.

    Args:
        method: "mean" (default) or "vote".
        task: "binary", "multiclass" or "multilabel". Default "binary".
        **kwargs: for `keras.layers.Layer`.

    Example:
        >>> layer = EnsembleCombine("mean")
        >>> round(float(layer([np.array([[0.2]]), np.array([[0.6]])])[0, 0]), 3)
        0.4
        >>> round(float(EnsembleCombine("vote")([np.array([[0.6]]), np.array([[0.7]]), np.array([[0.1]])])[0, 0]), 3)
        0.667
    """

    def __init__(self, method: str = "mean", task: str = "binary", **kwargs):
        super().__init__(**kwargs)
        if method not in ("mean", "vote"):
            raise ValueError(f"method must be 'mean' or 'vote', got {method!r}")
        self.method = method
        self.task = task

    def call(self, inputs):
        stacked = ops.stack([ops.cast(x, "float32") for x in inputs], axis=0)  # (k, batch, width)
        mean = ops.mean(stacked, axis=0)
        if self.method == "mean":
            return mean
        if self.task == "multiclass":
            width = ops.shape(stacked)[-1]
            votes = ops.mean(ops.one_hot(ops.argmax(stacked, axis=-1), width), axis=0)
            top = ops.max(votes, axis=-1, keepdims=True)
            tied = ops.sum(ops.cast(ops.equal(votes, top), "float32"), axis=-1, keepdims=True) > 1
            return ops.where(tied, mean, votes)
        votes = ops.mean(ops.cast(stacked >= 0.5, "float32"), axis=0)
        return ops.where(ops.equal(votes, 0.5), mean, votes)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "method": self.method, "task": self.task}


def _write_split(records, path: str, label_sep: str) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            label = label_sep.join(r.label) if isinstance(r.label, (tuple, list)) else r.label
            text = " ".join(r.text.split())  # a TSV line holds no tab or newline
            f.write(f"{label}\t{text}\n")
    return path


def shared_data(cfg: dict, folder: str) -> dict:
    """Writes the recipe's train/validation/test split once, so every member sees the same split.

    A recipe without validation/test files splits them off its training file
    with its own seed; members of different seeds would then test on each
    other's training data. The split of ``cfg["seed"]`` is written as
    ``label<TAB>text`` files instead.

    Args:
        cfg: a resolved recipe.
        folder: where ``train.tsv``, ``validation.tsv`` and ``test.tsv`` go.

    Returns:
        The recipe's ``[data]`` table pointing at those files.

    Example:
        >>> import tempfile
        >>> cfg = load_recipe({"data": {"train": "data/samples/label_text.tsv"}})
        >>> sorted(os.listdir(os.path.dirname(shared_data(cfg, tempfile.mkdtemp())["train"])))
        ['test.tsv', 'train.tsv', 'validation.tsv']
    """
    task = task_for(cfg, records=True)
    splits, labels = task.read(cfg), task.labels
    folder = os.path.abspath(folder)  # the recipe.toml beside it works from any working folder
    os.makedirs(folder, exist_ok=True)
    sep = cfg["data"]["label_sep"]
    data = {**cfg["data"], "text_first": False, "header": False, "labels": labels, "max_train_examples": 0,
            "on_bad_lines": "error", "validation_split": 0.0, "test_split": 0.0}
    for name in ("train", "validation", "test"):
        data[name] = _write_split(getattr(splits, name), os.path.join(folder, f"{name}.tsv"), sep)
    return data


def _prepare(run_dir: str, overwrite: bool) -> None:
    prepare_run_dir(run_dir, overwrite, kind="ensemble")


def _folder_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def train_ensemble(recipe=None, *, seeds=None, recipes=None, method: str = "mean", overrides=None,
                   run_dir: str | None = None, overwrite: bool = False, verbose: int = 1) -> dict:
    """Trains k members and exports their combination as one model over raw strings.

    Args:
        recipe: the base recipe (TOML path, dict or None); its data split is
            shared by every member.
        seeds: train the base recipe once per seed, e.g. ``[0, 1, 2]``.
        recipes: or train these recipes (paths or dicts), each on the base
            recipe's data. Give ``seeds`` or ``recipes``, not both.
        method: "mean" of the probabilities (default) or "vote" (`EnsembleCombine`).
        overrides: ``["section.key=value", ...]`` applied to every member.
        run_dir: the ensemble folder. Default ``runs/<name>-ensemble``.
        overwrite: replace a finished ensemble there. Default False.
        verbose: 0 silent, 1 a line per member and the comparison (default), 2
            also each member's training log.

    Returns:
        ``{"run_dir", "metrics" (the ensemble's test report), "members" (each
        member's run folder and test report), "model" (the Keras ensemble),
        "labels", "task"}``. The folder holds ``saved_model/`` (signature as a
        single run's), ``model.keras``, ``labels.json``, ``recipe.toml``,
        ``metrics.json`` and ``members/<i>/``.

    Raises:
        ValueError: for both or neither of ``seeds`` and ``recipes``, or members
            that disagree on labels, task or tokenizer split.

    Example:
        >>> out = train_ensemble("recipes/sentiment_lstm.toml", seeds=[0, 1, 2])  # doctest: +SKIP
        >>> Predictor(out["run_dir"]).predict(["a fine film"])  # doctest: +SKIP
        [('fresh', 0.88)]
    """
    if (seeds is None) == (recipes is None) or not (seeds or recipes):
        raise ValueError("give seeds=[...] or recipes=[...] (one of them, non-empty)")
    started = time.time()
    cfg = load_recipe(recipe, overrides)
    run_dir = run_dir or cfg["run_dir"] or os.path.join("runs", f"{cfg['name']}-ensemble")
    if missing_files(cfg):
        raise RecipeError(missing_files(cfg), cfg["name"])
    _prepare(run_dir, overwrite)
    data = shared_data(cfg, os.path.join(run_dir, "data"))
    base = {**copy.deepcopy(cfg), "data": data, "run_dir": ""}
    with open(os.path.join(run_dir, "recipe.toml"), "w", encoding="utf-8") as f:
        f.write(to_toml(base, run_dir))
    if seeds is not None:
        member_cfgs = [{**copy.deepcopy(base), "seed": int(s), "name": f"{cfg['name']}-seed{s}"} for s in seeds]
    else:
        member_cfgs = [{**load_recipe(r, overrides), "data": data, "run_dir": ""} for r in recipes]
    results = []
    for i, member_cfg in enumerate(member_cfgs):
        member_cfg["export"] = {**member_cfg["export"], "keras": True}
        result = train(member_cfg, run_dir=os.path.join(run_dir, "members", str(i)), overwrite=True,
                       verbose=2 if verbose >= 2 else 0)
        if verbose:
            print(f"member {i} (seed {member_cfg['seed']}): test accuracy {result.metrics.get('accuracy', float('nan')):.4f}",
                  flush=True)
        results.append(result)
    first = results[0]
    splits_used = {r.recipe["tokenize"]["split"] for r in results}
    if any(r.labels != first.labels or r.task != first.task for r in results) or len(splits_used) > 1:
        raise ValueError("ensemble members must share labels, task and tokenize.split; got "
                         + "; ".join(f"{r.run_dir}: {r.labels} {r.task} {r.recipe['tokenize']['split']}" for r in results))
    labels, task, split = first.labels, first.task, first.recipe["tokenize"]["split"]

    texts = keras.Input(shape=(), dtype="string", name="texts")
    outputs = []
    for i, r in enumerate(results):
        r.model.name = f"member_{i}"  # layer names must be unique inside the ensemble
        outputs.append(r.model(texts))
    model = keras.Model(texts, EnsembleCombine(method, task, name="combine")(outputs), name="ensemble")


    data_cfg = {**cfg, "data": data}
    splits = task_for(data_cfg, records=True).read(data_cfg)
    test_texts = [r.text for r in splits.test]
    targets = encode_labels([r.label for r in splits.test], labels, task)
    raw = model.predict(np.array(presegment(test_texts, split), dtype=object), verbose=0, batch_size=256)
    report = evaluate_predictions(targets, probabilities_per_label(raw, task), labels, task)

    meta = {"labels": labels, "task": task, "split": split, "lowercase": first.recipe["tokenize"]["lowercase"],
            "max_length": first.recipe["tokenize"]["max_length"], "recipe": cfg["name"], "ensemble": method,
            "members": [os.path.join("members", str(i)) for i in range(len(results))]}
    with open(os.path.join(run_dir, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
    model.save(os.path.join(run_dir, "model.keras"))
    export_path = os.path.join(run_dir, "saved_model")
    export_saved_model(model, export_path, labels=labels, task=task, meta=meta)
    export_check = check_export(model, export_path, test_texts, task, split)
    write_model_card(run_dir, cfg, meta, {"test": report}, {"saved_model": export_check, "model.keras": {}})
    members = [{"run_dir": r.run_dir, "seed": r.recipe["seed"], "test": r.metrics, "params": int(r.model.count_params()),
                "saved_model_bytes": _folder_bytes(os.path.join(r.run_dir, "saved_model"))
                if os.path.isdir(os.path.join(r.run_dir, "saved_model")) else None} for r in results]
    summary = {"method": method, "test": report, "members": members, "params": int(model.count_params()),
               "saved_model_bytes": _folder_bytes(export_path), "export_check": export_check,
               "train_seconds": round(time.time() - started, 1)}
    with open(os.path.join(run_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    if verbose:
        print(format_metrics(report, f"ensemble ({method} of {len(results)})"))
        accs = [m["test"].get("accuracy", float("nan")) for m in members]
        print(f"members' test accuracy: {', '.join(f'{a:.4f}' for a in accs)}; ensemble {report['accuracy']:.4f}; "
              f"exported {export_path}", flush=True)
    return {"run_dir": run_dir, "metrics": report, "members": members, "model": model, "labels": labels, "task": task}


@keras.saving.register_keras_serializable(package="textrecipes")
class DistillationLoss(keras.losses.Loss):
    """Hard-label cross-entropy plus temperature-softened cross-entropy against a teacher.

    ``y_true`` holds the hard targets and the teacher's softened probabilities
    side by side (`distillation_targets`); ``y_pred`` is the student's
    probabilities. The soft term compares the teacher with the student's
    probabilities softened by the same temperature and is scaled by T² (Hinton
    et al., 2015) so its gradients keep their size as T changes.

    Args:
        task: "binary", "multiclass" or "multilabel". Default "binary".
        temperature: the softening temperature T (> 0). Default 2.0.
        alpha: weight of the hard-label term; ``1 - alpha`` weighs the soft
            term. Default 0.5.
        **kwargs: for `keras.losses.Loss` (``name``, ``reduction``).

    Example:
        >>> loss = DistillationLoss("binary", temperature=2.0, alpha=0.5)
        >>> y_true = np.array([[1.0, 0.8]], "float32")   # hard 1, teacher's softened 0.8
        >>> round(float(loss(y_true, np.array([[0.9]], "float32"))), 3) > 0
        True
    """

    def __init__(self, task: str = "binary", temperature: float = 2.0, alpha: float = 0.5, name="distillation", **kwargs):
        super().__init__(name=name, **kwargs)
        if temperature <= 0 or not 0 <= alpha <= 1:
            raise ValueError(f"temperature must be > 0 and alpha in [0, 1], got {temperature}, {alpha}")
        self.task, self.temperature, self.alpha = task, float(temperature), float(alpha)

    def call(self, y_true, y_pred):
        eps = 1e-7
        y_true = ops.cast(y_true, "float32")
        p = ops.clip(ops.cast(y_pred, "float32"), eps, 1 - eps)
        width = ops.shape(p)[-1]
        hard, soft = y_true[..., :width], y_true[..., width:]
        t = self.temperature
        if self.task == "multiclass":
            hard_loss = -ops.sum(hard * ops.log(p), axis=-1)
            student = ops.softmax(ops.log(p) / t, axis=-1)
            soft_loss = -ops.sum(soft * ops.log(ops.clip(student, eps, 1.0)), axis=-1)
        else:
            hard_loss = ops.mean(ops.binary_crossentropy(hard, p), axis=-1)
            student = ops.sigmoid((ops.log(p) - ops.log(1 - p)) / t)
            soft_loss = ops.mean(ops.binary_crossentropy(soft, student), axis=-1)
        return self.alpha * hard_loss + (1 - self.alpha) * t * t * soft_loss

    def get_config(self):
        return {**super().get_config(), "task": self.task, "temperature": self.temperature, "alpha": self.alpha}


def soften(probabilities: np.ndarray, task: str, temperature: float) -> np.ndarray:
    """Probabilities (one column per label) → temperature-softened, in the model's output width.

    Args:
        probabilities: one column per label (binary: two columns).
        task: "binary", "multiclass" or "multilabel".
        temperature: T; 1 leaves them unchanged.

    Returns:
        Binary: ``(n, 1)`` softened positive probability; otherwise ``(n, labels)``.

    Example:
        >>> soften(np.array([[0.1, 0.9]]), "binary", 2.0).round(3).tolist()
        [[0.75]]
    """
    p = np.clip(np.asarray(probabilities, "float64"), 1e-7, 1 - 1e-7)
    if task == "multiclass":
        z = np.log(p) / temperature
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype("float32")
    if task == "binary":
        p = p[:, 1:2]
    return (1 / (1 + np.exp(-(np.log(p) - np.log(1 - p)) / temperature))).astype("float32")


def distillation_targets(targets: np.ndarray, teacher: np.ndarray, task: str, num_labels: int, temperature: float) -> np.ndarray:
    """Hard targets and the teacher's softened probabilities side by side, for `DistillationLoss`.

    Args:
        targets: encoded labels (`encode_labels`).
        teacher: the teacher's probabilities, one column per label.
        task: "binary", "multiclass" or "multilabel".
        num_labels: the number of labels.
        temperature: T.

    Returns:
        A float32 array ``(n, 2 × output width)``.

    Example:
        >>> distillation_targets(np.array([[1.0]]), np.array([[0.1, 0.9]]), "binary", 2, 2.0).round(3).tolist()
        [[1.0, 0.75]]
    """
    hard = np.asarray(targets, "float32")
    if task == "multiclass":
        hard = np.eye(num_labels, dtype="float32")[np.asarray(targets).reshape(-1).astype(int)]
    return np.concatenate([hard.reshape(len(hard), -1), soften(teacher, task, temperature)], axis=1)


#: The ``[model]`` keys the student takes from the teacher's recipe; the rest of its shape is fixed (see `student_recipe`).
STUDENT_FROM_RECIPE = ("pooling", "dropout", "embedding_dropout", "token_dropout")


def student_recipe(cfg: dict, labels, task: str, *, units: int, embedding_dim: int) -> dict:
    """The recipe of the distilled student as it is built and trained, written to its run folder as ``recipe.toml``.

    The student is an LSTM of one direction without the n-gram branch; every
    other builder argument is the builder's default, written out so that the
    recipe rebuilds this model whatever the schema's defaults become. Its data
    and tokenizer are the teacher recipe's, its rate is held constant and early
    stopping watches the validation loss, as `distill` trains it. With this
    recipe and ``vocabulary.json`` the folder is a run folder: `finetune` and
    `textrecipes.workflows.prune.prune_run` take it.

    Args:
        cfg: the resolved recipe `distill` trains with.
        labels: the teacher's labels.
        task: "binary", "multiclass" or "multilabel".
        units: the student's LSTM units.
        embedding_dim: the student's embedding size.

    Returns:
        A resolved recipe.

    Example:
        >>> cfg = load_recipe({"data": {"train": "data/samples/label_text.tsv"}})
        >>> student = student_recipe(cfg, ["neg", "pos"], "binary", units=8, embedding_dim=8)
        >>> student["model"]["name"], student["model"]["bidirectional"], student["model"]["ngram_buckets"]
        ('lstm', False, 0)
    """
    defaults = {k: p.default for k, p in inspect.signature(build_lstm_classifier).parameters.items()
                if k in cfg["model"] and p.default is not inspect.Parameter.empty}
    model = {**defaults, **{k: cfg["model"][k] for k in STUDENT_FROM_RECIPE}, "name": "lstm", "task": task,
             "units": int(units), "embedding_dim": int(embedding_dim), "bidirectional": False, "ngram_buckets": 0}
    stop = cfg["callbacks"]["early_stopping"]
    return load_recipe({
        "name": f"{cfg['name']}-distilled", "seed": cfg["seed"],
        "data": {**cfg["data"], "labels": list(labels)}, "tokenize": dict(cfg["tokenize"]), "model": model,
        "train": {"epochs": cfg["train"]["epochs"], "batch_size": cfg["train"]["batch_size"],
                  "bucket": cfg["train"]["bucket"]},
        "optimizer": copy.deepcopy(cfg["optimizer"]),
        "schedule": {"name": "constant", "learning_rate": cfg["schedule"]["learning_rate"], "warmup_epochs": 0},
        # The other callbacks did not run for the student; kept as they were for the runs that start from it.
        "callbacks": {**copy.deepcopy(cfg["callbacks"]),
                      "early_stopping": {**stop, "monitor": "val_loss", "restore_best_weights": True,
                                         "start_from_epoch": 0, "min_delta": 0.0, "mode": "auto"}},
    })


def _fit_student(cfg, texts, targets, teacher, labels, task, *, temperature, alpha, verbose):
    """Trains the student of ``cfg`` (`student_recipe`) with `DistillationLoss` (alpha=1: the hard labels only)."""

    tok = cfg["tokenize"]
    seed = cfg["seed"]
    keras.utils.set_random_seed(seed)
    vocab = Vocabulary.build(tokenize(texts["train"], split="word" if tok["split"] == "jieba" else tok["split"],
                                      lowercase=tok["lowercase"]), max_tokens=tok["max_tokens"], min_freq=tok["min_freq"])
    vectorizer = TextVectorizer(vocab.tokens, split=tok["split"], lowercase=tok["lowercase"], max_length=tok["max_length"],
                                name="vectorizer")
    packed = {name: distillation_targets(targets[name], teacher[name], task, len(labels), temperature)
              for name in ("train", "validation")}
    batch = cfg["train"]["batch_size"]
    train_ds = make_dataset(texts["train"], packed["train"], vectorizer, batch_size=batch, shuffle=True, seed=seed,
                            bucket=cfg["train"]["bucket"])
    val_ds = make_dataset(texts["validation"], packed["validation"], vectorizer, batch_size=max(batch, 256))
    model = build_lstm_classifier(len(vocab), len(labels), task=task, seed=seed, name="student",
                                  **builder_options("lstm", cfg["model"]))
    model.compile(optimizer=build_optimizer(cfg["optimizer"], cfg["schedule"]["learning_rate"]),
                  loss=DistillationLoss(task, temperature, alpha))
    stop_cfg = cfg["callbacks"]["early_stopping"]
    stop = keras.callbacks.EarlyStopping(monitor=stop_cfg["monitor"],
                                         patience=stop_cfg["patience"] if stop_cfg["enabled"] else 10**6,
                                         restore_best_weights=True)
    history = model.fit(train_ds, validation_data=val_ds, epochs=cfg["train"]["epochs"], callbacks=[stop],
                        shuffle=False, verbose={0: 0, 1: 2}.get(verbose, 1))
    return vocab, vectorizer, model, {k: [float(x) for x in v] for k, v in history.history.items()}


def distill(ensemble_dir: str, recipe=None, *, temperature: float = 2.0, alpha: float = 0.5, units: int | None = None,
            embedding_dim: int | None = None, overrides=None, run_dir: str | None = None, overwrite: bool = False,
            verbose: int = 1) -> dict:
    """Distills an ensemble into one small unidirectional LSTM; reports accuracy kept and size saved.

    The student (no n-gram branch, one direction, a quarter of the members'
    units and embedding size unless given) learns from the ensemble's
    probabilities on the training split, softened by ``temperature``, plus the
    hard labels (`DistillationLoss`). The same student trained on the hard
    labels only is the reference for what distillation adds.

    Args:
        ensemble_dir: a folder written by `train_ensemble`.
        recipe: the recipe for the student's training: ``train.epochs`` (with
            early stopping on the validation loss, best weights restored),
            ``train.batch_size``, ``[optimizer]``, ``schedule.learning_rate``
            (used as a constant rate), ``[tokenize]``, ``seed``. Default: the
            ensemble's ``recipe.toml``.
        temperature: T of the soft targets. Default 2.0.
        alpha: weight of the hard labels (1: no distillation). Default 0.5.
        units: the student's LSTM units. Default: a quarter of the members' (at least 8).
        embedding_dim: the student's embedding size. Default: a quarter of the members' (at least 8).
        overrides: ``["section.key=value", ...]`` for the recipe.
        run_dir: the student's folder. Default ``ENSEMBLE_DIR/distilled``.
        overwrite: replace a finished student there. Default False.
        verbose: 0 silent, 1 the comparison (default), 2 also the training log.

    Returns:
        The summary written to ``metrics.json``: ``test`` (the student's
        report), ``accuracy`` (student, ensemble, no_distillation),
        ``accuracy_kept`` (student / ensemble), ``params`` and
        ``saved_model_bytes`` (student, ensemble) and ``size_saved``. The
        student's folder is a run folder: ``recipe.toml`` (`student_recipe`),
        ``vocabulary.json``, ``labels.json``, ``model.keras``, ``saved_model/``,
        the model card and ``metrics.json``.

    Example:
        >>> out = distill("runs/rt-ensemble")  # doctest: +SKIP
        >>> out["accuracy_kept"] > 0.95, out["size_saved"]["params"] > 0.9  # doctest: +SKIP
        (True, True)
    """
    started = time.time()
    ens_metrics_path = os.path.join(ensemble_dir, "metrics.json")
    if not os.path.exists(ens_metrics_path) or not os.path.isdir(os.path.join(ensemble_dir, "saved_model")):
        raise RunFolderError(f"{ensemble_dir}: not a finished ensemble (metrics.json and saved_model/ expected)")
    ens = read_json(ens_metrics_path)
    cfg = load_recipe(recipe or os.path.join(ensemble_dir, "recipe.toml"), overrides)
    run_dir = run_dir or os.path.join(ensemble_dir, "distilled")
    _prepare(run_dir, overwrite)
    teacher_model = Predictor(ensemble_dir)
    labels, task = teacher_model.labels, teacher_model.task
    labelled = {**cfg, "data": {**cfg["data"], "labels": labels}}
    splits = task_for(labelled, records=True).read(labelled)
    split = cfg["tokenize"]["split"]
    raw = {name: [r.text for r in getattr(splits, name)] for name in ("train", "validation", "test")}
    texts = {name: presegment(raw[name], split) for name in raw}
    targets = {name: encode_labels([r.label for r in getattr(splits, name)], labels, task) for name in raw}
    teacher = {name: teacher_model.predict_proba(raw[name]) for name in raw}
    units = units or max(8, cfg["model"]["units"] // 4)
    embedding_dim = embedding_dim or max(8, cfg["model"]["embedding_dim"] // 4)
    student_cfg = student_recipe(cfg, labels, task, units=units, embedding_dim=embedding_dim)
    reports, models = {}, {}
    for kind, a in (("student", alpha), ("no_distillation", 1.0)):
        vocab, vectorizer, model, history = _fit_student(student_cfg, texts, targets, teacher, labels, task,
                                                         temperature=temperature, alpha=a,
                                                         verbose=1 if verbose >= 2 else 0)
        e2e = end_to_end_model(vectorizer, model)
        probs = probabilities_per_label(e2e.predict(np.array(texts["test"], dtype=object), verbose=0, batch_size=256), task)
        reports[kind] = evaluate_predictions(targets["test"], probs, labels, task)
        models[kind] = (e2e, model, history, vocab)
    e2e, student, history, vocab = models["student"]
    meta = {"labels": labels, "task": task, "split": split, "lowercase": cfg["tokenize"]["lowercase"],
            "max_length": cfg["tokenize"]["max_length"], "recipe": student_cfg["name"],
            "distilled_from": os.path.abspath(ensemble_dir)}
    write_run_files(run_dir, student_cfg, meta, vocab)  # labels.json, vocabulary.json, recipe.toml: a run folder
    export_check = _export_student(run_dir, student_cfg, e2e, meta, raw["test"], reports["student"], history)
    summary = _distill_summary(ens, reports, student, os.path.join(run_dir, "saved_model"))
    summary.update({
        "student": {"units": units, "embedding_dim": embedding_dim, "bidirectional": False, "ngram_buckets": 0},
        "temperature": temperature, "alpha": alpha, "epochs_run": len(history.get("loss", [])),
        "export_check": export_check, "train_seconds": round(time.time() - started, 1)})
    write_json(os.path.join(run_dir, "metrics.json"), summary)
    if verbose:
        acc, params, sizes = summary["accuracy"], summary["params"], summary["saved_model_bytes"]
        print(f"test accuracy: ensemble {acc['ensemble']:.4f}, distilled student {acc['student']:.4f} "
              f"({summary['accuracy_kept']:.1%} kept), same student without distillation {acc['no_distillation']:.4f}")
        print(f"size: {params['student']:,} vs {params['ensemble']:,} parameters ({summary['size_saved']['params']:.1%} saved); "
              f"SavedModel {sizes['student']:,} vs {sizes['ensemble']:,} bytes "
              f"({summary['size_saved']['saved_model_bytes']:.1%} saved); {run_dir}", flush=True)
    return summary


def _export_student(run_dir, cfg, e2e, meta, test_texts, report, history) -> dict:
    """model.keras, the SavedModel (checked), the model card and the learning curves of the student."""
    save_keras(e2e, os.path.join(run_dir, "model.keras"))
    export_path = os.path.join(run_dir, "saved_model")
    export_saved_model(e2e, export_path, labels=meta["labels"], task=meta["task"], meta=meta, overwrite=True)
    export_check = check_export(e2e, export_path, test_texts, meta["task"], meta["split"])
    write_model_card(run_dir, cfg, meta, {"test": report}, {"saved_model": export_check, "model.keras": {}})
    plot_learning_curves(history, os.path.join(run_dir, "learning_curves.png"))
    return export_check


def _distill_summary(ens: dict, reports: dict, student, export_path: str) -> dict:
    """Accuracy kept and size saved: the student against the ensemble and against itself without distillation."""
    ens_acc = ens["test"]["accuracy"]
    params = {"student": int(student.count_params()), "ensemble": int(ens["params"])}
    sizes = {"student": _folder_bytes(export_path), "ensemble": int(ens["saved_model_bytes"])}
    return {
        "test": reports["student"], "no_distillation_test": reports["no_distillation"],
        "accuracy": {"student": reports["student"]["accuracy"], "ensemble": ens_acc,
                     "no_distillation": reports["no_distillation"]["accuracy"],
                     "members": [m["test"]["accuracy"] for m in ens["members"]]},
        "accuracy_kept": reports["student"]["accuracy"] / ens_acc if ens_acc else None,
        "params": params, "saved_model_bytes": sizes,
        "size_saved": {"params": 1 - params["student"] / params["ensemble"],
                       "saved_model_bytes": 1 - sizes["student"] / sizes["ensemble"]},
    }
