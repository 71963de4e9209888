"""
Tiny Shakespeare, one token per character: writes train.bin, val.bin and meta.json (65 characters,
1,003,854 train / 111,540 val tokens on the standard file).
The text is --input, else input.txt in the output folder, else downloaded there from karpathy/char-rnn.
The first 90% of the characters is the training split, the last 10% the validation split.

    python data/shakespeare_char/prepare.py
"""
import argparse
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from tokenizer import build_tokenizer, write_dataset  # noqa: E402

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def read_text(input_path, out_dir, url):
    """The corpus: --input, else <out_dir>/input.txt, downloading it there first if absent."""
    path = input_path or os.path.join(out_dir, "input.txt")
    if not os.path.isfile(path):
        if input_path:
            fail(f"{path} not found")
        print(f"downloading {url} ...")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except OSError as e:  # URLError, HTTPError and timeouts are all OSErrors
            fail(f"could not download {url} ({e}); download it yourself and pass --input=PATH")
        os.makedirs(out_dir, exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")
    if not text:
        fail(f"{path} is empty")
    return text


def main(kind="char", here=os.path.dirname(os.path.abspath(__file__)), description=__doc__):
    """Also data/shakespeare/prepare.py's main, with kind='gpt2' and its own folder."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", help="the text file to use (default: input.txt in the output folder)")
    parser.add_argument("--out_dir", default=here, help="where the .bin files and meta.json go (default: here)")
    parser.add_argument("--url", default=URL, help="where to download the text from when there is no input.txt")
    args = parser.parse_args()

    text = read_text(args.input, args.out_dir, args.url)
    print(f"length of dataset in characters: {len(text):,}")
    n = int(0.9 * len(text))
    try:  # char: the vocabulary of the whole text, as nanoGPT does
        tok, meta = build_tokenizer(kind, [text])
    except RuntimeError as e:  # gpt2: GPT-2's files neither downloadable nor installed
        fail(str(e))
    print(f"vocab size: {tok.vocab_size}")
    train_ids, val_ids = tok.encode(text[:n]), tok.encode(text[n:])
    meta = write_dataset(args.out_dir, {"train": train_ids, "val": val_ids}, meta)
    print(f"train has {len(train_ids):,} tokens, val has {len(val_ids):,} tokens ({meta['dtype']})")
    print(f"wrote train.bin, val.bin and meta.json to {args.out_dir}")


if __name__ == "__main__":
    main()
