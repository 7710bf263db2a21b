import math

import pytest
import torch
from numpy.testing import assert_array_equal

from skae._nn.modules import (
    Dropout,
    InputNoise,
    attach_generator,
    dense_autoencoder,
    reset_parameters,
)


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_dense_autoencoder_mirrors_the_encoder():
    module = dense_autoencoder(10, 3, (8, 5), activation="tanh", dropout=0.1)
    x = torch.rand(4, 10)
    reconstruction, code = module(x)
    assert code.shape == (4, 3) and reconstruction.shape == (4, 10)
    widths = [m.out_features for m in module.decoder if isinstance(m, torch.nn.Linear)]
    assert widths == [5, 8, 10]
    # code and output layers are linear: the last layer of each half is Linear
    assert isinstance(module.encoder[-1], torch.nn.Linear)
    assert isinstance(module.decoder[-1], torch.nn.Linear)


def test_reset_parameters_is_reproducible_and_leaves_global_state():
    state = torch.get_rng_state()
    a, b = dense_autoencoder(6, 2, (4,)), dense_autoencoder(6, 2, (4,))
    reset_parameters(a, generator())
    reset_parameters(b, generator())
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    torch.set_rng_state(state)
    reset_parameters(a, generator())
    assert torch.equal(torch.get_rng_state(), state)


def test_reset_parameters_uses_pytorch_default_bounds():
    module = torch.nn.Sequential(
        torch.nn.Linear(100, 50),
        torch.nn.Conv2d(3, 4, 5),
        torch.nn.ConvTranspose2d(4, 6, 3),
    )
    reset_parameters(module, generator())
    for layer, fan_in in zip(module, [100, 3 * 25, 6 * 9], strict=True):
        bound = 1 / math.sqrt(fan_in)
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound


@pytest.mark.parametrize(
    "make", [lambda: Dropout(0.5), lambda: InputNoise("masking", 0.5)]
)
def test_random_layers_draw_from_the_attached_generator(make):
    layer = make()
    attach_generator(layer, generator(1))
    x = torch.ones(3, 20)
    first = layer(x)
    attach_generator(layer, generator(1))
    assert torch.equal(layer(x), first)
    assert (first == 0).any() and torch.allclose(first[first != 0], torch.tensor(2.0))
    layer.eval()
    assert layer(x) is x


@pytest.mark.parametrize("kind", InputNoise.KINDS)
def test_input_noise_kinds(kind):
    noise = InputNoise(kind, 0.3, low=-1.0, high=2.0)
    attach_generator(noise, generator())
    x = torch.full((200, 50), 0.5)
    corrupted = noise(x)
    changed = corrupted != x
    assert 0.2 < changed.float().mean() <= 1.0
    if kind == "salt_and_pepper":
        values = set(corrupted[changed].unique().tolist())
        assert values == {-1.0, 2.0}
        assert changed.float().mean() == pytest.approx(0.3, abs=0.03)
    if kind == "gaussian":
        assert (corrupted - x).std() == pytest.approx(0.3, rel=0.05)


def test_input_noise_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        InputNoise("speckle", 0.1)


def test_module_output_is_deterministic_in_eval_mode():
    module = dense_autoencoder(6, 2, (4,), dropout=0.5).eval()
    x = torch.rand(5, 6)
    assert_array_equal(module(x)[0].detach().numpy(), module(x)[0].detach().numpy())


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_and_pepper"])
def test_input_noise_corrupt_draws_what_training_mode_draws(kind):
    from skae._nn.modules import InputNoise

    x = torch.rand(20, 5)
    noise = InputNoise(kind, 0.3)
    noise.generator = torch.Generator().manual_seed(3)
    trained = noise.train()(x)
    corrupted = noise.eval().corrupt(x, torch.Generator().manual_seed(3))
    assert torch.equal(trained, corrupted)
    assert not torch.equal(corrupted, x)
    assert torch.equal(noise(x), x)  # eval mode: no noise
