import math
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_sample_images
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.image import extract_patches_2d
from sklearn.utils._param_validation import InvalidParameterError

import skae
from skae import ConvAutoEncoder, DenoisingAutoEncoder
from skae._base.noise import DenoisingMixin
from skae._nn.conv import FromImages, ToImages, conv_autoencoder
from skae._nn.modules import InputNoise, reset_parameters

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def patches():
    """16x16 grey patches of a photograph, rows of 256 pixels in [0, 1]."""
    grey = load_sample_images().images[0].mean(axis=2) / 255.0
    patches = extract_patches_2d(grey, (16, 16), max_patches=600, random_state=0)
    return patches.reshape(len(patches), -1)


def small(**params):
    """A quick-to-train ConvAutoEncoder; ``params`` override the defaults."""
    defaults = {
        "n_components": 4,
        "channels": (4, 8),
        "learning_rate_init": 3e-3,
        "max_iter": 5,
    }
    return ConvAutoEncoder(**{**defaults, "random_state": 0, **params})


def mse(a, b):
    return float(np.mean((a - b) ** 2))


# ------------------------------------------------- image shapes and padding


@pytest.mark.parametrize("kernel_size", [3, 4, 5])
@pytest.mark.parametrize("channels", [(3,), (2, 3, 4)])
@pytest.mark.parametrize("image_shape", [(7, 9), (5, 5), (3, 10, 6)])
def test_shapes_that_do_not_divide_by_the_strides(image_shape, channels, kernel_size):
    n_pixels = math.prod(image_shape)
    X = np.random.default_rng(0).uniform(size=(12, n_pixels))
    cae = small(
        n_components=3,
        image_shape=image_shape,
        channels=channels,
        kernel_size=kernel_size,
        max_iter=1,
    ).fit(X)
    assert cae.image_shape_ == (1, *image_shape)[-3:]
    codes = cae.transform(X)
    assert codes.shape == (12, 3)
    assert cae.inverse_transform(codes).shape == (12, n_pixels)
    assert cae.score_samples(X).shape == (12,)


@pytest.mark.parametrize("image_shape", [(1, 7, 9), (1, 5, 5), (3, 10, 6)])
@pytest.mark.parametrize("factor", [2, 8])
def test_to_images_pads_around_and_from_images_crops_back(image_shape, factor):
    _, height, width = image_shape
    padded = (math.ceil(height / factor) * factor, math.ceil(width / factor) * factor)
    x = torch.arange(1, 2 * math.prod(image_shape) + 1, dtype=torch.float64)
    x = x.reshape(2, -1)

    images = ToImages(image_shape, padded)(x)
    assert images.shape == (2, image_shape[0], *padded)
    top, left = (padded[0] - height) // 2, (padded[1] - width) // 2
    inside = images[:, :, top : top + height, left : left + width]
    # Channels first, rows in C order, as numpy's reshape.
    assert torch.equal(inside, x.reshape(2, *image_shape))
    assert images.sum() == x.sum()  # the border is zeros

    assert torch.equal(FromImages(image_shape, padded)(images), x)


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
@pytest.mark.parametrize("image_shape", [(1, 7, 9), (3, 10, 6)])
def test_every_pixel_is_read_and_reconstructed(image_shape, kernel_size):
    # A linear network, so that only the wiring (not a dead ReLU) can cut a
    # pixel off, and its Jacobian is the response to each one-pixel image:
    # no input pixel may be ignored, no output pixel may be constant.
    with torch.random.fork_rng(devices=[]):
        module = conv_autoencoder(
            image_shape, 4, (4, 8), kernel_size, activation="identity"
        )
    reset_parameters(module, torch.Generator().manual_seed(0))
    module = module.double().eval()
    n_pixels = math.prod(image_shape)
    with torch.no_grad():
        one_pixel = torch.eye(n_pixels, dtype=torch.float64)
        jacobian = module(one_pixel)[0] - module(torch.zeros_like(one_pixel[:1]))[0]
    assert (jacobian.abs().sum(dim=0) > 1e-12).all()
    assert (jacobian.abs().sum(dim=1) > 1e-12).all()


