import functools
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from estimator_settings import make, n_features
from numpy.testing import assert_allclose, assert_array_equal
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import skae
import skae._base.sampling
from skae._base.quantile_maps import (
    calibrate,
    marginal_quantiles,
    pack_maps,
    unpack_map,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SAMPLERS = [
    skae.AutoEncoder,
    skae.DenoisingAutoEncoder,
    skae.SparseAutoEncoder,
    skae.VariationalAutoEncoder,
    skae.ConvAutoEncoder,
    skae.UMAPAutoEncoder,
]
parametrize_samplers = pytest.mark.parametrize(
    "cls", SAMPLERS, ids=[cls.__name__ for cls in SAMPLERS]
)


def data(cls, n_samples=60, seed=0):
    return np.random.default_rng(seed).random((n_samples, n_features(cls, 5)))


@functools.cache
def fitted(cls):
    """One fitted estimator per class, shared by the tests that do not change it."""
    return make(cls).fit(data(cls))


def decoder_inputs(estimator):
    """Record the codes that enter the decoder (a list of arrays)."""
    seen = []
    decoder = estimator.net_.module_.decoder
    hook = decoder.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().numpy().copy())
    )
    return seen, hook


def test_every_generative_estimator_samples_and_the_imputer_does_not():
    encoders = [getattr(skae, n) for n in skae.__all__ if n.endswith("AutoEncoder")]
    assert set(encoders) == set(SAMPLERS)
    assert not hasattr(skae.AutoEncoderImputer(), "sample")


@parametrize_samplers
def test_shape_and_reproducibility(cls):
    estimator = fitted(cls)
    a = estimator.sample(7, random_state=0)
    assert a.shape == (7, estimator.n_features_in_)
    assert a.dtype == np.float64
    assert_array_equal(a, estimator.sample(7, random_state=0))
    assert_array_equal(a, estimator.sample(7, random_state=np.random.RandomState(0)))
    assert not np.allclose(a, estimator.sample(7, random_state=1))
    assert estimator.sample().shape == (1, estimator.n_features_in_)


@parametrize_samplers
def test_no_global_random_state_is_read_or_changed(cls):
    estimator = fitted(cls)
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global on purpose)
    torch_state = torch.get_rng_state()
    a, b = estimator.sample(3), estimator.sample(3)
    assert not np.allclose(a, b)
    assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_state)


@parametrize_samplers
def test_pandas_output_has_the_input_column_names(cls):
    X = data(cls)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    estimator = make(cls).set_output(transform="pandas").fit(frame)
    samples = estimator.sample(4, random_state=0)
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == list(frame.columns)
    unnamed = make(cls).set_output(transform="pandas").fit(X)
    columns = list(unnamed.sample(2, random_state=0).columns)
    assert columns == [f"x{i}" for i in range(X.shape[1])]


@parametrize_samplers
def test_not_fitted(cls):
    with pytest.raises(NotFittedError):
        make(cls).sample(3)


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, True, "3"])
def test_bad_n_samples(n_samples):
    with pytest.raises(
        InvalidParameterError, match="n_samples must be a positive integer"
    ):
        fitted(skae.AutoEncoder).sample(n_samples)


def test_latent_density_none_fits_nothing_and_cannot_sample():
    X = data(skae.AutoEncoder)
    estimator = make(skae.AutoEncoder, latent_density=None).fit(X)
    assert estimator._latent_density is None
    with pytest.raises(NotFittedError, match="latent_density='gmm'"):
        estimator.sample(2)


@pytest.mark.parametrize("value", ["prior", "kde", 1])
def test_latent_density_is_validated(value):
    with pytest.raises(InvalidParameterError, match="latent_density"):
        make(skae.AutoEncoder, latent_density=value).fit(data(skae.AutoEncoder))


def test_parameters_are_listed():
    for cls in SAMPLERS:
        params = cls().get_params()
        assert params["latent_density"] == "gmm"
        assert params["calibrate_samples"] is True


