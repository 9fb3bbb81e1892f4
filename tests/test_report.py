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


def test_a_many_class_report_lists_the_50_largest_and_points_to_per_class_tsv(tmp_path):
    from textrecipes.evaluation.metrics import MATRIX_MAX_LABELS
    from textrecipes.workflows.train import train

    rng = np.random.default_rng(0)
    k = 80
    counts = [12 if i < 10 else 4 for i in range(k)]  # ten classes clearly larger than the rest

    def lines(scale):
        rows = [f"c{i:02d}\tword{i} token{i} text {j}\n" for i in range(k) for j in range(max(1, counts[i] * scale // 4))]
        return [rows[i] for i in rng.permutation(len(rows))]

    for name, scale in (("train", 4), ("test", 4)):
        (tmp_path / f"{name}.tsv").write_text("".join(lines(scale)), encoding="utf-8")
    recipe = {"data": {"train": str(tmp_path / "train.tsv"), "test": str(tmp_path / "test.tsv")},
              "model": {"embedding_dim": 4, "units": 4, "ngram_buckets": 0}, "train": {"epochs": 1},
              "evaluate": {"baseline": False}, "export": {"saved_model": False},
              "callbacks": {"backup": False, "checkpoint": False}}
    result = train(recipe, run_dir=str(tmp_path / "run"), verbose=0)
    md = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    shown = [line.split(" | ")[0][2:] for line in md.splitlines() if line.startswith("| c")]
    assert len(shown) == MATRIX_MAX_LABELS and {f"c{i:02d}" for i in range(10)} <= set(shown)
    assert page.count("<tr><td>c") == MATRIX_MAX_LABELS
    note = f"The {MATRIX_MAX_LABELS} largest of {k} classes are shown; the other {k - MATRIX_MAX_LABELS} are in per_class.tsv"
    assert note in md and note in page
    per_class = (tmp_path / "run" / "per_class.tsv").read_text(encoding="utf-8").splitlines()
    assert len(per_class) == k + 1 and len(result.labels) == k
