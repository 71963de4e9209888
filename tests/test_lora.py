"""lora.py: adapters on a frozen model, training, merging, LoRA checkpoints, and train.py / sample.py /
export.py runs with --lora_rank on a tiny local base model."""
import json
import os
from dataclasses import asdict

import pytest
import torch

from conftest import TINY_MODEL, run_script
from export import export_model
from lora import LoRALinear, apply_lora, lora_state_dict, merge_lora
from model import GPT, GPTConfig, load_checkpoint, save_checkpoint

TINY = dict(n_layer=2, n_head=4, n_embd=32, block_size=32, vocab_size=50, dropout=0.0)


def tiny_gpt(seed=0, **kw):
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **kw}))


def batch(seed=1, B=4, T=32, V=50):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (B, T), generator=g), torch.randint(0, V, (B, T), generator=g)


def train_steps(model, x, y, steps=25, lr=1e-2):
    opt = model.configure_optimizers(0.0, lr, (0.9, 0.95), 'cpu')
    losses = []
    model.train()
    for _ in range(steps):
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


def test_fresh_adapters_leave_the_model_unchanged():
    model = tiny_gpt().eval()
    x, y = batch()
    before, _ = model(x, y)
    apply_lora(model, rank=4, alpha=8, dropout=0.1)
    after, _ = model(x, y)
    assert torch.equal(before, after)  # B starts at zero


def test_only_adapters_train_and_are_saved():
    model = apply_lora(tiny_gpt(), rank=4, alpha=8)
    wrapped = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    # attention in/out and MLP in/out of both blocks; never the tied output head
    assert sorted(wrapped) == sorted(f'transformer.h.{i}.{n}' for i in range(2)
                                     for n in ('attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f'{w}.lora_{ab}' for w in wrapped for ab in 'AB'}
    adapters = lora_state_dict(model)
    assert set(adapters) == trainable
    assert adapters['transformer.h.0.attn.c_attn.lora_A'].shape == (4, 32)
    assert adapters['transformer.h.0.attn.c_attn.lora_B'].shape == (96, 4)
    # the base weights keep their names, so a full state dict still loads into a plain GPT
    plain = tiny_gpt(seed=5)
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k not in adapters})
    assert torch.equal(plain.transformer.h[1].mlp.c_fc.weight, model.transformer.h[1].mlp.c_fc.weight)


def test_training_moves_only_adapters_and_merging_keeps_the_function():
    model = tiny_gpt(bias=False)
    # a 'pretrained' embedding with a real scale: at the random init's std 0.02 the frozen output head keeps
    # every logit near zero, whatever the adapters do
    torch.nn.init.normal_(model.transformer.wte.weight, std=0.5)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    apply_lora(model, rank=4, alpha=8, dropout=0.0)
    x, y = batch()
    losses = train_steps(model, x, y)
    assert losses[-1] < losses[0] - 1.0  # the adapters learn
    state = model.state_dict()
    for k, v in base.items():
        assert torch.equal(state[k], v), k  # every base weight bit-identical after training
    assert any(v.abs().sum() > 0 for k, v in lora_state_dict(model).items() if k.endswith('lora_B'))

    model.eval()
    adapted, _ = model(x, y)
    merge_lora(model)
    merged, _ = model(x, y)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert set(model.state_dict()) == set(base)  # an ordinary GPT again
    assert all(p.requires_grad for p in model.parameters())
    assert (adapted - merged).abs().max().item() < 1e-5
    assert not torch.equal(model.state_dict()['transformer.h.0.attn.c_attn.weight'],
                           base['transformer.h.0.attn.c_attn.weight'])


def test_adapter_dropout_only_in_training():
    model = apply_lora(tiny_gpt(), rank=4, alpha=8, dropout=0.5)
    for m in model.modules():
        if isinstance(m, LoRALinear):
            torch.nn.init.normal_(m.lora_B)
    x, _ = batch()
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])
    model.train()
    torch.manual_seed(0)
    a = model(x)[0]
    torch.manual_seed(1)
    assert not torch.equal(a, model(x)[0])


