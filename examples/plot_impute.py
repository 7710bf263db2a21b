"""
========================================================
Imputing missing values before building an estimator
========================================================

Following scikit-learn's example of the same name: remove values from a data
set, fill them in with different imputers inside a
:class:`~sklearn.pipeline.Pipeline`, and compare the cross-validated score of
the regressor that follows. :class:`skae.AutoEncoderImputer` is compared with
the column mean (:class:`~sklearn.impute.SimpleImputer`),
:class:`~sklearn.impute.KNNImputer` and
:class:`~sklearn.impute.IterativeImputer`, and with the score on the complete
data.
"""

# %%
# Data with holes
# ---------------
# The diabetes data set, with 30% of its entries removed completely at
# random. ``MinMaxScaler`` comes first in every pipeline: it skips NaN, and
# the autoencoder's loss weighs every feature in its own units.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import AutoEncoderImputer

# IterativeImputer and AutoEncoderImputer both stop at max_iter here, and say so.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_diabetes(return_X_y=True)
rng = np.random.default_rng(0)
X_missing = X.copy()
X_missing[rng.random(X.shape) < 0.3] = np.nan
print(f"{np.isnan(X_missing).mean():.0%} of the entries are missing")

# %%
# One pipeline per imputer
# ------------------------
# Each imputer is fitted on the training folds only, as in production. The
# regressor is a random forest, which scikit-learn's example uses too.
# AutoEncoderImputer trains for 100 epochs (about 800 steps on 354 rows)
# instead of its default budget of about 2400 steps, so that the six fits of
# this example take under a minute on 2 CPU cores.
regressor = RandomForestRegressor(n_estimators=50, random_state=0)
cv = KFold(n_splits=5, shuffle=True, random_state=0)
imputers = {
    "Mean": SimpleImputer(),
    "KNN": KNNImputer(),
    "Iterative": IterativeImputer(random_state=0),
    "AutoEncoder": AutoEncoderImputer(max_iter=100, random_state=0),
}


def score(X, imputer=None):
    steps = [MinMaxScaler()] + ([imputer] if imputer is not None else [])
    pipe = make_pipeline(*steps, regressor)
    mse = -cross_val_score(pipe, X, y, cv=cv, scoring="neg_mean_squared_error")
    return mse.mean(), mse.std()


results = {"Full data": score(X)}
for name, imputer in imputers.items():
    results[name] = score(X_missing, imputer)
for name, (mean, std) in results.items():
    print(f"{name:>12}: MSE {mean:7.0f} +/- {std:4.0f}")

# %%
# Scores
# ------
# Lower is better; the bars show the mean over the five folds and the lines
# their standard deviation.
names = list(results)
means = [results[n][0] for n in names]
stds = [results[n][1] for n in names]
fig, ax = plt.subplots(figsize=(6, 3.5))
colors = ["grey", "C0", "C1", "C2", "C3"]
ax.barh(names, means, xerr=stds, color=colors, alpha=0.8)
ax.set_xlim(min(means) * 0.8, (np.array(means) + stds).max() * 1.05)
ax.invert_yaxis()
ax.set_xlabel("Cross-validated MSE of a random forest (lower is better)")
ax.set_title("Diabetes, 30% of the entries missing")
fig.tight_layout()
plt.show()

# %%
# The imputer's values can also be checked directly: observed entries come
# back unchanged, and only the missing ones are filled in.
scaled = MinMaxScaler().fit_transform(X_missing)
filled = AutoEncoderImputer(max_iter=100, random_state=0).fit_transform(scaled)
observed = ~np.isnan(scaled)
print("observed entries unchanged:", np.array_equal(filled[observed], scaled[observed]))
