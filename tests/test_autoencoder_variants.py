import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from skae import AutoEncoder, DenoisingAutoEncoder, SparseAutoEncoder
from skae._base.noise import feature_range, input_noise
from skae._nn.losses import L1CodeLoss
from skae._nn.modules import InputNoise
from skae._nn.sparse import Standardize, TopK
from skae._utils.docs import _entries, _sections

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

VARIANTS = [DenoisingAutoEncoder, SparseAutoEncoder]


def small(cls, **params):
    """A quick-to-train variant; ``params`` override the defaults."""
    defaults = {"hidden_layer_sizes": (32,), "max_iter": 10, "random_state": 0}
    defaults["n_components"] = 16 if cls is SparseAutoEncoder else 4
    return cls(**{**defaults, **params})


def mse(a, b):
    return float(np.mean((a - b) ** 2))


# ----------------------------------------------------------------- denoising


def test_denoised_output_is_closer_to_clean_data_than_noisy_input(digits):
    X = digits
    noisy = X + np.random.default_rng(0).normal(0, 0.3, X.shape)
    dae = DenoisingAutoEncoder(
        n_components=16, noise_level=0.3, max_iter=40, random_state=0
    ).fit(X)
    denoised = dae.denoise(noisy)
    assert mse(denoised, X) < 0.5 * mse(noisy, X)
    assert_array_equal(denoised, dae.inverse_transform(dae.transform(noisy)))


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
def test_noise_is_off_at_inference(digits, noise):
    dae = small(DenoisingAutoEncoder, noise=noise, noise_level=0.3).fit(digits)
    corruption = dae.net_.module_.corruption
    assert isinstance(corruption, InputNoise) and corruption.kind == noise
    codes = dae.transform(digits)
    scores = dae.score_samples(digits)
    # Noise large enough to change every code if it were applied.
    corruption.level = 0.9
    assert_array_equal(dae.transform(digits), codes)
    assert_array_equal(dae.score_samples(digits), scores)
    # ... and it is applied in training mode.
    module = dae.net_.module_.train()
    x = torch.as_tensor(digits, dtype=torch.float32)
    assert not torch.equal(module(x)[1], module.eval()(x)[1])


def test_salt_and_pepper_writes_each_features_training_range():
    X = np.random.default_rng(0).uniform(-2, 5, size=(50, 3)) * [1, 10, 100]
    dae = small(DenoisingAutoEncoder, noise="salt_and_pepper", noise_level=1.0)
    corruption = dae.fit(X).net_.module_.corruption
    assert_allclose(corruption.low, X.min(axis=0), rtol=1e-6)
    assert_allclose(corruption.high, X.max(axis=0), rtol=1e-6)
    corrupted = corruption.train()(torch.zeros(1000, 3)).numpy()
    for j in range(3):
        assert set(np.unique(corrupted[:, j])) == {
            np.float32(X[:, j].min()),
            np.float32(X[:, j].max()),
        }


def test_masking_is_dropout_on_the_input():
    corruption = input_noise("masking", 0.25).train()
    corruption.generator = torch.Generator().manual_seed(0)
    out = corruption(torch.ones(200, 100)).numpy()
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert_allclose(np.mean(out == 0), 0.25, atol=0.01)
    assert input_noise("masking", 0.0) is None
    assert input_noise(None, 0.5) is None


