"""Tests for textrecipes.augment.eda: EDA operations, seeding, TSV expansion, tf.data."""

import argparse
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from textrecipes.augment.eda import ENGLISH_STOP_WORDS, Augmenter
from textrecipes.augment.on_the_fly import AugmentEpochCallback, augment_dataset
from textrecipes.augment.offline import add_cli, expand_tsv
from textrecipes.augment.synonyms import FileSynonyms, MappingSynonyms

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

SYNONYMS = {
    "good": ["fine", "great", "decent", "solid"],
    "movie": ["film", "picture", "flick"],
    "plot": ["story", "storyline"],
    "actors": ["cast", "performers"],
    "slow": ["sluggish", "plodding"],
    "the": ["this"],  # a stop word: must never be replaced
    "2019": ["twenty"],  # has digits: must never be replaced
}
TEXT = "the movie was good but the plot was slow and the actors were good in 2019"


def only(operation, **overrides):
    """An Augmenter that uses a single operation."""
    params = dict(alpha_sr=0.0, alpha_ri=0.0, alpha_rs=0.0, p_rd=0.0)
    params.update({operation: overrides.pop("value", 0.3)})
    params.update(overrides)
    return Augmenter(MappingSynonyms(SYNONYMS), **params)


# -- seeding -----------------------------------------------------------------------


def test_same_seed_same_output_different_seed_different_output():
    a = Augmenter(SYNONYMS, seed=7).augment(TEXT, epoch=2, index=5)
    b = Augmenter(SYNONYMS, seed=7).augment(TEXT, epoch=2, index=5)
    assert a == b and len(a) == 4
    outputs = {tuple(Augmenter(SYNONYMS, seed=s).augment(TEXT)) for s in range(6)}
    assert len(outputs) == 6
    augmenter = Augmenter(SYNONYMS, seed=7)
    assert augmenter.augment(TEXT, epoch=3, index=5) != a
    assert augmenter.augment(TEXT, epoch=2, index=6) != a


def test_independent_of_global_random_state():
    augmenter = Augmenter(SYNONYMS, seed=3)
    random.seed(1)
    np.random.seed(1)
    first = augmenter.augment(TEXT, index=4)
    random.seed(2)
    np.random.seed(2)
    random.random()
    assert augmenter.augment(TEXT, index=4) == first
    # ...and it leaves the global state alone.
    python_state, numpy_state = random.getstate(), np.random.get_state()
    augmenter.augment(TEXT, index=9)
    augmenter.augment_one(TEXT, epoch=1, index=9)
    assert random.getstate() == python_state
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])


