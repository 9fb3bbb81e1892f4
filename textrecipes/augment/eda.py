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

- offline: `textrecipes.augment.offline.expand_tsv` (command line:
  `textrecipes augment in.tsv out.tsv`) writes each original line plus
  `num_aug` variants;
- on the fly: `textrecipes.augment.on_the_fly.augment_dataset` maps
  `Augmenter.augment_one` over a `tf.data` pipeline, with a new variant of
  every example in every epoch (`AugmentEpochCallback` tells it the epoch).
"""

from __future__ import annotations

import numbers
import random

from textrecipes.augment.sources import source_from_spec
from textrecipes.augment.synonyms import MappingSynonyms

__all__ = ["ENGLISH_STOP_WORDS", "OPERATIONS", "TOKENIZERS", "Augmenter"]

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
