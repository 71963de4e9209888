import pytest

from conftest import run_script
from configurator import check_minimums, configure

DEFAULTS = dict(learning_rate=6e-4, max_iters=100, compile=True, device='auto', top_k=None, betas=(0.9, 0.95),
                out_dir='out')


def apply(argv, defaults=DEFAULTS):
    namespace = dict(defaults)
    return configure(namespace, argv)


def fails(capsys, argv):
    with pytest.raises(SystemExit) as e:
        apply(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.count('\n') == 1 and err.startswith('error: ')  # one line, no traceback
    return err


def test_overrides_parse_as_literals_or_strings():
    cfg = apply(['--learning_rate=1e-3', '--max_iters=5', '--compile=false', '--device=cuda:1',
                 '--out_dir=out-lyrics', '--betas=(0.8, 0.9)'])
    assert cfg == dict(learning_rate=1e-3, max_iters=5, compile=False, device='cuda:1', top_k=None,
                       betas=(0.8, 0.9), out_dir='out-lyrics')


def test_int_for_float_bools_and_none():
    cfg = apply(['--learning_rate=1', '--compile=True', '--top_k=50'])
    assert cfg['learning_rate'] == 1.0 and isinstance(cfg['learning_rate'], float)
    assert cfg['compile'] is True and cfg['top_k'] == 50
    assert apply(['--top_k=50', '--top_k=None'])['top_k'] is None
    assert apply(['--max_iters=None'])['max_iters'] is None
    assert apply(['--top_k=abc'])['top_k'] == 'abc'  # a None default takes any value


def test_config_file_then_overrides(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text('import math\nmax_iters = 7\nlearning_rate = 1e-2\nout_dir = "out-" + str(max_iters)\n')
    cfg = apply([str(path), '--max_iters=9'])
    assert cfg['max_iters'] == 9 and cfg['learning_rate'] == 1e-2 and cfg['out_dir'] == 'out-7'


def test_unknown_key_suggests(capsys):
    assert "unknown config key 'lr' (did you mean 'learning_rate'?)" in fails(capsys, ['--lr=1e-3'])
    assert "unknown config key 'max_iter' (did you mean 'max_iters'?)" in fails(capsys, ['--max_iter=3'])


def test_wrong_type_names_key_type_and_value(capsys):
    err = fails(capsys, ['--max_iters=1.5'])
    assert "'max_iters'" in err and 'int' in err and '1.5' in err
    err = fails(capsys, ['--compile=yes'])
    assert "'compile'" in err and 'bool' in err and 'yes' in err


def test_bad_arguments(capsys, tmp_path):
    assert 'neither a config file' in fails(capsys, ['nosuchfile.py'])
    assert 'has no value' in fails(capsys, ['--max_iters'])
    assert 'use --key=value' in fails(capsys, ['max_iters=3'])
    bad = tmp_path / 'bad.py'
    bad.write_text('lr = 3\n')
    assert "unknown config key 'lr'" in fails(capsys, [str(bad)])
    wrong = tmp_path / 'wrong.py'
    wrong.write_text('compile = "yes"\n')
    assert 'expects bool' in fails(capsys, [str(wrong)])


def test_train_help_lists_every_key_with_comment():
    result = run_script('train.py', '--help')
    assert result.returncode == 0
    for key in ['out_dir', 'eval_interval', 'log_interval', 'eval_iters', 'eval_only', 'always_save_checkpoint',
                'init_from', 'wandb_log', 'wandb_project', 'wandb_run_name', 'dataset',
                'gradient_accumulation_steps', 'batch_size', 'block_size', 'n_layer', 'n_head', 'n_embd',
                'dropout', 'bias', 'learning_rate', 'max_iters', 'weight_decay', 'beta1', 'beta2', 'grad_clip',
                'decay_lr', 'warmup_iters', 'lr_decay_iters', 'min_lr', 'backend', 'device', 'dtype', 'compile']:
        assert f'--{key}' in result.stdout
    assert 'peak learning rate' in result.stdout  # the comment beside the key


def test_train_rejects_unknown_key_without_traceback():
    result = run_script('train.py', '--lr=1e-3')
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown config key 'lr' (did you mean 'learning_rate'?)"


def test_check_minimums_names_the_first_value_below_its_floor(capsys):
    check_minimums(dict(steps=1, warmup=0), dict(steps=1, warmup=0))  # at the floor: fine
    for settings, message in [(dict(steps=0, warmup=-1), 'error: steps must be at least 1, not 0\n'),
                              (dict(steps=3, warmup=-1), 'error: warmup must be 0 or more, not -1\n'),
                              (dict(steps=None, warmup=0), 'error: steps must be at least 1, not None\n')]:
        with pytest.raises(SystemExit) as info:
            check_minimums(settings, dict(steps=1, warmup=0))
        assert info.value.code == 2 and capsys.readouterr().err == message
