"""Labels where they help: ``target_weight`` and the head it trains on ``y``.

:class:`LabelsMixin` gives an estimator supervised and semi-supervised
codes: with ``target_weight`` set, ``fit(X, y)`` adds a linear head on the
code (:class:`~skae._nn.labels.LabelledModule`) and trains on
``(1 - target_weight)`` times the variant's loss plus ``target_weight``
times the head's (:class:`~skae._losses.LabelLoss`). Class labels get a
softmax head, -1 marking a row without one; a float target (1-D or 2-D) a
linear head on its standardised values. ``target_weight=None`` (the
default) ignores ``y`` and builds exactly the network it always did.
"""

import contextlib
from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array

from .._nn.labels import LabelledModule
from .._nn.losses import LabelLoss
from .._utils.columns import column_spread
from .training import AUTO_BATCH_SIZE

LABEL_CONSTRAINTS = {"target_weight": [Interval(Real, 0, 1, closed="both"), None]}

#: For an estimator whose ``learning_rate_init`` defaults to ``"auto"``
#: (its ``_auto_learning_rates``: without class labels, and with them).
AUTO_RATE_CONSTRAINTS = {
    "learning_rate_init": [
        Interval(Real, 0, None, closed="neither"),
        StrOptions({"auto"}),
    ]
}

#: The fitted attributes that describe the head; dropped by a fit without it.
HEAD_ATTRIBUTES = ("classes_", "target_mean_", "target_scale_")

#: With class labels, the network reads the input with gaussian noise of
#: this many standard deviations of each feature (over the training rows;
#: an estimator may set its own level, ``_class_noise``),
#: and its reconstruction is scored against the input itself: a denoising
#: fit. An estimator that corrupts its input itself (a denoiser,
#: ConvAutoEncoder with ``noise``) keeps its own noise. Without it, the
#: encoder learns to place the labelled rows, not their neighbourhoods, and
#: unlabelled and new rows stay behind. The noise on the whole input (one
#: encoder pass a step) replaced a noise on the head's input alone (two).
#: A float target gets none: on the diabetes data it moved R^2 within the
#: folds' noise. The measurements: docs/user_guide/supervised_trials.rst.
CLASS_HEAD_NOISE = 0.3

#: With class labels, the head's loss adds this many times the mean squared
#: code of the labelled rows (:class:`~skae._nn.losses.LabelLoss` says why).
#: Without it the labelled codes spread ever wider, and the reconstruction,
#: new rows and a classifier stopped early paid for it (the trials:
#: docs/user_guide/supervised_trials.rst).
CLASS_CODE_PENALTY = 3e-3


class LabelsMixin:
    """``target_weight`` for a :class:`~skae._base.BaseAutoEncoder` subclass.

    Put it first in the bases. The estimator takes a ``target_weight``
    parameter (:data:`LABEL_CONSTRAINTS`). A variant whose batches index
    its rows (UMAP's edges) sets ``_batches_index_rows`` and wraps what its
    own ``_training_data`` yields in :meth:`_labelled`; one that can use
    class labels only sets ``_needs_classes``.
    """

    _batches_index_rows = False
    _needs_classes = False
    #: ``learning_rate_init="auto"``'s rates: (without class labels, with
    #: them); None where the estimator takes no "auto".
    _auto_learning_rates = None
    #: ``batch_size="auto"`` with class labels; None: the base's.
    _auto_class_batch_size = None
    #: The input noise of a fit on class labels (see CLASS_HEAD_NOISE).
    _class_noise = CLASS_HEAD_NOISE
    #: The penalty on the labelled rows' codes (see CLASS_CODE_PENALTY).
    _class_code_penalty = CLASS_CODE_PENALTY

    def fit(self, X, y=None):
        """Train on ``X``, and on ``y`` when ``target_weight`` is set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Converted to float32 for training.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), \
default=None
            Ignored unless ``target_weight`` is set. Class labels (ints,
            strings or booleans; -1 for a row without a class), or a float
            target, 1-D or 2-D.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._with_labels(super().fit, X, y)

    def partial_fit(self, X, y=None):
        """Train for one epoch on ``X`` (and ``y``), from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), \
