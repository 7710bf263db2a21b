import io
import json
import os
import pickle
import stat
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from estimator_settings import (
    ESTIMATOR_CLASSES,
    SETTINGS,
    make,
    n_features,
    parametrize_estimators,
)
from numpy.testing import assert_array_equal
from safetensors.torch import save_file
from saved_files import read, rewrite
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.validation import check_is_fitted

import skae
from skae._io.save_load import FORMAT_VERSION

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def data(cls, n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n_samples, n_features(cls, 5)))


def fitted(cls, **params):
    return make(cls, **params).fit(data(cls))


def fitted_state(estimator):
    return {k: v for k, v in vars(estimator).items() if k != "net_"}


def assert_same_state(a, b):
    assert_same_values(fitted_state(a), fitted_state(b))


def assert_same_values(state_a, state_b):
    assert state_a.keys() == state_b.keys()
    for key, value in state_a.items():
        if isinstance(value, dict) and not key.startswith("_built"):
            # A dict of arrays (the latent density).
            assert isinstance(state_b[key], dict), key
            assert_same_values(value, state_b[key])
        elif isinstance(value, np.ndarray) or (
            isinstance(value, tuple) and value and isinstance(value[0], np.ndarray)
        ):
            assert_array_equal(np.asarray(state_b[key]), np.asarray(value), key)
        else:
            # In lists, identity counts as equality: np.nan (an imputer's
            # missing_values, loaded back as np.nan) equals itself.
            assert [state_b[key]] == [value], key


def test_every_public_estimator_has_small_settings():
    assert ESTIMATOR_CLASSES, "no estimator class found in skae.__all__"
    missing = [c.__name__ for c in ESTIMATOR_CLASSES if c.__name__ not in SETTINGS]
    assert not missing, (
        f"add settings for {missing} to SETTINGS in tests/estimator_settings.py"
    )


# ------------------------------------------------------------- round trip


@parametrize_estimators
def test_round_trip_is_bit_identical(cls, tmp_path):
    X = data(cls)
    estimator = fitted(cls)
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    restored = skae.load(path)

    assert type(restored) is cls
    assert restored.get_params() == estimator.get_params()
    assert_same_state(restored, estimator)
    assert restored.device_ == torch.device("cpu")
    codes = estimator.transform(X)
    assert_array_equal(restored.transform(X), codes)
    if hasattr(estimator, "inverse_transform"):  # not imputers
        assert_array_equal(
            restored.inverse_transform(codes), estimator.inverse_transform(codes)
        )
        assert_array_equal(restored.score_samples(X), estimator.score_samples(X))
    X32 = X.astype(np.float32)
    assert_array_equal(restored.transform(X32), estimator.transform(X32))


@parametrize_estimators
def test_training_continues_after_load_as_after_unpickling(cls, tmp_path):
    X = data(cls)
    estimator = fitted(cls)
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    restored = skae.load(path)
    unpickled = pickle.loads(pickle.dumps(estimator))

    for model in (restored, unpickled):
        model.partial_fit(X)
        model.set_params(warm_start=True, max_iter=2).fit(X)
    assert restored.n_iter_ == unpickled.n_iter_ == 3 + 1 + 2
    assert restored.loss_curve_ == unpickled.loss_curve_
    assert_array_equal(restored.transform(X), unpickled.transform(X))


def test_early_stopping_state_and_feature_names_survive(tmp_path):
    X = pd.DataFrame(data(skae.AutoEncoder), columns=list("abcde"))
    estimator = fitted(skae.AutoEncoder, early_stopping=True).fit(X)
    estimator.set_output(transform="pandas")
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    restored = skae.load(path)

    assert_array_equal(restored.feature_names_in_, list("abcde"))
    assert restored.validation_scores_ == estimator.validation_scores_
    out = restored.transform(X)
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_frame_equal(out, estimator.transform(X))
    with pytest.raises(ValueError, match="feature names should match"):
        restored.transform(X.rename(columns={"a": "z"}))


