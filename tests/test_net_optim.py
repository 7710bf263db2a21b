import pytest
import torch
from numpy.testing import assert_array_equal

from skae._net.optim import fused_adam_step


def trained(use_shortcut, n_steps=5, device="cpu", **adam):
    """A small layer after ``n_steps`` Adam steps on a fixed problem."""
    generator = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        for param in layer.parameters():
            param.copy_(torch.randn(param.shape, generator=generator))
    layer = layer.to(device)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1, fused=True, **adam)
    x = torch.randn(8, 4, generator=generator).to(device)
    taken = []
    for _ in range(n_steps):
        optimizer.zero_grad()
        layer(x).pow(2).mean().backward()
        taken.append(use_shortcut and fused_adam_step(optimizer))
        if not taken[-1]:
            optimizer.step()
    return layer, optimizer, taken


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_fused_adam_step_takes_the_steps_adam_takes(weight_decay, device="cpu"):
    ours, ours_optimizer, taken = trained(
        True, device=device, weight_decay=weight_decay
    )
    torch_s, torch_optimizer, _ = trained(
        False, device=device, weight_decay=weight_decay
    )
    # The first step creates Adam's state: Adam's own step takes it.
    assert taken == [False, True, True, True, True]
    for a, b in zip(ours.parameters(), torch_s.parameters(), strict=True):
        assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())
    ours_state = ours_optimizer.state_dict()["state"]
    for index, state in torch_optimizer.state_dict()["state"].items():
        for key, value in state.items():
            assert_array_equal(
                ours_state[index][key].cpu().numpy(), value.cpu().numpy()
            )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fused_adam_step_takes_adams_steps_on_a_gpu():
    test_fused_adam_step_takes_the_steps_adam_takes(0.01, device="cuda")


def test_fused_adam_step_declines_what_it_does_not_cover():
    _, optimizer, _ = trained(False, n_steps=2)
    for param in optimizer.param_groups[0]["params"]:
        param.grad = torch.zeros_like(param)
    assert fused_adam_step(optimizer)

    handle = optimizer.register_step_pre_hook(lambda *args: None)
    assert not fused_adam_step(optimizer)  # the hook must see the step
    handle.remove()

    optimizer.param_groups[0]["params"][0].grad = None
    assert not fused_adam_step(optimizer)

    _, amsgrad, _ = trained(False, n_steps=2, amsgrad=True)
    assert not fused_adam_step(amsgrad)

    _, scheduled, _ = trained(False, n_steps=2)
    torch.optim.lr_scheduler.LambdaLR(scheduled, lambda epoch: 1.0)
    assert not fused_adam_step(scheduled)  # it counts the calls to step()
