"""
==========================================================
PCA versus AutoEncoder: reconstruction error on the digits
==========================================================

Both :class:`~sklearn.decomposition.PCA` and :class:`skae.AutoEncoder` compress
each 8x8 digit into ``n_components`` numbers and decode it back. PCA is the best
*linear* compression; the autoencoder's encoder and decoder are small neural
networks, so it can follow the curved set of images the digits make.

We measure the mean squared reconstruction error on held-out digits as
``n_components`` grows, and show a few test digits reconstructed by each model
from 4 numbers.
"""

# %%
# Data: digits scaled to [0, 1], a test set held out
# ---------------------------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import AutoEncoder

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.3, random_state=0, stratify=y)
scaler = MinMaxScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# Test error as n_components grows
# --------------------------------
# Each autoencoder starts from PCA (``init="pca"``) and stops when its error
# on the 10% of training rows it holds out stops improving.


def test_error(model):
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    reconstruction = model.inverse_transform(model.transform(X_test))
    return mean_squared_error(X_test, reconstruction), seconds


ks = [1, 2, 4, 8, 16, 32]
results = {"PCA": [], "AutoEncoder": []}
fitted = {}
print(f"{'k':>3} {'PCA MSE':>9} {'AE MSE':>9} {'AE/PCA':>7} {'PCA s':>7} {'AE s':>6}")
for k in ks:
    fitted[k] = PCA(n_components=k), AutoEncoder(k, random_state=0)
    pca_mse, pca_s = test_error(fitted[k][0])
    ae_mse, ae_s = test_error(fitted[k][1])
    results["PCA"].append(pca_mse)
    results["AutoEncoder"].append(ae_mse)
    print(
        f"{k:>3} {pca_mse:9.4f} {ae_mse:9.4f} {ae_mse / pca_mse:7.2f} "
        f"{pca_s:7.3f} {ae_s:6.1f}"
    )

# %%
# The autoencoder's error is below PCA's at every size here, most of all for
# small codes. PCA fits in milliseconds, the autoencoder in seconds: when a
# little more error is acceptable, PCA is the cheap choice.

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, marker in [("PCA", "o"), ("AutoEncoder", "s")]:
    ax.plot(ks, results[name], marker=marker, label=name)
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xticks(ks, [str(k) for k in ks])
ax.set_xlabel("n_components (size of the code)")
ax.set_ylabel("test mean squared error")
ax.set_title("Reconstruction error on held-out digits")
ax.legend()
ax.grid(True, which="both", alpha=0.3)

# %%
# Reconstructed digits from 4 numbers
# -----------------------------------
k = 4
rows = {"original": X_test[:10]}
for model in fitted[k]:
    name = type(model).__name__
    rows[f"{name} (k={k})"] = model.inverse_transform(model.transform(X_test[:10]))

fig, axes = plt.subplots(3, 10, figsize=(8, 3), layout="constrained")
for row, (name, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(row, images, strict=True):
        ax.imshow(np.clip(image, 0, 1).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name, rotation=0, ha="right", va="center")
fig.suptitle("Test digits and their reconstructions")

# %%
# Where PCA is enough: linear data and small tables
# -------------------------------------------------
# When the data really lie near a linear subspace, PCA finds it exactly and
# a network has nothing to add: below, 40 features made from 5 hidden
# gaussian factors plus a little noise, compressed to 5 numbers. On a small
# table (wine: 124 training rows, 13 features) a network trained for long
# overfits. In both cases the autoencoder, which starts as PCA and keeps that
# start unless an epoch beats it on held-out rows, ends at PCA's error or a
# little below it; ``init="random"`` with early stopping off shows what
# happens without those two safeguards. All use ``StandardScaler``.
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

rng = np.random.default_rng(0)
factors = rng.normal(size=(1500, 5))
X_linear = factors @ rng.normal(size=(5, 40)) + 0.1 * rng.normal(size=(1500, 40))
cases = {
    "linear, rank 5, k=5": (X_linear, 5),
    "wine (178 rows), k=2": (load_wine().data, 2),
}
models = {
    "PCA": lambda k: PCA(k),
    "AutoEncoder": lambda k: AutoEncoder(k, random_state=0),
    "random start, no early stopping": lambda k: AutoEncoder(
        k, init="random", early_stopping=False, max_iter=1000, random_state=0
    ),
}
errors = {name: [] for name in models}
errors["PCA"].append(results["PCA"][ks.index(8)])
errors["AutoEncoder"].append(results["AutoEncoder"][ks.index(8)])
errors["random start, no early stopping"].append(np.nan)
print(f"{'data':<22} {'PCA MSE':>9} {'AE MSE':>9} {'AE/PCA':>7} {'random/PCA':>11}")
for name, (data, k) in cases.items():
    A_train, A_test = train_test_split(data, test_size=0.3, random_state=0)
    case_scaler = StandardScaler().fit(A_train)
    A_train, A_test = case_scaler.transform(A_train), case_scaler.transform(A_test)
    for model_name, make in models.items():
        model = make(k).fit(A_train)
        reconstruction = model.inverse_transform(model.transform(A_test))
        errors[model_name].append(np.mean((A_test - reconstruction) ** 2))
    pca_error = errors["PCA"][-1]
    print(
        f"{name:<22} {pca_error:9.4f} {errors['AutoEncoder'][-1]:9.4f} "
        f"{errors['AutoEncoder'][-1] / pca_error:7.2f} "
        f"{errors['random start, no early stopping'][-1] / pca_error:11.2f}"
    )
cases = {"digits, k=8": None, **cases}

# %%
# The error ratio to PCA's: below 1 the autoencoder wins, above 1 PCA does.
fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
names = list(cases)
height = 0.38
for offset, model_name in [
    (-height / 2, "AutoEncoder"),
    (height / 2, "random start, no early stopping"),
]:
    ratios = np.array(errors[model_name]) / np.array(errors["PCA"])
    bars = ax.barh(
        np.arange(len(names)) + offset, np.nan_to_num(ratios), height, label=model_name
    )
    ax.bar_label(
        bars, labels=[f"{r:.2f}" if np.isfinite(r) else "" for r in ratios], padding=3
    )
ax.set_yticks(np.arange(len(names)), names)
ax.axvline(1.0, color="black", linewidth=1, label="PCA's error")
ax.set_xlabel("test MSE / test MSE of PCA")
ax.set_title("Curved data gain; linear data and small tables stay at PCA")
ax.invert_yaxis()
ax.legend(loc="lower right", fontsize="small")
plt.show()
