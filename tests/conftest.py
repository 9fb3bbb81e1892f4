"""Shared fixtures: a small real training run reused by several tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RT = os.path.join(ROOT, "data", "rotten_tomatoes")
SAMPLES = os.path.join(ROOT, "data", "samples")


def rt_path(split: str) -> str:
    path = os.path.join(RT, f"{split}.tsv")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `make data` (make test does it)")
    return path


def write_slice(src: str, dst: str, n: int) -> str:
    with open(src, encoding="utf-8") as f:
        lines = f.readlines()[:n]
    with open(dst, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return dst


def folder_hashes(folder: str) -> dict:
    """``{relative path: sha256}`` of every file under ``folder``: what "the user's folder is untouched" compares."""
    import hashlib

    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def free_ports(n: int) -> list[int]:
    """``n`` localhost ports free right now, for the multi-worker tests' TF_CONFIG clusters."""
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


SMALL_MODEL = {"embedding_dim": 32, "units": 32, "ngram_buckets": 4096, "ngram_dim": 16}


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """Trains the default recipe, shrunk, on 4,000 Rotten Tomatoes reviews (about 20 s)."""
    from textrecipes.workflows.train import train

    tmp = tmp_path_factory.mktemp("rt_small")
    recipe = {
        "name": "rt_small",
        "data": {
            "train": write_slice(rt_path("train"), str(tmp / "train.tsv"), 4000),
            "validation": rt_path("validation"),
            "test": rt_path("test"),
        },
        "model": SMALL_MODEL,
        "train": {"epochs": 3, "batch_size": 32},
    }
    return train(recipe, run_dir=str(tmp / "run"), verbose=0)
