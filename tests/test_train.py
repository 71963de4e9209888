import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import ROOT, TINY_MODEL, run_script
from sampler import epoch_windows, next_epoch_starts


def train(data_dir, out_dir, *args, **kw):
    return run_script('train.py', f'--data_dir={data_dir}', f'--out_dir={out_dir}', *TINY_MODEL, *args, **kw)


def evals(out_dir, keep_time=False):
    with open(os.path.join(out_dir, 'log.jsonl')) as f:
        entries = [e for e in map(json.loads, f) if 'val_loss' in e]
    for e in entries if not keep_time else []:
        e.pop('time'), e.pop('wall')  # seconds differ from run to run
    return entries


def test_training_writes_checkpoints_and_log(char_data, tmp_path):
    out = tmp_path / 'out'
    result = train(char_data, out, '--max_iters=30', '--eval_interval=10')
    assert result.returncode == 0, result.stderr
    assert {'ckpt.pt', 'best.pt', 'log.jsonl'} <= set(os.listdir(out))
    entries = evals(out)
    assert [e['iter'] for e in entries] == [0, 10, 20, 30]
    for e in entries:
        assert {'iter', 'train_loss', 'val_loss', 'lr', 'val_ppl'} <= set(e)
    assert entries[-1]['val_loss'] < entries[0]['val_loss'] - 0.5  # it learns
    ckpt = torch.load(out / 'ckpt.pt', weights_only=True)
    assert ckpt['iter_num'] == 30 and ckpt['model_args']['n_layer'] == 2
    assert {'model', 'optimizer', 'scaler', 'rng', 'sampler', 'config', 'best_val_loss'} <= set(ckpt)
    assert 'iter 30: train loss' in result.stdout
    assert not [f for f in os.listdir(out) if f.endswith('.tmp')]


@pytest.mark.parametrize('sampling', ['random', pytest.param('epoch', marks=pytest.mark.slow)])
def test_resume_continues_exactly(char_data, tmp_path, sampling):
    opts = ['--eval_interval=5', '--dropout=0.1', f'--sampling={sampling}', '--lr_decay_iters=20']
    straight, stopped = tmp_path / 'straight', tmp_path / 'stopped'
    assert train(char_data, straight, '--max_iters=15', *opts).returncode == 0
    assert train(char_data, stopped, '--max_iters=10', *opts).returncode == 0
    result = train(char_data, stopped, '--max_iters=15', '--init_from=resume', *opts)
    assert result.returncode == 0, result.stderr
    assert evals(straight) == evals(stopped)  # same losses to the last bit, resumed or not
    a = torch.load(straight / 'ckpt.pt', weights_only=True)['model']
    b = torch.load(stopped / 'ckpt.pt', weights_only=True)['model']
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigint_saves_and_resumes(char_data, tmp_path):
    out = tmp_path / 'out'
    cmd = [sys.executable, os.path.join(ROOT, 'train.py'), f'--data_dir={char_data}', f'--out_dir={out}',
           *TINY_MODEL, '--max_iters=100000', '--eval_interval=1000']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until it is training
        log = out / 'log.jsonl'
        if log.exists() and len(log.read_text().splitlines()) >= 5:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert 'interrupted: saved' in stdout
    ckpt = torch.load(out / 'ckpt.pt', weights_only=True)
    assert ckpt['iter_num'] >= 4
    result = train(char_data, out, '--init_from=resume', f'--max_iters={ckpt["iter_num"] + 3}', '--eval_interval=1000')
    assert result.returncode == 0, result.stderr
    assert torch.load(out / 'ckpt.pt', weights_only=True)['iter_num'] == ckpt['iter_num'] + 3


def test_non_finite_loss_stops_and_keeps_the_good_checkpoint(char_data, tmp_path):
    out = tmp_path / 'out'
    assert train(char_data, out, '--max_iters=4', '--eval_interval=4').returncode == 0
    before = (out / 'ckpt.pt').read_bytes()
    result = train(char_data, out, '--init_from=resume', '--max_iters=40', '--eval_interval=4',
                   '--learning_rate=1e30', '--grad_clip=0', '--warmup_iters=0')
    assert result.returncode == 1
    assert 'stopping:' in result.stdout and 'last good checkpoint is kept' in result.stdout
    assert (out / 'ckpt.pt').read_bytes() == before


def test_patience_stops_early(char_data, tmp_path):
    out = tmp_path / 'out'
    # learning rate 0 and the exact whole-split val loss: every evaluation after the first is no better
    result = train(char_data, out, '--max_iters=100', '--eval_interval=2', '--patience=2', '--learning_rate=0.0',
                   '--min_lr=0.0', '--eval_full_val=True')
    assert result.returncode == 0, result.stderr
    assert 'early stop' in result.stdout
    assert [e['iter'] for e in evals(out)] == [0, 2, 4]


