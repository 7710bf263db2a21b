"""Scaling out, measured in one run: parallel grid search and out-of-core training.

Prints:

1. wall time of the same ``GridSearchCV`` (4 candidates x 3 folds = 12 fits,
   ``refit=False``) on ``load_digits`` scaled to [0, 1], run serially
   (``n_jobs=1``), on two joblib/loky workers (``n_jobs=2``) and on a dask
   ``LocalCluster`` of two single-threaded worker processes through joblib's
   dask backend; the speed-ups over the serial run (target >= 1.6x on 2
   cores) and whether all three gave bit-identical scores. The worker pools
   are started and have imported skae before the clock starts; their
   start-up time is printed separately. Each time is the best of
   ``--repeats`` runs, the backends taking turns.
2. throughput (rows/s) and peak resident memory of training on a
   ``--memmap-rows`` x 64 float32 ``.npy`` file one chunk at a time, by
   running ``examples/train_on_memmap.py`` in a fresh process.

Every fit runs exactly ``--epochs`` epochs (the stopping rule is switched
off) so that all runs do the same work. Timings on a machine shared with
other jobs are noisy; the load average at the start is printed with them.

Run: ``python benchmarks/bench_scale.py [--repeats 2] [--epochs 60]
[--memmap-rows 2000000]``. Needs the ``distributed`` extra for the dask part.
"""

import argparse
import os
import subprocess
import sys
import time
import warnings
from contextlib import ExitStack
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import MinMaxScaler

from skae import AutoEncoder

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_on_memmap.py"
GRID = {"n_components": [4, 8], "hidden_layer_sizes": [(64,), (128,)]}
CV = 3


def make_search(epochs, n_jobs):
    ae = AutoEncoder(
        batch_size=64, max_iter=epochs, n_iter_no_change=epochs, random_state=0
    )
    return GridSearchCV(ae, GRID, cv=CV, n_jobs=n_jobs, refit=False)


def timed_search(X, epochs, n_jobs):
    search = make_search(epochs, n_jobs)
    start = time.perf_counter()
    search.fit(X)
    return time.perf_counter() - start, search.cv_results_


def _import_skae():
    import skae  # noqa: F401

    return os.getpid()


def same_scores(a, b):
    keys = [f"split{i}_test_score" for i in range(CV)]
    return all(np.array_equal(a[key], b[key]) for key in keys)


def grid_search_times(X, epochs, repeats):
    n_fits = len(GRID["n_components"]) * len(GRID["hidden_layer_sizes"]) * CV
    print(
        f"GridSearchCV, {n_fits} fits of {epochs} epochs on {X.shape}, "
        f"best of {repeats}:"
    )
    backends = {"n_jobs=1": 1, "n_jobs=2": 2}
    start = time.perf_counter()
    joblib.Parallel(n_jobs=2)(joblib.delayed(_import_skae)() for _ in range(4))
    startup = {"n_jobs=2": time.perf_counter() - start}

    with ExitStack() as stack:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            print("  (dask part skipped: pip install 'skae[distributed]')")
        else:
            start = time.perf_counter()
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            )
            stack.enter_context(Client(cluster)).run(_import_skae)
            startup["dask"] = time.perf_counter() - start
            backends["dask LocalCluster(2)"] = "dask"

        # The backends take turns within each repeat, so that a burst of load
        # from other jobs on the machine does not fall on one of them only.
        times = dict.fromkeys(backends, np.inf)
        results = {}
        for _ in range(repeats):
            for name, n_jobs in backends.items():
                with ExitStack() as backend:
                    if n_jobs == "dask":
                        backend.enter_context(joblib.parallel_backend("dask"))
                        n_jobs = -1
                    seconds, results[name] = timed_search(X, epochs, n_jobs)
                times[name] = min(times[name], seconds)

    serial = times["n_jobs=1"]
    # "mean fit s" is the time of one fit inside its worker: when it grows
    # with the number of workers, the workers are fighting over the cores.
    print(
        f"  {'backend':<22}{'wall s':>8}{'speed-up':>10}{'mean fit s':>12}"
        "  same scores as n_jobs=1"
    )
    for name, seconds in times.items():
        same = same_scores(results[name], results["n_jobs=1"])
        fit = np.mean(results[name]["mean_fit_time"])
        print(f"  {name:<22}{seconds:8.2f}{serial / seconds:9.2f}x{fit:12.2f}  {same}")
    print(
        "  worker start-up (not in the times above): "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in startup.items())
    )


def memmap_throughput(rows):
    print(f"Out-of-core training ({EXAMPLE.name} --rows {rows}):")
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE), "--rows", str(rows)],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in completed.stdout.strip().splitlines():
        print(f"  {line}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--memmap-rows", type=int, default=2_000_000)
    args = parser.parse_args()

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average at start {load}")
    X = MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)
    grid_search_times(X, args.epochs, args.repeats)
    memmap_throughput(args.memmap_rows)


if __name__ == "__main__":
    main()
