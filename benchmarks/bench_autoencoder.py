"""AutoEncoder vs a hand-written torch loop, MLPRegressor and PCA, in one run.

Prints, on load_digits scaled to [0, 1] with a 70/30 split:

1. fit time of AutoEncoder divided by that of a plain torch loop of the same
   architecture (64-128-8-128-64, ReLU, default Adam, same batches and epochs)
   and by that of MLPRegressor fitted on X -> X (targets <= 0.85 and <= 0.9);
2. test reconstruction MSE of AutoEncoder with default parameters divided by
   PCA's, k = 2 and 8 (target <= 0.75);
3. accuracy of LogisticRegression on the codes vs on PCA codes, k = 2, 8, 16;
4. fit time with one torch thread vs torch's default, for a small and a large
   model: the measurement behind ``n_threads="auto"``.

Run: ``python benchmarks/bench_autoencoder.py [--repeats 3]``.
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import MinMaxScaler

from skae import AutoEncoder

EPOCHS, BATCH = 100, 64


def load():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    scaler = MinMaxScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def torch_loop(X):
    """The loop a user would write by hand: DataLoader, nn.Sequential, Adam."""
    torch.manual_seed(0)
    X = torch.as_tensor(X, dtype=torch.float32)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 8),
        torch.nn.Linear(8, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 64),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(X), batch_size=BATCH, shuffle=True
    )
    for _ in range(EPOCHS):
        for (batch,) in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(batch), batch)
            loss.backward()
            optimizer.step()


def skae_fit(X):
    ae = AutoEncoder(
        n_components=8,
        hidden_layer_sizes=(128,),
        batch_size=BATCH,
        max_iter=EPOCHS,
        learning_rate_init=1e-3,
        early_stopping=False,
        n_iter_no_change=EPOCHS,  # run every epoch, like the other two
        random_state=0,
    ).fit(X)
    assert ae.n_iter_ == EPOCHS


def mlp_fit(X):
    mlp = MLPRegressor(
        hidden_layer_sizes=(128, 8, 128),
        batch_size=BATCH,
        max_iter=EPOCHS,
        n_iter_no_change=EPOCHS,
        random_state=0,
    ).fit(X, X)
    assert mlp.n_iter_ == EPOCHS


def best_time(fn, X, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(X)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    warnings.simplefilter("ignore", ConvergenceWarning)
    X_train, X_test, y_train, y_test = load()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    print(f"\n1. fit time, {EPOCHS} epochs, batch {BATCH}, best of {repeats}")
    times = {
        name: best_time(fn, X_train, repeats)
        for name, fn in [
            ("skae AutoEncoder", skae_fit),
            ("torch loop", torch_loop),
            ("MLPRegressor", mlp_fit),
        ]
    }
    for name, seconds in times.items():
        print(f"   {name:<18} {seconds:6.2f} s")
    ours = times["skae AutoEncoder"]
    print(
        f"   AutoEncoder / torch loop   = {ours / times['torch loop']:.2f}"
        "  (target <= 0.85)"
    )
    print(
        f"   AutoEncoder / MLPRegressor = {ours / times['MLPRegressor']:.2f}"
        "  (target <= 0.90)"
    )

    print("\n2. test reconstruction MSE, default parameters")
    print(f"   {'k':>3} {'PCA':>8} {'AutoEncoder':>12} {'ratio':>7}")
    codes = {}
    for k in (2, 8, 16):
        pca = PCA(n_components=k).fit(X_train)
        ae = AutoEncoder(n_components=k, random_state=0).fit(X_train)
        codes[k] = (pca, ae)
        if k == 16:
            continue
        mse = [
            np.mean((m.inverse_transform(m.transform(X_test)) - X_test) ** 2)
            for m in (pca, ae)
        ]
        print(
            f"   {k:>3} {mse[0]:8.4f} {mse[1]:12.4f} {mse[1] / mse[0]:7.2f}"
            "  (target <= 0.75)"
        )

    print("\n3. LogisticRegression accuracy on the codes")
    print(f"   {'k':>3} {'PCA':>6} {'AutoEncoder':>12}")
    for k, models in codes.items():
        accuracy = [
            LogisticRegression(max_iter=5000)
            .fit(m.transform(X_train), y_train)
            .score(m.transform(X_test), y_test)
            for m in models
        ]
        print(f"   {k:>3} {accuracy[0]:6.3f} {accuracy[1]:12.3f}")

    print("\n4. n_threads: fit time with 1 thread / with torch's default")
    rng = np.random.default_rng(0)
    for label, X, hidden, batch in [
        ("digits 64-128-8, batch 64", X_train, (128,), 64),
        ("random 784-512-256-32, batch 200", rng.random((2000, 784)), (512, 256), 200),
    ]:
        seconds = {}
        for n_threads in (1, None):
            seconds[n_threads] = best_time(
                lambda X, n=n_threads, h=hidden, b=batch: AutoEncoder(
                    32 if len(h) > 1 else 8,
                    hidden_layer_sizes=h,
                    batch_size=b,
                    max_iter=5,
                    n_threads=n,
                    random_state=0,
                ).fit(X),
                X,
                repeats,
            )
        print(
            f"   {label:<34} {seconds[1] / seconds[None]:5.2f}"
            f"  ({seconds[1]:.2f} s vs {seconds[None]:.2f} s)"
        )


if __name__ == "__main__":
    main()