@parametrize_samplers
def test_save_load_round_trip(cls, tmp_path):
    estimator = fitted(cls)
    path = tmp_path / "model.safetensors"
    skae.save(estimator, path)
    restored = skae.load(path)
    assert_array_equal(
        restored.sample(20, random_state=3), estimator.sample(20, random_state=3)
    )


@parametrize_samplers
def test_pickle_round_trip(cls):
    estimator = fitted(cls)
    restored = pickle.loads(pickle.dumps(estimator))
    assert_array_equal(
        restored.sample(20, random_state=3), estimator.sample(20, random_state=3)
    )


def _rewrite(path, edit):
    """``edit(header)``, or ``edit(header, tensors)`` for an edit of the arrays."""
    with safe_open(path, framework="pt") as file:
        header = json.loads(file.metadata()["skae"])
    tensors = load_file(path)
    if edit.__code__.co_argcount == 2:
        edit(header, tensors)
    else:
        edit(header)
    save_file(tensors, path, metadata={"skae": json.dumps(header)})


DENSITY = "attributes._latent_density."


def _as_format_1(header):
    header["format_version"] = 1
    del header["params"]["__dict__"]["latent_density"]
    del header["params"]["__dict__"]["calibrate_samples"]
    del header["attributes"]["__dict__"]["_latent_density"]


def test_format_1_vae_samples_from_its_prior_as_it_did(tmp_path):
    cls = skae.VariationalAutoEncoder
    estimator = fitted(cls)
    path = tmp_path / "old.safetensors"
    skae.save(estimator, path)
    _rewrite(path, _as_format_1)
    old = skae.load(path)
    assert old.latent_density == "prior"
    assert old.calibrate_samples is False
    Z = np.random.RandomState(0).standard_normal((6, old.n_components))
    assert_allclose(old.sample(6, random_state=0), old.inverse_transform(Z))


def test_format_1_autoencoder_loads_without_a_density(tmp_path):
    path = tmp_path / "old.safetensors"
    estimator = fitted(skae.AutoEncoder)
    skae.save(estimator, path)
    _rewrite(path, _as_format_1)
    old = skae.load(path)
    X = data(skae.AutoEncoder)
    assert_array_equal(old.transform(X), estimator.transform(X))
    assert old.latent_density is None
    with pytest.raises(NotFittedError, match="latent_density='gmm'"):
        old.sample(2)
    old.set_params(latent_density="gmm", warm_start=True, max_iter=1).fit(X)
    assert old.sample(2).shape == (2, X.shape[1])


def _as_format_2(header):
    header["format_version"] = 2
    density = header["attributes"]["__dict__"]["_latent_density"]["__dict__"]
    for key in ("component_quantiles", "quantile_range", "component_maps"):
        del density[key]


def test_format_2_file_samples_with_the_map_of_all_rows(tmp_path):
    estimator = fitted(skae.AutoEncoder)
    path = tmp_path / "old.safetensors"
    skae.save(estimator, path)
    _rewrite(path, _as_format_2)
    old = skae.load(path)
    assert old._latent_density["component_quantiles"] is None
    # What format 2 sampled: every row through the one map.
    without_maps = pickle.loads(pickle.dumps(estimator))
    without_maps._latent_density = {
        **estimator._latent_density,
        "component_quantiles": None,
    }
    assert_array_equal(
        old.sample(8, random_state=0), without_maps.sample(8, random_state=0)
    )
    skae.save(old, tmp_path / "again.safetensors")  # and it saves as format 3


def test_a_pickle_from_before_component_maps_samples_and_saves(tmp_path):
    estimator = fitted(skae.AutoEncoder)
    state = estimator.__getstate__()
    state["_latent_density"] = {
        key: value
        for key, value in state["_latent_density"].items()
        if key not in ("component_quantiles", "quantile_range", "component_maps")
    }
    old = skae.AutoEncoder.__new__(skae.AutoEncoder)
    old.__setstate__(state)
    assert old._latent_density["component_quantiles"] is None
    assert old.sample(4, random_state=0).shape == (4, estimator.n_features_in_)
    skae.save(old, tmp_path / "model.safetensors")


