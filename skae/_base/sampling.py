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
distribution of that feature in the decoded draws to its distribution in
the training data: a quantile map, as
:class:`~sklearn.preprocessing.QuantileTransformer` and its inverse. The
mixture's components are grouped by their means, and each group has its
own map, fitted on the draws of its components and the training rows whose
codes they hold (a group holding few rows maps to the data of all rows):
what "blank" and "inked" mean for a pixel differs between a 0 and a 1. In
``benchmarks/bench_sample.py`` both make samples much harder to tell from
real digits, and so do more components than BIC picks, while adding the
decoder's noise (a draw rather than the mean) made them easier to tell
apart, for every variant: ``sample`` returns means.

The fitted state is plain data, ``_latent_density``: a dict of numpy
arrays (the mixture's weights, means and covariances, and the maps' data
side; :mod:`skae._base.density` holds the numbers' side and says what bounds
their cost whatever the width), so that pickle and :func:`skae.save` store
it as any fitted attribute, and :mod:`skae._io.format.density_checks`
validates it when a file is loaded.
"""

import copy
import weakref
import zlib
from numbers import Integral

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError, StrOptions
from sklearn.utils._set_output import _get_container_adapter
from sklearn.utils.validation import check_is_fitted

from .._utils.runtime import available_memory
from .constraints import is_bool
from .density import (
    MIN_DRAWS,
    N_DRAWS,
    density_plan,
    draw_gmm,
    fit_gmm,
    group_components,
    stored_mixture,
)
from .quantile_maps import (
    calibrate,
    calibrate_groups,
    column_quantiles,
    marginal_quantiles,
    pack_maps,
)

#: A group gets a calibration map of its own only when at least this many
#: of the training codes belong to it: quantiles of fewer rows would hand
#: their samples those few rows' values.
MIN_CALIBRATION_ROWS = 20

#: The density and the calibration are fitted on at most this many training
#: rows, drawn at random: with wide codes (64 units, say) a mixture fit
#: on every row of a large set costs more than training the network, and
#: 2000 rows give each of the 40 components 50.
MAX_DENSITY_ROWS = 2000

#: A group's draws hold at most about this many code values, and decode to
#: at most about this many values. For a 4,096-unit code, 2**19 made the
#: draws, their top-k projection and their decoding half of the density's
#: time; 16 levels need no more than the 50 draws it now allows.
CODE_VALUES = 2**17
ROW_VALUES = 2**23

#: Each estimator's density and the decoded sides of its maps (see
#: SamplingMixin._decoded_sides): beside it, not in its pickles and files.
_DECODED_SIDES = weakref.WeakKeyDictionary()

#: ``sample`` draws, decodes and calibrates about this many values at a
#: time, so that its memory beyond the array it returns is one such batch.
SAMPLE_BATCH_VALUES = 2**20


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
        try:
            super()._set_fitted_attributes(X, incremental)
            # From reconstruction_error_'s pass, where it kept them.
            codes = getattr(self, "_training_codes", None)
            try:
                self._latent_density = self._fit_latent_density(X, codes)
            except KeyboardInterrupt:
                # The epochs are trained: a Ctrl-C now keeps them, as one
                # during training does (the fit raises FitInterrupted, which
                # keeps the state), without a density; ``sample`` says so.
                self._latent_density = None
                self.net_.interrupted_ = True
        finally:
            self.__dict__.pop("_training_codes", None)

    def _keeps_training_codes(self, X):
        kind = self.latent_density
        needed = kind == "gmm" or kind == "prior" and self.calibrate_samples
        return needed and len(X) <= MAX_DENSITY_ROWS

    def _fit_latent_density(self, X, codes=None):
        kind = self.latent_density
        if kind is None:
            return None
        density = {
            "kind": kind,
            "quantiles": None,
            "component_quantiles": None,
            "quantile_range": None,
            "component_maps": None,
        }
        if kind == "prior" and not self.calibrate_samples:
            return density
        seed = int(self._draw_seeds(1)[0])
        if len(X) > MAX_DENSITY_ROWS:
            rows = np.random.default_rng(seed).choice(
                len(X), MAX_DENSITY_ROWS, replace=False
            )
            X = X[np.sort(rows)]
            codes = None
        with self._fit_summary_module() as inference:
            return self._fit_density_with(X, density, seed, inference, codes)

    def _fit_density_with(self, X, density, seed, inference, codes):
        kind = density["kind"]
        if codes is None:
            codes = self._forward_batches(
                self._encode_batch, X, self._n_features_out, inference=inference
            )
        if kind == "prior":
            decoded = self._decode_summary(codes, inference)
            density["quantiles"] = marginal_quantiles(decoded, X)
            return density
        weight_bytes = sum(
            p.numel() * p.element_size() for p in self.net_.module_.parameters()
        )
        n_components, n_maps, n_levels = density_plan(
            weight_bytes, *codes.shape, self.n_features_in_, self.calibrate_samples
        )
        mixture, labels = fit_gmm(codes, seed, n_components)
        # As stored: what ``sample`` and the maps' decoded side draw from.
        mixture = stored_mixture(mixture)
        density.update(mixture)
        if n_maps:
            groups = group_components(mixture, seed, n_maps)
            sides = self._data_sides(X, labels, groups, seed, n_levels)
            levels, value_range = pack_maps(sides)
            density.update(
                component_quantiles=levels,
                quantile_range=value_range,
                component_maps=groups,
            )
        return density

    def _draws_per_group(self, n_features):
        """The most draws (and data rows) a map's side is taken from: they
        cost memory and time with the width of the code and of the rows."""
        return max(
            MIN_DRAWS // 4,
            min(CODE_VALUES // self._n_features_out, ROW_VALUES // n_features),
        )

    def _data_sides(self, X, labels, groups, seed, n_levels):
        """The data's side of each group's map, quantiles of its rows: shape
        (groups, 1, n_levels, n_features). See :meth:`_decoded_sides`."""
        rng = np.random.default_rng(seed)
        levels = np.linspace(0, 1, n_levels)
        most = self._draws_per_group(X.shape[1])
        sides = []
        for group in range(groups.max() + 1):
            rows = np.flatnonzero(np.isin(labels, np.flatnonzero(groups == group)))
            if len(rows) < MIN_CALIBRATION_ROWS:
                rows = np.arange(len(X))
            if len(rows) > most:
                # The rows' side bounded as the draws' is: 16 levels need
                # no more, and sorting wide rows was most of the cost.
                rows = rows[np.sort(rng.choice(len(rows), most, replace=False))]
            # Gathered once chosen: gathered whole, a wide table's rows were
            # a third of its fit's peak memory.
            sides.append([column_quantiles(X[rows], levels)])
        return np.asarray(sides, dtype=np.float64)

    def _decoded_sides(self, density, inference):
        """The decoder's side of each group's map: quantiles of the decoded
        draws of its components, shape (groups, n_levels, n_features).

        Not stored but computed at the first ``sample`` and kept: a function
        of the stored mixture and decoder, drawn with a seed taken from the
        means, the same after save/load or pickling. Stored, it took half the
        maps' bytes: within the same budget ``ConvAutoEncoder(8)`` has 15
        maps rather than 8 (C2ST 0.785 against 0.818 on the digits,
        ``benchmarks/bench_sample.py``).
        """
        cached = _DECODED_SIDES.get(self)
        if cached is not None and cached[0] is density:
            return cached[1]
        module, _, device = inference
        if device.type != "cpu":
            # In float64 on the CPU whatever the device: the same maps after
            # a load onto another device.
            module = copy.deepcopy(module).cpu().double()
            inference = module, torch.float64, torch.device("cpu")
        seed = zlib.crc32(np.ascontiguousarray(density["means"]).tobytes())
        rng = np.random.default_rng(seed)
        groups, n_features = density["component_maps"], self.n_features_in_
        levels = np.linspace(0, 1, density["component_quantiles"].shape[2])
        most = self._draws_per_group(n_features)
        sides = []
        for group in range(groups.max() + 1):
            members = np.flatnonzero(groups == group)
            share = density["weights"][members].sum()
            n_draws = min(most, max(MIN_DRAWS, round(N_DRAWS * share)))
            Z = self._project_codes(draw_gmm(density, n_draws, rng, members)[0])
            decoded = self._forward_batches(
                self._decode_batch, Z, n_features, inference=inference
            )
            sides.append(column_quantiles(decoded, levels))
        sides = np.asarray(sides)
        _DECODED_SIDES[self] = (density, sides)
        return sides

    def _decode_summary(self, Z, inference):
        # float32 in and out: the summary module computes in float32, and
        # float32 columns sort twice as fast for the quantiles.
        Z = np.asarray(self._project_codes(Z), dtype=np.float32)
        return self._forward_batches(
            self._decode_batch, Z, self.n_features_in_, inference=inference
        )

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
            Number of samples to draw. They are drawn, decoded and
            calibrated in batches: ``sample`` needs little memory beyond
            the array it returns.
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
            (``latent_density=None``, or a fit interrupted while it was
            being fitted).
        MemoryError
            Before drawing anything, when the array returned would not fit
            in the memory available.

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
            raise NotFittedError(self._no_density_message())
        n_features = self.n_features_in_
        needed, available = 8 * n_samples * n_features, available_memory()
        if available is not None and needed > available:
            raise MemoryError(
                f"sample({n_samples}) would return {needed / 1e9:.3g} GB "
                f"({n_samples} x {n_features} float64 values), more than the "
                f"{available / 1e9:.3g} GB of memory available. Draw fewer "
                "samples per call (each call with its own random_state)."
            )
        # None: fresh entropy from the OS, never numpy's global generator.
        if random_state is None:
            rng = np.random.default_rng()
        else:
            rng = check_random_state(random_state)
        X_new = np.empty((n_samples, n_features))
        # A fixed number of rows per batch for a given model, so that the
        # same random_state gives the same rows.
        step = max(1, SAMPLE_BATCH_VALUES // max(n_features, self._n_features_out))
        inference = self._inference_module()
        for start in range(0, n_samples, step):
            stop = min(start + step, n_samples)
            X_new[start:stop] = self._sample_batch(
                density, stop - start, rng, inference
            )
        adapter = _get_container_adapter("transform", self)
        if adapter is None:
            return X_new
        columns = getattr(self, "feature_names_in_", None)
        if columns is None:
            columns = np.asarray([f"x{i}" for i in range(self.n_features_in_)])
        return adapter.create_container(X_new, None, columns=columns)

    def _sample_batch(self, density, n_samples, rng, inference):
        if density["kind"] == "prior":
            Z = rng.standard_normal((n_samples, self._n_features_out))
            labels = None
        else:
            Z, labels = draw_gmm(density, n_samples, rng)
        Z = self._project_codes(Z)
        X_new = self._forward_batches(
            self._decode_batch, Z, self.n_features_in_, inference=inference
        )
        maps, value_range = density["component_quantiles"], density["quantile_range"]
        if maps is not None:
            groups = density["component_maps"]
            if groups is not None:
                labels = groups[labels]
            # Maps of one side: the data's, the decoder's being computed.
            decoded = None
            if maps.shape[1] == 1:
                decoded = self._decoded_sides(density, inference)
            X_new = calibrate_groups(X_new, labels, maps, value_range, decoded)
        elif density["quantiles"] is not None:
            X_new = calibrate(X_new, density["quantiles"])
        return X_new

    def _no_density_message(self):
        name = type(self).__name__
        if self.latent_density is None:
            return (
                f"This {name} has no latent density to sample from: it was "
                "fitted with latent_density=None, or by a skae without "
                "sample(). Set latent_density='gmm' and fit it again."
            )
        return (
            f"This {name} has no latent density to sample from: its fit was "
            "interrupted while the density was being fitted, after the last "
            "epoch (the trained weights were kept), or latent_density was set "
            "after the fit. Call partial_fit, or fit with warm_start=True, "
            "to fit the density."
        )


#: The constraints of the parameters, for estimators without a prior.
SAMPLING_CONSTRAINTS = {
    "latent_density": [StrOptions({"gmm"}), None],
    "calibrate_samples": ["boolean"],
}
