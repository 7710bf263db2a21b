import subprocess
import sys

import numpy as np
import pytest
from estimator_settings import ENCODER_CLASSES, make, n_features
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skae

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
skl2onnx = pytest.importorskip("skl2onnx")

# Each to_onnx call runs torch's exporter (a few seconds): one export per test.


def run(onx, X):
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"X": X})


def data(n_samples, n_columns, seed=0):
    return np.random.default_rng(seed).random((n_samples, n_columns), np.float32)


@pytest.mark.parametrize("cls", ENCODER_CLASSES, ids=lambda cls: cls.__name__)
def test_graph_matches_transform_for_any_number_of_rows(cls):
    X = data(10_000, n_features(cls, 6))
    est = make(cls).fit(X[:200])
    onx = skae.to_onnx(est, X[:1])
    for rows in (X[:1], X):
        (codes,) = run(onx, rows)
        assert codes.dtype == np.float32
        assert_allclose(codes, est.transform(rows), rtol=1e-5, atol=1e-5)


def test_pipeline_labels_and_probabilities_match():
    digits = load_digits()
    X, y = digits.data.astype(np.float32), digits.target
    pipe = make_pipeline(
        StandardScaler(),
        skae.AutoEncoder(n_components=8, max_iter=5, random_state=0),
        LogisticRegression(max_iter=200),
    ).fit(X[:500], y[:500])
    labels, probabilities = run(skae.to_onnx(pipe, X[:1]), X)
    assert_array_equal(labels, pipe.predict(X))
    assert_allclose(probabilities, pipe.predict_proba(X), atol=1e-5)


def test_skl2onnx_converts_pipelines_once_skae_onnx_is_imported():
    import skae.onnx  # noqa: F401  (registers the converters)

    X = data(100, 6)
    union = FeatureUnion(
        [
            ("ae", skae.AutoEncoder(n_components=2, max_iter=3, random_state=0)),
            ("scaled", StandardScaler()),
        ]
    )
    model = ColumnTransformer([("union", union, [0, 1, 2, 3])]).fit(X)
    onx = skl2onnx.to_onnx(model, X[:1])
    (out,) = run(onx, X)
    assert_allclose(out, model.transform(X), rtol=1e-5, atol=1e-5)


def test_float64_input_is_cast_at_the_entry():
    X = data(200, 6).astype(np.float64)
    est = skae.AutoEncoder(n_components=2, max_iter=3, random_state=0).fit(X)
    (codes,) = run(skae.to_onnx(est, X[:1]), X)
    assert codes.dtype == np.float64
    # The graph computes in float32: the documented tolerance.
    assert_allclose(codes, est.transform(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverse_transform_graph_matches_inverse_transform(dtype):
    X = data(200, 6).astype(dtype)
    est = skae.VariationalAutoEncoder(n_components=2, max_iter=3, random_state=0)
    codes = est.fit(X).transform(X)
    (decoded,) = run(skae.to_onnx(est, codes[:1], method="inverse_transform"), codes)
    assert decoded.dtype == dtype
    assert_allclose(decoded, est.inverse_transform(codes), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "model",
    [
        skae.AutoEncoder(),
        make_pipeline(StandardScaler(), skae.ConvAutoEncoder()),
    ],
    ids=["estimator", "pipeline"],
)
def test_unfitted_model_raises(model):
    with pytest.raises(NotFittedError, match="not fitted yet.*Call fit"):
        skae.to_onnx(model, data(2, 16))


def test_unfitted_skae_step_of_a_fitted_union_raises():
    union = FeatureUnion([("scaled", StandardScaler())]).fit(data(10, 4))
    union.transformer_list.append(("ae", skae.AutoEncoder()))
    with pytest.raises(NotFittedError, match="AutoEncoder is not fitted yet"):
        skae.to_onnx(union, data(2, 4))


class NewAutoEncoder(skae.AutoEncoder):
    """A skae estimator whose transform nobody checked against its export."""


@pytest.mark.filterwarnings("ignore:Dropping the features with no observed value")
@pytest.mark.parametrize(
    "params",
    [{}, {"add_indicator": True, "keep_empty_features": True}],
    ids=["default", "indicator-and-empty"],
)
def test_imputer_graph_matches_transform(params):
    # Before: NotImplementedError, though skl2onnx exports SimpleImputer and
    # KNNImputer in the same pipeline.
    X = data(60, 6)
    X[::3, 1] = np.nan
    X[:, 4] = np.nan  # no observed value: dropped, or kept as 0
    est = make(skae.AutoEncoderImputer, **params).fit(X)
    (got,) = run(skae.to_onnx(est, X[:2]), X)
    assert got.shape == est.transform(X).shape
    assert_allclose(got, est.transform(X), atol=1e-5)


def test_imputer_with_a_numeric_marker_in_a_pipeline():
    X = data(60, 5)
    X[::4, 0] = -1.0
    pipe = make_pipeline(
        make(skae.AutoEncoderImputer, missing_values=-1.0), StandardScaler()
    ).fit(X)
    (got,) = run(skae.to_onnx(pipe, X[:2]), X)
    assert_allclose(got, pipe.transform(X), atol=1e-4)


def test_imputer_has_no_inverse_transform_graph():
    X = data(30, 4)
    est = make(skae.AutoEncoderImputer).fit(X)
    with pytest.raises(ValueError, match="AutoEncoderImputer has no inverse_transform"):
        skae.to_onnx(est, data(2, 2), method="inverse_transform")


def test_fitted_column_transformer_exports_its_fitted_copies():
    # Before: NotFittedError, from the unfitted templates of get_params.
    X = data(60, 6)
    ct = ColumnTransformer(
        [
            ("ae", make(skae.AutoEncoder), [0, 1, 2, 3]),
            ("scaled", StandardScaler(), [4, 5]),
        ]
    ).fit(X)
    (got,) = run(skae.to_onnx(ct, X[:2]), X)
    assert_allclose(got, ct.transform(X), atol=1e-5)


def test_unfitted_column_transformer_says_its_skae_step_is_not_fitted():
    ct = ColumnTransformer([("ae", skae.AutoEncoder(), [0, 1])])
    with pytest.raises(NotFittedError, match="AutoEncoder is not fitted yet"):
        skae.to_onnx(ct, data(2, 2))


def test_fitted_search_exports_its_best_estimator():
    X = data(60, 6)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), make(skae.AutoEncoder)),
        {"autoencoder__n_components": [2, 3]},
        cv=2,
    ).fit(X)
    (got,) = run(skae.to_onnx(search, X[:2]), X)
    assert_allclose(got, search.transform(X), atol=1e-5)


