"""Readers of the five formats, their errors and accounting, and splits."""

import collections
import os

import pytest

from conftest import SAMPLES
from textrecipes.data.readers import read_classification, read_conll, read_corpus, read_pairs
from textrecipes.data.records import DataError, LabeledText
from textrecipes.data.splits import label_counts, split_records


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_samples_read():
    ds = read_classification(os.path.join(SAMPLES, "label_text.tsv"))
    assert len(ds.records) == 6 and {r.label for r in ds.records} == {"pos", "neg"}
    assert ds.records[4].text.startswith("Don't miss it")
    zh = read_classification(os.path.join(SAMPLES, "label_text_zh.tsv"))
    assert zh.records[0].label == "正面"
    pairs = read_pairs(os.path.join(SAMPLES, "question_answer.tsv"))
    assert len(pairs.records) == 5 and pairs.records[1].label == "no"
    titles = read_pairs(os.path.join(SAMPLES, "title_content.tsv"))
    assert titles.records[1] .first == "Moby-Dick" and titles.records[1].label is None
    corpus = read_corpus(os.path.join(SAMPLES, "corpus.txt"))
    assert len(corpus.records) == 3 and corpus.report.skipped["blank line"] == 1
    conll = read_conll(os.path.join(SAMPLES, "conll.txt"))
    assert [len(s.tokens) for s in conll.records] == [3, 7]
    assert conll.records[1].tags[:2] == ("B-PER", "I-PER")


def test_bom_crlf_header_and_text_first(tmp_path):
    path = write(tmp_path, "a.tsv", b"\xef\xbb\xbftext\tlabel\r\ngreat film\tpos\r\nawful\tneg\r\n")
    ds = read_classification(path, text_first=True, header=True)
    assert [(r.text, r.label, r.line) for r in ds.records] == [("great film", "pos", 2), ("awful", "neg", 3)]
    assert ds.report.skipped == {"header": 1}


BAD_FILE = (
    b"pos\tgood\n"          # 1 fine
    b"neg\tbad\textra\n"    # 2 wrong column count
    b"pos\t   \n"           # 3 empty text
    b"\tsome text\n"        # 4 empty label
    b"pos\tbad \xff byte\n"  # 5 invalid UTF-8
    b"maybe\tunsure\n"      # 6 label not in the set
    b"\n"                   # 7 blank line
    b"no tab here\n"        # 8 wrong column count
    b"neg\tfine again\n"    # 9 fine
)


@pytest.mark.parametrize("line,reason", [
    (2, "wrong column count"), (3, "empty text"), (4, "empty label"),
    (5, "invalid UTF-8"), (6, "label not in the label set"),
])
def test_each_bad_line_is_an_error_naming_file_and_line(tmp_path, line, reason):
    lines = BAD_FILE.split(b"\n")
    path = write(tmp_path, "bad.tsv", lines[0] + b"\n" + lines[line - 1] + b"\n")
    with pytest.raises(DataError) as e:
        read_classification(path, labels=["pos", "neg"])
    assert str(e.value).startswith(f"{path}:2: {reason}")


def test_skip_mode_counts_every_kind_and_accounts_for_every_line(tmp_path):
    path = write(tmp_path, "bad.tsv", BAD_FILE)
    ds = read_classification(path, labels=["pos", "neg"], on_bad_lines="skip")
    assert [r.line for r in ds.records] == [1, 9]
    assert ds.report.skipped == collections.Counter({
        "wrong column count": 2, "empty text": 1, "empty label": 1, "invalid UTF-8": 1,
        "label not in the label set": 1, "blank line": 1})
    assert ds.report.lines_read == 9 == ds.report.kept + sum(ds.report.skipped.values())
    assert any(p.startswith(f"{path}:5: invalid UTF-8") for p in ds.report.problems)


def test_bad_mode_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="on_bad_lines"):
        read_classification(write(tmp_path, "a.tsv", b"a\tb\n"), on_bad_lines="ignore")


def test_multi_label(tmp_path):
    path = write(tmp_path, "m.tsv", b"sports,politics\ttext one\nsports\ttext two\n ,\tx\n")
    with pytest.raises(DataError, match=":3: empty label"):
        read_classification(path, multi_label=True)
    ds = read_classification(path, multi_label=True, on_bad_lines="skip")
    assert ds.records[0].label == ("sports", "politics")
    assert label_counts(ds.records) == {"sports": 2, "politics": 1}


def test_pairs_errors(tmp_path):
    path = write(tmp_path, "p.tsv", b"q1\ta1\tyes\nq2\ta2\n\tx\tno\n")
    with pytest.raises(DataError, match=r"p.tsv:2: wrong column count"):
        read_pairs(path)
    ds = read_pairs(path, on_bad_lines="skip")
    assert len(ds.records) == 1 and ds.report.skipped == {"wrong column count": 1, "empty text": 1}


def test_corpus_invalid_utf8(tmp_path):
    path = write(tmp_path, "c.txt", b"one\n\xc3\x28 bad\nthree\n")
    with pytest.raises(DataError, match=r"c.txt:2: invalid UTF-8"):
        read_corpus(path)
    assert len(read_corpus(path, on_bad_lines="skip").records) == 2


def test_conll_errors_and_accounting(tmp_path):
    path = write(tmp_path, "n.txt", b"A B-X\nb O\n\nbad line here\nc O\n\nd O\n")
    with pytest.raises(DataError, match=r"n.txt:4: wrong column count"):
        read_conll(path)
    ds = read_conll(path, on_bad_lines="skip")
    assert [s.tokens for s in ds.records] == [("A", "b"), ("d",)]
    assert ds.report.skipped == {"wrong column count": 2, "sentence break": 2}
    assert ds.report.lines_read == 7
    with pytest.raises(DataError, match=r"n.txt:1: tag not in the tag set"):
        read_conll(path, tags=["O"])


def test_stratified_split_is_seeded_and_stratified():
    recs = [LabeledText(f"t{i}", "a" if i % 4 else "b", i) for i in range(400)]
    tr, va, te = split_records(recs, seed=3)
    assert (len(tr), len(va), len(te)) == (320, 40, 40)
    assert label_counts(te) == {"a": 30, "b": 10}
    assert split_records(recs, seed=3)[2] == te and split_records(recs, seed=4)[2] != te
    assert not set(r.text for r in tr) & set(r.text for r in te)
