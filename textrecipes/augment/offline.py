"""Offline augmentation: a ``label<TAB>text`` file expanded with EDA variants of every line.

`expand_tsv` writes each original line followed by ``num_aug`` variants with
the same label (``textrecipes augment in.tsv out.tsv``), atomically: the output
appears only when every line was read and written. Use it on the training
split only.
"""

from __future__ import annotations

import os
import sys

from textrecipes.augment.eda import TOKENIZERS, Augmenter
from textrecipes.data.atomic import atomic_write


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
