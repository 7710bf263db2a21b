"""New samples: a density model on the training codes, decoded.

An autoencoder's decoder turns any code into a sample, but only codes like
the training data's decode to realistic ones. So at the end of every fit
(and ``partial_fit`` call) :class:`SamplingMixin` fits a density model to
the codes of the training rows, and :meth:`~SamplingMixin.sample` draws
codes from it and decodes them: "ex-post density estimation" (Ghosh et al.,
"From Variational to Deterministic Autoencoders", ICLR 2020), which also
gives sharper samples than a VAE's prior.

Decoded codes are the decoder's mean: smoother than real rows, with
values that real data rarely take (a pixel at 0.3 where the training
images have 0 or 1). With ``calibrate_samples=True`` each feature of the
decoded samples then goes through the monotone map that takes the
distribution of that feature in the training reconstructions to its
distribution in the training data: a quantile map, as
:class:`~sklearn.preprocessing.QuantileTransformer` and its inverse. Each
mixture component has its own map, fitted on the training rows whose codes
it holds (a component holding few rows uses the map of all rows): what
"blank" and "inked" mean for a pixel differs between a 0 and a 1. In
``benchmarks/bench_sample.py`` both make samples much harder to tell from
real digits, and so do more components than BIC picks, while adding the
decoder's noise (a draw rather than the mean) made them easier to tell
apart, for every variant: ``sample`` returns means.

The fitted state is plain data, ``_latent_density``: a dict of numpy
arrays (the mixture's weights, means and covariances, and the quantiles),
so that pickle and :func:`skae.save` store it as they store any fitted
attribute, and :mod:`skae._io.format.density_checks` validates it when a file is
loaded.
"""

import warnings
from numbers import Integral

import numpy as np
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError, StrOptions
from sklearn.utils._set_output import _get_container_adapter
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .constraints import is_bool

#: The mixture has one component per this many training rows, and at most
#: MAX_COMPONENTS. Chosen by sample realism, not by BIC: on the digits BIC
#: picks 10 components, and 40 give samples that a classifier tells from real
#: rows less often, for every variant (benchmarks/bench_sample.py).
ROWS_PER_COMPONENT = 50
MAX_COMPONENTS = 40

#: A component gets a calibration map of its own only when at least this many
#: of the training codes belong to it: quantiles of fewer rows would hand
#: their samples those few rows' values.
MIN_CALIBRATION_ROWS = 20

#: Levels of a component's map. The maps are stored with the model (40 of
#: them for 40 components): fewer levels than the map of all rows keeps a
#: model's file small, and a component's few dozen rows do not pin down
#: more.
COMPONENT_LEVELS = 20

#: The density and the calibration are fitted on at most this many training
#: rows, drawn at random: with wide codes (64 units, say) a mixture fit
#: on every row of a large set costs more than training the network, and
#: 2000 rows give each of the 40 components 50.
MAX_DENSITY_ROWS = 2000

#: Added to the diagonal of every covariance (GaussianMixture's reg_covar),
#: relative to the codes' variance, so that a component on a few identical
#: codes (a constant unit, one row) keeps an invertible covariance.
REG_COVAR = 1e-6


