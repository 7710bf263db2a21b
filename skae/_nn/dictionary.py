"""The sparse autoencoder of the interpretability field: a linear top-k dictionary.

As Gao et al. (2024, "Scaling and evaluating sparse autoencoders") build it:
the decoder's bias is also subtracted from the input before encoding (the
pre-encoder bias), the encoder starts as the decoder's transpose, and the
decoder's columns (the atoms) are unit vectors, so that the code carries the
magnitudes. Latents that have not fired for a while are "dead"; the AuxK
term asks the ``n_aux`` most active of them to reconstruct what the live
ones missed, which gives them a gradient again. BatchTopK (Bussmann et al.,
2024) keeps the ``k * batch`` largest activations of a training batch rather
than ``k`` per row, and at inference a threshold learned in training.
"""

import torch
from torch import nn
from torch.nn import functional as F


def keep_topk(x, k):
    """``x`` with all but the ``k`` largest entries of each row set to 0."""
    if k >= x.shape[1]:
        return x
    values, indices = x.topk(k, dim=1)
    return torch.zeros_like(x).scatter(1, indices, values)


class DictionaryAutoEncoder(nn.Module):
    """``z = sparse(relu(W_enc (x - b) + c))``, ``x_hat = z @ atoms + b``.

    ``forward`` returns ``(reconstruction, code, aux_reconstruction)``; the
    last is None outside training or when no latent is dead.

    Parameters
    ----------
    n_features, n_latents : int
    k : int
        Active latents per row (per row on average with ``batch_topk``).
    batch_topk : bool
        Keep the ``k * batch`` largest activations of a training batch; at
        inference, every activation above ``threshold``.
    n_aux : int
        Dead latents that reconstruct the residual (0: no AuxK term).
    dead_after : int
        A latent is dead once it has not fired on this many training rows.
    threshold_momentum : float
        Weight of each batch's smallest kept activation in the running
        average that becomes the inference threshold (BatchTopK).
    """

    def __init__(
        self,
        n_features,
        n_latents,
        k,
        *,
        batch_topk=False,
        n_aux=0,
        dead_after=10_000,
        threshold_momentum=0.01,
    ):
        super().__init__()
        self.k = k
        self.batch_topk = batch_topk
        self.n_aux = n_aux
        self.dead_after = dead_after
        self.threshold_momentum = threshold_momentum
        self.encoder = nn.Linear(n_features, n_latents)
        # decoder.bias is the pre-encoder bias too.
        self.decoder = nn.Linear(n_latents, n_features)
        # Training rows since each latent last fired, and rows seen: counted
        # across fit, warm starts and partial_fit chunks.
        self.register_buffer(
            "rows_since_fired", torch.zeros(n_latents, dtype=torch.long)
        )
        self.register_buffer("rows_seen", torch.zeros((), dtype=torch.long))
        # Negative until the first training batch sets it.
        self.register_buffer("threshold", torch.tensor(-1.0))

    @torch.no_grad()
    def start(self, mean):
        """The tied start: unit atoms, the encoder their transpose, ``b = mean``."""
        self._normalize_atoms()
        self.encoder.weight.copy_(self.decoder.weight.T)
        self.encoder.bias.zero_()
        self.decoder.bias.copy_(mean)

    @torch.no_grad()
    def _normalize_atoms(self):
        weight = self.decoder.weight
        weight.div_(weight.norm(dim=0).clamp_min(torch.finfo(weight.dtype).tiny))

    def atoms(self):
        """The unit-norm dictionary, one atom per column: (n_features, n_latents)."""
        weight = self.decoder.weight
        # Dividing in the graph keeps the atoms exactly unit whatever the last
        # step did, and drops the gradient along each atom (only directions
        # are learned), as Gao et al.'s projection does.
        return weight / weight.norm(dim=0).clamp_min(torch.finfo(weight.dtype).tiny)

    def activations(self, x):
        """Every latent's activation before the sparse selection."""
        return F.relu(self.encoder(x - self.decoder.bias))

    def sparsify(self, pre):
        if not self.batch_topk:
            return keep_topk(pre, self.k)
        if not self.training:
            return pre * (pre > self.threshold)
        flat = pre.flatten()
        n_kept = min(self.k * pre.shape[0], flat.numel())
        values, indices = flat.topk(n_kept)
        return torch.zeros_like(flat).scatter(0, indices, values).view_as(pre)

    def encode(self, x):
        return self.sparsify(self.activations(x))

    def decode(self, z):
        return F.linear(z, self.atoms(), self.decoder.bias)

    def forward(self, x):
        if self.training:
            # Adam's last step moved the weights off the unit sphere: put them
            # back, so that their scale (and Adam's steps relative to it)
            # does not drift.
            self._normalize_atoms()
        pre = self.activations(x)
        code = self.sparsify(pre)
        reconstruction = self.decode(code)
        aux = None
        if self.training:
            self._track(code.detach())
            aux = self._aux_reconstruction(pre)
        return reconstruction, code, aux

    def dead(self):
        """Latents that have not fired on the last ``dead_after`` training rows."""
        return self.rows_since_fired >= self.dead_after

    @torch.no_grad()
    def _track(self, code):
        fired = (code > 0).any(dim=0)
        self.rows_since_fired.add_(code.shape[0]).masked_fill_(fired, 0)
        self.rows_seen.add_(code.shape[0])
        if self.batch_topk:
            kept = code[code > 0]
            if kept.numel():
                smallest = kept.min()
                learned = self.threshold.lerp(smallest, self.threshold_momentum)
                self.threshold.copy_(torch.where(self.threshold < 0, smallest, learned))

    def _aux_reconstruction(self, pre):
        if self.n_aux == 0:
            return None
        dead = self.dead()
        n_dead = int(dead.sum())
        if n_dead == 0:
            return None
        code = keep_topk(pre.masked_fill(~dead, 0.0), min(self.n_aux, n_dead))
        return F.linear(code, self.atoms())

    def extra_repr(self):
        return (
            f"k={self.k}, batch_topk={self.batch_topk}, n_aux={self.n_aux}, "
            f"dead_after={self.dead_after}"
        )
