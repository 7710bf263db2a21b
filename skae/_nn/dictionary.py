"""The sparse autoencoder of the interpretability field: a linear top-k dictionary.

As Gao et al. (2024, "Scaling and evaluating sparse autoencoders") build it:
the decoder's bias is also subtracted from the input before encoding (the
pre-encoder bias), the encoder starts as the decoder's transpose, and the
decoder's columns (the atoms) are unit vectors, so that the code carries the
magnitudes. Latents that have not fired for a while are "dead"; the AuxK
term asks the ``n_aux`` most active of them to reconstruct what the live
ones missed, which gives them a gradient again. With top-k, a latent that
fires on fewer than ``min_rate`` times the average share of rows (``k`` over
the number of latents) is lifted in the selection: a bias, added to its
activation only to choose the top k, grows until it fires that often, and
shrinks back to 0 once it does (the load balancing of mixture-of-experts
routers without an auxiliary loss, Wang et al., 2024). BatchTopK (Bussmann et al.,
2024) keeps the ``k * batch`` largest activations of a training batch rather
than ``k`` per row, and at inference a threshold learned in training.

Outside training, top-k codes may be refined: the encoder chooses each row's
latents, and a few sweeps of coordinate descent then fit their magnitudes to
the row by non-negative least squares over the chosen atoms. The encoder's
magnitudes are a one-pass estimate, biased by the other atoms' overlap with
the row (the amortisation gap of O'Neill et al., 2024); each step can only
lower the row's squared error, and the loop, of fixed length, exports to ONNX.
"""

import torch
from torch import nn
from torch.nn import functional as F


def column_norms(weight):
    """Each column's Euclidean norm, kept off 0.

    Faster than ``weight.norm(dim=0)``, a strided reduction, by an order of
    magnitude at a few thousand columns; clamped before the square root, whose
    gradient at 0 would be infinite.
    """
    tiny = torch.finfo(weight.dtype).tiny
    return weight.pow(2).sum(dim=0).clamp_min(tiny).sqrt()