def test_each_component_calibrates_its_own_samples(monkeypatch):
    # Two kinds of rows, told apart by feature 0. The others are 0 or 1 in
    # the first kind, 0.4 or 0.6 in the second; a one-unit code keeps only
    # feature 0, so both kinds decode them to about 0.5. A map per component
    # takes those back to each kind's own values; one monotone map for all
    # rows cannot send 0.5 to 0 or 1 for one kind and to 0.4 or 0.6 for the
    # other.
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 2, size=(400, 3))
    kind = np.repeat([0.0, 1.0], 200)[:, None]
    X = np.hstack([kind, np.where(kind == 0, grid, 0.4 + 0.2 * grid)])

    def share_of_extreme_values(samples):
        first_kind = samples[samples[:, 0] < 0.5, 1:]
        return np.mean((first_kind < 0.2) | (first_kind > 0.8))

    estimator = skae.AutoEncoder(
        n_components=1, hidden_layer_sizes=(), max_iter=2, random_state=0
    ).fit(X)
    assert len(estimator._latent_density["weights"]) > 1
    assert share_of_extreme_values(estimator.sample(500, random_state=0)) > 0.85
    monkeypatch.setattr(skae._base.sampling, "MIN_CALIBRATION_ROWS", len(X) + 1)
    one_map = estimator.set_params(warm_start=True, max_iter=1).fit(X)
    assert share_of_extreme_values(one_map.sample(500, random_state=0)) < 0.7


def test_packed_maps_keep_their_values_and_order():
    rng = np.random.default_rng(0)
    maps = np.sort(rng.normal(size=(3, 2, 7, 5)) * 100 + 1000, axis=2)
    maps[:, :, :, 4] = 2.5  # a constant feature
    levels, value_range = pack_maps(maps)
    assert levels.dtype == np.uint8 and value_range.shape == (2, 2, 5)
    for group in range(3):
        back = unpack_map(levels[group], value_range)
        assert (np.diff(back, axis=1) >= 0).all()
        span = value_range[:, 1] - value_range[:, 0]
        assert np.all(np.abs(back - maps[group]) <= span[:, None] / 2 / 255 + 1e-9)


def test_a_group_with_few_rows_maps_to_the_data_of_all_rows(monkeypatch):
    X = data(skae.AutoEncoder, n_samples=200)
    monkeypatch.setattr(skae._base.sampling, "MIN_CALIBRATION_ROWS", len(X) + 1)
    density = make(skae.AutoEncoder).fit(X)._latent_density
    levels, value_range = density["component_quantiles"], density["quantile_range"]
    everything = np.quantile(X, np.linspace(0, 1, levels.shape[2]), axis=0)
    # The data's side, the only one stored.
    step = (value_range[-1, 1] - value_range[-1, 0]) / 255
    for group in levels:
        back = unpack_map(group, value_range)[-1]
        assert np.all(np.abs(back - everything) <= step / 2 + 1e-6)


def _a_map_too_many(header, tensors):
    maps = tensors[DENSITY + "component_quantiles"]
    tensors[DENSITY + "component_quantiles"] = torch.cat([maps, maps])


def _negative_weight(header, tensors):
    tensors[DENSITY + "weights"][0] = -0.5


def _drop_features_of_the_maps(header, tensors):
    maps = tensors[DENSITY + "component_quantiles"]
    tensors[DENSITY + "component_quantiles"] = maps[..., :3].contiguous()


def _maps_beside_quantiles(header):
    density = header["attributes"]["__dict__"]["_latent_density"]["__dict__"]
    density["quantiles"] = density["component_quantiles"]


