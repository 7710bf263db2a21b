"""The variational autoencoder's module: Gaussian encoder q(z|x), decoder p(x|z)."""

import math
from typing import NamedTuple

import torch
from torch import nn

from .modules import mlp


def soft_clamp(x, bound):
    """Smoothly squash ``x`` into ``(-bound, bound)``; about the identity near 0.

    Used for log-variances: a hard clamp would stop the gradient of every
    unit that crosses the bound, this keeps it small but alive.
    """
    return bound * torch.tanh(x / bound)


class VAEOutput(NamedTuple):
    """What :meth:`VariationalModule.forward` returns to the loss.

    ``x_param`` is the decoder's raw output: the mean of p(x|z) for a
    Gaussian likelihood, its logits for a Bernoulli one. ``x_logvar`` is the
    Gaussian's per-feature log-variance (None for Bernoulli). ``mu`` and
    ``logvar`` parameterise q(z|x); ``z`` is the draw the decoder saw.
    """

    x_param: torch.Tensor
    x_logvar: torch.Tensor | None
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor

    @property
    def code(self):
        # What transform returns (the posterior mean): the code a label head
        # reads (skae._nn.labels.code_of), not the draw, nor output[1].
        return self.mu


class VariationalModule(nn.Module):
    """Variational autoencoder: Gaussian encoder q(z|x), decoder p(x|z).

    Parameters
    ----------
    encoder : nn.Module
        Maps a batch to ``2 * n_components`` columns: the posterior means,
        then the unconstrained posterior log-variances.
    decoder : nn.Module
        Maps codes to the raw parameter of p(x|z) (mean or logits).
    likelihood : {"gaussian", "bernoulli"}
    n_features : int
        Needed for the Gaussian's per-feature noise variance.
    noise_variance : {"per_feature", "shared"} or float
        The Gaussian's variance: learned, one per feature or one for all
        (starting at 1), or fixed for every feature.

    Both log-variances are squashed by :func:`soft_clamp`: the posterior's
    into ``(-LOGVAR_BOUND, LOGVAR_BOUND)``, a learned noise variance into
    ``(1 / NOISE_VARIANCE_RATIO, NOISE_VARIANCE_RATIO)``, so that
    ``exp(-logvar)`` can neither overflow nor make the loss reward a
    vanishing variance without end (on constant features, say).
    """

    LOGVAR_BOUND = 10.0
    NOISE_VARIANCE_RATIO = 1e3
    # Adam moves each parameter by about the learning rate per step, so a raw
    # log-variance would need thousands of steps to go from 1 to a typical
    # residual variance; scaling it makes the noise keep up with the decoder.
    NOISE_LOGVAR_SCALE = 10.0
    LIKELIHOODS = ("gaussian", "bernoulli")

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="gaussian",
        n_features=None,
        noise_variance="per_feature",
    ):
        super().__init__()
        if likelihood not in self.LIKELIHOODS:
            raise ValueError(
                f"likelihood must be one of {self.LIKELIHOODS}, got {likelihood!r}"
            )
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.generator = None
        self.learn_noise = likelihood == "gaussian" and noise_variance in (
            "per_feature",
            "shared",
        )
        if self.learn_noise:
            n_variances = n_features if noise_variance == "per_feature" else 1
            self.noise_logvar_raw = nn.Parameter(torch.zeros(n_variances))
        elif likelihood == "gaussian":
            if isinstance(noise_variance, str):
                raise ValueError(
                    "noise_variance must be 'per_feature', 'shared' or a "
                    f"positive float, got {noise_variance!r}."
                )
            fixed = torch.full((n_features,), math.log(noise_variance))
            self.register_buffer("noise_logvar_raw", fixed)
        else:
            self.noise_logvar_raw = None

    def encode(self, x):
        """Posterior mean and log-variance, each of shape (n, n_components)."""
        mu, raw = self.encoder(x).chunk(2, dim=-1)
        return mu, soft_clamp(raw, self.LOGVAR_BOUND)

    def reparameterize(self, mu, logvar, eps=None):
        """Draw z ~ q(z|x) as ``mu + std * eps``, eps ~ N(0, I) from ``generator``."""
        if eps is None:
            eps = torch.randn(
                mu.shape, generator=self.generator, device=mu.device, dtype=mu.dtype
            )
        return mu + eps * torch.exp(0.5 * logvar)

    def decode(self, z):
        """Mean of p(x|z): the reconstruction, in probabilities for Bernoulli."""
        x_param = self.decoder(z)
        return torch.sigmoid(x_param) if self.likelihood == "bernoulli" else x_param

    def noise_logvar(self):
        """Log-variance of a Gaussian p(x|z), of shape (n_features,) or (1,)
        when shared; None for Bernoulli."""
        if self.noise_logvar_raw is None:
            return None
        if not self.learn_noise:
            return self.noise_logvar_raw
        return soft_clamp(
            self.NOISE_LOGVAR_SCALE * self.noise_logvar_raw,
            math.log(self.NOISE_VARIANCE_RATIO),
        )

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return VAEOutput(self.decoder(z), self.noise_logvar(), mu, logvar, z)

    def extra_repr(self):
        return f"likelihood={self.likelihood!r}"


def variational_autoencoder(
    n_features,
    n_components,
    hidden_layer_sizes=(),
    activation="relu",
    dropout=0.0,
    likelihood="gaussian",
    noise_variance="per_feature",
):
    """Fully connected VAE whose decoder mirrors the encoder's hidden widths."""
    hidden = list(hidden_layer_sizes)
    encoder = mlp([n_features, *hidden, 2 * n_components], activation, dropout)
    decoder = mlp([n_components, *hidden[::-1], n_features], activation, dropout)
    return VariationalModule(encoder, decoder, likelihood, n_features, noise_variance)
