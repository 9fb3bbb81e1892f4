"""`textrecipes init` / `data summary` (the file diagnosis) and `textrecipes.evaluate` (issue 15)."""

import dataclasses
import importlib.util
import json
import os

import pytest

from conftest import rt_path
from textrecipes.cli import main
from textrecipes.data.records import DataError
from textrecipes.data.sniff import LONG_TEXT_TOKENS, SMALL_TRAINING_SET, diagnose, suggest_recipe
from textrecipes.export.metadata import RunFolderError


def rt_lines(split: str, start: int, n: int) -> list[tuple[str, str]]:
    """``(label, text)`` of n Rotten Tomatoes lines from ``start``."""
    with open(rt_path(split), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][start:start + n]
    return [(label, text) for label, text in rows]


def write_text_first(path, rows, header="text\tlabel") -> str:
    """A ``text<TAB>label`` file with a header, as a spreadsheet export gives it."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "\n" + "".join(f"{text}\t{label}\n" for label, text in rows))
    return str(path)


def test_sniffs_a_header_and_text_first(tmp_path):
    path = write_text_first(tmp_path / "mine.tsv", rt_lines("train", 0, 200), header="sentence\tcategory")
    d = diagnose(path)
    assert d.text_first and d.header and d.header_line == "sentence\tcategory"
    assert set(d.labels) == {"fresh", "rotten"} and sum(d.labels.values()) == d.examples == 200
    assert d.report.skipped["header"] == 1
    assert d.script == "other" and d.split == "word"
    assert 10 <= d.lengths["p50"] <= d.lengths["p90"] <= d.lengths["p99"] <= d.lengths["max"]
    assert any("looks like a header" in w for w in d.warnings)
    assert not any("fewer than 5" in w or "nearly one label per line" in w for w in d.warnings)


def test_sniffs_order_without_a_header_and_an_unnamed_header(tmp_path):
    plain = tmp_path / "plain.tsv"
    plain.write_text("".join(f"{label}\t{text}\n" for label, text in rt_lines("train", 0, 100)), encoding="utf-8")
    d = diagnose(plain)
    assert (d.text_first, d.header, d.warnings) == (False, False, [])
    # A header of unusual names: its label field occurs nowhere else while every real label repeats.
    odd = tmp_path / "odd.tsv"
    odd.write_text("Bewertung\tRezension\n" + plain.read_text(encoding="utf-8"), encoding="utf-8")
    d = diagnose(odd)
    assert (d.text_first, d.header) == (False, True) and set(d.labels) == {"fresh", "rotten"}


def test_cjk_detection(tmp_path):
    zh = tmp_path / "zh.tsv"
    zh.write_text("".join(f"{'正面' if i % 2 else '负面'}\t这部电影第{i}次让我觉得非常好看\n" for i in range(40)), encoding="utf-8")
    d = diagnose(zh)
    assert d.script == "chinese" and d.cjk_share > 0.9
    assert d.split == ("jieba" if importlib.util.find_spec("jieba") else "char")
    ja = tmp_path / "ja.tsv"
    ja.write_text("".join(f"{'良い' if i % 2 else '悪い'}\tこの映画はとても面白かったです{i}\n" for i in range(40)), encoding="utf-8")
    d = diagnose(ja)
    assert (d.script, d.split) == ("japanese", "char")
    assert suggest_recipe(d).values["tokenize.split"] == "char"


def test_warnings(tmp_path):
    rows = rt_lines("train", 0, 60) + [("meh", "an odd one"), ("meh", "another odd one")]
    rows += [rows[0], ("rotten", rows[1][1])]  # a duplicate, and a duplicate with a conflicting label
    small = tmp_path / "small_class.tsv"
    small.write_text("label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    d = diagnose(small)
    assert d.header and not d.text_first
    assert any("fewer than 5 examples: 'meh' (2)" in w for w in d.warnings)
    assert d.duplicates == 2 and d.conflicting == (1 if rows[1][0] != "rotten" else 0)
    assert any("duplicate text" in w for w in d.warnings)
    assert any("looks like a header ('label\\ttext')" in w for w in d.warnings)
    # Read in the wrong column order, every text becomes a label.
    wrong = diagnose(write_text_first(tmp_path / "tf.tsv", rt_lines("train", 0, 100)), text_first=False, header=True)
    assert len(wrong.labels) > 90 and any("nearly one label per line" in w for w in wrong.warnings)


def test_suggest_recipe_rule(tmp_path):
    d = diagnose(write_text_first(tmp_path / "mine.tsv", rt_lines("train", 0, 100)))
    assert suggest_recipe(d).values["model.name"] == "auto" and "short texts" in suggest_recipe(d).why["model.name"]
    long_small = dataclasses.replace(d, lengths={**d.lengths, "p50": LONG_TEXT_TOKENS, "p99": 900})
    s = suggest_recipe(long_small)
    assert s.values["model.name"] == "auto" and s.values["tokenize.max_length"] == 1024
    assert "small training set" in s.why["model.name"]
    long_large = dataclasses.replace(long_small, examples=SMALL_TRAINING_SET)
    assert suggest_recipe(long_large).why["model.name"].startswith("long documents (median")
    assert suggest_recipe(dataclasses.replace(d, lengths={**d.lengths, "p99": 50_000})).values["tokenize.max_length"] == 2048
    imbalanced = dataclasses.replace(d, labels={"a": 500, "b": 20})
    assert [n[0] for n in suggest_recipe(imbalanced).notes] == ["train.class_weight"]


def test_data_summary_prints_the_diagnosis(tmp_path, capsys):
    path = write_text_first(tmp_path / "mine.tsv", rt_lines("train", 0, 50))
    assert main(["data", "summary", path]) == 0
    out = capsys.readouterr().out
    assert "columns: text<TAB>label" in out and "header: yes" in out and "51 lines read, 50 kept" in out
    assert sorted(os.listdir(tmp_path)) == ["mine.tsv"]  # nothing written


TOPIC_WORDS = {"sports": ["goal", "match", "team"], "politics": ["vote", "senate", "law"],
               "economy": ["market", "price", "trade"], "science": ["atom", "cell", "orbit"]}


def write_tagged(path, sep=",", n=120, tags_per_line=(1, 1, 2, 2, 3)) -> str:
    """A ``label<TAB>text`` file whose labels are tags joined by ``sep``; each text says its tags' words (seeded)."""
    import random

    rng = random.Random(0)
    rows = []
    for i in range(n):
        tags = rng.sample(sorted(TOPIC_WORDS), rng.choice(tags_per_line))
        words = [rng.choice(TOPIC_WORDS[t]) for t in tags for _ in range(2)] + ["news", str(i)]
        rng.shuffle(words)
        rows.append(f"{sep.join(tags)}\t{' '.join(words)}\n")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(rows)
    return str(path)


