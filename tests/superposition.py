"""Synthetic superposition data for the sparse-dictionary tests: true atoms known."""

import numpy as np


def superposition(n_rows, n_true, k, d=16, seed=0):
    """Rows made of about ``k`` of ``n_true`` unit directions, non-negatively."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_true, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    s = (rng.random((n_rows, n_true)) < k / n_true) * rng.random((n_rows, n_true))
    return (s @ D + 0.01 * rng.standard_normal((n_rows, d))).astype(np.float32)
