"""Column sums and spreads of a large array, a block of rows at a time.

At once, the float64 copy that an exact sum of float32 rows needs takes
twice the data's memory (60,000 x 784 rows: 376 MB more); a block of rows
at a time, a few MB.
"""

import numpy as np


def column_sums(X, rows=4096):
    """``X.sum(axis=0)`` in float64, summed a block of ``rows`` at a time."""
    total = np.zeros(X.shape[1])
    for start in range(0, len(X), rows):
        total += X[start : start + rows].sum(axis=0, dtype=np.float64)
    return total


def column_spread(X, rows=4096):
    """``X.std(axis=0)`` in float64, a block of ``rows`` at a time."""
    n = len(X)
    mean = column_sums(X, rows) / n
    squares = np.zeros(X.shape[1])
    for start in range(0, n, rows):
        squares += np.square(X[start : start + rows] - mean).sum(axis=0)
    return np.sqrt(squares / n)
