"""
Any Hugging Face text dataset -> token files for training: train.bin and val.bin (flat uint16/uint32 token
arrays, one end-of-text token after each document) and meta.json, beside this script by default.

    pip install datasets
    python data/hf/prepare.py --name=roneneldan/TinyStories --val_split=validation
    python data/hf/prepare.py --name=roneneldan/TinyStories --max_docs=20000 --tokenizer=char
    python data/hf/prepare.py --data_files="books/*.txt" --sample_by=document --tokenizer=bpe
    python train.py --dataset=hf ...

- The text is the --text_field column of the --split split of dataset --name (--config), downloaded once
  into Hugging Face's cache; or local files (--data_files: .txt through datasets' "text" builder, where
  --sample_by picks a line, a paragraph or a whole file per document; .json/.jsonl, .csv, .parquet).
- val is --val_split of the dataset when given, else a seeded random --val_fraction of the documents
  (at least one). Blank documents are skipped.
- --max_docs N streams only the first N documents of each split (no full download).
- Tokenizers: gpt2 (default; GPT-2 BPE, 50257 tokens), or char, bpe (--vocab_size) and word (--min_count)
  built on the training documents (a char vocabulary on all of them, so val stays encodable).
- Tokenizing runs in --num_proc processes (datasets' map, cached); the token files are then filled shard
  by shard, so a dataset larger than memory is fine. data/openwebtext/prepare.py runs this script.
"""
import argparse
import json
import os
import sys
from itertools import islice

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from tokenizer import KINDS, build_tokenizer  # noqa: E402

MAX_SHARDS = 1024
BUILDERS = {".txt": "text", ".text": "text", ".json": "json", ".jsonl": "json", ".csv": "csv",
            ".parquet": "parquet"}


def fail(message, code=1):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def file_builder(paths):
    """The datasets builder that reads these local files ("text", "json", ...), from their extension."""
    builders = {BUILDERS.get(os.path.splitext(path.removesuffix(".gz"))[1].lower()) for path in paths}
    if len(builders) != 1 or None in builders:
        fail(f"--data_files must all be of one kind: {', '.join(sorted(BUILDERS))} (optionally .gz)", 2)
    return builders.pop()


def load_split(args, split):
    """One split of the dataset as a datasets.Dataset with the single column args.text_field."""
    import datasets
    if args.data_files:
        source = file_builder(args.data_files)
        options = {"data_files": args.data_files, "split": "train"}
        if source == "text":
            options["sample_by"] = args.sample_by
    else:
        source = args.name
        options = {"name": args.config, "split": split}
        if args.trust_remote_code:  # only datasets < 4 knows this option (and runs loading scripts)
            options["trust_remote_code"] = True
    what = ", ".join(args.data_files) if args.data_files else f"dataset {args.name!r} split {split!r}"
    try:
        if args.max_docs:
            stream = datasets.load_dataset(source, streaming=True, **options)
            rows = list(islice(stream, args.max_docs))
            if rows and args.text_field not in rows[0]:
                fail(f"{what} has no field {args.text_field!r} (fields: {', '.join(rows[0])}); use --text_field")
            ds = datasets.Dataset.from_dict({args.text_field: [row[args.text_field] for row in rows]})
        else:
            ds = datasets.load_dataset(source, num_proc=args.num_proc if args.num_proc > 1 else None, **options)
    except Exception as e:  # not found, offline, unknown split or config, bad files: datasets says which
        message = " ".join(str(e).split()) or type(e).__name__
        if "scripts are no longer supported" in message:
            message += ' (this dataset still needs its loading script: pip install "datasets<4" and pass ' \
                       '--trust_remote_code)'
        fail(f"could not load {what}: {message[:500]}")
    if args.text_field not in ds.column_names:
        fail(f"{what} has no field {args.text_field!r} (fields: {', '.join(ds.column_names)}); use --text_field")
    feature = ds.features[args.text_field]
    if getattr(feature, "dtype", None) not in ("string", "large_string", "null"):
        fail(f"field {args.text_field!r} of {what} is not text ({feature}); use --text_field")
    ds = ds.select_columns([args.text_field])
    return ds.filter(is_text, batched=True, fn_kwargs={"text_field": args.text_field},
                     num_proc=min(args.num_proc, len(ds)) if args.num_proc > 1 and len(ds) else None,
                     desc=f"skipping blank documents of {split}")


