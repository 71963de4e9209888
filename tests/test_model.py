import math
import re

import pytest
import torch

from model import GPT, GPTConfig, check_sampling, load_checkpoint, sample_next, save_checkpoint


def tiny(**kw):
    args = dict(block_size=16, vocab_size=37, n_layer=2, n_head=2, n_embd=32, dropout=0.0, bias=True)
    args.update(kw)
    torch.manual_seed(0)
    return GPT(GPTConfig(**args)).eval()


def test_gpt2_parameter_names_and_tied_head():
    model = tiny()
    names = set(model.state_dict())
    for name in ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.0.ln_1.weight',
                 'transformer.h.0.attn.c_attn.weight', 'transformer.h.0.attn.c_attn.bias',
                 'transformer.h.1.attn.c_proj.weight', 'transformer.h.1.mlp.c_fc.weight',
                 'transformer.h.1.mlp.c_proj.bias', 'transformer.h.1.ln_2.bias', 'transformer.ln_f.weight',
                 'lm_head.weight']:
        assert name in names
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()


def test_forward_shapes_and_initial_loss():
    model = tiny()
    idx, targets = torch.randint(0, 37, (3, 16)), torch.randint(0, 37, (3, 16))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 16, 37)
    assert abs(loss.item() - math.log(37)) < 0.3  # GPT-2 init: close to uniform
    logits, loss = model(idx)
    assert logits.shape == (3, 1, 37) and loss is None


def test_forward_is_causal():
    model = tiny()
    idx = torch.randint(0, 37, (1, 12))
    changed = idx.clone()
    changed[0, 8] = (idx[0, 8] + 1) % 37
    a, _ = model(idx, idx)
    b, _ = model(changed, changed)
    assert torch.allclose(a[:, :8], b[:, :8], atol=1e-6)
    assert not torch.allclose(a[:, 8:], b[:, 8:])


@pytest.mark.parametrize('options', [{}, {'pos_emb': 'rope', 'qk_norm': True, 'mlp': 'relu2', 'tie_weights': False,
                                          'logit_softcap': 15.0, 'bias': False}])
def test_greedy_generation_same_with_and_without_cache_past_block_size(options):
    model = tiny(**options)
    idx = torch.randint(0, 37, (2, 5))
    # 40 new tokens from a 16-token block: the context window jumps forward several times
    a = model.generate(idx, 40, temperature=0, use_cache=True)
    b = model.generate(idx, 40, temperature=0, use_cache=False)
    assert a.shape == (2, 45)
    assert torch.equal(a, b)


def test_sampling_same_with_and_without_cache_for_a_seed():
    model = tiny()
    idx = torch.randint(0, 37, (3, 4))
    torch.manual_seed(123)
    a = model.generate(idx, 30, temperature=1.0, top_k=10, top_p=0.9, use_cache=True)
    torch.manual_seed(123)
    b = model.generate(idx, 30, temperature=1.0, top_k=10, top_p=0.9, use_cache=False)
    assert torch.equal(a, b)
    torch.manual_seed(124)
    c = model.generate(idx, 30, temperature=1.0, use_cache=True)
    assert not torch.equal(a, c)


def test_cached_logits_match_full_forward():
    model = tiny()
    idx = torch.randint(0, 37, (2, 10))
    full, _ = model(idx, idx)
    cache = model.new_cache(2, 'cpu', torch.float32)
    first, _ = model(idx[:, :6], cache=cache, pos=0)
    assert torch.allclose(first[:, -1], full[:, 5], atol=1e-5)
    for t in range(6, 10):
        step, _ = model(idx[:, t:t + 1], cache=cache, pos=t)
        assert torch.allclose(step[:, -1], full[:, t], atol=1e-5)


def test_context_window_policy():
    model = tiny()  # block 16, jumps of 4
    assert [model.context_start(n) for n in (1, 16, 17, 20, 21, 24, 25)] == [0, 0, 4, 4, 8, 8, 12]
    for n in range(1, 100):
        assert 0 < n - model.context_start(n) <= 16


def test_stop_tokens_end_each_row_separately():
    model = tiny()
    idx = torch.zeros((4, 3), dtype=torch.long)
    torch.manual_seed(0)
    out = model.generate(idx, 60, temperature=2.0, stop_tokens=[5, 6])
    for row in out.tolist():
        new = row[3:]
        hits = [i for i, t in enumerate(new) if t in (5, 6)]
        if hits:  # after the first stop token the row only repeats it
            assert all(t == new[hits[0]] for t in new[hits[0]:])
    greedy_stop = model.generate(idx[:1], 5, temperature=0)[0, 3].item()
    out = model.generate(idx[:1], 50, temperature=0, stop_tokens=[greedy_stop])
    assert out.shape == (1, 4)  # every row stopped: the loop ends early


