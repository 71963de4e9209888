"""
Device, precision and hardware facts shared by train.py, sample.py, bench.py and evaluate.py.
"""
import ctypes
import sys
import time
from contextlib import nullcontext

import torch

DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}

# Dense peak FLOP/s (no sparsity) for bf16/fp16 tensor cores, from the vendors' data sheets.
GPU_PEAK_FLOPS = {
    'H200': 989e12, 'H100 NVL': 835e12, 'H100 PCIe': 756e12, 'H100': 989e12, 'A100': 312e12,
    'A10G': 125e12, 'A10': 125e12, 'L4': 121e12, 'L40S': 362e12, 'V100': 125e12, 'T4': 65e12,
    'RTX 4090': 165e12, 'RTX 3090': 71e12, 'RTX A6000': 155e12,
}


def pick_device(device='auto'):
    """'auto' picks cuda, then mps, then cpu; anything else is checked (ValueError when this machine or
    this PyTorch build cannot run it) and used as given."""
    if device != 'auto':
        try:
            kind = torch.device(device)
        except RuntimeError:
            raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from None
        if kind.type == 'cuda' and not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: no CUDA GPU is usable here (this PyTorch build has "
                             f"{'CUDA ' + torch.version.cuda if torch.version.cuda else 'no CUDA'}): use --device=cpu")
        if kind.type == 'cuda' and kind.index is not None and kind.index >= torch.cuda.device_count():
            raise ValueError(f'device {device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)')
        if kind.type == 'mps' and not mps_available():
            raise ValueError(f"device {device!r}: Apple's MPS is not available here: use --device=cpu")
        if kind.type not in ('cpu', 'cuda', 'mps'):
            raise ValueError(f"device {device!r} is not supported: use auto, cpu, cuda, cuda:N or mps")
        return device
    if torch.cuda.is_available():
        return 'cuda'
    if mps_available():
        return 'mps'
    return 'cpu'


def mps_available():
    return getattr(torch.backends, 'mps', None) is not None and torch.backends.mps.is_available()


def pick_dtype(device, dtype='auto'):
    """'auto': bfloat16 where it is fast (CUDA with bf16, a CPU with AMX tiles), float16 on older CUDA
    GPUs (train.py adds a GradScaler), else float32."""
    if dtype != 'auto':
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, not {dtype!r}")
        return dtype
    kind = device_type(device)
    if kind == 'cuda':
        return 'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'
    if kind == 'cpu' and cpu_has_amx():
        return 'bfloat16'
    return 'float32'


def cpu_has_amx():
    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except AttributeError:  # older torch
        return False


def device_type(device):
    return 'cuda' if 'cuda' in device else ('mps' if 'mps' in device else 'cpu')


def keep_freed_memory():
    """Stop glibc from handing large freed blocks back to the kernel after every step. By default a tensor
    over a few MB is mmap-ed when allocated and unmapped when freed, so each training step pays ~50k page
    faults re-zeroing the same memory (the 10.7M model's CPU step: 450 -> 397 ms). Blocks up to 32 MiB
    (glibc's ceiling) now come from the heap, and up to 1 GiB of freed heap is kept for reuse. Linux with
    glibc only; returns whether it took effect."""
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL('libc.so.6')
        m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
        return bool(libc.mallopt(m_trim_threshold, 1 << 30)) and bool(libc.mallopt(m_mmap_threshold, 32 << 20))
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False


def autocast(device, dtype):
    """Mixed precision for the forward pass; a no-op in float32."""
    if dtype == 'float32':
        return nullcontext()
    return torch.autocast(device_type=device_type(device), dtype=DTYPES[dtype])


def peak_flops(device, dtype):
    """The device's peak FLOP/s for MFU: a table for known GPUs, a measured matmul rate on CPUs."""
    if device_type(device) == 'cuda':
        name = torch.cuda.get_device_name(device)
        for key, flops in GPU_PEAK_FLOPS.items():  # most specific names come first
            if key in name:
                return flops if dtype != 'float32' else flops / 2  # TF32 is about half
        return None
    if device_type(device) == 'cpu':
        return measured_matmul_flops(DTYPES[dtype])
    return None


def measured_matmul_flops(dtype=torch.float32, n=2048, repeats=5):
    """The CPU's matmul FLOP/s at this precision: the best of a few large square products."""
    g = torch.Generator().manual_seed(0)  # its own generator: leaves the global RNG stream untouched
    a, b = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
    a @ b  # warm up
    best = float('inf')
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best