def is_text(batch, text_field):
    return [bool(text and text.strip()) for text in batch[text_field]]


def texts(ds, text_field):
    """The documents of ds, one string at a time."""
    for batch in ds.iter(batch_size=1000):
        yield from batch[text_field]


def encode_batch(batch, tok, text_field):
    ids = [tok.encode(text) + [tok.eot_token] for text in batch[text_field]]  # the document, then end-of-text
    return {"ids": ids, "len": [len(x) for x in ids]}


def tokenize(ds, tok, text_field, dtype, num_proc, name):
    from datasets import Features, Value
    try:
        from datasets import List  # datasets >= 4
    except ImportError:
        from datasets import Sequence as List
    features = Features({"ids": List(Value(dtype)), "len": Value("int64")})  # uint16 ids: 4x less cache than int64
    return ds.map(encode_batch, batched=True, fn_kwargs={"tok": tok, "text_field": text_field},
                  remove_columns=ds.column_names, features=features, desc=f"tokenizing {name}",
                  num_proc=min(num_proc, len(ds)) if num_proc > 1 else None)


def write_tokens(ds, path, dtype):
    """Concatenate the "ids" of every row of ds into one flat array file; returns (tokens, documents)."""
    from tqdm import tqdm
    lengths = np.asarray(ds.with_format("numpy")["len"])
    total = int(lengths.sum())
    tokens = np.memmap(path, dtype=dtype, mode="w+", shape=(total,))
    n_shards = min(MAX_SHARDS, len(ds))  # small datasets: one document per shard
    start = 0
    for index in tqdm(range(n_shards), desc=f"writing {os.path.basename(path)[:-len('.tmp')]}"):
        shard = ds.shard(num_shards=n_shards, index=index, contiguous=True).with_format("arrow")[:]
        ids = shard.column("ids").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        tokens[start:start + len(ids)] = ids
        start += len(ids)
    assert start == total
    tokens.flush()
    del tokens
    return total, len(lengths)