class DictionaryAutoEncoder(nn.Module):
    """``z = sparse(relu(W_enc (x - b) + c))``, ``x_hat = z @ atoms + b``.

    ``forward`` returns ``(reconstruction, code, aux_reconstruction)``; the
    code is None in training with top-k, the last None outside training or
    when no latent is dead.

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
    min_rate : float
        With top-k, the share of rows a latent should fire on at least, as a
        fraction of the average share ``k / n_latents``; 0 lifts none.
    lift_step : float
        How far a step moves a latent's selection bias, as a fraction of
        the batch's mean absolute pre-activation.
    rate_momentum : float
        Weight of each batch in the running firing rates.
    refine_sweeps : int
        With top-k, sweeps of coordinate descent over each row's chosen
        latents that refit their magnitudes outside training (0: none).
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
        min_rate=0.5,
        lift_step=0.01,
        rate_momentum=0.05,
        refine_sweeps=0,
    ):
        super().__init__()
        self.k = k
        self.batch_topk = batch_topk
        self.n_aux = n_aux
        self.dead_after = dead_after
        self.threshold_momentum = threshold_momentum
        self.min_rate = min_rate
        self.lift_step = lift_step
        self.rate_momentum = rate_momentum
        self.refine_sweeps = refine_sweeps
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
        self._register_lift_buffers(n_latents)

    def _register_lift_buffers(self, n_latents):
        # Added to the activations to choose the top k (never to the code),
        # and the running share of rows each latent fires on.
        self.register_buffer("selection_bias", torch.zeros(n_latents))
        rate = torch.full((n_latents,), self.k / n_latents)
        self.register_buffer("firing_rate", rate)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Modules saved before the lift existed select as with no bias.
        if prefix + "selection_bias" not in state_dict:
            n_latents = self.selection_bias.numel()
            state_dict[prefix + "selection_bias"] = torch.zeros(n_latents)
            state_dict[prefix + "firing_rate"] = torch.full(
                (n_latents,), self.k / n_latents
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def __setstate__(self, state):
        super().__setstate__(state)
        # Modules pickled before the refinement existed encode as they did.
        self.__dict__.setdefault("refine_sweeps", 0)
        if "selection_bias" not in self._buffers:
            self.min_rate, self.lift_step, self.rate_momentum = 0.5, 0.01, 0.05
            self._register_lift_buffers(self.encoder.out_features)

    @torch.no_grad()
    def start(self, mean):
        """The tied start: unit atoms, the encoder their transpose, ``b = mean``."""
        self._normalize_atoms()
        self.encoder.weight.copy_(self.decoder.weight.T)
        self.encoder.bias.zero_()
        self.decoder.bias.copy_(mean)

    @torch.no_grad()
    def _normalize_atoms(self):
        self.decoder.weight.div_(column_norms(self.decoder.weight))

    def atoms(self):
        """The unit-norm dictionary, one atom per column: (n_features, n_latents)."""
        # Dividing in the graph keeps the atoms exactly unit whatever the last
        # step did, and drops the gradient along each atom (only directions
        # are learned), as Gao et al.'s projection does.
        return self.decoder.weight / column_norms(self.decoder.weight)

    def pre_activations(self, x):
        """Every latent's activation before the ReLU and the sparse selection."""
        return self.encoder(x - self.decoder.bias)

    def activations(self, x):
        """Every latent's activation before the sparse selection."""
        return F.relu(self.pre_activations(x))

    def select(self, pre):
        """Top-k: each row's kept ``(values, indices)``, from the pre-activations.

        The latents are chosen by ``pre + selection_bias``, their values are
        ``relu(pre)``. Choosing before the ReLU keeps the same entries as
        after it (the ReLU is monotone) without a pass over every activation.
        """
        k = min(self.k, pre.shape[1])
        _, indices = (pre.detach() + self.selection_bias).topk(k, dim=1)
        return F.relu(pre.gather(1, indices)), indices

    def sparsify(self, pre):
        """The code from the activations ``pre`` (after the ReLU)."""
        if not self.batch_topk:
            values, indices = self.select(pre)
            return torch.zeros_like(pre).scatter(1, indices, values)
        if not self.training:
            return pre * (pre > self.threshold)
        flat = pre.flatten()
        n_kept = min(self.k * pre.shape[0], flat.numel())
        values, indices = flat.topk(n_kept)
        return torch.zeros_like(flat).scatter(0, indices, values).view_as(pre)

    def encode(self, x):
        if self.batch_topk:
            return self.sparsify(self.activations(x))
        pre = self.pre_activations(x)
        values, indices = self.select(pre)
        if self.refine_sweeps and not self.training:
            values = self.refine(x, values, indices)
        return torch.zeros_like(pre).scatter(1, indices, values)

    def refine(self, x, values, indices):
        """Non-negative least-squares magnitudes for each row's chosen latents.

        Coordinate descent from the encoder's ``values``, ``refine_sweeps``
        times over the row's ``k`` latents: each step sets one magnitude to
        its best non-negative value given the others, which never raises the
        squared error. The support stays the encoder's choice: a latent it
        left at 0 stays at 0, one may drop to 0.
        """
        chosen = self.atoms().T[indices]  # (rows, k, features)
        gram = chosen @ chosen.transpose(1, 2)
        # Each atom's correlation with the row, less the bias.
        target = (chosen @ (x - self.decoder.bias).unsqueeze(2)).squeeze(2)
        live = values > 0
        unit = torch.eye(values.shape[1], dtype=values.dtype, device=values.device)
        for _ in range(self.refine_sweeps):
            for j in range(values.shape[1]):
                # The atoms have unit norm: gram[:, j, j] is 1.
                residual = target[:, j] - (gram[:, j] * values).sum(dim=1)
                best = (values[:, j] + residual).clamp_min(0) * live[:, j]
                values = values + (best - values[:, j]).unsqueeze(1) * unit[j]
        return values

    def decode(self, z):
        return F.linear(z, self.atoms(), self.decoder.bias)

    def forward(self, x):
        if self.training:
            # Adam's last step moved the weights off the unit sphere: put them
            # back, so that their scale (and Adam's steps relative to it)
            # does not drift.
            self._normalize_atoms()
        pre = self.pre_activations(x)
        # One atom per row, for the sums of a few atoms below.
        rows = self.atoms().T.contiguous()
        if self.batch_topk:
            code = self.sparsify(F.relu(pre))
            reconstruction = F.linear(code, rows.T, self.decoder.bias)
            fired = code.sum(dim=0) > 0
        else:
            # The k atoms of each row are summed directly: with thousands of
            # latents, the dense product with a mostly-zero code costs
            # several times the training step of the encoder itself.
            values, indices = self.select(pre)
            reconstruction = self.decoder.bias + F.embedding_bag(
                indices, rows, per_sample_weights=values, mode="sum"
            )
            # Nothing reads the dense code in training (the loss takes the
            # reconstructions): at 4,096 latents it was a 4 MB fill a step.
            code = None
            if not self.training:
                code = torch.zeros_like(pre).scatter(1, indices, values)
            counts = torch.zeros_like(self.firing_rate).index_add_(
                0, indices.flatten(), (values > 0).flatten().to(values.dtype)
            )
            fired = counts > 0
            if self.training:
                self._lift(counts / len(x), pre)
        aux = None
        if self.training:
            self._track(fired, len(x), code)
            aux = self._aux_reconstruction(pre, rows)
        return reconstruction, code, aux

    def dead(self):
        """Latents that have not fired on the last ``dead_after`` training rows."""
        return self.rows_since_fired >= self.dead_after

    def dead_fraction(self):
        """The share of latents dead, or silent on every row when fewer were seen."""
        window = min(self.dead_after, int(self.rows_seen))
        return float((self.rows_since_fired >= window).float().mean())

    @torch.no_grad()
    def _track(self, fired, n_rows, code):
        self.rows_since_fired.add_(n_rows).masked_fill_(fired, 0)
        self.rows_seen.add_(n_rows)
        if self.batch_topk:
            kept = code[code > 0]
            if kept.numel():
                smallest = kept.min()
                learned = self.threshold.lerp(smallest, self.threshold_momentum)
                self.threshold.copy_(torch.where(self.threshold < 0, smallest, learned))

    @torch.no_grad()
    def _lift(self, rates, pre):
        self.firing_rate.lerp_(rates, self.rate_momentum)
        rare = self.firing_rate < self.min_rate * self.k / self.firing_rate.numel()
        step = self.lift_step * pre.abs().mean()
        self.selection_bias.add_(torch.where(rare, step, -step)).clamp_(min=0)

    def _aux_reconstruction(self, pre, rows):
        """The ``n_aux`` most active dead latents' sum of atoms, for each row."""
        if self.n_aux == 0:
            return None
        dead = self.dead().nonzero().squeeze(1)
        if dead.numel() == 0:
            return None
        values, columns = pre.index_select(1, dead).topk(
            min(self.n_aux, dead.numel()), dim=1
        )
        return F.embedding_bag(
            dead[columns], rows, per_sample_weights=F.relu(values), mode="sum"
        )

    def extra_repr(self):
        return (
            f"k={self.k}, batch_topk={self.batch_topk}, n_aux={self.n_aux}, "
            f"dead_after={self.dead_after}, min_rate={self.min_rate}, "
            f"refine_sweeps={self.refine_sweeps}"
        )
