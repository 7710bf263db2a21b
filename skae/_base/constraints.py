"""What a parameter may be, and when a changed one matters.

``bool`` subclasses ``int``, so scikit-learn's ``Interval(Integral, 1, None)``
accepts ``True``: ``n_components=True`` silently meant one component, and
``hidden_layer_sizes=True`` one hidden unit. A flag passed where a count is
expected is a mistake to report, not a number to use: :class:`Count`.

Warm starts, :func:`skae.save` and :func:`skae.load` refuse a parameter that
no longer describes the built network; :func:`same_param` says when a
different value is the same network (``[8]`` and ``(8,)``, ``"auto"`` and the
device it chose).
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError

from .._utils.runtime import resolve_device


def is_bool(value):
    return isinstance(value, (bool, np.bool_))


class Count(Interval):
    """``Interval(Integral, left, right, closed=closed)`` refusing booleans."""

    def __init__(self, left, right=None, *, closed="left"):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not is_bool(val) and super().is_satisfied_by(val)


def same_value(a, b):
    """Parameter equality that also holds for arrays (an ``image_shape``), for
    a list and a tuple of the same widths, and for NaN (an imputer's
    ``missing_values``)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, Real) and isinstance(b, Real) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(same_value, a, b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def same_param(name, value, built):
    """Whether parameter ``name`` still describes a network built with ``built``.

    A device is the same when it resolves to the same one: ``"auto"`` and
    the device it picked, ``"cuda"`` and ``"cuda:0"`` (the current one).
    """
    if same_value(value, built):
        return True
    if name != "device":
        return False
    try:
        return _device_key(resolve_device(value)) == _device_key(resolve_device(built))
    except ValueError:
        return False


def _device_key(device):
    index = device.index
    if index is None and device.type == "cuda":
        index = torch.cuda.current_device()
    return device.type, index or 0


def positive_ints(value, name, allow_empty=True):
    """An int or a sequence of them as a tuple of plain positive ints.

    For list-valued parameters (layer widths, channels), which scikit-learn's
    constraints can only check to be array-like. Plain ints because torch
    refuses numpy integers in places (``nn.Unflatten``).
    """
    values = (value,) if isinstance(value, Integral) else tuple(value)
    if (not values and not allow_empty) or not all(
        isinstance(v, Integral) and not is_bool(v) and v >= 1 for v in values
    ):
        kind = "a non-empty" if not allow_empty else "a"
        raise InvalidParameterError(
            f"{name} must be a positive integer or {kind} sequence of them, "
            f"got {value!r}."
        )
    return tuple(int(v) for v in values)
