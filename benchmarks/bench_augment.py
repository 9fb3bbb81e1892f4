"""Augmentation benchmark: EDA throughput against the reference code, and the accuracy effect at N=500.

1. Throughput (sentences/s) of `textrecipes.augment.eda.Augmenter.augment` with the
   WordNet source against a straight copy of the EDA reference algorithm
   (jasonwei20/eda_nlp, code/eda.py; see "EDA REFERENCE" below), on the first
   10,000 sentences of data/rotten_tomatoes/train.tsv, EDA parameters
   alpha_sr = alpha_ri = alpha_rs = p_rd = 0.1, num_aug = 4.

   - Both WordNet readers are loaded before any timing (load time reported
     apart), and the WordNet files are read once beforehand so that the OS page
     cache is warm for both.
   - "cold" pass: the first pass over the sentences with fresh caches: for
     textrecipes a new Augmenter + WordNetSynonyms (empty synonym caches) on a
     new NLTK reader; for the reference a new NLTK reader (NLTK's own synset
     cache empty).
   - "steady" passes: the same sentences again. textrecipes with new epochs
     (epoch=1, 2: new random variants, synonym caches warm); the reference
     again (it has no cache of its own and calls `wordnet.synsets` on every
     look-up; NLTK's internal synset-by-offset cache is warm).
   - The reference as written makes `int(num_aug/4)+1 = 2` variants per
     operation (8 in all) and keeps 4, so it does twice the work asked for;
     it is timed as written and also with exactly one variant per operation
     ("equal work", 4 made, 4 kept), which is the fair comparison.
   - Wall time (time.perf_counter) and CPU time (time.process_time) are both
     reported; the machine is shared, so CPU time is the steadier figure.

2. Accuracy: the default recipe (recipes/sentiment_lstm.toml) on the first N=500
   training examples (full validation/test splits), train.epochs=20, early
   stopping on val_loss with patience 5 and best weights restored (both arms),
   with and without on-the-fly augmentation ([augment] enabled, WordNet,
   probability 0.5, alphas 0.1), one run per recipe seed (0, 1, 2). Optionally
   a third, stronger arm (probability 1.0). Checkpoint, backup and export are
   switched off in both arms (they do not change the model; they cost time).

Usage:
    python benchmarks/bench_augment.py [--throughput-only | --accuracy-only]
        [--seeds 3] [--n 500] [--sentences 10000] [--no-strong] [--quick]
        [--out benchmarks/results/augment.md]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import glob
import json
import os
import platform
import random
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TRAIN_TSV = os.path.join(ROOT, "data", "rotten_tomatoes", "train.tsv")
RECIPE = os.path.join(ROOT, "recipes", "sentiment_lstm.toml")
EDA_PARAMS = dict(alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, p_rd=0.1, num_aug=4)


# ============================================================================
# EDA REFERENCE: a straight copy of jasonwei20/eda_nlp code/eda.py (Wei & Zou,
# 2019), the algorithm as published. Kept as written (Python lists, sets, the
# global `random` module, `wordnet.synsets` on every look-up, its own
# stop-word list and its get_only_chars cleaning). Changes, none of which
# alter the work done: the WordNet reader is passed in (`wn`) instead of the
# module-level `nltk.corpus.wordnet`, so each timed pass can get a fresh one;
# `word is not ''` is written `word != ''`; `get_only_chars` does not crash on
# a line with no letters; `eda` returns [] for a text with no letters (the
# original crashes in `random.randint(0, -1)`); `per_technique` lets the
# "equal work" variant make exactly one sentence per operation.
# ============================================================================

REF_STOP_WORDS = ['i', 'me', 'my', 'myself', 'we', 'our',
                  'ours', 'ourselves', 'you', 'your', 'yours',
                  'yourself', 'yourselves', 'he', 'him', 'his',
                  'himself', 'she', 'her', 'hers', 'herself',
                  'it', 'its', 'itself', 'they', 'them', 'their',
                  'theirs', 'themselves', 'what', 'which', 'who',
                  'whom', 'this', 'that', 'these', 'those', 'am',
                  'is', 'are', 'was', 'were', 'be', 'been', 'being',
                  'have', 'has', 'had', 'having', 'do', 'does', 'did',
                  'doing', 'a', 'an', 'the', 'and', 'but', 'if', 'or',
                  'because', 'as', 'until', 'while', 'of', 'at',
                  'by', 'for', 'with', 'about', 'against', 'between',
                  'into', 'through', 'during', 'before', 'after',
                  'above', 'below', 'to', 'from', 'up', 'down', 'in',
                  'out', 'on', 'off', 'over', 'under', 'again',
                  'further', 'then', 'once', 'here', 'there', 'when',
                  'where', 'why', 'how', 'all', 'any', 'both', 'each',
                  'few', 'more', 'most', 'other', 'some', 'such', 'no',
                  'nor', 'not', 'only', 'own', 'same', 'so', 'than', 'too',
                  'very', 's', 't', 'can', 'will', 'just', 'don',
                  'should', 'now', '']


def ref_get_only_chars(line):
    clean_line = ""
    line = line.replace("’", "")
    line = line.replace("'", "")
    line = line.replace("-", " ")  # replace hyphens with spaces
    line = line.replace("\t", " ")
    line = line.replace("\n", " ")
    line = line.lower()
    for char in line:
        if char in 'qwertyuiopasdfghjklzxcvbnm ':
            clean_line += char
        else:
            clean_line += ' '
    clean_line = re.sub(' +', ' ', clean_line)  # delete extra spaces
    if clean_line[:1] == ' ':  # original: clean_line[0], which fails on ""
        clean_line = clean_line[1:]
    return clean_line


def ref_synonym_replacement(wn, words, n):
    new_words = words.copy()
    random_word_list = list(set([word for word in words if word not in REF_STOP_WORDS]))
    random.shuffle(random_word_list)
    num_replaced = 0
    for random_word in random_word_list:
        synonyms = ref_get_synonyms(wn, random_word)
        if len(synonyms) >= 1:
            synonym = random.choice(list(synonyms))
            new_words = [synonym if word == random_word else word for word in new_words]
            num_replaced += 1
        if num_replaced >= n:  # only replace up to n words
            break
    sentence = ' '.join(new_words)
    new_words = sentence.split(' ')
    return new_words


def ref_get_synonyms(wn, word):
    synonyms = set()
    for syn in wn.synsets(word):
        for l in syn.lemmas():  # noqa: E741 (as in the reference)
            synonym = l.name().replace("_", " ").replace("-", " ").lower()
            synonym = "".join([char for char in synonym if char in ' qwertyuiopasdfghjklzxcvbnm'])
            synonyms.add(synonym)
    if word in synonyms:
        synonyms.remove(word)
    return list(synonyms)


def ref_random_deletion(words, p):
    if len(words) == 1:
        return words
    new_words = []
    for word in words:
        r = random.uniform(0, 1)
        if r > p:
            new_words.append(word)
    if len(new_words) == 0:
        rand_int = random.randint(0, len(words) - 1)
        return [words[rand_int]]
    return new_words


def ref_random_swap(words, n):
    new_words = words.copy()
    for _ in range(n):
        new_words = ref_swap_word(new_words)
    return new_words


def ref_swap_word(new_words):
    random_idx_1 = random.randint(0, len(new_words) - 1)
    random_idx_2 = random_idx_1
    counter = 0
    while random_idx_2 == random_idx_1:
        random_idx_2 = random.randint(0, len(new_words) - 1)
        counter += 1
        if counter > 3:
            return new_words
    new_words[random_idx_1], new_words[random_idx_2] = new_words[random_idx_2], new_words[random_idx_1]
    return new_words


def ref_random_insertion(wn, words, n):
    new_words = words.copy()
    for _ in range(n):
        ref_add_word(wn, new_words)
    return new_words


def ref_add_word(wn, new_words):
    synonyms = []
    counter = 0
    while len(synonyms) < 1:
        random_word = new_words[random.randint(0, len(new_words) - 1)]
        synonyms = ref_get_synonyms(wn, random_word)
        counter += 1
        if counter >= 10:
            return
    random_synonym = synonyms[0]
    random_idx = random.randint(0, len(new_words) - 1)
    new_words.insert(random_idx, random_synonym)


def ref_eda(wn, sentence, alpha_sr=0.1, alpha_ri=0.1, alpha_rs=0.1, p_rd=0.1, num_aug=9, per_technique=None):
    sentence = ref_get_only_chars(sentence)
    words = sentence.split(' ')
    words = [word for word in words if word != '']
    num_words = len(words)
    if not num_words:  # not in the original (which crashes here)
        return []
    augmented_sentences = []
    num_new_per_technique = int(num_aug / 4) + 1 if per_technique is None else per_technique
    if alpha_sr > 0:
        n_sr = max(1, int(alpha_sr * num_words))
        for _ in range(num_new_per_technique):
            a_words = ref_synonym_replacement(wn, words, n_sr)
            augmented_sentences.append(' '.join(a_words))
    if alpha_ri > 0:
        n_ri = max(1, int(alpha_ri * num_words))
        for _ in range(num_new_per_technique):
            a_words = ref_random_insertion(wn, words, n_ri)
            augmented_sentences.append(' '.join(a_words))
    if alpha_rs > 0:
        n_rs = max(1, int(alpha_rs * num_words))
        for _ in range(num_new_per_technique):
            a_words = ref_random_swap(words, n_rs)
            augmented_sentences.append(' '.join(a_words))
    if p_rd > 0:
        for _ in range(num_new_per_technique):
            a_words = ref_random_deletion(words, p_rd)
            augmented_sentences.append(' '.join(a_words))
    augmented_sentences = [ref_get_only_chars(sentence) for sentence in augmented_sentences]
    random.shuffle(augmented_sentences)
    if num_aug >= 1:
        augmented_sentences = augmented_sentences[:num_aug]
    else:
        keep_prob = num_aug / len(augmented_sentences)
        augmented_sentences = [s for s in augmented_sentences if random.uniform(0, 1) < keep_prob]
    augmented_sentences.append(sentence)
    return augmented_sentences

# ============================================================================
# end of EDA REFERENCE
# ============================================================================


def read_sentences(limit):
    texts = []
    with open(TRAIN_TSV, encoding="utf-8-sig") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            texts.append(line.split("\t", 1)[1])
            if len(texts) == limit:
                break
    return texts


def timed(fn):
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def fresh_nltk_reader():
    """A new NLTK WordNetCorpusReader on the repository's data (its own, empty synset cache)."""
    import warnings

    from nltk.corpus.reader import CorpusReader, WordNetCorpusReader
    from nltk.corpus.util import LazyCorpusLoader

    from textrecipes.augment.wordnet import _find_wordnet, wordnet_search_dirs

    root, data_dir = _find_wordnet(wordnet_search_dirs())
    import nltk

    if data_dir not in nltk.data.path:
        nltk.data.path.append(data_dir)
    omw = LazyCorpusLoader("omw-2.0", CorpusReader, r".*/wn-data-.*\.tab", encoding="utf8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WordNetCorpusReader(root, omw)


def warm_page_cache():
    from textrecipes.augment.wordnet import _find_wordnet, wordnet_search_dirs

    root, _ = _find_wordnet(wordnet_search_dirs())
    for path in glob.glob(os.path.join(root, "*")):
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass


def bench_throughput(n_sentences, log):
    from textrecipes.augment import wordnet as wordnet_lib
    from textrecipes.augment.eda import Augmenter

    sentences = read_sentences(n_sentences)
    n = len(sentences)
    log(f"throughput: {n} sentences, EDA params {EDA_PARAMS}")
    warm_page_cache()
    rows = []
    loads = {}

    def add(impl, pass_name, wall, cpu, produced):
        rows.append(dict(impl=impl, pass_name=pass_name, n=n, wall=wall, cpu=cpu,
                         sps_wall=n / wall, sps_cpu=n / cpu, produced=produced))
        log(f"  {impl:34s} {pass_name:24s} wall {wall:7.2f} s  cpu {cpu:7.2f} s  "
            f"{n / wall:8.0f} sent/s wall  {n / cpu:8.0f} sent/s cpu")

    # --- textrecipes ------------------------------------------------------
    # A new reader (drop any the process already built), loaded outside timing.
    wordnet_lib._WORDNET_READERS.clear()
    w, c, _ = timed(lambda: wordnet_lib.WordNetSynonyms().load())
    loads["textrecipes WordNet load"] = (w, c)
    augmenter = Augmenter("wordnet", seed=0, **EDA_PARAMS)
    augmenter._source.load()

    def ours(epoch):
        count = 0
        for i, text in enumerate(sentences):
            count += len(augmenter.augment(text, epoch=epoch, index=i))
        return count

    w, c, produced = timed(lambda: ours(0))
    add("textrecipes Augmenter.augment", "cold (pass 1, epoch 0)", w, c, produced)
    for epoch in (1, 2):
        w, c, produced = timed(lambda: ours(epoch))
        add("textrecipes Augmenter.augment", f"steady (pass {epoch + 1}, epoch {epoch})", w, c, produced)

    # --- EDA reference ------------------------------------------------------
    for label, per_technique in (("EDA reference, as written (8 made)", None),
                                 ("EDA reference, equal work (4 made)", 1)):
        w, c, wn = timed(fresh_nltk_reader)
        wn.ensure_loaded()
        loads[f"NLTK reader load ({label})"] = (w, c)
        random.seed(1)  # as eda.py does at import

        def ref():
            count = 0
            for text in sentences:
                # minus the original, which eda() appends
                count += len(ref_eda(wn, text, per_technique=per_technique, **EDA_PARAMS)[:-1])
            return count

        w, c, produced = timed(ref)
        add(label, "cold (pass 1)", w, c, produced)
        w, c, produced = timed(ref)
        add(label, "warm (pass 2)", w, c, produced)
    return dict(rows=rows, loads=loads, n=n)


def throughput_ratios(result):
    rows = result["rows"]

    def get(impl_prefix, pass_prefix):
        picked = [r for r in rows if r["impl"].startswith(impl_prefix) and r["pass_name"].startswith(pass_prefix)]
        return picked

    ours_cold = get("textrecipes", "cold")[0]
    ours_steady = get("textrecipes", "steady")
    steady_cpu = sum(r["cpu"] for r in ours_steady) / len(ours_steady)
    steady_wall = sum(r["wall"] for r in ours_steady) / len(ours_steady)
    out = []
    for impl in ("EDA reference, as written", "EDA reference, equal work"):
        cold = get(impl, "cold")[0]
        warm = get(impl, "warm")[0]
        out.append(dict(ref=impl, cold_cpu=cold["cpu"] / ours_cold["cpu"], cold_wall=cold["wall"] / ours_cold["wall"],
                        steady_cpu=warm["cpu"] / steady_cpu, steady_wall=warm["wall"] / steady_wall))
    return out


# ----------------------------------------------------------------------------
# Accuracy


def arm_overrides(arm, n, epochs, patience, monitor):
    base = {
        "data": {"max_train_examples": n},
        "train": {"epochs": epochs},
        "callbacks": {"early_stopping": {"patience": patience, "monitor": monitor,
                                         "mode": "max" if "acc" in monitor else "min"},
                      "checkpoint": {"enabled": False}, "backup": {"enabled": False}},
        "export": {"saved_model": False, "keras": False},
    }
    if arm == "baseline":
        base["augment"] = {"enabled": False}
    elif arm == "augment":
        base["augment"] = {"enabled": True, "source": "wordnet", "probability": 0.5,
                           "alpha_sr": 0.1, "alpha_ri": 0.1, "alpha_rs": 0.1, "p_rd": 0.1}
    elif arm == "augment_strong":
        base["augment"] = {"enabled": True, "source": "wordnet", "probability": 1.0,
                           "alpha_sr": 0.1, "alpha_ri": 0.1, "alpha_rs": 0.1, "p_rd": 0.1}
    else:
        raise ValueError(arm)
    return base


ARM_TEXT = {
    "baseline": "no augmentation",
    "augment": "on the fly, WordNet, probability 0.5, alpha_sr/ri/rs 0.1, p_rd 0.1",
    "augment_strong": "on the fly, WordNet, probability 1.0, alpha_sr/ri/rs 0.1, p_rd 0.1",
}


def bench_accuracy(arms, seeds, n, epochs, patience, monitor, log, progress_path=None):
    import keras

    from textrecipes.workflows.train import train

    runs = []
    tmp = tempfile.mkdtemp(prefix="bench_augment_")
    for seed in seeds:  # interleaved by seed: a cut-short run still has paired arms
        for arm in arms:
            overrides = arm_overrides(arm, n, epochs, patience, monitor)
            overrides["seed"] = seed
            keras.backend.clear_session()
            gc.collect()
            t0 = time.perf_counter()
            result = train(RECIPE, overrides=overrides, run_dir=os.path.join(tmp, f"{arm}_{seed}"),
                           overwrite=True, verbose=0)
            seconds = time.perf_counter() - t0
            val_loss = result.history.get("val_loss", [])
            watched = result.history.get(monitor, [])
            pick = max if "acc" in monitor else min
            best_epoch = (pick(range(len(watched)), key=watched.__getitem__) + 1) if watched else None
            run = dict(arm=arm, seed=seed, accuracy=result.metrics["accuracy"], macro_f1=result.metrics["macro_f1"],
                       epochs_run=len(result.history.get("loss", [])), best_epoch=best_epoch,
                       val_loss=val_loss, val_accuracy=result.history.get("val_binary_accuracy", []),
                       seconds=seconds)
            runs.append(run)
            log(f"  {arm:15s} seed {seed}: test acc {run['accuracy']:.4f}  macro F1 {run['macro_f1']:.4f}  "
                f"epochs {run['epochs_run']} (best {monitor} at {best_epoch})  {seconds:.0f} s")
            if progress_path:
                with open(progress_path, "w") as f:
                    json.dump(runs, f, indent=1)
    return runs


def mean_std(values):
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


# ----------------------------------------------------------------------------
# Report


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} CPUs (nproc {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}), {cpu}"


