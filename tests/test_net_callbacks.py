"""The skorch callbacks of skae._net.callbacks, driven by hand."""

import pytest
import torch
from numpy.testing import assert_allclose

from skae._net import LinearDecay, WeightAveraging


class _Net:
    """What WeightAveraging reads of a skorch net: its module."""

    def __init__(self, module):
        self.module_ = module


def test_weight_averaging_ends_with_the_warmed_up_moving_average():
    module = torch.nn.Linear(2, 1)
    callback, net = WeightAveraging(0.5), _Net(module)
    callback.on_train_begin(net)
    steps = [1.0, 3.0, 7.0, 2.0]
    for value in steps:
        with torch.no_grad():
            module.weight.fill_(value)
            module.bias.fill_(-value)
        callback.on_batch_end(net, training=True)
        callback.on_batch_end(net, training=False)  # validation: not a step
    callback.on_train_end(net)
    # The first step starts the average; step t moves it by
    # 1 - min(decay, (1 + t) / (10 + t)), t counted from 1.
    expected = steps[0]
    for t, value in enumerate(steps[1:], start=1):
        expected += (1 - min(0.5, (1 + t) / (10 + t))) * (value - expected)
    assert_allclose(module.weight.detach().numpy(), expected, rtol=1e-6)
    assert_allclose(module.bias.detach().numpy(), -expected, rtol=1e-6)
    assert callback.average_ is None  # nothing kept for pickles


def test_weight_averaging_leaves_an_interrupted_call_as_it_was():
    module = torch.nn.Linear(1, 1, bias=False)
    callback, net = WeightAveraging(0.5), _Net(module)
    callback.on_train_begin(net)
    for value in (1.0, 2.0):
        with torch.no_grad():
            module.weight.fill_(value)
        callback.on_batch_end(net, training=True)
    net.interrupted_ = True  # set by AutoEncoderNet.fit_loop on Ctrl-C
    callback.on_train_end(net)
    assert module.weight.item() == 2.0
    assert callback.average_ is None


def test_weight_averaging_warms_up_over_a_short_call():
    # Over 3 steps with a decay of 0.99 the first weights must not dominate:
    # partial_fit's one epoch should move the weights as plain steps do.
    module = torch.nn.Linear(1, 1, bias=False)
    callback, net = WeightAveraging(0.99), _Net(module)
    callback.on_train_begin(net)
    for value in (0.0, 1.0, 1.0):
        with torch.no_grad():
            module.weight.fill_(value)
        callback.on_batch_end(net, training=True)
    callback.on_train_end(net)
    assert module.weight.item() > 0.9 * (1 - (1 - 2 / 11) * (1 - 3 / 12))


class _OptimisedNet:
    """What LinearDecay reads of a skorch net: its optimiser and epochs."""

    def __init__(self, max_epochs, lr=0.1):
        weight = torch.nn.Parameter(torch.zeros(1))
        self.optimizer_ = torch.optim.SGD([weight], lr=lr)
        self.max_epochs = max_epochs


@pytest.mark.parametrize(
    "hold, n_epochs, factors",
    [
        (0.0, 4, [1.0, 0.75, 0.5, 0.25]),
        (0.5, 4, [1.0, 1.0, 1.0, 0.5]),
        (0.5, 10, [1.0] * 6 + [0.8, 0.6, 0.4, 0.2]),
        (0.5, 1, [1.0]),  # partial_fit's one epoch: the constant rate
    ],
)
def test_linear_decay_holds_then_falls(hold, n_epochs, factors):
    net, callback = _OptimisedNet(n_epochs), LinearDecay(hold=hold)
    callback.on_train_begin(net)
    seen = []
    for _ in range(n_epochs):
        seen.append(net.optimizer_.param_groups[0]["lr"])
        net.optimizer_.step()
        callback.lr_scheduler_.step()
    assert_allclose(seen, [0.1 * f for f in factors])
    callback.on_train_end(net)
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1)
