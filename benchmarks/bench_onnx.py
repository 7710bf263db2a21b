"""ONNX export: onnxruntime against ``transform``, and pipeline agreement.

Prints, in one run, on load_digits scaled to [0, 1] with ``MinMaxScaler``:

1. Inference time of the default ``AutoEncoder()`` (``random_state=0``,
   the default 200 epochs at most) on 100,000 rows (the 1,797 digits
   repeated), in float32: ``transform`` against onnxruntime running the
   graph of ``skae.to_onnx``, each the median of ``--repeats`` runs (with
   the fastest and slowest), with default threads on both sides and with
   one thread on both sides (``n_threads=1`` and onnxruntime's
   ``intra_op_num_threads=1``). Targets: the graph at least as fast as
   ``transform``, and 2x faster. The largest difference between the two
   outputs is printed as well.
2. ``Pipeline(StandardScaler, AutoEncoder(n_components=8),
   LogisticRegression)`` fitted on a stratified 70% of the digits: the share
   of test rows whose exported label equals ``predict``'s (target 100%) and
   the largest difference of probabilities.
3. How long ``to_onnx`` takes, for each of the two models.

Run: ``python benchmarks/bench_onnx.py [--repeats 7]``.
"""

import argparse
import os
import time
import warnings

import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skae import AutoEncoder, to_onnx

N_ROWS = 100_000


def timed(fn, repeats):
    """Median, fastest and slowest wall time of ``fn()`` over ``repeats`` calls."""
    fn()  # warm-up: first-call allocations, onnxruntime's lazy set-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.median(times), min(times), max(times)


def session(onx, n_threads=0):
    options = ort.SessionOptions()
    options.intra_op_num_threads = n_threads
    return ort.InferenceSession(
        onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def export(model, X_sample):
    start = time.perf_counter()
    onx = to_onnx(model, X_sample)
    return onx, time.perf_counter() - start


def inference(X, repeats):
    ae = AutoEncoder(random_state=0).fit(X)
    X_big = np.resize(X, (N_ROWS, X.shape[1]))
    onx, export_time = export(ae, X[:1])
    print(f"1. Default AutoEncoder, {N_ROWS:,} rows x {X.shape[1]} float32 features")
    header = ["transform (s)", "onnxruntime (s)"]
    print(f"   {'threads':<9}{header[0]:>26}{header[1]:>26}{'speed-up':>10}")
    for label, n_threads in (("default", None), ("1", 1)):
        ae.set_params(n_threads="auto" if n_threads is None else n_threads)
        sess = session(onx, n_threads or 0)
        t_py = timed(lambda: ae.transform(X_big), repeats)  # noqa: B023
        t_ort = timed(lambda: sess.run(None, {"X": X_big}), repeats)  # noqa: B023
        cells = [f"{t[0]:.4f} [{t[1]:.4f}-{t[2]:.4f}]" for t in (t_py, t_ort)]
        print(f"   {label:<9}{cells[0]:>26}{cells[1]:>26}{t_py[0] / t_ort[0]:>9.2f}x")
    (codes,) = sess.run(None, {"X": X_big})
    diff = np.abs(codes - ae.transform(X_big)).max()
    print(f"   largest |onnx - transform|: {diff:.2e}; to_onnx: {export_time:.1f} s")


def pipeline_agreement(X, y):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    pipe = make_pipeline(
        StandardScaler(),
        AutoEncoder(n_components=8, random_state=0),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    onx, export_time = export(pipe, X_test[:1])
    labels, probabilities = session(onx).run(None, {"X": X_test})
    agree = np.mean(labels == pipe.predict(X_test))
    diff = np.abs(probabilities - pipe.predict_proba(X_test)).max()
    print("2. Pipeline(StandardScaler, AutoEncoder(8), LogisticRegression), test part")
    print(
        f"   labels agree on {agree:.2%} of {len(X_test)} rows; largest "
        f"|probability difference|: {diff:.2e}; to_onnx: {export_time:.1f} s"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    digits = load_digits()
    X = MinMaxScaler().fit_transform(digits.data).astype(np.float32)
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} CPU cores")
    inference(X, args.repeats)
    pipeline_agreement(X, digits.target)


if __name__ == "__main__":
    main()
