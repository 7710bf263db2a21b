"""The latent density at any width: its size, its covariances, sample's memory."""

import json
import pickle
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture

import skae
import skae._base.density
import skae._base.sampling
from skae._base.density import draw_gmm, fit_gmm
from skae._base.quantile_maps import pack_maps, unpack_map
from skae._base.transaction import FitInterrupted
from skae._io.format.density_checks import check_latent_density

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def rows(n_samples, n_features, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n_samples, 4)) @ rng.random((4, n_features))


def array_bytes(density):
    return sum(v.nbytes for v in density.values() if isinstance(v, np.ndarray))


def weight_bytes(model):
    return sum(p.numel() * p.element_size() for p in model.net_.module_.parameters())


@pytest.mark.parametrize("n_features", [64, 784, 4000])
def test_the_density_stores_less_than_half_the_weights(n_features):
    model = skae.AutoEncoder(max_iter=1, random_state=0).fit(rows(500, n_features))
    density = model._latent_density
    assert density["component_quantiles"].dtype == np.uint8
    assert array_bytes(density) <= 0.5 * weight_bytes(model)


def test_the_maps_grow_with_the_width_only_through_a_few_levels_per_feature():
    sizes = []
    for n_features in (100, 1000):
        model = skae.AutoEncoder(
            n_components=4, hidden_layer_sizes=(8,), max_iter=1, random_state=0
        ).fit(rows(500, n_features))
        sizes.append(array_bytes(model._latent_density))
    # Per feature: at most 6 maps x 2 sides x 16 levels x 2 bytes, and a range.
    assert (sizes[1] - sizes[0]) / 900 <= 6 * 2 * 16 * 2 + 2 * 2 * 4


def test_a_wide_code_gets_diagonal_covariances():
    model = skae.SparseAutoEncoder(
        n_components=256, n_active=4, max_iter=1, random_state=0
    ).fit(rows(200, 20))
    density = model._latent_density
    assert density["covariances"].shape == (len(density["weights"]), 256)
    samples = model.sample(30, random_state=0)
    assert np.isfinite(samples).all()
    assert_array_equal(samples, model.sample(30, random_state=0))


def test_a_wide_mixture_fitted_on_the_varying_units_is_the_whole_codes_mixture():
    rng = np.random.default_rng(0)
    codes = np.zeros((300, 40))
    codes[:, 5] = 2.5  # a unit that never changes
    codes[:, :3] = rng.normal(size=(300, 3)) + 4 * (np.arange(300) % 2)[:, None]
    mixture, labels = fit_gmm(codes, seed=0)
    reg_covar = 1e-6 * codes.var(axis=0).max()
    whole = GaussianMixture(
        len(mixture["weights"]),
        covariance_type="diag",
        reg_covar=reg_covar,
        max_iter=30,
        random_state=0,
    ).fit(codes)
    assert_array_equal(labels, whole.predict(codes))
    assert_allclose(mixture["weights"], whole.weights_)
    assert_allclose(mixture["means"], whole.means_, atol=1e-12)
    assert_allclose(mixture["covariances"], whole.covariances_, rtol=1e-9, atol=1e-12)
    assert (mixture["means"][:, 5] == 2.5).all()
    constant = mixture["covariances"][:, 3:]
    assert (constant == constant[0, 0]).all()
    assert_allclose(constant, reg_covar, rtol=1e-12)


def test_a_code_that_never_changes_gets_a_point_mass():
    mixture, labels = fit_gmm(np.ones((120, 40)), seed=0)
    assert (mixture["covariances"] > 0).all()
    assert labels.shape == (120,)
    drawn, _ = draw_gmm(mixture, 50, np.random.default_rng(0))
    assert_allclose(drawn, 1, atol=1e-6)


def test_topk_projection_keeps_each_draws_largest_units():
    model = skae.SparseAutoEncoder(
        n_components=50, n_active=4, max_iter=1, random_state=0
    ).fit(rows(100, 6))
    Z = np.random.default_rng(0).normal(size=(30, 50))
    projected = model._project_codes(Z.copy())
    expected = np.maximum(Z, 0)
    expected[expected < np.sort(expected, axis=1)[:, -4:-3]] = 0
    assert_array_equal(projected, expected)


