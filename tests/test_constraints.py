"""Booleans are not counts: every integer parameter refuses True and False."""

import numpy as np
import pytest
import torch
from estimator_settings import make, n_features
from sklearn.utils._param_validation import InvalidParameterError

import skae
from skae._base.constraints import same_param

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X = np.random.default_rng(0).random((20, 4))


@pytest.mark.parametrize(
    "cls, name",
    [
        (skae.AutoEncoder, "n_components"),
        (skae.AutoEncoder, "hidden_layer_sizes"),
        (skae.AutoEncoder, "max_iter"),
        (skae.AutoEncoder, "batch_size"),
        (skae.AutoEncoder, "n_iter_no_change"),
        (skae.AutoEncoder, "n_threads"),
        (skae.SparseAutoEncoder, "n_active"),
        (skae.VariationalAutoEncoder, "warmup_epochs"),
        (skae.VariationalAutoEncoder, "n_importance_samples"),
        (skae.ConvAutoEncoder, "kernel_size"),
        (skae.ConvAutoEncoder, "channels"),
    ],
)
@pytest.mark.parametrize("flag", [True, np.True_])
def test_boolean_is_not_a_count(cls, name, flag):
    estimator = make(cls, **{name: flag})
    with pytest.raises(
        InvalidParameterError, match=rf"'{name}' parameter.*Got (np\.)?True"
    ):
        estimator.fit(np.random.default_rng(0).random((20, n_features(cls, 4))))


@pytest.mark.parametrize(
    "cls, name, value",
    [
        (skae.AutoEncoder, "hidden_layer_sizes", [True, 3]),
        (skae.ConvAutoEncoder, "channels", (2, False)),
    ],
)
def test_boolean_in_a_list_of_widths_is_refused(cls, name, value):
    estimator = make(cls, **{name: value})
    with pytest.raises(InvalidParameterError, match=f"{name} must be a positive"):
        estimator.fit(np.random.default_rng(0).random((20, n_features(cls, 4))))


def test_boolean_image_shape_is_refused():
    estimator = make(skae.ConvAutoEncoder, image_shape=(True, 16))
    with pytest.raises(InvalidParameterError, match="image_shape must be"):
        estimator.fit(np.random.default_rng(0).random((20, 16)))


@pytest.mark.parametrize("n_samples", [True, np.True_])
def test_sample_refuses_a_boolean_count(n_samples):
    vae = make(skae.VariationalAutoEncoder).fit(X)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        vae.sample(n_samples)


def test_tiny_fixed_noise_variance_is_refused_by_name():
    vae = make(skae.VariationalAutoEncoder, noise_variance=1e-50)
    with pytest.raises(
        InvalidParameterError, match=r"'noise_variance'.*\[1e-30, inf\).*1e-50"
    ):
        vae.fit(X)
    make(skae.VariationalAutoEncoder, noise_variance=1e-30).fit(X)


@pytest.mark.parametrize(
    "name, value, built, same",
    [
        ("hidden_layer_sizes", [8], (8,), True),
        ("hidden_layer_sizes", (8, 4), [8, 4], True),
        ("hidden_layer_sizes", [8], (8, 8), False),
        ("image_shape", np.array([8, 8]), (8, 8), True),
        ("device", "cpu", "cpu", True),
        ("device", "cpu", "meta", False),
        ("n_components", 2, 3, False),
    ],
)
def test_same_param(name, value, built, same):
    assert same_param(name, value, built) is same


@pytest.mark.skipif(torch.cuda.is_available(), reason="'auto' resolves to the GPU")
def test_auto_is_the_cpu_it_resolved_to():
    assert same_param("device", "auto", "cpu")
    assert same_param("device", torch.device("cpu"), "auto")


def test_more_threads_than_torch_can_start_are_refused_before_fitting():
    estimator = make(skae.AutoEncoder, n_threads=2**31)
    with pytest.raises(InvalidParameterError, match="'n_threads' parameter.*1024"):
        estimator.fit(X)
    assert not hasattr(estimator, "net_")