def test_search_without_refit_has_nothing_to_export():
    X = data(40, 4)
    search = GridSearchCV(
        make(skae.AutoEncoder), {"n_components": [2, 3]}, cv=2, refit=False
    ).fit(X)
    with pytest.raises(TypeError, match="refit=False"):
        skae.to_onnx(search, X[:2])


def test_estimator_not_known_to_export_raises():
    est = NewAutoEncoder(max_iter=2, random_state=0).fit(data(20, 6))
    with pytest.raises(TypeError, match="export of NewAutoEncoder is not"):
        skae.to_onnx(est, data(2, 6))


class Unconvertible(StandardScaler):
    """A transformer skl2onnx has no converter for."""


def test_step_whose_converter_refuses_it_raises_type_error():
    # Before: skl2onnx's RuntimeError, where the docstring promises TypeError.
    X = data(50, 4)
    pipe = make_pipeline(
        FunctionTransformer(np.log1p), skae.AutoEncoder(max_iter=2, random_state=0)
    ).fit(X)
    with pytest.raises(TypeError, match="FunctionTransformer is not supported"):
        skae.to_onnx(pipe, X[:1])


def test_step_without_converter_raises_naming_it():
    X = data(50, 4)
    pipe = make_pipeline(
        Unconvertible(), skae.AutoEncoder(max_iter=2, random_state=0)
    ).fit(X)
    with pytest.raises(TypeError, match="Unconvertible.*Register a converter"):
        skae.to_onnx(pipe, X[:1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target_opset": 17}, "opset 18 or later"),
        ({"method": "predict"}, "method must be one of"),
        ({"X_sample": np.zeros((2, 6), dtype=np.int64)}, "float32 or float64"),
        ({"X_sample": np.zeros((2, 5), dtype=np.float32)}, "5 columns.*6"),
    ],
)
def test_invalid_arguments_raise(kwargs, message):
    est = skae.AutoEncoder(max_iter=2, random_state=0).fit(data(20, 6))
    kwargs = {"X_sample": data(2, 6), **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        skae.to_onnx(est, **kwargs)


def test_inverse_transform_needs_a_skae_estimator():
    pipe = make_pipeline(skae.AutoEncoder(max_iter=2, random_state=0)).fit(data(20, 6))
    with pytest.raises(ValueError, match="for a skae estimator only"):
        skae.to_onnx(pipe, data(2, 2), method="inverse_transform")


def test_import_skae_imports_no_onnx_package():
    code = (
        "import sys, skae; "
        "print(sorted({m.partition('.')[0] for m in sys.modules} & "
        "{'onnx', 'onnxruntime', 'onnxscript', 'skl2onnx'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_user_guide_names_every_exported_estimator():
    # Before: onnx.rst listed five, leaving out UMAPAutoEncoder and the imputer.
    from pathlib import Path

    from skae._onnx.converters import EXPORTED

    guide = Path(__file__).parents[1] / "docs" / "user_guide" / "onnx.rst"
    text = guide.read_text()
    assert all(f"`~skae.{name}`" in text for name in EXPORTED)
