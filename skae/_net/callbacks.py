"""The net's callbacks: divergence check, progress bar, history trimming."""

import copy
import math
import os
import sys

from skorch.callbacks import Callback
from tqdm import tqdm


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
