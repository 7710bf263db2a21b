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
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._constraints import Count, is_bool, same_param
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
from ._warnings import warn

#: Root of the built documentation, for the links of the HTML repr.
DOCS_URL = "https://skae.readthedocs.io/en/latest/"

# Rows per inference batch: bounds the extra memory of transform & co. to a
# few MB per layer whatever the number of rows.
INFERENCE_BATCH_SIZE = 4096

#: Parameters that may change between a fit and a warm start (warm_start=True,
#: partial_fit): they steer how the existing network goes on training, or are
#: read at call time. Every other parameter describes the network or its loss,
#: which a warm start keeps as it was built. A variant adds its own in
#: ``_warm_start_params``.
WARM_START_PARAMS = frozenset(
    {
        "batch_size",
        "learning_rate_init",
        "max_iter",
        "n_iter_no_change",
        "n_threads",
        "random_state",
        "shuffle",
        "tol",
        "verbose",
        "warm_start",
    }
)


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
        "hidden_layer_sizes": [
            "array-like",
            Count(1),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
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

    # ------------------------------------------------------------------ hooks

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
        continuing = self.warm_start and hasattr(self, "net_")
        if continuing:
            self._check_built_with("fit with warm_start=True continues training it")
        with fit_transaction(self, continuing=continuing):
            X = self._validate_input(X, reset=not continuing)
            X = _training_float32(X, type(self).__name__)
            self._train(X, self.max_iter, continuing=continuing, incremental=False)
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
        continuing = hasattr(self, "net_")
        if continuing:
            self._check_built_with("partial_fit continues training it")
        with fit_transaction(self, continuing=continuing):
            X = self._validate_input(X, reset=not continuing)
            X = _training_float32(X, type(self).__name__)
            self._train(X, 1, continuing=continuing, incremental=True)
        return self

    def _train(self, X, epochs, *, continuing, incremental):
        X = np.asarray(X, dtype=np.float32)
        n_samples = X.shape[0]
        # The split rounds the validation part up, as train_test_split does.
        n_valid = math.ceil(self.validation_fraction * n_samples)
        if self.early_stopping and not incremental and n_valid >= n_samples:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction:g} of the n_samples={n_samples} "
                f"samples ({n_valid}), which leaves none to train on (it needs "
                "at least 2 samples). Use more samples, a smaller "
                "validation_fraction, or early_stopping=False."
            )
        batch_size = 200 if self.batch_size == "auto" else self.batch_size
        batch_size = min(batch_size, n_samples)

        if continuing:
            net = self.net_
            # The training settings a warm start may change (WARM_START_PARAMS)
            # reach the existing net; Adam keeps its moment estimates.
            net.set_params(optimizer__lr=self.learning_rate_init)
            stopping = dict(net.callbacks_)["stopping"]
            stopping.patience, stopping.threshold = self.n_iter_no_change, self.tol
            net.shuffle = self.shuffle
        else:
            self._built_with = self._architecture_params()
            net = self._initialize_net(X.shape[1], batch_size)
            self._initialize_from_data(net.module_, X)
        net.batch_size = batch_size
        n_weights = sum(p.numel() for p in net.module_.parameters())
        with torch_threads(threads_for(self.n_threads, batch_size * n_weights)):
            net.train_epochs(
                X, epochs, validate=self.early_stopping and not incremental
            )

        self.net_ = net
        self._set_fitted_attributes(X, incremental)
        if net.interrupted_:
            # Raised once every fitted attribute (a variant's too) describes
            # the completed epochs, which fit_transaction then keeps.
            raise FitInterrupted(
                f"{type(self).__name__}."
                f"{'partial_fit' if incremental else 'fit'} was interrupted; the "
                "estimator is fitted with the weights of its last completed "
                f"epoch ({self.n_iter_} in all). Call partial_fit, or fit with "
                "warm_start=True, to continue training."
            )
        return self

    def _initialize_net(self, n_features, batch_size):
        try:
            device = resolve_device(self.device)
        except ValueError as exc:
            raise InvalidParameterError(str(exc)) from exc

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

    #: A variant's own parameters that a warm start may change (read at call
    #: time, say), on top of WARM_START_PARAMS.
    _warm_start_params = frozenset()

    def _architecture_params(self):
        """The parameters a warm start must not change (see WARM_START_PARAMS)."""
        free = WARM_START_PARAMS | self._warm_start_params
        return {
            name: value
            for name, value in self.get_params(deep=False).items()
            if name not in free
        }

    def _check_built_with(self, action):
        """Refuse to go on when a parameter the network was built with has changed.

        ``action`` says what would go wrong, e.g. "partial_fit continues
        training it".
        """
        built = getattr(self, "_built_with", None)
        if built is None:
            return
        for name, value in self._architecture_params().items():
            if name in built and not same_param(name, value, built[name]):
                raise ValueError(
                    f"{type(self).__name__}'s {name} was changed from "
                    f"{built[name]!r} to {value!r} after the network was built, "
                    f"and {action}. Set {name} back to {built[name]!r}, or fit "
                    "with warm_start=False to build a new network."
                )

    def _hidden_sizes(self):
        """``hidden_layer_sizes`` as a tuple of widths, validated."""
        return positive_ints(self.hidden_layer_sizes, "hidden_layer_sizes")

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
            self._raise_if_non_numeric(exc, "Pass the output of transform.")
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
            _as_float32(X, f"{type(self).__name__} computes on {device} in float32")

    def _validate_input(self, X, reset, ensure_all_finite=True):
        columns = getattr(X, "columns", None)
        if columns is not None and len(set(columns)) != len(columns):
            duplicated = sorted({str(c) for c in columns if list(columns).count(c) > 1})
            raise ValueError(
                f"{type(self).__name__} needs unique column names, but X has "
                f"duplicated columns {duplicated}. Rename or drop them."
            )
        hint = (
            "Encode categorical columns first, e.g. with OneHotEncoder in a "
            "ColumnTransformer."
        )
        odd = _non_numeric_columns(X)
        if odd:
            raise ValueError(
                f"{type(self).__name__} needs numeric input, but X has "
                f"non-numeric columns: {', '.join(odd)}. {hint} Turn dates "
                "and durations into numbers first, or drop these columns."
            )
        try:
            return validate_data(
                self,
                X,
                reset=reset,
                dtype=[np.float64, np.float32],
                ensure_all_finite=ensure_all_finite,
            )
        except ValueError as exc:
            self._raise_if_non_numeric(exc, hint)
            raise

    def _raise_if_non_numeric(self, exc, hint):
        if "convert" in str(exc) or "string" in str(exc):
            raise ValueError(
                f"{type(self).__name__} needs numeric input, but X holds "
                f"non-numeric values ({exc}). {hint}"
            ) from exc

    def __sklearn_is_fitted__(self):
        # Some fitted attributes (image_shape_) are set before training; a
        # first fit that then fails must not leave the estimator "fitted".
        return hasattr(self, "net_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _non_numeric_columns(X):
    """``"name (dtype)"`` for each column of a DataFrame numpy cannot make floats of.

    Categorical columns of text and datetime or timedelta columns otherwise
    fail inside pandas or numpy with a message about dtype promotion. A
    categorical column of numbers converts to its values, and is kept.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return []
    odd = []
    for column, dtype in dtypes.items():
        categories = getattr(dtype, "categories", None)
        kind = getattr(getattr(categories, "dtype", dtype), "kind", "O")
        if kind in "mM" or (categories is not None and kind not in "biuf"):
            odd.append(f"{column!r} ({dtype})")
    return odd


def _training_float32(X, name):
    """``X`` as the float32 array training runs on, refusing values it cannot hold.

    A float64 value beyond float32's range would silently become inf and
    surface later as a diverged loss with a misleading remedy. Done in
    ``fit`` and ``partial_fit``, so that every ``_train`` override sees it.
    """
    return _as_float32(X, f"{name} trains in float32")


def _as_float32(X, what):
    """``X`` in float32, or a ValueError starting with ``what`` if it overflows."""
    X = np.asarray(X)
    if X.dtype == np.float32:
        return X
    with np.errstate(over="ignore"):
        X32 = np.asarray(X, dtype=np.float32)
    if not np.isfinite(X32).all():
        raise ValueError(
            f"{what}, whose largest value is "
            f"{np.finfo(np.float32).max:.3g}, but X holds values up to "
            f"{np.max(np.abs(X)):.3g}. Scale X first (e.g. StandardScaler or "
            "MinMaxScaler in a Pipeline)."
        )
    return X32


def positive_ints(value, name, allow_empty=True):
    """An int or a sequence of them as a tuple of plain positive ints.

    For list-valued parameters (layer widths, channels), which scikit-learn's
    constraints can only check to be array-like. Plain ints because torch
    refuses numpy integers in places (``nn.Unflatten``).
    """
    values = (value,) if isinstance(value, Integral) else tuple(value)
    if (not values and not allow_empty) or not all(
        isinstance(v, Integral) and not is_bool(v) and v >= 1 for v in values
    ):
        kind = "a non-empty" if not allow_empty else "a"
        raise InvalidParameterError(
            f"{name} must be a positive integer or {kind} sequence of them, "
            f"got {value!r}."
        )
    return tuple(int(v) for v in values)