def test_a_narrow_code_keeps_full_covariances():
    model = skae.AutoEncoder(n_components=3, max_iter=1, random_state=0)
    density = model.fit(rows(200, 10))._latent_density
    assert density["covariances"].shape == (len(density["weights"]), 3, 3)


def test_sample_needs_about_one_batch_beyond_what_it_returns(monkeypatch):
    monkeypatch.setattr(skae._base.sampling, "SAMPLE_BATCH_VALUES", 10_000)
    model = skae.AutoEncoder(n_components=2, max_iter=1, random_state=0)
    model.fit(rows(300, 50))
    tracemalloc.start()
    out = model.sample(20_000, random_state=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # A batch is 200 rows of 50 features; its temporaries are a few of them.
    assert peak - out.nbytes < 20 * 10_000 * 8


def test_sample_refuses_an_output_larger_than_memory_up_front(monkeypatch):
    model = skae.AutoEncoder(n_components=2, max_iter=1, random_state=0)
    model.fit(rows(100, 10))
    monkeypatch.setattr(skae._base.sampling, "available_memory", lambda: 10**6)
    with pytest.raises(MemoryError, match=r"sample\(1000000\) would return 0.08 GB"):
        model.sample(10**6)
    assert model.sample(1000).shape == (1000, 10)


def test_ctrl_c_while_the_density_is_fitted_keeps_the_trained_model(monkeypatch):
    X = rows(100, 10)

    def interrupted(codes, seed, n_components):
        raise KeyboardInterrupt

    model = skae.AutoEncoder(n_components=2, max_iter=3, random_state=0)
    with monkeypatch.context() as patch:
        patch.setattr(skae._base.sampling, "fit_gmm", interrupted)
        with pytest.raises(FitInterrupted):
            model.fit(X)
    assert model.n_iter_ == 3
    trained = skae.AutoEncoder(n_components=2, max_iter=3, random_state=0).fit(X)
    assert_array_equal(model.transform(X), trained.transform(X))
    with pytest.raises(NotFittedError, match="interrupted while the density"):
        model.sample(2)
    model.partial_fit(X)
    assert model.sample(2).shape == (2, 10)


@pytest.mark.parametrize(
    "make, n_features",
    [
        (lambda: skae.ConvAutoEncoder(max_iter=1, random_state=0), 64),
        (lambda: skae.ConvAutoEncoder(max_iter=1, random_state=0), 784),
        (lambda: skae.ConvAutoEncoder(max_iter=1, random_state=0), 4096),
        (lambda: skae.SparseAutoEncoder(max_iter=1, random_state=0), 64),
    ],
)
def test_every_density_stores_less_than_half_the_weights(make, n_features):
    # A small convolutional network on wide images, and a 32-unit code with
    # full covariances: the two that stored more than their weights.
    model = make().fit(rows(600, n_features))
    density = model._latent_density
    assert array_bytes(density) <= 0.5 * weight_bytes(model)
    assert np.isfinite(model.sample(3, random_state=0)).all()


def test_the_density_plan_shares_or_shortens_maps_only_when_it_must():
    plan = skae._base.density.density_plan
    # Digits-sized AutoEncoder(8): a map per component.
    assert plan(80_000, 1797, 8, 64, True) == (26, 26, 16)
    # Few weights for wide rows: ten components share what maps fit.
    assert plan(20_000, 2000, 8, 784, True) == (10, 1, 9)
    assert plan(20_000, 2000, 8, 400, True)[:2] == (10, 1)
    # Not even a map of MIN_MAP_LEVELS levels: none.
    assert plan(300_000, 2000, 8, 20_000, True)[1:] == (0, 0)
    # Without calibration the mixture takes the whole budget.
    assert plan(70_000, 1797, 8, 64, False) == (35, 0, 0)
    # A handful of weights still gets a density of MIN_DENSITY_BYTES.
    assert plan(60, 400, 1, 4, True) == (8, 8, 16)


def test_the_mixture_is_stored_in_float32_and_stays_positive_definite():
    # A covariance that float32 rounding leaves singular.
    u = np.array([1.0, 1.0 + 1e-9, 1.0])
    covariance = np.outer(u, u) + 1e-14 * np.eye(3)
    mixture = {
        "weights": np.array([1.0]),
        "means": np.zeros((1, 3)),
        "covariances": covariance[None],
    }
    stored = skae._base.density.stored_mixture(mixture)
    assert stored["weights"].dtype == np.float64
    assert stored["means"].dtype == stored["covariances"].dtype == np.float32
    np.linalg.cholesky(stored["covariances"][0].astype(np.float64))
    assert_allclose(stored["covariances"][0], covariance, atol=1e-5)


def test_sixteen_bit_maps_of_older_files_sample_as_eight_bit_ones():
    model = skae.AutoEncoder(n_components=2, max_iter=1, random_state=0)
    model.fit(rows(200, 10))
    eight = model.sample(20, random_state=0)
    density = model._latent_density
    levels = density["component_quantiles"]
    model._latent_density = {
        **density,
        "component_quantiles": levels.astype(np.uint16) * 257,
    }
    assert_allclose(model.sample(20, random_state=0), eight, rtol=1e-12)


def test_low_rank_covariances_keep_the_variances_and_the_leading_directions():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(2, 4, 20))
    covariances = np.einsum("nrd,nre->nde", factors, factors) + 0.01 * np.eye(20)
    mixture = {
        "weights": np.array([0.5, 0.5]),
        "means": np.zeros((2, 20)),
        "covariances": covariances,
    }
    stored = skae._base.density.stored_mixture(mixture)
    diagonal, kept = stored["covariances"], stored["covariance_factors"]
    assert diagonal.shape == (2, 20) and kept.shape == (2, 4, 20)
    back = np.einsum("nrd,nre->nde", kept, kept) + diagonal[:, :, None] * np.eye(20)
    assert_allclose(
        np.diagonal(back, axis1=1, axis2=2),
        np.diagonal(covariances, axis1=1, axis2=2),
        rtol=1e-5,
    )
    assert_allclose(back, covariances, atol=0.02)
    drawn, _ = draw_gmm(stored, 20_000, np.random.default_rng(0), np.array([0]))
    assert_allclose(np.cov(drawn.T), covariances[0], atol=0.3)


