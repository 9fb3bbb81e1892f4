"""How the classification task trains ``model.name = "auto"`` (`textrecipes.models.auto`): members, then the weight.

* `fit_linear_member` (from ``Task.adapt``, before the harness's fit): the
  linear member's idf, then its own ``fit`` with `LINEAR_FIT` (the linear
  recipe of ``benchmarks/bench_linear.py``), then it is frozen; the harness then
  trains the LSTM member alone (the blend's weight is 1 while it trains);
* `choose_weight` (from ``Task.after_fit``): each weight of
  `textrecipes.models.auto.WEIGHTS` scored on the validation split, the best
  (accuracy + macro-F1, then the lower log loss) set in the model;
* `member_reports`: the members' own scores on each evaluated split, for the
  log, ``metrics.json`` and the model card;
* `lstm_alone`: where the blend cannot go (a streamed training split, pruning,
  multi-worker training),
  ``auto`` trains its LSTM member alone, and the run says so.
"""

from __future__ import annotations

import logging
import time
from typing import Mapping

import keras
import numpy as np

from textrecipes.evaluation.metrics import evaluate_predictions, probabilities_per_label
from textrecipes.models.auto import BLEND, LINEAR_MEMBER, LSTM_MEMBER, WEIGHTS
from textrecipes.models.linear import adapt_model
from textrecipes.text.pipeline import make_dataset

log = logging.getLogger("textrecipes")

#: How `choose_weight` ranks the weights (the log line, metrics.json and the model card say it).
CHOSEN_BY = "validation accuracy + macro-F1 (ties: the lower log loss)"

#: The linear member's training: bench_linear.RECIPE's optimizer, rate, batch, epochs and early stopping.
LINEAR_FIT = {"learning_rate": 4.0, "momentum": 0.9, "batch_size": 256, "epochs": 80, "patience": 10}


def lstm_alone(cfg, reasons) -> str | None:
    """``model.name = "auto"`` where the blend cannot go: trains its LSTM member alone (``cfg`` is changed).

    The linear member needs the whole training split in memory (its idf and its own
    fit), and pruning and compaction work on one model's layers; the LSTM member is
    the default recipe itself, so the run goes on as ``lstm`` and its recipe.toml
    and metrics.json say so.

    Args:
        cfg: the loaded recipe; ``cfg["model"]["name"]`` becomes "lstm" when a reason holds.
        reasons: ``(recipe key, whether it holds, what needs one model)`` triples.

    Returns:
        The sentence logged and recorded (None when the model is not ``auto`` or no reason holds).

    Example:
        >>> cfg = {"model": {"name": "auto"}}
        >>> lstm_alone(cfg, [("prune.enabled", True, "pruning")]), cfg["model"]["name"]
        ("model.name 'auto' trains its LSTM member alone: prune.enabled (pruning) needs one model", 'lstm')
    """
    keys = [f"{key} ({what})" for key, holds, what in reasons if holds]
    if cfg["model"]["name"] != "auto" or not keys:
        return None
    cfg["model"]["name"] = "lstm"
    why = f"model.name 'auto' trains its LSTM member alone: {', '.join(keys)} needs one model"
    log.info(why)
    return why


def _ids(task, split: str, *, shuffle: bool = False, batch_size: int = 256):
    """The split's unaugmented ``(ids, targets)`` batches."""
    return make_dataset(task.texts[split], task.targets[split], task.vectorizer, batch_size=batch_size,
                        shuffle=shuffle, seed=task.seed)


def fit_linear_member(model: keras.Model, task, fit=None) -> dict:
    """Fits the linear member's idf on the training split, trains it with ``fit`` settings, then freezes it.

    Args:
        model: the `blended_classifier` (compiled or not; only its linear member is touched).
        task: the classification task (its texts, targets, vectorizer, kind, seed, class weights).
        fit: the training settings, keys as `LINEAR_FIT`. Default None (`LINEAR_FIT`).

    Returns:
        ``{"epochs", "best_epoch", "val_accuracy", "seconds"}`` of that fit (``val_accuracy`` None without a
        validation split; ``seconds`` with the idf).
    """
    fit = {**LINEAR_FIT, **(fit or {})}
    started = time.perf_counter()
    linear = model.get_layer(LINEAR_MEMBER)
    adapt_model(linear, _ids(task, "train"))
    has_validation = len(task.texts["validation"]) > 0
    monitor = "val_accuracy" if has_validation else "accuracy"
    linear.trainable = True
    linear.compile(optimizer=keras.optimizers.SGD(fit["learning_rate"], momentum=fit["momentum"]),
                   **task.compile_options())
    stop = keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=fit["patience"],
                                         restore_best_weights=True)
    history = linear.fit(_ids(task, "train", shuffle=True, batch_size=fit["batch_size"]), epochs=fit["epochs"],
                         validation_data=_ids(task, "validation") if has_validation else None,
                         callbacks=[stop], class_weight=task.class_weight, shuffle=False, verbose=0).history
    linear.trainable = False  # the harness's fit trains the LSTM member only
    scores = history[monitor]
    record = {"epochs": len(scores), "best_epoch": int(np.argmax(scores)) + 1,
              "val_accuracy": round(float(max(scores)), 4) if has_validation else None,
              "seconds": round(time.perf_counter() - started, 1)}  # what auto adds to the LSTM's training
    log.info(f"auto: linear member trained on {len(task.texts['train'])} texts: {record['epochs']} epochs "
             f"(best {record['best_epoch']}), {monitor} {max(scores):.4f}; now the LSTM member")
    return record