def _missing_density(header):
    del header["attributes"]["__dict__"]["_latent_density"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (_negative_weight, "weights must be non-negative"),
        (_drop_features_of_the_maps, "component_quantiles must be None or"),
        (_maps_beside_quantiles, "quantiles must be None or 2 non-decreasing"),
        (_missing_density, "_latent_density is missing"),
        (_a_map_too_many, "component_quantiles must be None or"),
    ],
)
def test_load_refuses_an_edited_density(tmp_path, edit, message):
    path = tmp_path / "model.safetensors"
    skae.save(fitted(skae.AutoEncoder), path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=message):
        skae.load(path)


@pytest.mark.parametrize("sparsity", ["topk", "l1"])
def test_sparse_samples_respect_the_code(sparsity):
    X = data(skae.SparseAutoEncoder)
    estimator = make(
        skae.SparseAutoEncoder, n_components=8, n_active=3, sparsity=sparsity
    ).fit(X)
    # The first sample also decodes the draws of the maps' decoder side.
    estimator.sample(1, random_state=0)
    seen, hook = decoder_inputs(estimator)
    try:
        estimator.sample(200, random_state=0)
    finally:
        hook.remove()
    codes = np.vstack(seen)
    assert codes.shape == (200, 8)
    assert (codes >= 0).all()
    if sparsity == "topk":
        assert np.count_nonzero(codes, axis=1).max() <= 3
    assert np.count_nonzero(codes) > 0


def test_codes_are_drawn_from_a_density_of_the_training_codes():
    X = data(skae.AutoEncoder, n_samples=300)
    estimator = make(skae.AutoEncoder, calibrate_samples=False).fit(X)
    codes = estimator.transform(X)
    seen, hook = decoder_inputs(estimator)
    try:
        samples = estimator.sample(3000, random_state=0)
    finally:
        hook.remove()
    drawn = np.vstack(seen)
    assert_allclose(drawn.mean(0), codes.mean(0), atol=0.1 * codes.std(0).max())
    assert_allclose(drawn.std(0), codes.std(0), rtol=0.1)
    # Without calibration, a sample is the decoded mean of its code.
    assert_allclose(samples, estimator.inverse_transform(drawn), rtol=1e-10)


def test_calibration_maps_the_reconstructions_onto_the_data():
    rng = np.random.default_rng(0)
    X = np.round(rng.random((500, 3)))  # 0s and 1s only
    decoded = 0.3 + 0.4 * X + 0.05 * rng.standard_normal(X.shape)
    quantiles = marginal_quantiles(decoded, X)
    mapped = calibrate(decoded, quantiles)
    # Monotone per feature, onto the data's range and values.
    for j in range(3):
        order = np.argsort(decoded[:, j])
        assert (np.diff(mapped[order, j]) >= -1e-12).all()
    assert mapped.min() >= 0 and mapped.max() <= 1
    assert np.mean(np.isclose(mapped, X)) > 0.95


@pytest.mark.parametrize("seed", range(5))
def test_calibration_of_all_columns_at_once_is_np_interp_per_column(seed):
    rng = np.random.default_rng(seed)
    decoded = np.sort(rng.normal(size=(12, 6)) * 10.0**seed, axis=0)
    decoded[:, 0] = decoded[0, 0]  # a unit the decoder never moves
    decoded[:5, 1] = decoded[0, 1]  # a run of equal quantiles at the bottom
    decoded[4:9, 2] = decoded[4, 2]  # and one in the middle
    data = np.sort(rng.random((12, 6)), axis=0)
    X = 1.5 * 10.0**seed * rng.normal(size=(40, 6))
    X[:4, 0], X[4:8, 2] = decoded[0, 0], decoded[4, 2]

    def one_column_at_a_time(j):
        up = np.interp(X[:, j], decoded[:, j], data[:, j])
        down = -np.interp(-X[:, j], -decoded[::-1, j], -data[::-1, j])
        return 0.5 * (up + down)

    expected = np.column_stack([one_column_at_a_time(j) for j in range(6)])
    assert_allclose(calibrate(X, np.stack([decoded, data])), expected, atol=1e-9)


