"""
==================================================
Two-dimensional codes: digits and a swiss roll
==================================================

With ``n_components=2`` a reducer draws the data on a plane. PCA's plane is the
best *linear* projection; an autoencoder's encoder is a non-linear map, so it
can keep apart what a projection would overlap. A variational autoencoder's
code (the posterior mean) is also non-linear, and its prior keeps the codes in
a round region around the origin.

On the digits we colour each code by its class, which neither model saw. On a
swiss roll (a sheet rolled up in 3-D) we look at the reconstructions: PCA
can only flatten the roll onto a plane, the autoencoder's 2-D code is enough to
put the points back on the rolled sheet.
"""

# %%
# Digits: 2-D codes coloured by class
# -----------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits, make_swiss_roll
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skae import AutoEncoder, VariationalAutoEncoder

X, y = load_digits(return_X_y=True)
X = MinMaxScaler().fit_transform(X)

reducers = {
    "PCA": PCA(n_components=2),
    "AutoEncoder": AutoEncoder(n_components=2, max_iter=1000, random_state=0),
    # Pixels in [0, 1]: the Bernoulli likelihood suits them.
    "VariationalAutoEncoder": VariationalAutoEncoder(
        n_components=2, likelihood="bernoulli", random_state=0
    ),
}
codes = {name: reducer.fit_transform(X) for name, reducer in reducers.items()}

# %%
# How well the classes separate in 2-D: the accuracy of a 5-nearest-neighbours
# classifier on the codes (5-fold cross-validation; the reducers were fitted
# on all the digits, without labels).
knn = KNeighborsClassifier(n_neighbors=5)
for name, Z in codes.items():
    accuracy = cross_val_score(knn, Z, y, cv=5).mean()
    print(f"{name:<22} 5-NN accuracy on the 2-D codes: {accuracy:.3f}")

fig, axes = plt.subplots(1, len(codes), figsize=(5 * len(codes), 4.5))
for ax, (name, Z) in zip(axes, codes.items(), strict=True):
    scatter = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=6, alpha=0.8)
    ax.set_title(name)
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
fig.legend(
    *scatter.legend_elements(),
    title="digit",
    loc="center right",
    markerscale=1.5,
)
fig.suptitle("Digits encoded in 2 numbers, coloured by class")
fig.subplots_adjust(right=0.92, wspace=0.3)

# %%
# Both non-linear codes separate the classes better than PCA's (5-NN accuracy
# 0.89 for the autoencoder, 0.71 for the VAE, 0.62 for PCA). The VAE pays for
# its smooth, filled latent space (every point near the origin decodes to a
# plausible digit, see :ref:`sphx_glr_auto_examples_plot_vae_samples.py`)
# with classes that overlap more than the plain autoencoder's.

# %%
# Swiss roll: a curved 2-D sheet in 3-D
# -------------------------------------
# Both models compress each point to 2 numbers and decode it back to 3-D.
X_roll, position = make_swiss_roll(n_samples=1500, noise=0.05, random_state=0)
X_roll = StandardScaler().fit_transform(X_roll)

roll_models = {
    "PCA": PCA(n_components=2),
    "AutoEncoder": AutoEncoder(
        n_components=2, hidden_layer_sizes=(256, 128), max_iter=1000, random_state=0
    ),
}
panels = {"data": X_roll}
for name, model in roll_models.items():
    reconstruction = model.inverse_transform(model.fit_transform(X_roll))
    mse = np.mean((X_roll - reconstruction) ** 2)
    print(f"{name:<12} swiss roll reconstruction MSE (k=2): {mse:.4f}")
    panels[f"{name} reconstruction (MSE {mse:.3f})"] = reconstruction

fig = plt.figure(figsize=(14, 5), layout="constrained")
limits = (X_roll.min(), X_roll.max())
axes = []
for i, (title, points) in enumerate(panels.items(), start=1):
    ax = fig.add_subplot(1, 3, i, projection="3d")
    scatter = ax.scatter(*points.T, c=position, cmap="viridis", s=4)
    ax.view_init(elev=30, azim=-100)
    ax.set(xlim=limits, ylim=limits, zlim=limits, xlabel="x", ylabel="y", zlabel="z")
    ax.set_title(title)
    axes.append(ax)
fig.colorbar(scatter, ax=axes, shrink=0.6, label="position along the roll")
fig.suptitle("Swiss roll compressed to 2 numbers and decoded back to 3-D")

# %%
# The codes themselves. Neighbouring points on the sheet get neighbouring
# codes (the colours change smoothly), but the autoencoder is free to bend
# and fold the sheet in its code space: nothing in its loss asks it to
# *unroll* it, only to be able to decode it. Use a manifold learner such as
# :class:`~sklearn.manifold.Isomap` when distances in the embedding matter.
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
for ax, (name, model) in zip(axes, roll_models.items(), strict=True):
    Z = model.transform(X_roll)
    scatter = ax.scatter(Z[:, 0], Z[:, 1], c=position, cmap="viridis", s=4)
    ax.set_title(f"{name} code")
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
fig.colorbar(scatter, ax=axes, label="position along the roll")
plt.show()