def test_targets():
    model = apply_lora(tiny_gpt(), rank=2, alpha=2, targets='attn.c_proj, c_fc')
    wrapped = sorted(n for n, m in model.named_modules() if isinstance(m, LoRALinear))
    assert wrapped == ['transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_fc',
                       'transformer.h.1.attn.c_proj', 'transformer.h.1.mlp.c_fc']
    assert len(lora_state_dict(apply_lora(tiny_gpt(), 2, 2, targets=['c_attn']))) == 4
    with pytest.raises(ValueError, match='c_atn match no Linear layer'):
        apply_lora(tiny_gpt(), 2, 2, targets='c_attn,c_atn')
    with pytest.raises(ValueError, match='tied embedding'):
        apply_lora(tiny_gpt(), 2, 2, targets='lm_head')
    untied = apply_lora(tiny_gpt(tie_weights=False), 2, 2, targets='lm_head')
    assert isinstance(untied.lm_head, LoRALinear)
    with pytest.raises(ValueError, match='positive'):
        apply_lora(tiny_gpt(), 0, 2)
    with pytest.raises(ValueError, match='empty'):
        apply_lora(tiny_gpt(), 2, 2, targets=' , ')


def lora_checkpoint(base_dir, block_size=16):
    """A LoRA model on the exported base (context cropped), with non-zero adapters, and its checkpoint."""
    model = GPT.from_pretrained(str(base_dir), dict(dropout=0.1, block_size=block_size))
    settings = dict(rank=3, alpha=6.0, dropout=0.0, targets='c_attn,c_fc', base=str(base_dir))
    apply_lora(model, settings['rank'], settings['alpha'], settings['dropout'], settings['targets'])
    torch.manual_seed(3)
    for m in model.modules():
        if isinstance(m, LoRALinear):
            torch.nn.init.normal_(m.lora_B, std=0.1)
    return model, {'model': lora_state_dict(model), 'lora': settings, 'model_args': asdict(model.config),
                   'config': {}}


def test_load_checkpoint_rebuilds_base_and_adapters(tmp_path):
    base = tiny_gpt(block_size=64)
    export_model(base, tmp_path / 'base')
    model, ckpt = lora_checkpoint(tmp_path / 'base')
    path = str(tmp_path / 'ckpt.pt')
    save_checkpoint(ckpt, path)
    assert os.path.getsize(path) < 100_000  # adapters only, not the model
    loaded, _ = load_checkpoint(path)
    assert loaded.config.block_size == 16 and loaded.config.dropout == 0.1
    x, _ = batch(T=16)
    model.eval(), loaded.eval()
    assert torch.equal(model(x, x)[0], loaded(x, x)[0])
    assert set(lora_state_dict(loaded)) == set(ckpt['model'])


def test_load_checkpoint_errors(tmp_path):
    export_model(tiny_gpt(block_size=64), tmp_path / 'base')
    _, ckpt = lora_checkpoint(tmp_path / 'base')
    save_checkpoint(dict(ckpt, model={}), str(tmp_path / 'empty.pt'))
    with pytest.raises(ValueError, match='does not hold the adapters'):
        load_checkpoint(str(tmp_path / 'empty.pt'))
    export_model(tiny_gpt(block_size=64, n_embd=16), tmp_path / 'base', )  # the base folder changed
    save_checkpoint(ckpt, str(tmp_path / 'ckpt.pt'))
    with pytest.raises(ValueError, match='no longer matches.*n_embd'):
        load_checkpoint(str(tmp_path / 'ckpt.pt'))
    save_checkpoint(dict(ckpt, lora=dict(ckpt['lora'], base=str(tmp_path / 'gone'))), str(tmp_path / 'gone.pt'))
    with pytest.raises(ValueError, match='no such directory'):
        load_checkpoint(str(tmp_path / 'gone.pt'))


# ---------------------------------------------------------------------- the scripts, end to end

