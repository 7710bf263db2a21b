"""The skorch callbacks of skae._net.callbacks, driven by hand."""

import torch
from numpy.testing import assert_allclose

from skae._net import WeightAveraging


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
