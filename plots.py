"""
Loss-curve plots from log.jsonl files (train.py's loss.png, evaluate.py --compare) and bar charts of
sample metrics (evaluate.py --compare). Needs matplotlib.
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


def plot_loss_curves(runs, out_png, x_key='iter', title=''):
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
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(runs) > 3:  # many curves: the legend goes beside the plot, not over it
        fig.set_size_inches(9.5, 4.5)
        ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8)
    _save(fig, plt, out_png)


def plot_metrics(rows, out_png, title=''):
    """rows: {label: {metric: value}}. One group of bars per metric, one bar per label (a label starting
    with 'human' is drawn hatched grey: the real-text reference), saved atomically as out_png."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plots need matplotlib: pip install matplotlib')
    metrics = list(dict.fromkeys(m for values in rows.values() for m in values))
    width = 0.8 / max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(metrics)), 4.5))
    for i, (label, values) in enumerate(rows.items()):
        xs = [j - 0.4 + width * (i + 0.5) for j, m in enumerate(metrics) if m in values]
        ys = [values[m] for m in metrics if m in values]
        human = label.startswith('human')
        ax.bar(xs, ys, width, label=label, color='0.75' if human else f'C{i % 10}',
               hatch='//' if human else None, edgecolor='0.4' if human else None)
    ax.set_xticks(range(len(metrics)))
    ax.set_xticklabels(metrics, rotation=20, ha='right', fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis='y')
    ax.legend(fontsize=8)
    _save(fig, plt, out_png)


def _save(fig, plt, out_png):
    fig.tight_layout()
    tmp = out_png + '.tmp.png'
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, out_png)
