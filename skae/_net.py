"""The one module that imports skorch.

The estimators keep flat, scikit-learn style parameters and call
:func:`build_net` to get a skorch ``NeuralNet`` that trains their torch module.
The net only overrides skorch's small hooks: where batches come from
(``get_iterator``), how the loss sees the input (``get_loss``) and how an
interrupted run is reported (``fit_loop``).
"""

import copy
import math
import os
import sys

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochTimer,
    PassthroughScoring,
    PrintLog,
)
from skorch.dataset import ValidSplit
from skorch.utils import TeeGenerator, noop
from torch.utils.data import Subset
from tqdm import tqdm

from ._runtime import as_tensor, fused_adam_supported

#: Seeds the noise a denoiser's held-out rows are scored with.
VALIDATION_NOISE_SEED = 0


def _dataset_tensor(dataset):
    if isinstance(dataset, Subset):
        return _dataset_tensor(dataset.dataset)[torch.as_tensor(dataset.indices)]
    return as_tensor(dataset.X)


class TensorBatches:
    """Mini-batches of a tensor, reshuffled from ``generator`` at every pass.

    Hand-written because torch's ``DataLoader`` builds every batch from a list
    of Python integers; for the small models these estimators are used with,
    that costs about as much as the training step itself. Each batch is a
    gather of one slice of the permutation, so memory stays at one batch.
    With ``targets`` (the clean rows of corrupted inputs ``X``), batches are
    ``(x, target)`` pairs; otherwise ``(x, None)``: x is its own target.
    """

    def __init__(self, X, batch_size, shuffle=False, generator=None, targets=None):
        self.X = X
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.targets = targets

    def __len__(self):
        return math.ceil(len(self.X) / self.batch_size)

    def __iter__(self):
        n_samples = len(self.X)
        order = None
        if self.shuffle:
            order = torch.randperm(n_samples, generator=self.generator)
        for start in range(0, n_samples, self.batch_size):
            rows = slice(start, start + self.batch_size)
            if order is not None:
                rows = order[rows]
            yield self.X[rows], None if self.targets is None else self.targets[rows]


class DivergenceCheck(Callback):
    """Stop with a clear error when the loss blows up, keeping finite weights.

    The weights and optimiser state from the start of the training call are
    restored, so a diverged warm start or ``partial_fit`` leaves the model as
    it was instead of full of NaN.
    """

    def on_train_begin(self, net, **kwargs):
        self.module_state_ = _clone_state(net.module_.state_dict())
        self.optimizer_state_ = copy.deepcopy(net.optimizer_.state_dict())
        self.n_epochs_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        losses = [net.history[-1].get(key) for key in ("train_loss", "valid_loss")]
        if all(loss is None or math.isfinite(loss) for loss in losses):
            return
        net.module_.load_state_dict(self.module_state_)
        net.optimizer_.load_state_dict(self.optimizer_state_)
        self.on_train_end(net)
        epoch = len(net.history)
        # The epochs of this call no longer describe the restored weights;
        # left in, a later partial_fit would put their NaN in loss_curve_.
        del net.history[self.n_epochs_ :]
        # The estimators undo a failed call as a whole (skae._transaction).
        raise ValueError(
            f"Training diverged at epoch {epoch}: the reconstruction loss became "
            f"{losses[0]}. The estimator was left as it was before this call. "
            f"Lower learning_rate_init (currently {net.optimizer__lr:g}), or "
            "scale the input first (e.g. StandardScaler or MinMaxScaler in a "
            "Pipeline); very large feature values make the loss overflow."
        )

    def on_train_end(self, net, **kwargs):
        self.module_state_ = self.optimizer_state_ = None


def _clone_state(state_dict):
    return {name: tensor.detach().clone() for name, tensor in state_dict.items()}


