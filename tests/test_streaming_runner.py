"""The streamed classification run (data.streaming): counting pass, hash splits, shards, bad lines, auto, run, resume."""

import json
import os
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from textrecipes.data import stream_splits
from textrecipes.data.readers import read_classification
from textrecipes.data.records import DataError
from textrecipes.data.stream_splits import count_splits, data_files, split_ids, split_stream, use_streaming
from textrecipes.export.predictors import Predictor
from textrecipes.recipe.loading import RecipeError, load_recipe, missing_files
from textrecipes.run.harness import run
from textrecipes.tasks.streaming import StreamingClassificationTask
from textrecipes.text.tokenization import Vocabulary, tokenize
from textrecipes.workflows.train import task_for, train

from conftest import free_ports

WORD = {"split": "word", "lowercase": True}
BAD = ["a line without a tab\n", "pos\t   \n", "\tan empty label\n", "maybe\tan unknown label\n", "pos\ttoo\tmany\n"]


def separable(path, n, seed=0, bad_every=0):
    """``n`` lines whose label shows in one cue word among random filler; every ``bad_every``-th a bad line."""
    rng = random.Random(seed)
    cues = {"pos": ["great", "superb", "lovely"], "neg": ["awful", "dull", "poor"]}
    filler = [f"w{i}" for i in range(200)]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            label = rng.choice(["pos", "neg"])
            words = rng.choices(filler, k=rng.randint(3, 10)) + [rng.choice(cues[label])]
            rng.shuffle(words)
            f.write(f"{label}\t{' '.join(words)}\n")
            if bad_every and i % bad_every == bad_every - 1:
                f.write(BAD[(i // bad_every) % len(BAD)])
    return str(path)


def texts_of(files, split, labels=("neg", "pos"), **options):
    return [t.decode() for t, _ in split_stream(files, split, list(labels), **options).as_numpy_iterator()]


def test_hash_splits_are_stable_for_a_seed_disjoint_and_cover_every_kept_line(tmp_path):
    path = separable(tmp_path / "a.tsv", 3000)
    first = count_splits([path], seed=3, validation=0.1, test=0.2)
    again = count_splits([path], seed=3, validation=0.1, test=0.2)
    other = count_splits([path], seed=4, validation=0.1, test=0.2)
    assert first.label_counts == again.label_counts and first.label_counts != other.label_counts
    sizes = first.sizes()
    assert sum(sizes.values()) == 3000 and 0.15 < sizes["test"] / 3000 < 0.25 and 0.06 < sizes["validation"] / 3000 < 0.14
    lines = {name: texts_of([path], name, seed=3, validation=0.1, test=0.2) for name in ("train", "validation", "test")}
    assert {name: len(v) for name, v in lines.items()} == sizes
    with open(path) as f:
        everything = sorted(line.rstrip("\n").split("\t")[1] for line in f)
    assert sorted(lines["train"] + lines["validation"] + lines["test"]) == everything
    # The split of a line is a function of its bytes and the seed alone.
    np.testing.assert_array_equal(split_ids(tf.constant(["x", "y"] * 3), 3, 0.1, 0.2).numpy()[:2],
                                  split_ids(tf.constant(["x", "y"]), 3, 0.1, 0.2).numpy())


def test_a_glob_of_three_shards_counts_as_the_concatenated_file(tmp_path):
    whole = separable(tmp_path / "whole.tsv", 2400, bad_every=300)
    with open(whole) as f:
        lines = f.readlines()
    (tmp_path / "shards").mkdir()
    cuts = [0, 800, 1600, len(lines)]
    for i in range(3):
        with open(tmp_path / "shards" / f"part-{i}.tsv", "w") as f:
            f.writelines(lines[cuts[i]:cuts[i + 1]])
    files = data_files(str(tmp_path / "shards" / "part-*.tsv"))
    assert [os.path.basename(p) for p in files] == ["part-0.tsv", "part-1.tsv", "part-2.tsv"]
    options = dict(seed=0, validation=0.1, test=0.1, on_bad_lines="skip", labels=["neg", "pos"], tokenizer=WORD)
    sharded, single = count_splits(files, **options), count_splits([whole], **options)
    assert sharded.label_counts == single.label_counts and sharded.token_counts == single.token_counts
    for field in ("lines_read", "kept"):
        assert sum(getattr(r, field) for r in sharded.reports) == getattr(single.reports[0], field)
    assert sum((r.skipped for r in sharded.reports), type(single.reports[0].skipped)()) == single.reports[0].skipped
    with pytest.raises(DataError, match="no file matches"):
        data_files(str(tmp_path / "nothing-*.tsv"))


def test_bad_lines_give_file_and_line_in_error_mode_and_counts_in_skip_mode(tmp_path):
    path = separable(tmp_path / "bad.tsv", 1000, bad_every=200)
    with open(path, "ab") as f:
        f.write(b"pos\t\xff\xfe not utf-8\n")
    with pytest.raises(DataError, match=r"bad\.tsv:201: wrong column count: expected 2 tab-separated columns, found 1"):
        count_splits([path], labels=["neg", "pos"])
    counted = count_splits([path], labels=["neg", "pos"], on_bad_lines="skip").reports[0]
    expected = read_classification(path, labels=["neg", "pos"], on_bad_lines="skip").report
    assert counted.to_dict() == expected.to_dict()  # the same reasons, counts and file:line messages
    assert counted.skipped["invalid UTF-8"] == 1 and counted.lines_read == counted.kept + sum(counted.skipped.values())


def test_auto_streams_above_the_threshold_or_with_several_files(tmp_path, monkeypatch):
    small = separable(tmp_path / "small.tsv", 50)
    big = tmp_path / "big.tsv"
    with open(big, "wb") as f:  # a sparse file: its size without its bytes
        f.truncate(stream_splits.STREAMING_AUTO_BYTES + 1)
    assert not use_streaming("auto", {"train": [small]}) and use_streaming("auto", {"train": [str(big)]})
    assert use_streaming("auto", {"train": [small, small]}) and not use_streaming(False, {"train": [str(big)]})
    # One file a split, as most recipes give them, stays in memory.
    assert not use_streaming("auto", {"train": [small], "validation": [small], "test": [small]})
    monkeypatch.setattr(stream_splits, "STREAMING_AUTO_BYTES", 100)
    cfg = load_recipe({"data": {"train": small}})
    assert isinstance(task_for(cfg), StreamingClassificationTask)
    assert not isinstance(task_for(load_recipe({"data": {"train": small, "streaming": False}})),
                          StreamingClassificationTask)
    with pytest.raises(RecipeError, match="only data.format = 'label_text' streams"):
        task_for(load_recipe({"data": {"train": "data/samples/conll.txt", "format": "conll", "streaming": True}}))
    # The in-memory path reads one file a split: a list or a glob is refused before the run starts.
    in_memory = load_recipe({"data": {"train": [small, small], "streaming": False}})
    assert "a list or a glob of files is read only by the streamed" in missing_files(in_memory)[0]


def test_streaming_and_in_memory_give_the_same_vocabulary_and_split_sizes(tmp_path):
    files = {name: separable(tmp_path / f"{name}.tsv", n, seed=i)
             for i, (name, n) in enumerate((("train", 1500), ("validation", 200), ("test", 300)))}
    counts = count_splits([files["train"]], validation_files=[files["validation"]], test_files=[files["test"]],
                          validation=0.0, test=0.0, tokenizer=WORD)
    texts = [r.text for r in read_classification(files["train"]).records]
    assert Vocabulary.from_counts(counts.token_counts, max_tokens=150).tokens == \
        Vocabulary.build(tokenize(texts), max_tokens=150).tokens
    assert counts.sizes() == {"train": 1500, "validation": 200, "test": 300}


def test_workers_read_disjoint_shares_by_file_and_by_line_that_together_are_every_line(tmp_path):
    shards = [separable(tmp_path / f"s{i}.tsv", 300, seed=i) for i in range(4)]
    for files, sharding in ((shards, "file"), (shards[:1], "line")):
        counts = count_splits(files, validation=0.0, test=0.0, workers=2)
        assert counts.sharding == sharding
        seen = [texts_of(files, "train", validation=0.0, test=0.0, workers=2, worker=w) for w in range(2)]
        assert [len(s) for s in seen] == counts.worker_examples
        assert sorted(seen[0] + seen[1]) == sorted(texts_of(files, "train", validation=0.0, test=0.0))
        assert counts.worker_lines == [len(s) for s in seen]  # no bad lines here: every line read is an example
    # Line sharding keeps every other line, before parsing: worker 1 starts at line 2.
    with open(shards[0]) as f:
        assert texts_of(shards[:1], "train", validation=0.0, test=0.0, workers=2, worker=1)[0] == \
            f.readlines()[1].rstrip("\n").split("\t")[1]


RECIPE = {"model": {"name": "fasttext", "embedding_dim": 16, "ngram_buckets": 1024, "ngram_dim": 8},
          "train": {"epochs": 3, "batch_size": 32}, "schedule": {"learning_rate": 0.01},
          "data": {"streaming": True, "shuffle_buffer": 500}, "callbacks": {"early_stopping": False}}


def recipe(train_path, **data):
    return {**RECIPE, "data": {**RECIPE["data"], "train": train_path, **data}}


def test_a_streamed_run_trains_and_its_export_reloads_with_the_same_predictions(tmp_path):
    path = separable(tmp_path / "train.tsv", 1500, bad_every=300)
    result = train(recipe(path, on_bad_lines="skip", labels=["neg", "pos"]), run_dir=str(tmp_path / "run"), verbose=0)
    assert result.metrics["accuracy"] > 0.8  # chance is 0.5
    metrics = json.load(open(os.path.join(result.run_dir, "metrics.json")))
    assert metrics["data"][0]["skipped"] == {"wrong column count": 2, "empty text": 1, "empty label": 1,
                                             "label not in the label set": 1}
    assert sum(metrics["splits"].values()) == metrics["data"][0]["kept"] == 1500
    streamed = metrics["streaming"]
    assert {k: sum(v.values()) for k, v in streamed["label_counts"].items()} == metrics["splits"]
    assert metrics["export_check"]["max_abs_diff"] < 1e-5
    assert os.path.exists(os.path.join(result.run_dir, "report.md"))
    texts = ["a great w1 w2", "w3 awful w4", "", "dull"]
    reloaded = Predictor(os.path.join(result.run_dir, "saved_model")).predict_proba(texts)
    np.testing.assert_allclose(reloaded[:, -1], keras.ops.convert_to_numpy(result.model(tf.constant(texts)))[:, 0],
                               atol=1e-5)


class _Epochs(keras.callbacks.Callback):
    """Records the epochs fit begins; raises KeyboardInterrupt (as Ctrl-C) at the start of ``stop_at``."""

    def __init__(self, seen, stop_at=None):
        super().__init__()
        self.seen, self.stop_at = seen, stop_at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.stop_at:
            raise KeyboardInterrupt
        self.seen.append(epoch)


def _watched(seen, stop_at=None):
    class Watched(StreamingClassificationTask):
        def fit_options(self, model):
            options = super().fit_options(model)
            return {**options, "extra_callbacks": [*options["extra_callbacks"], _Epochs(seen, stop_at)]}
    return Watched


def test_an_interrupted_streamed_run_resumes_from_its_backup(tmp_path):
    path = separable(tmp_path / "train.tsv", 800)
    cfg = load_recipe(recipe(path, validation_split=0.2, test_split=0.0))
    run_dir, first, second = str(tmp_path / "run"), [], []
    with pytest.raises(KeyboardInterrupt):
        run(_watched(first, stop_at=2)(cfg), cfg, run_dir=run_dir, verbose=0)
    assert first == [0, 1] and not os.path.exists(os.path.join(run_dir, "metrics.json"))
    result = run(_watched(second)(cfg), cfg, run_dir=run_dir, verbose=0)
    assert second == [2]  # only the epoch the backup did not hold
    with open(os.path.join(run_dir, "history.csv")) as f:
        assert [line.split(",")[0] for line in f.readlines()[1:]] == ["0", "1", "2"]
    assert len(result.history["loss"]) == 3 and result.metrics["accuracy"] > 0.8


WORKER = """
import sys
import numpy as np
from textrecipes.workflows.train import train
files, run_dir, out = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
r = train({"data": {"train": files, "streaming": True, "validation_split": 0.2, "test_split": 0.0},
           "model": {"name": "fasttext", "embedding_dim": 8, "ngram_buckets": 512, "ngram_dim": 4},
           "train": {"epochs": 2, "batch_size": 16, "strategy": "multi_worker", "bucket": False},
           "export": {"saved_model": False}}, run_dir=run_dir, verbose=2)
np.savez(out, *r.model.get_weights())
"""


def test_two_workers_each_read_their_share_and_finish_with_the_same_weights(tmp_path, shards=1):
    """One file, so every other line each (FILE sharding's shares are checked on the datasets above)."""
    import subprocess
    import sys
    from conftest import ROOT
    files = [separable(tmp_path / f"part-{i}.tsv", 400 // shards, seed=i) for i in range(shards)]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, ",".join(files), str(tmp_path / "run"),
                               str(tmp_path / f"w{i}.npz")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env={**env, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                                   "task": {"type": "worker", "index": i}})},
                              text=True) for i in range(2)]
    outputs = []
    try:
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-4000:]
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    for key in w0.files:
        np.testing.assert_allclose(w0[key], w1[key], atol=1e-6)
    streamed = json.load(open(tmp_path / "run" / "metrics.json"))["streaming"]
    assert streamed["sharding"] == ("file" if shards == 2 else "line") and streamed["workers"] == 2
    assert streamed["lines_read_per_worker"] == [200, 200]
    steps = -(-min(streamed["train_examples_per_worker"]) // 16)  # 16 examples a worker a step (global batch 32)
    assert f"{steps}/{steps}" in outputs[0] and f"{steps}/{steps}" in outputs[1]


def test_the_default_auto_model_streams_as_its_lstm_member_and_says_so(tmp_path):
    """auto's linear member needs the training split in memory: a streamed run trains the LSTM member alone."""
    cfg = load_recipe({"data": {"train": separable(str(tmp_path / "t.tsv"), 20), "streaming": True}})
    assert cfg["model"]["name"] == "auto"  # the default
    task = StreamingClassificationTask(cfg)
    assert cfg["model"]["name"] == "lstm" and "data.streaming" in task.lstm_alone
    in_memory = load_recipe({"data": {"train": str(tmp_path / "t.tsv")}})
    assert task_for(in_memory).lstm_alone is None and in_memory["model"]["name"] == "auto"
