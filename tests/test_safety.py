"""Safe loading of run folders, no pickle, and seeded determinism.

A damaged run folder (missing or tampered labels.json, truncated model.keras,
missing SavedModel files) must give `RunFolderError` naming the file, never a
traceback from deep inside TensorFlow; `.keras` files load with
``safe_mode=True`` so a Lambda layer (arbitrary code) is refused.
"""

import json
import os
import re
import shutil

import pytest

from conftest import ROOT, SAMPLES
from textrecipes.export.metadata import RunFolderError
from textrecipes.export.predictors import Predictor
from textrecipes.workflows.train import train

TINY = {"model": {"embedding_dim": 8, "units": 8}, "train": {"epochs": 1}}


def _data(tmp) -> str:
    rows = open(os.path.join(SAMPLES, "label_text.tsv"), encoding="utf-8").read() * 10  # 60 lines
    path = os.path.join(tmp, "train.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(rows)
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("safety"))
    result = train({"data": {"train": _data(tmp)}, **TINY}, run_dir=os.path.join(tmp, "run"), verbose=0)
    return result.run_dir


@pytest.fixture
def copy(run_dir, tmp_path):
    """A fresh copy of the run folder to damage."""
    dst = str(tmp_path / "run")
    shutil.copytree(run_dir, dst)
    return dst


def test_the_intact_run_folder_loads_both_ways(run_dir):
    texts = ["a warm and funny film", "dull"]
    from_saved = Predictor(run_dir).predict_proba(texts)
    from_keras = Predictor(os.path.join(run_dir, "model.keras")).predict_proba(texts)
    assert from_saved.shape == (2, 2) and abs(from_saved - from_keras).max() < 1e-5


def _edit_labels(folder, value):
    with open(os.path.join(folder, "labels.json"), "w", encoding="utf-8") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))


@pytest.mark.parametrize("target", ["run", "keras"])
@pytest.mark.parametrize("damage,message", [
    (None, r"labels\.json is missing"),
    ("{not json", r"labels\.json: not valid JSON"),
    ("[1, 2]", r"labels\.json: expected a JSON object"),
    ({"labels": "neg", "task": "binary", "split": "word"}, r"'labels' must be a list of distinct non-empty strings"),
    ({"labels": ["neg", 1], "task": "binary", "split": "word"}, r"'labels' must be a list"),
    ({"labels": ["neg", "pos"], "task": 3, "split": "word"}, r"'task' must be one of"),
    ({"labels": ["neg", "pos"], "task": "binary", "split": "bpe"}, r"'split' must be one of"),
    ({"labels": ["neg", "pos"], "task": "binary"}, r"metadata lacks 'split'"),
    ({"labels": ["neg", "pos", "meh"], "task": "binary", "split": "word"}, r"binary model needs 2 labels"),
    ({"labels": ["neg", "pos", "meh"], "task": "multiclass", "split": "word"}, r"3 labels but the model has 1 output|labels\.json lists \['neg', 'pos', 'meh'\]"),
    ({"labels": ["pos", "neg"], "task": "binary", "split": "word"}, r"labels\.json lists \['pos', 'neg'\]"),
])
def test_missing_or_tampered_labels_json_is_a_clear_error(copy, target, damage, message):
    if damage is None:
        os.remove(os.path.join(copy, "labels.json"))
    else:
        _edit_labels(copy, damage)
    if target == "keras" and isinstance(damage, dict) and damage["labels"] == ["pos", "neg"]:
        pytest.skip("a bare model.keras has nothing to compare labels.json with")
    path = copy if target == "run" else os.path.join(copy, "model.keras")
    with pytest.raises(RunFolderError, match=message):
        Predictor(path)


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_model_keras_is_a_clear_error(copy, keep):
    path = os.path.join(copy, "model.keras")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(RunFolderError, match=re.escape(path) + ": the model could not be loaded"):
        Predictor(path)
    shutil.rmtree(os.path.join(copy, "saved_model"))
    with pytest.raises(RunFolderError, match="the model could not be loaded"):
        Predictor(copy)  # the run folder falls back to model.keras, which is broken


@pytest.mark.parametrize("remove,message", [
    ("saved_model.pb", "saved_model.pb is missing"),
    ("variables", "the SavedModel could not be loaded"),
    ("variables/variables.index", "the SavedModel could not be loaded"),
    ("assets.extra/textrecipes.json", r"textrecipes\.json is missing"),
])
def test_missing_saved_model_files_are_a_clear_error(copy, remove, message):
    target = os.path.join(copy, "saved_model", remove)
    shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
    with pytest.raises(RunFolderError, match=message):
        Predictor(copy)


def test_no_such_path_and_not_a_run_folder(tmp_path):
    with pytest.raises(RunFolderError, match="no such run folder"):
        Predictor(str(tmp_path / "nope"))
    with pytest.raises(RunFolderError, match="neither saved_model/ nor model.keras"):
        Predictor(str(tmp_path))


def test_keras_file_with_a_lambda_layer_is_refused(run_dir, tmp_path):
    import keras

    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)  # arbitrary Python code in the file
    folder = tmp_path / "evil"
    folder.mkdir()
    keras.Model(inputs, outputs).save(str(folder / "model.keras"))
    shutil.copy(os.path.join(run_dir, "labels.json"), folder / "labels.json")
    with pytest.raises(RunFolderError, match=r"could not be loaded .*safe_mode"):
        Predictor(str(folder / "model.keras"))
    with pytest.raises(RunFolderError, match=r"safe_mode"):
        Predictor(str(folder))


def test_no_module_imports_pickle():
    """No pickle loader anywhere in the package: neither the pickle modules nor joblib's ``load``.

    joblib's ``Parallel`` is allowed by name (``from joblib import Parallel, ...``): it
    pickles between the package's own worker processes (auto's lbfgs fits) and never
    reads a file it did not write in that call.
    """
    package = os.path.join(ROOT, "textrecipes")
    pattern = re.compile(r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|shelve)\b|__import__\(['\"]pickle|"
                         r"import_module\(['\"]pickle|^\s*import\s+joblib\b|\bjoblib\.(load|numpy_pickle)\b|"
                         r"^\s*from\s+joblib(\.\S+)?\s+import\s[^\n]*\b(load|numpy_pickle)\b", re.M)
    offenders = []
    for dirpath, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                if pattern.search(open(path, encoding="utf-8").read()):
                    offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []


def test_predict_rejects_text_that_is_not_unicode(run_dir):
    with pytest.raises(ValueError, match="not valid Unicode"):
        Predictor(run_dir).predict(["fine", "bad \ud800"])


def test_seed_changes_the_run_and_the_same_seed_repeats_it(tmp_path):
    data = _data(str(tmp_path))
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        result = train({"seed": seed, "data": {"train": data}, **TINY}, run_dir=str(tmp_path / name), verbose=0)
        runs[name] = (result.history, result.metrics.get("accuracy"), result.validation_metrics.get("accuracy"))
    assert runs["a"] == runs["b"]
    assert runs["a"][0]["loss"] != runs["c"][0]["loss"]
