"""Column sums and spreads a block of rows at a time: numpy's, in float64."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skae._utils.columns import column_spread, column_sums


@pytest.mark.parametrize("rows", [1, 7, 100, 4096])
def test_blocks_give_numpys_float64_sums_and_spreads(rows):
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(100, 5)).astype(np.float32)
    X[:, 4] = 1e4  # constant: no spread
    assert_allclose(column_sums(X, rows), X.sum(axis=0, dtype=np.float64))
    spread = column_spread(X, rows)
    assert spread.dtype == np.float64
    assert_allclose(spread, X.astype(np.float64).std(axis=0), atol=1e-12)
    assert spread[4] == 0
