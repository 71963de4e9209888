"""The model-evolution ladder: config/ablation_*.py build the intended rungs of the one GPT; ablation.py runs them."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import tokenizer  # noqa: E402
from model import GPT, LayerNorm, model_config  # noqa: E402



RUNGS = ['1_bigram', '2_one_head', '3_multi_head', '4_blocks', '5_residual', '6_full']
VOCAB = 65  # shakespeare_char


def train_keys():
    """The settings train.py accepts: its module globals defined before configure() is called."""
    source = (REPO / 'train.py').read_text().split('from configurator import')[0]
    return set(re.findall(r'^(\w+) = ', source, flags=re.M))


def rung(name):
    """(settings of config/ablation_<name>.py, the GPT it builds)."""
    settings = {}
    exec((REPO / 'config' / 'ablation.py').read_text(), settings)  # the shared budget, then the rung
    exec((REPO / 'config' / f'ablation_{name}.py').read_text(), settings)
    settings = {k: v for k, v in settings.items() if not k.startswith('__')}
    torch.manual_seed(0)
    return settings, GPT(model_config(dict(settings, vocab_size=VOCAB)))


def test_the_ladder_is_complete_and_uses_train_keys():
    assert sorted(p.stem[len('ablation_'):] for p in (REPO / 'config').glob('ablation_*.py')) == RUNGS
    keys = train_keys()
    for name in RUNGS:
        settings, _ = rung(name)
        assert set(settings) <= keys, f'{name}: unknown train.py keys {set(settings) - keys}'
        # every rung trains with the same budget and data, so the losses compare
        same = ('max_iters', 'batch_size', 'block_size', 'learning_rate', 'n_embd', 'dataset', 'seed')
        assert {k: settings.get(k) for k in same} == {k: rung(RUNGS[0])[0].get(k) for k in same}


def blocks(model):
    return list(model.transformer.h)


def test_bigram_rung_is_a_lookup_table():
    settings, model = rung('1_bigram')
    assert blocks(model) == [] and 'wpe' not in model.transformer
    assert isinstance(model.transformer.ln_f, nn.Identity)
    assert model.lm_head.weight is not model.transformer.wte.weight  # separate in and out tables
    # the next-token distribution depends on the current token only
    a = torch.tensor([[5, 9, 3, 7]])
    b = torch.tensor([[1, 2, 8, 7]])
    assert torch.equal(model(a)[0], model(b)[0])
    assert not torch.equal(model(a)[0], model(torch.tensor([[5, 9, 3, 6]]))[0])


def test_attention_rungs_have_one_layer_without_mlp_residual_or_norm():
    for name, heads in (('2_one_head', 1), ('3_multi_head', 4)):
        settings, model = rung(name)
        (block,) = blocks(model)
        assert block.attn.n_head == heads and not hasattr(block, 'mlp')
        assert not block.residual and isinstance(block.ln_1, nn.Identity)
        # no residual path: with the attention output projection zeroed, nothing reaches the head
        with torch.no_grad():
            block.attn.c_proj.weight.zero_()
        x = torch.randn(2, 5, settings['n_embd'])
        assert torch.count_nonzero(block(x)) == 0
    # one head of size n_embd versus four smaller heads over the same parameters
    assert rung('2_one_head')[1].get_num_params() == rung('3_multi_head')[1].get_num_params()


def test_block_rungs_add_mlp_then_residual_then_layernorm_and_dropout():
    _, stacked = rung('4_blocks')
    _, residual = rung('5_residual')
    settings, full = rung('6_full')
    for model in (stacked, residual, full):
        assert len(blocks(model)) == 4 and all(hasattr(b, 'mlp') and b.attn.n_head == 4 for b in blocks(model))
    assert not any(b.residual for b in blocks(stacked)) and all(b.residual for b in blocks(residual))
    assert isinstance(blocks(residual)[0].ln_1, nn.Identity)
    assert all(isinstance(m, LayerNorm) for b in blocks(full) for m in (b.ln_1, b.ln_2))
    assert isinstance(full.transformer.ln_f, LayerNorm) and settings['dropout'] > 0
    # residual=True adds the block's input back: a block with zeroed output projections is the identity
    block = blocks(residual)[0]
    with torch.no_grad():
        block.attn.c_proj.weight.zero_()
        block.mlp.c_proj.weight.zero_()
    x = torch.randn(2, 5, 64)
    assert torch.equal(block(x), x)


@pytest.mark.slow
def test_ablation_script_trains_rungs_and_writes_table(tmp_path):
    pytest.importorskip('matplotlib')
    text = ('First Citizen:\nBefore we proceed any further, hear me speak.\n\n'
            'All:\nSpeak, speak.\n\n') * 60
    enc, meta = tokenizer.build_tokenizer('char', [text])
    ids = enc.encode(text)
    tokenizer.write_dataset(str(tmp_path / 'data'), {'train': ids, 'val': ids[:800]}, meta)
    prefix = tmp_path / 'assets' / 'ablation'
    r = subprocess.run([sys.executable, str(REPO / 'ablation.py'), f'--data_dir={tmp_path / "data"}',
                        f'--out_root={tmp_path / "runs"}', f'--compare_out={prefix}', '--rungs=1_bigram,6_full',
                        '--max_iters=4', '--num_samples=1', '--max_new_tokens=20', '--device=cpu'],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, OMP_NUM_THREADS='1'))  # tiny models: one thread is fastest
    assert r.returncode == 0, r.stderr[-2000:]
    table = (tmp_path / 'assets' / 'ablation.md').read_text()
    assert '| 1_bigram |' in table and '| 6_full |' in table and '4_blocks' not in table
    assert (tmp_path / 'assets' / 'ablation.png').read_bytes()[:4] == b'\x89PNG'
    assert (tmp_path / 'runs' / '6_full' / 'eval.json').exists()
    r = subprocess.run([sys.executable, str(REPO / 'ablation.py'), '--rungs=7_nope'], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'unknown rung' in r.stderr
