"""
Loading GPT-2-architecture weights from Hugging Face: hub downloads or local folders (config.json and
model.safetensors / pytorch_model.bin), checked against what model.GPT computes. model.GPT.from_pretrained
calls load_pretrained; export.py writes the same layout back.
"""
import json
import os

import torch

from model import GPT, GPTConfig

# GPT-2 keeps its four projections as Conv1D, i.e. as (in, out) matrices; ours are nn.Linear, (out, in).
CONV1D_WEIGHTS = ('attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight')


def hf_model_folder(name_or_path):
    """The local folder of a Hugging Face model: name_or_path itself when it is a directory, else a hub
    download of config.json and the weights (safetensors preferred) into huggingface_hub's cache."""
    path = os.path.expanduser(name_or_path)
    if os.path.isdir(path):
        return path
    if name_or_path.startswith(('.', '/', '~')) or os.path.exists(path):
        raise ValueError(f'{name_or_path}: no such directory (expected a folder with config.json and '
                         f'model.safetensors or pytorch_model.bin, or a hub name such as gpt2)')
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ValueError(f'downloading {name_or_path} needs huggingface_hub: pip install huggingface_hub') from None
    try:
        folder = snapshot_download(name_or_path, allow_patterns=[
            'config.json', 'model.safetensors', 'model-*.safetensors', 'model.safetensors.index.json'])
        if not any(f.endswith('.safetensors') for f in os.listdir(folder)):  # older repos: pickled weights only
            folder = snapshot_download(name_or_path, allow_patterns=[
                'config.json', 'pytorch_model.bin', 'pytorch_model-*.bin', 'pytorch_model.bin.index.json'])
    except Exception as e:  # unknown repo, no network, bad name...: huggingface_hub has many error types
        lines = str(e).strip().splitlines()
        reason = f'{type(e).__name__}: {lines[0]}' if lines else type(e).__name__
        raise ValueError(f'cannot load {name_or_path!r}: not a local directory, and downloading it from the '
                         f'Hugging Face hub failed ({reason})') from None
    return folder


def read_hf_config(folder, name):
    path = os.path.join(folder, 'config.json')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f'{name}: cannot read {path} ({type(e).__name__})') from None


GELU_NAMES = {'gelu_new': 'gelu_tanh', 'gelu_pytorch_tanh': 'gelu_tanh', 'gelu': 'gelu'}  # transformers' -> ours


def gpt2_config_from_hf(hf, name):
    """Our GPTConfig for a transformers config.json; anything GPT2LMHeadModel would compute differently fails."""
    if hf.get('model_type') != 'gpt2':
        arch = ', '.join(hf.get('architectures') or []) or 'no architectures listed'
        raise ValueError(f"{name} is a {hf.get('model_type')!r} model ({arch}): only the GPT-2 architecture "
                         f"(model_type 'gpt2') can be loaded")
    n_embd = hf['n_embd']
    different = {
        'activation_function': hf.get('activation_function', 'gelu_new') not in GELU_NAMES,
        'layer_norm_epsilon': abs(hf.get('layer_norm_epsilon', 1e-5) - 1e-5) > 1e-12,
        'n_inner': hf.get('n_inner') not in (None, 4 * n_embd),
        'scale_attn_weights': not hf.get('scale_attn_weights', True),
        'scale_attn_by_inverse_layer_idx': hf.get('scale_attn_by_inverse_layer_idx', False),
        'add_cross_attention': hf.get('add_cross_attention', False),
    }
    bad = [f'{k}={hf.get(k)!r}' for k, v in different.items() if v]
    if bad:
        raise ValueError(f"{name}: GPT-2 variant with {', '.join(bad)}, which this model does not implement")
    return GPTConfig(n_layer=hf['n_layer'], n_head=hf['n_head'], n_embd=n_embd, vocab_size=hf['vocab_size'],
                     block_size=hf.get('n_positions', hf.get('n_ctx', 1024)), bias=True,
                     tie_weights=hf.get('tie_word_embeddings', True),
                     mlp=GELU_NAMES[hf.get('activation_function', 'gelu_new')])


def read_hf_weights(folder, name):
    """The state dict in a model folder: model.safetensors, else pytorch_model.bin (or their shards)."""
    def load(path):
        if path.endswith('.safetensors'):
            from safetensors.torch import load_file
            return load_file(path)
        return torch.load(path, map_location='cpu', weights_only=True)
    for filename in ('model.safetensors', 'pytorch_model.bin'):
        if os.path.isfile(os.path.join(folder, filename)):
            return load(os.path.join(folder, filename))
        index = os.path.join(folder, filename + '.index.json')
        if os.path.isfile(index):  # sharded: the index names the file of every tensor
            with open(index, encoding='utf-8') as f:
                shards = sorted(set(json.load(f)['weight_map'].values()))
            state = {}
            for shard in shards:
                state.update(load(os.path.join(folder, shard)))
            return state
    raise ValueError(f'{name}: no model.safetensors or pytorch_model.bin in {folder}')


def load_pretrained(name_or_path, override_args=None):
    """A GPT with pretrained GPT-2-architecture weights: gpt2, gpt2-medium, gpt2-large, gpt2-xl or any other
    Hugging Face hub id (distilgpt2, ...), downloaded once into the hub cache, or a local folder with
    config.json and model.safetensors / pytorch_model.bin. override_args may set dropout (default 0),
    block_size (smaller crops the context) and bias (GPT-2 has biases: only True). The vocabulary keeps the
    checkpoint's size (50257 for GPT-2). Every problem raises ValueError with a one-line reason."""
    override_args = dict(override_args or {})
    unknown = sorted(set(override_args) - {'dropout', 'block_size', 'bias'})
    if unknown:
        raise ValueError(f"from_pretrained overrides only dropout, block_size and bias, not {', '.join(unknown)}")
    if override_args.get('bias', True) is not True:
        raise ValueError('GPT-2 weights include biases: load them with bias=True')
    folder = hf_model_folder(name_or_path)
    config = gpt2_config_from_hf(read_hf_config(folder, name_or_path), name_or_path)
    config.dropout = override_args.get('dropout', 0.0)
    block_size = override_args.get('block_size', config.block_size)
    if block_size > config.block_size:
        raise ValueError(f'{name_or_path} has a context of {config.block_size} tokens: block_size={block_size} '
                         f'is too large')
    state = {}
    for key, value in read_hf_weights(folder, name_or_path).items():
        key = key.removeprefix('transformer.')  # files of GPT2Model (the original gpt2 repo) have no prefix
        if key.endswith(('.attn.bias', '.attn.masked_bias')):
            continue  # causal-mask buffers of older transformers versions
        if key.endswith(CONV1D_WEIGHTS):
            value = value.t()  # Conv1D keeps (in, out); nn.Linear wants (out, in)
        state[key if key == 'lm_head.weight' else 'transformer.' + key] = value
    if config.tie_weights and 'transformer.wte.weight' in state:
        state['lm_head.weight'] = state['transformer.wte.weight']
    model = GPT(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # missing, unexpected or mis-shaped tensors
        detail = ' '.join(str(e).split('\n')[1:2]).strip()
        raise ValueError(f'{name_or_path}: the weights do not fit its config.json ({detail[:300]})') from None
    if block_size < config.block_size:
        model.crop_block_size(block_size)
    return model