def _log_loss(targets: np.ndarray, probabilities: np.ndarray, kind: str) -> float:
    """Mean cross-entropy of the per-label probabilities (the tie-break between weights)."""
    p = np.clip(probabilities.astype("float64"), 1e-7, 1 - 1e-7)
    if kind == "multilabel":
        y = np.asarray(targets, "float64")
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    y = np.asarray(targets).reshape(-1).astype(int)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def _scores(task, split: str, probabilities: np.ndarray) -> dict:
    report = evaluate_predictions(task.targets[split], probabilities, task.labels, task.kind)
    return {"accuracy": round(float(report["accuracy"]), 4), "macro_f1": round(float(report["macro_f1"]), 4),
            "log_loss": round(_log_loss(task.targets[split], probabilities, task.kind), 4)}


def member_probabilities(model: keras.Model, data, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(lstm, linear)``: each member's per-label probabilities on ``data`` (``(ids, targets)`` batches)."""
    return tuple(probabilities_per_label(model.get_layer(name).predict(data, verbose=0), kind)
                 for name in (LSTM_MEMBER, LINEAR_MEMBER))


def choose_weight(model: keras.Model, task, weights=WEIGHTS) -> dict:
    """Scores ``w * p_lstm + (1 - w) * p_linear`` on the validation split for each ``w``; sets the best in the model.

    The best: the highest validation accuracy + macro-F1; among ties the lower log
    loss. Without a validation split the weight stays as it is. Accuracy alone
    let the linear member's weakness on small classes through (chinese_sources,
    seed 0: w 0.3, test macro-F1 0.8101 against the LSTM member's 0.8501; the sum
    picks w 1.0); log loss alone follows calibration, not errors (newsgroups5_small:
    it picks w 0.9, validation accuracy 0.940 against 0.970 at w 0.1).

    Args:
        model: the trained `blended_classifier`.
        task: the classification task.
        weights: the LSTM shares tried. Default `WEIGHTS` (0, 0.1, ..., 1).

    Returns:
        ``{"weight", "chosen_by", "grid": [{"weight", "accuracy", "macro_f1", "log_loss"}, ...]}``.
    """
    blend = model.get_layer(BLEND)
    if not len(task.texts["validation"]):
        log.info(f"auto: no validation split; the blend keeps weight {blend.value}")
        return {"weight": blend.value, "chosen_by": "no validation split", "grid": []}
    lstm, linear = member_probabilities(model, _ids(task, "validation"), task.kind)
    grid = [{"weight": w, **_scores(task, "validation", w * lstm + (1 - w) * linear)} for w in weights]
    best = max(grid, key=lambda row: (round(row["accuracy"] + row["macro_f1"], 4), -row["log_loss"]))
    blend.weight.assign(best["weight"])
    return {"weight": best["weight"], "chosen_by": CHOSEN_BY, "grid": grid}


def member_reports(model: keras.Model, task, eval_ds: Mapping, weights=WEIGHTS) -> dict:
    """The members' and the blend's scores on each evaluated split (``eval_ds``), and every weight's.

    Returns:
        ``{"lstm": {split: scores}, "linear": {...}, "auto": {...}, "grid_by_split": {split: [...]}}``:
        ``grid_by_split`` scores each weight of ``weights`` on each split, a record
        (the weight is chosen on validation only) from which another choosing rule
        can be judged without training again (``benchmarks/bench_auto.py``).
    """
    out = {"lstm": {}, "linear": {}, "auto": {}, "grid_by_split": {}}
    w = model.get_layer(BLEND).value
    for split, data in eval_ds.items():
        lstm, linear = member_probabilities(model, data, task.kind)
        for name, p in (("lstm", lstm), ("linear", linear), ("auto", w * lstm + (1 - w) * linear)):
            out[name][split] = _scores(task, split, p)
        out["grid_by_split"][split] = [{"weight": v, **_scores(task, split, v * lstm + (1 - v) * linear)}
                                       for v in weights]
    return out


def log_choice(record: Mapping) -> None:
    """One line: the weight and the validation scores of the members and the blend."""
    members = record.get("members", {})
    val = {name: members.get(name, {}).get("validation") for name in ("lstm", "linear", "auto")}
    if not all(val.values()):
        log.info(f"auto: weight {record['weight']} on the LSTM ({record['chosen_by']})")
        return
    log.info(f"auto: p = {record['weight']} * lstm + {round(1 - record['weight'], 1)} * linear, chosen on validation "
             f"(accuracy / macro-F1: lstm {val['lstm']['accuracy']:.4f} / {val['lstm']['macro_f1']:.4f}, "
             f"linear {val['linear']['accuracy']:.4f} / {val['linear']['macro_f1']:.4f}, "
             f"blend {val['auto']['accuracy']:.4f} / {val['auto']['macro_f1']:.4f})")
