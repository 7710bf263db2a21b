"""The PCA start: PCA's mean, directions and score scales, without a copy of X.

The network's epoch 0 is PCA (see ``ResidualAutoEncoderModule``), so every
default fit computes one. scikit-learn's ``PCA`` needs the rows in float64:
at 60,000 x 784 that copy and the centred one took twice the data's memory,
most of a fit's peak. Up to ``COVARIANCE_FEATURES`` features the directions
come instead from the covariance matrix, summed over chunks of rows (the
route ``PCA(svd_solver="covariance_eigh")`` takes on whole arrays); wider
tables take the randomized route ``PCA(svd_solver="randomized")`` takes,
but centre the rows implicitly: PCA's own centred copy of X was most of a
2,000 x 20,000 fit's peak memory (3.5x data + weights + Adam's moments,
bench_sizes.py's section 5).
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.utils.extmath import svd_flip
from threadpoolctl import threadpool_limits

from .._utils.columns import column_sums

#: Smallest scale of a PCA start's scores: the encoder's weights, 1 / scale,
#: stay 1000 times below float32's largest number (and UMAP's, a third of
#: it, too).
SMALLEST_SCALE = 1e3 / np.finfo(np.float32).max

#: Widest table whose covariance (32 MB at this width) the start forms.
COVARIANCE_FEATURES = 2048

#: Values per float64 chunk of rows (32 MB).
CHUNK_VALUES = 2**22


def pca_start(X, n_components, draw_seed, n_workers=1):
    """PCA's mean, components and score scales on ``X``, for a PCA start.

    ``draw_seed()`` seeds the PCA; it is called only when there is a PCA to
    fit. ``n_workers`` threads form the covariance side by side, a chunk of
    rows each; the result does not depend on their number. PCA finds at most
    min(n_samples, n_features) directions, none in constant data; the other
    code units start at zero (see ResidualAutoEncoderModule) and only the
    mean is PCA's.

    The PCA runs on one BLAS thread: a multi-threaded BLAS sums in an order
    that depends on its thread count, so that a search's loky or dask
    workers (one thread each) and the main process would start from PCAs a
    few ulps apart, and their scores would differ by up to 1e-5.
    """
    n_samples, n_features = X.shape
    chunk = max(1, CHUNK_VALUES // n_features)
    with threadpool_limits(limits=1, user_api="blas"):
        mean = column_sums(X, chunk) / n_samples
        components, scale = np.empty((0, n_features)), np.empty(0)
        # In float64: a float32 spread of values near float32's largest is inf.
        spread = X.max(axis=0).astype(np.float64) - X.min(axis=0)
        if n_samples < 2 or not spread.any():
            return mean, components, scale
        n_found = min(n_components, n_samples, n_features)
        if n_features <= COVARIANCE_FEATURES:
            variance, components = _covariance_pca(
                X, mean, n_found, chunk, n_workers, spread.max()
            )
        else:
            variance, components = _randomized_pca(
                X, mean, n_found, draw_seed(), spread.max()
            )
    # Whitened scores: every unit starts with unit variance. In a
    # throw-away run of bench_autoencoder.py's section 3 (digits pipeline),
    # whitened codes scored 0.878 at k=30 against 0.865 for raw scores
    # (PCA: 0.868); the section prints only the default, so re-measure
    # before changing this. The floors keep a direction of (almost) no
    # variance from blowing the encoder's weights up, the second one out of
    # float32's range when the data lie below it (1e-42, say); the
    # reconstruction is PCA's whatever the scale.
    scale = np.sqrt(np.maximum(variance, 1e-6 * variance.max()))
    scale = np.maximum(scale, SMALLEST_SCALE)
    return mean, components, scale


def _covariance_pca(X, mean, n_found, chunk, n_workers, largest_spread):
    """The top ``n_found`` variances and directions, as ``PCA`` gives them."""
    n_samples, n_features = X.shape
    # Each chunk's product is float32, as PCA's covariance route computes it
    # for float32 rows, and is added in float64. In float64 the products
    # took 1.0 s of a 10-epoch, 8 s fit at 60,000 x 784 (bench_sizes.py,
    # section 4), on the one BLAS thread that makes the start reproducible;
    # float32 halves that, and workers, each multiplying whole chunks on one
    # BLAS thread and summed in row order, split it without changing a bit.
    # float32 squares overflow above 1.8e19 and vanish below 1e-23, so the
    # rows are first scaled by a power of two (exactly) that puts the centred
    # values near [-1, 1].
    exponent = np.clip(-np.ceil(np.log2(largest_spread)), -126, 127)
    unit = 2.0**exponent
    unit32, shift32 = np.float32(unit), (mean * unit).astype(np.float32)

    def centred_product(start):
        rows = X[start : start + chunk].astype(np.float32)
        rows *= unit32
        rows -= shift32
        return rows.T @ rows

    covariance = np.zeros((n_features, n_features))
    starts = range(0, n_samples, chunk)
    n_workers = max(1, min(n_workers, len(starts)))
    with ThreadPoolExecutor(n_workers) as pool:
        # A round of n_workers chunks at a time bounds the memory held.
        for first in range(0, len(starts), n_workers):
            for product in pool.map(centred_product, starts[first : first + n_workers]):
                covariance += product
    covariance /= (n_samples - 1) * unit**2
    variance, vectors = np.linalg.eigh(covariance)
    top = np.argsort(variance)[::-1][:n_found]
    # eigh's values can come out a hair below zero; PCA clips them too.
    variance = np.maximum(variance[top], 0.0)
    # PCA's sign convention, so that codes start as PCA's transform.
    _, components = svd_flip(None, vectors[:, top].T, u_based_decision=False)
    return variance, components


#: The randomized route's extra directions and power iterations, as
#: scikit-learn's ``randomized_svd`` has them by default.
N_OVERSAMPLES = 10
N_POWER_ITERATIONS = 7


def _randomized_pca(X, mean, n_found, seed, largest_spread):
    """The top ``n_found`` variances and directions of ``X - mean``, by a
    randomized range finder (Halko et al., as ``randomized_svd``) whose
    products with ``X - mean`` are those with ``X`` corrected by the mean's:
    no centred copy of X. Products are float32, as PCA's on float32 rows,
    after scaling by a power of two as in :func:`_covariance_pca`."""
    n_samples, n_features = X.shape
    X = X.astype(np.float32, copy=False)
    exponent = np.clip(-np.ceil(np.log2(largest_spread)), -126, 127)
    unit = np.float32(2.0**exponent)
    shift = (mean * float(unit)).astype(np.float32)

    def centred_times(Q):  # unit * (X - mean) @ Q
        return X @ (unit * Q) - shift @ Q

    def centred_transposed_times(P):  # unit * (X - mean).T @ P
        return X.T @ (unit * P) - np.outer(shift, P.sum(axis=0))

    rng = np.random.default_rng(seed)
    size = min(n_found + N_OVERSAMPLES, n_samples, n_features)
    Q = rng.standard_normal((n_features, size)).astype(np.float32)
    P = np.linalg.qr(centred_times(Q))[0]
    for _ in range(N_POWER_ITERATIONS):
        Q = np.linalg.qr(centred_transposed_times(P))[0]
        P = np.linalg.qr(centred_times(Q))[0]
    B = centred_transposed_times(P).T.astype(np.float64)
    _, singular, vectors = np.linalg.svd(B, full_matrices=False)
    variance = (singular[:n_found] / float(unit)) ** 2 / (n_samples - 1)
    _, components = svd_flip(None, vectors[:n_found], u_based_decision=False)
    return variance, components
