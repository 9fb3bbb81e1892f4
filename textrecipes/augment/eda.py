"""Text augmentation for small training sets: EDA's four operations, seeded.

Easy Data Augmentation (Wei & Zou, 2019, https://arxiv.org/abs/1901.11196)
makes new training texts from old ones with four operations on the tokens:

- SR, synonym replacement: replace `n` words (not stop words) by a synonym.
- RI, random insertion: insert a synonym of a random word at a random place,
  `n` times.
- RS, random swap: swap two random tokens, `n` times.
- RD, random deletion: delete each token with probability `p_rd`; never all.

with `n = max(1, int(alpha * number_of_tokens))`. Synonyms come from a
`textrecipes.augment.synonyms` source (WordNet, a user file, embedding neighbours).

Where this differs from the EDA reference code (`jasonwei20/eda_nlp`): text is
not cleaned, so digits, apostrophes, punctuation and non-ASCII text survive
(Chinese and Japanese work with a suitable `tokenizer`); random insertion picks
a random synonym, not always the first; the global `random` state is never
touched. Every output depends only on `(seed, epoch, index)` and the text, so
reruns and parallel `tf.data` maps give the same augmentations.

Two ways to use it, both for training data only (never augment validation or
test data, or the scores measure the augmentation):

- offline: `expand_tsv` (command line: `textrecipes augment in.tsv out.tsv`)
  writes each original line plus `num_aug` variants;
- on the fly: `augment_dataset` maps `Augmenter.augment_one` over a `tf.data`
  pipeline, with a new variant of every example in every epoch
  (`AugmentEpochCallback` tells it the epoch).
"""

from __future__ import annotations

import numbers
import os
import random
import sys

from textrecipes.augment.synonyms import MappingSynonyms, source_from_spec

__all__ = [
    "ENGLISH_STOP_WORDS",
    "Augmenter",
    "expand_tsv",
    "add_cli",
    "augment_dataset",
    "AugmentEpochCallback",
]