def test_partial_fit_takes_noise_range_from_first_chunk(digits):
    dae = small(DenoisingAutoEncoder, noise="salt_and_pepper", noise_level=0.2)
    dae.partial_fit(digits[:100]).partial_fit(digits[100:] * 2)
    low, high = feature_range(digits[:100])
    assert_array_equal(dae.net_.module_.corruption.high.numpy(), high)
    assert_array_equal(dae.net_.module_.corruption.low.numpy(), low)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"noise": "dropout"}, "'noise' parameter"),
        ({"noise_level": -0.1}, "'noise_level' parameter"),
        ({"noise": "masking", "noise_level": 1.0}, r"must be in \[0, 1\), got 1.0"),
        (
            {"noise": "salt_and_pepper", "noise_level": 1.5},
            r"must be in \[0, 1\], got 1.5",
        ),
    ],
)
def test_invalid_noise_parameters(digits, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        small(DenoisingAutoEncoder, **params).fit(digits)


# -------------------------------------------------------------------- sparse


@pytest.mark.parametrize("n_active", [1, 3, 8])
def test_topk_codes_have_exactly_n_active_nonzeros(digits, n_active):
    sae = small(SparseAutoEncoder, n_active=n_active).fit(digits)
    far = np.random.default_rng(0).normal(0, 10, digits.shape)
    for X in (digits, far, digits[:1]):
        codes = sae.transform(X)
        assert_array_equal(np.count_nonzero(codes, axis=1), n_active)
        assert codes.min() >= 0
    # Every unit is used by some sample: no dead units at the start.
    assert np.all(np.count_nonzero(sae.transform(digits), axis=0) > 0)


def test_topk_with_n_active_not_below_n_components_keeps_every_unit(digits):
    sae = small(SparseAutoEncoder, n_components=3, n_active=3).fit(digits)
    codes = sae.transform(digits)
    assert np.all(codes > 0)


def test_l1_codes_get_sparser_as_alpha_code_grows(digits):
    zero_fractions = []
    for alpha_code in [0.0, 0.03, 0.3]:
        sae = small(
            SparseAutoEncoder, sparsity="l1", alpha_code=alpha_code, max_iter=30
        ).fit(digits)
        codes = sae.transform(digits)
        assert codes.min() >= 0
        zero_fractions.append(np.mean(codes == 0))
    assert zero_fractions[0] < zero_fractions[1] < zero_fractions[2]
    assert zero_fractions[2] > 0.5


def test_l1_loss_adds_mean_absolute_code():
    x = torch.zeros(2, 3)
    reconstruction = torch.ones(2, 3)
    code = torch.tensor([[1.0, -3.0], [0.0, 4.0]])
    loss = L1CodeLoss(0.5)((reconstruction, code), x)
    assert_allclose(loss.item(), 1.0 + 0.5 * 2.0)


def test_atoms_are_decoded_unit_vectors(digits):
    sae = small(SparseAutoEncoder, hidden_layer_sizes=()).fit(digits)
    assert sae.atoms_.shape == (sae.n_components, digits.shape[1])
    codes = sae.transform(digits)
    offset = sae.inverse_transform(np.zeros((1, sae.n_components)))
    # A linear decoder: reconstruction = offset + code @ atoms_, as in
    # dictionary learning.
    assert_allclose(
        sae.inverse_transform(codes), offset + codes @ sae.atoms_, atol=1e-10
    )


def test_atoms_need_a_fitted_model():
    with pytest.raises(AttributeError, match="not fitted"):
        SparseAutoEncoder().atoms_  # noqa: B018
    assert not hasattr(SparseAutoEncoder(), "atoms_")


def test_invalid_sparsity(digits):
    with pytest.raises(InvalidParameterError, match="'sparsity' parameter"):
        small(SparseAutoEncoder, sparsity="kl").fit(digits)


def test_topk_module_keeps_largest_entries():
    x = torch.tensor([[0.5, -1.0, 3.0, 2.0], [-4.0, -3.0, -2.0, -1.0]])
    out = TopK(2)(x)
    softplus = torch.nn.functional.softplus
    expected = torch.zeros_like(x)
    expected[0, 2:] = softplus(x[0, 2:])
    expected[1, 2:] = softplus(x[1, 2:])
    assert torch.equal(out, expected)


def test_topk_keeps_k_nonzeros_where_softplus_underflows():
    # Far below the training range softplus(-200) is 0 in float32.
    x = torch.tensor([[-200.0, -300.0, -400.0, -500.0]])
    codes = TopK(2)(x)
    assert torch.count_nonzero(codes).item() == 2
    assert codes[0, 0] > 0 and codes[0, 1] > 0


def test_standardize_survives_a_batch_of_one():
    layer = Standardize(3)
    x = torch.tensor([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]])
    assert_allclose(layer(x).numpy(), [[-1, -1, -1], [1, 1, 1]], atol=1e-4)
    assert_allclose(layer.running_mean.numpy(), [0.2, 0.4, 0.6], rtol=1e-6)
    single = layer(x[:1])  # running statistics, no error
    expected = (x[:1] - layer.running_mean) / torch.sqrt(layer.running_var + 1e-5)
    assert torch.equal(single, expected)


# ------------------------------------------------------------ both variants


@pytest.mark.parametrize("cls", VARIANTS)
def test_same_random_state_gives_bit_identical_models(digits, cls):
    state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global on purpose)
    a = small(cls).fit(digits).transform(digits)
    b = small(cls).fit(digits).transform(digits)
    c = small(cls, random_state=1).fit(digits).transform(digits)
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002


@pytest.mark.parametrize("cls", VARIANTS)
def test_pickle_pandas_and_feature_names(digits, cls):
    columns = [f"pixel{i}" for i in range(digits.shape[1])]
    df = pd.DataFrame(digits, columns=columns)
    est = small(cls).set_output(transform="pandas").fit(df)
    out = est.transform(df)
    prefix = cls.__name__.lower()
    assert list(out.columns) == [f"{prefix}{i}" for i in range(est.n_components)]
    assert_array_equal(est.feature_names_in_, columns)
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(restored.transform(df).to_numpy(), out.to_numpy())


@pytest.mark.parametrize("cls", VARIANTS)
def test_early_stopping_and_warm_start(digits, cls):
    est = small(cls, early_stopping=True, max_iter=5).fit(digits)
    assert len(est.validation_scores_) == est.n_iter_ == 5
    est = small(cls, max_iter=5, warm_start=True).fit(digits)
    first = est.transform(digits)
    est.fit(digits)
    assert est.n_iter_ == 10
    assert not np.array_equal(est.transform(digits), first)


@pytest.mark.parametrize("cls", VARIANTS)
def test_shared_parameters_and_their_docs_match_autoencoder(cls):
    """Inherited docs describe AutoEncoder's defaults: a variant with another
    default must document that parameter itself."""
    own = set(inspect.signature(cls).parameters) - set(
        inspect.signature(AutoEncoder).parameters
    )
    params, base = cls().get_params(), AutoEncoder().get_params()
    docs = _entries(_sections(cls.__doc__)["Parameters"])
    base_docs = _entries(_sections(AutoEncoder.__doc__)["Parameters"])
    undocumented_drift = {
        name: (params[name], base[name])
        for name in base
        if name in params
        and params[name] != base[name]
        and docs[name] == base_docs[name]
    }
    assert undocumented_drift == {}
    documented = list(docs)
    assert sorted(documented) == sorted(params)
    assert own <= set(documented[: len(own) + 1])
