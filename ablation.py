"""
The model-evolution ablation (after DrakeGPT): from a bigram table to the full transformer, one option of
the same GPT at a time. Trains every rung in config/ablation_*.py on one dataset with the same budget,
evaluates each over the whole val split (evaluate.py), and writes the comparison table and plots
(evaluate.py --compare).

  python data/shakespeare_char/prepare.py && python ablation.py     # writes assets/ablation.md and .png
  python ablation.py --dataset=lyrics --out_root=out-ablation-lyrics --compare_out=out-ablation-lyrics/ablation
"""
import glob
import os
import subprocess
import sys
import time

# -----------------------------------------------------------------------------
dataset = 'shakespeare_char'  # the dataset every rung trains on (data/<dataset>)
data_dir = ''  # explicit dataset folder (overrides dataset)
out_root = 'out-ablation'  # each rung trains into <out_root>/<rung>
compare_out = 'assets/ablation'  # writes <this>.md (table), <this>.png (loss curves), <this>_metrics.png
rungs = ''  # comma-separated rungs to run, e.g. '1_bigram,6_full' ('' = every config/ablation_*.py)
max_iters = 0  # training steps per rung (0 = the config files' value)
device = 'auto'  # passed to train.py and evaluate.py
dtype = 'float32'  # passed to train.py and evaluate.py (float32: the published ladder's setting)
threads = 1  # CPU threads per run (OMP_NUM_THREADS; 1 is fastest for tiny models on a busy CPU, 0 = torch's choice)
num_samples = 5  # samples per rung scored with the lyric metrics (0 = loss only)
max_new_tokens = 300  # tokens per sample
# -----------------------------------------------------------------------------
from configurator import configure, fail  # noqa: E402

configure(globals())

HERE = os.path.dirname(os.path.abspath(__file__))
configs = {os.path.basename(p)[len('ablation_'):-len('.py')]: p
           for p in sorted(glob.glob(os.path.join(HERE, 'config', 'ablation_*.py')))}
chosen = [r.strip() for r in rungs.split(',') if r.strip()] or list(configs)
unknown = [r for r in chosen if r not in configs]
if unknown:
    fail(f"unknown rung {unknown[0]!r}: choose from {', '.join(configs)}")
data_args = [f'--data_dir={data_dir}'] if data_dir else [f'--dataset={dataset}']
common = [f'--device={device}', f'--dtype={dtype}']
env = dict(os.environ, **({'OMP_NUM_THREADS': str(threads)} if threads > 0 else {}))


def run(cmd):
    print('$ ' + ' '.join(os.path.relpath(c, HERE) if c.startswith(HERE) else c for c in cmd[1:]), flush=True)
    if subprocess.run(cmd, cwd=HERE, env=env).returncode != 0:
        print(f'ablation: stopped, this command failed: {" ".join(cmd[1:])}', file=sys.stderr)
        sys.exit(1)


t_start, seconds, out_dirs = time.time(), {}, []
for name in chosen:
    out = os.path.join(os.path.abspath(out_root), name)
    budget = [f'--max_iters={max_iters}', f'--lr_decay_iters={max_iters}'] if max_iters else []
    t0 = time.time()
    run([sys.executable, os.path.join(HERE, 'train.py'), os.path.join(HERE, 'config', 'ablation.py'), configs[name],
         f'--out_dir={out}', '--init_from=scratch']
        + data_args + common + budget)
    seconds[name] = time.time() - t0
    run([sys.executable, os.path.join(HERE, 'evaluate.py'), f'--out_dir={out}', f'--num_samples={num_samples}',
         f'--max_new_tokens={max_new_tokens}'] + common)
    out_dirs.append(out)
run([sys.executable, os.path.join(HERE, 'evaluate.py'), '--compare', *out_dirs, f'--compare_out={os.path.abspath(compare_out)}',
     '--x_axis=iter'])
print('training time per rung: ' + ', '.join(f'{n} {s:.0f} s' for n, s in seconds.items()))
print(f'ablation done in {time.time() - t_start:.0f} s: {compare_out}.md, {compare_out}.png')
