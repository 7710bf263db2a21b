"""
==================================================
New digits from a variational autoencoder
==================================================

A :class:`~skae.VariationalAutoEncoder` is a generative model: besides
encoding and decoding, it can draw new samples. Its encoder maps each digit to
a Normal distribution over a code ``z``; its decoder maps a code to a
distribution over images. Training pulls the codes of the training digits
towards a standard Normal, so decoding draws ``z ~ N(0, I)`` gives images that
look like the training data, which is what :meth:`~skae.VariationalAutoEncoder.sample`
does with ``latent_density="prior"``. (By default it draws from a mixture
fitted on the training codes instead, which samples better:
:ref:`sphx_glr_auto_examples_plot_samples.py`.)

We fit one on the 8x8 digits scaled to [0, 1] with a Bernoulli decoder (each
pixel's intensity is read as the probability that it is inked) and a
two-dimensional code, small enough to be drawn: we look at samples, at where
the digits fall in the code space, and at what the decoder makes of every
point of that space.
"""

# %%
# Fit a VAE with a 2-D code
# -------------------------
# ``likelihood="bernoulli"`` needs data in [0, 1], hence the
# :class:`~sklearn.preprocessing.MinMaxScaler`. The other parameters are the
# defaults (one hidden layer of 128 units, ``beta=1``).
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler

from skae import VariationalAutoEncoder

X, y = load_digits(return_X_y=True)
X = MinMaxScaler().fit_transform(X)

# ``latent_density="prior"`` and ``calibrate_samples=False`` make
# :meth:`~skae.VariationalAutoEncoder.sample` decode draws from ``N(0, I)``
# as they are; the defaults sample better (see :ref:`sampling` and
# :ref:`sphx_glr_auto_examples_plot_samples.py`), but here we look at the
# prior itself.
vae = VariationalAutoEncoder(
    n_components=2,
    likelihood="bernoulli",
    latent_density="prior",
    calibrate_samples=False,
    random_state=0,
)
vae.fit(X)
print(f"trained for {vae.n_iter_} epochs, final loss {vae.loss_curve_[-1]:.1f} nats")


def show_grid(ax, images, n_rows, n_cols):
    """Tile 8x8 images into one picture, with a white line between them."""
    canvas = np.ones((n_rows * 9 + 1, n_cols * 9 + 1))
    for index, image in enumerate(images):
        row, col = divmod(index, n_cols)
        canvas[1 + 9 * row : 9 + 9 * row, 1 + 9 * col : 9 + 9 * col] = 1 - image
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


# %%
# 64 samples
# ----------
# Each image is the decoder's mean for one ``z`` drawn from ``N(0, I)``, i.e.
# the probability of ink at each pixel: the usual way to show a VAE's samples,
# smoother than binary draws from those probabilities would be.
samples = vae.sample(64, random_state=0).reshape(-1, 8, 8)

fig, ax = plt.subplots(figsize=(6, 6), layout="constrained")
show_grid(ax, samples, 8, 8)
ax.set_title("64 samples: z ~ N(0, I), decoded")

# %%
# Many samples are recognisable digits (0, 1, 3, 4, 6, 9), many others are
# grey blends that look like a 9 or a 5 without being clearly either. With
# only two numbers per image the model cannot store much detail: the samples
# are blurrier and less varied than real digits, and the classes are not drawn
# equally often. The figure below shows why.
#
# The code space and what the decoder makes of it
# -----------------------------------------------
# Left: the posterior mean of each digit's code, coloured by its class, which
# the model never saw. Right: the decoder's image for each point of a 12 x 12
# grid of codes. The grid is spaced by the quantiles of ``N(0, 1)`` (from 5%
# to 95% in each direction), so it covers the region the samples come from;
# the dashed square on the left marks the same region.
n_steps = 12
quantiles = np.linspace(0.05, 0.95, n_steps)
grid = norm.ppf(quantiles)
z1, z2 = np.meshgrid(grid, grid[::-1])
decoded = vae.inverse_transform(np.c_[z1.ravel(), z2.ravel()]).reshape(-1, 8, 8)

codes = vae.transform(X)
fig, (ax_codes, ax_grid) = plt.subplots(1, 2, figsize=(14, 6.5), layout="constrained")
scatter = ax_codes.scatter(codes[:, 0], codes[:, 1], c=y, cmap="tab10", s=5)
ax_codes.add_patch(
    plt.Rectangle(
        (grid[0], grid[0]),
        grid[-1] - grid[0],
        grid[-1] - grid[0],
        fill=False,
        linestyle="--",
        edgecolor="black",
    )
)
ax_codes.set_xlabel("code 1 (posterior mean)")
ax_codes.set_ylabel("code 2 (posterior mean)")
ax_codes.set_title("Digits in the code space")
ax_codes.set_aspect("equal")
ax_codes.legend(
    *scatter.legend_elements(), title="digit", loc="upper left", bbox_to_anchor=(1, 1)
)

show_grid(ax_grid, decoded, n_steps, n_steps)
ticks = 1 + 9 * np.arange(n_steps) + 3.5
labels = [f"{value:.1f}" for value in grid]
ax_grid.set_xticks(ticks, labels)
ax_grid.set_yticks(ticks, labels[::-1])
ax_grid.set_xlabel("code 1")
ax_grid.set_ylabel("code 2")
ax_grid.set_title("Decoder's image of a grid of codes")

# %%
# The decoded grid changes smoothly: walking in a straight line through the
# code space morphs one digit into another (4 into 6 into 0 along the top
# row), through blends that are not digits at all. That smoothness is what the
# KL term of the loss buys. Most classes get a region of their own at the
# edge of the plane, but the 5s and 8s, with some 1s and 9s, share its
# centre, where most of the prior's mass (and so most samples) lies. The
# decoder draws one image per point, so there it draws a compromise: no cell
# of the grid is a clean 8. A larger ``n_components`` leaves room to separate
# them and gives sharper, more varied samples, but can no longer be drawn as
# a plane.
plt.show()
