"""Tokenization and vocabulary → integer ids, the same code in `tf.data` and in the export.

Tokenization is written once, as TensorFlow string ops (`tokenize_tf`), so the
ids seen in training are exactly the ids the exported SavedModel computes from
raw strings. Python-side helpers (`tokenize`, `Vocabulary.build`) call the same
ops rather than re-implementing them.

* ``split="word"``: Unicode-aware words; punctuation becomes its own token,
  apostrophes stay inside words (``don't``), digits are kept, and each CJK
  ideograph is a token (so Chinese works without a segmenter).
* ``split="char"``: one token per Unicode character, whitespace dropped.
* In every mode control characters (NUL, ``\\v``, ...) count as whitespace;
  bytes that are not UTF-8 become U+FFFD. Python strings with lone surrogates
  cannot be UTF-8 encoded and raise ``ValueError``.
* ``split="jieba"``: jieba word segmentation in Python before the graph (the
  ``zh`` extra); the graph then splits on the spaces it inserted. Exports made
  this way expect pre-segmented text, which `textrecipes predict` supplies.

Ids: 0 is padding, 1 is out-of-vocabulary, vocabulary tokens start at 2.
Rows are right-padded (the cuDNN-eligible layout for masked LSTMs) and an empty
text becomes a single OOV id, so no row is ever fully masked.
"""

from __future__ import annotations

import collections
import json
from typing import Iterable, Sequence

import keras
import tensorflow as tf

PAD_ID = 0
OOV_ID = 1
OOV_TOKEN = "[UNK]"
SPLITS = ("word", "char", "jieba")

# RE2 classes: letters, marks, numbers; CJK ideographs are split one by one.
_PUNCT = r"([^\p{L}\p{M}\p{N}\s'])"
_CJK = r"(\p{Han}|\p{Hiragana}|\p{Katakana})"
_SPACE = r"[\s\p{Z}]+"
# Control characters (NUL, \v, \x1c-\x1f, \x85, ...) separate tokens like spaces.
# They must go before lowercasing: tf.strings.lower(encoding="utf-8") stops at NUL.
_CONTROL = r"\p{Cc}+"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def tokenize_tf(texts: tf.Tensor, *, split: str = "word", lowercase: bool = True) -> tf.RaggedTensor:
    """Tokenizes a 1-D string tensor into a ragged tensor of tokens (TensorFlow ops).

    Args:
        texts: 1-D `tf.string` tensor of raw texts.
        split: "word" (default), "char" or "jieba" (text already segmented by spaces).
        lowercase: Unicode-aware lowercasing. Default True.

    Returns:
        A `tf.RaggedTensor` of shape ``(batch, None)`` holding token strings.

    Example:
        >>> tokenize_tf(tf.constant(["Don't panic!"])).to_list()
        [[b"don't", b'panic', b'!']]
    """
    _check_split(split)
    texts = tf.strings.regex_replace(texts, _CONTROL, " ")
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if split == "char":
        chars = tf.strings.unicode_split(tf.strings.regex_replace(texts, _SPACE, ""), "UTF-8")
        return chars
    if split == "word":
        texts = tf.strings.regex_replace(texts, _PUNCT, r" \1 ")
        texts = tf.strings.regex_replace(texts, _CJK, r" \1 ")
    tokens = tf.strings.split(tf.strings.regex_replace(texts, _SPACE, " "), sep=" ")
    return tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)


def presegment(texts: Iterable[str], split: str) -> list[str]:
    """Applies the Python-side step of a split mode (jieba segmentation), else returns texts.

    Args:
        texts: the raw texts.
        split: the split mode, one of `SPLITS`; only "jieba" changes the texts here.

    Returns:
        The texts as a list: for "jieba", their words joined by spaces.

    Raises:
        ImportError: for "jieba" when the ``zh`` extra is not installed.

    Example:
        >>> presegment(["Good film"], "word")
        ['Good film']
        >>> presegment(["我爱电影"], "jieba")  # doctest: +SKIP
        ['我 爱 电影']
    """
    texts = list(texts)
    if split != "jieba":
        return texts
    try:
        import jieba
    except ImportError as e:  # pragma: no cover - depends on the installed extras
        raise ImportError("split='jieba' needs the zh extra: pip install 'textrecipes[zh]'") from e
    jieba.setLogLevel(60)
    return [" ".join(w for w in jieba.lcut(t) if w.strip()) for t in texts]


