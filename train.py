"""
Train or fine-tune a GPT on a prepared dataset (data/<dataset>/train.bin, val.bin, meta.json).

  python train.py config/train_shakespeare_char.py --max_iters=2000
  torchrun --standalone --nproc_per_node=4 train.py config/train_gpt2.py
  python train.py --help
"""
import json
import math
import os
import random
import signal
import sys
import time
from dataclasses import asdict

t_process = time.time()  # before importing torch: 'wall' in the log counts start-up too

import numpy as np
import torch
from torch.distributed import destroy_process_group, init_process_group
from torch.nn.parallel import DistributedDataParallel as DDP

# -----------------------------------------------------------------------------
# I/O
out_dir = 'out'  # where ckpt.pt, best.pt, log.jsonl and loss.png go
eval_interval = 2000  # evaluate (and checkpoint) every this many iterations
log_interval = 1  # print a line every this many iterations
eval_iters = 200  # random batches per split for each evaluation (drawn from the training stream, as nanoGPT)
eval_only = False  # evaluate once and exit
always_save_checkpoint = True  # write ckpt.pt at every evaluation, not only when val loss improves
init_from = 'scratch'  # 'scratch', 'resume' (out_dir/ckpt.pt), a GPT-2 name / HF folder, or another run's out_dir
# logging
wandb_log = False  # log to Weights & Biases (honours WANDB_MODE, e.g. offline)
wandb_project = 'nanorapgpt'  # wandb project name
wandb_run_name = 'run'  # wandb run name
# data
dataset = 'shakespeare_char'  # reads data/<dataset>/ unless data_dir is set
data_dir = ''  # explicit folder with train.bin/val.bin/meta.json (overrides dataset)
gradient_accumulation_steps = 40  # micro-batches per optimizer step, split across DDP ranks
batch_size = 12  # sequences per micro-batch
block_size = 1024  # context length
sampling = 'random'  # 'random' windows, in nanoGPT's draw order, or 'epoch' (every window once per epoch)
# model
n_layer = 12  # transformer blocks (0 gives the bigram model)
n_head = 12  # attention heads
n_embd = 768  # width
dropout = 0.0  # 0 for pretraining; try 0.1+ when fine-tuning
bias = False  # biases in Linear and LayerNorm (GPT-2 had them; a bit faster and no worse without)
pos_emb = 'learned'  # 'learned', 'rope' or 'none'
qk_norm = False  # normalise queries and keys per head
mlp = 'gelu'  # 'gelu' (exact), 'gelu_tanh' (GPT-2's), 'relu2' or 'none'
tie_weights = True  # share the token embedding with the output head
logit_softcap = 0.0  # > 0 caps logits smoothly at this value
residual = True  # residual connections (False only for the ablation ladder)
layernorm = True  # LayerNorm (False only for the ablation ladder)
init_embeddings = 'none'  # 'none' or 'word2vec' (token embedding from word2vec on the train split; needs gensim)
# LoRA fine-tuning (lora.py): low-rank adapters on a frozen pretrained model; needs a pretrained init_from
lora_rank = 0  # rank of the adapters (0 = off: every weight trains)
lora_alpha = 16.0  # the adapters' output is scaled by lora_alpha / lora_rank
lora_dropout = 0.05  # dropout on the adapters' input
lora_targets = 'c_attn,c_proj,c_fc'  # comma-separated Linear layers that get adapters (attention and MLP)
# optimizer
optimizer = 'adamw'  # 'adamw', or 'muon' (Muon for hidden weight matrices, AdamW for the rest)
learning_rate = 6e-4  # peak learning rate
muon_lr = 0.02  # optimizer='muon': peak learning rate of the Muon part (follows the same schedule)
max_iters = 600000  # total optimizer steps
weight_decay = 1e-1  # AdamW weight decay on 2-D tensors
beta1 = 0.9  # AdamW beta1
beta2 = 0.95  # AdamW beta2
grad_clip = 1.0  # clip gradients at this norm (0 = off)
# learning rate schedule
decay_lr = True  # False: constant learning_rate after warmup (nanoGPT's switch)
lr_schedule = 'cosine'  # 'cosine', 'linear', 'constant', 'cyclic' (cosine restarts) or 'wsd'
cooldown_frac = 0.2  # 'wsd' (warmup-stable-decay): the final share of lr_decay_iters spent decaying
lr_cycle_iters = 0  # iterations per cycle for 'cyclic' (0 = a quarter of lr_decay_iters)
warmup_iters = 2000  # linear warmup steps
lr_decay_iters = 600000  # where the decay reaches min_lr (usually max_iters)
min_lr = 6e-5  # floor of the schedule (about learning_rate/10)
patience = 0  # stop after this many evaluations without a better val loss (0 = never; eval_full_val makes it exact)
eval_full_val = False  # evaluate val loss over the whole val split in order (exact; slower than eval_iters)
target_loss = 0.0  # stop once val loss reaches this (0 = off; bench.py --mode=time_to_loss uses it)
# system
backend = 'auto'  # DDP backend: 'auto' (nccl on CUDA, gloo on CPU), 'nccl' or 'gloo'
device = 'auto'  # 'auto' (cuda, mps, cpu), 'cpu', 'cuda', 'cuda:1', 'mps'
dtype = 'auto'  # 'auto', 'float32', 'bfloat16' or 'float16' (a GradScaler is used for float16)
compile = False  # torch.compile the model (faster steps after a compile warm-up)
seed = 1337  # base random seed (rank r uses seed + r)
# -----------------------------------------------------------------------------
from configurator import check_minimums, configure, fail  # noqa: E402  (settings above must come first)