def test_eval_only_writes_nothing(char_data, tmp_path):
    out = tmp_path / 'out'
    result = train(char_data, out, '--eval_only=True')
    assert result.returncode == 0, result.stderr
    assert 'iter 0: train loss' in result.stdout
    assert not out.exists() or not os.listdir(out)


@pytest.mark.slow
def test_lr_schedules_and_bad_values(char_data, tmp_path):
    for schedule in ['linear', 'constant', 'cyclic']:
        result = train(char_data, tmp_path / schedule, '--max_iters=6', '--eval_interval=3', f'--lr_schedule={schedule}',
                       '--lr_decay_iters=6', '--min_lr=1e-4', '--lr_cycle_iters=4')
        assert result.returncode == 0, result.stderr
        lrs = [e['lr'] for e in evals(tmp_path / schedule)]  # at iters 0, 3, 6 (warmup is 2)
        if schedule == 'constant':
            assert lrs[1] == lrs[2] == 3e-3
        elif schedule == 'linear':
            assert lrs[1] == pytest.approx(3e-3 - 0.25 * (3e-3 - 1e-4)) and lrs[2] == pytest.approx(1e-4)
        else:  # cosine restarts every 4 iterations after warmup: back at the peak at iter 6
            assert lrs[1] < 3e-3 and lrs[2] == pytest.approx(3e-3)
    result = train(char_data, tmp_path / 'bad', '--lr_schedule=triangle')
    assert result.returncode == 2 and 'lr_schedule' in result.stderr and 'Traceback' not in result.stderr


@pytest.mark.parametrize('setting, message', [
    ('--n_head=3', 'n_embd (32) must be divisible by n_head (3)'),  # TINY_MODEL is 32 wide
    ('--dropout=1.5', 'dropout must be at least 0 and below 1, not 1.5'),
    ('--eval_interval=0', 'eval_interval must be at least 1, not 0'),
    ('--gradient_accumulation_steps=0', 'gradient_accumulation_steps must be at least 1, not 0'),
    ('--max_iters=-5', 'max_iters must be 0 or more, not -5'),
    ('--beta2=1.0', 'beta2 must be at least 0 and below 1, not 1.0'),
    ('--device=tpu', "unknown device 'tpu'"),
])
def test_impossible_settings_are_one_line_errors_and_write_nothing(char_data, tmp_path, setting, message):
    out = tmp_path / 'out'
    result = train(char_data, out, '--max_iters=2', setting)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f'error: {message}')
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr
    assert not out.exists()


def test_out_dir_that_is_a_file_is_a_one_line_error(char_data, tmp_path):
    (tmp_path / 'out').write_text('notes')
    result = train(char_data, tmp_path / 'out', '--max_iters=2')
    assert result.returncode == 2 and result.stderr == f'error: cannot create out_dir {tmp_path / "out"}: File exists\n'
    assert (tmp_path / 'out').read_text() == 'notes'


def test_missing_dataset_is_one_line_error(tmp_path):
    result = run_script('train.py', f'--data_dir={tmp_path}', '--device=cpu')
    assert result.returncode == 2
    assert result.stderr.count('\n') == 1 and 'prepare.py' in result.stderr
    result = run_script('train.py', f'--out_dir={tmp_path}', '--init_from=resume', '--dataset=shakespeare_char',
                        f'--data_dir={tmp_path}')
    assert result.returncode == 2 and 'Traceback' not in result.stderr


