"""The command line: train, predict, data, and clear errors."""

import os
import subprocess
import sys

from conftest import ROOT, SAMPLES, rt_path, write_slice
from textrecipes.cli import main


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "textrecipes.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


def test_train_then_predict_from_stdin_and_file(tmp_path):
    train_file = write_slice(rt_path("train"), str(tmp_path / "train.tsv"), 1500)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "cli"\n[data]\ntrain = "{train_file}"\n[train]\nepochs = 1\n', encoding="utf-8")
    run_dir = tmp_path / "run"
    done = run_cli("train", str(recipe), "--run-dir", str(run_dir), "--set", "model.units=16",
                   "--set", "model.embedding_dim=16")
    assert done.returncode == 0, done.stderr
    assert "accuracy" in done.stdout and "exported" in done.stdout
    assert (run_dir / "saved_model" / "saved_model.pb").exists()

    out = run_cli("predict", str(run_dir / "saved_model"), stdin="a wonderful film\n\nawful\n")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3 and lines[1] == "\t"  # the blank line keeps its place: an empty prediction
    lines = [lines[0], lines[2]]
    assert all(l.split("\t")[0] in ("fresh", "rotten") for l in lines)
    assert 0.5 <= float(lines[0].split("\t")[1]) <= 1.0
    assert "1 blank input line(s) skipped" in out.stderr

    texts = tmp_path / "texts.txt"
    texts.write_text("great\n", encoding="utf-8")
    out = run_cli("predict", str(run_dir), str(texts), "--with-text")
    assert out.returncode == 0 and out.stdout.rstrip().endswith("\tgreat")


def test_bad_recipe_key_names_the_key(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[data]\ntrain = "x.tsv"\n[model]\nunits = 8\ndropuot = 0.3\n', encoding="utf-8")
    assert main(["train", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'model.dropuot'" in err and "did you mean 'dropout'" in err


def test_bad_override_and_missing_file_errors(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[data]\ntrain = "{tmp_path / "missing.tsv"}"\n', encoding="utf-8")
    assert main(["train", str(recipe), "--set", "train.batch_size=0", "--run-dir", str(tmp_path / "run")]) == 2
    assert "'train.batch_size' = 0 is out of range" in capsys.readouterr().err
    assert main(["train", str(recipe), "--run-dir", str(tmp_path / "run")]) == 2
    assert "missing.tsv" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "nowhere")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_data_summary(capsys, tmp_path):
    assert main(["data", "summary", os.path.join(SAMPLES, "label_text.tsv")]) == 0
    out = capsys.readouterr().out
    assert "6 lines read, 6 kept" in out and "pos" in out
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"a\tok\nbroken line\n")
    assert main(["data", "summary", str(bad)]) == 2
    assert f"{bad}:2: wrong column count" in capsys.readouterr().err
    assert main(["data", "summary", str(bad), "--on-bad-lines", "skip"]) == 0
    assert "1 skipped (wrong column count)" in capsys.readouterr().out


def test_help_lists_the_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("train", "predict", "data"):
        assert command in out.stdout
