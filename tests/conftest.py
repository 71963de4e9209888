import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_SHAKESPEARE = os.path.join(ROOT, '..', 'shared', 'data', 'tinyshakespeare.txt')
sys.path.insert(0, ROOT)
# the lyrics scripts import their sibling lyrics_files.py (running a script puts its folder on sys.path)
sys.path.insert(0, os.path.join(ROOT, 'data', 'lyrics', 'data_generator'))


def run_script(script, *args, env=None, timeout=300, cwd=None):
    """Run one of the top-level scripts in a subprocess (as a user would) and return the result."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', **(env or {}))
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=cwd or ROOT)


def verse_text(n_stanzas=400, seed=0):
    """A small made-up corpus with some structure (repeated words and rhymes) for fast training tests."""
    import random
    rng = random.Random(seed)
    words = ['night', 'light', 'fight', 'right', 'day', 'way', 'stay', 'play', 'flow', 'go', 'show', 'know',
             'the', 'a', 'we', 'you', 'i', 'run', 'see', 'feel', 'in', 'on', 'my', 'your', 'city', 'heart']
    stanzas = []
    for _ in range(n_stanzas):
        lines = [' '.join(rng.choice(words) for _ in range(rng.randint(3, 7))) for _ in range(4)]
        stanzas.append('\n'.join(lines))
    return '\n\n'.join(stanzas) + '\n'


@pytest.fixture(autouse=True)
def one_thread():
    """Tests use tiny tensors: more threads only add synchronisation, which is slow on a busy 2-core machine
    (subprocesses keep their own thread count)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def char_data(tmp_path_factory):
    """A prepared character-level dataset folder (train.bin, val.bin, meta.json) with an end-of-text token."""
    import tokenizer
    folder = str(tmp_path_factory.mktemp('char_data'))
    text = verse_text()
    cut = int(len(text) * 0.9)
    enc, meta = tokenizer.build_tokenizer('char', [text], separator=True)
    tokenizer.write_dataset(folder, {'train': enc.encode(text[:cut]), 'val': enc.encode(text[cut:])}, meta)
    return folder


TINY_MODEL = ['--n_layer=2', '--n_head=2', '--n_embd=32', '--block_size=32', '--batch_size=4',
              '--gradient_accumulation_steps=1', '--device=cpu', '--dtype=float32', '--compile=False',
              '--eval_iters=4', '--log_interval=1', '--warmup_iters=2', '--learning_rate=3e-3']
