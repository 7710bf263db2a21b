"""Convolutional autoencoder for images given as rows of pixels."""

import math
from numbers import Integral

from sklearn.utils._param_validation import InvalidParameterError, StrOptions

from ._autoencoder import AutoEncoder
from ._base.base import BaseAutoEncoder
from ._base.constraints import Count, is_bool, positive_ints
from ._base.labels import AUTO_RATE_CONSTRAINTS, LABEL_CONSTRAINTS, LabelsMixin
from ._base.noise import NOISE_CONSTRAINTS, DenoisingMixin
from ._base.sampling import SAMPLING_CONSTRAINTS, SamplingMixin
from ._nn.conv import conv_autoencoder
from ._utils.docs import inherit_docs
from ._utils.warnings import warn


@inherit_docs(AutoEncoder, exclude=("init", "hidden_layer_sizes", "dropout"))
class ConvAutoEncoder(LabelsMixin, SamplingMixin, DenoisingMixin, BaseAutoEncoder):
    """Convolutional autoencoder for images, optionally trained to denoise.

    Takes the usual 2-D ``X`` of shape (n_samples, n_pixels), one flattened
    image per row (as ``load_digits().data`` or patches from
    :func:`~sklearn.feature_extraction.image.extract_patches_2d` reshaped to
    rows), so that it drops into pipelines like any other transformer. Each
    row is reshaped to ``image_shape``; the encoder is a stack of stride-2
    convolutions, one per entry of ``channels``, each halving the height and
    width, followed by a linear layer to the ``n_components`` code. The
    decoder mirrors it with transposed convolutions. ``transform`` returns
    the code, of shape (n_samples, n_components), and ``inverse_transform``
    rows of pixels again.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the dense bottleneck), i.e. the number of output
        features of :meth:`transform`.

    image_shape : "auto" or tuple of int, default="auto"
        Shape of one image: ``(height, width)`` or ``(channels, height,
        width)``, channels first, rows in C order (numpy's ``reshape``). Its
        product must equal the number of features of ``X``. ``"auto"`` takes
        square single-channel images, ``(sqrt(n), sqrt(n))``; when the number
        of features ``n`` is not a square it warns and treats each row as a
        one-pixel-high image ``(1, n)``.

    channels : int or tuple of int, default=(16, 32)
        Number of feature maps of each encoder stage, from the input towards
        the code; the decoder uses them in reverse. Every stage is a stride-2
        convolution, so no layer runs at full resolution (the cost of a
        convolution on a CPU grows with the number of pixels it runs on).
        Images whose height or width do not divide by ``2 ** len(channels)``
        are zero-padded around for the network and cropped back at the
        output: the pixels are always reconstructed one for one.

    kernel_size : int, default=3
        Height and width of every convolution kernel; at least 2, since a
        stride-2 convolution with a 1x1 kernel would skip three pixels in
        four (and the decoder could not reconstruct them).

    noise : {"gaussian", "masking", "salt_and_pepper"} or None, default=None
        Corruption of the training input, for a denoising autoencoder
        (``None``: none). As in :class:`DenoisingAutoEncoder`: gaussian noise
        of standard deviation ``noise_level``, masking (each pixel zeroed
        with probability ``noise_level``, the others scaled by
        ``1 / (1 - noise_level)``), or salt and pepper (each pixel set with
        probability ``noise_level`` to its minimum or maximum over the
        training data). The loss compares the reconstruction with the clean
        input; ``transform``, ``inverse_transform``, ``score`` and
        :meth:`denoise` never corrupt.

    noise_level : float, default=0.1
        Standard deviation of the gaussian noise, in the units of the (scaled)
        data; for ``"masking"`` a probability in [0, 1), for
        ``"salt_and_pepper"`` a probability in [0, 1]. Unused when ``noise``
        is None.

    learning_rate_init : float or "auto", default="auto"
        Adam's learning rate. ``"auto"`` is 3e-3, and for a fit on class
        labels (``target_weight`` with class labels in ``y``), whose codes
        move further from the start, 6e-3 in steps of 200 rows, in
        proportion for smaller steps (see the user guide's "Supervised and
        semi-supervised codes").

    max_iter : int, default=100
        Maximum number of epochs (passes over the training data).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its
        loss stops improving and restore the best weights (the weights
        training starts from count as epoch 0). Without it, training stops
        when the training loss stops improving, as it does in a fit on
        class labels (see ``target_weight``).

    tol : float, default=1e-4
        Relative improvement of the monitored loss below which an epoch does
        not count as progress.

    {inherit Parameters}

    Attributes
    ----------
    image_shape_ : tuple of int
        The ``(channels, height, width)`` each row was reshaped to.

    {inherit Attributes}

    See Also
    --------
    AutoEncoder : Fully connected; ignores that neighbouring pixels are
        related.
    DenoisingAutoEncoder : Fully connected denoising autoencoder.
    sklearn.decomposition.PCA : The linear baseline, for compression and
        (projecting noisy images) for denoising.

    Notes
    -----
    The defaults (two stages of 16 and 32 channels, 3x3 kernels, Adam at
    3e-3, at most 100 epochs) were chosen by measurement on 16x16 grey
    patches of :func:`~sklearn.datasets.load_sample_images` scaled to [0, 1]
    with ``n_components=32``: see ``benchmarks/bench_conv.py``, which
    compares the denoising error with :class:`DenoisingAutoEncoder` and PCA.
    There the gaussian denoiser is still improving at 30 epochs (about 3%
    behind the dense one); at 100 epochs it is about 7% ahead on average
    over seeds, in about 20 seconds on 2 CPU cores.

    Training runs in float32 with Adam; on the CPU, ``transform``,
    ``inverse_transform`` and ``score_samples`` run in float64, so a sample's
    output does not depend on the batch it is computed in. Training draws
    from generators seeded by ``random_state`` (weights, shuffling, noise):
    two fits with the same integer seed give bit-identical models on the
    CPU, and torch's global random state is never used.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import ConvAutoEncoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)  # 8x8 images
    >>> cae = ConvAutoEncoder(n_components=8, max_iter=3, random_state=0)
    >>> codes = cae.fit_transform(X)
    >>> codes.shape
    (1797, 8)
    >>> cae.image_shape_
    (1, 8, 8)
    >>> cae.inverse_transform(codes).shape
    (1797, 64)
    """

    _parameter_constraints = {
        **BaseAutoEncoder._parameter_constraints,
        **NOISE_CONSTRAINTS,
        "image_shape": [StrOptions({"auto"}), "array-like"],
        "channels": ["array-like", Count(1)],
        "kernel_size": [Count(2)],
        **LABEL_CONSTRAINTS,
        **AUTO_RATE_CONSTRAINTS,
        **SAMPLING_CONSTRAINTS,
    }
    _auto_learning_rates = (3e-3, 6e-3)
    # More noise than the dense autoencoders' 0.3 (CLASS_HEAD_NOISE): better
    # held-out codes on the digits for about the same reconstruction error
    # (docs/user_guide/supervised_trials.rst).
    _class_noise = 0.5

    def __init__(
        self,
        n_components=2,
        *,
        image_shape="auto",
        channels=(16, 32),
        kernel_size=3,
        noise=None,
        noise_level=0.1,
        target_weight=None,
        activation="relu",
        alpha=0.0,
        batch_size="auto",
        learning_rate_init="auto",
        max_iter=100,
        tol=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        device="auto",
        n_threads="auto",
        verbose=0,
        warm_start=False,
        latent_density="gmm",
        calibrate_samples=True,
    ):
        self.n_components = n_components
        self.image_shape = image_shape
        self.channels = channels
        self.kernel_size = kernel_size
        self.noise = noise
        self.noise_level = noise_level
        self.target_weight = target_weight
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.latent_density = latent_density
        self.calibrate_samples = calibrate_samples

    def _check_params(self):
        super()._check_params()
        positive_ints(self.channels, "channels", allow_empty=False)
        if not isinstance(self.image_shape, str):
            self._image_shape_as_given()

    def _prepare(self, X, resume):
        super()._prepare(X, resume)
        # Resolved here rather than in _build_module, which skae.load also
        # calls: a loaded model keeps its saved image_shape_ and warns no more.
        if not resume:
            self.image_shape_ = self._resolve_image_shape(X.shape[1])

    def _build_module(self, n_features):
        return conv_autoencoder(
            self.image_shape_,
            self.n_components,
            positive_ints(self.channels, "channels", allow_empty=False),
            self.kernel_size,
            activation=self.activation,
            corruption=self._build_corruption(),
        )

    def _resolve_image_shape(self, n_features):
        """``image_shape`` as ``(channels, height, width)`` for ``n_features``."""
        if isinstance(self.image_shape, str):
            side = math.isqrt(n_features)
            if side * side == n_features:
                return (1, side, side)
            warn(
                f"image_shape='auto' expects square single-channel images, but "
                f"X has {n_features} features, which is not a square number; "
                f"each row is treated as an image of 1 x {n_features} pixels. "
                "Pass image_shape=(height, width) or (channels, height, width).",
                UserWarning,
            )
            return (1, 1, n_features)
        shape = self._image_shape_as_given()
        n_pixels = math.prod(shape)
        if n_pixels != n_features:
            raise ValueError(
                f"image_shape={self.image_shape!r} means {n_pixels} values per "
                f"sample (channels x height x width = {' x '.join(map(str, shape))}"
                f"), but X has {n_features} features. Pass the image_shape of "
                "the flattened images, whose product is the number of columns "
                "of X."
            )
        return shape

    def _image_shape_as_given(self):
        """``image_shape`` (not "auto") as ``(channels, height, width)``."""
        shape = tuple(self.image_shape)
        if len(shape) not in (2, 3) or not all(
            isinstance(s, Integral) and not is_bool(s) and s >= 1 for s in shape
        ):
            raise InvalidParameterError(
                "image_shape must be 'auto', (height, width) or (channels, "
                f"height, width) with positive integers, got {self.image_shape!r}."
            )
        shape = tuple(int(s) for s in shape)
        return (1, *shape) if len(shape) == 2 else shape
