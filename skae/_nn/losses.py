"""Training objectives, as plain functions and the small criterion modules
that skorch instantiates from them.

A criterion is called as ``criterion(module_output, x)`` where ``x`` is the
clean input batch: autoencoders are their own targets.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


def squared_error(reconstruction, x):
    """Mean over features of the squared error, one value per sample."""
    return (reconstruction - x).pow(2).mean(dim=1)


class ReconstructionLoss(nn.Module):
    """Mean squared reconstruction error over samples and features."""

    def forward(self, output, x):
        reconstruction, _ = output
        # Equal to squared_error(...).mean() for equal-width rows, in one kernel.
        return F.mse_loss(reconstruction, x)


class L1CodeLoss(nn.Module):
    """Mean squared reconstruction error plus ``alpha * mean(|code|)``.

    The sparse autoencoder's objective: the L1 term pushes code units to
    exactly zero (after a ReLU), so that only a few fire for each sample.
    """

    def __init__(self, alpha):
        super().__init__()
        self.alpha = alpha

    def forward(self, output, x):
        reconstruction, code = output
        return F.mse_loss(reconstruction, x) + self.alpha * code.abs().mean()


class AuxKLoss(nn.Module):
    """Mean squared reconstruction error plus ``alpha`` times the AuxK term.

    For the output ``(reconstruction, code, aux)`` of a
    :class:`~skae._nn.dictionary.DictionaryAutoEncoder`: ``aux``, the dead
    latents' reconstruction, is fitted to the residual the live ones left
    (held fixed), in the same units as the main term (Gao et al., 2024).
    """

    def __init__(self, alpha):
        super().__init__()
        self.alpha = alpha

    def forward(self, output, x):
        reconstruction, _, aux = output
        loss = F.mse_loss(reconstruction, x)
        if aux is None or self.alpha == 0:
            return loss
        return loss + self.alpha * F.mse_loss(aux, (x - reconstruction).detach())


LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density(x, mean, logvar):
    """log N(x; mean, exp(logvar)) summed over the last axis, in nats."""
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar)).sum(-1)


def bernoulli_log_likelihood(x, logits):
    """log Bernoulli(x; sigmoid(logits)) summed over the last axis, in nats.

    Also defined for ``x`` strictly between 0 and 1 (grey levels), as the
    cross-entropy; it is then not a normalised density of ``x``.
    """
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def log_likelihood(likelihood, x, x_param, x_logvar=None):
    """log p(x|z) of a VAE decoder's output, one value per sample (in nats)."""
    if likelihood == "bernoulli":
        return bernoulli_log_likelihood(x, x_param)
    return gaussian_log_density(x, x_param, x_logvar)


