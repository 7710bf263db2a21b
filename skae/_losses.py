"""Training objectives, as plain functions and the small criterion modules
that skorch instantiates from them.

A criterion is called as ``criterion(module_output, x)`` where ``x`` is the
clean input batch: autoencoders are their own targets.
"""

from torch import nn
from torch.nn import functional as F


def squared_error(reconstruction, x):
    """Mean over features of the squared error, one value per sample."""
    return (reconstruction - x).pow(2).mean(dim=1)


class ReconstructionLoss(nn.Module):
    """Mean squared reconstruction error over samples and features."""

    def forward(self, output, x):
        reconstruction, _ = output
        # Equal to squared_error(...).mean() for equal-width rows, in one kernel.
        return F.mse_loss(reconstruction, x)


class L1CodeLoss(nn.Module):
    """Mean squared reconstruction error plus ``alpha * mean(|code|)``.

    The sparse autoencoder's objective: the L1 term pushes code units to
    exactly zero (after a ReLU), so that only a few fire for each sample.
    """

    def __init__(self, alpha):
        super().__init__()
        self.alpha = alpha

    def forward(self, output, x):
        reconstruction, code = output
        return F.mse_loss(reconstruction, x) + self.alpha * code.abs().mean()
