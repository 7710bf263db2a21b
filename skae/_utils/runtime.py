"""Where and how torch runs: device choice, thread count, private generators.

No scikit-learn or skorch here; errors are plain ``ValueError`` so the
estimators can re-raise them as they see fit.
"""

import os
from contextlib import contextmanager
from functools import cache

import numpy as np
import torch

# Below this many multiply-adds per training step, thread start-up costs more
# than it saves: on 2 cores a 64-128-8 autoencoder with batches of 64 trains
# ~1.4x faster on one thread than on two (see benchmarks/bench_autoencoder.py).
SMALL_STEP_FLOPS = 2**24
#: The most torch threads an ``n_threads`` may ask for.
MAX_THREADS = 1024


def mps_available():
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def resolve_device(device):
    """Turn ``"auto"``, a device string or a ``torch.device`` into a ``torch.device``.

    ``"auto"`` picks CUDA, then Apple's MPS, then the CPU. Asking for an
    accelerator that is not there is an error rather than a silent fallback,
    so that a user never believes a model trained on the GPU when it did not.
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device. Use 'auto', 'cpu', "
            "'cuda', 'cuda:<index>' or 'mps'."
        ) from exc
    if resolved.type == "meta":
        raise ValueError(
            "device='meta' holds tensor shapes but no data: a model can neither "
            "train nor compute there. Use 'auto', 'cpu', 'cuda' or 'mps'."
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch.cuda.is_available() is "
            "False (no CUDA GPU, or a CPU-only torch build). Use device='auto' "
            "to fall back to the CPU."
        )
    if resolved.type == "mps" and not mps_available():
        raise ValueError(
            f"device={device!r} was requested but torch.backends.mps.is_available() "
            "is False. Use device='auto' to fall back to the CPU."
        )
    return resolved


@cache
def fused_adam_supported(device_type):
    """Whether ``torch.optim.Adam(fused=True)`` runs on this kind of device.

    The fused kernel does the whole update in one pass; on small CPU models it
    cuts the optimiser's share of a step by more than half. Older torch
    releases only have it on CUDA.
    """
    try:
        param = torch.zeros(1, device=device_type, requires_grad=True)
        param.grad = torch.zeros_like(param)
        torch.optim.Adam([param], fused=True).step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def threads_for(n_threads, step_flops):
    """The torch thread count to train with, or None to leave torch's setting."""
    if n_threads == "auto":
        return 1 if step_flops < SMALL_STEP_FLOPS else None
    return n_threads


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` intra-op threads, then restore the old count."""
    if n_threads is None or n_threads == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    # int(): scikit-learn's validation lets numpy integers and bools through
    # as integers; torch takes a plain int only.
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def torch_threads_kept():
    """Put torch's thread count back after the block, if the block changed it.

    For code that shares OpenMP with torch: pynndescent's numba code leaves
    torch at numba's thread count (2 after ``torch.set_num_threads(1)`` on 2
    cores), and the epochs would then run on threads the user did not give.
    """
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def uses_onednn(module):
    """Whether training ``module`` on the CPU should go through oneDNN.

    Only convolutions gain from it. In the fully connected networks oneDNN
    runs the activations (the matrix products go to BLAS either way), and
    on small batches its set-up per call costs more than ATen's own kernels
    take (see the devices guide).
    """
    return any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in module.modules())


@contextmanager
def onednn(enabled):
    """Run the block with oneDNN (``torch.backends.mkldnn``) on or off, then restore."""
    previous = torch.backends.mkldnn.enabled
    if enabled == previous:
        yield
        return
    torch.backends.mkldnn.enabled = enabled
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def make_generator(seed, device="cpu"):
    """A private ``torch.Generator`` seeded with ``seed`` on ``device``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def as_tensor(array):
    """Zero-copy view of a numpy array as a tensor, copying read-only arrays.

    torch warns on (and must not write through) read-only buffers such as
    memory maps opened in mode ``"r"``.
    """
    if isinstance(array, torch.Tensor):
        return array
    if not array.flags.writeable:
        array = np.array(array)
    return torch.from_numpy(np.ascontiguousarray(array))


def available_memory():
    """Bytes of memory available to a new allocation, or None if unknown.

    Linux's MemAvailable (free memory plus what the page cache would give
    back), else the free physical pages.
    """
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None
