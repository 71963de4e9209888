"""
Evaluate a model: loss and perplexity over a whole split (every token, in order, in fixed windows, so two
models are scored on exactly the same tokens), and lyric metrics of generated samples beside the same
metrics of real text from the split. Writes eval.json and eval.md into out_dir and prints the table.

  python evaluate.py --out_dir=out-lyrics
  python evaluate.py --init_from=gpt2 --dataset=lyrics --out_dir=out-gpt2-zeroshot
  python evaluate.py --compare out-a out-b --compare_out=assets/compare    # table + loss/metric plots
  python evaluate.py --out_dir=out-lyrics --plot_embeddings                # t-SNE of the token embeddings
"""
import contextlib
import json
import math
import os
import sys
import time

import numpy as np
import torch

from configurator import fail

# -----------------------------------------------------------------------------
init_from = 'resume'  # 'resume' (the checkpoint in out_dir) or a GPT-2 name / HF directory
out_dir = 'out'  # the run to evaluate; eval.json and eval.md are written here
dataset = ''  # evaluate on data/<dataset> ('' = the dataset the run trained on)
data_dir = ''  # explicit dataset folder (overrides dataset)
split = 'val'  # the split to score: 'val' or 'test'
eval_block_size = 0  # tokens per window (0 = the model's block_size)
eval_stride = 0  # steps between window starts (0 = the window length: no overlap; less: more context)
max_eval_tokens = 0  # score only the first this many tokens of the split (0 = all of it)
batch_tokens = 4096  # tokens per forward pass (windows per pass = this / window length)
num_samples = 10  # samples to generate and score (0 = loss only)
max_new_tokens = 500  # tokens per sample, and per piece of real text scored as the reference
temperature = 0.8  # sampling temperature (0 = greedy)
top_k = 200  # keep only the k likeliest tokens (None = off)
top_p = None  # nucleus sampling threshold (None = off)
start = ''  # prompt for the samples ('' = a new song: the end-of-text token, else token 0)
num_reference = 50  # pieces of the split's real text scored as the human reference
ngram_n = 8  # token n-gram length for ngram_overlap and longest_copy
seed = 1337  # random seed of the samples
device = 'auto'  # 'auto', 'cpu', 'cuda', 'cuda:1', 'mps'
dtype = 'auto'  # 'auto', 'float32', 'bfloat16' or 'float16'
# other modes
compare = []  # run folders to compare instead: python evaluate.py --compare out-a out-b ...
compare_out = 'compare'  # --compare writes <this>.md, <this>.png (loss curves), <this>_metrics.png
x_axis = 'tokens'  # x axis of the compared loss curves: 'iter', 'tokens' or 'time' (seconds)
plot_embeddings = False  # instead of evaluating, draw a t-SNE of token embeddings (<out_dir>/embeddings.png)
embeddings_source = 'model'  # --plot_embeddings: 'model' (the checkpoint's) or 'word2vec' (trained now)
embeddings_top = 300  # --plot_embeddings: how many of the most frequent training tokens to draw
# -----------------------------------------------------------------------------



# ---------------------------------------------------------------- loss over a whole split

def eval_windows(n_targets, block, stride):
    """([(start, skip)], length): windows of `length` tokens covering targets 0..n_targets-1 (target t is
    token t+1, predicted from the tokens before it). Window starts step by stride, the last one is moved
    back to end at the last target; a window scores its targets from start+skip on, so every target is
    scored exactly once, after the first window with at least length - stride tokens of context."""
    length = min(block, n_targets)
    windows, end, start = [], 0, 0
    while end < n_targets:
        start = min(start, n_targets - length)
        windows.append((start, end - start))
        end = start + length
        start += stride
    return windows, length


