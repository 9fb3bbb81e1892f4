"""The wheel carries what a user needs outside the repository (issue 15, finding 6)."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed (without dependencies: they are this venv's) into a folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the files git knows (as a clean clone has them): no build/ left in the checkout,
    # and nothing stale from an earlier build in the wheel.
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split("\0")
    source = tmp / "source"
    for name in filter(None, listed):
        if os.path.isfile(os.path.join(ROOT, name)):
            os.makedirs(source / os.path.dirname(name), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source),
                            "-w", str(tmp / "dist")], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp / "dist").iterdir()
    target = tmp / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return wheel, target


def _run(target, cwd, *args):
    env = {**os.environ, "PYTHONPATH": str(target), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_holds_recipes_samples_license_and_py_typed(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("textrecipes/_shipped/recipes/sentiment_lstm.toml", "textrecipes/_shipped/samples/label_text.tsv",
                 "textrecipes/py.typed"):
        assert name in names, name
    assert any(n.endswith("dist-info/LICENSE") or n.endswith("licenses/LICENSE") for n in names)
    assert not any("keras-tuner" in line or "keras_tuner" in line
                   for line in zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
                   .splitlines() if line.startswith("Requires-Dist") and "extra ==" not in line)


def test_installed_wheel_trains_and_predicts_outside_the_repository(installed, tmp_path):
    _, target = installed
    code = ("import json, textrecipes\n"
            "from textrecipes import resources\n"
            "assert resources.folder('recipes').startswith(textrecipes.__path__[0]), resources.folder('recipes')\n"
            "sample = resources.path('samples', 'label_text.tsv')\n"
            "r = textrecipes.train({'data': {'train': sample}, 'model': {'embedding_dim': 8, 'units': 8, 'ngram_buckets': 0},"
            " 'train': {'epochs': 1, 'batch_size': 8}}, run_dir='run', verbose=0)\n"
            "print(json.dumps(textrecipes.__file__))\n")
    out = _run(target, tmp_path, "-c", code)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1].strip('"').startswith(str(target))  # the installed copy, not the repo
    predicted = _run(target, tmp_path, "-m", "textrecipes.cli", "predict", "run", "--text", "a fine film")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert len(predicted.stdout.strip().splitlines()) == 1
    assert _run(target, tmp_path, "-m", "textrecipes.cli", "--version").stdout.strip().endswith("0.1.0")


def test_installed_wheel_inits_a_users_file_and_trains_its_recipe(installed, tmp_path):
    """`textrecipes init` on a new TSV (header, text<TAB>label) outside the repository, then `train` on what it wrote."""
    _, target = installed
    (tmp_path / "data").mkdir()
    words = {"pos": ["warm", "funny", "moving", "sharp"], "neg": ["dull", "flat", "tired", "slow"]}
    rows = [f"a {words[label][i % 4]} and {words[label][(i // 4) % 4]} film, number {i}\t{label}"
            for i, label in enumerate(["pos", "neg"] * 30)]
    (tmp_path / "data" / "mine.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = _run(target, tmp_path, "-m", "textrecipes.cli", "init", os.path.join("data", "mine.tsv"), "--out", "mine.toml")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "wrote mine.toml" in out.stdout and "columns: text<TAB>label" in out.stdout
    recipe = (tmp_path / "mine.toml").read_text(encoding="utf-8")
    assert "text_first = true  #" in recipe and "header = true  #" in recipe
    # Trained from another folder: the recipe's data path resolves against the recipe's folder, not the current one.
    (tmp_path / "elsewhere").mkdir()
    trained = _run(target, tmp_path / "elsewhere", "-m", "textrecipes.cli", "train", os.path.join("..", "mine.toml"),
                   "--run-dir", "run", "--quiet", "--set", "train.epochs=1", "--set", "model.embedding_dim=8",
                   "--set", "model.units=8", "--set", "model.ngram_buckets=0", "--set", "export.saved_model=false",
                   "--set", "evaluate.baseline=false")
    assert trained.returncode == 0, trained.stderr[-3000:]
    with open(tmp_path / "elsewhere" / "run" / "labels.json", encoding="utf-8") as f:
        assert json.load(f)["labels"] == ["neg", "pos"]  # the header line is no class "label", no example
    assert (tmp_path / "elsewhere" / "run" / "model.keras").is_file()