def test_top_k_and_top_p_restrict_the_choice():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    torch.manual_seed(0)
    assert {sample_next(logits, 1.0, top_k=2).item() for _ in range(200)} <= {0, 1}
    # probabilities ~ [0.64, 0.24, 0.09, 0.03, 0.01]: top_p 0.8 keeps exactly the first two
    assert {sample_next(logits, 1.0, top_p=0.8).item() for _ in range(200)} == {0, 1}
    assert {sample_next(logits, 1.0, top_p=0.5).item() for _ in range(50)} == {0}
    assert sample_next(logits, 0).item() == 0


def test_crop_block_size():
    model = tiny()
    model.crop_block_size(8)
    assert model.transformer.wpe.weight.shape == (8, 32)
    model(torch.zeros((1, 8), dtype=torch.long))
    with pytest.raises(AssertionError):
        model(torch.zeros((1, 9), dtype=torch.long))


def test_configure_optimizers_decays_only_2d_tensors():
    model = tiny()
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), 'cpu')
    decay, no_decay = opt.param_groups
    assert decay['weight_decay'] == 0.1 and no_decay['weight_decay'] == 0.0
    assert all(p.dim() >= 2 for p in decay['params']) and all(p.dim() < 2 for p in no_decay['params'])
    assert sum(p.numel() for g in opt.param_groups for p in g['params']) == sum(p.numel() for p in model.parameters())


def test_estimate_mfu_uses_the_given_peak():
    model = tiny()
    flops = model.flops_per_token() * 16 * 4
    assert model.estimate_mfu(4, 1.0, flops) == pytest.approx(1.0)
    assert model.estimate_mfu(4, 2.0, flops) == pytest.approx(0.5)


def test_ablation_options_build_and_train():
    for options in [dict(n_layer=0), dict(n_head=1, mlp='none', residual=False, layernorm=False)]:
        model = tiny(**options).train()
        idx = torch.randint(0, 37, (2, 16))
        _, loss = model(idx, idx)
        loss.backward()
        assert math.isfinite(loss.item())


def test_nanogpt_style_checkpoint_loads(tmp_path):
    model = tiny()
    # what nanoGPT writes: a compiled model's state dict and its model_args
    state = {'_orig_mod.' + k: v for k, v in model.state_dict().items()}
    state['_orig_mod.transformer.h.0.attn.bias'] = torch.ones(1, 1, 16, 16)  # the old causal-mask buffer
    args = dict(n_layer=2, n_head=2, n_embd=32, block_size=16, bias=True, vocab_size=37, dropout=0.0)
    path = str(tmp_path / 'ckpt.pt')
    save_checkpoint({'model': state, 'model_args': args, 'iter_num': 5, 'best_val_loss': 1.0, 'config': {}}, path)
    loaded, ckpt = load_checkpoint(path)
    idx = torch.randint(0, 37, (1, 16))
    assert torch.equal(loaded.eval()(idx, idx)[0], model(idx, idx)[0])
    assert ckpt['iter_num'] == 5


def test_unreadable_checkpoints_raise_value_errors(tmp_path):
    path = tmp_path / 'ckpt.pt'
    save_checkpoint({'model': tiny().state_dict(), 'model_args': dict(n_layer=2, n_head=2, n_embd=32, block_size=16,
                                                                      vocab_size=37)}, str(path))
    path.write_bytes(path.read_bytes()[:1000])  # cut short, as by a full disk or an interrupted copy
    with pytest.raises(ValueError, match=r'ckpt.pt is not a readable checkpoint \(cut short, or not a PyTorch file\)'):
        load_checkpoint(str(path))
    torch.save({'weights': torch.ones(2)}, path)  # a torch file, but not a checkpoint
    with pytest.raises(ValueError, match="not a checkpoint of train.py or nanoGPT"):
        load_checkpoint(str(path))


def test_cpu_bfloat16_attention_matches_the_fused_kernel():
    from model import cpu_attention
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 16, 8) for _ in range(3))
    for causal, (qq, kk, vv) in [(True, (q, k, v)), (False, (q[:, :, -1:], k, v))]:
        expected = torch.nn.functional.scaled_dot_product_attention(qq, kk, vv, is_causal=causal)
        got = cpu_attention(qq.bfloat16(), kk.bfloat16(), vv.bfloat16(), causal, 0.0).float()
        assert (got - expected).abs().max() < 0.05
    model = tiny()
    idx = torch.randint(0, 37, (2, 16))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low, _ = model(idx, idx)
    high, _ = model(idx, idx)
    assert (low.float() - high).abs().max() < 0.1


