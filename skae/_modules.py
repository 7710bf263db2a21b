"""Plain torch modules behind the estimators.

Nothing here imports scikit-learn or skorch: the modules can be used (and
tested) as ordinary ``torch.nn.Module`` objects.

Every source of randomness inside a module (dropout masks, input corruption)
draws from ``self.generator`` when one is attached, so an estimator can make
training reproducible without touching torch's global random state. See
:func:`attach_generator`.
"""

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


class Dropout(nn.Module):
    """Inverted dropout whose mask comes from an attachable generator.

    ``torch.nn.Dropout`` always draws from the global generator, which would
    make fitting change (and depend on) global random state.
    """

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.generator = None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


class InputNoise(nn.Module):
    """Corrupts its input in training mode; the identity in eval mode.

    Parameters
    ----------
    kind : {"gaussian", "masking", "salt_and_pepper"}
        ``"gaussian"`` adds N(0, level^2) noise. ``"masking"`` zeroes each
        entry with probability ``level`` and rescales the rest by
        ``1 / (1 - level)``: exactly dropout applied to the input.
        ``"salt_and_pepper"`` sets each entry with probability ``level`` to
        its feature's minimum or maximum (``low`` / ``high``, 0 and 1 unless
        set), half of them each.
    level : float
        Standard deviation (gaussian) or corruption probability (others).
    """

    KINDS = ("gaussian", "masking", "salt_and_pepper")

    def __init__(self, kind, level, low=0.0, high=1.0):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.level = level
        # Copies: a buffer sharing memory with the caller's array would write
        # into it on load_state_dict, and crash on a read-only memory map
        # (the estimator's attributes after joblib.load(..., mmap_mode="r")).
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32))
        self.generator = None

    def forward(self, x):
        if not self.training or self.level == 0:
            return x
        return self.corrupt(x, self.generator)

    def corrupt(self, x, generator=None):
        """``x`` corrupted, whatever the mode: for scoring a denoiser on
        held-out rows with noise drawn from ``generator``."""
        if self.kind == "gaussian":
            noise = torch.randn(
                x.shape, generator=generator, device=x.device, dtype=x.dtype
            )
            return x + self.level * noise
        if self.kind == "masking":
            keep = _uniform(x, generator) >= self.level
            return x * keep / (1 - self.level)
        corrupted = _uniform(x, generator) < self.level
        salt = _uniform(x, generator) < 0.5
        extreme = torch.where(salt, self.high.to(x.dtype), self.low.to(x.dtype))
        return torch.where(corrupted, extreme, x)

    def extra_repr(self):
        return f"kind={self.kind!r}, level={self.level}"


def _uniform(x, generator):
    return torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def mlp(sizes, activation="relu", dropout=0.0, last_activation=False):
    """Stack of ``Linear`` layers with ``sizes[0]`` inputs and ``sizes[-1]`` outputs.

    Hidden layers get ``activation`` followed by :class:`Dropout`; the last
    layer is linear unless ``last_activation`` is true.
    """
    layers = []
    n_layers = len(sizes) - 1
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        is_last = i == n_layers - 1
        if not is_last or last_activation:
            layers.append(ACTIVATIONS[activation]())
        if not is_last and dropout > 0:
            layers.append(Dropout(dropout))
    return nn.Sequential(*layers)


class AutoEncoderModule(nn.Module):
    """Encoder, decoder and an optional input corruption used only in training.

    ``forward`` returns ``(reconstruction, code)`` so that losses can
    penalise the code (sparse autoencoders) without a second encoder pass.

    Parameters
    ----------
    encoder, decoder : nn.Module
    corruption : nn.Module or None
        Applied to the input before encoding while the module is in training
        mode (denoising autoencoders); it must be the identity in eval mode.
    """

    def __init__(self, encoder, decoder, corruption=None):
        super().__init__()
        self.corruption = corruption if corruption is not None else nn.Identity()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        code = self.encode(self.corruption(x))
        return self.decode(code), code


def dense_autoencoder(
    n_features,
    n_components,
    hidden_layer_sizes=(),
    activation="relu",
    dropout=0.0,
    corruption=None,
):
    """Fully connected autoencoder whose decoder mirrors the encoder.

    The code and the reconstruction are linear (no activation), like PCA's
    scores and reconstructions, so codes are usable as features as they are
    and the output can take any sign or scale.
    """
    widths = [n_features, *hidden_layer_sizes, n_components]
    encoder = mlp(widths, activation, dropout)
    decoder = mlp(widths[::-1], activation, dropout)
    return AutoEncoderModule(encoder, decoder, corruption)


def attach_generator(module, generator):
    """Give every random submodule of ``module`` the same ``generator``."""
    for submodule in module.modules():
        if hasattr(submodule, "generator"):
            submodule.generator = generator


@torch.no_grad()
def reset_parameters(module, generator):
    """Re-draw all weights of ``module`` from ``generator``.

    The distribution is PyTorch's default for ``Linear`` and ``Conv*``
    layers, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), but drawn from a private
    generator: the default initialisers read the global generator.
    """
    for submodule in module.modules():
        weight = getattr(submodule, "weight", None)
        if not isinstance(weight, nn.Parameter) or weight.dim() < 2:
            continue
        # PyTorch's fan-in is size(1) times the receptive field, for
        # transposed convolutions too.
        fan_in = weight[0].numel()
        bound = 1 / math.sqrt(fan_in)
        weight.uniform_(-bound, bound, generator=generator)
        bias = getattr(submodule, "bias", None)
        if isinstance(bias, nn.Parameter):
            bias.uniform_(-bound, bound, generator=generator)


