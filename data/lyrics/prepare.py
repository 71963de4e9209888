"""
Song lyrics -> token files for training: reads data.json (a list of {"artist", "title", "text"} written by
data_generator/preprocess.py) and writes train.bin, val.bin (and test.bin with --test_fraction) plus
meta.json (and tokenizer.json for --tokenizer=bpe) beside it.

- The split is by song, seeded: a song (same artist and title) is never in two splits.
- Every song is followed by the end-of-text token, so a model learns where songs end.
- --artist_tags starts every song with a line "Artist: <name>\\n", so that
  `python sample.py --start="Artist: Eminem\\n"` asks for a song in that artist's style.
- Tokenizers: gpt2 (GPT-2 BPE, 50257 tokens), char (the characters of all songs + an end-of-text token),
  bpe (byte-level BPE trained on the train split, --vocab_size), word (words, punctuation and spaces seen
  at least --min_count times in the train split; the rest becomes an unknown token).

    python data/lyrics/prepare.py --tokenizer=char --artist_tags
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from tokenizer import KINDS, build_tokenizer, write_dataset  # noqa: E402

ARTIST_TAG = "Artist: {artist}\n"


def fail(message, code=1):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def load_songs(path):
    """The songs of data.json that have lyrics, as (artist, title, text) tuples."""
    if not os.path.isfile(path):
        fail(f"{path} not found: run data/lyrics/data_generator/preprocess.py first (or pass --input)")
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        fail(f"{path} is not valid JSON ({e})")
    if not isinstance(entries, list):
        fail(f"{path} should hold a JSON list of {{\"artist\", \"title\", \"text\"}} objects")
    songs = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            fail(f"{path}: entry {i} is not an object with a \"text\" string")
        if entry["text"].strip():
            songs.append((str(entry.get("artist") or ""), str(entry.get("title") or ""), entry["text"]))
    if not songs:
        fail(f"{path} holds no songs with lyrics")
    return songs


def split_songs(songs, val_fraction, test_fraction, seed):
    """{"train": [...], "val": [...], ("test": [...])}: whole songs, chosen at random with the seed."""
    # copies of one song (same artist and title) go together, so the model is never scored on a song it saw
    groups = {}
    for i, (artist, title, _) in enumerate(songs):
        key = (artist.casefold(), title.casefold()) if title else ("", i)
        groups.setdefault(key, []).append(i)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    n_val = max(1, round(len(keys) * val_fraction))
    n_test = max(1, round(len(keys) * test_fraction)) if test_fraction > 0 else 0
    if n_val + n_test >= len(keys):
        fail(f"only {len(keys)} distinct songs: too few to split into train/val{'/test' if n_test else ''}")
    chosen = {"train": keys[n_val + n_test:], "val": keys[:n_val]}
    if n_test:
        chosen["test"] = keys[n_val:n_val + n_test]
    # within a split, keep the order of data.json (files are then easy to compare between runs)
    return {name: [songs[i] for i in sorted(i for key in ks for i in groups[key])] for name, ks in chosen.items()}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=os.path.join(here, "data.json"), help="data.json to read")
    parser.add_argument("--out_dir", help="where the output files go (default: the folder of --input)")
    parser.add_argument("--tokenizer", default="gpt2", choices=KINDS, help="tokenizer kind (default gpt2)")
    parser.add_argument("--vocab_size", type=int, help="bpe: vocabulary size to train (default 8192); "
                                                       "word: optional cap on the vocabulary")
    parser.add_argument("--min_count", type=int, default=2, help="word: rarer words become <|unk|> (default 2)")
    parser.add_argument("--val_fraction", type=float, default=0.1, help="share of songs for val (default 0.1)")
    parser.add_argument("--test_fraction", type=float, default=0.0, help="share of songs for test.bin (default 0)")
    parser.add_argument("--seed", type=int, default=1337, help="seed of the song split (default 1337)")
    parser.add_argument("--artist_tags", action="store_true", help='start each song with "Artist: <name>\\n"')
    parser.add_argument("--block_size", type=int, default=256,
                        help="context length of the model: each split must hold more than block_size+1 tokens")
    args = parser.parse_args()
    if not 0 < args.val_fraction < 1 or not 0 <= args.test_fraction < 1 \
            or args.val_fraction + args.test_fraction >= 1:
        fail("need 0 < --val_fraction < 1, 0 <= --test_fraction and val_fraction + test_fraction < 1", 2)
    if args.block_size < 1 or args.min_count < 1:
        fail("--block_size and --min_count must be at least 1", 2)
    if args.tokenizer == "bpe" and args.vocab_size is None:
        args.vocab_size = 8192
    if args.vocab_size is not None and args.vocab_size < (257 if args.tokenizer == "bpe" else 3):
        fail(f"--vocab_size is too small for {args.tokenizer} (bpe needs 257+: 256 bytes and <|endoftext|>)", 2)
    out_dir = args.out_dir or os.path.dirname(os.path.abspath(args.input))

    songs = load_songs(args.input)
    splits = split_songs(songs, args.val_fraction, args.test_fraction, args.seed)
    texts = {name: [(ARTIST_TAG.format(artist=artist) if args.artist_tags and artist else "") + text
                    for artist, _, text in ss] for name, ss in splits.items()}

    # bpe and word learn from the train split only; a char vocabulary covers every split, so that val and
    # test stay encodable (a set of characters tells the model nothing about the held-out songs)
    if args.tokenizer == "char":
        vocab_texts = [t for ts in texts.values() for t in ts]
    else:
        vocab_texts = texts["train"]
    try:
        tok, meta = build_tokenizer(args.tokenizer, vocab_texts, vocab_size=args.vocab_size,
                                    min_count=args.min_count, separator=True)
    except RuntimeError as e:  # GPT-2's files neither downloadable nor installed
        fail(str(e))

    ids = {}
    for name, ts in texts.items():
        ids[name] = []
        for text in ts:
            ids[name] += tok.encode(text)
            ids[name].append(tok.eot_token)
        if len(ids[name]) <= args.block_size + 1:
            fail(f"the {name} split has only {len(ids[name])} tokens, it needs more than block_size+1 = "
                 f"{args.block_size + 1}: add songs, or lower --block_size or --val_fraction/--test_fraction")

    meta["artist_tag"] = ARTIST_TAG if args.artist_tags else None
    meta["split_seed"] = args.seed
    for name, ss in splits.items():
        meta[f"{name}_songs"] = len(ss)
    meta = write_dataset(out_dir, ids, meta, tokenizer=tok)

    names = list(ids)
    print("songs:  " + ", ".join(f"{name} {len(splits[name]):,}" for name in names))
    print("tokens: " + ", ".join(f"{name} {len(ids[name]):,}" for name in names))
    if tok.kind == "word":
        unknown = sum(i == tok.unk_token for i in ids["val"]) / len(ids["val"])
        print(f"unknown tokens in val: {unknown:.1%} (--min_count={args.min_count})")
    print(f"vocab size {tok.vocab_size:,} ({tok.kind}), dtype {meta['dtype']}")
    print(f"wrote {', '.join(f'{name}.bin' for name in names)} and meta.json to {out_dir}")


if __name__ == "__main__":
    main()