def tokenize(texts: Iterable[str], *, split: str = "word", lowercase: bool = True, batch_size: int = 4096) -> list[list[str]]:
    """Tokenizes Python strings with exactly the graph's rules.

    Args:
        texts: the texts.
        split: "word" (default), "char" or "jieba".
        lowercase: Default True.
        batch_size: texts per TensorFlow call. Default 4096.

    Returns:
        A list of token lists.

    Example:
        >>> tokenize(["北京欢迎你", "It's 2019!"])
        [['北', '京', '欢', '迎', '你'], ["it's", '2019', '!']]
    """
    texts = _encode(presegment(texts, split))
    out: list[list[str]] = []
    for start in range(0, len(texts), batch_size):
        batch = tf.constant(texts[start:start + batch_size], dtype=tf.string)
        for row in tokenize_tf(batch, split=split, lowercase=lowercase).to_list():
            out.append([t.decode("utf-8") for t in row])
    return out


def _encode(texts: Sequence[str]) -> list[bytes]:
    """UTF-8 bytes of each text, or a ValueError naming the text that has none."""
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        try:
            out.append(text.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise ValueError(
                f"texts[{i}] is not valid Unicode: {e.reason} at character {e.start} ({text[e.start]!r})"
            ) from None
    return out


class Vocabulary:
    """Token ↔ id mapping with reserved padding (0) and OOV (1) ids; saved as JSON.

    Args:
        tokens: the vocabulary tokens, most frequent first; ids start at 2.

    Example:
        >>> vocab = Vocabulary.build([["a", "b", "a"]], max_tokens=10)
        >>> vocab.tokens, vocab.ids(["a", "zzz"])
        (['a', 'b'], [2, 1])
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        for t in tokens:
            if not isinstance(t, str):
                raise ValueError(f"vocabulary tokens must be strings, got {type(t).__name__} {t!r:.60}")
        _encode(tokens)  # lone surrogates could be neither saved nor looked up
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        bad = [t for t in tokens if t in ("", OOV_TOKEN)]
        if bad:
            raise ValueError(f"vocabulary must not contain the reserved tokens '' or {OOV_TOKEN!r}")
        self.tokens = tokens
        self._index = {t: i + 2 for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], *, max_tokens: int | None = 20000, min_freq: int = 1) -> "Vocabulary":
        """Builds a vocabulary from tokenized texts.

        Args:
            token_lists: tokenized texts.
            max_tokens: largest vocabulary size including the 2 reserved ids
                (None: no limit). Default 20000.
            min_freq: drop tokens seen fewer times. Default 1.

        Returns:
            A `Vocabulary`; ties in frequency are broken alphabetically, so the
            result does not depend on the order of the texts.
        """
        if max_tokens is not None and max_tokens < 3:
            raise ValueError(f"max_tokens must be at least 3 (2 reserved ids + 1 token), got {max_tokens}")
        if min_freq < 1:
            raise ValueError(f"min_freq must be at least 1, got {min_freq}")
        counts = collections.Counter()
        for tokens in token_lists:
            counts.update(tokens)
        return cls.from_counts(counts, max_tokens=max_tokens, min_freq=min_freq)

    @classmethod
    def from_counts(cls, counts, *, max_tokens: int | None = 20000, min_freq: int = 1) -> "Vocabulary":
        """Builds a vocabulary from token counts (most frequent first, ties alphabetical).

        Args:
            counts: a mapping token → count (reserved tokens are ignored).
            max_tokens: largest vocabulary size including the 2 reserved ids. Default 20000.
            min_freq: drop tokens counted fewer times. Default 1.

        Returns:
            A `Vocabulary` with ``counts_`` holding the kept tokens' counts.

        Example:
            >>> Vocabulary.from_counts({"b": 1, "a": 3}).tokens
            ['a', 'b']
        """
        counts = {t: c for t, c in counts.items() if t not in ("", OOV_TOKEN)}
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_tokens is not None:
            ranked = ranked[: max_tokens - 2]
        vocab = cls(ranked)
        vocab.counts_ = {t: counts[t] for t in ranked}
        return vocab

    def __len__(self) -> int:
        """The number of ids, reserved ones included (the Embedding's input_dim)."""
        return len(self.tokens) + 2

    def ids(self, tokens: Sequence[str]) -> list[int]:
        return [self._index.get(t, OOV_ID) for t in tokens]

    def oov_rate(self, token_lists: Iterable[Sequence[str]]) -> float:
        """Fraction of tokens not in the vocabulary."""
        total = oov = 0
        for tokens in token_lists:
            total += len(tokens)
            oov += sum(1 for t in tokens if t not in self._index)
        return oov / total if total else 0.0

    def to_json(self) -> str:
        """The ``vocabulary.json`` text: the reserved ids and the tokens in id order."""
        return json.dumps({"pad_id": PAD_ID, "oov_id": OOV_ID, "oov_token": OOV_TOKEN, "tokens": self.tokens},
                          ensure_ascii=False)

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())

    @classmethod
    def load(cls, path) -> "Vocabulary":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ValueError(f"{path}: not a textrecipes vocabulary file (expected a JSON object with 'tokens')")
        return cls(data["tokens"])


@keras.saving.register_keras_serializable(package="textrecipes")
class TextVectorizer(keras.layers.Layer):
    """Raw strings → right-padded int ids, the layer used in `tf.data` and in exports.

    Why not `keras.layers.TextVectorization`: it cannot keep punctuation as tokens
    while splitting CJK characters, has no `min_freq`, and pads empty texts into
    fully masked rows, which Keras 3's masked LSTM rejects.

    Args:
        vocabulary: list of tokens (ids from 2; 0 pads, 1 is OOV).
        split: "word" (default), "char" or "jieba" (the graph then expects
            space-segmented text).
        lowercase: Default True.
        max_length: longest sequence kept; longer texts are truncated. Default 256.
        pad_to: "longest" (default) pads each batch to its longest row;
            "max_length" pads every row to ``max_length``.

    Example:
        >>> v = TextVectorizer(["good", "film"], max_length=4)
        >>> v(tf.constant(["Good film", ""])).numpy().tolist()
        [[2, 3], [1, 0]]
    """

    def __init__(self, vocabulary, split="word", lowercase=True, max_length=256, pad_to="longest", **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        _check_split(split)
        if pad_to not in ("longest", "max_length"):
            raise ValueError(f"pad_to must be 'longest' or 'max_length', got {pad_to!r}")
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        self.vocabulary = list(vocabulary)
        self.split = split
        self.lowercase = lowercase
        self.max_length = max_length
        self.pad_to = pad_to
        self._lookup = keras.layers.StringLookup(
            vocabulary=self.vocabulary, mask_token="", oov_token=OOV_TOKEN, num_oov_indices=1, output_mode="int"
        )
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True

    def build(self, input_shape):
        self.built = True  # the lookup table is made in __init__ from the vocabulary

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary) + 2

    def call(self, texts):
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        if texts.shape.rank == 2:  # a (batch, 1) column of strings
            texts = tf.squeeze(texts, axis=1)
        tokens = tokenize_tf(texts, split=self.split, lowercase=self.lowercase)
        tokens = tokens[:, : self.max_length]
        ids = tf.cast(self._lookup(tokens), tf.int32)
        lengths = ids.row_lengths()
        if self.pad_to == "max_length":
            width = self.max_length
        else:  # at least one column, even for a batch of empty texts
            width = tf.cast(tf.maximum(tf.reduce_max(lengths), 1), tf.int32)
        dense = ids.to_tensor(PAD_ID)
        dense = tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]])
        # An empty text becomes one OOV id: a fully masked row would make the
        # masked LSTM raise (Keras 3) and give the classifier nothing to read.
        first = tf.where(lengths[:, None] > 0, dense[:, :1], OOV_ID)
        dense = tf.concat([first, dense[:, 1:]], axis=1)
        return tf.ensure_shape(dense, [None, self.max_length if self.pad_to == "max_length" else None])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_length if self.pad_to == "max_length" else None)

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], self.max_length if self.pad_to == "max_length" else None), dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary=self.vocabulary, split=self.split, lowercase=self.lowercase,
            max_length=self.max_length, pad_to=self.pad_to,
        )
        return config