class RelativeEarlyStopping(EarlyStopping):
    """skorch's EarlyStopping, counting the starting weights as epoch 0.

    - On the validation loss, the weights a call starts from (a PCA start, or
      the fitted ones in a warm start) are scored first and kept as the best
      so far: with ``load_best``, training can only end with a validation
      loss at or below where it started. (The training loss is not scored
      so: an epoch's training loss is measured while the weights move, with
      dropout and input noise on, and is not comparable.)
    - The relative ``threshold`` is valid for negative losses: skorch's rule
      ``loss < best * (1 - threshold)`` turns around below 0 (a negative
      log-likelihood can be), where a slightly *worse* loss would count as
      progress. Scaling the threshold by ``|best|`` works on both sides of 0.
    - An epoch that beats the start must beat it clearly: at the end, the
      weights kept are compared with the start on chunks of the validation
      rows, and the start comes back unless the kept weights do better by
      more than ``START_MARGIN`` standard errors of the mean per-chunk
      difference (one validation row per chunk on small sets). A PCA start
      is the safe default: on a small validation set, an epoch can look
      better than PCA by chance and be worse on new data.

    ``best_valid_loss_`` is the validation loss of the best weights, None
    before any validation.
    """

    # A one-sided test at the 5% level. Measured on the small tables of
    # bench_autoencoder.py, epochs that beat PCA by 1.0-1.5 standard errors
    # on 13-32 validation rows were worse than PCA on new data about as
    # often as better; on the digits a real gain is 10 or more.
    START_MARGIN = 1.645
    MAX_CHUNKS = 32
    best_valid_loss_ = None

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self.start_ = None
        if self.monitor != "valid_loss" or X is None:
            return
        _, dataset_valid = net.get_split_datasets(X, y)
        start = net.mean_loss(dataset_valid)
        if not math.isfinite(start):
            return
        self.dynamic_threshold_ = self._calc_new_threshold(start)
        self.best_epoch_ = len(net.history)
        if self.load_best:
            self.best_model_weights_ = copy.deepcopy(net.module_.state_dict())
            self.start_ = (
                self.best_epoch_,
                start,
                self.best_model_weights_,
                dataset_valid,
            )

    def _calc_new_threshold(self, score):
        if self.monitor == "valid_loss":
            self.best_valid_loss_ = score
        if self.threshold_mode != "rel":
            return super()._calc_new_threshold(score)
        change = self.threshold * abs(score)
        return score - change if self.lower_is_better else score + change

    def on_train_end(self, net, **kwargs):
        # skorch compares best_epoch_ with the last row's epoch, which fails
        # when a call that restores its start has no row of its own yet.
        if net.history:
            super().on_train_end(net, **kwargs)
        start = getattr(self, "start_", None)
        self.start_ = None
        if start is None or self.best_epoch_ == start[0]:
            return
        epoch, loss, weights, dataset_valid = start
        kept = net.chunk_losses(dataset_valid, self.MAX_CHUNKS)
        kept_weights = copy.deepcopy(net.module_.state_dict())
        net.module_.load_state_dict(weights)
        gain = net.chunk_losses(dataset_valid, self.MAX_CHUNKS) - kept
        # One validation row cannot tell a gain from chance: keep the start.
        if len(gain) > 1:
            standard_error = gain.std(ddof=1) / math.sqrt(len(gain))
            if gain.mean() > self.START_MARGIN * standard_error:
                net.module_.load_state_dict(kept_weights)
                return
        self._sink(
            f"Restoring the start (epoch {epoch}): no epoch beat it clearly "
            "on the validation rows.",
            verbose=net.verbose,
        )
        self.best_epoch_, self.best_valid_loss_ = epoch, loss


class EpochProgressBar(Callback):
    """A tqdm bar over epochs, with the last losses in its postfix.

    skorch's ``ProgressBar`` counts the batches of one epoch; a fit is
    watched by its epochs. Drawn on stderr only when it is a terminal, so
    that CI logs and joblib workers stay quiet, unless the environment
    variable ``SKAE_PROGRESS_BAR`` is ``1`` (always) or ``0`` (never).
    """

    def on_train_begin(self, net, **kwargs):
        self.on_train_end(net)  # a bar left open by a failed call
        forced = os.environ.get("SKAE_PROGRESS_BAR", "")
        # A terminal that reports no size (a fresh pseudo-terminal) gets an
        # empty line from tqdm, which measures 0 columns and 0 rows.
        size = (None, None) if _stderr_width() else (80, 24)
        self.bar_ = tqdm(
            total=net.max_epochs,
            unit="epoch",
            file=sys.stderr,
            disable=None if forced not in ("0", "1") else forced == "0",
            ncols=size[0],
            nrows=size[1],
        )

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        losses = {
            name: f"{row[name]:.4g}"
            for name in ("train_loss", "valid_loss")
            if row.get(name) is not None
        }
        self.bar_.set_postfix(losses, refresh=False)
        self.bar_.update()

    def on_train_end(self, net, **kwargs):
        bar = getattr(self, "bar_", None)
        if bar is not None:
            bar.close()
        self.bar_ = None

    def __getstate__(self):
        # A bar left open by a diverged warm start holds a stream.
        return {**self.__dict__, "bar_": None}


def _stderr_width():
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


class TrimBatchHistory(Callback):
    """Keep only epoch-level history, so a fitted model does not grow with training."""

    def on_epoch_end(self, net, **kwargs):
        net.history[-1]["batches"] = []


class _CtrlC(BaseException):
    """A real Ctrl-C on its way past skorch's ``partial_fit``."""


