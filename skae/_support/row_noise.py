"""Standard normal draws that are a function of each row's values.

The variational autoencoder's ``score_samples`` averages over draws of the
code. Keying the draws by the row (not by its position, nor by a generator
shared by the batch) makes a sample's score independent of which other rows
it is scored with, of the batch size and of the order of the rows.
Hand-written because numpy's and torch's generators are one stream per
generator: one generator per row would cost a Python object per row.
"""

import math

import numpy as np
from scipy.special import ndtri

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(x):
    """splitmix64's finaliser: a bijective, well-mixing hash of uint64 arrays."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_normals(X, seed, size, first=0):
    """Standard normal draws of shape ``(len(X), *size)``, a function of each row.

    Row ``i``'s draws depend only on ``seed`` and the values of ``X[i]``
    (as float64), never on its position or on the other rows: a splitmix64
    stream keyed by a hash of the row, turned into normals by the inverse
    CDF. Identical rows get identical draws. ``first`` skips that many
    numbers of each row's stream, so that a long stream can be drawn in
    pieces: ``size=(n, k), first=a * k`` gives draws ``a`` to ``a + n - 1``.
    """
    return stream_normals(row_keys(X, seed), size, first)


def row_keys(X, seed):
    """The key of each row's stream: a hash of ``seed`` and the row's values."""
    # Adding 0.0 turns -0.0 into 0.0, so equal values hash equally.
    bits = (np.ascontiguousarray(X, dtype=np.float64) + 0.0).view(np.uint64)
    key = mix64(np.full(len(bits), seed, dtype=np.uint64) + _GOLDEN)
    for column in bits.T:
        key = mix64(key ^ column) + _GOLDEN
    return key


def stream_normals(keys, size, first=0):
    """Numbers ``first`` onwards of each key's stream, as normals of ``size``."""
    counters = np.arange(first + 1, first + math.prod(size) + 1, dtype=np.uint64)
    counters *= _GOLDEN
    stream = mix64(keys[:, None] + counters[None, :])
    uniform = ((stream >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return ndtri(uniform).reshape(len(keys), *size)
