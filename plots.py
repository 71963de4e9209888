"""
Loss-curve plots from log.jsonl files (train.py's loss.png, evaluate.py --compare). Needs matplotlib.
"""
import json
import os


def read_log(path):
    """The entries of a log.jsonl, skipping a line cut short by a crash."""
    entries = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return entries


def plot_loss_curves(runs, out_png, x_key='iter'):
    """runs: {label: path to log.jsonl}. Val loss (solid) and train loss (dashed) per run, against
    x_key ('iter', 'tokens' or 'time'), saved atomically as out_png."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plots need matplotlib: pip install matplotlib')
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (label, path) in enumerate(runs.items()):
        evals = [e for e in read_log(path) if 'val_loss' in e and x_key in e]
        if not evals:
            continue
        xs = [e[x_key] for e in evals]
        color = f'C{i % 10}'
        ax.plot(xs, [e['val_loss'] for e in evals], color=color, label=f'{label} val')
        ax.plot(xs, [e['train_loss'] for e in evals], color=color, linestyle='--', alpha=0.6, label=f'{label} train')
    ax.set_xlabel({'iter': 'iteration', 'tokens': 'tokens seen', 'time': 'wall time (s)'}.get(x_key, x_key))
    ax.set_ylabel('loss')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = out_png + '.tmp.png'
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, out_png)
