"""Property-based tests (hypothesis) of the readers, tokenization, vocabulary,
vectorizer and augmenter on hostile input.

Allowed outcomes for a reader: a correct parse, or `DataError` whose message
starts with ``file:line: ``. Each reader is checked against a small oracle
written from the documented rules (`textrecipes.data.readers` docstring):

* a line is a piece of ``data.split(b"\\n")`` (less the empty piece after a
  final newline); one ``\\r`` ending a line is dropped, a lone ``\\r`` is not a
  line break; a BOM is dropped on line 1 only;
* fields are split on every tab (no quoting) and ``str.strip``-ed;
* ``lines_read`` is the number of lines, ``lines_read == kept + skipped``,
  every line is kept, ignored (blank/header/sentence break) or reported;
* in "error" mode the reader raises exactly the first problem "skip" reports.

Profiles: ``TEXTRECIPES_FUZZ_PROFILE=fuzz`` (default, 200 examples per
property, for ``make test``) or ``torture`` (``TEXTRECIPES_TORTURE_EXAMPLES``
per property, default 800; run by ``benchmarks/bench_torture.py``).
"""

import os
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from textrecipes.augment.eda import Augmenter
from textrecipes.data.readers import read_classification, read_conll, read_corpus, read_pairs
from textrecipes.data.records import DataError
from textrecipes.augment.synonyms import MappingSynonyms
from textrecipes.text.tokenization import OOV_ID, OOV_TOKEN, PAD_ID, TextVectorizer, Vocabulary, tokenize, tokenize_tf