def test_a_code_of_twenty_units_samples_from_low_rank_covariances(tmp_path):
    X = rows(200, 30)
    model = skae.AutoEncoder(n_components=20, max_iter=1, random_state=0).fit(X)
    density = model._latent_density
    n = len(density["weights"])
    assert density["covariances"].shape == (n, 20)
    assert density["covariance_factors"].shape == (n, 4, 20)
    expected = model.sample(10, random_state=0)
    path = tmp_path / "model.safetensors"
    skae.save(model, path)
    assert_array_equal(skae.load(path).sample(10, random_state=0), expected)
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.sample(10, random_state=0), expected)


def saved_as_format(model, path, version, edit):
    """Save ``model`` at ``path`` as a file of format ``version`` would hold
    it: ``edit(header, tensors)`` makes what differed."""
    skae.save(model, path)
    with safe_open(path, framework="np") as file:
        header = json.loads(file.metadata()["skae"])
    tensors = load_file(path)
    header["format_version"] = version
    edit(header, tensors)
    save_file(tensors, path, metadata={"skae": json.dumps(header)})


def test_a_format_4_file_loads_with_its_full_covariances(tmp_path):
    model = skae.AutoEncoder(n_components=3, max_iter=1, random_state=0)
    model.fit(rows(100, 10))
    path = tmp_path / "model.safetensors"

    def drop_the_factors(header, tensors):
        density = header["attributes"]["__dict__"]["_latent_density"]["__dict__"]
        del density["covariance_factors"]

    saved_as_format(model, path, 4, drop_the_factors)
    old = skae.load(path)
    assert old._latent_density["covariance_factors"] is None
    assert_array_equal(old.sample(5, random_state=0), model.sample(5, random_state=0))


