"""
==================================================
Training curves and early stopping
==================================================

After ``fit``, :attr:`~skae.AutoEncoder.loss_curve_` holds the training loss of
every epoch. With ``early_stopping=True`` the estimator also holds out
``validation_fraction`` of the data, records the negative validation loss in
:attr:`~skae.AutoEncoder.validation_scores_`, stops once it has not improved
for ``n_iter_no_change`` epochs, and keeps the weights of the best epoch.

We give a wide network only 300 digits, so that it can memorise them: its
training loss keeps falling long after the validation loss has levelled off.
"""

# %%
# A model that overfits
# ---------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import AutoEncoder

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, train_size=300, random_state=0, stratify=y)
scaler = MinMaxScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

params = dict(
    n_components=32,
    hidden_layer_sizes=(512,),
    batch_size=32,
    early_stopping=True,
    validation_fraction=0.2,
    random_state=0,
)
# n_iter_no_change as large as max_iter: the whole curve, never stopping early.
# It ends at max_iter on purpose, so its ConvergenceWarning is expected.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    full = AutoEncoder(max_iter=300, n_iter_no_change=300, **params).fit(X_train)
# The default patience of 10 epochs.
stopped = AutoEncoder(max_iter=300, n_iter_no_change=10, **params).fit(X_train)

best_epoch = int(np.argmax(stopped.validation_scores_)) + 1
for name, model in [("no early stopping", full), ("early stopping", stopped)]:
    print(
        f"{name:<18} epochs: {model.n_iter_:>3}  "
        f"held-out test MSE: {-model.score(X_test):.4f}"
    )
print(f"best validation epoch: {best_epoch}")

# %%
# Both fits share ``random_state``, so their first epochs are identical and
# the early-stopped curve is the beginning of the full one. Early stopping
# ends 10 epochs after the best validation loss and restores that epoch's
# weights: here it trains for less than half the epochs and reaches the
# same error on unseen digits, while the extra epochs of the full run only
# fit the 240 training digits more closely.
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
epochs = np.arange(1, full.n_iter_ + 1)
ax.plot(epochs, full.loss_curve_, label="training loss (loss_curve_)")
ax.plot(
    epochs,
    -np.asarray(full.validation_scores_),
    label="validation loss (-validation_scores_)",
)
ax.axvline(best_epoch, color="gray", linestyle="--", label="best epoch, restored")
ax.axvline(
    stopped.n_iter_, color="black", linestyle=":", label="early stopping ends here"
)
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("mean squared error")
ax.set_title("300 digits, a wide network: training loss keeps falling")
ax.legend()
plt.show()
