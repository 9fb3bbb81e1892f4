"""Hostile inputs (issue 18, findings 8-11): bounded reports for many labels, one-line errors instead of
tracebacks, warnings for silent surprises, and sha256-verified exports.
"""

import io
import json
import logging
import os
import shutil

import numpy as np
import pytest

from conftest import ROOT, SAMPLES
from textrecipes.cli import main
from textrecipes.data.files import check_regular_file
from textrecipes.data.readers import read_classification
from textrecipes.data.records import DataError, LabeledText
from textrecipes.data.splits import split_records
from textrecipes.evaluation.metrics import (MATRIX_MAX_LABELS, card_metrics, evaluate_predictions, format_metrics,
                                            write_label_tables)
from textrecipes.export.metadata import RunFolderError
from textrecipes.training import StrategyError
from textrecipes.workflows.train import train

TINY = {"model": {"embedding_dim": 4, "units": 4}, "train": {"epochs": 1}, "evaluate": {"baseline": False}}
RECIPE = os.path.join(ROOT, "recipes", "sentiment_lstm.toml")
TINY_SET = ["--set", "train.epochs=1", "--set", "model.units=4", "--set", "model.embedding_dim=4", "--quiet"]


def _write(path, data) -> str:
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    rows = open(os.path.join(SAMPLES, "label_text.tsv"), encoding="utf-8").read() * 10  # 60 lines, 6 distinct
    data = _write(tmp / "train.tsv", rows)
    return train({"data": {"train": data}, **TINY}, run_dir=str(tmp / "run"), verbose=0).run_dir


# -- finding 8: many labels ---------------------------------------------------------------------------------


def test_more_labels_than_the_limit_are_refused_before_training_and_leave_no_folder(tmp_path):
    lines = "".join(f"label{i}\ttext number {i}\n" for i in range(5001))
    data = _write(tmp_path / "many.tsv", lines)
    run = tmp_path / "run"
    with pytest.raises(DataError, match=r"many\.tsv: 5,001 distinct labels; .* at most 5,000"):
        train({"data": {"train": data}, **TINY}, run_dir=str(run), verbose=0)
    assert not run.exists()


def test_a_report_of_thousands_of_labels_stays_small_and_its_tables_go_to_files(tmp_path):
    k, n = 3000, 6000
    rng = np.random.default_rng(0)
    names = [f"l{i}" for i in range(k)]
    targets = rng.integers(0, k, n)
    probs = rng.random((n, k), dtype=np.float32)
    report = evaluate_predictions(targets, probs, names, "multiclass")
    assert "confusion_matrix" not in report and len(report["confusions"]) <= n
    assert sum(c[2] for c in report["confusions"]) == n
    printed = format_metrics(report)
    assert len(printed.splitlines()) < MATRIX_MAX_LABELS + 30 and "top 20 confusions" in printed
    card = card_metrics(report)
    assert "per_class" not in card and len(json.dumps(card)) < 5000 and "metrics.json" in card["details"]
    per_class, confusions = write_label_tables(str(tmp_path), report)
    assert len(open(per_class).read().splitlines()) == k + 1
    assert len(open(confusions).read().splitlines()) == len(report["confusions"]) + 1


def test_a_report_of_few_labels_keeps_its_matrix():
    report = evaluate_predictions(np.array([0, 1, 2]), np.eye(3), ["a", "b", "c"], "multiclass")
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]] and card_metrics(report) is report


