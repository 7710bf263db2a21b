"""The latent density's numbers: a Gaussian mixture, and the plan of its
quantile maps (which :mod:`skae._base.quantile_maps` computes), as arrays.

Plain numpy on plain arrays, so that the fitted density is data that pickle,
:func:`skae.save` and :mod:`skae._io.format.density_checks` handle as they
handle any fitted attribute. :mod:`skae._base.sampling` fits and uses it.
What it costs is bounded whatever the width (``benchmarks/bench_sizes.py``):
codes of over :data:`FULL_COVARIANCE_UNITS` units get diagonal covariances
(a full one costs ``n_components ** 3`` per component: 74 s for a 4,096-unit
code), fitted on the units that vary only; codes of over
:data:`LOW_RANK_UNITS` store low-rank ones; and :func:`density_plan` keeps
the stored density within :data:`DENSITY_BUDGET` of the weights' bytes
(a ``ConvAutoEncoder`` of 0.9 MB of weights once carried 8 MB of maps at
20,000 features). The decoded side of a map is the decoder's output on
draws from its components, not the reconstructions of its training rows:
the map then takes what ``sample`` decodes to what the data hold (on the
digits, C2ST 0.56 rather than 0.81 for ``AutoEncoder(32)``).
"""

import warnings
from functools import cache

import numpy as np
from sklearn import config_context
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import ThreadpoolController

from .quantile_maps import LEVELS_DTYPE

#: The mixture has one component per this many training rows, and at most
#: MAX_COMPONENTS, fewer where the stored size asks (see DENSITY_BUDGET).
ROWS_PER_COMPONENT = 50
MAX_COMPONENTS = 40

#: EM iterations: on the digits samples were as realistic after 20 as after
#: 100 (scikit-learn's default), which can take 5 times longer.
GMM_MAX_ITER = 30

#: Codes of more units get diagonal covariances. Not for fewer: on the
#: digits, diagonal ones made samples of 32-unit codes easier to tell from
#: real rows (C2ST 0.83 and 0.85 against 0.69 for AutoEncoder(32) and
#: SparseAutoEncoder()).
FULL_COVARIANCE_UNITS = 32
#: Codes of more units (and at most FULL_COVARIANCE_UNITS) store each full
#: covariance as its COVARIANCE_RANK leading eigenvectors plus a diagonal:
#: a quarter of the bytes at 32 units, so that the budget affords more
#: components. On the digits (same networks): AutoEncoder(32) C2ST 0.68 with
#: 18 such components against 0.78 with 10 full ones sharing 4 maps, and
#: 0.65 with 35 components as before (2.9x the weights' bytes);
#: SparseAutoEncoder() 0.75 with 30 against 0.78 with 14 full ones.
LOW_RANK_UNITS = 16
COVARIANCE_RANK = 4

#: The stored density (mixture, maps, their ranges) takes at most this share
#: of the weights' bytes: as many components as it affords, each with a map
#: of MAP_LEVELS levels. On the digits, a map per component did better than
#: more components sharing fewer maps (C2ST 0.71 with 14 components and 14
#: maps against 0.75 with 35 and 6 for AutoEncoder(8); 0.79 against 0.81
#: for SparseAutoEncoder()), and fewer levels did worse (0.87 with 8).
DENSITY_BUDGET = 0.45
#: ... or at most this many bytes, if more: the rule above would leave a
#: small model (a few features, a linear network) without maps, and a few
#: kilobytes cost nothing next to a file's header.
MIN_DENSITY_BYTES = 2**14
MAP_LEVELS = 16
#: Where the budget affords a map for fewer components than this, this
#: many components share the maps it affords (grouped by their means): a
#: model whose maps are expensive (wide rows, few weights) keeps a mixture
#: rather than one Gaussian.
MIN_SHARED_COMPONENTS = 10
#: Where not even one map of this many levels fits in the budget (a small
#: convolutional network on rows of thousands of pixels), there is none:
#: ``sample`` returns the decoded draws.
MIN_MAP_LEVELS = 4

#: A group's decoded side is taken from at least this many draws of it.
MIN_DRAWS = 200
#: Draws spread over the groups by weight for the decoded sides.
N_DRAWS = 2000

#: Added to the diagonal of every covariance (GaussianMixture's reg_covar),
#: relative to the codes' variance, so that a component on a few identical
#: codes (a constant unit, one row) keeps an invertible covariance.
REG_COVAR = 1e-6


@cache
def _threadpools():
    """The process's thread pools, found once: ``threadpool_limits`` looks for
    them at each call, which took 7 ms, as long as the mixture of a small
    code. Called first after a fit, when every library is loaded."""
    return ThreadpoolController()


