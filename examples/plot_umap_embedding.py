"""
=====================================================
Neighbour-keeping 2-D codes with UMAPAutoEncoder
=====================================================

PCA and a plain :class:`~skae.AutoEncoder` choose their two code units to
reconstruct the digits; nothing asks them to keep similar images together,
and the ten digits overlap. :class:`~skae.UMAPAutoEncoder` trains its encoder
on UMAP's objective: images that are neighbours in pixel space stay
neighbours in the plane. Unlike UMAP itself, it has an encoder, so new
images are placed without a neighbour search, and a decoder, so any point of
the plane can be turned back into an image.

umap-learn's UMAP is shown too when it is installed (it is not a dependency
of skae).
"""

# %%
# Four 2-D embeddings of the digits
# ---------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from skae import AutoEncoder, UMAPAutoEncoder

X, y = load_digits(return_X_y=True)
scaler = StandardScaler().fit(X)
X_scaled = scaler.transform(X)

reducers = {
    "PCA": PCA(2, random_state=0),
    "AutoEncoder": AutoEncoder(2, random_state=0),
    "UMAPAutoEncoder": UMAPAutoEncoder(2, random_state=0),
}
try:
    from umap import UMAP
except ImportError:
    pass
else:
    reducers["UMAP (umap-learn)"] = UMAP(n_components=2, random_state=0)

codes = {name: reducer.fit_transform(X_scaled) for name, reducer in reducers.items()}

fig, axes = plt.subplots(1, len(codes), figsize=(4 * len(codes), 4))
for ax, (name, Z) in zip(axes, codes.items(), strict=True):
    ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=4)
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()

# %%
# Walking through the plane and decoding
# --------------------------------------
# The decoder turns any point of the plane into an image. On a straight line
# from the centre of the zeros to the centre of the sixes, the decoded images
# morph from one digit into the other, through whatever digits lie between.
umap_ae = reducers["UMAPAutoEncoder"]
Z = codes["UMAPAutoEncoder"]
start, stop = Z[y == 0].mean(axis=0), Z[y == 6].mean(axis=0)
steps = np.linspace(0, 1, 10)[:, None]
line = (1 - steps) * start + steps * stop
images = scaler.inverse_transform(umap_ae.inverse_transform(line))

fig = plt.figure(figsize=(10, 5.5))
grid = fig.add_gridspec(2, len(line), height_ratios=[4, 1])
ax = fig.add_subplot(grid[0, :])
ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=4)
ax.plot(line[:, 0], line[:, 1], "k.-")
for digit in range(10):
    centre = Z[y == digit].mean(axis=0)
    ax.annotate(str(digit), centre, fontsize=14, weight="bold")
ax.set_title("UMAPAutoEncoder codes, and a line from 0 to 6")
for i, image in enumerate(images):
    ax = fig.add_subplot(grid[1, i])
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.axis("off")
fig.tight_layout()
plt.show()
