"""
LoRA (low-rank adaptation): fine-tune a pretrained GPT by training small adapters beside its frozen weights.

A targeted nn.Linear  y = x W^T + b  becomes  y = x W^T + b + (alpha / rank) * dropout(x) A^T B^T  with A of
shape (rank, in) and B of shape (out, rank) trainable and W, b frozen. B starts at zero, so training starts from
exactly the pretrained model; only A and B need gradients and AdamW states, which is where the memory goes.

    model = GPT.from_pretrained('gpt2-xl')
    apply_lora(model, rank=16, alpha=32, dropout=0.05)   # freezes the base, adds the adapters
    ... train ...
    adapters = lora_state_dict(model)                      # a few MB instead of the whole model
    merge_lora(model)                                      # an ordinary GPT again, adapters folded in

train.py does this with --lora_rank=N. Its checkpoints then hold only the adapters plus checkpoint['lora']
(the settings and the base model's name or folder), and model.load_checkpoint rebuilds base + adapters with
model_with_adapters(), so sample.py, evaluate.py and export.py work on them unchanged.
"""
import math
import os
from collections import Counter
from dataclasses import asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import Dropout

DEFAULT_TARGETS = 'c_attn,c_proj,c_fc'  # attention input/output and MLP input/output projections


class LoRALinear(nn.Linear):
    """An nn.Linear that keeps the original layer's weight and bias (frozen, under the same state-dict names)
    and adds a trainable low-rank update lora_B @ lora_A scaled by alpha / rank."""

    def __init__(self, linear, rank, alpha, dropout):
        # built on the meta device, the Linear allocates nothing; it then takes over the original's parameters
        super().__init__(linear.in_features, linear.out_features, bias=linear.bias is not None, device='meta')
        self.weight, self.bias = linear.weight, linear.bias
        like = dict(device=linear.weight.device, dtype=linear.weight.dtype)
        self.lora_A = nn.Parameter(torch.empty(rank, linear.in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(linear.out_features, rank, **like))  # zero: starts as the base
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # the init nn.Linear gives its own weight
        self.scale = alpha / rank
        self.lora_dropout = Dropout(dropout)  # model.py's: a faster mask on CPUs

    def forward(self, x):
        update = F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B)
        return F.linear(x, self.weight, self.bias) + self.scale * update

    def merged_weight(self):
        delta = self.lora_B.detach().float() @ self.lora_A.detach().float()
        return (self.weight.detach().float() + self.scale * delta).to(self.weight.dtype)


def target_names(targets):
    """'c_attn,c_proj' or ['c_attn', 'c_proj'] -> ['c_attn', 'c_proj']."""
    parts = targets.split(',') if isinstance(targets, str) else list(targets)
    return [t.strip() for t in parts if t.strip()]


def apply_lora(model, rank, alpha, dropout=0.0, targets=DEFAULT_TARGETS):
    """Freeze every parameter of model and give each nn.Linear named by targets a trainable adapter, in place.
    A target matches a module whose name is it or ends with '.' + it: 'c_proj' is both the attention and the
    MLP output projection, 'attn.c_proj' only the attention one. Returns the model."""
    if not isinstance(rank, int) or rank <= 0:
        raise ValueError(f'lora rank must be a positive integer, not {rank!r}')
    names = target_names(targets)
    if not names:
        raise ValueError('lora_targets is empty: name the Linear layers to adapt, e.g. c_attn,c_proj,c_fc')
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear) and not isinstance(m, LoRALinear)}
    chosen = {n: m for n, m in linears.items() if any(n == t or n.endswith('.' + t) for t in names)}
    unmatched = [t for t in names if not any(n == t or n.endswith('.' + t) for n in chosen)]
    if unmatched:
        kinds = sorted({n.split('.')[-1] for n in linears})
        raise ValueError(f"lora_targets {', '.join(unmatched)} match no Linear layer (this model has "
                         f"{', '.join(kinds)})")
    uses = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    for name, linear in chosen.items():
        if uses[id(linear.weight)] > 1:  # merging would also change the layer it shares the weight with
            raise ValueError(f'{name} shares its weight with another layer (tied embedding): it cannot get an adapter')
    for p in model.parameters():
        p.requires_grad_(False)
    for name, linear in chosen.items():
        parent, _, child = name.rpartition('.')
        setattr(model.get_submodule(parent), child, LoRALinear(linear, rank, alpha, dropout))
    return model


def lora_state_dict(model):
    """Only the adapters (keys ending in lora_A / lora_B): what a LoRA checkpoint stores."""
    return {k: v for k, v in model.state_dict().items() if k.endswith(('.lora_A', '.lora_B'))}


def merge_lora(model):
    """Fold every adapter into its weight (W += alpha/rank * B A, in place) and turn the layers back into plain
    nn.Linear modules: an ordinary model that computes the same function, all parameters trainable again."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            plain = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None, device='meta')
            with torch.no_grad():
                module.weight.copy_(module.merged_weight())
            plain.weight, plain.bias = module.weight, module.bias
            parent, _, child = name.rpartition('.')
            setattr(model.get_submodule(parent), child, plain)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def base_reference(init_from):
    """How a checkpoint names its base model: a hub name as given, a local folder as an absolute path."""
    path = os.path.expanduser(init_from)
    return os.path.abspath(path) if os.path.isdir(path) else init_from


def model_with_adapters(checkpoint):
    """The model of a LoRA checkpoint: its base (GPT.from_pretrained of checkpoint['lora']['base'], cropped
    to the run's block_size) with the saved adapters. Raises ValueError when the base cannot be loaded or no
    longer has the architecture the adapters were trained on."""
    from model import GPT  # model.py imports this module lazily, so no import cycle at load time
    settings, args = checkpoint['lora'], checkpoint['model_args']
    model = GPT.from_pretrained(settings['base'], dict(dropout=args.get('dropout', 0.0),
                                                       block_size=args['block_size']))
    changed = [k for k, v in asdict(model.config).items() if k in args and args[k] != v]
    if changed:
        raise ValueError(f"base model {settings['base']} no longer matches this checkpoint "
                         f"({', '.join(f'{k}: {args[k]!r} -> {getattr(model.config, k)!r}' for k in changed)})")
    apply_lora(model, settings['rank'], settings['alpha'], settings['dropout'], settings['targets'])
    state = {k.removeprefix('_orig_mod.').removeprefix('module.'): v for k, v in checkpoint['model'].items()}
    expected = set(lora_state_dict(model))
    if set(state) != expected:
        raise ValueError(f'the checkpoint does not hold the adapters its settings describe '
                         f'({len(set(state) - expected)} unexpected, {len(expected - set(state))} missing)')
    model.load_state_dict(state, strict=False)
    return model