config = configure(globals())
# settings no run can use fail now, in one line, before anything is built
check_minimums(config, dict(batch_size=1, block_size=1, gradient_accumulation_steps=1, eval_interval=1, log_interval=1,
                            eval_iters=1, max_iters=0, warmup_iters=0, lr_decay_iters=0, lr_cycle_iters=0,
                            learning_rate=0, muon_lr=0, min_lr=0, weight_decay=0, grad_clip=0, patience=0, lora_rank=0,
                            target_loss=0))
for key in ('beta1', 'beta2', 'lora_dropout'):
    if config[key] is None or not 0 <= config[key] < 1:
        fail(f'{key} must be at least 0 and below 1, not {config[key]}')
if cooldown_frac is None or not 0 <= cooldown_frac <= 1:
    fail(f'cooldown_frac must be between 0 and 1, not {cooldown_frac}')
if lr_schedule not in ('cosine', 'linear', 'constant', 'cyclic', 'wsd'):
    fail(f"lr_schedule must be cosine, linear, constant, cyclic or wsd, not {lr_schedule!r}")
if sampling not in ('random', 'epoch'):
    fail(f"sampling must be 'random' or 'epoch', not {sampling!r}")
if backend not in ('auto', 'nccl', 'gloo'):
    fail(f"backend must be 'auto', 'nccl' or 'gloo', not {backend!r}")

from model import GPT, GPTConfig, checkpoint_path, load_checkpoint, save_checkpoint  # noqa: E402
from lora import apply_lora, base_reference, lora_state_dict  # noqa: E402
from sampler import next_epoch_starts, random_starts  # noqa: E402
from system import autocast, device_type, keep_freed_memory, peak_flops, pick_device, pick_dtype  # noqa: E402
import tokenizer  # noqa: E402

# ---------------------------------------------------------------- setup: processes, device, precision
ddp = int(os.environ.get('RANK', -1)) != -1
try:
    device = pick_device(device)
except ValueError as e:
    fail(str(e))
if ddp:
    backend = backend if backend != 'auto' else ('nccl' if device_type(device) == 'cuda' else 'gloo')
    init_process_group(backend=backend)
    rank, local_rank, world_size = int(os.environ['RANK']), int(os.environ['LOCAL_RANK']), int(os.environ['WORLD_SIZE'])
    if device_type(device) == 'cuda':
        device = f'cuda:{local_rank}'
        torch.cuda.set_device(device)
    if gradient_accumulation_steps % world_size != 0:
        fail(f'gradient_accumulation_steps={gradient_accumulation_steps} does not divide across {world_size} '
             f'processes: use a multiple of {world_size}')
    gradient_accumulation_steps //= world_size
else:
    rank, local_rank, world_size = 0, 0, 1
master = rank == 0  # only rank 0 writes files and logs
try:
    dtype = pick_dtype(device, dtype)
except ValueError as e:
    fail(str(e))