@torch.no_grad()
def split_loss(model, data, block, stride, batch_size=8, device='cpu', amp=None):
    """(mean next-token loss, number of targets) over a whole 1-D token array, deterministic."""
    if len(data) < 2:
        raise ValueError('the split needs at least 2 tokens')
    windows, length = eval_windows(len(data) - 1, block, stride)
    offsets = np.arange(length + 1)
    total, count = 0.0, 0
    model.eval()
    for i in range(0, len(windows), batch_size):
        chunk = windows[i:i + batch_size]
        starts = np.array([s for s, _ in chunk])
        rows = torch.from_numpy(np.asarray(data[starts[:, None] + offsets]).astype(np.int64))
        x, y = rows[:, :-1], rows[:, 1:].clone()
        for r, (_, skip) in enumerate(chunk):
            y[r, :skip] = -1  # scored by an earlier window
        n = int((y != -1).sum())
        if amp is None:
            _, loss = model(x.to(device), y.to(device))
        else:
            with amp:
                _, loss = model(x.to(device), y.to(device))
        total += loss.item() * n  # the model returns the mean over the scored targets
        count += n
    return total / count, count


# ---------------------------------------------------------------- samples and their metrics

def generate_samples(model, enc, n, max_new, temperature, top_k, top_p, prompt='', device='cpu', amp=None):
    """n generated texts (the prompt not included), each cut at its end-of-text token."""
    try:
        prompt_ids = enc.encode(prompt) if prompt else []
    except ValueError as e:
        fail(f'cannot encode the prompt: {e}')
    prompt_ids = prompt_ids or [enc.eot_token if enc.eot_token is not None else 0]
    x = torch.tensor(prompt_ids, dtype=torch.long, device=device)[None].repeat(n, 1)
    stop = [enc.eot_token] if enc.eot_token is not None else None
    with torch.no_grad(), (amp or contextlib.nullcontext()):
        y = model.generate(x, max_new, temperature=temperature, top_k=top_k, top_p=top_p, stop_tokens=stop,
                           vocab_limit=enc.vocab_size)
    texts = []
    for row in y[:, len(prompt_ids):].tolist():
        if stop and stop[0] in row:
            row = row[:row.index(stop[0])]
        texts.append(enc.decode(row))
    return texts


def reference_pieces(data, eot, count, length):
    """Up to `count` token arrays of real text spread evenly over a split: its documents (the text between
    end-of-text tokens) when it has them, else consecutive windows; each at most `length` tokens."""
    ids = np.asarray(data)
    if eot is not None and (ids == eot).any():
        bounds = np.flatnonzero(ids == eot)
        spans = zip(np.concatenate([[0], bounds + 1]), np.concatenate([bounds, [len(ids)]]))
    else:
        spans = ((s, s + length) for s in range(0, len(ids), length))
    spans = [(int(s), int(min(e, s + length))) for s, e in spans if e > s]
    if not spans or count <= 0:
        return []
    pick = np.unique(np.linspace(0, len(spans) - 1, num=min(count, len(spans))).round().astype(int))
    return [ids[spans[i][0]:spans[i][1]] for i in pick]


def score(texts, line_set, ngram_index, encode):
    from lyric_metrics import score_texts
    return score_texts(texts, train_line_set=line_set, ngram_index=ngram_index, encode=encode)


def fmt(value):
    if value is None:
        return '–'
    if isinstance(value, float):
        return f'{value:.4f}' if abs(value) < 100 else f'{value:,.1f}'
    return f'{value:,}' if isinstance(value, int) else str(value)


def eval_markdown(result):
    loss = result['loss']
    lines = [f"**{result['model']}** on `{result['data_dir']}` ({result['split']}): loss **{loss['loss']:.4f}**, "
             f"perplexity **{loss['perplexity']:.2f}**, {loss['bits_per_char']:.3f} bits/char over "
             f"{loss['tokens']:,} tokens (windows of {loss['window']}, stride {loss['stride']})"]
    if result.get('samples'):
        s, r = result['samples'], result['reference']
        lines += ['', f"| metric | model samples ({s['samples']}) | real {result['split']} text ({r['samples']}) |",
                  '|---|---:|---:|']
        for key in s:
            if key not in ('samples', 'rhyme_backend'):
                lines.append(f'| {key} | {fmt(s[key])} | {fmt(r.get(key))} |')
        lines += ['', f"rhyme backend: {s['rhyme_backend']}; samples: temperature {result['sampling']['temperature']}, "
                      f"top_k {result['sampling']['top_k']}, top_p {result['sampling']['top_p']}, "
                      f"{result['sampling']['max_new_tokens']} new tokens at most"]
    return '\n'.join(lines) + '\n'


