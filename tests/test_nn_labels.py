"""LabelledModule: the head on a module's code, its targets and its noise."""

import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from torch import nn

from skae._nn.labels import LabelledModule, LabelOutput
from skae._nn.losses import (
    LabelLoss,
    ReconstructionLoss,
    UMAPLoss,
    class_cross_entropy,
    labelled_code_size,
)
from skae._nn.modules import AutoEncoderModule, InputNoise, dense_autoencoder
from skae._nn.residual import ResidualAutoEncoderModule
from skae._nn.umap import EdgeAutoEncoderModule
from skae._nn.variational import variational_autoencoder


def test_labelled_module_splits_packed_rows_and_keeps_targets_clean():
    torch.manual_seed(0)
    inner = dense_autoencoder(4, 2, (3,), corruption=InputNoise("gaussian", 1.0))
    module = LabelledModule(inner, n_features=4, n_components=2, n_outputs=3)
    batch = torch.cat(
        [torch.randn(5, 4), torch.tensor([[0.0], [1], [2], [-1], [0]])], 1
    )
    output = module.eval()(batch)
    reconstruction, code = output.output
    assert_allclose(code.detach(), inner.encode(batch[:, :4]).detach())
    assert_array_equal(output.target, batch[:, 4:])
    assert output.prediction.shape == (5, 3)
    corrupted = module.corruption.corrupt(batch, torch.Generator().manual_seed(0))
    assert_array_equal(corrupted[:, 4:], batch[:, 4:])
    assert not torch.equal(corrupted[:, :4], batch[:, :4])
    loss = LabelLoss(ReconstructionLoss(), 0.5, classes=True, n_features=4)
    expected = 0.5 * torch.nn.functional.mse_loss(
        reconstruction, batch[:, :4]
    ) + 0.5 * class_cross_entropy(output.prediction, output.target)
    assert loss(output, batch).item() == pytest.approx(expected.item())
    # The codes' penalty is part of the head's loss, over its labelled rows.
    assert output.code is code
    penalised = LabelLoss(
        ReconstructionLoss(), 0.5, classes=True, n_features=4, code_penalty=0.1
    )
    size = labelled_code_size(code, output.target)
    assert size.item() == pytest.approx(code[[0, 1, 2, 4]].pow(2).mean().item())
    assert penalised(output, batch).item() == pytest.approx(
        expected.item() + 0.05 * size.item()
    )
    # The wrapper passes on what it does not have: the state dict is the
    # wrapped module's plus the head's.
    assert module.encoder is inner.encoder
    assert set(module.state_dict()) == {
        *(f"autoencoder.{key}" for key in inner.state_dict()),
        "head.weight",
        "head.bias",
    }


