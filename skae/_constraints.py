"""A parameter constraint scikit-learn lacks: an integer that is not a boolean.

``bool`` subclasses ``int``, so scikit-learn's ``Interval(Integral, 1, None)``
accepts ``True``: ``n_components=True`` silently meant one component, and
``hidden_layer_sizes=True`` one hidden unit. A flag passed where a count is
expected is a mistake to report, not a number to use.
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval


def is_bool(value):
    return isinstance(value, (bool, np.bool_))


class Count(Interval):
    """``Interval(Integral, left, right, closed=closed)`` refusing booleans."""

    def __init__(self, left, right=None, *, closed="left"):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not is_bool(val) and super().is_satisfied_by(val)
