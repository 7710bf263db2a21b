"""What a failed call's safety net costs a warm start: snapshot time vs one epoch.

``partial_fit`` and ``fit(warm_start=True)`` set the network's state aside
before training (``skae._base.transaction``), so that a call that fails leaves the
estimator as it was. This script measures, in one run and interleaved, the
time to set that state aside (weights, Adam moments, generators, history)
and the time of the ``partial_fit`` epoch it protects, and prints their
ratio with its spread. A fresh ``fit`` sets no network state aside.

Usage::

    python benchmarks/bench_transaction.py [--rows 2000] [--features 784]
        [--hidden 256] [--repeats 7]
"""

import argparse
import time
import warnings

import numpy as np

import skae
from skae._base.transaction import _net_state


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.random((args.rows, args.features)).astype(np.float32)
    ae = skae.AutoEncoder(
        n_components=32, hidden_layer_sizes=(args.hidden,), max_iter=1, random_state=0
    ).fit(X)
    n_weights = sum(p.numel() for p in ae.net_.module_.parameters())

    ratios, snapshots, epochs = [], [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        _net_state(ae.net_)
        snapshot = time.perf_counter() - start
        start = time.perf_counter()
        ae.partial_fit(X)  # includes its own snapshot
        epoch = time.perf_counter() - start
        snapshots.append(snapshot)
        epochs.append(epoch)
        ratios.append(snapshot / epoch)

    def spread(values, scale=1.0, unit=""):
        q1, median, q3 = np.percentile(values, [25, 50, 75]) * scale
        return f"median {median:.3g}{unit} (IQR {q1:.3g}-{q3:.3g})"

    print(
        f"AutoEncoder {args.features}-{args.hidden}-32, {n_weights} weights, "
        f"{args.rows} rows, {args.repeats} repeats"
    )
    print(f"snapshot before a warm start: {spread(snapshots, 1e3, ' ms')}")
    print(f"partial_fit (one epoch):      {spread(epochs, 1e3, ' ms')}")
    print(f"snapshot / epoch:             {spread(ratios, 100, ' %')}")


if __name__ == "__main__":
    main()
