"""Neighbour-keeping embeddings of the digits: PCA, AutoEncoder, UMAPAutoEncoder, UMAP.

Prints, in one run:

1. the digits pipeline StandardScaler -> reducer -> LogisticRegression:
   best 5-fold CV accuracy per k of a GridSearchCV over k in {2, 5, 30} and
   C in logspace(-4, 4, 4), with LogisticRegression's tol=0.1 (scikit-learn's
   example) and its default tol. A Pipeline passes the class labels to each
   reducer's fit: umap-learn's UMAP then embeds with them (supervised UMAP),
   and UMAPAutoEncoder does so with ``target_weight=0.5``. Both appear with
   the labels and without them (for UMAP, a subclass whose fit drops y);
2. on a stratified 75/25 split, for 2-D codes: trustworthiness (n_neighbors=5)
   of the training and of the held-out embedding, 5-NN accuracy on held-out
   codes, the time to transform 1,500 new rows, the mean squared error of
   inverse_transform on held-out rows, and the fit time; with the ratios the
   targets of issue 19 are stated in.

umap-learn's UMAP is included when it is installed (``pip install umap-learn``;
not a dependency of skae); its numba functions are compiled by a small fit
before anything is timed. Run from the repository root::

    python benchmarks/bench_embedding.py [--quick]

``--quick`` skips the grid search (section 1). ``--only`` runs section 1
alone, for the reducers whose names start with one of its words
(``--only "UMAPAE, y"``), to rerun a column after a change to one estimator.
"""

import argparse
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import trustworthiness
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoEncoder, UMAPAutoEncoder

try:
    from umap import UMAP
except ImportError:  # optional: the comparison runs without it
    UMAP = None

SEED = 0
KS = (2, 5, 30)
N_NEW_ROWS = 1500


if UMAP is not None:

    class UMAPWithoutLabels(UMAP):
        """umap-learn's UMAP, unsupervised even when a Pipeline passes y."""

        def fit(self, X, y=None, *args, **params):
            return super().fit(X, None, *args, **params)

        def fit_transform(self, X, y=None, *args, **params):
            return super().fit_transform(X, None, *args, **params)


def reducers(supervised=False):
    """The reducers by name; with ``supervised``, also those that use y."""
    found = {
        "PCA": lambda k: PCA(k, random_state=SEED),
        "AutoEncoder": lambda k: AutoEncoder(k, random_state=SEED),
        "UMAPAutoEncoder": lambda k: UMAPAutoEncoder(k, random_state=SEED),
    }
    if supervised:
        found["UMAPAE, y"] = lambda k: UMAPAutoEncoder(
            k, target_weight=0.5, random_state=SEED
        )
    if UMAP is not None:
        found["UMAP"] = lambda k: UMAPWithoutLabels(n_components=k, random_state=SEED)
        if supervised:
            found["UMAP, y"] = lambda k: UMAP(n_components=k, random_state=SEED)
    return found


def warm_up_umap(X):
    if UMAP is not None:
        UMAP(n_components=2, n_epochs=30).fit(X[:200]).transform(X[:10])


def pipeline_accuracy(make, X, y):
    """Best CV accuracy per k, for LogisticRegression(tol=0.1) and default tol."""
    scores = {}
    with tempfile.TemporaryDirectory() as cache:
        # The cache fits each reducer once per (k, fold), not once per C and tol.
        for tol in (0.1, 1e-4):
            pipe = Pipeline(
                [
                    ("scale", StandardScaler()),
                    ("reduce", make(2)),
                    ("clf", LogisticRegression(tol=tol, max_iter=1000)),
                ],
                memory=cache,
            )
            grid = {
                "reduce__n_components": list(KS),
                "clf__C": list(np.logspace(-4, 4, 4)),
            }
            search = GridSearchCV(pipe, grid, cv=5).fit(X, y)
            results = search.cv_results_
            for k in KS:
                rows = np.asarray(results["param_reduce__n_components"]) == k
                scores[tol, k] = results["mean_test_score"][rows].max()
    return scores


