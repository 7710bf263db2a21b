"""The scikit-learn side shared by every autoencoder.

:class:`BaseAutoEncoder` owns validation, training through skorch, batched
inference, scoring, feature names, device handling and seeding. A variant
provides its torch module (``_build_module``), its loss
(``_build_criterion``) and, when its latent is not a plain vector, how to
encode and score a batch.
"""

import copy
import math
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from ._constraints import Count
from ._input import as_float32, raise_if_non_numeric, training_float32, validate_input
from ._losses import ReconstructionLoss, squared_error
from ._modules import ACTIVATIONS, attach_generator, reset_parameters
from ._net import build_net
from ._persistence_state import PortableState
from ._runtime import (
    as_tensor,
    make_generator,
    resolve_device,
    threads_for,
    torch_threads,
)
from ._transaction import FitInterrupted, fit_transaction
from ._warm_start import architecture_params, check_built_with
from ._warnings import warn

#: Root of the built documentation, for the links of the HTML repr.
DOCS_URL = "https://skae.readthedocs.io/en/latest/"

# Rows per inference batch: bounds the extra memory of transform & co. to a
# few MB per layer whatever the number of rows.
INFERENCE_BATCH_SIZE = 4096


class BaseAutoEncoder(
    PortableState,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class for autoencoders; not to be used directly."""

    # The HTML repr (notebooks) links each estimator to its API page.
    _doc_link_module = "skae"
    _doc_link_template = (
        DOCS_URL + "gen_modules/{estimator_module}.{estimator_name}.html"
    )

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
            Count(1),
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

    def _train(self, X, method, resume):
        """Train on ``X`` for ``fit`` (``max_iter`` epochs) or ``partial_fit`` (one).

        ``resume`` goes on training the existing network; otherwise a new one
        is built. ``partial_fit`` never holds out validation rows.
        """
        incremental = method == "partial_fit"
        epochs = 1 if incremental else self.max_iter
        validate = self.early_stopping and not incremental
        X = np.asarray(X, dtype=np.float32)
        n_samples = X.shape[0]
        # The split rounds the validation part up, as train_test_split does.
        n_valid = math.ceil(self.validation_fraction * n_samples)
        if validate and n_valid >= n_samples:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction:g} of the n_samples={n_samples} "
                f"samples ({n_valid}), which leaves none to train on (it needs "
                "at least 2 samples). Use more samples, a smaller "
                "validation_fraction, or early_stopping=False."
            )
        batch_size = 200 if self.batch_size == "auto" else self.batch_size
        batch_size = min(batch_size, n_samples)

        self._prepare(X, resume)
        if resume:
            net = self.net_
            # The training settings a warm start may change (WARM_START_PARAMS)
            # reach the existing net; Adam keeps its moment estimates.
            net.set_params(optimizer__lr=self.learning_rate_init)
            stopping = dict(net.callbacks_)["stopping"]
            stopping.patience, stopping.threshold = self.n_iter_no_change, self.tol
            net.shuffle = self.shuffle
        else:
            self._built_with = architecture_params(self)
            device = resolve_device(self.device)
            net = self._initialize_net(X.shape[1], batch_size, device)
            self._initialize_from_data(net.module_, X)
        net.batch_size = batch_size
        n_weights = sum(p.numel() for p in net.module_.parameters())
        with torch_threads(threads_for(self.n_threads, batch_size * n_weights)):
            net.train_epochs(X, epochs, validate=validate)

        self.net_ = net
        self._set_fitted_attributes(X, incremental)
        if net.interrupted_:
            # Raised once every fitted attribute (a variant's too) describes
            # the completed epochs, which fit_transaction then keeps.
            raise FitInterrupted(
                f"{type(self).__name__}.{method} was interrupted; the "
                "estimator is fitted with the weights of its last completed "
                f"epoch ({self.n_iter_} in all). Call partial_fit, or fit with "
                "warm_start=True, to continue training."
            )
        return self

    def _initialize_net(self, n_features, batch_size, device):
        """A new net on ``device`` around a freshly built module (also for load)."""
        init_seed, shuffle_seed, noise_seed, split_seed = self._draw_seeds(4)
        # torch's layer constructors draw a default initialisation from the
        # global generator; fork_rng puts that state back untouched.
        with torch.random.fork_rng(devices=[]):
            module = self._build_module(n_features)
        reset_parameters(module, make_generator(init_seed))
        attach_generator(module, make_generator(noise_seed, device))

        return build_net(
            module,
            self._build_criterion(),
            device=device,
            batch_size=batch_size,
            learning_rate_init=self.learning_rate_init,
            alpha=self.alpha,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            shuffle=self.shuffle,
            shuffle_generator=make_generator(shuffle_seed),
            split_seed=int(split_seed),
            verbose=self.verbose,
        )

    @property
    def device_(self):
        """Device the fitted model lives on (the CPU after unpickling)."""
        return torch.device(self.net_.device)

    def _draw_seeds(self, n):
        if self.random_state is None:
            # Fresh entropy from the OS, so that numpy's global RNG is not
            # advanced by fitting.
            return np.random.default_rng().integers(np.iinfo(np.int32).max, size=n)
        rng = check_random_state(self.random_state)
        return rng.randint(np.iinfo(np.int32).max, size=n)

    def _set_fitted_attributes(self, X, incremental):
        net = self.net_
        history = net.history
        self.n_iter_ = len(history)
        # Python floats, as in MLPRegressor: skorch's are numpy scalars, each
        # a pickled object of its own (an object tree of its own in skops).
        self.loss_curve_ = [float(row["train_loss"]) for row in history]
        if self.early_stopping:
            self.validation_scores_ = [
                -float(row["valid_loss"]) for row in history if "valid_loss" in row
            ]
            # The score of the weights kept, which may be those training
            # started from (epoch 0, e.g. PCA's), not in validation_scores_.
            best = dict(net.callbacks_)["stopping"].best_valid_loss_
            self.best_validation_score_ = None if best is None else -best
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._n_features_out = self.n_components
        self.reconstruction_error_ = self._reconstruction_error(X)

        if not incremental and not net.interrupted_ and not net.stopped_early():
            # Raised in a search's or a joblib worker's fit, the warning
            # cannot point at a line of the user's: the parameters tell
            # which of the fits it was.
            described = " ".join(repr(self).split())
            warn(
                f"{described} reached max_iter={self.max_iter} epochs while the loss "
                f"was still improving by more than tol={self.tol} (relative) "
                f"within n_iter_no_change={self.n_iter_no_change} epochs. "
                "Increase max_iter, or fit further with warm_start=True.",
                ConvergenceWarning,
            )

    def _reconstruction_error(self, X):
        """``reconstruction_error_``: for models whose score is not -MSE, override."""
        return float(-np.mean(self._score_samples(X)))

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

    def _inference_module(self):
        """The trained module in eval mode, and the dtype to run it in.

        On the CPU inference runs in float64: float32 matrix products change
        in the last bits with the number of rows in a batch, and a sample's
        code should not depend on which other samples it is encoded with.
        Accelerators keep float32 (MPS has no float64).
        """
        module = self.net_.module_
        device = next(module.parameters()).device
        if device.type == "cpu":
            return copy.deepcopy(module).double().eval(), torch.float64, device
        return module.eval(), torch.float32, device

    def _forward_batches(self, fn, X, n_outputs, rows=None):
        """``fn(module, batch)`` over ``X``, ``rows`` at a time, as one array.

        ``rows`` defaults to ``INFERENCE_BATCH_SIZE``, read at call time.
        """
        rows = rows or INFERENCE_BATCH_SIZE
        module, dtype, device = self._inference_module()
        self._check_inference_range(X, dtype, device)
        out_dtype = np.float32 if X.dtype == np.float32 else np.float64
        n_samples = X.shape[0]
        shape = (n_samples,) if n_outputs is None else (n_samples, n_outputs)
        out = np.empty(shape, dtype=out_dtype)
        n_threads = self.n_threads if isinstance(self.n_threads, Integral) else None
        with torch.no_grad(), torch_threads(n_threads):
            for start in range(0, n_samples, rows):
                stop = start + rows
                batch = as_tensor(X[start:stop]).to(device=device, dtype=dtype)
                out[start:stop] = fn(module, batch).cpu().numpy()
        return out

    # ------------------------------------------------------------ validation

    def _check_inference_range(self, X, dtype, device):
        # Accelerators infer in float32 (see _inference_module), where values
        # beyond its range would come out as NaN codes without a word.
        if dtype == torch.float32:
            as_float32(X, f"{type(self).__name__} computes on {device} in float32")

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