default=None
            The chunk's targets, as in :meth:`fit`; after a first call with
            class labels, ``None`` trains the reconstruction alone.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._with_labels(super().partial_fit, X, y)

    def _with_labels(self, method, X, y):
        # The base's fit validates X, then reads the labels in _prepare;
        # dropped whatever happens.
        self._fit_labels = y
        try:
            return method(X, y)
        finally:
            vars(self).pop("_fit_labels", None)

    # ------------------------------------------------------- the base's hooks

    def _prepare(self, X, resume):
        super()._prepare(X, resume)
        if not resume:
            for name in HEAD_ATTRIBUTES:
                vars(self).pop(name, None)
        y = getattr(self, "_fit_labels", None)
        if self.target_weight is None:
            return
        if not self._has_head():
            if y is None:
                return
            if resume:
                raise ValueError(
                    f"This {type(self).__name__} was fitted without y, so its "
                    "network has no head to train on labels. Fit with "
                    "warm_start=False to train on y."
                )
        self._fit_targets = self._targets(y, X.shape[0], resume)

    def _network_module(self, n_features):
        module = super()._network_module(n_features)
        n_outputs = self._head_outputs()
        if n_outputs is None:
            return module
        noise = self._class_noise if hasattr(self, "classes_") else 0.0
        return LabelledModule(
            module, n_features, self.n_components, n_outputs, noise=noise
        )

    def _network_criterion(self):
        criterion = super()._network_criterion()
        if not self._has_head():
            return criterion
        classes = hasattr(self, "classes_")
        return LabelLoss(
            criterion,
            float(self.target_weight),
            classes=classes,
            n_features=None if self._batches_index_rows else self.n_features_in_,
            code_penalty=self._class_code_penalty if classes else 0.0,
        )

    def _learning_rate(self, batch_size):
        # A fit on class labels has further to go than one that refines the
        # PCA start: the head pulls the classes apart, to codes several times
        # PCA's spread, and at the rate that suits the refinement it trained
        # for up to twice the epochs of a fit without labels. Without labels
        # a larger rate gains nothing, so "auto" leaves those fits as they
        # were. With class labels the rate is for steps of the "auto" batch,
        # and follows a smaller one (given, or the whole of a smaller table)
        # in proportion, by the linear scaling rule. The measurements:
        # docs/user_guide/supervised_trials.rst.
        rate = super()._learning_rate(batch_size)
        if not isinstance(rate, str):
            return rate
        plain, classes = self._auto_learning_rates
        if not hasattr(self, "classes_"):
            return plain
        return classes * min(1.0, batch_size / self._class_batch())

    def _batch_size(self):
        # With class labels, twice the rows a step at twice the rate (the
        # "auto" ones), as the linear scaling rule has it: the same codes in
        # fewer, larger steps. For the small networks this is for, a step's
        # cost is mostly its number of operations, so that a fit on labels
        # costs about what one without does (see _learning_rate).
        if self.batch_size != "auto" or not hasattr(self, "classes_"):
            return super()._batch_size()
        return self._class_batch()

    def _class_batch(self):
        """``batch_size="auto"``'s rows a step with class labels."""
        return self._auto_class_batch_size or AUTO_BATCH_SIZE

    def _holds_out_rows(self):
        # With class labels, early stopping watches the training loss. On
        # held-out rows the head's cross-entropy rises as soon as its logits
        # grow confident, while the codes still improve for a classifier
        # (the digits at k=2, 3-fold: held-out accuracy and reconstruction
        # both better without the split); with 10% of the labels, the
        # held-out loss rests on a dozen labelled rows and kept epochs 10-30
        # of a 100-epoch run. A float target's squared error has no such
        # turn, and on small tables (the diabetes data) the held-out rows
        # are what stops the head from overfitting: those keep them.
        return super()._holds_out_rows() and not self._trains_classes()

    def _trains_classes(self):
        y = getattr(self, "_fit_labels", None)
        if self.target_weight is None or y is None:
            return False
        y = np.asarray(y)
        return y.dtype.kind != "f" or (self._needs_classes and _whole(y))

    def _set_fitted_attributes(self, X, incremental):
        super()._set_fitted_attributes(X, incremental)
        if self.early_stopping and self._trains_classes():
            # No rows were held out (see _holds_out_rows).
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _training_data(self, module, X):
        return self._labelled(module, super()._training_data(module, X))

    @contextlib.contextmanager
    def _labelled(self, module, data):
        """What the net trains on, given the variant's ``data`` context:
        rows with their targets packed after them, or the variant's batches
        with the targets lent to the module."""
        targets = vars(self).pop("_fit_targets", None)
        with data as data:
            if targets is None:
                yield data
            elif not self._batches_index_rows:
                device = next(module.parameters()).device
                spread = column_spread(data.reshape(len(data), -1))
                module.lend_spread(
                    torch.from_numpy(spread.astype(np.float32)).to(device)
                )
                try:
                    yield np.hstack([data, targets])
                finally:
                    module.lend_spread(None)
            else:
                device = next(module.parameters()).device
                module.lend_targets(torch.from_numpy(targets).to(device))
                try:
                    yield data
                finally:
                    module.lend_targets(None)

    # ----------------------------------------------------------------- targets

    def _has_head(self):
        return any(hasattr(self, name) for name in ("classes_", "target_mean_"))

    def _head_outputs(self):
        if hasattr(self, "classes_"):
            return len(self.classes_)
        if hasattr(self, "target_mean_"):
            return len(self.target_mean_)
        return None

    def _targets(self, y, n_samples, resume):
        """``y`` as the float32 target columns the head trains on.

        Sets ``classes_`` (or ``target_mean_`` and ``target_scale_``) on a
        cold start; a warm start checks ``y`` against them.
        """
        name = type(self).__name__
        if y is None:
            if hasattr(self, "classes_"):
                return np.full((n_samples, 1), -1, dtype=np.float32)
            raise ValueError(
                f"This {name} was fitted on a continuous target; pass the "
                "chunk's y to train it further."
            )
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != n_samples:
            raise ValueError(
                f"y has {y.size if y.ndim == 0 else len(y)} rows but X has "
                f"{n_samples}; pass one target per row of X."
            )
        continuous = y.dtype.kind == "f"
        if continuous and not np.isfinite(y).all():
            raise ValueError(
                f"y contains NaN or infinity; {name} needs a target for every "
                "row (class labels mark a row without one with -1)."
            )
        if continuous and self._needs_classes and _whole(y):
            continuous = False
        if continuous:
            return self._continuous_targets(y, resume, name)
        return self._class_targets(y, resume, name)

    def _class_targets(self, y, resume, name):
        if resume and not hasattr(self, "classes_"):
            raise ValueError(
                f"This {name} was fitted on a continuous target, but y now "
                f"holds class labels (dtype {y.dtype}). Pass float targets, "
                "or fit with warm_start=False."
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"{name} takes class labels as a 1-D y, got shape {y.shape}. "
                "Pass one label per row, or a float y for a continuous target."
            )
        unlabelled = y == -1 if y.dtype.kind in "iuf" else np.zeros(len(y), bool)
        try:
            classes = np.unique(y[~unlabelled])
        except TypeError as exc:
            raise ValueError(
                f"{name} could not sort the classes in y ({exc}); pass labels "
                "of one type: ints, strings or booleans."
            ) from None
        if not resume:
            if unlabelled.all():
                raise ValueError(
                    f"Every label in y is -1 (no class): {name} has nothing to "
                    "learn the head from. Label some rows, or fit without y."
                )
            if len(classes) < 2:
                raise ValueError(
                    f"y holds one class ({classes.tolist()[0]!r}); {name} "
                    "needs at least two to shape the codes. Fit without y, or "
                    "pass rows of other classes."
                )
            # Strings as Python str objects, which skae.save stores (a
            # fixed-width unicode dtype it refuses, as any dtype whose size
            # the file would choose).
            self.classes_ = (
                classes.astype(object) if classes.dtype.kind in "US" else classes
            )
        else:
            unseen = np.setdiff1d(classes, self.classes_)
            if len(unseen):
                raise ValueError(
                    f"y holds classes {unseen.tolist()!r} that the first fit did "
                    f"not see (classes_={self.classes_.tolist()!r}). Fit with "
                    "warm_start=False to learn them."
                )
        codes = np.full(len(y), -1, dtype=np.float32)
        codes[~unlabelled] = np.searchsorted(self.classes_, y[~unlabelled])
        return codes[:, None]

    def _continuous_targets(self, y, resume, name):
        if self._needs_classes:
            raise ValueError(
                f"{name} with target_weight set uses y as class labels, got a "
                "continuous target. Pass class labels (-1 for a row without "
                "one), or target_weight=None to fit without y."
            )
        if resume and not hasattr(self, "target_mean_"):
            raise ValueError(
                f"This {name} was fitted on class labels, but y now holds a "
                f"float target. Pass labels of the classes in classes_, or fit "
                "with warm_start=False."
            )
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim == 1:
            y = y[:, None]
        if not resume:
            self.target_mean_ = y.mean(axis=0)
            scale = y.std(axis=0)
            self.target_scale_ = np.where(scale > 0, scale, 1.0)
        elif y.shape[1] != len(self.target_mean_):
            raise ValueError(
                f"y has {y.shape[1]} target columns; this {name} was fitted "
                f"on {len(self.target_mean_)}."
            )
        return ((y - self.target_mean_) / self.target_scale_).astype(np.float32)


def _whole(y):
    """True when float ``y`` holds finite whole numbers only (class labels)."""
    return bool(np.isfinite(y).all() and (y == np.round(y)).all())
