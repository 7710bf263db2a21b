"""The PCA start: ResidualAutoEncoderModule, and the estimators' init="pca"."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skae
from skae import AutoEncoder, DenoisingAutoEncoder
from skae._nn.residual import ResidualAutoEncoderModule

PCA_START_CLASSES = [AutoEncoder, DenoisingAutoEncoder]


@pytest.fixture(scope="module")
def X():
    return StandardScaler().fit_transform(load_digits().data[:300])


def pca_reconstruction(pca, X):
    return pca.inverse_transform(pca.transform(X))


@pytest.mark.parametrize("hidden", [(), (16,), (16, 8)])
def test_module_started_from_pca_computes_pca(hidden):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    pca = PCA(3).fit(X)
    module = ResidualAutoEncoderModule(6, 3, hidden).double().eval()
    module.start_from_pca(
        torch.from_numpy(pca.mean_), torch.from_numpy(pca.components_)
    )
    x = torch.from_numpy(X)
    with torch.no_grad():
        reconstruction, code = module(x)
    assert_allclose(code.numpy(), pca.transform(X), rtol=0, atol=1e-12)
    assert_allclose(reconstruction.numpy(), pca_reconstruction(pca, X), atol=1e-12)


def test_module_residual_trains_away_from_pca():
    # The zeroed last layers must not freeze the residual networks.
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    module = ResidualAutoEncoderModule(5, 2, (8,))
    module.start_from_pca(torch.zeros(5), torch.eye(5)[:2])
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        reconstruction, _ = module(x)
        torch.nn.functional.mse_loss(reconstruction, x).backward()
        optimizer.step()
    assert module.encoder.last.weight.abs().sum() > 0
    assert module.decoder.last.weight.abs().sum() > 0
    # The hidden part of the first layer (after the 2 linear-path rows).
    hidden_grad = module.encoder.first.weight.grad[2:]
    assert hidden_grad.abs().sum() > 0


def test_module_scale_whitens_the_codes_not_the_reconstruction():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5))
    pca = PCA(2, whiten=True).fit(X)
    module = ResidualAutoEncoderModule(5, 2, (4,)).double().eval()
    module.start_from_pca(
        torch.from_numpy(pca.mean_),
        torch.from_numpy(pca.components_),
        torch.from_numpy(np.sqrt(pca.explained_variance_)),
    )
    with torch.no_grad():
        reconstruction, code = module(torch.from_numpy(X))
    assert_allclose(code.numpy(), pca.transform(X), atol=1e-12)
    assert_allclose(reconstruction.numpy(), pca_reconstruction(pca, X), atol=1e-12)


def test_module_with_fewer_pca_directions_than_units_starts_them_at_zero():
    module = ResidualAutoEncoderModule(4, 3, (8,)).eval()
    module.start_from_pca(torch.ones(4), torch.eye(4)[:2])
    with torch.no_grad():
        code = module.encode(torch.randn(10, 4))
    assert torch.all(code[:, 2] == 0)
    # The decoder's linear path (its first 4 outputs) ignores unit 2.
    assert torch.all(module.decoder.first.weight[:4, 2] == 0)


@pytest.mark.parametrize("cls", PCA_START_CLASSES)
@pytest.mark.parametrize("hidden", [(), (32,)])
def test_fit_starts_exactly_at_pca(cls, hidden, X):
    # A vanishing learning rate leaves the model where training started.
    ae = cls(
        5,
        hidden_layer_sizes=hidden,
        learning_rate_init=1e-12,
        max_iter=1,
        early_stopping=False,
        random_state=0,
    ).fit(X)
    # The codes are PCA's whitened scores; the reconstruction is PCA's.
    pca = PCA(5, whiten=True).fit(X)
    codes = ae.transform(X)
    assert_allclose(codes, pca.transform(X), rtol=0, atol=1e-4)
    assert_allclose(
        ae.inverse_transform(codes), pca_reconstruction(pca, X), rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("cls", PCA_START_CLASSES)
def test_early_stopping_restores_the_pca_start_when_training_only_hurts(cls, X):
    # Such a learning rate makes every epoch worse than PCA on the
    # validation rows: the model must end where it started, at PCA.
    ae = cls(
        5,
        learning_rate_init=0.3,
        max_iter=4,
        n_iter_no_change=2,
        early_stopping=True,
        random_state=0,
    ).fit(X)
    pca = PCA(5, whiten=True).fit(X)
    assert min(ae.validation_scores_) < ae.best_validation_score_
    assert_allclose(ae.transform(X), pca.transform(X), rtol=0, atol=1e-4)
    assert_allclose(
        ae.inverse_transform(ae.transform(X)), pca_reconstruction(pca, X), atol=1e-5
    )


def test_early_stopping_validation_error_never_above_pca(X):
    ae = AutoEncoder(5, max_iter=30, random_state=0).fit(X)
    assert ae.early_stopping
    _, valid = ae.net_.get_split_datasets(X.astype(np.float32))
    X_valid = X[valid.indices]
    pca = PCA(5).fit(X)
    pca_error = np.mean((pca_reconstruction(pca, X_valid) - X_valid) ** 2)
    kept_error = np.mean((ae.inverse_transform(ae.transform(X_valid)) - X_valid) ** 2)
    assert_allclose(-ae.best_validation_score_, kept_error, rtol=1e-4)
    assert kept_error <= pca_error * (1 + 1e-5)
    assert ae.best_validation_score_ >= max(ae.validation_scores_)


def test_init_random_keeps_the_plain_network(X):
    ae = AutoEncoder(3, init="random", max_iter=2, random_state=0).fit(X)
    assert not isinstance(ae.net_.module_, ResidualAutoEncoderModule)
    pca_codes = PCA(3, whiten=True).fit(X).transform(X)
    assert not np.allclose(ae.transform(X), pca_codes, atol=1e-2)


@pytest.mark.parametrize("init", ["PCA", "svd", None, 1])
def test_init_is_validated(init, X):
    with pytest.raises(InvalidParameterError, match="init"):
        AutoEncoder(init=init).fit(X)


@pytest.mark.parametrize("cls", PCA_START_CLASSES)
def test_init_in_params_clone_and_save(cls, X, tmp_path):
    ae = cls(3, init="random", max_iter=2, random_state=0)
    assert ae.get_params()["init"] == "random"
    assert clone(ae.set_params(init="pca")).init == "pca"
    ae.fit(X)
    path = tmp_path / "ae.skae"
    skae.save(ae, path)
    loaded = skae.load(path)
    assert loaded.init == "pca"
    assert isinstance(loaded.net_.module_, ResidualAutoEncoderModule)
    assert_allclose(loaded.transform(X), ae.transform(X), rtol=0, atol=0)


@pytest.mark.parametrize("cls", PCA_START_CLASSES)
def test_warm_start_refuses_a_changed_init(cls, X):
    ae = cls(3, max_iter=2, random_state=0).fit(X)
    before = ae.transform(X)
    with pytest.raises(ValueError, match="init was changed from 'pca' to 'random'"):
        ae.set_params(init="random", warm_start=True).fit(X)
    with pytest.raises(ValueError, match="init was changed"):
        ae.partial_fit(X)
    assert_allclose(ae.transform(X), before, rtol=0, atol=0)


@pytest.mark.parametrize(
    "n_samples, n_features, n_components", [(3, 10, 5), (40, 3, 5), (1, 4, 2)]
)
def test_more_units_than_pca_directions(n_samples, n_features, n_components):
    X = np.random.default_rng(0).normal(size=(n_samples, n_features))
    ae = AutoEncoder(
        n_components, max_iter=2, early_stopping=False, random_state=0
    ).fit(X)
    codes = ae.transform(X)
    assert codes.shape == (n_samples, n_components)
    assert np.isfinite(codes).all()


def test_pca_start_is_reproducible_and_leaves_global_rng_alone(X):
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global on purpose)
    torch_state = torch.get_rng_state()
    codes = [AutoEncoder(3, max_iter=3, random_state=7).fit_transform(X) for _ in "ab"]
    assert_allclose(codes[0], codes[1], rtol=0, atol=0)
    AutoEncoder(3, max_iter=2).fit(X)
    assert np.array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_default_early_stopping_needs_two_rows():
    X = np.ones((1, 4))
    with pytest.raises(ValueError, match="n_samples=1 .*early_stopping=False"):
        AutoEncoder(2).fit(X)
    codes = AutoEncoder(2, early_stopping=False, max_iter=2).fit_transform(X)
    assert np.isfinite(codes).all()


def wine_minmax_train():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    X_train, _ = train_test_split(load_wine().data, test_size=0.3, random_state=0)
    return MinMaxScaler().fit_transform(X_train)


@pytest.mark.parametrize("margin, stays_pca", [(0.0, False), (None, True)])
def test_small_table_keeps_pca_unless_an_epoch_beats_it_clearly(
    margin, stays_pca, monkeypatch
):
    # On wine (13 validation rows), an epoch beats PCA on the validation rows
    # by about one standard error, and was worse than PCA on the test rows.
    from skae._net import RelativeEarlyStopping

    if margin is not None:
        monkeypatch.setattr(RelativeEarlyStopping, "START_MARGIN", margin)
    X = wine_minmax_train()
    ae = AutoEncoder(6, random_state=0).fit(X)
    pca = PCA(6).fit(X)
    same = np.allclose(
        ae.inverse_transform(ae.transform(X)), pca_reconstruction(pca, X), atol=1e-5
    )
    assert same == stays_pca


def test_denoiser_is_scored_on_noisy_held_out_rows():
    # A full-rank PCA start is the identity: perfect on clean rows, and no
    # denoiser. Scored on noisy held-out rows, its error is the noise's
    # variance, which training must beat.
    X = np.random.default_rng(0).normal(size=(300, 6))
    dae = DenoisingAutoEncoder(
        6,
        noise="gaussian",
        noise_level=0.3,
        learning_rate_init=1e-12,
        max_iter=1,
        random_state=0,
    ).fit(X)
    assert_allclose(-dae.best_validation_score_, 0.09, rtol=0.15)
    assert_allclose(dae.inverse_transform(dae.transform(X)), X, atol=1e-4)
