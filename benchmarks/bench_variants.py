"""DenoisingAutoEncoder vs PCA as a denoiser; SparseAutoEncoder vs dictionary learning.

Prints, in one run, on load_digits scaled to [0, 1] with a 70/30 split
(fit on the training part, measure on the test part):

1. Denoising. Gaussian noise of standard deviation 0.3 is added to the test
   set. For k = 8, 16, 32 code units: MSE(denoised, clean) divided by
   MSE(noisy, clean) (target <= 0.5), and divided by the error of
   ``PCA(n_components=k)`` used as a denoiser, i.e. projecting the noisy
   samples and reconstructing them (target <= 0.8). The autoencoders are
   trained with the same kind and level of noise ("gaussian", 0.3); one
   ``noise="masking"`` row (dropout after the input) shows the other kind.
   PCA's error is also given at its best k, to show the comparison is not
   won by picking a bad k for PCA.
2. Sparse codes. ``SparseAutoEncoder(sparsity="topk")`` against
   ``MiniBatchDictionaryLearning`` whose codes are computed by orthogonal
   matching pursuit with ``transform_n_nonzero_coefs = n_active``: the same
   number of components and exactly the same sparsity. For each: fraction of
   zero code entries, test reconstruction MSE, fit time and transform time,
   and the ratios to dictionary learning (targets: MSE <= 1.0x, fit time
   <= 1.0x). The ``sparsity="l1"`` row is compared with dictionary learning
   at the (rounded) mean number of non-zeros of its codes.

Times are the minimum over ``--repeats`` fits (3 by default), with both
methods on the same machine in the same run; on a busy machine they are noisy.

Run: ``python benchmarks/bench_variants.py [--repeats 3]``.
"""

import argparse
import time
import warnings
from functools import partial

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import DenoisingAutoEncoder, SparseAutoEncoder

SIGMA = 0.3

# Sparse configurations: (n_components, n_active, extra SparseAutoEncoder
# parameters), all with SparseAutoEncoder's defaults (chosen on a validation
# split of the training part, never on this test set: see its Notes).
# Dictionary learning keeps its defaults, except that codes come from OMP
# with exactly n_active non-zeros.
SPARSE_CONFIGS = [
    (16, 3, {}),
    (32, 4, {}),
    (64, 5, {}),
]
# The L1 penalty gives no exact sparsity: alpha_code=0.1 leaves about 9 active
# units per sample here; at 0.3 every unit dies (all codes zero), so the row
# would compare nothing. Most of the sparsity it reaches comes from units that
# never fire, which is why "topk" is the default.
L1_CONFIG = (32, {"sparsity": "l1", "alpha_code": 0.1})


def load():
    X, y = load_digits(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0, stratify=y)
    scaler = MinMaxScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def mse(a, b):
    return float(np.mean((a - b) ** 2))


