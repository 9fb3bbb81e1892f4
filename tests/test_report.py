"""Per-run reports: files, per-class rows, confusion matrix, top losses really wrong and sorted."""

import json
import os

import numpy as np
import pytest

from conftest import SMALL_MODEL, rt_path, write_slice

TINY = {**SMALL_MODEL, "embedding_dim": 16, "units": 16, "ngram_buckets": 0}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from textrecipes.workflows.train import train

    tmp = tmp_path_factory.mktemp("report")
    recipe = {"name": "report", "data": {"train": write_slice(rt_path("train"), str(tmp / "train.tsv"), 300),
                                         "validation": write_slice(rt_path("validation"), str(tmp / "val.tsv"), 120),
                                         "test": write_slice(rt_path("test"), str(tmp / "test.tsv"), 120)},
              "tokenize": {"max_length": 48}, "model": TINY, "train": {"epochs": 1}, "callbacks": {"backup": False}}
    return train(recipe, run_dir=str(tmp / "run"), verbose=0)


def test_the_runner_writes_the_report(run):
    for name in ("report.md", "report.html", "confusion_matrix.png", "learning_curves.png", "schedule.png", "top_losses.json"):
        assert os.path.getsize(os.path.join(run.run_dir, name)) > 0, name
    md = open(os.path.join(run.run_dir, "report.md"), encoding="utf-8").read()
    page = open(os.path.join(run.run_dir, "report.html"), encoding="utf-8").read()
    for label in run.labels:
        c = run.metrics["per_class"][label]
        assert f"| {label} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1-score']:.4f} |" in md
        assert f"<td>{label}</td>" in page
    assert "![Confusion matrix](confusion_matrix.png)" in md
    assert page.count("data:image/png;base64,") == 3  # confusion matrix, learning curves, schedule: embedded


def test_top_losses_are_misclassified_and_sorted_by_confidence(run):
    from textrecipes.export.predictors import Predictor
    from textrecipes.workflows.report import report_run

    worst = json.load(open(os.path.join(run.run_dir, "top_losses.json"), encoding="utf-8"))
    assert worst, "a 1-epoch model on 300 reviews gets some validation examples wrong"
    texts = [line.split("\t", 1)[1].rstrip("\n") for line in open(run.recipe["data"]["validation"], encoding="utf-8")]
    probs = Predictor(run.run_dir).predict_proba([r["text"] for r in worst])
    for row, p in zip(worst, probs):
        assert texts[row["index"]] == row["text"]
        assert row["true"] != row["predicted"] == run.labels[int(p.argmax())]
        assert row["probability"] == pytest.approx(float(p.max()), abs=1e-4)
        assert row["probability"] >= 0.5
    losses = [r["loss"] for r in worst]
    assert losses == sorted(losses, reverse=True)
    confidences = [r["probability"] for r in worst]
    assert confidences == sorted(confidences, reverse=True)  # binary: loss order is confidence order
    again = report_run(run.run_dir)  # from the folder alone: the same rows
    assert [r["index"] for r in again["top_losses"]] == [r["index"] for r in worst]
    np.testing.assert_allclose([r["loss"] for r in again["top_losses"]], losses, atol=1e-4)


def test_cli_report_rebuilds_the_files(run, capsys):
    from textrecipes.cli import main

    os.remove(os.path.join(run.run_dir, "report.html"))
    assert main(["report", run.run_dir, "--top", "3"]) == 0
    assert "report.html" in capsys.readouterr().out
    assert len(json.load(open(os.path.join(run.run_dir, "top_losses.json"), encoding="utf-8"))) <= 3


def test_plots_leave_the_users_matplotlib_backend_alone(tmp_path):
    """Plotting inside `train` once selected Agg, which turned off inline plots in the calling notebook."""
    import matplotlib

    from textrecipes.evaluation.plots import plot_learning_curves
    from textrecipes.evaluation.plots import plot_confusion_matrix

    matplotlib.use("svg")  # stands for the notebook's inline backend
    plot_learning_curves({"loss": [0.7, 0.5], "val_loss": [0.69, 0.6]}, str(tmp_path / "curves.png"))
    plot_confusion_matrix([[5, 1], [2, 7]], ["neg", "pos"], str(tmp_path / "cm.png"))
    assert matplotlib.get_backend() == "svg"
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "cm.png").stat().st_size > 1000
