"""
=====================================================
Supervised and semi-supervised 2-D codes, held out
=====================================================

By default every skae estimator ignores ``y``, as PCA does. With
``target_weight`` set, ``fit(X, y)`` also trains a softmax head on the code,
so that the code keeps what tells the classes apart, not only what
reconstructs the rows. A label of -1 marks a row without a class: with only
a tenth of the labels, the codes still gain much of the separation.

A code shaped by labels can look perfect on the rows it was trained on and
fail on new ones (the complaint about supervised UMAP), so every panel
below shows the codes of *held-out* digits, with the accuracy of a logistic
regression trained on the training codes (for the semi-supervised panel, on
the codes of the labelled training rows only) in its title. Scikit-learn's
supervised linear reducers are shown beside PCA:
:class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis` (LDA)
and :class:`~sklearn.neighbors.NeighborhoodComponentsAnalysis` (NCA).
"""

# %%
# Six reducers, fitted on three quarters of the digits
# ----------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NeighborhoodComponentsAnalysis
from sklearn.preprocessing import StandardScaler

from skae import DenoisingAutoEncoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# A tenth of the training labels kept, the others marked -1.
rng = np.random.default_rng(0)
labelled = rng.random(len(y_train)) < 0.1
y_partial = np.where(labelled, y_train, -1)


def autoencoder(target_weight=None):
    return DenoisingAutoEncoder(
        2, noise_level=0.3, target_weight=target_weight, random_state=0
    )


panels = {
    "PCA": (PCA(2, random_state=0), y_train),
    "LDA": (LinearDiscriminantAnalysis(n_components=2), y_train),
    "NCA": (NeighborhoodComponentsAnalysis(2, max_iter=20, random_state=0), y_train),
    "autoencoder, no labels": (autoencoder(), y_train),
    "target_weight=0.9": (autoencoder(0.9), y_train),
    "target_weight=0.9, 10% labels": (autoencoder(0.9), y_partial),
}

codes = {}
for name, (reducer, target) in panels.items():
    reducer.fit(X_train, target)
    kept = target != -1
    classifier = LogisticRegression(max_iter=10000)
    classifier.fit(reducer.transform(X_train)[kept], y_train[kept])
    test_codes = reducer.transform(X_test)
    codes[name] = test_codes, classifier.score(test_codes, y_test)

# %%
# The held-out codes
# ------------------
fig, axes = plt.subplots(2, 3, figsize=(12, 8))
for ax, (name, (Z, accuracy)) in zip(axes.ravel(), codes.items(), strict=True):
    ax.scatter(Z[:, 0], Z[:, 1], c=y_test, cmap="tab10", s=6)
    ax.set_title(f"{name}\nheld-out accuracy {accuracy:.2f}")
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %%
# The label head shapes the code without taking the decoder's job away:
# ``inverse_transform`` still reconstructs the rows, a little less closely
# than without labels (see the user guide's "Supervised and semi-supervised
# codes" for the measured cost).
for name in ("autoencoder, no labels", "target_weight=0.9"):
    reducer = panels[name][0]
    error = np.mean(
        (reducer.inverse_transform(reducer.transform(X_test)) - X_test) ** 2
    )
    print(f"{name:<24} held-out reconstruction error {error:.3f}")