def timed(fit, repeats):
    """What the last of ``repeats`` calls of ``fit`` returned, and the fastest time."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        model = fit()
        best = min(best, time.perf_counter() - start)
    return model, best


def pca_denoise(X_train, noisy, k):
    pca = PCA(n_components=k, random_state=0).fit(X_train)
    return pca.inverse_transform(pca.transform(noisy))


def denoising(X_train, X_test):
    noisy = X_test + np.random.default_rng(0).normal(0, SIGMA, X_test.shape)
    noisy_error = mse(noisy, X_test)
    pca_errors = {k: mse(pca_denoise(X_train, noisy, k), X_test) for k in range(1, 65)}
    best_k = min(pca_errors, key=pca_errors.get)
    print(
        f"\n1. Denoising: digits test set + N(0, {SIGMA}^2) noise; "
        f"MSE(noisy, clean) = {noisy_error:.4f}; PCA's best denoiser: "
        f"k = {best_k}, MSE {pca_errors[best_k]:.4f}"
    )
    header = (
        f"{'model':<34} {'k':>3} {'MSE':>8} {'/noisy':>7} {'/PCA(k)':>8} "
        f"{'/PCA best':>9} {'fit s':>6}  targets: /noisy <= 0.5, /PCA(k) <= 0.8"
    )
    print(header)
    print("-" * len(header))
    rows = [(k, "gaussian") for k in (8, 16, 32)] + [(16, "masking")]
    for k, noise in rows:
        dae = DenoisingAutoEncoder(
            n_components=k, noise=noise, noise_level=SIGMA, random_state=0
        )
        start = time.perf_counter()
        dae.fit(X_train)
        seconds = time.perf_counter() - start
        error = mse(dae.denoise(noisy), X_test)
        name = f"DenoisingAutoEncoder({noise}, {SIGMA})"
        print(
            f"{name:<34} {k:>3} {error:>8.4f} {error / noisy_error:>7.3f} "
            f"{error / pca_errors[k]:>8.3f} {error / pca_errors[best_k]:>9.3f} "
            f"{seconds:>6.1f}"
        )
        print(
            f"{'PCA denoiser':<34} {k:>3} {pca_errors[k]:>8.4f} "
            f"{pca_errors[k] / noisy_error:>7.3f}"
        )


def dictionary_learning(n_components, n_nonzero, X_train, X_test, repeats):
    model = MiniBatchDictionaryLearning(
        n_components=n_components,
        transform_algorithm="omp",
        transform_n_nonzero_coefs=n_nonzero,
        random_state=0,
    )
    dl, fit_seconds = timed(partial(model.fit, X_train), repeats)
    start = time.perf_counter()
    codes = dl.transform(X_test)
    transform_seconds = time.perf_counter() - start
    train_error = mse(dl.transform(X_train) @ dl.components_, X_train)
    error = mse(codes @ dl.components_, X_test)
    return codes, train_error, error, fit_seconds, transform_seconds


def sparse_row(name, codes, train_error, error, fit_s, transform_s, reference=None):
    zeros = np.mean(codes == 0)
    nonzeros = np.mean(np.count_nonzero(codes, axis=1))
    dead = int(np.sum(~codes.any(axis=0)))
    line = (
        f"{name:<34} {zeros:>6.3f} {nonzeros:>5.2f} {dead:>4} {train_error:>9.4f} "
        f"{error:>8.4f} {fit_s:>6.2f} {transform_s:>7.3f}"
    )
    if reference is not None:
        line += f" {error / reference[0]:>7.2f}x {fit_s / reference[1]:>6.2f}x"
    print(line)


def sparse(X_train, X_test, repeats):
    print(
        "\n2. Sparse codes on digits: SparseAutoEncoder (SAE) vs "
        "MiniBatchDictionaryLearning (DL, OMP codes) at equal sparsity.\n"
        "   MSE is on the test set; dead = code units that never fire on it."
    )
    header = (
        f"{'model':<34} {'zeros':>6} {'nnz':>5} {'dead':>4} {'train MSE':>9} "
        f"{'MSE':>8} "
        f"{'fit s':>6} {'trans s':>7} {'MSE/DL':>8} {'fit/DL':>7}  "
        "targets: <= 1.0x, <= 1.0x"
    )
    print(header)
    print("-" * len(header))
    configs = list(SPARSE_CONFIGS)
    configs.append((L1_CONFIG[0], None, L1_CONFIG[1]))
    for n_components, n_active, params in configs:
        if n_active is None:
            name = f"SAE({n_components}, l1 {params['alpha_code']:g}"
        else:
            name = f"SAE({n_components}, topk {n_active}"
            params = {**params, "n_active": n_active}
        name += ")"
        model = SparseAutoEncoder(n_components, random_state=0, **params)
        sae, fit_seconds = timed(partial(model.fit, X_train), repeats)
        start = time.perf_counter()
        codes = sae.transform(X_test)
        transform_seconds = time.perf_counter() - start
        error = mse(sae.inverse_transform(codes), X_test)
        n_nonzero = n_active or max(1, round(np.count_nonzero(codes, 1).mean()))
        *dl_results, dl_fit, dl_transform = dictionary_learning(
            n_components, n_nonzero, X_train, X_test, repeats
        )
        sparse_row(
            f"DL({n_components}, omp {n_nonzero})",
            *dl_results,
            dl_fit,
            dl_transform,
        )
        sparse_row(
            name,
            codes,
            sae.reconstruction_error_,
            error,
            fit_seconds,
            transform_seconds,
            reference=(dl_results[-1], dl_fit),
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    X_train, X_test = load()
    print(
        f"digits: {X_train.shape[0]} training and {X_test.shape[0]} test samples, "
        f"{X_train.shape[1]} features scaled to [0, 1]"
    )
    denoising(X_train, X_test)
    sparse(X_train, X_test, args.repeats)


if __name__ == "__main__":
    main()
