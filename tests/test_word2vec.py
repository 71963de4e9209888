"""embeddings.py: word2vec vectors over token ids, the init of a GPT's embedding, the t-SNE picture;
train.py --init_embeddings=word2vec."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import embeddings  # noqa: E402
import tokenizer  # noqa: E402
from model import GPT, GPTConfig  # noqa: E402

gensim = pytest.importorskip('gensim', reason='word2vec needs gensim: pip install gensim')


SEEN = [1, 2, 3] + list(range(10, 60))  # the ids synonym_stream uses


def synonym_stream(n=20000, seed=0):
    """Token ids where 1 and 2 are interchangeable (both between two of 10..19) and 3 lives elsewhere
    (between two of 20..29), separated by noise (30..59); 0, 4..9 and 60+ never occur."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        if rng.random() < 0.5:
            out += [int(rng.integers(10, 20)), int(rng.choice([1, 2])), int(rng.integers(10, 20))]
        else:
            out += [int(rng.integers(20, 30)), 3, int(rng.integers(20, 30))]
        out += rng.integers(30, 60, size=2).tolist()
    return np.array(out, dtype=np.uint16)


def cos(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_word2vec_learns_from_contexts_and_is_deterministic():
    ids = synonym_stream()
    vectors, seen = embeddings.word2vec_vectors(ids, vocab_size=64, dim=16, seed=3)
    assert vectors.shape == (64, 16) and vectors.dtype == np.float32
    assert np.flatnonzero(seen).tolist() == SEEN and not vectors[~seen].any()
    centred = vectors[seen] - vectors[seen].mean(axis=0)
    one, two, three = centred[:3]  # ids 1, 2, 3
    assert cos(one, two) > cos(one, three) + 0.5
    again, _ = embeddings.word2vec_vectors(ids, vocab_size=64, dim=16, seed=3)
    assert np.array_equal(vectors, again)


def test_scale_like_init_keeps_geometry_at_init_std():
    rng = np.random.default_rng(1)
    vectors = rng.normal(3.0, 2.0, size=(50, 8)).astype(np.float32)
    scaled = embeddings.scale_like_init(vectors)
    assert scaled.std() == pytest.approx(0.02, rel=1e-4)
    assert np.abs(scaled.mean(axis=0)).max() < 1e-6  # centred
    centred = vectors - vectors.mean(axis=0)
    assert cos(scaled[0], scaled[1]) == pytest.approx(cos(centred[0], centred[1]), abs=1e-5)


def test_init_word2vec_changes_seen_rows_only_and_keeps_shapes():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=64, bias=False))
    before = model.transformer.wte.weight.detach().clone()
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert embeddings.init_word2vec(model, synonym_stream(), seed=3) == len(SEEN)
    after = model.transformer.wte.weight.detach()
    assert {k: v.shape for k, v in model.state_dict().items()} == shapes
    unseen = [i for i in range(64) if i not in SEEN]
    assert torch.equal(after[unseen], before[unseen])  # never in training: random init kept
    assert not torch.equal(after[SEEN], before[SEEN])
    assert float(after[SEEN].std()) == pytest.approx(0.02, rel=1e-3)
    assert model.lm_head.weight is model.transformer.wte.weight  # the tied head starts from it too
    w = after.numpy()
    assert cos(w[1], w[2]) > cos(w[1], w[3]) + 0.5


def test_plot_tsne_writes_png(tmp_path):
    pytest.importorskip('sklearn', reason='t-SNE needs scikit-learn')
    pytest.importorskip('matplotlib')
    vectors = np.random.default_rng(0).normal(size=(20, 8))
    labels = [embeddings.token_label(t) for t in [' ', '\n', 'word'] + [f't{i}' for i in range(17)]]
    assert labels[:2] == ['\u2423', '\\n']
    embeddings.plot_tsne(vectors, labels, str(tmp_path / 'emb.png'), title='test')
    assert (tmp_path / 'emb.png').read_bytes()[:4] == b'\x89PNG'


def tiny_dataset(folder):
    text = 'the king is dead long live the king\nthe queen is here long live the queen\n' * 40
    enc, meta = tokenizer.build_tokenizer('word', [text])
    ids = enc.encode(text)
    tokenizer.write_dataset(str(folder), {'train': ids, 'val': ids[:300]}, meta)


def train(tmp_path, *args):
    cmd = [sys.executable, str(REPO / 'train.py'), f'--data_dir={tmp_path / "data"}', f'--out_dir={tmp_path / "out"}',
           '--n_layer=1', '--n_head=2', '--n_embd=16', '--block_size=16', '--batch_size=4',
           '--gradient_accumulation_steps=1', '--max_iters=2', '--eval_interval=2', '--eval_iters=2',
           '--device=cpu', '--dtype=float32', *args]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))


@pytest.mark.slow
def test_train_with_word2vec_init_and_plot_embeddings(tmp_path):
    tiny_dataset(tmp_path / 'data')
    r = train(tmp_path, '--init_embeddings=word2vec')
    assert r.returncode == 0, r.stderr
    assert 'word2vec: initialised' in r.stdout
    r = train(tmp_path, '--init_embeddings=glove')
    assert r.returncode == 2 and "init_embeddings must be 'none' or 'word2vec'" in r.stderr
    pytest.importorskip('sklearn', reason='t-SNE needs scikit-learn')
    for source in ('model', 'word2vec'):
        r = subprocess.run([sys.executable, str(REPO / 'evaluate.py'), f'--out_dir={tmp_path / "out"}',
                            '--plot_embeddings', f'--embeddings_source={source}', '--device=cpu'],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, OMP_NUM_THREADS='1'))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / 'out' / 'embeddings.png').read_bytes()[:4] == b'\x89PNG'
