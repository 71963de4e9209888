"""
Which training windows a batch takes, for train.py's two sampling modes. Kept apart from train.py so the
rules can be tested directly.
"""
import numpy as np
import torch


def random_starts(n_tokens, block_size, batch_size):
    """nanoGPT's way: batch_size window starts drawn uniformly (with replacement) from every valid offset,
    with the same call on torch's global generator, so a run with nanoGPT's seed and settings sees the
    same batches as nanoGPT (and reaches the same loss: BENCHMARKS.md)."""
    return torch.randint(n_tokens - block_size, (batch_size,)).numpy()


def epoch_windows(n_tokens, block_size, seed, epoch, rank=0, world_size=1):
    """One epoch's window starts for one rank: the split cut into non-overlapping windows, shuffled with a
    seed fixed per epoch (so a resumed run sees the same order), and dealt round-robin across ranks so
    every window is used exactly once per epoch by exactly one rank."""
    n_windows = (n_tokens - 1) // block_size
    order = np.random.default_rng([seed, epoch]).permutation(n_windows)
    return order[rank::world_size] * block_size


def next_epoch_starts(state, batch_size, n_tokens, block_size, seed, rank=0, world_size=1):
    """batch_size starts from the epoch order, continuing at state = {'epoch', 'pos'} (updated in place;
    it is what a checkpoint stores to resume mid-epoch)."""
    starts = []
    while len(starts) < batch_size:
        windows = epoch_windows(n_tokens, block_size, seed, state['epoch'], rank, world_size)
        take = windows[state['pos']:state['pos'] + batch_size - len(starts)]
        starts.extend(take.tolist())
        state['pos'] += len(take)
        if state['pos'] >= len(windows):
            state['epoch'], state['pos'] = state['epoch'] + 1, 0
    return np.array(starts)
