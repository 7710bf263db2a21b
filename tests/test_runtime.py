import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from skae._utils.runtime import (
    SMALL_STEP_FLOPS,
    as_tensor,
    fused_adam_supported,
    make_generator,
    onednn,
    resolve_device,
    threads_for,
    torch_threads,
    uses_onednn,
)


def test_threads_for():
    assert threads_for("auto", SMALL_STEP_FLOPS - 1) == 1
    assert threads_for("auto", SMALL_STEP_FLOPS) is None
    assert threads_for(3, 10) == 3
    assert threads_for(None, 10) is None


def test_torch_threads_restores_the_previous_count():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError
    assert torch.get_num_threads() == before


def test_as_tensor_copies_read_only_arrays():
    import numpy as np

    array = np.arange(6.0).reshape(2, 3)
    assert as_tensor(array).data_ptr() == array.ctypes.data
    array.flags.writeable = False
    tensor = as_tensor(array)
    assert tensor.data_ptr() != array.ctypes.data
    assert tensor.tolist() == array.tolist()


def test_generators_are_private_and_seeded():
    state = torch.get_rng_state()
    a = torch.rand(3, generator=make_generator(5))
    b = torch.rand(3, generator=make_generator(5))
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)


def _adam_step(fused):
    param = torch.ones(3, requires_grad=True)
    param.grad = torch.tensor([0.5, -1.0, 2.0])
    torch.optim.Adam([param], lr=0.1, fused=fused).step()
    return param.detach()


def test_fused_adam_probe_tells_what_torch_does_on_cpu():
    if fused_adam_supported("cpu"):
        assert_allclose(_adam_step(fused=True), _adam_step(fused=None), rtol=1e-6)
    else:
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            _adam_step(fused=True)
    assert fused_adam_supported("not-a-device") is False


@pytest.mark.parametrize("n_threads", [True, np.int64(1)])
def test_torch_threads_takes_integers_scikit_learn_lets_through(n_threads):
    before = torch.get_num_threads()
    with torch_threads(n_threads):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("device", ["meta", torch.device("meta")])
def test_resolve_device_refuses_meta(device):
    with pytest.raises(ValueError, match="device='meta' holds.*no data.*'cpu'"):
        resolve_device(device)


def test_onednn_restores_the_previous_setting():
    before = torch.backends.mkldnn.enabled
    with onednn(not before):
        assert torch.backends.mkldnn.enabled is (not before)
    assert torch.backends.mkldnn.enabled is before
    with pytest.raises(RuntimeError), onednn(not before):
        raise RuntimeError
    assert torch.backends.mkldnn.enabled is before


def test_only_convolutions_train_through_onednn():
    dense = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.GELU())
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), dense)
    assert not uses_onednn(dense)
    assert uses_onednn(conv)
    assert uses_onednn(torch.nn.ConvTranspose2d(2, 1, 3))
