"""The input contract of every encoder, fuzzed with hypothesis.

Imputers take NaN and return completed data: tests/test_imputer.py holds
their contract.

Good input (any numeric dtype, any shape with at least one sample and one
feature, constant columns, tiny or large values) trains and gives finite
output; input so large that training overflows gets the divergence error.
Bad input (NaN/inf, empty, non-numeric, complex, sparse, mismatched features
or names) gets a ValueError or TypeError whose message says what is wrong,
never an error from inside torch.

Example counts are bounded and the examples derandomized, so the file is fast
and gives the same result at every run.
"""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from estimator_settings import (
    ENCODER_CLASSES,
    make,
    n_features,
    parametrize_encoders,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose

import skae._base.inference

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FUZZ = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Magnitudes whose outputs must stay finite at transform (beyond ~1e38,
# float32 outputs can legitimately overflow).
GOOD_DTYPES = [
    np.bool_,
    np.int8,
    np.int32,
    np.int64,
    np.uint8,
    np.float16,
    np.float32,
    np.float64,
]


def features(cls, draw_or_default=4):
    return n_features(cls, draw_or_default)


_FITTED = {}


def fitted(cls):
    """One small fitted model per class, shared by the transform-side tests."""
    if cls not in _FITTED:
        X = np.random.default_rng(0).random((30, features(cls, 4)))
        _FITTED[cls] = (make(cls, max_iter=2).fit(X), X)
    return _FITTED[cls]


def not_from_torch(exc):
    """The error was raised for the user, not leaked from torch internals."""
    return isinstance(exc, (ValueError, TypeError)) and not any(
        type(e).__module__.startswith("torch") for e in (exc, exc.__cause__) if e
    )


def assert_finite_outputs(estimator, X):
    codes = estimator.transform(X)
    assert codes.shape == (len(X), estimator.n_components)
    assert np.isfinite(codes).all()
    expected = np.float32 if np.asarray(X).dtype == np.float32 else np.float64
    assert codes.dtype == expected
    assert np.isfinite(estimator.inverse_transform(codes)).all()
    assert np.isfinite(estimator.score_samples(X)).all()


@st.composite
def good_arrays(draw, cls, dtypes=GOOD_DTYPES):
    n_samples = draw(st.integers(1, 12))
    n_cols = n_features(cls, draw(st.integers(1, 4)))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    if dtype.kind == "f":
        bound = 1e3 if dtype == np.float16 else 1e6
        elements = st.floats(-bound, bound, width=dtype.itemsize * 8)
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(info.min, -1000), min(info.max, 1000))
    X = draw(hnp.arrays(dtype, (n_samples, n_cols), elements=elements))
    if draw(st.booleans()):
        X[:, draw(st.integers(0, n_cols - 1))] = X[0, 0]  # a constant column
    return X


# ------------------------------------------------------------- good input


def test_every_public_estimator_is_fuzzed():
    assert {c.__name__ for c in ENCODER_CLASSES} >= {
        "AutoEncoder",
        "DenoisingAutoEncoder",
        "SparseAutoEncoder",
    }


@parametrize_encoders
@FUZZ
@given(data=st.data())
def test_good_input_of_any_dtype_and_shape_gives_finite_output(cls, data):
    X = data.draw(good_arrays(cls))
    estimator = make(cls, max_iter=2).fit(X)
    assert estimator.n_features_in_ == X.shape[1]
    assert_finite_outputs(estimator, X)


@parametrize_encoders
@FUZZ
@given(data=st.data())
def test_object_arrays_of_numbers_are_numeric_input(cls, data):
    X = data.draw(good_arrays(cls, dtypes=[np.float64, np.int64])).astype(object)
    estimator = make(cls, max_iter=2).fit(X)
    assert_finite_outputs(estimator, X)


@parametrize_encoders
@FUZZ
@given(
    exponent=st.integers(-300, 300),
    float32=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_magnitude_trains_or_reports_a_clear_error(cls, exponent, float32, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (10, features(cls, 3))) * 10.0**exponent
    if float32:
        with np.errstate(over="ignore", under="ignore"):
            X = X.astype(np.float32)
        if not np.isfinite(X).all():
            return  # not representable: the NaN/inf tests cover that
    try:
        estimator = make(cls, max_iter=2).fit(X)
    except ValueError as exc:
        # Huge values overflow the float32 loss; that is the one allowed
        # failure, and it must say so.
        assert exponent >= 15, exc
        assert "diverged at epoch" in str(exc) or "trains in float32" in str(exc)
        return
    assert np.isfinite(estimator.transform(X)).all()
    assert np.isfinite(estimator.score_samples(X)).all()


@parametrize_encoders
@FUZZ
@given(exponent=st.integers(-300, 30), seed=st.integers(0, 2**16))
def test_fitted_model_transforms_tiny_and_large_values(cls, exponent, seed):
    estimator, X = fitted(cls)
    Z = np.random.default_rng(seed).uniform(-1, 1, X.shape) * 10.0**exponent
    assert np.isfinite(estimator.transform(Z)).all()
    assert np.isfinite(estimator.score_samples(Z)).all()


@pytest.mark.parametrize("cls", [skae.AutoEncoder, skae.UMAPAutoEncoder])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_below_float32s_normal_range_train_from_the_pca_start(cls, dtype):
    # Before: the PCA start's weights (1 / the scores' spread, ~1e42) overflowed
    # float32, and fit failed with "diverged ... very large feature values".
    X = (np.random.default_rng(0).random((30, 4)) * 1e-42).astype(dtype)
    estimator = make(cls, max_iter=2).fit(X)
    assert np.isfinite(estimator.transform(X)).all()


def test_transform_warns_when_values_overflow_the_network():
    # Before: NaN codes, without a word, for inputs near float64's maximum.
    estimator, X = fitted(skae.AutoEncoder)
    Z = np.full((3, X.shape[1]), 1.7e308)
    Z[0] = X[0]
    with pytest.warns(RuntimeWarning, match="non-finite values for 2 of 3 rows"):
        codes = estimator.transform(Z)
    assert np.isfinite(codes[0]).all()


@parametrize_encoders
def test_one_sample_and_one_feature(cls):
    one_sample = np.arange(features(cls, 4), dtype=float)[None, :]
    assert_finite_outputs(make(cls, max_iter=2).fit(one_sample), one_sample)
    if features(cls, 1) == 1:
        one_feature = np.linspace(0, 1, 12)[:, None]
        assert_finite_outputs(make(cls, max_iter=2).fit(one_feature), one_feature)
    constant = np.ones((8, features(cls, 3)))
    assert_finite_outputs(make(cls, max_iter=2).fit(constant), constant)


# -------------------------------------------------------------- bad input


@parametrize_encoders
@FUZZ
@given(data=st.data())
def test_nan_and_inf_anywhere_are_refused(cls, data):
    estimator, X_fit = fitted(cls)
    X = data.draw(good_arrays(cls, dtypes=[np.float32, np.float64])).copy()
    row = data.draw(st.integers(0, X.shape[0] - 1))
    col = data.draw(st.integers(0, X.shape[1] - 1))
    X[row, col] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    match = "Input X contains (NaN|infinity)"
    with pytest.raises(ValueError, match=match):
        make(cls, max_iter=2).fit(X)
    Z = np.zeros((X.shape[0], X_fit.shape[1]), dtype=X.dtype)
    Z[row, min(col, Z.shape[1] - 1)] = X[row, col]
    for method in (estimator.transform, estimator.score_samples, estimator.partial_fit):
        with pytest.raises(ValueError, match=match):
            method(Z)
    codes = np.zeros((X.shape[0], estimator.n_components))
    codes[row, min(col, codes.shape[1] - 1)] = X[row, col]
    with pytest.raises(ValueError, match=match):
        estimator.inverse_transform(codes)


BAD_INPUTS = {
    "no samples": (np.zeros((0, 4)), ValueError, "0 sample"),
    "no features": (np.zeros((5, 0)), ValueError, "0 feature"),
    "1-D": (np.zeros(4), ValueError, "Expected 2D array"),
    "3-D": (np.zeros((2, 4, 1)), ValueError, "dim 3"),
    "scalar": (np.float64(1.0), ValueError, "Expected 2D array"),
    "complex": (np.ones((5, 4), dtype=complex), ValueError, "Complex data"),
    "strings": (np.full((5, 4), "a"), ValueError, "needs numeric input"),
    "object strings": (
        np.array([[1.0, "x", 2.0, 3.0]] * 5, dtype=object),
        ValueError,
        "needs numeric input",
    ),
    "None": (np.array([[None, 1.0, 2.0, 3.0]] * 5), ValueError, "contains NaN"),
    "csr": (sp.csr_matrix(np.ones((5, 4))), TypeError, "Sparse data.*dense data"),
    "csc": (sp.csc_array(np.ones((5, 4))), TypeError, "Sparse data.*dense data"),
    "coo": (sp.coo_matrix(np.ones((5, 4))), TypeError, "Sparse data.*dense data"),
}


def _bad_input(cls, name):
    X, error, match = BAD_INPUTS[name]
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 4:
        # Keep the right width for classes with a fixed number of features.
        X = np.resize(X, (X.shape[0], features(cls, 4)))
    elif sp.issparse(X):
        X = type(X)(np.ones((5, features(cls, 4))))
    return X, error, match


@parametrize_encoders
@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_a_clear_error_everywhere(cls, name):
    X, error, match = _bad_input(cls, name)
    estimator, _ = fitted(cls)
    calls = {
        "fit": make(cls, max_iter=2).fit,
        "partial_fit": make(cls, max_iter=2).partial_fit,
        "transform": estimator.transform,
        "score_samples": estimator.score_samples,
    }
    for method, call in calls.items():
        with pytest.raises(error, match=match) as info:
            call(X)
        assert not_from_torch(info.value), method


@parametrize_encoders
@pytest.mark.parametrize("name", ["complex", "strings", "csr", "None", "1-D"])
def test_bad_codes_get_a_clear_error_at_inverse_transform(cls, name):
    X, error, match = BAD_INPUTS[name]
    estimator, _ = fitted(cls)
    if isinstance(X, np.ndarray) and X.ndim == 2:
        X = np.resize(X, (X.shape[0], estimator.n_components))
    elif sp.issparse(X):
        X = type(X)(np.ones((5, estimator.n_components)))
    with pytest.raises(error, match=match.replace("needs numeric", "numeric")):
        estimator.inverse_transform(X)


@parametrize_encoders
def test_wrong_widths_are_refused(cls):
    estimator, X = fitted(cls)
    wider = np.hstack([X, X[:, :1]])
    for method in (estimator.transform, estimator.score_samples, estimator.partial_fit):
        with pytest.raises(ValueError, match=f"has {wider.shape[1]} features"):
            method(wider)
    codes = np.zeros((3, estimator.n_components + 1))
    with pytest.raises(ValueError, match="n_components"):
        estimator.inverse_transform(codes)


@parametrize_encoders
@FUZZ
@given(data=st.data())
def test_fuzzed_junk_never_leaks_a_torch_error(cls, data):
    """Anything at all: either finite output or our ValueError/TypeError."""
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    dtype = data.draw(
        st.sampled_from(["f8", "f4", "f2", "i8", "u1", "?", "c16", "U3", "O"])
    )
    if dtype in ("U3", "O"):
        elements = st.one_of(st.text(max_size=3), st.floats(), st.none())
        X = np.array(
            data.draw(
                st.lists(elements, min_size=math.prod(shape), max_size=math.prod(shape))
            ),
            dtype=object,
        )
        X = X.reshape(shape).astype(dtype)
    else:
        X = data.draw(hnp.arrays(np.dtype(dtype), shape))
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            estimator = make(cls, max_iter=2).fit(X)
    except (ValueError, TypeError) as exc:
        assert not_from_torch(exc), repr(exc)
        return
    except Exception as exc:  # noqa: BLE001 - any other error breaks the contract
        pytest.fail(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
    assert np.isfinite(estimator.transform(X)).all()


# ------------------------------------------------------------------ pandas


@parametrize_encoders
@FUZZ
@given(data=st.data())
def test_pandas_with_mixed_dtypes_and_string_names(cls, data):
    n_cols = features(cls, data.draw(st.integers(1, 4)))
    n_rows = data.draw(st.integers(1, 8))
    kinds = data.draw(
        st.lists(
            st.sampled_from(["f8", "i8", "?", "f4", "Int64"]),
            min_size=n_cols,
            max_size=n_cols,
        )
    )
    frame = pd.DataFrame(
        {
            f"c{i}": pd.array(np.arange(n_rows) % 3, dtype=kind)
            if kind == "Int64"
            else (np.arange(n_rows) % 3).astype(kind)
            for i, kind in enumerate(kinds)
        }
    )
    estimator = make(cls, max_iter=2).fit(frame)
    assert list(estimator.feature_names_in_) == list(frame.columns)
    assert np.isfinite(estimator.transform(frame)).all()


@parametrize_encoders
def test_pandas_non_string_column_names_are_ignored_as_names(cls):
    X = np.random.default_rng(0).random((10, features(cls, 3)))
    for columns in (list(range(X.shape[1])), [(i, "x") for i in range(X.shape[1])]):
        frame = pd.DataFrame(X, columns=columns)
        estimator = make(cls, max_iter=2).fit(frame)
        assert not hasattr(estimator, "feature_names_in_")
        assert np.isfinite(estimator.transform(frame)).all()


@parametrize_encoders
def test_pandas_mixed_or_duplicated_column_names_are_refused(cls):
    X = np.random.default_rng(0).random((10, max(2, features(cls, 3))))
    mixed = pd.DataFrame(X, columns=["a", *range(1, X.shape[1])])
    with pytest.raises(TypeError, match="all input features have string names"):
        make(cls, max_iter=2).fit(mixed)
    duplicated = pd.DataFrame(X, columns=["a"] * X.shape[1])
    with pytest.raises(ValueError, match=r"unique column names.*\['a'\]"):
        make(cls, max_iter=2).fit(duplicated)
    fitted_model = make(cls, max_iter=2).fit(
        pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    )
    with pytest.raises(ValueError, match="unique column names"):
        fitted_model.transform(duplicated)


@parametrize_encoders
def test_pandas_non_numeric_columns_are_refused(cls):
    n_cols = features(cls, 3)
    frame = pd.DataFrame(np.ones((4, n_cols)), columns=[f"c{i}" for i in range(n_cols)])
    frame["c0"] = ["x", "y", "z", "w"]
    with pytest.raises(ValueError, match="needs numeric input.*OneHotEncoder"):
        make(cls, max_iter=2).fit(frame)
    frame["c0"] = pd.Categorical(["x", "y", "z", "w"])
    with pytest.raises(ValueError, match="needs numeric input"):
        make(cls, max_iter=2).fit(frame)


@parametrize_encoders
def test_wrong_feature_names_at_transform(cls):
    X = np.random.default_rng(0).random((10, max(2, features(cls, 3))))
    names = [f"c{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    estimator = make(cls, max_iter=2).fit(frame)

    renamed = frame.rename(columns={"c0": "other"})
    with pytest.raises(ValueError, match="feature names should match"):
        estimator.transform(renamed)
    with pytest.raises(ValueError, match="feature names should match"):
        estimator.score_samples(renamed)
    reordered = frame[names[::-1]]
    with pytest.raises(ValueError, match="same order"):
        estimator.transform(reordered)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        estimator.transform(X)
    unnamed = make(cls, max_iter=2).fit(X)
    with pytest.warns(UserWarning, match="fitted without feature names"):
        unnamed.transform(frame)


# ---------------------------------------------------------------- batching


def _patch_batch_size(monkeypatch, size):
    # Read at call time, from this one module.
    monkeypatch.setattr(skae._base.inference, "INFERENCE_BATCH_SIZE", size)


def _record_rows(estimator):
    """Record the leading size of every tensor entering a module of the net."""
    rows = []

    def hook(module, args):
        if args and hasattr(args[0], "shape") and args[0].dim() > 0:
            rows.append(args[0].shape[0])

    for module in estimator.net_.module_.modules():
        module.register_forward_pre_hook(hook)
    return rows


@parametrize_encoders
def test_inference_runs_in_bounded_batches(cls, monkeypatch):
    X = np.random.default_rng(0).random((11, features(cls, 4)))
    estimator = make(cls, max_iter=2).fit(X)
    codes = estimator.transform(X)
    reference = {
        "transform": codes,
        "inverse_transform": estimator.inverse_transform(codes),
        "score_samples": estimator.score_samples(X),
    }
    calls = {
        "transform": lambda: estimator.transform(X),
        "inverse_transform": lambda: estimator.inverse_transform(codes),
        "score_samples": lambda: estimator.score_samples(X),
    }
    if hasattr(estimator, "sample"):
        reference["sample"] = estimator.sample(11, random_state=0)
        calls["sample"] = lambda: estimator.sample(11, random_state=0)

    _patch_batch_size(monkeypatch, 3)
    rows = _record_rows(estimator)
    for method, call in calls.items():
        rows.clear()
        out = call()
        assert rows, method
        assert max(rows) <= 3, (method, rows)
        # 11 rows in batches of 3 end with a batch of 2.
        assert {2, 3} <= set(rows), (method, rows)
        assert_allclose(out, reference[method], rtol=1e-12, atol=1e-12, err_msg=method)