torch.manual_seed(seed + rank)
np.random.seed(seed + rank)
random.seed(seed + rank)
if device_type(device) == 'cuda':
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
else:
    keep_freed_memory()  # CPU steps re-use their big buffers instead of page-faulting them back in
amp = autocast(device, dtype)
tokens_per_iter = gradient_accumulation_steps * world_size * batch_size * block_size


progress = None  # the tqdm bar, when there is one


def log(msg):
    if master:
        (progress.write if progress else print)(msg)


# ---------------------------------------------------------------- data
data_dir = data_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', dataset)
config['data_dir'] = os.path.abspath(data_dir)  # so sample.py and evaluate.py find the tokenizer
try:
    meta = tokenizer.read_meta(data_dir)
except FileNotFoundError as e:
    fail(str(e))
except ValueError as e:
    fail(f'{data_dir}/meta.json: {e}')
splits = {}
for split in ('train', 'val'):
    path = os.path.join(data_dir, f'{split}.bin')
    if not os.path.exists(path):
        fail(f'{path} not found: run the prepare.py of dataset {dataset!r} first')
    splits[split] = np.memmap(path, dtype=np.dtype(meta.get('dtype', 'uint16')), mode='r')
    if len(splits[split]) <= block_size + 1:
        fail(f'{path} holds {len(splits[split])} tokens, too few for block_size={block_size}: '
             f'use a smaller --block_size or more data')
epoch_state = {'epoch': 0, 'pos': 0}  # training batches (epoch sampling)


def batch_from_starts(data, starts):
    rows = data[starts[:, None] + np.arange(block_size + 1)].astype(np.int64)
    xy = torch.from_numpy(rows)
    x, y = xy[:, :-1], xy[:, 1:]
    if device_type(device) == 'cuda':  # pinned memory lets the copy overlap with compute
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)


def draw_starts(split):
    """The window starts of the next batch: by the sampling mode for training, random for evaluation.
    Random draws use torch's global generator in nanoGPT's order (see the training loop), so nanoGPT's
    seed and settings give nanoGPT's batches."""
    if split == 'train' and sampling == 'epoch':
        return next_epoch_starts(epoch_state, batch_size, len(splits[split]), block_size, seed, rank, world_size)
    return random_starts(len(splits[split]), block_size, batch_size)


# ---------------------------------------------------------------- model
model_args = dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size, bias=bias,
                  vocab_size=meta['vocab_size'], dropout=dropout, pos_emb=pos_emb, qk_norm=qk_norm, mlp=mlp,
                  tie_weights=tie_weights, logit_softcap=logit_softcap, residual=residual, layernorm=layernorm)
checkpoint = None
iter_num, best_val_loss, evals_since_best = 0, float('inf'), 0
pending_starts = None  # the next training batch's window starts, drawn one step ahead (see the loop)
if init_from == 'scratch':
    if meta['vocab_size'] % 64 and meta['tokenizer'] == 'gpt2':
        model_args['vocab_size'] = 50304  # pad GPT-2's vocabulary to a multiple of 64 for speed
    try:
        model = GPT(GPTConfig(**model_args))
    except ValueError as e:  # an impossible shape, e.g. n_embd not divisible by n_head
        fail(str(e))
    if init_embeddings == 'word2vec':  # embeddings.py: skip-gram over the train ids, scaled to the init std
        from embeddings import init_word2vec
        try:
            log(f'word2vec: initialised {init_word2vec(model, splits["train"], seed)} token embeddings')
        except ImportError as e:
            fail(str(e))
    elif init_embeddings != 'none':
        fail(f"init_embeddings must be 'none' or 'word2vec', not {init_embeddings!r}")
elif init_from == 'resume':
    ckpt_path = os.path.join(out_dir, 'ckpt.pt')
    if not os.path.exists(ckpt_path):
        fail(f'{ckpt_path} not found: nothing to resume (use --init_from=scratch)')
    try:
        model, checkpoint = load_checkpoint(ckpt_path, 'cpu')
    except ValueError as e:  # a LoRA checkpoint whose base model cannot be loaded
        fail(str(e))
    model_args = asdict(model.config)  # the architecture comes from the checkpoint
    iter_num, best_val_loss = checkpoint['iter_num'], checkpoint['best_val_loss']
    evals_since_best = checkpoint.get('evals_since_best', 0)