def test_sniff_multi_label_by_separator():
    from textrecipes.data.sniff import sniff_multi_label

    for sep in (",", "|", ";"):
        got = sniff_multi_label({"sports": 40, "politics": 30, f"sports{sep}politics": 20, f"politics{sep}economy": 10})
        assert got is not None and got["sep"] == sep and got["applied"], sep
        assert got["tags"] == {"politics": 60, "sports": 60, "economy": 10} and got["combinations"] == 4
        assert got["share"] == pytest.approx(0.3)
    # Space-joined tags: found when one label holds three words or the same words come in two orders, never applied.
    spaced = sniff_multi_label({"sports": 10, "politics science economy": 5, "sports politics": 5, "politics": 5})
    assert spaced["sep"] == " " and not spaced["applied"]
    assert sniff_multi_label({"a b": 5, "b a": 5, "a": 5})["sep"] == " "
    # Not multi-label: class names with spaces, one class holding a comma, too few joined lines, one label.
    assert sniff_multi_label({"very good": 20, "good": 20, "bad": 20, "very bad": 20}) is None
    assert sniff_multi_label({"Arts, Culture": 30, "Sports": 30, "Politics": 30}) is None
    assert sniff_multi_label({"sports": 50, "politics": 46, "sports,politics": 4}) is None
    assert sniff_multi_label({"fresh": 10}) is None


