"""Files and pickles of wide models: arrays in the tensor section, sizes bounded."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from estimator_settings import make, parametrize_estimators
from numpy.testing import assert_array_equal
from saved_files import read, rewrite

import skae

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

OLD_FILES = Path(__file__).parent / "data" / "main-649e602"


def wide_rows(n_samples, n_features, seed=0):
    rng = np.random.default_rng(seed)
    # Low-rank and non-negative, as expression tables are.
    return (rng.random((n_samples, 3)) @ rng.random((3, n_features))).astype(np.float32)


def small_wide_model(n_features, n_samples=100, **params):
    settings = dict(n_components=4, hidden_layer_sizes=(8,), max_iter=2)
    model = skae.AutoEncoder(**{**settings, **params}, random_state=0)
    return model.fit(wide_rows(n_samples, n_features))


def header_bytes(path):
    with open(path, "rb") as file:
        return int.from_bytes(file.read(8), "little")


def array_bytes(value):
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(array_bytes(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return sum(array_bytes(v) for v in value)
    return 0


def test_wide_model_round_trips_with_its_arrays_as_tensors(tmp_path):
    X = wide_rows(400, 5000)
    model = skae.AutoEncoder(n_components=4, max_iter=2, random_state=0).fit(X)
    path = tmp_path / "wide.safetensors"
    skae.save(model, path)
    restored = skae.load(path)
    assert_array_equal(restored.transform(X), model.transform(X))
    assert_array_equal(
        restored.sample(5, random_state=0), model.sample(5, random_state=0)
    )
    header, tensors = read(path)
    density = header["attributes"]["__dict__"]["_latent_density"]["__dict__"]
    assert density["means"] == {"__tensor__": "attributes._latent_density.means"}
    assert "attributes._latent_density.means" in tensors
    # The file is its arrays: weights, Adam's moments and the density.
    stored = sum(t.numel() * t.element_size() for t in tensors.values())
    assert path.stat().st_size <= 1.02 * stored + 20_000


def test_header_size_does_not_grow_with_the_width(tmp_path):
    sizes = []
    for n_features in (20, 200, 2000):
        path = tmp_path / f"{n_features}.safetensors"
        skae.save(small_wide_model(n_features), path)
        sizes.append(header_bytes(path))
    # The digits of a few numbers (losses) may differ; the width does not show.
    assert max(sizes) - min(sizes) < 300, sizes


@pytest.mark.parametrize("problem", ["missing", "string"])
def test_a_named_array_that_is_missing_or_not_numbers_is_refused(tmp_path, problem):
    path = tmp_path / "model.safetensors"
    skae.save(small_wide_model(20), path)
    header, tensors = read(path)
    key = "attributes._latent_density.means"
    if problem == "missing":
        del tensors[key]
        match = "names the array 'attributes._latent_density.means'"
    else:
        density = header["attributes"]["__dict__"]["_latent_density"]["__dict__"]
        density["means"] = {"__tensor__": "module.nothing"}
        match = "names the array 'module.nothing'"
    rewrite(path, header, tensors)
    with pytest.raises(ValueError, match=match):
        skae.load(path)


def test_pickle_holds_arrays_not_decimal_text():
    model = small_wide_model(3000)
    state = model.__getstate__()
    arrays = array_bytes(state["_net_state"]["arrays"]) + array_bytes(
        state["_latent_density"]
    )
    assert len(state["_net_state"]["net"]) < 5_000
    assert len(pickle.dumps(model)) <= 1.05 * arrays + 20_000


@pytest.mark.parametrize(
    "name", ["AutoEncoder", "SparseAutoEncoder", "VariationalAutoEncoder"]
)
def test_files_from_before_the_tensor_section_load_and_sample(name):
    estimator = skae.load(OLD_FILES / f"{name}.safetensors")
    with open(OLD_FILES / f"{name}.pkl", "rb") as file:
        unpickled = pickle.load(file)
    samples = estimator.sample(7, random_state=0)
    assert samples.shape == (7, estimator.n_features_in_)
    assert np.isfinite(samples).all()
    assert_array_equal(unpickled.sample(7, random_state=0), samples)


def test_header_names_no_array_of_numbers(tmp_path):
    path = tmp_path / "model.safetensors"
    skae.save(small_wide_model(50), path)
    header, _ = read(path)
    assert "__ndarray__" not in json.dumps(header["attributes"])


def stored_state_bytes(model):
    """Weights and buffers, Adam's state and the fitted arrays (the latent
    density, the noise's per-feature range), in bytes."""
    tensors = list(model.net_.module_.state_dict().values())
    for state in model.net_.optimizer_.state_dict()["state"].values():
        tensors += list(state.values())
    weights_and_optimiser = sum(t.numel() * t.element_size() for t in tensors)
    return weights_and_optimiser + array_bytes(vars(model))


@parametrize_estimators
def test_every_wide_model_stores_its_arrays_and_little_else(cls, tmp_path):
    # What bench_sizes.py section 6 checks at 2,000 x 20,000, small enough for
    # CI: each stored form <= 1.3x its arrays, transform identical after each.
    sio = pytest.importorskip("skops.io")
    # Wide enough that the arrays outweigh what does not grow with the width
    # (parameters, history, skops's schema: about 100 KB).
    image = {"image_shape": (1, 60, 100)} if cls.__name__ == "ConvAutoEncoder" else {}
    X = wide_rows(60, 6000)
    if cls.__name__ == "AutoEncoderImputer":
        X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    model = make(cls, **image).fit(X)
    expected = model.transform(X)
    budget = 1.3 * stored_state_bytes(model)
    path = tmp_path / "model.safetensors"
    skae.save(model, path)
    skops_path = tmp_path / "model.skops"
    sio.dump(model, skops_path)
    pickled = pickle.dumps(model)
    assert path.stat().st_size <= budget
    assert skops_path.stat().st_size <= budget
    assert len(pickled) <= budget
    assert_array_equal(skae.load(path).transform(X), expected)
    assert_array_equal(pickle.loads(pickled).transform(X), expected)
    trusted = skae.skops_trusted_types()
    assert_array_equal(sio.load(skops_path, trusted=trusted).transform(X), expected)