@parametrize_estimators
def test_unfitted_estimator_round_trips_unfitted(cls, tmp_path):
    estimator = make(cls, random_state=7)
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    restored = skae.load(path)
    # Exact equality: tuple parameters come back as tuples, not lists.
    params = estimator.get_params()
    assert any(isinstance(value, tuple) for value in params.values())
    assert restored.get_params() == params
    with pytest.raises(NotFittedError):
        check_is_fitted(restored)


def test_load_uses_no_pickle_and_no_torch_load(tmp_path, monkeypatch):
    X = data(skae.AutoEncoder)
    estimator = fitted(skae.AutoEncoder)
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)

    def forbidden(*args, **kwargs):
        raise AssertionError("skae.load must not unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    restored = skae.load(path)
    assert_array_equal(restored.transform(X), estimator.transform(X))


def test_file_is_safetensors_with_a_json_header(tmp_path):
    estimator = fitted(skae.AutoEncoder)
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    header, tensors = read(path)
    assert header["format"] == "skae"
    assert header["format_version"] == FORMAT_VERSION
    assert header["class"] == "AutoEncoder"
    assert header["params"]["__dict__"]["n_components"] == 2
    assert header["attributes"]["__dict__"]["n_iter_"] == 3
    for name, weight in estimator.net_.module_.state_dict().items():
        assert_array_equal(tensors[f"module.{name}"].numpy(), weight.numpy())
    # Only the written file, no temporary left behind.
    assert os.listdir(tmp_path) == ["model.safetensors"]


# ------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "name", ["PCA", "os.system", "BaseAutoEncoder", "load", "__class__", None]
)
def test_load_refuses_classes_outside_skae(tmp_path, name):
    path = tmp_path / "model.safetensors"
    skae.save(fitted(skae.AutoEncoder), path)
    header, tensors = read(path)
    header["class"] = name
    rewrite(path, header, tensors)
    with pytest.raises(ValueError, match="not an estimator exported by skae"):
        skae.load(path)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, None])
def test_load_refuses_other_format_versions(tmp_path, version):
    path = tmp_path / "model.safetensors"
    skae.save(fitted(skae.AutoEncoder), path)
    header, tensors = read(path)
    header["format_version"] = version
    rewrite(path, header, tensors)
    with pytest.raises(ValueError, match=f"format version {version!r}.*reads format"):
        skae.load(path)


def test_load_refuses_files_not_written_by_skae(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, plain)
    with pytest.raises(ValueError, match="not one written by skae.save"):
        skae.load(plain)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(ValueError, match="not a safetensors file"):
        skae.load(garbage)
    other = tmp_path / "other.safetensors"
    save_file({}, other, metadata={"skae": json.dumps({"format": "pickle"})})
    with pytest.raises(ValueError, match="not written by skae.save"):
        skae.load(other)


@pytest.mark.parametrize("name", ["transform", "__dict__", "n_components", "net_"])
def test_load_refuses_attributes_that_are_not_fitted_state(tmp_path, name):
    path = tmp_path / "model.safetensors"
    skae.save(fitted(skae.AutoEncoder), path)
    header, tensors = read(path)
    header["attributes"]["__dict__"][name] = 1
    rewrite(path, header, tensors)
    with pytest.raises(ValueError, match=f"sets '{name}'.*refusing"):
        skae.load(path)


@pytest.mark.parametrize(
    "edit_built_with, message",
    [
        (False, r"params.hidden_layer_sizes is \(9,\), but the network in the file "),
        (True, r"module\.encoder\.\S+ has shape \(\d+, 5\) in the file, but the"),
    ],
)
def test_load_refuses_weights_of_another_architecture(
    tmp_path, edit_built_with, message
):
    path = tmp_path / "model.safetensors"
    skae.save(fitted(skae.AutoEncoder), path)
    header, tensors = read(path)
    header["params"]["__dict__"]["hidden_layer_sizes"] = {"__tuple__": [9]}
    if edit_built_with:
        built = header["attributes"]["__dict__"]["_built_with"]["__dict__"]
        built["hidden_layer_sizes"] = {"__tuple__": [9]}
    rewrite(path, header, tensors)
    with pytest.raises(ValueError, match=f"Cannot load .*model.safetensors.*{message}"):
        skae.load(path)