def test_a_one_pixel_kernel_is_refused(digits):
    with pytest.raises(InvalidParameterError, match="'kernel_size' parameter"):
        small(kernel_size=1).fit(digits)
    with pytest.raises(ValueError, match="kernel_size must be at least 2"):
        conv_autoencoder((1, 8, 8), 2, (4,), 1)


def test_image_shape_accepts_lists_arrays_and_a_channel_axis(digits):
    X = digits[:20]
    for image_shape in ([8, 8], np.array([8, 8]), (1, 8, 8)):
        cae = small(image_shape=image_shape, max_iter=1).fit(X)
        assert cae.image_shape_ == (1, 8, 8)
        assert all(type(s) is int for s in cae.image_shape_)
    assert small(image_shape=(4, 4, 4), max_iter=1).fit(X).image_shape_ == (4, 4, 4)


def test_an_int_channels_is_one_stage(digits):
    a = small(channels=4, max_iter=2).fit(digits)
    b = small(channels=(4,), max_iter=2).fit(digits)
    assert_array_equal(a.transform(digits), b.transform(digits))
    n_convs = sum(
        isinstance(m, torch.nn.Conv2d) for m in a.net_.module_.encoder.modules()
    )
    assert n_convs == 1


# --------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "image_shape, match",
    [
        ((8, 7), r"image_shape=\(8, 7\) means 56 values per sample .* X has 64 "),
        ((2, 8, 8), r"128 values per sample \(channels x height x width = 2 x 8 x 8"),
    ],
)
def test_image_shape_whose_pixel_count_is_not_the_feature_count(
    digits, image_shape, match
):
    with pytest.raises(ValueError, match=match):
        small(image_shape=image_shape).fit(digits)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"image_shape": "square"}, "'image_shape' parameter"),
        ({"image_shape": (0, 8)}, "with positive integers, got \\(0, 8\\)"),
        ({"image_shape": (8.0, 8)}, "with positive integers"),
        ({"image_shape": (1, 1, 8, 8)}, "got \\(1, 1, 8, 8\\)"),
        ({"image_shape": (64,)}, "\\(height, width\\) or \\(channels, height"),
        ({"channels": 0}, "'channels' parameter"),
        ({"channels": ()}, "non-empty sequence of them, got \\(\\)"),
        ({"channels": (4, 0)}, "got \\(4, 0\\)"),
        ({"channels": (4, 2.5)}, "got \\(4, 2.5\\)"),
        ({"kernel_size": 0}, "'kernel_size' parameter"),
        ({"noise": "blur"}, "'noise' parameter"),
        ({"noise": "masking", "noise_level": 1.0}, r"must be in \[0, 1\)"),
    ],
)
def test_invalid_parameters(digits, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        small(**params).fit(digits)


def test_auto_image_shape_of_a_square_feature_count_is_silent(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        cae = small(max_iter=1).fit(digits[:20])
    assert cae.image_shape_ == (1, 8, 8)


def test_auto_image_shape_warns_for_a_non_square_feature_count(digits):
    X = digits[:20, :60]
    with pytest.warns(UserWarning, match="60 features, which is not a square"):
        cae = small(max_iter=1).fit(X)
    assert cae.image_shape_ == (1, 1, 60)
    assert cae.inverse_transform(cae.transform(X)).shape == (20, 60)


# ------------------------------------------------------------ reconstruction


def test_training_reconstructs_digits_better_than_the_mean_image(digits):
    X = digits
    one_epoch = small(n_components=8, max_iter=1).fit(X)
    trained = small(n_components=8, channels=(16, 32), max_iter=40).fit(X)
    error = mse(trained.denoise(X), X)
    assert error < 0.6 * mse(X, X.mean(axis=0))
    assert error < 0.5 * mse(one_epoch.denoise(X), X)
    assert trained.loss_curve_[-1] < 0.5 * trained.loss_curve_[0]
    assert_allclose(trained.reconstruction_error_, error, rtol=1e-5)


def test_training_reconstructs_image_patches_better_than_the_mean(patches):
    X = patches
    cae = small(n_components=16, channels=(16, 32), max_iter=15).fit(X)
    assert cae.image_shape_ == (1, 16, 16)
    assert cae.transform(X).shape == (len(X), 16)
    assert mse(cae.denoise(X), X) < 0.5 * mse(X, X.mean(axis=0))


# ---------------------------------------------------------------- denoising


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
def test_noise_reuses_the_denoising_mixin_and_is_off_at_inference(digits, noise):
    cae = small(noise=noise, noise_level=0.3, max_iter=2).fit(digits)
    assert isinstance(cae, DenoisingMixin)
    corruption = cae.net_.module_.corruption
    assert isinstance(corruption, InputNoise) and corruption.kind == noise
    assert corruption.level == 0.3
    assert_array_equal(corruption.low.numpy(), digits.min(axis=0).astype(np.float32))
    assert_array_equal(corruption.high.numpy(), digits.max(axis=0).astype(np.float32))

    codes = cae.transform(digits)
    corruption.level = 0.9  # would change every code if it were applied
    assert_array_equal(cae.transform(digits), codes)
    assert_array_equal(cae.denoise(digits), cae.inverse_transform(codes))
    # ... and it is applied in training mode.
    module = cae.net_.module_.train()
    x = torch.as_tensor(digits, dtype=torch.float32)
    assert not torch.equal(module(x)[1], module.eval()(x)[1])


def test_no_noise_by_default(digits):
    cae = small(max_iter=1).fit(digits)
    assert isinstance(cae.net_.module_.corruption, torch.nn.Identity)
    assert isinstance(
        small(noise="gaussian", noise_level=0.0, max_iter=1)
        .fit(digits)
        .net_.module_.corruption,
        torch.nn.Identity,
    )


def test_denoised_digits_are_closer_to_clean_than_noisy_ones(digits):
    X = digits
    noisy = X + np.random.default_rng(0).normal(0, 0.3, X.shape)
    cae = small(
        n_components=16,
        channels=(16, 32),
        noise="gaussian",
        noise_level=0.3,
        max_iter=60,
    ).fit(X)
    denoised = cae.denoise(noisy)
    assert mse(denoised, X) < 0.5 * mse(noisy, X)
    assert_array_equal(denoised, cae.inverse_transform(cae.transform(noisy)))


# ---------------------------------------------------------- reproducibility


@pytest.mark.parametrize("noise", [None, "gaussian"])
def test_same_random_state_gives_bit_identical_codes(digits, noise):
    a = small(noise=noise).fit(digits).transform(digits)
    b = small(noise=noise).fit(digits).transform(digits)
    c = small(noise=noise, random_state=1).fit(digits).transform(digits)
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("random_state", [0, None])
def test_fit_leaves_global_random_state_alone(digits, random_state):
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global on purpose)
    small(noise="gaussian", random_state=random_state, early_stopping=True).fit(digits)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


# ------------------------------------------------------------------- size


def test_fewer_parameters_than_the_dense_denoiser_on_patches(patches):
    X = patches[:50]

    def n_parameters(estimator):
        fitted = estimator.set_params(max_iter=1, random_state=0).fit(X)
        return sum(p.numel() for p in fitted.net_.module_.parameters())

    n_conv = n_parameters(ConvAutoEncoder(n_components=32, noise="gaussian"))
    n_dense = n_parameters(DenoisingAutoEncoder(n_components=32))
    assert n_conv < 0.75 * n_dense


def test_a_loaded_model_keeps_its_image_shape_without_warning_again(digits, tmp_path):
    X = digits[:60, :60]  # 60 features: not a square
    with pytest.warns(UserWarning, match="image_shape='auto'"):
        cae = ConvAutoEncoder(channels=(2,), max_iter=2, random_state=0).fit(X)
    skae.save(cae, tmp_path / "cae.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = skae.load(tmp_path / "cae.safetensors")
    assert loaded.image_shape_ == cae.image_shape_ == (1, 1, 60)
    assert_array_equal(loaded.transform(X), cae.transform(X))


def test_numpy_integer_channels(digits):
    cae = small(channels=np.arange(2, 5, 2), max_iter=1).fit(digits[:50])
    assert cae.transform(digits[:3]).shape == (3, 4)
    small(channels=np.int64(3), max_iter=1).fit(digits[:50])
