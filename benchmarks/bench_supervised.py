"""Supervised and semi-supervised codes, on held-out rows (issue 26).

Prints, in one run:

1. the digits pipeline StandardScaler -> reducer(k) -> LogisticRegression
   (max_iter=10000): 5-fold stratified CV accuracy, the reducer fitted on the
   training folds with their labels, each cell LogisticRegression's
   tol=0.1 / tol=1e-4, for k in (2, 5); PCA, LDA, NCA, umap-learn's UMAP
   with y (when installed) and skae's estimators with ``target_weight``
   None (y ignored), 0.5 and 0.9. With it, the test mean squared
   reconstruction error of each skae estimator, as a ratio to the same
   estimator's without labels (mean over folds);
2. semi-supervised digits: 10% of each training fold's labels kept (the
   others -1), k=2, LogisticRegression (tol=1e-4) fitted on the codes of
   the labelled rows only; test accuracy, 5 folds;
3. regression: diabetes, StandardScaler -> reducer(2) -> Ridge, 5-fold R^2:
   PCA(2), PLSRegression(2), skae's estimators with a float target;
4. fit time with the label loss against without, on digits (k=2), side by
   side, alternating, ``REPEATS`` times: the ratio of the fit times and of
   the times per epoch (early stopping may train for a different number of
   epochs), median and range, and the epochs trained with labels / without
   (the same at every repeat: the estimators are seeded).

Run from the repository root::

    python benchmarks/bench_supervised.py [--quick]

``--quick`` runs 2 folds instead of 5 and 1 timing repeat; ``--sections``
and ``--ks`` run a part (``--sections 1 --ks 2``), to share the work out
between processes. ``--seed`` (default 0) shuffles the folds, draws the kept
labels and seeds the reducers: ``--sections 2 --seed 1`` repeats the
semi-supervised table on other folds. ``--only`` keeps the skae
estimators whose names start with one of its words, and drops the other
reducers (``--only AutoEncoder ConvAutoEncoder``).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.cross_decomposition import PLSRegression
from sklearn.datasets import load_diabetes, load_digits
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.neighbors import NeighborhoodComponentsAnalysis
from sklearn.preprocessing import StandardScaler

from skae import AutoEncoder, ConvAutoEncoder, DenoisingAutoEncoder, UMAPAutoEncoder

try:
    from umap import UMAP
except ImportError:  # optional: the comparison runs without it
    UMAP = None

SEED = 0
KS = (2, 5)
WEIGHTS = (None, 0.5, 0.9)
LABELLED_FRACTION = 0.1
REPEATS = 3
#: Name prefixes of the skae estimators to run (--only); empty: all of them,
#: and the other reducers.
ONLY = ()


def skae_estimators(k, weight):
    """The skae estimators compared, at ``target_weight=weight``."""
    estimators = {
        "AutoEncoder": AutoEncoder(k, target_weight=weight, random_state=SEED),
        "DenoisingAutoEncoder(0.3)": DenoisingAutoEncoder(
            k, noise_level=0.3, target_weight=weight, random_state=SEED
        ),
        "ConvAutoEncoder": ConvAutoEncoder(
            k, image_shape=(8, 8), target_weight=weight, random_state=SEED
        ),
        "UMAPAutoEncoder": UMAPAutoEncoder(k, target_weight=weight, random_state=SEED),
    }
    return {
        name: estimator
        for name, estimator in estimators.items()
        if not ONLY or name.startswith(ONLY)
    }


def reference_reducers(k, n_classes):
    if ONLY:
        return {}
    reducers = {
        "PCA": PCA(k, random_state=SEED),
        "LDA": LinearDiscriminantAnalysis(n_components=min(k, n_classes - 1)),
        "NCA": NeighborhoodComponentsAnalysis(k, random_state=SEED),
    }
    if UMAP is not None:
        reducers["UMAP with y"] = UMAP(n_components=k, random_state=SEED)
    return reducers


def fit_codes(reducer, X_train, y_train, X_test):
    codes = reducer.fit(X_train, y_train).transform(X_train)
    return codes, reducer.transform(X_test)


def mse(reducer, X_test):
    inverse = getattr(reducer, "inverse_transform", None)
    if inverse is None or isinstance(reducer, UMAP or ()):
        return np.nan
    return float(np.mean((inverse(reducer.transform(X_test)) - X_test) ** 2))


def digits_folds(n_folds):
    X, y = load_digits(return_X_y=True)
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=SEED).split(X, y)
    for train, test in folds:
        scaler = StandardScaler().fit(X[train])
        yield scaler.transform(X[train]), y[train], scaler.transform(X[test]), y[test]


def accuracies(codes, y_train, test_codes, y_test):
    return [
        LogisticRegression(max_iter=10000, tol=tol)
        .fit(codes, y_train)
        .score(test_codes, y_test)
        for tol in (0.1, 1e-4)
    ]


def pipeline_table(n_folds, ks=KS):
    print("1. digits: StandardScaler -> reducer(k) -> LogisticRegression,")
    print(f"   {n_folds}-fold stratified CV accuracy, tol=0.1 / tol=1e-4;")
    print("   MSE: test reconstruction error / the same estimator's without y")
    for k in ks:
        scores, errors = {}, {}
        for X_train, y_train, X_test, y_test in digits_folds(n_folds):
            contenders = reference_reducers(k, 10)
            for weight in WEIGHTS:
                for name, estimator in skae_estimators(k, weight).items():
                    contenders[f"{name}, target_weight={weight}"] = estimator
            for name, reducer in contenders.items():
                codes = fit_codes(reducer, X_train, y_train, X_test)
                scores.setdefault(name, []).append(
                    accuracies(codes[0], y_train, codes[1], y_test)
                )
                errors.setdefault(name, []).append(mse(reducer, X_test))
        print(f"\n   k={k}")
        for name, cells in scores.items():
            tol_01, tol_1e4 = np.mean(cells, axis=0)
            line = f"   {name:<48} {tol_01:.3f} / {tol_1e4:.3f}"
            base = name.split(", target_weight=")
            if len(base) == 2 and base[1] != "None":
                unsupervised = errors[f"{base[0]}, target_weight=None"]
                ratio = np.mean(np.divide(errors[name], unsupervised))
                line += f"   MSE x{ratio:.2f}"
            print(line, flush=True)


def semi_supervised_table(n_folds):
    print(f"\n2. digits, {LABELLED_FRACTION:.0%} of the training labels (others -1),")
    print("   k=2, LogisticRegression(tol=1e-4) on the labelled rows' codes;")
    print(f"   test accuracy, mean (min-max) over {n_folds} folds")
    rng = np.random.default_rng(SEED)
    scores = {}
    for X_train, y_train, X_test, y_test in digits_folds(n_folds):
        kept = np.zeros(len(y_train), bool)
        for label in np.unique(y_train):
            rows = np.flatnonzero(y_train == label)
            n_kept = max(1, round(LABELLED_FRACTION * len(rows)))
            kept[rng.choice(rows, n_kept, replace=False)] = True
        partial = np.where(kept, y_train, -1)
        contenders = {} if ONLY else {"PCA": PCA(2, random_state=SEED)}
        if UMAP is not None and not ONLY:
            contenders["UMAP with y (-1 unlabelled)"] = UMAP(random_state=SEED)
        for weight in WEIGHTS:
            for name, estimator in skae_estimators(2, weight).items():
                contenders[f"{name}, target_weight={weight}"] = estimator
        for name, reducer in contenders.items():
            codes, test_codes = fit_codes(reducer, X_train, partial, X_test)
            classifier = LogisticRegression(max_iter=10000, tol=1e-4)
            classifier.fit(codes[kept], y_train[kept])
            scores.setdefault(name, []).append(classifier.score(test_codes, y_test))
    for name, cells in scores.items():
        line = f"   {name:<48} {np.mean(cells):.3f} ({min(cells):.3f}-{max(cells):.3f})"
        base = name.split(", target_weight=")
        if len(base) == 2 and base[1] != "None":
            gain = np.mean(cells) - np.mean(scores[f"{base[0]}, target_weight=None"])
            line += f"   {gain:+.3f} over no labels"
        print(line)


def regression_table(n_folds):
    print("\n3. diabetes: StandardScaler -> reducer(2) -> Ridge, ")
    print(f"   {n_folds}-fold R^2, mean (min-max)")
    X, y = load_diabetes(return_X_y=True)
    scores = {}
    for train, test in KFold(n_folds, shuffle=True, random_state=SEED).split(X):
        scaler = StandardScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        contenders = (
            {}
            if ONLY
            else {
                "PCA": PCA(2, random_state=SEED),
                "PLSRegression": PLSRegression(2),
            }
        )
        for weight in WEIGHTS:
            estimators = skae_estimators(2, weight)
            for name in ("AutoEncoder", "DenoisingAutoEncoder(0.3)"):
                if name in estimators:
                    contenders[f"{name}, target_weight={weight}"] = estimators[name]
            # 353 training rows: the default batch ("auto", 200) makes two
            # steps an epoch, and early stopping ends training after few.
            contenders[f"AutoEncoder(batch_size=32), target_weight={weight}"] = (
                AutoEncoder(2, batch_size=32, target_weight=weight, random_state=SEED)
            )
        for name, reducer in contenders.items():
            codes, test_codes = fit_codes(reducer, X_train, y[train], X_test)
            ridge = Ridge().fit(codes, y[train])
            scores.setdefault(name, []).append(ridge.score(test_codes, y[test]))
    for name, cells in scores.items():
        print(f"   {name:<48} {np.mean(cells):.3f} ({min(cells):.3f}-{max(cells):.3f})")


def timing_table(repeats):
    print("\n4. fit time on digits (k=2), label loss / none, side by side,")
    print(f"   {repeats} alternating repeats: median (min-max) of the ratios")
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for weight in (0.5, 0.9):
        names = ("AutoEncoder", "DenoisingAutoEncoder(0.3)", "UMAPAutoEncoder")
        for name in (n for n in names if n in skae_estimators(2, None)):
            totals, per_epoch, epochs = [], [], {}
            for _ in range(repeats):
                runs = {}
                for w in (None, weight):
                    estimator = skae_estimators(2, w)[name]
                    start = time.perf_counter()
                    estimator.fit(X, y)
                    elapsed = time.perf_counter() - start
                    runs[w] = elapsed, elapsed / estimator.n_iter_
                    epochs[w] = estimator.n_iter_
                totals.append(runs[weight][0] / runs[None][0])
                per_epoch.append(runs[weight][1] / runs[None][1])
            print(
                f"   {name + f', target_weight={weight}':<48} "
                f"fit x{np.median(totals):.2f} ({min(totals):.2f}-{max(totals):.2f})"
                f"   per epoch x{np.median(per_epoch):.2f} "
                f"({min(per_epoch):.2f}-{max(per_epoch):.2f})"
                f"   epochs {epochs[weight]} / {epochs[None]}",
                flush=True,
            )


def main():
    global SEED, ONLY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--sections", default="1234", help="which sections to run, e.g. 23"
    )
    parser.add_argument(
        "--ks", default=",".join(map(str, KS)), help="section 1's k, e.g. 2,5"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--only", nargs="*", default=[], help="e.g. AutoEncoder")
    args = parser.parse_args()
    SEED, ONLY = args.seed, tuple(args.only)
    n_folds, repeats = (2, 1) if args.quick else (5, REPEATS)
    # Reaching max_iter (ConvAutoEncoder's, UMAPAutoEncoder's budget) is
    # expected here; the scores are the point.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message=".*n_jobs value.*")
    sections = {
        "1": lambda: pipeline_table(n_folds, [int(k) for k in args.ks.split(",")]),
        "2": lambda: semi_supervised_table(n_folds),
        "3": lambda: regression_table(n_folds),
        "4": lambda: timing_table(repeats),
    }
    for key in args.sections:
        sections[key]()


if __name__ == "__main__":
    main()