def fit_gmm(codes, seed, n_components=MAX_COMPONENTS):
    """A Gaussian mixture fitted to ``codes``, and the component of each code.

    At most ``n_components`` components, and one per ROWS_PER_COMPONENT rows.
    Returns the mixture's weights, means and covariances as a dict of
    arrays (covariances of shape (n, d, d), or (n, d) for diagonal ones),
    and the labels.
    """
    n_samples, n_dims = codes.shape
    full = n_dims <= FULL_COVARIANCE_UNITS
    fitted_codes = codes
    if not full:
        # A wide code leaves most units at one value on every training row
        # (a top-k code of 4,096 units fired 698 of them on 200 rows). Such
        # a unit has that value as mean and reg_covar as variance in every
        # diagonal component, and adds the same term to every component's
        # likelihood: fitting on the other units gives the same mixture, for
        # less. Selected before the float64 copy, which at 4,096 units took
        # as long as the mixture.
        varying = np.ptp(codes, axis=0) > 0
        varying[0] |= not varying.any()  # a column for GaussianMixture to fit
        fitted_codes = codes[:, varying]
    fitted_codes = np.asarray(fitted_codes, np.float64)
    # Relative to the codes' scale, which differs between models and units
    # (a constant unit's variance is 0 and never the largest).
    reg_covar = REG_COVAR * max(float(np.var(fitted_codes, axis=0).max()), 1e-12)
    if n_samples < 2:
        # GaussianMixture needs two rows; one row's mixture is a point mass,
        # kept invertible by reg_covar.
        covariance = reg_covar * (np.eye(n_dims) if full else np.ones(n_dims))
        mixture = {
            "weights": np.ones(1),
            "means": np.asarray(codes[:1], np.float64),
            "covariances": covariance[None],
        }
        return mixture, np.zeros(n_samples, dtype=np.intp)
    gmm = GaussianMixture(
        min(n_components, max(1, n_samples // ROWS_PER_COMPONENT)),
        covariance_type="full" if full else "diag",
        reg_covar=reg_covar,
        max_iter=GMM_MAX_ITER,
        random_state=seed,
    )
    fitted, labels = _fitted(gmm, fitted_codes)
    if full:
        return fitted, labels
    n = len(fitted["weights"])
    means = np.empty((n, n_dims))
    means[:] = codes[0]
    means[:, varying] = fitted["means"]
    covariances = np.full((n, n_dims), reg_covar)
    covariances[:, varying] = fitted["covariances"]
    fitted.update(means=means, covariances=covariances)
    return fitted, labels


def _fitted(gmm, codes):
    # A mixture that has not fully converged still samples well: the warning
    # would only be noise. The k-means start refuses array API dispatch.
    # One thread: on arrays this small BLAS's threads cost 5 to 10 times the
    # fit time (40 components of 8-unit digits codes, busy 2-core machine).
    with (
        warnings.catch_warnings(),
        config_context(array_api_dispatch=False),
        _threadpools().limit(limits=1),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = gmm.fit_predict(codes)
    mixture = {
        "weights": gmm.weights_,
        "means": gmm.means_,
        "covariances": gmm.covariances_,
    }
    return mixture, labels


def draw_gmm(density, n_samples, rng, components=None):
    """``n_samples`` codes from a Gaussian mixture, in random order, and the
    component each was drawn from; only from ``components`` if given.

    By hand rather than ``GaussianMixture.sample``, which returns the rows
    grouped by component and needs the fitted estimator (not plain arrays).
    """
    weights, means = density["weights"], density["means"]
    if components is None:
        components = np.arange(len(weights))
    p = weights[components] / weights[components].sum()
    labels = components[rng.choice(len(components), size=n_samples, p=p)]
    Z = rng.standard_normal((n_samples, means.shape[1]))
    covariances = density["covariances"]
    factors = density.get("covariance_factors")
    if factors is not None:
        # diagonal + factors.T @ factors: one more normal per factor row.
        noise = rng.standard_normal((n_samples, factors.shape[1]))
    for component in components:
        rows = labels == component
        if covariances.ndim == 2:  # diagonal
            scale = np.sqrt(covariances[component])
            Z[rows] = means[component] + Z[rows] * scale
            if factors is not None:
                # A sum over the few factors rather than a matmul, whose
                # BLAS kernel (and last bit) can depend on the arrays'
                # alignment: a loaded model samples bit for bit as it did.
                part = Z[rows]
                for weight, factor in zip(
                    noise[rows].T, factors[component], strict=True
                ):
                    part += weight[:, None] * factor.astype(np.float64)
                Z[rows] = part
        else:
            factor = np.linalg.cholesky(covariances[component].astype(np.float64))
            Z[rows] = means[component] + Z[rows] @ factor.T
    return Z, labels


def density_plan(weight_bytes, n_rows, n_units, n_features, calibrate):
    """The stored density's shape within ``DENSITY_BUDGET`` of ``weight_bytes``.

    Returns the number of components, of calibration maps (each shared by
    a group of components; 0: none) and of levels per map. A map for each
    component where the budget affords it; where not, at least
    MIN_SHARED_COMPONENTS components share the maps it affords, and a
    single map may have fewer levels.
    """
    budget = max(DENSITY_BUDGET * weight_bytes, MIN_DENSITY_BYTES)
    covariance = n_units
    if n_units <= LOW_RANK_UNITS:
        covariance *= n_units
    elif n_units <= FULL_COVARIANCE_UNITS:
        covariance *= 1 + COVARIANCE_RANK
    # float64 weight, float32 means and covariance, int64 map index.
    mixture = 8 + 4 * (n_units + covariance) + 8
    most = min(MAX_COMPONENTS, max(1, n_rows // ROWS_PER_COMPONENT))
    if not calibrate:
        return min(most, max(1, int(budget // mixture))), 0, 0
    # Maps store the data's side only (the decoder's is computed when
    # ``sample`` needs it): float32 low and high, and levels, per feature.
    spare = budget - 2 * 4 * n_features
    per_map = n_features * np.dtype(LEVELS_DTYPE).itemsize
    n_components = int(spare // (mixture + MAP_LEVELS * per_map))
    if n_components >= min(most, MIN_SHARED_COMPONENTS):
        n_components = min(most, n_components)
        return n_components, n_components, MAP_LEVELS
    n_components = min(most, MIN_SHARED_COMPONENTS, max(1, int(budget // mixture)))
    spare -= n_components * mixture
    n_maps = int(spare // (MAP_LEVELS * per_map))
    if n_maps >= 1:
        return n_components, n_maps, MAP_LEVELS
    n_levels = min(MAP_LEVELS, int(spare // per_map))
    if n_levels >= MIN_MAP_LEVELS:
        return n_components, 1, n_levels
    return n_components, 0, 0


def group_components(density, seed, n_groups):
    """The map group of each mixture component: k-means on their means."""
    means, weights = density["means"], density["weights"]
    if len(weights) <= n_groups:
        return np.arange(len(weights))
    with _threadpools().limit(limits=1):
        kmeans = KMeans(n_groups, n_init=1, random_state=seed)
        groups = kmeans.fit(means, sample_weight=weights).labels_
    # Numbered 0..n-1 without gaps, should k-means leave a cluster empty.
    return np.unique(groups, return_inverse=True)[1].astype(np.int64)


def stored_mixture(mixture):
    """The mixture as it is stored: means and covariances in float32, half
    the bytes (the weights stay float64, so that they sum to 1 as
    ``numpy``'s ``choice`` requires); the full covariances of a code of
    more than LOW_RANK_UNITS units as ``covariance_factors`` and a diagonal.
    A full covariance that rounding left not positive definite gets a little
    more on its diagonal."""
    # One BLAS thread, as for the fit: on 40 matrices of 32 x 32, two
    # threads made eigh take 0.4 s of a 1.8 s fit, once torch's training
    # threads had just stopped (a profile, 12,000 x 784, loaded machine).
    with _threadpools().limit(limits=1, user_api="blas"):
        return _stored_mixture(mixture)


def _stored_mixture(mixture):
    covariances = np.asarray(mixture["covariances"], dtype=np.float64)
    factors = None
    if covariances.ndim == 3 and covariances.shape[1] > LOW_RANK_UNITS:
        covariances, factors = _low_rank(covariances, COVARIANCE_RANK)
        factors = factors.astype(np.float32)
    covariances = covariances.astype(np.float32)
    if covariances.ndim == 3:
        for component, matrix in enumerate(covariances):
            bump = max(float(np.abs(np.diag(matrix)).max()), 1e-30) * 1e-6
            while not _positive_definite(matrix):
                matrix += np.float32(bump) * np.eye(len(matrix), dtype=np.float32)
                bump *= 10
            covariances[component] = matrix
    return {
        "weights": np.asarray(mixture["weights"], dtype=np.float64),
        "means": np.asarray(mixture["means"], dtype=np.float32),
        "covariances": covariances,
        "covariance_factors": factors,
    }


def _low_rank(covariances, rank):
    """Each covariance as ``diagonal + factors.T @ factors``: its ``rank``
    leading eigenvectors, scaled, and what they leave of the variances
    (at least 1e-6 of the largest, as reg_covar keeps it invertible)."""
    values, vectors = np.linalg.eigh(covariances)
    values, vectors = values[:, -rank:], vectors[:, :, -rank:]
    factors = np.sqrt(np.maximum(values, 0))[:, :, None] * vectors.transpose(0, 2, 1)
    variances = np.diagonal(covariances, axis1=1, axis2=2)
    floor = 1e-6 * variances.max(axis=1, keepdims=True)
    rest = variances - np.einsum("nrd,nrd->nd", factors, factors)
    return np.maximum(rest, floor), factors


def _positive_definite(matrix):
    try:
        np.linalg.cholesky(matrix.astype(np.float64))
    except np.linalg.LinAlgError:
        return False
    return True