elif os.path.isdir(init_from) and not os.path.exists(os.path.join(init_from, 'config.json')):
    # another run of ours (e.g. pretrained on poetry): its weights, with a fresh optimizer and schedule
    try:
        model, _ = load_checkpoint(checkpoint_path(init_from), 'cpu')
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    model_args = asdict(model.config)
else:
    try:
        model = GPT.from_pretrained(init_from, dict(dropout=dropout))
    except ValueError as e:  # unknown name, failed download, not a GPT-2 model: one line, no traceback
        fail(str(e))
    model_args = asdict(model.config)
if block_size < model.config.block_size:
    model.crop_block_size(block_size)
    model_args['block_size'] = block_size
if model.config.vocab_size < meta['vocab_size']:
    fail(f"the model's vocabulary ({model.config.vocab_size}) is smaller than the dataset's ({meta['vocab_size']})")
if init_from not in ('scratch', 'resume') and model.config.vocab_size == 50257 and meta['tokenizer'] != 'gpt2':
    fail(f"{init_from} reads GPT-2 tokens, but {data_dir} holds {meta['tokenizer']} tokens: prepare the dataset "
         f"with the gpt2 tokenizer")
lora_settings = checkpoint.get('lora') if checkpoint is not None else None  # a resumed LoRA run keeps its own
if lora_rank > 0 and lora_settings is None:
    if init_from in ('scratch', 'resume'):
        why = ' (the run being resumed has no LoRA)' if init_from == 'resume' else ''
        fail(f'lora_rank={lora_rank} trains adapters on a pretrained model: set init_from to gpt2, gpt2-medium, '
             f'... or a Hugging Face model folder{why}')
    try:
        apply_lora(model, lora_rank, lora_alpha, lora_dropout, lora_targets)
    except ValueError as e:
        fail(str(e))
    lora_settings = dict(rank=lora_rank, alpha=lora_alpha, dropout=lora_dropout, targets=lora_targets,
                         base=base_reference(init_from))
if lora_settings:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"LoRA rank {lora_settings['rank']} on {lora_settings['targets']}: {trainable:,} trainable parameters "
        f"({100 * trainable / model.get_num_params(False):.2f}%), base model {lora_settings['base']} frozen")
model.to(device)
log(f'model: {model.get_num_params() / 1e6:.2f}M parameters, device {device}, dtype {dtype}, '
    f'{tokens_per_iter:,} tokens per iteration')

scaler = torch.amp.GradScaler(device_type(device), enabled=(dtype == 'float16'))
if optimizer == 'adamw':
    optimizers = [model.configure_optimizers(weight_decay, learning_rate, (beta1, beta2), device_type(device))]
elif optimizer == 'muon':
    if lora_settings:
        fail('optimizer=muon is for full training; LoRA adapters train with optimizer=adamw')
    optimizers = model.configure_muon(weight_decay, learning_rate, muon_lr, (beta1, beta2), device_type(device))
else:
    fail(f"optimizer must be 'adamw' or 'muon', not {optimizer!r}")
if checkpoint is not None:
    saved = checkpoint['optimizer']
    for opt, state in zip(optimizers, saved if isinstance(saved, list) else [saved]):
        opt.load_state_dict(state)
    if checkpoint.get('scaler'):
        scaler.load_state_dict(checkpoint['scaler'])
    rng = checkpoint.get('rng')
    if rng and rng.get('world_size', 1) == world_size:  # the same processes: continue their streams
        torch.set_rng_state(rng['torch'][rank].cpu())
        if device_type(device) == 'cuda' and rng.get('cuda'):
            torch.cuda.set_rng_state(rng['cuda'][rank].cpu())
        np.random.set_state(tuple(rng['numpy']))
        random.setstate((rng['python'][0], tuple(rng['python'][1]), rng['python'][2]))
        if rng.get('pending') is not None:
            pending_starts = np.array(rng['pending'][rank], dtype=np.int64)  # the batch drawn before the save
    epoch_state.update(checkpoint.get('sampler', {}))
checkpoint = None  # free memory