def test_cpu_dropout_keeps_one_minus_p_scaled_seeded_and_uniform_across_lanes():
    from model import dropout
    x = torch.ones(3, 1001, 333, requires_grad=True)  # an element count that is not a multiple of 4
    torch.manual_seed(0)
    y = dropout(x, 0.2)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.8) < 0.003  # 1M elements: the standard error is 0.0004
    # each 64-bit draw feeds four elements: every one of the four 16-bit lanes must be fair
    lanes = kept.flatten()[:kept.numel() // 4 * 4].view(-1, 4).float().mean(0)
    assert ((lanes - 0.8).abs() < 0.006).all(), lanes
    assert torch.all(y[kept] == 1 / 0.8)
    y.sum().backward()
    assert torch.equal(x.grad, kept.float() / 0.8)
    torch.manual_seed(0)
    assert torch.equal(dropout(x.detach(), 0.2) != 0, kept)  # the same seed, the same mask
    assert not torch.equal(dropout(x.detach(), 0.2) != 0, kept)
    assert dropout(x, 0.2, training=False) is x and dropout(x, 0.0) is x
    assert dropout(torch.ones(10, dtype=torch.bfloat16), 0.5).dtype == torch.bfloat16


def test_dropout_runs_on_cpu_are_seeded_and_off_in_eval():
    model = tiny(dropout=0.3)
    reference = tiny(dropout=0.0)
    idx = torch.randint(0, 37, (2, 16))
    assert torch.equal(model(idx, idx)[0], reference(idx, idx)[0])  # eval: no dropout anywhere
    model.train()
    losses = []
    for seed in (1, 1, 2):
        torch.manual_seed(seed)
        losses.append(model(idx, idx)[1].item())
    assert losses[0] == losses[1] != losses[2]
    assert abs(losses[0] - reference(idx, idx)[1].item()) > 1e-4  # dropout changed the forward pass


@pytest.mark.parametrize('change, message', [
    (dict(n_head=3), 'n_embd (32) must be divisible by n_head (3)'),
    (dict(n_embd=0), 'n_embd must be at least 1, not 0'),
    (dict(block_size=0), 'block_size must be at least 1, not 0'),
    (dict(n_layer=-1), 'n_layer must be 0 or more, not -1'),
    (dict(dropout=1.0), 'dropout must be at least 0 and below 1, not 1.0'),
    (dict(pos_emb='alibi'), "pos_emb must be 'learned', 'rope' or 'none', not 'alibi'"),
    (dict(pos_emb='rope', n_head=32), 'pos_emb=rope needs an even head size, not n_embd/n_head = 1'),
    (dict(mlp='swiglu'), "mlp must be 'gelu', 'gelu_tanh', 'relu2' or 'none', not 'swiglu'"),
    (dict(logit_softcap=-1.0), 'logit_softcap must be 0 (off) or more, not -1.0'),
])
def test_impossible_configs_raise_value_errors_that_say_what_to_fix(change, message):
    args = dict(block_size=16, vocab_size=37, n_layer=2, n_head=2, n_embd=32)
    with pytest.raises(ValueError) as info:
        GPTConfig(**{**args, **change})
    assert str(info.value) == message
    GPTConfig(**{**args, 'n_layer': 0})  # the bigram model is a valid shape


def test_sampling_settings_are_checked_before_generating():
    model = tiny()
    idx = torch.zeros((1, 1), dtype=torch.long)
    for kw, message in [(dict(temperature=-0.5), 'temperature must be 0 (greedy) or more, not -0.5'),
                        (dict(top_k=-1), 'top_k must be 1 or more (None or 0: off), not -1'),
                        (dict(top_p=0.0), 'top_p must be above 0 and at most 1 (None: off), not 0.0'),
                        (dict(top_p=1.5), 'top_p must be above 0 and at most 1 (None: off), not 1.5')]:
        with pytest.raises(ValueError, match=re.escape(message)):
            model.generate(idx, 3, **kw)
    check_sampling(0.0, 0, 1.0)  # greedy, top-k off, nucleus keeping everything: all valid
    check_sampling(1.0, None, None)
    assert model.generate(idx, 3, temperature=0, top_k=0, top_p=1.0).shape == (1, 4)