def test_data_summary_warns_that_each_combination_would_be_a_class(tmp_path, capsys):
    path = write_tagged(tmp_path / "tags.tsv")
    d = diagnose(path)
    assert d.multi_label["sep"] == "," and set(d.multi_label["tags"]) == set(TOPIC_WORDS)
    combos = len(d.labels)
    assert combos == d.multi_label["combinations"] > 4
    (warning,) = [w for w in d.warnings if "multi-label" in w]
    assert f"{combos} distinct combinations of 4 distinct tags" in warning
    assert "each combination would become its own class" in warning and "data.multi_label = true" in warning
    assert not any("fewer than 5" in w for w in d.warnings)  # counted by tag, as the recipe will read them
    s = suggest_recipe(d)
    assert (s.values["data.multi_label"], s.values["data.label_sep"]) == (True, ",")
    assert main(["data", "summary", path]) == 0
    out = capsys.readouterr().out
    assert f"4 tags in {combos} combinations" in out and "the labels look multi-label" in out
    # A validation file is compared with the training file by tags, not by combinations.
    from textrecipes.recipe.init import init_recipe

    other = tmp_path / "other.tsv"
    other.write_text("sports,politics\tgoal vote\nweather\train and wind\npolitics,sports\tlaw team\n", encoding="utf-8")
    _, d2, _ = init_recipe(path, tmp_path / "r.toml", validation=str(other))
    assert [w for w in d2.warnings if "not in the training file" in w] == [
        f"{other}: labels not in the training file: ['weather']"]
    # A single-label file has none of it.
    plain = tmp_path / "plain.tsv"
    plain.write_text("".join(f"{label}\t{text}\n" for label, text in rt_lines("train", 0, 100)), encoding="utf-8")
    assert diagnose(plain).multi_label is None and "data.multi_label" not in suggest_recipe(diagnose(plain)).values