def test_output_independent_of_call_order_and_threads():
    texts = [f"{TEXT} number {i}" for i in range(40)]
    forward = [Augmenter(SYNONYMS, seed=1).augment_one(t, epoch=1, index=i) for i, t in enumerate(texts)]
    augmenter = Augmenter(SYNONYMS, seed=1)
    backward = {
        i: augmenter.augment_one(texts[i], epoch=1, index=i) for i in reversed(range(40))
    }
    assert forward == [backward[i] for i in range(40)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(
            pool.map(lambda i: augmenter.augment_one(texts[i], epoch=1, index=i), range(40))
        )
    assert threaded == forward


# -- the four operations -------------------------------------------------------------


def test_random_deletion_keeps_at_least_one_token():
    tokens = TEXT.split()
    for index in range(50):
        for variant in only("p_rd", value=0.5).augment(TEXT, index=index):
            kept = variant.split()
            assert 1 <= len(kept) <= len(tokens)
            it = iter(tokens)
            assert all(token in it for token in kept)  # an ordered subsequence
    for index in range(20):
        assert len(only("p_rd", value=1.0).augment_one(TEXT, epoch=0, index=index).split()) == 1
    assert only("p_rd", value=1.0).augment("alone") == ["alone"] * 4


def test_random_swap_keeps_the_multiset():
    augmenter = only("alpha_rs", value=0.3)
    changed = 0
    for index in range(30):
        for variant in augmenter.augment(TEXT, index=index):
            assert sorted(variant.split()) == sorted(TEXT.split())
            changed += variant != TEXT
    assert changed > 0


def test_synonym_replacement_uses_the_source_and_spares_stop_words():
    tokens = TEXT.split()
    augmenter = only("alpha_sr", value=0.1)
    n = max(1, int(0.1 * len(tokens)))
    for index in range(30):
        for variant in augmenter.augment(TEXT, index=index):
            new = variant.split()
            assert len(new) == len(tokens)
            replaced = [(old, w) for old, w in zip(tokens, new) if old != w]
            assert len(replaced) == n  # EDA's n = max(1, int(alpha * len))
            for old, word in replaced:
                assert word in SYNONYMS[old]
                assert old.lower() not in ENGLISH_STOP_WORDS and old != "2019"


def test_p_replace_replaces_each_word_with_probability_p():
    tokens = TEXT.split()
    every = only("alpha_sr", value=0.0, p_replace=1.0).augment_one(TEXT, epoch=0, index=0).split()
    for old, new in zip(tokens, every):
        if old in ("movie", "good", "plot", "slow", "actors"):
            assert new in SYNONYMS[old]
        else:
            assert new == old
    assert only("alpha_sr", value=0.0, p_replace=0.0).operations == ()


def test_random_insertion_inserts_random_synonyms_only():
    tokens = TEXT.split()
    allowed = {s for key, values in SYNONYMS.items() if key not in ("the", "2019") for s in values}
    inserted_for_good = set()
    for index in range(60):
        new = only("alpha_ri", value=0.1).augment_one(TEXT, epoch=0, index=index).split()
        assert len(new) == len(tokens) + 1
        extra = list(new)
        for token in tokens:  # remove the originals, in order
            extra.remove(token)
        assert len(extra) == 1 and extra[0] in allowed
        if extra[0] in SYNONYMS["good"]:
            inserted_for_good.add(extra[0])
    assert len(inserted_for_good) > 1  # not always the first synonym, unlike EDA


def test_operations_follow_the_parameters():
    assert Augmenter(SYNONYMS).operations == ("sr", "ri", "rs", "rd")
    assert Augmenter().operations == ("rs", "rd")  # no source: no synonyms
    assert Augmenter(SYNONYMS, alpha_ri=0, p_rd=0).operations == ("sr", "rs")
    assert Augmenter(p_rd=0, alpha_rs=0).augment(TEXT) == [TEXT] * 4


def test_synonym_lookups_are_cached():
    calls = []

    class Counting(MappingSynonyms):
        def synonyms(self, word):
            calls.append(word)
            return super().synonyms(word)

    augmenter = Augmenter(Counting(SYNONYMS), seed=0)
    for index in range(50):
        augmenter.augment(TEXT, index=index)
    assert calls and len(calls) == len(set(calls))  # each word resolved once


# -- awkward texts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "word",
        "don't",
        "In 2019 I didn't like it , it's 5/10 😀 !",
        "Café crème à Zürich 🎉🎉",
        "映画はとても良かった",
        "この 映画 は 良い",
        "🙂",
    ],
)
def test_awkward_texts_do_not_crash(text):
    augmenter = Augmenter(SYNONYMS, seed=0)
    variants = augmenter.augment(text)
    assert len(variants) == 4 and all(isinstance(v, str) for v in variants)
    one = augmenter.augment_one(text, epoch=0, index=0)
    if text.strip():
        assert all(v.strip() for v in variants) and one.strip()
    else:
        assert variants == [text] * 4 and one == text


def test_digits_apostrophes_and_non_ascii_survive():
    text = "I don't think 2019 was a good year for café movies ; 映画 😀"
    kept = {"don't", "2019", "café", "映画", "😀", ";"}
    for index in range(20):
        for operation in ("alpha_sr", "alpha_ri", "alpha_rs"):
            variant = only(operation).augment_one(text, epoch=0, index=index)
            assert kept <= set(variant.split())
    one_word = only("p_rd", value=0.9).augment("don't")
    assert one_word == ["don't"] * 4