@parametrize_estimators
def test_save_refuses_parameters_changed_since_fit(cls, tmp_path):
    path = tmp_path / "model.safetensors"
    estimator = fitted(cls)
    estimator.set_params(n_components=estimator.n_components + 1)
    with pytest.raises(ValueError, match="n_components was changed from .* skae.save"):
        skae.save(estimator, path)
    assert not path.exists()
    # Training settings may change: the file still describes the network.
    estimator.set_params(n_components=estimator.n_components - 1, tol=0.5)
    skae.save(estimator, path)
    assert skae.load(path).tol == 0.5


def test_saved_file_has_the_permissions_of_any_new_file(tmp_path):
    path = tmp_path / "model.safetensors"
    umask = os.umask(0o022)
    try:
        skae.save(fitted(skae.AutoEncoder), path)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_save_refuses_objects_outside_skae(tmp_path):
    path = tmp_path / "model.safetensors"
    with pytest.raises(TypeError, match="estimators exported by skae.*PCA"):
        skae.save(PCA(), path)
    assert not path.exists()


def test_failed_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "model.safetensors"
    estimator = fitted(skae.AutoEncoder)
    skae.save(estimator, path)
    before = path.read_bytes()
    estimator.extra_ = object()
    with pytest.raises(TypeError, match="cannot store the attribute 'extra_'"):
        skae.save(estimator, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_random_state_instance_is_saved_as_none_with_a_warning(tmp_path):
    path = tmp_path / "model.safetensors"
    estimator = fitted(skae.AutoEncoder, random_state=np.random.RandomState(0))
    with pytest.warns(UserWarning, match="cannot be saved; it is stored as None"):
        skae.save(estimator, path)
    assert skae.load(path).random_state is None


# ---------------------------------------------------------------- devices


def test_model_saved_on_a_gpu_lands_on_the_cpu(tmp_path):
    X = data(skae.AutoEncoder)
    estimator = fitted(skae.AutoEncoder, device="cpu")
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    # Rewrite the file as a CUDA machine writes it.
    header, tensors = read(path)
    header["params"]["__dict__"]["device"] = "cuda"
    header["attributes"]["__dict__"]["_built_with"]["__dict__"]["device"] = "cuda"
    header["net"]["device_type"] = "cuda"
    header["net"]["generators"] = {"shuffle": "cuda"}
    rewrite(path, header, tensors)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restored = skae.load(path)
    assert restored.device == "cuda"  # the parameter is kept as saved
    assert restored.device_ == torch.device("cpu")
    assert_array_equal(restored.transform(X), estimator.transform(X))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda' was requested"):
            skae.load(path, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@parametrize_estimators
def test_gpu_trained_model_saves_and_loads_on_cpu_and_gpu(cls, tmp_path):
    X = data(cls)
    estimator = fitted(cls, device="cuda")
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    on_cpu = skae.load(path)
    assert on_cpu.device_ == torch.device("cpu")
    # The GPU computes in float32, the CPU in float64.
    np.testing.assert_allclose(
        on_cpu.transform(X), estimator.transform(X), rtol=1e-4, atol=1e-5
    )
    on_gpu = skae.load(path, device="cuda")
    assert on_gpu.device_.type == "cuda"
    assert_array_equal(on_gpu.transform(X), estimator.transform(X))
    on_gpu.partial_fit(X)
    pickled = pickle.loads(pickle.dumps(estimator))
    assert pickled.device_ == torch.device("cpu")


# -------------------------------------------------------------- pickling


def dumped_sizes(estimator):
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return {"pickle": len(pickle.dumps(estimator)), "joblib": buffer.tell()}


@parametrize_estimators
def test_pickle_does_not_grow_with_training_epochs(cls):
    # 200 samples in batches of 10: 20 steps per epoch, so per-batch history
    # would add over a kilobyte per epoch.
    X = data(cls, n_samples=200)

    def sizes(epochs):
        estimator = make(cls, max_iter=epochs, n_iter_no_change=epochs, tol=0.0)
        estimator.set_params(batch_size=10).fit(X)
        assert estimator.n_iter_ == epochs
        return dumped_sizes(estimator)

    short, long = sizes(5), sizes(50)
    for dump in ("pickle", "joblib"):
        # Epoch-level history and loss_curve_ remain: ~200 bytes an epoch.
        assert (long[dump] - short[dump]) / 45 < 300, (dump, short, long)
        assert long[dump] < 1.5 * short[dump], (dump, short, long)


def test_history_keeps_epochs_but_no_batches():
    estimator = fitted(skae.AutoEncoder, batch_size=10)
    history = estimator.net_.history
    assert len(history) == 3
    assert all(row["batches"] == [] for row in history)
    assert [row["train_loss"] for row in history] == estimator.loss_curve_


# -------------------------------------------------------------- pipelines


def split_pipeline(pipe, step, path):
    """The documented pattern: the autoencoder to skae.save, the rest returned."""
    skae.save(pipe.named_steps[step], path)
    return Pipeline(list(pipe.steps)).set_params(**{step: "passthrough"})


def join_pipeline(rest, step, path):
    return rest.set_params(**{step: skae.load(path)})


def pipeline_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5))
    return X, (X[:, 0] > 0).astype(int)


