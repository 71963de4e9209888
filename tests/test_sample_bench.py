import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY_MODEL, run_script

TINY_SHAPE = ['--n_layer=2', '--n_head=2', '--n_embd=32', '--block_size=32', '--vocab_size=64', '--batch_size=2',
              '--device=cpu', '--dtype=float32']


@pytest.fixture(scope='module')
def trained(char_data, tmp_path_factory):
    out = tmp_path_factory.mktemp('run')
    result = run_script('train.py', f'--data_dir={char_data}', f'--out_dir={out}', *TINY_MODEL, '--max_iters=40',
                        '--eval_interval=20')
    assert result.returncode == 0, result.stderr
    return out


def test_sample_writes_samples_and_stops_at_end_of_text(trained, tmp_path):
    out_file = tmp_path / 'samples.txt'
    result = run_script('sample.py', f'--out_dir={trained}', '--start=night', '--num_samples=2',
                        '--max_new_tokens=60', '--device=cpu', f'--out_file={out_file}', '--top_p=0.9')
    assert result.returncode == 0, result.stderr
    samples = result.stdout.split('\n---------------\n')
    assert len(samples) == 2 and all(s.startswith('night') for s in samples)
    assert '<|endoftext|>' not in result.stdout  # a sample ends at its end-of-text token
    assert out_file.read_text() == result.stdout


def test_sample_is_reproducible_and_cache_does_not_change_it(trained):
    args = [f'--out_dir={trained}', '--start=the', '--num_samples=2', '--max_new_tokens=50', '--device=cpu',
            '--seed=7', '--dtype=float32']
    a = run_script('sample.py', *args)
    b = run_script('sample.py', *args, '--use_cache=False')
    assert a.returncode == 0 and a.stdout == b.stdout
    c = run_script('sample.py', *args[:-2], '--seed=8', '--dtype=float32')
    assert c.stdout != a.stdout


def test_sample_prompt_from_file_and_errors(trained, tmp_path):
    prompt = tmp_path / 'prompt.txt'
    prompt.write_text('you run\n')
    result = run_script('sample.py', f'--out_dir={trained}', f'--start=FILE:{prompt}', '--num_samples=1',
                        '--max_new_tokens=5', '--device=cpu')
    assert result.returncode == 0 and result.stdout.startswith('you run\n')
    missing = run_script('sample.py', f'--out_dir={tmp_path}/nothing', '--device=cpu')
    assert missing.returncode == 2 and 'train a model first' in missing.stderr and 'Traceback' not in missing.stderr
    bad_char = run_script('sample.py', f'--out_dir={trained}', '--start=ZZZ@', '--device=cpu')
    assert bad_char.returncode == 2 and 'cannot encode the prompt' in bad_char.stderr
    for setting, message in [('--top_p=0', 'top_p must be above 0 and at most 1'),
                             ('--num_samples=0', 'num_samples must be at least 1, not 0'),
                             ('--device=cuda:99' if torch.cuda.is_available() else '--device=cuda', "device 'cuda"),
                             (f'--out_file={tmp_path}/no/s.txt', f'cannot write {tmp_path}/no/s.txt: its folder does not exist')]:
        bad = run_script('sample.py', f'--out_dir={trained}', '--device=cpu', setting)
        assert bad.returncode == 2 and bad.stderr.startswith(f'error: {message}'), bad.stderr
        assert bad.stderr.count('\n') == 1 and bad.stdout == ''


def test_bench_train_and_generate_print_tables():
    result = run_script('bench.py', *TINY_SHAPE, '--steps=3', '--warmup_steps=1')
    assert result.returncode == 0, result.stderr
    bad = run_script('bench.py', *TINY_SHAPE, '--n_head=3')
    assert bad.returncode == 2 and bad.stderr == 'error: n_embd (32) must be divisible by n_head (3)\n'
    assert '| ms / iter' in result.stdout and '| MFU' in result.stdout and '| tokens / s' in result.stdout
    result = run_script('bench.py', '--mode=generate', *TINY_SHAPE, '--prompt_tokens=8', '--new_tokens=40',
                        '--steps=10')
    assert result.returncode == 0, result.stderr
    assert 'with KV cache' in result.stdout and 'without KV cache' in result.stdout


def test_bench_profile_writes_trace(tmp_path):
    result = run_script('bench.py', *TINY_SHAPE, '--steps=2', '--warmup_steps=1', '--profile=True', cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'bench_trace.json').stat().st_size > 1000


@pytest.mark.slow
def test_bench_time_to_loss(char_data, tmp_path):
    config = tmp_path / 'cfg.py'
    config.write_text(f'data_dir = {char_data!r}\nmax_iters = 200\neval_interval = 20\n')
    result = run_script('bench.py', '--mode=time_to_loss', f'--train_config={config}', '--target=2.6',
                        f'--train_args={" ".join(TINY_MODEL)}')
    assert result.returncode == 0, result.stderr
    assert '| reached at iter' in result.stdout and 'not reached' not in result.stdout
    log = [line for line in result.stdout.splitlines() if line.startswith('| log')][0].split('|')[2].strip()
    assert os.path.exists(log)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='mallopt is a glibc (Linux) setting')
def test_keep_freed_memory_stops_page_faults_on_reused_buffers():
    """A step's big buffers are freed and allocated again every step: with glibc's defaults each one is
    unmapped and faulted back in; after system.keep_freed_memory() the freed memory is reused."""
    code = '''
import resource, torch, system
assert system.keep_freed_memory()
def step():  # ten 12 MiB activations alive together, then all freed, as in a training step
    buffers = [torch.ones(3 << 20) for _ in range(10)]
    del buffers
step()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
'''
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr
    # 10 steps x 10 buffers x 3,072 pages: with glibc's defaults usually ~30,000 faults (how many depends on
    # where the heap landed); tuned, at most a buffer or two is ever faulted in again
    assert int(result.stdout) <= 2 * 3072


def test_pick_device_refuses_devices_this_machine_cannot_run(monkeypatch):
    from system import pick_device
    assert pick_device('cpu') == 'cpu'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: False)
    assert pick_device('auto') == 'cpu'
    for device, message in [('cuda', "device 'cuda': no CUDA GPU is usable here"),
                            ('cuda:1', "device 'cuda:1': no CUDA GPU is usable here"),
                            ('mps', "device 'mps': Apple's MPS is not available here"),
                            ('tpu', "unknown device 'tpu'"), ('xla', "device 'xla' is not supported")]:
        with pytest.raises(ValueError) as info:
            pick_device(device)
        assert str(info.value).startswith(message)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert pick_device('cuda:1') == 'cuda:1'
    with pytest.raises(ValueError, match='this machine has 2 CUDA GPU'):
        pick_device('cuda:2')
