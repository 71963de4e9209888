"""
The GPT language model: one file, GPT-2 compatible by default.

Parameter names follow the GPT-2 layout (transformer.wte, transformer.h.0.attn.c_attn, ...) so GPT-2 and
nanoGPT checkpoints load. A few options (all off by default) turn the same model into the rungs of the
model-evolution ablation (bigram, one head, no residuals, no LayerNorm, no MLP) or into the faster
modern variants used by the speedrun configs (rotary positions, QK-norm, ReLU^2 MLP, untied head,
logit soft-capping).
"""
import inspect
import math
import os
import pickle
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 1024
    vocab_size: int = 50304  # GPT-2's 50257 padded up to a multiple of 64 for speed
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm, as GPT-2
    # --- options beyond GPT-2; the defaults give exactly GPT-2 ---
    pos_emb: str = 'learned'  # 'learned' | 'rope' (rotary, no wpe table) | 'none'
    rope_base: float = 10000.0
    qk_norm: bool = False  # RMS-normalise queries and keys per head before attention
    mlp: str = 'gelu'  # 'gelu' (exact, as nanoGPT) | 'gelu_tanh' (GPT-2's approximation) | 'relu2' | 'none'
    tie_weights: bool = True  # share the token embedding with the output head
    logit_softcap: float = 0.0  # > 0: logits = c * tanh(logits / c)
    residual: bool = True  # False: blocks replace x instead of adding to it (ablation)
    layernorm: bool = True  # False: no LayerNorm anywhere (ablation)

    def __post_init__(self):
        # a shape or option no model can have fails here, as a ValueError a script can print in one line
        for name in ('block_size', 'vocab_size', 'n_head', 'n_embd'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be at least 1, not {getattr(self, name)}')
        if self.n_layer < 0:
            raise ValueError(f'n_layer must be 0 or more, not {self.n_layer}')
        if self.n_embd % self.n_head:
            raise ValueError(f'n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})')
        if not 0 <= self.dropout < 1:
            raise ValueError(f'dropout must be at least 0 and below 1, not {self.dropout}')
        if self.pos_emb not in ('learned', 'rope', 'none'):
            raise ValueError(f"pos_emb must be 'learned', 'rope' or 'none', not {self.pos_emb!r}")
        if self.pos_emb == 'rope' and self.n_embd // self.n_head % 2:
            raise ValueError(f'pos_emb=rope needs an even head size, not n_embd/n_head = {self.n_embd // self.n_head}')
        if self.mlp not in ('gelu', 'gelu_tanh', 'relu2', 'none'):
            raise ValueError(f"mlp must be 'gelu', 'gelu_tanh', 'relu2' or 'none', not {self.mlp!r}")
        if self.logit_softcap < 0:
            raise ValueError(f'logit_softcap must be 0 (off) or more, not {self.logit_softcap}')


def model_config(model_args):
    """GPTConfig from a dict, ignoring keys this version does not know (e.g. from newer checkpoints)."""
    known = {f.name for f in fields(GPTConfig)}
    return GPTConfig(**{k: v for k, v in model_args.items() if k in known})


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (torch's has no bias=False before 2.1 and we keep GPT-2 names)."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


def make_norm(config):
    return LayerNorm(config.n_embd, config.bias) if config.layernorm else nn.Identity()


def rope_tables(head_dim, length, base):
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()  # (length, head_dim/2) each


def apply_rope(x, cos, sin):
    # x: (B, nh, T, hd); rotate pairs (first half, second half) by position-dependent angles
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def dropout(x, p, training=True):
    """F.dropout, with a faster mask on CPUs. torch's CPU generator makes one Mersenne-Twister draw per
    element (~9 ns: dropout was 60% of a CPU step with dropout=0.2); here each 64-bit draw gives four 16-bit
    numbers and an element is kept when its number clears p (p rounded to 1/65536), 6x faster. Seeded and
    checkpointed like every other use of torch's generator."""
    if not training or p == 0:
        return x
    if x.device.type != 'cpu':
        return F.dropout(x, p, training=True)
    n = x.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-2 ** 63, 2 ** 63 - 1).view(torch.int16)
    keep = bits[:n].view(x.shape) >= round(p * 65536) - 32768  # int16 runs from -32768: P(keep) = 1 - p
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


class Dropout(nn.Dropout):
    """nn.Dropout through dropout() above (the same module names and behaviour, a faster CPU mask)."""

    def forward(self, x):
        return dropout(x, self.p, self.training)


def cpu_attention(q, k, v, causal, dropout_p):
    """Attention written out with batched matmuls, for CPUs. Torch's fused bfloat16 attention kernel there is
    slower than its float32 one, while bfloat16 matmuls run on the AMX units; for the short contexts CPU runs
    use the T x S score matrix is small, so this is 2x faster than either fused kernel (see BENCHMARKS.md).
    Runs with dropout (any dtype) take this path too: its dropout mask is 6x faster than the fused kernel's."""
    B, H, T, D = q.shape
    S = k.size(2)
    q, k, v = (t.reshape(B * H, -1, D) for t in (q, k, v))
    if causal:  # query i (the last T of S positions) sees keys up to S - T + i
        mask = torch.full((T, S), float('-inf'), dtype=q.dtype, device=q.device).triu(S - T + 1)
        # the 1/sqrt(D) scale rides on the matmul (alpha): a separate q * scale costs 5% of a step
        scores = torch.baddbmm(mask.expand(B * H, T, S), q, k.transpose(1, 2), alpha=D ** -0.5)
    else:
        scores = torch.bmm(q * D ** -0.5, k.transpose(1, 2))
    weights = dropout(scores.softmax(dim=-1), dropout_p)
    return torch.bmm(weights, v).view(B, H, T, D)


class CausalSelfAttention(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v together
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = Dropout(config.dropout)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        self.qk_norm = config.qk_norm

    def forward(self, x, rope=None, cache=None, pos=0):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.qk_norm:
            q, k = F.rms_norm(q, (q.size(-1),)), F.rms_norm(k, (k.size(-1),))
        if rope is not None:
            cos, sin = rope[0][pos:pos + T], rope[1][pos:pos + T]
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        causal = True
        if cache is not None:
            # cache = (k_buf, v_buf) of shape (B, nh, block_size, hd); fill positions pos..pos+T-1
            cache[0][:, :, pos:pos + T] = k
            cache[1][:, :, pos:pos + T] = v
            k, v = cache[0][:, :, :pos + T], cache[1][:, :, :pos + T]
            causal = pos == 0  # one new query after a prefix sees every cached key
            assert pos == 0 or T == 1, 'the KV cache takes a prefill or one token at a time'
        drop = self.dropout if self.training else 0.0
        if q.device.type == 'cpu' and k.size(2) <= 512 and (q.dtype == torch.bfloat16 or drop > 0):
            y = cpu_attention(q, k, v, causal, drop)
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=causal)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = Dropout(config.dropout)
        self.kind = config.mlp

    def forward(self, x):
        x = self.c_fc(x)
        if self.kind == 'relu2':
            x = F.relu(x).square()
        else:  # OpenAI's GPT-2 used the tanh approximation; exact GELU is the faster of the two on CPUs
            x = F.gelu(x, approximate='tanh' if self.kind == 'gelu_tanh' else 'none')
        return self.dropout(self.c_proj(x))


class Block(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config)
        self.residual = config.residual
        if config.mlp != 'none':
            self.ln_2 = make_norm(config)
            self.mlp = MLP(config)

    def forward(self, x, rope=None, cache=None, pos=0):
        a = self.attn(self.ln_1(x), rope, cache, pos)
        x = x + a if self.residual else a
        if hasattr(self, 'mlp'):
            m = self.mlp(self.ln_2(x))
            x = x + m if self.residual else m
        return x


class GPT(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.config = config
        # built in GPT-2's order: module construction and init draw from the global RNG, so with the same
        # seed a model starts from the same weights as a nanoGPT one of the same shape
        parts = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))
        if config.pos_emb == 'learned':
            parts['wpe'] = nn.Embedding(config.block_size, config.n_embd)
        parts.update(drop=Dropout(config.dropout), h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                     ln_f=make_norm(config))
        self.transformer = nn.ModuleDict(parts)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.transformer.wte.weight = self.lm_head.weight  # the output head reuses the embedding
        if config.pos_emb == 'rope':
            cos, sin = rope_tables(config.n_embd // config.n_head, config.block_size, config.rope_base)
            self.register_buffer('rope_cos', cos, persistent=False)
            self.register_buffer('rope_sin', sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2: scale the init of the projections into the residual stream by 1/sqrt(2 * n_layer)
        for name, p in self.named_parameters():
            if name.endswith('c_proj.weight'):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * max(config.n_layer, 1)))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def get_num_params(self, non_embedding=True):
        """Parameter count; by default without the position table (the tied token table counts once,
        as the output head)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and 'wpe' in self.transformer:
            n -= self.transformer.wpe.weight.numel()
        return n

    def _rope(self):
        return (self.rope_cos, self.rope_sin) if self.config.pos_emb == 'rope' else None

    def forward(self, idx, targets=None, cache=None, pos=0):
        """Logits for every position when targets are given (with the mean cross-entropy loss; target
        -1 is ignored), else for the last position only. With a KV cache (see generate), idx holds the
        tokens at positions pos..pos+T-1."""
        B, T = idx.size()
        assert pos + T <= self.config.block_size, \
            f'sequence of length {pos + T} is longer than block_size {self.config.block_size}'
        x = self.transformer.wte(idx)
        if 'wpe' in self.transformer:
            x = x + self.transformer.wpe(torch.arange(pos, pos + T, dtype=torch.long, device=idx.device))
        x = self.transformer.drop(x)
        rope = self._rope()
        for i, block in enumerate(self.transformer.h):
            x = block(x, rope, None if cache is None else cache[i], pos)
        x = self.transformer.ln_f(x)
        if targets is None:
            x = x[:, [-1], :]  # generation needs the last position only
        logits = self.lm_head(x)
        if self.config.logit_softcap > 0:
            c = self.config.logit_softcap
            logits = c * torch.tanh(logits / c)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def crop_block_size(self, block_size):
        """Shrink the context, e.g. to fine-tune GPT-2 (1024) on short lyrics windows."""
        assert block_size <= self.config.block_size
        self.config.block_size = block_size
        if 'wpe' in self.transformer:
            self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])
        if self.config.pos_emb == 'rope':
            self.rope_cos, self.rope_sin = self.rope_cos[:block_size], self.rope_sin[:block_size]

    @classmethod
    def from_pretrained(cls, name_or_path, override_args=None):
        """A GPT with pretrained GPT-2-architecture weights: gpt2, gpt2-medium, gpt2-large, gpt2-xl, another
        hub id, or a local Hugging Face folder (see hf_gpt2.load_pretrained)."""
        from hf_gpt2 import load_pretrained
        return load_pretrained(name_or_path, override_args)

    def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
        """AdamW; weight decay on matrices and embeddings (2-D tensors) only, never on biases or gains."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {'params': [p for p in params if p.dim() >= 2], 'weight_decay': weight_decay},
            {'params': [p for p in params if p.dim() < 2], 'weight_decay': 0.0},
        ]
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **adamw_kernel(device_type))

    def configure_muon(self, weight_decay, adam_lr, muon_lr, betas, device_type):
        """[Muon, AdamW]: Muon (momentum orthogonalised by Newton-Schulz) for the 2-D weights inside the
        blocks; AdamW for embeddings, the head and all 1-D gains and biases, which Muon does not suit."""
        hidden = [p for n, p in self.named_parameters()
                  if p.requires_grad and p.dim() == 2 and n.startswith('transformer.h.')]
        hidden_ids = {id(p) for p in hidden}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in hidden_ids]
        # Keller Jordan's original scaling (lr * sqrt(max(1, rows/cols))): muon_lr around 0.02-0.05
        muon = torch.optim.Muon(hidden, lr=muon_lr, weight_decay=weight_decay, adjust_lr_fn='original')
        muon.param_groups[0]['lr_scale'] = muon_lr / adam_lr  # train.py's schedule scales every group's lr
        groups = [{'params': [p for p in rest if p.dim() >= 2], 'weight_decay': weight_decay},
                  {'params': [p for p in rest if p.dim() < 2], 'weight_decay': 0.0}]
        return [muon, torch.optim.AdamW(groups, lr=adam_lr, betas=betas, **adamw_kernel(device_type))]

    def flops_per_token(self):
        """Training FLOPs per token (forward + backward), PaLM appendix B: 6N + 12 L H Q T."""
        cfg = self.config
        n = self.get_num_params()
        return 6 * n + 12 * cfg.n_layer * cfg.n_head * (cfg.n_embd // cfg.n_head) * cfg.block_size

    def estimate_mfu(self, fwdbwd_per_iter, dt, peak_flops):
        """Model FLOPs utilisation: achieved training FLOP/s over the device's peak_flops."""
        flops_per_iter = self.flops_per_token() * self.config.block_size * fwdbwd_per_iter
        return flops_per_iter / dt / peak_flops

    # ------------------------------------------------------------------ generation

    def new_cache(self, batch_size, device, dtype):
        shape = (batch_size, self.config.n_head, self.config.block_size, self.config.n_embd // self.config.n_head)
        return [(torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype))
                for _ in range(self.config.n_layer)]

    def context_start(self, length):
        """Where the model's context window starts when `length` tokens exist. Past block_size the window
        jumps forward by a quarter block at a time (not one token), so a KV cache is rebuilt once per jump
        instead of every step; the no-cache path uses the same windows, so both give the same tokens."""
        bs = self.config.block_size
        if length <= bs:
            return 0
        jump = max(1, bs // 4)
        return ((length - bs - 1) // jump + 1) * jump

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, stop_tokens=None,
                 use_cache=True, vocab_limit=None):
        """Continue each row of idx (B, T) by max_new_tokens tokens. temperature=0 is greedy; top_k keeps
        the k likeliest tokens, top_p the smallest set whose probability reaches p (nucleus). A row stops
        once it emits one of stop_tokens; later positions of that row repeat the stop token, and the loop
        ends when every row has stopped. vocab_limit: never emit ids at or above it (a vocabulary padded
        beyond the tokenizer's)."""
        check_sampling(temperature, top_k, top_p)
        stop = None
        if stop_tokens:
            stop = torch.tensor(list(stop_tokens), device=idx.device)
        done = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
        cache, cache_start, cache_len = None, -1, 0
        for _ in range(max_new_tokens):
            start = self.context_start(idx.size(1))
            if not use_cache:
                logits, _ = self(idx[:, start:])
            elif start != cache_start:  # first step, or the window jumped: (re)build the cache
                if cache is None:
                    cache = self.new_cache(idx.size(0), idx.device, self.lm_head.weight.dtype)
                logits, _ = self(idx[:, start:], cache=cache, pos=0)
                cache_start, cache_len = start, idx.size(1) - start
            else:
                logits, _ = self(idx[:, -1:], cache=cache, pos=cache_len)
                cache_len += 1
            logits = logits[:, -1, :vocab_limit].float()
            next_token = sample_next(logits, temperature, top_k, top_p)
            if stop is not None:
                next_token = torch.where(done[:, None], idx[:, -1:], next_token)
                done |= torch.isin(next_token[:, 0], stop)
            idx = torch.cat((idx, next_token), dim=1)
            if stop is not None and bool(done.all()):
                break
        return idx


def adamw_kernel(device_type):
    """The fused AdamW kernel (one pass over all parameters) where torch has it: CUDA, and CPU in a single
    process (under torchrun on CPUs it aborts the process at exit); else the batched foreach version."""
    if 'fused' not in inspect.signature(torch.optim.AdamW).parameters:
        return {'foreach': True}
    cpu_alone = device_type == 'cpu' and not torch.distributed.is_initialized()
    return {'fused': True} if device_type == 'cuda' or cpu_alone else {'foreach': True}


def check_sampling(temperature, top_k, top_p):
    """ValueError for sampling settings out of range (sample.py and evaluate.py check before loading)."""
    if temperature is None or temperature < 0:
        raise ValueError(f'temperature must be 0 (greedy) or more, not {temperature}')
    if top_k is not None and top_k < 0:
        raise ValueError(f'top_k must be 1 or more (None or 0: off), not {top_k}')
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f'top_p must be above 0 and at most 1 (None: off), not {top_p}')


def sample_next(logits, temperature=1.0, top_k=None, top_p=None):
    """One token id per row of logits (B, V), as a (B, 1) tensor."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None and top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
        logits = logits.masked_fill(logits < kth, float('-inf'))
    probs = F.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # drop a token when the tokens before it already reach top_p (the top token always stays)
        drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return torch.multinomial(probs, num_samples=1)


# ---------------------------------------------------------------------- checkpoints
# One format for everything: a dict of plain types and tensors (loadable with weights_only=True) with at
# least 'model' (state dict) and 'model_args' (GPTConfig fields); train.py adds optimizer, scaler, rng
# and sampler state, iteration and config so that a run continues exactly.

def save_checkpoint(checkpoint, path):
    """Write atomically: a crash while saving leaves the previous file intact."""
    tmp = path + '.tmp'
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)


def checkpoint_path(out_dir):
    """The checkpoint to sample or evaluate from: best.pt (best val loss) if present, else ckpt.pt."""
    for name in ('best.pt', 'ckpt.pt'):
        path = os.path.join(out_dir, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f'no best.pt or ckpt.pt in {out_dir}: train a model first (python train.py ...)')


def load_checkpoint(path, device='cpu'):
    """(model, checkpoint) from a ckpt.pt of ours or of nanoGPT (compiled-model prefixes stripped)."""
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError) as e:  # cut short, or not a torch file
        reason = str(e).split('. ')[0].splitlines()[0]  # torch's first sentence
        raise ValueError(f'{path} is not a readable checkpoint (cut short, or not a PyTorch file): {reason}') from None
    if not isinstance(checkpoint, dict) or not {'model', 'model_args'} <= set(checkpoint):
        raise ValueError(f"{path} is not a checkpoint of train.py or nanoGPT (it has no 'model' and 'model_args')")
    if checkpoint.get('lora'):  # adapters only: lora.py reloads the base model they were trained on
        from lora import model_with_adapters
        return model_with_adapters(checkpoint).to(device), checkpoint
    model = GPT(model_config(checkpoint['model_args']))
    state = {k.removeprefix('_orig_mod.').removeprefix('module.'): v for k, v in checkpoint['model'].items()}
    # old nanoGPT versions stored the causal mask as a buffer named attn.bias; we never need it
    state = {k: v for k, v in state.items() if not k.endswith(('.attn.bias', '.attn.masked_bias'))}
    model.load_state_dict(state)
    return model.to(device), checkpoint