# -- finding 9: one-line errors, exit 2, nothing left behind ---------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"label\ttext\n", b"pos\tgood film\n"], ids=["empty", "header", "one-line"])
def test_too_small_training_files_exit_2_and_leave_no_run_folder(tmp_path, capsys, content):
    data = _write(tmp_path / "t.tsv", content)
    run = tmp_path / "run"
    extra = ["--set", "data.header=true"] if content.startswith(b"label") else []
    code = main(["train", RECIPE, "--set",
                 f"data.train={data}", "--set", "data.validation=", "--set", "data.test=", *extra, *TINY_SET,
                 "--run-dir", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "t.tsv" in err and "Traceback" not in err
    assert not run.exists()


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_folder_or_fifo_as_data_is_refused_before_anything_is_opened(tmp_path, capsys, kind):
    target = tmp_path / "data"
    os.mkdir(target) if kind == "folder" else os.mkfifo(target)
    run = tmp_path / "run"
    code = main(["train", RECIPE, "--set",
                 f"data.train={target}", *TINY_SET, "--run-dir", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and ("a folder" if kind == "folder" else "FIFO") in err and str(target) in err
    assert not run.exists()
    assert main(["data", "summary", str(target)]) == 2  # the readers refuse it too (a FIFO would block)


def test_a_folder_as_a_regular_file_names_it():
    with pytest.raises(DataError, match="is a folder"):
        check_regular_file(SAMPLES, "vectors file")


@pytest.mark.parametrize("content,problem", [(b"good\n", "no tab"), (b"\xff\xfe bad\tx\n", "not valid utf-8")])
def test_a_malformed_synonyms_file_is_a_data_error_naming_the_line(tmp_path, content, problem):
    from textrecipes.augment.synonyms import FileSynonyms

    with pytest.raises(DataError, match=f"syn.tsv:1: {problem}"):
        FileSynonyms(_write(tmp_path / "syn.tsv", content))
    with pytest.raises(DataError, match="is a folder"):
        FileSynonyms(str(tmp_path))


def test_strategy_gpu_without_a_gpu_and_a_bad_tf_config_are_one_line_errors(tmp_path, capsys):
    from textrecipes.training.distribute import check_tf_config, get_strategy

    with pytest.raises(StrategyError, match="train.strategy = 'gpu'"):
        get_strategy("gpu", gpus=[])
    for bad, message in [("{bad", "not valid JSON"), ("[1]", "JSON object"), ('{"task": {"index": -1}}', "index")]:
        with pytest.raises(StrategyError, match=message):
            check_tf_config(bad)
    code = main(["train", RECIPE,
                 "--set", "train.strategy=gpu", "--set", f"data.train={os.path.join(SAMPLES, 'label_text.tsv')}",
                 "--set", "data.validation=", "--set", "data.test=", *TINY_SET, "--run-dir", str(tmp_path / "run")])
    if code != 0:  # no GPU here (the usual case): one line, exit 2, no folder
        assert code == 2 and "no GPU" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_invalid_utf8_on_predict_stdin_names_the_line_and_can_be_skipped(run_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a warm film\n\xff bad\n")))
    assert main(["predict", run_dir]) == 2 and "<stdin>:2" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a warm film\n\xff bad\n")))
    assert main(["predict", run_dir, "--on-bad-lines", "skip"]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[1] == "\t" and "not valid UTF-8 skipped" in out.err  # its place kept, empty


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_folder_or_fifo_as_predict_input_is_refused(run_dir, tmp_path, capsys, kind):
    target = tmp_path / "in"
    os.mkdir(target) if kind == "folder" else os.mkfifo(target)
    assert main(["predict", run_dir, str(target)]) == 2
    assert str(target) in capsys.readouterr().err


# -- finding 10: warnings ------------------------------------------------------------------------------------


def test_a_bom_in_mid_file_is_removed_with_a_warning_naming_the_line(tmp_path, caplog):
    data = _write(tmp_path / "cat.tsv", b"pos\tgood\nneg\tbad\n\xef\xbb\xbfpos\tfine\n")
    with caplog.at_level(logging.WARNING, logger="textrecipes"):
        records = read_classification(data).records
    assert [r.label for r in records] == ["pos", "neg", "pos"]
    assert "cat.tsv:3: a byte-order mark" in caplog.text


def test_duplicates_across_splits_are_counted_in_the_log_and_metrics_json(run_dir):
    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    # 60 lines that are 6 texts repeated: every held-out text is also a training text
    assert metrics["duplicates_of_train"] == {"validation": metrics["splits"]["validation"],
                                              "test": metrics["splits"]["test"]} and metrics["splits"]["test"] > 0


def test_a_one_example_class_turning_stratification_off_is_said(caplog):
    records = [LabeledText(f"t{i}", "ab"[i % 2], i) for i in range(40)] + [LabeledText("lone", "c", 41)]
    with caplog.at_level(logging.WARNING, logger="textrecipes"):
        split_records(records, seed=0)
    assert "not stratified: class 'c' has 1 example" in caplog.text


def test_a_vectors_error_quotes_only_a_clipped_fragment(tmp_path):
    from textrecipes.text.vectors import read_word_vectors

    secret = "root:x:0:0:root:/root:/bin/bash-and-much-more-private-text"
    with pytest.raises(DataError) as info:
        read_word_vectors(_write(tmp_path / "passwd", secret + "\n"))
    assert "private" not in str(info.value) and "root:x:0" in str(info.value)


# -- finding 11: sha256 of the exports ---------------------------------------------------------------------------


def test_the_model_card_records_the_sha256_of_every_exported_file(run_dir):
    with open(os.path.join(run_dir, "model_card.json"), encoding="utf-8") as f:
        sums = json.load(f)["sha256"]
    assert "model.keras" in sums and "saved_model/saved_model.pb" in sums
    assert any(n.startswith("saved_model/variables/") for n in sums)


def test_verify_accepts_the_intact_exports_and_refuses_a_changed_file(run_dir, tmp_path, capsys):
    from textrecipes.export.predictors import Predictor

    assert Predictor(run_dir, verify=True).predict(["a warm film"])
    assert Predictor(os.path.join(run_dir, "model.keras"), verify=True).predict(["a warm film"])
    copy = str(tmp_path / "run")
    shutil.copytree(run_dir, copy)
    variables = os.path.join(copy, "saved_model", "variables")
    data = next(os.path.join(variables, n) for n in os.listdir(variables) if n.startswith("variables.data"))
    with open(data, "r+b") as f:
        byte = f.read(1)
        f.seek(0)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(RunFolderError, match=r"variables\.data.*sha256 differs"):
        Predictor(copy, verify=True)
    with pytest.raises(RunFolderError, match="sha256 differs"):
        Predictor(os.path.join(copy, "saved_model"), verify=True)  # the SavedModel alone, its card inside
    assert main(["predict", copy, "--verify", "--text", "good"]) == 2
    assert "sha256 differs" in capsys.readouterr().err
    Predictor(os.path.join(copy, "model.keras"), verify=True)  # the .keras file is untouched
    _write(os.path.join(copy, "saved_model", "assets", "extra.txt"), "added")
    shutil.copy(os.path.join(run_dir, "saved_model", "variables", os.path.basename(data)), data)
    with pytest.raises(RunFolderError, match="extra.txt: not listed"):
        Predictor(copy, verify=True)
