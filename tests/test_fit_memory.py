"""What a fit holds beyond the data: no copy of X for the PCA start, the
training split or the per-batch losses, and inference batches bounded by width."""

import tracemalloc

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from torch.nn import functional as F
from torch.utils.data import Subset

import skae
import skae._base.inference
import skae._support.pca_start
from skae._base.quantile_maps import column_quantiles
from skae._net.batches import TensorBatches, dataset_rows, dataset_tensor
from skae._net.net import batch_loss
from skae._support.pca_start import pca_start

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def low_rank(n_samples, n_features, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, 5)) @ rng.random((5, n_features)) + 3.0
    return (X + 0.01 * rng.normal(size=X.shape)).astype(dtype)


@pytest.mark.parametrize("shape", [(1797, 64), (30, 64), (60, 3000)])
def test_the_pca_start_is_pcas(shape):
    X = low_rank(*shape)
    mean, components, scale = pca_start(X, 4, lambda: 0)
    pca = PCA(4, random_state=0).fit(X.astype(np.float64))
    # float32 rows, read in float64: PCA's numbers, with PCA's signs.
    assert_allclose(mean, pca.mean_, rtol=1e-6)
    assert_allclose(components, pca.components_, atol=2e-4)
    assert_allclose(scale**2, pca.explained_variance_, rtol=1e-3)


@pytest.mark.parametrize("shape", [(3000, 64), (60, 3000)])
@pytest.mark.parametrize(
    "scale, offset", [(1e-30, 0.0), (1e30, 0.0), (1.0, 1e3), (1e-3, -1e2)]
)
def test_the_pca_start_is_pcas_far_from_unit_scale(shape, scale, offset):
    # The products are float32, whose squares overflow above 1.8e19 and
    # vanish below 1e-23: the rows are scaled first. Wide tables (the
    # randomized route) and tall ones (the covariance).
    X = low_rank(*shape) * np.float32(scale) + np.float32(offset * scale)
    X = X.astype(np.float32)
    mean, components, variance_scale = pca_start(X, 4, lambda: 0, n_workers=2)
    pca = PCA(4, random_state=0).fit(X.astype(np.float64))
    assert_allclose(mean, pca.mean_, rtol=1e-6)
    assert_allclose(components, pca.components_, atol=2e-3)
    assert_allclose(variance_scale**2, pca.explained_variance_, rtol=1e-2)


@pytest.mark.parametrize("shape", [(20_000, 100), (1500, 5000)])
def test_the_pca_start_makes_no_copy_of_the_rows(monkeypatch, shape):
    # Tall tables: a covariance summed over chunks of rows (a float64 copy
    # alone would be twice X). Wide ones: the randomized route, with the
    # centring folded into its products (PCA's own centres a copy of X).
    monkeypatch.setattr(skae._support.pca_start, "CHUNK_VALUES", 2**14)
    X = low_rank(*shape)
    tracemalloc.start()
    try:
        pca_start(X, 4, lambda: 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.2 * X.nbytes


def test_the_training_split_is_batched_from_the_data_not_from_a_copy():
    X = torch.arange(40.0).reshape(20, 2)
    split = Subset(Subset(_Rows(X), list(range(2, 18))), list(range(0, 16, 2)))
    tensor, rows = dataset_rows(split)
    assert tensor is X
    assert_array_equal(rows.numpy(), np.arange(2, 18)[0:16:2])
    # The same batches, in the same order, as from the split's own copy.
    ours = TensorBatches(tensor, 3, True, torch.Generator().manual_seed(1), rows=rows)
    copied = TensorBatches(
        dataset_tensor(split), 3, True, torch.Generator().manual_seed(1)
    )
    assert len(ours) == len(copied) == 3
    for (a, _), (b, _) in zip(ours, copied, strict=True):
        assert_array_equal(a.numpy(), b.numpy())


class _Rows:
    def __init__(self, X):
        self.X = X


def test_a_kept_batch_loss_does_not_keep_the_batch():
    prediction = torch.randn(200, 784, requires_grad=True)
    loss = F.mse_loss(prediction, torch.zeros(200, 784))
    # On the CPU the 0-d loss shares the batch-sized buffer it reduced.
    assert loss.untyped_storage().nbytes() >= 200 * 784 * 4
    kept = batch_loss({"loss": loss})
    assert kept.untyped_storage().nbytes() == 4
    assert kept.item() == loss.item()
    assert not kept.requires_grad


def test_wide_rows_are_inferred_a_few_at_a_time(monkeypatch):
    X = low_rank(50, 40)
    model = skae.AutoEncoder(max_iter=2, random_state=0).fit(X)
    expected = model.transform(X)
    sizes = []
    encode = model._encode_batch

    def counting(module, x):
        sizes.append(len(x))
        return encode(module, x)

    monkeypatch.setattr(skae._base.inference, "INFERENCE_BATCH_VALUES", 400)
    monkeypatch.setattr(model, "_encode_batch", counting)
    assert_array_equal(model.transform(X), expected)
    assert max(sizes) == 10 and sum(sizes) == 50


def test_column_quantiles_are_numpys():
    values = np.random.default_rng(0).normal(size=(301, 7)).astype(np.float32)
    levels = np.linspace(0, 1, 16)
    expected = np.quantile(values.astype(np.float64), levels, axis=0)
    assert_allclose(column_quantiles(values, levels), expected, rtol=0, atol=1e-12)


def test_fit_summaries_leave_the_module_in_its_mode():
    model = skae.AutoEncoder(dropout=0.2, max_iter=1, random_state=0)
    model.fit(low_rank(60, 8))
    module = model.net_.module_
    module.train()
    with model._fit_summary_module() as (summary, dtype, _):
        assert summary is module and not module.training
        assert dtype == torch.float32
    assert all(layer.training for layer in module.modules())
