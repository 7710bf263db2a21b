"""A label head on an autoencoder's code: supervised and semi-supervised codes.

Nothing here imports scikit-learn or skorch. :class:`LabelledModule` wraps
any autoencoder module whose output carries the code (``output.code``, or
``output[1]`` for a ``(reconstruction, code)`` pair) and adds a linear head
on it; :class:`~skae._nn.losses.LabelLoss` scores the head against the targets.

Targets reach the module in one of two ways:

- packed: each training row is ``[x | target]`` (the estimator appends the
  target columns to the rows it trains on), so that skorch's batches,
  shuffling and validation split carry them with the rows;
- lent (:meth:`LabelledModule.lend_targets`): for modules whose batches
  index rows rather than hold them (UMAP's graph edges), the targets of
  the rows indexed, gathered as the rows are.
"""

from typing import Any, NamedTuple

import torch
from torch import nn


class LabelOutput(NamedTuple):
    """What :meth:`LabelledModule.forward` returns to the loss.

    ``output`` is the wrapped module's own output; ``prediction`` the head's
    output for each code; ``target`` the target row of each code (class
    index as a float, -1 for none; or standardised values); ``code`` the
    codes the head read.
    """

    output: Any
    prediction: torch.Tensor
    target: torch.Tensor
    code: Any = None


def code_of(output):
    """The code in an autoencoder module's output."""
    code = getattr(output, "code", None)
    return output[1] if code is None else code


class PackedCorruption:
    """The wrapped module's ``corrupt``, applied to the input columns only.

    A denoiser's held-out rows are scored from corrupted inputs (see
    ``AutoEncoderNet.validation_pairs``); packed rows carry their targets,
    which must not be corrupted.
    """

    def __init__(self, corrupt, n_features):
        self._corrupt = corrupt
        self.n_features = n_features

    def corrupt(self, batch, generator=None):
        x, target = batch[:, : self.n_features], batch[:, self.n_features :]
        return torch.cat([self._corrupt(x, generator), target], dim=1)


class LabelledModule(nn.Module):
    """An autoencoder with a linear head on its code.

    ``encode`` and ``decode`` are the wrapped module's, so that ``transform``
    and ``inverse_transform`` (and ONNX export) never see the head.

    Parameters
    ----------
    autoencoder : nn.Module
        With ``encode``, ``decode`` and a ``forward`` whose output holds the
        code (see :func:`code_of`).
    n_features : int
        Width of the input rows; packed batches hold the target after them.
    n_components : int
        Width of the code.
    n_outputs : int
        Width of the head: the number of classes, or of target columns.
    noise : float, default=0.0
        In training, on packed rows, the wrapped module (and so the head)
        reads the input with gaussian noise of ``noise`` times each
        feature's standard deviation (over the rows lent by
        :meth:`lend_spread`, else over the batch; a constant feature gets
        none), drawn from ``generator``, while the loss still scores the
        reconstruction against the input itself: a denoising fit. Not for a
        wrapped module that corrupts its input itself (a denoiser already
        is one), nor for lent targets.
    """

    def __init__(self, autoencoder, n_features, n_components, n_outputs, noise=0.0):
        super().__init__()
        self.autoencoder = autoencoder
        self.head = nn.Linear(n_components, n_outputs)
        self.n_features = n_features
        self.noise = noise
        # Attached by the estimator (attach_generator), as every random
        # submodule's.
        self.generator = None
        # Plain attributes, not buffers: never saved, moved or copied.
        self.targets = None
        self.spread = None
        corrupt = getattr(getattr(autoencoder, "corruption", None), "corrupt", None)
        if corrupt is not None:
            # Not an nn.Module: the wrapped module's corruption is the one
            # registered (and saved) once.
            self.__dict__["corruption"] = PackedCorruption(corrupt, n_features)

    def lend_targets(self, targets):
        """Read each batch's targets from ``targets`` (rows indexed by the
        batch, a ``(B, 2)`` tensor of edges), or from packed rows again with
        ``None``."""
        self.targets = targets

    def lend_spread(self, spread):
        """Scale the input noise by ``spread`` (each feature's standard
        deviation over the training rows), or by the batch's with ``None``.

        Once per fit rather than per batch: a column's spread over a batch
        took longer than the rest of the noise (143 us a step against 106
        for the draw, 200 x 64 floats on one thread).
        """
        self.spread = spread

    def __getattr__(self, name):
        # Whatever the estimator does to its own module (a PCA start, rows
        # lent to UMAP's edges) reaches the wrapped one.
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules", {})
            if "autoencoder" not in modules:
                raise
            return getattr(modules["autoencoder"], name)

    def encode(self, x):
        return self.autoencoder.encode(x)

    def decode(self, z):
        return self.autoencoder.decode(z)

    def forward(self, batch):
        if self.targets is None:
            x, target = batch[:, : self.n_features], batch[:, self.n_features :]
        else:
            # As EdgeAutoEncoderModule orders its codes: heads, then tails.
            x, target = batch, self.targets[batch.long().t().reshape(-1)]
        if self._noisy_input():
            spread = self.spread
            if spread is None:
                spread = x.std(dim=0, unbiased=False)
            noise = torch.randn(
                x.shape, generator=self.generator, device=x.device, dtype=x.dtype
            )
            x = torch.addcmul(x, noise, spread, value=self.noise)
        output = self.autoencoder(x)
        code = code_of(output)
        return LabelOutput(output, self.head(code), target, code)

    def _noisy_input(self):
        own_corruption = "corruption" in self.__dict__
        return (
            self.training
            and self.noise > 0
            and self.targets is None
            and not own_corruption
        )
