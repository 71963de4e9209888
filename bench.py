"""
Benchmarks: training step speed and MFU, generation speed with and without the KV cache, and the wall
time a training config needs to reach a target val loss.

  python bench.py                                   # 124M GPT-2 shape, training step
  python bench.py --mode=generate --n_layer=12 --n_head=12 --n_embd=768 --block_size=1024
  python bench.py --mode=time_to_loss --train_config=config/speedrun_shakespeare_char_cpu.py --target=1.88
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

# -----------------------------------------------------------------------------
mode = 'train'  # 'train' (step speed), 'generate' (tokens/s with and without cache), 'time_to_loss'
init_from = 'scratch'  # 'scratch' (the shape below, random weights) or a GPT-2 name / HF directory
dataset = ''  # take batches from data/<dataset>/train.bin ('' = random tokens)
batch_size = 12  # sequences per step
block_size = 1024  # context length
vocab_size = 50304  # vocabulary (random data / scratch model)
n_layer = 12  # model shape: transformer blocks
n_head = 12  # attention heads
n_embd = 768  # width
dropout = 0.0  # dropout
bias = False  # biases in Linear and LayerNorm
pos_emb = 'learned'  # 'learned', 'rope' or 'none'
qk_norm = False  # normalise queries and keys
mlp = 'gelu'  # 'gelu' (exact), 'gelu_tanh' (GPT-2's), 'relu2' or 'none'
tie_weights = True  # share embedding and head
logit_softcap = 0.0  # logit soft cap (0 = off)
learning_rate = 6e-4  # AdamW learning rate
weight_decay = 0.1  # AdamW weight decay
steps = 20  # timed steps (training) or repeats (generation)
warmup_steps = 5  # untimed steps first (compile, allocator, caches)
profile = False  # write a torch profiler trace (bench_trace.json) instead of timing
device = 'auto'  # 'auto', 'cpu', 'cuda', 'mps'
dtype = 'auto'  # 'auto', 'float32', 'bfloat16', 'float16'
compile = False  # torch.compile the model
glibc_default_malloc = False  # CPU: keep glibc's default malloc settings (to measure system.keep_freed_memory)
seed = 1337  # random seed
prompt_tokens = 128  # generation: prompt length
new_tokens = 128  # generation: tokens generated per sample
top_k = 200  # generation: top-k
train_config = 'config/speedrun_shakespeare_char_cpu.py'  # time_to_loss: the train.py config to run
train_args = ''  # time_to_loss: extra train.py overrides, space-separated
target = 1.88  # time_to_loss: the val loss to reach
# -----------------------------------------------------------------------------
from configurator import check_minimums, configure, fail  # noqa: E402

configure(globals())

from model import GPT, GPTConfig  # noqa: E402
from system import autocast, device_type, keep_freed_memory, peak_flops, pick_device, pick_dtype  # noqa: E402

try:
    device = pick_device(device)
    dtype = pick_dtype(device, dtype)
except ValueError as e:
    fail(str(e))
check_minimums(globals(), dict(batch_size=1, block_size=1, steps=1, warmup_steps=0, prompt_tokens=1, new_tokens=1))
torch.manual_seed(seed)
if device_type(device) == 'cuda':
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
elif not glibc_default_malloc:
    keep_freed_memory()  # as train.py does


def sync():
    if device_type(device) == 'cuda':
        torch.cuda.synchronize()


def build_model():
    if init_from == 'scratch':
        try:
            model = GPT(GPTConfig(block_size=block_size, vocab_size=vocab_size, n_layer=n_layer, n_head=n_head,
                                  n_embd=n_embd, dropout=dropout, bias=bias, pos_emb=pos_emb, qk_norm=qk_norm, mlp=mlp,
                                  tie_weights=tie_weights, logit_softcap=logit_softcap))
        except ValueError as e:  # an impossible shape
            fail(str(e))
    else:
        try:
            model = GPT.from_pretrained(init_from, dict(dropout=dropout))
        except ValueError as e:  # unknown name, failed download, not a GPT-2 model
            fail(str(e))
        if block_size < model.config.block_size:
            model.crop_block_size(block_size)
    return model.to(device)


def bench_train():
    model = build_model()
    vocab = model.config.vocab_size
    if dataset:
        from tokenizer import read_meta
        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', dataset)
        data = np.memmap(os.path.join(folder, 'train.bin'), dtype=read_meta(folder).get('dtype', 'uint16'), mode='r')

        def get_batch():
            ix = np.random.randint(0, len(data) - block_size - 1, size=batch_size)
            xy = torch.from_numpy(data[ix[:, None] + np.arange(block_size + 1)].astype(np.int64)).to(device)
            return xy[:, :-1], xy[:, 1:]
    else:
        x = torch.randint(0, vocab, (batch_size, block_size), device=device)
        y = torch.randint(0, vocab, (batch_size, block_size), device=device)

        def get_batch():
            return x, y
    optimizer = model.configure_optimizers(weight_decay, learning_rate, (0.9, 0.95), device_type(device))
    scaler = torch.amp.GradScaler(device_type(device), enabled=(dtype == 'float16'))
    step_model = torch.compile(model) if compile else model
    amp = autocast(device, dtype)

    def step():
        xb, yb = get_batch()
        with amp:
            _, loss = step_model(xb, yb)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return loss

    t0 = time.time()
    for _ in range(warmup_steps):
        step()
    sync()
    warmup_s = time.time() - t0
    if profile:
        from torch.profiler import ProfilerActivity, profile as torch_profile
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device_type(device) == 'cuda' else [])
        # no record_shapes: on CPU it made eager steps 2.6x slower, and unevenly, which skewed the table
        with torch_profile(activities=activities) as prof:
            for _ in range(min(steps, 5)):
                step()
            sync()
        prof.export_chrome_trace('bench_trace.json')
        print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=15))
        print('wrote bench_trace.json (open it in chrome://tracing or https://ui.perfetto.dev)')
        return
    t0 = time.time()
    for _ in range(steps):
        loss = step()
    loss.item()
    sync()
    dt = (time.time() - t0) / steps
    peak = peak_flops(device, dtype)
    mfu = model.estimate_mfu(batch_size, dt, peak) if peak else None
    rows = [('parameters', f'{model.get_num_params() / 1e6:.2f}M'), ('device / dtype', f'{device} / {dtype}'),
            ('batch x block', f'{batch_size} x {block_size}'), ('compile', str(compile)),
            ('warm-up (s)', f'{warmup_s:.1f}'), ('ms / iter', f'{dt * 1000:.1f}'),
            ('tokens / s', f'{batch_size * block_size / dt:,.0f}'),
            ('peak FLOP/s', f'{peak / 1e12:.2f} T' if peak else 'unknown'),
            ('MFU', f'{mfu * 100:.1f}%' if mfu is not None else 'n/a')]
    if device_type(device) == 'cuda':
        rows.append(('max memory', f'{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB'))
    print_table(rows)


def bench_generate():
    model = build_model().eval()
    gen_model = torch.compile(model) if compile else model
    prompt = torch.randint(0, model.config.vocab_size, (1, prompt_tokens), device=device)
    rows = [('parameters', f'{model.get_num_params() / 1e6:.2f}M'), ('device / dtype', f'{device} / {dtype}'),
            ('prompt + new tokens', f'{prompt_tokens} + {new_tokens}')]
    speeds = {}
    for use_cache in (True, False):
        with torch.no_grad(), autocast(device, dtype):
            gen_model.generate(prompt, min(new_tokens, 8), top_k=top_k, use_cache=use_cache)  # warm up
            times = []
            for _ in range(max(1, steps // 10)):
                t0 = time.time()
                gen_model.generate(prompt, new_tokens, top_k=top_k, use_cache=use_cache)
                sync()
                times.append(time.time() - t0)
        speeds[use_cache] = new_tokens / min(times)
        rows.append((f'tokens / s, {"with" if use_cache else "without"} KV cache', f'{speeds[use_cache]:.1f}'))
    rows.append(('KV cache speed-up', f'{speeds[True] / speeds[False]:.1f}x'))
    print_table(rows)


def bench_time_to_loss():
    """Run train.py on a config, evaluating the whole val split at its eval_interval, and report when the
    val loss first reached the target."""
    out = tempfile.mkdtemp(prefix='time_to_loss_')
    cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'train.py'), train_config,
           f'--out_dir={out}', '--eval_full_val=True', f'--target_loss={target}', *train_args.split()]
    print('running:', ' '.join(cmd))
    t0 = time.time()
    result = subprocess.run(cmd)
    total = time.time() - t0
    if result.returncode != 0:
        fail(f'train.py exited with status {result.returncode}')
    with open(os.path.join(out, 'log.jsonl')) as f:
        evals = [e for e in map(json.loads, f) if 'val_loss' in e]
    hit = next((e for e in evals if e['val_loss'] <= target), None)
    rows = [('config', train_config + (' ' + train_args if train_args else '')), ('target val loss', f'{target}'),
            ('best val loss', f"{min(e['val_loss'] for e in evals):.4f}"),
            ('reached at iter', str(hit['iter']) if hit else 'not reached'),
            ('training time to target (s)', f"{hit['time']:.1f}" if hit else '-'),
            ('start-up + training to target, evaluations excluded (s)', f"{hit['wall']:.1f}" if hit else '-'),
            ('tokens to target', f"{hit['tokens']:,}" if hit else '-'),
            ('whole run incl. start-up and evals (s)', f'{total:.1f}'), ('log', os.path.join(out, 'log.jsonl'))]
    print_table(rows)


def print_table(rows):
    width = max(len(k) for k, _ in rows)
    print('| ' + 'what'.ljust(width) + ' | value |')
    print('|' + '-' * (width + 2) + '|-------|')
    for k, v in rows:
        print(f'| {k.ljust(width)} | {v} |')


if mode == 'train':
    bench_train()
elif mode == 'generate':
    bench_generate()
elif mode == 'time_to_loss':
    bench_time_to_loss()
else:
    fail(f"mode must be 'train', 'generate' or 'time_to_loss', not {mode!r}")