def test_epoch_windows_cover_every_window_once_across_ranks():
    n_tokens, block = 1001, 10  # 100 windows
    for world in (1, 2, 3):
        parts = [epoch_windows(n_tokens, block, 7, 0, r, world) for r in range(world)]
        together = np.concatenate(parts)
        assert sorted(together.tolist()) == list(range(0, 1000, 10))
    assert not np.array_equal(epoch_windows(n_tokens, block, 7, 0), epoch_windows(n_tokens, block, 7, 1))
    state = {'epoch': 0, 'pos': 0}
    seen = np.concatenate([next_epoch_starts(state, 8, n_tokens, block, 7) for _ in range(25)])  # 200 windows
    assert sorted(seen[:100].tolist()) == sorted(seen[100:].tolist()) == list(range(0, 1000, 10))
    assert state == {'epoch': 2, 'pos': 0}


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(char_data, tmp_path):
    out = tmp_path / 'out'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
           os.path.join(ROOT, 'train.py'), f'--data_dir={char_data}', f'--out_dir={out}', *TINY_MODEL,
           '--gradient_accumulation_steps=2', '--max_iters=6', '--eval_interval=3', '--sampling=epoch']
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'ddp: parameters identical across 2 ranks' in result.stdout
    assert result.stdout.count('iter 6: train loss') == 1  # only rank 0 logs
    assert sorted(os.listdir(out)) == ['best.pt', 'ckpt.pt', 'log.jsonl', 'loss.png']
    assert sorted(os.listdir(tmp_path)) == ['out']  # no other rank wrote anything anywhere
    ckpt = torch.load(out / 'ckpt.pt', weights_only=True)
    assert ckpt['rng']['world_size'] == 2 and len(ckpt['rng']['torch']) == 2
    bad = subprocess.run(cmd[:-3] + ['--gradient_accumulation_steps=3', '--max_iters=1'], capture_output=True,
                         text=True, timeout=300, cwd=str(tmp_path), env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert bad.returncode != 0 and 'does not divide across 2 processes' in bad.stderr


@pytest.mark.slow
def test_init_from_another_run_starts_fresh_with_its_weights(char_data, tmp_path):
    first, second = tmp_path / 'first', tmp_path / 'second'
    # the exact whole-split val loss: the second run starts where the first ended
    assert train(char_data, first, '--max_iters=20', '--eval_interval=20', '--eval_full_val=True').returncode == 0
    result = train(char_data, second, f'--init_from={first}', '--max_iters=2', '--eval_interval=2',
                   '--eval_full_val=True')
    assert result.returncode == 0, result.stderr
    start = evals(second)[0]
    assert start['iter'] == 0 and start['val_loss'] == pytest.approx(evals(first)[-1]['val_loss'], abs=1e-4)
    assert torch.load(second / 'ckpt.pt', weights_only=True)['iter_num'] == 2
    missing = train(char_data, tmp_path / 'third', f'--init_from={tmp_path / "empty"}')
    assert missing.returncode == 2 and 'Traceback' not in missing.stderr


@pytest.mark.slow
def test_wandb_offline_logging(char_data, tmp_path):
    pytest.importorskip('wandb', reason='wandb is optional (pip install wandb)')
    out = tmp_path / 'out'
    result = train(char_data, out, '--max_iters=4', '--eval_interval=2', '--wandb_log=True', '--wandb_run_name=t',
                   env={'WANDB_MODE': 'offline', 'WANDB_DIR': str(tmp_path), 'WANDB_SILENT': 'true'})
    assert result.returncode == 0, result.stderr[-2000:]
    runs = [d for d in os.listdir(tmp_path / 'wandb') if d.startswith('offline-run-')]
    assert len(runs) == 1
    files = os.listdir(tmp_path / 'wandb' / runs[0])
    assert any(f.endswith('.wandb') for f in files)  # the run's history, ready for `wandb sync`


def test_random_sampling_draws_batches_in_nanogpt_order(char_data, tmp_path):
    """train.py's random batches and evaluations come from torch's global generator in nanoGPT's order
    (seed, build the model, draw the first batch, evaluate from the same stream, draw the next batch right
    after each forward pass), so nanoGPT's settings and seed give nanoGPT's run. A loop written from that
    description must see the same losses."""
    import math
    from model import GPT, model_config
    out = tmp_path / 'out'
    assert train(char_data, out, '--max_iters=6', '--eval_interval=3', '--lr_decay_iters=6').returncode == 0
    ckpt = torch.load(out / 'ckpt.pt', weights_only=True)
    cfg = ckpt['config']
    data = {s: np.memmap(os.path.join(char_data, f'{s}.bin'), dtype=np.uint16, mode='r') for s in ('train', 'val')}
    block, batch = cfg['block_size'], cfg['batch_size']

    def get_batch(split):
        ix = torch.randint(len(data[split]) - block, (batch,))
        x = torch.stack([torch.from_numpy(data[split][i:i + block].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[split][i + 1:i + 1 + block].astype(np.int64)) for i in ix])
        return x, y

    def lr_at(it):
        if it < cfg['warmup_iters']:
            return cfg['learning_rate'] * (it + 1) / (cfg['warmup_iters'] + 1)
        ratio = (it - cfg['warmup_iters']) / (cfg['lr_decay_iters'] - cfg['warmup_iters'])
        return cfg['min_lr'] + 0.5 * (1 + math.cos(math.pi * ratio)) * (cfg['learning_rate'] - cfg['min_lr'])

    torch.manual_seed(cfg['seed'])
    model = GPT(model_config(ckpt['model_args']))
    opt = model.configure_optimizers(cfg['weight_decay'], cfg['learning_rate'], (cfg['beta1'], cfg['beta2']), 'cpu')
    x, y = get_batch('train')
    expected = []
    for it in range(7):
        for group in opt.param_groups:
            group['lr'] = lr_at(it)
        if it % 3 == 0:
            model.eval()
            with torch.no_grad():
                expected.append([sum(model(*get_batch(s))[1].item() for _ in range(cfg['eval_iters'])) /
                                 cfg['eval_iters'] for s in ('train', 'val')])
            model.train()
        if it == 6:
            break
        loss = model(x, y)[1]
        x, y = get_batch('train')
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg['grad_clip'])
        opt.step()
        opt.zero_grad(set_to_none=True)
    got = [[e['train_loss'], e['val_loss']] for e in evals(out)]
    assert np.allclose(got, expected, atol=1e-4), (got, expected)
    assert expected[0] != expected[1]  # it trained between the evaluations
