"""
===========================================
Training starts where PCA ends
===========================================

With ``init="pca"`` (the default), :class:`skae.AutoEncoder` is a linear path
plus a non-linear residual: ``code = P (x - mean) + f(x - mean)`` and
``reconstruction = mean + Q code + g(code)``. ``P`` and ``Q`` start as
:class:`~sklearn.decomposition.PCA`'s components and the last layers of the
networks ``f`` and ``g`` start at zero, so before the first training step the
autoencoder *is* PCA. Training can only add what PCA misses, and with early
stopping (also the default) the PCA start counts as epoch 0: when no epoch
beats it on the held-out rows, the model stays PCA.

We follow the test error epoch by epoch from both starts, on the digits
compressed to 8 numbers, and on a small table (wine, 124 training rows)
where PCA is hard to beat.
"""

# %%
# Test error after every epoch
# ----------------------------
# ``warm_start=True`` with ``max_iter=1`` trains one more epoch per call to
# ``fit``, so that we can measure the test error in between. (Each such call
# warns that it stopped at ``max_iter``; that is the point here.)
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skae import AutoEncoder


def test_error(model, X_test):
    return np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2)


def curve(init, X_train, X_test, k, epochs):
    ae = AutoEncoder(
        k,
        init=init,
        max_iter=1,
        warm_start=True,
        early_stopping=False,
        random_state=0,
    )
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            errors.append(test_error(ae.fit(X_train), X_test))
    return errors


cases = {
    "digits, MinMaxScaler, k=8": (load_digits().data, MinMaxScaler(), 8, 40),
    "wine, StandardScaler, k=2": (load_wine().data, StandardScaler(), 2, 40),
}
results = {}
for name, (X, scaler, k, epochs) in cases.items():
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    scaler.fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    pca_error = test_error(PCA(k).fit(X_train), X_test)
    default = AutoEncoder(k, random_state=0).fit(X_train)
    results[name] = {
        "PCA": pca_error,
        "pca start": [pca_error, *curve("pca", X_train, X_test, k, epochs)],
        "random start": curve("random", X_train, X_test, k, epochs),
        "default fit": (default.n_iter_, test_error(default, X_test)),
    }
    epochs_run, error = results[name]["default fit"]
    print(
        f"{name}: PCA {pca_error:.4f}, default AutoEncoder {error:.4f} "
        f"({error / pca_error:.2f}x PCA, {epochs_run} epochs)"
    )

# %%
# From PCA, the test error falls below PCA's in the first epoch on the
# digits, while from random weights it takes a dozen epochs or more just to
# reach PCA. On the small table there is little to add to PCA: the curve from
# PCA stays just below PCA's line, while the random start needs most of the
# run to get there. Early stopping, which watches held-out rows, keeps the
# PCA start or an epoch that beat it on them, which is why a default fit does
# not end above PCA's error on small tables (see ``bench_autoencoder.py``).
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
for ax, (name, result) in zip(axes, results.items(), strict=True):
    ax.plot(result["pca start"], label='init="pca" (epoch 0 is PCA)')
    ax.plot(
        np.arange(1, len(result["random start"]) + 1),
        result["random start"],
        label='init="random"',
    )
    ax.axhline(result["PCA"], color="black", linestyle=":", label="PCA")
    epochs_run, error = result["default fit"]
    ax.plot(
        [epochs_run],
        [error],
        "k*",
        markersize=10,
        label="default fit (where it stopped)",
    )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test mean squared error")
    ax.set_title(name)
    low = min(min(result["pca start"]), error)
    ax.set_ylim(low * 0.9, result["PCA"] * 3)
axes[0].legend()
plt.show()
