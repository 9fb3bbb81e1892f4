"""Prediction at scale (issue 16): ``predict`` streams its input, one output line per input line, in bounded memory."""

import io
import os
import tracemalloc

import numpy as np
import pytest

from conftest import rt_path
from textrecipes.cli import main
from textrecipes.data.lines import InputLines
from textrecipes.export.predict_stream import SORT_WINDOW, write_predictions
from textrecipes.export.predictors import Predictor


def _reviews(n: int) -> list[str]:
    """``n`` real review texts, the Rotten Tomatoes training file's repeated as often as needed."""
    with open(rt_path("train"), encoding="utf-8") as f:
        texts = [line.rstrip("\n").split("\t", 1)[1] for line in f]
    return [texts[i % len(texts)] for i in range(n)]


class Counting:
    """An iterable that counts how many items have been taken from it."""

    def __init__(self, items):
        self.items, self.taken = items, 0

    def __iter__(self):
        for item in self.items:
            self.taken += 1
            yield item


@pytest.fixture(scope="module")
def predictor(small_run):
    return Predictor(small_run.run_dir)


def test_one_output_line_per_input_line_with_blank_and_bad_lines(small_run, predictor, tmp_path, capsys):
    data = tmp_path / "in.txt"
    data.write_bytes(b"a wonderful, moving film\n\n   \n\xff bad\r\nan awful mess\r\n\t\nthe last line, no newline")
    assert main(["predict", small_run.run_dir, str(data), "--on-bad-lines", "skip", "--with-text"]) == 0
    out = capsys.readouterr()
    rows = out.out.split("\n")
    assert rows[-1] == "" and len(rows[:-1]) == 7  # seven input lines, seven output lines
    rows = rows[:-1]
    assert [rows[i] for i in (1, 2, 3, 5)] == ["\t\t"] * 4  # empty label, probability and text columns
    texts = ["a wonderful, moving film", "an awful mess", "the last line, no newline"]
    expected = predictor.predict(texts)
    for row, text, (label, prob) in zip([rows[0], rows[4], rows[6]], texts, expected):
        assert row == f"{label}\t{prob:.4f}\t{text}"  # the CRLF's "\r" is gone
    assert "3 blank input line(s)" in out.err and "1 input line(s) not valid UTF-8" in out.err

    assert main(["predict", small_run.run_dir, str(data)]) == 2  # error mode: the bad line is named
    assert f"{data}:4: invalid UTF-8" in capsys.readouterr().err


def test_output_file_and_probabilities(small_run, predictor, tmp_path, capsys):
    texts = _reviews(300)
    data = tmp_path / "in.txt"
    data.write_text("\n".join(texts[:100] + [""] + texts[100:]) + "\n", encoding="utf-8")
    target = tmp_path / "out.tsv"
    assert main(["predict", small_run.run_dir, str(data), "--output", str(target), "--probabilities",
                 "--batch-size", "64"]) == 0
    assert capsys.readouterr().out == ""  # everything went to the file
    rows = target.read_text(encoding="utf-8").split("\n")[:-1]
    assert rows[0].split("\t") == predictor.labels and len(rows) == 1 + 301
    assert rows[101] == "\t" * (len(predictor.labels) - 1)
    got = np.array([[float(x) for x in row.split("\t")] for row in rows[1:101] + rows[102:]])
    np.testing.assert_allclose(got, predictor.predict_proba(texts), atol=2e-6)

    before = data.read_bytes()
    assert main(["predict", small_run.run_dir, str(data), "--output", str(data)]) == 2
    assert "is the input file" in capsys.readouterr().err and data.read_bytes() == before

    broken = tmp_path / "broken.txt"
    broken.write_bytes(("\n".join(texts) + "\n").encode("utf-8") + b"\xff\n")  # the last line is not UTF-8
    failed = tmp_path / "failed.tsv"
    assert main(["predict", small_run.run_dir, str(broken), "-o", str(failed), "--batch-size", "32"]) == 2
    assert not failed.exists() and not [n for n in os.listdir(tmp_path) if n.startswith(".failed")]  # nothing half-written


