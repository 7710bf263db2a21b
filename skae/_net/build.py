"""build_net: scikit-learn style training parameters in, an initialized net out."""

import torch
from skorch.callbacks import PrintLog
from skorch.dataset import ValidSplit
from skorch.utils import noop

from .._utils.runtime import fused_adam_supported
from .callbacks import DivergenceCheck, EpochProgressBar, TrimBatchHistory
from .early_stopping import RelativeEarlyStopping
from .net import AutoEncoderNet
from .output import LineSink


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
    extra_callbacks=(),
):
    """Translate scikit-learn style training parameters into an initialized net.

    Stopping follows ``MLPRegressor``: without ``early_stopping`` training
    stops when the training loss has not improved by a relative ``tol`` for
    ``n_iter_no_change`` epochs; with it, the same rule watches the loss on a
    held-out ``validation_fraction`` and the best weights are restored.

    ``extra_callbacks`` are ``(name, callback)`` pairs a variant trains
    with; they are notified before early stopping, so that the best weights
    it restores have the last word.
    """
    # verbose=1 draws a progress bar on stderr, verbose>=2 prints a table per
    # epoch on stdout; messages go where the bar or the table goes, and
    # nowhere when that stream is missing or closed.
    sink = noop
    if verbose:
        sink = LineSink("stdout") if verbose >= 2 else LineSink("stderr", True)
    monitor = "valid_loss" if early_stopping else "train_loss"
    callbacks = [
        ("divergence", DivergenceCheck()),
    ]
    if verbose == 1:
        callbacks.append(("progress_bar", EpochProgressBar()))
    callbacks += list(extra_callbacks)
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
        callbacks.append(("print_log", PrintLog(sink=sink)))
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
