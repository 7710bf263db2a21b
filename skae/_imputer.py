"""AutoEncoderImputer: missing values filled in by a masked, denoising autoencoder."""

import math
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, MissingValues, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._base.base import BaseAutoEncoder
from ._base.constraints import Count
from ._base.dense import DENSE_CONSTRAINTS, DenseMixin
from ._net import WeightAveraging
from ._nn.imputer import masked_autoencoder, unpack
from ._nn.losses import ObservedReconstructionLoss, masked_squared_error
from ._support.absent import Absent
from ._support.imputer import is_nan, missing_mask, statistics_problems, warn_dropped

#: Training steps (mini-batches) that ``max_iter="auto"`` makes epochs of.
AUTO_STEPS = 2400


class AutoEncoderImputer(DenseMixin, BaseAutoEncoder):
    """Imputation of missing values with a masked, denoising autoencoder.

    The network reads each row with its missing entries set to the column
    mean, next to the mask of which entries are missing, and returns every
    feature. Its loss only compares observed entries; at every training step
    a random ``mask_rate`` of the observed entries is hidden as well, so the
    network learns to fill in entries it does not see (as MIDA, Gondara &
    Wang 2018). :meth:`transform` returns the observed entries unchanged and
    the network's values in place of the missing ones.

    Parameters
    ----------
    missing_values : int, float or None, default=np.nan
        The placeholder for the missing values, all of which are imputed.
        ``pd.NA`` (pandas' nullable dtypes) is read as NaN, as
        :class:`~sklearn.impute.SimpleImputer` reads it.

    n_components : int, default=32
        Size of the code (the bottleneck).

    mask_rate : float in [0, 1), default=0.2
        Fraction of the observed entries hidden from the network at each
        training step (fresh at every step), which it learns to fill in.

    weight_averaging : float in [0, 1), default=0.99
        Decay of a moving average of the weights over the training steps,
        which the network takes at the end of each ``fit`` or ``partial_fit``
        call (warmed up over its first steps): with entries hidden afresh at
        every step, the last weights are noisy. 0 keeps them. Early stopping
        restores its best epoch's own weights instead, and a call
        interrupted by Ctrl-C keeps the weights it had.

    add_indicator : bool, default=False
        If True, a :class:`~sklearn.impute.MissingIndicator` transform is
        stacked onto the output: one column per feature that had missing
        values during ``fit``, set where the entry is missing.

    keep_empty_features : bool, default=False
        If True, features that consist exclusively of missing values when
        ``fit`` is called are returned by :meth:`transform`, their missing
        entries imputed with 0. Otherwise they are dropped.

    hidden_layer_sizes : int or tuple of int, default=(256, 128)
        Widths of the encoder's hidden layers, from the input towards the
        code; the decoder uses the same widths in reverse.

    activation : {"relu", "tanh", "logistic", "elu", "gelu", "identity"}, default="gelu"
        Activation of the hidden layers. GELU imputed better than ReLU in
        ``benchmarks/bench_impute.py``, at a few percent more time per step.

    dropout : float in [0, 1), default=0.0
        Dropout rate after each hidden layer, during training only.

    alpha : float, default=0.0
        L2 penalty on the weights (not the biases), as Adam's weight decay.

    batch_size : int or "auto", default=48
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``. Smaller than
        the other estimators' default, which suits small tables.

    learning_rate_init : float, default=4e-3
        Adam's learning rate.

    max_iter : int or "auto", default="auto"
        Maximum number of epochs. ``"auto"``: a budget of about 2400 steps
        (mini-batches) whatever the number of rows, that is
        ``ceil(2400 / ceil(n_samples / batch_size))`` epochs; spending it
        raises no ``ConvergenceWarning``.

    tol : float, default=1e-4
        Relative improvement of the monitored loss below which an epoch does
        not count as progress.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when the loss
        on them stops improving, restoring the best weights. Entries are
        hidden in those rows too: the validation loss measures imputation.

    validation_fraction : float in (0, 1), default=0.1
        Fraction of the rows held out when ``early_stopping``.

    n_iter_no_change : int, default=50
        Number of epochs without progress (see ``tol``) before stopping;
        large, as the loss on entries hidden at random is noisy.

    shuffle : bool, default=True
        Reshuffle the training data at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the hidden entries, dropout
        and the validation split, without reading or changing torch's or
        numpy's global random state. Pass an int for reproducible results.

    device : {"auto", "cpu", "cuda", "mps"} or str or torch.device, default="auto"
        Where to train; ``"auto"`` picks CUDA, then MPS, then the CPU.

    n_threads : int, "auto" or None, default="auto"
        torch intra-op threads while fitting (and transforming, when an int);
        see :class:`~skae.AutoEncoder`.

    verbose : int, default=0
        As :class:`~skae.AutoEncoder`'s: 1 draws a progress bar, 2 a table.

    warm_start : bool, default=False
        When fitted already, continue training from the current weights; see
        :class:`~skae.AutoEncoder`. The column means stay those of the first fit.

    Attributes
    ----------
    statistics_ : ndarray of shape (`n_features_in_`,)
        Mean of each feature over its observed entries in the first fit: the
        value missing entries take at the network's input. NaN for features
        with no observed value (which take 0).

    net_ : skorch.NeuralNet
        The trained network; ``net_.module_`` is the torch module.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    n_iter_ : int
        Number of epochs trained, accumulated across warm starts.

    loss_curve_ : list of float
        Training loss (mean squared error on observed entries) per epoch.

    validation_scores_ : list of float or None
        Negative validation loss per epoch when ``early_stopping``, else None.

    best_validation_score_ : float or None
        Score of the weights kept: the best epoch's, or the start's (scored
        before the first epoch, so not in ``validation_scores_``).

    reconstruction_error_ : float
        Mean squared error of the network on the observed training entries,
        all of them visible, at the end of training.

    device_ : torch.device
        Device the fitted model lives on.

    See Also
    --------
    sklearn.impute.SimpleImputer : Column means, medians or constants.
    sklearn.impute.KNNImputer : Means of the nearest rows.
    sklearn.impute.IterativeImputer : Each feature regressed on the others,
        in rounds.

    Notes
    -----
    Scale the data first (``MinMaxScaler`` or ``StandardScaler`` skip NaN):
    the loss weighs every feature in its own units. The user guide has the
    errors ``benchmarks/bench_impute.py`` measured against other imputers.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import AutoEncoderImputer
    >>> X = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 3.0], [np.nan, 6.0, 5.0],
    ...               [8.0, 8.0, 7.0]])
    >>> imputer = AutoEncoderImputer(n_components=2, max_iter=5, random_state=0)
    >>> X_filled = imputer.fit_transform(X)
    >>> X_filled.shape
    (4, 3)
    >>> bool(np.isnan(X_filled).any())
    False
    >>> bool((X_filled[1] == X[1]).all())
    True
    """

    _parameter_constraints = {
        **BaseAutoEncoder._parameter_constraints,
        **DENSE_CONSTRAINTS,
        "missing_values": [MissingValues(numeric_only=True)],
        "mask_rate": [Interval(Real, 0, 1, closed="left")],
        "weight_averaging": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [StrOptions({"auto"}), Count(1)],
        "add_indicator": ["boolean"],
        "keep_empty_features": ["boolean"],
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        n_components=32,
        mask_rate=0.2,
        weight_averaging=0.99,
        add_indicator=False,
        keep_empty_features=False,
        hidden_layer_sizes=(256, 128),
        activation="gelu",
        dropout=0.0,
        alpha=0.0,
        batch_size=48,
        learning_rate_init=4e-3,
        max_iter="auto",
        tol=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=50,
        shuffle=True,
        random_state=None,
        device="auto",
        n_threads="auto",
        verbose=0,
        warm_start=False,
    ):
        self.missing_values = missing_values
        self.n_components = n_components
        self.mask_rate = mask_rate
        self.weight_averaging = weight_averaging
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------- the base's hooks

    def _build_module(self, n_features):
        # The net trains on packed rows, 2 * n_features columns wide; the
        # module's width is that of the data (also when skae.load rebuilds it).
        fill = np.nan_to_num(self.statistics_, nan=0.0)
        return masked_autoencoder(
            self.n_features_in_,
            self.n_components,
            self._hidden_sizes(),
            activation=self.activation,
            dropout=self.dropout,
            fill=fill,
            mask_rate=self.mask_rate,
        )

    def _training_callbacks(self):
        decay = self.weight_averaging
        return [("averaging", WeightAveraging(decay))] if decay > 0 else []

    def _n_epochs(self, n_samples, batch_size):
        if self.max_iter != "auto":
            return self.max_iter
        return math.ceil(AUTO_STEPS / math.ceil(n_samples / batch_size))

    @property
    def _max_iter_is_a_budget(self):
        return self.max_iter == "auto"

    def _build_criterion(self):
        return ObservedReconstructionLoss()

    def _score_batch(self, module, batch):
        x, observed = unpack(batch, self.n_features_in_)
        reconstruction = module.reconstruct(batch)
        return -masked_squared_error(reconstruction, x, observed)

    def _impute_batch(self, module, batch):
        return module.impute(batch)

    def _validate_input(self, X, reset):
        """``X`` packed for the net: values (0 where missing) and observed mask."""
        return self._pack(self._validate_raw(X, reset))

    def _prepare(self, X, resume):
        super()._prepare(X, resume)
        if not resume:
            values, observed = unpack(X, X.shape[1] // 2)
            counts = observed.sum(axis=0, dtype=np.float64)
            with np.errstate(invalid="ignore"):
                self.statistics_ = values.sum(axis=0, dtype=np.float64) / counts
            self._empty_features = np.flatnonzero(counts == 0)
            self._indicator_features = np.flatnonzero(counts < X.shape[0])
            warn_dropped(self)

    def _stored_value_problems(self):
        problems = super()._stored_value_problems()
        problems.pop("statistics_", None)  # NaN where a feature had no value
        return {**problems, **statistics_problems(self)}

    # ------------------------------------------------------------- imputing

    def transform(self, X):
        """Impute all missing values in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data to complete; rows need not have been seen in ``fit``.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_output_features)
            ``X`` with its missing entries filled in and its observed entries
            unchanged. Features with no observed value in ``fit`` are dropped
            unless ``keep_empty_features``; with ``add_indicator`` the missing
            indicator columns follow. float32 for float32 input, float64
            otherwise.
        """
        check_is_fitted(self)
        X = self._validate_raw(X, reset=False)
        missing = missing_mask(X, self.missing_values)
        imputed = self._forward_batches(
            self._impute_batch, self._pack(X), self.n_features_in_
        )
        out = np.array(X, copy=True)
        out[missing] = imputed[missing]
        empty = self._empty_features
        if self.keep_empty_features:
            out[:, empty] = np.where(missing[:, empty], 0, out[:, empty])
        else:
            out = np.delete(out, empty, axis=1)
        if self.add_indicator:
            indicator = missing[:, self._indicator_features].astype(out.dtype)
            out = np.hstack([out, indicator])
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output features, as :class:`~sklearn.impute.KNNImputer`'s.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; ``feature_names_in_`` when fitted on named
            columns, else ``x0``, ``x1``, ...

        Returns
        -------
        feature_names_out : ndarray of str objects
            The kept input names, then ``missingindicator_<name>`` for each
            indicator column when ``add_indicator``.
        """
        check_is_fitted(self, "n_features_in_")
        names = _check_feature_names_in(self, input_features)
        kept = names
        if not self.keep_empty_features:
            kept = np.delete(names, self._empty_features)
        if not self.add_indicator:
            return kept
        indicators = [f"missingindicator_{n}" for n in names[self._indicator_features]]
        return np.concatenate([kept, np.asarray(indicators, dtype=object)])

    # An imputer returns completed data: codes, reconstructions and a
    # reconstruction score are not part of its interface.
    inverse_transform = Absent()
    score_samples = Absent()
    score = Absent()

    # ----------------------------------------------------------- validation

    def _validate_raw(self, X, reset):
        finite = "allow-nan" if is_nan(self.missing_values) else True
        return super()._validate_input(X, reset, ensure_all_finite=finite)

    def _pack(self, X):
        observed = ~missing_mask(X, self.missing_values)
        return np.hstack([np.where(observed, X, 0), observed]).astype(X.dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = is_nan(self.missing_values)
        return tags
