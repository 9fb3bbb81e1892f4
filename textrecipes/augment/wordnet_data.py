"""Builds an NLTK WordNet data folder from Debian's WordNet 3.0 files, offline.

`nltk.download("wordnet")` needs the internet. Debian's `wordnet-base` and
`wordnet-sense-index` packages ship the same WordNet 3.0 database, but NLTK
cannot read it where it lies: NLTK only reads folders on `nltk.data.path`,
refuses symlinks that point outside its root, and needs a `lexnames` file that
Debian does not ship. This module copies the files into
`<DIR>/corpora/wordnet/` and writes `lexnames`.

Command line (what `make wordnet` runs after installing the Debian packages):

```
apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index
python -m textrecipes.augment.wordnet_data data/nltk_data
```
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

DEBIAN_WORDNET_DIR = "/usr/share/wordnet"

# The files `nltk.corpus.reader.WordNetCorpusReader` opens (its `_FILES`),
# less `lexnames`, which is written here.
WORDNET_FILES = (
    "cntlist.rev",
    "index.sense",
    "index.adj",
    "index.adv",
    "index.noun",
    "index.verb",
    "data.adj",
    "data.adv",
    "data.noun",
    "data.verb",
    "adj.exc",
    "adv.exc",
    "noun.exc",
    "verb.exc",
)

# The 45 lexicographer files, numbered in the order of the lexnames(5WN)
# manual page; the last column is the part-of-speech number
# (1 noun, 2 verb, 3 adjective, 4 adverb).
LEXNAMES = (
    ("adj.all", 3),
    ("adj.pert", 3),
    ("adv.all", 4),
    ("noun.Tops", 1),
    ("noun.act", 1),
    ("noun.animal", 1),
    ("noun.artifact", 1),
    ("noun.attribute", 1),
    ("noun.body", 1),
    ("noun.cognition", 1),
    ("noun.communication", 1),
    ("noun.event", 1),
    ("noun.feeling", 1),
    ("noun.food", 1),
    ("noun.group", 1),
    ("noun.location", 1),
    ("noun.motive", 1),
    ("noun.object", 1),
    ("noun.person", 1),
    ("noun.phenomenon", 1),
    ("noun.plant", 1),
    ("noun.possession", 1),
    ("noun.process", 1),
    ("noun.quantity", 1),
    ("noun.relation", 1),
    ("noun.shape", 1),
    ("noun.state", 1),
    ("noun.substance", 1),
    ("noun.time", 1),
    ("verb.body", 2),
    ("verb.change", 2),
    ("verb.cognition", 2),
    ("verb.communication", 2),
    ("verb.competition", 2),
    ("verb.consumption", 2),
    ("verb.contact", 2),
    ("verb.creation", 2),
    ("verb.emotion", 2),
    ("verb.motion", 2),
    ("verb.perception", 2),
    ("verb.possession", 2),
    ("verb.social", 2),
    ("verb.stative", 2),
    ("verb.weather", 2),
    ("adj.ppl", 3),
)

INSTALL_HINT = (
    "sudo apt-get install -y --no-install-recommends "
    "wordnet-base wordnet-sense-index"
)


def lexnames_text():
    """Returns the content of NLTK's `lexnames` file for WordNet 3.0.

    Example:

    ```python
    text = lexnames_text()
    assert text.splitlines()[3] == "03\\tnoun.Tops\\t1"
    ```
    """
    return "".join(
        f"{number:02d}\t{name}\t{pos}\n" for number, (name, pos) in enumerate(LEXNAMES)
    )


def build_nltk_wordnet(target_dir, source_dir=DEBIAN_WORDNET_DIR):
    """Copies Debian's WordNet files into an NLTK data folder.

    Writes `<target_dir>/corpora/wordnet/` with the database files and the
    `lexnames` file NLTK needs. Running it again overwrites the same files.
    `lexnames` is written last, so its presence marks a complete folder.

    Args:
        target_dir: the NLTK data folder to create or update (the folder that
            holds `corpora/`, e.g. `"data/nltk_data"`).
        source_dir: where the WordNet 3.0 database files are. Defaults to
            `"/usr/share/wordnet"`, where Debian's `wordnet-base` and
            `wordnet-sense-index` packages put them.

    Returns:
        The `pathlib.Path` of the `corpora/wordnet` folder.

    Raises:
        FileNotFoundError: if a database file is missing from `source_dir`; the
            message names the `apt-get` command that installs it.

    Example:

    ```python
    # After: apt-get install wordnet-base wordnet-sense-index
    root = build_nltk_wordnet("data/nltk_data")
    import nltk
    nltk.data.path.append("data/nltk_data")  # NLTK reads only from its paths
    from nltk.corpus import wordnet
    wordnet.synsets("movie")
    ```
    """
    source = Path(source_dir)
    missing = [name for name in WORDNET_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"WordNet files missing from {source}: {', '.join(missing)}. "
            f"Install them with `{INSTALL_HINT}` (or run `make wordnet`), "
            "or pass the folder that holds them as --source."
        )
    root = Path(target_dir) / "corpora" / "wordnet"
    root.mkdir(parents=True, exist_ok=True)
    lexnames = root / "lexnames"
    # Remove the completion marker first so an interrupted copy is redone.
    lexnames.unlink(missing_ok=True)
    for name in WORDNET_FILES:
        # Copies, not symlinks: NLTK refuses links that leave its data root.
        shutil.copyfile(source / name, root / name)
    license_file = Path("/usr/share/doc/wordnet-base/copyright")
    if source == Path(DEBIAN_WORDNET_DIR) and license_file.is_file():
        shutil.copyfile(license_file, root / "LICENSE")
    lexnames.write_text(lexnames_text(), encoding="utf-8")
    return root


def main(argv=None):
    """Command-line entry point: `python -m textrecipes.augment.wordnet_data DIR`.

    Args:
        argv: the arguments after the program name: ``DIR [--source FOLDER]
            [--no-check]``. Default None (``sys.argv[1:]``).

    Returns:
        0 on success, 1 when the WordNet source files are missing.

    Example:
        >>> main(["data/nltk_data"])  # doctest: +SKIP
        0
    """
    parser = argparse.ArgumentParser(
        prog="python -m textrecipes.augment.wordnet_data",
        description="Build an NLTK WordNet folder (DIR/corpora/wordnet) from "
        "Debian's WordNet 3.0 files, without nltk.download.",
    )
    parser.add_argument("target_dir", help="NLTK data folder, e.g. data/nltk_data")
    parser.add_argument(
        "--source",
        default=DEBIAN_WORDNET_DIR,
        help=f"folder with the WordNet database files (default: {DEBIAN_WORDNET_DIR})",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="skip loading the result with NLTK's reader",
    )
    args = parser.parse_args(argv)
    try:
        root = build_nltk_wordnet(args.target_dir, args.source)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not args.no_check:
        import warnings

        import nltk
        from nltk.corpus.reader import WordNetCorpusReader

        # NLTK (3.10+) refuses to read outside the folders on nltk.data.path.
        nltk.data.path.append(str(Path(args.target_dir).resolve()))
        with warnings.catch_warnings():
            # Warns that multilingual (OMW) look-ups are unavailable: expected.
            warnings.simplefilter("ignore")
            reader = WordNetCorpusReader(str(root), None)
        count = len(reader.synsets("good"))
        print(f"checked: NLTK reads {root} ({count} synsets for 'good')")
    print(
        f"WordNet ready in {root}; NLTK finds it with "
        f"NLTK_DATA={Path(args.target_dir).resolve()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