class SamplingMixin:
    """``sample`` and the latent density behind it, for an autoencoder.

    The estimator takes ``latent_density`` and ``calibrate_samples``
    parameters (constraints in :data:`SAMPLING_CONSTRAINTS`); a variant
    whose codes obey a constraint (non-negative, k-sparse) overrides
    :meth:`_project_codes`.
    """

    # Read at the end of each fit, whose density they change, not the network.
    _warm_start_params = frozenset({"latent_density", "calibrate_samples"})

    def _set_fitted_attributes(self, X, incremental):
        super()._set_fitted_attributes(X, incremental)
        self._latent_density = self._fit_latent_density(X)

    def _fit_latent_density(self, X):
        kind = self.latent_density
        if kind is None:
            return None
        density = {"kind": kind, "quantiles": None, "component_quantiles": None}
        if kind == "prior" and not self.calibrate_samples:
            return density
        seed = int(self._draw_seeds(1)[0])
        if len(X) > MAX_DENSITY_ROWS:
            rows = np.random.default_rng(seed).choice(
                len(X), MAX_DENSITY_ROWS, replace=False
            )
            X = X[np.sort(rows)]
        codes = self._forward_batches(self._encode_batch, X, self._n_features_out)
        codes = np.asarray(codes, dtype=np.float64)
        labels = None
        if kind == "gmm":
            mixture, labels = fit_gmm(codes, seed)
            density.update(mixture)
        if self.calibrate_samples:
            decoded = self._forward_batches(
                self._decode_batch, self._project_codes(codes), self.n_features_in_
            )
            if labels is None:
                density["quantiles"] = marginal_quantiles(decoded, X)
            else:
                density["component_quantiles"] = component_quantiles(
                    decoded, X, labels, len(density["weights"])
                )
        return density

    def _project_codes(self, Z):
        """Codes drawn from the density, made valid codes of this model."""
        return Z

    def sample(self, n_samples=1, random_state=None):
        """Draw new samples: codes from the latent density, decoded.

        The codes come from the density fitted on the training codes at the
        end of the last ``fit`` or ``partial_fit`` (see ``latent_density``)
        and are decoded to the decoder's mean, without observation noise
        (which made samples less realistic, not more). With
        ``calibrate_samples=True`` each feature is then mapped so that its
        distribution matches the training data's; with ``False`` the samples
        are ``inverse_transform`` of the codes drawn.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to draw.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws; an int gives the same samples at every call.
            None draws fresh entropy from the OS (numpy's and torch's global
            random states are never used).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            New samples, float64, in the units of the training data. A
            DataFrame with the input's column names under
            ``set_output(transform="pandas")``.

        Raises
        ------
        NotFittedError
            Before ``fit``, or when the estimator has no latent density
            (``latent_density=None``).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> from skae import AutoEncoder
        >>> X = load_digits().data / 16
        >>> ae = AutoEncoder(n_components=4, max_iter=5, random_state=0).fit(X)
        >>> new = ae.sample(3, random_state=0)
        >>> new.shape
        (3, 64)
        >>> bool(np.array_equal(new, ae.sample(3, random_state=0)))
        True
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or is_bool(n_samples) or n_samples < 1:
            raise InvalidParameterError(
                f"n_samples must be a positive integer, got {n_samples!r}."
            )
        density = getattr(self, "_latent_density", None)
        if density is None:
            raise NotFittedError(
                f"This {type(self).__name__} has no latent density to sample "
                "from: it was fitted with latent_density=None, or by a skae "
                "without sample(). Set latent_density='gmm' and fit it again."
            )
        # None: fresh entropy from the OS, never numpy's global generator.
        if random_state is None:
            rng = np.random.default_rng()
        else:
            rng = check_random_state(random_state)
        # All codes are drawn at once (n_samples x n_components numbers), so
        # that the rows do not depend on the batch size they are decoded in.
        if density["kind"] == "prior":
            Z = rng.standard_normal((n_samples, self._n_features_out))
            labels = None
        else:
            Z, labels = draw_gmm(density, n_samples, rng)
        Z = self._project_codes(Z)
        X_new = self._forward_batches(self._decode_batch, Z, self.n_features_in_)
        maps = density["component_quantiles"]
        if maps is not None:
            for component, quantiles in enumerate(maps):
                rows = labels == component
                X_new[rows] = calibrate(X_new[rows], quantiles)
        elif density["quantiles"] is not None:
            X_new = calibrate(X_new, density["quantiles"])
        adapter = _get_container_adapter("transform", self)
        if adapter is None:
            return X_new
        columns = getattr(self, "feature_names_in_", None)
        if columns is None:
            columns = np.asarray([f"x{i}" for i in range(self.n_features_in_)])
        return adapter.create_container(X_new, None, columns=columns)


#: The constraints of the parameters, for estimators without a prior.
SAMPLING_CONSTRAINTS = {
    "latent_density": [StrOptions({"gmm"}), None],
    "calibrate_samples": ["boolean"],
}


def fit_gmm(codes, seed):
    """A Gaussian mixture fitted to ``codes``, and the component of each code.

    Returns the mixture's weights, means and covariances as a dict of
    arrays, and the labels.
    """
    n_samples, n_dims = codes.shape
    # Relative to the codes' scale, which differs between models and units.
    reg_covar = REG_COVAR * max(float(np.var(codes, axis=0).max()), 1e-12)
    if n_samples < 2:
        # GaussianMixture needs two rows; one row's mixture is a point mass,
        # kept invertible by reg_covar.
        mixture = {
            "weights": np.ones(1),
            "means": codes[:1].copy(),
            "covariances": reg_covar * np.eye(n_dims)[None],
        }
        return mixture, np.zeros(n_samples, dtype=np.intp)
    n_components = min(MAX_COMPONENTS, max(1, n_samples // ROWS_PER_COMPONENT))
    gmm = GaussianMixture(
        n_components, covariance_type="full", reg_covar=reg_covar, random_state=seed
    )
    # A mixture that has not fully converged still samples well, and the
    # user can do nothing about it: the warning would only be noise.
    # The codes are numpy arrays whatever the input was, and the
    # k-means start refuses to run with array API dispatch on.
    # One thread, as KMeans limits BLAS itself: on arrays this small, BLAS's
    # threads cost more than they save (5 to 10 times the fit time for 40
    # components of 8-unit digits codes on a busy 2-core machine).
    with (
        warnings.catch_warnings(),
        config_context(array_api_dispatch=False),
        threadpool_limits(limits=1),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = gmm.fit_predict(codes)
    mixture = {
        "weights": gmm.weights_,
        "means": gmm.means_,
        "covariances": gmm.covariances_,
    }
    return mixture, labels


def marginal_quantiles(decoded, X, n_levels=None):
    """Quantiles of each feature of the reconstructions and of the data.

    Shape (2, n, n_features): the decoder's quantiles, then the data's, at
    ``n`` evenly spaced levels: ``n_levels``, or by default
    ``min(100, n_samples)``.
    """
    if n_levels is None:
        n_levels = min(100, len(X))
    levels = np.linspace(0, 1, n_levels)
    return np.stack(
        [
            np.quantile(np.asarray(decoded, dtype=np.float64), levels, axis=0),
            np.quantile(np.asarray(X, dtype=np.float64), levels, axis=0),
        ]
    )


def component_quantiles(decoded, X, labels, n_components, n_levels=COMPONENT_LEVELS):
    """One calibration map per mixture component, shape (n_components, 2,
    n_levels, n_features): the quantiles of the rows labelled with that
    component, or of all rows for a component with fewer than
    MIN_CALIBRATION_ROWS of them."""
    everything = marginal_quantiles(decoded, X, n_levels=n_levels)
    # float32, a file's and a pickle's size being that of n_components maps.
    maps = np.repeat(everything[None], n_components, axis=0).astype(np.float32)
    for component in range(n_components):
        rows = labels == component
        if rows.sum() >= MIN_CALIBRATION_ROWS:
            maps[component] = marginal_quantiles(
                decoded[rows], X[rows], n_levels=n_levels
            )
    return maps


def calibrate(X, quantiles):
    """Map each feature of ``X`` from the decoder's quantiles to the data's.

    The piecewise-linear, non-decreasing map of QuantileTransformer followed
    by its inverse, written out because the quantiles are stored as plain
    arrays (see the module docstring). Interpolating both ways and averaging
    spreads a run of equal quantiles (a pixel the decoder always leaves
    blank) evenly, as QuantileTransformer does.
    """
    decoded, data = np.asarray(quantiles[0], np.float64), np.asarray(quantiles[1])
    up = _interp_columns(X, decoded, data)
    down = -_interp_columns(-X, -decoded[::-1], -data[::-1])
    return 0.5 * (up + down)


def _interp_columns(X, xp, fp):
    """``np.interp(X[:, j], xp[:, j], fp[:, j])`` for every column j, in one call.

    np.interp takes one column at a time, and a sample of digits from 40
    components would call it thousands of times. So each column is shifted
    into a band of its own, the bands one apart and in column order: the
    concatenated ``xp`` is then sorted, and one interpolation over it is
    every column's. Values outside a column's ``xp`` take its end values,
    as np.interp gives them.
    """
    low, high = xp[0], xp[-1]
    shift = np.arange(xp.shape[1]) * ((high - low).max() + 1.0) - low
    points = np.clip(X, low, high) + shift
    values = np.interp(points.ravel(), (xp + shift).T.ravel(), fp.T.ravel())
    values = values.reshape(X.shape)
    values = np.where(X < low, fp[0], values)
    return np.where(X > high, fp[-1], values)


def draw_gmm(density, n_samples, rng):
    """``n_samples`` codes from a Gaussian mixture, in random order, and the
    component each was drawn from.

    By hand rather than ``GaussianMixture.sample``, which returns the rows
    grouped by component and needs the fitted estimator (not plain arrays).
    """
    weights, means = density["weights"], density["means"]
    labels = rng.choice(len(weights), size=n_samples, p=weights / weights.sum())
    Z = rng.standard_normal((n_samples, means.shape[1]))
    for component, covariance in enumerate(density["covariances"]):
        rows = labels == component
        Z[rows] = means[component] + Z[rows] @ np.linalg.cholesky(covariance).T
    return Z, labels
