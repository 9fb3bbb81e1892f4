"""Pair and sequence-labelling datasets derived from the real benchmark texts (offline, seeded).

No real labelled pair or CoNLL dataset is available offline here (nltk ships a
CoNLL *reader* but no corpus), so two are derived from real text:

* ``news-pairs`` (``title<TAB>content<TAB>match``) from ``data/bench/news_outlets``:
  each article's headline (the text before the first ``" . "``) with the start of
  its own body (``yes``) and, for the same headline, the body of another article of
  the same split drawn with the seed (``no``). Balanced by construction.
* ``fortune-ner`` (CoNLL ``token tag``, IOB2) from ``data/bench/fortunes_topics``:
  the person named after a fortune's final ``" -- "`` (its run of capitalised
  tokens) is ``PER``; before that dash, every run of capitalised tokens that does
  not begin a sentence is ``NAME``; the rest of the attribution is ``O``. The tags come from orthography, so they are exact for the
  rule but only approximately true entities.
"""

from __future__ import annotations

import os
import random
import re

TOKEN = re.compile(r"--|\w+(?:['’-]\w+)*|[^\w\s]")
CAPITALISED = re.compile(r"^[A-Z][A-Za-z'’-]+$")
SENTENCE_START = {".", "!", "?", '"', "(", ":", ";", "--", "“"}


def _rows(path: str):
    with open(path, encoding="utf-8") as f:
        for line in f:
            label, _, text = line.rstrip("\n").partition("\t")
            if text.strip():
                yield label, text


def title_content_pairs(src: str, dst: str, *, seed: int = 0, max_words: int = 60) -> int:
    """Writes ``title<TAB>content<TAB>yes|no`` pairs from a news TSV (``outlet<TAB>title . body``).

    Args:
        src: the news TSV (``data/bench/news_outlets/<split>.tsv``).
        dst: the output TSV.
        seed: picks the mismatched body of each negative pair. Default 0.
        max_words: the body is cut to its first ``max_words`` words. Default 60.

    Returns:
        The number of pairs written (two per article with a headline).

    Example:
        >>> title_content_pairs("data/bench/news_outlets/test.tsv", "/tmp/news_pairs.tsv")  # doctest: +SKIP
        744
    """
    docs = []
    for _, text in _rows(src):
        head, sep, body = text.partition(" . ")
        if sep and head.strip() and body.strip() and len(head) < 300:
            docs.append((" ".join(head.split()), " ".join(body.split()[:max_words])))
    rng = random.Random(seed)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        for i, (title, body) in enumerate(docs):
            j = (i + rng.randrange(1, len(docs))) % len(docs)  # never the article itself
            f.write(f"{title}\t{body}\tyes\n{title}\t{docs[j][1]}\tno\n")
    return 2 * len(docs)


def tag_tokens(tokens: list[str]) -> list[str]:
    """IOB2 tags for one tokenized fortune by the rule in the module docstring.

    Args:
        tokens: the fortune's tokens.

    Returns:
        One tag per token: ``B-PER``/``I-PER``, ``B-NAME``/``I-NAME`` or ``O``.

    Example:
        >>> tag_tokens("I met Ada Lovelace . -- Charles Babbage".split())
        ['O', 'O', 'B-NAME', 'I-NAME', 'O', 'O', 'B-PER', 'I-PER']
    """
    tags = ["O"] * len(tokens)
    dash = max((i for i, t in enumerate(tokens) if t == "--"), default=None)
    if dash is not None:
        i = dash + 1
        while i < len(tokens) and CAPITALISED.match(tokens[i]):
            tags[i] = "B-PER" if i == dash + 1 else "I-PER"
            i += 1
    end = dash if dash is not None else len(tokens)
    i = 0
    while i < end:
        starts_sentence = i == 0 or tokens[i - 1] in SENTENCE_START
        if CAPITALISED.match(tokens[i]) and not starts_sentence:
            j = i
            while j < end and CAPITALISED.match(tokens[j]):
                tags[j] = "B-NAME" if j == i else "I-NAME"
                j += 1
            i = j
        else:
            i += 1
    return tags


def fortune_entities(src: str, dst: str, *, max_tokens: int = 80) -> int:
    """Writes a CoNLL file (``token tag``, a blank line between sentences) from a fortunes TSV.

    Args:
        src: ``data/bench/fortunes_topics/<split>.tsv``.
        dst: the output file.
        max_tokens: fortunes are cut to their first and last tokens so that at most
            ``max_tokens`` remain (the attribution at the end is kept). Default 80.

    Returns:
        The number of sentences written.

    Example:
        >>> fortune_entities("data/bench/fortunes_topics/test.tsv", "/tmp/fortunes.conll")  # doctest: +SKIP
        580
    """
    count = 0
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        for _, text in _rows(src):
            tokens = TOKEN.findall(text)
            tokens = [t for t in tokens if t.strip()]
            tags = tag_tokens(tokens)
            if len(tokens) > max_tokens:  # keep the head and the attribution tail
                half = max_tokens // 2
                tokens, tags = tokens[:half] + tokens[-half:], tags[:half] + tags[-half:]
                if tags[half].startswith("I-"):  # the cut must not leave a dangling I-
                    tags[half] = "B-" + tags[half][2:]
            if tokens:
                f.writelines(f"{t} {g}\n" for t, g in zip(tokens, tags))
                f.write("\n")
                count += 1
    return count


def derive(name: str, out_dir: str, *, bench_dir: str = "data/bench", seed: int = 0) -> dict:
    """Writes train/validation/test files of a derived dataset; returns split → examples.

    Args:
        name: "news-pairs" (``.tsv``) or "fortune-ner" (``.conll``).
        out_dir: the output folder.
        bench_dir: where ``news_outlets/`` and ``fortunes_topics/`` live. Default "data/bench".
        seed: seeds the negative pairs. Default 0.

    Returns:
        ``{"train": n, "validation": n, "test": n}``.

    Raises:
        ValueError: for an unknown name.
        FileNotFoundError: when the source split is missing.

    Example:
        >>> derive("fortune-ner", "runs/data/fortune_ner")  # doctest: +SKIP
        {'train': 4637, 'validation': 580, 'test': 580}
    """
    if name not in ("news-pairs", "fortune-ner"):
        raise ValueError(f"unknown derived dataset {name!r}; choose 'news-pairs' or 'fortune-ner'")
    counts = {}
    for split in ("train", "validation", "test"):
        if name == "news-pairs":
            counts[split] = title_content_pairs(os.path.join(bench_dir, "news_outlets", f"{split}.tsv"),
                                                os.path.join(out_dir, f"{split}.tsv"), seed=seed)
        else:
            counts[split] = fortune_entities(os.path.join(bench_dir, "fortunes_topics", f"{split}.tsv"),
                                             os.path.join(out_dir, f"{split}.conll"))
    return counts