# NLTK's English stop-word list (179 words), fixed here so that no corpus
# download is needed. Synonym replacement and insertion leave these alone.
ENGLISH_STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your
    yours yourself yourselves he him his himself she she's her hers herself it
    it's its itself they them their theirs themselves what which who whom this
    that that'll these those am is are was were be been being have has had
    having do does did doing a an the and but if or because as until while of
    at by for with about against between into through during before after
    above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other
    some such no nor not only own same so than too very s t can will just don
    don't should should've now d ll m o re ve y ain aren aren't couldn couldn't
    didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't
    ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn
    shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
    """.split()
)

OPERATIONS = ("sr", "ri", "rs", "rd")
#: How `Augmenter` splits a text into words when given a name (see `_named_tokenizer`).
TOKENIZERS = ("whitespace", "chars", "jieba")

_NO_SYNONYMS = ((), ())


def _split_punctuation(token):
    """Splits `"(good!"` into `("(", "good", "!")`; inner `'` and `-` stay."""
    start, end = 0, len(token)
    while start < end and not token[start].isalnum():
        start += 1
    while end > start and not token[end - 1].isalnum():
        end -= 1
    return token[:start], token[start:end], token[end:]


def _match_case(synonym, word):
    if len(word) > 1 and word.isupper():
        return synonym.upper()
    if word[:1].isupper() and synonym[:1].islower():
        return synonym[:1].upper() + synonym[1:]
    return synonym


def _named_tokenizer(name):
    if name == "whitespace":
        return None, " "
    if name == "chars":
        return list, ""
    if name == "jieba":
        import jieba

        return jieba.lcut, ""
    raise ValueError(
        f"Unknown tokenizer {name!r}; expected 'whitespace', 'chars', 'jieba' "
        "or a callable"
    )


class Augmenter:
    """Makes seeded EDA variants of a text: synonym replacement, insertion, swap, deletion.

    `augment(text)` returns `num_aug` variants, each made by one operation,
    the operations taking turns in a shuffled order (as in EDA);
    `augment_one(text, epoch=e, index=i)` returns one variant made by one
    random operation, for augmenting on the fly during training. An operation
    with a zero parameter is never chosen; without a synonym `source`, only
    swap and deletion are used.

    Randomness comes from a private `random.Random` seeded with
    `(seed, epoch, index)`: the variants of example `index` in epoch `epoch`
    depend only on those numbers (and the text and settings), not on call
    order, threads, or the global `random` / `numpy.random` state.

    Text is split into tokens by `tokenizer` (whitespace by default) and
    joined back with `joiner`. Punctuation stuck to a word (`"good,"`) is kept
    around the synonym; tokens with digits, stop words, and tokens without
    letters are never replaced. Empty texts come back unchanged; deletion never
    returns an empty text.

    Args:
        source: where synonyms come from: a `textrecipes.augment.synonyms` source (any
            object with a `synonyms(word)` method), a dict
            `{word: [synonyms]}`, a spec string (`"wordnet"`, `"file:PATH"`,
            `"vectors:PATH"`), or `None` (no synonyms: SR and RI are off).
            Defaults to `None`.
        alpha_sr: fraction of tokens replaced by a synonym (SR), at least one.
            Defaults to `0.1`.
        alpha_ri: fraction of the token count inserted as synonyms (RI), at
            least one. Defaults to `0.1`.
        alpha_rs: fraction of the token count swapped (RS), at least one swap.
            Defaults to `0.1`.
        p_rd: probability of deleting each token (RD). Defaults to `0.1`.
        num_aug: number of variants `augment` returns. Defaults to `4`.
        p_replace: if set, SR replaces each eligible word independently with
            this probability instead of replacing `max(1, int(alpha_sr * n))`
            words (and SR is on even if `alpha_sr` is 0). Defaults to `None`.
        stop_words: words SR and RI never replace or pick, compared
            lower-cased. Defaults to `None`: `ENGLISH_STOP_WORDS`. Pass `()`
            for none, or your own list for other languages.
        seed: non-negative integer seed. Defaults to `0`.
        tokenizer: callable from text to a list of tokens (e.g.
            `jieba.lcut`, or `list` for characters), or one of the names
            `"whitespace"`, `"chars"`, `"jieba"`. Defaults to `None`:
            `str.split`.
        joiner: string that joins tokens back. Defaults to `None`: `""` for
            the `"chars"` and `"jieba"` tokenizers, `" "` otherwise.

    Example:

    ```python
    augmenter = Augmenter({"movie": ["film"], "good": ["fine"]}, seed=42)
    variants = augmenter.augment("a good movie from 2019 , don't miss it")
    assert len(variants) == 4
    one = augmenter.augment_one("a good movie", epoch=3, index=17)
    assert one == augmenter.augment_one("a good movie", epoch=3, index=17)
    ```
    """

    TEXT_CACHE_SIZE = 1_000_000  # texts whose analysis is kept (cleared when full)

    def __init__(
        self,
        source=None,
        *,
        alpha_sr=0.1,
        alpha_ri=0.1,
        alpha_rs=0.1,
        p_rd=0.1,
        num_aug=4,
        p_replace=None,
        stop_words=None,
        seed=0,
        tokenizer=None,
        joiner=None,
    ):
        for name, value in (
            ("alpha_sr", alpha_sr),
            ("alpha_ri", alpha_ri),
            ("alpha_rs", alpha_rs),
            ("p_rd", p_rd),
            ("p_replace", 0.0 if p_replace is None else p_replace),
        ):
            if not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if isinstance(num_aug, bool) or not isinstance(num_aug, numbers.Integral) or num_aug < 1:
            raise ValueError(f"num_aug must be a positive integer, got {num_aug!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.source = source
        self.alpha_sr = alpha_sr
        self.alpha_ri = alpha_ri
        self.alpha_rs = alpha_rs
        self.p_rd = p_rd
        self.num_aug = int(num_aug)
        self.p_replace = p_replace
        self.stop_words = stop_words
        self.seed = int(seed)
        self.tokenizer = tokenizer
        self.joiner = joiner

        if isinstance(source, dict):
            self._source = MappingSynonyms(source)
        else:
            self._source = source_from_spec(source)
        if isinstance(tokenizer, str):
            self._tokenize, default_joiner = _named_tokenizer(tokenizer)
        elif tokenizer is None or callable(tokenizer):
            self._tokenize, default_joiner = tokenizer, " "
        else:
            raise ValueError(
                f"tokenizer must be a callable, a name ('whitespace', 'chars', "
                f"'jieba') or None, got {tokenizer!r}"
            )
        self._joiner = default_joiner if joiner is None else joiner
        words = ENGLISH_STOP_WORDS if stop_words is None else stop_words
        self._stop_words = frozenset(word.lower() for word in words)
        has_source = self._source is not None
        sr_on = has_source and (alpha_sr > 0 if p_replace is None else p_replace > 0)
        self.operations = tuple(
            name
            for name, on in zip(
                OPERATIONS, (sr_on, has_source and alpha_ri > 0, alpha_rs > 0, p_rd > 0)
            )
            if on
        )
        # token -> (prefix, word, suffix) or None if SR/RI must leave it alone
        self._word_cache = {}
        # token -> (replacements for it in place, bare synonyms to insert)
        self._synonym_cache = {}
        self._text_cache = {}
        self._operations = {"sr": self._synonym_replacement, "ri": self._random_insertion,
                            "rs": self._random_swap, "rd": self._random_deletion}

    def get_config(self):
        """Returns the constructor arguments that are plain values."""
        config = {
            name: getattr(self, name)
            for name in (
                "alpha_sr",
                "alpha_ri",
                "alpha_rs",
                "p_rd",
                "num_aug",
                "p_replace",
                "seed",
                "joiner",
            )
        }
        config["source"] = self.source if isinstance(self.source, str) else None
        config["tokenizer"] = self.tokenizer if isinstance(self.tokenizer, str) else None
        config["stop_words"] = None if self.stop_words is None else sorted(self.stop_words)
        return config

    # -- randomness ---------------------------------------------------------

    def _rng(self, epoch, index):
        if epoch < 0 or index < 0:
            raise ValueError(
                f"epoch and index must be non-negative, got epoch={epoch}, index={index}"
            )
        # A private generator per (seed, epoch, index). Python hashes a str
        # seed with SHA-512 (a documented, version-stable scheme), which mixes
        # the three numbers as well as numpy's SeedSequence at half the cost,
        # and random.Random draws scalars far faster than numpy's Generator.
        return random.Random(f"textrecipes.augment.eda:{self.seed}:{int(epoch)}:{int(index)}")

    # -- tokens -------------------------------------------------------------

    def tokenize(self, text):
        """Splits `text` into tokens with the configured tokenizer."""
        if self._tokenize is None:
            return text.split()
        return [token for token in self._tokenize(text) if token != ""]

    def _word_of(self, token):
        """The word inside `token` if SR/RI may touch it, else `None` (cached)."""
        found = self._word_cache.get(token, False)
        if found is False:
            prefix, word, suffix = _split_punctuation(token)
            if (
                not word
                or word.lower() in self._stop_words
                or any(c.isdigit() for c in word)
            ):
                found = None
            else:
                found = (prefix, word, suffix)
            self._word_cache[token] = found
        return found

    def _synonyms_of(self, token):
        """Cached `(in-place replacements, bare synonyms)` for one token."""
        found = self._synonym_cache.get(token)
        if found is None:
            found = _NO_SYNONYMS
            parts = self._word_of(token)
            if parts is not None:
                prefix, word, suffix = parts
                synonyms = tuple(s for s in self._source.synonyms(word) if s)
                if synonyms:
                    found = (
                        tuple(prefix + _match_case(s, word) + suffix for s in synonyms),
                        synonyms,
                    )
            self._synonym_cache[token] = found
        return found

    def _analyse(self, text):
        """Cached ``(tokens, pool)`` of a text; `pool` lists ``(position,
        in-place replacements, bare synonyms)`` for each token SR/RI can use.

        On-the-fly augmentation sees the same texts every epoch, so each text is
        tokenized and its synonyms resolved once, not once per variant.
        """
        found = self._text_cache.get(text)
        if found is None:
            tokens = self.tokenize(text)
            pool = ()
            if self._source is not None:
                pool = tuple(
                    (i, *self._synonyms_of(token))
                    for i, token in enumerate(tokens)
                    if self._word_of(token) is not None and self._synonyms_of(token)[0]
                )
            found = (tokens, pool)
            if len(self._text_cache) >= self.TEXT_CACHE_SIZE:
                self._text_cache.clear()  # bounded memory on streamed or huge datasets
            self._text_cache[text] = found
        return found

    # -- the four operations ------------------------------------------------
    # `pool` holds the positions whose word has synonyms; SR picks some of them
    # uniformly, RI picks one uniformly per insertion.

    def _synonym_replacement(self, tokens, pool, rng):
        new = list(tokens)
        if self.p_replace is not None:
            for i, replacements, _ in pool:
                if rng.random() < self.p_replace:
                    new[i] = rng.choice(replacements)
            return new
        wanted = max(1, int(self.alpha_sr * len(tokens)))
        for i, replacements, _ in rng.sample(pool, min(wanted, len(pool))):
            new[i] = rng.choice(replacements)
        return new

    def _random_insertion(self, tokens, pool, rng):
        new = list(tokens)
        if pool:
            for _ in range(max(1, int(self.alpha_ri * len(tokens)))):
                synonyms = pool[rng.randrange(len(pool))][2]
                new.insert(rng.randrange(len(new) + 1), rng.choice(synonyms))
        return new

    def _random_swap(self, tokens, pool, rng):
        new = list(tokens)
        size = len(new)
        if size < 2:
            return new
        for _ in range(max(1, int(self.alpha_rs * size))):
            i = rng.randrange(size)
            j = rng.randrange(size - 1)
            j += j >= i  # a different position, uniformly
            new[i], new[j] = new[j], new[i]
        return new

    def _random_deletion(self, tokens, pool, rng):
        if len(tokens) <= 1:
            return list(tokens)
        kept = [token for token in tokens if rng.random() >= self.p_rd]
        if not kept:
            kept = [tokens[rng.randrange(len(tokens))]]
        return kept

    def _apply(self, operation, tokens, pool, rng):
        return self._operations[operation](tokens, pool, rng)

    # -- public -------------------------------------------------------------

    def augment(self, text, *, epoch=0, index=0):
        """Returns `num_aug` variants of `text`, each made by one operation.

        Args:
            text: the text (`str`; UTF-8 `bytes` are decoded).
            epoch: epoch number, part of the seed. Defaults to `0`.
            index: example number, part of the seed. Defaults to `0`.

        Returns:
            A list of `num_aug` strings. The original is not included. An
            empty text gives `num_aug` copies of itself.

        Example:

        ```python
        augmenter = Augmenter(num_aug=2, seed=1)
        augmenter.augment("the plot is thin but the cast is great", index=5)
        ```
        """
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        tokens, pool = self._analyse(text)
        if not tokens or not self.operations:
            return [text] * self.num_aug
        rng = self._rng(epoch, index)
        # EDA's balance: each operation makes about num_aug / 4 variants.
        plan = [self.operations[i % len(self.operations)] for i in range(self.num_aug)]
        rng.shuffle(plan)
        return [self._joiner.join(self._apply(op, tokens, pool, rng)) for op in plan]

    def augment_one(self, text, *, epoch, index):
        """Returns one variant of `text`, made by one randomly chosen operation.

        The same `(seed, epoch, index)` and text always give the same variant;
        a new epoch gives a new one. This is what `augment_dataset` calls.

        Args:
            text: the text (`str`; UTF-8 `bytes` are decoded).
            epoch: epoch number, part of the seed.
            index: example number, part of the seed.

        Returns:
            A string.

        Example:

        ```python
        augmenter = Augmenter(seed=0)
        augmenter.augment_one("a slow but moving film", epoch=0, index=0)
        ```
        """
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        tokens, pool = self._analyse(text)
        if not tokens or not self.operations:
            return text
        rng = self._rng(epoch, index)
        operation = self.operations[rng.randrange(len(self.operations))]
        return self._joiner.join(self._apply(operation, tokens, pool, rng))


# -- offline expansion of a TSV file -----------------------------------------


def _read_tsv(path, text_first):
    """Yields (line number, label, text) from a `label<TAB>text` file."""
    with open(path, encoding="utf-8-sig", newline="") as lines:
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if "\t" not in line:
                order = "text<TAB>label" if text_first else "label<TAB>text"
                raise ValueError(f"{path}:{number}: no tab; expected '{order}', got {line!r}")
            if text_first:
                text, label = line.rsplit("\t", 1)
            else:
                label, text = line.split("\t", 1)
            if not label.strip():
                raise ValueError(f"{path}:{number}: empty label")
            yield number, label, text


def expand_tsv(in_path, out_path, augmenter, *, text_first=False, progress=True):
    """Writes each line of a `label<TAB>text` file followed by its augmented variants.

    For every input line, writes the original line, then `augmenter.num_aug`
    variants with the same label (epoch 0, index = the line number, so a rerun
    gives the same file). Blank lines are skipped; a line without a tab raises
    `ValueError` with `file:line`. Use it on the training split only.

    Args:
        in_path: input TSV file, UTF-8.
        out_path: output TSV file, written in the same column order.
        augmenter: an `Augmenter`.
        text_first: if `True`, lines are `text<TAB>label` (split on the last
            tab). Defaults to `False`.
        progress: show a tqdm progress bar on stderr. Defaults to `True`.

    The output is written to a temporary file beside ``out_path`` and renamed
    into place only when every line was read and written: an error leaves no
    partial output (and an existing ``out_path`` unchanged).

    Returns:
        The number of lines written.

    Raises:
        ValueError: for a line without a tab or with an empty label (``file:line``),
            or when ``out_path`` is ``in_path`` itself.

    Example:

    ```python
    import pathlib
    pathlib.Path("train.tsv").write_text("pos\\ta good film\\nneg\\ta dull plot\\n")
    expand_tsv("train.tsv", "train_aug.tsv", Augmenter(num_aug=2), progress=False)
    ```
    """
    from tqdm.auto import tqdm

    from textrecipes.run.folder import atomic_write

    if os.path.exists(out_path) and os.path.samefile(in_path, out_path):
        raise ValueError(f"{out_path}: the output is the input file; write the augmented file elsewhere")
    with open(in_path, encoding="utf-8-sig") as lines:
        total = sum(1 for line in lines if line.strip())
    written = 0
    with atomic_write(out_path, newline="\n") as out:
        rows = tqdm(
            _read_tsv(in_path, text_first),
            total=total,
            desc="augment",
            unit="line",
            disable=not progress,
            file=sys.stderr,
        )
        for number, label, text in rows:
            for variant in [text, *augmenter.augment(text, epoch=0, index=number)]:
                out.write(f"{variant}\t{label}\n" if text_first else f"{label}\t{variant}\n")
                written += 1
    return written


def add_cli(subparsers):
    """Registers the `augment` subcommand on an argparse subparsers object.

    `textrecipes augment in.tsv out.tsv --num-aug 4 --seed 0` runs `expand_tsv`.
    The handler is stored as the parser default `func` and returns an exit
    status, `args.func(args)`: 0, or 2 after printing one error line.

    Args:
        subparsers: what `argparse.ArgumentParser.add_subparsers()` returned.

    Returns:
        The `augment` sub-parser.

    Example:

    ```python
    import argparse
    parser = argparse.ArgumentParser(prog="textrecipes")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["augment", "in.tsv", "out.tsv", "--source", "none"])
    # args.func(args) runs it
    ```
    """
    parser = subparsers.add_parser(
        "augment",
        help="expand a label<TAB>text training file with EDA variants",
        description="Write every line of IN followed by NUM_AUG augmented variants "
        "(synonym replacement, random insertion, swap, deletion) to OUT. "
        "Augment the training split only.",
    )
    parser.add_argument("input", help="label<TAB>text file (UTF-8)")
    parser.add_argument("output", help="file to write")
    parser.add_argument("--num-aug", type=int, default=4, help="variants per line (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--alpha-sr", type=float, default=0.1, help="synonym replacement rate")
    parser.add_argument("--alpha-ri", type=float, default=0.1, help="random insertion rate")
    parser.add_argument("--alpha-rs", type=float, default=0.1, help="random swap rate")
    parser.add_argument("--p-rd", type=float, default=0.1, help="random deletion probability")
    parser.add_argument(
        "--p-replace",
        type=float,
        default=None,
        help="replace each word with this probability instead of alpha-sr",
    )
    parser.add_argument(
        "--source",
        default="wordnet",
        help="synonyms: wordnet (default), file:PATH (word<TAB>syn1,syn2), "
        "vectors:PATH (word2vec text), or none",
    )
    parser.add_argument(
        "--tokenizer",
        default="whitespace",
        choices=TOKENIZERS,
        help="how to split text (default whitespace; chars or jieba for Chinese)",
    )
    parser.add_argument(
        "--text-first", action="store_true", help="lines are text<TAB>label"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_augment)
    return parser


def _run_augment(args):
    try:
        augmenter = Augmenter(
            args.source,
            alpha_sr=args.alpha_sr,
            alpha_ri=args.alpha_ri,
            alpha_rs=args.alpha_rs,
            p_rd=args.p_rd,
            num_aug=args.num_aug,
            p_replace=args.p_replace,
            seed=args.seed,
            tokenizer=args.tokenizer,
        )
        if hasattr(augmenter._source, "load"):
            augmenter._source.load()  # WordNet: seconds, better before the bar
        written = expand_tsv(
            args.input,
            args.output,
            augmenter,
            text_first=args.text_first,
            progress=not args.no_progress,
        )
    except (ValueError, LookupError, OSError) as error:
        print(f"textrecipes augment: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {written} lines to {args.output}", file=sys.stderr)
    return 0


# -- on the fly, inside tf.data ----------------------------------------------


def augment_dataset(dataset, augmenter, epoch_variable, *, probability=1.0, num_parallel_calls=None):
    """Augments a `tf.data` training set on the fly, one new variant per epoch.

    Maps `augmenter.augment_one(text, epoch=e, index=i)` over a dataset of
    `(index, text, label)` elements, where `e` is read from `epoch_variable`
    each time an element is produced; `AugmentEpochCallback` sets it at the
    start of every epoch. Returns `(text, label)` elements. The same epoch
    gives the same texts, in any order and with any parallelism.

    Attach the index before shuffling (it identifies the example, not its
    position), augment before vectorizing and batching, and do not `repeat()`
    the dataset: Keras then starts a new iterator after `on_epoch_begin`, so
    no element is prefetched with the previous epoch's number. Apply it to the
    training set only; validation and test data must stay unaugmented.

    Args:
        dataset: a `tf.data.Dataset` of `(index, text, label)`: an int64
            scalar, a string scalar, and any label structure.
        augmenter: an `Augmenter`.
        epoch_variable: an int64 scalar `tf.Variable` holding the epoch.
        probability: chance that an element is replaced by its variant in a
            given epoch, drawn statelessly from `(augmenter.seed, epoch,
            index)`; the variant is only computed when it is used. Defaults
            to `1.0`.
        num_parallel_calls: passed to `Dataset.map`. Defaults to `None`:
            `tf.data.AUTOTUNE`.

    Returns:
        A `tf.data.Dataset` of `(text, label)`.

    Example:

    ```python
    import numpy as np
    import tensorflow as tf
    texts = ["a good film", "a dull plot"]
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    train = tf.data.Dataset.from_tensor_slices(
        (np.arange(len(texts)), texts, [1, 0])
    ).shuffle(2, seed=0)
    train = augment_dataset(train, Augmenter(seed=0), epoch).batch(2)
    # model.fit(train.map(vectorize), callbacks=[AugmentEpochCallback(epoch)])
    ```
    """
    import tensorflow as tf

    def augment_numpy(index, text, epoch):
        return augmenter.augment_one(
            text.decode("utf-8"), epoch=int(epoch), index=int(index)
        ).encode("utf-8")

    def variant(index, text, epoch):
        new_text = tf.numpy_function(
            augment_numpy,
            [index, text, epoch],
            tf.string,
            stateful=False,
            name="augment_one",
        )
        return tf.ensure_shape(new_text, text.shape)

    def augment_element(index, text, label):
        epoch = tf.cast(epoch_variable, tf.int64)
        index = tf.cast(index, tf.int64)
        if probability >= 1.0:
            return variant(index, text, epoch), label
        key = tf.stack([tf.cast(augmenter.seed, tf.int64) * 1_000_003 + epoch, index])
        use = tf.random.stateless_uniform([], seed=key) < probability
        return tf.cond(use, lambda: variant(index, text, epoch), lambda: text), label

    if num_parallel_calls is None:
        num_parallel_calls = tf.data.AUTOTUNE
    return dataset.map(augment_element, num_parallel_calls=num_parallel_calls)


def _augment_epoch_callback_class():
    # Built on first use so that importing this module (e.g. for the
    # command line) does not import Keras and TensorFlow (seconds).
    import keras

    class AugmentEpochCallback(keras.callbacks.Callback):
        """Tells `augment_dataset` the current epoch, so each epoch gets new variants.

        Assigns the epoch number to `epoch_variable` in `on_epoch_begin`.

        Args:
            epoch_variable: the int64 scalar `tf.Variable` given to
                `augment_dataset`.

        Example:

        ```python
        import tensorflow as tf
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        callback = AugmentEpochCallback(epoch)
        callback.on_epoch_begin(3)
        assert int(epoch.numpy()) == 3
        ```
        """

        def __init__(self, epoch_variable):
            super().__init__()
            self.epoch_variable = epoch_variable

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_variable.assign(epoch)

    AugmentEpochCallback.__module__ = __name__
    return AugmentEpochCallback


def __getattr__(name):
    # PEP 562: `from textrecipes.augment.eda import AugmentEpochCallback` works.
    if name == "AugmentEpochCallback":
        cls = globals()[name] = _augment_epoch_callback_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
