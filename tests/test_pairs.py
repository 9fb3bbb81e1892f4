"""Text pairs: the pair reader's errors, a real small training run through the CLI, the export."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, SMALL_MODEL
from textrecipes.cli import main
from textrecipes.data.readers import read_pairs
from textrecipes.data.records import DataError
from textrecipes.data.derived import title_content_pairs

BENCH = os.path.join(ROOT, "data", "bench", "news_outlets")
FIXED = [("Xi, Tillerson look forward to 'new era' in US-China relations",
          "In China, US Secretary of State Rex Tillerson has pledged to work with the Beijing government."),
         ("Short title", "A much longer body of text that will need more padding than the other one does here."),
         ("", ""), ("zzzz", "qqqq unknown")]


def head(src, dst, n):
    with open(src, encoding="utf-8") as f:
        lines = f.readlines()[:n]
    with open(dst, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return str(dst)


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory):
    """`textrecipes train` on 2,400 derived headline/body pairs (1,200 articles), 4 epochs (about 25 s)."""
    tmp = tmp_path_factory.mktemp("pairs")
    files = {}
    for split, n in (("train", 2400), ("validation", 300), ("test", 400)):
        full = tmp / f"{split}_full.tsv"
        title_content_pairs(os.path.join(BENCH, f"{split}.tsv"), str(full), seed=0)
        files[split] = head(full, tmp / f"{split}.tsv", n)
    recipe = tmp / "pairs.toml"
    recipe.write_text(f'''name = "pairs_test"
[data]
format = "pairs"
train = "{files['train']}"
validation = "{files['validation']}"
test = "{files['test']}"
[tokenize]
max_length = 64
[model]
embedding_dim = {SMALL_MODEL['embedding_dim']}
units = {SMALL_MODEL['units']}
pooling = "max"
dropout = 0.1
embedding_dropout = 0.0
token_dropout = 0.0
[schedule]
learning_rate = 0.003
[train]
epochs = 4
[callbacks]
early_stopping = false
''', encoding="utf-8")
    run_dir = tmp / "run"
    assert main(["train", str(recipe), "--run-dir", str(run_dir), "--quiet"]) == 0
    return run_dir


def test_training_learns_and_loss_falls(pair_run):
    metrics = json.loads((pair_run / "metrics.json").read_text())
    assert metrics["test"]["examples"] == 400
    assert metrics["test"]["accuracy"] > 0.6, metrics["test"]  # balanced classes: chance is 0.5
    assert "baseline" not in metrics  # the linear baseline is for single texts
    with open(pair_run / "history.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert losses[-1] < losses[0]
    assert metrics["export_check"]["max_abs_diff"] <= 1e-5


def test_export_keras_and_padding_agree(pair_run):
    from textrecipes.export.predictors import PairPredictor

    saved = PairPredictor(pair_run)  # the SavedModel: two raw-string inputs
    keras_file = PairPredictor(pair_run / "model.keras")  # reloaded with safe_mode=True
    assert saved.labels == ["no", "yes"] and saved.task == "binary"
    batch = saved.predict_proba(FIXED)
    np.testing.assert_allclose(batch, keras_file.predict_proba(FIXED), atol=1e-5)
    singles = np.concatenate([saved.predict_proba([p]) for p in FIXED])
    np.testing.assert_allclose(batch, singles, atol=1e-5)  # padding in a batch changes nothing
    assert [label for label, _ in saved.predict(FIXED)] == [saved.labels[i] for i in batch.argmax(1)]


def test_shared_encoder_is_one_set_of_weights():
    from textrecipes.models.pairs import PairFeatures, build_pair_classifier

    model = build_pair_classifier(50, 3, task="multiclass", embedding_dim=8, units=4, seed=1, match_features="none")
    assert model.output_shape == (None, 3)
    embeddings = [w for w in model.weights if "embeddings" in w.path]
    assert len(embeddings) == 1  # both texts go through the one encoder
    encoder = model.get_layer("encoder")
    a, b = np.array([[2, 3, 0]], "int32"), np.array([[4, 0, 0]], "int32")
    u, v = encoder(a), encoder(b)
    ab, ba = np.asarray(PairFeatures()([u, v])), np.asarray(PairFeatures()([v, u]))
    width = u.shape[-1]
    np.testing.assert_allclose(ab[:, 2 * width:], ba[:, 2 * width:], atol=1e-6)  # |u-v| and u*v are symmetric
    np.testing.assert_allclose(ab[:, :width], ba[:, width:2 * width], atol=1e-6)


def test_token_keys_and_exact_match_respect_padding_and_unknown_words():
    import tensorflow as tf

    from textrecipes.models.pairs import ExactMatch, MatchSummary, TokenKeys
    from textrecipes.text.tokenization import TextVectorizer

    vectorizer = TextVectorizer(["paris", "is", "big"], max_length=5)
    a, b = tf.constant(["Paris is big, Zorblat!", "", "is"]), tf.constant(["zorblat visits PARIS", "big", "quux"])
    ids, keys = vectorizer(a).numpy(), TokenKeys.like(vectorizer)(a).numpy()
    assert ids.shape == keys.shape == (3, 5)  # truncated at max_length, padded as the vectorizer pads
    assert ((ids == 0) | (keys == 0)).tolist() == (keys == 0).tolist() and (keys[1] == 0).all()  # 0 pads; "" has no key
    flags = np.asarray(ExactMatch()([keys, TokenKeys.like(vectorizer)(b).numpy()]))[..., 0]
    # "paris" matches across case; "zorblat" is OOV (id 1 in both texts) yet matches as a string.
    assert flags.tolist() == [[1, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    assert ids[0, 4] == 1 and np.asarray(ExactMatch()([np.array([[1, 0]]), np.array([[1, 0]])]))[0, :, 0].tolist() == [1, 0]
    x, y = np.array([[5, 6, 9, 7, 0, 0]]), np.array([[7, 9, 0, 8, 5, 0]])  # 0 in the middle only to show it never matches
    assert np.asarray(ExactMatch()([x, y]))[0, :, 0].tolist() == [1, 0, 1, 1, 0, 0]
    np.testing.assert_allclose(np.asarray(MatchSummary(10)([x, y, x, y]))[0], [3 / 4, 3 / 4, 3 / 4, 3 / 4], atol=1e-6)


def test_match_features_models_ignore_padding_and_see_overlap():
    from textrecipes.models.pairs import build_pair_classifier

    x = {"ids_a": np.array([[2, 3, 4, 0], [5, 6, 0, 0]], "int32"), "ids_b": np.array([[3, 9, 0], [7, 8, 1]], "int32")}
    x.update(keys_a=x["ids_a"] * 11, keys_b=x["ids_b"] * 11)
    swapped = {**x, "keys_b": np.array([[22, 33, 0], [77, 88, 11]], "int32")}  # more overlap in the first pair
    for features in ("tokens", "pooled", "both"):
        model = build_pair_classifier(20, 2, embedding_dim=8, units=4, seed=1, match_features=features)
        assert sorted(model.input) == ["ids_a", "ids_b", "keys_a", "keys_b"]
        assert len([w for w in model.weights if "embeddings" in w.path]) == 1  # still one encoder
        padded = {k: np.pad(v, ((0, 0), (0, 5))) for k, v in x.items()}
        np.testing.assert_allclose(model(x), model(padded), atol=1e-6)  # padding changes nothing
        assert not np.allclose(model(x)[0], model(swapped)[0])  # the overlap is seen
        np.testing.assert_allclose(model(x)[1], model(swapped)[1], atol=1e-6)
    with pytest.raises(ValueError, match="match_features must be one of"):
        build_pair_classifier(20, 2, match_features="fuzzy")


def test_model_card_and_report(pair_run):
    from textrecipes.cli import main as cli_main

    metrics = json.loads((pair_run / "metrics.json").read_text())
    card = json.loads((pair_run / "model_card.json").read_text())
    assert card == json.loads((pair_run / "saved_model" / "assets.extra" / "model_card.json").read_text())
    assert card["labels"] == ["no", "yes"] and card["task"] == "binary" and card["format"] == "pairs"
    assert card["vocabulary_size"] == len(json.loads((pair_run / "vocabulary.json").read_text())["tokens"]) + 2
    assert card["metrics"]["test"]["accuracy"] == metrics["test"]["accuracy"]
    assert card["recipe"]["model"]["match_features"] == "tokens"
    assert [d["lines"] for d in card["data"]] == [2400, 300, 400] and all(len(d["sha256"]) == 64 for d in card["data"])
    assert set(card["exports"]) == {"saved_model", "model.keras"} and "tensorflow" in card["versions"]
    md = (pair_run / "report.md").read_text(encoding="utf-8")
    test = metrics["test"]
    assert f"accuracy {test['accuracy']:.4f}" in md and "text pairs" in md
    for label in ("no", "yes"):
        c = test["per_class"][label]
        assert f"| {label} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1-score']:.4f} |" in md
    assert "![Confusion matrix](confusion_matrix.png)" in md and (pair_run / "confusion_matrix.png").stat().st_size > 0
    worst = json.loads((pair_run / "top_losses.json").read_text(encoding="utf-8"))
    assert worst and all(" ‖ " in r["text"] and r["true"] != r["predicted"] for r in worst)
    assert (pair_run / "report.html").read_text(encoding="utf-8").count("data:image/png;base64,") == 3
    # `textrecipes report` rebuilds it from the folder alone (PairPredictor on the validation split).
    os.remove(pair_run / "report.html")
    assert cli_main(["report", str(pair_run), "--top", "5"]) == 0
    again = json.loads((pair_run / "top_losses.json").read_text(encoding="utf-8"))
    assert [r["index"] for r in again] == [r["index"] for r in worst[:5]]
    assert (pair_run / "report.html").exists()


def test_bad_pair_lines_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("q one\ta one\tyes\nq two\ta two\nq three\t\tno\nq four\ta four\tmaybe\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{bad}:2: wrong column count"):
        read_pairs(str(bad), labeled=True)
    ds = read_pairs(str(bad), labels=["yes", "no"], on_bad_lines="skip")
    assert [r.line for r in ds.records] == [1]
    assert ds.report.skipped == {"wrong column count": 1, "empty text": 1, "label not in the label set": 1}
    unknown = tmp_path / "unknown.tsv"
    unknown.write_text("q\ta\tyes\nq\ta\tmaybe\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{unknown}:2: label not in the label set"):
        read_pairs(str(unknown), labels=["yes", "no"])


def test_cli_predict_reads_two_columns(pair_run, tmp_path, capsys):
    out = subprocess.run([sys.executable, "-m", "textrecipes.cli", "predict", str(pair_run), "--with-text"],
                         input="Short title\tA short body.\n\nAnother title\tAnother body.\n", capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3 and lines[1] == "\t\t"  # the blank line keeps its place: an empty prediction
    lines = [lines[0], lines[2]]
    assert all(line.split("\t")[0] in ("no", "yes") for line in lines)
    assert lines[0].endswith("Short title\tA short body.")
    bad = tmp_path / "bad.txt"
    bad.write_text("title\tbody\nno tab here\n", encoding="utf-8")
    assert main(["predict", str(pair_run), str(bad)]) == 2
    assert f"{bad}:2: expected text_a<TAB>text_b" in capsys.readouterr().err


def test_keys_that_do_not_apply_to_pairs_are_recipe_errors(tmp_path):
    from textrecipes.recipe.loading import RecipeError
    from textrecipes.workflows.train import train

    recipe = {"data": {"format": "pairs", "train": os.path.join(ROOT, "data", "samples", "question_answer.tsv"),
                       "text_first": True}}
    with pytest.raises(RecipeError, match="'data.text_first' does not apply"):
        train(recipe, run_dir=str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_pair_predictor_verifies_the_exports_before_loading(pair_run, tmp_path):
    import shutil

    from textrecipes.export.metadata import RunFolderError
    from textrecipes.export.predictors import PairPredictor, load_predictor

    copy = tmp_path / "copy"
    shutil.copytree(pair_run, copy)
    want = PairPredictor(copy).predict_proba(FIXED)
    np.testing.assert_allclose(PairPredictor(copy, verify=True).predict_proba(FIXED), want, atol=1e-6)
    assert isinstance(load_predictor(copy / "model.keras", verify=True), PairPredictor)
    with open(copy / "saved_model" / "saved_model.pb", "ab") as f:
        f.write(b"\0")  # one byte more: the graph is no longer the one the card vouches for
    for path in (copy, copy / "saved_model"):
        with pytest.raises(RunFolderError, match=r"saved_model\.pb: sha256 differs"):
            PairPredictor(path, verify=True)
        with pytest.raises(RunFolderError, match=r"saved_model\.pb: sha256 differs"):
            load_predictor(path, verify=True)
    PairPredictor(copy / "model.keras", verify=True)  # the .keras file is untouched
