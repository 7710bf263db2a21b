"""The net's callbacks: divergence check, progress bar, history trimming,
learning-rate decay, weight averaging."""

import math
import os
from functools import partial

import torch
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

from .output import is_terminal, usable_stream


class DivergenceCheck(Callback):
    """Stop with a clear error when the loss becomes NaN or infinite.

    It only raises: the estimators run every training call inside
    ``skae._base.transaction.fit_transaction``, which puts the weights, optimiser
    state and history from before the call back, so a diverged warm start or
    ``partial_fit`` leaves the model as it was instead of full of NaN.
    """

    def on_epoch_end(self, net, **kwargs):
        losses = [net.history[-1].get(key) for key in ("train_loss", "valid_loss")]
        if all(loss is None or math.isfinite(loss) for loss in losses):
            return
        raise ValueError(
            f"Training diverged at epoch {len(net.history)}: the reconstruction "
            f"loss became {losses[0]}. The estimator was left as it was before "
            f"this call. Lower learning_rate_init (currently "
            f"{net.optimizer__lr:g}), or scale the input first (e.g. "
            "StandardScaler or MinMaxScaler in a Pipeline); very large feature "
            "values make the loss overflow."
        )


class EpochProgressBar(Callback):
    """A tqdm bar over epochs, with the last losses in its postfix.

    skorch's ``ProgressBar`` counts the batches of one epoch; a fit is
    watched by its epochs. Drawn on stderr only when it is a terminal, so
    that CI logs and joblib workers stay quiet, unless the environment
    variable ``SKAE_PROGRESS_BAR`` is ``1`` (always) or ``0`` (never); and
    never when stderr is missing or closed (see ``output.py``).
    """

    def on_train_begin(self, net, **kwargs):
        self.on_train_end(net)  # a bar left open by a failed call
        forced = os.environ.get("SKAE_PROGRESS_BAR", "")
        stream = usable_stream("stderr")
        drawn = is_terminal(stream) if forced not in ("0", "1") else forced == "1"
        # A terminal that reports no size (a fresh pseudo-terminal) gets an
        # empty line from tqdm, which measures 0 columns and 0 rows.
        size = (None, None) if _width(stream) else (80, 24)
        self.bar_ = tqdm(
            total=net.max_epochs,
            unit="epoch",
            file=stream,
            disable=stream is None or not drawn,
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


def _width(stream):
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


class TrimBatchHistory(Callback):
    """Keep only epoch-level history, so a fitted model does not grow with training."""

    def on_epoch_end(self, net, **kwargs):
        net.history[-1]["batches"] = []


def _linear_decay(epoch, n_epochs, held):
    return min(1.0, (n_epochs - epoch) / (n_epochs - held))


class LinearDecay(LRScheduler):
    """The learning rate falls linearly over the epochs of each training call.

    Epoch ``e`` of ``n`` trains at ``(1 - e / n)`` times the optimiser's
    learning rate, the last at ``1 / n`` of it, as umap-learn lowers its
    step size to nothing over its epochs: late epochs settle the codes
    instead of shaking them. Each ``fit`` or ``partial_fit`` call starts from
    the learning rate the estimator sets (``learning_rate_init``), a warm
    start's included.

    ``hold``, a fraction of the call's epochs, keeps the rate constant over
    the first ``floor(hold * n)`` of them; the fall then starts from there
    and still ends at ``1 / (n - floor(hold * n))`` of the rate.
    """

    def __init__(self, hold=0.0):
        super().__init__(LambdaLR, event_name=None, step_every="epoch")
        self.hold = hold

    def on_train_begin(self, net, **kwargs):
        # LambdaLR scales each group's "initial_lr", which it sets only when
        # missing: dropped, it becomes the learning rate of this call.
        for group in net.optimizer_.param_groups:
            group.pop("initial_lr", None)
        # During a call, max_epochs is its number of epochs (train_epochs).
        n_epochs = net.max_epochs
        decay = partial(
            _linear_decay, n_epochs=n_epochs, held=math.floor(self.hold * n_epochs)
        )
        self.lr_scheduler_ = LambdaLR(net.optimizer_, decay)

    def on_train_end(self, net, **kwargs):
        # Back to the call's learning rate, not the last epoch's sliver of it.
        for group in net.optimizer_.param_groups:
            group["lr"] = group["initial_lr"]


class WeightAveraging(Callback):
    """End each training call with an exponential moving average of the weights.

    After every training step the average moves towards the current weights
    by ``1 - d``, where ``d = min(decay, (1 + t) / (10 + t))`` at the
    ``t``-th step of the call (the warm-up of TensorFlow's
    ``ExponentialMovingAverage``): a short call, as ``partial_fit``'s one
    epoch, averages over its own last steps rather than dragging its start
    along. When the call ends the module takes the average (unless it was
    interrupted); a warm start goes on from it. The optimiser steps the
    weights themselves throughout.

    When the objective is noisy at every step (a denoiser's fresh random
    corruption), the last step's weights are one noisy point around a
    minimum, and their recent average is closer to it (Polyak averaging).

    Parameters
    ----------
    decay : float in (0, 1)
    """

    def __init__(self, decay):
        self.decay = decay

    def on_train_begin(self, net, **kwargs):
        self.average_, self.steps_ = None, 0
        # The optimiser updates the weights in place: listed once per call,
        # not at every step (walking the module costs as much as the update).
        self.weights_ = [p.detach() for p in net.module_.parameters()]

    @torch.no_grad()
    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        if self.average_ is None:
            self.average_ = [w.clone() for w in self.weights_]
        else:
            t = self.steps_
            decay = min(self.decay, (1 + t) / (10 + t))
            # The lerp torch's get_ema_multi_avg_fn makes, without building
            # and entering a no_grad wrapper at every step (a third of the cost).
            torch._foreach_lerp_(self.average_, self.weights_, 1 - decay)
        self.steps_ += 1

    @torch.no_grad()
    def on_train_end(self, net, **kwargs):
        average = getattr(self, "average_", None)
        # An interrupted call (Ctrl-C) keeps the weights trained so far, as
        # every estimator does, for partial_fit or a warm start to go on from.
        if average is not None and not getattr(net, "interrupted_", False):
            for w, a in zip(net.module_.parameters(), average, strict=True):
                w.copy_(a)
        self.average_ = self.weights_ = None