def gaussian_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) in nats, one value per sample."""
    return 0.5 * (mu.pow(2) + torch.exp(logvar) - 1 - logvar).sum(-1)


def importance_log_weights(reconstruction, z, eps, logvar):
    """``log p(x|z) + log p(z) - log q(z|x)`` of ``z = mu + exp(logvar / 2) * eps``.

    ``reconstruction`` is ``log p(x|z)`` per draw, shape (n, draws); ``z`` and
    ``eps`` are (n, draws, k); ``logvar`` broadcasts against them.
    """
    log_prior = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    log_posterior = -0.5 * (eps.pow(2) + LOG_2PI + logvar).sum(-1)
    return reconstruction + log_prior - log_posterior


def importance_weighted_bound(log_weights):
    """The importance-weighted bound on ``log p(x)`` from (n, draws) log-weights."""
    return torch.logsumexp(log_weights, dim=1) - math.log(log_weights.shape[1])


def log_likelihood_bound(module, x, draws, n_draws, chunk):
    """A VAE's ELBO (one draw) or importance-weighted bound over ``n_draws``.

    ``module`` is a :class:`~skae._nn.variational.VariationalModule`.
    ``draws(first, stop)`` returns the standard normal draws number ``first``
    to ``stop - 1`` of each row, shape (n, stop - first, k); they are decoded
    ``chunk`` at a time.
    """
    mu, logvar = module.encode(x)
    log_weights = []
    for first in range(0, n_draws, chunk):
        eps = draws(first, min(first + chunk, n_draws))
        z = module.reparameterize(mu[:, None, :], logvar[:, None, :], eps)
        reconstruction = log_likelihood(
            module.likelihood,
            x[:, None, :],
            module.decoder(z),
            module.noise_logvar(),
        )
        if n_draws == 1:
            return reconstruction[:, 0] - gaussian_kl(mu, logvar)
        log_weights.append(
            importance_log_weights(reconstruction, z, eps, logvar[:, None, :])
        )
    return importance_weighted_bound(torch.cat(log_weights, dim=1))


class ELBOLoss(nn.Module):
    """Negative evidence lower bound, averaged over samples (nats per sample).

    ``-log p(x|z) + beta * KL(q(z|x) || N(0, I))`` for the module output
    :class:`~skae._nn.variational.VAEOutput`. With ``warmup_epochs`` the gradient
    follows the objective with a KL weight rising linearly from
    ``beta / warmup_epochs`` at epoch 1 to ``beta`` at epoch
    ``warmup_epochs``, while the value reported (the training loss that
    early stopping and the divergence check watch) is always the objective
    with weight ``beta``: losses from different epochs stay comparable.
    The net tells the criterion the epoch through :meth:`set_epoch`.
    """

    def __init__(self, likelihood="gaussian", beta=1.0, warmup_epochs=0):
        super().__init__()
        self.likelihood = likelihood
        self.beta = beta
        self.warmup_epochs = warmup_epochs
        self.epoch = 1

    def set_epoch(self, epoch):
        """Called at the start of each epoch (1-based, counted across warm starts)."""
        self.epoch = epoch

    @property
    def kl_weight(self):
        if self.warmup_epochs <= 0:
            return self.beta
        return self.beta * min(1.0, self.epoch / self.warmup_epochs)

    def forward(self, output, x):
        reconstruction = log_likelihood(
            self.likelihood, x, output.x_param, output.x_logvar
        )
        kl = gaussian_kl(output.mu, output.logvar)
        loss = (self.beta * kl - reconstruction).mean()
        weight = self.kl_weight
        if weight == self.beta:
            return loss
        annealed = (weight * kl - reconstruction).mean()
        # The value of ``loss``, the gradient of ``annealed``.
        return loss.detach() + (annealed - annealed.detach())


def masked_squared_error(reconstruction, x, weight):
    """Weighted mean over features of the squared error, one value per sample.

    Entries of weight 0 (missing ones) count for nothing; a row with no
    weight at all scores 0 rather than NaN.
    """
    total = ((reconstruction - x).pow(2) * weight).sum(dim=1)
    return total / weight.sum(dim=1).clamp_min(1)


class ObservedReconstructionLoss(nn.Module):
    """Mean squared error over the observed entries of a packed batch.

    For :class:`~skae._nn.imputer.ImputerOutput`: missing entries have no
    target and count for nothing. Observed entries hidden from the network
    count as much as the ones it saw (weighing them more was measured no
    better on digits, wine and breast cancer).
    """

    def forward(self, output, batch):
        n_features = output.reconstruction.shape[1]
        x = batch[:, :n_features]
        error = (output.reconstruction - x).pow(2) * output.observed
        return error.sum() / output.observed.sum().clamp_min(1)


def umap_log_weight(code_a, code_b, a, b, eps=1e-3):
    """``log(a d^(2b))`` for the distance ``d`` between paired codes.

    UMAP's similarity of two codes is ``q = 1 / (1 + a d^(2b))``; in terms
    of ``s = log(a d^(2b))``, ``-log q = softplus(s)`` and
    ``-log(1 - q) = softplus(-s)``, both finite for any distance.
    ``eps`` keeps the gradient of coincident codes finite, as umap-learn
    clips its probabilities.
    """
    return log_weight_of_squared((code_a - code_b).pow(2).sum(dim=-1), a, b, eps)


def log_weight_of_squared(squared, a, b, eps=1e-3):
    """:func:`umap_log_weight` from squared distances."""
    return math.log(a) + b * torch.log(squared + eps)


#: Edges per block whose heads and tails UMAPLoss pairs all with all: a
#: default batch of 256 edges is one block; larger batches are cut into
#: blocks, which bounds the pairs, and their memory, to ``batch_size *
#: NEGATIVE_BLOCK``.
NEGATIVE_BLOCK = 256


def umap_repulsion(heads, tails, a, b, eps=1e-3):
    """Each head's mean ``-log(1 - q)`` against the other tails of its block, summed.

    Heads and tails are cut into blocks of ``NEGATIVE_BLOCK`` edges; a head
    meets every tail of its block but its own edge's. Squared distances come
    from one matrix product (``|h|^2 + |t|^2 - 2 h.t``): in a few
    dimensions, that costs far less than the pairwise differences.
    """
    total = heads.new_zeros(())
    for block_heads, block_tails in zip(
        heads.split(NEGATIVE_BLOCK), tails.split(NEGATIVE_BLOCK), strict=True
    ):
        n = len(block_heads)
        if n < 2:
            continue
        squared = (
            block_heads.pow(2).sum(1, keepdim=True)
            + block_tails.pow(2).sum(1)
            - 2 * block_heads @ block_tails.T
        ).clamp_min(0)
        repulsion = F.softplus(-log_weight_of_squared(squared, a, b, eps))
        total = total + (repulsion.sum() - repulsion.diagonal().sum()) / (n - 1)
    return total


class UMAPLoss(nn.Module):
    """UMAP's cross-entropy over a batch of edges, plus a reconstruction term.

    For :class:`~skae._nn.umap.EdgeOutput` of ``B`` edges: each edge
    ``(head, tail)`` pulls its codes together (``-log q``), and each head is
    pushed away from other rows (``-log(1 - q)``). As in parametric UMAP,
    the other rows are the tails of the other edges of the batch: the edges
    come in random order, so these are rows drawn as UMAP draws its negative
    samples (by degree). Rather than ``negative_sample_rate`` of them, each
    head meets all the other tails of its block of ``NEGATIVE_BLOCK`` edges
    (see :func:`umap_repulsion`), their mean weighted as UMAP's
    ``negative_sample_rate`` samples: the same objective in expectation,
    with far less noise in each step, for the price of pairwise distances
    between codes (the network still runs once per row). The loss is the
    mean over the ``B (1 + negative_sample_rate)`` pairs UMAP would draw
    plus ``reconstruction_weight`` times the mean squared reconstruction
    error of the rows the module decoded (the ``B`` heads).
    """

    def __init__(self, a, b, negative_sample_rate=5, reconstruction_weight=1.0):
        super().__init__()
        self.a = a
        self.b = b
        self.negative_sample_rate = negative_sample_rate
        self.reconstruction_weight = reconstruction_weight

    def forward(self, output, edges):
        cross_entropy, reconstruction = self.parts(output, edges)
        if reconstruction is None:
            return cross_entropy
        return cross_entropy + reconstruction

    def parts(self, output, edges):
        """UMAP's cross-entropy, and the weighted reconstruction error (None
        at ``reconstruction_weight=0``).

        Apart for :class:`LabelLoss`: a label head trades the first against
        the labels, and leaves the second its own weight.
        """
        heads, tails = output.code.chunk(2)
        n_edges = len(heads)
        pairs = F.softplus(umap_log_weight(heads, tails, self.a, self.b)).sum()
        n_negative = self.negative_sample_rate if n_edges > 1 else 0
        if n_negative > 0:
            repulsion = umap_repulsion(heads, tails, self.a, self.b)
            pairs = pairs + n_negative * repulsion
        cross_entropy = pairs / (n_edges * (1 + n_negative))
        if self.reconstruction_weight == 0:
            return cross_entropy, None
        reconstruction = F.mse_loss(output.reconstruction, output.x)
        return cross_entropy, self.reconstruction_weight * reconstruction


def class_cross_entropy(logits, target):
    """Mean cross-entropy over the rows with a class (``target >= 0``).

    ``target`` is one column of class indices (as floats), -1 for a row
    without a class, which counts for nothing; a batch without any class
    gives 0, not NaN.
    """
    classes = target[:, 0].long()
    total = F.cross_entropy(logits, classes, ignore_index=-1, reduction="sum")
    return total / (classes >= 0).sum().clamp_min(1)


def labelled_code_size(code, target):
    """Mean over the rows with a class of the mean squared entry of their code.

    As :func:`class_cross_entropy`, a row whose ``target`` is -1 counts for
    nothing, and a batch without any class gives 0.
    """
    labelled = (target[:, 0] >= 0).to(code.dtype)
    return (code.pow(2).mean(dim=1) * labelled).sum() / labelled.sum().clamp_min(1)


class LabelLoss(nn.Module):
    """``(1 - weight) * criterion + weight * label loss``, for a label head.

    For :class:`~skae._nn.labels.LabelOutput`: ``criterion`` (the
    variant's own loss) scores the wrapped module's output; a criterion
    with ``parts`` (:class:`UMAPLoss`) has only its first part weighed
    against the labels, and its second added as it is. The label loss
    is the head's cross-entropy against class indices (``classes=True``,
    see :func:`class_cross_entropy`) plus ``code_penalty`` times the
    labelled rows' :func:`labelled_code_size`, or its mean squared error
    against standardised targets. With ``n_features``, the batch holds
    packed rows ``[x | target]`` and ``criterion`` sees ``x`` only; without
    it, the batch is what the wrapped module trains on (UMAP's edges).

    The penalty is there because a softmax's cross-entropy keeps falling as
    its logits grow, and the encoder can grow them by spreading the
    labelled rows' codes ever wider; with the penalty the head's weights
    carry the logits' scale instead. A squared error has its optimum at a
    finite scale, so a float target needs none.
    """

    def __init__(self, criterion, weight, classes, n_features=None, code_penalty=0.0):
        super().__init__()
        self.criterion = criterion
        self.weight = weight
        self.classes = classes
        self.n_features = n_features
        self.code_penalty = code_penalty

    def set_epoch(self, epoch):
        set_epoch = getattr(self.criterion, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)

    def forward(self, output, batch):
        if self.n_features is not None:
            batch = batch[:, : self.n_features]
        parts = getattr(self.criterion, "parts", None)
        if parts is None:
            loss, kept = self.criterion(output.output, batch), None
        else:
            loss, kept = parts(output.output, batch)
        if self.classes:
            label = class_cross_entropy(output.prediction, output.target)
            if self.code_penalty > 0:
                size = labelled_code_size(output.code, output.target)
                label = label + self.code_penalty * size
        else:
            label = F.mse_loss(output.prediction, output.target)
        # One operation for (1 - weight) * loss + weight * label.
        weighed = torch.lerp(loss, label, self.weight)
        return weighed if kept is None else weighed + kept
