"""Plain torch modules behind the estimators.

Nothing here imports scikit-learn or skorch: the modules can be used (and
tested) as ordinary ``torch.nn.Module`` objects.

Every source of randomness inside a module (dropout masks, input corruption)
draws from ``self.generator`` when one is attached, so an estimator can make
training reproducible without touching torch's global random state. See
:func:`attach_generator`.
"""

import math

import torch
from torch import nn

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