class AutoEncoderNet(NeuralNet):
    """A skorch net whose target is its own input.

    Parameters beyond ``NeuralNet``'s
    ----------------------------------
    shuffle : bool
        Reshuffle the training set at every epoch.
    shuffle_generator : torch.Generator
        Source of the shuffling order.
    """

    def __init__(self, *args, shuffle=True, shuffle_generator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.shuffle = shuffle
        self.shuffle_generator = shuffle_generator

    def get_default_callbacks(self):
        # PrintLog is added by build_net only when verbose: skorch prints a
        # table by default, scikit-learn estimators are silent by default.
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
        ]

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        # A criterion whose objective changes over training (a KL weight warmed
        # up over epochs) learns the epoch, 1-based and counted across warm starts.
        set_epoch = getattr(self.criterion_, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(len(self.history))

    def notify(self, method_name, **cb_kwargs):
        # skorch calls every callback's hook three times per batch, nearly
        # all of them Callback's no-ops; for small models that is a
        # measurable share of a step. Only the callbacks that define the
        # hook are called (the net's own hooks always are).
        getattr(self, method_name)(self, **cb_kwargs)
        for callback in self._listeners(method_name):
            getattr(callback, method_name)(self, **cb_kwargs)

    def _listeners(self, method_name):
        cache = self.__dict__.get("_listener_cache")
        if cache is None or cache[0] is not self.callbacks_:
            cache = self.__dict__["_listener_cache"] = (self.callbacks_, {})
        listeners = cache[1].get(method_name)
        if listeners is None:
            no_op = getattr(Callback, method_name)
            listeners = cache[1][method_name] = [
                callback
                for _, callback in self.callbacks_
                if getattr(type(callback), method_name, no_op) is not no_op
            ]
        return listeners

    def train_step(self, batch, **fit_params):
        # skorch's default wraps the step in a closure (for optimizers such as
        # LBFGS that re-evaluate the loss), gathers the steps and announces the
        # gradients even when nothing listens. Adam needs none of it.
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        if self._listeners("on_grad_computed"):
            self.notify(
                "on_grad_computed",
                named_parameters=TeeGenerator(self.get_all_learnable_params()),
                batch=batch,
                training=True,
            )
        self._step_optimizer(None)
        return step

    def _set_training(self, training=True):
        # skorch switches every module's mode at every step; Module.train()
        # walks all submodules, a measurable share of a small model's step.
        if self.module_.training != training:
            super()._set_training(training)

    def get_iterator(self, dataset, training=False):
        batch_size = self.batch_size if self.batch_size != -1 else len(dataset)
        if training:
            return TensorBatches(
                _dataset_tensor(dataset),
                batch_size,
                shuffle=self.shuffle,
                generator=self.shuffle_generator,
            )
        inputs, targets = self.validation_pairs(dataset)
        return TensorBatches(inputs, batch_size, targets=targets)

    def validation_pairs(self, dataset):
        """Inputs and targets to score held-out rows on.

        A denoiser (a module whose ``corruption`` can ``corrupt``) is scored on
        what it is trained for, clean rows from corrupted ones: otherwise the
        identity, a full-rank PCA start for one, would be a perfect model.
        The noise comes from a fixed seed, the same at every epoch, so that
        epochs compare on equal terms. Others: the rows are their own targets.
        """
        X = _dataset_tensor(dataset)
        corrupt = getattr(getattr(self.module_, "corruption", None), "corrupt", None)
        if corrupt is None:
            return X, None
        generator = torch.Generator().manual_seed(VALIDATION_NOISE_SEED)
        return corrupt(X, generator), X

    def get_loss(self, y_pred, y_true, X=None, training=False):
        # The target is the input itself, or the clean rows of a corrupted
        # validation input (see validation_pairs).
        return self.criterion_(y_pred, X if y_true is None else y_true)

    @torch.no_grad()
    def chunk_losses(self, dataset, n_chunks):
        """The mean loss over each of up to ``n_chunks`` consecutive chunks
        of ``dataset``, in evaluation mode."""
        inputs, targets = self.validation_pairs(dataset)
        n_chunks = min(n_chunks, len(inputs))
        chunks = zip(
            inputs.tensor_split(n_chunks),
            [None] * n_chunks if targets is None else targets.tensor_split(n_chunks),
            strict=True,
        )
        return np.asarray(
            [self.validation_step(chunk)["loss"].item() for chunk in chunks]
        )

    @torch.no_grad()
    def mean_loss(self, dataset):
        """The loss over ``dataset`` as skorch's ``valid_loss`` computes it:
        in evaluation mode, batch losses weighted by batch size."""
        total, n_samples = 0.0, 0
        for x, target in self.get_iterator(dataset, training=False):
            loss = self.validation_step((x, target))["loss"]
            total += loss.item() * len(x)
            n_samples += len(x)
        return total / n_samples

    def train_epochs(self, X, epochs, validate=True):
        """Train for ``epochs`` more epochs, holding out data only if ``validate``.

        Like scikit-learn's ``partial_fit``, incremental passes use every
        sample and no early stopping split.
        """
        saved = self.max_epochs, self.train_split
        self.max_epochs = epochs
        # Without a validation split there is no valid_loss for early stopping
        # to watch (partial_fit after fit with early_stopping=True): it watches
        # the training loss for this call instead.
        stoppers = [
            cb
            for _, cb in self.callbacks_
            if isinstance(cb, EarlyStopping) and cb.monitor == "valid_loss"
        ]
        if not validate:
            self.train_split = None
            for cb in stoppers:
                cb.monitor = "train_loss"
        n_epochs = len(self.history)
        try:
            self.partial_fit(X)
        except _CtrlC:
            # What skorch does after a training loop: close the progress bar,
            # restore the best weights under early stopping.
            self.notify("on_train_end", X=X, y=None)
            if len(self.history) == n_epochs:
                # Not one epoch completed: nothing worth keeping.
                raise KeyboardInterrupt from None
        finally:
            self.max_epochs, self.train_split = saved
            for cb in stoppers:
                cb.monitor = "valid_loss"
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self.interrupted_ = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            # skorch's EarlyStopping also stops training by raising
            # KeyboardInterrupt; only a real Ctrl-C counts as an interruption.
            if self.stopped_early():
                raise
            self.interrupted_ = True
            if self.history and "train_loss" not in self.history[-1]:
                # The epoch in progress has no loss to report: drop its row so
                # that n_iter_ and loss_curve_ count completed epochs only.
                self.history.pop()
            # skorch's partial_fit swallows a KeyboardInterrupt (its early
            # stopping signal); a Ctrl-C must reach the caller, so that a
            # loop of fits or a grid search stops.
            raise _CtrlC from None

    def stopped_early(self):
        return any(
            isinstance(callback, EarlyStopping)
            and callback.misses_ >= callback.patience
            for _, callback in self.callbacks_
        )

    def __getstate__(self):
        # Unpickle on the CPU: a model trained on a GPU must load on machines
        # without one, silently. Callers move it to a device explicitly.
        state = super().__getstate__()
        state.pop("_listener_cache", None)
        state["device"] = "cpu"
        return state


def _write_beside_bar(text):
    """Print ``text`` on stderr, above a progress bar if one is drawn there."""
    tqdm.write(text, file=sys.stderr)


def build_net(
    module,
    criterion,
    *,
    device,
    batch_size,
    learning_rate_init,
    alpha,
    max_iter,
    tol,
    n_iter_no_change,
    early_stopping,
    validation_fraction,
    shuffle,
    shuffle_generator,
    split_seed,
    verbose,
):
    """Translate scikit-learn style training parameters into an initialized net.

    Stopping follows ``MLPRegressor``: without ``early_stopping`` training
    stops when the training loss has not improved by a relative ``tol`` for
    ``n_iter_no_change`` epochs; with it, the same rule watches the loss on a
    held-out ``validation_fraction`` and the best weights are restored.
    """
    # verbose=1 draws a progress bar on stderr, verbose>=2 prints a table per
    # epoch on stdout; messages go where the bar or the table goes.
    sink = noop if not verbose else print if verbose >= 2 else _write_beside_bar
    monitor = "valid_loss" if early_stopping else "train_loss"
    callbacks = [
        ("divergence", DivergenceCheck()),
    ]
    if verbose == 1:
        callbacks.append(("progress_bar", EpochProgressBar()))
    callbacks += [
        (
            "stopping",
            RelativeEarlyStopping(
                monitor=monitor,
                patience=n_iter_no_change,
                threshold=tol,
                threshold_mode="rel",
                load_best=early_stopping,
                sink=sink,
            ),
        ),
    ]
    if verbose >= 2:
        callbacks.append(("print_log", PrintLog()))
    callbacks.append(("trim_history", TrimBatchHistory()))

    device_type = torch.device(device).type
    penalty = {}
    if alpha > 0:
        # As in scikit-learn's MLPs, the L2 penalty applies to weights only.
        # (Without a penalty a single group avoids a second optimiser kernel.)
        penalty = {
            "optimizer__weight_decay": alpha,
            "optimizer__param_groups": [("*.bias", {"weight_decay": 0.0})],
        }
    net = AutoEncoderNet(
        module=module,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        optimizer__lr=learning_rate_init,
        optimizer__fused=fused_adam_supported(device_type) or None,
        max_epochs=max_iter,
        batch_size=batch_size,
        train_split=(
            ValidSplit(validation_fraction, random_state=split_seed)
            if early_stopping
            else None
        ),
        callbacks=callbacks,
        device=device,
        shuffle=shuffle,
        shuffle_generator=shuffle_generator,
        **penalty,
    )
    return net.initialize()