@parametrize_samplers
def test_warm_start_and_partial_fit_refit_the_density(cls):
    X, other = data(cls), data(cls, seed=1) * 3
    estimator = make(cls).fit(X)
    before = estimator.sample(5, random_state=0)
    estimator.set_params(warm_start=True).fit(other)
    after_warm_start = estimator.sample(5, random_state=0)
    assert after_warm_start.max() > 1.5 * before.max()
    estimator.partial_fit(X)
    assert_allclose(estimator.sample(5, random_state=0).max(), before.max(), rtol=0.5)


def test_a_fit_that_raises_keeps_the_old_density(monkeypatch):
    X = data(skae.AutoEncoder)
    estimator = make(skae.AutoEncoder).fit(X)
    before = estimator.sample(5, random_state=0)
    density = estimator._latent_density

    def broken(codes, seed, n_components):
        raise RuntimeError("no density today")

    monkeypatch.setattr(skae._base.sampling, "fit_gmm", broken)
    for call in (
        lambda: estimator.set_params(warm_start=True).fit(X * 2),
        lambda: estimator.partial_fit(X * 2),
    ):
        with pytest.raises(RuntimeError, match="no density today"):
            call()
        assert estimator._latent_density is density
        assert_array_equal(estimator.sample(5, random_state=0), before)


def test_vae_prior_and_gmm_densities():
    X = data(skae.VariationalAutoEncoder)
    prior = make(skae.VariationalAutoEncoder, latent_density="prior").fit(X)
    assert prior._latent_density["kind"] == "prior"
    gmm = make(skae.VariationalAutoEncoder).fit(X)
    assert gmm._latent_density["kind"] == "gmm"
    # Changing it takes effect at the next fit only.
    gmm.set_params(latent_density="prior")
    assert gmm._latent_density["kind"] == "gmm"
    gmm.set_params(warm_start=True).fit(X)
    assert gmm._latent_density["kind"] == "prior"


def test_one_training_row_samples_that_row():
    X = data(skae.AutoEncoder, n_samples=1)
    estimator = make(skae.AutoEncoder).fit(X)
    assert_allclose(estimator.sample(3, random_state=0), np.repeat(X, 3, axis=0))


def test_density_of_a_large_set_is_fitted_on_a_seeded_subsample(monkeypatch):
    # A mixture search on every row of a large set costs more than training.
    seen = []
    original = skae._base.sampling.fit_gmm

    def recording_fit_gmm(codes, seed, n_components):
        seen.append(len(codes))
        return original(codes, seed, n_components)

    monkeypatch.setattr(skae._base.sampling, "MAX_DENSITY_ROWS", 30)
    monkeypatch.setattr(skae._base.sampling, "fit_gmm", recording_fit_gmm)
    X = data(skae.AutoEncoder, n_samples=200)
    a = make(skae.AutoEncoder, random_state=0).fit(X)
    b = make(skae.AutoEncoder, random_state=0).fit(X)
    assert seen == [30, 30]
    assert_array_equal(a.sample(5, random_state=0), b.sample(5, random_state=0))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@parametrize_samplers
def test_a_model_trained_on_cuda_samples_like_one_loaded_on_the_cpu(cls, tmp_path):
    X = data(cls)
    on_gpu = make(cls, device="cuda").fit(X)
    drawn = on_gpu.sample(50, random_state=1)
    assert drawn.shape == (50, X.shape[1]) and np.isfinite(drawn).all()
    assert_array_equal(drawn, on_gpu.sample(50, random_state=1))
    skae.save(on_gpu, tmp_path / "model.safetensors")
    on_cpu = skae.load(tmp_path / "model.safetensors", device="cpu")
    # The same latent draws, decoded on another device: float32 rounding apart.
    assert_allclose(on_cpu.sample(50, random_state=1), drawn, rtol=1e-3, atol=1e-4)
