"""The variational autoencoder's scores: a lower bound on log p(x) per sample.

:class:`LikelihoodScores` gives :class:`~skae.VariationalAutoEncoder` its
``score_samples`` and ``score``: the ELBO, or the importance-weighted bound
with ``n_importance_samples > 1``, with posterior draws keyed by each row's
values (see ``_row_noise.py``), so that a row's score does not depend on the
rows it is scored with.
"""

import numpy as np
import torch

from .._base import inference as _inference
from .._nn.losses import log_likelihood_bound
from .row_noise import row_keys, stream_normals


def check_bernoulli_range(X, likelihood):
    """Refuse data outside [0, 1] for a Bernoulli likelihood."""
    if likelihood != "bernoulli":
        return
    low, high = X.min(initial=0.0), X.max(initial=1.0)
    if low < 0 or high > 1:
        raise ValueError(
            "likelihood='bernoulli' models data in [0, 1], but X has "
            f"values in [{low:g}, {high:g}]. Scale it first (e.g. "
            "MinMaxScaler(clip=True) in a Pipeline, so that new data stay "
            "in range too) or use likelihood='gaussian'."
        )


class LikelihoodScores:
    """``score_samples`` and ``score`` as log-likelihood bounds, in nats."""

    def score_samples(self, X):
        """Lower bound on the log-likelihood of each sample, in nats.

        The ELBO with ``n_importance_samples=1``, the importance-weighted
        bound with more; higher is better. See the class Notes for units and
        scaling.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``log p(x)`` bounds, summed over features (not averaged).
        """
        return super().score_samples(X)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: average log-likelihood bound, in nats.

        On the same scale as ``PCA.score`` on the same data, so the two can be
        compared in one ``GridSearchCV``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
        """
        return super().score(X, y)

    def _score_samples(self, X):
        n_draws = self.n_importance_samples
        # Outside [0, 1] a Bernoulli log-likelihood is a number without meaning.
        check_bernoulli_range(X, self.net_.module_.likelihood)
        # Bound memory by the number of decoded rows: n_draws per sample, and
        # for n_draws above the batch size, one sample's draws in chunks.
        batch_size = _inference.INFERENCE_BATCH_SIZE
        rows = max(1, batch_size // n_draws)
        chunk = min(n_draws, batch_size)
        k = self._n_features_out
        # Each row's draws are keyed by its values (see _row_noise);
        # _forward_batches visits the rows in order, ``rows`` at a time.
        keys = row_keys(X, self._score_seed)
        batch_keys = iter(np.array_split(keys, range(rows, len(X), rows)))

        def bound(module, x):
            keys = next(batch_keys)

            def draws(first, stop):
                eps = stream_normals(keys, (stop - first, k), first=first * k)
                return torch.from_numpy(eps).to(device=x.device, dtype=x.dtype)

            return log_likelihood_bound(module, x, draws, n_draws, chunk)

        return self._forward_batches(bound, X, None, rows=rows)
