"""Every export format (SavedModel, .keras, TFLite none/float16/int8) against the Keras model."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import SMALL_MODEL, rt_path, write_slice

TEXTS = ["a moving, beautifully acted film", "dull, lifeless and far too long", "", "zzzz qqqq",
         "the best comedy of the year", "an utter mess from start to finish", "it is a film", "Ça va, 北京 !"]
# float16 weights move probabilities by ~1e-5 here; dynamic-range int8 by up to ~1e-2 on a small
# model (int8 weight rounding is 1/254 of each row's range, compounded over 2 LSTM directions
# and the head). Labels must agree except on a near tie.
TOLERANCE = {"none": 1e-5, "float16": 1e-3, "int8": 0.05}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from textrecipes.workflows.train import train

    tmp = tmp_path_factory.mktemp("exports")
    recipe = {
        "name": "exports",
        "data": {"train": write_slice(rt_path("train"), str(tmp / "train.tsv"), 800),
                 "test": write_slice(rt_path("test"), str(tmp / "test.tsv"), 200)},
        "model": SMALL_MODEL,
        "train": {"epochs": 2, "batch_size": 32},
        "export": {"tflite": True, "tflite_quantize": "int8"},
    }
    from unittest import mock

    import textrecipes.run.artifacts

    card_writes = []
    write_json = textrecipes.run.artifacts.write_json

    def counting_write_json(path, *args, **kwargs):
        if os.path.basename(str(path)) == "model_card.json":
            card_writes.append(os.path.relpath(str(path), str(tmp / "run")))
        return write_json(path, *args, **kwargs)

    with mock.patch.object(textrecipes.run.artifacts, "write_json", counting_write_json):
        result = train(recipe, run_dir=str(tmp / "run"), verbose=0)
    result.card_writes = card_writes
    return result


def keras_probs(result):
    from textrecipes.evaluation.metrics import probabilities_per_label

    return probabilities_per_label(np.asarray(result.model.predict(np.array(TEXTS, dtype=object), verbose=0)),
                                   result.task)


def tflite_copy(result, tmp_path, quantize):
    """A folder holding a .tflite export with the run's model card and vocabulary beside it."""
    from textrecipes.export.tflite import export_tflite

    folder = tmp_path / quantize
    folder.mkdir()
    for name in ("model_card.json", "vocabulary.json"):
        shutil.copy(os.path.join(result.run_dir, name), folder / name)
    export_tflite(result.model, str(folder / "model.tflite"), quantize=quantize)
    return str(folder / "model.tflite")


def test_every_export_agrees_with_keras(run, tmp_path):
    from textrecipes.export.predictors import Predictor

    assert run.metrics["accuracy"] > 0.55  # learned something: chance is 0.5
    expected = keras_probs(run)
    paths = {"run folder": (run.run_dir, 1e-5), "saved_model": (os.path.join(run.run_dir, "saved_model"), 1e-5),
             "keras": (os.path.join(run.run_dir, "model.keras"), 1e-5),
             "tflite int8 (runner)": (os.path.join(run.run_dir, "model.tflite"), TOLERANCE["int8"])}
    for q in ("none", "float16"):
        paths[f"tflite {q}"] = (tflite_copy(run, tmp_path, q), TOLERANCE[q])
    paths["folder with only model.tflite"] = (os.path.dirname(paths["tflite float16"][0]), TOLERANCE["float16"])
    for name, (path, tol) in paths.items():
        got = Predictor(path).predict_proba(TEXTS)
        assert got.shape == expected.shape, name
        assert np.abs(got - expected).max() <= tol, (name, np.abs(got - expected).max())
        assert (got.argmax(1) == expected.argmax(1)).all(), name
    sizes = {q: os.path.getsize(paths[f"tflite {q}"][0]) for q in ("none", "float16")}
    sizes["int8"] = os.path.getsize(paths["tflite int8 (runner)"][0])
    assert sizes["int8"] < sizes["float16"] < sizes["none"]


def test_metrics_and_model_card(run):
    metrics = json.load(open(os.path.join(run.run_dir, "metrics.json")))
    check = metrics["tflite_check"]
    assert check["quantize"] == "int8" and check["bytes"] > 0 and check["max_abs_diff"] <= TOLERANCE["int8"]
    assert check["label_agreement"] > 0.97
    card = json.load(open(os.path.join(run.run_dir, "model_card.json")))
    copy = json.load(open(os.path.join(run.run_dir, "saved_model", "assets.extra", "model_card.json")))
    assert card == copy
    assert card["labels"] == run.labels and card["task"] == "binary"
    assert card["vocabulary_size"] == len(json.load(open(os.path.join(run.run_dir, "vocabulary.json")))["tokens"]) + 2
    assert card["tokenizer"] == {"split": "word", "lowercase": True, "max_length": 2048}
    assert card["recipe"]["export"]["tflite_quantize"] == "int8"
    assert card["metrics"]["test"]["accuracy"] == pytest.approx(run.metrics["accuracy"])
    train_file = card["data"][0]
    assert train_file["lines"] == 800 and len(train_file["sha256"]) == 64
    assert set(card["versions"]) == {"textrecipes", "tensorflow", "keras", "numpy", "python"}
    assert set(card["exports"]) == {"saved_model", "model.tflite", "model.keras"}


