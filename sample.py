"""
Generate text from a trained model (out_dir/best.pt, else ckpt.pt) or from a GPT-2 checkpoint.

  python sample.py --out_dir=out-lyrics --start="[Verse 1]" --num_samples=3
  python sample.py --init_from=gpt2 --start=FILE:prompt.txt --top_p=0.9
"""
import os
import sys
import time

import torch

# -----------------------------------------------------------------------------
init_from = 'resume'  # 'resume' (the checkpoint in out_dir) or a GPT-2 name / HF directory
out_dir = 'out'  # the training run to sample from
data_dir = ''  # dataset folder whose tokenizer decodes the samples ('' = the one the run trained on)
start = '\n'  # the prompt, or FILE:path to read it from a file
num_samples = 3  # samples to draw
max_new_tokens = 500  # tokens per sample (a sample ends early at the end-of-text token)
temperature = 0.8  # 1.0 = the model's distribution, < 1 more conservative, 0 = greedy
top_k = 200  # keep only the k likeliest tokens (None = off)
top_p = None  # nucleus sampling: keep the smallest set of tokens reaching this probability (None = off)
use_cache = True  # KV cache (much faster; the same tokens either way)
seed = 1337  # random seed
device = 'auto'  # 'auto', 'cpu', 'cuda', 'cuda:1', 'mps'
dtype = 'auto'  # 'auto', 'float32', 'bfloat16' or 'float16'
compile = False  # torch.compile the model
out_file = ''  # also write the samples to this file
# -----------------------------------------------------------------------------
from configurator import check_minimums, configure, fail  # noqa: E402

configure(globals())

from model import GPT, check_sampling, checkpoint_path, load_checkpoint  # noqa: E402
from system import autocast, pick_device, pick_dtype  # noqa: E402
import tokenizer  # noqa: E402

try:
    device = pick_device(device)
    dtype = pick_dtype(device, dtype)
    check_sampling(temperature, top_k, top_p)
except ValueError as e:
    fail(str(e))
check_minimums(globals(), dict(num_samples=1, max_new_tokens=0))
if out_file and not os.path.isdir(os.path.dirname(os.path.abspath(out_file))):
    fail(f'cannot write {out_file}: its folder does not exist')
torch.manual_seed(seed)

# the model, and the tokenizer of the data it was trained on
if init_from == 'resume':
    try:
        model, checkpoint = load_checkpoint(checkpoint_path(out_dir), device)
    except (FileNotFoundError, ValueError) as e:  # ValueError: a LoRA run's base model cannot be loaded
        fail(str(e))
    try:
        enc = tokenizer.load_tokenizer(tokenizer.find_data_dir(checkpoint.get('config', {}), data_dir))
    except FileNotFoundError as e:
        fail(str(e))
else:
    try:
        model = GPT.from_pretrained(init_from, dict(dropout=0.0)).to(device)
    except ValueError as e:  # unknown name, failed download, not a GPT-2 model: one line, no traceback
        fail(str(e))
    enc = tokenizer.load_tokenizer(data_dir) if data_dir else tokenizer.build_tokenizer('gpt2', [])[0]
model.eval()
if compile:
    model = torch.compile(model)

if start.startswith('FILE:'):
    try:
        with open(start[5:], encoding='utf-8') as f:
            start = f.read()
    except OSError as e:
        fail(f'cannot read the prompt file: {e}')
start = start.replace('\\n', '\n').replace('\\t', '\t')  # --start="Artist: Eminem\n" from a shell
try:
    start_ids = enc.encode(start)
except ValueError as e:
    fail(f'cannot encode the prompt: {e}')
if not start_ids:
    start_ids = [enc.eot_token if enc.eot_token is not None else 0]  # an empty prompt starts a new song
x = torch.tensor(start_ids, dtype=torch.long, device=device)[None, ...].repeat(num_samples, 1)
stop = [enc.eot_token] if enc.eot_token is not None else None

t0 = time.time()
with torch.no_grad(), autocast(device, dtype):
    y = model.generate(x, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                       stop_tokens=stop, use_cache=use_cache, vocab_limit=enc.vocab_size)
elapsed = time.time() - t0

samples = []
for row in y.tolist():
    new = row[len(start_ids):]
    if stop and stop[0] in new:
        new = new[:new.index(stop[0])]  # the sample ends at its end-of-text token
    samples.append(enc.decode(start_ids + new) if start_ids != [enc.eot_token] else enc.decode(new))
text = ('\n---------------\n').join(samples) + '\n'
print(text, end='')
n_new = sum(len(r) - len(start_ids) for r in y.tolist())
print(f'({n_new} tokens in {elapsed:.1f} s, {n_new / max(elapsed, 1e-9):.1f} tokens/s)', file=sys.stderr)
if out_file:
    tmp = out_file + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, out_file)
