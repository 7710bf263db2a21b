"""bench_sizes.py's section 7: UMAPAutoEncoder on MNIST-sized data against umap-learn.

Both fit the same 60,000 MNIST-like rows (``--quick``: 6,000) with their
defaults, each after a warm-up fit on 5,000 rows that compiles numba's
code (pynndescent's, which both use for the neighbour search, and
umap-learn's). They take turns, ``repeats`` times; the ratio of the fit
times is given as the median and the range. The codes are judged on 5,000
held-out rows: a 5-nearest-neighbour classifier fitted on the training
rows' 2-D codes predicts the held-out rows' digits from theirs
(``transform`` for both). Without a ``random_state`` both search for
neighbours on every core; skae with ``random_state=0`` (one thread for the
search) is timed too.

Run alone through bench_sizes.py, or: ``python benchmarks/sizes_umap.py
[--quick] [--repeats 2]``.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from skae import UMAPAutoEncoder

HELD_OUT = 5000


def held_out_accuracy(train_codes, y_train, test_codes, y_test):
    classifier = KNeighborsClassifier(5).fit(train_codes, y_train)
    return classifier.score(test_codes, y_test)


def section_umap(mnist_like_labelled, n_rows, repeats):
    """Print the fit time and held-out 5-NN accuracy of both, side by side."""
    print(
        f"7. UMAPAutoEncoder() against umap-learn's UMAP() on {n_rows:,} x 784 "
        f"MNIST-like rows, defaults, after a warm-up fit each; 5-NN accuracy "
        f"of the 2-D codes on {HELD_OUT:,} held-out rows"
    )
    try:
        from umap import UMAP
    except ImportError:
        print("   umap-learn is not installed (pip install 'skae[umap]'): skipped")
        return
    X, y = mnist_like_labelled(n_rows + HELD_OUT, seed=1)
    X_train, y_train, X_test, y_test = X[:n_rows], y[:n_rows], X[n_rows:], y[n_rows:]
    # Defaults against defaults: without a random_state both search for
    # neighbours on every core. Seeded, both search on one thread (and
    # umap-learn's SGD runs on one): the seeded skae fit is shown for what
    # reproducibility costs.
    contenders = {
        "umap-learn UMAP()": lambda: UMAP(),
        "skae UMAPAutoEncoder()": lambda: UMAPAutoEncoder(),
        "skae, random_state=0": lambda: UMAPAutoEncoder(random_state=0),
    }
    times = {name: [] for name in contenders}
    accuracy = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for make in contenders.values():
            make().fit(X_train[:5000])
        for _ in range(repeats):
            for name, make in contenders.items():
                start = time.perf_counter()
                model = make().fit(X_train)
                times[name].append(time.perf_counter() - start)
                accuracy[name] = held_out_accuracy(
                    model.transform(X_train), y_train, model.transform(X_test), y_test
                )
    for name in contenders:
        print(
            f"   {name:24s} fit {np.median(times[name]):6.1f} s "
            f"(range {min(times[name]):.1f}-{max(times[name]):.1f}), held-out "
            f"5-NN accuracy {accuracy[name]:.3f}"
        )
    ratios = np.divide(times["skae UMAPAutoEncoder()"], times["umap-learn UMAP()"])
    seeded = np.divide(times["skae, random_state=0"], times["umap-learn UMAP()"])
    print(
        f"   skae / umap-learn fit time {np.median(ratios):.2f}x (range "
        f"{ratios.min():.2f}-{ratios.max():.2f}; target <= 1.0x) "
        f"[{'ok' if np.median(ratios) <= 1.0 else 'MISSED'}]; seeded skae "
        f"{np.median(seeded):.2f}x ({seeded.min():.2f}-{seeded.max():.2f})"
    )


if __name__ == "__main__":
    from bench_sizes import mnist_like_labelled

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    section_umap(mnist_like_labelled, 6000 if args.quick else 60_000, args.repeats)
