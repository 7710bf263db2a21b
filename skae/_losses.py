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