def test_lent_targets_follow_the_rows_a_batch_indexes():
    inner = dense_autoencoder(3, 2)

    class Edges(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner
            self.rows = torch.randn(4, 3)

        def forward(self, edges):
            x = self.rows[edges.long().t().reshape(-1)]
            return x, self.inner.encode(x)

    module = LabelledModule(Edges(), n_features=3, n_components=2, n_outputs=2)
    module.lend_targets(torch.tensor([[0.0], [1.0], [-1.0], [1.0]]))
    output = module(torch.tensor([[0, 1], [2, 3]]))
    # Heads (0, 2), then tails (1, 3).
    assert output.target[:, 0].tolist() == [0.0, -1.0, 1.0, 1.0]


def test_umaps_reconstruction_keeps_its_weight_beside_a_head():
    torch.manual_seed(0)
    inner = EdgeAutoEncoderModule(ResidualAutoEncoderModule(6, 2, (4,)))
    inner.lend_rows(torch.randn(10, 6))
    module = LabelledModule(inner, n_features=6, n_components=2, n_outputs=3)
    module.lend_targets(
        torch.tensor([[0.0], [1], [2], [-1], [0], [1], [2]] + [[0]] * 3)
    )
    edges = torch.tensor([[0, 1], [2, 3], [4, 5]])
    output = module(edges)
    umap = UMAPLoss(1.577, 0.895, negative_sample_rate=5, reconstruction_weight=0.1)
    cross_entropy, reconstruction = umap.parts(output.output, edges)
    assert reconstruction.item() == pytest.approx(
        0.1
        * torch.nn.functional.mse_loss(
            output.output.reconstruction, output.output.x
        ).item()
    )
    assert umap(output.output, edges).item() == pytest.approx(
        (cross_entropy + reconstruction).item()
    )
    # target_weight trades UMAP's cross-entropy against the labels; the
    # reconstruction is added at its own weight.
    label = class_cross_entropy(output.prediction, output.target)
    for weight in (0.5, 1.0):
        loss = LabelLoss(umap, weight, classes=True)(output, edges)
        expected = (1 - weight) * cross_entropy + weight * label + reconstruction
        assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_a_head_on_a_variational_module_reads_the_posterior_mean():
    # The VAE's output is a tuple whose second field is x_logvar; the head
    # must read mu, the code transform returns.
    module = LabelledModule(variational_autoencoder(6, 2, (8,)), 6, 2, 3)
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    output = module(torch.cat([x, torch.zeros(5, 1)], dim=1))
    mu, _ = module.encode(x)
    assert_allclose(output.prediction.detach(), module.head(mu).detach(), rtol=1e-6)


def reading_the_head(noise, corruption=None):
    """A module whose code is its input, with a head that passes it on."""
    inner = AutoEncoderModule(nn.Identity(), nn.Identity(), corruption)
    module = LabelledModule(inner, n_features=3, n_components=3, n_outputs=3)
    module.noise, module.head = noise, nn.Identity()
    module.generator = torch.Generator().manual_seed(0)
    return module


def packed(n_rows=4000):
    x = torch.randn(n_rows, 3, generator=torch.Generator().manual_seed(1))
    x[:, 1] *= 4.0
    x[:, 2] = 7.0  # constant: no spread, no noise
    return torch.cat([x, torch.zeros(n_rows, 1)], dim=1)


def test_in_training_the_module_reads_a_noisy_input_and_is_scored_on_the_input():
    batch = packed()
    output = reading_the_head(0.5).train()(batch)
    reconstruction, code = output.output
    # A denoising fit: the module and the head read a noisy copy, of noise
    # times each feature's spread over the batch ...
    assert_array_equal(output.prediction, code)
    shift = reconstruction - batch[:, :3]
    assert_allclose(shift.std(dim=0), [0.5, 2.0, 0.0], rtol=0.05)
    # ... and the loss scores the reconstruction against the input itself.
    loss = LabelLoss(ReconstructionLoss(), 1e-6, classes=False, n_features=3)
    output = LabelOutput(output.output, output.prediction[:, :1], batch[:, 3:])
    expected = torch.nn.functional.mse_loss(reconstruction, batch[:, :3])
    assert loss(output, batch).item() == pytest.approx(expected.item(), rel=1e-4)
    again = reading_the_head(0.5).train()(batch)
    assert_array_equal(again.prediction, code)


def test_a_lent_spread_scales_the_noise_instead_of_the_batchs():
    batch = packed()
    module = reading_the_head(0.5).train()
    module.lend_spread(torch.tensor([1.0, 1.0, 0.0]))
    output = module(batch)
    shift = output.prediction - batch[:, :3]
    assert_allclose(shift.std(dim=0), [0.5, 0.5, 0.0], rtol=0.05)
    module.lend_spread(None)
    shift = module(batch).prediction - batch[:, :3]
    assert_allclose(shift.std(dim=0), [0.5, 2.0, 0.0], rtol=0.05)


@pytest.mark.parametrize("case", ["eval", "no noise", "own corruption", "lent targets"])
def test_otherwise_the_module_reads_the_input_as_it_is(case):
    batch = packed(50)
    corruption = InputNoise("gaussian", 1.0) if case == "own corruption" else None
    module = reading_the_head(0.0 if case == "no noise" else 0.5, corruption)
    module.train(case != "eval")
    x = batch[:, :3]
    if case == "lent targets":
        # As UMAP lends them: the batch is what the wrapped module trains on.
        module.lend_targets(torch.zeros(50, 1))
        batch = x = torch.randint(0, 50, (25, 2), generator=module.generator).float()
    output = module(batch)
    assert_array_equal(output.prediction, output.output[1])
    if case == "own corruption":
        # The module's own N(0, 1), not one scaled by the spread (which
        # leaves the constant third column alone).
        assert (output.prediction - x)[:, 2].std() > 0.5
    else:
        assert_array_equal(output.prediction, x)