def test_model_card_is_written_once(run, tmp_path):
    """With export.tflite on, the runner once wrote a provisional card for its TFLite check, then the full one."""
    from textrecipes.export.saved_model import check_export

    assert sorted(run.card_writes) == ["model_card.json", os.path.join("saved_model", "assets.extra", "model_card.json")]
    # The TFLite check needs no card: it is given the labels and tokenizer settings.
    folder = tmp_path / "no_card"
    folder.mkdir()
    for name in ("model.tflite", "vocabulary.json"):
        shutil.copy(os.path.join(run.run_dir, name), folder / name)
    meta = json.load(open(os.path.join(run.run_dir, "labels.json")))
    check = check_export(run.model, str(folder / "model.tflite"), TEXTS, run.task, tolerance=TOLERANCE["int8"], meta=meta)
    assert check["texts"] == len(TEXTS) + 2 and check["max_abs_diff"] <= TOLERANCE["int8"]
    assert not (folder / "model_card.json").exists()


def test_serving_signature_has_strings_in_and_label_names_out(run):
    import tensorflow as tf

    path = os.path.join(run.run_dir, "saved_model")
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    if os.path.exists(cli):
        out = subprocess.run([cli, "show", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default"],
                             capture_output=True, text=True, timeout=120).stdout
        assert "inputs['texts'] tensor_info:" in out and "dtype: DT_STRING" in out
        for name in ("probabilities", "label", "score"):
            assert f"outputs['{name}']" in out
    serve = tf.saved_model.load(path).signatures["serving_default"]
    assert serve.structured_input_signature[1]["texts"].dtype == tf.string
    out = serve(texts=tf.constant(TEXTS[:2]))
    assert [x.decode() for x in out["label"].numpy()] == [run.labels[i] for i in keras_probs(run)[:2].argmax(1)]


def test_cli_predict_on_every_path(run, tmp_path, capsys):
    from textrecipes.cli import main

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS[:2]) + "\n", encoding="utf-8")
    expected = [run.labels[i] for i in keras_probs(run)[:2].argmax(1)]
    for path in (run.run_dir, os.path.join(run.run_dir, "saved_model"), os.path.join(run.run_dir, "model.keras"),
                 os.path.join(run.run_dir, "model.tflite")):
        assert main(["predict", path, str(texts)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split("\t")[0] for line in lines] == expected, path


def test_export_to_existing_path_is_refused(run, tmp_path):
    from textrecipes.export.saved_model import export_saved_model
    from textrecipes.export.tflite import export_tflite

    with pytest.raises(FileExistsError, match=r"model\.tflite already exists.*overwrite=True"):
        export_tflite(run.model, os.path.join(run.run_dir, "model.tflite"))
    with pytest.raises(FileExistsError, match=r"saved_model already exists.*overwrite=True"):
        export_saved_model(run.model, os.path.join(run.run_dir, "saved_model"), labels=run.labels, task="binary", meta={})


def test_corrupted_exports_give_clear_errors(run, tmp_path):
    from textrecipes.export.metadata import RunFolderError
    from textrecipes.export.predictors import Predictor

    broken = tmp_path / "broken"
    shutil.copytree(run.run_dir, broken, ignore=shutil.ignore_patterns("checkpoints", "backup", "*.png"))
    # A truncated .tflite.
    data = (broken / "model.tflite").read_bytes()
    for cut in (len(data) // 3, len(data) - 100, 6):  # verified before tf.lite.Interpreter, which can segfault on them
        (broken / "model.tflite").write_bytes(data[:cut])
        with pytest.raises(RunFolderError, match=r"model\.tflite: not a loadable TFLite model"):
            Predictor(str(broken / "model.tflite"))
    (broken / "model.tflite").write_bytes(data)
    # A .tflite without its vocabulary, or with a garbled card.
    os.rename(broken / "vocabulary.json", broken / "vocab.bak")
    with pytest.raises(RunFolderError, match=r"vocabulary\.json is missing"):
        Predictor(str(broken / "model.tflite"))
    os.rename(broken / "vocab.bak", broken / "vocabulary.json")
    card = (broken / "model_card.json").read_text()
    (broken / "model_card.json").write_text(card[:40])
    with pytest.raises(RunFolderError, match=r"model_card\.json: not valid JSON"):
        Predictor(str(broken / "model.tflite"))
    # Garbled labels.json in a run folder.
    (broken / "labels.json").write_text('{"labels": "fresh", "task": "binary", "split": "word"}')
    with pytest.raises(RunFolderError, match=r"labels\.json: 'labels' must be a list"):
        Predictor(str(broken))
    (broken / "labels.json").write_text(json.dumps({"labels": run.labels, "task": "binary", "split": "word"}))
    # The SavedModel's variables gone.
    shutil.rmtree(broken / "saved_model" / "variables")
    with pytest.raises(RunFolderError, match=r"saved_model: the SavedModel could not be loaded"):
        Predictor(str(broken))