def test_init_points_a_multi_label_file_at_multi_label_and_it_trains_on_tags(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_tagged("tags.tsv")
    assert main(["init", "tags.tsv", "--out", "tags.toml"]) == 0
    text = open("tags.toml", encoding="utf-8").read()
    assert "multi_label = true  #" in text and 'label_sep = ","  #' in text
    assert main(["train", "tags.toml", "--run-dir", "run", "--quiet", "--set", "train.epochs=1",
                 "--set", "model.embedding_dim=8", "--set", "model.units=8", "--set", "model.ngram_buckets=0",
                 "--set", "export.saved_model=false", "--set", "evaluate.baseline=false"]) == 0
    with open(os.path.join("run", "labels.json"), encoding="utf-8") as f:
        meta = json.load(f)
    assert meta["task"] == "multilabel" and sorted(meta["labels"]) == sorted(TOPIC_WORDS)  # tags, not combinations
    # Space-joined tags: the keys are suggested commented out inside [data] (a second [data] table would not parse).
    write_tagged("spaced.tsv", sep=" ", n=60, tags_per_line=(1, 2, 3))
    assert main(["init", "spaced.tsv", "--out", "spaced.toml"]) == 0
    spaced = open("spaced.toml", encoding="utf-8").read()
    assert '# multi_label = true  #' in spaced and '# label_sep = " "  #' in spaced
    assert spaced.count("[data]") == 1
    import tomllib

    assert "multi_label" not in tomllib.loads(spaced)["data"]


def test_init_recipe_trains_as_is_and_evaluate_reads_like_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # init writes the data path relative to the recipe's folder, the current one here
    write_text_first("train.tsv", rt_lines("train", 0, 400))
    assert main(["init", "train.tsv", "--out", "recipe.toml"]) == 0
    out = capsys.readouterr().out
    assert "wrote recipe.toml" in out and "columns: text<TAB>label" in out
    text = open("recipe.toml", encoding="utf-8").read()
    assert "text_first = true  #" in text and "header = true  #" in text and 'name = "auto"  #' in text
    assert 'train = "train.tsv"' in text
    before = text
    assert main(["init", "train.tsv", "--out", "recipe.toml"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert open("recipe.toml", encoding="utf-8").read() == before  # never overwritten
    assert main(["train", "recipe.toml", "--run-dir", "run", "--quiet", "--set", "train.epochs=1",
                 "--set", "model.embedding_dim=16", "--set", "model.units=16", "--set", "model.ngram_buckets=1024",
                 "--set", "model.ngram_dim=8", "--set", "export.saved_model=false"]) == 0
    with open(os.path.join("run", "labels.json"), encoding="utf-8") as f:
        assert json.load(f)["labels"] == ["fresh", "rotten"]  # no class called "label", no header example
    # A second file in the run's own layout (text first, header) is read with the run's settings.
    write_text_first("more.tsv", rt_lines("test", 0, 80))
    assert main(["evaluate", "run", "more.tsv"]) == 0
    assert "more.tsv (run): 80 examples" in capsys.readouterr().out


@pytest.fixture(scope="module")
def second_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "second.tsv"
    path.write_text("".join(f"{label}\t{text}\n" for label, text in rt_lines("test", 500, 300)), encoding="utf-8")
    return str(path)


def _listing(folder):
    return sorted((os.path.relpath(os.path.join(d, f), folder), os.path.getmtime(os.path.join(d, f)))
                  for d, _, files in os.walk(folder) for f in files)


def test_evaluate_matches_scikit_learn_on_predictor_outputs(small_run, second_file, tmp_path):
    from sklearn.metrics import accuracy_score, f1_score

    import textrecipes
    from textrecipes.export.predictors import Predictor

    before = _listing(small_run.run_dir)
    result = textrecipes.evaluate(small_run.run_dir, second_file)
    assert _listing(small_run.run_dir) == before  # nothing written into the run folder
    labels = [line.split("\t")[0] for line in open(second_file, encoding="utf-8")]
    texts = [line.rstrip("\n").split("\t")[1] for line in open(second_file, encoding="utf-8")]
    predicted = [label for label, _ in Predictor(small_run.run_dir).predict(texts)]
    assert result.metrics["examples"] == 300
    assert result.accuracy == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)
    assert result.macro_f1 == pytest.approx(f1_score(labels, predicted, average="macro"), abs=1e-12)
    assert sum(map(sum, result.metrics["confusion_matrix"])) == 300
    assert result.top_losses and all(r["true"] != r["predicted"] for r in result.top_losses)
    assert "accuracy" in str(result) and "Evaluation(" in repr(result)
    # The same through a RunResult, and from a DataFrame.
    import pandas as pd

    frame = pd.DataFrame({"text": texts, "label": labels})
    assert textrecipes.evaluate(small_run, frame).metrics == result.metrics
    # On request, a report in a folder of its own.
    report = textrecipes.evaluate(small_run.run_dir, second_file, report_dir=str(tmp_path / "ev")).report
    assert os.path.exists(report["html"]) and os.path.exists(report["confusion_matrix"])
    with open(report["evaluation"], encoding="utf-8") as f:
        assert json.load(f)["metrics"]["accuracy"] == result.accuracy
    assert "Most confidently wrong second.tsv examples" in open(report["markdown"], encoding="utf-8").read()
    with pytest.raises(FileExistsError):
        textrecipes.evaluate(small_run.run_dir, second_file, report_dir=str(tmp_path / "ev"))
    assert _listing(small_run.run_dir) == before


def test_evaluate_refuses_folders_that_are_not_its_own(small_run, second_file, tmp_path):
    from textrecipes.workflows.evaluate import evaluate

    before = _listing(small_run.run_dir)
    with pytest.raises(RunFolderError, match="the run folder itself"):
        evaluate(small_run.run_dir, second_file, report_dir=small_run.run_dir)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not a textrecipes run folder"):
        evaluate(small_run.run_dir, second_file, report_dir=str(mine))
    assert os.listdir(mine) == ["notes.txt"] and _listing(small_run.run_dir) == before


def test_evaluate_unseen_label_names_file_and_line(small_run, second_file, tmp_path, capsys):
    from textrecipes.workflows.evaluate import evaluate

    bad = tmp_path / "bad.tsv"
    lines = open(second_file, encoding="utf-8").readlines()[:10]
    lines.insert(3, "meh\ta film I have no opinion about\n")
    bad.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataError, match=rf"{bad}:4: label 'meh' is not one the model was trained on"):
        evaluate(small_run.run_dir, str(bad))
    assert main(["evaluate", small_run.run_dir, str(bad)]) == 2
    assert f"{bad}:4: label 'meh'" in capsys.readouterr().err
