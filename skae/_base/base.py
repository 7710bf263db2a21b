"""The scikit-learn side shared by every autoencoder.

:class:`BaseAutoEncoder` owns parameter and input validation, ``fit`` and
``partial_fit`` (training itself is in ``training.py``), the batched
``transform`` / ``inverse_transform`` / ``score`` (run by ``inference.py``)
and feature names. A variant
provides its torch module (``_build_module``), its loss
(``_build_criterion``) and, when its latent is not a plain vector, how to
encode and score a batch.
"""

import sys
from abc import ABCMeta, abstractmethod
from numbers import Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from .._io.format.pickle_state import PortableState
from .._nn.losses import ReconstructionLoss, squared_error
from .._nn.modules import ACTIVATIONS
from .._utils.docs import docs_root
from .._utils.runtime import (
    MAX_THREADS,
    resolve_device,
)
from .constraints import Count
from .inference import BatchedInference
from .input import raise_if_non_numeric, training_float32, validate_input
from .training import TrainingMixin
from .transaction import fit_transaction
from .warm_start import check_built_with


class BaseAutoEncoder(
    TrainingMixin,
    BatchedInference,
    PortableState,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class for autoencoders; not to be used directly."""

    # The HTML repr (notebooks) links each estimator to its API page, in the
    # documentation of the installed version.
    _doc_link_module = "skae"

    @property
    def _doc_link_template(self):
        # The package is imported before any of its modules; the base names
        # no estimator, so it reads the version without importing skae.
        version = sys.modules[__name__.partition(".")[0]].__version__
        page = "gen_modules/{estimator_module}.{estimator_name}.html"
        return docs_root(version) + page

    _parameter_constraints: dict = {
        "n_components": [Count(1)],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Count(1),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Count(1)],
        "tol": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Count(1)],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "n_threads": [
            StrOptions({"auto"}),
            # torch starts as many OpenMP threads as it is asked for: at
            # 2**31 libgomp aborts the process, and above that torch
            # refuses the number with an unclear overflow error.
            Count(1, MAX_THREADS, closed="both"),
            None,
        ],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    #: A variant's own parameters that a warm start may change (read at call
    #: time, say), on top of ``_warm_start.WARM_START_PARAMS``.
    _warm_start_params = frozenset()

    # ------------------------------------------------------------------ hooks

    def _check_params(self):
        """Check what ``_parameter_constraints`` cannot express; raise early.

        Called at the entry of ``fit`` and ``partial_fit``, after the
        constraints. A variant that adds such checks calls ``super()``.
        """
        try:
            resolve_device(self.device)
        except ValueError as exc:
            raise InvalidParameterError(str(exc)) from exc

    def _prepare(self, X, resume):
        """Resolve state that depends on the training data (an image shape).

        Called before the network is built (``resume=False``) or trained on
        (``resume=True``), with the float32 training data.
        """

    def _stored_value_problems(self):
        """``{attribute: why}`` for fitted values no fit of this estimator gives.

        :func:`skae.load` runs it on a fitted file's attributes, their types
        and shapes checked already, and refuses the file at the first
        problem. Here: every number (alone, in a list or tuple, or in a float
        array) is finite. A variant whose maths rests on more (a curve's
        parameters, column means) adds its own and calls ``super()``.
        """
        problems = {}
        params = self._get_param_names()
        for name, value in vars(self).items():
            if name in params:
                continue
            parts = value if isinstance(value, (list, tuple)) else [value]
            numbers = [
                np.asarray(part, dtype=np.float64)
                for part in parts
                if isinstance(part, Real) and not isinstance(part, bool)
                or isinstance(part, np.ndarray) and part.dtype.kind == "f"
            ]
            if not all(np.isfinite(number).all() for number in numbers):
                problems[name] = "must hold finite numbers only"
        return problems

    @abstractmethod
    def _build_module(self, n_features):
        """Return the untrained torch module for ``n_features`` inputs."""

    def _initialize_from_data(self, module, X):
        """Set starting weights that depend on the data (a PCA start).

        Called on a cold start, after the random weights are drawn, with all
        of ``X``: the validation part too, so that a model that keeps its
        start is exactly what a non-neural estimator fitted on ``X`` gives.
        """

    def _build_criterion(self):
        """Return the training loss, called as ``criterion(module(x), x)``."""
        return ReconstructionLoss()

    def _encode_batch(self, module, x):
        return module.encode(x)

    def _decode_batch(self, module, z):
        return module.decode(z)

    def _score_batch(self, module, x):
        """Per-sample score of a batch, higher is better."""
        return -squared_error(module.decode(module.encode(x)), x)

    # ---------------------------------------------------------------- fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Converted to float32 for training.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C during training, once the epochs completed so far are
            kept: the estimator is then fitted with them. A call that raises
            anything else, or is interrupted before an epoch completes,
            leaves the estimator exactly as it was.
        """
        self._check_params()
        resume = self.warm_start and hasattr(self, "net_")
        if resume:
            check_built_with(self, "fit with warm_start=True continues training it")
        with fit_transaction(self, continuing=resume):
            X = self._validate_input(X, reset=not resume)
            X = training_float32(X, type(self).__name__)
            self._train(X, method="fit", resume=resume)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch on ``X``, starting from the current weights.

        The first call initialises the model. ``early_stopping`` is ignored,
        as in scikit-learn's MLPs: every sample is used for training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C, as in :meth:`fit`; interrupted within its one epoch,
            ``partial_fit`` leaves the estimator as it was.
        """
        self._check_params()
        resume = hasattr(self, "net_")
        if resume:
            check_built_with(self, "partial_fit continues training it")
        with fit_transaction(self, continuing=resume):
            X = self._validate_input(X, reset=not resume)
            X = training_float32(X, type(self).__name__)
            self._train(X, method="partial_fit", resume=resume)
        return self

    @property
    def device_(self):
        """Device the fitted model lives on (the CPU after unpickling)."""
        return torch.device(self.net_.device)

    # -------------------------------------------------------------- inference

    def transform(self, X):
        """Encode ``X`` into the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes; float32 for float32 input, float64 otherwise.
        """
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        return self._forward_batches(self._encode_batch, X, self._n_features_out)

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, for instance from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Reconstructions; float32 for float32 input, float64 otherwise.
        """
        check_is_fitted(self)
        try:
            Z = check_array(X, dtype=[np.float64, np.float32], input_name="X")
        except ValueError as exc:
            raise_if_non_numeric(self, exc, "Pass the output of transform.")
            raise
        if Z.shape[1] != self._n_features_out:
            raise ValueError(
                f"inverse_transform expects codes with n_components="
                f"{self._n_features_out} columns, got {Z.shape[1]}. Pass the "
                "output of transform."
            )
        return self._forward_batches(self._decode_batch, Z, self.n_features_in_)

    def score_samples(self, X):
        """Per-sample score: the negative mean squared reconstruction error.

        Higher is better, as everywhere in scikit-learn. It is *not* a
        log-likelihood, so it cannot be compared with ``PCA.score_samples``
        (or ``PCA.score``, which a ``GridSearchCV`` without ``scoring`` uses):
        to choose between PCA and an autoencoder, score a downstream model
        or pass ``scoring``, or compare with :class:`VariationalAutoEncoder`,
        whose score is a log-likelihood bound.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._score_samples(self._validate_input(X, reset=False))

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over ``X``; higher is better.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def _score_samples(self, X):
        return self._forward_batches(self._score_batch, X, None)

    # ------------------------------------------------------------ validation

    def _validate_input(self, X, reset, ensure_all_finite=True):
        return validate_input(self, X, reset, ensure_all_finite)

    def __sklearn_is_fitted__(self):
        # A variant's _prepare sets some fitted attributes before training; a
        # first fit that then fails must not leave the estimator "fitted".
        return hasattr(self, "net_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
