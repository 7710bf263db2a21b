"""GPU vs CPU: time per training epoch and transform throughput, in one run.

Prints, for ``AutoEncoder(n_components=32, hidden_layer_sizes=(512, 256),
batch_size=--batch-size)`` on ``--rows`` x 784 synthetic float32 rows (a
low-rank signal plus noise, the shape of MNIST-sized images):

- seconds per training epoch on ``device="cpu"`` and on ``device="cuda"``
  (each the best of ``--epochs`` epochs of one fit, so that CUDA's start-up
  is not counted), and their ratio;
- rows per second of ``transform`` on each device.

The CPU run uses ``--cpu-rows`` rows (fewer by default: an epoch of 500,000
rows takes minutes on 2 cores); times per epoch are scaled to ``--rows`` so
that the two are comparable. Without a CUDA device it prints the CPU numbers
and says that the GPU column could not be measured.

Run: ``python benchmarks/bench_gpu.py [--rows 500000] [--cpu-rows 50000]``.
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skae import AutoEncoder

N_FEATURES = 784


def make_data(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n_rows, 16)).astype(np.float32)
    loadings = rng.normal(size=(16, N_FEATURES)).astype(np.float32) / 4
    noise = rng.normal(scale=0.1, size=(n_rows, N_FEATURES)).astype(np.float32)
    return factors @ loadings + noise


def measure(device, X, epochs, batch_size):
    """Best seconds per epoch of one fit, and transform rows per second."""
    model = AutoEncoder(
        n_components=32,
        hidden_layer_sizes=(512, 256),
        batch_size=batch_size,
        max_iter=1,
        device=device,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)  # first epoch: builds the net, warms up the device
        seconds = []
        model.set_params(warm_start=True)
        for _ in range(epochs):
            start = time.perf_counter()
            model.fit(X)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.transform(X)
    rows_per_s = len(X) / (time.perf_counter() - start)
    return min(seconds), rows_per_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--cpu-rows", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    args = parser.parse_args()

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"cuda: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}"
    )
    X_cpu = make_data(args.cpu_rows)
    cpu_epoch, cpu_rows_s = measure("cpu", X_cpu, args.epochs, args.batch_size)
    cpu_epoch *= args.rows / args.cpu_rows
    print(f"{'device':<8} {'s/epoch':>10} {'transform rows/s':>18}")
    scaled = f"(scaled from {args.cpu_rows:,} rows)"
    print(f"{'cpu':<8} {cpu_epoch:>10.2f} {cpu_rows_s:>18,.0f}  {scaled}")
    if not torch.cuda.is_available():
        print("cuda     not measured: no CUDA device on this machine")
        return
    X = make_data(args.rows)
    gpu_epoch, gpu_rows_s = measure("cuda", X, args.epochs, args.batch_size)
    print(f"{'cuda':<8} {gpu_epoch:>10.2f} {gpu_rows_s:>18,.0f}")
    print(
        f"speed-up of cuda over cpu: {cpu_epoch / gpu_epoch:.1f}x per epoch, "
        f"{gpu_rows_s / cpu_rows_s:.1f}x transform"
    )


if __name__ == "__main__":
    main()
