"""Training-time input corruption, shared by every estimator with a ``noise`` option.

A denoising autoencoder sees a corrupted input and is trained to reconstruct
the clean one. The pieces here are all an estimator needs to offer that:

- :data:`NOISE_CONSTRAINTS`, merged into the estimator's
  ``_parameter_constraints``, validates ``noise`` and ``noise_level``;
- :func:`input_noise` builds the :class:`~skae._nn.modules.InputNoise` module
  (or ``None`` for no corruption) and checks ``noise_level`` against ``noise``;
- :class:`DenoisingMixin` records the training data's per-feature range (for
  salt-and-pepper noise) and builds the corruption from the estimator's own
  parameters.

Usage, in an estimator whose ``__init__`` takes ``noise`` and ``noise_level``::

    class MyAutoEncoder(DenoisingMixin, BaseAutoEncoder):
        _parameter_constraints = {
            **BaseAutoEncoder._parameter_constraints,
            **NOISE_CONSTRAINTS,
        }

        def _build_module(self, n_features):
            return AutoEncoderModule(..., corruption=self._build_corruption())

The corruption is active only while the module is in training mode, so
``transform``, ``inverse_transform`` and ``score`` see clean data; it draws
from the module's private generator (attached by the base class), so fitting
is reproducible and never touches torch's global random state.
"""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

from .._nn.modules import InputNoise

#: Parameter constraints for ``noise`` and ``noise_level``. ``noise=None``
#: (or ``noise_level=0``) means no corruption, for estimators where it is an
#: option rather than the point.
NOISE_CONSTRAINTS = {
    "noise": [StrOptions(set(InputNoise.KINDS)), None],
    "noise_level": [Interval(Real, 0, None, closed="left")],
}


def input_noise(noise, noise_level, low=0.0, high=1.0):
    """Build the training-time corruption of the input, or None for none.

    Parameters
    ----------
    noise : {"gaussian", "masking", "salt_and_pepper"} or None
        ``"gaussian"`` adds N(0, noise_level^2) noise to every entry.
        ``"masking"`` zeroes each entry with probability ``noise_level`` and
        scales the others by ``1 / (1 - noise_level)``: this is dropout right
        after the input. ``"salt_and_pepper"`` sets each entry with
        probability ``noise_level`` to ``low`` or ``high`` (half each).
        ``None`` means no corruption.
    noise_level : float
        Standard deviation for ``"gaussian"`` (in the units of the data, so
        scale the data first), a probability in [0, 1) for ``"masking"`` and
        in [0, 1] for ``"salt_and_pepper"``.
    low, high : float or array-like, default=0.0 and 1.0
        Values written by salt-and-pepper noise; arrays broadcast against a
        batch without its sample axis, e.g. per-feature minimum and maximum
        from :func:`feature_range`.

    Returns
    -------
    corruption : InputNoise or None
        None when ``noise`` is None or ``noise_level`` is 0.

    Examples
    --------
    >>> from skae._base.noise import input_noise
    >>> input_noise("masking", 0.25)
    InputNoise(kind='masking', level=0.25)
    >>> input_noise("gaussian", 0.0) is None
    True
    """
    if noise is None or noise_level == 0:
        return None
    # Masking rescales the kept entries by 1 / (1 - noise_level).
    too_high = noise_level >= 1 if noise == "masking" else noise_level > 1
    if noise != "gaussian" and too_high:
        interval = "[0, 1)" if noise == "masking" else "[0, 1]"
        raise InvalidParameterError(
            f"noise_level is a probability for noise={noise!r} and must be in "
            f"{interval}, got {noise_level!r}."
        )
    return InputNoise(
        noise,
        float(noise_level),
        low=np.asarray(low, dtype=np.float32),
        high=np.asarray(high, dtype=np.float32),
    )


def feature_range(X):
    """Per-feature minimum and maximum of ``X`` over its first (sample) axis.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)

    Returns
    -------
    low, high : ndarray of shape X.shape[1:], float32

    Examples
    --------
    >>> import numpy as np
    >>> from skae._base.noise import feature_range
    >>> feature_range(np.array([[0.0, 5.0], [2.0, 3.0]]))
    (array([0., 3.], dtype=float32), array([2., 5.], dtype=float32))
    """
    X = np.asarray(X)
    return X.min(axis=0).astype(np.float32), X.max(axis=0).astype(np.float32)


class DenoisingMixin:
    """Input corruption for a :class:`~skae._base.base.BaseAutoEncoder` subclass.

    Put it before the base class. The estimator must have ``noise`` and
    ``noise_level`` parameters (see :data:`NOISE_CONSTRAINTS`) and pass
    ``self._build_corruption()`` as the module's corruption. When training
    starts from scratch the mixin records the per-feature minimum and maximum
    of the training data, which salt-and-pepper noise writes; ``partial_fit``
    records them from the first chunk.
    """

    def _check_params(self):
        super()._check_params()
        input_noise(self.noise, self.noise_level)

    def _prepare(self, X, resume):
        super()._prepare(X, resume)
        if not resume:
            self._noise_range = feature_range(X)

    def _build_corruption(self):
        low, high = getattr(self, "_noise_range", (0.0, 1.0))
        return input_noise(self.noise, self.noise_level, low, high)

    def denoise(self, X):
        """Reconstruct ``X`` through the code, without corrupting it.

        Equivalent to ``inverse_transform(transform(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, noisy or not.

        Returns
        -------
        X_denoised : ndarray of shape (n_samples, n_features)
            The reconstructions; float32 for float32 input, float64 otherwise.
        """
        return self.inverse_transform(self.transform(X))
