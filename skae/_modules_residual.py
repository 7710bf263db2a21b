"""An autoencoder made of a linear (PCA) path plus a non-linear residual.

Plain torch, no scikit-learn: the estimator computes PCA and hands its mean
and components to :meth:`ResidualAutoEncoderModule.start_from_pca`.
"""

import torch
from torch import nn

from ._modules import mlp


class ResidualAutoEncoderModule(nn.Module):
    """``code = P (x - mean) + f(x - mean)``, ``x_hat = mean + Q code + g(code)``.

    ``P`` and ``Q`` are linear maps without bias (``linear_encoder`` and
    ``linear_decoder``), ``f`` and ``g`` fully connected networks (``encoder``
    and ``decoder``, None without hidden layers). Started from PCA (``P`` its
    components, ``Q`` their transpose, see :meth:`start_from_pca`) with the
    last layers of ``f`` and ``g`` at zero, the module computes exactly
    PCA's scores and reconstructions; training then only adds what PCA
    misses.

    ``forward`` returns ``(reconstruction, code)``, as
    :class:`~skae._modules.AutoEncoderModule` does, so that the same losses apply.

    Parameters
    ----------
    n_features, n_components : int
    hidden_layer_sizes : tuple of int
        Widths of ``f``'s hidden layers; ``g`` mirrors them. Empty: no
        residual, a linear autoencoder.
    activation : str
        Activation of the hidden layers.
    dropout : float
        Dropout after each hidden layer, in training only.
    corruption : nn.Module or None
        Applied to the input in training mode (denoising autoencoders).
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        corruption=None,
    ):
        super().__init__()
        self.corruption = corruption if corruption is not None else nn.Identity()
        # A buffer, not a parameter: the decoder's last bias can still move
        # the output, while the residual networks keep seeing centred input.
        self.register_buffer("mean", torch.zeros(n_features))
        self.linear_encoder = nn.Linear(n_features, n_components, bias=False)
        self.linear_decoder = nn.Linear(n_components, n_features, bias=False)
        self.encoder = self.decoder = None
        if hidden_layer_sizes:
            widths = [n_features, *hidden_layer_sizes, n_components]
            self.encoder = mlp(widths, activation, dropout)
            self.decoder = mlp(widths[::-1], activation, dropout)

    def encode(self, x):
        centred = x - self.mean
        code = self.linear_encoder(centred)
        if self.encoder is not None:
            code = code + self.encoder(centred)
        return code

    def decode(self, z):
        reconstruction = self.linear_decoder(z) + self.mean
        if self.decoder is not None:
            reconstruction = reconstruction + self.decoder(z)
        return reconstruction

    def forward(self, x):
        code = self.encode(self.corruption(x))
        return self.decode(code), code

    @torch.no_grad()
    def start_from_pca(self, mean, components, scale=None):
        """Make the module compute PCA's scores and reconstructions exactly.

        Parameters
        ----------
        mean : tensor of shape (n_features,)
        components : tensor of shape (n_found, n_features)
            Orthonormal rows, ``n_found <= n_components``. When PCA found
            fewer directions than there are code units (fewer samples or
            features than ``n_components``), the other units start at zero
            and are left to the residual networks.
        scale : tensor of shape (n_found,), default=None
            Divides the scores (and multiplies the decoder's columns back):
            the standard deviation of each score gives whitened codes. The
            reconstruction does not depend on it.
        """
        n_found = components.shape[0]
        if scale is None:
            scale = torch.ones(n_found, dtype=components.dtype)
        self.mean.copy_(mean)
        self.linear_encoder.weight.zero_()
        self.linear_encoder.weight[:n_found].copy_(components / scale[:, None])
        self.linear_decoder.weight.zero_()
        self.linear_decoder.weight[:, :n_found].copy_(components.T * scale)
        for network in (self.encoder, self.decoder):
            if network is not None:
                last = network[-1]
                last.weight.zero_()
                last.bias.zero_()
