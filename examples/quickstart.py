"""PCA versus AutoEncoder on the digits: reconstruction error and the codes as
features for a classifier.

Run with ``python examples/quickstart.py``; takes about 20 seconds on 2 cores.
"""

from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import AutoEncoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=0, stratify=y
)
scaler = MinMaxScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

print(f"{'k':>3} {'model':<12} {'test MSE':>9} {'accuracy':>9}")
for k in (2, 8):
    for reducer in (PCA(n_components=k), AutoEncoder(n_components=k, random_state=0)):
        reducer.fit(X_train)
        reconstruction = reducer.inverse_transform(reducer.transform(X_test))
        mse = mean_squared_error(X_test, reconstruction)
        classifier = make_pipeline(reducer, LogisticRegression(max_iter=2000))
        # The reducer is already fitted: refit only the classifier on its codes.
        classifier.steps[-1][1].fit(reducer.transform(X_train), y_train)
        accuracy = classifier.score(X_test, y_test)
        print(f"{k:>3} {type(reducer).__name__:<12} {mse:9.4f} {accuracy:9.3f}")