def test_punctuation_and_case_are_kept_around_synonyms():
    text = "Good, (movie)!"
    for index in range(10):
        first, second = only("alpha_sr", value=1.0).augment_one(text, epoch=0, index=index).split()
        assert first[:-1] in {"Fine", "Great", "Decent", "Solid"} and first.endswith(",")
        assert second.startswith("(") and second.endswith(")!")
        assert second[1:-2] in SYNONYMS["movie"]
    assert only("alpha_sr", value=1.0).augment_one("GOOD", epoch=0, index=0).isupper()


def test_chinese_with_jieba_and_a_synonym_file():
    source = FileSynonyms(SAMPLES / "synonyms_zh.tsv")
    augmenter = Augmenter(
        source, alpha_sr=0.3, alpha_ri=0, alpha_rs=0, p_rd=0, stop_words=(), tokenizer="jieba"
    )
    text = "这部电影非常精彩，我很喜欢"
    seen = set()
    for index in range(20):
        variant = augmenter.augment_one(text, epoch=0, index=index)
        assert " " not in variant and "，" in variant
        seen.add(variant)
    assert len(seen) > 1
    allowed = {s for w in ("电影", "非常", "精彩", "喜欢") for s in source.synonyms(w)}
    assert any(s in variant for variant in seen for s in allowed)


def test_character_tokenizer():
    augmenter = Augmenter({"好": ["佳"]}, tokenizer=list, joiner="", stop_words=())
    variants = augmenter.augment("很好的电影", index=1)
    assert len(variants) == 4
    for variant in Augmenter({"好": ["佳"]}, tokenizer="chars", alpha_ri=0, alpha_rs=0, p_rd=0).augment("很好的电影"):
        assert variant == "很佳的电影"


def test_wordnet_augmentation_keeps_digits_and_apostrophes():
    augmenter = Augmenter("wordnet", alpha_sr=0.5, seed=0)
    text = "I don't think the 2019 movie was good"
    variants = [v for i in range(5) for v in augmenter.augment(text, index=i)]
    assert any(v != text for v in variants)
    for variant in variants:
        if len(variant.split()) >= len(text.split()):  # not a deletion
            assert "don't" in variant and "2019" in variant


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(alpha_sr=1.5), "alpha_sr must be a number in \\[0, 1\\]"),
        (dict(p_rd=-0.1), "p_rd must be"),
        (dict(p_replace=2), "p_replace must be"),
        (dict(num_aug=0), "num_aug must be a positive integer"),
        (dict(seed=-1), "seed must be a non-negative integer"),
        (dict(tokenizer="spacy"), "Unknown tokenizer 'spacy'"),
        (dict(source="thesaurus"), "Unknown synonym source"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Augmenter(**kwargs)


# -- expand_tsv and the command line ----------------------------------------------------


def test_expand_tsv_keeps_labels_and_originals(tmp_path):
    source = tmp_path / "train.tsv"
    rows = [("pos", "a good movie with good actors"), ("neg", "the plot was slow"), ("pos", "")]
    source.write_text("".join(f"{l}\t{t}\n" for l, t in rows) + "\n", encoding="utf-8")
    out = tmp_path / "aug.tsv"
    augmenter = Augmenter(SYNONYMS, num_aug=3)
    written = expand_tsv(source, out, augmenter, progress=False)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert written == len(lines) == len(rows) * 4
    for block, (label, text) in enumerate(rows):
        group = [line.split("\t", 1) for line in lines[block * 4 : block * 4 + 4]]
        assert group[0] == [label, text]
        assert all(row_label == label for row_label, _ in group)
    expand_tsv(source, tmp_path / "again.tsv", augmenter, progress=False)
    assert (tmp_path / "again.tsv").read_text(encoding="utf-8") == "\n".join(lines) + "\n"


def test_expand_tsv_text_first_and_errors(tmp_path):
    source = tmp_path / "train.tsv"
    source.write_text("a good\tmovie\tpos\n", encoding="utf-8")
    out = tmp_path / "aug.tsv"
    expand_tsv(source, out, Augmenter(SYNONYMS, num_aug=2), text_first=True, progress=False)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "a good\tmovie\tpos" and all(l.endswith("\tpos") for l in lines)
    source.write_text("pos\tfine\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{source}:2: no tab"):
        expand_tsv(source, out, Augmenter(), progress=False)


def test_cli_subcommand(tmp_path, capsys):
    source = tmp_path / "train.tsv"
    source.write_text("pos\t这部电影非常精彩\nneg\t故事很无聊\n", encoding="utf-8")
    out = tmp_path / "aug.tsv"
    parser = argparse.ArgumentParser(prog="textrecipes")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["augment", str(source), str(out), "--num-aug", "2", "--seed", "3",
         "--alpha-sr", "0.5", "--p-rd", "0.2", "--source",
         f"file:{SAMPLES / 'synonyms_zh.tsv'}", "--tokenizer", "jieba", "--no-progress"]
    )
    assert args.func(args) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 and [l.split("\t")[0] for l in lines] == ["pos"] * 3 + ["neg"] * 3
    bad = parser.parse_args(["augment", str(tmp_path / "missing.tsv"), str(out), "--source", "none"])
    assert bad.func(bad) == 2
    assert "missing.tsv" in capsys.readouterr().err