def versions():
    out = [f"Python {platform.python_version()}"]
    for mod in ("tensorflow", "keras", "nltk"):
        try:
            out.append(f"{mod} {__import__(mod).__version__}")
        except Exception:  # pragma: no cover
            pass
    return ", ".join(out)


def report(args, command, throughput, runs, arms, started, finished):
    lines = ["# Augmentation benchmark", ""]
    lines += [f"- Date (UTC): {started} to {finished}",
              f"- Machine: {machine()}; load average at the end {os.getloadavg()[0]:.1f} "
              "(shared machine: other jobs ran at the same time, so wall times are noisy; CPU time is the steadier figure)",
              f"- Software: {versions()}",
              f"- Command: `{command}`", ""]
    if throughput:
        n = throughput["n"]
        lines += ["## 1. Throughput: `Augmenter.augment` vs the EDA reference code", "",
                  f"First {n} sentences of data/rotten_tomatoes/train.tsv, WordNet synonyms, "
                  "alpha_sr = alpha_ri = alpha_rs = p_rd = 0.1, num_aug = 4, one process, one thread. "
                  "Sentences/s counts input sentences (each gives 4 variants). "
                  "The reference is the EDA algorithm of jasonwei20/eda_nlp code/eda.py, copied into this file "
                  "(`wordnet.synsets` on every look-up, its get_only_chars cleaning, its stop words); "
                  "as written it makes 2 variants per operation (8) and keeps 4, so it is also timed making "
                  "exactly 4 (\"equal work\"). textrecipes does not clean the text (it keeps punctuation, "
                  "digits, case), so its token lists differ slightly from the reference's.", "",
                  "| implementation | pass | wall s | CPU s | sentences/s (wall) | sentences/s (CPU) | variants made |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for r in throughput["rows"]:
            lines.append(f"| {r['impl']} | {r['pass_name']} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                         f"{r['sps_wall']:,.0f} | {r['sps_cpu']:,.0f} | {r['produced']:,} |")
        lines += ["", "Speed-up of textrecipes (reference time / textrecipes time; steady = mean of textrecipes "
                  "passes 2-3 vs the reference's warm pass 2):", "",
                  "| against | cold, CPU | cold, wall | steady, CPU | steady, wall |", "|---|---:|---:|---:|---:|"]
        for r in throughput_ratios(throughput):
            lines.append(f"| {r['ref']} | {r['cold_cpu']:.1f}x | {r['cold_wall']:.1f}x | "
                         f"{r['steady_cpu']:.1f}x | {r['steady_wall']:.1f}x |")
        lines += ["", "WordNet load (not in the timings above): " + "; ".join(
            f"{k} {w:.1f} s wall / {c:.1f} s CPU" for k, (w, c) in throughput["loads"].items()), ""]
    if runs:
        seeds = sorted({r["seed"] for r in runs})
        lines += ["## 2. Accuracy effect of on-the-fly augmentation at N = %d" % args.n, "",
                  f"Default recipe (recipes/sentiment_lstm.toml: BiLSTM 128, mean+max pooling, dropout 0.5, Adam 1e-3, "
                  f"batch 32), `data.max_train_examples={args.n}` (the first {args.n} training examples), full "
                  f"validation and test splits, `train.epochs={args.epochs}`, early stopping on {args.monitor} with "
                  f"patience {args.patience} and best weights restored (all arms; the recipe's default monitor is "
                  f"val_loss), recipe seeds {seeds} "
                  "(the seed also seeds the augmentation). Checkpoint, backup and export off in all arms. "
                  "Test accuracy is after best-weight restore.", "",
                  "| arm | settings | test accuracy per seed | accuracy mean ± std | macro F1 mean ± std | "
                  f"epochs run (best {args.monitor} epoch) | seconds/run |",
                  "|---|---|---|---:|---:|---|---:|"]
        by_arm = {a: [r for r in runs if r["arm"] == a] for a in arms}
        for arm in arms:
            rs = by_arm[arm]
            if not rs:
                continue
            acc = mean_std([r["accuracy"] for r in rs])
            f1 = mean_std([r["macro_f1"] for r in rs])
            lines.append(f"| {arm} | {ARM_TEXT[arm]} | " + ", ".join(f"{r['accuracy']:.4f}" for r in rs) +
                         f" | {acc[0]:.4f} ± {acc[1]:.4f} | {f1[0]:.4f} ± {f1[1]:.4f} | " +
                         ", ".join(f"{r['epochs_run']} ({r['best_epoch']})" for r in rs) +
                         f" | {statistics.fmean(r['seconds'] for r in rs):.0f} |")
        lines += ["", "Difference from the baseline (same seed paired; points = percentage points of test accuracy):", "",
                  "| arm | mean difference | paired differences per seed | std of paired differences |",
                  "|---|---:|---|---:|"]
        base = {r["seed"]: r["accuracy"] for r in by_arm.get("baseline", [])}
        for arm in arms:
            if arm == "baseline":
                continue
            diffs = [100 * (r["accuracy"] - base[r["seed"]]) for r in by_arm[arm] if r["seed"] in base]
            if diffs:
                m, s = mean_std(diffs)
                lines.append(f"| {arm} | {m:+.2f} points | " + ", ".join(f"{d:+.2f}" for d in diffs) +
                             f" | {s:.2f} |")
        lines += ["", "Validation loss / validation accuracy per epoch (to see where early stopping cut in):", ""]
        for r in runs:
            lines.append(f"- {r['arm']} seed {r['seed']}: loss " + " ".join(f"{v:.3f}" for v in r["val_loss"]) +
                         "; acc " + " ".join(f"{v:.3f}" for v in r["val_accuracy"]))
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--throughput-only", action="store_true", help="only part 1")
    group.add_argument("--accuracy-only", action="store_true", help="only part 2")
    parser.add_argument("--seeds", type=int, default=3, help="recipe seeds 0..SEEDS-1 per arm (default 3)")
    parser.add_argument("--n", type=int, default=500, help="training examples (default 500)")
    parser.add_argument("--sentences", type=int, default=10000, help="sentences for the throughput part (default 10000)")
    parser.add_argument("--epochs", type=int, default=20, help="train.epochs (default 20)")
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience, all arms (default 5)")
    parser.add_argument("--monitor", default="val_binary_accuracy",
                        help="early-stopping monitor, all arms (default val_binary_accuracy; the recipe's val_loss "
                             "restores the epoch-2 majority-class model at N=500, see the results file)")
    parser.add_argument("--no-strong", action="store_true", help="skip the third arm (probability 1.0)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny smoke run: 200 sentences, 1 seed, 2 epochs, baseline+augment; writes nothing unless --out")
    parser.add_argument("--out", default=None, help="markdown file (default benchmarks/results/augment.md; none with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sentences, args.seeds, args.epochs, args.n = min(args.sentences, 200), 1, 2, min(args.n, 200)
        args.no_strong = True
    out = args.out or (None if args.quick else os.path.join(ROOT, "benchmarks", "results", "augment.md"))
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def log(*parts):
        print(*parts, flush=True)

    throughput = None
    runs = []
    arms = ["baseline", "augment"] + ([] if args.no_strong else ["augment_strong"])
    if not args.accuracy_only:
        throughput = bench_throughput(args.sentences, log)
    if not args.throughput_only:
        log(f"accuracy: N={args.n}, epochs {args.epochs}, monitor {args.monitor}, patience {args.patience}, seeds {list(range(args.seeds))}, arms {arms}")
        progress = os.path.join(tempfile.gettempdir(), "bench_augment.progress.json")
        runs = bench_accuracy(arms, list(range(args.seeds)), args.n, args.epochs, args.patience, args.monitor, log,
                              progress)
    finished = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = report(args, command, throughput, runs, arms, started, finished)
    print()
    print(text)
    if out:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