_COMMON = dict(deadline=None, derandomize=False, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("fuzz", max_examples=200, **_COMMON)
settings.register_profile("torture", max_examples=int(os.environ.get("TEXTRECIPES_TORTURE_EXAMPLES", "800")), **_COMMON)
FUZZ = settings.get_profile(os.environ.get("TEXTRECIPES_FUZZ_PROFILE", "fuzz"))
# TensorFlow calls cost milliseconds each: those properties get a quarter of the examples.
FUZZ_TF = settings(FUZZ, max_examples=max(50, FUZZ.max_examples // 4))

# ---------------------------------------------------------------------------
# Strategies: hostile line contents (bytes without b"\n") and whole files.

NASTY = ["\t", "\r", "\x00", "\x0b", "\x1c", "\x85", "\u2028", "\ufeff", "\u0301", "\u202e", "\u200f", "\u200d",
         "😀", "👨\u200d👩\u200d👧", "é", "北京", "שלום", '"', "'", ",", " ", "\u3000", "\xa0", "pos", "neg", "B-LOC", "O"]
NASTY_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\xe2\x82", b"\x80", b"\r", b"\t", b'"a\tb"']

unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
piece = st.one_of(
    unicode_text.map(lambda s: s.encode("utf-8")),
    st.sampled_from(NASTY).map(lambda s: s.encode("utf-8")),
    st.sampled_from(NASTY_BYTES),
    st.binary(max_size=8),
).map(lambda b: b.replace(b"\n", b""))
free_line = st.lists(piece, max_size=6).map(b"".join)
field = st.one_of(free_line, st.sampled_from([b"pos", b"neg", b" pos ", b"a,b", b"", b"  ", b"x", b"O", b"B-LOC"]))
tabbed_line = st.lists(field, min_size=1, max_size=4).map(b"\t".join)
spaced_line = st.lists(field, min_size=1, max_size=3).map(b" ".join)
long_line = st.integers(1, 3000).map(lambda n: b"w" * n)
line_st = st.one_of(free_line, tabbed_line, tabbed_line, spaced_line, long_line, st.just(b""))
ending = st.sampled_from([b"\n", b"\r\n"])
last_ending = st.sampled_from([b"", b"\n", b"\r\n", b"\r"])


@st.composite
def file_bytes(draw, lines=line_st):
    contents = draw(st.lists(lines, max_size=12))
    if draw(st.booleans()) and contents:
        contents[0] = b"\xef\xbb\xbf" + contents[0]
    data = b""
    for i, c in enumerate(contents):
        data += c + (draw(ending) if i < len(contents) - 1 else draw(last_ending))
    return data


limits = st.sampled_from([1_000_000, 1_000_000, 64, 2000])


def write(tmp_path_factory, data: bytes) -> str:
    path = tmp_path_factory.mktemp("fuzz") / "data.tsv"
    path.write_bytes(data)
    return str(path)


# ---------------------------------------------------------------------------
# The oracle: lines as documented, then each format's rules.


def raw_lines(data: bytes) -> list:
    if not data:
        return []
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()
    return parts


def decode_line(raw: bytes, number: int, limit: int):
    """``(text, None)`` or ``(None, reason)`` for one raw line."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > limit:
        return None, "line too long"
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "invalid UTF-8"


def oracle_classification(data, *, text_first, header, labels, multi_label, label_sep, limit):
    """Per line: ("keep", (text, label)) | ("ignore", reason) | ("bad", reason)."""
    out = []
    for number, raw in enumerate(raw_lines(data), start=1):
        line, bad = decode_line(raw, number, limit)
        if bad:
            out.append(("bad", bad))
        elif header and number == 1:
            out.append(("ignore", "header"))
        elif not line.strip():
            out.append(("ignore", "blank line"))
        elif len(line.split("\t")) != 2:
            out.append(("bad", "wrong column count"))
        else:
            a, b = line.split("\t")
            text, label = (a.strip(), b.strip()) if text_first else (b.strip(), a.strip())
            if not text:
                out.append(("bad", "empty text"))
            elif not label:
                out.append(("bad", "empty label"))
            elif multi_label:
                parts = tuple(dict.fromkeys(p.strip() for p in label.split(label_sep) if p.strip()))
                if not parts:
                    out.append(("bad", "empty label"))
                elif labels is not None and any(p not in labels for p in parts):
                    out.append(("bad", "label not in the label set"))
                else:
                    out.append(("keep", (text, parts)))
            elif labels is not None and label not in labels:
                out.append(("bad", "label not in the label set"))
            else:
                out.append(("keep", (text, label)))
    return out


def oracle_pairs(data, *, header, labeled, limit):
    out = []
    for number, raw in enumerate(raw_lines(data), start=1):
        line, bad = decode_line(raw, number, limit)
        if bad:
            out.append(("bad", bad))
            continue
        if header and number == 1:
            out.append(("ignore", "header"))
            continue
        if not line.strip():
            out.append(("ignore", "blank line"))
            continue
        fields = [f.strip() for f in line.split("\t")]
        if labeled is None and len(fields) in (2, 3):
            labeled = len(fields) == 3
        if len(fields) != (3 if labeled else 2):
            out.append(("bad", "wrong column count"))
        elif not fields[0] or not fields[1]:
            out.append(("bad", "empty text"))
        elif labeled and not fields[2]:
            out.append(("bad", "empty label"))
        else:
            out.append(("keep", (fields[0], fields[1], fields[2] if labeled else None)))
    return out


def oracle_corpus(data, *, limit):
    out = []
    for number, raw in enumerate(raw_lines(data), start=1):
        line, bad = decode_line(raw, number, limit)
        if bad:
            out.append(("bad", bad))
        elif not line.strip():
            out.append(("ignore", "blank line"))
        else:
            out.append(("keep", line.strip()))
    return out


def check_accounting(ds, data, oracle):
    """The identity, the line count, and every line accounted for exactly as the oracle says."""
    report = ds.report
    assert report.lines_read == len(raw_lines(data)) == len(oracle)
    assert report.lines_read == report.kept + sum(report.skipped.values())
    expected_skips = {}
    for kind, what in oracle:
        if kind != "keep":
            expected_skips[what] = expected_skips.get(what, 0) + 1
    assert dict(+report.skipped) == expected_skips
    bad_lines = [n for n, (kind, _) in enumerate(oracle, start=1) if kind == "bad"]
    assert [_line_of(p, report.path) for p in report.problems] == bad_lines
    for p, n in zip(report.problems, bad_lines):
        assert p.startswith(f"{report.path}:{n}: {oracle[n - 1][1]}")


def _line_of(message: str, path: str) -> int:
    assert message.startswith(path + ":")
    return int(message[len(path) + 1:].split(":", 1)[0])


def check_error_mode(read, path, skip_ds):
    """"error" mode raises exactly the first problem "skip" mode reports, else returns the same."""
    if skip_ds.report.problems:
        with pytest.raises(DataError) as e:
            read(path, on_bad_lines="error")
        assert str(e.value) == skip_ds.report.problems[0]
    else:
        ds = read(path, on_bad_lines="error")
        assert ds.records == skip_ds.records and ds.report.to_dict() == skip_ds.report.to_dict()


# ---------------------------------------------------------------------------
# Readers.


@FUZZ
@given(data=file_bytes(), text_first=st.booleans(), header=st.booleans(),
       labels=st.sampled_from([None, ("pos", "neg"), ("pos", "neg", "a", "b", "x")]),
       multi_label=st.booleans(), label_sep=st.sampled_from([",", "|", ", "]), limit=limits)
def test_read_classification_matches_the_documented_rules(tmp_path_factory, data, text_first, header, labels,
                                                          multi_label, label_sep, limit):
    path = write(tmp_path_factory, data)
    options = dict(text_first=text_first, header=header, labels=labels, multi_label=multi_label,
                   label_sep=label_sep, max_line_bytes=limit)
    ds = read_classification(path, on_bad_lines="skip", **options)
    oracle = oracle_classification(data, text_first=text_first, header=header, labels=labels,
                                   multi_label=multi_label, label_sep=label_sep, limit=limit)
    check_accounting(ds, data, oracle)
    kept = [(n, what) for n, (kind, what) in enumerate(oracle, start=1) if kind == "keep"]
    assert [(r.line, (r.text, r.label)) for r in ds.records] == kept  # round trip of every kept line
    check_error_mode(lambda p, **kw: read_classification(p, **options, **kw), path, ds)


@FUZZ
@given(data=file_bytes(), header=st.booleans(), labeled=st.sampled_from([None, True, False]), limit=limits)
def test_read_pairs_matches_the_documented_rules(tmp_path_factory, data, header, labeled, limit):
    path = write(tmp_path_factory, data)
    options = dict(header=header, labeled=labeled, max_line_bytes=limit)
    ds = read_pairs(path, on_bad_lines="skip", **options)
    oracle = oracle_pairs(data, header=header, labeled=labeled, limit=limit)
    check_accounting(ds, data, oracle)
    kept = [(n, what) for n, (kind, what) in enumerate(oracle, start=1) if kind == "keep"]
    assert [(r.line, (r.first, r.second, r.label)) for r in ds.records] == kept
    check_error_mode(lambda p, **kw: read_pairs(p, **options, **kw), path, ds)


@FUZZ
@given(data=file_bytes(), limit=limits)
def test_read_corpus_matches_the_documented_rules(tmp_path_factory, data, limit):
    path = write(tmp_path_factory, data)
    ds = read_corpus(path, on_bad_lines="skip", max_line_bytes=limit)
    oracle = oracle_corpus(data, limit=limit)
    check_accounting(ds, data, oracle)
    kept = [(n, what) for n, (kind, what) in enumerate(oracle, start=1) if kind == "keep"]
    assert [(r.line, r.text) for r in ds.records] == kept
    check_error_mode(lambda p, **kw: read_corpus(p, max_line_bytes=limit, **kw), path, ds)


conll_line = st.one_of(spaced_line, spaced_line, free_line, st.just(b""), st.just(b"  "),
                       st.sampled_from([b"\xe5\x8c\x97 B-LOC", b"x O", b"x\tO", b"x O extra", b"\xff O", b"x O\r"]))


@FUZZ
@given(data=file_bytes(conll_line), tags=st.sampled_from([None, ("O", "B-LOC", "x")]), limit=limits)
def test_read_conll_matches_the_documented_rules(tmp_path_factory, data, tags, limit):
    path = write(tmp_path_factory, data)
    ds = read_conll(path, tags=tags, on_bad_lines="skip", max_line_bytes=limit)
    # Oracle: group non-blank lines into sentences; a sentence is bad at its first bad line.
    sentences, current, breaks = [], [], 0
    for number, raw in enumerate(raw_lines(data), start=1):
        line, bad = decode_line(raw, number, limit)
        if bad is None and not line.strip():
            breaks += 1
            if current:
                sentences.append(current)
            current = []
            continue
        if bad is None:
            fields = line.split()
            if len(fields) != 2:
                bad = "wrong column count"
            elif tags is not None and fields[1] not in tags:
                bad = "tag not in the tag set"
        current.append((number, bad, line))
    if current:
        sentences.append(current)
    report = ds.report
    assert report.lines_read == len(raw_lines(data))
    assert report.lines_read == report.kept + sum(report.skipped.values())
    assert report.skipped.get("sentence break", 0) == breaks
    good = [s for s in sentences if all(bad is None for _, bad, _ in s)]
    assert [(r.line, r.tokens, r.tags) for r in ds.records] == [
        (s[0][0], tuple(x.split()[0] for _, _, x in s), tuple(x.split()[1] for _, _, x in s)) for s in good]
    assert report.kept == sum(len(s) for s in good)
    first_bad = [next((n, bad) for n, bad, _ in s if bad) for s in sentences if s not in good]
    assert [(_line_of(p, report.path), p.split(": ")[1]) for p in report.problems] == [
        (n, bad) for n, bad in first_bad]
    check_error_mode(lambda p, **kw: read_conll(p, tags=tags, max_line_bytes=limit, **kw), path, ds)


@pytest.mark.parametrize("size,ok", [(1_000_000, True), (1_000_001, False), (3_000_000, False)])
@pytest.mark.parametrize("terminator", [b"\n", b"\r\n", b""])
def test_megabyte_lines_at_the_default_limit(tmp_path, size, ok, terminator):
    text = b"x" * (size - 4)
    path = tmp_path / "long.tsv"
    path.write_bytes(b"pos\tok\n" + b"neg\t" + text + terminator + b"pos\tafter\n")
    if not terminator:
        path.write_bytes(b"pos\tok\n" + b"neg\t" + text)
    ds = read_classification(str(path), on_bad_lines="skip")
    lines = 2 if not terminator else 3
    assert ds.report.lines_read == lines and ds.report.kept + sum(ds.report.skipped.values()) == lines
    if ok:
        assert len(ds.records[1].text) == size - 4
    else:
        assert ds.report.skipped == {"line too long": 1}
        with pytest.raises(DataError, match=rf"^{path}:2: line too long: longer than 1000000 bytes"):
            read_classification(str(path))


def test_quoted_tab_is_two_columns_and_lone_cr_is_not_a_line_break(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_bytes(b'pos\t"a\tb"\nneg\tone\rtwo\r\nneg\ttrailing\r')
    ds = read_classification(str(path), on_bad_lines="skip")
    assert ds.report.skipped == {"wrong column count": 1} and ds.report.lines_read == 3
    assert [(r.text, r.line) for r in ds.records] == [("one\rtwo", 2), ("trailing", 3)]
    with pytest.raises(DataError, match=r":1: wrong column count: expected 2 tab-separated columns, found 3"):
        read_classification(str(path))


def test_bad_arguments_are_clear_errors(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_bytes(b"pos\ta\n")
    with pytest.raises(ValueError, match="label_sep"):
        read_classification(str(path), multi_label=True, label_sep="")
    with pytest.raises(ValueError, match="labels must be a list"):
        read_classification(str(path), labels="pos")
    with pytest.raises(ValueError, match="max_line_bytes"):
        read_corpus(str(path), max_line_bytes=0)


# ---------------------------------------------------------------------------
# Tokenization, vocabulary, vectorizer.

texts_st = st.lists(st.one_of(unicode_text, st.lists(st.sampled_from(NASTY), max_size=8).map("".join),
                              st.text(max_size=30).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))),
                    min_size=1, max_size=8)


def is_separator(c: str) -> bool:
    return c.isspace() or unicodedata.category(c) in ("Cc", "Zs", "Zl", "Zp")


@FUZZ_TF
@given(texts=texts_st, split=st.sampled_from(["word", "char"]))
def test_tokenize_keeps_every_non_space_character(texts, split):
    tokens = tokenize(texts, split=split, lowercase=False)
    assert len(tokens) == len(texts)
    for text, row in zip(texts, tokens):
        assert all(t and not any(is_separator(c) for c in t) for t in row)
        assert "".join(row) == "".join(c for c in text if not is_separator(c))  # nothing lost, nothing added
        if split == "char":
            assert all(len(t) == 1 for t in row)
    lowered = tokenize(texts, split=split)
    assert all(t and not any(is_separator(c) for c in t) for row in lowered for t in row)


@FUZZ_TF
@given(raw=st.lists(st.binary(max_size=40), min_size=1, max_size=6), split=st.sampled_from(["word", "char"]))
def test_tokenize_tf_survives_invalid_utf8(raw, split):
    import tensorflow as tf

    rows = tokenize_tf(tf.constant(raw, dtype=tf.string), split=split).to_list()
    assert len(rows) == len(raw)
    for row in rows:
        for t in row:
            t.decode("utf-8")  # invalid bytes come out as U+FFFD, never as broken UTF-8


@FUZZ
@given(text=st.text(max_size=10), pos=st.integers(0, 10), cp=st.integers(0xD800, 0xDFFF))
def test_lone_surrogates_are_a_clear_value_error(text, pos, cp):
    bad = text[:pos] + chr(cp) + text[pos:]
    with pytest.raises(ValueError, match="not valid Unicode"):
        tokenize(["fine", bad])
    with pytest.raises(ValueError, match="not valid Unicode"):
        Vocabulary([bad])


token_lists = st.lists(st.lists(st.one_of(st.text(min_size=0, max_size=4), st.sampled_from(["a", "b", "c", OOV_TOKEN, ""])),
                                max_size=10), max_size=8)


def _no_surrogates(lists):
    return not any(0xD800 <= ord(c) <= 0xDFFF for tokens in lists for t in tokens for c in t)


@FUZZ
@given(lists=token_lists.filter(_no_surrogates), max_tokens=st.one_of(st.none(), st.integers(3, 12)),
       min_freq=st.integers(1, 3), seed=st.randoms(use_true_random=False))
def test_vocabulary_build_limits_order_and_json_round_trip(tmp_path_factory, lists, max_tokens, min_freq, seed):
    vocab = Vocabulary.build(lists, max_tokens=max_tokens, min_freq=min_freq)
    counts = {}
    for tokens in lists:
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
    eligible = sorted((t for t, c in counts.items() if c >= min_freq and t not in ("", OOV_TOKEN)),
                      key=lambda t: (-counts[t], t))
    assert vocab.tokens == (eligible if max_tokens is None else eligible[: max_tokens - 2])
    assert max_tokens is None or len(vocab) <= max_tokens
    assert vocab.ids(vocab.tokens) == list(range(2, len(vocab)))
    shuffled = list(lists)
    seed.shuffle(shuffled)
    assert Vocabulary.build(shuffled, max_tokens=max_tokens, min_freq=min_freq).tokens == vocab.tokens
    path = tmp_path_factory.mktemp("vocab") / "v.json"
    vocab.save(path)
    assert Vocabulary.load(path).tokens == vocab.tokens


VOCAB = ["a", "b", "é", "北", "😀", "\u0301", "don't", "!", ",", "pos", "\ufeff"]
_VECTORIZERS = {}


def vectorizer(max_length, pad_to):
    key = (max_length, pad_to)
    if key not in _VECTORIZERS:
        _VECTORIZERS[key] = TextVectorizer(VOCAB, max_length=max_length, pad_to=pad_to)
    return _VECTORIZERS[key]


vec_texts = st.lists(st.one_of(st.lists(st.sampled_from(VOCAB + NASTY + ["A", "B", " ", "  "]), max_size=12).map("".join),
                               unicode_text), min_size=1, max_size=6)


@FUZZ_TF
@given(texts=vec_texts, max_length=st.sampled_from([1, 3, 8]), pad_to=st.sampled_from(["longest", "max_length"]))
def test_vectorizer_ids_match_tokenize_and_vocabulary(texts, max_length, pad_to):
    out = vectorizer(max_length, pad_to)(texts).numpy()
    vocab = Vocabulary(VOCAB)
    rows = [vocab.ids(tokens[:max_length]) or [OOV_ID] for tokens in tokenize(texts)]
    width = max_length if pad_to == "max_length" else max(len(r) for r in rows)
    assert out.shape == (len(texts), width)
    assert out.tolist() == [r + [PAD_ID] * (width - len(r)) for r in rows]
    assert (out[:, 0] != PAD_ID).all() and out.max() < len(VOCAB) + 2


@FUZZ_TF
@given(raw=st.lists(st.binary(max_size=30), min_size=1, max_size=6))
def test_vectorizer_survives_raw_bytes(raw):
    import tensorflow as tf

    out = vectorizer(8, "longest")(tf.constant(raw, dtype=tf.string)).numpy()
    assert out.shape[0] == len(raw) and (out[:, 0] != PAD_ID).all() and out.min() >= 0 and out.max() < len(VOCAB) + 2


# ---------------------------------------------------------------------------
# Augmentation, with a dict of synonyms (no WordNet).

syn_word = st.text(st.sampled_from("abcdefgh"), min_size=1, max_size=5)
synonym_dicts = st.dictionaries(syn_word, st.lists(syn_word, min_size=1, max_size=3), max_size=6)
aug_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.text(max_size=40),  # lone surrogates too: augmentation never encodes
    st.lists(st.one_of(syn_word, st.sampled_from(NASTY + ["Abc", "ABC", "(abc!", "the", "2019"])), max_size=12).map(" ".join),
)


@FUZZ
@given(text=aug_text, mapping=synonym_dicts, seed=st.integers(0, 2**32), epoch=st.integers(0, 50),
       index=st.integers(0, 10**6), num_aug=st.integers(1, 5),
       alphas=st.tuples(*[st.sampled_from([0.0, 0.1, 0.5, 1.0])] * 4))
def test_augmenter_is_total_deterministic_and_only_uses_known_words(text, mapping, seed, epoch, index, num_aug, alphas):
    sr, ri, rs, rd = alphas
    options = dict(alpha_sr=sr, alpha_ri=ri, alpha_rs=rs, p_rd=rd, num_aug=num_aug, seed=seed)
    augmenter = Augmenter(MappingSynonyms(mapping), **options)
    variants = augmenter.augment(text, epoch=epoch, index=index)
    assert len(variants) == num_aug and all(isinstance(v, str) for v in variants)
    assert variants == Augmenter(dict(mapping), **options).augment(text, epoch=epoch, index=index)
    one = augmenter.augment_one(text, epoch=epoch, index=index)
    assert one == augmenter.augment_one(text, epoch=epoch, index=index)
    tokens = text.split()
    known = set(tokens)
    words = {w.lower() for w in mapping} | {s.lower() for syns in mapping.values() for s in syns}
    n = len(tokens)
    for v in variants + [one]:
        out = v.split()
        if not tokens:
            assert v == text
            continue
        assert 1 <= len(out) <= n + max(1, int(ri * n))
        for t in out:  # an original token, or a synonym (with the original's punctuation around it)
            assert t in known or any(w in t.lower() for w in words), (t, v)
