"""An autoencoder made of a linear (PCA) path plus a non-linear residual.

Plain torch, no scikit-learn: the estimator computes PCA and hands its mean
and components to :meth:`ResidualAutoEncoderModule.start_from_pca`.
"""

import torch
from torch import nn

from .modules import ACTIVATIONS, Dropout


class ResidualHalf(nn.Module):
    """``y = A x + b + f(x)``: a linear map plus a fully connected network.

    The linear map and ``f``'s first layer read the same input, so they are
    one ``Linear`` layer (``first``) whose first ``n_out`` outputs are the
    linear path and whose others are ``f``'s first hidden layer; ``hidden``
    is the rest of ``f``'s hidden layers and ``last`` its output layer,
    whose product is added to the linear path in one multiply-add. For the
    small networks autoencoders use, a step costs about one kernel launch
    per operation: fused so, the linear path costs a few percent instead of
    two layers of its own.

    Parameters
    ----------
    n_in, n_out : int
    hidden_layer_sizes : tuple of int
        Widths of ``f``'s hidden layers; empty for the linear map alone.
    activation : str
    dropout : float
    """

    def __init__(
        self, n_in, n_out, hidden_layer_sizes=(), activation="relu", dropout=0.0
    ):
        super().__init__()
        self.n_out = n_out
        widths = tuple(hidden_layer_sizes)
        self.first = nn.Linear(n_in, n_out + sum(widths[:1]))
        self.hidden = self.last = None
        if widths:
            layers = []
            for n_from, n_to in zip((None, *widths[:-1]), widths, strict=True):
                if n_from is not None:
                    layers.append(nn.Linear(n_from, n_to))
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(Dropout(dropout))
            self.hidden = nn.Sequential(*layers)
            # No bias: the linear path's bias is the output's.
            self.last = nn.Linear(widths[-1], n_out, bias=False)

    def forward(self, x):
        out = self.first(x)
        if self.hidden is None:
            return out
        linear, hidden = out.split([self.n_out, out.shape[1] - self.n_out], dim=1)
        return torch.addmm(linear, self.hidden(hidden), self.last.weight.t())

    @torch.no_grad()
    def start_linear(self, weight, bias, input_offset=None):
        """Set the linear path to ``weight @ x + bias`` and silence ``f``.

        ``weight`` is (n_out, n_in), ``bias`` (n_out,). ``f`` keeps its
        random hidden layers but its output layer is zeroed, so that it adds
        nothing until training moves it; with ``input_offset``, its first
        layer is shifted to see ``x - input_offset`` (centred input).
        """
        self.first.weight[: self.n_out].copy_(weight)
        self.first.bias[: self.n_out].copy_(bias)
        if self.hidden is None:
            return
        if input_offset is not None:
            hidden_weight = self.first.weight[self.n_out :]
            self.first.bias[self.n_out :] -= hidden_weight @ input_offset.to(
                hidden_weight
            )
        self.last.weight.zero_()


class ResidualAutoEncoderModule(nn.Module):
    """``code = P (x - mean) + f(x)``, ``x_hat = mean + Q code + g(code)``.

    ``P`` and ``Q`` are linear maps, ``f`` and ``g`` fully connected
    networks (see :class:`ResidualHalf`; none without hidden layers). Started
    from PCA (``P`` its components, ``Q`` their transpose, see
    :meth:`start_from_pca`) with the last layers of ``f`` and ``g`` at zero,
    the module computes exactly PCA's scores and reconstructions; training
    then only adds what PCA misses.

    ``forward`` returns ``(reconstruction, code)``, as
    :class:`~skae._nn.modules.AutoEncoderModule` does, so that the same losses apply.

    Parameters
    ----------
    n_features, n_components : int
    hidden_layer_sizes : tuple of int
        Widths of ``f``'s hidden layers; ``g`` mirrors them. Empty: a linear
        autoencoder.
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
        hidden = tuple(hidden_layer_sizes)
        self.encoder = ResidualHalf(
            n_features, n_components, hidden, activation, dropout
        )
        self.decoder = ResidualHalf(
            n_components, n_features, hidden[::-1], activation, dropout
        )

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

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
        n_found, n_features = components.shape
        if scale is None:
            scale = torch.ones(n_found, dtype=components.dtype)
        n_components = self.encoder.n_out
        project = components.new_zeros(n_components, n_features)
        project[:n_found] = components / scale[:, None]
        self.encoder.start_linear(project, -(project @ mean), input_offset=mean)
        expand = components.new_zeros(n_features, n_components)
        expand[:, :n_found] = components.T * scale
        self.decoder.start_linear(expand, mean)
