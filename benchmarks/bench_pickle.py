"""Size of a fitted estimator through every persistence route vs its weights.

On load_digits scaled to [0, 1], each estimator with its default parameters
(ConvAutoEncoder on the 8 x 8 images) is fitted for ``--epochs`` epochs, and
for the AutoEncoder also for 10x as many, to show the growth with training.
Printed, in KB: the module's weights and buffers, Adam's state (two moment
buffers and a step count per parameter), then the bytes written by pickle,
joblib, ``skops.io.dumps`` and :func:`skae.save`, and the pickle of the
skorch net alone (``pickle.dumps(estimator.net_)``: what the estimator's
pickle held before it stored the net as plain arrays, with every weight
twice). The last column is pickle / (weights + Adam); target <= 1.3.

Usage::

    python benchmarks/bench_pickle.py [--epochs 20]
"""

import argparse
import io
import os
import pickle
import tempfile
import warnings

import joblib
import torch
from sklearn.datasets import load_digits

import skae

KB = 1024


def nbytes(tensors):
    return sum(torch.as_tensor(t).nbytes for t in tensors)


def sizes(estimator):
    net = estimator.net_
    adam = net.optimizer_.state_dict()["state"].values()
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        skae.save(estimator, path)
        saved = os.path.getsize(path)
    try:
        import skops.io

        skops_bytes = len(skops.io.dumps(estimator))
    except ImportError:
        skops_bytes = float("nan")
    return {
        "weights": nbytes(net.module_.state_dict().values()),
        "adam": nbytes(v for state in adam for v in state.values()),
        "pickle": len(pickle.dumps(estimator)),
        "joblib": buffer.tell(),
        "skops": skops_bytes,
        "skae.save": saved,
        "net alone": len(pickle.dumps(net)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X = load_digits().data / 16.0
    epochs = args.epochs
    runs = [(cls, epochs) for cls in (skae.AutoEncoder, skae.DenoisingAutoEncoder)]
    runs += [(skae.AutoEncoder, 10 * epochs)]
    runs += [
        (cls, epochs)
        for cls in (
            skae.SparseAutoEncoder,
            skae.VariationalAutoEncoder,
            skae.ConvAutoEncoder,
        )
    ]
    columns = ["weights", "adam", "pickle", "joblib", "skops", "skae.save"]
    columns.append("net alone")
    header = f"{'estimator':24} {'epochs':>6} " + " ".join(f"{c:>9}" for c in columns)
    print("KB; pickle/(w+adam) is the pickle over weights plus Adam state")
    print(header + f" {'pickle/(w+adam)':>16}")
    print("-" * (len(header) + 17))
    for cls, n_epochs in runs:
        estimator = cls(max_iter=n_epochs, n_iter_no_change=n_epochs, random_state=0)
        estimator.fit(X)
        row = sizes(estimator)
        ratio = row["pickle"] / (row["weights"] + row["adam"])
        cells = " ".join(f"{row[c] / KB:>9.1f}" for c in columns)
        print(f"{cls.__name__:24} {estimator.n_iter_:>6} {cells} {ratio:>16.2f}")


if __name__ == "__main__":
    main()
