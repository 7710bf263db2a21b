"""Tests for VariationalAutoEncoder, its module and its loss terms."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from torch import distributions as D

import skae._base.inference
import skae._variational
from skae import VariationalAutoEncoder
from skae._net import RelativeEarlyStopping
from skae._nn.losses import (
    ELBOLoss,
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_density,
)
from skae._nn.variational import VAEOutput, variational_autoencoder
from skae._support.row_noise import row_normals


def make_data(n_samples=120, n_features=6, n_latent=2, seed=0):
    """Points near a curved 2-d manifold in 6-d, standardised."""
    rng = np.random.RandomState(seed)
    t = rng.normal(size=(n_samples, n_latent))
    W = rng.normal(size=(n_latent, n_features))
    X = np.tanh(t @ W) + 0.1 * rng.normal(size=(n_samples, n_features))
    return StandardScaler().fit_transform(X)


def small_vae(**params):
    settings = dict(
        n_components=2, hidden_layer_sizes=(16,), max_iter=30, random_state=0
    )
    settings.update(params)
    return VariationalAutoEncoder(**settings)


@pytest.fixture(scope="module")
def X():
    return make_data()


@pytest.fixture(scope="module")
def fitted(X):
    return small_vae().fit(X)


# ------------------------------------------------------------ loss terms


def test_gaussian_log_density_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    x, mean = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
    logvar = torch.randn(3, generator=gen)
    expected = D.Normal(mean, torch.exp(0.5 * logvar)).log_prob(x).sum(-1)
    assert_allclose(gaussian_log_density(x, mean, logvar), expected, rtol=1e-5)


def test_bernoulli_log_likelihood_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(5, 4, generator=gen)
    x = (torch.rand(5, 4, generator=gen) < 0.5).float()
    expected = D.Bernoulli(logits=logits).log_prob(x).sum(-1)
    assert_allclose(bernoulli_log_likelihood(x, logits), expected, rtol=1e-5)


def test_gaussian_kl_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
    q = D.Normal(mu, torch.exp(0.5 * logvar))
    p = D.Normal(torch.zeros(3), torch.ones(3))
    expected = D.kl_divergence(q, p).sum(-1)
    assert_allclose(gaussian_kl(mu, logvar), expected, rtol=1e-5, atol=1e-6)


def test_elbo_loss_warmup_reports_full_objective_with_annealed_gradient():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=gen)
    mu = torch.randn(4, 2, generator=gen, requires_grad=True)
    logvar = torch.zeros(4, 2)
    x_param = torch.randn(4, 3, generator=gen)
    output = VAEOutput(x_param, torch.zeros(3), mu, logvar, mu)

    def loss_and_grad(criterion):
        mu.grad = None
        loss = criterion(output, x)
        loss.backward()
        return loss.item(), mu.grad.clone()

    warm = ELBOLoss(beta=2.0, warmup_epochs=4)
    warm.set_epoch(1)
    assert warm.kl_weight == pytest.approx(0.5)
    loss_warm, grad_warm = loss_and_grad(warm)
    loss_full, _ = loss_and_grad(ELBOLoss(beta=2.0))
    _, grad_annealed = loss_and_grad(ELBOLoss(beta=0.5))
    assert loss_warm == pytest.approx(loss_full, rel=1e-6)
    assert_allclose(grad_warm, grad_annealed, rtol=1e-6)
    warm.set_epoch(10)
    assert warm.kl_weight == 2.0


# ---------------------------------------------------------------- module


def test_module_log_variances_stay_bounded_for_extreme_weights():
    module = variational_autoencoder(4, 2, (8,))
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(50.0)
    mu, logvar = module.encode(torch.full((3, 4), 100.0))
    assert torch.isfinite(mu).all()
    assert logvar.abs().max() <= module.LOGVAR_BOUND
    assert module.noise_logvar().abs().max() <= math.log(module.NOISE_VARIANCE_RATIO)


def test_module_draws_from_its_generator_only():
    module = variational_autoencoder(4, 2, (8,))
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    state = torch.get_rng_state()
    outputs = []
    for _ in range(2):
        module.generator = torch.Generator().manual_seed(1)
        outputs.append(module(x).z)
    assert torch.equal(outputs[0], outputs[1])
    assert torch.equal(state, torch.get_rng_state())


def test_row_normals_depend_only_on_row_and_seed():
    X = np.random.RandomState(0).normal(size=(50, 3))
    eps = row_normals(X, 7, (4, 2))
    assert eps.shape == (50, 4, 2)
    order = np.random.RandomState(1).permutation(50)
    assert_array_equal(row_normals(X[order], 7, (4, 2)), eps[order])
    assert_array_equal(row_normals(X[:5], 7, (4, 2)), eps[:5])
    assert not np.allclose(row_normals(X, 8, (4, 2)), eps)
    # float32 rows hash as their float64 values.
    X32 = X.astype(np.float32)
    assert_array_equal(
        row_normals(X32, 7, (1,)), row_normals(X32.astype(float), 7, (1,))
    )


def test_row_normals_are_standard_normal():
    X = np.random.RandomState(0).normal(size=(2000, 3))
    eps = row_normals(X, 0, (5,)).ravel()
    assert abs(eps.mean()) < 0.03
    assert abs(eps.std() - 1) < 0.03
    # Kurtosis of a normal is 3; a broken inverse CDF would show here.
    assert abs(np.mean(eps**4) - 3) < 0.2


def test_relative_early_stopping_threshold_for_negative_loss():
    stopper = RelativeEarlyStopping(threshold=0.1, threshold_mode="rel")
    assert stopper._calc_new_threshold(-100.0) == pytest.approx(-110.0)
    assert stopper._calc_new_threshold(100.0) == pytest.approx(90.0)


# ------------------------------------------------------------- estimator


def test_transform_is_the_posterior_mean_and_deterministic(fitted, X):
    codes = fitted.transform(X)
    assert codes.shape == (len(X), 2)
    assert_array_equal(codes, fitted.transform(X))
    mean, std = fitted.transform(X, return_std=True)
    assert_array_equal(mean, codes)
    module = fitted.net_.module_
    with torch.no_grad():
        mu, logvar = module.double().encode(torch.from_numpy(X))
    module.float()
    assert_allclose(mean, mu.numpy(), rtol=1e-5, atol=1e-6)
    assert_allclose(std, np.exp(0.5 * logvar.numpy()), rtol=1e-5)
    assert (std > 0).all()


def test_transform_return_std_with_pandas_output(X):
    vae = small_vae(max_iter=3).set_output(transform="pandas")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    vae.fit(frame)
    mean, std = vae.transform(frame.iloc[5:9], return_std=True)
    expected_columns = ["variationalautoencoder0", "variationalautoencoder1"]
    for out in (mean, std):
        assert isinstance(out, pd.DataFrame)
        assert list(out.columns) == expected_columns
        assert list(out.index) == [5, 6, 7, 8]


def test_float32_input_gives_float32_output(fitted, X):
    X32 = X.astype(np.float32)
    assert fitted.transform(X32).dtype == np.float32
    assert fitted.score_samples(X32).dtype == np.float32
    # The draws are keyed by the row's values, which float32 rounds.
    as64 = fitted.score_samples(X32.astype(np.float64))
    assert_allclose(fitted.score_samples(X32), as64, rtol=1e-5)


def test_sample_shape_and_reproducibility(fitted):
    a = fitted.sample(7, random_state=0)
    assert a.shape == (7, 6)
    assert_array_equal(a, fitted.sample(7, random_state=0))
    assert not np.allclose(a, fitted.sample(7, random_state=1))
    assert fitted.sample().shape == (1, 6)


def test_prior_sample_decodes_standard_normal_codes(X):
    vae = small_vae(latent_density="prior", calibrate_samples=False).fit(X)
    Z = np.random.RandomState(3).standard_normal((5, 2))
    assert_allclose(vae.sample(5, random_state=3), vae.inverse_transform(Z))


def test_prior_sample_decodes_one_batch_at_a_time(X, monkeypatch):
    # Memory beyond the output and the (n_samples, n_components) codes stays
    # at one batch, and the codes are one draw, whatever the batch size.
    vae = small_vae(latent_density="prior", calibrate_samples=False).fit(X)
    monkeypatch.setattr(skae._base.inference, "INFERENCE_BATCH_SIZE", 4)
    drawn, decoded = [], []

    class RecordingRandomState(np.random.RandomState):
        def standard_normal(self, size=None):
            drawn.append(size)
            return super().standard_normal(size)

    hook = vae.net_.module_.decoder.register_forward_pre_hook(
        lambda module, args: decoded.append(len(args[0]))
    )
    try:
        samples = vae.sample(10, random_state=RecordingRandomState(3))
    finally:
        hook.remove()
    assert drawn == [(10, 2)]
    assert decoded == [4, 4, 2]
    Z = np.random.RandomState(3).standard_normal((10, 2))
    assert_allclose(samples, vae.inverse_transform(Z), rtol=1e-12)


def test_sample_without_seed_leaves_global_state(fitted):
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global on purpose)
    torch_state = torch.get_rng_state()
    a, b = fitted.sample(3), fitted.sample(3)
    assert not np.allclose(a, b)
    assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_state)


@pytest.mark.parametrize("n_samples", [0, -1, 2.5])
def test_sample_rejects_bad_n_samples(fitted, n_samples):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(n_samples)


def test_sample_pandas_output_uses_input_feature_names(X):
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    vae = small_vae(max_iter=3).set_output(transform="pandas").fit(frame)
    samples = vae.sample(4, random_state=0)
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == list(frame.columns)
    assert samples.shape == (4, 6)
    unnamed = small_vae(max_iter=3).set_output(transform="pandas").fit(X)
    assert list(unnamed.sample(2, random_state=0).columns) == [
        f"x{i}" for i in range(6)
    ]


def test_fit_is_reproducible_and_leaves_global_rng(X):
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global on purpose)
    torch_state = torch.get_rng_state()
    a, b = small_vae(max_iter=5).fit(X), small_vae(max_iter=5).fit(X)
    assert_array_equal(a.transform(X), b.transform(X))
    assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_score_samples_are_deterministic_and_order_invariant(fitted, X):
    scores = fitted.score_samples(X)
    assert scores.shape == (len(X),)
    assert np.isfinite(scores).all()
    assert_array_equal(scores, fitted.score_samples(X))
    order = np.random.RandomState(0).permutation(len(X))
    assert_allclose(fitted.score_samples(X[order]), scores[order], rtol=1e-12)
    assert fitted.score(X) == pytest.approx(scores.mean(), rel=1e-12)


def test_score_survives_pickling(fitted, X):
    restored = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(restored.score_samples(X), fitted.score_samples(X))


def test_bounds_approach_the_exact_likelihood_of_a_linear_vae(X):
    # With a linear decoder p(x) = N(b, W W^T + diag(noise)) is exact.
    vae = small_vae(hidden_layer_sizes=(), max_iter=60).fit(X)
    decoder = vae.net_.module_.decoder[0]
    W = decoder.weight.detach().double().numpy()
    b = decoder.bias.detach().double().numpy()
    cov = W @ W.T + np.diag(vae.noise_variance_)
    diff = X - b
    _, logdet = np.linalg.slogdet(cov)
    maha = np.einsum("ij,ij->i", diff @ np.linalg.inv(cov), diff)
    exact = -0.5 * (X.shape[1] * math.log(2 * math.pi) + logdet + maha)

    elbo = vae.score_samples(X)
    iwae = vae.set_params(n_importance_samples=500).score_samples(X)
    # Bounds from below (up to Monte Carlo noise, on average).
    assert elbo.mean() < exact.mean()
    assert iwae.mean() < exact.mean() + 0.05
    assert exact.mean() - iwae.mean() < 0.5 * (exact.mean() - elbo.mean())
    assert_allclose(iwae, exact, atol=0.5)


def test_many_importance_draws_are_decoded_in_bounded_chunks(X, monkeypatch):
    vae = small_vae(max_iter=3, n_importance_samples=10).fit(X)
    whole = vae.score_samples(X[:4])
    decoded = []
    vae.net_.module_.decoder.register_forward_pre_hook(
        lambda module, args: decoded.append(tuple(args[0].shape[:2]))
    )
    monkeypatch.setattr(skae._base.inference, "INFERENCE_BATCH_SIZE", 4)
    assert_allclose(vae.score_samples(X[:4]), whole, rtol=1e-12)
    # One row at a time, its 10 draws 4 + 4 + 2 at a time.
    assert decoded == [(1, 4), (1, 4), (1, 2)] * 4


def test_reconstruction_error_is_mse_of_posterior_mean(fitted, X):
    reconstruction = fitted.inverse_transform(fitted.transform(X))
    expected = np.mean((reconstruction - X) ** 2)
    assert fitted.reconstruction_error_ == pytest.approx(expected, rel=1e-6)


def test_fixed_noise_variance(X):
    vae = small_vae(noise_variance=0.3, max_iter=3).fit(X)
    assert_allclose(vae.noise_variance_, np.full(6, 0.3), rtol=1e-6)


def test_learned_noise_variance_moves_within_bounds(X):
    fitted = small_vae(noise_variance="per_feature").fit(X)
    assert fitted.noise_variance_.shape == (6,)
    assert ((fitted.noise_variance_ > 1e-3) & (fitted.noise_variance_ < 1e3)).all()
    assert not np.allclose(fitted.noise_variance_, 1.0, atol=0.05)


def test_shared_noise_variance_is_one_learned_value_for_every_feature(X):
    shared = small_vae(noise_variance="shared", max_iter=10).fit(X)
    assert shared.noise_variance_.shape == (6,)
    assert shared.net_.module_.noise_logvar_raw.shape == (1,)
    assert_allclose(shared.noise_variance_, shared.noise_variance_[0])
    assert shared.noise_variance_[0] != pytest.approx(1.0, abs=0.05)
    per_feature = small_vae(noise_variance="per_feature", max_iter=1).fit(X)

    def n_weights(vae):
        return sum(p.numel() for p in vae.net_.module_.parameters())

    assert n_weights(shared) == n_weights(per_feature) - 5


def test_scores_follow_the_fitted_likelihood_until_the_next_fit(X):
    vae = small_vae(max_iter=3).fit(X)
    scores = vae.score_samples(X)
    vae.set_params(likelihood="bernoulli", n_components=5)
    assert_array_equal(vae.score_samples(X), scores)
    assert vae.transform(X, return_std=True)[1].shape == (len(X), 2)
    assert vae.sample(3, random_state=0).shape == (3, X.shape[1])


def test_bernoulli_likelihood_on_binary_data():
    rng = np.random.RandomState(0)
    X = (rng.uniform(size=(80, 6)) < np.linspace(0.1, 0.9, 6)).astype(float)
    vae = small_vae(likelihood="bernoulli", max_iter=10).fit(X)
    assert vae.noise_variance_ is None
    scores = vae.score_samples(X)
    # log-probabilities of binary data are negative; a sample is at worst
    # as likely as under p = 1/2 for every pixel by more than the KL.
    assert (scores < 0).all()
    reconstruction = vae.inverse_transform(vae.transform(X))
    assert ((reconstruction > 0) & (reconstruction < 1)).all()
    assert ((vae.sample(10, random_state=0) >= 0) & (vae.sample(10) <= 1)).all()


def test_bernoulli_scores_only_data_in_unit_interval():
    X = np.random.RandomState(0).uniform(size=(40, 6))
    vae = small_vae(likelihood="bernoulli", max_iter=2).fit(X)
    with pytest.raises(ValueError, match=r"models data in \[0, 1\]"):
        vae.score_samples(X * 2)


def test_bernoulli_vae_cross_validates_behind_a_clipping_scaler():
    X = load_digits().data[:300]
    pipe = make_pipeline(
        MinMaxScaler(clip=True),
        VariationalAutoEncoder(2, likelihood="bernoulli", max_iter=2, random_state=0),
    )
    assert np.isfinite(cross_val_score(pipe, X, cv=3)).all()


def test_bernoulli_rejects_data_outside_unit_interval(X):
    with pytest.raises(
        ValueError, match=r"likelihood='bernoulli' models data in \[0, 1\]"
    ):
        small_vae(likelihood="bernoulli").fit(X)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"likelihood": "poisson"}, "likelihood"),
        ({"beta": -1.0}, "beta"),
        ({"noise_variance": 0.0}, "noise_variance"),
        ({"noise_variance": "fixed"}, "noise_variance"),
        ({"warmup_epochs": -1}, "warmup_epochs"),
        ({"n_importance_samples": 0}, "n_importance_samples"),
    ],
)
def test_invalid_parameters(X, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        small_vae(**params).fit(X)


def test_divergence_is_caught_with_a_clear_error(X):
    vae = small_vae(max_iter=3)
    with pytest.raises(ValueError, match="Training diverged at epoch 1"):
        vae.fit(X * 1e30)


def test_diverged_partial_fit_keeps_previous_weights(X):
    vae = small_vae(max_iter=3).fit(X)
    before = vae.score_samples(X)
    with pytest.raises(ValueError, match="diverged"):
        vae.partial_fit(X * 1e30)
    assert_array_equal(vae.score_samples(X), before)


def test_warmup_reaches_the_criterion_across_partial_fit(X):
    vae = small_vae(warmup_epochs=4, max_iter=3, n_iter_no_change=50).fit(X)
    assert vae.net_.criterion_.epoch == 3
    assert vae.net_.criterion_.kl_weight == pytest.approx(0.75)
    vae.partial_fit(X)
    assert vae.net_.criterion_.epoch == 4
    assert vae.net_.criterion_.kl_weight == 1.0
    plain = small_vae(max_iter=3, n_iter_no_change=50).fit(X)
    assert not np.allclose(
        plain.transform(X),
        small_vae(warmup_epochs=4, max_iter=3, n_iter_no_change=50).fit(X).transform(X),
    )


def test_larger_beta_pulls_posteriors_towards_the_prior(X):
    def mean_kl(beta):
        vae = small_vae(beta=beta, max_iter=40).fit(X)
        mu, std = vae.transform(X, return_std=True)
        return np.mean(np.sum(mu**2 + std**2 - 1 - 2 * np.log(std), axis=1) / 2)

    assert mean_kl(8.0) < 0.5 * mean_kl(1.0)


def test_grid_search_compares_vae_and_pca_scores():
    X = make_data(n_samples=150)
    pipe = Pipeline([("scale", StandardScaler()), ("model", PCA(2))])
    vae = small_vae(max_iter=40, batch_size=16, learning_rate_init=3e-3)
    search = GridSearchCV(pipe, {"model": [PCA(2), vae]}, cv=3).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert search.best_index_ == np.argmax(scores)
    # Both are average log-densities in nats per sample on the same scaled
    # data: each beats N(0, I), the density that knows only the scaling.
    baseline = -0.5 * X.shape[1] * (math.log(2 * math.pi) + 1)
    assert (scores > baseline + 2).all()