@pytest.fixture
def base_dir(char_data, tmp_path):
    """A tiny 'pretrained' model as a Hugging Face folder whose vocabulary covers the char dataset."""
    with open(os.path.join(char_data, 'meta.json')) as f:
        vocab = json.load(f)['vocab_size']
    export_model(tiny_gpt(vocab_size=vocab, block_size=64), tmp_path / 'base')
    return tmp_path / 'base'


@pytest.mark.slow
def test_train_sample_resume_export_with_lora(char_data, base_dir, tmp_path):
    out = tmp_path / 'out'
    opts = [f'--data_dir={char_data}', f'--out_dir={out}', *TINY_MODEL, f'--init_from={base_dir}',
            '--lora_rank=4', '--lora_alpha=8', '--eval_interval=10', '--learning_rate=1e-2']
    result = run_script('train.py', *opts, '--max_iters=20')
    assert result.returncode == 0, result.stderr
    assert 'LoRA rank 4' in result.stdout
    ckpt = torch.load(out / 'ckpt.pt', weights_only=True)
    assert ckpt['lora'] == dict(rank=4, alpha=8.0, dropout=0.05, targets='c_attn,c_proj,c_fc', base=str(base_dir))
    assert ckpt['model'] and all(k.endswith(('.lora_A', '.lora_B')) for k in ckpt['model'])
    assert ckpt['model_args']['block_size'] == 32  # cropped from the base's 64
    with open(out / 'log.jsonl') as f:
        losses = [e['val_loss'] for e in map(json.loads, f) if 'val_loss' in e]
    assert losses[-1] < losses[0]
    # the base folder is untouched and the adapters moved away from zero
    model, _ = load_checkpoint(str(out / 'ckpt.pt'))
    base = GPT.from_pretrained(str(base_dir))
    assert torch.equal(model.transformer.h[0].attn.c_attn.weight, base.transformer.h[0].attn.c_attn.weight)
    assert model.transformer.h[0].attn.c_attn.lora_B.abs().sum() > 0

    result = run_script('sample.py', f'--out_dir={out}', '--device=cpu', '--num_samples=2', '--max_new_tokens=20',
                        '--start=the night')
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('the night') == 2

    result = run_script('train.py', *opts, '--max_iters=30', '--init_from=resume')
    assert result.returncode == 0, result.stderr
    assert torch.load(out / 'ckpt.pt', weights_only=True)['iter_num'] == 30

    result = run_script('export.py', f'--out_dir={out}')
    assert result.returncode == 0, result.stderr
    assert 'merged the LoRA adapters' in result.stdout and 'char tokenizer' in result.stdout
    adapted, _ = load_checkpoint(str(out / 'best.pt'))
    merged = GPT.from_pretrained(str(out / 'hf'))
    x, _ = batch(T=32, V=adapted.config.vocab_size)
    adapted.eval()
    assert (adapted(x, x)[0] - merged(x, x)[0]).abs().max().item() < 1e-5


@pytest.mark.slow
def test_lora_mistakes_are_one_line_errors(char_data, base_dir, tmp_path):
    out = tmp_path / 'out'
    common = [f'--data_dir={char_data}', f'--out_dir={out}', *TINY_MODEL, '--max_iters=2', '--eval_interval=1']
    result = run_script('train.py', *common, '--lora_rank=4')
    assert result.returncode == 2 and 'pretrained' in result.stderr and 'Traceback' not in result.stderr
    result = run_script('train.py', *common, f'--init_from={base_dir}', '--lora_rank=4', '--lora_targets=c_atn')
    assert result.returncode == 2 and 'c_atn match no Linear layer' in result.stderr
    assert result.stderr.count('\n') == 1
    assert run_script('train.py', *common).returncode == 0  # a full (non-LoRA) run to resume
    result = run_script('train.py', *common, '--max_iters=3', '--init_from=resume', '--lora_rank=4')
    assert result.returncode == 2 and 'has no LoRA' in result.stderr
