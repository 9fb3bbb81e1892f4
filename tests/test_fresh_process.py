"""A run's exports load in a fresh Python process, and predictors take what users pass them (issue 15, 1-2)."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "textrecipes")


def run_python(code: str) -> dict:
    """Runs ``code`` in a new interpreter (nothing of this process registered there); its last line is JSON."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("imports", ["import textrecipes, keras", "import keras, textrecipes",
                                     "import textrecipes.data.readers, keras"])
def test_plain_keras_load_model_works_after_import_textrecipes(small_run, imports):
    path = os.path.join(small_run.run_dir, "model.keras")
    got = run_python(f"""
{imports}
import json, sys, numpy as np
model = keras.saving.load_model({path!r}, safe_mode=True)
print(json.dumps(np.asarray(model(np.array(["a great film", "dull and long"], dtype=object))).tolist()))
""")
    from textrecipes.export.predictors import Predictor

    want = Predictor(path)._keras_call(np.array(["a great film", "dull and long"], dtype=object))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)


def test_import_textrecipes_alone_starts_no_tensorflow():
    assert run_python("import sys, json, textrecipes\n"
                      "print(json.dumps(['keras' in sys.modules, 'tensorflow' in sys.modules]))") == [False, False]


@pytest.mark.parametrize("target", ["model.keras", "saved_model", ""])
def test_predictor_and_predict_command_in_a_fresh_process(small_run, target):
    path = os.path.join(small_run.run_dir, target) if target else small_run.run_dir
    got = run_python(f"""
import json
from textrecipes import Predictor
print(json.dumps(Predictor({path!r}).predict(["a great film", "dull and long"])))
""")
    from textrecipes.export.predictors import Predictor

    want = Predictor(path).predict(["a great film", "dull and long"])
    assert [label for label, _ in got] == [label for label, _ in want]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in want], atol=1e-6)
    out = subprocess.run([sys.executable, "-m", "textrecipes.cli", "predict", path, "--text", "a great film"],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stderr[-2000:]
    assert want[0][0] in out.stdout


def test_every_module_with_keras_objects_is_registered():
    from textrecipes.keras_objects import MODULES

    found = set()
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                if re.search(r"^@keras\.saving\.register_keras_serializable", open(path, encoding="utf-8").read(), re.M):
                    found.add(os.path.relpath(path, ROOT)[:-3].replace(os.sep, "."))
    assert found and found <= set(MODULES), sorted(found - set(MODULES))


def test_one_text_gives_one_result_not_one_per_character(small_run):
    from textrecipes.export.predictors import Predictor

    predictor = Predictor(small_run.run_dir)
    one = predictor.predict("A great film")
    assert isinstance(one, tuple) and one[0] in small_run.labels
    assert one == predictor.predict(["A great film"])[0]
    assert predictor.predict_proba("A great film").shape == (len(small_run.labels),)
    assert len(predictor.predict(("a", "b", "c"))) == 3
    assert len(predictor.predict(np.array(["a", "b"]))) == 2


def test_predictor_refuses_what_is_not_texts(small_run):
    pd = pytest.importorskip("pandas")
    from textrecipes.export.predictors import Predictor

    predictor = Predictor(small_run.run_dir)
    frame = pd.DataFrame({"text": ["a great film", "dull"], "label": ["fresh", "rotten"]})
    with pytest.raises(TypeError, match=r"DataFrame.*predict\(df\['text'\]\)"):
        predictor.predict(frame)
    assert len(predictor.predict(frame["text"])) == 2  # a column is a sequence of texts
    with pytest.raises(TypeError, match=r"texts\[1\]: expected a string, got float"):
        predictor.predict(["fine", float("nan")])
    with pytest.raises(TypeError, match="expected a string or a sequence"):
        predictor.predict(42)
    with pytest.raises(TypeError, match="shape"):
        predictor.predict(np.array([["a", "b"]]))


def test_predict_command_reads_lines_ending_at_newline_only(small_run, tmp_path):
    from textrecipes.cli import main

    texts = tmp_path / "texts.txt"
    texts.write_bytes("one\x0ctext with a form feed\r\nsecond\u2028still second\n\nthird".encode("utf-8"))
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["predict", small_run.run_dir, str(texts), "--with-text"]) == 0
    rows = out.getvalue().splitlines()
    assert [row.split("\t", 2)[2] for row in out.getvalue().split("\n") if row] == [
        "one\x0ctext with a form feed", "second\u2028still second", "", "third"], rows  # the blank line: an empty row
    assert main(["predict", small_run.run_dir, "a great film"]) == 2  # not a file: says to use --text
