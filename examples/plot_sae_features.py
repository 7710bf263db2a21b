"""
=====================================================================
Recovering the features of superposed data with a sparse autoencoder
=====================================================================

Sparse autoencoders are used to take a model's activations apart into the
features it uses (post-hoc interpretability): each activation vector is
taken to be a sparse, non-negative sum of directions, more directions than
there are dimensions ("superposition"), and the autoencoder's atoms should
be those directions.

Here the true directions are known: we draw them, build activations from
them, and check how well :class:`skae.SparseAutoEncoder` with
``sparsity="sae_topk"`` finds them. That setting is the top-k SAE as the
field builds it: linear, unit-norm atoms, tied start, pre-encoder bias, and
the AuxK term for dead latents, plus a lift in the top-k choice for latents
that fire too rarely (see :ref:`sae_interpretability`).
"""

# %%
# Activations made of 256 directions in 32 dimensions
# ---------------------------------------------------
# Each row switches on about 4 of the 256 directions (8 times as many as
# dimensions), with a random non-negative magnitude, plus a little noise.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skae import SparseAutoEncoder

rng = np.random.default_rng(0)
n_dims, n_true, n_on = 32, 256, 4
true_atoms = rng.standard_normal((n_true, n_dims))
true_atoms /= np.linalg.norm(true_atoms, axis=1, keepdims=True)


def activations(n_rows):
    on = rng.random((n_rows, n_true)) < n_on / n_true
    magnitudes = on * rng.random((n_rows, n_true))
    return magnitudes @ true_atoms + 0.01 * rng.standard_normal((n_rows, n_dims))


X_train, X_test = activations(10_000), activations(2000)

# %%
# A sparse autoencoder with 256 latents, 4 active per row
# -------------------------------------------------------
# ``latent_density=None``: no Gaussian mixture on the codes, which only
# :meth:`~skae.SparseAutoEncoder.sample` needs and which grows with the
# square of the number of latents.
sae = SparseAutoEncoder(
    n_components=n_true,
    n_active=n_on,
    sparsity="sae_topk",
    batch_size=256,
    learning_rate_init=1e-2,
    max_iter=15,
    latent_density=None,
    random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    sae.fit(X_train)

metrics = sae.code_metrics(X_test)
# The atoms are unit vectors: a cosine is a dot product.
cosines = true_atoms @ sae.atoms_.T
best, match = cosines.max(axis=1), cosines.argmax(axis=1)
print(f"FVU  {metrics['fvu']:.3f}")
print(f"L0   {metrics['l0']:.2f}")
print(
    f"dead {metrics['dead_fraction']:.1%} held out, {sae.dead_fraction_:.1%} training"
)
print(f"MMCS {best.mean():.3f}")

# %%
# FVU is the fraction of the held-out variance the reconstruction misses,
# L0 the mean number of active latents per row, "dead" the share of latents
# active on no held-out row, and MMCS the mean over the true directions of
# the best cosine with a learned atom (1.0: every direction recovered).
#
# True directions beside the atoms that match them best
# -----------------------------------------------------
# Each panel is one true direction (grey bars) and the ``sae_topk`` atom
# closest to it (black dots), with their cosine.
fig, axes = plt.subplots(2, 4, figsize=(10, 4), sharey=True)
for j, ax in enumerate(axes.flat):
    ax.bar(np.arange(n_dims), true_atoms[j], color="0.75", label="true")
    ax.plot(np.arange(n_dims), sae.atoms_[match[j]], "k.", label="learned")
    ax.set_title(f"direction {j}: cos {best[j]:.3f}", fontsize=9)
    ax.set_xticks([])
axes.flat[0].legend(fontsize=8)
fig.suptitle('Recovered atoms (sparsity="sae_topk") beside the true directions')
fig.tight_layout()

# %%
# How well is each true direction recovered?
# ------------------------------------------
# Most true directions have an atom within a few degrees; the few that do
# not are those the dead latents would have taken.
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(best, bins=np.linspace(0, 1, 41), color="0.3")
ax.set_xlabel("best cosine of a true direction with a learned atom")
ax.set_ylabel("true directions")
fig.tight_layout()
plt.show()