def write_text(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------- comparing runs

def run_summary(run_dir):
    """What a run folder says about itself: checkpoint (params, best val loss), log.jsonl (iterations and
    tokens seen) and eval.json (full-split loss, sample metrics); each part optional."""
    from model import GPT, checkpoint_path, model_config
    from plots import read_log
    row = {'run': os.path.basename(os.path.normpath(run_dir))}
    try:
        ckpt = torch.load(checkpoint_path(run_dir), map_location='cpu', weights_only=True, mmap=True)
        with torch.device('meta'):  # count parameters without allocating them
            row['params'] = GPT(model_config(ckpt['model_args'])).get_num_params()
        row['iters'], row['best_val_loss'] = ckpt.get('iter_num'), ckpt.get('best_val_loss')
    except FileNotFoundError:
        pass
    log_path = os.path.join(run_dir, 'log.jsonl')
    if os.path.exists(log_path):
        evals = [e for e in read_log(log_path) if 'val_loss' in e]
        if evals:
            row['tokens'] = max(e.get('tokens', 0) for e in evals)
            row['iters'] = max(e['iter'] for e in evals)  # best.pt's iter_num is where the best was
            row.setdefault('best_val_loss', min(e['val_loss'] for e in evals))
    eval_path = os.path.join(run_dir, 'eval.json')
    if os.path.exists(eval_path):
        with open(eval_path, encoding='utf-8') as f:
            result = json.load(f)
        row['eval_loss'] = result['loss']['loss']
        row['samples'], row['reference'] = result.get('samples'), result.get('reference')
    if len(row) == 1:
        raise FileNotFoundError(f'{run_dir} holds no checkpoint, log.jsonl or eval.json')
    loss = row.get('eval_loss', row.get('best_val_loss'))
    row['ppl'] = math.exp(min(loss, 50)) if loss is not None else None
    return row


def compare_runs(run_dirs, out_prefix, x_key='tokens'):
    """Write <out_prefix>.md (table), <out_prefix>.png (loss curves) and, when runs have eval.json sample
    metrics, <out_prefix>_metrics.png. Returns the markdown."""
    from plots import plot_loss_curves, plot_metrics
    rows = [run_summary(d) for d in run_dirs]
    shown = ('end_rhyme_rate', 'rhyme_density', 'distinct_2', 'repeated_line_rate', 'ngram_overlap', 'copied_line_rate')
    metrics = [m for m in shown if any(m in (r.get('samples') or {}) for r in rows)]
    head = ['run', 'params', 'iters', 'tokens seen', 'best val loss', 'full val loss', 'perplexity'] + metrics
    lines = ['| ' + ' | '.join(head) + ' |', '|---|' + '---:|' * (len(head) - 1)]
    for r in rows:
        cells = [r['run'], r.get('params'), r.get('iters'), r.get('tokens'), r.get('best_val_loss'),
                 r.get('eval_loss'), r.get('ppl')] + [(r.get('samples') or {}).get(m) for m in metrics]
        lines.append('| ' + ' | '.join(fmt(c) for c in cells) + ' |')
    reference = next((r['reference'] for r in rows if r.get('reference')), None)
    if metrics and reference:
        lines.append('| human (real text) |' + ' |' * 6 + ''.join(f' {fmt(reference.get(m))} |' for m in metrics))
    lines += ['', 'best val loss: the lowest training-time estimate; full val loss and perplexity: evaluate.py '
                  'over the whole split (perplexity falls back to the best val loss)']
    markdown = '\n'.join(lines) + '\n'
    folder = os.path.dirname(out_prefix)
    if folder:
        os.makedirs(folder, exist_ok=True)
    write_text(out_prefix + '.md', markdown)
    logs = {r['run']: os.path.join(d, 'log.jsonl') for r, d in zip(rows, run_dirs)
            if os.path.exists(os.path.join(d, 'log.jsonl'))}
    if logs:
        plot_loss_curves(logs, out_prefix + '.png', x_key=x_key)
    if metrics:
        bars = {r['run']: {m: r['samples'][m] for m in metrics if m in r['samples']} for r in rows if r.get('samples')}
        if reference:
            bars['human (real text)'] = {m: reference[m] for m in metrics if m in reference}
        plot_metrics(bars, out_prefix + '_metrics.png')
    return markdown


# ---------------------------------------------------------------- the script

def split_argv(argv):
    """(argv for configure, run folders): `--compare DIR DIR ...` and a bare `--plot_embeddings` are not
    --key=value, so they are taken out (or completed) here."""
    rest, dirs, collecting = [], None, False
    for arg in argv:
        if arg == '--compare':
            dirs, collecting = dirs or [], True
        elif collecting and not arg.startswith('-') and not arg.endswith('.py'):
            dirs.append(arg)
        else:
            collecting = False
            rest.append('--plot_embeddings=True' if arg == '--plot_embeddings' else arg)
    return rest, dirs


def load_model(dev):
    """(model, description, checkpoint or None, dataset folder)."""
    from model import GPT, checkpoint_path, load_checkpoint
    import tokenizer
    try:
        if init_from == 'resume':
            model, ckpt = load_checkpoint(checkpoint_path(out_dir), dev)
            folder = tokenizer.find_data_dir(ckpt.get('config', {}), data_dir, dataset)
            return model, os.path.basename(os.path.normpath(out_dir)), ckpt, folder
        if not (data_dir or dataset):
            fail(f'--init_from={init_from} needs --dataset or --data_dir (a dataset with the gpt2 tokenizer)')
        folder = tokenizer.find_data_dir({}, data_dir, dataset)
        if tokenizer.read_meta(folder)['tokenizer'] != 'gpt2':
            fail(f'{folder} is not tokenized with gpt2: a GPT-2 model needs a gpt2 dataset')
        return GPT.from_pretrained(init_from, dict(dropout=0.0)).to(dev), init_from, None, folder
    except (FileNotFoundError, ValueError) as e:  # no checkpoint or dataset; a GPT-2 that cannot be loaded
        fail(str(e), 1)


def open_split(folder, name, meta):
    path = os.path.join(folder, f'{name}.bin')
    if not os.path.exists(path):
        fail(f'{path} not found: prepare the dataset with a {name} split first', 1)
    return np.memmap(path, dtype=np.dtype(meta.get('dtype', 'uint16')), mode='r')


def embeddings_main(dev):
    from embeddings import MAX_TOKENS, plot_tsne, scale_like_init, token_label, word2vec_vectors
    import tokenizer
    model, name, ckpt, folder = load_model(dev)
    meta, enc = tokenizer.read_meta(folder), tokenizer.load_tokenizer(folder)
    train = open_split(folder, 'train', meta)
    counts = np.bincount(np.asarray(train[:MAX_TOKENS]), minlength=meta['vocab_size'])  # what word2vec reads
    top = [int(i) for i in np.argsort(-counts, kind='stable')[:embeddings_top] if counts[i] > 0]
    if embeddings_source == 'model':
        vectors = model.transformer.wte.weight.detach().float().cpu().numpy()[top]
    elif embeddings_source == 'word2vec':
        w2v_seed = (ckpt or {}).get('config', {}).get('seed', seed)  # the vectors train.py started from
        vectors, seen = word2vec_vectors(train, meta['vocab_size'], model.config.n_embd, seed=w2v_seed)
        vectors[seen] = scale_like_init(vectors[seen])  # centred, as train.py uses them
        vectors = vectors[top]
    else:
        fail(f"embeddings_source must be 'model' or 'word2vec', not {embeddings_source!r}")
    os.makedirs(out_dir, exist_ok=True)
    out_png = os.path.join(out_dir, 'embeddings.png')
    plot_tsne(vectors, [token_label(enc.decode([i])) for i in top], out_png, seed=seed,
              title=f'{name}: {embeddings_source} embeddings of the {len(top)} most frequent tokens (t-SNE)')
    print(f'wrote {out_png}')


def evaluate_main(dev, amp):
    from lyric_metrics import build_line_set, build_ngram_index
    import tokenizer
    model, name, ckpt, folder = load_model(dev)
    meta, enc = tokenizer.read_meta(folder), tokenizer.load_tokenizer(folder)
    if model.config.vocab_size < meta['vocab_size']:
        fail(f"the model's vocabulary ({model.config.vocab_size}) is smaller than {folder}'s ({meta['vocab_size']})", 1)
    data = open_split(folder, split, meta)
    if max_eval_tokens:
        data = data[:max_eval_tokens + 1]
    block = eval_block_size or model.config.block_size
    stride = eval_stride or block
    if not (0 < block <= model.config.block_size and 0 < stride <= block):
        fail(f'need 0 < eval_block_size <= {model.config.block_size} and 0 < eval_stride <= eval_block_size')
    t0 = time.time()
    try:
        loss, n = split_loss(model, data, block, stride, max(1, batch_tokens // block), dev, amp)
    except ValueError as e:
        fail(f'{split}.bin: {e}', 1)
    targets = np.asarray(data[1:n + 1])
    chars = len(enc.decode(targets[targets != enc.eot_token] if enc.eot_token is not None else targets))
    result = {'model': name, 'checkpoint_iter': ckpt and ckpt.get('iter_num'), 'params': model.get_num_params(),
              'data_dir': os.path.abspath(folder), 'split': split,
              'loss': {'loss': loss, 'perplexity': math.exp(min(loss, 50)), 'tokens': n, 'characters': chars,
                       'bits_per_char': loss * n / math.log(2) / max(chars, 1),
                       'window': min(block, n), 'stride': stride, 'seconds': round(time.time() - t0, 2)}}
    if num_samples > 0:
        torch.manual_seed(seed)
        texts = generate_samples(model, enc, num_samples, max_new_tokens, temperature, top_k, top_p, start, dev, amp)
        train = open_split(folder, 'train', meta)
        line_set = build_line_set(enc.decode(train))
        index = build_ngram_index(np.asarray(train), ngram_n)
        pieces = [enc.decode(p) for p in reference_pieces(data, enc.eot_token, num_reference, max_new_tokens)]
        result['samples'] = score(texts, line_set, index, enc.encode)
        result['reference'] = score(pieces, line_set, index, enc.encode)
        result['sampling'] = dict(num_samples=num_samples, max_new_tokens=max_new_tokens, temperature=temperature,
                                  top_k=top_k, top_p=top_p, start=start, seed=seed, ngram_n=ngram_n)
        result['sample_texts'] = texts
    markdown = eval_markdown(result)
    os.makedirs(out_dir, exist_ok=True)
    write_text(os.path.join(out_dir, 'eval.json'), json.dumps(result, indent=1, ensure_ascii=False) + '\n')
    write_text(os.path.join(out_dir, 'eval.md'), markdown)
    print(markdown, end='')


def main():
    from configurator import check_minimums, configure
    from model import check_sampling
    from system import autocast, pick_device, pick_dtype
    argv, dirs = split_argv(sys.argv[1:])
    if dirs == []:
        fail('--compare needs run folders: python evaluate.py --compare out-a out-b')
    configure(globals(), argv)
    runs = dirs if dirs is not None else list(compare)
    if runs:
        if x_axis not in ('iter', 'tokens', 'time'):
            fail(f"x_axis must be 'iter', 'tokens' or 'time', not {x_axis!r}")
        try:
            print(compare_runs(runs, compare_out, x_axis), end='')
        except (FileNotFoundError, ImportError) as e:
            fail(str(e), 1)
        print(f'wrote {compare_out}.md and plots', file=sys.stderr)
        return
    check_minimums(globals(), dict(num_samples=0, max_new_tokens=1, batch_tokens=1, eval_block_size=0, eval_stride=0,
                                   max_eval_tokens=0, num_reference=0, ngram_n=1, embeddings_top=3))
    try:
        dev = pick_device(device)
        amp = autocast(dev, pick_dtype(dev, dtype))
        check_sampling(temperature, top_k, top_p)
    except ValueError as e:
        fail(str(e))
    try:
        embeddings_main(dev) if plot_embeddings else evaluate_main(dev, amp)
    except ImportError as e:
        fail(str(e), 1)


if __name__ == '__main__':
    main()
