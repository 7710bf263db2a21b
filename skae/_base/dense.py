"""What every fully connected estimator adds to the base: layer widths and dropout."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from .constraints import Count, positive_ints

#: Merged into the ``_parameter_constraints`` of a fully connected estimator.
DENSE_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Count(1)],
    "dropout": [Interval(Real, 0, 1, closed="left")],
}


class DenseMixin:
    """``hidden_layer_sizes`` checked at entry; put it before the base class."""

    def _check_params(self):
        super()._check_params()
        self._hidden_sizes()

    def _hidden_sizes(self):
        """``hidden_layer_sizes`` as a tuple of widths, validated."""
        return positive_ints(self.hidden_layer_sizes, "hidden_layer_sizes")
