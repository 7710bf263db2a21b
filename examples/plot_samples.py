"""
==========================================
New digits from every autoencoder
==========================================

Every autoencoder in skae can generate data: at the end of ``fit`` it fits a
Gaussian mixture to the codes of the training rows, and
:meth:`~skae.AutoEncoder.sample` draws codes from it and decodes them. Each
feature of the decoded rows is then mapped so that its distribution matches
the training data's (``calibrate_samples=True``), with one map per mixture
component: decoded means are smoother than real digits.

How realistic are the samples? A classifier two-sample test (C2ST) asks a
gradient-boosting classifier to tell real digits from as many samples; its
cross-validated accuracy is 0.5 when it cannot, 1.0 when it always can. The
samples are rounded to the digits' 16 grey levels first, so that the
classifier cannot merely spot values real digits never take. The baseline
is a :class:`~sklearn.mixture.GaussianMixture` fitted on the pixels.

The sparse and convolutional models are trained for fewer epochs than by
default, to keep this page quick to build; ``benchmarks/bench_sample.py``
measures the default models (see :ref:`sampling` for its numbers).
"""

# %%
# The data and the test
# ---------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score

import skae

X = load_digits().data / 16
# The shortened models stop at max_iter, and say so.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def c2st(samples):
    """Accuracy of a classifier telling real digits from ``samples``."""
    samples = np.clip(np.round(samples * 16) / 16, 0, 1)
    data = np.vstack([X, samples])
    is_sample = np.r_[np.zeros(len(X)), np.ones(len(samples))]
    classifier = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    return cross_val_score(classifier, data, is_sample, cv=cv).mean()


# %%
# Fit each model and draw as many samples as there are digits
# ------------------------------------------------------------
models = {
    "AutoEncoder(8)": skae.AutoEncoder(8, random_state=0),
    "DenoisingAutoEncoder(8)": skae.DenoisingAutoEncoder(8, random_state=0),
    "SparseAutoEncoder()": skae.SparseAutoEncoder(max_iter=30, random_state=0),
    "VariationalAutoEncoder(16)": skae.VariationalAutoEncoder(16, random_state=0),
    "ConvAutoEncoder(8)": skae.ConvAutoEncoder(8, max_iter=30, random_state=0),
}
samples = {"real digits": X}
scores = {}
for name, model in models.items():
    samples[name] = model.fit(X).sample(len(X), random_state=0)
    scores[name] = c2st(samples[name])
pixels = GaussianMixture(10, random_state=0).fit(X)
# GaussianMixture.sample returns its rows grouped by component: shuffle them.
drawn = pixels.sample(len(X))[0]
samples["GaussianMixture(10) on pixels"] = np.random.default_rng(0).permutation(drawn)
scores["GaussianMixture(10) on pixels"] = c2st(drawn)
for name, score in scores.items():
    print(f"{name:<32} C2ST accuracy {score:.3f}")

# %%
# 36 samples from each
# --------------------
# Rounded to 16 grey levels, as the classifier saw them.


def show_grid(ax, images, n_side=6):
    """Tile 8x8 images into one picture, with a white line between them."""
    canvas = np.ones((n_side * 9 + 1, n_side * 9 + 1))
    for index, image in enumerate(images[: n_side * n_side]):
        row, col = divmod(index, n_side)
        canvas[1 + 9 * row : 9 + 9 * row, 1 + 9 * col : 9 + 9 * col] = 1 - image
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = plt.subplots(2, 4, figsize=(14, 7.5), layout="constrained")
for ax, (name, images) in zip(axes.ravel(), samples.items(), strict=False):
    images = np.clip(np.round(np.asarray(images) * 16) / 16, 0, 1)
    show_grid(ax, images.reshape(-1, 8, 8))
    title = name if name not in scores else f"{name}\nC2ST {scores[name]:.2f}"
    ax.set_title(title, fontsize=10)
axes.ravel()[-1].axis("off")

# %%
# None of the models fools the classifier (which would score 0.5), but the
# calibrated samples of the fully trained models are harder to tell from
# real digits than the mixture's noisy blends of pixels. Drawing the VAE's
# codes from its prior ``N(0, I)`` instead (``latent_density="prior"``)
# gives blurrier blends, and adding its learned observation noise (a draw
# from ``p(x|z)`` rather than its mean) makes the samples trivially
# recognisable: ``benchmarks/bench_sample.py`` prints both.
plt.show()