class TopK(nn.Module):
    """Keeps the ``k`` largest entries of each row, made positive; zeroes the rest.

    The kept entries go through a softplus rather than a ReLU, so that every
    row has exactly ``k`` non-zeros, where ``relu(top-k)`` could leave fewer.
    Rows of ``k`` entries or fewer have nothing to drop: they go through the
    softplus whole. This is the k-sparse autoencoder's code (Makhzani & Frey,
    2014), non-negative.
    """

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        if self.k >= x.shape[1]:
            return F.softplus(x)
        values, indices = x.topk(self.k, dim=1)
        # softplus underflows to 0 far below the training range; the kept
        # units must stay non-zero so that every code has exactly k of them.
        kept = F.softplus(values).clamp_min(torch.finfo(x.dtype).tiny)
        return torch.zeros_like(x).scatter(1, indices, kept)

    def extra_repr(self):
        return f"k={self.k}"


class Standardize(nn.Module):
    """Centres and scales each feature by batch statistics; no learned weights.

    ``BatchNorm1d(affine=False)``, except that a training batch of one sample
    (the last one of an epoch, say) is standardised by the running statistics
    instead of failing. Before a top-k selection it puts every unit on the
    same scale, so each unit wins for some samples and none is left dead.
    """

    def __init__(self, n_features, momentum=0.1, eps=1e-5):
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.register_buffer("running_mean", torch.zeros(n_features))
        self.register_buffer("running_var", torch.ones(n_features))

    def forward(self, x):
        if self.training and x.shape[0] > 1:
            var, mean = torch.var_mean(x, dim=0, correction=0)
            with torch.no_grad():
                # Running variance is unbiased, as in BatchNorm.
                unbiased = var * x.shape[0] / (x.shape[0] - 1)
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(unbiased, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / torch.sqrt(var + self.eps)

    def extra_repr(self):
        return f"{self.running_mean.shape[0]}, momentum={self.momentum}"


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


class ToImages(nn.Module):
    """Rows of flattened pixels to a batch of images, zero-padded around.

    ``(n, c * h * w)`` becomes ``(n, c, padded_h, padded_w)``, the image
    centred in the padding, so that every stride-2 stage halves the size
    exactly. :class:`FromImages` crops the same border off again.
    """

    def __init__(self, image_shape, padded_shape):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.padded_shape = tuple(padded_shape)

    def _border(self):
        (_, height, width), (padded_h, padded_w) = self.image_shape, self.padded_shape
        top, left = (padded_h - height) // 2, (padded_w - width) // 2
        return top, left, padded_h - height - top, padded_w - width - left

    def forward(self, x):
        images = x.reshape(-1, *self.image_shape)
        top, left, bottom, right = self._border()
        if top or left or bottom or right:
            images = F.pad(images, (left, right, top, bottom))
        return images

    def extra_repr(self):
        return f"image_shape={self.image_shape}, padded_shape={self.padded_shape}"


class FromImages(ToImages):
    """The inverse of :class:`ToImages`: crop the border, flatten each image."""

    def forward(self, images):
        top, left, _, _ = self._border()
        _, height, width = self.image_shape
        images = images[:, :, top : top + height, left : left + width]
        return images.reshape(images.shape[0], -1)


def conv_autoencoder(
    image_shape,
    n_components,
    channels=(16, 32),
    kernel_size=3,
    activation="relu",
    corruption=None,
):
    """Convolutional autoencoder on flattened images, with a dense code.

    The encoder takes rows of ``c * h * w`` pixels, pads each image so that
    its height and width divide by ``2 ** len(channels)``, and applies one
    stride-2 convolution per entry of ``channels`` (each halves the height
    and width: no layer runs at full resolution), then a linear layer to the
    ``n_components`` code. The decoder mirrors it with stride-2 transposed
    convolutions and crops the padding off, returning rows of pixels again.
    The code and the output are linear, as in :func:`dense_autoencoder`.

    ``kernel_size`` must be at least 2: with stride 2, a 1x1 kernel would
    read one pixel in four and write one pixel in four.

    Returns
    -------
    AutoEncoderModule
    """
    if kernel_size < 2:
        raise ValueError(
            f"kernel_size must be at least 2 for stride-2 convolutions to see "
            f"every pixel, got {kernel_size}."
        )
    n_channels, height, width = image_shape
    factor = 2 ** len(channels)
    padded = (math.ceil(height / factor) * factor, math.ceil(width / factor) * factor)
    small = (padded[0] // factor, padded[1] // factor)
    n_flat = channels[-1] * small[0] * small[1]
    # With this padding a stride-2 convolution maps an even size n to n / 2,
    # and the transposed one with this output padding maps n / 2 back to n,
    # whatever the kernel size.
    padding, output_padding = (kernel_size - 1) // 2, kernel_size % 2

    encoder = [ToImages(image_shape, padded)]
    for n_in, n_out in zip((n_channels, *channels[:-1]), channels, strict=True):
        encoder += [
            nn.Conv2d(n_in, n_out, kernel_size, stride=2, padding=padding),
            ACTIVATIONS[activation](),
        ]
    encoder += [nn.Flatten(), nn.Linear(n_flat, n_components)]

    decoder = [
        nn.Linear(n_components, n_flat),
        ACTIVATIONS[activation](),
        nn.Unflatten(1, (channels[-1], *small)),
    ]
    widths = (*channels[::-1], n_channels)
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        decoder.append(
            nn.ConvTranspose2d(
                n_in,
                n_out,
                kernel_size,
                stride=2,
                padding=padding,
                output_padding=output_padding,
            )
        )
        if i < len(channels) - 1:
            decoder.append(ACTIVATIONS[activation]())
    decoder.append(FromImages(image_shape, padded))
    return AutoEncoderModule(
        nn.Sequential(*encoder), nn.Sequential(*decoder), corruption
    )
