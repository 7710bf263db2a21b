"""AutoEncoderNet: a skorch ``NeuralNet`` whose target is its own input.

It overrides only skorch's small hooks: where batches come from
(``get_iterator``), how the loss sees the input (``get_loss``), which
callbacks are notified, and how an interrupted run is reported
(``fit_loop``).
"""

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochTimer,
    PassthroughScoring,
)
from skorch.utils import TeeGenerator

from .batches import TensorBatches, dataset_rows, dataset_tensor
from .optim import fused_adam_step

#: Seeds the noise a denoiser's held-out rows are scored with.
VALIDATION_NOISE_SEED = 0


class _CtrlC(BaseException):
    """A real Ctrl-C on its way past skorch's ``partial_fit``."""


def batch_loss(step):
    """A step's loss, detached, to keep on its device until the epoch ends.

    A copy: on the CPU, ``F.mse_loss``'s 0-d result has the whole
    batch-sized buffer it reduced as its storage (627 KB a batch at
    200 x 784), and keeping those for an epoch held a second copy of X.
    """
    return step["loss"].detach().clone()


class AutoEncoderNet(NeuralNet):
    """A skorch net whose target is its own input.

    Parameters beyond ``NeuralNet``'s
    ----------------------------------
    shuffle : bool
        Reshuffle the training set at every epoch.
    shuffle_generator : torch.Generator
        Source of the shuffling order.
    """

    #: Training rows per epoch (None: all); set by ``train_epochs`` for a call.
    rows_per_epoch = None

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

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # skorch's loop reads each batch's loss with .item() (on a GPU, a
        # wait for the device at every step) and writes it and the batch
        # size through two History lookups per batch. Here the losses stay
        # on the device until the epoch's batches are done, and the history
        # gets the same per-batch records then: nothing reads them sooner
        # (the per-epoch scores, early stopping and the divergence check all
        # run at the end of the epoch).
        if iterator is None:
            return
        losses, sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(batch_loss(step))
            sizes.append(len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if losses:
            # The net's on_batch_begin opened one record per batch.
            records = self.history[-1]["batches"][-len(losses) :]
            values = torch.stack(losses).tolist()
            for record, loss, size in zip(records, values, sizes, strict=True):
                record[prefix + "_loss"] = loss
                record[prefix + "_batch_size"] = size
        self.history.record(prefix + "_batch_count", len(losses))

    def train_step(self, batch, **fit_params):
        # skorch's default wraps the step in a closure (for optimizers such as
        # LBFGS that re-evaluate the loss), gathers the steps and announces the
        # gradients even when nothing listens. Adam needs none of it, and its
        # fused update is called without Adam.step's bookkeeping when it can be.
        self._drop_gradients()
        step = self.train_step_single(batch, **fit_params)
        if self._listeners("on_grad_computed"):
            self.notify(
                "on_grad_computed",
                named_parameters=TeeGenerator(self.get_all_learnable_params()),
                batch=batch,
                training=True,
            )
        for name in self._optimizers:
            optimizer = getattr(self, name + "_")
            if not fused_adam_step(optimizer):
                optimizer.step()
        return step

    def _drop_gradients(self):
        # What Optimizer.zero_grad() does by default (set_to_none), without
        # its profiler record and dispatch: about a tenth of a small step.
        for name in self._optimizers:
            for group in getattr(self, name + "_").param_groups:
                for param in group["params"]:
                    param.grad = None

    def _set_training(self, training=True):
        # skorch switches every module's mode at every step; Module.train()
        # walks all submodules, a measurable share of a small model's step.
        if self.module_.training != training:
            super()._set_training(training)

    def get_iterator(self, dataset, training=False):
        batch_size = self.batch_size if self.batch_size != -1 else len(dataset)
        if training:
            X, rows = dataset_rows(dataset)
            return TensorBatches(
                X,
                batch_size,
                shuffle=self.shuffle,
                generator=self.shuffle_generator,
                rows=rows,
                most=self.rows_per_epoch,
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
        X = dataset_tensor(dataset)
        corrupt = getattr(getattr(self.module_, "corruption", None), "corrupt", None)
        if corrupt is None:
            return X, None
        generator = torch.Generator().manual_seed(VALIDATION_NOISE_SEED)
        return corrupt(X, generator), X

    def get_loss(self, y_pred, y_true, X=None, training=False):
        # The target is the input itself, or the clean rows of a corrupted
        # validation input (see validation_pairs). Batches come off the CPU;
        # skorch moves only the input to the module's device, so the target
        # follows here (a no-op on the CPU).
        target = X if y_true is None else y_true
        return self.criterion_(y_pred, target.to(self.device))

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

    def train_epochs(self, X, epochs, validate=True, rows_per_epoch=None):
        """Train for ``epochs`` more epochs, holding out data only if ``validate``.

        Like scikit-learn's ``partial_fit``, incremental passes use every
        sample and no early stopping split. With ``rows_per_epoch``, an epoch
        trains on that many of the training rows, drawn afresh each epoch.
        """
        saved = self.max_epochs, self.train_split
        self.max_epochs, self.rows_per_epoch = epochs, rows_per_epoch
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
            self.rows_per_epoch = None
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