def test_pipeline_with_joblib_rest(tmp_path):
    X, y = pipeline_data()
    pipe = make_pipeline(
        MinMaxScaler(), make(skae.AutoEncoder), LogisticRegression()
    ).fit(X, y)
    path = tmp_path / "autoencoder.safetensors"
    rest = split_pipeline(pipe, "autoencoder", path)
    assert isinstance(pipe.named_steps["autoencoder"], skae.AutoEncoder)
    joblib.dump(rest, tmp_path / "pipeline.joblib")

    loaded = join_pipeline(
        joblib.load(tmp_path / "pipeline.joblib"), "autoencoder", path
    )
    assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_pipeline_with_skops_rest(tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y = pipeline_data()
    pipe = make_pipeline(
        MinMaxScaler(), make(skae.AutoEncoder), LogisticRegression()
    ).fit(X, y)
    path = tmp_path / "autoencoder.safetensors"
    rest = split_pipeline(pipe, "autoencoder", path)
    sio.dump(rest, tmp_path / "pipeline.skops")
    untrusted = sio.get_untrusted_types(file=tmp_path / "pipeline.skops")
    assert not any("skae" in name for name in untrusted)
    rest = sio.load(tmp_path / "pipeline.skops", trusted=untrusted)

    loaded = join_pipeline(rest, "autoencoder", path)
    assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def _edited_attribute(tmp_path, estimator, name, value):
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    header, tensors = read(path)
    attributes = header["attributes"]["__dict__"]
    if isinstance(attributes[name], dict):  # an array, in the tensor section
        tensors[attributes[name]["__tensor__"]][0] = value
    elif isinstance(attributes[name], list):
        attributes[name][0] = value
    else:
        attributes[name] = value
    rewrite(path, header, tensors)
    return path


@pytest.mark.parametrize(
    "cls, name, value, message",
    [
        (skae.AutoEncoder, "reconstruction_error_", float("inf"), "finite numbers"),
        (skae.AutoEncoder, "loss_curve_", float("nan"), "finite numbers"),
        (skae.VariationalAutoEncoder, "noise_variance_", float("inf"), "finite"),
        (skae.AutoEncoderImputer, "statistics_", float("inf"), "finite float32"),
        (skae.AutoEncoderImputer, "statistics_", float("nan"), "NaN exactly"),
        (skae.UMAPAutoEncoder, "a_", -1.0, "the curve of spread and min_dist"),
        (skae.UMAPAutoEncoder, "b_", 0.9, "the curve of spread and min_dist"),
    ],
)
def test_load_checks_the_stored_values_not_only_their_types(
    tmp_path, cls, name, value, message
):
    # Each was loaded without a word before load asked the estimator.
    path = _edited_attribute(tmp_path, fitted(cls), name, value)
    with pytest.raises(ValueError, match=f"attributes\\.[a-z_]+ .*{message}"):
        skae.load(path)
