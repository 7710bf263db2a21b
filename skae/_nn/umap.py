"""The torch module behind :class:`~skae.UMAPAutoEncoder`.

Nothing here imports scikit-learn or skorch. Training batches are edges of
UMAP's neighbour graph, given as ``(head, tail)`` row indices; while the
estimator trains, it lends the module its training rows (:meth:`lend_rows`),
which the module gathers for each batch. The net thus trains through its
usual mini-batches of one tensor, and the rows are stored once, not once per
edge.
"""

from typing import NamedTuple

import torch
from torch import nn


class EdgeOutput(NamedTuple):
    """What :meth:`EdgeAutoEncoderModule.forward` returns to the loss.

    For a batch of ``B`` edges, ``code`` holds ``2 B`` rows: the heads, then
    the tails; ``reconstruction`` and ``x`` hold the ``B`` heads only. The
    graph is symmetric, so each row is a head as often as a tail: decoding
    the heads alone leaves the reconstruction term unchanged in expectation,
    for half the decoder's work.
    """

    reconstruction: torch.Tensor
    code: torch.Tensor
    x: torch.Tensor


class EdgeAutoEncoderModule(nn.Module):
    """An autoencoder trained on pairs of rows: the edges of a graph.

    ``encode`` and ``decode`` are those of ``autoencoder`` and read plain
    rows; ``forward`` reads a ``(B, 2)`` tensor of row indices into the rows
    lent by :meth:`lend_rows`.

    Parameters
    ----------
    autoencoder : nn.Module
        With ``encode`` and ``decode`` (a
        :class:`~skae._nn.residual.ResidualAutoEncoderModule`, say).
    """

    def __init__(self, autoencoder):
        super().__init__()
        self.autoencoder = autoencoder
        # A plain attribute, not a buffer: never saved, moved or copied with
        # the weights.
        self.rows = None

    def lend_rows(self, rows):
        """Gather batches from ``rows`` (a tensor on the module's device), or
        from nothing again with ``None``."""
        self.rows = rows

    def start_from_pca(self, mean, components, scale=None):
        """The wrapped autoencoder's PCA start."""
        self.autoencoder.start_from_pca(mean, components, scale)

    def encode(self, x):
        return self.autoencoder.encode(x)

    def decode(self, z):
        return self.autoencoder.decode(z)

    def forward(self, edges):
        if self.rows is None:
            raise RuntimeError(
                "EdgeAutoEncoderModule.forward reads edges into rows lent by "
                "lend_rows; none are lent. Use encode and decode on rows."
            )
        # index_select, not rows[index]: the same rows, gathered in a fifth
        # of the time (advanced indexing's general path), a tenth of a step.
        x = self.rows.index_select(0, edges.long().t().reshape(-1))
        code = self.encode(x)
        heads = len(edges)
        return EdgeOutput(self.decode(code[:heads]), code, x[:heads])
