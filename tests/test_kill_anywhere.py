"""Kill anywhere, the short version (issue 18, finding 5): SIGKILL `textrecipes train` at a few seeded moments
(mid-backup, mid-epoch, while metrics.json is written), rerun the same command, and check
that the folder ends valid. benchmarks/bench_kill_anywhere.py runs the same loop at 20+ moments.
"""

import importlib.util
import os
import random

from conftest import ROOT


def _bench():
    spec = importlib.util.spec_from_file_location("_bench_kill_anywhere",
                                                  os.path.join(ROOT, "benchmarks", "bench_kill_anywhere.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_train_killed_at_seeded_moments_is_finished_by_rerunning_the_same_command(tmp_path):
    bench = _bench()
    rng = random.Random(18)
    moments = [
        {"kind": "op", "op": "replace", "path": "backup/epoch-0002", "when": "before", "nth": 1, "stage": "backup"},
        {"kind": "line", "line": "^Epoch 2/", "delay": round(rng.uniform(0, 1.5), 2), "stage": "epoch 2"},
        {"kind": "op", "op": "replace", "path": "metrics.json", "when": "before", "nth": 1, "stage": "metrics"},
    ]
    rows = bench.run_trials(str(tmp_path), moments, epochs=3, lines=120, first_run=False, log=lambda row: None)
    assert [r["problems"] for r in rows] == [[]] * len(moments), rows
    assert rows[0]["killed"] and rows[0]["rerun"] == "resumed after epoch 1", rows[0]
    assert rows[2]["killed"] and rows[2]["rerun"] == "started afresh", rows[2]  # the backup is gone after training