def test_load_checks_the_low_rank_factors():
    model = skae.AutoEncoder(n_components=20, max_iter=1, random_state=0)
    density = model.fit(rows(200, 30))._latent_density
    attributes = {"_n_features_out": 20, "n_features_in_": 30}
    assert check_latent_density(density, attributes) is None
    for factors in (
        density["covariance_factors"][:, :, :5],
        np.full((1, 1, 1), np.nan),
    ):
        edited = {**density, "covariance_factors": factors}
        assert "covariance_factors must be None" in check_latent_density(
            edited, attributes
        )


def test_the_maps_store_the_data_side_and_compute_the_decoders_at_sample():
    model = skae.AutoEncoder(n_components=3, max_iter=1, random_state=0)
    model.fit(rows(200, 10))
    density = model._latent_density
    n_maps = len(density["component_quantiles"])
    assert density["component_quantiles"].shape[1] == 1
    assert density["quantile_range"].shape == (1, 2, 10)
    pickled = pickle.dumps(model)
    first = model.sample(5, random_state=0)
    # Kept beside the estimator, never in its state.
    assert pickle.dumps(model) == pickled
    decoded = model._decoded_sides(density, model._inference_module())
    assert decoded.shape == (n_maps, 16, 10)
    assert (np.diff(decoded, axis=1) >= 0).all()
    restored = pickle.loads(pickled)
    assert_array_equal(restored.sample(5, random_state=0), first)


def test_maps_of_two_sides_from_format_5_files_still_sample(tmp_path):
    model = skae.AutoEncoder(n_components=3, max_iter=1, random_state=0)
    model.fit(rows(200, 10))
    density = model._latent_density
    expected = model.sample(50, random_state=0)
    # The maps as format 5 stored them: the decoder's side beside the data's.
    decoded = model._decoded_sides(density, model._inference_module())
    data = [
        unpack_map(levels, density["quantile_range"])[0]
        for levels in density["component_quantiles"]
    ]
    levels, value_range = pack_maps(np.stack([decoded, np.asarray(data)], axis=1))
    path = tmp_path / "model.safetensors"

    def two_sided_maps(header, tensors):
        prefix = "attributes._latent_density."
        tensors[prefix + "component_quantiles"] = levels
        tensors[prefix + "quantile_range"] = value_range

    saved_as_format(model, path, 5, two_sided_maps)
    old = skae.load(path)
    assert old._latent_density["component_quantiles"].shape[1] == 2
    # As close as 8-bit levels of the decoder's side allow.
    assert_allclose(old.sample(50, random_state=0), expected, atol=0.02)


@pytest.mark.parametrize("n_samples", [150, 60])
def test_the_density_takes_the_codes_of_reconstruction_errors_pass(
    monkeypatch, n_samples
):
    X = rows(n_samples, 10).astype(np.float32)
    handed = []
    fit_density = skae._base.sampling.SamplingMixin._fit_density_with

    def spy(self, X, density, seed, inference, codes):
        handed.append(codes)
        return fit_density(self, X, density, seed, inference, codes)

    monkeypatch.setattr(skae._base.sampling.SamplingMixin, "_fit_density_with", spy)
    # Beyond MAX_DENSITY_ROWS the density encodes its subsample itself.
    monkeypatch.setattr(skae._base.sampling, "MAX_DENSITY_ROWS", 100)
    model = skae.AutoEncoder(n_components=3, max_iter=2, random_state=0).fit(X)
    if n_samples <= 100:
        assert_allclose(handed[0], model.transform(X), rtol=1e-5, atol=1e-5)
    else:
        assert handed[0] is None
    assert "_training_codes" not in vars(model)
    without = skae.AutoEncoder(
        n_components=3, max_iter=2, random_state=0, latent_density=None
    ).fit(X)
    assert model.reconstruction_error_ == without.reconstruction_error_
