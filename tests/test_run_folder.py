"""Nothing of the user's is ever lost: run folders are only ever our own folders (issue 18, findings 1-2)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, SAMPLES
from textrecipes.recipe.loading import RecipeError, load_recipe
from textrecipes.run.folder import LOCK, MARKER, RunLock, is_run_folder, prepare_run_dir
from textrecipes.export.metadata import RunFolderError
from textrecipes.data.atomic import atomic_folder, atomic_write

TRAIN = os.path.join(SAMPLES, "label_text.tsv")


def _user_folder(path):
    path.mkdir(parents=True, exist_ok=True)
    (path / "thesis.txt").write_text("years of work\n")
    (path / "history.csv").write_text("my own history\n")
    (path / "report.md").write_text("my own report\n")
    return {p.name: p.read_text() for p in path.iterdir()}


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "textrecipes.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "/abs/path", "a/b", "a\\b", " "])
def test_run_names_that_would_escape_runs_are_refused(name):
    with pytest.raises(RecipeError, match="plain folder name"):
        load_recipe({"name": name, "data": {"train": TRAIN}})


@pytest.mark.parametrize("run_dir", [".", "./", "a/..", "../x", "/tmp/x"])
def test_recipe_run_dir_outside_or_equal_to_the_working_folder_is_refused(run_dir):
    with pytest.raises(RecipeError, match="'run_dir'"):
        load_recipe({"run_dir": run_dir, "data": {"train": TRAIN}})


def test_a_new_folder_gets_the_marker_first(tmp_path):
    run_dir = tmp_path / "run"
    prepare_run_dir(str(run_dir), overwrite=False)
    marker = json.loads((run_dir / MARKER).read_text())
    assert sorted(os.listdir(run_dir)) == [MARKER, LOCK] and marker["kind"] == "train" and len(marker["run_id"]) == 32
    assert is_run_folder(str(run_dir))


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_of_the_users_files_is_refused_and_left_untouched(tmp_path, overwrite):
    before = _user_folder(tmp_path / "my_folder")
    with pytest.raises(RunFolderError, match="not a textrecipes run folder"):
        prepare_run_dir(str(tmp_path / "my_folder"), overwrite=overwrite)
    assert {p.name: p.read_text() for p in (tmp_path / "my_folder").iterdir()} == before


def test_a_users_metrics_json_does_not_make_a_run_folder(tmp_path):
    before = _user_folder(tmp_path / "f")
    (tmp_path / "f" / "metrics.json").write_text("{}")
    with pytest.raises(RunFolderError):
        prepare_run_dir(str(tmp_path / "f"), overwrite=True)
    assert (tmp_path / "f" / "thesis.txt").read_text() == before["thesis.txt"]


def test_the_working_folder_home_and_root_are_never_run_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / MARKER).write_text("{}")  # even a marker does not make the working folder replaceable
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "keep.txt").write_text("mine")
    for path in (".", str(tmp_path), str(tmp_path.parent), os.path.expanduser("~"), os.sep):
        with pytest.raises(RunFolderError, match="cannot be a run folder"):
            prepare_run_dir(path, overwrite=True)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_overwrite_replaces_only_a_finished_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    prepare_run_dir(str(run_dir), overwrite=False)
    first = json.loads((run_dir / MARKER).read_text())["run_id"]
    (run_dir / "metrics.json").write_text("{}")
    (run_dir / "saved_model").mkdir()
    with pytest.raises(FileExistsError):
        prepare_run_dir(str(run_dir), overwrite=False)
    prepare_run_dir(str(run_dir), overwrite=True)
    assert sorted(os.listdir(run_dir)) == [MARKER, LOCK] and json.loads((run_dir / MARKER).read_text())["run_id"] != first


def test_an_interrupted_run_is_kept_for_resuming(tmp_path):
    run_dir = tmp_path / "run"
    prepare_run_dir(str(run_dir), overwrite=False)
    (run_dir / "backup").mkdir()
    prepare_run_dir(str(run_dir), overwrite=True)  # not finished: nothing to replace, resume
    assert (run_dir / "backup").is_dir()


def test_a_run_folder_from_before_markers_is_recognised(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    for name in ("recipe.toml", "labels.json", "metrics.json", "history.csv"):
        (run_dir / name).write_text("x")
    (run_dir / "saved_model").mkdir()
    prepare_run_dir(str(run_dir), overwrite=True)
    assert sorted(os.listdir(run_dir)) == [MARKER, LOCK]


def test_a_file_is_not_a_run_folder(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(RunFolderError, match="is a file"):
        prepare_run_dir(str(tmp_path / "f"), overwrite=True)
    assert (tmp_path / "f").read_text() == "mine"


def test_train_with_overwrite_on_a_users_folder_exits_2_and_deletes_nothing(tmp_path):
    before = _user_folder(tmp_path / "my_folder")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "x"\n[data]\ntrain = "{TRAIN}"\n[train]\nepochs = 1\n')
    done = _cli("train", str(recipe), "--run-dir", "my_folder", "--overwrite", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "not a textrecipes run folder" in done.stderr
    assert {p.name: p.read_text() for p in (tmp_path / "my_folder").iterdir()} == before
    done = _cli("train", str(recipe), "--run-dir", ".", "--overwrite", cwd=tmp_path)
    assert done.returncode == 2 and "cannot be a run folder" in done.stderr, done.stderr
    assert (tmp_path / "r.toml").exists() and (tmp_path / "my_folder" / "thesis.txt").exists()


def test_augment_onto_its_own_input_is_refused(tmp_path):
    data = tmp_path / "f.tsv"
    data.write_text("pos\ta good film\nneg\ta dull plot\n")
    done = _cli("augment", str(data), str(data), "--source", "none", "--no-progress", cwd=tmp_path)
    assert done.returncode == 2 and "the output is the input" in done.stderr, done.stderr
    assert data.read_text() == "pos\ta good film\nneg\ta dull plot\n"


def test_augment_error_leaves_no_partial_output_and_keeps_the_old_one(tmp_path):
    data = tmp_path / "f.tsv"
    data.write_text("".join(f"pos\tgood film number {i}\n" for i in range(40)) + "no tab on line 41\n")
    out = tmp_path / "out.tsv"
    out.write_text("the previous output\n")
    done = _cli("augment", str(data), str(out), "--source", "none", "--num-aug", "2", "--no-progress", cwd=tmp_path)
    assert done.returncode == 2 and ":41:" in done.stderr, done.stderr
    assert out.read_text() == "the previous output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.tsv", "out.tsv"]  # no temporary file left


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(str(path)) as f:
            f.write("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.json"]


# ---------------------------------------------------------------------------
# Finding 5: one run at a time in a folder; finding 6: resuming only the same recipe; finding 3: NaN.


def test_a_second_run_into_a_locked_folder_is_refused_and_the_lock_dies_with_its_process(tmp_path):
    run_dir = tmp_path / "run"
    with prepare_run_dir(str(run_dir), overwrite=False):
        with pytest.raises(RunFolderError, match=r"another run is writing into this folder \(pid \d+"):
            prepare_run_dir(str(run_dir), overwrite=True)
        code = ("import sys; from textrecipes.run.folder import RunLock\n"
                "try:\n    RunLock(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__); sys.exit(3)\n")
        other = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": ROOT})
        assert other.returncode == 3 and "RunFolderError" in other.stdout
    prepare_run_dir(str(run_dir), overwrite=False).release()  # released: the folder is usable again
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from textrecipes.run.folder import RunLock\n"
                               "lock = RunLock(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(run_dir)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunFolderError, match="another run"):
        RunLock(str(run_dir))
    holder.kill()  # SIGKILL: no clean-up ran, yet the OS released the lock
    holder.wait()
    RunLock(str(run_dir)).release()


def _interrupted(run_dir, recipe):
    prepare_run_dir(str(run_dir), overwrite=False, recipe=recipe).release()
    (run_dir / "backup").mkdir()
    (run_dir / "backup" / "epoch-0001.weights.h5").write_text("x")


def test_an_interrupted_run_resumes_only_under_the_same_recipe(tmp_path):
    recipe = load_recipe({"data": {"train": TRAIN}})
    run_dir = tmp_path / "run"
    _interrupted(run_dir, recipe)
    prepare_run_dir(str(run_dir), overwrite=False, recipe=recipe).release()  # the same recipe: resumed
    assert (run_dir / "backup").is_dir()
    moved = load_recipe({"data": {"train": TRAIN}, "export": {"tflite": True}, "name": "elsewhere"})
    prepare_run_dir(str(run_dir), overwrite=False, recipe=moved).release()  # what it writes after: still resumed
    assert (run_dir / "backup").is_dir()
    changed = load_recipe({"data": {"train": TRAIN}, "model": {"units": 7}, "schedule": {"learning_rate": 0.01}})
    with pytest.raises(RunFolderError, match=r"another recipe \(model\.units: 128 -> 7; schedule\.learning_rate: "
                                             r"[0-9.e-]+ -> 0\.01\).*--overwrite"):
        prepare_run_dir(str(run_dir), overwrite=False, recipe=changed)
    assert (run_dir / "backup" / "epoch-0001.weights.h5").exists()  # refused: nothing removed
    prepare_run_dir(str(run_dir), overwrite=True, recipe=changed).release()  # asked to start afresh
    assert sorted(os.listdir(run_dir)) == [MARKER, LOCK]
    assert json.loads((run_dir / MARKER).read_text())["recipe"]["model.units"] == 7


def test_a_diverging_run_stops_with_advice_and_exports_nothing(tmp_path):
    from textrecipes.training import TrainingError
    from textrecipes.workflows.train import train

    recipe = {"data": {"train": TRAIN, "validation": TRAIN, "test": TRAIN},
              "model": {"embedding_dim": 8, "units": 8, "ngram_buckets": 0},
              "optimizer": {"name": "sgd"}, "schedule": {"name": "constant", "learning_rate": 1e30},
              "train": {"epochs": 2, "batch_size": 2}}
    with pytest.raises(TrainingError, match="training diverged.*nothing was evaluated or exported.*learning rate"):
        train(recipe, run_dir=str(tmp_path / "run"), verbose=0)
    left = set(os.listdir(tmp_path / "run"))
    assert not left & {"metrics.json", "model.keras", "saved_model", "model_card.json"}, left


def test_a_kill_while_overwrite_empties_a_finished_run_leaves_a_folder_that_is_ours_and_not_finished(tmp_path,
                                                                                                    monkeypatch):
    run_dir = tmp_path / "run"
    prepare_run_dir(str(run_dir), overwrite=False).release()
    for name in ("metrics.json", "history.csv", "report.md", "recipe.toml"):
        (run_dir / name).write_text("x")
    (run_dir / "saved_model").mkdir()
    removed = []

    def dies_on_the_second(path, *a, **k):
        if removed:
            raise KeyboardInterrupt  # the process is killed here
        removed.append(os.path.basename(path))
        os.unlink(path)

    monkeypatch.setattr(os, "remove", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        prepare_run_dir(str(run_dir), overwrite=True)
    monkeypatch.undo()
    assert removed == ["metrics.json"]  # the "finished" signal goes first...
    assert is_run_folder(str(run_dir)) and (run_dir / MARKER).exists()  # ...and the marker never
    prepare_run_dir(str(run_dir), overwrite=False).release()  # so the same command goes on, without --overwrite


def test_a_resumed_run_folder_loses_the_half_written_files_of_the_killed_run(tmp_path):
    import stat

    run_dir = tmp_path / "run"
    prepare_run_dir(str(run_dir), overwrite=False).release()
    (run_dir / "backup").mkdir()
    (run_dir / "backup" / "epoch-0001.weights.h5").write_text("complete")
    leftovers = [".metrics.json.k2j4x.tmp", ".model.partial.keras", "backup/epoch-0002.partial.weights.h5",
                 ".saved_model.ab12.partial/variables/x"]
    for name in leftovers:
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_text("half")
    (run_dir / "history.csv").write_text("epoch,loss\n0,1.0\n")
    prepare_run_dir(str(run_dir), overwrite=False).release()
    left = sorted(os.path.relpath(os.path.join(b, f), run_dir) for b, _, fs in os.walk(run_dir) for f in fs)
    assert left == sorted([MARKER, LOCK, "backup/epoch-0001.weights.h5", "history.csv"]), left
    with atomic_folder(str(tmp_path / "export")) as tmp:  # an exported folder is not private to its owner
        open(os.path.join(tmp, "a"), "w").close()
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(tmp_path / "export").st_mode) == 0o777 & ~mask


def test_a_run_killed_before_its_marker_was_in_place_leaves_a_folder_the_next_run_takes(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / LOCK).write_text("pid 1 since then")  # the lock comes first, then the marker, written atomically
    (run_dir / f".{MARKER}.x8k2.tmp").write_text('{"textrec')
    prepare_run_dir(str(run_dir), overwrite=False).release()
    assert sorted(os.listdir(run_dir)) == [MARKER, LOCK]
    (run_dir / MARKER).unlink()
    prepare_run_dir(str(run_dir), overwrite=False).release()  # the lock alone
    assert sorted(os.listdir(run_dir)) == [MARKER, LOCK]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / ".draft.tmp").write_text("the user's")  # any other temporary name is not ours
    with pytest.raises(RunFolderError, match="not a textrecipes run folder"):
        prepare_run_dir(str(tmp_path / "mine"), overwrite=True)
