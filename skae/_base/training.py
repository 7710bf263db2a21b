"""Training, for the base class: build the net, run its epochs, record the result.

:meth:`TrainingMixin._train` is the one training path behind ``fit``,
``fit`` with ``warm_start=True`` and ``partial_fit``.
"""

import contextlib
import math

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._net import build_net
from .._nn.losses import squared_error
from .._nn.modules import attach_generator, reset_parameters
from .._utils.runtime import (
    make_generator,
    onednn,
    resolve_device,
    threads_for,
    torch_threads,
    uses_onednn,
)
from .._utils.warnings import warn
from . import inference
from .transaction import FitInterrupted
from .warm_start import architecture_params

#: ``batch_size="auto"``: rows a step, as MLPRegressor's (clipped to the data).
AUTO_BATCH_SIZE = 200


class TrainingMixin:
    """How a :class:`~skae._base.base.BaseAutoEncoder` trains its network."""

    def _train(self, X, method, resume):
        """Train on ``X`` for ``fit`` (``max_iter`` epochs) or ``partial_fit`` (one).

        ``resume`` goes on training the existing network; otherwise a new one
        is built. ``partial_fit`` never holds out validation rows.
        """
        incremental = method == "partial_fit"
        validate = not incremental and self._holds_out_rows()
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

        self._prepare(X, resume)
        batch_size = min(self._batch_size(), n_samples)
        n_train = n_samples - n_valid if validate else n_samples
        epochs = 1 if incremental else self._n_epochs(n_train, batch_size)
        if resume:
            net = self.net_
            # The training settings a warm start may change (WARM_START_PARAMS)
            # reach the existing net; Adam keeps its moment estimates.
            net.set_params(optimizer__lr=self._learning_rate(batch_size))
            stopping = dict(net.callbacks_)["stopping"]
            stopping.patience, stopping.threshold = self.n_iter_no_change, self.tol
            net.shuffle = self.shuffle
        else:
            self._built_with = architecture_params(self)
            device = resolve_device(self.device)
            net = self._initialize_net(X.shape[1], batch_size, device)
        net.batch_size = batch_size
        n_weights = sum(p.numel() for p in net.module_.parameters())
        threads = threads_for(self.n_threads, batch_size * n_weights)
        if not resume:
            # On training's threads: the PCA start reads torch's count.
            with torch_threads(threads):
                self._initialize_from_data(net.module_, X)
        with (
            torch_threads(threads),
            onednn(uses_onednn(net.module_)),
            self._training_data(net.module_, X) as data,
        ):
            net.train_epochs(
                data,
                epochs,
                validate=validate,
                rows_per_epoch=self._training_rows_per_epoch(),
            )

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

    def _holds_out_rows(self):
        """Whether ``fit`` holds out rows for early stopping to watch:
        ``early_stopping``, unless a mixin (a label head) decides otherwise.
        Without them, early stopping watches the training loss."""
        return self.early_stopping

    def _training_rows_per_epoch(self):
        """How many of the training rows an epoch trains on; None: all.

        A variant whose training set grows faster than its rows (UMAP's
        graph edges) bounds an epoch's cost so.
        """
        return None

    def _training_data(self, module, X):
        """A context giving what the net trains on: the rows ``X`` by default.

        A variant that trains on something else (UMAP's graph edges) yields
        it, and may lend ``module`` the rows for the time of training.
        """
        return contextlib.nullcontext(X)

    def _initialize_net(self, n_features, batch_size, device):
        """A new net on ``device`` around a freshly built module (also for load)."""
        init_seed, shuffle_seed, noise_seed, split_seed = self._draw_seeds(4)
        # torch's layer constructors draw a default initialisation from the
        # global generator; fork_rng puts that state back untouched.
        with torch.random.fork_rng(devices=[]):
            module = self._network_module(n_features)
        reset_parameters(module, make_generator(init_seed))
        attach_generator(module, make_generator(noise_seed, device))

        return build_net(
            module,
            self._network_criterion(),
            device=device,
            batch_size=batch_size,
            learning_rate_init=self._learning_rate(batch_size),
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
            extra_callbacks=self._training_callbacks(),
        )

    def _batch_size(self):
        """Rows per step for this call: ``batch_size``, ``"auto"`` being 200
        unless a mixin resolves it (a label head)."""
        return AUTO_BATCH_SIZE if self.batch_size == "auto" else self.batch_size

    def _learning_rate(self, batch_size):
        """Adam's learning rate for this call, in steps of ``batch_size``
        rows: ``learning_rate_init``, unless a mixin resolves an ``"auto"``
        (a label head)."""
        return self.learning_rate_init

    def _network_module(self, n_features):
        """The module the net trains: the variant's, unless a mixin (a label
        head) extends it."""
        return self._build_module(n_features)

    def _network_criterion(self):
        """The net's loss: the variant's, unless a mixin extends it."""
        return self._build_criterion()

    def _n_epochs(self, n_samples, batch_size):
        """Epochs ``fit`` trains for on ``n_samples`` rows: ``max_iter`` by default.

        A variant whose ``max_iter`` can be derived from the data (a budget
        of steps) overrides it.
        """
        return self.max_iter

    def _training_callbacks(self):
        """``(name, callback)`` pairs a variant adds to its net; none by default."""
        return []

    def _draw_seeds(self, n):
        if self.random_state is None:
            # Fresh entropy from the OS, so that numpy's global RNG is not
            # advanced by fitting.
            return np.random.default_rng().integers(np.iinfo(np.int32).max, size=n)
        rng = check_random_state(self.random_state)
        return rng.randint(np.iinfo(np.int32).max, size=n)

    #: True where ``max_iter`` is a budget of epochs the method is meant to
    #: spend, as umap-learn's ``n_epochs``, rather than a cap on a run that
    #: should converge first: reaching it then raises no ConvergenceWarning.
    _max_iter_is_a_budget = False

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

        finished = net.interrupted_ or net.stopped_early()
        if not incremental and not finished and not self._max_iter_is_a_budget:
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
        """``reconstruction_error_``: for models whose score is not -MSE, override.

        Where :meth:`_keeps_training_codes` says so, the same pass keeps
        the codes of ``X`` in ``_training_codes``, for the latent density:
        encoding the rows again took half of the density's time for a
        4,096-unit code.
        """
        if not self._keeps_training_codes(X):
            with self._fit_summary_module() as summary:
                scores = self._forward_batches(
                    self._score_batch, X, None, inference=summary
                )
            return float(-np.mean(scores, dtype=np.float64))

        def scores_and_codes(module, x):
            codes = self._encode_batch(module, x)
            score = -squared_error(self._decode_batch(module, codes), x)
            return torch.cat([score[:, None], codes], dim=1)

        # As many rows per batch as for the scores alone: the same sums.
        rows = max(
            1,
            min(
                inference.INFERENCE_BATCH_SIZE,
                inference.INFERENCE_BATCH_VALUES // int(np.prod(X.shape[1:])),
            ),
        )
        with self._fit_summary_module() as summary:
            out = self._forward_batches(
                scores_and_codes, X, 1 + self._n_features_out, rows, summary
            )
        self._training_codes = out[:, 1:]
        return float(-np.mean(np.ascontiguousarray(out[:, 0]), dtype=np.float64))

    def _keeps_training_codes(self, X):
        return False