raw_model = model
if compile:
    # keep compiled kernels between runs (a warm start skips most of the compile time)
    os.environ.setdefault('TORCHINDUCTOR_CACHE_DIR', os.path.join(os.path.expanduser('~'), '.cache', 'nanorapgpt', 'inductor'))
    model = torch.compile(model)
train_model = model  # evaluation uses model directly: DDP is only for the gradient sync
if ddp:
    train_model = DDP(model, device_ids=[local_rank] if device_type(device) == 'cuda' else None)


def get_lr(it):
    warmup = max(warmup_iters, 0)
    if it < warmup:
        return learning_rate * (it + 1) / (warmup + 1)
    if not decay_lr or lr_schedule == 'constant':
        return learning_rate
    span = max(lr_decay_iters - warmup, 1)
    if lr_schedule == 'cyclic':
        cycle = lr_cycle_iters or max(span // 4, 1)
        progress = ((it - warmup) % cycle) / cycle
    else:
        progress = min((it - warmup) / span, 1.0)
    if lr_schedule == 'linear':
        return learning_rate - progress * (learning_rate - min_lr)
    if lr_schedule == 'wsd':  # flat until the cooldown, then a straight line down to min_lr
        cooldown = max(cooldown_frac, 1e-9)
        return learning_rate - max(0.0, (progress - 1 + cooldown) / cooldown) * (learning_rate - min_lr)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (learning_rate - min_lr)


@torch.no_grad()
def estimate_loss():
    """Mean loss per split over eval_iters random batches (drawn from the training stream, as nanoGPT
    does; split across DDP ranks)."""
    out = {}
    model.eval()
    for i, split in enumerate(('train', 'val')):
        total = torch.zeros((), device=device)
        for k in range(rank, eval_iters, world_size):
            x, y = batch_from_starts(splits[split], draw_starts(split))
            with amp:
                _, loss = model(x, y)
            total += loss.float()
        if ddp:
            torch.distributed.all_reduce(total)
        out[split] = total.item() / eval_iters
    if eval_full_val:  # every val token once, in fixed windows: the exact val loss
        data = splits['val']
        starts = np.arange((len(data) - 1) // block_size) * block_size
        total = torch.zeros((), device=device)
        rows = 4 * batch_size  # no gradients kept: bigger batches, fewer passes
        for i in range(rank * rows, len(starts), world_size * rows):
            x, y = batch_from_starts(data, starts[i:i + rows])
            with amp:
                _, loss = model(x, y)
            total += loss.float() * len(x)
        if ddp:
            torch.distributed.all_reduce(total)
        out['val'] = total.item() / len(starts)
    model.train()
    return out


# ---------------------------------------------------------------- logs, signals, checkpoints
log_path = os.path.join(out_dir, 'log.jsonl')
resumed_at_eval = init_from == 'resume' and iter_num > 0
if master and not eval_only:
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:  # a file of that name, or no permission
        fail(f'cannot create out_dir {out_dir}: {e.strerror}')
    kept = []
    if init_from == 'resume' and os.path.exists(log_path):  # continue the log where the checkpoint was
        with open(log_path, encoding='utf-8') as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
                if entry.get('iter', 0) <= iter_num:  # logged before the checkpoint was written
                    kept.append(line if line.endswith('\n') else line + '\n')
        resumed_at_eval = any('val_loss' in json.loads(k) and json.loads(k)['iter'] == iter_num for k in kept)
    with open(log_path + '.tmp', 'w', encoding='utf-8') as f:
        f.writelines(kept)
    os.replace(log_path + '.tmp', log_path)
    log_file = open(log_path, 'a', encoding='utf-8')
if ddp:  # every rank must agree on whether the first evaluation is skipped
    flag = torch.tensor([int(resumed_at_eval)], device=device)
    torch.distributed.broadcast(flag, 0)
    resumed_at_eval = bool(flag.item())


def write_log(entry):
    if master and not eval_only:
        log_file.write(json.dumps(entry) + '\n')
        log_file.flush()
    if master and wandb_log:
        wandb.log(entry, step=entry['iter'])


if master and wandb_log:
    try:
        import wandb
    except ImportError:
        fail('wandb_log=True needs wandb: pip install wandb')
    wandb.init(project=wandb_project, name=wandb_run_name, config=config)  # mode comes from WANDB_MODE

stop_signal = None


def on_signal(signum, frame):
    global stop_signal
    stop_signal = signum  # acted on at the end of the current iteration


signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)


def gather(obj):
    """A list with every rank's obj (for saving each rank's RNG streams)."""
    if not ddp:
        return [obj]
    out = [None] * world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def model_state():
    """The weights to save: for a LoRA run only the adapters (lora_settings['base'] names the frozen rest)."""
    return lora_state_dict(raw_model) if lora_settings else raw_model.state_dict()


def save_run(evaluated):
    """Write ckpt.pt (all ranks call this: RNG states are gathered; rank 0 writes)."""
    rng = dict(torch=gather(torch.get_rng_state()), pending=gather(pending_starts.tolist()),
               cuda=gather(torch.cuda.get_rng_state(device)) if device_type(device) == 'cuda' else None,
               world_size=world_size)
    np_state = np.random.get_state()
    rng['numpy'] = [np_state[0], np_state[1].tolist(), *np_state[2:]]
    rng['python'] = list(random.getstate())
    if master:
        save_checkpoint({
            'model': model_state(), 'lora': lora_settings, 'model_args': model_args, 'config': config,
            'optimizer': [opt.state_dict() for opt in optimizers], 'scaler': scaler.state_dict(),
            'iter_num': iter_num, 'best_val_loss': best_val_loss, 'evals_since_best': evals_since_best,
            'evaluated': evaluated, 'rng': rng, 'sampler': dict(epoch_state), 'tokens_seen': iter_num * tokens_per_iter,
        }, os.path.join(out_dir, 'ckpt.pt'))


def save_best():
    if master:
        save_checkpoint({'model': model_state(), 'lora': lora_settings, 'model_args': model_args, 'config': config,
                         'iter_num': iter_num, 'best_val_loss': best_val_loss},
                        os.path.join(out_dir, 'best.pt'))


# ---------------------------------------------------------------- training loop
if master and sys.stdout.isatty() and not eval_only:
    from tqdm import tqdm
    progress = tqdm(total=max_iters, initial=iter_num, dynamic_ncols=True, leave=False)
device_peak = peak_flops(device, dtype) if master else None
if pending_starts is None:  # nanoGPT draws its first batch here, after building the model and optimizer
    pending_starts = draw_starts('train')
model.train()
loss_sum, t_log, iters_since_log = torch.zeros((), device=device), time.time(), 0
t_start, eval_seconds = time.time(), 0.0  # 'time' in the log: wall time spent training (compile included)
exit_code = 0
while True:
    lr = get_lr(iter_num)
    for opt in optimizers:
        for group in opt.param_groups:
            group['lr'] = lr * group.setdefault('lr_scale', 1.0)
    if (iter_num % eval_interval == 0 or iter_num >= max_iters or eval_only) and not resumed_at_eval:
        t_eval = time.time()
        train_seconds = t_eval - t_start - eval_seconds
        losses = estimate_loss()
        if not all(math.isfinite(v) for v in losses.values()):
            log(f'stopping: loss became {losses} at iter {iter_num}; the last good checkpoint is kept')
            exit_code = 1
            break
        improved = losses['val'] < best_val_loss
        best_val_loss = min(best_val_loss, losses['val'])
        evals_since_best = 0 if improved else evals_since_best + 1
        log(f"iter {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}, "
            f"val ppl {math.exp(min(losses['val'], 50)):.2f}")
        write_log({'iter': iter_num, 'train_loss': losses['train'], 'val_loss': losses['val'],
                   'train_ppl': math.exp(min(losses['train'], 50)), 'val_ppl': math.exp(min(losses['val'], 50)),
                   'lr': lr, 'tokens': iter_num * tokens_per_iter, 'time': train_seconds,
                   'wall': t_eval - t_process - eval_seconds})
        if eval_only:
            break
        if iter_num > 0 and (improved or always_save_checkpoint or iter_num >= max_iters):
            save_run(evaluated=True)
        if iter_num > 0 and improved:
            save_best()
        t_log += time.time() - t_eval  # keep evaluation and saving out of the ms/iter figure
        eval_seconds += time.time() - t_eval
        if target_loss and losses['val'] <= target_loss:
            log(f"target reached: val loss {losses['val']:.4f} <= {target_loss} at iter {iter_num}, "
                f"{train_seconds:.1f} s of training, {time.time() - t_process:.1f} s since start-up with evaluations")
            break
        if patience and evals_since_best >= patience:
            if not (always_save_checkpoint or improved):
                save_run(evaluated=True)
            log(f'early stop: no better val loss in {patience} evaluations (best {best_val_loss:.4f})')
            break
    resumed_at_eval = False
    if iter_num >= max_iters:
        break

    # one optimizer step over gradient_accumulation_steps micro-batches
    for micro_step in range(gradient_accumulation_steps):
        x, y = batch_from_starts(splits['train'], pending_starts)
        last = micro_step == gradient_accumulation_steps - 1
        with (train_model.no_sync() if ddp and not last else torch.enable_grad()):  # sync once per step
            with amp:
                _, loss = train_model(x, y)
            # draw the next batch now, as nanoGPT does (on a GPU its copy overlaps the backward pass); the
            # same order of draws is what makes nanoGPT's seed reproduce nanoGPT's run
            pending_starts = draw_starts('train')
            loss = loss / gradient_accumulation_steps
            scaler.scale(loss).backward()
        loss_sum += loss.detach()
    if grad_clip > 0:
        for opt in optimizers:
            scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(raw_model.parameters(), grad_clip)
    for opt in optimizers:
        scaler.step(opt)
    scaler.update()
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    iter_num += 1
    iters_since_log += 1
    if progress:
        progress.update(1)

    if iter_num % log_interval == 0:
        lossf = loss_sum.item() / iters_since_log  # one sync per log line, not per step
        if not math.isfinite(lossf):
            log(f'stopping: training loss is {lossf} at iter {iter_num}; the last good checkpoint is kept')
            exit_code = 1
            break
        dt = (time.time() - t_log) / iters_since_log
        tok_s = tokens_per_iter / dt
        mfu = raw_model.estimate_mfu(batch_size * gradient_accumulation_steps * world_size, dt, device_peak) \
            if device_peak else None
        msg = f'iter {iter_num}: loss {lossf:.4f}, lr {lr:.2e}, {dt * 1000:.1f} ms/iter, {tok_s:,.0f} tok/s'
        if mfu is not None:
            msg += f', mfu {mfu * 100:.1f}%'
        if progress:
            progress.set_postfix_str(f'loss {lossf:.4f}')
        else:
            log(msg)
        write_log({'iter': iter_num, 'loss': lossf, 'lr': lr, 'ms_per_iter': dt * 1000, 'tokens_per_s': tok_s})
        loss_sum.zero_()
        t_log, iters_since_log = time.time(), 0

    stopping = stop_signal is not None
    if ddp:  # all ranks stop together, or the next collective would hang
        flag = torch.tensor([int(stopping)], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        stopping = bool(flag.item())
    if stopping:
        save_run(evaluated=False)
        log(f'interrupted: saved {out_dir}/ckpt.pt at iter {iter_num}; continue with --init_from=resume')
        break

if progress:
    progress.close()
if master and not eval_only:
    log_file.close()
    if exit_code == 0:
        try:
            from plots import plot_loss_curves
            plot_loss_curves({os.path.basename(os.path.abspath(out_dir)): log_path}, os.path.join(out_dir, 'loss.png'))
        except ImportError as e:
            log(f'(no loss.png: {e})')
if master and wandb_log:
    wandb.finish()
if ddp:
    # end-of-run check that DDP kept every rank's weights in step (identical weights give identical sums)
    flat = torch.cat([p.detach().float().flatten() for p in raw_model.parameters()])
    stats = torch.stack([flat.sum(), flat.square().sum(), flat.abs().max()])
    low, high = stats.clone(), stats.clone()
    torch.distributed.all_reduce(low, op=torch.distributed.ReduceOp.MIN)
    torch.distributed.all_reduce(high, op=torch.distributed.ReduceOp.MAX)
    log(f'ddp: parameters identical across {world_size} ranks' if torch.equal(low, high)
        else f'ddp: WARNING: parameters differ across ranks ({low.tolist()} vs {high.tolist()})')
    destroy_process_group()
    # leave without interpreter teardown: with Gloo, torch's worker threads can abort ('terminate called
    # without an active exception') while Python shuts down, turning a finished run into a failure
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
sys.exit(exit_code)
