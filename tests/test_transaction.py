"""A fit or partial_fit that fails leaves a fitted estimator exactly as it was."""

import numpy as np
import pandas as pd
import pytest
import torch
from estimator_settings import make, n_features, parametrize_estimators
from numpy.testing import assert_array_equal

import skae
import skae._net

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore:image_shape='auto' expects square:UserWarning",
)


def data(cls, n_samples=40, seed=0, extra=0):
    n = n_features(cls, 4) + extra
    return np.random.default_rng(seed).random((n_samples, n))


def observe(estimator, X, tmp_path):
    """Everything a user sees of a fitted estimator."""
    path = tmp_path / f"model{len(list(tmp_path.iterdir()))}.safetensors"
    skae.save(estimator, path)
    return {
        "transform": estimator.transform(X),
        # An imputer has no scores: it returns completed data.
        "scores": (
            estimator.score_samples(X) if hasattr(estimator, "score_samples") else None
        ),
        "names": estimator.get_feature_names_out(),
        "file": path.read_bytes(),
    }


def assert_unchanged(estimator, X, before, tmp_path):
    after = observe(estimator, X, tmp_path)
    assert_array_equal(after["transform"], before["transform"])
    assert_array_equal(after["scores"], before["scores"])
    assert_array_equal(after["names"], before["names"])
    assert after["file"] == before["file"]


def _other_width_one_row(estimator, X):
    extra = np.ones((1, X.shape[1] + 2))
    estimator.set_params(early_stopping=True).fit(extra)


def _beyond_float32(estimator, X):
    estimator.fit(np.hstack([X, X]) * 1e39)


def _diverging_refit(estimator, X):
    wider = estimator.n_components + 1
    estimator.set_params(n_components=wider, learning_rate_init=1e38).fit(X * 1e20)


def _diverging_partial_fit(estimator, X):
    estimator.set_params(learning_rate_init=1e38).partial_fit(X * 1e20)


def _diverging_warm_start(estimator, X):
    estimator.set_params(learning_rate_init=1e38, warm_start=True).fit(X * 1e20)


def _unavailable_device(estimator, X):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    estimator.set_params(device="cuda").fit(X)


def _interrupt_in_first_epoch(estimator, X):
    def train_step(self, batch, **fit_params):
        raise KeyboardInterrupt

    original = skae._net.AutoEncoderNet.train_step
    skae._net.AutoEncoderNet.train_step = train_step
    try:
        estimator.fit(X)
    finally:
        skae._net.AutoEncoderNet.train_step = original


FAILURES = {
    "early_stopping_one_row": (_other_width_one_row, ValueError),
    "beyond_float32": (_beyond_float32, ValueError),
    "diverging_refit": (_diverging_refit, ValueError),
    "diverging_partial_fit": (_diverging_partial_fit, ValueError),
    "diverging_warm_start": (_diverging_warm_start, ValueError),
    "unavailable_device": (_unavailable_device, ValueError),
    "interrupt_in_first_epoch": (_interrupt_in_first_epoch, KeyboardInterrupt),
}


@parametrize_estimators
@pytest.mark.parametrize("failure", list(FAILURES))
def test_failed_call_leaves_a_fitted_estimator_as_it_was(cls, failure, tmp_path):
    X = data(cls)
    estimator = make(cls).fit(X)
    params = estimator.get_params()
    before = observe(estimator, X, tmp_path)
    fail, error = FAILURES[failure]
    with pytest.raises(error):
        fail(estimator, X)
    estimator.set_params(**params)
    assert_unchanged(estimator, X, before, tmp_path)
    # And it trains on as it would have.
    twin = make(cls).fit(X)
    assert_array_equal(
        estimator.partial_fit(X).transform(X), twin.partial_fit(X).transform(X)
    )


@parametrize_estimators
def test_failed_refit_with_other_column_names_keeps_the_old_names(cls, tmp_path):
    X = data(cls)
    columns = [f"pixel{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    estimator = make(cls).fit(frame)
    before = observe(estimator, frame, tmp_path)
    other = pd.DataFrame(X * 1e39, columns=[f"other{i}" for i in range(X.shape[1])])
    with pytest.raises(ValueError, match="float32"):
        estimator.fit(other)
    assert_array_equal(estimator.feature_names_in_, columns)
    assert_unchanged(estimator, frame, before, tmp_path)


def test_failed_conv_fit_with_another_image_shape(tmp_path):
    X = data(skae.ConvAutoEncoder, extra=48)  # 64 features: 8 x 8 or 4 x 16
    estimator = make(skae.ConvAutoEncoder, image_shape=(8, 8)).fit(X)
    params = estimator.get_params()
    before = observe(estimator, X, tmp_path)
    with pytest.raises(ValueError, match="diverged"):
        estimator.set_params(image_shape=(4, 16), learning_rate_init=1e38).fit(X * 1e20)
    assert estimator.image_shape_ == (1, 8, 8)
    estimator.set_params(**params)
    assert_unchanged(estimator, X, before, tmp_path)
    restored = skae.load(tmp_path / "model0.safetensors")
    assert_array_equal(restored.transform(X), before["transform"])


@parametrize_estimators
def test_failed_first_fit_leaves_the_estimator_unfitted(cls):
    estimator = make(cls, learning_rate_init=1e38)
    with pytest.raises(ValueError, match="diverged.*left as it was"):
        estimator.fit(data(cls) * 1e20)
    assert vars(estimator).keys() == make(cls).__dict__.keys()


@parametrize_estimators
def test_after_a_failed_refit_the_old_network_refuses_the_new_parameters(cls, tmp_path):
    # The failed refit must not record n_components + 1 as what the kept
    # network was built with: partial_fit and save would then accept it.
    X = data(cls)
    estimator = make(cls).fit(X)
    with pytest.raises(ValueError, match="diverged"):
        _diverging_refit(estimator, X)
    estimator.set_params(learning_rate_init=make(cls).learning_rate_init)
    with pytest.raises(ValueError, match="n_components was changed"):
        estimator.partial_fit(X)
    with pytest.raises(ValueError, match="n_components was changed"):
        skae.save(estimator, tmp_path / "model.safetensors")
