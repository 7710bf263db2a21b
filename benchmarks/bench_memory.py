"""Peak memory of inference on 1,000,000 x 64 float32 rows vs the output size.

``transform``, ``inverse_transform``, ``score_samples``, the VAE's
``sample`` (which also draws its codes a batch at a time) and the VAE's
``score_samples`` (the ELBO) run the network on
``skae._base.inference.INFERENCE_BATCH_SIZE`` rows at a time and write into a
preallocated output, so the memory they need beyond
their output should stay at a few batches' worth whatever the number of
rows. Each measurement runs in a fresh process: fit a small model, build the
input, warm up on a few rows, reset the kernel's peak-RSS counter
(``/proc/self/clear_refs``), run the call on all rows and read the peak back
(``VmHWM``). Where the counter cannot be reset, a thread samples the RSS every
millisecond instead.

The "unbatched" rows run the same call with the batch size set to the number
of rows, which is what an implementation without batching would need.

Usage::

    python benchmarks/bench_memory.py [--rows 1000000] [--features 64]
        [--no-unbatched]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

MB = 2**20


def rss_bytes(field="VmRSS"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak():
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return rss_bytes("VmHWM") <= rss_bytes("VmRSS") + MB


class PeakSampler:
    """Fallback: poll the RSS from a thread."""

    def __init__(self):
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.001)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def child(op, n_rows, n_features, unbatched):
    import warnings

    import numpy as np

    import skae
    import skae._base.inference

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    train = rng.random((2000, n_features), dtype=np.float32)
    if op in ("sample", "vae_score_samples"):
        model = skae.VariationalAutoEncoder(n_components=8, max_iter=2, random_state=0)
    else:
        model = skae.AutoEncoder(n_components=8, max_iter=2, random_state=0)
    model.fit(train)

    if op == "inverse_transform":
        X = rng.standard_normal((n_rows, model.n_components), dtype=np.float32)
        call = model.inverse_transform
    elif op == "sample":
        X = None
        call = lambda _: model.sample(n_rows, random_state=0)  # noqa: E731
    elif op == "vae_score_samples":
        X = rng.random((n_rows, n_features), dtype=np.float32)
        call = model.score_samples
    else:
        X = rng.random((n_rows, n_features), dtype=np.float32)
        call = getattr(model, op)
    if unbatched:
        skae._base.inference.INFERENCE_BATCH_SIZE = n_rows
    # Warm-up: torch's one-time allocations are not what is measured.
    if X is None:
        model.sample(10)
    else:
        call(X[:10])

    before = rss_bytes()
    start = time.perf_counter()
    if reset_peak():
        out = call(X)
        peak, method = rss_bytes("VmHWM"), "VmHWM"
    else:
        with PeakSampler() as sampler:
            out = call(X)
        peak, method = sampler.peak, "sampled"
    seconds = time.perf_counter() - start
    out = np.asarray(out)
    assert np.isfinite(out).all()
    print(
        json.dumps(
            {
                "growth": peak - before,
                "output": out.nbytes,
                "input": 0 if X is None else X.nbytes,
                "seconds": seconds,
                "method": method,
                "batch": skae._base.inference.INFERENCE_BATCH_SIZE,
            }
        )
    )


def measure(op, n_rows, n_features, unbatched):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        op,
        "--rows",
        str(n_rows),
        "--features",
        str(n_features),
    ]
    if unbatched:
        command.append("--unbatched")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--no-unbatched", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--unbatched", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.features, args.unbatched)
        return

    runs = [
        ("AutoEncoder.transform", "transform", False),
        ("AutoEncoder.inverse_transform", "inverse_transform", False),
        ("AutoEncoder.score_samples", "score_samples", False),
        ("VariationalAutoEncoder.sample", "sample", False),
        ("VariationalAutoEncoder.score_samples", "vae_score_samples", False),
    ]
    if not args.no_unbatched:
        runs.append(("AutoEncoder.transform, unbatched", "transform", True))
        runs.append(("VariationalAutoEncoder.sample, unbatched", "sample", True))

    print(
        f"{args.rows:,} rows x {args.features} float32 features "
        "(inverse_transform: codes of 8 columns); AutoEncoder(n_components=8, "
        "hidden_layer_sizes=(128,)), VAE of the same size"
    )
    header = (
        f"{'call':40} {'batch':>9} {'output MB':>10} {'peak RSS growth MB':>19} "
        f"{'growth - output MB':>19} {'time s':>7}"
    )
    print(header)
    print("-" * len(header))
    for label, op, unbatched in runs:
        r = measure(op, args.rows, args.features, unbatched)
        print(
            f"{label:40} {r['batch']:>9,} {r['output'] / MB:>10.1f} "
            f"{r['growth'] / MB:>19.1f} {(r['growth'] - r['output']) / MB:>19.1f} "
            f"{r['seconds']:>7.2f}"
        )
    print(f"peak measured with {r['method']}")


if __name__ == "__main__":
    main()
