"""Cost of the progress bar: a 100-epoch digits fit with and without it.

Prints, in one run, the wall time of ``AutoEncoder(max_iter=100,
n_iter_no_change=100, random_state=0).fit`` on load_digits scaled to [0, 1]
(all 100 epochs run) with ``verbose=0`` and with ``verbose=1``, the bar
forced on with ``SKAE_PROGRESS_BAR=1`` and drawn on stderr (run it in a
terminal to see the bar, or redirect stderr). Fits alternate between the
two settings, ``--repeats`` times each, so that a slow phase of the machine
hits both; the ratio of the medians is printed with the range of the
per-pair ratios. Target: the bar costs at most 3%.

Run: ``python benchmarks/bench_progress.py [--repeats 5]``.
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from skae import AutoEncoder


def fit_time(X, verbose):
    ae = AutoEncoder(
        max_iter=100, n_iter_no_change=100, verbose=verbose, random_state=0
    )
    start = time.perf_counter()
    ae.fit(X)
    elapsed = time.perf_counter() - start
    assert ae.n_iter_ == 100
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    os.environ["SKAE_PROGRESS_BAR"] = "1"
    X = MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)
    fit_time(X, 0)  # warm-up
    plain, bar = [], []
    for _ in range(args.repeats):
        plain.append(fit_time(X, 0))
        bar.append(fit_time(X, 1))
    ratios = np.array(bar) / np.array(plain)
    print(f"100-epoch digits fit, median of {args.repeats} (fastest-slowest):")
    for name, times in (("verbose=0", plain), ("verbose=1 (bar)", bar)):
        spread = f"({min(times):.3f}-{max(times):.3f})"
        print(f"  {name:<16}{np.median(times):7.3f} s {spread}")
    print(
        f"  bar / no bar: {np.median(bar) / np.median(plain):.3f} "
        f"(pairs {ratios.min():.3f}-{ratios.max():.3f}); target <= 1.03"
    )


if __name__ == "__main__":
    main()
