"""Sequence labelling: entity spans and scores by hand, CoNLL errors, a real small run through the CLI, the export."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, SAMPLES, SMALL_MODEL
from textrecipes.cli import main
from textrecipes.data.readers import read_conll
from textrecipes.data.records import DataError
from textrecipes.data.derived import fortune_entities, tag_tokens
from textrecipes.evaluation.tagging import entity_scores, entity_spans, evaluate_tagging

BENCH = os.path.join(ROOT, "data", "bench", "fortunes_topics")
FIXED = ["Computers are useless . -- Pablo Picasso",
         "I asked Grace Hopper about COBOL and she laughed",
         "",
         "zzzz qqqq"]


# Entity spans and scores, worked by hand.

@pytest.mark.parametrize("tags, spans", [
    (["B-PER", "I-PER", "O"], [("PER", 0, 2)]),
    (["I-PER", "I-PER", "O"], [("PER", 0, 2)]),                     # I- without B- starts an entity
    (["O", "I-LOC", "B-LOC", "I-LOC"], [("LOC", 1, 2), ("LOC", 2, 4)]),  # B- after I- starts a new one
    (["B-PER", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 2)]),            # a type change starts a new one
    (["B-ORG", "O", "I-ORG"], [("ORG", 0, 1), ("ORG", 2, 3)]),
    (["O", "O"], []),
    ([], []),
])
def test_entity_spans(tags, spans):
    assert entity_spans(tags) == spans


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-PER"], ["O", "B-ORG", "O"]]
    # gold: PER(0,2), LOC(3,4), ORG(1,3); predicted: PER(0,2), PER(3,4), ORG(1,2); one exact hit.
    s = entity_scores(gold, pred)
    assert (s["true_entities"], s["predicted_entities"]) == (3, 3)
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(1 / 3)
    assert s["per_type"]["PER"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert s["per_type"]["LOC"]["recall"] == 0.0 and s["per_type"]["ORG"]["f1"] == 0.0
    m = evaluate_tagging(gold, pred, ["B-LOC", "B-ORG", "B-PER", "I-ORG", "I-PER", "O"])
    assert m["tokens"] == 7 and m["accuracy"] == pytest.approx(5 / 7)
    with pytest.raises(ValueError, match="sentence 0"):
        entity_scores([["O", "O"]], [["O"]])


# Pinned before entity scoring moved to seqeval (it agreed with the hand-written conlleval rules on
# 3,000 random sequences); tags without a B-/I- prefix are read as I-X, as before.
@pytest.mark.parametrize("gold, pred, expected", [
    ([["PER", "PER", "O", "LOC"]], [["B-PER", "I-PER", "O", "I-LOC"]], (1.0, 1.0, 2, 2)),
    ([["B-PER", "I-LOC", "I-LOC"]], [["B-PER", "B-LOC", "I-LOC"]], (1.0, 1.0, 2, 2)),
    ([["I-ORG", "B-ORG", "O"]], [["B-ORG", "I-ORG", "O"]], (0.0, 0.0, 2, 1)),
    ([["B-MISC-X", "I-MISC-X"]], [["B-MISC-X", "O"]], (0.0, 0.0, 1, 1)),
    ([["O", "O"], []], [["O", "O"], []], (0.0, 0.0, 0, 0)),
    ([["B-PER", "O", "B-PER"]], [["B-PER", "O", "O"]], (1.0, 0.5, 2, 1)),
])
def test_entity_scores_pinned_on_tricky_sequences(gold, pred, expected):
    s = entity_scores(gold, pred)
    assert (s["precision"], s["recall"], s["true_entities"], s["predicted_entities"]) == pytest.approx(expected)


def test_derived_tags_rule():
    assert tag_tokens("Ask Ada Lovelace , not me . -- Charles Babbage ( 1864 )".split()) == \
        ["O", "B-NAME", "I-NAME", "O", "O", "O", "O", "O", "B-PER", "I-PER", "O", "O", "O"]


def test_bad_conll_lines_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("John B-PER\nran O\n\nthree fields here\nok O\n\nMary B-PER\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{bad}:4: wrong column count"):
        read_conll(str(bad))
    ds = read_conll(str(bad), on_bad_lines="skip")
    assert [s.tokens for s in ds.records] == [("John", "ran"), ("Mary",)]
    assert ds.report.skipped["wrong column count"] == 2  # the whole bad sentence
    with pytest.raises(DataError, match=f"{bad}:1: tag not in the tag set"):
        read_conll(str(bad), tags=["O"])


@pytest.fixture(scope="module")
def tag_run(tmp_path_factory):
    """`textrecipes train` on 1,500 derived fortune sentences, 4 epochs (about 30 s)."""
    tmp = tmp_path_factory.mktemp("tagging")
    files = {}
    for split in ("train", "validation", "test"):
        files[split] = str(tmp / f"{split}.conll")
        fortune_entities(os.path.join(BENCH, f"{split}.tsv"), files[split], max_tokens=40)
    recipe = tmp / "tagging.toml"
    recipe.write_text(f'''name = "tagging_test"
[data]
format = "conll"
train = "{files['train']}"
validation = "{files['validation']}"
test = "{files['test']}"
max_train_examples = 1500
[tokenize]
lowercase = false
[model]
embedding_dim = {SMALL_MODEL['embedding_dim']}
units = {SMALL_MODEL['units']}
dropout = 0.2
token_dropout = 0.1
[schedule]
learning_rate = 0.004
[train]
epochs = 4
[callbacks]
early_stopping = false
''', encoding="utf-8")
    run_dir = tmp / "run"
    assert main(["train", str(recipe), "--run-dir", str(run_dir), "--quiet"]) == 0
    return run_dir


def test_tagger_learns(tag_run):
    metrics = json.loads((tag_run / "metrics.json").read_text())
    test = metrics["test"]
    o_share = test["per_tag"]["O"]["support"] / test["tokens"]
    assert test["accuracy"] > o_share  # better than tagging everything O
    assert "baseline" not in metrics  # the linear baseline is for classification runs
    assert test["entity"]["f1"] > 0.2, test["entity"]
    assert set(test["entity"]["per_type"]) == {"PER", "NAME"}
    with open(tag_run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert metrics["export_check"]["max_abs_diff"] <= 1e-5 and metrics["export_check"]["tags_equal"]


def test_export_keras_and_padding_agree(tag_run):
    from textrecipes.export.predictors import Tagger

    saved = Tagger(tag_run)
    keras_file = Tagger(tag_run / "model.keras")
    batch = saved.predict_proba(FIXED)
    assert [p.shape[0] for p in batch] == [7, 9, 0, 2]
    for got, single, other in zip(batch, (saved.predict_proba([s])[0] for s in FIXED), keras_file.predict_proba(FIXED)):
        np.testing.assert_allclose(got, single, atol=1e-5)  # the padding in a batch changes nothing
        np.testing.assert_allclose(got, other, atol=1e-5)
    tagged = saved.tag(FIXED)
    assert [t for t, _ in tagged[0]] == FIXED[0].split() and tagged[2] == []
    assert all(tag in saved.tags for sentence in tagged for _, tag in sentence)


def test_model_card_and_report(tag_run):
    from textrecipes.evaluation.report import write_report

    metrics = json.loads((tag_run / "metrics.json").read_text())
    card = json.loads((tag_run / "model_card.json").read_text())
    assert card == json.loads((tag_run / "saved_model" / "assets.extra" / "model_card.json").read_text())
    test = metrics["test"]
    assert card["format"] == "conll" and card["task"] == "tagging" and card["labels"] == test["labels"]
    assert card["tokenizer"] == {"lowercase": False, "tokens": "whitespace"}
    assert card["metrics"]["test"]["entity"]["f1"] == test["entity"]["f1"]
    assert card["metrics"]["test"]["accuracy"] == test["accuracy"]
    assert len(card["data"]) == 3 and set(card["exports"]) == {"saved_model", "model.keras"}
    md = (tag_run / "report.md").read_text(encoding="utf-8")
    e = test["entity"]
    assert f"token accuracy {test['accuracy']:.4f}" in md and f"F1 {e['f1']:.4f}" in md
    for kind in ("PER", "NAME"):
        t, ent = test["token_per_type"][kind], e["per_type"][kind]
        assert (f"| {kind} | {t['precision']:.4f} | {t['recall']:.4f} | {t['f1-score']:.4f} | {ent['precision']:.4f} | "
                f"{ent['recall']:.4f} | {ent['f1']:.4f} | {ent['support']} |") in md
    for tag, c in test["per_tag"].items():
        assert f"| {tag} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1-score']:.4f} |" in md
    assert "<td>PER</td>" in (tag_run / "report.html").read_text(encoding="utf-8")
    os.remove(tag_run / "report.md")
    assert main(["report", str(tag_run)]) == 0 and (tag_run / "report.md").read_text(encoding="utf-8") == md
    assert write_report(str(tag_run))["top_losses"] == []


def test_cli_predict_prints_token_tag_pairs(tag_run):
    out = subprocess.run([sys.executable, "-m", "textrecipes.cli", "predict", str(tag_run)],
                         input=FIXED[0] + "\n\n" + FIXED[1] + "\n", capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3 and lines[1] == ""  # the blank line keeps its place: an empty tagging
    lines = [lines[0], lines[2]]
    assert lines[0].split()[0].startswith("Computers/")
    assert all("/" in pair for pair in lines[1].split())


def test_sample_conll_runs_with_declared_tags(tmp_path):
    from textrecipes.recipe.loading import load_recipe
    from textrecipes.tasks.tagging import TaggingTask

    cfg = load_recipe({"data": {"format": "conll", "train": os.path.join(SAMPLES, "conll.txt"),
                                "validation_split": 0.0, "test_split": 0.0}})
    task = TaggingTask(cfg)
    splits, tags = task.read(cfg), task.labels
    assert len(splits.train) == 2 and "B-PER" in tags and "O" in tags


def test_keys_that_do_not_apply_to_conll_are_recipe_errors(tmp_path):
    from textrecipes.recipe.loading import RecipeError
    from textrecipes.workflows.train import train

    recipe = {"data": {"format": "conll", "train": os.path.join(SAMPLES, "conll.txt"), "header": True}}
    with pytest.raises(RecipeError, match="'data.header' does not apply"):
        train(recipe, run_dir=str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()


def test_cli_derive_writes_conll_the_reader_accepts(tmp_path, capsys):
    assert main(["data", "derive", "fortune-ner", "--out", str(tmp_path), "--bench", os.path.dirname(BENCH)]) == 0
    assert "train: 4637 examples" in capsys.readouterr().out
    ds = read_conll(str(tmp_path / "test.conll"))
    assert len(ds.records) == 580 and not ds.report.skipped.get("wrong column count")
    tags = {t for s in ds.records for t in s.tags}
    assert tags == {"O", "B-PER", "I-PER", "B-NAME", "I-NAME"}


def test_tagger_verifies_the_exports_before_loading(tag_run, tmp_path):
    import shutil

    from textrecipes.export.metadata import RunFolderError
    from textrecipes.export.predictors import Tagger, load_predictor

    copy = tmp_path / "copy"
    shutil.copytree(tag_run, copy)
    assert Tagger(copy, verify=True).tag(FIXED) == Tagger(tag_run).tag(FIXED)
    assert isinstance(load_predictor(copy, verify=True), Tagger)
    with open(copy / "model.keras", "ab") as f:
        f.write(b"\0")
    with pytest.raises(RunFolderError, match=r"model\.keras: sha256 differs"):
        Tagger(copy / "model.keras", verify=True)
    with pytest.raises(RunFolderError, match=r"model\.keras: sha256 differs"):
        Tagger(copy, verify=True)  # a run folder: every export is checked, the one loaded or not
    Tagger(copy / "saved_model", verify=True)  # the SavedModel alone, its card inside, is intact
