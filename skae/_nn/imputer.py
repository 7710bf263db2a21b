"""The torch module behind :class:`~skae.AutoEncoderImputer`.

Nothing here imports scikit-learn or skorch. The module reads *packed*
batches: the values with 0 at the missing entries, then the mask of observed
entries (1 observed, 0 missing), side by side, ``2 * n_features`` columns.
Packing lets the estimator train through the package's one skorch net, whose
batches are rows of a single tensor.
"""

from typing import NamedTuple

import torch
from torch import nn

from .modules import mlp


class ImputerOutput(NamedTuple):
    """What :meth:`MaskedAutoEncoderModule.forward` returns to the loss.

    ``observed`` marks the entries the loss can compare (observed in the
    data); ``hidden`` the observed entries that were hidden from the network
    in this step, which it had to fill in like missing ones.
    """

    reconstruction: torch.Tensor
    code: torch.Tensor
    observed: torch.Tensor
    hidden: torch.Tensor


def unpack(batch, n_features):
    """Split a packed batch into its values and its observed mask."""
    return batch[:, :n_features], batch[:, n_features:]


class MaskedAutoEncoderModule(nn.Module):
    """Autoencoder that sees which entries are missing and learns to fill them.

    The encoder reads the values, with every missing entry replaced by
    ``fill`` (the column means), next to the mask; the decoder returns every
    feature. In :meth:`forward` a random ``mask_rate`` of the observed entries
    is hidden as well (fresh at every call, from ``generator``), so the loss
    on those entries teaches the network to impute.

    Parameters
    ----------
    encoder : nn.Module
        Maps ``2 * n_features`` columns (filled values, mask) to the code.
    decoder : nn.Module
        Maps the code to ``n_features`` columns.
    fill : torch.Tensor of shape (n_features,)
        Value a missing entry takes at the input.
    mask_rate : float in [0, 1)
        Fraction of the observed entries hidden in :meth:`forward`.
    """

    def __init__(self, encoder, decoder, fill, mask_rate=0.0):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.register_buffer("fill", torch.as_tensor(fill, dtype=torch.float32))
        self.mask_rate = mask_rate
        self.generator = None

    @property
    def n_features(self):
        return self.fill.shape[0]

    def _inputs(self, x, seen):
        """Encoder input: ``x`` where ``seen``, ``fill`` elsewhere; then the mask."""
        return torch.cat([torch.where(seen > 0, x, self.fill.to(x.dtype)), seen], 1)

    def encode(self, batch):
        x, observed = unpack(batch, self.n_features)
        return self.encoder(self._inputs(x, observed))

    def decode(self, z):
        return self.decoder(z)

    def reconstruct(self, batch):
        """Every feature of the batch, rebuilt from all its observed entries."""
        return self.decoder(self.encode(batch))

    def impute(self, batch):
        """Observed entries as they are, missing ones filled by the network."""
        x, observed = unpack(batch, self.n_features)
        return torch.where(observed > 0, x, self.reconstruct(batch))

    def forward(self, batch):
        # Hidden in evaluation mode too: skorch's validation loss then
        # measures imputation of held-out entries, not copying of seen ones.
        # Inference goes through impute(), which hides nothing.
        x, observed = unpack(batch, self.n_features)
        seen = observed
        if self.mask_rate > 0:
            draw = torch.rand(
                observed.shape,
                generator=self.generator,
                device=observed.device,
                dtype=observed.dtype,
            )
            # ge_ writes the comparison's 1.0 / 0.0 into draw: no bool copy.
            seen = observed * draw.ge_(self.mask_rate)
        code = self.encoder(self._inputs(x, seen))
        return ImputerOutput(self.decoder(code), code, observed, observed - seen)

    def extra_repr(self):
        return f"n_features={self.n_features}, mask_rate={self.mask_rate}"


def masked_autoencoder(
    n_features,
    n_components,
    hidden_layer_sizes=(),
    activation="relu",
    dropout=0.0,
    fill=None,
    mask_rate=0.0,
):
    """Fully connected :class:`MaskedAutoEncoderModule`, the decoder mirroring."""
    hidden = list(hidden_layer_sizes)
    encoder = mlp([2 * n_features, *hidden, n_components], activation, dropout)
    decoder = mlp([n_components, *hidden[::-1], n_features], activation, dropout)
    if fill is None:
        fill = torch.zeros(n_features)
    return MaskedAutoEncoderModule(encoder, decoder, fill, mask_rate)