def main(defaults=None, description=__doc__):
    """Parse the command line (defaults: other default option values, for data/openwebtext) and run."""
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", "--dataset", dest="name", help="dataset on the Hugging Face Hub, e.g. "
                        "roneneldan/TinyStories, or a local folder datasets can load (default %(default)s)")
    parser.add_argument("--config", help="the dataset's configuration (subset), if it has several")
    parser.add_argument("--data_files", nargs="+", metavar="PATH", help="local files (or globs) instead of --name")
    parser.add_argument("--sample_by", default="line", choices=("line", "paragraph", "document"),
                        help="--data_files .txt: one document per line (default), paragraph or file")
    parser.add_argument("--split", default="train", help="split to train on (default train)")
    parser.add_argument("--val_split", help="split to validate on (default: --val_fraction of --split)")
    parser.add_argument("--text_field", default="text", help="column holding the text (default text)")
    parser.add_argument("--val_fraction", type=float, default=0.01,
                        help="share of documents for val (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1337, help="seed of the val split (default 1337)")
    parser.add_argument("--max_docs", type=int, help="only the first N documents of each split (streamed)")
    parser.add_argument("--tokenizer", default="gpt2", choices=KINDS, help="tokenizer kind (default %(default)s)")
    parser.add_argument("--vocab_size", type=int, help="bpe: vocabulary size to train (default 8192); "
                                                       "word: optional cap on the vocabulary")
    parser.add_argument("--min_count", type=int, default=2, help="word: rarer words become <|unk|> (default 2)")
    parser.add_argument("--num_proc", type=int, default=max(1, min(8, (os.cpu_count() or 2) // 2)),
                        help="worker processes for loading and tokenizing (default: half the CPUs, at most 8)")
    parser.add_argument("--out_dir", default=here, help="where the output files go (default %(default)s)")
    parser.add_argument("--block_size", type=int, default=256,
                        help="context length of the model: each split must hold more than block_size+1 tokens")
    parser.add_argument("--trust_remote_code", action="store_true",
                        help="run the dataset's own loading script (only with datasets < 4; runs its code)")
    parser.set_defaults(**(defaults or {}))
    args = parser.parse_args()
    if args.data_files and args.name == (defaults or {}).get("name"):
        args.name = None  # local files replace a default dataset (data/openwebtext's)
    if bool(args.name) == bool(args.data_files):
        fail("give either --name (a Hugging Face dataset) or --data_files (local files)", 2)
    if args.data_files and (args.val_split or args.split != "train"):
        fail("--split and --val_split need --name; local --data_files are split with --val_fraction", 2)
    if not 0 < args.val_fraction < 1:
        fail("need 0 < --val_fraction < 1", 2)
    if min(args.num_proc, args.block_size, args.min_count, 1 if args.max_docs is None else args.max_docs) < 1:
        fail("--num_proc, --block_size, --min_count and --max_docs must be at least 1", 2)
    if args.tokenizer == "bpe" and args.vocab_size is None:
        args.vocab_size = 8192
    if args.vocab_size is not None and args.vocab_size < (257 if args.tokenizer == "bpe" else 3):
        fail(f"--vocab_size is too small for {args.tokenizer} (bpe needs 257+: 256 bytes and <|endoftext|>)", 2)
    if args.data_files:
        file_builder(args.data_files)  # usage errors first, before the slow import of datasets
    try:
        import datasets  # noqa: F401
    except ImportError:
        fail("this script reads Hugging Face datasets: pip install datasets")

    splits = {"train": load_split(args, args.split)}
    if len(splits["train"]) == 0:
        fail(f"no documents with text in the {args.split!r} split")
    if args.val_split:
        splits["val"] = load_split(args, args.val_split)
        if len(splits["val"]) == 0:
            fail(f"no documents with text in the {args.val_split!r} split")
    else:
        n_val = max(1, round(len(splits["train"]) * args.val_fraction))
        if n_val >= len(splits["train"]):
            fail(f"only {len(splits['train'])} documents: too few to split into train/val")
        parts = splits["train"].train_test_split(test_size=n_val, seed=args.seed, shuffle=True)
        splits = {"train": parts["train"], "val": parts["test"]}

    field = args.text_field
    vocab_texts = (t for ds in (splits.values() if args.tokenizer == "char" else [splits["train"]])
                   for t in texts(ds, field))
    try:
        tok, meta = build_tokenizer(args.tokenizer, vocab_texts, vocab_size=args.vocab_size,
                                    min_count=args.min_count, separator=True)
    except (RuntimeError, ValueError) as e:  # GPT-2's files unavailable, no text at all
        fail(str(e))
    dtype = "uint16" if tok.vocab_size <= 65536 else "uint32"  # the rule of tokenizer.write_dataset

    # every file is written under a temporary name and renamed at the end: no half-written dataset
    os.makedirs(args.out_dir, exist_ok=True)
    staged = {}
    try:
        for name, ds in splits.items():
            tokenized = tokenize(ds, tok, field, dtype, args.num_proc, name)
            path = os.path.join(args.out_dir, f"{name}.bin")
            staged[path] = path + ".tmp"
            meta[f"{name}_tokens"], meta[f"{name}_docs"] = write_tokens(tokenized, staged[path], dtype)
            if meta[f"{name}_tokens"] <= args.block_size + 1:
                fail(f"the {name} split has only {meta[f'{name}_tokens']} tokens, it needs more than "
                     f"block_size+1 = {args.block_size + 1}: use more documents or lower --block_size")
        meta["dtype"] = dtype
        meta["dataset"] = args.name or ", ".join(args.data_files)
        if tok.kind == "bpe":
            path = os.path.join(args.out_dir, meta["tokenizer_file"])
            staged[path] = path + ".tmp"
            tok._bpe.save(staged[path])
        path = os.path.join(args.out_dir, "meta.json")
        staged[path] = path + ".tmp"
        with open(staged[path], "w", encoding="utf-8") as f:
            f.write(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        for path, tmp in staged.items():
            os.replace(tmp, path)
    finally:
        for tmp in staged.values():
            if os.path.exists(tmp):
                os.remove(tmp)
    stale = os.path.join(args.out_dir, "test.bin")  # from an earlier dataset in this folder
    if os.path.exists(stale):
        os.remove(stale)

    print(f"documents: train {meta['train_docs']:,}, val {meta['val_docs']:,}")
    print(f"tokens: train {meta['train_tokens']:,}, val {meta['val_tokens']:,}")
    print(f"vocab size {tok.vocab_size:,} ({tok.kind}), dtype {dtype}")
    written = "train.bin, val.bin, tokenizer.json" if tok.kind == "bpe" else "train.bin, val.bin"
    print(f"wrote {written} and meta.json to {args.out_dir}")


if __name__ == "__main__":
    main()