# -- on the fly in tf.data -------------------------------------------------------------------


def _dataset(texts):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(
        (np.arange(len(texts), dtype="int64"), texts, np.arange(len(texts)) % 2)
    )


def test_augment_dataset_changes_with_the_epoch():
    import tensorflow as tf

    texts = [f"{TEXT} {i}" for i in range(16)]
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    augmenter = Augmenter(SYNONYMS, seed=0)
    dataset = augment_dataset(_dataset(texts), augmenter, epoch)
    assert dataset.element_spec[0].shape == () and dataset.element_spec[0].dtype == tf.string

    def texts_and_labels():
        return [(t.numpy().decode(), int(l)) for t, l in dataset]

    epoch0 = texts_and_labels()
    assert texts_and_labels() == epoch0  # same epoch, same texts
    assert [l for _, l in epoch0] == [i % 2 for i in range(16)]
    assert epoch0 == [
        (augmenter.augment_one(t, epoch=0, index=i), i % 2) for i, t in enumerate(texts)
    ]
    AugmentEpochCallback(epoch).on_epoch_begin(1)
    epoch1 = texts_and_labels()
    assert epoch1 != epoch0 and texts_and_labels() == epoch1
    # Shuffling before the map does not change what each example becomes.
    shuffled = augment_dataset(_dataset(texts).shuffle(16, seed=1), augmenter, epoch)
    assert sorted(t.numpy().decode() for t, _ in shuffled) == sorted(t for t, _ in epoch1)


def test_callback_is_a_keras_callback_and_import_is_light():
    import subprocess
    import sys

    import keras

    assert issubclass(AugmentEpochCallback, keras.callbacks.Callback)
    code = "import sys, textrecipes.augment.eda; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_augment_dataset_inside_fit():
    import keras
    import tensorflow as tf

    seen = []

    class Recording(Augmenter):
        def augment_one(self, text, *, epoch, index):
            seen.append((epoch, index))
            return super().augment_one(text, epoch=epoch, index=index)

    texts = [f"{TEXT} {i}" for i in range(8)]
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    train = augment_dataset(_dataset(texts), Recording(SYNONYMS), epoch)
    train = train.map(
        lambda text, label: (tf.strings.length(text)[None] / 100, label)
    ).batch(4)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(
        train, epochs=3, callbacks=[AugmentEpochCallback(epoch)], shuffle=False, verbose=0
    )
    assert sorted(set(seen)) == [(e, i) for e in range(3) for i in range(8)]
    assert int(epoch.numpy()) == 2