def test_generator_input_and_stream_batches_equal_a_plain_call(predictor):
    texts = _reviews(600)
    plain = predictor.predict(texts)
    assert predictor.predict(t for t in texts) == plain  # a generator, a plain call: a list, as for a list
    batches = list(predictor.predict(iter(texts), batch_size=256, stream=True))
    # The plain call sorts its 600 texts by length before batching: other batches, so the last float bits differ.
    assert [len(b) for b in batches] == [256, 256, 88]
    assert [r[0] for b in batches for r in b] == [r[0] for r in plain]
    np.testing.assert_allclose([r[1] for b in batches for r in b], [r[1] for r in plain], atol=1e-6)
    probs = list(predictor.predict_proba((t for t in texts), batch_size=200, stream=True))
    np.testing.assert_allclose(np.concatenate(probs), predictor.predict_proba(texts), atol=1e-6)
    frames = list(predictor.predict_proba(texts[:300], batch_size=200, stream=True, as_frame=True))
    assert list(frames[1].index) == list(range(200, 300)) and list(frames[1].columns) == predictor.labels
    assert list(predictor.predict("a fine film", stream=True)) == [[predictor.predict("a fine film")]]

    bad = predictor.predict(texts[:300] + [3], batch_size=256, stream=True)
    assert len(next(bad)) == 256  # the bad element is met only in its own batch, named by its index overall
    with pytest.raises(TypeError, match=r"texts\[300\]: expected a string, got int"):
        next(bad)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        predictor.predict(texts, stream=True, batch_size=0)  # at the call, not at the first next()


def test_stream_reads_no_more_than_one_batch_ahead(predictor):
    source = Counting(_reviews(20_000))
    done = 0
    for batch in predictor.predict(source, batch_size=256, stream=True):
        done += len(batch)
        assert source.taken == done  # the batch just yielded, nothing read ahead
    assert done == 20_000


class _Sink(io.StringIO):
    """An output that checks, at every write, how far the reading side is ahead of the writing side."""

    def __init__(self, source):
        super().__init__()
        self.source, self.lines, self.most_ahead = source, 0, 0

    def write(self, text):
        self.lines += text.count("\n")
        self.most_ahead = max(self.most_ahead, self.source.taken - self.lines)
        return len(text)  # kept nowhere: 20,000 lines of output are not held either


def test_predict_command_on_20000_lines_holds_one_batch(predictor, tmp_path):
    texts = _reviews(20_000)
    for i in range(0, 20_000, 997):
        texts[i] = ""  # blanks throughout: still one output line each
    source = Counting(texts)
    sink = _Sink(source)
    counts = write_predictions(predictor, "label_text", source, sink, batch_size=256)
    assert counts == {"lines": 20_000, "blank": 21, "unreadable": 0} and sink.lines == 20_000
    # never more than the round being predicted (SORT_WINDOW batches) was read ahead of the output
    assert sink.most_ahead <= 256 * SORT_WINDOW

    # The file reader's side, measured: Python memory at its peak stays far below the file's size.
    # Batches of 32 make a round (SORT_WINDOW batches) of 256 lines, a small share of the 20,000.
    data = tmp_path / "big.txt"
    data.write_text("\n".join(texts) + "\n", encoding="utf-8")
    write_predictions(predictor, "label_text", ["warm up the model's call"], _Sink(Counting([])))
    tracemalloc.start()
    try:
        lines = InputLines(str(data))
        counts = write_predictions(predictor, "label_text", lines, _Sink(Counting([])), batch_size=32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counts["lines"] == 20_000 == lines.read
    assert peak < os.path.getsize(data) / 4, (peak, os.path.getsize(data))


def test_texts_sorted_by_length_within_a_round_come_back_in_input_order(predictor):
    """Several batches are sorted by length before the model sees them, then put back: input order is kept."""
    texts = [" ".join([t] * (i % 7 + 1)) for i, t in enumerate(_reviews(300))]  # lengths mixed, 1x to 7x a review
    sorted_ = predictor.predict_proba(texts, batch_size=16)
    in_order = predictor.predict_proba(texts, batch_size=len(texts))  # one batch: nothing reordered
    np.testing.assert_allclose(sorted_, in_order, atol=1e-5)
    assert len({round(float(p), 3) for p in sorted_[:, 0]}) > 50  # rows differ, so a shuffled order would show
    sink = io.StringIO()
    write_predictions(predictor, "label_text", texts, sink, batch_size=16, window=4)
    rows = [line.split("\t") for line in sink.getvalue().splitlines()]
    expected = predictor._decide(in_order, 0.5)
    assert [label for label, _ in rows] == [label for label, _ in expected]
    np.testing.assert_allclose([float(p) for _, p in rows], [p for _, p in expected], atol=2e-4)