def embedding_scores(make, X_train, X_test, y_train, y_test, X_new):
    reducer = make(2)
    start = time.perf_counter()
    codes = reducer.fit_transform(X_train)
    fit_time = time.perf_counter() - start
    codes_test = reducer.transform(X_test)
    start = time.perf_counter()
    reducer.transform(X_new)
    transform_time = time.perf_counter() - start
    knn = KNeighborsClassifier(5).fit(codes, y_train).score(codes_test, y_test)
    start = time.perf_counter()
    mse = np.mean((reducer.inverse_transform(codes_test) - X_test) ** 2)
    inverse_time = time.perf_counter() - start
    return {
        "trust": trustworthiness(X_train, codes, n_neighbors=5),
        "trust_test": trustworthiness(X_test, codes_test, n_neighbors=5),
        "knn": knn,
        "transform": transform_time,
        "mse": mse,
        "inverse": inverse_time,
        "fit": fit_time,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the grid search")
    parser.add_argument(
        "--only", nargs="*", default=[], help="section 1 alone, for these reducers"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.filterwarnings("ignore", message=".*n_jobs value 1 overridden.*")

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float64)
    warm_up_umap(StandardScaler().fit_transform(X))
    found = reducers()
    if UMAP is None:
        print("umap-learn is not installed: UMAP is left out.\n")

    accuracy = {}
    if not args.quick:
        print("1. Digits pipeline StandardScaler -> reducer -> LogisticRegression:")
        print("   best 5-fold CV accuracy per k, LogisticRegression tol=0.1 / 1e-4;")
        print("   ', y': the reducer embeds with the labels the Pipeline passes")
        with_labels = {
            name: make
            for name, make in reducers(supervised=True).items()
            if not args.only or name.startswith(tuple(args.only))
        }
        print(f"   {'k':>3} " + "".join(f"{name:>18}" for name in with_labels))
        accuracy = {
            name: pipeline_accuracy(make, X, y) for name, make in with_labels.items()
        }
        for k in KS:
            cells = "".join(
                f"{acc[0.1, k]:>11.3f} / {acc[1e-4, k]:.3f}"[-18:].rjust(18)
                for acc in accuracy.values()
            )
            print(f"   {k:>3} {cells}")
        print()
        if args.only:
            return

    scaler = StandardScaler().fit(X)
    X_train, X_test, y_train, y_test = train_test_split(
        scaler.transform(X), y, test_size=0.25, random_state=SEED, stratify=y
    )
    rng = np.random.default_rng(SEED)
    # New rows: held-out digits with a little noise, as many as N_NEW_ROWS.
    X_new = X_test[rng.integers(len(X_test), size=N_NEW_ROWS)]
    X_new = X_new + rng.normal(scale=0.05, size=X_new.shape)
    print(
        f"2. 2-D codes, {len(X_train)} training rows, {len(X_test)} held-out rows "
        f"(StandardScaler on all digits)"
    )
    header = (
        f"   {'':16}{'trust':>7}{'trust':>7}{'5-NN':>7}{'transform':>11}"
        f"{'inverse':>9}{'inverse':>9}{'fit':>8}"
    )
    print(header)
    print(
        f"   {'':16}{'train':>7}{'test':>7}{'test':>7}{f'{N_NEW_ROWS} rows':>11}"
        f"{'MSE':>9}{'time':>9}{'time':>8}"
    )
    scores = {}
    for name, make in found.items():
        s = scores[name] = embedding_scores(
            make, X_train, X_test, y_train, y_test, X_new
        )
        print(
            f"   {name:16}{s['trust']:7.4f}{s['trust_test']:7.4f}{s['knn']:7.3f}"
            f"{s['transform']:10.4f}s{s['mse']:9.4f}{s['inverse']:8.3f}s"
            f"{s['fit']:7.2f}s"
        )
    ours, ae = scores["UMAPAutoEncoder"], scores["AutoEncoder"]
    print()
    print("3. Targets (issue 19)")
    print(
        f"   inverse MSE, UMAPAutoEncoder / AutoEncoder: "
        f"{ours['mse'] / ae['mse']:.2f} (target <= 1.2)"
    )
    if "UMAP" in scores:
        umap = scores["UMAP"]
        print(
            f"   trustworthiness, UMAPAutoEncoder - UMAP: "
            f"{ours['trust'] - umap['trust']:+.4f} (target >= -0.01)"
        )
        print(
            f"   transform speed-up over UMAP: "
            f"{umap['transform'] / ours['transform']:.0f}x (target >= 100x)"
        )
        print(
            f"   fit time, UMAPAutoEncoder / UMAP: "
            f"{ours['fit'] / umap['fit']:.2f} (target <= 1.5)"
        )
    for name in ("UMAPAutoEncoder", "UMAPAE, y"):
        if name in accuracy:
            acc = accuracy[name]
            print(
                f"   pipeline accuracy, {name}: k=2 {acc[0.1, 2]:.3f} / "
                f"{acc[1e-4, 2]:.3f} (target >= 0.86 / 0.90), k=5 "
                f"{acc[0.1, 5]:.3f} / {acc[1e-4, 5]:.3f} (target >= 0.92 / 0.93)"
            )


if __name__ == "__main__":
    main()
